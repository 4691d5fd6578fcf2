#ifndef SLUICE_PERMESSAGEDEFLATE_P_H
#define SLUICE_PERMESSAGEDEFLATE_P_H

#include <sluice/websocketcompression.h>

#include <QtCore/QByteArray>

#include <map>
#include <memory>
#include <optional>
#include <tuple>

typedef struct z_stream_s z_stream;

namespace sluice {

class Utf8Validator;

// What a permessage-deflate negotiation settled (RFC 7692 7.1).
struct DeflateParameters
{
    bool serverNoContextTakeover = false;
    bool clientNoContextTakeover = false;
    int serverMaxWindowBits = 15;
    int clientMaxWindowBits = 15;
};

// The zlib streams the connections of one thread share: a message
// compressed or decompressed without context takeover starts from a reset
// stream, so one stream serves them all and no connection holds zlib state
// between messages.
class DeflateStreams
{
public:
    DeflateStreams();
    ~DeflateStreams();
    DeflateStreams(const DeflateStreams &) = delete;
    DeflateStreams &operator=(const DeflateStreams &) = delete;

    // Reset and ready; null when zlib cannot allocate.
    z_stream *deflater(int windowBits, int level, int memLevel);
    z_stream *inflater();

private:
    struct StreamDeleter
    {
        void operator()(z_stream *stream) const;
    };
    using Stream = std::unique_ptr<z_stream, StreamDeleter>;
    std::map<std::tuple<int, int, int>, Stream> m_deflaters;
    std::unique_ptr<z_stream> m_inflater;
};

// One connection's permessage-deflate: compresses outgoing messages and
// decompresses incoming ones, with its own zlib streams only where context
// takeover was negotiated.
class PerMessageDeflate
{
public:
    // Picks the first offer in a Sec-WebSocket-Extensions value that options
    // can accept, and writes the answering extension into *response; an
    // offer with unknown, repeated or out-of-range parameters is declined.
    static std::optional<DeflateParameters>
    negotiate(const QByteArray &offers, const WebSocketCompression &options, QByteArray *response);

    PerMessageDeflate(const DeflateParameters &parameters, const WebSocketCompression &options,
                      DeflateStreams *shared);
    ~PerMessageDeflate();

    // Whether a message of size bytes is worth compressing.
    bool compresses(qsizetype size) const { return size >= m_threshold; }
    // The compressed payload of one whole message (without the trailing
    // 00 00 FF FF, RFC 7692 7.2.1); false when zlib failed.
    bool compress(const char *data, qsizetype size, QByteArray *out);

    enum class InflateResult { Ok, TooBig, BadData, BadUtf8 };
    // Decompresses one whole message into *out, stopping as soon as it grows
    // past limit bytes (TooBig: nothing more is allocated) or, with text, at
    // the first byte that cannot be UTF-8.
    InflateResult decompress(const QByteArray &compressed, qint64 limit, Utf8Validator *text,
                             QByteArray *out);

    const DeflateParameters &parameters() const { return m_parameters; }
    // zlib state this connection keeps between messages, in bytes (0
    // without context takeover).
    qint64 heldBytes() const;

private:
    z_stream *deflater();
    z_stream *inflater();

    DeflateParameters m_parameters;
    DeflateStreams *m_shared;
    qint64 m_threshold;
    int m_level;
    int m_memLevel;
    struct Own;
    std::unique_ptr<Own> m_own; // streams kept for context takeover
};

} // namespace sluice

#endif // SLUICE_PERMESSAGEDEFLATE_P_H
