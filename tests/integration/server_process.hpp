// The real eropaf-server as a child process, for integration tests: started on port 0 with a
// fresh data directory, killed with SIGKILL or drained with SIGTERM, restarted on the same
// data, and administered through `eropaf-server admin`.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "eropaf/store.hpp"
#include "eropaf/sync.hpp"

namespace eropaf::test {

class ServerProcess {
 public:
  struct Options {
    /// More flags after the defaults (--data DIR --listen 127.0.0.1:0 --quiet); a later flag
    /// overrides an earlier one.
    std::vector<std::string> extra_args;
    /// RLIMIT_NOFILE (soft and hard) of the child, set before exec; 0: inherited.
    unsigned long nofile_limit = 0;
  };

  ServerProcess();
  explicit ServerProcess(Options options);
  ~ServerProcess();

  const std::string& url() const { return url_; }
  void start();
  /// SIGKILL: no drain, no goodbye.
  void kill9();
  /// SIGTERM; returns the exit status (0 after a clean drain).
  int terminate();
  /// The same data directory, a new port.
  void restart() { start(); }

  struct AdminResult {
    int exit_code;
    std::string out;
  };
  AdminResult admin(const std::vector<std::string>& args) const;
  const std::filesystem::path& dir() const { return dir_; }
  /// The data directory (the server's database is data/server.db).
  std::filesystem::path dataDir() const { return dir_ / "data"; }
  pid_t pid() const { return pid_; }
  /// The port it listens on.
  unsigned short port() const;

 private:
  Options options_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::string url_;
};

/// A device: its own store (temp dir) and a libcurl transport to the server.
struct RemoteDevice {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<sync::Transport> transport;
  ~RemoteDevice();
  /// Points the device at a (restarted) server's URL, keeping its token and cursor.
  void moveTo(const std::string& url);
  Result<sync::SyncResult> sync();
};

/// Adds the worker (wijk WK015301 unless given) and enrolls a fresh device for it.
std::unique_ptr<RemoteDevice> enrollDevice(ServerProcess& server, const std::string& worker,
                                           Role role, const std::string& wijk = "WK015301");

}  // namespace eropaf::test
