// The console's login on the engine, written as the attacks: guessing passwords and codes,
// replaying a TOTP code, hammering from one address, keeping a session past its time or past
// the worker's deactivation, a home-care worker's code used for a console account. Real SQLite
// file, injected clock; TOTP per RFC 6238 checked against the RFC's own test vectors.
#include <algorithm>
#include <catch2/catch.hpp>

#include "server/engine_fixture.hpp"
#include "totp.hpp"

using namespace eropaf;
using namespace eropaf::server;
using eropaf::test::EngineFixture;

namespace {

constexpr const char* kPassword = "correct horse battery";
constexpr std::int64_t kMinute = 60'000;

std::string base32Decode(const std::string& text) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const auto v = kAlphabet.find(c);
    REQUIRE(v != std::string::npos);
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

struct Console : EngineFixture {
  /// Adds the worker and sets up its console account; returns the raw TOTP secret.
  std::string setUp(const std::string& id, Role role = Role::kCoordinator) {
    Worker w{id, "Name " + id, role, {"WK015301"}, true};
    REQUIRE(engine->addWorker(w).ok());
    auto code = engine->createEnrollmentCode(id);
    REQUIRE(code.ok());
    auto r = engine->consoleSetup(*code, kPassword, "10.0.0.1");
    REQUIRE(r.ok());
    return base32Decode(r->totp_secret_base32);
  }
  /// The code for now, after moving the clock to a fresh step (codes are used once).
  std::string freshCode(const std::string& secret) {
    clock->advance(totp::kStepMs);
    return totp::code(secret, totp::stepOf(clock->nowMs()));
  }
  Result<ConsoleLoginResult> login(const std::string& id, const std::string& secret,
                                   const std::string& peer = "10.0.0.1") {
    return engine->consoleLogin(id, kPassword, freshCode(secret), peer);
  }
  std::vector<std::string> actions() {
    auto log = engine->accessLog(1000);
    REQUIRE(log.ok());
    std::vector<std::string> out;
    for (const auto& e : *log) out.push_back(e.action);
    std::reverse(out.begin(), out.end());
    return out;
  }
  std::size_t count(const std::string& action) {
    const auto a = actions();
    return static_cast<std::size_t>(std::count(a.begin(), a.end(), action));
  }
};

}  // namespace

TEST_CASE("totp: the RFC 6238 SHA-1 test vectors, with 8 and with 6 digits", "[unit][server]") {
  const std::string secret = "12345678901234567890";
  const std::vector<std::pair<std::int64_t, std::string>> vectors{
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const auto& [seconds, want] : vectors) {
    INFO("T = " << seconds);
    const std::uint64_t step = totp::stepOf(seconds * 1000);
    CHECK(totp::code(secret, step, 8) == want);
    CHECK(totp::code(secret, step, 6) == want.substr(2));
  }
  CHECK(totp::base32(secret) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  CHECK(totp::base32("f") == "MY");  // RFC 4648 section 10, without padding
  CHECK(totp::base32("foobar") == "MZXW6YTBOI");
}

TEST_CASE("console: setup with a one-time code, then login with password and TOTP",
          "[engine][console]") {
  Console c;
  REQUIRE(c.engine->addWorker({"coord", "Co", Role::kCoordinator, {"WK015301"}, true}).ok());
  auto code = c.engine->createEnrollmentCode("coord");
  REQUIRE(code.ok());
  auto setup = c.engine->consoleSetup(*code, kPassword, "10.0.0.1");
  REQUIRE(setup.ok());
  CHECK(setup->worker_id == "coord");
  CHECK(setup->totp_secret_base32.size() == 32);  // 20 bytes
  CHECK(setup->otpauth_uri.rfind(
            "otpauth://totp/eropaf:coord?secret=" + setup->totp_secret_base32 + "&issuer=eropaf",
            0) == 0);
  // The code was used up.
  CHECK(c.engine->consoleSetup(*code, kPassword, "10.0.0.1").status().code() ==
        ErrorCode::kUnauthenticated);
  // The secret is sealed at rest: its bytes are nowhere in the database file.
  const std::string secret = base32Decode(setup->totp_secret_base32);
  auto sealed = test::sqlColumn((c.dir / "server.db").string(),
                                "SELECT hex(totp_sealed) || ' ' || password_hash FROM "
                                "console_accounts");
  REQUIRE(sealed.size() == 1);
  std::string hex;
  for (const char byte : secret) {
    const auto ch = static_cast<unsigned char>(byte);
    static const char* d = "0123456789ABCDEF";
    hex.push_back(d[ch >> 4]);
    hex.push_back(d[ch & 15]);
  }
  CHECK(sealed[0].find(hex) == std::string::npos);
  CHECK(sealed[0].find("$argon2id$") != std::string::npos);

  auto login = c.login("coord", secret);
  REQUIRE(login.ok());
  CHECK(login->session_token.size() == 43);
  CHECK(login->session.role == Role::kCoordinator);
  CHECK(login->session.idle_expires_ms == c.clock->nowMs() + 30 * kMinute);
  // Only the token's hash is stored.
  CHECK(test::sqlColumn((c.dir / "server.db").string(),
                        "SELECT count(*) FROM console_sessions WHERE instr(token_hash, '" +
                            login->session_token + "') > 0")[0] == "0");
  auto session = c.engine->consoleAuthenticate(login->session_token, "10.0.0.1");
  REQUIRE(session.ok());
  CHECK(session->principal.worker.id == "coord");
  CHECK(session->csrfMatches(login->session.csrf_token));
  CHECK_FALSE(session->csrfMatches(""));
  CHECK_FALSE(session->csrfMatches(login->session.csrf_token + "x"));
  // The principal's device is the worker's console row in devices.
  auto devices = c.engine->devices();
  REQUIRE(devices.ok());
  REQUIRE(devices->size() == 1);
  CHECK((*devices)[0].id == session->principal.device_id);
  CHECK((*devices)[0].name == "console");
  CHECK(c.count("console:setup") == 1);
  CHECK(c.count("console:login") == 1);
}

TEST_CASE("console: passwords under 12 characters or over 256 bytes are refused, code unused",
          "[engine][console]") {
  Console c;
  REQUIRE(c.engine->addWorker({"coord", "Co", Role::kCoordinator, {"WK015301"}, true}).ok());
  auto code = c.engine->createEnrollmentCode("coord");
  auto short_pw = c.engine->consoleSetup(*code, "elevenchars", "");
  CHECK(short_pw.status().code() == ErrorCode::kInvalidArgument);
  CHECK(short_pw.status().field() == "password");
  auto long_pw = c.engine->consoleSetup(*code, std::string(257, 'a'), "");
  CHECK(long_pw.status().code() == ErrorCode::kInvalidArgument);
  CHECK(c.engine->consoleSetup(*code, "twelve chars", "").ok());
}

TEST_CASE("console: a wrong password, a wrong TOTP and an unknown worker get the same answer",
          "[engine][console]") {
  Console c;
  const std::string secret = c.setUp("coord");
  auto wrong_pw = c.engine->consoleLogin("coord", "not the password", c.freshCode(secret), "a");
  auto wrong_totp = c.engine->consoleLogin("coord", kPassword, "000000", "a");
  auto nobody = c.engine->consoleLogin("nobody", kPassword, c.freshCode(secret), "a");
  auto garbage = c.engine->consoleLogin("../x", kPassword, "12", "a");
  for (const auto* r : {&wrong_pw, &wrong_totp, &nobody, &garbage}) {
    CHECK(r->status().code() == ErrorCode::kUnauthenticated);
    CHECK(r->status().message() == wrong_pw.status().message());
  }
  CHECK(c.count("console:login-failed") == 4);
  CHECK(c.count("console:login") == 0);
}

TEST_CASE("console: a TOTP code is accepted once, one step either side of now",
          "[engine][console]") {
  Console c;
  const std::string secret = c.setUp("coord");
  const std::string now_code = c.freshCode(secret);
  // As the app shows it, "123 456".
  REQUIRE(
      c.engine
          ->consoleLogin("coord", kPassword, now_code.substr(0, 3) + " " + now_code.substr(3), "a")
          .ok());
  // Replayed within its step: refused, although password and code are right.
  CHECK(c.engine->consoleLogin("coord", kPassword, now_code, "a").status().code() ==
        ErrorCode::kUnauthenticated);
  // The next step's code (a clock 30 s ahead) is fine once; the one before is not, being older
  // than the last accepted.
  const std::uint64_t step = totp::stepOf(c.clock->nowMs());
  CHECK(c.engine->consoleLogin("coord", kPassword, totp::code(secret, step + 1), "a").ok());
  CHECK(c.engine->consoleLogin("coord", kPassword, totp::code(secret, step - 1), "a")
            .status()
            .code() == ErrorCode::kUnauthenticated);
  // Two steps away: refused.
  c.clock->advance(10 * totp::kStepMs);
  const std::uint64_t later = totp::stepOf(c.clock->nowMs());
  CHECK(c.engine->consoleLogin("coord", kPassword, totp::code(secret, later + 2), "a")
            .status()
            .code() == ErrorCode::kUnauthenticated);
  CHECK(c.engine->consoleLogin("coord", kPassword, totp::code(secret, later - 2), "a")
            .status()
            .code() == ErrorCode::kUnauthenticated);
}

TEST_CASE("console: five failed logins lock the account until an admin unlocks it",
          "[engine][console]") {
  Console c;
  const std::string secret = c.setUp("coord");
  for (int i = 0; i < 5; ++i) {
    // Each from another address: the lock is per account, not per address.
    auto r = c.engine->consoleLogin("coord", "wrong password!", c.freshCode(secret),
                                    "10.1.0." + std::to_string(i));
    CHECK(r.status().code() == ErrorCode::kUnauthenticated);
  }
  CHECK(c.count("console:lockout") == 1);
  // Wrong factors on a locked account: the usual answer (the lock tells a guesser nothing).
  auto guess = c.engine->consoleLogin("coord", "wrong password!", c.freshCode(secret), "b");
  CHECK(guess.status().code() == ErrorCode::kUnauthenticated);
  // Both factors right: told it is locked, no session.
  auto right = c.login("coord", secret, "b");
  CHECK(right.status().code() == ErrorCode::kPermissionDenied);
  CHECK(right.status().message().find("locked") != std::string::npos);
  CHECK(c.count("console:login") == 0);

  CHECK(c.engine->unlockConsole("nobody").code() == ErrorCode::kNotFound);
  REQUIRE(c.engine->unlockConsole("coord").ok());
  CHECK(c.count("console:unlock") == 1);
  REQUIRE(c.login("coord", secret, "b").ok());
  // A success clears the count: four more failures do not lock.
  for (int i = 0; i < 4; ++i) {
    CHECK_FALSE(c.engine->consoleLogin("coord", "wrong password!", "000000", "c").ok());
  }
  CHECK(c.login("coord", secret, "d").ok());
}

TEST_CASE("console: one address with ten failures in 15 minutes is throttled",
          "[engine][console]") {
  Console c;
  const std::string secret = c.setUp("coord");
  for (int i = 0; i < 10; ++i) {
    // Different (unknown) workers: no account locks, the address is what counts.
    CHECK(c.engine->consoleLogin("guess" + std::to_string(i), kPassword, "123456", "6.6.6.6")
              .status()
              .code() == ErrorCode::kUnauthenticated);
  }
  auto throttled = c.login("coord", secret, "6.6.6.6");
  CHECK(throttled.status().code() == ErrorCode::kResourceExhausted);
  // Guessing enrollment codes from there is throttled too.
  CHECK(c.engine->consoleSetup("AAAA-BBBB-CCCC", kPassword, "6.6.6.6").status().code() ==
        ErrorCode::kResourceExhausted);
  // Another address is not affected; after the window the address may try again.
  CHECK(c.login("coord", secret, "7.7.7.7").ok());
  c.clock->advance(15 * kMinute);
  CHECK(c.login("coord", secret, "6.6.6.6").ok());
}

TEST_CASE("console: a session ends after 30 idle minutes and 10 hours after login",
          "[engine][console]") {
  Console c;
  const std::string secret = c.setUp("coord");
  auto idle = c.login("coord", secret);
  REQUIRE(idle.ok());
  c.clock->advance(29 * kMinute);
  REQUIRE(c.engine->consoleAuthenticate(idle->session_token, "").ok());  // keeps it alive
  c.clock->advance(29 * kMinute);
  REQUIRE(c.engine->consoleAuthenticate(idle->session_token, "").ok());
  c.clock->advance(30 * kMinute + 1);
  CHECK(c.engine->consoleAuthenticate(idle->session_token, "").status().code() ==
        ErrorCode::kUnauthenticated);
  // Ended for good, also with the clock set back.
  c.clock->advance(-60 * kMinute);
  CHECK_FALSE(c.engine->consoleAuthenticate(idle->session_token, "").ok());

  auto busy = c.login("coord", secret);
  REQUIRE(busy.ok());
  for (int i = 0; i < 20; ++i) {  // used every 29 minutes: 9 h 40 min
    c.clock->advance(29 * kMinute);
    REQUIRE(c.engine->consoleAuthenticate(busy->session_token, "").ok());
  }
  c.clock->advance(21 * kMinute);  // 10 h 01 min after login
  CHECK(c.engine->consoleAuthenticate(busy->session_token, "").status().code() ==
        ErrorCode::kUnauthenticated);
}

TEST_CASE("console: logout ends the session", "[engine][console]") {
  Console c;
  const std::string secret = c.setUp("coord");
  auto a = c.login("coord", secret);
  auto b = c.login("coord", secret);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.engine->consoleLogout(a->session_token).ok());
  CHECK_FALSE(c.engine->consoleAuthenticate(a->session_token, "").ok());
  CHECK(c.engine->consoleAuthenticate(b->session_token, "").ok());  // the other tab's stays
  CHECK(c.engine->consoleLogout("not a token").ok());
  CHECK(c.count("console:logout") == 1);
}

TEST_CASE("console: deactivating the worker or revoking the console device ends sessions at once",
          "[engine][console]") {
  Console c;
  const std::string s1 = c.setUp("coord");
  const std::string s2 = c.setUp("coord2");
  auto one = c.login("coord", s1);
  auto two = c.login("coord2", s2);
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  REQUIRE(c.engine->consoleAuthenticate(one->session_token, "").ok());
  REQUIRE(c.engine->deactivateWorker("coord").ok());
  CHECK(c.engine->consoleAuthenticate(one->session_token, "").status().code() ==
        ErrorCode::kUnauthenticated);
  CHECK_FALSE(c.login("coord", s1).ok());

  REQUIRE(c.engine->revokeDevice(two->session.principal.device_id).ok());
  CHECK(c.engine->consoleAuthenticate(two->session_token, "").status().code() ==
        ErrorCode::kUnauthenticated);
  CHECK_FALSE(c.login("coord2", s2).ok());
}

TEST_CASE("console: a zorgmedewerker's or wijkcoach's code sets up no console account",
          "[engine][console]") {
  Console c;
  for (const auto& [id, role] :
       {std::pair{"zorg", Role::kZorgmedewerker}, std::pair{"coach", Role::kWijkcoach}}) {
    INFO(id);
    REQUIRE(c.engine->addWorker({id, "N", role, {"WK015301"}, true}).ok());
    auto code = c.engine->createEnrollmentCode(id);
    auto r = c.engine->consoleSetup(*code, kPassword, "");
    CHECK(r.status().code() == ErrorCode::kPermissionDenied);
    CHECK(r.status().message().find("coordinators and admins") != std::string::npos);
    // The code was not consumed: the phone still enrolls with it.
    CHECK_NOTHROW(c.enrollRaw(*code));
  }
  CHECK(test::sqlColumn((c.dir / "server.db").string(),
                        "SELECT count(*) FROM console_accounts")[0] == "0");
}

TEST_CASE("console: a second setup replaces password and secret and ends the old sessions",
          "[engine][console]") {
  Console c;
  const std::string old_secret = c.setUp("admin1", Role::kAdmin);
  auto old = c.login("admin1", old_secret);
  REQUIRE(old.ok());
  CHECK(old->session.role == Role::kAdmin);
  auto code = c.engine->createEnrollmentCode("admin1");
  auto again = c.engine->consoleSetup(*code, "another long password", "");
  REQUIRE(again.ok());
  const std::string new_secret = base32Decode(again->totp_secret_base32);
  CHECK(new_secret != old_secret);
  CHECK_FALSE(c.engine->consoleAuthenticate(old->session_token, "").ok());
  CHECK_FALSE(c.login("admin1", old_secret).ok());  // old password, old secret
  auto fresh =
      c.engine->consoleLogin("admin1", "another long password", c.freshCode(new_secret), "");
  CHECK(fresh.ok());
}
