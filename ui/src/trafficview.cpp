#include <sluiceui/trafficview.h>

#include <sluiceui/payloadview.h>
#include <sluiceui/trafficmodel.h>

#include <QtCore/QDataStream>
#include <QtCore/QDir>
#include <QtCore/QIODevice>
#include <QtCore/QLocale>
#include <QtCore/QRegularExpression>
#include <QtCore/QSaveFile>
#include <QtCore/QTimer>
#include <QtGui/QAction>
#include <QtGui/QFontDatabase>
#include <QtGui/QRegularExpressionValidator>
#include <QtWidgets/QCheckBox>
#include <QtWidgets/QComboBox>
#include <QtWidgets/QFileDialog>
#include <QtWidgets/QHBoxLayout>
#include <QtWidgets/QHeaderView>
#include <QtWidgets/QLabel>
#include <QtWidgets/QLineEdit>
#include <QtWidgets/QMenu>
#include <QtWidgets/QMessageBox>
#include <QtWidgets/QScrollBar>
#include <QtWidgets/QSplitter>
#include <QtWidgets/QStyledItemDelegate>
#include <QtWidgets/QTableView>
#include <QtWidgets/QToolButton>
#include <QtWidgets/QVBoxLayout>

namespace sluice {

namespace {

constexpr quint32 StateMagic = 0x534c5456; // "SLTV"
constexpr quint8 StateVersion = 2; // 2: the type filter

// Times in the fixed-width font, so that a column of them lines up.
class TimeDelegate : public QStyledItemDelegate
{
public:
    explicit TimeDelegate(QObject *parent)
        : QStyledItemDelegate(parent)
        , m_font(QFontDatabase::systemFont(QFontDatabase::FixedFont))
        , m_metrics(m_font)
    { }

protected:
    void initStyleOption(QStyleOptionViewItem *option, const QModelIndex &index) const override
    {
        QStyledItemDelegate::initStyleOption(option, index);
        option->font = m_font;
        option->fontMetrics = m_metrics;
    }

private:
    QFont m_font;
    QFontMetrics m_metrics;
};

} // namespace

TrafficView::TrafficView(TrafficModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
{
    // Filter bar.
    m_filter = new QLineEdit;
    m_filter->setObjectName(QStringLiteral("trafficFilter"));
    m_filter->setPlaceholderText(tr("Filter payload, target, reason…"));
    m_filter->setClearButtonEnabled(true);

    m_regex = new QCheckBox(tr("Regex"));
    m_regex->setObjectName(QStringLiteral("trafficRegex"));
    m_case = new QCheckBox(tr("Match case"));
    m_case->setObjectName(QStringLiteral("trafficCase"));

    m_direction = new QComboBox;
    m_direction->setObjectName(QStringLiteral("trafficDirection"));
    m_direction->addItem(tr("Both"), int(TrafficModel::DirectionFilter::Both));
    m_direction->addItem(tr("Incoming \u2193"), int(TrafficModel::DirectionFilter::Incoming));
    m_direction->addItem(tr("Outgoing \u2191"), int(TrafficModel::DirectionFilter::Outgoing));
    m_direction->setToolTip(tr("Incoming: what clients sent; outgoing: what the server sent"));

    m_connection = new QLineEdit;
    m_connection->setObjectName(QStringLiteral("trafficConnection"));
    m_connection->setPlaceholderText(tr("Connection"));
    m_connection->setToolTip(tr("Show only this connection id (empty: all)"));
    m_connection->setClearButtonEnabled(true);
    // 19 digits always fit a quint64.
    m_connection->setValidator(new QRegularExpressionValidator(
            QRegularExpression(QStringLiteral("[0-9]{0,19}")), m_connection));
    m_connection->setMaximumWidth(m_connection->fontMetrics().horizontalAdvance(u'0') * 12 + 40);

    m_type = new QComboBox;
    m_type->setObjectName(QStringLiteral("trafficType"));
    using T = TrafficModel::RowType;
    const auto addTypes = [this](const QString &name, std::initializer_list<T> types) {
        QVariantList values;
        for (T type : types)
            values.append(int(type));
        m_type->addItem(name, values);
    };
    addTypes(tr("All types"), {});
    addTypes(tr("Messages"), {T::Text, T::Binary});
    addTypes(tr("Text"), {T::Text});
    addTypes(tr("Binary"), {T::Binary});
    addTypes(tr("HTTP"), {T::Http});
    addTypes(tr("Control frames"), {T::Ping, T::Pong, T::Close});
    addTypes(tr("Open and closed"), {T::Open, T::Closed});
    m_type->setToolTip(tr("Show only rows of this type"));

    m_hideControl = new QCheckBox(tr("Hide ping/pong/close"));
    m_hideControl->setObjectName(QStringLiteral("trafficHideControl"));

    // Toolbar.
    m_pause = new QToolButton;
    m_pause->setObjectName(QStringLiteral("trafficPause"));
    m_pause->setCheckable(true);
    m_pause->setText(tr("Pause"));
    m_pause->setToolTip(tr("Stop taking new rows (what arrives meanwhile is counted as missed)"));
    m_clear = new QToolButton;
    m_clear->setObjectName(QStringLiteral("trafficClear"));
    m_clear->setText(tr("Clear"));
    m_export = new QToolButton;
    m_export->setObjectName(QStringLiteral("trafficExport"));
    m_export->setText(tr("Export"));
    m_export->setPopupMode(QToolButton::InstantPopup);
    auto *exportMenu = new QMenu(m_export);
    QAction *jsonLines = exportMenu->addAction(tr("Export JSON Lines…"));
    jsonLines->setObjectName(QStringLiteral("trafficExportJsonLines"));
    QAction *har = exportMenu->addAction(tr("Export HAR…"));
    har->setObjectName(QStringLiteral("trafficExportHar"));
    m_export->setMenu(exportMenu);
    connect(jsonLines, &QAction::triggered, this,
            [this] { exportWithDialog(ExportFormat::JsonLines); });
    connect(har, &QAction::triggered, this, [this] { exportWithDialog(ExportFormat::Har); });

    m_filterError = new QLabel;
    m_filterError->setObjectName(QStringLiteral("trafficFilterError"));
    m_filterError->setTextFormat(Qt::PlainText);
    m_filterError->hide();

    // Table and detail.
    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("trafficTable"));
    // Before setModel(), so these run before the table reacts: it moves the
    // current row and the selection off rows about to go, and that must not
    // be taken for the user selecting.
    connect(model, &QAbstractItemModel::rowsAboutToBeInserted, this,
            &TrafficView::beginModelChange);
    connect(model, &QAbstractItemModel::rowsAboutToBeRemoved, this,
            [this](const QModelIndex &, int, int last) {
                beginModelChange();
                // Per item, the scroll value is the first visible row.
                const QScrollBar *bar = m_table->verticalScrollBar();
                const int top
                        = m_table->verticalScrollMode() == QAbstractItemView::ScrollPerItem
                                  ? bar->value()
                                  : bar->value()
                                            / qMax(1,
                                                   m_table->verticalHeader()->defaultSectionSize());
                m_topRow = !m_followTail && top > last ? top : -1;
            });
    connect(model, &QAbstractItemModel::modelAboutToBeReset, this, &TrafficView::beginModelChange);

    m_table->setModel(model);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setWordWrap(false);
    m_table->setShowGrid(false);
    m_table->setCornerButtonEnabled(false);
    m_table->setTextElideMode(Qt::ElideRight);
    m_table->setItemDelegateForColumn(TrafficModel::TimeColumn, new TimeDelegate(m_table));
    QHeaderView *rows = m_table->verticalHeader();
    rows->hide();
    rows->setSectionResizeMode(QHeaderView::Fixed);
    rows->setDefaultSectionSize(fontMetrics().height() + 6);
    QHeaderView *columns = m_table->horizontalHeader();
    columns->setHighlightSections(false);
    columns->setSectionsMovable(true);
    columns->setStretchLastSection(false);
    columns->setSectionResizeMode(QHeaderView::Interactive);
    columns->setSectionResizeMode(TrafficModel::PreviewColumn, QHeaderView::Stretch);
    // Widths set once from the fonts, never from the rows.
    const QFontMetrics fixed(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    const QFontMetrics normal = fontMetrics();
    const int padding = 2 * normal.horizontalAdvance(u'M');
    const auto headerWidth = [&](int column) {
        return normal.horizontalAdvance(model->headerData(column, Qt::Horizontal).toString())
               + padding;
    };
    columns->resizeSection(TrafficModel::TimeColumn,
                           qMax(fixed.horizontalAdvance(QStringLiteral("00:00:00.000")) + padding,
                                headerWidth(TrafficModel::TimeColumn)));
    columns->resizeSection(TrafficModel::ConnectionColumn,
                           qMax(normal.horizontalAdvance(QStringLiteral("000000")) + padding,
                                headerWidth(TrafficModel::ConnectionColumn)));
    columns->resizeSection(TrafficModel::DirectionColumn,
                           headerWidth(TrafficModel::DirectionColumn));
    columns->resizeSection(TrafficModel::TypeColumn,
                           qMax(normal.horizontalAdvance(QStringLiteral("binary")) + padding,
                                headerWidth(TrafficModel::TypeColumn)));
    columns->resizeSection(TrafficModel::SizeColumn,
                           qMax(normal.horizontalAdvance(QStringLiteral("00000000")) + padding,
                                headerWidth(TrafficModel::SizeColumn)));

    m_payload = new PayloadView;
    m_payload->setObjectName(QStringLiteral("payloadView"));

    m_splitter = new QSplitter(Qt::Vertical);
    m_splitter->setObjectName(QStringLiteral("trafficSplitter"));
    m_splitter->addWidget(m_table);
    m_splitter->addWidget(m_payload);
    m_splitter->setChildrenCollapsible(false);
    m_splitter->setStretchFactor(0, 3);
    m_splitter->setStretchFactor(1, 1);

    // Status.
    m_count = new QLabel;
    m_count->setObjectName(QStringLiteral("trafficCount"));
    m_dropped = new QLabel;
    m_dropped->setObjectName(QStringLiteral("trafficDropped"));
    m_dropped->setToolTip(tr("Rows dropped because the buffer was full (the oldest go first)"));
    m_dropped->hide();
    m_missed = new QLabel;
    m_missed->setObjectName(QStringLiteral("trafficMissed"));
    m_missed->hide();

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_regex);
    bar->addWidget(m_case);
    bar->addWidget(m_direction);
    bar->addWidget(m_connection);
    bar->addWidget(m_type);
    bar->addWidget(m_hideControl);
    bar->addSpacing(normal.horizontalAdvance(u'M'));
    bar->addWidget(m_pause);
    bar->addWidget(m_clear);
    bar->addWidget(m_export);

    auto *status = new QHBoxLayout;
    status->addWidget(m_count);
    status->addWidget(m_dropped);
    status->addWidget(m_missed);
    status->addStretch(1);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_filterError);
    layout->addWidget(m_splitter, 1);
    layout->addLayout(status);

    // The filter follows the controls; the text and connection fields after
    // a pause in typing, since each change walks every stored row.
    m_filterTimer = new QTimer(this);
    m_filterTimer->setSingleShot(true);
    m_filterTimer->setInterval(FilterDelay);
    connect(m_filterTimer, &QTimer::timeout, this, [this] {
        applyTextFilter();
        applyConnectionFilter();
    });
    connect(m_filter, &QLineEdit::textChanged, m_filterTimer, qOverload<>(&QTimer::start));
    connect(m_connection, &QLineEdit::textChanged, m_filterTimer, qOverload<>(&QTimer::start));
    connect(m_regex, &QCheckBox::toggled, this, &TrafficView::applyTextFilter);
    connect(m_case, &QCheckBox::toggled, this, &TrafficView::applyTextFilter);
    connect(m_direction, &QComboBox::currentIndexChanged, this, [this] {
        m_model->setDirectionFilter(
                TrafficModel::DirectionFilter(m_direction->currentData().toInt()));
    });
    connect(m_type, &QComboBox::currentIndexChanged, this, [this] {
        QList<TrafficModel::RowType> types;
        for (const QVariant &type : m_type->currentData().toList())
            types.append(TrafficModel::RowType(type.toInt()));
        m_model->setTypeFilter(types);
    });
    connect(m_hideControl, &QCheckBox::toggled, m_model, &TrafficModel::setHideControlFrames);
    connect(m_model, &TrafficModel::filterChanged, this, &TrafficView::updateFilterError);

    connect(m_pause, &QToolButton::toggled, m_model, &TrafficModel::setPaused);
    const auto showPaused = [this](bool paused) {
        m_pause->setChecked(paused);
        m_pause->setText(paused ? tr("Resume") : tr("Pause"));
    };
    connect(m_model, &TrafficModel::pausedChanged, this, showPaused);
    connect(m_clear, &QToolButton::clicked, this, [this] {
        m_model->clear();
        m_payload->clear();
    });

    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &TrafficView::showSelected);

    // After setModel(), so the table has taken each change in when these run.
    connect(model, &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_followTail)
            m_table->scrollToBottom();
        endModelChange();
        scheduleStatus();
    });
    connect(model, &QAbstractItemModel::rowsRemoved, this,
            [this](const QModelIndex &, int first, int last) {
                QScrollBar *bar = m_table->verticalScrollBar();
                if (m_followTail) {
                    m_table->scrollToBottom();
                } else if (m_topRow >= 0) {
                    const int top = m_topRow - (last - first + 1);
                    bar->setValue(m_table->verticalScrollMode() == QAbstractItemView::ScrollPerItem
                                          ? top
                                          : top * m_table->verticalHeader()->defaultSectionSize());
                }
                m_topRow = -1;
                // The table moved the selection off the dropped row the detail
                // shows; showing another would change the detail under the user.
                if (!m_shown.isValid() && m_table->selectionModel()->hasSelection())
                    m_table->selectionModel()->clear();
                endModelChange();
                scheduleStatus();
            });
    connect(model, &QAbstractItemModel::modelReset, this, [this] {
        if (m_model->storedCount() == 0 && m_model->pendingCount() == 0)
            m_payload->clear();
        if (m_followTail)
            m_table->scrollToBottom();
        endModelChange();
        scheduleStatus();
    });

    connect(model, &TrafficModel::droppedCountChanged, this, &TrafficView::scheduleStatus);
    connect(model, &TrafficModel::missedCountChanged, this, &TrafficView::scheduleStatus);

    // The user scrolling decides whether to follow; the model moving the bar
    // under the user does not.
    QScrollBar *vertical = m_table->verticalScrollBar();
    connect(vertical, &QScrollBar::valueChanged, this, [this](int value) {
        if (!m_modelChanging)
            m_followTail = value >= m_table->verticalScrollBar()->maximum();
    });
    connect(vertical, &QScrollBar::rangeChanged, this, [this](int, int maximum) {
        // Layouts the table does later (shown, resized) keep the tail in view.
        if (m_followTail && !m_modelChanging)
            m_table->verticalScrollBar()->setValue(maximum);
    });

    m_statusTimer = new QTimer(this);
    m_statusTimer->setSingleShot(true);
    m_statusTimer->setInterval(StatusInterval);
    connect(m_statusTimer, &QTimer::timeout, this, &TrafficView::updateStatus);

    showPaused(m_model->isPaused());
    updateFilterError();
    updateStatus();
}

TrafficView::~TrafficView()
{
    // The children go now, while this is still a TrafficView: the table's
    // scroll bar signals its range as it is torn down, and the slots above
    // must not run on what ~QWidget leaves of this object.
    qDeleteAll(findChildren<QWidget *>(Qt::FindDirectChildrenOnly));
}

void TrafficView::beginModelChange()
{
    ++m_modelChanging;
}

void TrafficView::endModelChange()
{
    if (m_modelChanging > 0)
        --m_modelChanging;
}

void TrafficView::applyTextFilter()
{
    m_model->setTextFilter(m_filter->text(), m_regex->isChecked(),
                           m_case->isChecked() ? Qt::CaseSensitive : Qt::CaseInsensitive);
    // A model already holding this filter does not signal it.
    updateFilterError();
}

void TrafficView::applyConnectionFilter()
{
    m_model->setConnectionFilter(m_connection->text().toULongLong());
}

void TrafficView::setConnectionFilter(quint64 id)
{
    m_connection->setText(id ? QString::number(id) : QString());
    applyConnectionFilter();
}

void TrafficView::updateFilterError()
{
    const bool valid = m_model->isFilterValid();
    if (valid) {
        m_filter->setPalette(QPalette());
        m_filter->setToolTip(QString());
        m_filterError->clear();
        m_filterError->hide();
        return;
    }
    QPalette palette = m_filter->palette();
    palette.setColor(QPalette::Base, QColor(255, 215, 215));
    palette.setColor(QPalette::Text, QColor(120, 0, 0));
    m_filter->setPalette(palette);
    const QString error = tr("Invalid regular expression: %1").arg(m_model->filterError());
    m_filter->setToolTip(error);
    m_filterError->setText(error);
    m_filterError->show();
}

void TrafficView::scheduleStatus()
{
    if (!m_statusTimer->isActive())
        m_statusTimer->start();
}

void TrafficView::updateStatus()
{
    const QLocale locale;
    m_count->setText(tr("%1 of %2 rows")
                             .arg(locale.toString(m_model->rowCount()),
                                  locale.toString(m_model->storedCount())));
    const quint64 dropped = m_model->droppedCount();
    m_dropped->setText(
            tr("%1 dropped (cap %2)")
                    .arg(locale.toString(dropped), locale.toString(m_model->capacity())));
    m_dropped->setVisible(dropped != 0);
    const quint64 missed = m_model->missedCount();
    m_missed->setText(tr("%1 missed while paused").arg(locale.toString(missed)));
    m_missed->setVisible(missed != 0);
}

void TrafficView::showSelected()
{
    // A selection emptied by its row being dropped keeps the detail shown.
    if (m_modelChanging)
        return;
    const QModelIndexList selected = m_table->selectionModel()->selectedRows();
    if (selected.isEmpty())
        return;
    m_shown = selected.first();
    m_payload->setEvent(m_model->event(selected.first().row()));
}

bool TrafficView::exportTo(const QString &fileName, ExportFormat format, QString *error)
{
    const auto fail = [&](const QString &why) {
        if (error)
            *error = tr("Cannot export to %1: %2").arg(QDir::toNativeSeparators(fileName), why);
        return false;
    };
    if (fileName.isEmpty()) {
        if (error)
            *error = tr("Cannot export: no file name given");
        return false;
    }
    // What has arrived goes in, not only what the last tick applied.
    m_model->flush();
    QSaveFile file(fileName);
    if (!file.open(QIODevice::WriteOnly))
        return fail(file.errorString());
    const bool written = format == ExportFormat::Har ? m_model->exportHar(&file)
                                                     : m_model->exportJsonLines(&file);
    if (!written) {
        const QString why = file.errorString();
        file.cancelWriting();
        return fail(why.isEmpty() ? tr("write failed") : why);
    }
    if (!file.commit())
        return fail(file.errorString());
    if (error)
        error->clear();
    return true;
}

void TrafficView::exportWithDialog(ExportFormat format)
{
    const bool har = format == ExportFormat::Har;
    const QString fileName = QFileDialog::getSaveFileName(
            this, har ? tr("Export HAR") : tr("Export JSON Lines"),
            har ? QStringLiteral("traffic.har") : QStringLiteral("traffic.jsonl"),
            har ? tr("HAR (*.har);;All files (*)") : tr("JSON Lines (*.jsonl);;All files (*)"));
    if (fileName.isEmpty())
        return;
    QString error;
    if (exportTo(fileName, format, &error))
        return;
    auto *box = new QMessageBox(QMessageBox::Warning, tr("Export Failed"), error, QMessageBox::Ok,
                                this);
    box->setObjectName(QStringLiteral("trafficExportError"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

QByteArray TrafficView::saveState() const
{
    QByteArray state;
    QDataStream stream(&state, QIODevice::WriteOnly);
    stream.setVersion(QDataStream::Qt_6_4);
    stream << StateMagic << StateVersion << m_table->horizontalHeader()->saveState()
           << m_splitter->saveState() << m_regex->isChecked() << m_case->isChecked()
           << qint32(m_direction->currentIndex()) << m_hideControl->isChecked()
           << qint32(m_type->currentIndex());
    return state;
}

bool TrafficView::restoreState(const QByteArray &state)
{
    QDataStream stream(state);
    stream.setVersion(QDataStream::Qt_6_4);
    quint32 magic = 0;
    quint8 version = 0;
    QByteArray headerState;
    QByteArray splitterState;
    bool regex = false;
    bool matchCase = false;
    qint32 direction = -1;
    bool hideControl = false;
    qint32 type = -1;
    stream >> magic >> version >> headerState >> splitterState >> regex >> matchCase >> direction
            >> hideControl >> type;
    if (stream.status() != QDataStream::Ok || magic != StateMagic || version != StateVersion
        || !stream.atEnd() || direction < 0 || direction >= m_direction->count() || type < 0
        || type >= m_type->count())
        return false;
    // Both checks their blob before applying any of it; undo the header
    // when the splitter refuses.
    QHeaderView *header = m_table->horizontalHeader();
    const QByteArray oldHeader = header->saveState();
    if (!header->restoreState(headerState))
        return false;
    if (!m_splitter->restoreState(splitterState)) {
        header->restoreState(oldHeader);
        return false;
    }
    {
        // One filter pass for the lot rather than one per option.
        const QSignalBlocker regexBlocker(m_regex);
        const QSignalBlocker caseBlocker(m_case);
        m_regex->setChecked(regex);
        m_case->setChecked(matchCase);
    }
    applyTextFilter();
    m_direction->setCurrentIndex(direction);
    m_type->setCurrentIndex(type);
    m_hideControl->setChecked(hideControl);
    return true;
}

} // namespace sluice
