// The console's frame in process (Router → ConsoleRoutes): a registered route runs only for the
// role it names, with a valid session cookie, and on writes with the session's CSRF token.
#include "http/console_routes.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "http/router.hpp"
#include "server/engine_fixture.hpp"
#include "totp.hpp"

using namespace eropaf;
using namespace eropaf::server;
using eropaf::test::EngineFixture;

namespace {

std::string base32Decode(const std::string& text) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char ch : text) {
    buffer = (buffer << 5) | static_cast<std::uint32_t>(kAlphabet.find(ch));
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

struct Frame : EngineFixture {
  Metrics metrics;
  Router router{*engine, metrics,
                [](std::chrono::milliseconds, const std::function<void()>& fn) { fn(); }};

  ConsoleLoginResult login(const std::string& id, Role role) {
    REQUIRE(engine->addWorker({id, "N", role, {"WK015301"}, true}).ok());
    auto code = engine->createEnrollmentCode(id);
    auto setup = engine->consoleSetup(*code, "a long enough password", "");
    REQUIRE(setup.ok());
    clock->advance(totp::kStepMs);
    auto r = engine->consoleLogin(
        id, "a long enough password",
        totp::code(base32Decode(setup->totp_secret_base32), totp::stepOf(clock->nowMs())), "");
    REQUIRE(r.ok());
    return *r;
  }

  Response send(const std::string& method, const std::string& target, const ConsoleLoginResult* who,
                bool with_csrf) {
    Request req;
    req.method = method;
    req.target = target;
    req.content_type = "application/json";
    req.body = method == "GET" ? "" : "{}";
    if (who != nullptr) {
      req.cookie = "other=1; eropaf_session=" + who->session_token;
      if (with_csrf) req.csrf_token = who->session.csrf_token;
    }
    std::promise<Response> p;
    router.handle(req, [&](Response r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
};

}  // namespace

TEST_CASE("console frame: routes by role, session cookie and CSRF token", "[server][console]") {
  Frame f;
  std::vector<std::string> ran;
  f.router.console().add("GET", "/v1/console/probe-cases", ConsoleAccess::kCoordinator,
                         [&](const ConsoleSession& s, const Request&, auto done) {
                           ran.push_back("cases:" + s.principal.worker.id);
                           done({200, "application/json", "{}"});
                         });
  f.router.console().add("POST", "/v1/console/probe-beheer/workers", ConsoleAccess::kAdmin,
                         [&](const ConsoleSession& s, const Request&, auto done) {
                           ran.push_back("beheer:" + s.principal.worker.id);
                           done({200, "application/json", "{}"});
                         });
  const ConsoleLoginResult coord = f.login("coord", Role::kCoordinator);
  const ConsoleLoginResult admin = f.login("admin1", Role::kAdmin);

  CHECK(f.send("GET", "/v1/console/probe-cases?wijk=WK015301", &coord, false).status == 200);
  CHECK(f.send("GET", "/v1/console/probe-cases/0190-abc", &coord, false).status == 200);
  CHECK(f.send("GET", "/v1/console/probe-casesx", &coord, false).status == 404);
  CHECK(f.send("GET", "/v1/console/probe-cases", nullptr, false).status == 401);
  CHECK(f.send("GET", "/v1/console/probe-cases", &admin, false).status == 403);  // no case content
  CHECK(f.send("POST", "/v1/console/probe-beheer/workers", &coord, true).status == 403);
  CHECK(f.send("POST", "/v1/console/probe-beheer/workers", &admin, false).status ==
        403);  // no CSRF
  CHECK(f.send("GET", "/v1/console/probe-beheer/workers", &admin, false).status == 405);
  const Response ok = f.send("POST", "/v1/console/probe-beheer/workers", &admin, true);
  CHECK(ok.status == 200);
  CHECK(std::count(ok.headers.begin(), ok.headers.end(),
                   std::pair<std::string, std::string>{"Cache-Control", "no-store"}) == 1);
  CHECK(ran == std::vector<std::string>{"cases:coord", "cases:coord", "beheer:admin1"});
}
