// Defaults, config file, flags.
#include "config.hpp"

#include <cstdlib>
#include <fstream>
#include <map>

namespace eropaf::server {
namespace {

Status bad(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

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
    } else if (key == "max_body_bytes") {
      const long long b = std::stoll(value);
      if (b < 1024) return bad("max_body_bytes must be at least 1024");
      c.http.max_body_bytes = static_cast<std::uint64_t>(b);
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
      c.http.log_requests = value == "true" || value == "1" || value == "yes";
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
    auto trim = [](std::string s) {
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
      {"--data", "data"},         {"--listen", "listen"},
      {"--threads", "threads"},   {"--max-body-bytes", "max_body_bytes"},
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

std::string configHelp() {
  return R"(eropaf-server: the eropaf sync server.

Usage:
  eropaf-server [--data DIR] [--listen HOST:PORT] [--threads N] [--config FILE] [--quiet]
  eropaf-server admin [--data DIR] COMMAND ...

With no flags it keeps its data in ./eropaf-data (or $EROPAF_DATA) and listens on
127.0.0.1:7700. A config file holds `key = value` lines: data, listen, threads,
max_body_bytes, max_skew_ms, log_requests. Flags override the file. Port 0 lets the system
pick a port; the server prints "eropaf-server listening on HOST:PORT" once it listens.
SIGTERM or SIGINT drain it: no new connections, requests in flight finish, exit 0.

Admin commands (functioneel beheer; work while the server runs):
  add-wijk CODE NAME
  add-worker --id ID --name NAME --role zorgmedewerker|wijkcoach|coordinator|admin --wijk CODE...
  enroll-code WORKER_ID        prints a one-time enrollment code (valid 7 days)
  workers | devices | revoke DEVICE_ID | access-log [--limit N]
  --json for machine-readable output. Exit codes: 0 ok, 1 refused, 2 usage, 3 storage.
)";
}

}  // namespace eropaf::server
