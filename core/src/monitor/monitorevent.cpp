#include <sluice/monitorevent.h>

#include <QtCore/QDateTime>
#include <QtCore/QMetaEnum>

#include <chrono>

namespace sluice {

qint64 MonitorEvent::now()
{
    // Microseconds for real: a fast exchange takes less than a millisecond.
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

const QHostAddress &MonitorEvent::nullAddress()
{
    static const QHostAddress address;
    return address;
}

QString MonitorEvent::typeName(Type type)
{
    return QString::fromLatin1(QMetaEnum::fromType<Type>().valueToKey(int(type)));
}

QString MonitorEvent::opcodeName(Opcode opcode)
{
    switch (opcode) {
    case Opcode::Text:
        return QStringLiteral("text");
    case Opcode::Binary:
        return QStringLiteral("binary");
    case Opcode::Ping:
        return QStringLiteral("ping");
    case Opcode::Pong:
        return QStringLiteral("pong");
    case Opcode::Close:
        return QStringLiteral("close");
    case Opcode::None:
        break;
    }
    return {};
}

} // namespace sluice
