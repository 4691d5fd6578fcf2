#include <sluiceui/connectionsview.h>

#include <sluiceui/connectionmodel.h>

#include <sluice/server.h>

#include <QtCore/QDataStream>
#include <QtCore/QIODevice>
#include <QtCore/QLocale>
#include <QtCore/QSortFilterProxyModel>
#include <QtGui/QAction>
#include <QtWidgets/QButtonGroup>
#include <QtWidgets/QComboBox>
#include <QtWidgets/QDialog>
#include <QtWidgets/QDialogButtonBox>
#include <QtWidgets/QFormLayout>
#include <QtWidgets/QHBoxLayout>
#include <QtWidgets/QHeaderView>
#include <QtWidgets/QLabel>
#include <QtWidgets/QLineEdit>
#include <QtWidgets/QPlainTextEdit>
#include <QtWidgets/QPushButton>
#include <QtWidgets/QRadioButton>
#include <QtWidgets/QSpinBox>
#include <QtWidgets/QTableView>
#include <QtWidgets/QToolButton>
#include <QtWidgets/QVBoxLayout>

namespace sluice {

namespace {

constexpr quint32 StateMagic = 0x534c4356; // "SLCV"
constexpr quint8 StateVersion = 1;

bool isHexDigit(QChar c)
{
    return (c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f') || (c >= u'A' && c <= u'F');
}

// Hex digits with any whitespace between them; an error text otherwise.
QByteArray parseHex(const QString &text, QString *error)
{
    QString digits;
    digits.reserve(text.size());
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        if (c.isSpace())
            continue;
        if (!isHexDigit(c)) {
            *error = ConnectionsView::tr("Not a hex digit: '%1' at position %2").arg(c).arg(i + 1);
            return QByteArray();
        }
        digits.append(c);
    }
    if (digits.size() % 2 != 0) {
        *error = ConnectionsView::tr("Odd number of hex digits: each byte takes two");
        return QByteArray();
    }
    error->clear();
    return QByteArray::fromHex(digits.toLatin1());
}

QString describeBytes(qint64 bytes)
{
    return bytes == 1 ? ConnectionsView::tr("1 byte")
                      : ConnectionsView::tr("%1 bytes").arg(QLocale().toString(bytes));
}

} // namespace

ConnectionsView::ConnectionsView(ConnectionModel *model, Server *server, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_server(server)
{
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(model);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_proxy->setSortRole(ConnectionModel::SortRole);
    m_proxy->setDynamicSortFilter(true);

    m_filter = new QLineEdit(this);
    m_filter->setObjectName(QStringLiteral("connectionFilter"));
    m_filter->setPlaceholderText(tr("Filter connections"));
    m_filter->setClearButtonEnabled(true);
    m_filter->setToolTip(tr("Show only the connections with this text in any column"));

    m_table = new QTableView(this);
    m_table->setObjectName(QStringLiteral("connectionTable"));
    // In single selection, QAbstractItemView moves the selection to a
    // neighbour when the selected row goes: a Close or Ping would then hit a
    // connection the user never chose. Connected before setModel() so it
    // runs first and the view finds no current row to move.
    connect(m_proxy, &QAbstractItemModel::rowsAboutToBeRemoved, this,
            [this](const QModelIndex &parent, int first, int last) {
                QItemSelectionModel *selection = m_table->selectionModel();
                const QModelIndex current = selection ? selection->currentIndex() : QModelIndex();
                if (!parent.isValid() && current.isValid() && current.row() >= first
                    && current.row() <= last) {
                    selection->clearSelection();
                    selection->setCurrentIndex(QModelIndex(), QItemSelectionModel::NoUpdate);
                }
            });
    m_table->setModel(m_proxy);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setWordWrap(false);
    m_table->setAlternatingRowColors(true);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(ConnectionModel::IdColumn, Qt::AscendingOrder);
    QHeaderView *rows = m_table->verticalHeader();
    rows->hide();
    rows->setSectionResizeMode(QHeaderView::Fixed);
    rows->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    QHeaderView *header = m_table->horizontalHeader();
    header->setSectionsMovable(true);
    header->setStretchLastSection(true);
    header->setHighlightSections(false);
    // Widths from the font once, never from the rows.
    const QFontMetrics metrics = m_table->fontMetrics();
    const auto widthFor = [&metrics](const char *sample) {
        return metrics.horizontalAdvance(QLatin1String(sample)) + 24;
    };
    const char *samples[ConnectionModel::ColumnCount] = {"000000",
                                                         "127.000.000.001:00000",
                                                         "ws:/route/of/some/length",
                                                         "WebSocket",
                                                         "protocol",
                                                         "00:00:00",
                                                         "00:00:00",
                                                         "0000000",
                                                         "0000000",
                                                         "000.00 KiB",
                                                         "000.00 KiB",
                                                         "closing (1000)"};
    for (int column = 0; column < ConnectionModel::ColumnCount; ++column) {
        const QString title = model->headerData(column, Qt::Horizontal).toString();
        header->resizeSection(
                column, qMax(widthFor(samples[column]), metrics.horizontalAdvance(title) + 32));
    }

    m_count = new QLabel(this);
    m_count->setObjectName(QStringLiteral("connectionCount"));
    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("connectionStatus"));
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    const auto makeAction
            = [this](const QString &text, const QString &name, const QString &toolTip) {
                  auto *action = new QAction(text, this);
                  action->setObjectName(name + QStringLiteral("Action"));
                  action->setToolTip(toolTip);
                  m_table->addAction(action);
                  auto *button = new QToolButton(this);
                  button->setObjectName(name);
                  button->setDefaultAction(action);
                  button->setToolButtonStyle(Qt::ToolButtonTextOnly);
                  return std::make_pair(action, button);
              };
    auto [closeAction, closeButton] = makeAction(
            tr("Close…"), QStringLiteral("connectionClose"),
            tr("Close the selected connection (a WebSocket with a code and a reason)"));
    auto [sendAction, sendButton]
            = makeAction(tr("Send…"), QStringLiteral("connectionSend"),
                         tr("Send a text or binary message to the selected WebSocket"));
    auto [pingAction, pingButton] = makeAction(tr("Ping"), QStringLiteral("connectionPing"),
                                               tr("Send a ping to the selected WebSocket"));
    auto [trafficAction, trafficButton]
            = makeAction(tr("Show traffic"), QStringLiteral("connectionTraffic"),
                         tr("Show the traffic of the selected connection"));
    m_closeAction = closeAction;
    m_sendAction = sendAction;
    m_pingAction = pingAction;
    m_trafficAction = trafficAction;
    m_table->setContextMenuPolicy(Qt::ActionsContextMenu);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_filter, 1);
    bar->addWidget(closeButton);
    bar->addWidget(sendButton);
    bar->addWidget(pingButton);
    bar->addWidget(trafficButton);
    auto *statusBar = new QHBoxLayout;
    statusBar->addWidget(m_count);
    statusBar->addStretch(1);
    statusBar->addWidget(m_status);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_table, 1);
    layout->addLayout(statusBar);

    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString &text) {
        m_proxy->setFilterFixedString(text);
        updateCount();
    });
    connect(m_closeAction, &QAction::triggered, this, &ConnectionsView::closeSelected);
    connect(m_sendAction, &QAction::triggered, this, &ConnectionsView::sendToSelected);
    connect(m_pingAction, &QAction::triggered, this, &ConnectionsView::pingSelected);
    connect(m_trafficAction, &QAction::triggered, this, [this] {
        if (const quint64 id = selectedConnection())
            Q_EMIT trafficRequested(id);
    });
    connect(m_table, &QTableView::doubleClicked, this, [this](const QModelIndex &index) {
        if (const quint64 id = index.data(ConnectionModel::ConnectionIdRole).toULongLong())
            Q_EMIT trafficRequested(id);
    });

    // All O(1): a row's kind can change under the selection (the handshake of
    // a connection that was Unknown), and the selected row can go away.
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &ConnectionsView::updateActions);
    connect(m_proxy, &QAbstractItemModel::dataChanged, this, &ConnectionsView::updateActions);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &ConnectionsView::updateActions);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, &ConnectionsView::updateActions);
    connect(m_proxy, &QAbstractItemModel::layoutChanged, this, &ConnectionsView::updateActions);
    // The hidden count changes without rows moving: every model signal
    // refreshes the label (one setText at most).
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, &ConnectionsView::updateCount);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &ConnectionsView::updateCount);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, &ConnectionsView::updateCount);
    connect(model, &QAbstractItemModel::dataChanged, this, &ConnectionsView::updateCount);
    connect(model, &QAbstractItemModel::rowsInserted, this, &ConnectionsView::updateCount);
    connect(model, &QAbstractItemModel::rowsRemoved, this, &ConnectionsView::updateCount);
    connect(model, &ConnectionModel::droppedCountChanged, this, &ConnectionsView::updateCount);

    updateActions();
    updateCount();
}

ConnectionsView::~ConnectionsView() = default;

quint64 ConnectionsView::selectedConnection() const
{
    const QModelIndexList selected = m_table->selectionModel()->selectedRows();
    if (selected.isEmpty())
        return 0;
    return selected.first().data(ConnectionModel::ConnectionIdRole).toULongLong();
}

void ConnectionsView::selectConnection(quint64 id)
{
    const int row = m_model->rowOf(id);
    const QModelIndex index
            = row < 0 ? QModelIndex() : m_proxy->mapFromSource(m_model->index(row, 0));
    if (!index.isValid()) {
        m_table->selectionModel()->clearSelection();
        return;
    }
    m_table->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect
                                                              | QItemSelectionModel::Rows);
    m_table->scrollTo(index);
}

bool ConnectionsView::isSendableCloseCode(int code)
{
    if (code < 1000 || code > 4999)
        return false;
    if (code == 1004 || code == 1005 || code == 1006 || code == 1015)
        return false;
    return code < 1016 || code >= 3000;
}

QByteArray ConnectionsView::saveState() const
{
    QByteArray state;
    QDataStream stream(&state, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_4);
    const QHeaderView *header = m_table->horizontalHeader();
    stream << StateMagic << StateVersion << header->saveState()
           << qint32(header->sortIndicatorSection()) << qint32(header->sortIndicatorOrder());
    return state;
}

bool ConnectionsView::restoreState(const QByteArray &state)
{
    QDataStream stream(state);
    stream.setVersion(QDataStream::Qt_6_4);
    quint32 magic = 0;
    quint8 version = 0;
    QByteArray headerState;
    qint32 sortColumn = -2;
    qint32 sortOrder = -1;
    stream >> magic >> version >> headerState >> sortColumn >> sortOrder;
    if (stream.status() != QDataStream::Ok || magic != StateMagic || version != StateVersion
        || !stream.atEnd())
        return false;
    if (sortColumn < -1 || sortColumn >= ConnectionModel::ColumnCount
        || (sortOrder != Qt::AscendingOrder && sortOrder != Qt::DescendingOrder))
        return false;
    // QHeaderView checks the blob before it applies any of it.
    if (!m_table->horizontalHeader()->restoreState(headerState))
        return false;
    m_table->sortByColumn(sortColumn, Qt::SortOrder(sortOrder));
    return true;
}

int ConnectionsView::selectedKind() const
{
    const QModelIndexList selected = m_table->selectionModel()->selectedRows();
    if (selected.isEmpty())
        return -1;
    return selected.first().data(ConnectionModel::KindRole).toInt();
}

void ConnectionsView::updateActions()
{
    const int kind = selectedKind();
    const bool selected = kind >= 0;
    const bool webSocket = kind == int(ConnectionModel::Kind::WebSocket);
    const bool server = m_server != nullptr;
    m_closeAction->setEnabled(server && selected);
    m_sendAction->setEnabled(server && webSocket);
    m_pingAction->setEnabled(server && webSocket);
    m_trafficAction->setEnabled(selected);
}

void ConnectionsView::updateCount()
{
    const QLocale locale;
    QString text = tr("%1 live").arg(locale.toString(m_model->connectionCount()));
    if (const int hidden = m_model->hiddenCount())
        text += u' ' + tr("+%1 not shown").arg(locale.toString(hidden));
    if (!m_filter->text().isEmpty())
        text += u' ' + tr("(%1 match the filter)").arg(locale.toString(m_proxy->rowCount()));
    if (m_count->text() != text)
        m_count->setText(text);
}

void ConnectionsView::setStatus(const QString &text)
{
    m_status->setText(text);
}

void ConnectionsView::closeSelected()
{
    const quint64 id = selectedConnection();
    if (!id || !m_server || !m_closeAction->isEnabled())
        return;
    if (m_closeDialog) {
        m_closeDialog->raise();
        m_closeDialog->activateWindow();
        return;
    }
    m_closeDialog = createCloseDialog(id);
    m_closeDialog->open();
}

void ConnectionsView::sendToSelected()
{
    const quint64 id = selectedConnection();
    if (!id || !m_server || !m_sendAction->isEnabled())
        return;
    if (m_sendDialog) {
        m_sendDialog->raise();
        m_sendDialog->activateWindow();
        return;
    }
    m_sendDialog = createSendDialog(id);
    m_sendDialog->open();
}

void ConnectionsView::pingSelected()
{
    const quint64 id = selectedConnection();
    if (!id || !m_server || !m_pingAction->isEnabled())
        return;
    m_server->ping(id);
    setStatus(tr("ping sent to #%1").arg(id));
}

QDialog *ConnectionsView::createCloseDialog(quint64 id)
{
    const bool webSocket = selectedKind() == int(ConnectionModel::Kind::WebSocket);
    auto *dialog = new QDialog(this);
    dialog->setObjectName(QStringLiteral("closeDialog"));
    dialog->setWindowTitle(tr("Close connection #%1").arg(id));

    auto *intro = new QLabel(
            webSocket ? tr("Close WebSocket #%1 with this code and reason.").arg(id)
                      : tr("Close HTTP connection #%1 once the response in flight (if any) "
                           "is sent.")
                                .arg(id),
            dialog);
    intro->setWordWrap(true);

    auto *preset = new QComboBox(dialog);
    preset->setObjectName(QStringLiteral("closeCodePreset"));
    const std::pair<int, QString> presets[] = {
            {1000, tr("Normal closure")}, {1001, tr("Going away")},  {1008, tr("Policy violation")},
            {1011, tr("Internal error")}, {4000, tr("Application")},
    };
    for (const auto &[code, name] : presets)
        preset->addItem(QStringLiteral("%1 %2").arg(code).arg(name), code);

    auto *code = new QSpinBox(dialog);
    code->setObjectName(QStringLiteral("closeCode"));
    code->setRange(1000, 4999);
    code->setValue(1000);
    auto *codeError = new QLabel(dialog);
    codeError->setObjectName(QStringLiteral("closeCodeError"));
    codeError->setWordWrap(true);
    codeError->hide();

    auto *reason = new QLineEdit(dialog);
    reason->setObjectName(QStringLiteral("closeReason"));
    reason->setPlaceholderText(tr("Optional, at most %1 bytes in UTF-8").arg(MaxCloseReasonBytes));
    auto *reasonError = new QLabel(dialog);
    reasonError->setObjectName(QStringLiteral("closeReasonError"));
    reasonError->setWordWrap(true);
    reasonError->hide();

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, dialog);
    QPushButton *ok = buttons->button(QDialogButtonBox::Ok);
    ok->setText(tr("Close connection"));

    auto *form = new QFormLayout;
    form->addRow(tr("Common codes:"), preset);
    form->addRow(tr("Code:"), code);
    form->addRow(QString(), codeError);
    form->addRow(tr("Reason:"), reason);
    form->addRow(QString(), reasonError);
    auto *layout = new QVBoxLayout(dialog);
    layout->addWidget(intro);
    layout->addLayout(form);
    layout->addWidget(buttons);
    if (!webSocket) {
        preset->setEnabled(false);
        code->setEnabled(false);
        reason->setEnabled(false);
    }

    const auto validate = [=] {
        const int value = code->value();
        const int presetIndex = preset->findData(value);
        if (preset->currentIndex() != presetIndex)
            preset->setCurrentIndex(presetIndex);
        bool valid = true;
        if (!webSocket) {
            codeError->hide();
            reasonError->hide();
            ok->setEnabled(true);
            return;
        }
        if (!isSendableCloseCode(value)) {
            valid = false;
            codeError->setText(value >= 1016 && value <= 2999
                                       ? tr("1016–2999 are reserved for the WebSocket protocol "
                                            "and cannot be sent.")
                                       : tr("%1 is reserved for reporting (RFC 6455 §7.4.1): "
                                            "it never goes on the wire.")
                                                 .arg(value));
            codeError->show();
        } else {
            codeError->hide();
        }
        const qsizetype bytes = reason->text().toUtf8().size();
        if (bytes > MaxCloseReasonBytes) {
            valid = false;
            reasonError->setText(tr("The reason takes %1 bytes in UTF-8; a close frame has room "
                                    "for %2.")
                                         .arg(bytes)
                                         .arg(MaxCloseReasonBytes));
            reasonError->show();
        } else {
            reasonError->hide();
        }
        ok->setEnabled(valid);
    };
    connect(preset, &QComboBox::activated, dialog, [preset, code](int index) {
        if (index >= 0)
            code->setValue(preset->itemData(index).toInt());
    });
    connect(code, &QSpinBox::valueChanged, dialog, validate);
    connect(reason, &QLineEdit::textChanged, dialog, validate);
    connect(buttons, &QDialogButtonBox::accepted, dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    connect(dialog, &QDialog::accepted, this, [this, dialog, code, reason, id, webSocket] {
        // Enter in a field accepts too, past a disabled OK.
        if (!dialog->findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok)->isEnabled())
            return;
        if (!m_server) {
            setStatus(tr("no server: #%1 not closed").arg(id));
            return;
        }
        if (webSocket) {
            m_server->closeConnection(id, code->value(), reason->text());
            setStatus(tr("close %1 sent to #%2").arg(code->value()).arg(id));
        } else {
            m_server->closeConnection(id);
            setStatus(tr("#%1 closes after its response").arg(id));
        }
    });
    connect(dialog, &QDialog::finished, dialog, &QObject::deleteLater);
    validate();
    return dialog;
}

QDialog *ConnectionsView::createSendDialog(quint64 id)
{
    auto *dialog = new QDialog(this);
    dialog->setObjectName(QStringLiteral("sendDialog"));
    dialog->setWindowTitle(tr("Send to #%1").arg(id));

    auto *text = new QRadioButton(tr("Text"), dialog);
    text->setObjectName(QStringLiteral("sendText"));
    text->setChecked(true);
    auto *binary = new QRadioButton(tr("Binary (hex)"), dialog);
    binary->setObjectName(QStringLiteral("sendBinary"));
    auto *kinds = new QButtonGroup(dialog);
    kinds->addButton(text);
    kinds->addButton(binary);

    auto *payload = new QPlainTextEdit(dialog);
    payload->setObjectName(QStringLiteral("sendPayload"));
    payload->setTabChangesFocus(true);
    auto *size = new QLabel(dialog);
    size->setObjectName(QStringLiteral("sendPayloadSize"));
    auto *error = new QLabel(dialog);
    error->setObjectName(QStringLiteral("sendPayloadError"));
    error->setWordWrap(true);
    error->hide();

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, dialog);
    QPushButton *ok = buttons->button(QDialogButtonBox::Ok);
    ok->setText(tr("Send"));

    auto *kindRow = new QHBoxLayout;
    kindRow->addWidget(text);
    kindRow->addWidget(binary);
    kindRow->addStretch(1);
    auto *layout = new QVBoxLayout(dialog);
    layout->addWidget(new QLabel(tr("Send a message to WebSocket #%1:").arg(id), dialog));
    layout->addLayout(kindRow);
    layout->addWidget(payload, 1);
    layout->addWidget(size);
    layout->addWidget(error);
    layout->addWidget(buttons);

    const auto validate = [=] {
        payload->setPlaceholderText(binary->isChecked() ? tr("Hex bytes, e.g. 00 ff 10")
                                                        : tr("Text, sent as UTF-8"));
        QString problem;
        qint64 bytes = 0;
        const QString content = payload->toPlainText();
        if (binary->isChecked()) {
            // Two digits a byte at least: longer text is too much already.
            if (content.size() > 3 * qsizetype(MaxSendBytes) + 1024) {
                bytes = content.size() / 2;
            } else {
                bytes = parseHex(content, &problem).size();
            }
        } else {
            bytes = content.toUtf8().size();
        }
        if (problem.isEmpty() && bytes > MaxSendBytes) {
            problem = tr("%1 is more than a message may take here (%2).")
                              .arg(describeBytes(bytes), describeBytes(MaxSendBytes));
        }
        size->setText(problem.isEmpty() ? describeBytes(bytes) : QString());
        error->setText(problem);
        error->setVisible(!problem.isEmpty());
        ok->setEnabled(problem.isEmpty());
    };
    connect(payload, &QPlainTextEdit::textChanged, dialog, validate);
    connect(binary, &QRadioButton::toggled, dialog, validate);
    connect(buttons, &QDialogButtonBox::accepted, dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    connect(dialog, &QDialog::accepted, this, [this, ok, binary, payload, id] {
        if (!ok->isEnabled())
            return;
        if (!m_server) {
            setStatus(tr("no server: nothing sent to #%1").arg(id));
            return;
        }
        if (binary->isChecked()) {
            QString problem;
            const QByteArray bytes = parseHex(payload->toPlainText(), &problem);
            m_server->sendBinary(id, bytes);
            setStatus(tr("%1 sent to #%2").arg(describeBytes(bytes.size())).arg(id));
        } else {
            const QString message = payload->toPlainText();
            m_server->sendText(id, message);
            setStatus(tr("%1 of text sent to #%2")
                              .arg(describeBytes(message.toUtf8().size()))
                              .arg(id));
        }
    });
    connect(dialog, &QDialog::finished, dialog, &QObject::deleteLater);
    validate();
    return dialog;
}

} // namespace sluice
