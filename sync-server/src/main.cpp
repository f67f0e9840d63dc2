// eropaf-server: config, engine, HTTP, signals. Everything else is the eropaf::server library.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <iostream>

#include "admin.hpp"
#include "config.hpp"
#include "engine.hpp"
#include "http/http_server.hpp"

int main(int argc, char** argv) {
  using namespace eropaf::server;
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
    rest.erase(rest.begin());
    return runAdmin(*config, rest, json);
  }
  if (!rest.empty()) {
    std::cerr << "eropaf-server: unknown argument '" << rest[0] << "' (see --help)\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(config->data_dir, ec);
  if (ec) {
    std::cerr << "eropaf-server: cannot create " << config->data_dir << ": " << ec.message() << "\n";
    return 3;
  }
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
  std::cout << "eropaf-server listening on " << bound->address().to_string() << ":"
            << bound->port() << std::endl;
  boost::asio::io_context signals_ctx;
  boost::asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});
  signals_ctx.run();  // returns when a signal came
  std::clog << "eropaf-server: draining\n";
  server.stop();
  std::clog << "eropaf-server: stopped\n";
  return 0;
}
