// The console's HTTP frame under /v1/console/: login routes (setup, login, logout, session) and
// a small dispatch for the console's other routes, which the Router hands every request of that
// prefix. Before any handler runs, the frame has checked: the route and method, the content
// type and body size (16 KiB), the session cookie (401 without a valid one), the CSRF token on
// every POST/PUT/DELETE except setup and login (403, compared in constant time), and the role the
// route needs (403). Every answer carries the console's security headers (addSecurityHeaders).
//
// Bodies are protobuf's JSON mapping (proto/eropaf/v1/console.proto); protobuf is accepted too.
// Thread-safety: add() only before serving; admit() and handle() from any thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine.hpp"
#include "http/router.hpp"

namespace eropaf::server {

/// Who may call a console route.
enum class ConsoleAccess {
  kAnyConsoleRole,  ///< coordinators and admins
  kCoordinator,     ///< case routes: coordinators only
  kAdmin,           ///< beheer routes: admins only (never case content)
};

/// A console route's handler: the session is checked; `done` exactly once, from any thread.
using ConsoleHandler = std::function<void(const ConsoleSession& session, const Request& request,
                                          std::function<void(Response)> done)>;

class ConsoleRoutes {
 public:
  static constexpr std::string_view kPrefix = "/v1/console/";
  static constexpr std::string_view kSessionCookie = "eropaf_session";

  ConsoleRoutes(Engine& engine, ConsoleOptions options);

  /// Is `route` (a target without its query) one of the console API's?
  static bool owns(std::string_view route);
  /// Is `route` one of the console's pages (/console and below)?
  static bool isConsolePage(std::string_view route);
  /// The console's security headers (CSP, nosniff, no referrer, no framing) and, for API
  /// answers, Cache-Control: no-store. Headers already present are left alone.
  static void addSecurityHeaders(Response& r, bool api);
  /// The session token in a Cookie header ("" when none).
  static std::string sessionToken(std::string_view cookie_header);

  /// Registers `handler` for `method` and every route starting with `path_prefix` (which must
  /// start with kPrefix); the longest matching prefix wins. Adding the same method and prefix
  /// again replaces the handler.
  void add(std::string method, std::string path_prefix, ConsoleAccess access,
           ConsoleHandler handler);

  Admission admit(const RequestHead& head);
  void handle(const Request& request, Admission admitted, std::function<void(Response)> done);

 private:
  struct Route {
    std::string method;
    std::string prefix;
    ConsoleAccess access;
    ConsoleHandler handler;
    bool needs_session = true;
  };
  const Route* find(std::string_view method, std::string_view route, bool* other_method) const;
  std::string setCookie(const std::string& token, bool clear) const;

  void setup(const Request& request, bool json, const std::function<void(Response)>& done);
  void login(const Request& request, bool json, const std::function<void(Response)>& done);

  Engine& engine_;
  ConsoleOptions options_;
  std::vector<Route> routes_;
};

}  // namespace eropaf::server
