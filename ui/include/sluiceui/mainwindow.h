#ifndef SLUICEUI_MAINWINDOW_H
#define SLUICEUI_MAINWINDOW_H

#include <QtWidgets/QMainWindow>

QT_BEGIN_NAMESPACE
class QLabel;
QT_END_NAMESPACE

namespace sluice {

class Server;

// The desktop face of a running server: where it listens and how many
// connections it has. The full monitor (routes, traffic, stats) grows here.
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(Server *server, QWidget *parent = nullptr);

    // Re-reads the listening addresses (after the server started or stopped).
    void refresh();

private:
    void updateConnections();

    Server *m_server;
    QLabel *m_addresses;
    QLabel *m_connections;
};

} // namespace sluice

#endif // SLUICEUI_MAINWINDOW_H
