#ifndef SLUICE_CONTENTTYPE_H
#define SLUICE_CONTENTTYPE_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QString>

namespace sluice {

// The MIME type Qt's database gives a file extension ("js", ".png"), or
// "application/octet-stream" when the extension is unknown. Like Dart's
// ContentType.value in the seed, it carries no parameters; the seed's
// ws:/contentType handler answers with it.
SLUICE_CORE_EXPORT QString contentType(const QString &extension);
// The Content-Type header for a file name ("site/app.js"): the MIME type,
// with "; charset=utf-8" on text types.
SLUICE_CORE_EXPORT QByteArray contentTypeHeader(const QString &fileName);

} // namespace sluice

#endif // SLUICE_CONTENTTYPE_H
