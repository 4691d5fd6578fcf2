// libFuzzer target for the in-process request path: RequestParser fed the
// input as HttpConnection feeds it (peeking, in TCP-like pieces), then the
// checks HttpConnection::onHeadComplete() and startWebSocket() make, then
// Router::match() on a router with static, parameter, regex, method and ws:
// routes.
//
// Input: byte 0 picks the limits, byte 1 seeds the split into pieces, the
// rest is what a client sends. The input is parsed twice, in one piece and
// in pieces, and both must give the same requests and the same answer: a
// server whose answer depends on TCP segmentation has a bug.

#include "http/requestparser_p.h"

#include <sluice/router.h>

#include <QtCore/QByteArray>
#include <QtCore/QList>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

using sluice::Limits;
using sluice::RequestParser;
using sluice::RouteMatch;
using sluice::Router;

[[noreturn]] void fail(const char *what, const QByteArray &detail = QByteArray())
{
    std::fprintf(stderr, "fuzz_request: %s %s\n", what, detail.constData());
    std::abort();
}

#define FUZZ_CHECK(condition, detail) \
    do { \
        if (!(condition)) \
            fail("check failed: " #condition, detail); \
    } while (false)

Router &router()
{
    static Router *router = [] {
        auto *r = new Router;
        const sluice::HttpHandler http = [](sluice::HttpConnect &) {
        };
        const sluice::WebSocketHandler ws = [](sluice::WebSocket *) {
        };
        bool ok = true;
        ok &= r->map(QStringLiteral("/"), http);
        ok &= r->map(QStringLiteral("/hello/(?<name>[^/]+)"), http);
        ok &= r->map(QStringLiteral("/item/(id:\\d+)"), http);
        ok &= r->map(QStringLiteral("get:/only-get"), http);
        ok &= r->map(QStringLiteral("post:/form"), http);
        ok &= r->map(QStringLiteral("/files/.*\\.(txt|html)"), http);
        ok &= r->map(QStringLiteral("/old/(rest:.*)"), QStringLiteral("/new/(rest)"));
        ok &= r->map(QStringLiteral("/away"), QStringLiteral("https://example.org/"));
        ok &= r->map(QStringLiteral("ws:/echo"), ws);
        ok &= r->map(QStringLiteral("ws:/chat/(?<room>\\w+)"), ws);
        ok &= r->map(QStringLiteral("ws:/both"), ws);
        ok &= r->map(QStringLiteral("/both"), http);
        if (!ok)
            fail("bad route", r->errorString().toUtf8());
        return r;
    }();
    return *router;
}

Limits limitsFor(std::uint8_t selector)
{
    Limits limits;
    // Small limits half of the time, so that 413, 414 and 431 are reached.
    if (selector & 1) {
        limits.maxUriBytes = 64 + (selector >> 1) % 64;
        limits.maxHeadBytes = 256 + (selector >> 2) * 8;
        limits.maxHeaderCount = 1 + (selector >> 3) % 16;
        limits.maxBodyBytes = (selector >> 4) * 4;
    }
    return limits;
}

int hostCount(const sluice::HttpRequest &request)
{
    int count = 0;
    for (const sluice::HttpHeader &header : request.headers())
        count += header.first.compare("Host", Qt::CaseInsensitive) == 0;
    return count;
}

// What the server makes of one request: its answer status (0: handed to a
// route) and what it routed.
struct Outcome
{
    QByteArray method;
    QByteArray target;
    sluice::HttpHeaders headers;
    QByteArray body;
    int status = 0;
    QByteArray detail;
    // Refused by the parser or the head size limit, before the head was whole.
    bool parserError = false;
    bool operator==(const Outcome &other) const
    {
        // A request can break several rules at once (a target too long and
        // with a bad character); which one the parser meets first depends on
        // where the pieces end, and any of them is a right answer. A 501
        // (unknown method, well-formed request) is not one of them.
        if (parserError && other.parserError && status != 501 && other.status != 501)
            return true;
        return method == other.method && target == other.target && headers == other.headers
               && body == other.body && status == other.status && parserError == other.parserError;
    }
};

QByteArray describe(const QList<Outcome> &outcomes)
{
    QByteArray text;
    for (const Outcome &o : outcomes)
        text += o.method + ' ' + o.target + " -> " + QByteArray::number(o.status) + ' ' + o.detail
                + " (" + QByteArray::number(o.headers.size()) + " headers, "
                + QByteArray::number(o.body.size()) + " body bytes)\n";
    return text;
}

// Routing as HttpConnection and the Dispatcher do it; checks what the
// router answers, returns the status the server would answer with.
int route(const sluice::HttpRequest &request, bool webSocket)
{
    // The path decoded on its own (plain paths) is the one the URL holds.
    FUZZ_CHECK(request.path() == request.url().path(), request.target());
    const RouteMatch match = router().match(request.method(), request.path(), webSocket);
    switch (match.outcome) {
    case RouteMatch::Found:
        FUZZ_CHECK(match.route.isValid(), request.target());
        FUZZ_CHECK(match.route.isWebSocket() == webSocket, request.target());
        FUZZ_CHECK(match.route.method().isEmpty() || match.route.method() == request.method()
                           || (request.method() == "HEAD" && match.route.method() == "GET"),
                   request.target());
        return 0;
    case RouteMatch::NotFound:
        return 404;
    case RouteMatch::MethodNotAllowed:
        FUZZ_CHECK(!webSocket, request.target());
        FUZZ_CHECK(!match.allowedMethods.isEmpty(), request.target());
        return 405;
    case RouteMatch::UpgradeRequired:
        FUZZ_CHECK(!webSocket, request.target());
        return 426;
    }
    fail("unknown route outcome", request.target());
}

// HttpConnection::onHeadComplete() and startWebSocket(): 0 when the request
// goes on (to its body, then to a route), else the status it is refused with.
int headChecks(RequestParser &parser, bool *upgrade)
{
    sluice::HttpRequest &request = parser.request();
    *upgrade = false;
    const QByteArray target = request.target();
    if (target.isEmpty() || (target.at(0) != '/' && target != "*" && !target.contains("://")))
        return 400;
    if (request.method() == "CONNECT")
        return 501;
    const bool http11 = request.httpMajor() > 1 || request.httpMinor() >= 1;
    if (http11 && hostCount(request) == 0)
        return 400;
    if (hostCount(request) > 1)
        return 400;
    if (request.isWebSocketUpgrade()) {
        *upgrade = true;
        if (request.httpMajor() == 1 && request.httpMinor() == 0)
            return 400;
        if (request.header("Sec-WebSocket-Version").trimmed() != "13")
            return 400;
        const auto key
                = QByteArray::fromBase64Encoding(request.header("Sec-WebSocket-Key").trimmed(),
                                                 QByteArray::AbortOnBase64DecodingErrors);
        if (!key || key.decoded.size() != 16)
            return 400;
        const int status = route(request, true);
        return status ? status : 101;
    }
    if (http11 && request.hasHeader("Expect")
        && request.header("Expect").compare("100-continue", Qt::CaseInsensitive) != 0)
        return 417;
    return 0;
}

// HttpConnection::processInput(), over the pieces in turn: the connection
// peeks at everything it has, feeds the parser what it has not fed yet, and
// consumes the head once it is complete and the rest as the parser eats it.
QList<Outcome> serve(const QByteArray &input, const QList<qsizetype> &pieces, const Limits &limits)
{
    RequestParser parser(limits);
    QList<Outcome> outcomes;
    QByteArray buffered;
    qsizetype peeked = 0;
    bool readingHead = true;
    bool done = false;
    // Read at the head: http_parser counts it down as the body arrives.
    qint64 contentLength = -1;
    qsizetype offset = 0;

    const auto finish = [&](int status, const QByteArray &detail, bool parserError = false) {
        Outcome outcome;
        const sluice::HttpRequest &request = parser.request();
        outcome.method = request.method();
        outcome.target = request.target();
        outcome.headers = request.headers();
        outcome.body = request.body();
        outcome.status = status;
        outcome.detail = detail;
        outcome.parserError = parserError;
        outcomes.append(outcome);
    };

    for (const qsizetype piece : pieces) {
        if (done)
            break;
        buffered += input.mid(offset, piece);
        offset += piece;
        while (!done) {
            if (buffered.size() <= peeked) {
                if (readingHead && peeked > limits.maxHeadBytes) {
                    finish(431, "head too large", true);
                    done = true;
                }
                break;
            }
            const qsizetype size = buffered.size() - peeked;
            qsizetype consumed = -1;
            const auto event = parser.feed(buffered.constData() + peeked, size, &consumed);
            FUZZ_CHECK(consumed >= 0 && consumed <= size, QByteArray::number(consumed));
            if (event == RequestParser::Event::Error) {
                const int status = parser.errorStatus();
                FUZZ_CHECK(status == 400 || status == 413 || status == 414 || status == 431
                                   || status == 501,
                           QByteArray::number(status));
                FUZZ_CHECK(!parser.errorString().isEmpty(), QByteArray::number(status));
                // What the parser held when it stopped depends on where the
                // pieces ended, and is thrown away: only the answer counts.
                parser.request() = sluice::HttpRequest();
                finish(status, parser.errorString(), true);
                done = true;
                break;
            }
            if (readingHead) {
                peeked += consumed;
                if (event == RequestParser::Event::NeedMore) {
                    FUZZ_CHECK(consumed == size, QByteArray::number(consumed));
                    if (peeked > limits.maxHeadBytes) {
                        finish(431, "head too large", true);
                        done = true;
                    }
                    break;
                }
                if (peeked > limits.maxHeadBytes) {
                    finish(431, "head too large", true);
                    done = true;
                    break;
                }
                const sluice::HttpRequest &request = parser.request();
                FUZZ_CHECK(!request.method().isEmpty(), request.target());
                FUZZ_CHECK(request.target().size() <= limits.maxUriBytes, request.target());
                FUZZ_CHECK(request.headers().size() <= limits.maxHeaderCount, request.target());
                contentLength = parser.contentLength();
                FUZZ_CHECK(contentLength <= limits.maxBodyBytes, request.target());
                bool upgrade = false;
                const int status = headChecks(parser, &upgrade);
                if (status != 0) {
                    // A refusal closes the connection; an accepted upgrade
                    // hands the unread rest to QWebSocketServer.
                    finish(status, upgrade ? "upgrade" : "refused");
                    done = true;
                    break;
                }
                buffered.remove(0, peeked);
                peeked = 0;
                readingHead = false;
                continue;
            }
            buffered.remove(0, consumed);
            if (event == RequestParser::Event::MessageComplete) {
                const sluice::HttpRequest &request = parser.request();
                FUZZ_CHECK(request.body().size() <= limits.maxBodyBytes, request.target());
                if (contentLength >= 0)
                    FUZZ_CHECK(request.body().size() == contentLength, request.target());
                finish(route(request, false), "routed");
                if (!parser.keepAlive()) {
                    done = true;
                    break;
                }
                parser.reset();
                readingHead = true;
            } else if (event == RequestParser::Event::HeadComplete) {
                fail("second head without a message", parser.request().target());
            }
        }
    }
    return outcomes;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size < 2)
        return 0;
    const Limits limits = limitsFor(data[0]);
    const QByteArray input(reinterpret_cast<const char *>(data + 2), qsizetype(size - 2));

    const QList<Outcome> whole = serve(input, {input.size()}, limits);

    // Pieces of 1 to 16 bytes, from a small generator seeded by byte 1.
    QList<qsizetype> pieces;
    std::uint32_t state = 0x9e3779b9u ^ (std::uint32_t(data[1]) * 0x01000193u);
    for (qsizetype left = input.size(); left > 0;) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        const qsizetype piece = qMin<qsizetype>(left, 1 + state % 16);
        pieces.append(piece);
        left -= piece;
    }
    const QList<Outcome> split = serve(input, pieces, limits);

    if (!(whole == split)) {
        std::fprintf(stderr, "in one piece:\n%s\nin pieces:\n%s\n", describe(whole).constData(),
                     describe(split).constData());
        fail("the answer depends on how the request is split");
    }
    return 0;
}
