// WebSocketReader and Utf8Validator without a socket, in the manner of
// QtWebSockets' tst_dataprocessor: masked client frames are built here and
// fed whole, cut at every point and one byte at a time, and every event the
// reader reports is recorded with the number of bytes fed when it came. So
// the tests tell not only what failed but at which byte: RFC 6455 wants a
// connection failed as soon as the client breaks the protocol, and a limit
// that waits for the payload has already paid for it.

#include "websocket/permessagedeflate_p.h"
#include "websocket/utf8validator_p.h"
#include "websocket/websocketreader_p.h"

#include <QtCore/QFile>
#include <QtCore/QRandomGenerator>
#include <QtTest/QtTest>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>

using namespace sluice;

namespace {

// Opcodes and the bits of a frame's first byte (RFC 6455 5.2) as plain
// numbers: the tests also send what WebSocketOpcode has no name for.
enum : quint8 { Cont = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };
enum : quint8 { Fin = 0x80, Rsv1 = 0x40, Rsv2 = 0x20, Rsv3 = 0x10 };
constexpr quint32 kMask = 0x37fa213d;
constexpr qint64 MiB = 1024 * 1024;

using Settings = WebSocketReader::Settings;
using Cuts = QList<qsizetype>;

// --- frames as a client writes them ------------------------------------

QByteArray frameHead(quint8 first, quint64 length, std::optional<quint32> mask = kMask)
{
    QByteArray head(1, char(first));
    const quint8 maskBit = mask ? 0x80 : 0;
    if (length < 126) {
        head.append(char(maskBit | length));
    } else if (length <= 0xFFFF) {
        head.append(char(maskBit | 126));
        head.append(char(length >> 8)).append(char(length));
    } else {
        head.append(char(maskBit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            head.append(char(length >> shift));
    }
    for (int shift = 24; mask && shift >= 0; shift -= 8)
        head.append(char(*mask >> shift));
    return head;
}

qsizetype headSize(qsizetype payloadSize)
{
    return frameHead(0, quint64(payloadSize)).size();
}

// The head size a frame on the wire says it has: length field and mask included.
qsizetype headSizeOf(const QByteArray &frame)
{
    const int length = frame.at(1) & 0x7F;
    return 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) + (frame.at(1) & 0x80 ? 4 : 0);
}

QByteArray frame(quint8 opcode, QByteArrayView payload, quint8 bits = Fin,
                 std::optional<quint32> mask = kMask)
{
    QByteArray wire = frameHead(bits | opcode, quint64(payload.size()), mask);
    const qsizetype start = wire.size();
    wire.append(payload);
    for (qsizetype i = 0; mask && i < payload.size(); ++i)
        wire[start + i] = char(wire[start + i] ^ (*mask >> (24 - 8 * (i % 4))));
    return wire;
}

QByteArray closePayload(quint16 code, QByteArrayView reason = {})
{
    QByteArray payload;
    payload.append(char(code >> 8)).append(char(code)).append(reason);
    return payload;
}

QByteArray randomBytes(qsizetype size, quint32 seed)
{
    QRandomGenerator generator(seed);
    QByteArray bytes(size, Qt::Uninitialized);
    for (char &byte : bytes)
        byte = char(generator.bounded(256));
    return bytes;
}

// Exactly size bytes of valid UTF-8 with one- to four-byte sequences.
QByteArray sampleText(qsizetype size)
{
    static const QByteArray words = QByteArray::fromHex("cebae1bdb9cf83cebcceb5") // κόσμε
                                    + " ascii " + QByteArray::fromHex("f09f9880e282ac") + " ";
    QByteArray text;
    text.reserve(size);
    while (text.size() + words.size() <= size)
        text += words;
    return text + QByteArray(size - text.size(), 'x');
}

QByteArray sample(quint8 opcode, qsizetype size)
{
    return opcode == Text ? sampleText(size) : randomBytes(size, quint32(size));
}

// Cuts that leave every piece one byte.
Cuts everyByte(qsizetype size)
{
    Cuts cuts;
    for (qsizetype i = 1; i < size; ++i)
        cuts.append(i);
    return cuts;
}

// --- what the reader reports -------------------------------------------

struct Event
{
    enum Kind { Message, Ping, Pong, Close, Failed };
    Kind kind = Message;
    int opcode = 0; // of a message
    QByteArray payload; // a close frame's reason
    int code = 0; // a close frame's, or the failure's
    // Not compared: when and how it came.
    qsizetype at = -1; // bytes fed so far, the piece it came in included
    bool inBuffer = false;

    bool isEnd() const { return kind == Close || kind == Failed; }
    bool operator==(const Event &other) const
    {
        return kind == other.kind && opcode == other.opcode && payload == other.payload
               && code == other.code;
    }
};
using Events = QList<Event>;

Event message(quint8 opcode, const QByteArray &payload)
{
    return {Event::Message, opcode, payload};
}
Event pinged(const QByteArray &payload)
{
    return {Event::Ping, 0, payload};
}
Event ponged(const QByteArray &payload)
{
    return {Event::Pong, 0, payload};
}
Event closed(int code, const QByteArray &reason = {})
{
    return {Event::Close, 0, reason, code};
}
Event failed(int code)
{
    return {Event::Failed, 0, {}, code};
}

QByteArray describe(const Events &events)
{
    static const char *const kinds[] = {"message", "ping", "pong", "close", "failed"};
    QByteArrayList lines;
    for (const Event &event : events) {
        QByteArray line = kinds[event.kind];
        if (event.kind == Event::Message)
            line += " opcode " + QByteArray::number(event.opcode);
        if (event.isEnd())
            line += ' ' + QByteArray::number(event.code);
        if (event.kind != Event::Failed)
            line += " [" + QByteArray::number(event.payload.size()) + " bytes "
                    + event.payload.left(16).toHex() + (event.payload.size() > 16 ? "...]" : "]");
        lines += line + " at " + QByteArray::number(event.at);
    }
    return '{' + lines.join(", ") + '}';
}

// Records the reader's calls, and notes every promise of its header it breaks.
class Recorder : public WebSocketReader::Receiver
{
public:
    Events events;
    QByteArrayList broken;
    qsizetype fed = 0; // set by whoever feeds
    bool keepReading = true; // what each call returns
    std::function<void()> onEvent;

    bool messageReceived(WebSocketOpcode opcode, QByteArrayView payload,
                         QByteArray *buffer) override
    {
        Event event {Event::Message, int(opcode), payload.toByteArray()};
        if (buffer) {
            if (buffer->constData() != payload.data() || buffer->size() != payload.size())
                broken += "the buffer handed over is not the payload";
            // The receiver may keep it: the reader must not touch it again.
            const QByteArray taken = std::move(*buffer);
            event.inBuffer = true;
        }
        return record(event);
    }
    bool pingReceived(QByteArrayView payload) override
    {
        return record({Event::Ping, 0, payload.toByteArray()});
    }
    bool pongReceived(QByteArrayView payload) override
    {
        return record({Event::Pong, 0, payload.toByteArray()});
    }
    void closeReceived(quint16 code, QByteArrayView reason) override
    {
        record({Event::Close, 0, reason.toByteArray(), code});
    }
    void readFailed(quint16 code, const char *why) override
    {
        if (!why || !*why)
            broken += "a failure without a reason";
        record({Event::Failed, 0, {}, code});
    }

private:
    bool record(Event event)
    {
        if (!events.isEmpty() && events.last().isEnd())
            broken += "an event after the close or the failure";
        event.at = fed;
        events.append(event);
        if (onEvent)
            onEvent();
        return keepReading;
    }
};

struct Outcome
{
    Events events;
    QByteArrayList broken;
    bool done = false;
    qsizetype buffered = 0; // bufferedBytes() once all was fed
};

// Feeds data to reader in pieces ending at cuts, as reads from a socket.
void feed(WebSocketReader &reader, QByteArray data, Cuts cuts, Recorder &recorder)
{
    cuts.append(data.size());
    qsizetype from = 0;
    for (const qsizetype cut : std::as_const(cuts)) {
        recorder.fed = cut;
        reader.feed(data.data() + from, cut - from, recorder);
        from = cut;
    }
}

// What a fresh reader makes of wire cut at cuts.
Outcome read(const QByteArray &wire, const Cuts &cuts = {}, const Settings &settings = {},
             PerMessageDeflate *deflate = nullptr)
{
    WebSocketReader reader(settings);
    reader.setDeflate(deflate);
    Recorder recorder;
    feed(reader, wire, cuts, recorder);
    Outcome outcome {recorder.events, recorder.broken, reader.isDone(), reader.bufferedBytes()};
    const bool ended = !outcome.events.isEmpty() && outcome.events.last().isEnd();
    if (ended != outcome.done)
        outcome.broken += "isDone() is not whether the reader reported its end";
    if (outcome.done && outcome.buffered != 0)
        outcome.broken += "bytes still buffered after the end";
    return outcome;
}

Outcome readBytewise(const QByteArray &wire, const Settings &settings = {},
                     PerMessageDeflate *deflate = nullptr)
{
    return read(wire, everyByte(wire.size()), settings, deflate);
}

#define COMPARE_EVENTS(outcomeExpression, expectedExpression) \
    do { \
        const Outcome outcome_ = (outcomeExpression); \
        const Events expected_ = (expectedExpression); \
        QVERIFY2(outcome_.broken.isEmpty(), outcome_.broken.join("; ").constData()); \
        QVERIFY2(outcome_.events == expected_, ("\n   Actual:   " + describe(outcome_.events) \
                                                + "\n   Expected: " + describe(expected_)) \
                                                       .constData()); \
    } while (false)

// --- UTF-8 samples -----------------------------------------------------

struct Utf8Case
{
    const char *name;
    const char *hex;
    int failAt; // the first byte no continuation could make valid; -1: none
    bool complete; // whether it ends between code points
};

const Utf8Case utf8Cases[] = {
        // Valid.
        {"empty", "", -1, true},
        {"ascii", "48656c6c6f2c20776f726c6421", -1, true},
        {"ascii, 18 bytes (a word at a time)", "303132333435363738396162636465666768", -1, true},
        {"NUL", "00", -1, true},
        {"U+007F", "7f", -1, true},
        {"U+0080", "c280", -1, true},
        {"U+07FF", "dfbf", -1, true},
        {"U+0800", "e0a080", -1, true},
        {"U+D7FF", "ed9fbf", -1, true},
        {"U+E000", "ee8080", -1, true},
        {"U+FFFD", "efbfbd", -1, true},
        {"U+FFFE", "efbfbe", -1, true},
        {"U+FFFF", "efbfbf", -1, true},
        {"U+10000", "f0908080", -1, true},
        {"U+1F600", "f09f9880", -1, true},
        {"U+FFFFF", "f3bfbfbf", -1, true},
        {"U+100000", "f4808080", -1, true},
        {"U+10FFFF", "f48fbfbf", -1, true},
        {"kosme (Autobahn 6.2)", "cebae1bdb9cf83cebcceb5", -1, true},
        {"two bytes after 8 ascii", "6162636465666768c3a9", -1, true},
        {"mixed", "3132333435363738f09f98806162636465666768e282ac", -1, true},
        // Invalid: overlong forms, surrogates, past U+10FFFF, bytes that never lead.
        {"C0 80 (overlong U+0000)", "c080", 0, false},
        {"C1 BF (overlong U+007F)", "c1bf", 0, false},
        {"E0 80 80 (overlong U+0000)", "e08080", 1, false},
        {"E0 9F BF (overlong U+07FF)", "e09fbf", 1, false},
        {"F0 80 80 80 (overlong U+0000)", "f0808080", 1, false},
        {"F0 8F BF BF (overlong U+FFFF)", "f08fbfbf", 1, false},
        {"ED A0 80 (U+D800)", "eda080", 1, false},
        {"ED AD BF (U+DB7F)", "edadbf", 1, false},
        {"ED B0 80 (U+DC00)", "edb080", 1, false},
        {"ED BF BF (U+DFFF)", "edbfbf", 1, false},
        {"surrogate pair", "eda080edb080", 1, false},
        {"F4 90 80 80 (U+110000)", "f4908080", 1, false},
        {"F5 80 80 80", "f5808080", 0, false},
        {"F7 BF BF BF", "f7bfbfbf", 0, false},
        {"F8 (five bytes)", "f888808080", 0, false},
        {"FC (six bytes)", "fc8480808080", 0, false},
        {"FE", "fe", 0, false},
        {"FF", "ff", 0, false},
        {"stray 80", "80", 0, false},
        {"stray BF after ascii", "61bf", 1, false},
        {"one continuation too many", "c3a9a9", 2, false},
        {"two-byte lead, then ascii", "c241", 1, false},
        {"three-byte lead, then ascii", "e28241", 2, false},
        {"four-byte lead, then ascii", "f09f9841", 3, false},
        {"stray 80 after 8 ascii", "616263646566676880", 8, false},
        {"C0 after 9 ascii", "616263646566676869c0", 9, false},
        {"Autobahn 6.3.1", "cebae1bdb9cf83cebcceb5eda080656469746564", 12, false},
        {"Autobahn 6.4.x", "cebae1bdb9cf83cebcceb5f4908080656469746564", 12, false},
        // Cut off at the end.
        {"C2 at the end", "c2", -1, false},
        {"E2 82 at the end", "e282", -1, false},
        {"F0 9F 98 at the end", "f09f98", -1, false},
        {"kosme, then CE", "cebae1bdb9cf83cebcceb5ce", -1, false},
        {"8 ascii, then E0 A0", "6162636465666768e0a0", -1, false},
};

enum Utf8Rows { ValidRows = 1, InvalidRows = 2, AllRows = 3 };

void addUtf8Rows(int which)
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("failAt");
    QTest::addColumn<bool>("complete");
    for (const Utf8Case &c : utf8Cases) {
        const bool valid = c.failAt < 0 && c.complete;
        if (which & (valid ? ValidRows : InvalidRows))
            QTest::newRow(c.name) << QByteArray::fromHex(c.hex) << c.failAt << c.complete;
    }
}

// Qt's decoder as the reference: bytes are valid UTF-8 when they survive a
// round trip through QString, which turns what is invalid into U+FFFD.
bool qtSaysValid(const QByteArray &bytes)
{
    return QString::fromUtf8(bytes).toUtf8() == bytes;
}

// Whether some continuation makes prefix valid; each second-byte range of
// RFC 3629 holds 0x80 or 0xA0, so these two are enough to try.
bool qtSaysGoodPrefix(const QByteArray &prefix)
{
    for (int extra = 0; extra <= 3; ++extra) {
        for (int pick = 0; pick < (1 << extra); ++pick) {
            QByteArray candidate = prefix;
            for (int i = 0; i < extra; ++i)
                candidate += char((pick >> i) & 1 ? 0xA0 : 0x80);
            if (qtSaysValid(candidate))
                return true;
        }
    }
    return false;
}

// --- permessage-deflate as a client does it ----------------------------

// Python's zlib as websockets uses it: raw deflate, a sync flush per
// message, the trailing 00 00 FF FF cut off (RFC 7692 7.2.1).
class ClientDeflater
{
public:
    explicit ClientDeflater(int windowBits = 15, bool takeover = false)
        : m_takeover(takeover)
    {
        // zlib's raw deflate has no 8-bit window; 9 reaches back less than 256 bytes.
        deflateInit2(&m_stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -qMax(9, windowBits), 8,
                     Z_DEFAULT_STRATEGY);
    }
    ~ClientDeflater() { deflateEnd(&m_stream); }

    QByteArray compress(QByteArrayView data)
    {
        add(data);
        return finish();
    }
    void add(QByteArrayView data) { run(data, Z_NO_FLUSH); }
    QByteArray finish()
    {
        run({}, Z_SYNC_FLUSH);
        QByteArray out = std::exchange(m_out, QByteArray());
        if (out.endsWith(QByteArrayView("\x00\x00\xff\xff", 4)))
            out.chop(4);
        if (!m_takeover)
            deflateReset(&m_stream);
        return out;
    }

private:
    void run(QByteArrayView data, int flush)
    {
        m_stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
        m_stream.avail_in = uInt(data.size());
        char buffer[16384];
        do {
            m_stream.next_out = reinterpret_cast<Bytef *>(buffer);
            m_stream.avail_out = sizeof buffer;
            deflate(&m_stream, flush);
            m_out.append(buffer, qsizetype(sizeof buffer - m_stream.avail_out));
        } while (m_stream.avail_out == 0);
    }

    z_stream m_stream = {};
    bool m_takeover;
    QByteArray m_out;
};

QByteArray compressed(QByteArrayView data)
{
    return ClientDeflater().compress(data);
}

std::unique_ptr<PerMessageDeflate> serverDeflate(DeflateStreams *streams, bool clientTakeover,
                                                 int clientWindowBits = 15)
{
    DeflateParameters parameters;
    parameters.serverNoContextTakeover = true;
    parameters.clientNoContextTakeover = !clientTakeover;
    parameters.clientMaxWindowBits = clientWindowBits;
    WebSocketCompression options;
    options.enabled = true;
    return std::make_unique<PerMessageDeflate>(parameters, options, streams);
}

// --- memory ------------------------------------------------------------

// A field of /proc/self/status in bytes (VmRSS, VmHWM), -1 when unknown.
qint64 procStatusBytes(const QByteArray &field)
{
    QFile file(QStringLiteral("/proc/self/status"));
    if (!file.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : file.readAll().split('\n')) {
        if (line.startsWith(field + ':'))
            return line.mid(field.size() + 1).trimmed().split(' ').first().toLongLong() * 1024;
    }
    return -1;
}

// Starts VmHWM over from the current RSS (Linux 4.0's clear_refs).
bool resetPeakMemory()
{
    const int fd = ::open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0)
        return false;
    const bool ok = ::write(fd, "5", 1) == 1;
    ::close(fd);
    return ok;
}

} // namespace

class tst_WebSocketReader : public QObject
{
    Q_OBJECT

private slots:
    // Utf8Validator
    void utf8Validator_data() { addUtf8Rows(AllRows); }
    void utf8Validator();
    void utf8ValidatorAgreesWithQt();

    // Frames
    void unmask();
    void framing_data();
    void framing();
    void largeFrames();
    void severalFrames();
    void masking_data();
    void masking();

    // Fragments and control frames
    void fragmentation_data();
    void fragmentation();
    void emptyFragments();
    void protocolErrors_data();
    void protocolErrors();

    // Text
    void validText_data() { addUtf8Rows(ValidRows); }
    void validText();
    void invalidText_data() { addUtf8Rows(InvalidRows); }
    void invalidText();
    void autobahnFailFast_data();
    void autobahnFailFast();

    // Close frames
    void closeCodes_data();
    void closeCodes();
    void closeReason_data();
    void closeReason();
    void nothingAfterTheEnd();

    // Limits
    void frameLimit_data();
    void frameLimit();
    void messageLimit_data();
    void messageLimit();

    // permessage-deflate
    void deflateMessages_data();
    void deflateMessages();
    void deflateFragmented_data();
    void deflateFragmented();
    void deflateErrors_data();
    void deflateErrors();
    void deflateLimit_data();
    void deflateLimit();
    void deflateZipBomb();
    void deflateIncompressibleAtLimit();
    void deflateContextTakeover_data();
    void deflateContextTakeover();
    void deflateRfcExamples();

    // The reader's memory, and a receiver that ends the connection
    void bufferedBytes();
    void receiverEndsConnection_data();
    void receiverEndsConnection();

private:
    DeflateStreams m_streams;
};

// --- Utf8Validator -----------------------------------------------------

void tst_WebSocketReader::utf8Validator()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, failAt);
    QFETCH(bool, complete);
    const bool valid = failAt < 0 && complete;
    QCOMPARE(Utf8Validator::isValidUtf8(bytes.constData(), bytes.size()), valid);

    // A byte at a time: it fails at the first bad byte, and stays failed.
    Utf8Validator validator;
    int failedAt = -1;
    for (int i = 0; i < bytes.size(); ++i) {
        const bool ok = validator.feed(bytes.constData() + i, 1);
        if (!ok && failedAt < 0)
            failedAt = i;
        QVERIFY(ok == (failedAt < 0));
    }
    QCOMPARE(failedAt, failAt);
    QCOMPARE(validator.isValid(), failAt < 0);
    QCOMPARE(validator.isComplete(), valid);

    // In two pieces cut anywhere: the same verdict.
    for (int cut = 0; cut <= bytes.size(); ++cut) {
        Utf8Validator halves;
        const bool ok = halves.feed(bytes.constData(), cut)
                        && halves.feed(bytes.constData() + cut, bytes.size() - cut);
        QCOMPARE(ok, failAt < 0);
        QCOMPARE(halves.isComplete(), valid);
    }
}

void tst_WebSocketReader::utf8ValidatorAgreesWithQt()
{
    // Lead, continuation and boundary bytes, mostly; an ASCII run first half
    // of the time, for the word-at-a-time path.
    static const uchar interesting[]
            = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
               0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF};
    QRandomGenerator generator(6455);
    for (int round = 0; round < 20000; ++round) {
        QByteArray bytes(generator.bounded(2) ? generator.bounded(12) : 0, 'a');
        for (int i = generator.bounded(9); i > 0; --i) {
            bytes += generator.bounded(4)
                             ? char(interesting[generator.bounded(int(sizeof interesting))])
                             : char(generator.bounded(256));
        }
        int expectedFailAt = -1;
        for (int i = 1; i <= bytes.size() && expectedFailAt < 0; ++i) {
            if (!qtSaysGoodPrefix(bytes.left(i)))
                expectedFailAt = i - 1;
        }
        Utf8Validator validator;
        int failedAt = -1;
        for (int i = 0; i < bytes.size() && failedAt < 0; ++i) {
            if (!validator.feed(bytes.constData() + i, 1))
                failedAt = i;
        }
        const QByteArray hex = bytes.toHex(' ');
        QVERIFY2(failedAt == expectedFailAt, hex.constData());
        QVERIFY2(Utf8Validator::isValidUtf8(bytes.constData(), bytes.size()) == qtSaysValid(bytes),
                 hex.constData());
    }
}

// --- frames ------------------------------------------------------------

void tst_WebSocketReader::unmask()
{
    const uchar key[4] = {0x37, 0xfa, 0x21, 0x3d};
    const QByteArray data = randomBytes(40, 1);
    for (int offset = 0; offset < 4; ++offset) {
        for (int size = 0; size <= data.size(); ++size) {
            QByteArray bytes = data.left(size);
            QCOMPARE(WebSocketFrame::unmask(bytes.data(), size, key, offset), (offset + size) % 4);
            for (int i = 0; i < size; ++i)
                QCOMPARE(uchar(bytes[i]), uchar(data[i] ^ key[(offset + i) % 4]));
        }
    }
}

void tst_WebSocketReader::framing_data()
{
    QTest::addColumn<int>("opcode");
    QTest::addColumn<int>("size");
    for (const quint8 opcode : {Text, Binary}) {
        for (const int size : {0, 1, 125, 126, 127, 65535, 65536, 65537})
            QTest::addRow("%s %d", opcode == Text ? "text" : "binary", size) << int(opcode) << size;
    }
}

void tst_WebSocketReader::framing()
{
    QFETCH(int, opcode);
    QFETCH(int, size);
    const QByteArray payload = sample(opcode, size);
    const QByteArray wire = frame(opcode, payload);
    const Events expected {message(opcode, payload)};

    // Arrived whole, a message is handed over from the bytes fed: no copy.
    const Outcome whole = read(wire);
    COMPARE_EVENTS(whole, expected);
    QVERIFY(!whole.events.first().inBuffer);
    QCOMPARE(whole.buffered, qsizetype(0));

    const Outcome bytewise = readBytewise(wire);
    COMPARE_EVENTS(bytewise, expected);
    QCOMPARE(bytewise.buffered, qsizetype(0));

    // In two pieces: everywhere in small frames, around the head and the
    // middle in big ones.
    const qsizetype head = headSize(size);
    Cuts cuts {1, head - 1, head, head + 1, wire.size() / 2, wire.size() - 1};
    if (wire.size() <= 200)
        cuts = everyByte(wire.size());
    for (const qsizetype cut : std::as_const(cuts)) {
        if (cut <= 0 || cut >= wire.size())
            continue;
        const Outcome split = read(wire, {cut});
        COMPARE_EVENTS(split, expected);
        QCOMPARE(split.buffered, qsizetype(0));
    }
}

void tst_WebSocketReader::largeFrames()
{
    // Past 2^16 and 2^20, fed whole and in socket-sized pieces.
    for (const quint8 opcode : {Binary, Text}) {
        const QByteArray payload = sample(opcode, 5 * MiB + 3);
        const QByteArray wire = frame(opcode, payload);
        COMPARE_EVENTS(read(wire), Events {message(opcode, payload)});
        Cuts cuts;
        for (qsizetype cut = 65536; cut < wire.size(); cut += 65536)
            cuts.append(cut);
        const Outcome pieces = read(wire, cuts);
        COMPARE_EVENTS(pieces, Events {message(opcode, payload)});
        QCOMPARE(pieces.buffered, qsizetype(0));
    }
}

void tst_WebSocketReader::severalFrames()
{
    const QByteArray binary = randomBytes(300, 7);
    const QByteArray wire
            = frame(Text, "Hello") + frame(Binary, binary) + frame(Ping, "p") + frame(Pong, "")
              + frame(Text, "ab", 0) + frame(Ping, "between") + frame(Cont, "c") + frame(Binary, "")
              + frame(Close, closePayload(1000, "bye")) + frame(Text, "after the close");
    const Events expected {message(Text, "Hello"),
                           message(Binary, binary),
                           pinged("p"),
                           ponged(""),
                           pinged("between"),
                           message(Text, "abc"),
                           message(Binary, ""),
                           closed(1000, "bye")};
    COMPARE_EVENTS(read(wire), expected);
    COMPARE_EVENTS(readBytewise(wire), expected);
    for (qsizetype cut = 1; cut < wire.size(); ++cut)
        COMPARE_EVENTS(read(wire, {cut}), expected);
}

void tst_WebSocketReader::masking_data()
{
    QTest::addColumn<quint32>("mask");
    QTest::addColumn<int>("size");
    for (const quint32 mask : {0x00000000u, 0xffffffffu, 0x01020304u, 0x80808080u, kMask}) {
        for (const int size : {1, 3, 4, 7, 8, 9, 15, 16, 17, 33})
            QTest::addRow("%08x, %d bytes", mask, size) << mask << size;
    }
}

void tst_WebSocketReader::masking()
{
    QFETCH(quint32, mask);
    QFETCH(int, size);
    const QByteArray payload = randomBytes(size, mask ^ quint32(size));
    const QByteArray wire = frame(Binary, payload, Fin, mask);
    const qsizetype head = headSize(size);
    // Three pieces cut at every pair of points: each piece starts at every
    // offset into the key, and is of every length.
    for (int first = 0; first <= size; ++first) {
        for (int second = first; second <= size; ++second)
            COMPARE_EVENTS(read(wire, {head + first, head + second}),
                           Events {message(Binary, payload)});
    }
}

// --- fragments and control frames --------------------------------------

void tst_WebSocketReader::fragmentation_data()
{
    QTest::addColumn<int>("opcode");
    QTest::addColumn<int>("fragments"); // 0: one per byte
    QTest::addColumn<bool>("controls");
    for (const quint8 opcode : {Text, Binary}) {
        for (const int fragments : {2, 3, 5, 0}) {
            for (const bool controls : {false, true}) {
                QTest::addRow("%s, %d fragments%s", opcode == Text ? "text" : "binary", fragments,
                              controls ? ", pings and pongs between" : "")
                        << int(opcode) << fragments << controls;
            }
        }
    }
}

void tst_WebSocketReader::fragmentation()
{
    QFETCH(int, opcode);
    QFETCH(int, fragments);
    QFETCH(bool, controls);
    const QByteArray payload = sample(opcode, 40);
    const int count = fragments ? fragments : int(payload.size());
    QByteArray wire;
    Events expected;
    for (int i = 0; i < count; ++i) {
        // Cut anywhere, inside UTF-8 sequences too.
        const qsizetype from = payload.size() * i / count;
        const qsizetype to = payload.size() * (i + 1) / count;
        wire += frame(i ? Cont : opcode, payload.mid(from, to - from), i + 1 == count ? Fin : 0);
        if (controls && i + 1 < count) {
            const QByteArray n = QByteArray::number(i);
            wire += frame(Ping, "ping " + n) + frame(Pong, "pong " + n);
            expected += Events {pinged("ping " + n), ponged("pong " + n)};
        }
    }
    expected += message(opcode, payload);
    COMPARE_EVENTS(read(wire), expected);
    const Outcome bytewise = readBytewise(wire);
    COMPARE_EVENTS(bytewise, expected);
    QCOMPARE(bytewise.buffered, qsizetype(0));
    for (qsizetype cut = 1; cut < wire.size(); cut += 3)
        COMPARE_EVENTS(read(wire, {cut}), expected);
}

void tst_WebSocketReader::emptyFragments()
{
    COMPARE_EVENTS(
            read(frame(Text, "", 0) + frame(Cont, "abc", 0) + frame(Cont, "", 0) + frame(Cont, "")),
            Events {message(Text, "abc")});
    COMPARE_EVENTS(readBytewise(frame(Binary, "", 0) + frame(Ping, "") + frame(Cont, "")),
                   (Events {pinged(""), message(Binary, "")}));
}

void tst_WebSocketReader::protocolErrors_data()
{
    QTest::addColumn<QByteArray>("before"); // frames read before the bad one
    QTest::addColumn<QByteArray>("bad");
    QTest::addColumn<int>("deadline"); // bytes of bad by which the failure must have come

    const QByteArray ok = frame(Text, "ok");
    const QByteArray open = frame(Text, "open", 0); // a message left unfinished
    // Most can be judged on the head alone, by the time its mask has come.
    const auto add = [](const QByteArray &name, const QByteArray &before, const QByteArray &bad,
                        int deadline = -1) {
        QTest::newRow(name.constData())
                << before << bad << (deadline < 0 ? int(headSizeOf(bad)) : deadline);
    };
    add("continuation without a message", {}, frame(Cont, "x"));
    add("continuation after a whole message", ok, frame(Cont, "x"));
    add("continuation after a ping", frame(Ping, "p"), frame(Cont, "x"));
    add("text inside a fragmented text", open, frame(Text, "x"));
    add("binary inside a fragmented text", open, frame(Binary, "x"));
    add("text inside a fragmented binary", frame(Binary, "b", 0), frame(Text, "x"));
    add("text after a ping inside a fragmented text", open + frame(Ping, "p"), frame(Text, "x"));
    add("fragmented ping", {}, frame(Ping, "p", 0));
    add("fragmented pong", {}, frame(Pong, "p", 0));
    add("fragmented close", {}, frame(Close, closePayload(1000), 0));
    add("fragmented ping inside a fragmented text", open, frame(Ping, "p", 0));
    add("ping of 126 bytes", {}, frame(Ping, QByteArray(126, 'p')));
    add("pong of 65536 bytes", {}, frame(Pong, QByteArray(65536, 'p')));
    add("close of 126 bytes", {}, frame(Close, closePayload(1000, QByteArray(124, 'r'))));
    add("ping of 126 bytes inside a fragmented text", open, frame(Ping, QByteArray(126, 'p')));
    const struct
    {
        const char *name;
        quint8 bit;
    } reserved[] = {{"RSV1", Rsv1}, {"RSV2", Rsv2}, {"RSV3", Rsv3}};
    for (const auto &r : reserved) {
        const QByteArray name = QByteArray(r.name) + " on ";
        add(name + "text", {}, frame(Text, "x", Fin | r.bit));
        add(name + "binary", {}, frame(Binary, "x", Fin | r.bit));
        add(name + "a first fragment", {}, frame(Text, "x", r.bit));
        add(name + "continuation", open, frame(Cont, "x", Fin | r.bit));
        add(name + "ping", {}, frame(Ping, "x", Fin | r.bit));
        add(name + "pong", {}, frame(Pong, "x", Fin | r.bit));
        add(name + "close", {}, frame(Close, closePayload(1000), Fin | r.bit));
    }
    for (const quint8 opcode : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        add("reserved opcode " + QByteArray::number(opcode, 16), {}, frame(opcode, "x"));
        add("reserved opcode " + QByteArray::number(opcode, 16) + " inside a fragmented text", open,
            frame(opcode, "x"));
    }
    add("unmasked text", {}, frame(Text, "x", Fin, std::nullopt));
    add("unmasked empty text", ok, frame(Text, "", Fin, std::nullopt));
    add("unmasked binary", {}, frame(Binary, "x", Fin, std::nullopt));
    add("unmasked continuation", open, frame(Cont, "x", Fin, std::nullopt));
    add("unmasked ping", {}, frame(Ping, "x", Fin, std::nullopt));
    add("unmasked close", {}, frame(Close, closePayload(1000), Fin, std::nullopt));
    add("64-bit length with its top bit set", {}, frameHead(Fin | Binary, quint64(1) << 63));
    add("64-bit length of all ones", {}, frameHead(Fin | Binary, ~quint64(0)));
    add("close with a one-byte payload", {}, frame(Close, "\x03"), 7);
    add("close with a one-byte payload inside a fragmented text", open, frame(Close, "\x03"), 7);
}

void tst_WebSocketReader::protocolErrors()
{
    QFETCH(QByteArray, before);
    QFETCH(QByteArray, bad);
    QFETCH(int, deadline);
    // Nothing after the bad frame may be read.
    const QByteArray wire = before + bad + frame(Text, "never read") + frame(Ping, "never");
    const Outcome good = read(before);
    QVERIFY(good.broken.isEmpty() && !good.done);
    const Events expected = good.events + Events {failed(1002)};

    COMPARE_EVENTS(read(wire), expected);
    const Outcome bytewise = readBytewise(wire);
    COMPARE_EVENTS(bytewise, expected);
    // As soon as the bad frame says so: by its head, mostly.
    const qsizetype at = bytewise.events.last().at - before.size();
    QVERIFY2(at >= 1 && at <= deadline,
             qPrintable(QStringLiteral("failed at byte %1 of the bad frame, not by %2")
                                .arg(at)
                                .arg(deadline)));
}

// --- text --------------------------------------------------------------

void tst_WebSocketReader::validText()
{
    QFETCH(QByteArray, bytes);
    const Events expected {message(Text, bytes)};
    COMPARE_EVENTS(readBytewise(frame(Text, bytes)), expected);
    // In two fragments cut at every byte, a ping between.
    for (qsizetype cut = 0; cut <= bytes.size(); ++cut) {
        const QByteArray wire
                = frame(Text, bytes.left(cut), 0) + frame(Ping, "") + frame(Cont, bytes.mid(cut));
        COMPARE_EVENTS(read(wire), (Events {pinged(""), message(Text, bytes)}));
    }
    // A fragment per byte.
    QByteArray wire = frame(Text, "", 0);
    for (const char byte : bytes)
        wire += frame(Cont, QByteArrayView(&byte, 1), 0);
    wire += frame(Cont, "");
    COMPARE_EVENTS(readBytewise(wire), expected);
}

void tst_WebSocketReader::invalidText()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, failAt);
    // Valid text after the bad byte, so that failing at it and failing at
    // the end of the frame differ; text cut off can only fail at its end.
    const QByteArray payload = failAt >= 0 ? bytes + "!tail" : bytes;
    const qsizetype badByte = failAt >= 0 ? failAt : bytes.size() - 1;
    const Events expected {failed(1007)};

    const QByteArray single = frame(Text, payload) + frame(Text, "never read");
    const Outcome whole = read(single);
    COMPARE_EVENTS(whole, expected);
    const Outcome bytewise = readBytewise(single);
    COMPARE_EVENTS(bytewise, expected);
    QCOMPARE(bytewise.events.last().at, headSize(payload.size()) + badByte + 1);

    // A fragment per byte (each 7 bytes on the wire): failed in the
    // fragment that holds the bad byte, not at the last one.
    QByteArray fragments;
    for (qsizetype i = 0; i < payload.size(); ++i)
        fragments += frame(i ? Cont : Text, payload.mid(i, 1), i + 1 == payload.size() ? Fin : 0);
    const Outcome fragmented = readBytewise(fragments);
    COMPARE_EVENTS(fragmented, expected);
    QCOMPARE(fragmented.events.last().at, 7 * (badByte + 1));

    // In two fragments cut anywhere.
    for (qsizetype cut = 0; cut <= payload.size(); ++cut)
        COMPARE_EVENTS(read(frame(Text, payload.left(cut), 0) + frame(Cont, payload.mid(cut))),
                       expected);
}

void tst_WebSocketReader::autobahnFailFast_data()
{
    // Autobahn 6.4.1-6.4.4: κόσμε, then F4 90 80 80 (past U+10FFFF), then
    // "edited". F4 could still be valid; 90 cannot, and there the
    // connection fails, whatever has not arrived yet.
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<Cuts>("chops"); // how Autobahn sends it
    QTest::addColumn<int>("badByte"); // where 90 is on the wire

    const QByteArray p1 = QByteArray::fromHex("cebae1bdb9cf83cebcceb5");
    const QByteArray p2 = QByteArray::fromHex("f4908080");
    const QByteArray p3 = QByteArray::fromHex("656469746564");

    const QByteArray f1 = frame(Text, p1, 0);
    QByteArray wire = f1 + frame(Cont, p2, 0) + frame(Cont, p3);
    QTest::newRow("6.4.1: three fragments") << wire << Cuts {f1.size(), f1.size() + headSize(4) + 4}
                                            << int(f1.size() + headSize(4) + 1);

    const QByteArray g1 = frame(Text, p1 + p2.left(1), 0);
    wire = g1 + frame(Cont, p2.mid(1, 1), 0) + frame(Cont, p2.mid(2) + p3);
    QTest::newRow("6.4.2: fragments cut inside the code point")
            << wire << Cuts {g1.size(), g1.size() + headSize(1) + 1}
            << int(g1.size() + headSize(1));

    wire = frame(Text, p1 + p2 + p3);
    const qsizetype one = headSize(p1.size() + p2.size() + p3.size());
    QTest::newRow("6.4.3: one frame in three chops")
            << wire << Cuts {one + p1.size(), one + p1.size() + p2.size()}
            << int(one + p1.size() + 1);
    QTest::newRow("6.4.4: one frame, the code point a byte at a time")
            << wire
            << Cuts {one + p1.size(), one + p1.size() + 1, one + p1.size() + 2, one + p1.size() + 3,
                     one + p1.size() + 4}
            << int(one + p1.size() + 1);
}

void tst_WebSocketReader::autobahnFailFast()
{
    QFETCH(QByteArray, wire);
    QFETCH(Cuts, chops);
    QFETCH(int, badByte);
    const Events expected {failed(1007)};

    // In Autobahn's chops: failed in the chop that holds the bad byte.
    const Outcome chopped = read(wire, chops);
    COMPARE_EVENTS(chopped, expected);
    const qsizetype chopEnd = *std::find_if(chops.cbegin(), chops.cend(),
                                            [&](qsizetype cut) { return cut > badByte; });
    QCOMPARE(chopped.events.last().at, chopEnd);
    QVERIFY(chopEnd < wire.size());

    const Outcome bytewise = readBytewise(wire);
    COMPARE_EVENTS(bytewise, expected);
    QCOMPARE(bytewise.events.last().at, badByte + 1);
}

// --- close frames ------------------------------------------------------

void tst_WebSocketReader::closeCodes_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<bool>("valid");
    // RFC 6455 7.4 and the IANA registry: 1004-1006 and 1015 reserved,
    // 1016-2999 for future standards, 3000-4999 for applications.
    for (const int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                           3000, 3999, 4000, 4999})
        QTest::addRow("%d", code) << code << true;
    for (const int code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535})
        QTest::addRow("%d", code) << code << false;
}

void tst_WebSocketReader::closeCodes()
{
    QFETCH(int, code);
    QFETCH(bool, valid);
    const QByteArray wire = frame(Close, closePayload(quint16(code), "bye")) + frame(Text, "late");
    const Events expected {valid ? closed(code, "bye") : failed(1002)};
    COMPARE_EVENTS(read(wire), expected);
    COMPARE_EVENTS(readBytewise(wire), expected);
}

void tst_WebSocketReader::closeReason_data()
{
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<int>("code"); // what the reader reports
    QTest::addColumn<bool>("delivered"); // as a close frame, or as a failure

    QTest::newRow("empty: no status") << QByteArray() << 1005 << true;
    QTest::newRow("code, no reason") << closePayload(1000) << 1000 << true;
    QTest::newRow("123 bytes of ascii") << closePayload(1001, QByteArray(123, 'r')) << 1001 << true;
    const QByteArray twoByte = QByteArray::fromHex("c3a9").repeated(61) + 'a';
    QTest::newRow("123 bytes of two-byte characters")
            << closePayload(1000, twoByte) << 1000 << true;
    QTest::newRow("kosme") << closePayload(4000, QByteArray::fromHex("cebae1bdb9cf83cebcceb5"))
                           << 4000 << true;
    QTest::newRow("124 bytes: the frame is too long")
            << closePayload(1000, QByteArray(124, 'r')) << 1002 << false;
    QTest::newRow("one byte") << QByteArray(1, '\x03') << 1002 << false;
    const struct
    {
        const char *name;
        const char *hex;
    } invalid[] = {{"FF", "ff"},
                   {"overlong", "c080"},
                   {"surrogate", "eda080"},
                   {"past U+10FFFF", "f4908080"},
                   {"cut off", "cebae1bdb9cf83cebcceb5ce"}};
    for (const auto &reason : invalid) {
        QTest::addRow("invalid UTF-8: %s", reason.name)
                << closePayload(1000, QByteArray::fromHex(reason.hex)) << 1007 << false;
    }
}

void tst_WebSocketReader::closeReason()
{
    QFETCH(QByteArray, payload);
    QFETCH(int, code);
    QFETCH(bool, delivered);
    const QByteArray wire = frame(Close, payload) + frame(Text, "late");
    const Events expected {delivered ? closed(code, payload.mid(2)) : failed(code)};
    COMPARE_EVENTS(read(wire), expected);
    COMPARE_EVENTS(readBytewise(wire), expected);
}

void tst_WebSocketReader::nothingAfterTheEnd()
{
    // A close frame between fragments is valid; what follows is not read,
    // not in the same feed, not later.
    const QByteArray wire = frame(Text, "open", 0) + frame(Close, closePayload(1000))
                            + frame(Cont, "ed") + frame(Ping, "p");
    WebSocketReader reader;
    Recorder recorder;
    feed(reader, wire, {}, recorder);
    QVERIFY(reader.isDone());
    QCOMPARE(reader.bufferedBytes(), qsizetype(0));
    feed(reader, frame(Text, "later") + frame(Binary, "x", 0), {}, recorder);
    feed(reader, frame(Binary, "x", Rsv2), {}, recorder);
    COMPARE_EVENTS((Outcome {recorder.events, recorder.broken}), Events {closed(1000)});
    QCOMPARE(reader.bufferedBytes(), qsizetype(0));

    // And after a failure.
    WebSocketReader failing;
    Recorder failures;
    feed(failing, frame(Text, "\xff") + frame(Text, "after"), {}, failures);
    feed(failing, frame(Close, closePayload(1000)), {}, failures);
    COMPARE_EVENTS((Outcome {failures.events, failures.broken}), Events {failed(1007)});
    QVERIFY(failing.isDone());
}

// --- limits ------------------------------------------------------------

void tst_WebSocketReader::frameLimit_data()
{
    QTest::addColumn<qint64>("limit");
    QTest::addColumn<quint64>("size");
    QTest::newRow("at 1000") << qint64(1000) << quint64(1000);
    QTest::newRow("past 1000") << qint64(1000) << quint64(1001);
    QTest::newRow("16-bit length past 125") << qint64(125) << quint64(126);
    QTest::newRow("64-bit length past 1000") << qint64(1000) << quint64(65536);
    QTest::newRow("64-bit length of 2^62") << qint64(1000) << (quint64(1) << 62);
    QTest::newRow("limit 0, empty frame") << qint64(0) << quint64(0);
    QTest::newRow("limit 0, one byte") << qint64(0) << quint64(1);
    QTest::newRow("default limit, past 16 MiB")
            << Settings().maxFrameBytes << quint64(Settings().maxFrameBytes + 1);
}

void tst_WebSocketReader::frameLimit()
{
    QFETCH(qint64, limit);
    QFETCH(quint64, size);
    Settings settings;
    settings.maxFrameBytes = limit;
    if (qint64(size) <= limit) {
        const QByteArray payload = randomBytes(qsizetype(size), 3);
        COMPARE_EVENTS(readBytewise(frame(Binary, payload), settings),
                       Events {message(Binary, payload)});
        return;
    }
    // Refused from the head alone, before any of the payload comes: only
    // the head is fed.
    const QByteArray head = frameHead(Fin | Binary, size);
    const Outcome outcome = readBytewise(head, settings);
    COMPARE_EVENTS(outcome, Events {failed(1009)});
    QCOMPARE(outcome.events.last().at, head.size());
}

void tst_WebSocketReader::messageLimit_data()
{
    QTest::addColumn<QList<int>>("fragments");
    QTest::addColumn<int>("crossing"); // the fragment that crosses 1000 bytes; -1: none
    QTest::newRow("1000") << QList<int> {1000} << -1;
    QTest::newRow("1001") << QList<int> {1001} << 0;
    QTest::newRow("400+400+200") << QList<int> {400, 400, 200} << -1;
    QTest::newRow("400+400+201") << QList<int> {400, 400, 201} << 2;
    QTest::newRow("500+501") << QList<int> {500, 501} << 1;
    QTest::newRow("0+1000+0") << QList<int> {0, 1000, 0} << -1;
    QTest::newRow("0+1000+1") << QList<int> {0, 1000, 1} << 2;
    QTest::newRow("999+1") << QList<int> {999, 1} << -1;
}

void tst_WebSocketReader::messageLimit()
{
    QFETCH(QList<int>, fragments);
    QFETCH(int, crossing);
    Settings settings;
    settings.maxMessageBytes = 1000;
    // Pings of 125 bytes between fragments count for nothing.
    const QByteArray ping(125, 'p');
    QByteArray payload;
    QByteArray wire;
    Events expected;
    qsizetype crossingHeadEnd = -1;
    for (int i = 0; i < fragments.size(); ++i) {
        const bool last = i + 1 == fragments.size();
        const QByteArray part = randomBytes(fragments.at(i), quint32(i));
        if (i == crossing) {
            crossingHeadEnd = wire.size() + headSize(part.size());
            expected += failed(1009);
        }
        wire += frame(i ? Cont : Binary, part, last ? Fin : 0) + frame(Ping, ping);
        payload += part;
        if (crossing >= 0 && i >= crossing)
            continue;
        if (last)
            expected += message(Binary, payload);
        expected += pinged(ping);
    }

    const Outcome bytewise = readBytewise(wire, settings);
    COMPARE_EVENTS(bytewise, expected);
    if (crossing >= 0)
        QCOMPARE(bytewise.events.last().at, crossingHeadEnd);

    // Each message counts on its own: the same again is as good or as bad.
    COMPARE_EVENTS(read(wire + wire, {}, settings), crossing < 0 ? expected + expected : expected);
}

// --- permessage-deflate ------------------------------------------------

void tst_WebSocketReader::deflateMessages_data()
{
    QTest::addColumn<int>("opcode");
    QTest::addColumn<int>("size");
    for (const quint8 opcode : {Text, Binary}) {
        // 20000 and 200000 bytes inflate in several steps, text cut inside
        // UTF-8 sequences between them.
        for (const int size : {0, 1, 100, 20000, 200000})
            QTest::addRow("%s %d", opcode == Text ? "text" : "binary", size) << int(opcode) << size;
    }
}

void tst_WebSocketReader::deflateMessages()
{
    QFETCH(int, opcode);
    QFETCH(int, size);
    const QByteArray payload = sample(opcode, size);
    const QByteArray data = compressed(payload);
    // Between compressed messages, and with deflate on, plain ones are still plain.
    const QByteArray wire = frame(opcode, data, Fin | Rsv1) + frame(Text, "plain")
                            + frame(opcode, data, Fin | Rsv1);
    const Events expected {message(opcode, payload), message(Text, "plain"),
                           message(opcode, payload)};
    const auto deflate = serverDeflate(&m_streams, false);

    const Outcome whole = read(wire, {}, {}, deflate.get());
    COMPARE_EVENTS(whole, expected);
    QCOMPARE(whole.buffered, qsizetype(0));
    QCOMPARE(deflate->heldBytes(), qint64(0));
    const Cuts cuts = wire.size() < 30000 ? everyByte(wire.size())
                                          : Cuts {wire.size() / 3, wire.size() / 2};
    const Outcome pieces = read(wire, cuts, {}, deflate.get());
    COMPARE_EVENTS(pieces, expected);
    QCOMPARE(pieces.buffered, qsizetype(0));
}

void tst_WebSocketReader::deflateFragmented_data()
{
    QTest::addColumn<int>("fragments"); // 0: one per byte
    for (const int fragments : {2, 3, 7, 0})
        QTest::addRow("%d", fragments) << fragments;
}

void tst_WebSocketReader::deflateFragmented()
{
    QFETCH(int, fragments);
    const QByteArray payload = sampleText(3000);
    const QByteArray data = compressed(payload);
    const int count = fragments ? fragments : int(data.size());
    QByteArray wire;
    Events expected;
    for (int i = 0; i < count; ++i) {
        const qsizetype from = data.size() * i / count;
        const qsizetype to = data.size() * (i + 1) / count;
        // RSV1 on the first frame only (RFC 7692 6.1).
        const quint8 bits = (i ? 0 : Rsv1) | (i + 1 == count ? Fin : 0);
        wire += frame(i ? Cont : Text, data.mid(from, to - from), bits);
        if (i + 1 < count) {
            wire += frame(Ping, QByteArray::number(i));
            expected += pinged(QByteArray::number(i));
        }
    }
    expected += message(Text, payload);
    const auto deflate = serverDeflate(&m_streams, false);
    COMPARE_EVENTS(read(wire, {}, {}, deflate.get()), expected);
    COMPARE_EVENTS(read(wire, everyByte(wire.size()), {}, deflate.get()), expected);
}

void tst_WebSocketReader::deflateErrors_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<int>("code");
    const QByteArray data = compressed(sampleText(300));
    const qsizetype half = data.size() / 2;
    QTest::newRow("RSV1 on a continuation")
            << frame(Text, data.left(half), Rsv1) + frame(Cont, data.mid(half), Fin | Rsv1) << 1002;
    QTest::newRow("RSV1 on the continuation of a plain message")
            << frame(Text, "a", 0) + frame(Cont, "b", Fin | Rsv1) << 1002;
    QTest::newRow("RSV1 on a ping") << frame(Ping, "p", Fin | Rsv1) << 1002;
    QTest::newRow("RSV1 on a close") << frame(Close, closePayload(1000), Fin | Rsv1) << 1002;
    QTest::newRow("RSV2 with RSV1") << frame(Text, data, Fin | Rsv1 | Rsv2) << 1002;
    QTest::newRow("reserved block type") << frame(Binary, "\x06", Fin | Rsv1) << 1007;
    QTest::newRow("stored block of bad length")
            << frame(Binary, QByteArray("\x00\x05\x00\x00\x00", 5), Fin | Rsv1) << 1007;
    QTest::newRow("garbage") << frame(Binary, "\xff\xff\xff\xff", Fin | Rsv1) << 1007;
    QTest::newRow("garbage after a good message")
            << frame(Binary, data, Fin | Rsv1) + frame(Binary, "\xff\xff", Fin | Rsv1) << 1007;
    const QByteArray kosme = QByteArray::fromHex("cebae1bdb9cf83cebcceb5");
    QTest::newRow("invalid UTF-8 in compressed text")
            << frame(Text, compressed(kosme + "\xff" + sampleText(100)), Fin | Rsv1) << 1007;
    QTest::newRow("surrogate in compressed text")
            << frame(Text, compressed(QByteArray::fromHex("eda080")), Fin | Rsv1) << 1007;
    QTest::newRow("invalid UTF-8 deep in compressed text")
            << frame(Text, compressed(sampleText(50000) + "\xc0\x80"), Fin | Rsv1) << 1007;
    QTest::newRow("compressed text cut inside a code point")
            << frame(Text, compressed(kosme + "\xce"), Fin | Rsv1) << 1007;
}

void tst_WebSocketReader::deflateErrors()
{
    QFETCH(QByteArray, wire);
    QFETCH(int, code);
    const auto deflate = serverDeflate(&m_streams, false);
    // The good message in front, if any, comes through.
    const Outcome whole = read(wire + frame(Text, "never read"), {}, {}, deflate.get());
    QVERIFY(!whole.events.isEmpty());
    QCOMPARE(whole.events.last(), failed(code));
    QVERIFY(whole.events.size() <= 2);
    COMPARE_EVENTS(read(wire, everyByte(wire.size()), {}, deflate.get()), whole.events);
}

void tst_WebSocketReader::deflateLimit_data()
{
    QTest::addColumn<qint64>("limit");
    QTest::addColumn<int>("size");
    // 16384 is the first step of the inflater's buffer.
    for (const qint64 limit : {qint64(16384), qint64(100000)}) {
        QTest::addRow("%lld of %lld", limit, limit) << limit << int(limit);
        QTest::addRow("%lld of %lld", limit + 1, limit) << limit << int(limit + 1);
    }
}

void tst_WebSocketReader::deflateLimit()
{
    QFETCH(qint64, limit);
    QFETCH(int, size);
    Settings settings;
    settings.maxMessageBytes = limit;
    const QByteArray payload = sampleText(size);
    const QByteArray wire = frame(Text, compressed(payload), Fin | Rsv1);
    const auto deflate = serverDeflate(&m_streams, false);
    const Events expected {size <= limit ? message(Text, payload) : failed(1009)};
    COMPARE_EVENTS(read(wire, {}, settings, deflate.get()), expected);
}

void tst_WebSocketReader::deflateIncompressibleAtLimit()
{
    // Random bytes grow a little when compressed: the message is within its
    // limit, its frame on the wire is not, and it is still taken.
    const qint64 limit = 100000;
    const QByteArray payload = randomBytes(limit, 7);
    const QByteArray squeezed = compressed(payload);
    QVERIFY(squeezed.size() > limit);
    Settings settings;
    settings.maxMessageBytes = limit;
    settings.maxFrameBytes = limit;
    const auto deflate = serverDeflate(&m_streams, false);
    COMPARE_EVENTS(read(frame(Binary, squeezed, Fin | Rsv1), {}, settings, deflate.get()),
                   Events {message(Binary, payload)});
}

void tst_WebSocketReader::deflateZipBomb()
{
    // 100 MB of zeros deflate to about 100 KB: within every wire limit.
    ClientDeflater client;
    const QByteArray zeros(MiB, '\0');
    for (int i = 0; i < 100; ++i)
        client.add(zeros);
    const QByteArray bomb = client.finish();
    QVERIFY(bomb.size() < MiB);
    const QByteArray wire = frame(Binary, bomb, Fin | Rsv1);
    Settings settings;
    settings.maxMessageBytes = MiB;
    const auto deflate = serverDeflate(&m_streams, false);

    WebSocketReader reader(settings);
    reader.setDeflate(deflate.get());
    Recorder recorder;
    const qint64 before = procStatusBytes("VmRSS");
    const bool peakReset = resetPeakMemory();
    const qint64 peakBefore = procStatusBytes("VmHWM");
    qsizetype mostBuffered = 0;
    for (qsizetype from = 0; from < wire.size(); from += 4096) {
        feed(reader, wire.mid(from, 4096), {}, recorder);
        mostBuffered = qMax(mostBuffered, reader.bufferedBytes());
    }
    const qint64 peak = procStatusBytes("VmHWM");

    COMPARE_EVENTS((Outcome {recorder.events, recorder.broken}), Events {failed(1009)});
    QCOMPARE(reader.bufferedBytes(), qsizetype(0));
    // What was held is the compressed frame, not what it inflates to.
    QVERIFY2(mostBuffered <= 2 * bomb.size(), QByteArray::number(mostBuffered).constData());
    if (before < 0 || peak < 0)
        QSKIP("no /proc/self/status: the memory the inflater took is not measured");
    if (!peakReset && peakBefore > before + 16 * MiB)
        QSKIP("the peak RSS cannot be reset, and is already past what this test looks for");
    // The 1 MiB limit and the allocator's slack, not 100 MB.
    QVERIFY2(peak - before < 16 * MiB,
             qPrintable(QStringLiteral("RSS grew by %1 KiB").arg((peak - before) / 1024)));
}

void tst_WebSocketReader::deflateContextTakeover_data()
{
    QTest::addColumn<int>("windowBits");
    for (int bits = 8; bits <= 15; ++bits)
        QTest::addRow("client_max_window_bits=%d", bits) << bits;
}

void tst_WebSocketReader::deflateContextTakeover()
{
    QFETCH(int, windowBits);
    // The second and third messages repeat bytes of the one before, within
    // the window: with context takeover they are back-references into it.
    // 200 bytes that do not compress on their own: a second window of them
    // is all back-references, within the 250 bytes zlib's smallest window reaches.
    QByteArray first = randomBytes(189, 5);
    for (char &byte : first)
        byte = char('a' + uchar(byte) % 26);
    first += QByteArray::fromHex("cebae1bdb9cf83cebcceb5");
    const QByteArray second = first;
    const QByteArray third = second + "tail";
    ClientDeflater client(windowBits, true);
    const QByteArray c1 = client.compress(first);
    const QByteArray c2 = client.compress(second);
    const QByteArray c3 = client.compress(third);
    QVERIFY2(c2.size() < c1.size() / 4, "the second message does not refer to the first");
    const QByteArray wire = frame(Text, c1, Fin | Rsv1) + frame(Text, c2, Fin | Rsv1)
                            + frame(Text, c3, Fin | Rsv1);

    const Events expected {message(Text, first), message(Text, second), message(Text, third)};
    auto kept = serverDeflate(&m_streams, true, windowBits);
    COMPARE_EVENTS(read(wire, {}, {}, kept.get()), expected);
    QVERIFY(kept->heldBytes() > 0);
    kept = serverDeflate(&m_streams, true, windowBits);
    COMPARE_EVENTS(read(wire, everyByte(wire.size()), {}, kept.get()), expected);

    // Without it the window is gone, and the second message cannot inflate.
    const auto fresh = serverDeflate(&m_streams, false);
    COMPARE_EVENTS(read(wire, {}, {}, fresh.get()), (Events {message(Text, first), failed(1007)}));
    QCOMPARE(fresh->heldBytes(), qint64(0));
}

void tst_WebSocketReader::deflateRfcExamples()
{
    // RFC 7692 7.2.3's examples as one client's messages, with context
    // takeover: the second refers to the first; after a final block
    // (BFINAL) the client starts a new stream, and so must the inflater.
    const char *const payloads[] = {
            "f248cdc9c90700", // 7.2.3.1
            "f200110000", // 7.2.3.2: the same, from the first's window
            "000500faff48656c6c6f00", // 7.2.3.3: a stored block
            "f348cdc9c9070000", // 7.2.3.4: BFINAL set
            "f248cdc9c90700", // a new stream
            "f24805000000ffffcac9c90700", // 7.2.3.5: two blocks
            "00", // 7.2.3.6: the empty message
    };
    QByteArray wire;
    Events expected;
    for (const char *hex : payloads) {
        wire += frame(Text, QByteArray::fromHex(hex), Fin | Rsv1);
        expected += message(Text, qstrcmp(hex, "00") ? "Hello" : "");
    }
    auto deflate = serverDeflate(&m_streams, true);
    COMPARE_EVENTS(read(wire, {}, {}, deflate.get()), expected);
    deflate = serverDeflate(&m_streams, true);
    COMPARE_EVENTS(readBytewise(wire, {}, deflate.get()), expected);
}

// --- memory, and receivers that end the connection ---------------------

void tst_WebSocketReader::bufferedBytes()
{
    WebSocketReader reader;
    Recorder recorder;
    QCOMPARE(reader.bufferedBytes(), qsizetype(0));
    feed(reader, frame(Text, "hello") + frame(Binary, randomBytes(1000, 1)), {}, recorder);
    QCOMPARE(reader.bufferedBytes(), qsizetype(0));

    // Half a frame is held, and let go when the rest comes.
    const QByteArray big = frame(Binary, randomBytes(1000, 2));
    feed(reader, big.left(500), {}, recorder);
    QVERIFY(reader.bufferedBytes() > 0);
    feed(reader, big.mid(500), {}, recorder);
    QCOMPARE(reader.bufferedBytes(), qsizetype(0));

    // The same for a fragmented message, and a ping cut in two inside it.
    feed(reader, frame(Text, "frag", 0), {}, recorder);
    QVERIFY(reader.bufferedBytes() > 0);
    const QByteArray ping = frame(Ping, "ping");
    feed(reader, ping.left(8), {}, recorder);
    feed(reader, ping.mid(8) + frame(Cont, "ment"), {}, recorder);
    QCOMPARE(reader.bufferedBytes(), qsizetype(0));

    const QByteArray pong = frame(Pong, QByteArray(100, 'p'));
    feed(reader, pong.left(50), {}, recorder);
    QVERIFY(reader.bufferedBytes() > 0);
    feed(reader, pong.mid(50), {}, recorder);
    QCOMPARE(reader.bufferedBytes(), qsizetype(0));

    COMPARE_EVENTS((Outcome {recorder.events, recorder.broken}),
                   (Events {message(Text, "hello"), message(Binary, randomBytes(1000, 1)),
                            message(Binary, randomBytes(1000, 2)), pinged("ping"),
                            message(Text, "fragment"), ponged(QByteArray(100, 'p'))}));
}

void tst_WebSocketReader::receiverEndsConnection_data()
{
    QTest::addColumn<QByteArray>("wire"); // its first event ends the connection
    QTest::addColumn<Cuts>("cuts");
    QTest::addColumn<bool>("deflate");
    const QByteArray next = frame(Text, "next") + frame(Ping, "next");
    // Cut inside the first frame's payload: what it carries comes from a buffer.
    const Cuts inside {headSize(5) + 2};
    QTest::newRow("message") << frame(Text, "first") + next << Cuts() << false;
    QTest::newRow("message cut in two") << frame(Text, "first") + next << inside << false;
    QTest::newRow("fragmented message")
            << frame(Text, "fi", 0) + frame(Cont, "rst") + next << Cuts() << false;
    QTest::newRow("compressed message")
            << frame(Text, compressed("first"), Fin | Rsv1) + next << Cuts() << true;
    QTest::newRow("empty message") << frame(Binary, "") + next << Cuts() << false;
    QTest::newRow("ping") << frame(Ping, "first") + next << Cuts() << false;
    QTest::newRow("ping cut in two") << frame(Ping, "first") + next << inside << false;
    QTest::newRow("pong") << frame(Pong, "first") + next << Cuts() << false;
    QTest::newRow("close") << frame(Close, closePayload(1000)) + next << Cuts() << false;
    QTest::newRow("failure") << frame(Text, "\xff") + next << Cuts() << false;
}

void tst_WebSocketReader::receiverEndsConnection()
{
    QFETCH(QByteArray, wire);
    QFETCH(Cuts, cuts);
    QFETCH(bool, deflate);
    const auto compression = deflate ? serverDeflate(&m_streams, false) : nullptr;

    // A receiver that returns false: feed() reads nothing more.
    {
        WebSocketReader reader;
        reader.setDeflate(compression.get());
        Recorder recorder;
        recorder.keepReading = false;
        feed(reader, wire, cuts, recorder);
        QCOMPARE(recorder.events.size(), 1);
        QVERIFY2(recorder.broken.isEmpty(), recorder.broken.join("; ").constData());
    }
    // A receiver that deletes the reader first, as a closed connection
    // does: nothing of the reader may be touched after (ASan tells).
    auto reader = std::make_unique<WebSocketReader>();
    reader->setDeflate(compression.get());
    Recorder recorder;
    recorder.keepReading = false;
    recorder.onEvent = [&reader] {
        reader.reset();
    };
    QByteArray bytes = wire;
    qsizetype from = 0;
    for (const qsizetype cut : cuts + Cuts {bytes.size()}) {
        if (!reader)
            break;
        reader->feed(bytes.data() + from, cut - from, recorder);
        from = cut;
    }
    QVERIFY(!reader);
    QCOMPARE(recorder.events.size(), 1);
}

QTEST_APPLESS_MAIN(tst_WebSocketReader)

#include "tst_websocketreader.moc"
