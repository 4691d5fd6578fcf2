#ifndef SLUICE_STATICFILES_H
#define SLUICE_STATICFILES_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QString>

#include <memory>

namespace sluice {

class HttpConnect;
struct StaticFilesData;

// Serves the files under a home directory: a folder, or compiled-in Qt
// resources (":/site"). A copyable HttpHandler: a copy keeps its own
// settings and shares the memory cache, which is safe from any thread.
//
// GET and HEAD only. index.html answers for a directory; there is no
// listing unless setDirectoryListing(true). Validators (ETag,
// Last-Modified) and conditional requests (304, 412), byte ranges (206,
// multipart/byteranges, If-Range, 416). Large files stream as the socket
// drains and are never read whole; small ones are kept in a bounded cache.
// No request reads outside home: "..", encoded separators, backslashes, NUL
// bytes and dot files are refused, and so are symbolic links that lead out
// of home unless setFollowSymlinks(true).
class SLUICE_CORE_EXPORT StaticFiles
{
public:
    explicit StaticFiles(const QString &home = QStringLiteral(":/site"));
    ~StaticFiles();
    StaticFiles(const StaticFiles &other);
    StaticFiles &operator=(const StaticFiles &other);

    QString home() const;
    // Whether home is a directory that can be read.
    bool isValid() const;

    bool directoryListing() const;
    void setDirectoryListing(bool enabled);
    bool followSymlinks() const;
    void setFollowSymlinks(bool enabled);
    QByteArray cacheControl() const;
    void setCacheControl(const QByteArray &value);
    // Files up to maxFileBytes are kept in memory, maxTotalBytes in all.
    void setMemoryCache(qint64 maxFileBytes, qint64 maxTotalBytes);
    qint64 memoryCacheBytes() const;

    void operator()(HttpConnect &connect) const;

private:
    void detach();
    std::shared_ptr<StaticFilesData> d;
};

} // namespace sluice

#endif // SLUICE_STATICFILES_H
