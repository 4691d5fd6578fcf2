#include <sluiceui/connectionmodel.h>
#include <sluiceui/connectionsview.h>
#include <sluiceui/logview.h>
#include <sluiceui/monitorwindow.h>
#include <sluiceui/routemodel.h>
#include <sluiceui/statshistory.h>
#include <sluiceui/statsview.h>
#include <sluiceui/trafficmodel.h>
#include <sluiceui/trafficview.h>

#include <sluice/monitorqueue.h>
#include <sluice/server.h>
#include <sluice/serverthread.h>

#include <QtCore/QLocale>
#include <QtCore/QSettings>
#include <QtGui/QCloseEvent>
#include <QtGui/QKeySequence>
#include <QtWidgets/QFileDialog>
#include <QtWidgets/QHBoxLayout>
#include <QtWidgets/QHeaderView>
#include <QtWidgets/QInputDialog>
#include <QtWidgets/QLabel>
#include <QtWidgets/QMenuBar>
#include <QtWidgets/QStatusBar>
#include <QtWidgets/QStyle>
#include <QtWidgets/QTabWidget>
#include <QtWidgets/QTableView>
#include <QtWidgets/QToolButton>
#include <QtWidgets/QVBoxLayout>

namespace sluice {

namespace {

const auto settingsGroup = QStringLiteral("monitor");

QString formatDuration(qint64 ms)
{
    const qint64 seconds = ms / 1000;
    const qint64 days = seconds / 86400;
    const QString time = QStringLiteral("%1:%2:%3")
                                 .arg((seconds / 3600) % 24, 2, 10, QLatin1Char('0'))
                                 .arg((seconds / 60) % 60, 2, 10, QLatin1Char('0'))
                                 .arg(seconds % 60, 2, 10, QLatin1Char('0'));
    return days > 0 ? MonitorWindow::tr("%1 d %2").arg(days).arg(time) : time;
}

} // namespace

MonitorWindow::MonitorWindow(ServerThread *server, QWidget *parent)
    : QMainWindow(parent)
    , m_server(server)
    , m_trafficModel(new TrafficModel(this))
    , m_connectionModel(new ConnectionModel(this))
    , m_routeModel(new RouteModel(server->server()->router(), this))
    , m_statsHistory(new StatsHistory(this))
{
    setObjectName(QStringLiteral("monitorWindow"));
    setWindowTitle(tr("Sluice"));

    m_trafficView = new TrafficView(m_trafficModel);
    m_connectionsView = new ConnectionsView(m_connectionModel, server->server());
    m_statsView = new StatsView(m_statsHistory);
    m_logView = new LogView;

    m_routeTable = new QTableView;
    m_routeTable->setObjectName(QStringLiteral("routeTable"));
    m_routeTable->setModel(m_routeModel);
    m_routeTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_routeTable->verticalHeader()->hide();
    m_routeTable->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_routeTable->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    m_routeTable->horizontalHeader()->setStretchLastSection(false);
    m_routeTable->horizontalHeader()->setSectionResizeMode(RouteModel::PatternColumn,
                                                           QHeaderView::Stretch);
    m_routeTable->setWordWrap(false);

    m_tabs = new QTabWidget;
    m_tabs->setObjectName(QStringLiteral("monitorTabs"));
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(m_trafficView, tr("&Traffic"));
    m_tabs->addTab(m_connectionsView, tr("&Connections"));
    m_tabs->addTab(m_routeTable, tr("&Routes"));
    m_tabs->addTab(m_statsView, tr("&Stats"));
    m_tabs->addTab(m_logView, tr("&Log"));

    auto *strip = new QWidget;
    strip->setObjectName(QStringLiteral("serverStrip"));
    buildServerStrip(strip);

    auto *central = new QWidget;
    auto *layout = new QVBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(strip);
    layout->addWidget(m_tabs, 1);
    setCentralWidget(central);
    buildMenus();

    connect(m_connectionsView, &ConnectionsView::trafficRequested, this, [this](quint64 id) {
        m_trafficView->setConnectionFilter(id);
        m_tabs->setCurrentWidget(m_trafficView);
    });
    connect(m_statsHistory, &StatsHistory::totalsChanged, this, &MonitorWindow::updateStatus);
    connect(m_trafficModel, &TrafficModel::droppedCountChanged, this, &MonitorWindow::updateStatus);
    connect(m_server, &ServerThread::listeningChanged, this, &MonitorWindow::refresh);

    // Pulled, not pushed: a queued signal per batch would pile up in this
    // thread's event loop without limit whenever the window falls behind.
    m_events = std::make_unique<MonitorQueue>(server->server()->monitor());
    m_pollTimer.setInterval(PollInterval);
    connect(&m_pollTimer, &QTimer::timeout, this, &MonitorWindow::poll);
    m_pollTimer.start();

    m_statusTimer.setInterval(1000);
    connect(&m_statusTimer, &QTimer::timeout, this, &MonitorWindow::updateStatus);
    m_statusTimer.start();

    resize(1100, 720);
    restoreSettings();
    refresh();
}

MonitorWindow::~MonitorWindow()
{
    // The app also ends without a close (SIGTERM): the layout is kept then too.
    saveSettings();
}

void MonitorWindow::buildServerStrip(QWidget *strip)
{
    m_state = new QLabel;
    m_state->setObjectName(QStringLiteral("serverState"));
    m_addresses = new QLabel;
    m_addresses->setObjectName(QStringLiteral("serverAddresses"));
    m_addresses->setTextFormat(Qt::RichText);
    m_addresses->setOpenExternalLinks(true);
    m_addresses->setTextInteractionFlags(Qt::TextBrowserInteraction);
    m_uptime = new QLabel;
    m_uptime->setObjectName(QStringLiteral("serverUptime"));
    m_totals = new QLabel;
    m_totals->setObjectName(QStringLiteral("serverTotals"));
    m_dropped = new QLabel;
    m_dropped->setObjectName(QStringLiteral("monitorDropped"));
    m_dropped->setStyleSheet(QStringLiteral("color: #b04000"));
    m_startStop = new QToolButton;
    m_startStop->setObjectName(QStringLiteral("serverStartStop"));
    m_startStop->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    connect(m_startStop, &QToolButton::clicked, this, &MonitorWindow::startOrStop);

    auto *layout = new QHBoxLayout(strip);
    layout->setContentsMargins(8, 4, 8, 4);
    layout->addWidget(m_startStop);
    layout->addWidget(m_state);
    layout->addWidget(m_addresses);
    layout->addStretch(1);
    layout->addWidget(m_dropped);
    layout->addWidget(m_totals);
    layout->addWidget(m_uptime);
}

void MonitorWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    QAction *open = file->addAction(tr("&Open Config…"), this, [this] {
        const QString fileName = QFileDialog::getOpenFileName(
                this, tr("Open Config"), QString(), tr("Sluice config (*.json);;All files (*)"));
        if (!fileName.isEmpty())
            Q_EMIT openConfigRequested(fileName);
    });
    open->setShortcut(QKeySequence::Open);
    file->addSeparator();
    const auto exportAs = [this](TrafficView::ExportFormat format, const QString &filter) {
        const QString fileName
                = QFileDialog::getSaveFileName(this, tr("Export Traffic"), QString(), filter);
        if (fileName.isEmpty())
            return;
        QString error;
        if (!m_trafficView->exportTo(fileName, format, &error))
            statusBar()->showMessage(error, 10000);
        else
            statusBar()->showMessage(tr("Traffic exported to %1").arg(fileName), 5000);
    };
    file->addAction(tr("Export Traffic as JSON &Lines…"), this, [exportAs] {
        exportAs(TrafficView::ExportFormat::JsonLines, tr("JSON Lines (*.jsonl);;All files (*)"));
    });
    file->addAction(tr("Export Traffic as &HAR…"), this, [exportAs] {
        exportAs(TrafficView::ExportFormat::Har, tr("HAR (*.har);;All files (*)"));
    });
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu *serverMenu = menuBar()->addMenu(tr("&Server"));
    m_startStopAction = serverMenu->addAction(tr("&Stop"), this, &MonitorWindow::startOrStop);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Clear &Traffic"), m_trafficModel, &TrafficModel::clear);
    view->addAction(tr("Reset Route &Statistics"), m_routeModel, &RouteModel::clearStats);
    view->addAction(tr("Traffic &Buffer Size…"), this, [this] {
        bool ok = false;
        const int rows = QInputDialog::getInt(
                this, tr("Traffic Buffer"),
                tr("Rows kept in the traffic view (the oldest are dropped beyond it):"),
                m_trafficModel->capacity(), 1000, 10000000, 10000, &ok);
        if (ok)
            m_trafficModel->setCapacity(rows);
    });
}

void MonitorWindow::setConfigName(const QString &name)
{
    m_configName = name;
    setWindowTitle(name.isEmpty() ? tr("Sluice") : tr("%1 — Sluice").arg(name));
}

void MonitorWindow::appendLog(const QString &line)
{
    m_logView->appendLine(line);
}

void MonitorWindow::poll()
{
    const QList<MonitorEvent> events = m_events->take(MaxEventsPerPoll);
    if (!events.isEmpty())
        addEvents(events);
}

void MonitorWindow::addEvents(const QList<MonitorEvent> &events)
{
    m_trafficModel->addEvents(events);
    m_connectionModel->addEvents(events);
    m_routeModel->addEvents(events);
    m_statsHistory->addEvents(events);
}

void MonitorWindow::refresh()
{
    const QList<QUrl> urls = m_server->urls();
    const bool listening = !urls.isEmpty();
    if (listening && !m_upSince.isValid())
        m_upSince.start();
    else if (!listening)
        m_upSince.invalidate();

    QStringList links;
    for (const QUrl &url : urls) {
        const QString text = url.toString().toHtmlEscaped();
        links.append(QStringLiteral("<a href=\"%1\">%1</a>").arg(text));
    }
    m_addresses->setText(links.join(QStringLiteral(" ")));
    m_state->setText(listening ? tr("Listening on") : tr("Stopped"));
    const QString startStop = listening ? tr("Stop") : tr("Start");
    m_startStop->setText(startStop);
    m_startStop->setIcon(
            style()->standardIcon(listening ? QStyle::SP_MediaStop : QStyle::SP_MediaPlay));
    m_startStop->setToolTip(listening ? tr("Stop listening and close every connection")
                                      : tr("Listen again on the same addresses"));
    m_startStopAction->setText(listening ? tr("&Stop") : tr("&Start"));
    updateStatus();
}

void MonitorWindow::startOrStop()
{
    if (m_server->isListening()) {
        m_server->stop();
        appendLog(tr("stopped by the user"));
    } else if (!m_server->start()) {
        const QString error = tr("cannot start: %1").arg(m_server->errorString());
        appendLog(error);
        statusBar()->showMessage(error, 10000);
    } else {
        appendLog(tr("started again"));
    }
}

void MonitorWindow::updateStatus()
{
    const QLocale locale;
    m_uptime->setText(m_upSince.isValid() ? tr("up %1").arg(formatDuration(m_upSince.elapsed()))
                                          : QString());
    m_totals->setText(tr("%1 open · %2 connections · %3 requests · %4 messages · %5")
                              .arg(locale.toString(m_statsHistory->openConnections()),
                                   locale.toString(m_statsHistory->totalConnections()),
                                   locale.toString(m_statsHistory->totalRequests()),
                                   locale.toString(m_statsHistory->totalMessages()),
                                   locale.formattedDataSize(m_statsHistory->totalBytes())));
    const quint64 monitorDropped = m_events->droppedCount();
    const quint64 trafficDropped = m_trafficModel->droppedCount();
    QStringList dropped;
    if (monitorDropped)
        dropped.append(tr("monitor dropped %1 events").arg(locale.toString(monitorDropped)));
    if (trafficDropped) {
        dropped.append(tr("traffic dropped %1 rows (cap %2)")
                               .arg(locale.toString(trafficDropped),
                                    locale.toString(m_trafficModel->capacity())));
    }
    m_dropped->setText(dropped.join(QStringLiteral(" · ")));
    m_dropped->setVisible(!dropped.isEmpty());
}

void MonitorWindow::closeEvent(QCloseEvent *event)
{
    saveSettings();
    QMainWindow::closeEvent(event);
}

void MonitorWindow::saveSettings() const
{
    QSettings settings;
    settings.beginGroup(settingsGroup);
    settings.setValue(QStringLiteral("geometry"), saveGeometry());
    settings.setValue(QStringLiteral("state"), saveState());
    settings.setValue(QStringLiteral("tab"), m_tabs->currentIndex());
    settings.setValue(QStringLiteral("traffic"), m_trafficView->saveState());
    settings.setValue(QStringLiteral("connections"), m_connectionsView->saveState());
    settings.setValue(QStringLiteral("routes"), m_routeTable->horizontalHeader()->saveState());
    settings.setValue(QStringLiteral("trafficCapacity"), m_trafficModel->capacity());
    settings.endGroup();
}

void MonitorWindow::restoreSettings()
{
    QSettings settings;
    settings.beginGroup(settingsGroup);
    restoreGeometry(settings.value(QStringLiteral("geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("state")).toByteArray());
    m_tabs->setCurrentIndex(settings.value(QStringLiteral("tab"), 0).toInt());
    m_trafficView->restoreState(settings.value(QStringLiteral("traffic")).toByteArray());
    m_connectionsView->restoreState(settings.value(QStringLiteral("connections")).toByteArray());
    m_routeTable->horizontalHeader()->restoreState(
            settings.value(QStringLiteral("routes")).toByteArray());
    bool ok = false;
    const int capacity = settings.value(QStringLiteral("trafficCapacity")).toInt(&ok);
    if (ok && capacity > 0)
        m_trafficModel->setCapacity(capacity);
    settings.endGroup();
}

} // namespace sluice
