// Where the app's log goes: a file or stdout, one line per record, in text
// or JSON Lines. The access log (sluice::AccessLog) and Qt's own messages
// (qCInfo and friends, filtered by QT_LOGGING_RULES) share it.

#ifndef SLUICE_APP_LOGFILE_H
#define SLUICE_APP_LOGFILE_H

#include <sluice/accesslog.h>

#include <QtCore/QFile>
#include <QtCore/QMutex>
#include <QtCore/QString>

#include <functional>

class LogFile
{
public:
    using Format = sluice::AccessLog::Format;

    LogFile();
    ~LogFile();

    // "-" is stdout; anything else is appended to, created if missing.
    bool open(const QString &fileName, Format format);
    // Opens the same file again: after logrotate moved it away (SIGHUP).
    bool reopen();
    QString errorString() const { return m_errorString; }
    QString fileName() const { return m_fileName; }
    bool isStdout() const { return m_fileName == u'-'; }
    Format format() const { return m_format; }

    // A whole line, '\n' included. Safe from any thread.
    void write(const QByteArray &line);
    // Also hands every line to mirror (the window's log view), from the
    // writing thread, whether a file is open or not. Null stops it.
    void setMirror(std::function<void(const QByteArray &line)> mirror);
    // An app record ("listening", "reloaded", …) in the file's format.
    void record(const QString &event, const QString &message,
                const QList<QPair<QString, QString>> &fields = {});

    // Routes Qt's messages here until this object goes away.
    void installMessageHandler();
    QByteArray formatMessage(QtMsgType type, const char *category, const QString &message) const;

private:
    static void messageHandler(QtMsgType type, const QMessageLogContext &context,
                               const QString &message);

    QMutex m_mutex;
    QFile m_file;
    std::function<void(const QByteArray &)> m_mirror;
    QString m_fileName;
    QString m_errorString;
    Format m_format = Format::Text;
    bool m_handlerInstalled = false;
};

#endif // SLUICE_APP_LOGFILE_H
