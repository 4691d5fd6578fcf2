#include "filestream_p.h"
#include "global/logging_p.h"

#include <sluice/httpconnect.h>

#include <QtCore/QIODevice>

namespace sluice {

namespace {
constexpr qint64 ChunkBytes = 64 * 1024;
// Unsent bytes allowed in the socket before waiting for drained().
constexpr qint64 HighWaterBytes = 256 * 1024;
} // namespace

FileStream::FileStream(HttpConnect *connect, std::unique_ptr<QIODevice> file, QList<Part> parts,
                       QByteArray trailer)
    : QObject(connect)
    , m_connect(connect)
    , m_file(std::move(file))
    , m_parts(std::move(parts))
    , m_trailer(std::move(trailer))
{
    connect->defer();
    connect->response().setContentLength(bodyLength(m_parts, m_trailer));
    QObject::connect(connect, &HttpConnect::drained, this, &FileStream::pump);
    // Started from the event loop, so that the handler returns first.
    QMetaObject::invokeMethod(this, &FileStream::pump, Qt::QueuedConnection);
}

FileStream::~FileStream() = default;

qint64 FileStream::bodyLength(const QList<Part> &parts, const QByteArray &trailer)
{
    qint64 length = trailer.size();
    for (const Part &part : parts)
        length += part.prefix.size() + part.length;
    return length;
}

void FileStream::pump()
{
    HttpResponse &response = m_connect->response();
    // A small Limits::maxPendingWriteBytes shrinks both, so that a chunk never overshoots it.
    const qint64 highWater = qMin(HighWaterBytes, response.pendingBytesLimit() / 2);
    const qint64 chunkBytes = qMax<qint64>(1, qMin(ChunkBytes, response.pendingBytesLimit() / 2));
    while (!response.isEnded() && response.pendingBytes() < highWater) {
        if (m_part >= m_parts.size()) {
            response.end(m_trailer);
            return;
        }
        const Part &part = m_parts.at(m_part);
        if (!m_prefixSent) {
            m_prefixSent = true;
            if (!m_file->seek(part.offset)) {
                qCWarning(lcHttp) << "cannot seek to" << part.offset << "in a served file";
                response.end(); // short of Content-Length: the connection cuts it off
                return;
            }
            response.write(part.prefix);
        }
        const QByteArray chunk = m_file->read(qMin(chunkBytes, part.length - m_done));
        if (chunk.isEmpty() && part.length > m_done) {
            qCWarning(lcHttp) << "a served file ended early:" << m_file->errorString();
            response.end();
            return;
        }
        m_done += chunk.size();
        response.write(chunk);
        response.flush();
        if (m_done >= part.length) {
            ++m_part;
            m_done = 0;
            m_prefixSent = false;
        }
    }
}

} // namespace sluice
