#include "logging_p.h"

namespace sluice {
Q_LOGGING_CATEGORY(lcServer, "sluice.server", QtInfoMsg)
Q_LOGGING_CATEGORY(lcHttp, "sluice.http", QtInfoMsg)
Q_LOGGING_CATEGORY(lcWebSocket, "sluice.ws", QtInfoMsg)
} // namespace sluice
