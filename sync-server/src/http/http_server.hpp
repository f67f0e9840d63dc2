// The HTTP/1.1 server (Boost.Beast) in front of the Router, after Beast's advanced server: an
// io_context on a small thread pool, a strand per connection, bounded headers and bodies,
// read and idle timeouts, keep-alive, and a graceful drain. A request's header is read first and
// admitted by the Router (route, token, size) before any of its body is read; a connection cap
// sheds the longest-idle connection and the acceptor backs off when descriptors run out.
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
  std::uint32_t header_limit = 8 * 1024;
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds idle_timeout{60};
  bool log_requests = true;
  /// Open connections at most. Above it a new connection sheds the connection that has been
  /// idle longest (no request in progress); when every connection is busy it is closed at once.
  /// 4096: 1,000+ devices with a long poll and a push connection each, and room to spare.
  std::size_t max_connections = 4096;
  /// After accept() fails for lack of descriptors (EMFILE, ENFILE, ENOBUFS) the acceptor waits
  /// this long before it tries again, instead of spinning on the ready listen socket.
  std::chrono::milliseconds accept_backoff{100};
  /// Body limits per route, checked against Content-Length before the body is read (see
  /// RouterOptions).
  RouterOptions router;
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
