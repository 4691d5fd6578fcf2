#ifndef SLUICE_WSTESTCLIENT_H
#define SLUICE_WSTESTCLIENT_H

// A QWebSocket client for tests that records everything it receives, in
// order, with the kind of each message. Waits spin the test thread's event
// loop with a deadline, so a server in this thread keeps going.

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtCore/QUrl>
#include <QtNetwork/QAbstractSocket>
#include <QtTest/QTest>
#include <QtWebSockets/QWebSocket>

namespace wstestclient {

constexpr int kDefaultTimeout = 10000;

// One message as the client saw it: its kind is part of what is checked.
struct Message
{
    bool isText = false;
    QString text;
    QByteArray binary;

    QString content() const { return isText ? text : QString::fromUtf8(binary); }
};

class Client
{
public:
    Client()
    {
        QObject::connect(&m_socket, &QWebSocket::textMessageReceived, &m_socket,
                         [this](const QString &message) {
                             m_received.append({true, message, {}});
                         });
        QObject::connect(&m_socket, &QWebSocket::binaryMessageReceived, &m_socket,
                         [this](const QByteArray &message) {
                             m_received.append({false, {}, message});
                         });
        QObject::connect(&m_socket, &QWebSocket::connected, &m_socket,
                         [this] { m_connected = true; });
        // Qt 6.4 names it error(); errorOccurred() came in 6.5.
        QObject::connect(
                &m_socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), &m_socket,
                [this](QAbstractSocket::SocketError) { m_error = m_socket.errorString(); });
    }

    // True once the handshake succeeded, even if the server (on a worker
    // thread of its own) has closed the connection again by then.
    bool open(quint16 port, const QString &path)
    {
        m_socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(port).arg(path)));
        (void)QTest::qWaitFor([this] { return m_connected || !m_error.isEmpty(); },
                              kDefaultTimeout);
        return m_connected;
    }

    bool waitForCount(qsizetype count, int timeoutMs = kDefaultTimeout)
    {
        return QTest::qWaitFor([&] { return m_received.size() >= count; }, timeoutMs)
               && m_received.size() >= count;
    }

    QWebSocket &socket() { return m_socket; }
    const QList<Message> &received() const { return m_received; }
    QString errorString() const { return m_error; }

private:
    QWebSocket m_socket;
    QList<Message> m_received;
    QString m_error;
    bool m_connected = false;
};

} // namespace wstestclient

#endif // SLUICE_WSTESTCLIENT_H
