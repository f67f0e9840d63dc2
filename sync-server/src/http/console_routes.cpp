// The console's frame: route table, session/CSRF/role checks before the body, the login routes
// and the security headers.
#include "http/console_routes.hpp"

#include <algorithm>
#include <iostream>

#include "eropaf/v1/console.pb.h"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

constexpr std::uint64_t kMaxGetBodyBytes = 1024;

constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

std::string routeOf(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

bool isWrite(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "DELETE";
}

bool hasHeader(const Response& r, std::string_view name) {
  return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) {
    return h.first.size() == name.size() &&
           std::equal(h.first.begin(), h.first.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  });
}

Response answer(const google::protobuf::Message& m, bool json) {
  return {200, json ? "application/json" : "application/x-protobuf", encodeBody(m, json)};
}

Response failure(std::string_view route, const Status& st, bool json) {
  const unsigned status = httpStatusFor(st.code());
  if (status >= 500) {
    std::clog << "eropaf-server: " << status << " " << route << ": " << st.toString() << std::endl;
  }
  return Router::error(status, st, json);
}

void fillSession(const ConsoleSession& s, v1::ConsoleSessionResponse& out) {
  wire::toProto(s.principal.worker, *out.mutable_worker());
  out.set_csrf_token(s.csrf_token);
  out.set_idle_expires_at_ms(s.idle_expires_ms);
  out.set_absolute_expires_at_ms(s.absolute_expires_ms);
}

}  // namespace

ConsoleRoutes::ConsoleRoutes(Engine& engine, ConsoleOptions options)
    : engine_(engine), options_(options) {
  routes_.push_back({"POST", "/v1/console/setup", ConsoleAccess::kAnyConsoleRole,
                     [this](const ConsoleSession&, const Request& r, auto done) {
                       setup(r, bodyFormatOf(r.content_type) != BodyFormat::kProtobuf,
                             std::move(done));
                     },
                     false});
  routes_.push_back({"POST", "/v1/console/login", ConsoleAccess::kAnyConsoleRole,
                     [this](const ConsoleSession&, const Request& r, auto done) {
                       login(r, bodyFormatOf(r.content_type) != BodyFormat::kProtobuf,
                             std::move(done));
                     },
                     false});
  add("POST", "/v1/console/logout", ConsoleAccess::kAnyConsoleRole,
      [this](const ConsoleSession&, const Request& r, auto done) {
        const bool json = bodyFormatOf(r.content_type) != BodyFormat::kProtobuf;
        if (Status st = engine_.consoleLogout(sessionToken(r.cookie)); !st.ok()) {
          return done(failure("/v1/console/logout", st, json));
        }
        Response resp = answer(v1::ConsoleLogoutResponse(), json);
        resp.headers.emplace_back("Set-Cookie", setCookie("", true));
        done(std::move(resp));
      });
  add("GET", "/v1/console/session", ConsoleAccess::kAnyConsoleRole,
      [](const ConsoleSession& s, const Request& r, auto done) {
        v1::ConsoleSessionResponse out;
        fillSession(s, out);
        done(answer(out, bodyFormatOf(r.content_type) != BodyFormat::kProtobuf));
      });
}

bool ConsoleRoutes::owns(std::string_view route) {
  return route.substr(0, kPrefix.size()) == kPrefix;
}

bool ConsoleRoutes::isConsolePage(std::string_view route) {
  return route == "/console" || route.substr(0, 9) == "/console/";
}

void ConsoleRoutes::addSecurityHeaders(Response& r, bool api) {
  auto put = [&r](std::string_view name, std::string_view value) {
    if (!hasHeader(r, name)) r.headers.emplace_back(std::string(name), std::string(value));
  };
  put("Content-Security-Policy", kCsp);
  put("X-Content-Type-Options", "nosniff");
  put("Referrer-Policy", "no-referrer");
  put("X-Frame-Options", "DENY");
  if (api) put("Cache-Control", "no-store");
}

std::string ConsoleRoutes::sessionToken(std::string_view cookie) {
  // Cookie: a=1; eropaf_session=TOKEN; b=2 — the first of that name counts.
  while (!cookie.empty()) {
    const std::size_t semi = std::min(cookie.find(';'), cookie.size());
    std::string_view pair = cookie.substr(0, semi);
    cookie.remove_prefix(std::min(semi + 1, cookie.size()));
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (pair.substr(0, eq) == kSessionCookie) {
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return std::string(value);
    }
  }
  return {};
}

void ConsoleRoutes::add(std::string method, std::string path_prefix, ConsoleAccess access,
                        ConsoleHandler handler) {
  // A route added again for the same method and prefix replaces the earlier one.
  for (Route& r : routes_) {
    if (r.method == method && r.prefix == path_prefix) {
      r.access = access;
      r.handler = std::move(handler);
      r.needs_session = true;
      return;
    }
  }
  routes_.push_back({std::move(method), std::move(path_prefix), access, std::move(handler), true});
}

const ConsoleRoutes::Route* ConsoleRoutes::find(std::string_view method, std::string_view route,
                                                bool* other_method) const {
  const Route* best = nullptr;
  *other_method = false;
  for (const Route& r : routes_) {
    if (route.substr(0, r.prefix.size()) != r.prefix) continue;
    // A prefix matches a whole path segment: /v1/console/cases does not match /v1/console/casesx.
    if (route.size() > r.prefix.size() && r.prefix.back() != '/' && route[r.prefix.size()] != '/') {
      continue;
    }
    if (r.method != method) {
      *other_method = true;
      continue;
    }
    if (best == nullptr || r.prefix.size() > best->prefix.size()) best = &r;
  }
  return best;
}

std::string ConsoleRoutes::setCookie(const std::string& token, bool clear) const {
  std::string c = std::string(kSessionCookie) + "=" + token + "; HttpOnly; SameSite=Strict; Path=/";
  if (clear) c += "; Max-Age=0";
  if (options_.secure_cookie) c += "; Secure";
  return c;
}

Admission ConsoleRoutes::admit(const RequestHead& head) {
  const std::string route = routeOf(head.target);
  const BodyFormat format = bodyFormatOf(head.content_type);
  const bool json = format != BodyFormat::kProtobuf;
  Admission a;
  auto reject = [&](Response r) {
    addSecurityHeaders(r, true);
    a.rejection = std::move(r);
    return a;
  };
  bool other_method = false;
  const Route* r = find(head.method, route, &other_method);
  if (r == nullptr) {
    if (other_method) {
      return reject(Router::error(
          405, Status(ErrorCode::kInvalidArgument, "method " + head.method + " not allowed here"),
          json));
    }
    return reject(Router::error(404, Status(ErrorCode::kNotFound, "no route " + route), json));
  }
  const bool write = isWrite(head.method);
  a.body_limit = write ? options_.max_body_bytes : kMaxGetBodyBytes;
  if (write && format == BodyFormat::kOther) {
    return reject(Router::error(
        415,
        Status(ErrorCode::kInvalidArgument,
               "Content-Type must be application/json (or application/x-protobuf)", "content-type"),
        true));
  }
  if (r->needs_session) {
    Result<ConsoleSession> session =
        engine_.consoleAuthenticate(sessionToken(head.cookie), head.peer);
    if (!session.ok()) return reject(failure(route, session.status(), json));
    // The CSRF token on every write: a page of another site cannot read it, so it cannot send
    // it along with the cookie the browser adds.
    if (write && !session->csrfMatches(head.csrf_token)) {
      return reject(
          Router::error(403,
                        Status(ErrorCode::kPermissionDenied,
                               "the X-CSRF-Token header is missing or not right", "X-CSRF-Token"),
                        json));
    }
    const bool allowed =
        r->access == ConsoleAccess::kAnyConsoleRole ||
        (r->access == ConsoleAccess::kCoordinator && session->role == Role::kCoordinator) ||
        (r->access == ConsoleAccess::kAdmin && session->role == Role::kAdmin);
    if (!allowed) {
      return reject(Router::error(403,
                                  Status(ErrorCode::kPermissionDenied,
                                         r->access == ConsoleAccess::kAdmin
                                             ? "this part of the console is for admins"
                                             : "this part of the console is for coordinators"),
                                  json));
    }
    a.console = std::move(session).value();
  }
  if (head.content_length.has_value() && *head.content_length > a.body_limit) {
    return reject(Router::error(
        413,
        Status(ErrorCode::kTooLarge, "the body is larger than the " + std::to_string(a.body_limit) +
                                         " bytes " + route + " accepts"),
        json));
  }
  return a;
}

void ConsoleRoutes::handle(const Request& request, Admission admitted,
                           std::function<void(Response)> done) {
  const std::string route = routeOf(request.target);
  bool other_method = false;
  const Route* r = find(request.method, route, &other_method);
  if (r == nullptr || (r->needs_session && !admitted.console.has_value())) {
    // admit() refuses these; a caller that skipped it gets the same answer.
    return done(Router::error(404, Status(ErrorCode::kNotFound, "no route " + route), true));
  }
  const ConsoleSession session =
      admitted.console.has_value() ? std::move(*admitted.console) : ConsoleSession{};
  r->handler(session, request, std::move(done));
}

void ConsoleRoutes::setup(const Request& request, bool json,
                          const std::function<void(Response)>& done) {
  v1::ConsoleSetupRequest req;
  if (Status st = decodeBody(request.body, json, req); !st.ok()) {
    return done(Router::error(400, st, json));
  }
  Result<ConsoleSetupResult> r = engine_.consoleSetup(req.code(), req.password(), request.peer);
  if (!r.ok()) return done(failure("/v1/console/setup", r.status(), json));
  v1::ConsoleSetupResponse out;
  out.set_worker_id(r->worker_id);
  out.set_totp_secret(r->totp_secret_base32);
  out.set_otpauth_uri(r->otpauth_uri);
  done(answer(out, json));
}

void ConsoleRoutes::login(const Request& request, bool json,
                          const std::function<void(Response)>& done) {
  v1::ConsoleLoginRequest req;
  if (Status st = decodeBody(request.body, json, req); !st.ok()) {
    return done(Router::error(400, st, json));
  }
  Result<ConsoleLoginResult> r =
      engine_.consoleLogin(req.worker_id(), req.password(), req.totp(), request.peer);
  if (!r.ok()) return done(failure("/v1/console/login", r.status(), json));
  v1::ConsoleSessionResponse out;
  fillSession(r->session, out);
  Response resp = answer(out, json);
  resp.headers.emplace_back("Set-Cookie", setCookie(r->session_token, false));
  done(std::move(resp));
}

}  // namespace eropaf::server
