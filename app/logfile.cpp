#include "logfile.h"

#include <QtCore/QDateTime>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

#include <cstdio>
#include <unistd.h>

namespace {

LogFile *messageTarget = nullptr;
QtMessageHandler previousHandler = nullptr;

QString now()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
}

QString levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return QStringLiteral("debug");
    case QtInfoMsg:
        return QStringLiteral("info");
    case QtWarningMsg:
        return QStringLiteral("warning");
    case QtCriticalMsg:
        return QStringLiteral("critical");
    case QtFatalMsg:
        return QStringLiteral("fatal");
    }
    return QStringLiteral("info");
}

// A message is one line, whatever it quotes.
QString oneLine(QString text)
{
    text.replace(u'\r', QStringLiteral("\\r"));
    text.replace(u'\n', QStringLiteral("\\n"));
    return text;
}

} // namespace

LogFile::LogFile() = default;

LogFile::~LogFile()
{
    if (m_handlerInstalled) {
        qInstallMessageHandler(previousHandler);
        messageTarget = nullptr;
    }
}

bool LogFile::open(const QString &fileName, Format format)
{
    QMutexLocker lock(&m_mutex);
    m_format = format;
    m_fileName = fileName;
    m_file.close();
    bool opened = false;
    if (fileName == u'-') {
        opened = m_file.open(STDOUT_FILENO, QIODevice::WriteOnly | QIODevice::Unbuffered);
    } else {
        m_file.setFileName(fileName);
        // Appending seeks, which a pipe or /dev/null cannot do.
        const QFileInfo info(fileName);
        const bool regular = !info.exists() || info.isFile();
        opened = m_file.open(QIODevice::WriteOnly | QIODevice::Unbuffered
                             | (regular ? QIODevice::Append : QIODevice::NotOpen));
    }
    if (!opened)
        m_errorString = QStringLiteral("%1: %2").arg(fileName, m_file.errorString());
    return opened;
}

bool LogFile::reopen()
{
    if (isStdout())
        return true;
    return open(m_fileName, m_format);
}

void LogFile::write(const QByteArray &line)
{
    QMutexLocker lock(&m_mutex);
    if (m_file.isOpen())
        m_file.write(line);
    if (m_mirror)
        m_mirror(line);
}

void LogFile::setMirror(std::function<void(const QByteArray &)> mirror)
{
    QMutexLocker lock(&m_mutex);
    m_mirror = std::move(mirror);
}

void LogFile::record(const QString &event, const QString &message,
                     const QList<QPair<QString, QString>> &fields)
{
    if (m_format == Format::Json) {
        QJsonObject object {{QStringLiteral("time"), now()},
                            {QStringLiteral("event"), event},
                            {QStringLiteral("message"), message}};
        for (const auto &field : fields)
            object.insert(field.first, field.second);
        write(QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n');
        return;
    }
    write((now() + u' ' + oneLine(message) + u'\n').toUtf8());
}

QByteArray LogFile::formatMessage(QtMsgType type, const char *category,
                                  const QString &message) const
{
    const QString categoryName = category ? QString::fromUtf8(category) : QStringLiteral("default");
    if (m_format == Format::Json) {
        const QJsonObject object {{QStringLiteral("time"), now()},
                                  {QStringLiteral("event"), QStringLiteral("log")},
                                  {QStringLiteral("level"), levelName(type)},
                                  {QStringLiteral("category"), categoryName},
                                  {QStringLiteral("message"), message}};
        return QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n';
    }
    return QStringLiteral("%1 %2 %3: %4\n")
            .arg(now(), levelName(type), categoryName, oneLine(message))
            .toUtf8();
}

void LogFile::installMessageHandler()
{
    messageTarget = this;
    m_handlerInstalled = true;
    previousHandler = qInstallMessageHandler(&LogFile::messageHandler);
}

void LogFile::messageHandler(QtMsgType type, const QMessageLogContext &context,
                             const QString &message)
{
    if (LogFile *log = messageTarget)
        log->write(log->formatMessage(type, context.category, message));
    // Warnings also reach stderr when the log is a file: someone at the
    // terminal should see that something is wrong. (QtInfoMsg sorts after
    // QtFatalMsg, so no ">=" here.)
    const bool serious = type == QtWarningMsg || type == QtCriticalMsg || type == QtFatalMsg;
    if (serious && (!messageTarget || !messageTarget->isStdout()) && previousHandler)
        previousHandler(type, context, message);
}
