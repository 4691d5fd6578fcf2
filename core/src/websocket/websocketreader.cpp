#include "websocketreader_p.h"

#include "permessagedeflate_p.h"

#include <cstring>

namespace sluice {

using namespace WebSocketFrame;

WebSocketReader::WebSocketReader()
    : WebSocketReader(Settings())
{ }

WebSocketReader::WebSocketReader(const Settings &settings)
    : m_settings(settings)
{ }

void WebSocketReader::feed(char *data, qsizetype size, Receiver &receiver)
{
    while (size > 0 && m_stage != Stage::Done) {
        qsizetype used;
        if (m_stage == Stage::Head && m_headSize == 0)
            used = readWholeMessage(data, size, receiver);
        else
            used = 0;
        if (used == 0) {
            used = m_stage == Stage::Head ? readHead(data, size, receiver)
                                          : readPayload(data, size, receiver);
        }
        if (used < 0)
            return;
        data += used;
        size -= used;
    }
}

void WebSocketReader::fail(Receiver &receiver, quint16 code, const char *why)
{
    m_stage = Stage::Done;
    m_message = QByteArray();
    m_control = QByteArray();
    receiver.readFailed(code, why);
}

qsizetype WebSocketReader::readWholeMessage(char *data, qsizetype size, Receiver &receiver)
{
    // Most messages are one unfragmented, uncompressed frame that arrived
    // whole: read it in place, without the byte-wise stages below. Anything
    // else (0 here) takes those stages, which judge it in full.
    if (size < 6 || m_messageOpcode != WebSocketOpcode::Continuation)
        return 0;
    const auto *bytes = reinterpret_cast<const uchar *>(data);
    const uchar first = bytes[0];
    const auto opcode = WebSocketOpcode(first & 0x0F);
    if ((first & 0xF0) != 0x80
        || (opcode != WebSocketOpcode::Text && opcode != WebSocketOpcode::Binary)
        || !(bytes[1] & 0x80))
        return 0;
    qint64 length = bytes[1] & 0x7F;
    int head = 6;
    if (length == 126) {
        if (size < 8)
            return 0;
        length = qFromBigEndian<quint16>(bytes + 2);
        head = 8;
    } else if (length == 127) {
        return 0;
    }
    if (head + length > size || length > m_settings.maxFrameBytes
        || length > m_settings.maxMessageBytes)
        return 0;
    char *payload = data + head;
    const uchar *key = bytes + head - 4;
    unmask(payload, length, key, 0);
    if (opcode == WebSocketOpcode::Text && !Utf8Validator::isValidUtf8(payload, length)) {
        // Masked again: the stages below unmask it once more, and fail it
        // at the right byte.
        unmask(payload, length, key, 0);
        return 0;
    }
    return receiver.messageReceived(opcode, QByteArrayView(payload, length), nullptr)
                   ? head + length
                   : -1;
}

qsizetype WebSocketReader::readHead(const char *data, qsizetype size, Receiver &receiver)
{
    qsizetype used = 0;
    if (m_headSize < 2) {
        const qsizetype take = qMin<qsizetype>(2 - m_headSize, size);
        std::memcpy(m_head + m_headSize, data, size_t(take));
        m_headSize += quint8(take);
        used = take;
        if (m_headSize < 2)
            return used;
        // Judged on the first two bytes: a broken frame fails before its
        // length or mask arrive.
        if (!checkFirstBytes(receiver))
            return -1;
    }
    const int length7 = m_head[1] & 0x7F;
    const int needed = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + 4;
    const qsizetype take = qMin<qsizetype>(needed - m_headSize, size - used);
    std::memcpy(m_head + m_headSize, data + used, size_t(take));
    m_headSize += quint8(take);
    used += take;
    if (m_headSize < needed)
        return used;
    m_headSize = 0;
    return startFrame(m_head, receiver) ? used : -1;
}

bool WebSocketReader::checkFirstBytes(Receiver &receiver)
{
    const uchar first = m_head[0];
    const bool compressed = first & 0x40;
    const auto opcode = WebSocketOpcode(first & 0x0F);
    m_fin = first & 0x80;
    m_frameOpcode = opcode;
    if (first & 0x30) {
        fail(receiver, CloseStatus::ProtocolError, "reserved bits RSV2 or RSV3 set");
        return false;
    }
    switch (opcode) {
    case WebSocketOpcode::Continuation:
    case WebSocketOpcode::Text:
    case WebSocketOpcode::Binary:
    case WebSocketOpcode::Close:
    case WebSocketOpcode::Ping:
    case WebSocketOpcode::Pong:
        break;
    default:
        fail(receiver, CloseStatus::ProtocolError, "reserved opcode");
        return false;
    }
    const char *why = nullptr;
    if (isControl(opcode)) {
        if (!m_fin)
            why = "fragmented control frame";
        else if ((m_head[1] & 0x7F) > MaxControlPayload)
            why = "control frame longer than 125 bytes";
        else if (compressed)
            why = "RSV1 set on a control frame";
    } else if (opcode == WebSocketOpcode::Continuation) {
        if (m_messageOpcode == WebSocketOpcode::Continuation)
            why = "continuation frame without a message to continue";
        else if (compressed)
            why = "RSV1 set on a continuation frame";
    } else {
        if (m_messageOpcode != WebSocketOpcode::Continuation)
            why = "new message before the fragmented one ended";
        else if (compressed && !m_deflate)
            why = "RSV1 set without permessage-deflate";
    }
    if (!why && !(m_head[1] & 0x80))
        why = "unmasked frame from a client";
    if (why) {
        fail(receiver, CloseStatus::ProtocolError, why);
        return false;
    }
    if (!isControl(opcode) && opcode != WebSocketOpcode::Continuation) {
        m_compressed = compressed;
        m_messageBytes = 0;
        m_utf8.reset();
    }
    return true;
}

bool WebSocketReader::startFrame(const uchar *head, Receiver &receiver)
{
    quint64 length = head[1] & 0x7F;
    int position = 2;
    if (length == 126) {
        length = qFromBigEndian<quint16>(head + 2);
        position = 4;
    } else if (length == 127) {
        length = qFromBigEndian<quint64>(head + 2);
        position = 10;
        if (length >> 63) {
            fail(receiver, CloseStatus::ProtocolError, "frame length with its top bit set");
            return false;
        }
    }
    std::memcpy(m_mask, head + position, 4);
    m_maskOffset = 0;
    m_remaining = length;
    if (!isControl(m_frameOpcode)) {
        // Refused from the length alone, before a byte of it is held. The
        // limits are on what the handler gets: a compressed message may be a
        // little larger on the wire (deflate's worst case for data that does
        // not compress), and is held to its limit again as it inflates.
        const auto onTheWire = [this](qint64 limit) {
            return m_compressed ? limit + (limit >> 10) + 64 : limit;
        };
        if (qint64(length) > onTheWire(m_settings.maxFrameBytes)) {
            fail(receiver, CloseStatus::TooBig, "frame larger than maxWebSocketFrameBytes");
            return false;
        }
        if (m_messageBytes + qint64(length) > onTheWire(m_settings.maxMessageBytes)) {
            fail(receiver, CloseStatus::TooBig, "message larger than maxWebSocketMessageBytes");
            return false;
        }
        m_messageBytes += qint64(length);
        if (m_frameOpcode != WebSocketOpcode::Continuation)
            m_messageOpcode = m_frameOpcode;
    }
    m_stage = Stage::Payload;
    if (length > 0)
        return true;
    // An empty frame ends here: no payload byte will call readPayload().
    return readPayload(nullptr, 0, receiver) >= 0;
}

qsizetype WebSocketReader::readPayload(char *data, qsizetype size, Receiver &receiver)
{
    const qsizetype count = qsizetype(qMin<quint64>(m_remaining, quint64(size)));
    if (count > 0)
        m_maskOffset = unmask(data, count, m_mask, m_maskOffset);
    m_remaining -= quint64(count);
    const bool last = m_remaining == 0;

    if (isControl(m_frameOpcode)) {
        if (last && m_control.isEmpty()) {
            m_stage = Stage::Head;
            return endControlFrame(QByteArrayView(data, count), receiver) ? count : -1;
        }
        m_control.append(data, count);
        if (!last)
            return count;
        m_stage = Stage::Head;
        const QByteArray payload = std::exchange(m_control, QByteArray());
        return endControlFrame(payload, receiver) ? count : -1;
    }

    // Checked as the bytes come, so that a message fails at its first bad
    // byte rather than after its last frame.
    if (m_messageOpcode == WebSocketOpcode::Text && !m_compressed && !m_utf8.feed(data, count)) {
        fail(receiver, CloseStatus::InvalidPayload, "text message is not valid UTF-8");
        return -1;
    }
    if (last && m_fin && m_message.isEmpty() && !m_compressed) {
        m_stage = Stage::Head;
        return endMessage(QByteArrayView(data, count), nullptr, receiver) ? count : -1;
    }
    m_message.append(data, count);
    if (!last)
        return count;
    m_stage = Stage::Head;
    if (!m_fin)
        return count;
    return endMessage(m_message, &m_message, receiver) ? count : -1;
}

bool WebSocketReader::endControlFrame(QByteArrayView payload, Receiver &receiver)
{
    switch (m_frameOpcode) {
    case WebSocketOpcode::Ping:
        return receiver.pingReceived(payload);
    case WebSocketOpcode::Pong:
        return receiver.pongReceived(payload);
    default:
        break;
    }
    if (payload.size() == 1) {
        fail(receiver, CloseStatus::ProtocolError, "close frame with a one-byte payload");
        return false;
    }
    quint16 code = CloseStatus::NoStatus;
    if (payload.size() >= 2) {
        code = qFromBigEndian<quint16>(payload.data());
        if (!isValidCloseCode(code)) {
            fail(receiver, CloseStatus::ProtocolError, "close frame with an invalid code");
            return false;
        }
    }
    const QByteArrayView reason = payload.size() > 2 ? payload.sliced(2) : QByteArrayView();
    if (!Utf8Validator::isValidUtf8(reason.data(), reason.size())) {
        fail(receiver, CloseStatus::InvalidPayload, "close reason is not valid UTF-8");
        return false;
    }
    m_stage = Stage::Done;
    m_message = QByteArray();
    receiver.closeReceived(code, reason);
    return false;
}

bool WebSocketReader::endMessage(QByteArrayView payload, QByteArray *buffer, Receiver &receiver)
{
    const WebSocketOpcode opcode = m_messageOpcode;
    const bool compressed = m_compressed;
    m_messageOpcode = WebSocketOpcode::Continuation;
    m_compressed = false;
    m_messageBytes = 0;
    // Taken out before the receiver runs: it may end the connection, and this
    // reader with it. The move keeps payload's bytes where they are.
    QByteArray message = std::move(m_message);
    m_message = QByteArray();
    if (compressed) {
        Utf8Validator text;
        QByteArray inflated;
        switch (m_deflate->decompress(message, m_settings.maxMessageBytes,
                                      opcode == WebSocketOpcode::Text ? &text : nullptr,
                                      &inflated)) {
        case PerMessageDeflate::InflateResult::Ok:
            break;
        case PerMessageDeflate::InflateResult::TooBig:
            fail(receiver, CloseStatus::TooBig,
                 "message larger than maxWebSocketMessageBytes when decompressed");
            return false;
        case PerMessageDeflate::InflateResult::BadData:
            fail(receiver, CloseStatus::InvalidPayload, "compressed message does not inflate");
            return false;
        case PerMessageDeflate::InflateResult::BadUtf8:
            fail(receiver, CloseStatus::InvalidPayload, "text message is not valid UTF-8");
            return false;
        }
        if (opcode == WebSocketOpcode::Text && !text.isComplete()) {
            fail(receiver, CloseStatus::InvalidPayload,
                 "text message ends inside a UTF-8 sequence");
            return false;
        }
        message = QByteArray();
        return receiver.messageReceived(opcode, inflated, &inflated);
    }
    if (opcode == WebSocketOpcode::Text && !m_utf8.isComplete()) {
        fail(receiver, CloseStatus::InvalidPayload, "text message ends inside a UTF-8 sequence");
        return false;
    }
    return receiver.messageReceived(opcode, payload, buffer ? &message : nullptr);
}

} // namespace sluice
