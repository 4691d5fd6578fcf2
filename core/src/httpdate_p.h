#ifndef SLUICE_HTTPDATE_P_H
#define SLUICE_HTTPDATE_P_H

#include <QtCore/QByteArray>
#include <QtCore/QDateTime>
#include <QtCore/QLocale>

namespace sluice {

// IMF-fixdate (RFC 9110 section 5.6.7), the only form a server sends.
inline QByteArray formatHttpDate(const QDateTime &time)
{
    return QLocale::c()
            .toString(time.toUTC(), QStringLiteral("ddd, dd MMM yyyy hh:mm:ss 'GMT'"))
            .toLatin1();
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
