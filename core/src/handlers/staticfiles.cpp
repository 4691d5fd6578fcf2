#include <sluice/contenttype.h>
#include <sluice/httpconnect.h>
#include <sluice/httpstatus.h>
#include <sluice/staticfiles.h>

#include "filestream_p.h"
#include "http/httpdate_p.h"

#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QRandomGenerator>

#include <algorithm>
#include <limits>
#include <optional>

#ifdef Q_OS_UNIX
#include <sys/stat.h>
#endif

namespace sluice {

// Bounded memory for small files; shared by every copy of a StaticFiles.
struct FileCache
{
    struct Entry
    {
        QByteArray data;
        qint64 modifiedMs = 0;
    };
    FileCache(qint64 maxFile, qint64 maxTotal)
        : maxFileBytes(maxFile)
        , maxTotalBytes(maxTotal)
    { }

    // modifiedMs: info's modification time, which the caller already has.
    QByteArray content(const QFileInfo &info, qint64 modifiedMs);

    const qint64 maxFileBytes;
    const qint64 maxTotalBytes;
    QMutex mutex;
    QHash<QString, Entry> entries;
    QStringList order; // oldest first
    qint64 bytes = 0;
};

// Copied on write, so that a copy's settings are its own.
struct StaticFilesData
{
    QString home;
    QString canonicalHome;
    QByteArray cacheControl = QByteArrayLiteral("no-cache");
    bool listing = false;
    bool followSymlinks = false;
    std::shared_ptr<FileCache> cache = std::make_shared<FileCache>(256 * 1024, 16 * 1024 * 1024);
};

namespace {

// Ranges past this many are answered with the whole file (RFC 9110 14.2 allows it).
constexpr int MaxRanges = 16;

struct ByteRange
{
    qint64 first;
    qint64 last;
};

enum class RangeResult { Ignore, Unsatisfiable, Ranges };

RangeResult parseRanges(const QByteArray &header, qint64 size, QList<ByteRange> *ranges)
{
    const QByteArray value = header.trimmed();
    if (!value.startsWith("bytes="))
        return RangeResult::Ignore;
    const QList<QByteArray> specs = value.mid(6).split(',');
    if (specs.size() > MaxRanges)
        return RangeResult::Ignore;
    for (const QByteArray &rawSpec : specs) {
        const QByteArray spec = rawSpec.trimmed();
        const qsizetype dash = spec.indexOf('-');
        if (dash < 0)
            return RangeResult::Ignore;
        bool okFirst = true;
        bool okLast = true;
        const QByteArray firstText = spec.left(dash);
        const QByteArray lastText = spec.mid(dash + 1);
        if (firstText.isEmpty()) {
            // A suffix: the last N bytes.
            const qint64 suffix = lastText.toLongLong(&okLast);
            if (!okLast || suffix < 0)
                return RangeResult::Ignore;
            if (suffix == 0 || size == 0)
                continue;
            ranges->append({qMax<qint64>(0, size - suffix), size - 1});
            continue;
        }
        const qint64 first = firstText.toLongLong(&okFirst);
        const qint64 last = lastText.isEmpty() ? std::numeric_limits<qint64>::max()
                                               : lastText.toLongLong(&okLast);
        if (!okFirst || !okLast || first < 0 || last < first)
            return RangeResult::Ignore;
        if (first >= size)
            continue; // unsatisfiable on its own; others may still be served
        ranges->append({first, qMin(last, size - 1)});
    }
    return ranges->isEmpty() ? RangeResult::Unsatisfiable : RangeResult::Ranges;
}

bool etagMatches(const QByteArray &header, const QByteArray &etag, bool weak)
{
    const QByteArray value = header.trimmed();
    if (value == "*")
        return true;
    for (QByteArray candidate : value.split(',')) {
        candidate = candidate.trimmed();
        if (candidate.startsWith("W/")) {
            if (!weak)
                continue; // a weak validator never matches strongly
            candidate = candidate.mid(2);
        }
        if (candidate == etag)
            return true;
    }
    return false;
}

// The request path as a path under home, or an error status. Every check is
// made on the decoded segments, so no encoding can smuggle a separator in.
int relativePath(const QByteArray &target, QString *relative)
{
    QByteArray raw = target;
    const qsizetype end = raw.indexOf('?');
    if (end >= 0)
        raw.truncate(end);
    if (raw.contains("://")) { // absolute-form target: keep its path
        const qsizetype slash = raw.indexOf('/', raw.indexOf("://") + 3);
        raw = slash < 0 ? QByteArray("/") : raw.mid(slash);
    }
    if (raw.contains('\\'))
        return 400;
    // Nothing to decode and no dot segments or empty ones: the path is its
    // own answer, without a string per segment.
    if (raw.startsWith('/') && !raw.contains("//") && !raw.contains("/.")
        && std::all_of(raw.cbegin(), raw.cend(),
                       [](char c) { return c > 0x20 && c < 0x7f && c != '%'; })) {
        *relative = QString::fromLatin1(raw.sliced(1));
        return 0;
    }
    QStringList segments;
    for (const QByteArray &segment : raw.split('/')) {
        if (segment.isEmpty())
            continue;
        const QByteArray decoded = QByteArray::fromPercentEncoding(segment);
        if (decoded.contains('\0') || decoded.contains('/') || decoded.contains('\\'))
            return 400;
        if (decoded == "..")
            return 403;
        if (decoded.startsWith('.'))
            return 404; // ".", dot files and dot directories (.git) are not served
        const QString text = QString::fromUtf8(decoded);
        if (text.toUtf8() != decoded)
            return 400; // not UTF-8
        segments.append(text);
    }
    *relative = segments.join(u'/');
    if (raw.endsWith('/') && !relative->isEmpty())
        *relative += u'/';
    return 0;
}

// QFileInfo gives the modification time in local time, and each conversion
// of it went through the time zone (mktime, localtime_r): a sixth of serving
// a small file (callgrind). stat() has it in UTC.
std::optional<qint64> modificationMs(const QFileInfo &info)
{
#ifdef Q_OS_UNIX
    struct stat status;
    if (!info.filePath().startsWith(u':')
        && ::stat(QFile::encodeName(info.absoluteFilePath()).constData(), &status) == 0) {
        return qint64(status.st_mtim.tv_sec) * 1000 + status.st_mtim.tv_nsec / 1000000;
    }
#endif
    const QDateTime modified = info.lastModified();
    if (!modified.isValid())
        return std::nullopt;
    return modified.toMSecsSinceEpoch();
}

QByteArray listingPage(const QString &requestPath, const QDir &dir)
{
    QByteArray page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of "
                      + requestPath.toHtmlEscaped().toUtf8() + "</title></head><body><h1>Index of "
                      + requestPath.toHtmlEscaped().toUtf8() + "</h1><ul>\n";
    if (requestPath != QLatin1String("/"))
        page += "<li><a href=\"../\">../</a></li>\n";
    const QFileInfoList entries = dir.entryInfoList(QDir::AllEntries | QDir::NoDotAndDotDot,
                                                    QDir::DirsFirst | QDir::Name);
    for (const QFileInfo &entry : entries) {
        const QString name = entry.fileName() + (entry.isDir() ? QStringLiteral("/") : QString());
        page += "<li><a href=\"" + QUrl::toPercentEncoding(name, "/") + "\">"
                + name.toHtmlEscaped().toUtf8() + "</a></li>\n";
    }
    page += "</ul></body></html>\n";
    return page;
}

} // namespace

QByteArray FileCache::content(const QFileInfo &info, qint64 modifiedMs)
{
    const QString key = info.absoluteFilePath();
    {
        QMutexLocker locker(&mutex);
        const auto it = entries.constFind(key);
        if (it != entries.constEnd() && it->modifiedMs == modifiedMs
            && it->data.size() == info.size())
            return it->data;
    }
    QFile file(key);
    if (!file.open(QIODevice::ReadOnly))
        return QByteArray();
    const QByteArray data = file.readAll();
    if (data.size() != info.size())
        return QByteArray();
    QMutexLocker locker(&mutex);
    if (const auto old = entries.constFind(key); old != entries.constEnd()) {
        bytes -= old->data.size();
        entries.erase(old);
        order.removeOne(key);
    }
    while (bytes + data.size() > maxTotalBytes && !order.isEmpty())
        bytes -= entries.take(order.takeFirst()).data.size();
    if (bytes + data.size() <= maxTotalBytes) {
        entries.insert(key, {data, modifiedMs});
        order.append(key);
        bytes += data.size();
    }
    return data;
}

StaticFiles::StaticFiles(const QString &home)
    : d(std::make_shared<StaticFilesData>())
{
    d->home = QDir::cleanPath(home);
    const QFileInfo info(d->home);
    d->canonicalHome = info.canonicalFilePath();
}

StaticFiles::~StaticFiles() = default;
StaticFiles::StaticFiles(const StaticFiles &other) = default;
StaticFiles &StaticFiles::operator=(const StaticFiles &other) = default;

void StaticFiles::detach()
{
    if (d.use_count() > 1)
        d = std::make_shared<StaticFilesData>(*d);
}

QString StaticFiles::home() const
{
    return d->home;
}

bool StaticFiles::isValid() const
{
    const QFileInfo info(d->home);
    return info.isDir() && info.isReadable();
}

bool StaticFiles::directoryListing() const
{
    return d->listing;
}

void StaticFiles::setDirectoryListing(bool enabled)
{
    detach();
    d->listing = enabled;
}

bool StaticFiles::followSymlinks() const
{
    return d->followSymlinks;
}

void StaticFiles::setFollowSymlinks(bool enabled)
{
    detach();
    d->followSymlinks = enabled;
}

QByteArray StaticFiles::cacheControl() const
{
    return d->cacheControl;
}

void StaticFiles::setCacheControl(const QByteArray &value)
{
    detach();
    d->cacheControl = value;
}

void StaticFiles::setMemoryCache(qint64 maxFileBytes, qint64 maxTotalBytes)
{
    detach();
    d->cache = std::make_shared<FileCache>(maxFileBytes, maxTotalBytes);
}

qint64 StaticFiles::memoryCacheBytes() const
{
    QMutexLocker locker(&d->cache->mutex);
    return d->cache->bytes;
}

void StaticFiles::operator()(HttpConnect &connect) const
{
    const HttpRequest &request = connect.request();
    HttpResponse &response = connect.response();
    const QByteArray method = request.method();
    if (method != "GET" && method != "HEAD") {
        connect.error(405, QString(), {{"Allow", "GET, HEAD"}});
        return;
    }

    QString relative;
    if (const int status = relativePath(request.target(), &relative)) {
        connect.error(status);
        return;
    }
    QFileInfo info(d->home + u'/' + relative);
    if (!info.exists()) {
        connect.error(404);
        return;
    }
    const bool inResources = d->home.startsWith(u':');
    if (!inResources && !d->followSymlinks) {
        const QString canonical = info.canonicalFilePath();
        if (canonical != d->canonicalHome && !canonical.startsWith(d->canonicalHome + u'/')) {
            connect.error(403, QStringLiteral("the path leads out of the home directory"));
            return;
        }
    }
    if (info.isDir()) {
        const QString path = request.path();
        if (!path.endsWith(u'/')) {
            // Relative links in the index page resolve against the slash.
            QString location = QString::fromUtf8(QUrl::toPercentEncoding(path, "/")) + u'/';
            if (!request.url().query().isEmpty())
                location += u'?' + request.url().query(QUrl::FullyEncoded);
            response.setStatus(301);
            response.setHeader("Location", location.toUtf8());
            response.end();
            return;
        }
        const QFileInfo index(info.absoluteFilePath() + QStringLiteral("/index.html"));
        if (index.isFile()) {
            info = index;
        } else if (d->listing) {
            response.setContentType("text/html; charset=utf-8");
            response.setHeader("Cache-Control", d->cacheControl);
            response.end(listingPage(path, QDir(info.absoluteFilePath())));
            return;
        } else {
            connect.error(403, QStringLiteral("directory listing is off"));
            return;
        }
    }
    if (!info.isFile() || !info.isReadable()) {
        connect.error(403);
        return;
    }

    const qint64 size = info.size();
    const std::optional<qint64> knownMs = modificationMs(info);
    const qint64 modifiedMs = knownMs.value_or(0);
    // Second precision: that is all Last-Modified and If-Modified-Since carry.
    const QDateTime modifiedSecond = QDateTime::fromSecsSinceEpoch(modifiedMs / 1000, Qt::UTC);
    const QByteArray etag
            = '"' + QByteArray::number(size, 16) + '-' + QByteArray::number(modifiedMs, 16) + '"';
    const QByteArray contentType = contentTypeHeader(info.fileName());

    response.setHeader("ETag", etag);
    if (knownMs)
        response.setHeader("Last-Modified", formatHttpDate(modifiedSecond));
    response.setHeader("Cache-Control", d->cacheControl);
    response.setHeader("Accept-Ranges", "bytes");

    // Preconditions in the order of RFC 9110 section 13.2.2.
    if (request.hasHeader("If-Match")) {
        if (!etagMatches(request.header("If-Match"), etag, false)) {
            connect.error(412);
            return;
        }
    } else if (request.hasHeader("If-Unmodified-Since")) {
        const QDateTime since = parseHttpDate(request.header("If-Unmodified-Since"));
        if (since.isValid() && modifiedSecond > since) {
            connect.error(412);
            return;
        }
    }
    bool notModified = false;
    if (request.hasHeader("If-None-Match")) {
        notModified = etagMatches(request.header("If-None-Match"), etag, true);
    } else if (request.hasHeader("If-Modified-Since")) {
        const QDateTime since = parseHttpDate(request.header("If-Modified-Since"));
        notModified = since.isValid() && modifiedSecond <= since;
    }
    if (notModified) {
        response.setStatus(304);
        response.end();
        return;
    }

    QList<ByteRange> ranges;
    RangeResult rangeResult = RangeResult::Ignore;
    if (method == "GET" && request.hasHeader("Range")) {
        bool rangeApplies = true;
        if (request.hasHeader("If-Range")) {
            const QByteArray ifRange = request.header("If-Range").trimmed();
            if (ifRange.startsWith('"') || ifRange.startsWith("W/"))
                rangeApplies = ifRange == etag;
            else
                rangeApplies = parseHttpDate(ifRange) == modifiedSecond;
        }
        if (rangeApplies)
            rangeResult = parseRanges(request.header("Range"), size, &ranges);
    }
    if (rangeResult == RangeResult::Unsatisfiable) {
        connect.error(416, QString(), {{"Content-Range", "bytes */" + QByteArray::number(size)}});
        return;
    }

    QList<FileStream::Part> parts;
    QByteArray trailer;
    if (rangeResult == RangeResult::Ranges) {
        response.setStatus(206);
        if (ranges.size() == 1) {
            const ByteRange &range = ranges.first();
            response.setContentType(contentType);
            response.setHeader("Content-Range", "bytes " + QByteArray::number(range.first) + '-'
                                                        + QByteArray::number(range.last) + '/'
                                                        + QByteArray::number(size));
            parts.append({QByteArray(), range.first, range.last - range.first + 1});
        } else {
            const QByteArray boundary
                    = QByteArray::number(QRandomGenerator::global()->generate64(), 36);
            response.setContentType("multipart/byteranges; boundary=" + boundary);
            for (const ByteRange &range : std::as_const(ranges)) {
                const QByteArray prefix = "\r\n--" + boundary + "\r\nContent-Type: " + contentType
                                          + "\r\nContent-Range: bytes "
                                          + QByteArray::number(range.first) + '-'
                                          + QByteArray::number(range.last) + '/'
                                          + QByteArray::number(size) + "\r\n\r\n";
                parts.append({prefix, range.first, range.last - range.first + 1});
            }
            trailer = "\r\n--" + boundary + "--\r\n";
        }
    } else {
        response.setContentType(contentType);
        parts.append({QByteArray(), 0, size});
    }

    const qint64 length = FileStream::bodyLength(parts, trailer);
    if (method == "HEAD") {
        response.setContentLength(length);
        response.end();
        return;
    }
    if (size <= d->cache->maxFileBytes) {
        const QByteArray content = d->cache->content(info, modifiedMs);
        if (content.size() == size) {
            for (const FileStream::Part &part : std::as_const(parts)) {
                response.write(part.prefix);
                response.write(content.mid(part.offset, part.length));
            }
            response.end(trailer);
            return;
        }
    }
    auto file = std::make_unique<QFile>(info.absoluteFilePath());
    if (!file->open(QIODevice::ReadOnly)) {
        connect.error(403, QStringLiteral("the file cannot be read"));
        return;
    }
    new FileStream(&connect, std::move(file), std::move(parts), std::move(trailer));
}

} // namespace sluice
