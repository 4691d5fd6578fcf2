// The sluice executable: the wiring of the config, the server, the logs,
// the signals and (unless --headless) the window. Exit codes: 0 after a
// clean shutdown, 1 when the server cannot start, 2 for a bad command line
// or config.

#include "config.h"
#include "logfile.h"
#include "signalwatcher.h"

#include <sluice/accesslog.h>
#include <sluice/broadcastrooms.h>
#include <sluice/monitor.h>
#include <sluice/router.h>
#include <sluice/server.h>
#include <sluice/serverthread.h>
#include <sluiceui/monitorwindow.h>
#include <sluiceui/routemodel.h>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QFileInfo>
#include <QtCore/QLoggingCategory>
#include <QtWidgets/QApplication>
#include <QtWidgets/QStatusBar>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

Q_LOGGING_CATEGORY(lcApp, "sluice.app", QtInfoMsg)

namespace {

enum ExitCode { ExitClean = 0, ExitCannotStart = 1, ExitBadUsage = 2 };

const QString defaultConfig = QStringLiteral(":/config/default.json");

// The window needs a QApplication, which needs a display; everything else
// runs on QCoreApplication. Decided before any application object exists.
bool wantsWindow(int argc, char *argv[])
{
    for (int i = 1; i < argc; ++i) {
        for (const char *consoleOnly : {"--headless", "--help", "-h", "--help-all", "-?",
                                        "--version", "-v", "--check-config"}) {
            if (std::strcmp(argv[i], consoleOnly) == 0)
                return false;
        }
    }
    return true;
}

bool hasDisplay()
{
    return !qEnvironmentVariableIsEmpty("DISPLAY")
           || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY")
           || !qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM");
}

// What the command line says over the config file.
struct Overrides
{
    std::optional<quint16> port;
    std::optional<int> workers;
    QList<QHostAddress> bind;
    QString root;

    void applyTo(Config &config) const
    {
        QList<Config::Listen> listen = config.listen();
        if (!bind.isEmpty()) {
            // Each port of the file, TLS or not, on every address given.
            QList<Config::Listen> endpoints;
            for (const Config::Listen &entry : std::as_const(listen)) {
                if (std::none_of(endpoints.cbegin(), endpoints.cend(), [&entry](const auto &e) {
                        return e.port == entry.port
                               && e.tls.certificateFile() == entry.tls.certificateFile()
                               && e.tls.keyFile() == entry.tls.keyFile();
                    })) {
                    endpoints.append(entry);
                }
            }
            if (endpoints.isEmpty())
                endpoints.append(Config::Listen());
            listen.clear();
            for (const QHostAddress &address : bind) {
                for (Config::Listen entry : std::as_const(endpoints)) {
                    entry.address = address;
                    listen.append(entry);
                }
            }
        }
        if (listen.isEmpty())
            listen.append({QHostAddress(QHostAddress::Any), quint16(8080)});
        if (port) {
            for (Config::Listen &entry : listen)
                entry.port = *port;
        }
        config.setListen(listen);
        if (workers)
            config.setWorkers(*workers);
        if (!root.isEmpty())
            config.setRoot(root);
        else if (config.root().isEmpty())
            config.setRoot(QStringLiteral(":/site"));
    }
};

bool sameListen(const QList<Config::Listen> &a, const QList<Config::Listen> &b)
{
    if (a.size() != b.size())
        return false;
    for (qsizetype i = 0; i < a.size(); ++i) {
        if (a.at(i).address != b.at(i).address || a.at(i).port != b.at(i).port
            || a.at(i).tls.certificateFile() != b.at(i).tls.certificateFile()
            || a.at(i).tls.keyFile() != b.at(i).tls.keyFile())
            return false;
    }
    return true;
}

int fail(int code, const QString &message)
{
    std::fprintf(stderr, "sluice: %s\n", qPrintable(message));
    return code;
}

} // namespace

int main(int argc, char *argv[])
{
    // Without a display the command line is still checked (on a
    // QCoreApplication) before saying that the window cannot open.
    const bool wantsDisplay = wantsWindow(argc, argv);
    const bool window = wantsDisplay && hasDisplay();
    std::unique_ptr<QCoreApplication> app(window ? new QApplication(argc, argv)
                                                 : new QCoreApplication(argc, argv));
    QCoreApplication::setOrganizationName(QStringLiteral("Sluice"));
    QCoreApplication::setApplicationName(QStringLiteral("sluice"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SLUICE_VERSION_STR));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
            "Sluice: an HTTP/1.1 and WebSocket server on one port, with a live monitor.\n"
            "Exit codes: 0 after a clean shutdown, 1 when the server cannot start, 2 for a bad "
            "command line or config.\nSIGINT/SIGTERM shut down gracefully (WebSockets get "
            "1001); SIGHUP reloads the config and reopens the log file."));
    const QCommandLineOption helpOption = parser.addHelpOption();
    const QCommandLineOption versionOption = parser.addVersionOption();
    const QCommandLineOption headlessOption(
            QStringLiteral("headless"),
            QStringLiteral("Run without a window (no display needed); log to stdout by default."));
    const QCommandLineOption portOption(
            QStringLiteral("port"),
            QStringLiteral("Port for every listen address (default 8080; 0 picks a free port)."),
            QStringLiteral("PORT"));
    const QCommandLineOption bindOption(
            QStringLiteral("bind"),
            QStringLiteral("Address to listen on, IPv4 or IPv6 (default: all; repeatable)."),
            QStringLiteral("ADDRESS"));
    const QCommandLineOption rootOption(
            QStringLiteral("root"),
            QStringLiteral("Serve the files in DIR (default: the embedded site)."),
            QStringLiteral("DIR"));
    const QCommandLineOption configOption(
            QStringLiteral("config"),
            QStringLiteral("Read the server (listen addresses, root, filters, routes, error "
                           "pages, limits) from the JSON FILE; --port, --bind and --root "
                           "override it."),
            QStringLiteral("FILE"));
    const QCommandLineOption checkConfigOption(
            QStringLiteral("check-config"),
            QStringLiteral("Validate the config (--config, or the default one), print the "
                           "resolved route map and exit: 0 when valid, 2 when not."));
    const QCommandLineOption logOption(
            QStringLiteral("log"),
            QStringLiteral("Append the log to FILE (\"-\": stdout; the default with "
                           "--headless)."),
            QStringLiteral("FILE"));
    const QCommandLineOption logFormatOption(QStringLiteral("log-format"),
                                             QStringLiteral("text (default) or json (one object "
                                                            "per line)."),
                                             QStringLiteral("FORMAT"), QStringLiteral("text"));
    const QCommandLineOption logTrafficOption(
            QStringLiteral("log-traffic"),
            QStringLiteral("Also log every WebSocket message (payloads cut to 256 bytes)."));
    const QCommandLineOption graceOption(
            QStringLiteral("grace"),
            QStringLiteral("Seconds a shutdown waits for responses in flight (default 10)."),
            QStringLiteral("SECONDS"), QStringLiteral("10"));
    const QCommandLineOption workersOption(
            QStringLiteral("workers"),
            QStringLiteral("Threads serving connections (default: the config's \"workers\", "
                           "else one per core; 0: one per core)."),
            QStringLiteral("N"));
    for (const QCommandLineOption &option :
         {headlessOption, portOption, bindOption, rootOption, configOption, checkConfigOption,
          workersOption, logOption, logFormatOption, logTrafficOption, graceOption}) {
        parser.addOption(option);
    }

    // parse(), not process(): a bad command line exits with 2, not Qt's 1.
    if (!parser.parse(QCoreApplication::arguments())) {
        return fail(ExitBadUsage, parser.errorText() + QStringLiteral(" (see sluice --help)"));
    }
    if (parser.isSet(helpOption))
        parser.showHelp(ExitClean);
    if (parser.isSet(versionOption))
        parser.showVersion();
    if (!parser.positionalArguments().isEmpty()) {
        return fail(ExitBadUsage, QStringLiteral("unexpected argument: %1 (see sluice --help)")
                                          .arg(parser.positionalArguments().first()));
    }

    Overrides overrides;
    if (parser.isSet(portOption)) {
        bool ok = false;
        const uint port = parser.value(portOption).toUInt(&ok);
        if (!ok || port > 65535) {
            return fail(ExitBadUsage, QStringLiteral("--port: not a port number (0 to 65535): %1")
                                              .arg(parser.value(portOption)));
        }
        overrides.port = quint16(port);
    }
    if (parser.isSet(workersOption)) {
        bool ok = false;
        const uint workers = parser.value(workersOption).toUInt(&ok);
        if (!ok || workers > 256) {
            return fail(ExitBadUsage, QStringLiteral("--workers: not a thread count (0 to 256): %1")
                                              .arg(parser.value(workersOption)));
        }
        overrides.workers = int(workers);
    }
    for (const QString &text : parser.values(bindOption)) {
        QHostAddress address;
        if (!address.setAddress(text)) {
            return fail(ExitBadUsage,
                        QStringLiteral("--bind: not an IPv4 or IPv6 address: %1").arg(text));
        }
        overrides.bind.append(address);
    }
    if (parser.isSet(rootOption)) {
        const QFileInfo root(parser.value(rootOption));
        if (!root.isDir() || !root.isReadable()) {
            return fail(ExitBadUsage, QStringLiteral("--root: not a readable directory: %1")
                                              .arg(parser.value(rootOption)));
        }
        overrides.root = root.absoluteFilePath();
    }
    const QString logFormat = parser.value(logFormatOption);
    if (logFormat != QLatin1String("text") && logFormat != QLatin1String("json")) {
        return fail(ExitBadUsage,
                    QStringLiteral("--log-format: must be text or json, not %1").arg(logFormat));
    }
    bool graceOk = false;
    const double graceSeconds = parser.value(graceOption).toDouble(&graceOk);
    if (!graceOk || graceSeconds < 0 || graceSeconds > 3600) {
        return fail(ExitBadUsage, QStringLiteral("--grace: not a number of seconds (0 to 3600): %1")
                                          .arg(parser.value(graceOption)));
    }

    const QString configPath
            = parser.isSet(configOption) ? parser.value(configOption) : defaultConfig;
    Config config;
    if (!config.load(configPath))
        return fail(ExitBadUsage, config.errorString());
    overrides.applyTo(config);

    if (parser.isSet(checkConfigOption)) {
        std::fputs(qPrintable(config.describe()), stdout);
        return ExitClean;
    }

    if (wantsDisplay && !window) {
        return fail(ExitCannotStart,
                    QStringLiteral("no display for the window (DISPLAY and WAYLAND_DISPLAY are "
                                   "not set): run with --headless"));
    }

    // The log: stdout by default without a window; with one, only on request
    // (the window shows the traffic).
    LogFile log;
    const bool headless = !wantsDisplay;
    const QString logTarget = parser.isSet(logOption)
                                      ? parser.value(logOption)
                                      : (headless ? QStringLiteral("-") : QString());
    const auto format
            = logFormat == QLatin1String("json") ? LogFile::Format::Json : LogFile::Format::Text;
    if (!logTarget.isEmpty()) {
        if (!log.open(logTarget, format))
            return fail(ExitCannotStart,
                        QStringLiteral("--log: cannot open %1").arg(log.errorString()));
        log.installMessageHandler();
    }

    SignalWatcher signalWatcher;
    if (!signalWatcher.install()) {
        return fail(ExitCannotStart, QStringLiteral("cannot install signal handlers: %1")
                                             .arg(QString::fromLocal8Bit(std::strerror(errno))));
    }

    // The server runs on a thread of its own, in the window and headless
    // alike: the window never stalls it, and the main thread is left to the
    // signals, the logs and the reloads.
    sluice::ServerThread serverThread;
    auto *rooms = serverThread.call([](sluice::Server &server) {
        return new sluice::BroadcastRooms(server.monitor(), &server);
    });
    serverThread.call(
            [&config](sluice::Server &server) { server.setWorkerCount(config.workers()); });
    QString error;
    if (!serverThread.call(
                [&](sluice::Server &server) { return config.apply(server, rooms, &error); }))
        return fail(ExitBadUsage, QStringLiteral("%1: %2").arg(config.fileName(), error));

    // With a window the access log always runs: its lines are the window's
    // log view.
    if (!logTarget.isEmpty() || window) {
        // Born on the server's thread and owned by the server: it writes from
        // there (bounded by the monitor's cap, however slow the log) and goes
        // with the server, never while a batch is being written.
        const bool traffic = parser.isSet(logTrafficOption);
        serverThread.call([&log, format, traffic](sluice::Server &server) {
            auto *accessLog = new sluice::AccessLog(
                    server.monitor(), [&log](const QByteArray &line) { log.write(line); }, &server);
            accessLog->setFormat(format);
            accessLog->setLogsTraffic(traffic);
        });
    }

    for (const Config::Listen &entry : config.listen()) {
        const QSslConfiguration tls = entry.tls.sslConfiguration();
        if (entry.isSecure() ? serverThread.listenSecure(entry.address, entry.port, tls)
                             : serverThread.listen(entry.address, entry.port))
            continue;
        // The server's reason names the address already.
        return fail(ExitCannotStart, serverThread.errorString());
    }
    for (const QUrl &url : serverThread.urls()) {
        const QString line = QStringLiteral("Listening on %1").arg(url.toString());
        if (log.isStdout()) {
            log.record(QStringLiteral("listening"), line,
                       {{QStringLiteral("url"), url.toString()}});
        } else {
            std::printf("%s\n", qPrintable(line));
            if (!logTarget.isEmpty())
                log.record(QStringLiteral("listening"), line,
                           {{QStringLiteral("url"), url.toString()}});
        }
    }
    std::fflush(stdout);

    bool shuttingDown = false;
    const auto shutdown = [&serverThread, &shuttingDown, graceSeconds] {
        shuttingDown = true;
        serverThread.post([graceSeconds](sluice::Server &server) {
            server.shutdown(int(graceSeconds * 1000));
        });
    };
    const auto connectionCount = [&serverThread] {
        return serverThread.call([](sluice::Server &server) { return server.connectionCount(); });
    };

    QString configFile = configPath;
    std::unique_ptr<sluice::MonitorWindow> monitorWindow;
    // Loads file and applies it to the running server; the reason when it
    // cannot (the running config then stays as it was).
    const auto reload = [&](const QString &file, const QString &verb) -> QString {
        Config fresh;
        QString why;
        if (!fresh.load(file))
            return fresh.errorString();
        overrides.applyTo(fresh);
        if (!serverThread.call(
                    [&](sluice::Server &server) { return fresh.apply(server, rooms, &why); }))
            return QStringLiteral("%1: %2").arg(fresh.fileName(), why);
        if (!sameListen(fresh.listen(), config.listen()))
            qCWarning(lcApp) << "reload: listen addresses change only on restart";
        config = fresh;
        configFile = file;
        qCInfo(lcApp).noquote()
                << QStringLiteral("%1 %2: %3 routes, %4 filters")
                           .arg(verb, file)
                           .arg(serverThread.server()->router()->routes().size())
                           .arg(serverThread.server()->router()->filterPatterns().size());
        return QString();
    };
    const auto configName = [](const QString &file) {
        return file == defaultConfig ? QStringLiteral("default config")
                                     : QFileInfo(file).fileName();
    };

    if (window) {
        monitorWindow = std::make_unique<sluice::MonitorWindow>(&serverThread);
        monitorWindow->setConfigName(configName(configFile));
        sluice::MonitorWindow *view = monitorWindow.get();
        log.setMirror([view](const QByteArray &line) {
            view->appendLog(QString::fromUtf8(line).trimmed());
        });
        if (logTarget.isEmpty())
            log.installMessageHandler();
        QObject::connect(view, &sluice::MonitorWindow::openConfigRequested, view,
                         [&, view](const QString &file) {
                             const QString why = reload(file, QStringLiteral("opened"));
                             if (!why.isEmpty()) {
                                 qCWarning(lcApp).noquote()
                                         << "cannot open the config, the running one stays:" << why;
                                 view->statusBar()->showMessage(why, 15000);
                                 return;
                             }
                             view->setConfigName(configName(file));
                             view->routeModel()->reload();
                         });
        monitorWindow->show();
        // Closing the window is a shutdown like SIGTERM, not an abrupt quit.
        qApp->setQuitOnLastWindowClosed(false);
        QObject::connect(qApp, &QGuiApplication::lastWindowClosed, app.get(), [&] {
            if (!shuttingDown)
                shutdown();
        });
    }

    QObject::connect(serverThread.server(), &sluice::Server::shutdownFinished, app.get(), [] {
        qCInfo(lcApp) << "stopped";
        QCoreApplication::exit(ExitClean);
    });
    QObject::connect(&signalWatcher, &SignalWatcher::terminateRequested, app.get(),
                     [&](int signal) {
                         if (shuttingDown) {
                             // Asked twice: the user does not want to wait.
                             qCInfo(lcApp) << "signal" << signal << "again: stopping now";
                             QCoreApplication::exit(ExitClean);
                             return;
                         }
                         qCInfo(lcApp).noquote()
                                 << QStringLiteral("signal %1: shutting down, %2 connections open, "
                                                   "grace %3 s")
                                            .arg(signal)
                                            .arg(connectionCount())
                                            .arg(graceSeconds);
                         shutdown();
                     });
    QObject::connect(&signalWatcher, &SignalWatcher::reloadRequested, app.get(), [&] {
        if (!logTarget.isEmpty() && !log.reopen())
            qCWarning(lcApp).noquote() << "cannot reopen the log:" << log.errorString();
        const QString why = reload(configFile, QStringLiteral("reloaded"));
        if (!why.isEmpty()) {
            qCWarning(lcApp).noquote() << "reload failed, the running config stays:" << why;
            return;
        }
        if (monitorWindow)
            monitorWindow->routeModel()->reload();
    });

    qCInfo(lcApp).noquote() << QStringLiteral("sluice %1 serving %2 (%3 routes)")
                                       .arg(QStringLiteral(SLUICE_VERSION_STR), configFile)
                                       .arg(serverThread.server()->router()->routes().size());
    const int exitCode = app->exec();
    // The window goes before the log: it must stop receiving lines first.
    log.setMirror({});
    return exitCode;
}
