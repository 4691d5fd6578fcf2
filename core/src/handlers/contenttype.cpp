#include <sluice/contenttype.h>

#include <QtCore/QHash>
#include <QtCore/QMimeDatabase>
#include <QtCore/QReadWriteLock>

namespace sluice {

namespace {

QMimeType mimeTypeForSuffix(QString suffix)
{
    if (suffix.startsWith(u'.'))
        suffix.remove(0, 1);
    if (suffix.isEmpty())
        return {};
    // QMimeDatabase is thread-safe; an instance is a cheap handle on Qt's shared database.
    QMimeDatabase db;
    const QList<QMimeType> types = db.mimeTypesForFileName(QStringLiteral("f.") + suffix);
    return types.isEmpty() ? QMimeType() : types.first();
}

bool isText(const QMimeType &type)
{
    return type.inherits(QStringLiteral("text/plain"))
           || type.name().startsWith(QLatin1String("text/"))
           || type.name() == QLatin1String("application/json")
           || type.name() == QLatin1String("application/javascript")
           || type.name() == QLatin1String("image/svg+xml")
           || type.name().endsWith(QLatin1String("+xml"))
           || type.name() == QLatin1String("application/xml");
}

} // namespace

QString contentType(const QString &extension)
{
    const QMimeType type = mimeTypeForSuffix(extension.trimmed());
    return type.isValid() ? type.name() : QStringLiteral("application/octet-stream");
}

QByteArray contentTypeHeader(const QString &fileName)
{
    const int dot = fileName.lastIndexOf(u'.');
    const int slash = fileName.lastIndexOf(u'/');
    const QString suffix = dot > slash ? fileName.mid(dot + 1) : QString();

    // QMimeDatabase's glob matching was 84% of the CPU of serving a 1 KiB
    // file (callgrind): each suffix is looked up once. Bounded, since the
    // suffixes come from request paths.
    constexpr qsizetype MaxCached = 1024;
    static QReadWriteLock lock;
    static QHash<QString, QByteArray> cache;
    {
        QReadLocker locker(&lock);
        const auto it = cache.constFind(suffix);
        if (it != cache.constEnd())
            return it.value();
    }
    const QMimeType type = suffix.isEmpty() ? QMimeType() : mimeTypeForSuffix(suffix);
    QByteArray header;
    if (!type.isValid()) {
        header = QByteArrayLiteral("application/octet-stream");
    } else {
        header = type.name().toLatin1();
        if (isText(type))
            header += "; charset=utf-8";
    }
    QWriteLocker locker(&lock);
    if (cache.size() < MaxCached)
        cache.insert(suffix, header);
    return header;
}

} // namespace sluice
