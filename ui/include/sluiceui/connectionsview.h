#ifndef SLUICEUI_CONNECTIONSVIEW_H
#define SLUICEUI_CONNECTIONSVIEW_H

#include <QtCore/QByteArray>
#include <QtCore/QPointer>
#include <QtWidgets/QWidget>

QT_BEGIN_NAMESPACE
class QAction;
class QDialog;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
class QToolButton;
QT_END_NAMESPACE

namespace sluice {

class ConnectionModel;
class Server;

// The Connections tab: the live connections of a ConnectionModel in a
// sortable table with a text filter over every column, and actions on the
// selected one, on the toolbar and in the table's context menu:
// - Close… (any connection: a WebSocket gets the close code and reason of
//   the dialog, an HTTP connection closes after the response in flight);
// - Send… a text message, or a binary one entered as hex (WebSocket only);
// - Ping with an empty payload (WebSocket only);
// - Show traffic (trafficRequested(), also on double click).
// Close, Send and Ping need a server; only Server's thread-safe members are
// called, so the server may live in another thread. The server must outlive
// the view.
//
// Dialogs are opened with QDialog::open() (window-modal, never exec()) as
// children of the view, and act on the connection that was selected when
// they opened.
//
// Objects by name: "connectionFilter", "connectionTable", "connectionCount"
// ("12 live", "+N not shown" while the model hides some past its cap),
// "connectionStatus" (what the last action did), the tool buttons
// "connectionClose", "connectionSend", "connectionPing", "connectionTraffic";
// the dialogs "closeDialog" ("closeCode", "closeCodePreset", "closeReason",
// "closeCodeError") and "sendDialog" ("sendText", "sendBinary",
// "sendPayload", "sendPayloadError").
class ConnectionsView : public QWidget
{
    Q_OBJECT
public:
    // The close frame's payload is 125 bytes, 2 of them the code.
    static constexpr int MaxCloseReasonBytes = 123;
    static constexpr int MaxSendBytes = 1024 * 1024;

    ConnectionsView(ConnectionModel *model, Server *server, QWidget *parent = nullptr);
    ~ConnectionsView() override;

    ConnectionModel *model() const { return m_model; }
    Server *server() const { return m_server; }
    QSortFilterProxyModel *proxyModel() const { return m_proxy; }
    QTableView *tableView() const { return m_table; }

    // 0 when nothing is selected.
    quint64 selectedConnection() const;
    // Selects the connection's row and scrolls to it; clears the selection
    // when the connection is not shown (unknown, or hidden by the filter).
    void selectConnection(quint64 id);

    // Whether RFC 6455 and Qt let an endpoint send this close code: 1000-4999
    // but 1004, 1005, 1006 and 1015 (never on the wire) and 1016-2999
    // (reserved for the protocol).
    static bool isSendableCloseCode(int code);

    // Header (section sizes, order, hidden sections) and sort column and
    // order; not the filter text.
    QByteArray saveState() const;
    bool restoreState(const QByteArray &state);

public Q_SLOTS:
    // Open the dialogs (or act, for ping) for the selected connection.
    void closeSelected();
    void sendToSelected();
    void pingSelected();

Q_SIGNALS:
    void trafficRequested(quint64 connectionId);

private:
    int selectedKind() const;
    void updateActions();
    void updateCount();
    void setStatus(const QString &text);
    QDialog *createCloseDialog(quint64 id);
    QDialog *createSendDialog(quint64 id);

    ConnectionModel *m_model;
    Server *m_server;
    QSortFilterProxyModel *m_proxy = nullptr;
    QTableView *m_table = nullptr;
    QLineEdit *m_filter = nullptr;
    QLabel *m_count = nullptr;
    QLabel *m_status = nullptr;
    QAction *m_closeAction = nullptr;
    QAction *m_sendAction = nullptr;
    QAction *m_pingAction = nullptr;
    QAction *m_trafficAction = nullptr;
    QPointer<QDialog> m_closeDialog;
    QPointer<QDialog> m_sendDialog;
};

} // namespace sluice

#endif // SLUICEUI_CONNECTIONSVIEW_H
