#ifndef SLUICE_TLSCONFIGURATION_H
#define SLUICE_TLSCONFIGURATION_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtNetwork/QSslCertificate>
#include <QtNetwork/QSslConfiguration>
#include <QtNetwork/QSslKey>

namespace sluice {

// A server's certificate chain and private key, read from PEM files and
// checked against each other, for Server::listenSecure(). Checking at load
// time matters: OpenSSL would only notice a key that does not belong to the
// certificate when the first client connects, and then on every connection.
class SLUICE_CORE_EXPORT TlsConfiguration
{
public:
    // What the last load() failed on.
    enum class Error {
        NoError,
        UnavailableError, // Qt has no TLS backend that can serve
        CertificateError, // the certificate file: unreadable, or no PEM certificate in it
        KeyError, // the key file: unreadable, no PEM private key, encrypted
        MismatchError, // the key does not belong to the certificate
    };

    // Reads certificateFile (the server's certificate first, then any
    // intermediate certificates, PEM) and keyFile (its private key, PEM:
    // RSA, EC or DSA; PKCS#1, SEC1 or PKCS#8; encrypted ones need
    // passPhrase). Both may name the same file. On failure what was loaded
    // stays, error() says which part failed and errorString() names the
    // file and what is wrong with it.
    bool load(const QString &certificateFile, const QString &keyFile,
              const QByteArray &passPhrase = QByteArray());

    bool isNull() const { return m_chain.isEmpty() || m_key.isNull(); }
    Error error() const { return m_error; }
    QString errorString() const { return m_errorString; }
    QString certificateFile() const { return m_certificateFile; }
    QString keyFile() const { return m_keyFile; }
    QList<QSslCertificate> certificateChain() const { return m_chain; }
    QSslKey privateKey() const { return m_key; }

    // Qt's default configuration (its secure protocols and ciphers) with TLS
    // 1.2 or later, this certificate chain and key, no client certificates
    // asked for, and ALPN "http/1.1". Null when nothing is loaded.
    QSslConfiguration sslConfiguration() const;

    // Whether Qt has a TLS backend that can serve (OpenSSL's); if not, why.
    static bool isAvailable(QString *errorString = nullptr);

private:
    QString m_certificateFile;
    QString m_keyFile;
    QList<QSslCertificate> m_chain;
    QSslKey m_key;
    Error m_error = Error::NoError;
    QString m_errorString;
};

} // namespace sluice

#endif // SLUICE_TLSCONFIGURATION_H
