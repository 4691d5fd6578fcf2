#include <sluice/tlsconfiguration.h>

#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtNetwork/QSslSocket>

namespace sluice {

namespace {

// Far more than any certificate chain: a bound for a path that names
// something else (a device, a log).
constexpr qint64 MaxPemBytes = 1024 * 1024;

bool readPem(const QString &fileName, QByteArray *data, QString *errorString)
{
    if (QFileInfo(fileName).isDir()) {
        *errorString = QStringLiteral("%1: is a directory, not a PEM file").arg(fileName);
        return false;
    }
    QFile file(fileName);
    if (!file.open(QIODevice::ReadOnly)) {
        *errorString = QStringLiteral("%1: cannot read: %2").arg(fileName, file.errorString());
        return false;
    }
    *data = file.read(MaxPemBytes + 1);
    if (data->size() > MaxPemBytes) {
        *errorString = QStringLiteral("%1: larger than %2 bytes: not a PEM file")
                               .arg(fileName)
                               .arg(MaxPemBytes);
        return false;
    }
    return true;
}

// One DER element (tag, length, content) at the start of data, enough to find
// a public key inside the encodings Qt gives for keys. Definite lengths only,
// as DER has.
struct Der
{
    quint8 tag = 0;
    QByteArray content;
    QByteArray whole;
};

bool readDer(const QByteArray &data, qsizetype *pos, Der *element)
{
    qsizetype at = *pos;
    if (at + 2 > data.size())
        return false;
    const quint8 tag = quint8(data.at(at++));
    qsizetype length = quint8(data.at(at++));
    if (length & 0x80) {
        const int bytes = length & 0x7f;
        if (bytes == 0 || bytes > 4 || at + bytes > data.size())
            return false;
        length = 0;
        for (int i = 0; i < bytes; ++i)
            length = (length << 8) | quint8(data.at(at++));
    }
    if (length > data.size() - at)
        return false;
    element->tag = tag;
    element->content = data.mid(at, length);
    element->whole = data.mid(*pos, at + length - *pos);
    *pos = at + length;
    return true;
}

QList<Der> derChildren(const QByteArray &content)
{
    QList<Der> children;
    qsizetype pos = 0;
    Der element;
    while (pos < content.size() && readDer(content, &pos, &element))
        children.append(element);
    return children;
}

constexpr quint8 DerInteger = 0x02;
constexpr quint8 DerBitString = 0x03;
constexpr quint8 DerOctetString = 0x04;
constexpr quint8 DerSequence = 0x30;
constexpr quint8 DerContext1 = 0xa1;

// The subjectPublicKey bits of a SubjectPublicKeyInfo.
QByteArray publicKeyBits(const QByteArray &spki)
{
    qsizetype pos = 0;
    Der outer;
    if (!readDer(spki, &pos, &outer) || outer.tag != DerSequence)
        return QByteArray();
    for (const Der &child : derChildren(outer.content)) {
        if (child.tag == DerBitString && !child.content.isEmpty())
            return child.content.mid(1); // after the count of unused bits
    }
    return QByteArray();
}

// The public point an EC private key carries (SEC1's optional [1]), inside
// PKCS#8 or not; empty when it has none.
QByteArray ecPublicPoint(const QByteArray &der)
{
    qsizetype pos = 0;
    Der outer;
    if (!readDer(der, &pos, &outer) || outer.tag != DerSequence)
        return QByteArray();
    const QList<Der> children = derChildren(outer.content);
    for (const Der &child : children) {
        if (child.tag == DerContext1) {
            qsizetype inner = 0;
            Der bits;
            if (readDer(child.content, &inner, &bits) && bits.tag == DerBitString
                && !bits.content.isEmpty())
                return bits.content.mid(1);
        }
    }
    // PKCS#8: version 0, the algorithm, then SEC1 in an OCTET STRING.
    if (children.size() >= 3 && children.at(0).tag == DerInteger
        && children.at(2).tag == DerOctetString)
        return ecPublicPoint(children.at(2).content);
    return QByteArray();
}

// Whether key is the private half of certificate's public key. RSA: the
// modulus appears in the private key. EC: the private key's copy of the
// public point equals the certificate's. Other kinds (and an EC key without
// its public point) are not checked here; the handshake would fail instead.
bool keyMatches(const QSslCertificate &certificate, const QSslKey &key)
{
    const QSslKey publicKey = certificate.publicKey();
    if (publicKey.algorithm() != key.algorithm())
        return false;
    const QByteArray bits = publicKeyBits(publicKey.toDer());
    const QByteArray privateDer = key.toDer();
    if (bits.isEmpty() || privateDer.isEmpty())
        return true;
    if (key.algorithm() == QSsl::Rsa) {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        qsizetype pos = 0;
        Der sequence;
        if (!readDer(bits, &pos, &sequence) || sequence.tag != DerSequence)
            return true;
        const QList<Der> numbers = derChildren(sequence.content);
        if (numbers.isEmpty() || numbers.first().tag != DerInteger)
            return true;
        return privateDer.contains(numbers.first().whole);
    }
    if (key.algorithm() == QSsl::Ec) {
        const QByteArray point = ecPublicPoint(privateDer);
        return point.isEmpty() || point == bits;
    }
    return true;
}

QString algorithmName(QSsl::KeyAlgorithm algorithm)
{
    switch (algorithm) {
    case QSsl::Rsa:
        return QStringLiteral("RSA");
    case QSsl::Ec:
        return QStringLiteral("EC");
    case QSsl::Dsa:
        return QStringLiteral("DSA");
    case QSsl::Dh:
        return QStringLiteral("DH");
    case QSsl::Opaque:
        break;
    }
    return QStringLiteral("other");
}

} // namespace

bool TlsConfiguration::load(const QString &certificateFile, const QString &keyFile,
                            const QByteArray &passPhrase)
{
    m_error = Error::UnavailableError;
    if (!isAvailable(&m_errorString))
        return false;

    m_error = Error::CertificateError;
    QByteArray certificateData;
    if (!readPem(certificateFile, &certificateData, &m_errorString))
        return false;
    const QList<QSslCertificate> chain = QSslCertificate::fromData(certificateData, QSsl::Pem);
    if (chain.isEmpty() || chain.first().isNull()) {
        m_errorString
                = QStringLiteral("%1: no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")")
                          .arg(certificateFile);
        return false;
    }

    m_error = Error::KeyError;
    QByteArray keyData;
    if (!readPem(keyFile, &keyData, &m_errorString))
        return false;
    QSslKey key;
    for (const QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec, QSsl::Dsa}) {
        key = QSslKey(keyData, algorithm, QSsl::Pem, QSsl::PrivateKey, passPhrase);
        if (!key.isNull())
            break;
    }
    if (key.isNull()) {
        if (keyData.contains("ENCRYPTED")) {
            m_errorString
                    = passPhrase.isEmpty()
                              ? QStringLiteral(
                                        "%1: the private key is encrypted (decrypt it: openssl "
                                        "pkey -in %1 -out plain.pem)")
                                        .arg(keyFile)
                              : QStringLiteral(
                                        "%1: cannot decrypt the private key: wrong pass phrase?")
                                        .arg(keyFile);
        } else {
            m_errorString = QStringLiteral("%1: no PEM private key in it (RSA, EC or DSA: "
                                           "\"-----BEGIN PRIVATE KEY-----\")")
                                    .arg(keyFile);
        }
        return false;
    }
    if (!keyMatches(chain.first(), key)) {
        m_error = Error::MismatchError;
        m_errorString = QStringLiteral("%1: the private key (%2) does not belong to the "
                                       "certificate in %3 (%4, %5)")
                                .arg(keyFile, algorithmName(key.algorithm()), certificateFile,
                                     algorithmName(chain.first().publicKey().algorithm()),
                                     chain.first().subjectDisplayName());
        return false;
    }

    m_certificateFile = certificateFile;
    m_keyFile = keyFile;
    m_chain = chain;
    m_key = key;
    m_error = Error::NoError;
    m_errorString.clear();
    return true;
}

QSslConfiguration TlsConfiguration::sslConfiguration() const
{
    if (isNull())
        return QSslConfiguration();
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setProtocol(QSsl::TlsV1_2OrLater);
    configuration.setLocalCertificateChain(m_chain);
    configuration.setPrivateKey(m_key);
    configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
    // Said outright, so that clients offering h2 know to speak HTTP/1.1.
    configuration.setAllowedNextProtocols({QSslConfiguration::NextProtocolHttp1_1});
    return configuration;
}

bool TlsConfiguration::isAvailable(QString *errorString)
{
    if (QSslSocket::supportsSsl())
        return true;
    if (errorString) {
        const QString backend = QSslSocket::activeBackend();
        *errorString = QStringLiteral("TLS is not available: Qt's TLS backend \"%1\" cannot serve "
                                      "TLS (Qt's OpenSSL backend plugin and libssl3 are needed)")
                               .arg(backend.isEmpty() ? QStringLiteral("none") : backend);
    }
    return false;
}

} // namespace sluice
