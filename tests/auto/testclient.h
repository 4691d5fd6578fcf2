#ifndef SLUICE_TESTCLIENT_H
#define SLUICE_TESTCLIENT_H

// Raw HTTP/1.1 over a QTcpSocket, for tests that must see exactly what the
// server put on the wire. Waits spin the test thread's event loop (never a
// blocking waitFor*), so they work whether the server runs in this thread or
// in its own, and every wait has a deadline.

#include <QtCore/QByteArray>
#include <QtCore/QDateTime>
#include <QtCore/QList>
#include <QtCore/QLocale>
#include <QtCore/QPair>
#include <QtCore/QString>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QTest>

#include <functional>

namespace testclient {

struct Response
{
    QByteArray version;
    int status = 0;
    QByteArray reason;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;
    // The bytes of this response as they came off the wire.
    QByteArray raw;
    bool chunked = false;
    // The body was delimited by the server closing the connection.
    bool closeDelimited = false;

    QList<QByteArray> headerValues(QByteArrayView name) const
    {
        QList<QByteArray> values;
        for (const auto &header : headers) {
            if (header.first.compare(name, Qt::CaseInsensitive) == 0)
                values.append(header.second);
        }
        return values;
    }
    QByteArray header(QByteArrayView name) const
    {
        const QList<QByteArray> values = headerValues(name);
        return values.isEmpty() ? QByteArray() : values.first();
    }
    bool hasHeader(QByteArrayView name) const { return !headerValues(name).isEmpty(); }
    bool headerHasToken(QByteArrayView name, QByteArrayView token) const
    {
        for (const QByteArray &value : headerValues(name)) {
            for (const QByteArray &item : value.split(',')) {
                if (item.trimmed().compare(token, Qt::CaseInsensitive) == 0)
                    return true;
            }
        }
        return false;
    }
    // "GET, HEAD, POST" -> {"GET", "HEAD", "POST"}
    QList<QByteArray> headerList(QByteArrayView name) const
    {
        QList<QByteArray> items;
        for (const QByteArray &value : headerValues(name)) {
            for (const QByteArray &item : value.split(','))
                items.append(item.trimmed());
        }
        return items;
    }
    QString toString() const { return QString::fromLatin1(raw.left(2000)); }
};

enum class ParseResult { Incomplete, Complete, Error };

// Parses one response from the front of data. noBody: the request was HEAD.
// eof: the peer has closed, so a body without a length ends here.
inline ParseResult parseResponse(const QByteArray &data, bool noBody, bool eof, Response *out,
                                 qsizetype *consumed, QString *error)
{
    const qsizetype headEnd = data.indexOf("\r\n\r\n");
    if (headEnd < 0) {
        if (eof && !data.isEmpty()) {
            *error = QStringLiteral("connection closed inside a response head");
            return ParseResult::Error;
        }
        return ParseResult::Incomplete;
    }
    Response response;
    QList<QByteArray> lines;
    for (qsizetype start = 0; start <= headEnd;) {
        const qsizetype lineEnd = data.indexOf("\r\n", start);
        lines.append(data.mid(start, lineEnd - start));
        start = lineEnd + 2;
    }
    const QByteArray statusLine = lines.first();
    if (!statusLine.startsWith("HTTP/1.")) {
        *error = QStringLiteral("not a status line: ") + QString::fromLatin1(statusLine.left(80));
        return ParseResult::Error;
    }
    const qsizetype firstSpace = statusLine.indexOf(' ');
    const qsizetype secondSpace = statusLine.indexOf(' ', firstSpace + 1);
    response.version = statusLine.left(firstSpace);
    bool ok = false;
    const QByteArray code = secondSpace < 0
                                    ? statusLine.mid(firstSpace + 1)
                                    : statusLine.mid(firstSpace + 1, secondSpace - firstSpace - 1);
    response.status = code.toInt(&ok);
    if (!ok || code.size() != 3) {
        *error = QStringLiteral("bad status code in: ") + QString::fromLatin1(statusLine);
        return ParseResult::Error;
    }
    response.reason = secondSpace < 0 ? QByteArray() : statusLine.mid(secondSpace + 1);
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines.at(i);
        if (line.contains('\n') || line.contains('\r')) {
            *error = QStringLiteral("bare CR or LF in header line: ") + QString::fromLatin1(line);
            return ParseResult::Error;
        }
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0 || line.at(0) == ' ' || line.at(0) == '\t') {
            *error = QStringLiteral("bad header line: ") + QString::fromLatin1(line);
            return ParseResult::Error;
        }
        response.headers.append({line.left(colon), line.mid(colon + 1).trimmed()});
    }

    qsizetype pos = headEnd + 4;
    const bool bodyless = noBody || (response.status >= 100 && response.status < 200)
                          || response.status == 204 || response.status == 304;
    const QList<QByteArray> lengths = response.headerValues("Content-Length");
    if (bodyless) {
        // nothing follows the head
    } else if (response.headerHasToken("Transfer-Encoding", "chunked")) {
        response.chunked = true;
        if (!lengths.isEmpty()) {
            *error = QStringLiteral("both Content-Length and chunked");
            return ParseResult::Error;
        }
        for (;;) {
            const qsizetype lineEnd = data.indexOf("\r\n", pos);
            if (lineEnd < 0)
                return eof ? (*error = QStringLiteral("closed inside chunked body"),
                              ParseResult::Error)
                           : ParseResult::Incomplete;
            QByteArray sizeField = data.mid(pos, lineEnd - pos);
            const qsizetype semicolon = sizeField.indexOf(';');
            if (semicolon >= 0)
                sizeField.truncate(semicolon);
            const qlonglong size = sizeField.trimmed().toLongLong(&ok, 16);
            if (!ok || size < 0) {
                *error = QStringLiteral("bad chunk size: ") + QString::fromLatin1(sizeField);
                return ParseResult::Error;
            }
            pos = lineEnd + 2;
            if (size == 0) {
                // Trailers, then the empty line.
                for (;;) {
                    const qsizetype trailerEnd = data.indexOf("\r\n", pos);
                    if (trailerEnd < 0)
                        return eof ? (*error = QStringLiteral("closed inside trailers"),
                                      ParseResult::Error)
                                   : ParseResult::Incomplete;
                    const bool last = trailerEnd == pos;
                    pos = trailerEnd + 2;
                    if (last)
                        break;
                }
                break;
            }
            if (data.size() < pos + size + 2)
                return eof ? (*error = QStringLiteral("closed inside a chunk"), ParseResult::Error)
                           : ParseResult::Incomplete;
            response.body.append(data.mid(pos, size));
            if (data.mid(pos + size, 2) != "\r\n") {
                *error = QStringLiteral("chunk data not followed by CRLF");
                return ParseResult::Error;
            }
            pos += size + 2;
        }
    } else if (!lengths.isEmpty()) {
        if (lengths.size() > 1) {
            *error = QStringLiteral("several Content-Length headers");
            return ParseResult::Error;
        }
        const qlonglong length = lengths.first().toLongLong(&ok);
        if (!ok || length < 0) {
            *error = QStringLiteral("bad Content-Length");
            return ParseResult::Error;
        }
        if (data.size() < pos + length)
            return eof ? (*error = QStringLiteral("closed before Content-Length bytes"),
                          ParseResult::Error)
                       : ParseResult::Incomplete;
        response.body = data.mid(pos, length);
        pos += length;
    } else {
        if (!eof)
            return ParseResult::Incomplete;
        response.closeDelimited = true;
        response.body = data.mid(pos);
        pos = data.size();
    }
    response.raw = data.left(pos);
    *consumed = pos;
    *out = response;
    return ParseResult::Complete;
}

class Client
{
public:
    Client()
    {
        QObject::connect(&m_socket, &QTcpSocket::readyRead, &m_socket, [this] { drain(); });
        QObject::connect(&m_socket, &QTcpSocket::disconnected, &m_socket, [this] {
            drain();
            m_closed = true;
        });
        QObject::connect(&m_socket, &QAbstractSocket::errorOccurred, &m_socket,
                         [this](QAbstractSocket::SocketError) {
                             if (m_socket.state() == QAbstractSocket::UnconnectedState)
                                 m_closed = true;
                         });
    }

    bool connectTo(quint16 port, const QHostAddress &address = QHostAddress::LocalHost,
                   int timeoutMs = 5000)
    {
        m_closed = false;
        m_socket.connectToHost(address, port);
        const bool ok = QTest::qWaitFor(
                [this] {
                    return m_socket.state() == QAbstractSocket::ConnectedState
                           || m_socket.state() == QAbstractSocket::UnconnectedState;
                },
                timeoutMs);
        if (ok && m_socket.state() == QAbstractSocket::ConnectedState) {
            // One write, one segment: tests that split writes mean it.
            m_socket.setSocketOption(QAbstractSocket::LowDelayOption, 1);
            return true;
        }
        m_error = m_socket.errorString();
        return false;
    }

    void send(const QByteArray &bytes)
    {
        m_sent += bytes;
        m_socket.write(bytes);
        m_socket.flush();
    }

    // Sends bytes in pieces of pieceSize, letting the event loop run between
    // them so that each piece leaves in its own segment.
    void sendSlowly(const QByteArray &bytes, int pieceSize = 1, int pauseMs = 1)
    {
        for (qsizetype i = 0; i < bytes.size(); i += pieceSize) {
            send(bytes.mid(i, pieceSize));
            m_socket.waitForBytesWritten(0);
            QTest::qWait(pauseMs);
        }
    }

    // Reads the next complete response. noBody for a HEAD request.
    bool read(Response *response, bool noBody = false, int timeoutMs = 5000)
    {
        ParseResult result = ParseResult::Incomplete;
        qsizetype consumed = 0;
        QString error;
        auto attempt = [&] {
            result = parseResponse(m_buffer, noBody, m_closed, response, &consumed, &error);
            return result != ParseResult::Incomplete;
        };
        if (!attempt())
            (void)QTest::qWaitFor(attempt, timeoutMs);
        switch (result) {
        case ParseResult::Complete:
            m_buffer.remove(0, consumed);
            m_error.clear();
            return true;
        case ParseResult::Error:
            m_error = error;
            return false;
        case ParseResult::Incomplete:
            m_error = QStringLiteral("no complete response within %1 ms; %2 bytes pending%3")
                              .arg(timeoutMs)
                              .arg(m_buffer.size())
                              .arg(m_closed ? QStringLiteral(", connection closed") : QString());
            return false;
        }
        return false;
    }

    Response get(const QByteArray &target, const QByteArray &extraHeaders = QByteArray())
    {
        send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extraHeaders + "\r\n");
        Response response;
        if (!read(&response))
            response.status = -1;
        return response;
    }

    // Waits for whatever arrives, without parsing it.
    bool waitForBytes(qsizetype count, int timeoutMs = 5000)
    {
        return QTest::qWaitFor([&] { return m_buffer.size() >= count || m_closed; }, timeoutMs)
               && m_buffer.size() >= count;
    }
    bool waitForClosed(int timeoutMs = 5000)
    {
        return QTest::qWaitFor([this] { return m_closed; }, timeoutMs);
    }
    // True when nothing arrived and the socket stayed open for ms.
    bool staysQuiet(int ms)
    {
        const qsizetype before = m_buffer.size();
        QTest::qWait(ms);
        return m_buffer.size() == before && !m_closed;
    }

    bool isClosed() const { return m_closed; }
    QByteArray pending() const { return m_buffer; }
    QByteArray received() const { return m_received; }
    QByteArray sent() const { return m_sent; }
    QString errorString() const { return m_error; }
    // The exchange so far, for failure messages.
    QByteArray transcript() const
    {
        return "--- sent:\n" + m_sent.left(1500) + "\n--- received:\n" + m_received.left(3000)
               + (m_closed ? "\n--- (closed)" : "");
    }
    QTcpSocket &socket() { return m_socket; }
    void abort() { m_socket.abort(); }

private:
    void drain()
    {
        if (!m_socket.isOpen())
            return;
        const QByteArray bytes = m_socket.readAll();
        m_buffer += bytes;
        m_received += bytes;
    }

    QTcpSocket m_socket;
    QByteArray m_buffer;
    QByteArray m_received;
    QByteArray m_sent;
    QString m_error;
    bool m_closed = false;
};

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), or an invalid QDateTime.
inline QDateTime parseHttpDate(const QByteArray &value)
{
    QDateTime date = QLocale::c().toDateTime(QString::fromLatin1(value),
                                             QStringLiteral("ddd, dd MMM yyyy hh:mm:ss 'GMT'"));
    date.setTimeSpec(Qt::UTC);
    return date;
}

} // namespace testclient

// For QVERIFY2 messages: the raw exchange of a client.
#define TRANSCRIPT(client) qPrintable(QString::fromLatin1((client).transcript()))

#endif // SLUICE_TESTCLIENT_H
