#include <sluiceui/payloadview.h>

#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLocale>
#include <QtGui/QFontDatabase>
#include <QtGui/QStandardItemModel>
#include <QtWidgets/QHeaderView>
#include <QtWidgets/QLabel>
#include <QtWidgets/QPlainTextEdit>
#include <QtWidgets/QTabWidget>
#include <QtWidgets/QTreeView>
#include <QtWidgets/QVBoxLayout>

namespace sluice {

namespace {

using Type = MonitorEvent::Type;
using Direction = MonitorEvent::Direction;
using Opcode = MonitorEvent::Opcode;

QString bytesText(qint64 bytes)
{
    return bytes == 1 ? PayloadView::tr("1 byte")
                      : PayloadView::tr("%1 bytes").arg(QLocale().toString(bytes));
}

QString millisecondsText(qint64 us)
{
    return PayloadView::tr("%1 ms").arg(QLocale().toString(double(us) / 1000.0, 'f', 3));
}

QString directionText(Direction direction)
{
    switch (direction) {
    case Direction::Incoming:
        return PayloadView::tr("incoming \u2193");
    case Direction::Outgoing:
        return PayloadView::tr("outgoing \u2191");
    case Direction::None:
        break;
    }
    return QString();
}

QString timeText(qint64 timeUs)
{
    return QDateTime::fromMSecsSinceEpoch(timeUs / 1000)
            .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss.zzz"));
}

QString peerText(const MonitorEvent &event)
{
    if (event.peerAddress.isNull())
        return QString();
    return QStringLiteral("%1:%2").arg(event.peerAddress.toString()).arg(event.peerPort);
}

// What an event without a payload says, one "Name: value" per line.
QString describe(const MonitorEvent &event)
{
    QStringList lines;
    const auto add = [&lines](const QString &name, const QString &value) {
        if (!value.isEmpty())
            lines.append(QStringLiteral("%1: %2").arg(name, value));
    };
    switch (event.type) {
    case Type::HttpExchange:
        lines.append(QStringLiteral("%1 %2").arg(QString::fromLatin1(event.method), event.target));
        add(PayloadView::tr("Status"), event.status ? QString::number(event.status) : QString());
        add(PayloadView::tr("Route"), event.route);
        add(PayloadView::tr("Duration"), millisecondsText(event.durationUs));
        add(PayloadView::tr("Received"), bytesText(event.bytesIn));
        add(PayloadView::tr("Sent"), bytesText(event.bytesOut));
        break;
    case Type::WebSocketOpened:
        lines.append(PayloadView::tr("WebSocket opened"));
        add(PayloadView::tr("Target"), event.target);
        add(PayloadView::tr("Route"), event.route);
        add(PayloadView::tr("Subprotocol"), event.reason);
        break;
    case Type::WebSocketClosed:
        lines.append(PayloadView::tr("WebSocket closed"));
        add(PayloadView::tr("Target"), event.target);
        add(PayloadView::tr("Close code"), QString::number(event.closeCode));
        add(PayloadView::tr("Reason"), event.reason);
        add(PayloadView::tr("Duration"), millisecondsText(event.durationUs));
        add(PayloadView::tr("Received"),
            PayloadView::tr("%1 messages, %2").arg(event.messagesIn).arg(bytesText(event.bytesIn)));
        add(PayloadView::tr("Sent"), PayloadView::tr("%1 messages, %2")
                                             .arg(event.messagesOut)
                                             .arg(bytesText(event.bytesOut)));
        break;
    default:
        lines.append(MonitorEvent::typeName(event.type));
        add(PayloadView::tr("Target"), event.target);
        add(PayloadView::tr("Reason"), event.reason);
        break;
    }
    add(PayloadView::tr("Connection"), QString::number(event.connectionId));
    add(PayloadView::tr("Peer"), peerText(event));
    if (event.timeUs)
        add(PayloadView::tr("Time"), timeText(event.timeUs));
    return lines.join(u'\n');
}

QString typeText(const MonitorEvent &event)
{
    switch (event.type) {
    case Type::HttpExchange:
        return QStringLiteral("HTTP");
    case Type::WebSocketOpened:
        return PayloadView::tr("open");
    case Type::WebSocketClosed:
        return PayloadView::tr("closed");
    case Type::WebSocketMessage:
        return MonitorEvent::opcodeName(event.opcode);
    default:
        return MonitorEvent::typeName(event.type);
    }
}

QString scalarText(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Null:
        return QStringLiteral("null");
    case QJsonValue::Bool:
        return value.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double: {
        // Integers as they were written, not as 1e+06.
        const double number = value.toDouble();
        const qint64 integer = value.toInteger();
        if (double(integer) == number)
            return QString::number(integer);
        // The shortest text that reads back as the same double: 20.9, not
        // 20.899999999999999.
        return QString::number(number, 'g', QLocale::FloatingPointShortest);
    }
    case QJsonValue::String:
        // Quoted, so the string "1" is told from the number 1.
        return QStringLiteral("\"%1\"").arg(value.toString());
    case QJsonValue::Array:
        return QStringLiteral("[%1]").arg(value.toArray().size());
    case QJsonValue::Object:
        return QStringLiteral("{%1}").arg(value.toObject().size());
    case QJsonValue::Undefined:
        break;
    }
    return QString();
}

// Depth first, with a budget of items so that a huge document (a 1 MiB array
// of small numbers) cannot freeze the window.
class JsonTreeBuilder
{
public:
    explicit JsonTreeBuilder(int budget)
        : m_budget(budget)
    { }

    void addChildren(QStandardItem *parent, const QJsonValue &value)
    {
        if (value.isObject()) {
            const QJsonObject object = value.toObject();
            for (auto it = object.constBegin(); it != object.constEnd(); ++it) {
                if (!add(parent, it.key(), it.value()))
                    return;
            }
        } else if (value.isArray()) {
            const QJsonArray array = value.toArray();
            for (qsizetype i = 0; i < array.size(); ++i) {
                if (!add(parent, QString::number(i), array.at(i)))
                    return;
            }
        }
    }

    bool add(QStandardItem *parent, const QString &key, const QJsonValue &value)
    {
        if (m_budget <= 0) {
            if (!m_cut) {
                m_cut = true;
                auto *more = new QStandardItem(PayloadView::tr("…"));
                parent->appendRow(
                        {more, new QStandardItem(PayloadView::tr("more items not shown"))});
            }
            return false;
        }
        --m_budget;
        auto *keyItem = new QStandardItem(key);
        auto *valueItem = new QStandardItem(scalarText(value));
        keyItem->setEditable(false);
        valueItem->setEditable(false);
        parent->appendRow({keyItem, valueItem});
        addChildren(keyItem, value);
        return !m_cut;
    }

private:
    int m_budget;
    bool m_cut = false;
};

bool isMessage(const MonitorEvent &event)
{
    return event.type == Type::WebSocketMessage;
}

} // namespace

PayloadView::PayloadView(QWidget *parent)
    : QWidget(parent)
{
    m_info = new QLabel;
    m_info->setObjectName(QStringLiteral("payloadInfo"));
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_info->setTextFormat(Qt::PlainText);

    m_text = new QPlainTextEdit;
    m_text->setObjectName(QStringLiteral("payloadText"));
    m_text->setReadOnly(true);
    m_text->setUndoRedoEnabled(false);

    m_json = new QStandardItemModel(this);
    m_jsonView = new QTreeView;
    m_jsonView->setObjectName(QStringLiteral("payloadJson"));
    m_jsonView->setModel(m_json);
    m_jsonView->setUniformRowHeights(true);
    m_jsonView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_jsonView->header()->setStretchLastSection(true);

    m_hex = new QPlainTextEdit;
    m_hex->setObjectName(QStringLiteral("payloadHex"));
    m_hex->setReadOnly(true);
    m_hex->setUndoRedoEnabled(false);
    m_hex->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_hex->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));

    m_tabs = new QTabWidget;
    m_tabs->setObjectName(QStringLiteral("payloadTabs"));
    m_tabs->setDocumentMode(true);
    m_tabs->insertTab(TextTab, m_text, tr("Text"));
    m_tabs->insertTab(JsonTab, m_jsonView, tr("JSON"));
    m_tabs->insertTab(HexTab, m_hex, tr("Hex"));
    connect(m_tabs, &QTabWidget::currentChanged, this, [this](int index) {
        if (!m_settingTab)
            m_userTab = index;
    });

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_info);
    layout->addWidget(m_tabs, 1);

    clear();
}

PayloadView::~PayloadView() = default;

PayloadView::Tab PayloadView::currentTab() const
{
    return Tab(m_tabs->currentIndex());
}

void PayloadView::setCurrentTab(Tab tab)
{
    m_settingTab = true;
    m_tabs->setCurrentIndex(tab);
    m_settingTab = false;
}

void PayloadView::clear()
{
    m_hasEvent = false;
    m_event = MonitorEvent();
    // Disabling the current tab makes QTabWidget pick another: not the user's pick.
    m_settingTab = true;
    m_info->setText(tr("No row selected"));
    m_text->clear();
    m_json->clear();
    m_hex->clear();
    m_tabs->setTabEnabled(JsonTab, false);
    m_tabs->setTabToolTip(JsonTab, QString());
    m_tabs->setTabEnabled(HexTab, false);
    m_tabs->setCurrentIndex(TextTab);
    m_settingTab = false;
}

void PayloadView::setEvent(const MonitorEvent &event)
{
    m_event = event;
    m_hasEvent = true;
    m_settingTab = true;

    const bool message = isMessage(event);
    const QByteArray &payload = event.payload;
    const bool cut = message && payload.size() > MaxRenderBytes;
    const QByteArray shown = cut ? payload.left(MaxRenderBytes) : payload;

    QStringList info;
    info.append(typeText(event));
    if (event.direction != Direction::None)
        info.append(directionText(event.direction));
    if (message)
        info.append(bytesText(event.size));
    else if (event.type == Type::HttpExchange)
        info.append(tr("%1 sent").arg(bytesText(event.bytesOut)));
    info.append(tr("connection %1").arg(event.connectionId));
    if (message && payload.size() < event.size) {
        info.append(
                tr("truncated: showing %1 of %2 bytes")
                        .arg(QLocale().toString(payload.size()), QLocale().toString(event.size)));
    }
    if (cut)
        info.append(tr("display cut to the first %1 KiB").arg(MaxRenderBytes / 1024));
    m_info->setText(info.join(QStringLiteral(" \u00b7 ")));

    m_text->setPlainText(message ? QString::fromUtf8(shown) : describe(event));

    bool container = false;
    QString why;
    const bool json = message && fillJson(payload, &container, &why);
    if (!json) {
        m_json->clear();
        if (!message)
            why = tr("This row has no payload");
        else if (payload.size() < event.size)
            why = tr("%1 (the monitor kept only the first %2 of %3 bytes)")
                          .arg(why, QLocale().toString(payload.size()),
                               QLocale().toString(event.size));
    }
    m_tabs->setTabEnabled(JsonTab, json);
    m_tabs->setTabToolTip(JsonTab, json ? QString() : why);

    m_hex->setPlainText(message ? hexDump(shown) : QString());
    m_tabs->setTabEnabled(HexTab, message);

    Tab tab = TextTab;
    if (json && container)
        tab = JsonTab;
    else if (message && event.opcode == Opcode::Binary)
        tab = HexTab;
    if (m_userTab >= 0 && m_tabs->isTabEnabled(m_userTab))
        tab = Tab(m_userTab);
    m_tabs->setCurrentIndex(tab);
    m_settingTab = false;
}

bool PayloadView::fillJson(const QByteArray &payload, bool *container, QString *why)
{
    if (payload.size() > MaxJsonBytes) {
        *why = tr("Not parsed as JSON: larger than %1 MiB").arg(MaxJsonBytes / (1024 * 1024));
        return false;
    }
    const QByteArray trimmed = payload.trimmed();
    if (trimmed.isEmpty()) {
        *why = tr("Not JSON: empty");
        return false;
    }
    QJsonParseError error;
    QJsonValue root;
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
        const QJsonDocument document = QJsonDocument::fromJson(trimmed, &error);
        if (error.error != QJsonParseError::NoError) {
            *why = tr("Not JSON: %1 at offset %2").arg(error.errorString()).arg(error.offset);
            return false;
        }
        root = document.isObject() ? QJsonValue(document.object()) : QJsonValue(document.array());
        *container = true;
    } else {
        // A lone scalar is JSON too (RFC 8259); QJsonDocument holds only
        // objects and arrays, so parse it as the one item of an array.
        const QJsonDocument document = QJsonDocument::fromJson('[' + trimmed + ']', &error);
        if (error.error != QJsonParseError::NoError || document.array().size() != 1) {
            *why = error.error != QJsonParseError::NoError
                           ? tr("Not JSON: %1").arg(error.errorString())
                           : tr("Not JSON: more than one value");
            return false;
        }
        root = document.array().at(0);
        *container = false;
    }

    m_json->clear();
    m_json->setHorizontalHeaderLabels({tr("Key"), tr("Value")});
    JsonTreeBuilder builder(MaxJsonItems);
    if (*container)
        builder.addChildren(m_json->invisibleRootItem(), root);
    else
        builder.add(m_json->invisibleRootItem(), QString(), root);
    // Depth 0 and 1 expanded: the top level's children and grandchildren show.
    m_jsonView->expandToDepth(1);
    return true;
}

QString PayloadView::hexDump(const QByteArray &data)
{
    static constexpr char digits[] = "0123456789abcdef";
    static constexpr int LineLength = 78; // 8 + 2 + 16 * 3 + 1 + 2 + 16 + 1
    QByteArray out;
    out.reserve((data.size() + 15) / 16 * (LineLength + 1));
    const auto *bytes = reinterpret_cast<const uchar *>(data.constData());
    for (qsizetype offset = 0; offset < data.size(); offset += 16) {
        if (offset)
            out.append('\n');
        const qsizetype count = qMin<qsizetype>(16, data.size() - offset);
        for (int shift = 28; shift >= 0; shift -= 4)
            out.append(digits[(offset >> shift) & 0xf]);
        out.append("  ", 2);
        for (qsizetype i = 0; i < 16; ++i) {
            if (i == 8)
                out.append(' ');
            if (i < count) {
                const uchar byte = bytes[offset + i];
                out.append(digits[byte >> 4]);
                out.append(digits[byte & 0xf]);
                out.append(' ');
            } else {
                out.append("   ", 3);
            }
        }
        out.append(" |", 2);
        for (qsizetype i = 0; i < count; ++i) {
            const uchar byte = bytes[offset + i];
            out.append(byte >= 0x20 && byte < 0x7f ? char(byte) : '.');
        }
        out.append('|');
    }
    return QString::fromLatin1(out);
}

} // namespace sluice
