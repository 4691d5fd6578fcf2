#include <sluice/contenttype.h>

#include <QtCore/QMimeDatabase>

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
    const QMimeType type = dot > slash ? mimeTypeForSuffix(fileName.mid(dot + 1)) : QMimeType();
    if (!type.isValid())
        return QByteArrayLiteral("application/octet-stream");
    QByteArray header = type.name().toLatin1();
    if (isText(type))
        header += "; charset=utf-8";
    return header;
}

} // namespace sluice
