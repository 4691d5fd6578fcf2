// sluice-guibench: an echo server in a ServerThread, with or without the
// monitor window, that measures how the GUI thread fares while a load client
// drives the server.
//
//   sluice-guibench --mode headless|listener|window [--duration S] [--no-stdin]
//
// headless: a QCoreApplication and the ServerThread, nothing listens to the
//           monitor (the baseline, as `sluice --headless`).
// listener: the same, plus a receiver on the main thread that only counts the
//           monitor's batches; it separates the cost of producing monitor
//           events from the cost of showing them.
// window:   a QApplication with a MonitorWindow shown.
//
// Prints "PORT <n>" once listening, runs until --duration seconds pass or
// stdin closes, then prints one JSON object with the event-loop gaps of the
// main thread, memory, CPU time and what the monitor and the traffic model
// dropped.

#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/monitorqueue.h>
#include <sluice/server.h>
#include <sluice/serverthread.h>
#include <sluiceui/monitorwindow.h>
#include <sluiceui/trafficmodel.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QSocketNotifier>
#include <QtCore/QTimer>
#include <QtWidgets/QApplication>

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace {

enum class Mode { Headless, Listener, Window };

struct Options
{
    Mode mode = Mode::Headless;
    double duration = 0; // 0: until stdin closes
    bool watchStdin = true;
};

[[noreturn]] void usage(const char *message)
{
    if (message)
        std::fprintf(stderr, "sluice-guibench: %s\n", message);
    std::fprintf(stderr, "usage: sluice-guibench --mode headless|listener|window [--duration S] "
                         "[--no-stdin]\n");
    std::exit(2);
}

// Parsed before any application object exists: only the window mode may
// create a QApplication (which needs a display).
Options parseOptions(int argc, char **argv)
{
    Options options;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        if (!std::strcmp(arg, "--no-stdin")) {
            options.watchStdin = false;
        } else if (!std::strcmp(arg, "--mode") && i + 1 < argc) {
            const char *mode = argv[++i];
            if (!std::strcmp(mode, "headless"))
                options.mode = Mode::Headless;
            else if (!std::strcmp(mode, "listener"))
                options.mode = Mode::Listener;
            else if (!std::strcmp(mode, "window"))
                options.mode = Mode::Window;
            else
                usage("--mode is headless, listener or window");
        } else if (!std::strcmp(arg, "--duration") && i + 1 < argc) {
            char *end = nullptr;
            options.duration = std::strtod(argv[++i], &end);
            if (*end || options.duration < 0)
                usage("--duration takes seconds");
        } else if (!std::strcmp(arg, "-h") || !std::strcmp(arg, "--help")) {
            usage(nullptr);
        } else {
            usage("unknown option or missing value");
        }
    }
    if (!options.watchStdin && options.duration <= 0)
        usage("--no-stdin needs a --duration");
    return options;
}

qint64 rssKib()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray data = status.readAll();
    const int at = data.indexOf("VmRSS:");
    if (at < 0)
        return -1;
    const int end = data.indexOf('\n', at);
    return data.mid(at + 6, end - at - 6).replace("kB", "").trimmed().toLongLong();
}

double processCpuSeconds()
{
    rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
           + double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double clockSeconds(clockid_t clock)
{
    timespec ts;
    if (clock_gettime(clock, &ts) != 0)
        return -1;
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// The gaps between the ticks of a 5 ms timer on the main thread: a tick that
// comes late means the event loop was busy (or starved) that long.
class GapRecorder
{
public:
    static constexpr int IntervalMs = 5;

    GapRecorder()
    {
        m_timer.setTimerType(Qt::PreciseTimer);
        m_timer.setInterval(IntervalMs);
        QObject::connect(&m_timer, &QTimer::timeout, [this] { tick(); });
    }
    void start()
    {
        m_gaps.reserve(1 << 16);
        m_clock.start();
        m_last = m_clock.nsecsElapsed();
        m_timer.start();
    }
    void stop() { m_timer.stop(); }

    QJsonObject result() const
    {
        std::vector<qint64> sorted = m_gaps;
        std::sort(sorted.begin(), sorted.end());
        auto ms = [](qint64 ns) {
            return double(ns) / 1e6;
        };
        auto over = [&](qint64 thresholdMs) {
            return qint64(sorted.end()
                          - std::upper_bound(sorted.begin(), sorted.end(), thresholdMs * 1000000));
        };
        const qint64 p99 = sorted.empty() ? 0 : sorted[size_t(double(sorted.size() - 1) * 0.99)];
        const qint64 p50 = sorted.empty() ? 0 : sorted[(sorted.size() - 1) / 2];
        return QJsonObject {
                {QStringLiteral("ticks"), qint64(sorted.size())},
                {QStringLiteral("maxMs"), sorted.empty() ? 0.0 : ms(sorted.back())},
                {QStringLiteral("p50Ms"), ms(p50)},
                {QStringLiteral("p99Ms"), ms(p99)},
                {QStringLiteral("over50Ms"), over(50)},
                {QStringLiteral("over100Ms"), over(100)},
        };
    }

private:
    void tick()
    {
        const qint64 now = m_clock.nsecsElapsed();
        m_gaps.push_back(now - m_last);
        m_last = now;
    }

    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = 0;
    std::vector<qint64> m_gaps;
};

class MemorySampler
{
public:
    MemorySampler()
    {
        m_timer.setInterval(250);
        QObject::connect(&m_timer, &QTimer::timeout, [this] { sample(); });
    }
    void start()
    {
        sample();
        m_timer.start();
    }
    void sample()
    {
        m_last = rssKib();
        m_max = std::max(m_max, m_last);
    }
    qint64 maxKib() const { return m_max; }
    qint64 lastKib() const { return m_last; }

private:
    QTimer m_timer;
    qint64 m_max = 0;
    qint64 m_last = 0;
};

} // namespace

int main(int argc, char **argv)
{
    const Options options = parseOptions(argc, argv);
    std::unique_ptr<QCoreApplication> app(options.mode == Mode::Window
                                                  ? new QApplication(argc, argv)
                                                  : new QCoreApplication(argc, argv));
    // Not the app's name: the bench must not rewrite the user's window layout.
    QCoreApplication::setOrganizationName(QStringLiteral("Sluice"));
    QCoreApplication::setApplicationName(QStringLiteral("sluice-guibench"));

    sluice::ServerThread serverThread;
    sluice::Server *server = serverThread.server();
    server->map(QStringLiteral("ws:/echo"), sluice::handlers::echo());
    if (!serverThread.listen(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "sluice-guibench: cannot listen: %s\n",
                     qPrintable(serverThread.errorString()));
        return 2;
    }
    clockid_t serverClock {};
    const bool haveServerClock = pthread_getcpuclockid(serverThread.call([](sluice::Server &) {
                                     return pthread_self();
                                 }),
                                                       &serverClock)
                                 == 0;

    std::unique_ptr<sluice::MonitorWindow> window;
    std::unique_ptr<sluice::MonitorQueue> listenerQueue;
    quint64 listenerEvents = 0;
    quint64 listenerBatches = 0;
    if (options.mode == Mode::Window) {
        window = std::make_unique<sluice::MonitorWindow>(&serverThread);
        window->show();
    } else if (options.mode == Mode::Listener) {
        // As the window takes events, minus the models.
        listenerQueue = std::make_unique<sluice::MonitorQueue>(server->monitor());
        auto *poll = new QTimer(app.get());
        QObject::connect(poll, &QTimer::timeout, app.get(), [&] {
            const QList<sluice::MonitorEvent> events
                    = listenerQueue->take(sluice::MonitorWindow::MaxEventsPerPoll);
            if (events.isEmpty())
                return;
            listenerEvents += quint64(events.size());
            ++listenerBatches;
        });
        poll->start(sluice::MonitorWindow::PollInterval);
    }

    GapRecorder gaps;
    MemorySampler memory;
    double cpuAtStart = 0;
    double mainCpuAtStart = 0;
    double serverCpuAtStart = 0;
    QElapsedTimer wall;

    // Measure from the first pass of the event loop, once the window has
    // been laid out and painted, so that start-up is not counted as a stall.
    QTimer::singleShot(0, app.get(), [&] {
        cpuAtStart = processCpuSeconds();
        mainCpuAtStart = clockSeconds(CLOCK_THREAD_CPUTIME_ID);
        serverCpuAtStart = haveServerClock ? clockSeconds(serverClock) : -1;
        wall.start();
        gaps.start();
        memory.start();
        std::printf("PORT %u\n", unsigned(serverThread.urls().isEmpty()
                                                  ? 0
                                                  : serverThread.urls().constFirst().port()));
        std::fflush(stdout);
    });

    std::unique_ptr<QSocketNotifier> stdinNotifier;
    if (options.watchStdin) {
        stdinNotifier = std::make_unique<QSocketNotifier>(STDIN_FILENO, QSocketNotifier::Read);
        QObject::connect(stdinNotifier.get(), &QSocketNotifier::activated, app.get(), [&] {
            char buffer[256];
            const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
            if (n <= 0) {
                stdinNotifier->setEnabled(false);
                QCoreApplication::quit();
            }
        });
    }
    if (options.duration > 0)
        QTimer::singleShot(int(options.duration * 1000), app.get(), &QCoreApplication::quit);

    app->exec();

    gaps.stop();
    memory.sample();
    const double elapsedS = double(wall.nsecsElapsed()) / 1e9;
    QJsonObject result {
            {QStringLiteral("mode"),
             options.mode == Mode::Window
                     ? QStringLiteral("window")
                     : (options.mode == Mode::Listener ? QStringLiteral("listener")
                                                       : QStringLiteral("headless"))},
            {QStringLiteral("elapsedS"), elapsedS},
            {QStringLiteral("gaps"), gaps.result()},
            {QStringLiteral("rssMaxMiB"), double(memory.maxKib()) / 1024},
            {QStringLiteral("rssFinalMiB"), double(memory.lastKib()) / 1024},
            {QStringLiteral("cpuS"), processCpuSeconds() - cpuAtStart},
            {QStringLiteral("mainThreadCpuS"),
             clockSeconds(CLOCK_THREAD_CPUTIME_ID) - mainCpuAtStart},
            {QStringLiteral("serverThreadCpuS"),
             haveServerClock ? clockSeconds(serverClock) - serverCpuAtStart : -1.0},
            {QStringLiteral("monitorDropped"), qint64(server->monitor()->droppedCount())},
    };
    if (options.mode == Mode::Listener) {
        result.insert(QStringLiteral("listenerEvents"), qint64(listenerEvents));
        result.insert(QStringLiteral("listenerBatches"), qint64(listenerBatches));
    }
    if (window) {
        const sluice::TrafficModel *model = window->trafficModel();
        result.insert(QStringLiteral("trafficStored"), model->storedCount());
        result.insert(QStringLiteral("trafficPending"), model->pendingCount());
        result.insert(QStringLiteral("trafficDropped"), qint64(model->droppedCount()));
        result.insert(QStringLiteral("windowQueueDropped"),
                      qint64(window->monitorQueue()->droppedCount()));
        result.insert(QStringLiteral("trafficCapacity"), model->capacity());
        result.insert(QStringLiteral("trafficPayloadBytes"), model->storedPayloadBytes());
    }
    std::printf("%s\n", QJsonDocument(result).toJson(QJsonDocument::Compact).constData());
    std::fflush(stdout);

    // The window goes before the server it watches.
    window.reset();
    return 0;
}
