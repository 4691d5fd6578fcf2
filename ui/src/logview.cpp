#include <sluiceui/logview.h>

#include <QtCore/QDataStream>
#include <QtCore/QIODevice>
#include <QtCore/QLocale>
#include <QtCore/QMutexLocker>
#include <QtGui/QFontDatabase>
#include <QtGui/QTextCursor>
#include <QtGui/QTextDocument>
#include <QtWidgets/QCheckBox>
#include <QtWidgets/QHBoxLayout>
#include <QtWidgets/QLabel>
#include <QtWidgets/QLineEdit>
#include <QtWidgets/QPlainTextEdit>
#include <QtWidgets/QScrollBar>
#include <QtWidgets/QToolButton>
#include <QtWidgets/QVBoxLayout>

#include <algorithm>

namespace sluice {

namespace {

constexpr quint32 StateMagic = 0x534c4c56; // "SLLV"
constexpr quint8 StateVersion = 1;

// One line is one block of the document, so that maximumBlockCount bounds
// lines: breaks inside a line become line separators (drawn as a break, kept
// in the block).
QString oneLine(const QString &line)
{
    QString result = line;
    while (result.endsWith(u'\n') || result.endsWith(u'\r'))
        result.chop(1);
    for (QChar &c : result) {
        if (c == u'\n' || c == u'\r' || c == QChar::ParagraphSeparator)
            c = QChar::LineSeparator;
    }
    return result;
}

} // namespace

LogView::LogView(QWidget *parent)
    : QWidget(parent)
{
    m_filter = new QLineEdit(this);
    m_filter->setObjectName(QStringLiteral("logFilter"));
    m_filter->setPlaceholderText(tr("Filter"));
    m_filter->setClearButtonEnabled(true);
    m_filter->setToolTip(tr("Show only the lines that contain this text (case-insensitive)"));

    m_follow = new QCheckBox(tr("Follow"), this);
    m_follow->setObjectName(QStringLiteral("logFollow"));
    m_follow->setToolTip(tr("Keep the newest line in view"));
    m_follow->setChecked(true);

    m_clear = new QToolButton(this);
    m_clear->setObjectName(QStringLiteral("logClear"));
    m_clear->setText(tr("Clear"));
    m_clear->setToolTip(tr("Forget every line"));

    m_droppedLabel = new QLabel(this);
    m_droppedLabel->setObjectName(QStringLiteral("logDropped"));
    m_droppedLabel->setToolTip(tr("Lines that came faster than the log keeps"));
    m_droppedLabel->hide();

    m_text = new QPlainTextEdit(this);
    m_text->setObjectName(QStringLiteral("logText"));
    m_text->setReadOnly(true);
    m_text->setUndoRedoEnabled(false);
    m_text->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_text->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_text->setMaximumBlockCount(m_maxLines);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_droppedLabel);
    bar->addWidget(m_follow);
    bar->addWidget(m_clear);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_text, 1);

    m_appendTimer.setSingleShot(true);
    m_appendTimer.setInterval(DefaultAppendInterval);
    connect(&m_appendTimer, &QTimer::timeout, this, &LogView::flush);
    connect(m_filter, &QLineEdit::textChanged, this, &LogView::refilter);
    connect(m_clear, &QToolButton::clicked, this, &LogView::clear);
    connect(m_follow, &QCheckBox::toggled, this, [this](bool on) {
        if (on)
            m_text->verticalScrollBar()->setValue(m_text->verticalScrollBar()->maximum());
    });
}

LogView::~LogView() = default;

int LogView::maxLines() const
{
    QMutexLocker locker(&m_mutex);
    return m_maxLines;
}

void LogView::setMaxLines(int lines)
{
    lines = std::max(1, lines);
    quint64 dropped = 0;
    {
        QMutexLocker locker(&m_mutex);
        m_maxLines = lines;
        while (m_pending.size() > size_t(lines)) {
            m_pending.pop_front();
            ++m_pendingDropped;
        }
    }
    while (m_lines.size() > size_t(lines)) {
        m_lines.pop_front();
        ++dropped;
    }
    m_text->setMaximumBlockCount(lines);
    if (dropped) {
        m_dropped += dropped;
        updateDroppedLabel();
        Q_EMIT droppedCountChanged(m_dropped);
    }
}

void LogView::setAppendInterval(int ms)
{
    m_appendTimer.setInterval(std::max(0, ms));
}

QStringList LogView::lines() const
{
    return QStringList(m_lines.begin(), m_lines.end());
}

quint64 LogView::droppedCount() const
{
    return m_dropped;
}

QString LogView::filterText() const
{
    return m_filter->text();
}

void LogView::setFilterText(const QString &text)
{
    m_filter->setText(text);
}

bool LogView::follows() const
{
    return m_follow->isChecked();
}

void LogView::setFollow(bool follow)
{
    m_follow->setChecked(follow);
}

QByteArray LogView::saveState() const
{
    QByteArray state;
    QDataStream stream(&state, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_4);
    stream << StateMagic << StateVersion << follows();
    return state;
}

bool LogView::restoreState(const QByteArray &state)
{
    QDataStream stream(state);
    stream.setVersion(QDataStream::Qt_6_4);
    quint32 magic = 0;
    quint8 version = 0;
    bool follow = true;
    stream >> magic >> version >> follow;
    if (stream.status() != QDataStream::Ok || magic != StateMagic || version != StateVersion
        || !stream.atEnd())
        return false;
    setFollow(follow);
    return true;
}

void LogView::appendLine(const QString &line)
{
    QString text = oneLine(line);
    bool schedule = false;
    {
        QMutexLocker locker(&m_mutex);
        m_pending.push_back(std::move(text));
        if (m_pending.size() > size_t(m_maxLines)) {
            m_pending.pop_front();
            ++m_pendingDropped;
        }
        schedule = !m_flushQueued;
        m_flushQueued = true;
    }
    // One queued call per batch: a timer cannot be started from another thread.
    if (schedule)
        QMetaObject::invokeMethod(this, &LogView::scheduleFlush, Qt::QueuedConnection);
}

void LogView::scheduleFlush()
{
    if (!m_appendTimer.isActive())
        m_appendTimer.start();
}

void LogView::flush()
{
    std::deque<QString> batch;
    quint64 dropped = 0;
    int maxLines = 0;
    {
        QMutexLocker locker(&m_mutex);
        batch.swap(m_pending);
        dropped = m_pendingDropped;
        m_pendingDropped = 0;
        m_flushQueued = false;
        maxLines = m_maxLines;
    }
    m_appendTimer.stop();
    if (batch.empty() && dropped == 0)
        return;

    QStringList shown;
    shown.reserve(int(batch.size()));
    for (QString &line : batch) {
        if (matches(line))
            shown.append(line);
        m_lines.push_back(std::move(line));
    }
    while (m_lines.size() > size_t(maxLines)) {
        m_lines.pop_front();
        ++dropped;
    }
    appendToText(shown);
    if (dropped) {
        m_dropped += dropped;
        updateDroppedLabel();
        Q_EMIT droppedCountChanged(m_dropped);
    }
}

void LogView::clear()
{
    {
        QMutexLocker locker(&m_mutex);
        m_pending.clear();
        m_pendingDropped = 0;
    }
    m_lines.clear();
    m_text->clear();
    m_textEmpty = true;
    const bool hadDropped = m_dropped != 0;
    m_dropped = 0;
    updateDroppedLabel();
    if (hadDropped)
        Q_EMIT droppedCountChanged(0);
}

bool LogView::matches(const QString &line) const
{
    const QString filter = m_filter->text();
    return filter.isEmpty() || line.contains(filter, Qt::CaseInsensitive);
}

void LogView::refilter()
{
    m_text->clear();
    m_textEmpty = true;
    QStringList shown;
    for (const QString &line : m_lines) {
        if (matches(line))
            shown.append(line);
    }
    appendToText(shown);
}

void LogView::appendToText(const QStringList &lines)
{
    if (lines.isEmpty())
        return;
    QScrollBar *scrollBar = m_text->verticalScrollBar();
    const int position = scrollBar->value();
    const qsizetype maxLines = m_text->maximumBlockCount();
    const qsizetype from = maxLines > 0 ? std::max<qsizetype>(0, lines.size() - maxLines) : 0;

    QString text;
    // The first line goes into the empty document's one block.
    if (!m_textEmpty)
        text += u'\n';
    m_textEmpty = false;
    for (qsizetype i = from; i < lines.size(); ++i) {
        if (i > from)
            text += u'\n';
        text += lines.at(i);
    }
    // A cursor rather than appendPlainText(), which scrolls by itself when
    // the view is at the bottom; Follow decides here.
    QTextCursor cursor(m_text->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(text);
    if (m_follow->isChecked())
        scrollBar->setValue(scrollBar->maximum());
    else
        scrollBar->setValue(position);
}

void LogView::updateDroppedLabel()
{
    if (m_dropped == 0) {
        m_droppedLabel->hide();
        m_droppedLabel->clear();
        return;
    }
    m_droppedLabel->setText(tr("%1 lines dropped").arg(QLocale().toString(m_dropped)));
    m_droppedLabel->show();
}

} // namespace sluice
