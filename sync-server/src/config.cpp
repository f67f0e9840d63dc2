// Defaults, config file, flags.
#include "config.hpp"

#include <boost/asio/ip/address.hpp>
#include <cstdlib>
#include <fstream>
#include <map>

namespace eropaf::server {
namespace {

Status bad(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

bool isTrue(const std::string& v) { return v == "true" || v == "1" || v == "yes"; }

Status byteSize(const std::string& key, const std::string& value, std::uint64_t min,
                std::uint64_t& out) {
  const long long b = std::stoll(value);
  if (b < 0 || static_cast<std::uint64_t>(b) < min) {
    return bad(key + " must be at least " + std::to_string(min));
  }
  out = static_cast<std::uint64_t>(b);
  return {};
}

Status apply(Config& c, const std::string& key, const std::string& value) {
  try {
    if (key == "data") {
      c.data_dir = value;
    } else if (key == "listen") {
      // HOST:PORT, or [v6]:PORT
      std::string host;
      std::string port;
      if (!value.empty() && value.front() == '[') {
        const auto close = value.find(']');
        if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
          return bad("listen '" + value + "' is not [ADDRESS]:PORT");
        }
        host = value.substr(1, close - 1);
        port = value.substr(close + 2);
      } else {
        const auto colon = value.rfind(':');
        if (colon == std::string::npos) return bad("listen '" + value + "' is not HOST:PORT");
        host = value.substr(0, colon);
        port = value.substr(colon + 1);
      }
      const long p = std::stol(port);
      if (p < 0 || p > 65535) return bad("listen port " + port + " is outside 0..65535");
      c.http.host = host == "localhost" ? "127.0.0.1" : host;
      c.http.port = static_cast<unsigned short>(p);
    } else if (key == "threads") {
      const long t = std::stol(value);
      if (t < 0 || t > 256) return bad("threads must be 0 (auto) .. 256");
      c.http.threads = static_cast<unsigned>(t);
    } else if (key == "max_push_bytes" || key == "max_body_bytes") {
      // max_body_bytes: the setting's old name, when one limit held for every route.
      return byteSize(key, value, 1024, c.http.router.max_push_bytes);
    } else if (key == "max_pull_bytes") {
      return byteSize(key, value, 1024, c.http.router.max_pull_bytes);
    } else if (key == "max_enroll_bytes") {
      return byteSize(key, value, 256, c.http.router.max_enroll_bytes);
    } else if (key == "max_connections") {
      const long long n = std::stoll(value);
      if (n < 1 || n > 1'000'000) return bad("max_connections must be 1 .. 1000000");
      c.http.max_connections = static_cast<std::size_t>(n);
    } else if (key == "metrics_token") {
      if (!value.empty() && value.size() < 16) {
        return bad("metrics_token must be at least 16 characters (or empty: no /metrics)");
      }
      c.http.router.metrics_token = value;
    } else if (key == "enroll_per_address_per_minute" || key == "enroll_global_per_minute") {
      const long n = std::stol(value);
      if (n < 1 || n > 100'000) return bad(key + " must be 1 .. 100000");
      auto& t = c.http.router.enroll_throttle;
      (key == "enroll_global_per_minute" ? t.global_per_minute : t.per_address_per_minute) =
          static_cast<std::uint32_t>(n);
    } else if (key == "plaintext_behind_proxy") {
      c.plaintext_behind_proxy = isTrue(value);
      // Behind a TLS proxy the browser speaks https: the session cookie must say Secure.
      if (c.plaintext_behind_proxy) c.http.router.console.secure_cookie = true;
    } else if (key == "console_secure_cookie") {
      c.http.router.console.secure_cookie = isTrue(value);
    } else if (key == "max_skew_ms") {
      const long long m = std::stoll(value);
      if (m < 1000) return bad("max_skew_ms must be at least 1000");
      if (m > kMaxServerSkewMs) {
        return bad("max_skew_ms must be at most " + std::to_string(kMaxServerSkewMs) +
                   " (half the devices' bound), so what the server accepts stays acceptable to "
                   "devices");
      }
      c.max_skew_ms = m;
    } else if (key == "log_requests") {
      c.http.log_requests = isTrue(value);
    } else {
      return bad("unknown setting '" + key + "'");
    }
  } catch (const std::exception&) {
    return bad("'" + value + "' is not a valid value for " + key);
  }
  return {};
}

Status readFile(Config& c, const std::string& path) {
  std::ifstream in(path);
  if (!in) return bad("cannot read config file " + path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    auto trim = [](const std::string& s) {
      const auto a = s.find_first_not_of(" \t\r");
      const auto b = s.find_last_not_of(" \t\r");
      return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
    };
    line = trim(line);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      return bad(path + ":" + std::to_string(n) + ": expected key = value");
    }
    Status st = apply(c, trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    if (!st.ok()) return bad(path + ":" + std::to_string(n) + ": " + st.message());
  }
  return {};
}

}  // namespace

Result<Config> loadConfig(int argc, char** argv, int first, std::vector<std::string>& rest) {
  Config c;
  const char* env = std::getenv("EROPAF_DATA");
  c.data_dir = env != nullptr && *env != '\0' ? env : "eropaf-data";
  // The config file first, so flags override it whatever their order.
  for (int i = first; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--config") {
      EROPAF_RETURN_IF_ERROR(readFile(c, argv[i + 1]));
    }
  }
  const std::map<std::string, std::string> flags{
      {"--data", "data"},
      {"--listen", "listen"},
      {"--threads", "threads"},
      {"--max-body-bytes", "max_body_bytes"},
      {"--max-push-bytes", "max_push_bytes"},
      {"--max-connections", "max_connections"},
      {"--metrics-token", "metrics_token"},
      {"--enroll-per-address-per-minute", "enroll_per_address_per_minute"},
      {"--enroll-global-per-minute", "enroll_global_per_minute"},
      {"--max-skew-ms", "max_skew_ms"}};
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config") {
      ++i;
      continue;
    }
    if (a == "--quiet") {
      c.http.log_requests = false;
      continue;
    }
    if (a == "--plaintext-behind-proxy") {
      c.plaintext_behind_proxy = true;
      c.http.router.console.secure_cookie = true;
      continue;
    }
    auto it = flags.find(a);
    if (it != flags.end()) {
      if (i + 1 >= argc) return bad(a + " needs a value");
      EROPAF_RETURN_IF_ERROR(apply(c, it->second, argv[++i]));
      continue;
    }
    if (a.rfind("--", 0) == 0 && a != "--json") {
      // Subcommand flags (admin) pass through; the server itself knows no others.
      rest.push_back(a);
      continue;
    }
    rest.push_back(a);
  }
  return c;
}

Status checkExposure(const Config& config) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(config.http.host, ec);
  if (ec) return bad("listen address '" + config.http.host + "' is not an IP address");
  if (address.is_loopback() || config.plaintext_behind_proxy) return {};
  // IPv4-mapped loopback (::ffff:127.0.0.1) counts as loopback too.
  if (address.is_v6() && address.to_v6().is_v4_mapped() &&
      boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).is_loopback()) {
    return {};
  }
  return Status(ErrorCode::kFailedPrecondition,
                "refusing to serve plain HTTP on " + config.http.host +
                    ": device tokens and case data would cross the network unencrypted. Listen "
                    "on loopback (127.0.0.1) behind a TLS proxy and pass "
                    "--plaintext-behind-proxy (config: plaintext_behind_proxy = true) when the "
                    "proxy is on another address");
}

std::string configHelp() {
  return R"(eropaf-server: the eropaf sync server.

Usage:
  eropaf-server [--data DIR] [--listen HOST:PORT] [--threads N] [--config FILE] [--quiet]
                [--max-connections N] [--max-push-bytes N] [--metrics-token TOKEN]
                [--enroll-per-address-per-minute N] [--enroll-global-per-minute N]
                [--plaintext-behind-proxy]
  eropaf-server admin [--data DIR] COMMAND ...

With no flags it keeps its data in ./eropaf-data (or $EROPAF_DATA) and listens on
127.0.0.1:7700. Port 0 lets the system pick a port; the server prints
"eropaf-server listening on HOST:PORT" once it listens. SIGTERM or SIGINT drain it: no new
connections, requests in flight finish, exit 0. Its files are created readable by its own
user only (umask 077; data directory 0700, database files 0600).

A config file holds `key = value` lines; flags override the file:
  data, listen, threads, max_skew_ms, log_requests
  max_connections = 4096       open connections at most; above it the longest-idle
                               connection is closed to make room
  max_push_bytes = 4194304     push body limit (old name: max_body_bytes); pull bodies
                               max_pull_bytes = 65536, enrollment max_enroll_bytes = 4096.
                               Checked against Content-Length before the body is read.
  metrics_token = TOKEN        GET /metrics needs `Authorization: Bearer TOKEN` (16+
                               characters); without one /metrics answers 404
  enroll_per_address_per_minute = 10, enroll_global_per_minute = 60
                               failed enrollment attempts allowed; more are answered 429
  plaintext_behind_proxy = true
                               allow a listen address other than loopback for plain HTTP,
                               because a TLS proxy in front terminates TLS; without it such
                               an address is refused at start; the console's session
                               cookie is then marked Secure
  console_secure_cookie = true mark the console's session cookie Secure (served over TLS)

Admin commands (functioneel beheer; work while the server runs):
  add-wijk CODE NAME
  add-worker --id ID --name NAME --role zorgmedewerker|wijkcoach|coordinator|admin --wijk CODE...
  enroll-code WORKER_ID        prints a one-time enrollment code (valid 7 days); a
                               coordinator or admin sets up the console login with it
  unlock-console WORKER_ID     lifts the lock after too many failed console logins
  workers | devices | revoke DEVICE_ID | access-log [--limit N]
  set-category CODE --label L --priority acuut|hoog|normaal|laag --first-contact-days N
      --working-days yes|no --sensitive yes|no [--first-gesprek-days N] [--min-attempts N]
                               creates a category (label, priority, days required) or
                               changes the flags given; devices get it on their next pull
  deactivate WORKER_ID         no longer a valid assignee; their devices are revoked
  reassign --from WORKER --to WORKER [--wijk WK] [--reason TEXT]
                               moves the open cases of a leaver (all, or of one wijk) to a
                               valid colleague, each with a history entry; all or nothing
  report --from YYYY-MM-DD --to YYYY-MM-DD [--wijk WK]... [--csv]
                               the results report (aggregates only, counts under 5 as <5)
                               for the Amsterdam days from..to (both included); all wijken
                               when none is given; a table, or --json / --csv
  --json for machine-readable output; text output shows control characters escaped (\x1b).
  Exit codes: 0 ok, 1 refused, 2 usage, 3 storage.
)";
}

}  // namespace eropaf::server
