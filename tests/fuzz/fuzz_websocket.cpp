// libFuzzer target for WebSocketReader with permessage-deflate: what a
// client sends once its upgrade is accepted, read as the server reads it.
//
// Input: byte 0 picks the settings (bit 0: permessage-deflate, bit 1: the
// client keeps its compression context, bits 2-3: the limits, bits 4-6: the
// client's window bits), byte 1 seeds the split into pieces, the rest is
// what the client sends. It is read twice, in one piece and in pieces of 1
// to 64 bytes: both must report the same events, since a verdict that
// depends on TCP segmentation is a bug, and every event must keep the
// promises of websocketreader_p.h.

#include "websocket/permessagedeflate_p.h"
#include "websocket/utf8validator_p.h"
#include "websocket/websocketreader_p.h"

#include <QtCore/QByteArray>
#include <QtCore/QList>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

using namespace sluice;

[[noreturn]] void fail(const char *what, const QByteArray &detail = QByteArray())
{
    std::fprintf(stderr, "fuzz_websocket: %s %s\n", what, detail.constData());
    std::abort();
}

#define FUZZ_CHECK(condition, detail) \
    do { \
        if (!(condition)) \
            fail("check failed: " #condition, detail); \
    } while (false)

struct Options
{
    WebSocketReader::Settings settings;
    bool deflate = false;
    bool clientTakeover = false;
    int clientWindowBits = 15;
};

Options optionsFor(std::uint8_t selector)
{
    Options options;
    options.deflate = selector & 1;
    options.clientTakeover = selector & 2;
    // Limits an input of a few KiB can reach, uncompressed or inflated.
    switch ((selector >> 2) & 3) {
    case 1:
        options.settings = {64 * 1024, 64 * 1024};
        break;
    case 2:
        options.settings = {100, 1000};
        break;
    case 3:
        options.settings = {1000, 100};
        break;
    default:
        break;
    }
    options.clientWindowBits = 8 + ((selector >> 4) & 7);
    return options;
}

struct Event
{
    enum Kind { Message, Ping, Pong, Close, Failed };
    Kind kind;
    int detail; // opcode or code
    QByteArray payload;
    bool operator==(const Event &other) const
    {
        return kind == other.kind && detail == other.detail && payload == other.payload;
    }
};

QByteArray describe(const QList<Event> &events)
{
    QByteArray text;
    for (const Event &event : events)
        text += QByteArray::number(int(event.kind)) + '/' + QByteArray::number(event.detail) + '/'
                + QByteArray::number(event.payload.size()) + ' ';
    return text;
}

// Records the events, checking each against what the reader promises.
class Checker : public WebSocketReader::Receiver
{
public:
    explicit Checker(const WebSocketReader::Settings &settings)
        : m_settings(settings)
    { }

    QList<Event> events;
    bool ended = false;

    bool messageReceived(WebSocketOpcode opcode, QByteArrayView payload,
                         QByteArray *buffer) override
    {
        FUZZ_CHECK(!ended, "message after the end");
        FUZZ_CHECK(opcode == WebSocketOpcode::Text || opcode == WebSocketOpcode::Binary,
                   QByteArray::number(int(opcode)));
        FUZZ_CHECK(payload.size() <= m_settings.maxMessageBytes,
                   QByteArray::number(payload.size()));
        if (opcode == WebSocketOpcode::Text)
            FUZZ_CHECK(Utf8Validator::isValidUtf8(payload.data(), payload.size()),
                       payload.toByteArray().toHex());
        if (buffer)
            FUZZ_CHECK(buffer->constData() == payload.data() && buffer->size() == payload.size(),
                       "the buffer is not the payload");
        events.append({Event::Message, int(opcode), payload.toByteArray()});
        return true;
    }
    bool pingReceived(QByteArrayView payload) override { return control(Event::Ping, payload); }
    bool pongReceived(QByteArrayView payload) override { return control(Event::Pong, payload); }
    void closeReceived(quint16 code, QByteArrayView reason) override
    {
        FUZZ_CHECK(!ended, "close after the end");
        FUZZ_CHECK(code == CloseStatus::NoStatus || WebSocketFrame::isValidCloseCode(code),
                   QByteArray::number(code));
        FUZZ_CHECK(code != CloseStatus::NoStatus || reason.isEmpty(), reason.toByteArray());
        FUZZ_CHECK(reason.size() <= WebSocketFrame::MaxControlPayload - 2,
                   QByteArray::number(reason.size()));
        FUZZ_CHECK(Utf8Validator::isValidUtf8(reason.data(), reason.size()),
                   reason.toByteArray().toHex());
        ended = true;
        events.append({Event::Close, code, reason.toByteArray()});
    }
    void readFailed(quint16 code, const char *why) override
    {
        FUZZ_CHECK(!ended, "failure after the end");
        FUZZ_CHECK(code == CloseStatus::ProtocolError || code == CloseStatus::InvalidPayload
                           || code == CloseStatus::TooBig,
                   QByteArray::number(code));
        FUZZ_CHECK(why && *why, QByteArray::number(code));
        ended = true;
        events.append({Event::Failed, code, QByteArray()});
    }

private:
    bool control(Event::Kind kind, QByteArrayView payload)
    {
        FUZZ_CHECK(!ended, "control frame after the end");
        FUZZ_CHECK(payload.size() <= WebSocketFrame::MaxControlPayload,
                   QByteArray::number(payload.size()));
        events.append({kind, 0, payload.toByteArray()});
        return true;
    }

    WebSocketReader::Settings m_settings;
};

DeflateStreams &sharedStreams()
{
    static DeflateStreams streams;
    return streams;
}

QList<Event> read(const QByteArray &input, const QList<qsizetype> &pieces, const Options &options)
{
    std::unique_ptr<PerMessageDeflate> deflate;
    if (options.deflate) {
        DeflateParameters parameters;
        parameters.clientNoContextTakeover = !options.clientTakeover;
        parameters.clientMaxWindowBits = options.clientWindowBits;
        WebSocketCompression compression;
        compression.enabled = true;
        deflate = std::make_unique<PerMessageDeflate>(parameters, compression, &sharedStreams());
    }
    WebSocketReader reader(options.settings);
    reader.setDeflate(deflate.get());
    Checker checker(options.settings);
    // The reader unmasks in place: its own copy.
    QByteArray bytes = input;
    qsizetype offset = 0;
    for (const qsizetype piece : pieces) {
        reader.feed(bytes.data() + offset, piece, checker);
        offset += piece;
        FUZZ_CHECK(reader.isDone() == checker.ended, describe(checker.events));
        // Nothing held once done, and never much more than was sent.
        if (reader.isDone())
            FUZZ_CHECK(reader.bufferedBytes() == 0, QByteArray::number(reader.bufferedBytes()));
        FUZZ_CHECK(reader.bufferedBytes() <= 2 * offset + 4096,
                   QByteArray::number(reader.bufferedBytes()));
    }
    if (deflate && !options.clientTakeover)
        FUZZ_CHECK(deflate->heldBytes() == 0, QByteArray::number(deflate->heldBytes()));
    return checker.events;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size < 2)
        return 0;
    const Options options = optionsFor(data[0]);
    const QByteArray input(reinterpret_cast<const char *>(data + 2), qsizetype(size - 2));

    const QList<Event> whole = read(input, {input.size()}, options);

    // Pieces of 1 to 64 bytes (1 to 4 a quarter of the time), from a small
    // generator seeded by byte 1.
    QList<qsizetype> pieces;
    std::uint32_t state = 0x9e3779b9u ^ (std::uint32_t(data[1]) * 0x01000193u);
    for (qsizetype left = input.size(); left > 0;) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        const qsizetype most = (state >> 8) % 4 ? 64 : 4;
        const qsizetype piece = qMin<qsizetype>(left, 1 + state % most);
        pieces.append(piece);
        left -= piece;
    }
    const QList<Event> split = read(input, pieces, options);

    if (!(whole == split)) {
        std::fprintf(stderr, "in one piece: %s\nin pieces:    %s\n", describe(whole).constData(),
                     describe(split).constData());
        fail("the events depend on how the input is split");
    }
    return 0;
}
