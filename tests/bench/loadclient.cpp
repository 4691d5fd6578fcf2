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
//
// The figures cover a measured window after a warm-up: the client's own CPU
// time over it (a client near one core's worth measures itself, not the
// server) and, with --server-pid, the server's (utime + stime of all its
// threads from /proc), read at the same two instants as the echo counts.
//
// --mode idle opens the connections, completes their handshakes, prints
// "READY <n>" and then only holds them (answering pings) for --hold seconds:
// the memory benchmark measures the server's RSS meanwhile. --bind-range
// spreads the connections over several source addresses, so that a server's
// per-address connection cap does not refuse them. With --echo-once every
// connection first sends one message (the trace's first, or a --size one)
// and waits for its echo before "READY": a server that makes its
// compression state only when a connection first compresses something is
// then measured with that state made.
//
// --trace FILE sends real messages (one per line of the file, in turn)
// instead of generated ones. --deflate offers permessage-deflate (RFC 7692)
// as browsers do; when the server agrees, every message goes out compressed
// (each trace message compressed once up front: without context takeover,
// which a client may always use, a message compresses the same whatever
// came before it) and every compressed echo is inflated before it is
// checked. The bytes of the data frames both ways are counted, so that the
// runner can report what compression saves on the wire.

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
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <zlib.h>

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

// utime + stime of a whole process (every thread) from /proc/PID/stat, in
// seconds; -1 when it cannot be read (the process is gone).
double processCpuSeconds(int pid)
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = std::fopen(path, "r");
    if (!file)
        return -1;
    char text[1024];
    const size_t n = std::fread(text, 1, sizeof text - 1, file);
    std::fclose(file);
    text[n] = '\0';
    // The command name may hold spaces and parentheses: fields are counted
    // from the last ')'. utime and stime are fields 14 and 15, the 12th and
    // 13th after it.
    const char *p = std::strrchr(text, ')');
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime)
        != 2)
        return -1;
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
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

// text as the inside of a JSON string: quotes and backslashes escaped,
// control characters made spaces.
std::string jsonString(const std::string &text)
{
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (uint8_t(c) < 0x20)
            c = ' ';
        out += c;
    }
    return out;
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
    int connectBatch = 32; // handshakes sent before their responses are read
    int tickMs = 1; // how often a paced client refills its bucket and sends
    bool idle = false; // --mode idle
    double hold = 10; // how long --mode idle holds the connections
    bool echoOnce = false; // --echo-once: one echo per connection before the hold
    bool binary = false; // --message binary
    bool deflate = false; // --deflate: offer permessage-deflate
    std::string trace; // --trace FILE: the messages to send, one per line
    int serverPid = 0; // whose CPU time to read over the window; 0: none
    // Source addresses (IPv4, host order), used round-robin; empty: any.
    uint32_t bindFirst = 0;
    uint32_t bindLast = 0;
};

[[noreturn]] void usage(const char *message)
{
    if (message)
        std::fprintf(stderr, "sluice-loadclient: %s\n", message);
    std::fprintf(stderr,
                 "usage: sluice-loadclient --url ws://HOST:PORT/PATH [--connections N]\n"
                 "         [--in-flight W] [--rate MSG_PER_S (0 = unpaced)] [--size BYTES]\n"
                 "         [--duration S] [--warmup S] [--drain-timeout S] [--tick-ms MS]\n"
                 "         [--message text|binary] [--server-pid PID]\n"
                 "         [--bind-range FIRST_IPV4-LAST_IPV4] [--connect-timeout S]\n"
                 "         [--connect-batch N] [--trace FILE] [--deflate (needs --trace)]\n"
                 "       sluice-loadclient --mode idle --url ... --connections N --hold S\n"
                 "         [--bind-range FIRST_IPV4-LAST_IPV4] [--deflate]\n"
                 "         [--echo-once [--trace FILE | --size BYTES]]\n");
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

// "127.0.0.2-127.0.0.41", or one address.
bool parseBindRange(const std::string &text, Options &options)
{
    const size_t dash = text.find('-');
    const std::string first = text.substr(0, dash);
    const std::string last = dash == std::string::npos ? first : text.substr(dash + 1);
    in_addr a {}, b {};
    if (inet_pton(AF_INET, first.c_str(), &a) != 1 || inet_pton(AF_INET, last.c_str(), &b) != 1)
        return false;
    options.bindFirst = ntohl(a.s_addr);
    options.bindLast = ntohl(b.s_addr);
    return options.bindFirst != 0 && options.bindFirst <= options.bindLast;
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
        if (arg == "--deflate") {
            options.deflate = true;
            continue;
        }
        if (arg == "--echo-once") {
            options.echoOnce = true;
            continue;
        }
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
        } else if (arg == "--connect-batch") {
            options.connectBatch = int(parseNumber("--connect-batch", value, 1));
        } else if (arg == "--mode") {
            if (std::strcmp(value, "echo") && std::strcmp(value, "idle"))
                usage("--mode is echo or idle");
            options.idle = !std::strcmp(value, "idle");
        } else if (arg == "--hold") {
            options.hold = parseNumber("--hold", value, 0);
        } else if (arg == "--message") {
            if (std::strcmp(value, "text") && std::strcmp(value, "binary"))
                usage("--message is text or binary");
            options.binary = !std::strcmp(value, "binary");
        } else if (arg == "--server-pid") {
            options.serverPid = int(parseNumber("--server-pid", value, 1));
        } else if (arg == "--bind-range") {
            if (!parseBindRange(value, options))
                usage("--bind-range must look like 127.0.0.2-127.0.0.41");
        } else if (arg == "--trace") {
            options.trace = value;
        } else {
            usage(("unknown option " + arg).c_str());
        }
    }
    if (!haveUrl)
        usage("--url is required");
    // Compressing generated payloads would cost the client a deflate per
    // message; a trace is compressed once.
    if (options.deflate && !options.idle && options.trace.empty())
        usage("--deflate sends --trace messages: give a trace file");
    if (!options.trace.empty() && options.binary)
        usage("--trace messages are text");
    if (options.echoOnce && !options.idle)
        usage("--echo-once belongs to --mode idle");
    return options;
}

// ----------------------------------------------------------------- payload

// A text payload names its sequence number in 16 hex digits, then fills the
// rest with letters that depend on it, so a reordered, truncated or corrupted
// echo never compares equal. Shorter payloads keep only the low digits.
//
// The letters depend only on the last digit, so the 16 possible fillings are
// made once: writing and checking a 16 KiB payload is then a copy or a
// memcmp, not a loop per byte that would make the client the bottleneck.
constexpr int SequenceDigits = 16;

class Payloads
{
public:
    explicit Payloads(int size)
        : m_size(size)
        , m_head(std::min(size, SequenceDigits))
    {
        for (unsigned d = 0; d < 16; ++d) {
            const unsigned start = unsigned(hexDigit(d));
            m_fillings[d].resize(size_t(size));
            for (int i = 0; i < size; ++i)
                m_fillings[d][size_t(i)] = char('a' + (start + unsigned(i)) % 26);
        }
    }

    void write(char *out, uint64_t sequence) const
    {
        std::memcpy(out, m_fillings[sequence & 15].data(), size_t(m_size));
        writeDigits(out, sequence);
    }
    bool matches(const char *payload, size_t length, uint64_t sequence) const
    {
        if (length != size_t(m_size))
            return false;
        char digits[SequenceDigits];
        writeDigits(digits, sequence);
        return std::memcmp(payload, digits, size_t(m_head)) == 0
               && std::memcmp(payload + m_head, m_fillings[sequence & 15].data() + m_head,
                              size_t(m_size - m_head))
                          == 0;
    }

private:
    static char hexDigit(unsigned value) { return "0123456789abcdef"[value & 15]; }
    // The low m_head hex digits of sequence, most significant first.
    void writeDigits(char *out, uint64_t sequence) const
    {
        for (int i = m_head - 1; i >= 0; --i) {
            out[i] = hexDigit(unsigned(sequence & 15));
            sequence >>= 4;
        }
    }

    int m_size;
    int m_head;
    std::string m_fillings[16];
};

// ------------------------------------------------------ permessage-deflate

// RFC 7692 7.2.1: a compressed message is what a sync flush ends with these
// four bytes, stripped by the sender and put back by the receiver.
constexpr unsigned char SyncTail[4] = {0x00, 0x00, 0xff, 0xff};
constexpr int MaxWindowBits = 15;
// Past this an echo is not one of ours.
constexpr size_t MaxInflatedBytes = size_t(64) << 20;
// How long --echo-once waits for all its echoes: 10,000 take a second or
// two, even from a server that makes a zlib state for each.
constexpr double EchoOnceTimeoutS = 30;

struct InflaterDeleter
{
    void operator()(z_stream *stream) const
    {
        inflateEnd(stream);
        delete stream;
    }
};
using Inflater = std::unique_ptr<z_stream, InflaterDeleter>;

// A raw inflater with the largest window: it reads any smaller one too.
Inflater newInflater()
{
    Inflater stream(new z_stream());
    if (inflateInit2(stream.get(), -MaxWindowBits) != Z_OK)
        return nullptr;
    return stream;
}

// text compressed on its own (a fresh stream: no context taken over), as a
// browser does: zlib's default level and memory, a sync flush, the tail
// stripped.
std::string deflateMessage(z_stream *stream, const std::string &text)
{
    deflateReset(stream);
    std::string out(deflateBound(stream, uLong(text.size())) + 16, '\0');
    stream->next_in = reinterpret_cast<Bytef *>(const_cast<char *>(text.data()));
    stream->avail_in = uInt(text.size());
    stream->next_out = reinterpret_cast<Bytef *>(out.data());
    stream->avail_out = uInt(out.size());
    const int status = deflate(stream, Z_SYNC_FLUSH);
    const size_t used = out.size() - stream->avail_out;
    if (status != Z_OK || stream->avail_in != 0 || used < 4
        || std::memcmp(out.data() + used - 4, SyncTail, 4) != 0)
        return std::string();
    out.resize(used - 4);
    return out;
}

// What the server's Sec-WebSocket-Extensions answer agreed to.
struct DeflateTerms
{
    bool serverNoContextTakeover = false;
    int clientWindowBits = MaxWindowBits;
};

std::string trimmed(const std::string &text)
{
    const size_t first = text.find_first_not_of(" \t");
    if (first == std::string::npos)
        return std::string();
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// "permessage-deflate; server_no_context_takeover; client_max_window_bits=10":
// false with error set when it is not an answer to our offer (another
// extension, an unknown or bad parameter), as a browser fails the connection.
bool parseDeflateAnswer(const std::string &value, DeflateTerms &terms, std::string &error)
{
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
        const size_t semicolon = value.find(';', start);
        parts.push_back(trimmed(value.substr(start, semicolon - start)));
        if (semicolon == std::string::npos)
            break;
        start = semicolon + 1;
    }
    std::string name = parts[0];
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (name != "permessage-deflate") {
        error = "the server agreed to an extension not offered: " + value;
        return false;
    }
    for (size_t i = 1; i < parts.size(); ++i) {
        const size_t equals = parts[i].find('=');
        const std::string key = trimmed(parts[i].substr(0, equals));
        std::string bits = equals == std::string::npos ? "" : trimmed(parts[i].substr(equals + 1));
        if (bits.size() >= 2 && bits.front() == '"' && bits.back() == '"')
            bits = bits.substr(1, bits.size() - 2);
        const int number = bits.empty() ? 0 : std::atoi(bits.c_str());
        if (key == "server_no_context_takeover" && equals == std::string::npos) {
            terms.serverNoContextTakeover = true;
        } else if (key == "client_no_context_takeover" && equals == std::string::npos) {
            // Ours is never taken over anyway.
        } else if ((key == "server_max_window_bits" || key == "client_max_window_bits")
                   && number >= 8 && number <= MaxWindowBits) {
            if (key == "client_max_window_bits")
                terms.clientWindowBits = number;
        } else {
            error = "bad permessage-deflate parameter in the answer: " + parts[i];
            return false;
        }
    }
    return true;
}

// --trace: the messages of a file, one per line, sent in turn; compressed
// once per client window size that servers ask for.
class Trace
{
public:
    bool load(const std::string &path, std::string &error)
    {
        FILE *file = std::fopen(path.c_str(), "r");
        if (!file) {
            error = path + ": " + std::strerror(errno);
            return false;
        }
        char *line = nullptr;
        size_t capacity = 0;
        ssize_t n;
        while ((n = getline(&line, &capacity, file)) > 0) {
            std::string message(line, size_t(n));
            while (!message.empty() && (message.back() == '\n' || message.back() == '\r'))
                message.pop_back();
            if (!message.empty())
                m_messages.push_back(std::move(message));
        }
        std::free(line);
        std::fclose(file);
        if (m_messages.empty())
            error = path + ": no message in it";
        return !m_messages.empty();
    }
    size_t count() const { return m_messages.size(); }
    const std::string &message(size_t index) const { return m_messages[index]; }
    // --echo-once: only one message is sent per connection, the same for
    // all (before anything is compressed).
    void keepFirst() { m_messages.resize(1); }
    void setOnly(const std::string &message) { m_messages.assign(1, message); }

    // Every message compressed with a 2^bits window (zlib's smallest raw
    // window is 2^9, whose matches never reach back 256 bytes: it suits 8
    // too); null when zlib fails.
    const std::vector<std::string> *compressed(int bits)
    {
        bits = std::max(9, bits);
        auto it = m_compressed.find(bits);
        if (it != m_compressed.end())
            return &it->second;
        z_stream stream {};
        if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY)
            != Z_OK)
            return nullptr;
        std::vector<std::string> out;
        for (const std::string &message : m_messages) {
            out.push_back(deflateMessage(&stream, message));
            if (out.back().empty())
                break;
        }
        deflateEnd(&stream);
        if (out.size() != m_messages.size() || out.back().empty())
            return nullptr;
        return &m_compressed.emplace(bits, std::move(out)).first->second;
    }

private:
    std::vector<std::string> m_messages;
    std::map<int, std::vector<std::string>> m_compressed; // by window bits
};

// XORs data with the frame's 4-byte masking key, 8 bytes at a time (the
// compiler vectorizes the loop further).
void applyMask(unsigned char *data, size_t size, const unsigned char key[4])
{
    uint64_t wide;
    std::memcpy(&wide, key, 4);
    std::memcpy(reinterpret_cast<char *>(&wide) + 4, key, 4);
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t word;
        std::memcpy(&word, data + i, 8);
        word ^= wide;
        std::memcpy(data + i, &word, 8);
    }
    for (; i < size; ++i)
        data[i] ^= key[i & 3];
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
    // permessage-deflate, when the server agreed to it: the trace as this
    // connection's window compresses it, and whether the message coming in
    // is compressed (RSV1 on its first frame).
    bool deflate = false;
    DeflateTerms terms;
    const std::vector<std::string> *compressedTrace = nullptr;
    bool compressedMessage = false;
    // The server's compression context, kept across messages: only when
    // it takes its context over (made on the first compressed echo).
    Inflater inflater;
};

struct Stats
{
    uint64_t sent = 0;
    uint64_t received = 0;
    uint64_t errors = 0;
    uint64_t lost = 0;
    // Over the measured window: data frame bytes on the wire (heads and
    // masks included) and message bytes before compression.
    uint64_t wireOut = 0;
    uint64_t wireIn = 0;
    uint64_t payloadOut = 0;
    uint64_t payloadIn = 0;
    Histogram rtt;
    std::string firstError;
};

class LoadClient
{
public:
    explicit LoadClient(const Options &options)
        : m_options(options)
        , m_payloads(options.size)
    {
        m_random.state = uint32_t(nowNs()) | 1;
    }

    bool prepare();
    bool connectAll();
    int run();
    int hold();

private:
    int connectOne(const addrinfo *address, int index, std::string &error);
    void useGeneratedMessage();
    std::string sendHandshake(int fd, std::string &error);
    bool readHandshake(int fd, const std::string &key, Connection &connection, std::string &error);
    void serviceIdle();
    void echoOnce();
    bool serviceEvents(std::vector<epoll_event> &events, int timeoutMs);
    void settleEchoes(std::vector<Connection *> &waiting);
    void queueMessage(Connection &connection, int64_t now);
    void flush(Connection &connection);
    void readable(Connection &connection, int64_t now);
    bool parseFrames(Connection &connection, int64_t now);
    bool agreeDeflate(const std::string &answer, Connection &connection, std::string &error);
    void onFrames(Connection &connection, const char *payload, size_t length, int64_t now);
    bool inflateMessage(Connection &connection, const char *data, size_t length);
    void onMessage(Connection &connection, const char *payload, size_t length, int64_t now);
    bool echoMatches(const Connection &connection, uint64_t sequence, const char *payload,
                     size_t length) const;
    size_t traceIndex(const Connection &connection, uint64_t sequence) const;
    void queueControl(Connection &connection, uint8_t opcode, const char *payload, size_t length);
    void fail(Connection &connection, const std::string &message);
    void closeQuietly(Connection &connection);
    void closeAll();
    void updateInterest(Connection &connection);
    void printResult(double durationS);
    std::string extensionJson() const;
    void startWindow();
    void endWindow();

    Options m_options;
    Payloads m_payloads;
    Trace m_trace;
    bool m_useTrace = false;
    // Inflates the echoes of servers that do not take their context over,
    // reset for each message; the output buffer grows and is reused.
    Inflater m_sharedInflater;
    std::vector<char> m_inflated;
    size_t m_inflatedSize = 0;
    // The first Sec-WebSocket-Extensions answer, and how many connections
    // agreed to permessage-deflate.
    std::string m_extension;
    size_t m_deflateConnections = 0;
    Random m_random {};
    std::vector<std::unique_ptr<Connection>> m_connections;
    int m_epoll = -1;
    Stats m_stats;
    bool m_measuring = false;
    bool m_sending = true;
    int64_t m_windowStart = 0;
    int64_t m_windowEnd = 0;
    // CPU seconds read at the window's start and end (server: -1 unread).
    double m_clientCpuAtStart = 0;
    double m_clientCpuS = 0;
    double m_serverCpuAtStart = -1;
    double m_serverCpuS = -1;
    double m_connectS = 0;
    // --echo-once: the connections whose echo came back intact, and how
    // many of those echoes were compressed.
    size_t m_echoedOnce = 0;
    size_t m_compressedEchoes = 0;
};

int LoadClient::connectOne(const addrinfo *address, int index, std::string &error)
{
    for (const addrinfo *a = address; a; a = a->ai_next) {
        if (m_options.bindFirst && a->ai_family != AF_INET)
            continue;
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            error = std::string("socket: ") + std::strerror(errno);
            continue;
        }
        if (m_options.bindFirst) {
            const uint32_t count = m_options.bindLast - m_options.bindFirst + 1;
            sockaddr_in source {};
            source.sin_family = AF_INET;
            source.sin_addr.s_addr = htonl(m_options.bindFirst + uint32_t(index) % count);
            // The port is picked at connect() for the whole 4-tuple, not at
            // bind() for the source address alone, so ports go further.
            const int one = 1;
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (::bind(fd, reinterpret_cast<const sockaddr *>(&source), sizeof source) != 0) {
                error = std::string("bind: ") + std::strerror(errno);
                ::close(fd);
                continue;
            }
        }
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            return fd;
        error = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
    }
    return -1;
}

// Sends the upgrade request; returns its Sec-WebSocket-Key, empty on failure.
std::string LoadClient::sendHandshake(int fd, std::string &error)
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
              + "\r\nSec-WebSocket-Version: 13\r\n"
              // What browsers offer: a client window the server may shrink.
              + (m_options.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                                     "client_max_window_bits\r\n"
                                   : "")
              + "\r\n";
    for (size_t done = 0; done < request.size();) {
        const ssize_t n = ::send(fd, request.data() + done, request.size() - done, MSG_NOSIGNAL);
        if (n <= 0) {
            error = std::string("sending the handshake: ") + std::strerror(errno);
            return std::string();
        }
        done += size_t(n);
    }
    return key;
}

// The value of the header name (lower case) in a response head whose
// lower-case copy is lower; false when it is not there.
bool headerValue(const std::string &head, const std::string &lower, const std::string &name,
                 std::string &value)
{
    const std::string field = "\r\n" + name + ":";
    const size_t at = lower.find(field);
    if (at == std::string::npos)
        return false;
    const size_t valueStart = head.find_first_not_of(" \t", at + field.size());
    const size_t valueEnd = head.find("\r\n", valueStart);
    value = trimmed(head.substr(valueStart, valueEnd - valueStart));
    return true;
}

// The server's Sec-WebSocket-Extensions answer: permessage-deflate on this
// connection, with the trace compressed for the window it allows.
bool LoadClient::agreeDeflate(const std::string &answer, Connection &connection, std::string &error)
{
    if (!m_options.deflate) {
        error = "the server agreed to an extension nobody offered: " + answer;
        return false;
    }
    if (!parseDeflateAnswer(answer, connection.terms, error))
        return false;
    if (m_useTrace) {
        connection.compressedTrace = m_trace.compressed(connection.terms.clientWindowBits);
        if (!connection.compressedTrace) {
            error = "zlib could not compress the trace";
            return false;
        }
    }
    connection.deflate = true;
    if (m_deflateConnections++ == 0)
        m_extension = answer;
    return true;
}

// Reads and checks the 101 response to the request sent with key.
bool LoadClient::readHandshake(int fd, const std::string &key, Connection &connection,
                               std::string &error)
{
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
    std::string accept;
    if (!headerValue(head, lower, "sec-websocket-accept", accept)) {
        error = "no Sec-WebSocket-Accept in the 101 response";
        return false;
    }
    const std::string expected = base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
    if (accept != expected) {
        error = "wrong Sec-WebSocket-Accept: " + accept;
        return false;
    }
    std::string extensions;
    if (headerValue(head, lower, "sec-websocket-extensions", extensions)
        && !agreeDeflate(extensions, connection, error))
        return false;
    // Frames that came with the response head belong to the connection.
    const std::string rest = response.substr(headEnd + 4);
    if (!rest.empty()) {
        std::memcpy(connection.in.reserve(rest.size()), rest.data(), rest.size());
        connection.in.commit(rest.size());
    }
    return true;
}

// The trace, and the inflater for servers without context takeover, before
// any connection opens.
bool LoadClient::prepare()
{
    if (m_options.deflate) {
        m_sharedInflater = newInflater();
        if (!m_sharedInflater) {
            std::fprintf(stderr, "sluice-loadclient: zlib: inflateInit2 failed\n");
            return false;
        }
    }
    if (m_options.trace.empty()) {
        if (m_options.echoOnce)
            useGeneratedMessage();
        return true;
    }
    std::string error;
    if (!m_trace.load(m_options.trace, error)) {
        std::fprintf(stderr, "sluice-loadclient: --trace: %s\n", error.c_str());
        return false;
    }
    if (m_options.echoOnce)
        m_trace.keepFirst();
    m_useTrace = true;
    return true;
}

// --echo-once without a trace: the --size message of sequence 0, made a
// one-message trace, so that it is compressed once and sent and checked as
// trace messages are.
void LoadClient::useGeneratedMessage()
{
    std::string message(size_t(m_options.size), '\0');
    m_payloads.write(message.data(), 0);
    m_trace.setOnly(message);
    m_useTrace = true;
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
    // Thousands of idle connections need more descriptors than the usual
    // soft limit of 1024.
    rlimit files {};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    const int64_t connectStart = nowNs();
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    // Handshakes go in batches: a batch's requests are all sent before its
    // responses are read, so that a server whose event loop costs more with
    // every open connection (poll() over all of them) answers a batch per
    // pass rather than one handshake per pass. A batch stays below the
    // usual listen backlog (Qt's is 50), past which the kernel drops SYNs
    // and the client waits a second to retry.
    const int batch = m_options.connectBatch;
    struct Handshake
    {
        int fd;
        std::string key;
        std::unique_ptr<Connection> connection;
    };
    std::vector<Handshake> handshakes;
    bool ok = true;
    std::string error;
    int failedIndex = 0;
    for (int first = 0; first < m_options.connections && ok; first += batch) {
        const int last = std::min(m_options.connections, first + batch);
        for (int i = first; i < last && ok; ++i) {
            error = "no usable address";
            const int fd = connectOne(address, i, error);
            auto connection = std::make_unique<Connection>();
            connection->index = i;
            connection->outstanding.slots.resize(size_t(m_options.inFlight));
            std::string key;
            if (fd >= 0) {
                timeval timeout {};
                timeout.tv_sec = time_t(m_options.connectTimeout);
                timeout.tv_usec
                        = suseconds_t((m_options.connectTimeout - double(timeout.tv_sec)) * 1e6);
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
                key = sendHandshake(fd, error);
            }
            if (fd >= 0)
                handshakes.push_back({fd, key, std::move(connection)});
            if (key.empty()) {
                failedIndex = i;
                ok = false;
            }
        }
        for (auto &handshake : handshakes) {
            if (!ok)
                break;
            Connection &connection = *handshake.connection;
            if (!readHandshake(handshake.fd, handshake.key, connection, error)) {
                failedIndex = connection.index;
                ok = false;
                break;
            }
            const int one = 1;
            setsockopt(handshake.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            fcntl(handshake.fd, F_SETFL, fcntl(handshake.fd, F_GETFL) | O_NONBLOCK);
            connection.fd = handshake.fd;
            handshake.fd = -1;
            epoll_event event {};
            event.events = EPOLLIN;
            event.data.ptr = &connection;
            epoll_ctl(m_epoll, EPOLL_CTL_ADD, connection.fd, &event);
            m_connections.push_back(std::move(handshake.connection));
        }
        for (const auto &handshake : handshakes) {
            if (handshake.fd >= 0)
                ::close(handshake.fd);
        }
        handshakes.clear();
        // Thousands of handshakes can take longer than a server's ping
        // interval: the connections already open answer meanwhile.
        if (ok)
            serviceIdle();
    }
    if (!ok)
        std::fprintf(stderr, "sluice-loadclient: connection %d: %s\n", failedIndex, error.c_str());
    freeaddrinfo(address);
    m_connectS = double(nowNs() - connectStart) / 1e9;
    return ok;
}

// Answers what the open connections got meanwhile (pings), without waiting.
void LoadClient::serviceIdle()
{
    epoll_event events[256];
    const int ready = epoll_wait(m_epoll, events, 256, 0);
    for (int i = 0; i < ready; ++i) {
        auto &connection = *static_cast<Connection *>(events[i].data.ptr);
        if (!connection.open)
            continue;
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            readable(connection, nowNs());
        if (connection.open && connection.out.size() > 0)
            flush(connection);
    }
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

// Connections start at different places in the trace, so that the
// messages in flight at one time differ.
size_t LoadClient::traceIndex(const Connection &connection, uint64_t sequence) const
{
    return size_t((uint64_t(connection.index) * 37 + sequence) % m_trace.count());
}

void LoadClient::queueMessage(Connection &connection, int64_t now)
{
    const uint64_t sequence = connection.nextSequence++;
    size_t size = size_t(m_options.size);
    size_t plainSize = size;
    const std::string *body = nullptr;
    if (m_useTrace) {
        const size_t index = traceIndex(connection, sequence);
        body = connection.deflate ? &(*connection.compressedTrace)[index] : &m_trace.message(index);
        size = body->size();
        plainSize = m_trace.message(index).size();
    }
    const size_t header = size < 126 ? 2 : size <= 0xffff ? 4 : 10;
    char *frame = connection.out.reserve(header + 4 + size);
    auto *p = reinterpret_cast<unsigned char *>(frame);
    // FIN, binary or text, RSV1 when compressed.
    *p++ = uint8_t((m_options.binary ? 0x82 : 0x81) | (connection.deflate ? 0x40 : 0));
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
    if (body)
        std::memcpy(p, body->data(), size);
    else
        m_payloads.write(reinterpret_cast<char *>(p), sequence);
    applyMask(p, size, key);
    connection.out.commit(header + 4 + size);
    connection.outstanding.push({sequence, now, m_measuring});
    if (m_measuring) {
        ++m_stats.sent;
        m_stats.wireOut += header + 4 + size;
        m_stats.payloadOut += plainSize;
    }
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
    if (!echoMatches(connection, item.sequence, payload, length)) {
        fail(connection, "echo of message " + std::to_string(item.sequence)
                                 + " does not match (got " + std::to_string(length) + " bytes: '"
                                 + std::string(payload, std::min<size_t>(length, 40)) + "')");
        return;
    }
    if (m_measuring && now <= m_windowEnd) {
        ++m_stats.received;
        m_stats.payloadIn += length;
        if (item.measured)
            m_stats.rtt.record(uint64_t((now - item.sentNs) / 1000));
    }
}

bool LoadClient::echoMatches(const Connection &connection, uint64_t sequence, const char *payload,
                             size_t length) const
{
    if (!m_useTrace)
        return m_payloads.matches(payload, length, sequence);
    const std::string &sent = m_trace.message(traceIndex(connection, sequence));
    return length == sent.size() && std::memcmp(payload, sent.data(), length) == 0;
}

// A whole message's payload as it came, inflated first when compressed.
void LoadClient::onFrames(Connection &connection, const char *payload, size_t length, int64_t now)
{
    if (!connection.compressedMessage) {
        onMessage(connection, payload, length, now);
        return;
    }
    if (inflateMessage(connection, payload, length))
        onMessage(connection, m_inflated.data(), m_inflatedSize, now);
}

// Inflates a compressed message into m_inflated (m_inflatedSize bytes);
// false, with the connection failed, on data zlib refuses.
bool LoadClient::inflateMessage(Connection &connection, const char *data, size_t length)
{
    z_stream *stream = m_sharedInflater.get();
    if (connection.terms.serverNoContextTakeover) {
        inflateReset(stream);
    } else {
        if (!connection.inflater)
            connection.inflater = newInflater();
        stream = connection.inflater.get();
    }
    if (!stream) {
        fail(connection, "zlib: no inflater");
        return false;
    }
    m_inflatedSize = 0;
    const std::pair<const char *, size_t> pieces[]
            = {{data, length}, {reinterpret_cast<const char *>(SyncTail), sizeof SyncTail}};
    for (const auto &[bytes, size] : pieces) {
        stream->next_in = reinterpret_cast<Bytef *>(const_cast<char *>(bytes));
        stream->avail_in = uInt(size);
        // Until the piece is in and the output did not fill the buffer
        // (when it did, more may be pending).
        do {
            if (m_inflated.size() - m_inflatedSize < 4096) {
                if (m_inflated.size() >= MaxInflatedBytes) {
                    fail(connection, "an echo inflates past 64 MiB");
                    return false;
                }
                m_inflated.resize(std::max<size_t>(m_inflated.size() * 2, 64 * 1024));
            }
            stream->next_out = reinterpret_cast<Bytef *>(m_inflated.data() + m_inflatedSize);
            stream->avail_out = uInt(m_inflated.size() - m_inflatedSize);
            const int status = inflate(stream, Z_SYNC_FLUSH);
            m_inflatedSize = m_inflated.size() - stream->avail_out;
            if (status == Z_STREAM_END) {
                // The server ended its stream (BFINAL): the next one starts afresh.
                inflateReset(stream);
                return true;
            }
            const bool stuck
                    = status == Z_BUF_ERROR && stream->avail_in > 0 && stream->avail_out > 0;
            if ((status != Z_OK && status != Z_BUF_ERROR) || stuck) {
                fail(connection,
                     std::string("inflating an echo: ") + (stream->msg ? stream->msg : "bad data"));
                return false;
            }
        } while (stream->avail_in > 0 || stream->avail_out == 0);
    }
    return true;
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
        const uint8_t reserved = p[0] & 0x70;
        // RSV1: compressed, allowed on the first frame of a data message
        // once permessage-deflate was agreed.
        if (reserved
            && (reserved != 0x40 || !connection.deflate || (opcode != 0x1 && opcode != 0x2))) {
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
        case 0x2: // binary
        case 0x0: // continuation
            if (opcode != 0x0 && (opcode == 0x2) != m_options.binary) {
                fail(connection, m_options.binary ? "text frame from an echo of binary"
                                                  : "binary frame from an echo of text");
                return false;
            }
            if ((opcode != 0x0) == connection.inFragments) {
                fail(connection, "bad fragmentation");
                return false;
            }
            if (opcode != 0x0)
                connection.compressedMessage = reserved != 0;
            if (m_measuring && now <= m_windowEnd)
                m_stats.wireIn += header + length;
            if (fin && !connection.inFragments) {
                onFrames(connection, payload, size_t(length), now);
            } else {
                connection.fragments.append(payload, size_t(length));
                connection.inFragments = !fin;
                if (fin) {
                    onFrames(connection, connection.fragments.data(), connection.fragments.size(),
                             now);
                    connection.fragments.clear();
                }
            }
            break;
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
    if (m_measuring)
        startWindow();

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
            startWindow();
        }
        if (m_sending && now >= m_windowEnd) {
            m_sending = false;
            endWindow();
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
    closeAll();
    printResult(m_options.duration);
    return m_stats.errors || m_stats.lost ? 1 : 0;
}

void LoadClient::startWindow()
{
    m_clientCpuAtStart = cpuSeconds();
    if (m_options.serverPid)
        m_serverCpuAtStart = processCpuSeconds(m_options.serverPid);
}

void LoadClient::endWindow()
{
    m_clientCpuS = cpuSeconds() - m_clientCpuAtStart;
    if (m_options.serverPid && m_serverCpuAtStart >= 0) {
        const double now = processCpuSeconds(m_options.serverPid);
        m_serverCpuS = now >= 0 ? now - m_serverCpuAtStart : -1;
    }
}

// Waits up to timeoutMs for events and handles them: reads (answering
// pings, checking echoes) and pending writes. False when epoll fails.
bool LoadClient::serviceEvents(std::vector<epoll_event> &events, int timeoutMs)
{
    const int ready = epoll_wait(m_epoll, events.data(), int(events.size()), timeoutMs);
    if (ready < 0 && errno != EINTR) {
        std::perror("epoll_wait");
        return false;
    }
    for (int i = 0; i < ready; ++i) {
        auto &connection = *static_cast<Connection *>(events[size_t(i)].data.ptr);
        if (!connection.open)
            continue;
        if (events[size_t(i)].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            readable(connection, nowNs());
        if (connection.open && connection.out.size() > 0)
            flush(connection);
    }
    return true;
}

// Milliseconds to wait for events: until deadline, at most 100.
int waitMs(int64_t now, int64_t deadline)
{
    return int(std::min<int64_t>(100, std::max<int64_t>(0, (deadline - now + 999999) / 1000000)));
}

// --echo-once: every connection sends the trace's one message (compressed
// when permessage-deflate was agreed, as the echo mode sends it) and waits
// for its echo, inflated and checked as the echo mode does. A window of
// --connect-batch connections at a time, as the handshakes go: 10,000
// messages at once would put the server's peak (its buffers, the messages
// queued in it) into the RSS read afterwards. Pings are answered meanwhile;
// an echo still missing after EchoOnceTimeoutS is lost.
void LoadClient::echoOnce()
{
    const int64_t deadline = nowNs() + int64_t(EchoOnceTimeoutS * 1e9);
    const size_t window = size_t(m_options.connectBatch);
    std::vector<Connection *> waiting;
    std::vector<epoll_event> events(m_connections.size() + 1);
    size_t next = 0;
    for (;;) {
        settleEchoes(waiting);
        for (; next < m_connections.size() && waiting.size() < window; ++next) {
            Connection &connection = *m_connections[next];
            if (!connection.open)
                continue;
            queueMessage(connection, nowNs());
            flush(connection);
            waiting.push_back(&connection);
        }
        if (waiting.empty())
            return;
        const int64_t now = nowNs();
        if (now >= deadline)
            break;
        if (!serviceEvents(events, waitMs(now, deadline))) {
            ++m_stats.errors;
            break;
        }
    }
    const size_t unsent
            = size_t(std::count_if(m_connections.begin() + ptrdiff_t(next), m_connections.end(),
                                   [](const auto &c) { return c->open; }));
    const size_t missing = waiting.size() + unsent;
    m_stats.lost += missing;
    if (m_stats.firstError.empty())
        m_stats.firstError = std::to_string(missing) + " of " + std::to_string(m_connections.size())
                             + " connections had no echo (--echo-once)";
}

// Drops from waiting the connections done with their echo, or failed,
// counting those that got it back intact (and compressed: a server may send
// a short message uncompressed). Their inflaters go: nothing more comes in
// during the hold, and 10,000 of them (32 KiB windows and more) would weigh
// 400 MB in the client.
void LoadClient::settleEchoes(std::vector<Connection *> &waiting)
{
    const auto settled = [this](Connection *connection) {
        if (connection->open && connection->outstanding.count > 0)
            return false;
        if (connection->open) {
            ++m_echoedOnce;
            m_compressedEchoes += connection->compressedMessage ? 1 : 0;
        }
        connection->inflater.reset();
        return true;
    };
    waiting.erase(std::remove_if(waiting.begin(), waiting.end(), settled), waiting.end());
}

// --mode idle: nothing is sent (but the one message of --echo-once); pings
// are answered, and anything else the server does (a message, a close) is
// counted as an error.
int LoadClient::hold()
{
    if (m_options.echoOnce)
        echoOnce();
    std::printf("READY %zu\n", m_connections.size());
    std::fflush(stdout);
    m_sending = false;
    const int64_t start = nowNs();
    const int64_t deadline = start + int64_t(m_options.hold * 1e9);
    std::vector<epoll_event> events(m_connections.size() + 1);
    for (;;) {
        const int64_t now = nowNs();
        if (now >= deadline)
            break;
        if (!serviceEvents(events, waitMs(now, deadline)))
            return 2;
    }
    const double heldS = double(nowNs() - start) / 1e9;
    const size_t open = size_t(std::count_if(m_connections.begin(), m_connections.end(),
                                             [](const auto &c) { return c->open; }));
    closeAll();
    const std::string error = jsonString(m_stats.firstError);
    std::printf("{\"mode\":\"idle\",\"connections\":%zu,\"openAtEnd\":%zu,\"errors\":%" PRIu64
                ",\"lost\":%" PRIu64 ",\"echoedOnce\":%zu,\"compressedEchoes\":%zu,"
                "\"connectS\":%.3f,\"heldS\":%.3f,%s,\"firstError\":\"%s\"}\n",
                m_connections.size(), open, m_stats.errors, m_stats.lost, m_echoedOnce,
                m_compressedEchoes, m_connectS, heldS, extensionJson().c_str(), error.c_str());
    std::fflush(stdout);
    return m_stats.errors || m_stats.lost ? 1 : 0;
}

// "deflateOffered":…,"extension":"…","deflateConnections":N for the result line.
std::string LoadClient::extensionJson() const
{
    return std::string("\"deflateOffered\":") + (m_options.deflate ? "true" : "false")
           + ",\"extension\":\"" + jsonString(m_extension)
           + "\",\"deflateConnections\":" + std::to_string(m_deflateConnections);
}

void LoadClient::printResult(double durationS)
{
    const Histogram &rtt = m_stats.rtt;
    const std::string error = jsonString(m_stats.firstError);
    std::printf("{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"errors\":%" PRIu64
                ",\"lost\":%" PRIu64 ",\"durationS\":%.3f,\"sentPerS\":%.1f,"
                "\"receivedPerS\":%.1f,\"rttUs\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
                ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "},\"clientCpuS\":%.3f,"
                "\"clientCpuPercent\":%.1f,\"serverCpuS\":%.3f,\"serverCpuUsPerMsg\":%.3f,"
                "\"connections\":%d,\"inFlight\":%d,\"rate\":%.0f,\"size\":%d,"
                "\"message\":\"%s\",\"connectS\":%.3f,",
                m_stats.sent, m_stats.received, m_stats.errors, m_stats.lost, durationS,
                double(m_stats.sent) / durationS, double(m_stats.received) / durationS,
                rtt.quantile(0.5), rtt.quantile(0.9), rtt.quantile(0.99), rtt.max(), m_clientCpuS,
                100 * m_clientCpuS / durationS, m_serverCpuS,
                m_serverCpuS >= 0 && m_stats.received
                        ? m_serverCpuS * 1e6 / double(m_stats.received)
                        : -1.0,
                int(m_connections.size()), m_options.inFlight, m_options.rate, m_options.size,
                m_options.binary ? "binary" : "text", m_connectS);
    std::printf("\"traceMessages\":%zu,\"wireBytesOut\":%" PRIu64 ",\"wireBytesIn\":%" PRIu64
                ",\"payloadBytesOut\":%" PRIu64 ",\"payloadBytesIn\":%" PRIu64
                ",%s,\"firstError\":\"%s\"}\n",
                m_useTrace ? m_trace.count() : 0, m_stats.wireOut, m_stats.wireIn,
                m_stats.payloadOut, m_stats.payloadIn, extensionJson().c_str(), error.c_str());
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    const Options options = parseOptions(argc, argv);
    LoadClient client(options);
    if (!client.prepare() || !client.connectAll())
        return 2;
    return options.idle ? client.hold() : client.run();
}
