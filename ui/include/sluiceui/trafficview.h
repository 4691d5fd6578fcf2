#ifndef SLUICEUI_TRAFFICVIEW_H
#define SLUICEUI_TRAFFICVIEW_H

#include <QtCore/QByteArray>
#include <QtCore/QPersistentModelIndex>
#include <QtWidgets/QWidget>

QT_BEGIN_NAMESPACE
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QSplitter;
class QTableView;
class QTimer;
class QToolButton;
QT_END_NAMESPACE

namespace sluice {

class PayloadView;
class TrafficModel;

// The Traffic tab: a TrafficModel in a table, the selected row in a
// PayloadView below it, a filter bar and a toolbar.
//
// The filter bar drives the model's own filter (no proxy model): text or
// regex over the whole payload (applied 150 ms after the last keystroke),
// match case, direction, connection id, row type, hide control frames. An invalid
// regex marks the field and shows the model's filterError().
//
// Follow-tail: while the table is scrolled to the bottom (or has no
// scrollbar), new rows scroll it to the new bottom; once the user scrolls
// up it stays put, and when the oldest rows are dropped at the front it
// keeps the same first visible row if that row is still there. The
// selected row's detail stays as it is while rows come and go.
//
// The status labels are refreshed from the model's signals at most every
// StatusInterval ms, never per row.
//
// Objects by name: "trafficFilter", "trafficRegex", "trafficCase",
// "trafficDirection", "trafficConnection", "trafficType", "trafficHideControl",
// "trafficFilterError", "trafficPause", "trafficClear", "trafficExport",
// "trafficCount", "trafficDropped", "trafficMissed", "trafficTable",
// "trafficSplitter", "payloadView".
class TrafficView : public QWidget
{
    Q_OBJECT
public:
    enum class ExportFormat { JsonLines, Har };
    Q_ENUM(ExportFormat)

    static constexpr int FilterDelay = 150;
    static constexpr int StatusInterval = 100;

    explicit TrafficView(TrafficModel *model, QWidget *parent = nullptr);
    ~TrafficView() override;

    TrafficModel *model() const { return m_model; }
    QTableView *tableView() const { return m_table; }
    PayloadView *payloadView() const { return m_payload; }

    // Whether new rows scroll the table to the bottom.
    bool followsTail() const { return m_followTail; }

    // The visible rows, as the model exports them, written through QSaveFile:
    // a failed export leaves no file behind (nor a half-written one over an
    // old file). On failure *error names the file and says why.
    bool exportTo(const QString &fileName, ExportFormat format, QString *error = nullptr);

    // Header (section sizes and order), splitter sizes and the filter
    // options (regex, match case, direction, hide control frames); not the
    // filter text nor the connection. False, changing nothing, for a blob
    // that is not one of ours.
    QByteArray saveState() const;
    bool restoreState(const QByteArray &state);

public Q_SLOTS:
    // Shows only this connection's rows (fills "trafficConnection"); 0 shows all.
    void setConnectionFilter(quint64 id);

private:
    void applyTextFilter();
    void applyConnectionFilter();
    void updateFilterError();
    void scheduleStatus();
    void updateStatus();
    void showSelected();
    void exportWithDialog(ExportFormat format);

    void beginModelChange();
    void endModelChange();

    TrafficModel *m_model;
    QLineEdit *m_filter = nullptr;
    QCheckBox *m_regex = nullptr;
    QCheckBox *m_case = nullptr;
    QComboBox *m_direction = nullptr;
    QLineEdit *m_connection = nullptr;
    QComboBox *m_type = nullptr;
    QCheckBox *m_hideControl = nullptr;
    QLabel *m_filterError = nullptr;
    QToolButton *m_pause = nullptr;
    QToolButton *m_clear = nullptr;
    QToolButton *m_export = nullptr;
    QLabel *m_count = nullptr;
    QLabel *m_dropped = nullptr;
    QLabel *m_missed = nullptr;
    QTableView *m_table = nullptr;
    PayloadView *m_payload = nullptr;
    QSplitter *m_splitter = nullptr;
    QTimer *m_filterTimer = nullptr;
    QTimer *m_statusTimer = nullptr;

    bool m_followTail = true;
    // Set while the model changes rows, so that the scroll bar moving under
    // it is not taken for the user scrolling.
    int m_modelChanging = 0;
    // The first visible row before rows were removed at the front; -1 none.
    int m_topRow = -1;
    // The row the detail shows, while it is in the table.
    QPersistentModelIndex m_shown;
};

} // namespace sluice

#endif // SLUICEUI_TRAFFICVIEW_H
