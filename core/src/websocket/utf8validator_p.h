#ifndef SLUICE_UTF8VALIDATOR_P_H
#define SLUICE_UTF8VALIDATOR_P_H

#include <QtCore/QtGlobal>

#include <cstring>

namespace sluice {

// Checks UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF) as it arrives, in pieces split at any byte. feed() fails at the
// first byte that no continuation could make valid, which is what lets a
// WebSocket fail a text message fast (RFC 6455 8.1) instead of after its
// last fragment. One byte of state: it can live in every connection.
class Utf8Validator
{
public:
    // False once the bytes so far cannot be the start of valid UTF-8.
    bool feed(const char *data, qsizetype size)
    {
        const auto *p = reinterpret_cast<const uchar *>(data);
        const uchar *end = p + size;
        uchar state = m_state;
        while (p < end) {
            if (state == Accept) {
                // ASCII runs are most text: eight bytes a step.
                while (end - p >= 8) {
                    quint64 word;
                    std::memcpy(&word, p, 8);
                    if (word & 0x8080808080808080ull)
                        break;
                    p += 8;
                }
                while (p < end && *p < 0x80)
                    ++p;
                if (p == end)
                    break;
            }
            state = next(state, *p++);
            if (state == Reject) {
                m_state = Reject;
                return false;
            }
        }
        m_state = state;
        return true;
    }
    // True when no code point is cut off: the text so far is valid and whole.
    bool isComplete() const { return m_state == Accept; }
    bool isValid() const { return m_state != Reject; }
    void reset() { m_state = Accept; }

    static bool isValidUtf8(const char *data, qsizetype size)
    {
        Utf8Validator validator;
        return validator.feed(data, size) && validator.isComplete();
    }

private:
    // What the next byte may be, after the lead bytes of RFC 3629's table.
    enum : uchar {
        Accept, // between code points
        Tail1, // one continuation byte (80..BF) to go
        Tail2, // two to go
        Tail3, // three to go
        AfterE0, // A0..BF, then one more: no overlong three-byte forms
        AfterED, // 80..9F, then one more: no surrogates
        AfterF0, // 90..BF, then two more: no overlong four-byte forms
        AfterF4, // 80..8F, then two more: nothing above U+10FFFF
        Reject,
    };

    static uchar next(uchar state, uchar byte)
    {
        switch (state) {
        case Accept:
            if (byte >= 0xC2 && byte <= 0xDF)
                return Tail1;
            if (byte == 0xE0)
                return AfterE0;
            if (byte == 0xED)
                return AfterED;
            if (byte >= 0xE1 && byte <= 0xEF)
                return Tail2;
            if (byte == 0xF0)
                return AfterF0;
            if (byte == 0xF4)
                return AfterF4;
            if (byte >= 0xF1 && byte <= 0xF3)
                return Tail3;
            return Reject; // 80..C1 and F5..FF never lead
        case Tail1:
        case Tail2:
        case Tail3:
            return (byte & 0xC0) == 0x80 ? uchar(state - 1) : uchar(Reject);
        case AfterE0:
            return byte >= 0xA0 && byte <= 0xBF ? Tail1 : Reject;
        case AfterED:
            return byte >= 0x80 && byte <= 0x9F ? Tail1 : Reject;
        case AfterF0:
            return byte >= 0x90 && byte <= 0xBF ? Tail2 : Reject;
        case AfterF4:
            return byte >= 0x80 && byte <= 0x8F ? Tail2 : Reject;
        default:
            return Reject;
        }
    }

    uchar m_state = Accept;
};

} // namespace sluice

#endif // SLUICE_UTF8VALIDATOR_P_H
