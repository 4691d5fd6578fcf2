#ifndef SLUICE_WEBSOCKETCOMPRESSION_H
#define SLUICE_WEBSOCKETCOMPRESSION_H

#include <QtCore/QtGlobal>

namespace sluice {

// permessage-deflate (RFC 7692) for a ws: route: whether the route accepts
// a client's offer, and how it compresses. Browsers and most client
// libraries offer it on every connection.
//
// Without context takeover (the default) each message is compressed on its
// own: a connection holds no zlib state between messages, and the worker's
// threads share one compressor and one decompressor. With context takeover
// each side keeps its window across messages, which compresses small,
// repetitive messages (JSON) much better, for zlib state held for the
// connection's whole life: about 2^(windowBits + 2) + 2^(memLevel + 9)
// bytes to compress (serverContextTakeover) and 2^windowBits + 7 KiB to
// decompress (clientContextTakeover).
struct WebSocketCompression
{
    bool enabled = false;
    // Messages shorter than this go out uncompressed: below it deflate's
    // own overhead outweighs what it saves.
    qint64 thresholdBytes = 64;
    // zlib's level, 1 (fastest) to 9 (smallest).
    int level = 6;
    // Whether the server keeps its compressor's window across messages.
    bool serverContextTakeover = false;
    // Whether clients may keep theirs; without it the server asks for
    // client_no_context_takeover.
    bool clientContextTakeover = false;
    // The server's window, 8 to 15: the most the server uses (a client may
    // ask for less).
    int serverMaxWindowBits = 15;
    // The window asked of clients that keep their context, 8 to 15.
    int clientMaxWindowBits = 15;
    // zlib's memLevel for the compressor, 1 to 9.
    int memLevel = 8;
};

} // namespace sluice

#endif // SLUICE_WEBSOCKETCOMPRESSION_H
