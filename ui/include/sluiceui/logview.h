#ifndef SLUICEUI_LOGVIEW_H
#define SLUICEUI_LOGVIEW_H

#include <QtCore/QByteArray>
#include <QtCore/QMutex>
#include <QtCore/QStringList>
#include <QtCore/QTimer>
#include <QtWidgets/QWidget>

#include <deque>

QT_BEGIN_NAMESPACE
class QCheckBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QToolButton;
QT_END_NAMESPACE

namespace sluice {

// The log panel: the last maxLines() lines (default 5000) in a read-only,
// monospace text view, a filter (lines containing the text, case-insensitive),
// Clear and Follow (keep the newest line in view; on by default).
//
// appendLine() may be called from any thread, as often as one likes (a server
// thread, a Qt message handler): lines wait under a mutex in a pending list of
// at most maxLines() lines, and the GUI thread takes them all in one go at
// most every appendInterval() ms (default 100). Lines that fall out of the
// bound, while pending or from the view's own store, are counted in
// droppedCount(); so until clear(), lines appended = lines() + droppedCount()
// once flushed. The view must outlive the threads that call appendLine().
//
// Controls by objectName: "logText", "logFilter", "logClear", "logFollow",
// "logDropped" (shown once a line was dropped).
class LogView : public QWidget
{
    Q_OBJECT
public:
    static constexpr int DefaultMaxLines = 5000;
    static constexpr int DefaultAppendInterval = 100;

    explicit LogView(QWidget *parent = nullptr);
    ~LogView() override;

    int maxLines() const;
    // At least 1. Shrinking drops the oldest lines now (and counts them).
    void setMaxLines(int lines);
    int appendInterval() const { return m_appendTimer.interval(); }
    void setAppendInterval(int ms);

    // What the view keeps (the newest maxLines() lines, oldest first),
    // whatever the filter shows.
    QStringList lines() const;
    // Lines lost to the bound since the last clear().
    quint64 droppedCount() const;

    QString filterText() const;
    void setFilterText(const QString &text);
    bool follows() const;
    void setFollow(bool follow);

    // The Follow option; not the filter text.
    QByteArray saveState() const;
    bool restoreState(const QByteArray &state);

public Q_SLOTS:
    // Thread-safe.
    void appendLine(const QString &line);
    // Takes what is pending now (GUI thread).
    void flush();
    // Forgets every line, what is pending and the dropped count.
    void clear();

Q_SIGNALS:
    void droppedCountChanged(quint64 dropped);

private:
    void scheduleFlush();
    void refilter();
    void appendToText(const QStringList &lines);
    void updateDroppedLabel();
    bool matches(const QString &line) const;

    QPlainTextEdit *m_text = nullptr;
    QLineEdit *m_filter = nullptr;
    QToolButton *m_clear = nullptr;
    QCheckBox *m_follow = nullptr;
    QLabel *m_droppedLabel = nullptr;
    QTimer m_appendTimer;

    // Shared with appendLine() callers.
    mutable QMutex m_mutex;
    std::deque<QString> m_pending;
    quint64 m_pendingDropped = 0;
    int m_maxLines = DefaultMaxLines;
    bool m_flushQueued = false;

    // GUI thread only.
    std::deque<QString> m_lines;
    quint64 m_dropped = 0;
    // The document has no line yet (an empty one has one empty block).
    bool m_textEmpty = true;
};

} // namespace sluice

#endif // SLUICEUI_LOGVIEW_H
