// sluice-loadclient: a lean WebSocket load generator for the benchmarks.
//
// One thread, nonblocking POSIX sockets and epoll, raw RFC 6455 frames: the
// client must cost far less CPU than the server it measures, so nothing in
// the send/receive path allocates per message or goes through an event
// framework. Each connection keeps up to --in-flight messages outstanding;
// the server is expected to echo them in order, and every echo is checked
// byte for byte against what was sent and timed into a histogram.
//
// Output: one JSON object on stdout. Exit status 0 when every echo came back
// intact, 1 on protocol errors, mismatches or lost echoes, 2 on bad usage or
// when the connections cannot be set up.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------- utilities

int64_t nowNs()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double cpuSeconds()
{
    rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
           + double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Only the handshake needs SHA-1 (Sec-WebSocket-Accept); a few dozen lines
// keep the client free of any library but libc.
std::string sha1(const std::string &message)
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    std::string data = message;
    const uint64_t bitLength = uint64_t(message.size()) * 8;
    data.push_back(char(0x80));
    while (data.size() % 64 != 56)
        data.push_back('\0');
    for (int i = 7; i >= 0; --i)
        data.push_back(char((bitLength >> (i * 8)) & 0xff));
    auto rotl = [](uint32_t x, int n) {
        return (x << n) | (x >> (32 - n));
    };
    for (size_t chunk = 0; chunk < data.size(); chunk += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; ++i) {
            const auto *p = reinterpret_cast<const unsigned char *>(data.data() + chunk + i * 4);
            w[i] = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
        }
        for (int i = 16; i < 80; ++i)
            w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; ++i) {
            uint32_t f, k;
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            const uint32_t t = rotl(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = rotl(b, 30);
            b = a;
            a = t;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
    }
    std::string digest;
    for (uint32_t word : h)
        for (int i = 3; i >= 0; --i)
            digest.push_back(char((word >> (i * 8)) & 0xff));
    return digest;
}

std::string base64(const std::string &bytes)
{
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const uint32_t n = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8
                           | uint8_t(bytes[i + 2]);
        out += table[n >> 18];
        out += table[(n >> 12) & 63];
        out += table[(n >> 6) & 63];
        out += table[n & 63];
    }
    if (i + 1 == bytes.size()) {
        const uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
        out += table[n >> 18];
        out += table[(n >> 12) & 63];
        out += "==";
    } else if (i + 2 == bytes.size()) {
        const uint32_t n = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8;
        out += table[n >> 18];
        out += table[(n >> 12) & 63];
        out += table[(n >> 6) & 63];
        out += '=';
    }
    return out;
}

// xorshift32: masks and handshake keys only need to vary, not be secret
// (RFC 6455 wants unpredictable masks against proxy cache poisoning, which
// does not apply to a benchmark on loopback).
struct Random
{
    uint32_t state;
    uint32_t next()
    {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }
};

// --------------------------------------------------------------- histogram

// Log-linear buckets over microseconds: exact below 2^SubBits, then 2^SubBits
// buckets per power of two (relative error under 1/2^SubBits, ~3%).
class Histogram
{
public:
    static constexpr int SubBits = 5;
    static constexpr int SubCount = 1 << SubBits;
    static constexpr int Powers = 40;

    Histogram()
        : m_counts(size_t(SubCount) * Powers, 0)
    { }

    void record(uint64_t value)
    {
        ++m_counts[index(value)];
        ++m_total;
        m_max = std::max(m_max, value);
    }
    uint64_t total() const { return m_total; }
    uint64_t max() const { return m_max; }

    // The upper bound of the bucket holding the q-quantile, capped at max.
    uint64_t quantile(double q) const
    {
        if (m_total == 0)
            return 0;
        const uint64_t rank = std::max<uint64_t>(1, uint64_t(std::ceil(q * double(m_total))));
        uint64_t seen = 0;
        for (size_t i = 0; i < m_counts.size(); ++i) {
            seen += m_counts[i];
            if (seen >= rank)
                return std::min(upperBound(i), m_max);
        }
        return m_max;
    }

private:
    static size_t index(uint64_t value)
    {
        if (value < uint64_t(SubCount))
            return size_t(value);
        const int power = 63 - __builtin_clzll(value); // >= SubBits
        const int shift = power - SubBits;
        const size_t sub = size_t((value >> shift) & (SubCount - 1));
        const size_t i = size_t(shift + 1) * SubCount + sub;
        return std::min(i, size_t(SubCount) * Powers - 1);
    }
    static uint64_t upperBound(size_t i)
    {
        if (i < size_t(SubCount))
            return i;
        const size_t shift = i / SubCount - 1;
        const uint64_t sub = i % SubCount;
        return ((uint64_t(SubCount) + sub + 1) << shift) - 1;
    }

    std::vector<uint64_t> m_counts;
    uint64_t m_total = 0;
    uint64_t m_max = 0;
};

// ----------------------------------------------------------------- options

struct Options
{
    std::string host = "127.0.0.1";
    std::string port = "80";
    std::string path = "/";
    int connections = 50;
    int inFlight = 32;
    double rate = 0; // messages per second over all connections; 0: unpaced
    int size = 32;
    double duration = 10;
    double warmup = 1;
    double drainTimeout = 5;
    double connectTimeout = 5;
    int tickMs = 1; // how often a paced client refills its bucket and sends
};

[[noreturn]] void usage(const char *message)
{
    if (message)
        std::fprintf(stderr, "sluice-loadclient: %s\n", message);
    std::fprintf(stderr,
                 "usage: sluice-loadclient --url ws://HOST:PORT/PATH [--connections N]\n"
                 "         [--in-flight W] [--rate MSG_PER_S (0 = unpaced)] [--size BYTES]\n"
                 "         [--duration S] [--warmup S] [--drain-timeout S] [--tick-ms MS]\n");
    std::exit(2);
}

bool parseUrl(const std::string &url, Options &options)
{
    const std::string scheme = "ws://";
    if (url.compare(0, scheme.size(), scheme) != 0)
        return false;
    const std::string rest = url.substr(scheme.size());
    const size_t slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    options.path = slash == std::string::npos ? "/" : rest.substr(slash);
    if (authority.empty())
        return false;
    if (authority[0] == '[') {
        const size_t close = authority.find(']');
        if (close == std::string::npos)
            return false;
        options.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':')
                return false;
            options.port = authority.substr(close + 2);
        }
    } else {
        const size_t colon = authority.rfind(':');
        options.host = authority.substr(0, colon);
        if (colon != std::string::npos)
            options.port = authority.substr(colon + 1);
    }
    return !options.host.empty() && !options.port.empty();
}

double parseNumber(const char *name, const char *text, double minimum)
{
    char *end = nullptr;
    errno = 0;
    const double value = std::strtod(text, &end);
    if (errno || end == text || *end || !std::isfinite(value) || value < minimum) {
        std::fprintf(stderr, "sluice-loadclient: bad value for %s: '%s'\n", name, text);
        std::exit(2);
    }
    return value;
}

Options parseOptions(int argc, char **argv)
{
    Options options;
    bool haveUrl = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help")
            usage(nullptr);
        if (i + 1 >= argc)
            usage(("missing value for " + arg).c_str());
        const char *value = argv[++i];
        if (arg == "--url") {
            if (!parseUrl(value, options))
                usage("--url must look like ws://HOST:PORT/PATH");
            haveUrl = true;
        } else if (arg == "--connections") {
            options.connections = int(parseNumber("--connections", value, 1));
        } else if (arg == "--in-flight") {
            options.inFlight = int(parseNumber("--in-flight", value, 1));
        } else if (arg == "--rate") {
            options.rate = parseNumber("--rate", value, 0);
        } else if (arg == "--size") {
            options.size = int(parseNumber("--size", value, 0));
        } else if (arg == "--duration") {
            options.duration = parseNumber("--duration", value, 0.001);
        } else if (arg == "--warmup") {
            options.warmup = parseNumber("--warmup", value, 0);
        } else if (arg == "--drain-timeout") {
            options.drainTimeout = parseNumber("--drain-timeout", value, 0);
        } else if (arg == "--tick-ms") {
            options.tickMs = int(parseNumber("--tick-ms", value, 1));
        } else if (arg == "--connect-timeout") {
            options.connectTimeout = parseNumber("--connect-timeout", value, 0.001);
        } else {
            usage(("unknown option " + arg).c_str());
        }
    }
    if (!haveUrl)
        usage("--url is required");
    return options;
}

// ----------------------------------------------------------------- payload

// A text payload names its sequence number in 16 hex digits, then fills the
// rest with letters that depend on it, so a reordered, truncated or corrupted
// echo never compares equal. Shorter payloads keep only the low digits.
constexpr int SequenceDigits = 16;

void writePayload(char *out, int size, uint64_t sequence)
{
    static const char hex[] = "0123456789abcdef";
    char digits[SequenceDigits];
    for (int i = SequenceDigits - 1; i >= 0; --i) {
        digits[i] = hex[sequence & 15];
        sequence >>= 4;
    }
    const int head = std::min(size, SequenceDigits);
    std::memcpy(out, digits + SequenceDigits - head, size_t(head));
    const unsigned start = unsigned(digits[SequenceDigits - 1]);
    for (int i = head; i < size; ++i)
        out[i] = char('a' + (start + unsigned(i)) % 26);
}

// -------------------------------------------------------------- connection

struct Buffer
{
    std::vector<char> data;
    size_t begin = 0;
    size_t end = 0;

    size_t size() const { return end - begin; }
    const char *read() const { return data.data() + begin; }
    void consume(size_t n)
    {
        begin += n;
        if (begin == end)
            begin = end = 0;
    }
    // Room for at least n more bytes at the end.
    char *reserve(size_t n)
    {
        if (data.size() - end < n) {
            if (begin > 0) {
                std::memmove(data.data(), data.data() + begin, end - begin);
                end -= begin;
                begin = 0;
            }
            if (data.size() - end < n)
                data.resize(std::max(data.size() * 2, end + n));
        }
        return data.data() + end;
    }
    void commit(size_t n) { end += n; }
};

struct Outstanding
{
    uint64_t sequence;
    int64_t sentNs;
    bool measured;
};

// A fixed ring: a connection never has more than --in-flight outstanding.
struct OutstandingRing
{
    std::vector<Outstanding> slots;
    size_t head = 0;
    size_t count = 0;

    void push(const Outstanding &item) { slots[(head + count++) % slots.size()] = item; }
    const Outstanding &front() const { return slots[head]; }
    void pop()
    {
        head = (head + 1) % slots.size();
        --count;
    }
};

struct Connection
{
    int fd = -1;
    int index = 0;
    Buffer in;
    Buffer out;
    OutstandingRing outstanding;
    uint64_t nextSequence = 0;
    bool wantWrite = false;
    bool open = true;
    // Our close frame went out: the server's close and EOF are expected.
    bool closing = false;
    // A message split over continuation frames.
    std::string fragments;
    bool inFragments = false;
};

struct Stats
{
    uint64_t sent = 0;
    uint64_t received = 0;
    uint64_t errors = 0;
    uint64_t lost = 0;
    Histogram rtt;
    std::string firstError;
};

class LoadClient
{
public:
    explicit LoadClient(const Options &options)
        : m_options(options)
    {
        m_random.state = uint32_t(nowNs()) | 1;
        m_expected.resize(size_t(std::max(options.size, 1)));
    }

    bool connectAll();
    int run();

private:
    int connectOne(const addrinfo *address, std::string &error);
    bool handshake(int fd, Connection &connection, std::string &error);
    void queueMessage(Connection &connection, int64_t now);
    void flush(Connection &connection);
    void readable(Connection &connection, int64_t now);
    bool parseFrames(Connection &connection, int64_t now);
    void onMessage(Connection &connection, const char *payload, size_t length, int64_t now);
    void queueControl(Connection &connection, uint8_t opcode, const char *payload, size_t length);
    void fail(Connection &connection, const std::string &message);
    void closeQuietly(Connection &connection);
    void closeAll();
    void updateInterest(Connection &connection);
    void printResult(double durationS, double cpuS);

    Options m_options;
    Random m_random {};
    std::vector<std::unique_ptr<Connection>> m_connections;
    int m_epoll = -1;
    Stats m_stats;
    std::vector<char> m_expected;
    bool m_measuring = false;
    bool m_sending = true;
    int64_t m_windowStart = 0;
    int64_t m_windowEnd = 0;
};

int LoadClient::connectOne(const addrinfo *address, std::string &error)
{
    for (const addrinfo *a = address; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            return fd;
        error = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
    }
    return -1;
}

bool LoadClient::handshake(int fd, Connection &connection, std::string &error)
{
    std::string rawKey;
    for (int i = 0; i < 4; ++i) {
        const uint32_t r = m_random.next();
        rawKey.append(reinterpret_cast<const char *>(&r), 4);
    }
    const std::string key = base64(rawKey);
    const std::string hostHeader = m_options.host.find(':') != std::string::npos
                                           ? "[" + m_options.host + "]:" + m_options.port
                                           : m_options.host + ":" + m_options.port;
    const std::string request
            = "GET " + m_options.path + " HTTP/1.1\r\nHost: " + hostHeader
              + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
              + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    for (size_t done = 0; done < request.size();) {
        const ssize_t n = ::send(fd, request.data() + done, request.size() - done, MSG_NOSIGNAL);
        if (n <= 0) {
            error = std::string("sending the handshake: ") + std::strerror(errno);
            return false;
        }
        done += size_t(n);
    }
    std::string response;
    size_t headEnd = std::string::npos;
    while (headEnd == std::string::npos) {
        char chunk[4096];
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            error = n == 0 ? "the server closed during the handshake"
                           : std::string("reading the handshake: ") + std::strerror(errno);
            return false;
        }
        response.append(chunk, size_t(n));
        headEnd = response.find("\r\n\r\n");
        if (headEnd == std::string::npos && response.size() > 64 * 1024) {
            error = "handshake response head too large";
            return false;
        }
    }
    const std::string head = response.substr(0, headEnd + 2);
    if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
        error = "expected 101, got: " + head.substr(0, head.find("\r\n"));
        return false;
    }
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    const std::string field = "\r\nsec-websocket-accept:";
    const size_t at = lower.find(field);
    if (at == std::string::npos) {
        error = "no Sec-WebSocket-Accept in the 101 response";
        return false;
    }
    const size_t valueStart = head.find_first_not_of(" \t", at + field.size());
    const size_t valueEnd = head.find("\r\n", valueStart);
    std::string accept = head.substr(valueStart, valueEnd - valueStart);
    while (!accept.empty() && (accept.back() == ' ' || accept.back() == '\t'))
        accept.pop_back();
    const std::string expected = base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
    if (accept != expected) {
        error = "wrong Sec-WebSocket-Accept: " + accept;
        return false;
    }
    // Frames that came with the response head belong to the connection.
    const std::string rest = response.substr(headEnd + 4);
    if (!rest.empty()) {
        std::memcpy(connection.in.reserve(rest.size()), rest.data(), rest.size());
        connection.in.commit(rest.size());
    }
    return true;
}

bool LoadClient::connectAll()
{
    addrinfo hints {};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *address = nullptr;
    const int rc = getaddrinfo(m_options.host.c_str(), m_options.port.c_str(), &hints, &address);
    if (rc != 0) {
        std::fprintf(stderr, "sluice-loadclient: %s: %s\n", m_options.host.c_str(),
                     gai_strerror(rc));
        return false;
    }
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    bool ok = true;
    for (int i = 0; i < m_options.connections && ok; ++i) {
        std::string error = "no usable address";
        const int fd = connectOne(address, error);
        auto connection = std::make_unique<Connection>();
        connection->index = i;
        connection->outstanding.slots.resize(size_t(m_options.inFlight));
        if (fd >= 0) {
            timeval timeout {};
            timeout.tv_sec = time_t(m_options.connectTimeout);
            timeout.tv_usec
                    = suseconds_t((m_options.connectTimeout - double(timeout.tv_sec)) * 1e6);
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        }
        if (fd < 0 || !handshake(fd, *connection, error)) {
            std::fprintf(stderr, "sluice-loadclient: connection %d: %s\n", i, error.c_str());
            if (fd >= 0)
                ::close(fd);
            ok = false;
            break;
        }
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        connection->fd = fd;
        epoll_event event {};
        event.events = EPOLLIN;
        event.data.ptr = connection.get();
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &event);
        m_connections.push_back(std::move(connection));
    }
    freeaddrinfo(address);
    return ok;
}

void LoadClient::fail(Connection &connection, const std::string &message)
{
    ++m_stats.errors;
    if (m_stats.firstError.empty())
        m_stats.firstError = "connection " + std::to_string(connection.index) + ": " + message;
    if (connection.open) {
        connection.open = false;
        epoll_ctl(m_epoll, EPOLL_CTL_DEL, connection.fd, nullptr);
        ::close(connection.fd);
        // Whatever it still waited for will never come.
        m_stats.lost += connection.outstanding.count;
        connection.outstanding.count = 0;
    }
}

void LoadClient::closeQuietly(Connection &connection)
{
    if (!connection.open)
        return;
    connection.open = false;
    epoll_ctl(m_epoll, EPOLL_CTL_DEL, connection.fd, nullptr);
    ::close(connection.fd);
}

// The close handshake, so that the server sees a clean 1000 rather than a
// reset; bounded to a second.
void LoadClient::closeAll()
{
    const char normal[2] = {char(1000 >> 8), char(1000 & 0xff)};
    for (auto &connection : m_connections) {
        if (!connection->open)
            continue;
        connection->closing = true;
        queueControl(*connection, 0x8, normal, sizeof normal);
        flush(*connection);
    }
    const int64_t deadline = nowNs() + 1000000000;
    std::vector<epoll_event> events(m_connections.size() + 1);
    for (;;) {
        const bool anyOpen = std::any_of(m_connections.begin(), m_connections.end(),
                                         [](const auto &c) { return c->open; });
        const int64_t now = nowNs();
        if (!anyOpen || now >= deadline)
            break;
        const int ready = epoll_wait(m_epoll, events.data(), int(events.size()), 10);
        for (int i = 0; i < ready; ++i) {
            auto &connection = *static_cast<Connection *>(events[size_t(i)].data.ptr);
            if (!connection.open)
                continue;
            if (events[size_t(i)].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                readable(connection, now);
            if (connection.open && connection.out.size() > 0)
                flush(connection);
        }
    }
    for (auto &connection : m_connections)
        closeQuietly(*connection);
}

void LoadClient::updateInterest(Connection &connection)
{
    const bool want = connection.out.size() > 0;
    if (want == connection.wantWrite || !connection.open)
        return;
    connection.wantWrite = want;
    epoll_event event {};
    event.events = want ? uint32_t(EPOLLIN | EPOLLOUT) : uint32_t(EPOLLIN);
    event.data.ptr = &connection;
    epoll_ctl(m_epoll, EPOLL_CTL_MOD, connection.fd, &event);
}

void LoadClient::queueMessage(Connection &connection, int64_t now)
{
    const size_t size = size_t(m_options.size);
    const size_t header = size < 126 ? 2 : size <= 0xffff ? 4 : 10;
    char *frame = connection.out.reserve(header + 4 + size);
    auto *p = reinterpret_cast<unsigned char *>(frame);
    *p++ = 0x81; // FIN, text
    if (size < 126) {
        *p++ = uint8_t(0x80 | size);
    } else if (size <= 0xffff) {
        *p++ = 0x80 | 126;
        *p++ = uint8_t(size >> 8);
        *p++ = uint8_t(size);
    } else {
        *p++ = 0x80 | 127;
        for (int i = 7; i >= 0; --i)
            *p++ = uint8_t(uint64_t(size) >> (i * 8));
    }
    const uint32_t mask = m_random.next();
    std::memcpy(p, &mask, 4);
    const unsigned char *key = p;
    p += 4;
    const uint64_t sequence = connection.nextSequence++;
    writePayload(reinterpret_cast<char *>(p), int(size), sequence);
    for (size_t i = 0; i < size; ++i)
        p[i] ^= key[i & 3];
    connection.out.commit(header + 4 + size);
    connection.outstanding.push({sequence, now, m_measuring});
    if (m_measuring)
        ++m_stats.sent;
}

void LoadClient::queueControl(Connection &connection, uint8_t opcode, const char *payload,
                              size_t length)
{
    char *frame = connection.out.reserve(6 + length);
    auto *p = reinterpret_cast<unsigned char *>(frame);
    p[0] = uint8_t(0x80 | opcode);
    p[1] = uint8_t(0x80 | length); // control payloads are at most 125 bytes
    const uint32_t mask = m_random.next();
    std::memcpy(p + 2, &mask, 4);
    for (size_t i = 0; i < length; ++i)
        p[6 + i] = uint8_t(payload[i]) ^ p[2 + (i & 3)];
    connection.out.commit(6 + length);
}

void LoadClient::flush(Connection &connection)
{
    while (connection.open && connection.out.size() > 0) {
        const ssize_t n
                = ::send(connection.fd, connection.out.read(), connection.out.size(), MSG_NOSIGNAL);
        if (n > 0) {
            connection.out.consume(size_t(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        fail(connection, std::string("send: ") + std::strerror(errno));
        return;
    }
    updateInterest(connection);
}

void LoadClient::onMessage(Connection &connection, const char *payload, size_t length, int64_t now)
{
    if (connection.outstanding.count == 0) {
        fail(connection, "an echo nothing was sent for");
        return;
    }
    const Outstanding item = connection.outstanding.front();
    connection.outstanding.pop();
    writePayload(m_expected.data(), m_options.size, item.sequence);
    if (length != size_t(m_options.size) || std::memcmp(payload, m_expected.data(), length) != 0) {
        fail(connection, "echo of message " + std::to_string(item.sequence)
                                 + " does not match (got " + std::to_string(length) + " bytes: '"
                                 + std::string(payload, std::min<size_t>(length, 40)) + "')");
        return;
    }
    if (m_measuring && now <= m_windowEnd) {
        ++m_stats.received;
        if (item.measured)
            m_stats.rtt.record(uint64_t((now - item.sentNs) / 1000));
    }
}

// Consumes every complete frame in the input buffer; false once the
// connection failed.
bool LoadClient::parseFrames(Connection &connection, int64_t now)
{
    Buffer &in = connection.in;
    while (connection.open && in.size() >= 2) {
        const auto *p = reinterpret_cast<const unsigned char *>(in.read());
        const bool fin = p[0] & 0x80;
        const uint8_t opcode = p[0] & 0x0f;
        if (p[0] & 0x70) {
            fail(connection, "reserved bits set in a server frame");
            return false;
        }
        if (p[1] & 0x80) {
            fail(connection, "masked server frame");
            return false;
        }
        uint64_t length = p[1] & 0x7f;
        size_t header = 2;
        if (length == 126) {
            if (in.size() < 4)
                return true;
            length = uint64_t(p[2]) << 8 | p[3];
            header = 4;
        } else if (length == 127) {
            if (in.size() < 10)
                return true;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = length << 8 | p[2 + i];
            header = 10;
        }
        if (length > (uint64_t(1) << 30)) {
            fail(connection, "absurd frame length");
            return false;
        }
        if (in.size() < header + length)
            return true;
        const char *payload = in.read() + header;
        switch (opcode) {
        case 0x1: // text
        case 0x0: // continuation
            if ((opcode == 0x1) == connection.inFragments) {
                fail(connection, "bad fragmentation");
                return false;
            }
            if (fin && !connection.inFragments) {
                onMessage(connection, payload, size_t(length), now);
            } else {
                connection.fragments.append(payload, size_t(length));
                connection.inFragments = !fin;
                if (fin) {
                    onMessage(connection, connection.fragments.data(), connection.fragments.size(),
                              now);
                    connection.fragments.clear();
                }
            }
            break;
        case 0x2:
            fail(connection, "binary frame from an echo of text");
            return false;
        case 0x8: {
            if (connection.closing) {
                closeQuietly(connection);
                return false;
            }
            std::string reason;
            if (length >= 2)
                reason = std::to_string(uint8_t(payload[0]) << 8 | uint8_t(payload[1])) + " "
                         + std::string(payload + 2, size_t(length) - 2);
            fail(connection, "the server closed the WebSocket: " + reason);
            return false;
        }
        case 0x9:
            if (length > 125 || !fin) {
                fail(connection, "bad ping frame");
                return false;
            }
            queueControl(connection, 0xA, payload, size_t(length));
            break;
        case 0xA:
            break;
        default:
            fail(connection, "unknown opcode " + std::to_string(opcode));
            return false;
        }
        in.consume(header + size_t(length));
    }
    return connection.open;
}

void LoadClient::readable(Connection &connection, int64_t now)
{
    for (;;) {
        char *at = connection.in.reserve(64 * 1024);
        const ssize_t n = ::recv(connection.fd, at, 64 * 1024, 0);
        if (n > 0) {
            connection.in.commit(size_t(n));
            if (!parseFrames(connection, now))
                return;
            if (size_t(n) < 64 * 1024)
                return;
            continue;
        }
        if (n == 0) {
            if (connection.closing)
                closeQuietly(connection);
            else
                fail(connection, "the server closed the connection");
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR)
            continue;
        fail(connection, std::string("recv: ") + std::strerror(errno));
        return;
    }
}

int LoadClient::run()
{
    const size_t count = m_connections.size();
    const int64_t start = nowNs();
    m_windowStart = start + int64_t(m_options.warmup * 1e9);
    m_windowEnd = m_windowStart + int64_t(m_options.duration * 1e9);
    const int64_t drainDeadline = m_windowEnd + int64_t(m_options.drainTimeout * 1e9);
    m_measuring = m_options.warmup <= 0;
    double cpuAtStart = m_measuring ? cpuSeconds() : 0;

    // Paced: a token bucket refilled at every wake-up (at least every
    // --tick-ms), holding at most 10 ms of tokens (or one tick's) so that a
    // stall is not followed by an unbounded burst. Tokens go round-robin to connections
    // with room under their in-flight limit.
    const bool paced = m_options.rate > 0;
    const double burstCap
            = std::max(1.0, m_options.rate * std::max(0.01, 2.0 * m_options.tickMs / 1000));
    double tokens = 0;
    int64_t lastRefill = start;
    const int64_t tickNs = int64_t(m_options.tickMs) * 1000000;
    int64_t nextTick = start;
    size_t cursor = 0;

    // Unpaced connections keep W in flight from the start.
    if (!paced) {
        for (auto &connection : m_connections) {
            while (connection->outstanding.count < size_t(m_options.inFlight))
                queueMessage(*connection, start);
            flush(*connection);
        }
    }
    for (auto &connection : m_connections) {
        if (connection->in.size() > 0)
            parseFrames(*connection, start);
    }

    std::vector<epoll_event> events(count + 1);
    for (;;) {
        int64_t now = nowNs();
        if (!m_measuring && now >= m_windowStart) {
            m_measuring = true;
            cpuAtStart = cpuSeconds();
        }
        if (m_sending && now >= m_windowEnd) {
            m_sending = false;
        }
        if (!m_sending) {
            size_t outstanding = 0;
            for (auto &connection : m_connections)
                outstanding += connection->outstanding.count;
            if (outstanding == 0 || now >= drainDeadline) {
                m_stats.lost += outstanding;
                if (outstanding && m_stats.firstError.empty())
                    m_stats.firstError = std::to_string(outstanding)
                                         + " echoes still missing after the drain timeout";
                break;
            }
        }

        // Echoes wake the loop far more often than once a tick: sending only
        // on ticks batches a connection's messages into fewer syscalls.
        if (paced && m_sending && now >= nextTick) {
            nextTick = std::max(nextTick + tickNs, now);
            tokens = std::min(burstCap, tokens + m_options.rate * double(now - lastRefill) / 1e9);
            lastRefill = now;
            size_t blocked = 0;
            while (tokens >= 1 && blocked < count) {
                Connection &connection = *m_connections[cursor];
                cursor = (cursor + 1) % count;
                if (!connection.open
                    || connection.outstanding.count >= size_t(m_options.inFlight)) {
                    ++blocked;
                    continue;
                }
                blocked = 0;
                queueMessage(connection, now);
                tokens -= 1;
            }
            // What the in-flight limit held back is not owed later.
            if (blocked >= count)
                tokens = std::min(tokens, 1.0);
            for (auto &connection : m_connections) {
                if (connection->out.size() > 0 && !connection->wantWrite)
                    flush(*connection);
            }
        }

        const int timeout = paced && m_sending
                                    ? int(std::max<int64_t>(0, (nextTick - now + 999999) / 1000000))
                                    : 10;
        const int ready = epoll_wait(m_epoll, events.data(), int(events.size()), timeout);
        if (ready < 0 && errno != EINTR) {
            std::perror("epoll_wait");
            return 2;
        }
        now = nowNs();
        for (int i = 0; i < ready; ++i) {
            auto &connection = *static_cast<Connection *>(events[size_t(i)].data.ptr);
            if (!connection.open)
                continue;
            if (events[size_t(i)].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                readable(connection, now);
            if (!connection.open)
                continue;
            if (!paced && m_sending) {
                while (connection.outstanding.count < size_t(m_options.inFlight))
                    queueMessage(connection, now);
            }
            if (connection.out.size() > 0)
                flush(connection);
        }
    }
    const double cpuS = cpuSeconds() - cpuAtStart;
    closeAll();
    printResult(m_options.duration, cpuS);
    return m_stats.errors || m_stats.lost ? 1 : 0;
}

void LoadClient::printResult(double durationS, double cpuS)
{
    const Histogram &rtt = m_stats.rtt;
    std::string error;
    for (char c : m_stats.firstError) {
        if (c == '"' || c == '\\')
            error += '\\';
        if (uint8_t(c) < 0x20)
            c = ' ';
        error += c;
    }
    std::printf("{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"errors\":%" PRIu64
                ",\"lost\":%" PRIu64 ",\"durationS\":%.3f,\"sentPerS\":%.1f,"
                "\"receivedPerS\":%.1f,\"rttUs\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
                ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "},\"clientCpuS\":%.3f,"
                "\"connections\":%d,\"inFlight\":%d,\"rate\":%.0f,\"size\":%d,"
                "\"firstError\":\"%s\"}\n",
                m_stats.sent, m_stats.received, m_stats.errors, m_stats.lost, durationS,
                double(m_stats.sent) / durationS, double(m_stats.received) / durationS,
                rtt.quantile(0.5), rtt.quantile(0.9), rtt.quantile(0.99), rtt.max(), cpuS,
                int(m_connections.size()), m_options.inFlight, m_options.rate, m_options.size,
                error.c_str());
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    const Options options = parseOptions(argc, argv);
    LoadClient client(options);
    if (!client.connectAll())
        return 2;
    return client.run();
}
