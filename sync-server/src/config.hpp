// eropaf-server configuration. The server starts with no config file at all: defaults, then a
// config file (--config FILE: `key = value` lines, # comments), then flags override.
#pragma once

#include <string>
#include <vector>

#include "eropaf/clock.hpp"
#include "eropaf/status.hpp"
#include "http/http_server.hpp"

namespace eropaf::server {

struct Config {
  std::string data_dir;  ///< $EROPAF_DATA, else ./eropaf-data; the database is <data>/server.db
  HttpOptions http;
  std::int64_t max_skew_ms = kDefaultServerMaxSkewMs;
  /// Plain HTTP on an address other than loopback is refused at start unless this says a TLS
  /// proxy in front of the server terminates TLS (TLS in the server itself comes later).
  bool plaintext_behind_proxy = false;

  std::string databasePath() const { return data_dir + "/server.db"; }
};

/// Parses flags (argv[first..]) and the config file they name. `rest` receives words that are
/// not flags (admin subcommands and their arguments). kInvalidArgument says what was wrong.
Result<Config> loadConfig(int argc, char** argv, int first, std::vector<std::string>& rest);

/// Refuses a listen address other than loopback (127.0.0.0/8, ::1) unless
/// plaintext_behind_proxy is set: kFailedPrecondition with what to do instead.
Status checkExposure(const Config& config);

std::string configHelp();

}  // namespace eropaf::server
