#ifndef SLUICE_SERVERTHREAD_H
#define SLUICE_SERVERTHREAD_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QList>
#include <QtCore/QMutex>
#include <QtCore/QObject>
#include <QtCore/QUrl>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QSslConfiguration>

#include <functional>
#include <utility>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace sluice {

class Server;

// A Server with an event loop of its own, so that whoever owns this object
// (a window, a test) never stalls the server, nor the server it. The Server
// is created on the thread and destroyed there; from outside, call only its
// thread-safe members (router(), monitor()->connect, closeConnection(),
// sendText(), sendBinary(), ping()) and run the rest through call() or
// post(). Its signals reach receivers on other threads queued, as usual.
//
// listen(), listenSecure(), stop() and start() remember the addresses (and
// the TLS configurations), so a stopped server starts again on the same
// ports (a port picked with 0 is kept), TLS ones with TLS.
class SLUICE_CORE_EXPORT ServerThread : public QObject
{
    Q_OBJECT
public:
    // Starts the thread; the Server exists when the constructor returns.
    explicit ServerThread(QObject *parent = nullptr);
    // Closes the server, destroys it on its thread and joins the thread.
    ~ServerThread() override;

    Server *server() const { return m_server; }
    QThread *serverThread() const { return m_thread; }

    // Runs function(server) on the server's thread and waits for it
    // (directly when already there). Must not be called from a slot that
    // the server's thread waits on.
    template<typename Function>
    auto call(Function &&function) -> decltype(function(std::declval<Server &>()))
    {
        using Result = decltype(function(std::declval<Server &>()));
        if constexpr (std::is_void_v<Result>) {
            run([&](Server &server) { function(server); });
        } else {
            Result result {};
            run([&](Server &server) { result = function(server); });
            return result;
        }
    }
    // Queues function(server) on the server's thread and returns at once.
    void post(std::function<void(Server &)> function);

    // Adds a listening address (port 0 picks a free one); false with
    // errorString() when it cannot listen.
    bool listen(const QHostAddress &address, quint16 port = 0);
    // The same with TLS (Server::listenSecure()).
    bool listenSecure(const QHostAddress &address, quint16 port,
                      const QSslConfiguration &configuration);
    // Stops listening and closes every connection (Server::close()); the
    // addresses are kept for start().
    void stop();
    // Listens again on every address listen() added, with the ports they
    // got. False when one cannot be bound (the others stay open).
    bool start();
    bool isListening() const;
    // Copies kept up to date as the server listens and stops: safe from
    // any thread, no waiting on the server.
    QList<QUrl> urls() const;
    QString errorString() const;

Q_SIGNALS:
    // Emitted on this object's thread after listen(), start() and stop().
    void listeningChanged(bool listening);

private:
    struct Address
    {
        QHostAddress address;
        quint16 port = 0;
        bool secure = false;
        QSslConfiguration tls;
    };

    void run(const std::function<void(Server &)> &function);
    bool listenOn(const Address &address);
    void refreshUrls();

    QThread *m_thread;
    Server *m_server = nullptr;
    mutable QMutex m_mutex;
    QList<QUrl> m_urls;
    QList<Address> m_addresses;
    QString m_errorString;
};

} // namespace sluice

#endif // SLUICE_SERVERTHREAD_H
