#ifndef SLUICE_FILESTREAM_P_H
#define SLUICE_FILESTREAM_P_H

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QObject>

#include <memory>

QT_BEGIN_NAMESPACE
class QIODevice;
QT_END_NAMESPACE

namespace sluice {

class HttpConnect;

// Writes a response body made of file slices (each behind a prefix, as the
// parts of multipart/byteranges are) as fast as the client takes it: never
// more than a bounded amount waits in the socket, whatever the file's size.
class FileStream : public QObject
{
    Q_OBJECT
public:
    struct Part
    {
        QByteArray prefix;
        qint64 offset = 0;
        qint64 length = 0;
    };

    // Takes the file and answers on connect, which it defers.
    FileStream(HttpConnect *connect, std::unique_ptr<QIODevice> file, QList<Part> parts,
               QByteArray trailer);
    ~FileStream() override;

    static qint64 bodyLength(const QList<Part> &parts, const QByteArray &trailer);

private:
    void pump();

    HttpConnect *m_connect;
    std::unique_ptr<QIODevice> m_file;
    QList<Part> m_parts;
    QByteArray m_trailer;
    qsizetype m_part = 0;
    qint64 m_done = 0; // of the current part's slice
    bool m_prefixSent = false;
};

} // namespace sluice

#endif // SLUICE_FILESTREAM_P_H
