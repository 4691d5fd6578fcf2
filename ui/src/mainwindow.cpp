#include <sluiceui/mainwindow.h>

#include <sluice/server.h>

#include <QtWidgets/QFormLayout>
#include <QtWidgets/QLabel>

namespace sluice {

MainWindow::MainWindow(Server *server, QWidget *parent)
    : QMainWindow(parent)
    , m_server(server)
    , m_addresses(new QLabel(this))
    , m_connections(new QLabel(this))
{
    setWindowTitle(tr("Sluice"));
    m_addresses->setObjectName(QStringLiteral("addresses"));
    m_addresses->setTextFormat(Qt::RichText);
    m_addresses->setOpenExternalLinks(true);
    m_addresses->setTextInteractionFlags(Qt::TextBrowserInteraction);
    m_connections->setObjectName(QStringLiteral("connections"));

    auto *central = new QWidget(this);
    auto *layout = new QFormLayout(central);
    layout->addRow(tr("Listening on:"), m_addresses);
    layout->addRow(tr("Connections:"), m_connections);
    setCentralWidget(central);

    connect(server, &Server::connectionOpened, this, &MainWindow::updateConnections);
    connect(server, &Server::connectionClosed, this, &MainWindow::updateConnections);
    refresh();
    resize(480, 160);
}

void MainWindow::refresh()
{
    QStringList links;
    for (const QUrl &url : m_server->urls()) {
        const QString text = url.toString().toHtmlEscaped();
        links.append(QStringLiteral("<a href=\"%1\">%1</a>").arg(text));
    }
    m_addresses->setText(links.isEmpty() ? tr("not listening")
                                         : links.join(QStringLiteral("<br>")));
    updateConnections();
}

void MainWindow::updateConnections()
{
    m_connections->setText(QString::number(m_server->connectionCount()));
}

} // namespace sluice
