#ifndef SLUICE_HTTPDATE_P_H
#define SLUICE_HTTPDATE_P_H

#include <QtCore/QByteArray>
#include <QtCore/QDateTime>
#include <QtCore/QLocale>

namespace sluice {

// IMF-fixdate (RFC 9110 section 5.6.7), the only form a server sends.
// Formatted by hand: QLocale's date formatting cost a static file response
// some 10,000 instructions (callgrind). Years 0 to 9999 only, as the format.
inline QByteArray formatHttpDate(const QDateTime &time)
{
    static const char days[7][4] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char months[12][4]
            = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const QDateTime utc = time.toUTC();
    const QDate date = utc.date();
    const QTime clock = utc.time();
    if (!date.isValid() || date.year() < 0 || date.year() > 9999)
        return QByteArray();
    QByteArray text(29, Qt::Uninitialized);
    char *out = text.data();
    const auto put = [&out](const char *piece, int size) {
        for (int i = 0; i < size; ++i)
            *out++ = piece[i];
    };
    const auto digits = [&out](int value, int width) {
        for (int i = width - 1; i >= 0; --i) {
            out[i] = char('0' + value % 10);
            value /= 10;
        }
        out += width;
    };
    put(days[date.dayOfWeek() - 1], 3);
    put(", ", 2);
    digits(date.day(), 2);
    put(" ", 1);
    put(months[date.month() - 1], 3);
    put(" ", 1);
    digits(date.year(), 4);
    put(" ", 1);
    digits(clock.hour(), 2);
    put(":", 1);
    digits(clock.minute(), 2);
    put(":", 1);
    digits(clock.second(), 2);
    put(" GMT", 4);
    return text;
}

// Invalid when the text is not an IMF-fixdate; such a condition is ignored.
inline QDateTime parseHttpDate(const QByteArray &text)
{
    const QDateTime time = QLocale::c().toDateTime(
            QString::fromLatin1(text.trimmed()), QStringLiteral("ddd, dd MMM yyyy hh:mm:ss 'GMT'"));
    return time.isValid() ? QDateTime(time.date(), time.time(), Qt::UTC) : QDateTime();
}

} // namespace sluice

#endif // SLUICE_HTTPDATE_P_H
