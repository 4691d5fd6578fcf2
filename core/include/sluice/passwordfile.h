#ifndef SLUICE_PASSWORDFILE_H
#define SLUICE_PASSWORDFILE_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QString>
#include <QtCore/QStringList>

#include <memory>

namespace sluice {

struct PasswordFileData;

// Users and hashed passwords for HTTP basic auth, in htpasswd's format: one
// "user:hash" per line, "#" comments and blank lines ignored. Hashes are
// crypt(3) strings checked by libxcrypt: bcrypt ("$2y$", "$2b$": htpasswd -B),
// yescrypt ("$y$": mkpasswd) and SHA-crypt ("$6$", "$5$": openssl passwd -6).
// Legacy and unsalted methods (DES, MD5, "{SHA}", plain text) are refused at
// load time. Copies share the users and a bounded cache of verified
// credentials, since a slow hash is the point and browsers resend every time.
class SLUICE_CORE_EXPORT PasswordFile
{
public:
    PasswordFile();
    ~PasswordFile();
    PasswordFile(const PasswordFile &other);
    PasswordFile &operator=(const PasswordFile &other);

    // Replaces the users with those of fileName. On failure nothing changes
    // and errorString() says "<file>:<line>: <what is wrong>".
    bool load(const QString &fileName);
    QString errorString() const;
    QString fileName() const;

    QStringList users() const;
    bool isEmpty() const;
    // Constant-time in the hash comparison; false for unknown users too.
    bool verify(const QString &user, const QString &password) const;

private:
    std::shared_ptr<PasswordFileData> d;
    QString m_errorString;
};

} // namespace sluice

#endif // SLUICE_PASSWORDFILE_H
