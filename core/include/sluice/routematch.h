#ifndef SLUICE_ROUTEMATCH_H
#define SLUICE_ROUTEMATCH_H

#include <sluice/route.h>

namespace sluice {

// What the router found for a request.
struct RouteMatch
{
    enum Outcome {
        Found,
        NotFound, // 404
        MethodNotAllowed, // 405, allowedMethods lists what would match
        UpgradeRequired, // 426: a plain request to a ws: route
    };

    Outcome outcome = NotFound;
    Route route;
    QHash<QString, QString> params;
    QList<QByteArray> allowedMethods;
};

} // namespace sluice

#endif // SLUICE_ROUTEMATCH_H
