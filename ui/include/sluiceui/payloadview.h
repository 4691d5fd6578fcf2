#ifndef SLUICEUI_PAYLOADVIEW_H
#define SLUICEUI_PAYLOADVIEW_H

#include <sluice/monitorevent.h>

#include <QtWidgets/QWidget>

QT_BEGIN_NAMESPACE
class QLabel;
class QPlainTextEdit;
class QStandardItemModel;
class QTabWidget;
class QTreeView;
QT_END_NAMESPACE

namespace sluice {

// The traffic view's detail pane: one monitor event (a row of a
// TrafficModel) in three tabs.
// - Text: the payload as UTF-8; for HTTP exchanges, WebSocket opens and
//   closes, what the event says (request, status, durations, bytes).
// - JSON: the payload parsed as JSON, as a Key/Value tree expanded two
//   levels deep; disabled (with a tooltip saying why) when the payload is
//   not JSON or is larger than MaxJsonBytes.
// - Hex: "00000000  48 65 6c ...  |Hel...|", 16 bytes a line, as hexdump -C
//   writes it; disabled for rows without a payload (HTTP, open, closed).
// Text and hex show at most MaxRenderBytes; the info label above the tabs
// says so when it cuts, and when the monitor kept only part of a message.
//
// The tab is picked for each event: JSON when the payload is a JSON object
// or array, Hex for binary messages, Text otherwise. Once the user picks a
// tab by hand, it stays picked whenever the new event enables it.
//
// Objects by name: "payloadInfo", "payloadTabs", "payloadText",
// "payloadJson", "payloadHex".
class PayloadView : public QWidget
{
    Q_OBJECT
public:
    enum Tab { TextTab, JsonTab, HexTab };
    Q_ENUM(Tab)

    static constexpr qsizetype MaxRenderBytes = 256 * 1024;
    static constexpr qsizetype MaxJsonBytes = 1024 * 1024;
    // Items in the JSON tree; past it a last item says how many were left out.
    static constexpr int MaxJsonItems = 10000;

    explicit PayloadView(QWidget *parent = nullptr);
    ~PayloadView() override;

    void setEvent(const sluice::MonitorEvent &event);
    void clear();

    // Whether an event is shown.
    bool hasEvent() const { return m_hasEvent; }
    sluice::MonitorEvent event() const { return m_event; }

    Tab currentTab() const;
    // -1 until the user picks a tab by hand.
    int userTab() const { return m_userTab; }

    // The hexdump -C lines of data (no final offset line), newline separated.
    static QString hexDump(const QByteArray &data);

private:
    void setCurrentTab(Tab tab);
    bool fillJson(const QByteArray &payload, bool *container, QString *why);

    QLabel *m_info = nullptr;
    QTabWidget *m_tabs = nullptr;
    QPlainTextEdit *m_text = nullptr;
    QTreeView *m_jsonView = nullptr;
    QStandardItemModel *m_json = nullptr;
    QPlainTextEdit *m_hex = nullptr;
    sluice::MonitorEvent m_event;
    bool m_hasEvent = false;
    int m_userTab = -1;
    bool m_settingTab = false;
};

} // namespace sluice

#endif // SLUICEUI_PAYLOADVIEW_H
