// eropaf-server: config, process set-up (umask, descriptor limit, private data directory),
// engine, HTTP, signals. Everything else is the eropaf::server library.
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <iostream>

#include "admin.hpp"
#include "config.hpp"
#include "engine.hpp"
#include "http/http_server.hpp"

namespace {

namespace fs = std::filesystem;

/// The data directory readable by the server's user only: 0700, its files 0600 (also files an
/// older version created world-readable: the database holds addresses and notes).
bool makePrivate(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "eropaf-server: cannot create " << dir << ": " << ec.message() << "\n";
    return false;
  }
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) {
    std::cerr << "eropaf-server: cannot make " << dir << " private: " << ec.message() << "\n";
    return false;
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    fs::permissions(entry.path(), fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace, ec);
    if (ec) {
      std::cerr << "eropaf-server: cannot make " << entry.path().string()
                << " private: " << ec.message() << "\n";
      return false;
    }
  }
  return true;
}

/// Raises the soft descriptor limit to the hard one: every connection is a descriptor.
void raiseDescriptorLimit(std::size_t max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  // The kernel refuses RLIM_INFINITY for descriptors; 1M is Linux's usual nr_open.
  const rlim_t want = lim.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : lim.rlim_max;
  if (lim.rlim_cur < want) {
    lim.rlim_cur = want;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) static_cast<void>(::getrlimit(RLIMIT_NOFILE, &lim));
  }
  // Database files, the listener, pipes: a few dozen besides the connections.
  constexpr rlim_t kReserve = 64;
  if (lim.rlim_cur < max_connections + kReserve) {
    std::clog << "eropaf-server: warning: the descriptor limit is " << lim.rlim_cur
              << ", less than max_connections (" << max_connections << ") + " << kReserve
              << "; when descriptors run out the server sheds idle connections and pauses "
                 "accepting (raise it with ulimit -n or LimitNOFILE=)\n";
  }
}

}  // namespace

namespace {

int run(int argc, char** argv) {
  using eropaf::Status;
  using namespace eropaf::server;
  // Everything the server and the admin commands create (database, WAL, shared memory) is
  // for the server's user only.
  ::umask(077);
  // Each SQLite connection is used by one thread at a time (the engine's writer, pooled
  // readers), and memory statistics would put a global mutex on every allocation.
  sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << configHelp();
      return 0;
    }
  }
  std::vector<std::string> rest;
  auto config = loadConfig(argc, argv, 1, rest);
  if (!config.ok()) {
    std::cerr << "eropaf-server: " << config.status().message() << "\n";
    return 2;
  }
  bool json = false;
  std::erase_if(rest, [&](const std::string& s) { return s == "--json" && (json = true); });
  if (!rest.empty() && rest[0] == "admin") {
    if (!makePrivate(config->data_dir)) return 3;
    rest.erase(rest.begin());
    return runAdmin(*config, rest, json);
  }
  if (!rest.empty()) {
    std::cerr << "eropaf-server: unknown argument '" << rest[0] << "' (see --help)\n";
    return 2;
  }
  if (Status st = checkExposure(*config); !st.ok()) {
    std::cerr << "eropaf-server: " << st.message() << "\n";
    return 2;
  }
  if (!makePrivate(config->data_dir)) return 3;
  raiseDescriptorLimit(config->http.max_connections);
  EngineOptions eo;
  eo.database_path = config->databasePath();
  eo.max_skew_ms = config->max_skew_ms;
  auto engine = Engine::open(eo);
  if (!engine.ok()) {
    std::cerr << "eropaf-server: " << engine.status().toString() << "\n";
    return 3;
  }
  HttpServer server(**engine, config->http);
  auto bound = server.start();
  if (!bound.ok()) {
    std::cerr << "eropaf-server: " << bound.status().message() << "\n";
    return 3;
  }
  std::cout << "eropaf-server listening on " << bound->address().to_string() << ":" << bound->port()
            << std::endl;
  boost::asio::io_context signals_ctx;
  boost::asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});
  signals_ctx.run();  // returns when a signal came
  std::clog << "eropaf-server: draining\n";
  server.stop();
  std::clog << "eropaf-server: stopped\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing should throw past run() (errors are Status values); if something does (an
  // allocation failure, a library's exception), say so instead of std::terminate's abort.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "eropaf-server: fatal: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "eropaf-server: fatal: unknown exception\n";
  }
  return 70;
}
