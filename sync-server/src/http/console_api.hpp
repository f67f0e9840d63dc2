// The console's API routes under /v1/console/ (docs/console.md "API"), each a thin call into the
// engine: the coordinator's reads and actions (engine_console.cpp), the report
// (engine_report.cpp), live updates over the engine's long-poll waiters, and the admin's beheer
// (engine_admin.cpp). ConsoleRoutes has checked the session, the CSRF token and the role before
// a handler runs. Bodies and answers are protobuf's JSON mapping (console.proto).
#pragma once

#include "engine.hpp"
#include "http/console_routes.hpp"
#include "http/router.hpp"

namespace eropaf::server {

/// Registers every console API route on `routes`. `schedule` runs the long polls' deadlines.
void addConsoleApi(ConsoleRoutes& routes, Engine& engine, const Scheduler& schedule);

}  // namespace eropaf::server
