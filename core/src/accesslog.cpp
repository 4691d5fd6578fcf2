// placeholder: a helper is writing this file
#include <sluice/accesslog.h>
#include <sluice/monitor.h>
namespace sluice {
AccessLog::AccessLog(Monitor *monitor, Writer writer, QObject *parent)
    : QObject(parent), m_monitor(monitor), m_writer(std::move(writer)) { }
AccessLog::~AccessLog() = default;
QByteArray AccessLog::formatEvent(const MonitorEvent &) const { return {}; }
void AccessLog::write(const QList<MonitorEvent> &) { }
}
