// Unix signals as Qt signals. A signal handler may only do async-signal-safe
// work, so it writes the signal number to a pipe and the event loop does the
// rest (the self-pipe trick).

#ifndef SLUICE_APP_SIGNALWATCHER_H
#define SLUICE_APP_SIGNALWATCHER_H

#include <QtCore/QObject>

class QSocketNotifier;

class SignalWatcher : public QObject
{
    Q_OBJECT
public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

    // Catches SIGINT, SIGTERM and SIGHUP; false (with errno) if it cannot.
    bool install();

Q_SIGNALS:
    // SIGINT or SIGTERM.
    void terminateRequested(int signal);
    // SIGHUP.
    void reloadRequested();

private:
    void readSignals();

    QSocketNotifier *m_notifier = nullptr;
    int m_readFd = -1;
};

#endif // SLUICE_APP_SIGNALWATCHER_H
