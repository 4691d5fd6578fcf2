#ifndef SLUICEUI_MONITORWINDOW_H
#define SLUICEUI_MONITORWINDOW_H

#include <sluice/monitorevent.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QTimer>
#include <QtWidgets/QMainWindow>

#include <memory>

QT_BEGIN_NAMESPACE
class QAction;
class QLabel;
class QTabWidget;
class QTableView;
class QToolButton;
QT_END_NAMESPACE

namespace sluice {

class ConnectionModel;
class ConnectionsView;
class LogView;
class MonitorQueue;
class RouteModel;
class ServerThread;
class StatsHistory;
class StatsView;
class TrafficModel;
class TrafficView;

// The desktop monitor of a server running in a ServerThread: tabs for
// traffic, connections, routes, stats and the log, and a server strip
// (addresses, start/stop, uptime, totals, what the monitor dropped).
//
// The window never waits on the server for data: it takes the monitor's
// events from a bounded MonitorQueue on its own timer, and each model
// applies them on its own timer too.
// Layout and preferences are kept with QSettings under the application's
// organisation and name (Sluice/sluice in the sluice app).
class MonitorWindow : public QMainWindow
{
    Q_OBJECT
public:
    // How often the window takes the server's events, and at most how many
    // per turn: the GUI thread's work per turn stays bounded, and what the
    // window cannot keep up with waits in (or is dropped by) the bounded
    // MonitorQueue instead of piling up in the event loop.
    static constexpr int PollInterval = 25;
    static constexpr int MaxEventsPerPoll = 10000;

    explicit MonitorWindow(ServerThread *server, QWidget *parent = nullptr);
    ~MonitorWindow() override;

    TrafficModel *trafficModel() const { return m_trafficModel; }
    ConnectionModel *connectionModel() const { return m_connectionModel; }
    RouteModel *routeModel() const { return m_routeModel; }
    StatsHistory *statsHistory() const { return m_statsHistory; }
    TrafficView *trafficView() const { return m_trafficView; }
    ConnectionsView *connectionsView() const { return m_connectionsView; }
    LogView *logView() const { return m_logView; }
    QTabWidget *tabs() const { return m_tabs; }
    // Where the window takes the server's events from (its drops are the
    // "monitor dropped" count shown in the strip).
    MonitorQueue *monitorQueue() const { return m_events.get(); }

    // Shown in the title and the server strip ("default", a file name).
    void setConfigName(const QString &name);

public Q_SLOTS:
    // Thread-safe: lines may come from a message handler on any thread.
    void appendLog(const QString &line);
    // Re-reads the addresses and the listening state.
    void refresh();

Q_SIGNALS:
    // File ▸ Open config…: the app loads and applies it, then calls
    // setConfigName() (or appendLog() with the reason it could not).
    void openConfigRequested(const QString &fileName);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void poll();
    void addEvents(const QList<sluice::MonitorEvent> &events);
    void buildMenus();
    void buildServerStrip(QWidget *strip);
    void startOrStop();
    void updateStatus();
    void saveSettings() const;
    void restoreSettings();

    ServerThread *m_server;
    std::unique_ptr<MonitorQueue> m_events;
    QTimer m_pollTimer;
    TrafficModel *m_trafficModel;
    ConnectionModel *m_connectionModel;
    RouteModel *m_routeModel;
    StatsHistory *m_statsHistory;
    QTabWidget *m_tabs = nullptr;
    TrafficView *m_trafficView = nullptr;
    ConnectionsView *m_connectionsView = nullptr;
    StatsView *m_statsView = nullptr;
    QTableView *m_routeTable = nullptr;
    LogView *m_logView = nullptr;
    QLabel *m_addresses = nullptr;
    QLabel *m_state = nullptr;
    QLabel *m_uptime = nullptr;
    QLabel *m_totals = nullptr;
    QLabel *m_dropped = nullptr;
    QToolButton *m_startStop = nullptr;
    QAction *m_startStopAction = nullptr;
    QString m_configName;
    QElapsedTimer m_upSince;
    QTimer m_statusTimer;
};

} // namespace sluice

#endif // SLUICEUI_MONITORWINDOW_H
