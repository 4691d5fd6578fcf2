#include <sluice/chain.h>
#include <sluice/httpconnect.h>
#include <sluice/processhandler.h>
#include <sluice/websocket.h>

#include <QtCore/QLoggingCategory>
#include <QtCore/QPointer>
#include <QtCore/QProcess>
#include <QtCore/QTimer>
#include <QtWebSockets/QWebSocket>

namespace sluice {

Q_LOGGING_CATEGORY(lcExec, "sluice.exec")

namespace {

// A program that never writes a newline must not grow the server without end.
constexpr qsizetype kMaxLineBytes = 1024 * 1024;
// Nor may a program that stops reading its stdin while the client keeps writing.
constexpr qint64 kMaxStdinBacklog = 4 * 1024 * 1024;
constexpr int kKillAfterMs = 2000;
// RFC 6455 5.5: a control frame payload is at most 125 bytes, two for the code.
constexpr qsizetype kMaxCloseReasonBytes = 123;
constexpr int kTryAgainLater = 1013;

QString closeReason(const QString &text)
{
    QByteArray utf8 = text.toUtf8();
    if (utf8.size() <= kMaxCloseReasonBytes)
        return text;
    utf8.truncate(kMaxCloseReasonBytes);
    // Do not end on half a character.
    while (!utf8.isEmpty() && (uchar(utf8.back()) & 0xc0) == 0x80)
        utf8.chop(1);
    if (!utf8.isEmpty() && uchar(utf8.back()) >= 0xc0)
        utf8.chop(1);
    return QString::fromUtf8(utf8);
}

// CGI's spelling: upper case, and anything that is not a letter or a digit
// becomes '_' so that a shell can read it.
QString environmentName(const QString &prefix, const QString &name)
{
    QString result = prefix;
    result.reserve(prefix.size() + name.size());
    for (QChar c : name) {
        const char16_t u = c.unicode();
        if ((u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9'))
            result.append(c.toUpper());
        else
            result.append(u'_');
    }
    return result;
}

QProcessEnvironment requestEnvironment(const WebSocket *socket, const QProcessEnvironment &extra)
{
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    for (const QString &name : extra.keys())
        environment.insert(name, extra.value(name));
    environment.insert(QStringLiteral("SLUICE_PATH"), socket->path());
    environment.insert(QStringLiteral("SLUICE_QUERY"),
                       socket->requestUrl().query(QUrl::FullyEncoded));
    environment.insert(QStringLiteral("SLUICE_REMOTE_ADDR"), socket->peerAddress().toString());
    environment.insert(QStringLiteral("SLUICE_REMOTE_PORT"), QString::number(socket->peerPort()));
    const QHash<QString, QString> params = socket->params();
    for (auto it = params.cbegin(); it != params.cend(); ++it)
        environment.insert(environmentName(QStringLiteral("SLUICE_PARAM_"), it.key()), it.value());
    // Repeated headers are one variable, as CGI joins them.
    QHash<QString, QString> headers;
    const HttpHeaders requestHeaders = socket->headers(); // const: no detach
    for (const HttpHeader &header : requestHeaders) {
        const QString name
                = environmentName(QStringLiteral("HTTP_"), QString::fromLatin1(header.first));
        const QString value = QString::fromLatin1(header.second);
        auto it = headers.find(name);
        if (it == headers.end())
            headers.insert(name, value);
        else
            *it += QStringLiteral(", ") + value;
    }
    for (auto it = headers.cbegin(); it != headers.cend(); ++it)
        environment.insert(it.key(), it.value());
    return environment;
}

// What one connection's callbacks share; the lambdas hold it, so it lives as
// long as the last of them.
struct Session
{
    QPointer<WebSocket> socket;
    std::shared_ptr<std::atomic<int>> running;
    QByteArray stdoutLine;
    QByteArray stderrLine;
    bool counted = true;

    void release()
    {
        if (counted) {
            counted = false;
            running->fetch_sub(1);
        }
    }

    // Lines out of a stream; with flush, the unterminated rest too.
    template<typename Emit>
    static void splitLines(QByteArray &buffer, const QByteArray &data, bool flush, Emit emitLine)
    {
        buffer.append(data);
        qsizetype start = 0;
        for (;;) {
            const qsizetype end = buffer.indexOf('\n', start);
            const qsizetype rest = (end < 0 ? buffer.size() : end) - start;
            // No message longer than the cap, wherever the newline is.
            if (end >= 0 ? rest > kMaxLineBytes : rest >= kMaxLineBytes) {
                emitLine(buffer.mid(start, kMaxLineBytes));
                start += kMaxLineBytes;
                continue;
            }
            if (end < 0)
                break;
            qsizetype length = rest;
            if (length > 0 && buffer.at(end - 1) == '\r')
                --length;
            emitLine(buffer.mid(start, length));
            start = end + 1;
        }
        buffer.remove(0, start);
        if (flush && !buffer.isEmpty()) {
            emitLine(buffer);
            buffer.clear();
        }
    }

    void sendLines(const QByteArray &data, bool flush)
    {
        splitLines(stdoutLine, data, flush, [this](const QByteArray &line) {
            if (socket)
                socket->sendText(QString::fromUtf8(line));
        });
    }

    void logLines(const QByteArray &data, bool flush, const QString &program)
    {
        splitLines(stderrLine, data, flush, [&program](const QByteArray &line) {
            qCWarning(lcExec).noquote() << program << "stderr:" << QString::fromUtf8(line);
        });
    }
};

} // namespace

ProcessHandler::ProcessHandler(const QStringList &command)
    : m_command(command)
    , m_running(std::make_shared<std::atomic<int>>(0))
{ }

void ProcessHandler::operator()(WebSocket *socket) const
{
    if (m_command.isEmpty()) {
        socket->close(int(QWebSocketProtocol::CloseCodeBadOperation),
                      QStringLiteral("no program to run"));
        return;
    }
    int current = m_running->load();
    do {
        if (current >= m_maxProcesses) {
            qCWarning(lcExec) << "refusing" << socket->path() << "-" << current
                              << "programs running already";
            socket->close(kTryAgainLater, QStringLiteral("too many processes"));
            return;
        }
    } while (!m_running->compare_exchange_weak(current, current + 1));

    auto session = std::make_shared<Session>();
    session->socket = socket;
    session->running = m_running;

    const QString program = m_command.first();
    auto *process = new QProcess(socket);
    process->setProgram(program);
    process->setArguments(m_command.mid(1));
    if (!m_workingDirectory.isEmpty())
        process->setWorkingDirectory(m_workingDirectory);
    process->setProcessEnvironment(requestEnvironment(socket, m_environment));

    QObject::connect(process, &QProcess::readyReadStandardOutput, process, [session, process] {
        session->sendLines(process->readAllStandardOutput(), false);
    });
    QObject::connect(process, &QProcess::readyReadStandardError, process,
                     [session, process, program] {
                         session->logLines(process->readAllStandardError(), false, program);
                     });
    QObject::connect(
            process, &QProcess::finished, process,
            [session, process, program](int exitCode, QProcess::ExitStatus status) {
                session->sendLines(process->readAllStandardOutput(), true);
                session->logLines(process->readAllStandardError(), true, program);
                session->release();
                if (session->socket) {
                    if (status == QProcess::CrashExit)
                        session->socket->close(int(QWebSocketProtocol::CloseCodeBadOperation),
                                               QStringLiteral("crashed"));
                    else if (exitCode != 0)
                        session->socket->close(int(QWebSocketProtocol::CloseCodeBadOperation),
                                               QStringLiteral("exit status %1").arg(exitCode));
                    else
                        session->socket->close(int(QWebSocketProtocol::CloseCodeNormal));
                }
                process->deleteLater();
            });
    QObject::connect(process, &QProcess::errorOccurred, process,
                     [session, process, program](QProcess::ProcessError error) {
                         // Only a failed start goes without finished().
                         if (error != QProcess::FailedToStart)
                             return;
                         qCWarning(lcExec).noquote()
                                 << "cannot start" << program << "-" << process->errorString();
                         session->release();
                         if (session->socket)
                             session->socket->close(int(QWebSocketProtocol::CloseCodeBadOperation),
                                                    closeReason(process->errorString()));
                         process->deleteLater();
                     });

    QObject::connect(
            socket, &WebSocket::textReceived, process, [session, process](const QString &message) {
                if (process->bytesToWrite() > kMaxStdinBacklog) {
                    if (session->socket)
                        session->socket->close(int(QWebSocketProtocol::CloseCodeTooMuchData),
                                               QStringLiteral("the program is not reading"));
                    return;
                }
                process->write(message.toUtf8() + '\n');
            });
    QObject::connect(socket, &WebSocket::closed, process, [session, process] {
        session->socket.clear();
        if (process->state() == QProcess::NotRunning)
            return;
        // Out of the socket's hands, which is deleted next, so that the
        // program gets its grace period instead of ~QProcess's kill.
        process->setParent(nullptr);
        process->closeWriteChannel();
        process->terminate();
        QTimer::singleShot(kKillAfterMs, process, [process] {
            if (process->state() != QProcess::NotRunning)
                process->kill();
        });
    });

    process->start(QIODevice::ReadWrite);
}

Filter ProcessHandler::admission() const
{
    return [running = m_running, max = m_maxProcesses](HttpConnect &connect, Chain chain) {
        if (running->load() < max) {
            chain();
            return;
        }
        connect.error(503, QStringLiteral("all %1 processes of this route are running").arg(max),
                      {{"Retry-After", "1"}});
    };
}

} // namespace sluice
