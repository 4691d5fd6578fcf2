#ifndef SLUICE_LOGGING_P_H
#define SLUICE_LOGGING_P_H

#include <QtCore/QLoggingCategory>

namespace sluice {
Q_DECLARE_LOGGING_CATEGORY(lcServer)
Q_DECLARE_LOGGING_CATEGORY(lcHttp)
Q_DECLARE_LOGGING_CATEGORY(lcWebSocket)
} // namespace sluice

#endif // SLUICE_LOGGING_P_H
