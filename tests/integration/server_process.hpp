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
  ServerProcess();
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

 private:
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
std::unique_ptr<RemoteDevice> enrollDevice(ServerProcess& server, const std::string& worker, Role role,
                                     const std::string& wijk = "WK015301");

}  // namespace eropaf::test
