// permessage-deflate (RFC 7692) and the pieces of the opening handshake
// (RFC 6455 4.2.2), without a socket: PerMessageDeflate::negotiate() over
// the parameter matrix of RFC 7692 7.1, the codec checked against zlib
// driven directly (a raw inflater of the negotiated window), and
// WebSocketHandshake's key, subprotocol and 101 response.

#include "websocket/permessagedeflate_p.h"
#include "websocket/utf8validator_p.h"
#include "websocket/websockethandshake_p.h"

#include <QtCore/QRandomGenerator>
#include <QtTest/QtTest>

#include <zlib.h>

#include <iterator>
#include <memory>

using namespace sluice;

namespace {

constexpr qint64 MiB = 1024 * 1024;

QByteArray randomBytes(qsizetype size, quint32 seed)
{
    QRandomGenerator generator(seed);
    QByteArray bytes(size, Qt::Uninitialized);
    for (char &byte : bytes)
        byte = char(generator.bounded(256));
    return bytes;
}

// Text as chat and JSON are: words from a small vocabulary, numbers, some
// two- and three-byte characters; repeats at every distance.
QByteArray sampleText(qsizetype size, quint32 seed = 1)
{
    static const char *const words[] = {"{\"id\": ", "\"name\": ", "κόσμε", "€",       "true",
                                        "false",     "null",       "], [",  "message", " "};
    QRandomGenerator generator(seed);
    QByteArray text;
    while (text.size() < size) {
        text += words[generator.bounded(int(std::size(words)))];
        text += QByteArray::number(generator.bounded(1000));
    }
    // Cut back to a code point boundary, then padded to size.
    text.truncate(size);
    while (!text.isEmpty() && !Utf8Validator::isValidUtf8(text.constData(), text.size()))
        text.chop(1);
    return text + QByteArray(size - text.size(), 'x');
}

// A raw inflater of a given window, as a client's: what the server sends
// must inflate with the window it promised. zlib only looks back through
// its window for what it did not write in the same call, so a window is
// enforced when the output comes a step of one byte at a time.
class RawInflater
{
public:
    explicit RawInflater(int windowBits, int step = 16384)
        : m_step(step)
    {
        m_ok = inflateInit2(&m_stream, -windowBits) == Z_OK;
    }
    ~RawInflater() { inflateEnd(&m_stream); }
    void reset() { inflateReset(&m_stream); }

    // The message, with the tail RFC 7692 7.2.2 puts back; zlib's complaint
    // when it refuses it.
    QByteArray inflate(const QByteArray &compressed)
    {
        if (!m_ok)
            return "zlib refused the window";
        const QByteArray input = compressed + QByteArray("\x00\x00\xff\xff", 4);
        m_stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(input.constData()));
        m_stream.avail_in = uInt(input.size());
        QByteArray out;
        QByteArray buffer(m_step, Qt::Uninitialized);
        do {
            m_stream.next_out = reinterpret_cast<Bytef *>(buffer.data());
            m_stream.avail_out = uInt(m_step);
            const int status = ::inflate(&m_stream, Z_SYNC_FLUSH);
            if (status != Z_OK && status != Z_BUF_ERROR && status != Z_STREAM_END)
                return "zlib refused: " + QByteArray(m_stream.msg);
            out.append(buffer.constData(), m_step - qsizetype(m_stream.avail_out));
        } while (m_stream.avail_out == 0);
        return out;
    }

private:
    z_stream m_stream = {};
    int m_step;
    bool m_ok = false;
};

// A client's compressor (Python's zlib as websockets uses it).
class RawDeflater
{
public:
    explicit RawDeflater(int windowBits, bool takeover)
        : m_takeover(takeover)
    {
        deflateInit2(&m_stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -qMax(9, windowBits), 8,
                     Z_DEFAULT_STRATEGY);
    }
    ~RawDeflater() { deflateEnd(&m_stream); }

    QByteArray compress(const QByteArray &data)
    {
        m_stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
        m_stream.avail_in = uInt(data.size());
        QByteArray out;
        char buffer[16384];
        do {
            m_stream.next_out = reinterpret_cast<Bytef *>(buffer);
            m_stream.avail_out = sizeof buffer;
            deflate(&m_stream, Z_SYNC_FLUSH);
            out.append(buffer, qsizetype(sizeof buffer - m_stream.avail_out));
        } while (m_stream.avail_out == 0);
        out.chop(4); // 00 00 FF FF
        if (!m_takeover)
            deflateReset(&m_stream);
        return out;
    }

private:
    z_stream m_stream = {};
    bool m_takeover;
};

WebSocketCompression enabled()
{
    WebSocketCompression options;
    options.enabled = true;
    return options;
}

// The options the negotiation rows run with.
enum Preset { NoTakeover, Takeover, SmallWindows };

WebSocketCompression preset(int which)
{
    WebSocketCompression options = enabled();
    options.serverContextTakeover = which != NoTakeover;
    options.clientContextTakeover = which != NoTakeover;
    if (which == SmallWindows) {
        options.serverMaxWindowBits = 10;
        options.clientMaxWindowBits = 10;
    }
    return options;
}

DeflateParameters parameters(bool serverTakeover, bool clientTakeover, int serverBits = 15,
                             int clientBits = 15)
{
    DeflateParameters p;
    p.serverNoContextTakeover = !serverTakeover;
    p.clientNoContextTakeover = !clientTakeover;
    p.serverMaxWindowBits = serverBits;
    p.clientMaxWindowBits = clientBits;
    return p;
}

HttpRequest requestWith(const QByteArray &name, const QByteArrayList &values)
{
    HttpRequest request;
    request.setMethod("GET");
    request.setTarget("/chat");
    request.addHeader("Host", "localhost");
    for (const QByteArray &value : values)
        request.addHeader(name, value);
    return request;
}

} // namespace

class tst_PerMessageDeflate : public QObject
{
    Q_OBJECT

private slots:
    // Negotiation (RFC 7692 7.1)
    void negotiate_data();
    void negotiate();
    void negotiateDisabled();

    // The codec
    void roundTrip_data();
    void roundTrip();
    void threshold_data();
    void threshold();
    void serverWindowBits_data();
    void serverWindowBits();
    void clientWindowBits_data();
    void clientWindowBits();
    void heldBytes();
    void decompressLimit();
    void decompressErrors_data();
    void decompressErrors();
    void sharedStreams();

    // The handshake
    void acceptKey_data();
    void acceptKey();
    void joinedHeader();
    void chooseSubprotocol_data();
    void chooseSubprotocol();
    void response_data();
    void response();

private:
    DeflateStreams m_streams;
};

// --- negotiation -------------------------------------------------------

void tst_PerMessageDeflate::negotiate_data()
{
    QTest::addColumn<QByteArray>("offers");
    QTest::addColumn<int>("options");
    QTest::addColumn<QByteArray>("response"); // empty: declined
    QTest::addColumn<bool>("serverTakeover");
    QTest::addColumn<bool>("clientTakeover");
    QTest::addColumn<int>("serverBits");
    QTest::addColumn<int>("clientBits");

    const auto accept = [](const QByteArray &name, const QByteArray &offers, int options,
                           const QByteArray &response, bool serverTakeover, bool clientTakeover,
                           int serverBits = 15, int clientBits = 15) {
        QTest::newRow(name.constData())
                << offers << options << "permessage-deflate" + response << serverTakeover
                << clientTakeover << serverBits << clientBits;
    };
    const auto decline
            = [](const QByteArray &name, const QByteArray &offers, int options = Takeover) {
                  QTest::newRow(name.constData())
                          << offers << options << QByteArray() << false << false << 0 << 0;
              };
    const QByteArray pmd = "permessage-deflate";
    const QByteArray noTakeover = "; server_no_context_takeover; client_no_context_takeover";

    // Context takeover: what the client offers, and what the options allow.
    accept("no parameters", pmd, Takeover, "", true, true);
    accept("no parameters, options without takeover", pmd, NoTakeover, noTakeover, false, false);
    accept("server_no_context_takeover", pmd + "; server_no_context_takeover", Takeover,
           "; server_no_context_takeover", false, true);
    accept("client_no_context_takeover", pmd + "; client_no_context_takeover", Takeover,
           "; client_no_context_takeover", true, false);
    accept("both no_context_takeover", pmd + noTakeover, Takeover, noTakeover, false, false);
    accept("both no_context_takeover, options without takeover", pmd + noTakeover, NoTakeover,
           noTakeover, false, false);

    // server_max_window_bits: 8 to 15, at most the server's own.
    for (int bits = 8; bits <= 15; ++bits) {
        const QByteArray value = QByteArray::number(bits);
        accept("server_max_window_bits=" + value, pmd + "; server_max_window_bits=" + value,
               Takeover, "; server_max_window_bits=" + value, true, true, bits);
    }
    accept("server_max_window_bits=12, the server's 10", pmd + "; server_max_window_bits=12",
           SmallWindows, "; server_max_window_bits=10", true, true, 10);
    accept("server_max_window_bits=9, the server's 10", pmd + "; server_max_window_bits=9",
           SmallWindows, "; server_max_window_bits=9", true, true, 9);
    accept("no parameters, the server's window 10", pmd, SmallWindows, "", true, true, 10);
    for (const char *value : {"7", "16", "0", "08", "010", "abc", "9.5", "+9", "-9", "1 0", "",
                              "\"\"", "\"08\"", "\" 9\"", "99999999999"})
        decline(QByteArray("server_max_window_bits=") + value,
                pmd + "; server_max_window_bits=" + value);
    decline("server_max_window_bits without a value", pmd + "; server_max_window_bits");

    // client_max_window_bits: with or without a value; the server may ask
    // for less, and only of a client that keeps its context.
    accept("client_max_window_bits", pmd + "; client_max_window_bits", Takeover, "", true, true);
    accept("client_max_window_bits, the server's 10", pmd + "; client_max_window_bits",
           SmallWindows, "; client_max_window_bits=10", true, true, 10, 10);
    accept("client_max_window_bits=12", pmd + "; client_max_window_bits=12", Takeover,
           "; client_max_window_bits=12", true, true, 15, 12);
    accept("client_max_window_bits=12, the server's 10", pmd + "; client_max_window_bits=12",
           SmallWindows, "; client_max_window_bits=10", true, true, 10, 10);
    accept("client_max_window_bits=9, the server's 10", pmd + "; client_max_window_bits=9",
           SmallWindows, "; client_max_window_bits=9", true, true, 10, 9);
    accept("client_max_window_bits=8", pmd + "; client_max_window_bits=8", Takeover,
           "; client_max_window_bits=8", true, true, 15, 8);
    accept("client_max_window_bits=12, options without takeover",
           pmd + "; client_max_window_bits=12", NoTakeover, noTakeover, false, false);
    accept("client_max_window_bits=12 and client_no_context_takeover",
           pmd + "; client_max_window_bits=12; client_no_context_takeover", SmallWindows,
           "; client_no_context_takeover", true, false, 10, 15);
    accept("Chrome's offer", pmd + "; client_max_window_bits", NoTakeover, noTakeover, false,
           false);
    for (const char *value : {"7", "16", "08", "abc", "", "+9"})
        decline(QByteArray("client_max_window_bits=") + value,
                pmd + "; client_max_window_bits=" + value);

    // Repeated, unknown or ill-formed parameters decline the offer.
    decline("server_no_context_takeover twice",
            pmd + "; server_no_context_takeover; server_no_context_takeover");
    decline("client_no_context_takeover twice",
            pmd + "; client_no_context_takeover; client_no_context_takeover");
    decline("server_max_window_bits twice",
            pmd + "; server_max_window_bits=10; server_max_window_bits=10");
    decline("client_max_window_bits twice",
            pmd + "; client_max_window_bits; client_max_window_bits=10");
    decline("server_max_window_bits twice, in two cases",
            pmd + "; server_max_window_bits=10; SERVER_MAX_WINDOW_BITS=11");
    decline("unknown parameter", pmd + "; foo");
    decline("unknown parameter with a value", pmd + "; foo=bar");
    decline("server_no_context_takeover with a value", pmd + "; server_no_context_takeover=1");
    decline("client_no_context_takeover with a value", pmd + "; client_no_context_takeover=\"\"");
    decline("another extension", "x-webkit-deflate-frame");
    decline("no offer", "");
    decline("empty offers", " , ,");

    // Several offers: the first the server can take.
    accept("first offer invalid, second valid",
           pmd + "; server_max_window_bits=7, " + pmd + "; server_max_window_bits=10", Takeover,
           "; server_max_window_bits=10", true, true, 10);
    accept("first offer unknown parameter, second plain", pmd + "; foo, " + pmd, Takeover, "", true,
           true);
    accept("another extension first",
           "x-webkit-deflate-frame, " + pmd + "; client_no_context_takeover", Takeover,
           "; client_no_context_takeover", true, false);
    accept("first offer valid, second too", pmd + "; server_no_context_takeover, " + pmd, Takeover,
           "; server_no_context_takeover", false, true);
    decline("every offer invalid", pmd + "; foo, " + pmd + "; server_max_window_bits=16");

    // Quoted values (RFC 7692 7.1: the value after unescaping) and a comma inside quotes.
    accept("quoted server_max_window_bits", pmd + "; server_max_window_bits=\"10\"", Takeover,
           "; server_max_window_bits=10", true, true, 10);
    accept("quoted client_max_window_bits", pmd + "; client_max_window_bits=\"12\"", Takeover,
           "; client_max_window_bits=12", true, true, 15, 12);
    accept("quoted pair inside a value", pmd + "; server_max_window_bits=\"1\\2\"", Takeover,
           "; server_max_window_bits=12", true, true, 12);
    accept("comma inside quotes", pmd + "; foo=\"a, permessage-deflate\", " + pmd, Takeover, "",
           true, true);

    // Tokens without case, and with optional whitespace.
    accept("name in capitals", "PerMessage-Deflate", Takeover, "", true, true);
    accept("parameter in capitals", pmd + "; Server_No_Context_Takeover", Takeover,
           "; server_no_context_takeover", false, true);
    accept("whitespace",
           " permessage-deflate ;server_max_window_bits = 10 ; client_max_window_bits ", Takeover,
           "; server_max_window_bits=10", true, true, 10);
}

void tst_PerMessageDeflate::negotiate()
{
    QFETCH(QByteArray, offers);
    QFETCH(int, options);
    QFETCH(QByteArray, response);
    QByteArray answer = "untouched";
    const std::optional<DeflateParameters> accepted
            = PerMessageDeflate::negotiate(offers, preset(options), &answer);
    QCOMPARE(accepted.has_value(), !response.isEmpty());
    if (!accepted) {
        QCOMPARE(answer, QByteArray("untouched"));
        return;
    }
    QCOMPARE(answer, response);
    QFETCH(bool, serverTakeover);
    QFETCH(bool, clientTakeover);
    QFETCH(int, serverBits);
    QFETCH(int, clientBits);
    QCOMPARE(!accepted->serverNoContextTakeover, serverTakeover);
    QCOMPARE(!accepted->clientNoContextTakeover, clientTakeover);
    QCOMPARE(accepted->serverMaxWindowBits, serverBits);
    QCOMPARE(accepted->clientMaxWindowBits, clientBits);
}

void tst_PerMessageDeflate::negotiateDisabled()
{
    WebSocketCompression options = preset(Takeover);
    options.enabled = false;
    QByteArray answer = "untouched";
    QVERIFY(!PerMessageDeflate::negotiate("permessage-deflate", options, &answer));
    QCOMPARE(answer, QByteArray("untouched"));
    QVERIFY(PerMessageDeflate::negotiate("permessage-deflate", preset(Takeover), &answer));
}

// --- the codec ---------------------------------------------------------

void tst_PerMessageDeflate::roundTrip_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<bool>("text");
    for (const int size : {0, 1, 64, 1000, 16384, 16385, 100000, int(MiB)}) {
        QTest::addRow("text, %d bytes", size) << sampleText(size) << true;
        QTest::addRow("random, %d bytes", size) << randomBytes(size, quint32(size)) << false;
    }
}

void tst_PerMessageDeflate::roundTrip()
{
    QFETCH(QByteArray, data);
    QFETCH(bool, text);
    PerMessageDeflate deflate(parameters(false, false), enabled(), &m_streams);
    QByteArray compressed;
    QVERIFY(deflate.compress(data.constData(), data.size(), &compressed));
    if (text && data.size() >= 1000)
        QVERIFY(compressed.size() < data.size() / 2);
    // The sync flush's tail is cut off (RFC 7692 7.2.1).
    QVERIFY(!compressed.endsWith(QByteArray("\x00\x00\xff\xff", 4)));

    // zlib itself, as a client, reads it.
    RawInflater client(15);
    QCOMPARE(client.inflate(compressed), data);

    Utf8Validator validator;
    QByteArray out;
    QCOMPARE(deflate.decompress(compressed, data.size(), text ? &validator : nullptr, &out),
             PerMessageDeflate::InflateResult::Ok);
    QCOMPARE(out, data);
    if (!data.isEmpty()) {
        QCOMPARE(deflate.decompress(compressed, data.size() - 1, nullptr, &out),
                 PerMessageDeflate::InflateResult::TooBig);
    }
}

void tst_PerMessageDeflate::threshold_data()
{
    QTest::addColumn<qint64>("threshold");
    QTest::addColumn<int>("size");
    QTest::addColumn<bool>("compresses");
    QTest::newRow("63 of 64") << qint64(64) << 63 << false;
    QTest::newRow("64 of 64") << qint64(64) << 64 << true;
    QTest::newRow("999 of 1000") << qint64(1000) << 999 << false;
    QTest::newRow("1000 of 1000") << qint64(1000) << 1000 << true;
    QTest::newRow("0 of 1") << qint64(1) << 0 << false;
    QTest::newRow("1 of 1") << qint64(1) << 1 << true;
    QTest::newRow("1 of 0") << qint64(0) << 1 << true;
    QTest::newRow("1 of -5") << qint64(-5) << 1 << true;
}

void tst_PerMessageDeflate::threshold()
{
    QFETCH(qint64, threshold);
    QFETCH(int, size);
    QFETCH(bool, compresses);
    WebSocketCompression options = enabled();
    options.thresholdBytes = threshold;
    PerMessageDeflate deflate(parameters(false, false), options, &m_streams);
    QCOMPARE(deflate.compresses(size), compresses);
}

void tst_PerMessageDeflate::serverWindowBits_data()
{
    QTest::addColumn<int>("bits");
    QTest::addColumn<bool>("takeover");
    for (int bits = 8; bits <= 15; ++bits) {
        QTest::addRow("%d bits", bits) << bits << false;
        QTest::addRow("%d bits, context takeover", bits) << bits << true;
    }
}

void tst_PerMessageDeflate::serverWindowBits()
{
    // What the server sends with server_max_window_bits=N inflates with a
    // window of N bits, the client's, message after message. zlib cannot
    // deflate with 8 bits: its 9-bit window must still reach back no more
    // than 256 bytes.
    QFETCH(int, bits);
    QFETCH(bool, takeover);
    WebSocketCompression options = enabled();
    options.level = 9;
    PerMessageDeflate deflate(parameters(takeover, false, bits), options, &m_streams);
    RawInflater client(bits, 1);
    for (quint32 seed = 1; seed <= 4; ++seed) {
        const QByteArray message = sampleText(5000, seed);
        QByteArray compressed;
        QVERIFY(deflate.compress(message.constData(), message.size(), &compressed));
        QCOMPARE(client.inflate(compressed), message);
        if (!takeover)
            client.reset();
    }

    // The check can fail: a 15-bit window's output does not fit 256 bytes.
    if (bits == 8) {
        PerMessageDeflate wide(parameters(false, false, 15), options, &m_streams);
        const QByteArray message = sampleText(5000);
        QByteArray compressed;
        QVERIFY(wide.compress(message.constData(), message.size(), &compressed));
        RawInflater narrow(8, 1);
        QVERIFY(narrow.inflate(compressed) != message);
    }
}

void tst_PerMessageDeflate::clientWindowBits_data()
{
    QTest::addColumn<int>("bits");
    QTest::addColumn<bool>("takeover");
    for (int bits = 8; bits <= 15; ++bits) {
        QTest::addRow("%d bits", bits) << bits << false;
        QTest::addRow("%d bits, context takeover", bits) << bits << true;
    }
}

void tst_PerMessageDeflate::clientWindowBits()
{
    // A client that compresses with client_max_window_bits=N, keeping its
    // context or not: the server inflates each message.
    QFETCH(int, bits);
    QFETCH(bool, takeover);
    PerMessageDeflate deflate(parameters(false, takeover, 15, bits), enabled(), &m_streams);
    RawDeflater client(bits, takeover);
    for (quint32 seed = 1; seed <= 4; ++seed) {
        // The same text twice: with takeover, the second is back-references.
        const QByteArray message = sampleText(3000, seed / 2);
        Utf8Validator validator;
        QByteArray out;
        QCOMPARE(deflate.decompress(client.compress(message), 4 * MiB, &validator, &out),
                 PerMessageDeflate::InflateResult::Ok);
        QCOMPARE(out, message);
    }
}

void tst_PerMessageDeflate::heldBytes()
{
    const QByteArray message = sampleText(10000);
    const auto use = [&](PerMessageDeflate &deflate) {
        QByteArray compressed;
        QByteArray out;
        deflate.compress(message.constData(), message.size(), &compressed);
        return deflate.decompress(RawDeflater(15, false).compress(message), MiB, nullptr, &out)
                       == PerMessageDeflate::InflateResult::Ok
               && out == message;
    };
    // Without context takeover the shared streams do the work.
    PerMessageDeflate none(parameters(false, false), enabled(), &m_streams);
    QVERIFY(use(none));
    QCOMPARE(none.heldBytes(), qint64(0));

    PerMessageDeflate server(parameters(true, false), enabled(), &m_streams);
    QVERIFY(use(server));
    PerMessageDeflate client(parameters(false, true), enabled(), &m_streams);
    QVERIFY(use(client));
    PerMessageDeflate smallServer(parameters(true, false, 9), enabled(), &m_streams);
    QVERIFY(use(smallServer));
    QVERIFY(server.heldBytes() > 0);
    QVERIFY(client.heldBytes() > 0);
    QVERIFY(smallServer.heldBytes() < server.heldBytes());

    // Held before the first message? Nothing to keep yet.
    PerMessageDeflate unused(parameters(true, true), enabled(), &m_streams);
    QCOMPARE(unused.heldBytes(), qint64(0));
}

void tst_PerMessageDeflate::decompressLimit()
{
    // 100 MB of zeros: TooBig, with no more than about the limit allocated.
    RawDeflater client(15, false);
    QByteArray bomb;
    {
        z_stream stream = {};
        deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        const QByteArray zeros(MiB, '\0');
        char buffer[16384];
        for (int i = 0; i <= 100; ++i) {
            stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(zeros.constData()));
            stream.avail_in = i < 100 ? uInt(zeros.size()) : 0;
            do {
                stream.next_out = reinterpret_cast<Bytef *>(buffer);
                stream.avail_out = sizeof buffer;
                deflate(&stream, i < 100 ? Z_NO_FLUSH : Z_SYNC_FLUSH);
                bomb.append(buffer, qsizetype(sizeof buffer - stream.avail_out));
            } while (stream.avail_out == 0);
        }
        deflateEnd(&stream);
        bomb.chop(4);
    }
    PerMessageDeflate deflate(parameters(false, false), enabled(), &m_streams);
    QByteArray out;
    QCOMPARE(deflate.decompress(bomb, MiB, nullptr, &out),
             PerMessageDeflate::InflateResult::TooBig);
    // The output never takes more than the limit and a byte.
    QVERIFY2(out.capacity() <= MiB + 1 + 64, QByteArray::number(out.capacity()).constData());

    // Exactly at the limit is not too big.
    const QByteArray message = sampleText(50000);
    QCOMPARE(deflate.decompress(client.compress(message), message.size(), nullptr, &out),
             PerMessageDeflate::InflateResult::Ok);
    QCOMPARE(out, message);
}

void tst_PerMessageDeflate::decompressErrors_data()
{
    QTest::addColumn<QByteArray>("compressed");
    QTest::addColumn<bool>("text");
    QTest::addColumn<int>("result");
    using R = PerMessageDeflate::InflateResult;
    RawDeflater client(15, false);
    const QByteArray kosme = QByteArray::fromHex("cebae1bdb9cf83cebcceb5");
    QTest::newRow("reserved block type") << QByteArray("\x06") << false << int(R::BadData);
    QTest::newRow("stored block of bad length")
            << QByteArray("\x00\x05\x00\x00\x00", 5) << false << int(R::BadData);
    QTest::newRow("garbage") << QByteArray("\xff\xff\xff") << true << int(R::BadData);
    QTest::newRow("invalid UTF-8 in text")
            << client.compress(kosme + "\xff") << true << int(R::BadUtf8);
    QTest::newRow("invalid UTF-8 in binary")
            << client.compress(kosme + "\xff") << false << int(R::Ok);
    QTest::newRow("surrogate in text")
            << client.compress(QByteArray::fromHex("eda080")) << true << int(R::BadUtf8);
    QTest::newRow("invalid UTF-8 past the first 16 KiB")
            << client.compress(sampleText(40000) + "\xc0\x80") << true << int(R::BadUtf8);
    // Cut inside a code point: the reader's to judge at the message's end.
    QTest::newRow("text cut inside a code point")
            << client.compress(kosme + "\xce") << true << int(R::Ok);
    QTest::newRow("three-byte characters across inflate steps")
            << client.compress(QByteArray("\xe2\x82\xac").repeated(30000)) << true << int(R::Ok);
}

void tst_PerMessageDeflate::decompressErrors()
{
    QFETCH(QByteArray, compressed);
    QFETCH(bool, text);
    QFETCH(int, result);
    PerMessageDeflate deflate(parameters(false, false), enabled(), &m_streams);
    Utf8Validator validator;
    QByteArray out;
    QCOMPARE(int(deflate.decompress(compressed, 16 * MiB, text ? &validator : nullptr, &out)),
             result);
    // A failed message leaves the shared inflater fit for the next one.
    const QByteArray next = sampleText(1000);
    QCOMPARE(deflate.decompress(RawDeflater(15, false).compress(next), MiB, nullptr, &out),
             PerMessageDeflate::InflateResult::Ok);
    QCOMPARE(out, next);
}

void tst_PerMessageDeflate::sharedStreams()
{
    // Connections of one thread share the streams; interleaved, with
    // different windows and levels, each still gets its own messages.
    WebSocketCompression fast = enabled();
    fast.level = 1;
    WebSocketCompression small = enabled();
    small.level = 9;
    small.memLevel = 1;
    PerMessageDeflate a(parameters(false, false, 15), fast, &m_streams);
    PerMessageDeflate b(parameters(false, false, 9), small, &m_streams);
    RawInflater wide(15, 1);
    RawInflater narrow(9, 1);
    for (quint32 seed = 1; seed <= 3; ++seed) {
        const QByteArray forA = sampleText(4000, seed);
        const QByteArray forB = sampleText(4000, seed + 10);
        QByteArray ca;
        QByteArray cb;
        QVERIFY(a.compress(forA.constData(), forA.size(), &ca));
        QVERIFY(b.compress(forB.constData(), forB.size(), &cb));
        QByteArray out;
        QCOMPARE(b.decompress(RawDeflater(15, false).compress(forB), MiB, nullptr, &out),
                 PerMessageDeflate::InflateResult::Ok);
        QCOMPARE(out, forB);
        QCOMPARE(wide.inflate(ca), forA);
        QCOMPARE(narrow.inflate(cb), forB);
        wide.reset();
        narrow.reset();
    }
}

// --- the handshake -----------------------------------------------------

void tst_PerMessageDeflate::acceptKey_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<QByteArray>("accept");
    QTest::newRow("RFC 6455 1.3") << QByteArray("dGhlIHNhbXBsZSBub25jZQ==")
                                  << QByteArray("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    QTest::newRow("RFC 6455 1.3, with whitespace") << QByteArray(" dGhlIHNhbXBsZSBub25jZQ== ")
                                                   << QByteArray("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    QTest::newRow("another key") << QByteArray("x3JJHMbDL1EzLkh9GBhXDw==")
                                 << QByteArray("HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

void tst_PerMessageDeflate::acceptKey()
{
    QFETCH(QByteArray, key);
    QFETCH(QByteArray, accept);
    QCOMPARE(WebSocketHandshake::acceptKey(key), accept);
}

void tst_PerMessageDeflate::joinedHeader()
{
    HttpRequest request = requestWith("Sec-WebSocket-Extensions", {"permessage-deflate", "foo"});
    request.addHeader("sec-websocket-extensions", "bar; x=1");
    QCOMPARE(WebSocketHandshake::joinedHeader(request, "Sec-WebSocket-Extensions"),
             QByteArray("permessage-deflate, foo, bar; x=1"));
    QCOMPARE(WebSocketHandshake::joinedHeader(request, "Sec-WebSocket-Protocol"), QByteArray());
}

void tst_PerMessageDeflate::chooseSubprotocol_data()
{
    QTest::addColumn<QStringList>("supported");
    QTest::addColumn<QByteArrayList>("offered"); // one header each
    QTest::addColumn<QString>("chosen");
    const QStringList chat {QStringLiteral("superchat"), QStringLiteral("chat")};
    QTest::newRow("the client's first")
            << chat << QByteArrayList {"chat, superchat"} << QStringLiteral("chat");
    QTest::newRow("the client's first, the other way")
            << chat << QByteArrayList {"superchat, chat"} << QStringLiteral("superchat");
    QTest::newRow("skips what the route lacks")
            << chat << QByteArrayList {"v2.chat, chat"} << QStringLiteral("chat");
    QTest::newRow("over several headers")
            << chat << QByteArrayList {"v1, v2", "chat", "superchat"} << QStringLiteral("chat");
    QTest::newRow("whitespace") << chat << QByteArrayList {"  superchat  ,chat"}
                                << QStringLiteral("superchat");
    QTest::newRow("none in common") << chat << QByteArrayList {"mqtt, wamp"} << QString();
    QTest::newRow("none offered") << chat << QByteArrayList {} << QString();
    QTest::newRow("empty tokens") << chat << QByteArrayList {", ,chat"} << QStringLiteral("chat");
    QTest::newRow("the route has none") << QStringList() << QByteArrayList {"chat"} << QString();
}

void tst_PerMessageDeflate::chooseSubprotocol()
{
    QFETCH(QStringList, supported);
    QFETCH(QByteArrayList, offered);
    QFETCH(QString, chosen);
    const HttpRequest request = requestWith("Sec-WebSocket-Protocol", offered);
    QCOMPARE(WebSocketHandshake::chooseSubprotocol(supported, request), chosen);
}

void tst_PerMessageDeflate::response_data()
{
    QTest::addColumn<QString>("subprotocol");
    QTest::addColumn<QByteArray>("extensions");
    QTest::addColumn<QByteArray>("server");
    QTest::addColumn<QByteArray>("expected");
    const QByteArray head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    QTest::newRow("plain") << QString() << QByteArray() << QByteArray() << head + "\r\n";
    QTest::newRow("everything") << QStringLiteral("chat")
                                << QByteArray("permessage-deflate; server_no_context_takeover")
                                << QByteArray("Sluice/0.1")
                                << head
                                           + "Sec-WebSocket-Protocol: chat\r\n"
                                             "Sec-WebSocket-Extensions: permessage-deflate; "
                                             "server_no_context_takeover\r\n"
                                             "Server: Sluice/0.1\r\n\r\n";
    QTest::newRow("extensions only")
            << QString() << QByteArray("permessage-deflate") << QByteArray()
            << head + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
}

void tst_PerMessageDeflate::response()
{
    QFETCH(QString, subprotocol);
    QFETCH(QByteArray, extensions);
    QFETCH(QByteArray, server);
    QFETCH(QByteArray, expected);
    QCOMPARE(WebSocketHandshake::response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", subprotocol, extensions,
                                          server),
             expected);
}

QTEST_APPLESS_MAIN(tst_PerMessageDeflate)

#include "tst_permessagedeflate.moc"
