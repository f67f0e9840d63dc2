// The HTTP/1.1 server (Boost.Beast) in front of the Router, after Beast's advanced server: an
// io_context on a small thread pool, a strand per connection, bounded headers and bodies,
// read and idle timeouts, keep-alive, and a graceful drain.
// Thread-safety: start() and stop() from one controlling thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"

namespace eropaf::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 7700;  ///< 0: the OS picks one (see start())
  unsigned threads = 0;        ///< 0: hardware concurrency, at least 2
  std::uint64_t max_body_bytes = 8 * 1024 * 1024;
  std::uint32_t header_limit = 8 * 1024;
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds idle_timeout{60};
  bool log_requests = true;
};

class HttpServer {
 public:
  HttpServer(Engine& engine, HttpOptions options);
  ~HttpServer();

  /// Binds, listens and starts the threads. Returns the bound endpoint, or kIoError.
  Result<boost::asio::ip::tcp::endpoint> start();
  /// Graceful drain: stop accepting, let requests in flight finish (long polls answer at once),
  /// then stop the threads. Bounded by `grace`. Idempotent.
  void stop(std::chrono::seconds grace = std::chrono::seconds(10));

  Metrics& metrics() { return metrics_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Metrics metrics_;
};

}  // namespace eropaf::server
