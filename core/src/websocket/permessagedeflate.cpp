#include "permessagedeflate_p.h"
#include "utf8validator_p.h"

#include <QtCore/QList>

#include <cstring>

#include <zlib.h>

namespace sluice {

namespace {

// Every compressed message ends with an empty stored block that RFC 7692
// 7.2.1 has the sender strip and the receiver put back.
constexpr char SyncTail[4] = {0x00, 0x00, char(0xFF), char(0xFF)};
constexpr int MaxWindowBits = 15;

// zlib cannot compress with an 8-bit window, but its 9-bit window never
// reaches further back than 250 bytes (MAX_DIST: the window less the 262
// bytes of lookahead), so what it writes fits a peer's 256-byte window.
int zlibWindowBits(int bits)
{
    return qBound(9, bits, MaxWindowBits);
}

std::unique_ptr<z_stream> newInflater(int windowBits)
{
    auto stream = std::make_unique<z_stream>();
    if (inflateInit2(stream.get(), -windowBits) != Z_OK)
        return nullptr;
    return stream;
}

z_stream *newDeflater(int windowBits, int level, int memLevel)
{
    auto *stream = new z_stream();
    if (deflateInit2(stream, qBound(1, level, 9), Z_DEFLATED, -zlibWindowBits(windowBits),
                     qBound(1, memLevel, 9), Z_DEFAULT_STRATEGY)
        != Z_OK) {
        delete stream;
        return nullptr;
    }
    return stream;
}

struct Parameter
{
    QByteArray name;
    QByteArray value;
    bool hasValue = false;
};

struct Offer
{
    QByteArray name;
    QList<Parameter> parameters;
};

// Splits at separator outside quoted strings.
QList<QByteArray> splitOutsideQuotes(const QByteArray &text, char separator)
{
    QList<QByteArray> parts;
    bool quoted = false;
    qsizetype start = 0;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char c = text.at(i);
        if (quoted && c == '\\') {
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == separator) {
            parts.append(text.mid(start, i - start).trimmed());
            start = i + 1;
        }
    }
    parts.append(text.mid(start).trimmed());
    return parts;
}

QByteArray unquote(const QByteArray &value)
{
    if (value.size() < 2 || !value.startsWith('"') || !value.endsWith('"'))
        return value;
    QByteArray plain;
    for (qsizetype i = 1; i < value.size() - 1; ++i) {
        if (value.at(i) == '\\' && i + 1 < value.size() - 1)
            ++i;
        plain.append(value.at(i));
    }
    return plain;
}

QList<Offer> parseOffers(const QByteArray &header)
{
    QList<Offer> offers;
    for (const QByteArray &element : splitOutsideQuotes(header, ',')) {
        if (element.isEmpty())
            continue;
        const QList<QByteArray> parts = splitOutsideQuotes(element, ';');
        Offer offer;
        offer.name = parts.first().toLower();
        for (qsizetype i = 1; i < parts.size(); ++i) {
            Parameter parameter;
            const qsizetype equals = parts.at(i).indexOf('=');
            parameter.name
                    = (equals < 0 ? parts.at(i) : parts.at(i).first(equals)).trimmed().toLower();
            if (equals >= 0) {
                parameter.hasValue = true;
                parameter.value = unquote(parts.at(i).mid(equals + 1).trimmed());
            }
            offer.parameters.append(parameter);
        }
        offers.append(offer);
    }
    return offers;
}

// RFC 7692 7.1.2: "8" to "15", written without leading zeros.
int windowBits(const QByteArray &value)
{
    // Digits only: toInt() alone would take a sign and whitespace.
    if (value.isEmpty() || value.size() > 2 || value.startsWith('0'))
        return 0;
    for (const char c : value) {
        if (c < '0' || c > '9')
            return 0;
    }
    const int bits = value.toInt();
    return bits >= 8 && bits <= MaxWindowBits ? bits : 0;
}

struct OfferTerms
{
    bool serverNoContextTakeover = false;
    bool clientNoContextTakeover = false;
    int serverMaxWindowBits = 0; // 0: not offered
    bool clientMaxWindowBits = false; // offered, maybe without a value
    int clientMaxWindowBitsValue = 0;
};

// Reads an offer's parameters; false when one is unknown, repeated or bad.
bool readTerms(const Offer &offer, OfferTerms *terms)
{
    QList<QByteArray> seen;
    for (const Parameter &parameter : offer.parameters) {
        if (seen.contains(parameter.name))
            return false;
        seen.append(parameter.name);
        if (parameter.name == "server_no_context_takeover") {
            if (parameter.hasValue)
                return false;
            terms->serverNoContextTakeover = true;
        } else if (parameter.name == "client_no_context_takeover") {
            if (parameter.hasValue)
                return false;
            terms->clientNoContextTakeover = true;
        } else if (parameter.name == "server_max_window_bits") {
            terms->serverMaxWindowBits = parameter.hasValue ? windowBits(parameter.value) : 0;
            if (!terms->serverMaxWindowBits)
                return false;
        } else if (parameter.name == "client_max_window_bits") {
            terms->clientMaxWindowBits = true;
            if (parameter.hasValue) {
                terms->clientMaxWindowBitsValue = windowBits(parameter.value);
                if (!terms->clientMaxWindowBitsValue)
                    return false;
            }
        } else {
            return false;
        }
    }
    return true;
}

} // namespace

std::optional<DeflateParameters> PerMessageDeflate::negotiate(const QByteArray &offers,
                                                              const WebSocketCompression &options,
                                                              QByteArray *response)
{
    if (!options.enabled)
        return std::nullopt;
    for (const Offer &offer : parseOffers(offers)) {
        OfferTerms terms;
        if (offer.name != "permessage-deflate" || !readTerms(offer, &terms))
            continue;
        DeflateParameters accepted;
        accepted.serverNoContextTakeover
                = terms.serverNoContextTakeover || !options.serverContextTakeover;
        accepted.clientNoContextTakeover
                = terms.clientNoContextTakeover || !options.clientContextTakeover;
        const int serverBits = qBound(8, options.serverMaxWindowBits, MaxWindowBits);
        accepted.serverMaxWindowBits = terms.serverMaxWindowBits
                                               ? qMin(terms.serverMaxWindowBits, serverBits)
                                               : serverBits;
        // A smaller client window only matters to a decompressor kept
        // across messages, and may only be asked of a client that offered it.
        int clientBits = 0;
        if (!accepted.clientNoContextTakeover && terms.clientMaxWindowBits) {
            clientBits = qBound(8, options.clientMaxWindowBits, MaxWindowBits);
            if (terms.clientMaxWindowBitsValue)
                clientBits = qMin(clientBits, terms.clientMaxWindowBitsValue);
            if (clientBits == MaxWindowBits && !terms.clientMaxWindowBitsValue)
                clientBits = 0;
        }
        accepted.clientMaxWindowBits = clientBits ? clientBits : MaxWindowBits;

        QByteArray answer = "permessage-deflate";
        if (accepted.serverNoContextTakeover)
            answer += "; server_no_context_takeover";
        if (accepted.clientNoContextTakeover)
            answer += "; client_no_context_takeover";
        if (terms.serverMaxWindowBits)
            answer += "; server_max_window_bits="
                      + QByteArray::number(accepted.serverMaxWindowBits);
        if (clientBits)
            answer += "; client_max_window_bits=" + QByteArray::number(clientBits);
        *response = answer;
        return accepted;
    }
    return std::nullopt;
}

// --- streams shared by a thread's connections ---------------------------

void DeflateStreams::StreamDeleter::operator()(z_stream *stream) const
{
    deflateEnd(stream);
    delete stream;
}

DeflateStreams::DeflateStreams() = default;

DeflateStreams::~DeflateStreams()
{
    if (m_inflater)
        inflateEnd(m_inflater.get());
}

z_stream *DeflateStreams::deflater(int windowBits, int level, int memLevel)
{
    const auto key = std::make_tuple(zlibWindowBits(windowBits), level, memLevel);
    auto it = m_deflaters.find(key);
    if (it == m_deflaters.end()) {
        Stream stream(newDeflater(windowBits, level, memLevel));
        if (!stream)
            return nullptr;
        it = m_deflaters.emplace(key, std::move(stream)).first;
    } else {
        deflateReset(it->second.get());
    }
    return it->second.get();
}

z_stream *DeflateStreams::inflater()
{
    if (!m_inflater)
        m_inflater = newInflater(MaxWindowBits);
    else
        inflateReset(m_inflater.get());
    return m_inflater.get();
}

// --- one connection -----------------------------------------------------

struct PerMessageDeflate::Own
{
    std::unique_ptr<z_stream> deflater;
    std::unique_ptr<z_stream> inflater;
    ~Own()
    {
        if (deflater)
            deflateEnd(deflater.get());
        if (inflater)
            inflateEnd(inflater.get());
    }
};

PerMessageDeflate::PerMessageDeflate(const DeflateParameters &parameters,
                                     const WebSocketCompression &options, DeflateStreams *shared)
    : m_parameters(parameters)
    , m_shared(shared)
    , m_threshold(qMax<qint64>(1, options.thresholdBytes))
    , m_level(qBound(1, options.level, 9))
    , m_memLevel(qBound(1, options.memLevel, 9))
{ }

PerMessageDeflate::~PerMessageDeflate() = default;

z_stream *PerMessageDeflate::deflater()
{
    if (m_parameters.serverNoContextTakeover)
        return m_shared->deflater(m_parameters.serverMaxWindowBits, m_level, m_memLevel);
    if (!m_own)
        m_own = std::make_unique<Own>();
    if (!m_own->deflater)
        m_own->deflater.reset(newDeflater(m_parameters.serverMaxWindowBits, m_level, m_memLevel));
    return m_own->deflater.get();
}

z_stream *PerMessageDeflate::inflater()
{
    if (m_parameters.clientNoContextTakeover)
        return m_shared->inflater();
    if (!m_own)
        m_own = std::make_unique<Own>();
    if (!m_own->inflater)
        m_own->inflater = newInflater(qMax(8, m_parameters.clientMaxWindowBits));
    return m_own->inflater.get();
}

bool PerMessageDeflate::compress(const char *data, qsizetype size, QByteArray *out)
{
    z_stream *stream = deflater();
    if (!stream)
        return false;
    // A sync flush adds at most a few bytes to deflateBound's figure.
    out->resize(qsizetype(deflateBound(stream, uLong(size))) + 16);
    stream->next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data));
    stream->avail_in = uInt(size);
    qsizetype used = 0;
    for (;;) {
        stream->next_out = reinterpret_cast<Bytef *>(out->data() + used);
        stream->avail_out = uInt(out->size() - used);
        const int status = deflate(stream, Z_SYNC_FLUSH);
        used = out->size() - stream->avail_out;
        if (status != Z_OK && status != Z_BUF_ERROR)
            return false;
        if (stream->avail_out > 0)
            break;
        out->resize(out->size() * 2);
    }
    if (used < 4 || std::memcmp(out->constData() + used - 4, SyncTail, 4) != 0)
        return false;
    out->resize(used - 4);
    return true;
}

PerMessageDeflate::InflateResult PerMessageDeflate::decompress(const QByteArray &compressed,
                                                               qint64 limit, Utf8Validator *text,
                                                               QByteArray *out)
{
    z_stream *stream = inflater();
    if (!stream)
        return InflateResult::TooBig; // no memory for zlib: as if too big to take
    out->clear();
    qsizetype used = 0;
    const QByteArrayView pieces[] = {compressed, QByteArrayView(SyncTail, 4)};
    for (const QByteArrayView piece : pieces) {
        stream->next_in = reinterpret_cast<Bytef *>(const_cast<char *>(piece.data()));
        stream->avail_in = uInt(piece.size());
        for (;;) {
            if (used == out->size()) {
                // Grown as output comes, never past one byte over the limit:
                // a small message that inflates to gigabytes costs its limit.
                const qint64 room = qMin<qint64>(qMax<qint64>(used * 2, 16 * 1024), limit + 1);
                if (room <= used)
                    return InflateResult::TooBig;
                // Exactly room: resize() alone would round the capacity up.
                out->reserve(room);
                out->resize(room);
            }
            stream->next_out = reinterpret_cast<Bytef *>(out->data() + used);
            stream->avail_out = uInt(out->size() - used);
            const int status = inflate(stream, Z_SYNC_FLUSH);
            const qsizetype produced = out->size() - used - stream->avail_out;
            if (text && !text->feed(out->constData() + used, produced))
                return InflateResult::BadUtf8;
            used += produced;
            if (used > limit)
                return InflateResult::TooBig;
            if (status == Z_STREAM_END) {
                // The sender ended its stream (BFINAL): the next message starts afresh.
                inflateReset(stream);
                out->resize(used);
                return InflateResult::Ok;
            }
            if (status != Z_OK && status != Z_BUF_ERROR)
                return InflateResult::BadData;
            if (stream->avail_in == 0 && stream->avail_out > 0)
                break;
            if (status == Z_BUF_ERROR && stream->avail_out > 0)
                return InflateResult::BadData; // no progress possible
        }
    }
    out->resize(used);
    return InflateResult::Ok;
}

qint64 PerMessageDeflate::heldBytes() const
{
    if (!m_own)
        return 0;
    qint64 bytes = qint64(sizeof(Own));
    // zlib's own figures (zconf.h), plus its state structures.
    if (m_own->deflater) {
        const int bits = zlibWindowBits(m_parameters.serverMaxWindowBits);
        bytes += (qint64(1) << (bits + 2)) + (qint64(1) << (m_memLevel + 9)) + 6 * 1024;
    }
    if (m_own->inflater)
        bytes += (qint64(1) << qMax(8, m_parameters.clientMaxWindowBits)) + 7 * 1024;
    return bytes;
}

} // namespace sluice
