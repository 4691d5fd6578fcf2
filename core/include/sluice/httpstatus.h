#ifndef SLUICE_HTTPSTATUS_H
#define SLUICE_HTTPSTATUS_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QByteArray>
#include <QtCore/QString>

#include <exception>

namespace sluice {

// Thrown by a handler or filter to answer with a status; the error mapping
// decides the body. Any other exception becomes 500.
class SLUICE_CORE_EXPORT HttpStatus : public std::exception
{
public:
    explicit HttpStatus(int code, const QString &detail = QString());

    int code() const noexcept { return m_code; }
    QString detail() const { return m_detail; }
    const char *what() const noexcept override { return m_what.constData(); }

    // The standard reason phrase for a status code ("Not Found").
    static QByteArray reasonPhrase(int code);

private:
    int m_code;
    QString m_detail;
    QByteArray m_what;
};

} // namespace sluice

#endif // SLUICE_HTTPSTATUS_H
