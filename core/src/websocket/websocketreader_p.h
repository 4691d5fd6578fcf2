#ifndef SLUICE_WEBSOCKETREADER_P_H
#define SLUICE_WEBSOCKETREADER_P_H

#include "utf8validator_p.h"
#include "websocketframe_p.h"

#include <QtCore/QByteArray>

namespace sluice {

class PerMessageDeflate;

// The receiving half of the WebSocket protocol (RFC 6455 5 and 7, RFC 7692
// 7.2.2) for a server: bytes from the client in, messages and control
// frames out. It needs no socket, so it is tested and fuzzed on its own.
//
// Strict where the RFC says MUST: frames must be masked; reserved bits
// (RSV1 without permessage-deflate) and unknown opcodes fail with 1002;
// control frames are short and unfragmented, and may come between the
// fragments of a message; text is checked as UTF-8 as its bytes arrive and
// fails with 1007 at the first byte that cannot be valid; frame and message
// limits fail with 1009 as soon as a length says so, and decompressed
// messages as soon as they grow past the limit.
//
// Between messages it holds no buffer: a message is handed over straight
// from the bytes fed when it arrived whole, and only one that is cut across
// feeds (or fragmented, or compressed) is gathered in a buffer of its own,
// released once it is delivered.
class WebSocketReader
{
public:
    struct Settings
    {
        qint64 maxFrameBytes = 16 * 1024 * 1024;
        qint64 maxMessageBytes = 16 * 1024 * 1024;
    };

    // What the reader found. A call returning false means the connection is
    // gone (its handler closed or deleted it): feed() stops at once.
    class Receiver
    {
    public:
        // A whole text (valid UTF-8) or binary message. When it lives in a
        // buffer of the reader's, *buffer is that buffer and may be taken.
        virtual bool messageReceived(WebSocketOpcode opcode, QByteArrayView payload,
                                     QByteArray *buffer)
                = 0;
        virtual bool pingReceived(QByteArrayView payload) = 0;
        virtual bool pongReceived(QByteArrayView payload) = 0;
        // A valid close frame; code is CloseStatus::NoStatus when it had none.
        virtual void closeReceived(quint16 code, QByteArrayView reason) = 0;
        // The client broke the protocol or a limit: fail the connection with code.
        virtual void readFailed(quint16 code, const char *why) = 0;

    protected:
        ~Receiver() = default;
    };

    WebSocketReader();
    explicit WebSocketReader(const Settings &settings);

    // With permessage-deflate negotiated, RSV1 marks compressed messages.
    void setDeflate(PerMessageDeflate *deflate) { m_deflate = deflate; }
    // Reads what data holds, unmasking it in place. After a close frame or a
    // failure the reader is done and ignores what follows.
    void feed(char *data, qsizetype size, Receiver &receiver);

    bool isDone() const { return m_stage == Stage::Done; }
    // Bytes held for a frame or message that has not arrived whole.
    qsizetype bufferedBytes() const { return m_message.capacity() + m_control.capacity(); }

private:
    enum class Stage : quint8 { Head, Payload, Done };

    // Each returns the bytes it used, or -1 when reading must stop.
    qsizetype readWholeMessage(char *data, qsizetype size, Receiver &receiver);
    qsizetype readHead(const char *data, qsizetype size, Receiver &receiver);
    qsizetype readPayload(char *data, qsizetype size, Receiver &receiver);
    bool checkFirstBytes(Receiver &receiver);
    bool startFrame(const uchar *head, Receiver &receiver);
    bool endControlFrame(QByteArrayView payload, Receiver &receiver);
    bool endMessage(QByteArrayView payload, QByteArray *buffer, Receiver &receiver);
    void fail(Receiver &receiver, quint16 code, const char *why);

    Settings m_settings;
    PerMessageDeflate *m_deflate = nullptr;
    Stage m_stage = Stage::Head;
    quint8 m_headSize = 0; // bytes of the head in m_head so far
    uchar m_head[WebSocketFrame::MaxHeadBytes];
    WebSocketOpcode m_frameOpcode = WebSocketOpcode::Continuation;
    bool m_fin = false;
    uchar m_mask[4] = {};
    int m_maskOffset = 0;
    quint64 m_remaining = 0; // payload bytes of this frame still to come
    // The data message in flight: Continuation while there is none.
    WebSocketOpcode m_messageOpcode = WebSocketOpcode::Continuation;
    bool m_compressed = false;
    qint64 m_messageBytes = 0; // payload bytes of its frames so far
    Utf8Validator m_utf8;
    QByteArray m_message;
    QByteArray m_control;
};

} // namespace sluice

#endif // SLUICE_WEBSOCKETREADER_P_H
