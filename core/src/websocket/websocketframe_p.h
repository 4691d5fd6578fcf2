#ifndef SLUICE_WEBSOCKETFRAME_P_H
#define SLUICE_WEBSOCKETFRAME_P_H

#include "utf8validator_p.h"

#include <QtCore/QByteArray>
#include <QtCore/QtEndian>

namespace sluice {

// RFC 6455 5.2 opcodes.
enum class WebSocketOpcode : quint8 {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
};

// RFC 6455 7.4.1 status codes the engine itself sends or reports.
namespace CloseStatus {
enum : quint16 {
    Normal = 1000,
    GoingAway = 1001,
    ProtocolError = 1002,
    UnsupportedData = 1003,
    NoStatus = 1005, // reported when a close frame carried no code; never sent
    Abnormal = 1006, // reported when the connection ended without a close frame; never sent
    InvalidPayload = 1007,
    PolicyViolation = 1008,
    TooBig = 1009,
    InternalError = 1011,
};
}

namespace WebSocketFrame {

constexpr int MaxHeadBytes = 14;
constexpr int MaxControlPayload = 125;

inline bool isControl(WebSocketOpcode opcode)
{
    return quint8(opcode) & 0x8;
}

// Writes the head of an unmasked frame (a server's, RFC 6455 5.1) with the
// shortest length field; returns its size: 2, 4 or 10 bytes.
inline int writeHead(char *out, WebSocketOpcode opcode, quint64 size, bool fin = true,
                     bool compressed = false)
{
    out[0] = char((fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | quint8(opcode));
    if (size <= 125) {
        out[1] = char(size);
        return 2;
    }
    if (size <= 0xFFFF) {
        out[1] = char(126);
        qToBigEndian<quint16>(quint16(size), out + 2);
        return 4;
    }
    out[1] = char(127);
    qToBigEndian<quint64>(size, out + 2);
    return 10;
}

// Whether a close frame may carry code (RFC 6455 7.4, and the IANA
// registry's 1012-1014): 1004-1006 and 1015 are reserved, 1016-2999 belong
// to future standards, 3000-4999 to libraries and applications.
inline bool isValidCloseCode(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}

// A close frame's payload: the code and as much of reason as fits in 123
// bytes without cutting a code point. A code that may not be sent goes out
// as 1000; no code at all (NoStatus) as an empty payload.
inline QByteArray closePayload(int code, const QByteArray &reason)
{
    if (code == CloseStatus::NoStatus)
        return QByteArray();
    if (!isValidCloseCode(code))
        code = CloseStatus::Normal;
    qsizetype length = qMin<qsizetype>(reason.size(), MaxControlPayload - 2);
    // Back off over continuation bytes to the start of the cut code point.
    if (length < reason.size()) {
        while (length > 0 && (uchar(reason.at(length)) & 0xC0) == 0x80)
            --length;
    }
    QByteArray payload(2 + length, Qt::Uninitialized);
    qToBigEndian<quint16>(quint16(code), payload.data());
    std::memcpy(payload.data() + 2, reason.constData(), size_t(length));
    return payload;
}

// XORs data with the 4-byte masking key, starting at key byte offset;
// returns the offset after the last byte, for a payload that comes in pieces.
inline int unmask(char *data, qsizetype size, const uchar key[4], int offset)
{
    const uchar rotated[4] = {key[offset & 3], key[(offset + 1) & 3], key[(offset + 2) & 3],
                              key[(offset + 3) & 3]};
    quint32 narrow;
    std::memcpy(&narrow, rotated, 4);
    const quint64 wide = quint64(narrow) | (quint64(narrow) << 32);
    qsizetype i = 0;
    for (; i + 8 <= size; i += 8) {
        quint64 word;
        std::memcpy(&word, data + i, 8);
        word ^= wide;
        std::memcpy(data + i, &word, 8);
    }
    for (; i < size; ++i)
        data[i] = char(data[i] ^ rotated[i & 3]);
    return int((offset + size) & 3);
}

} // namespace WebSocketFrame
} // namespace sluice

#endif // SLUICE_WEBSOCKETFRAME_P_H
