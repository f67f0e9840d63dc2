// Exposure, tried as an attacker on the network or an insider with a device would: the real
// eropaf-server process on loopback, raw sockets where a well-behaved client would hide the
// attack. Idle sockets against the connection cap, descriptor exhaustion, an unauthenticated
// body the server must not read, the memory of a maximal push, guessing enrollment codes,
// the data directory's permissions, a non-loopback listen, plain http:// from the device, and
// terminal escapes in device names.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "eropaf/sync.hpp"
#include "eropaf/v1/sync.pb.h"
#include "integration/server_process.hpp"
#include "store/store_fixture.hpp"

using namespace eropaf;
using test::ServerProcess;
using Steady = std::chrono::steady_clock;

namespace {

/// A socket connected to 127.0.0.1:port, or -1.
int connectTo(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool sendAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

struct RawResponse {
  int status = 0;  ///< 0: no (complete) answer in time
  std::string body;
};

/// Reads one HTTP/1.1 response (Content-Length framed) within `timeout`.
RawResponse readResponse(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Steady::now() + timeout;
  std::string in;
  std::size_t header_end = std::string::npos;
  std::size_t length = 0;
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = in.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        const auto cl = in.find("Content-Length: ");
        if (cl != std::string::npos && cl < header_end) length = std::stoul(in.substr(cl + 16));
      }
    }
    if (header_end != std::string::npos && in.size() >= header_end + 4 + length) {
      RawResponse r;
      if (in.rfind("HTTP/1.1 ", 0) == 0) r.status = std::stoi(in.substr(9, 3));
      r.body = in.substr(header_end + 4, length);
      return r;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
    if (left.count() <= 0) return {};
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    in.append(buf, static_cast<std::size_t>(n));
  }
}

std::string get(const std::string& target, const std::string& token = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         (token.empty() ? "" : "Authorization: Bearer " + token + "\r\n") + "\r\n";
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& token = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         "Content-Type: application/x-protobuf\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + (token.empty() ? "" : "Authorization: Bearer " + token + "\r\n") + "\r\n" + body;
}

/// One request on a fresh connection.
RawResponse roundTrip(unsigned short port, const std::string& request,
                      std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  const int fd = connectTo(port);
  if (fd < 0) return {};
  RawResponse r = sendAll(fd, request) ? readResponse(fd, timeout) : RawResponse{};
  ::close(fd);
  return r;
}

/// User plus system CPU time of a process, in seconds (/proc/<pid>/stat).
[[maybe_unused]] double cpuSeconds(pid_t pid) {  // unused in sanitizer builds
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may contain spaces) start at state, field 3.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// A /proc/<pid>/status field in kB (VmHWM, VmRSS).
long statusKb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}

/// A counter from the server's /metrics, -1 when absent.
double metric(unsigned short port, const std::string& token, const std::string& name) {
  const RawResponse r = roundTrip(port, get("/metrics", token));
  if (r.status != 200) return -1;
  std::istringstream lines(r.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

/// A Transport that forwards to another and, after each push, notes the largest push body
/// and the server's peak memory (before the pull that follows can raise it).
class MeasuringTransport final : public sync::Transport {
 public:
  MeasuringTransport(sync::Transport& inner, pid_t server) : inner_(inner), server_(server) {}
  Result<sync::HttpResponse> send(const sync::HttpRequest& r) override {
    auto res = inner_.send(r);
    if (r.path == "/v1/push") {
      largest_push = std::max(largest_push, r.body.size());
      peak_after_push_kb = statusKb(server_, "VmHWM");
    }
    return res;
  }
  void cancel() override { inner_.cancel(); }
  std::size_t largest_push = 0;
  long peak_after_push_kb = -1;

 private:
  sync::Transport& inner_;
  pid_t server_;
};

const std::string kMetricsToken = "metrics-token-for-the-exposure-test";

}  // namespace

TEST_CASE("twice max_connections idle sockets do not lock new clients out", "[security]") {
  // 128 sockets would exhaust the 110 descriptors; the cap of 64 sheds before that happens.
  ServerProcess server({{"--max-connections", "64"}, 110});
  std::vector<int> idle;
  for (int i = 0; i < 128; ++i) {
    const int fd = connectTo(server.port());
    REQUIRE(fd >= 0);
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = Steady::now();
  const RawResponse health = roundTrip(server.port(), get("/v1/health"), std::chrono::seconds(1));
  const auto took = Steady::now() - start;
  CHECK(health.status == 200);
  CHECK(health.body == "{\"status\":\"ok\"}");
  CHECK(took < std::chrono::seconds(1));
  for (const int fd : idle) ::close(fd);
}

#ifndef EROPAF_SANITIZED
// Not in sanitizer builds: there, an accept failing with EMFILE makes Boost 1.74's error-code
// comparison call into its header-only system category, which UBSan's vptr check reports (the
// category's type info exists twice, in the binary and in libboost_system). The plain build
// (phase 2 of scripts/test) runs this attack.
TEST_CASE("with descriptors exhausted the acceptor backs off instead of spinning", "[security]") {
  // 48 descriptors: a few for the database and the listener, the rest run out fast.
  ServerProcess server({{}, 48});
  std::vector<int> held;
  for (int i = 0; i < 128; ++i) {
    const int fd = connectTo(server.port());
    if (fd >= 0) held.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double before = cpuSeconds(server.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double used = cpuSeconds(server.pid()) - before;
  INFO("CPU seconds in 2 s: " << used);
  CHECK(used < 0.4);  // below 20% of one core
  for (const int fd : held) ::close(fd);
  // Once the attacker lets go, the server answers again.
  CHECK(roundTrip(server.port(), get("/v1/health"), std::chrono::seconds(3)).status == 200);
}
#endif

TEST_CASE("an unauthenticated 8 MiB push is answered 401 without its body being read",
          "[security]") {
  ServerProcess server;
  const int fd = connectTo(server.port());
  REQUIRE(fd >= 0);
  // The header promises 8 MiB; only three bytes follow. A server that waits for the body
  // before it checks the token never answers.
  REQUIRE(sendAll(fd,
                  "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Type: application/x-protobuf\r\nContent-Length: 8388608\r\n"
                  "Authorization: Bearer 01900000-0000-7000-8000-000000000000.guess\r\n\r\nabc"));
  const RawResponse r = readResponse(fd, std::chrono::seconds(2));
  ::close(fd);
  CHECK(r.status == 401);
  v1::ErrorResponse e;
  REQUIRE(e.ParseFromString(r.body));
  CHECK(e.error().code() == v1::ERROR_CODE_UNAUTHENTICATED);

  // Without any token at all, the same.
  const int fd2 = connectTo(server.port());
  REQUIRE(sendAll(fd2,
                  "POST /v1/pull HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Type: application/x-protobuf\r\nContent-Length: 8388608\r\n\r\n"));
  CHECK(readResponse(fd2, std::chrono::seconds(2)).status == 401);
  ::close(fd2);
}

TEST_CASE("an authenticated push over the limit is refused before its body is read", "[security]") {
  ServerProcess server;
  auto d = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  const std::string token = d->db->syncState()->token;
  const int fd = connectTo(server.port());
  REQUIRE(sendAll(fd,
                  "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Type: application/x-protobuf\r\nContent-Length: 8388608\r\n"
                  "Authorization: Bearer " +
                      token + "\r\n\r\nabc"));
  const RawResponse r = readResponse(fd, std::chrono::seconds(2));
  ::close(fd);
  CHECK(r.status == 413);
}

TEST_CASE("peak memory of a maximal authenticated push stays below 4 times its size",
          "[security]") {
  ServerProcess server;
  auto d = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  // Warm up with a small sync: the first requests allocate the server's pools and caches.
  REQUIRE(d->db->createSignal(test::aSignal()).ok());
  REQUIRE(d->sync().ok());
  const long baseline_kb = statusKb(server.pid(), "VmHWM");
  REQUIRE(baseline_kb > 0);
  // Signals with the longest text a signal may have: one push of almost the push limit.
  for (int i = 0; i < 800; ++i) {
    REQUIRE(d->db->createSignal(test::aSignal(std::string(3990, static_cast<char>('a' + i % 26))))
                .ok());
  }
  MeasuringTransport measured(*d->transport, server.pid());
  sync::SyncOptions o;
  o.push_batch = 800;
  static const std::atomic<bool> never{false};
  auto r = sync::syncOnce(*d->db, measured, o, never, {});
  REQUIRE(r.ok());
  CHECK(r->pushed == 800);
  const double push_kb = static_cast<double>(measured.largest_push) / 1024.0;
  const long grew_kb = measured.peak_after_push_kb - baseline_kb;
  INFO("push " << push_kb << " kB; peak memory grew " << grew_kb << " kB from " << baseline_kb
               << " kB");
  CHECK(measured.largest_push > std::size_t{3} * 1024 * 1024);
#ifdef EROPAF_SANITIZED
  // Redzones and the quarantine make peak memory meaningless here; the plain build checks it.
  WARN("peak memory not judged under a sanitizer: grew " << grew_kb << " kB");
#else
  CHECK(static_cast<double>(grew_kb) < 4 * push_kb);
#endif
}

TEST_CASE("1000 wrong enrollment codes are throttled and counted and commit nothing",
          "[security]") {
  ServerProcess server({{"--metrics-token", kMetricsToken}});
  // One real enrollment first, so the database and its WAL exist and have settled.
  auto d = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  const auto db = server.dataDir() / "server.db";
  const auto wal = server.dataDir() / "server.db-wal";
  const auto db_size = std::filesystem::file_size(db);
  const auto wal_size = std::filesystem::file_size(wal);
  const auto db_time = std::filesystem::last_write_time(db);
  const auto wal_time = std::filesystem::last_write_time(wal);
  const double commits = metric(server.port(), kMetricsToken, "eropaf_commits_total");
  REQUIRE(commits >= 0);

  int fd = connectTo(server.port());
  REQUIRE(fd >= 0);
  int unauthenticated = 0;
  int throttled = 0;
  int other = 0;
  for (int i = 0; i < 1000; ++i) {
    v1::EnrollRequest req;
    char code[16];
    std::snprintf(code, sizeof code, "GUESS%07d", i);
    req.set_code(code);
    req.set_device_name("guesser");
    REQUIRE(sendAll(fd, post("/v1/enroll", req.SerializeAsString())));
    RawResponse r = readResponse(fd, std::chrono::seconds(2));
    if (r.status == 401) {
      ++unauthenticated;
    } else if (r.status == 429) {
      ++throttled;
      v1::ErrorResponse e;
      REQUIRE(e.ParseFromString(r.body));
      CHECK(e.error().code() == v1::ERROR_CODE_RESOURCE_EXHAUSTED);
      // A refusal closes the connection: the guesser has to reconnect.
      ::close(fd);
      fd = connectTo(server.port());
      REQUIRE(fd >= 0);
    } else {
      ++other;
      REQUIRE(r.status != 0);
    }
  }
  ::close(fd);
  CHECK(other == 0);
  CHECK(unauthenticated <= 12);  // the per-address burst (10), plus what refilled meanwhile
  CHECK(throttled >= 980);
  CHECK(metric(server.port(), kMetricsToken, "eropaf_enroll_failures_total") == unauthenticated);
  CHECK(metric(server.port(), kMetricsToken, "eropaf_enroll_throttled_total") == throttled);
  // Not one write transaction for all those attempts.
  CHECK(metric(server.port(), kMetricsToken, "eropaf_commits_total") == commits);
  CHECK(std::filesystem::file_size(db) == db_size);
  CHECK(std::filesystem::file_size(wal) == wal_size);
  CHECK(std::filesystem::last_write_time(db) == db_time);
  CHECK(std::filesystem::last_write_time(wal) == wal_time);
}

TEST_CASE("metrics need the metrics token and health tells no sequence numbers", "[security]") {
  ServerProcess open_server;
  // No token configured: /metrics is not there at all.
  CHECK(roundTrip(open_server.port(), get("/metrics")).status == 404);
  const RawResponse health = roundTrip(open_server.port(), get("/v1/health"));
  CHECK(health.status == 200);
  CHECK(health.body == "{\"status\":\"ok\"}");

  ServerProcess server({{"--metrics-token", kMetricsToken}});
  CHECK(roundTrip(server.port(), get("/metrics")).status == 401);
  CHECK(roundTrip(server.port(), get("/metrics", kMetricsToken + "x")).status == 401);
  const RawResponse m = roundTrip(server.port(), get("/metrics", kMetricsToken));
  CHECK(m.status == 200);
  CHECK(m.body.find("eropaf_commits_total") != std::string::npos);
}

TEST_CASE("files of the data directory are not group or other readable", "[security]") {
  namespace fs = std::filesystem;
  auto check = [](const fs::path& dir) {
    const auto dir_perms = fs::status(dir).permissions();
    CHECK((dir_perms & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      INFO(e.path().string());
      const auto p = e.status().permissions();
      CHECK((p & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
      ++files;
    }
    CHECK(files >= 3);  // server.db, -wal, -shm
  };
  ServerProcess server;
  auto d = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  REQUIRE(d->sync().ok());
  check(server.dataDir());

  // Files an older version left world-readable are made private at the next start.
  server.kill9();
  fs::permissions(server.dataDir(), fs::perms::owner_all | fs::perms::group_read |
                                        fs::perms::group_exec | fs::perms::others_read |
                                        fs::perms::others_exec);
  for (const auto& e : fs::directory_iterator(server.dataDir())) {
    fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write |
                                  fs::perms::group_read | fs::perms::others_read);
  }
  server.restart();
  check(server.dataDir());
}

TEST_CASE("a non-loopback listen without --plaintext-behind-proxy is refused", "[security]") {
  const auto dir = test::makeTempDir("eropaf-exposure");
  for (const std::string listen : {"0.0.0.0:0", "[::]:0", "192.0.2.1:7700"}) {
    INFO(listen);
    const std::string cmd = std::string(EROPAF_SERVER_BIN) + " --data '" + (dir / "data").string() +
                            "' --listen '" + listen + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int rc = ::pclose(p);
    CHECK(WIFEXITED(rc));
    CHECK(WEXITSTATUS(rc) == 2);
    CHECK(out.find("refusing to serve plain HTTP") != std::string::npos);
    CHECK(out.find("--plaintext-behind-proxy") != std::string::npos);
    CHECK(out.find("listening on") == std::string::npos);
  }
  std::filesystem::remove_all(dir);

  // With the flag it serves (a TLS proxy in front is the operator's promise).
  ServerProcess behind({{"--listen", "0.0.0.0:0", "--plaintext-behind-proxy"}});
  CHECK(roundTrip(behind.port(), get("/v1/health")).status == 200);
}

TEST_CASE("the device transport refuses plain http to anything but loopback", "[security]") {
  for (const std::string url :
       {"http://192.0.2.1:7700", "http://eropaf.gemeente.nl", "http://127.0.0.1.evil.example",
        "http://localhost.evil.example:7700", "http://10.0.0.1", "http://[2001:db8::1]:7700",
        "http://user@192.0.2.1/"}) {
    INFO(url);
    sync::CurlOptions o;
    o.base_url = url;
    auto t = sync::makeCurlTransport(o);
    // Refused when the transport is made: there is nothing that could send a request.
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == ErrorCode::kInvalidArgument);
    CHECK(t.status().field() == "server_url");
    CHECK(t.status().message().find("plain http://") != std::string::npos);
  }
  for (const std::string url :
       {"http://127.0.0.1:7700", "http://127.1.2.3", "http://localhost:1", "http://LOCALHOST",
        "http://[::1]:7700", "https://192.0.2.1", "https://eropaf.gemeente.nl"}) {
    INFO(url);
    sync::CurlOptions o;
    o.base_url = url;
    CHECK(sync::makeCurlTransport(o).ok());
  }
}

TEST_CASE("a device name with terminal escapes is refused and never reaches the admin raw",
          "[security]") {
  ServerProcess server;
  server.admin({"add-wijk", "WK015301", "Wijk"});
  REQUIRE(server
              .admin({"add-worker", "--id", "zm-eve", "--name", "Eve", "--role", "zorgmedewerker",
                      "--wijk", "WK015301"})
              .exit_code == 0);
  const auto code = server.admin({"enroll-code", "zm-eve"});
  REQUIRE(code.exit_code == 0);
  for (const std::string name : {"phone\x1b[2J", "bell\a", "del\x7f",
                                 "csi\xc2\x9b"
                                 "31m"}) {
    v1::EnrollRequest req;
    req.set_code(code.out);
    req.set_device_name(name);
    const RawResponse r = roundTrip(server.port(), post("/v1/enroll", req.SerializeAsString()));
    CHECK(r.status == 400);
    v1::ErrorResponse e;
    REQUIRE(e.ParseFromString(r.body));
    CHECK(e.error().code() == v1::ERROR_CODE_INVALID_ARGUMENT);
    CHECK(e.error().field() == "device_name");
  }
  // A name stored before the rule (an older server) is shown escaped by admin devices.
  auto d = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((server.dataDir() / "server.db").string().c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  REQUIRE(sqlite3_exec(db, "UPDATE devices SET name = 'evil' || char(27) || '[2J' || char(155)",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  const auto devices = server.admin({"devices"});
  REQUIRE(devices.exit_code == 0);
  CHECK(devices.out.find('\x1b') == std::string::npos);
  CHECK(devices.out.find("\xc2\x9b") == std::string::npos);
  CHECK(devices.out.find("evil\\x1b[2J\\u009b") != std::string::npos);
  const auto json = server.admin({"devices", "--json"});
  CHECK(json.out.find('\x1b') == std::string::npos);
  CHECK(json.out.find("evil\\u001b[2J") != std::string::npos);
}

#ifdef EROPAF_CLI_BIN
TEST_CASE("record text with terminal escapes is shown escaped by the CLI", "[security]") {
  const auto home = test::makeTempDir("eropaf-cli-home");
  auto run = [&](const std::string& args) {
    const std::string cmd =
        std::string(EROPAF_CLI_BIN) + " --home '" + home.string() + "' " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int rc = p != nullptr ? ::pclose(p) : -1;
    return std::make_pair(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out);
  };
  REQUIRE(run("init --worker zm-eve --name Eve --role zorgmedewerker --wijk WK015301").first == 0);
  // What a colleague's device could sync in: a signal text that clears the reader's screen.
  REQUIRE(run("signal add --wijk WK015301 --postcode 1234AB --number 12 --category overig "
              "--informed yes --text 'Buren\x1b[2J\xc2\x9b"
              "31mweg'")
              .first == 0);
  const auto [rc, out] = run("signals");
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find("\xc2\x9b") == std::string::npos);
  CHECK(out.find("Buren\\x1b[2J\\u009b31mweg") != std::string::npos);
  std::filesystem::remove_all(home);
}
#endif
