#include <sluice/passwordfile.h>

#include <QtCore/QCryptographicHash>
#include <QtCore/QFile>
#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QSet>

#include <crypt.h>

#include <cstring>

namespace sluice {

namespace {

// Enough for every user a busy site sees; past it the cache starts over
// rather than tracking recency, which would cost more than it saves.
constexpr qsizetype MaxCachedCredentials = 1024;

bool isAcceptedHash(const QByteArray &hash)
{
    if (hash.isEmpty() || hash.contains('\0'))
        return false;
    // Debian's libxcrypt calls sha256crypt legacy only because it is not its
    // default; it is salted and iterated like sha512crypt, which it accepts.
    if (hash.startsWith("$5$"))
        return true;
    return crypt_checksalt(hash.constData()) == CRYPT_SALT_OK;
}

bool constantTimeEquals(const char *computed, const QByteArray &stored)
{
    const size_t computedLength = std::strlen(computed);
    const size_t storedLength = size_t(stored.size());
    // Every byte of the stored hash is looked at whatever the lengths, so
    // that the time taken says nothing about where the strings differ.
    unsigned char difference = computedLength == storedLength ? 0 : 1;
    for (size_t i = 0; i < storedLength; ++i) {
        const unsigned char c = i < computedLength ? computed[i] : 0;
        difference |= c ^ static_cast<unsigned char>(stored.at(qsizetype(i)));
    }
    return difference == 0;
}

bool cryptMatches(const QByteArray &password, const QByteArray &hash)
{
    // crypt_data is about 32 KB: too much for a worker thread's stack.
    auto data = std::make_unique<crypt_data>();
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char *result
            = crypt_rn(password.constData(), hash.constData(), data.get(), int(sizeof(crypt_data)));
    // On failure libxcrypt may return a "*0"-style string rather than null;
    // it never equals a hash that passed isAcceptedHash(), but say so plainly.
    if (!result || result[0] == '*')
        return false;
    return constantTimeEquals(result, hash);
}

QByteArray cacheKey(const QString &user, const QString &password)
{
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(user.toUtf8());
    hash.addData(QByteArrayView("\0", 1));
    hash.addData(password.toUtf8());
    return hash.result();
}

} // namespace

struct PasswordFileData
{
    mutable QMutex mutex;
    QString fileName;
    QStringList users; // in file order
    QHash<QString, QByteArray> hashes;
    // Credentials that verified, so that a browser resending them on every
    // request does not cost a slow hash each time. Only successes: a wrong
    // guess must always pay the full price.
    QSet<QByteArray> verified;
    // Bumped by every load(), so that a verification that started before it
    // cannot cache a password the new file no longer has.
    quint64 generation = 0;
};

PasswordFile::PasswordFile()
    : d(std::make_shared<PasswordFileData>())
{ }

PasswordFile::~PasswordFile() = default;
PasswordFile::PasswordFile(const PasswordFile &other) = default;
PasswordFile &PasswordFile::operator=(const PasswordFile &other) = default;

bool PasswordFile::load(const QString &fileName)
{
    QFile file(fileName);
    if (!file.open(QIODevice::ReadOnly)) {
        m_errorString = QStringLiteral("%1: cannot read: %2").arg(fileName, file.errorString());
        return false;
    }
    const QByteArray content = file.readAll();
    if (file.error() != QFileDevice::NoError) {
        m_errorString = QStringLiteral("%1: cannot read: %2").arg(fileName, file.errorString());
        return false;
    }

    QStringList users;
    QHash<QString, QByteArray> hashes;
    QHash<QString, int> firstLines;
    const auto fail = [&](int lineNumber, const QString &reason) {
        m_errorString = QStringLiteral("%1:%2: %3").arg(fileName).arg(lineNumber).arg(reason);
        return false;
    };
    int lineNumber = 0;
    for (const QByteArray &rawLine : content.split('\n')) {
        ++lineNumber;
        // Trimming takes the "\r" of files written on Windows; neither user
        // names nor crypt strings have whitespace at their ends.
        const QByteArray line = rawLine.trimmed();
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const qsizetype colon = line.indexOf(':');
        if (colon < 0)
            return fail(lineNumber, QStringLiteral("expected \"user:hash\", found no ':'"));
        const QString user = QString::fromUtf8(line.left(colon));
        if (user.isEmpty())
            return fail(lineNumber, QStringLiteral("empty user name"));
        if (const auto first = firstLines.constFind(user); first != firstLines.constEnd()) {
            return fail(lineNumber, QStringLiteral("user \"%1\" appears twice (first on line %2)")
                                            .arg(user)
                                            .arg(first.value()));
        }
        const QByteArray hash = line.mid(colon + 1);
        if (!isAcceptedHash(hash)) {
            return fail(lineNumber,
                        QStringLiteral("user \"%1\": unsupported password hash (use bcrypt: "
                                       "htpasswd -B, yescrypt: mkpasswd, or SHA-512: openssl "
                                       "passwd -6)")
                                .arg(user));
        }
        firstLines.insert(user, lineNumber);
        users.append(user);
        hashes.insert(user, hash);
    }
    if (users.isEmpty()) {
        m_errorString = QStringLiteral("%1: no users").arg(fileName);
        return false;
    }

    QMutexLocker locker(&d->mutex);
    d->fileName = fileName;
    d->users = std::move(users);
    d->hashes = std::move(hashes);
    d->verified.clear();
    ++d->generation;
    locker.unlock();
    m_errorString.clear();
    return true;
}

QString PasswordFile::errorString() const
{
    return m_errorString;
}

QString PasswordFile::fileName() const
{
    QMutexLocker locker(&d->mutex);
    return d->fileName;
}

QStringList PasswordFile::users() const
{
    QMutexLocker locker(&d->mutex);
    return d->users;
}

bool PasswordFile::isEmpty() const
{
    QMutexLocker locker(&d->mutex);
    return d->users.isEmpty();
}

bool PasswordFile::verify(const QString &user, const QString &password) const
{
    const QByteArray passwordBytes = password.toUtf8();
    // crypt() would stop at a NUL and accept whatever precedes it.
    if (passwordBytes.contains('\0'))
        return false;
    const QByteArray key = cacheKey(user, password);

    QMutexLocker locker(&d->mutex);
    if (d->verified.contains(key))
        return true;
    const auto found = d->hashes.constFind(user);
    const bool known = found != d->hashes.constEnd();
    // An unknown user costs a hash like a known one, so that timing does not
    // tell which user names exist.
    const QByteArray hash
            = known ? found.value()
                    : (d->hashes.isEmpty() ? QByteArray() : d->hashes.cbegin().value());
    const quint64 generation = d->generation;
    locker.unlock();

    // The slow part runs unlocked: other threads keep verifying meanwhile.
    if (hash.isEmpty() || !cryptMatches(passwordBytes, hash) || !known)
        return false;

    locker.relock();
    if (d->generation == generation) {
        if (d->verified.size() >= MaxCachedCredentials)
            d->verified.clear();
        d->verified.insert(key);
    }
    return true;
}

} // namespace sluice
