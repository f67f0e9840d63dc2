// Beast sessions and the listener.
#include "http/http_server.hpp"

#include <array>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <iostream>
#include <limits>
#include <mutex>

namespace eropaf::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using SteadyClock = std::chrono::steady_clock;

// After a rejection the server stops reading the request; it sends its answer, half-closes, and
// then discards what the client still sends for a moment (into a small buffer, never kept), so
// the kernel does not reset the connection before the client has read the answer.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = std::size_t{1024} * 1024;

// Accept fails with an errno from the system category; compared by value, because comparing
// Boost 1.74 error codes across categories makes a virtual call UBSan's vptr check reports on
// the header-only category objects.
bool outOfDescriptors(const beast::error_code& ec) {
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Router& router, Metrics& metrics, const HttpOptions& opts,
          std::atomic<bool>& draining, std::atomic<std::int64_t>& shedding)
      : stream_(std::move(socket)),
        router_(router),
        metrics_(metrics),
        opts_(opts),
        draining_(draining),
        shedding_(shedding) {
    beast::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = remote.address().to_string();
    metrics_.connectionOpened();
  }
  ~Session() {
    if (shed_.load()) --shedding_;
    metrics_.connectionClosed();
  }

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::read, shared_from_this()));
  }

  /// Drain: an idle keep-alive connection closes now; a busy one after its response.
  void shutdownIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      if (!self->busy_.load()) self->closeNow();
    });
  }

  /// No request in progress: waiting for (the rest of) a request's header.
  bool idle() const { return !busy_.load() && !shed_.load(); }
  SteadyClock::rep idleSince() const { return idle_since_.load(); }

  /// Closes this idle connection to make room for a new one. false when it became busy or is
  /// already being shed.
  bool shed() {
    if (busy_.load() || shed_.exchange(true)) return false;
    ++shedding_;
    metrics_.connectionShed();
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_.load()) self->closeNow();
    });
    return true;
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(opts_.header_limit);
    // Beast checks Content-Length against the body limit as soon as the header is parsed; the
    // limit is the route's, set after admission, so none applies to the header read.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    idle_since_ = SteadyClock::now().time_since_epoch().count();
    stream_.expires_after(first_ ? opts_.read_timeout : opts_.idle_timeout);
    first_ = false;
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::onHeader, shared_from_this()));
  }

  bool closing(const beast::error_code& ec) const {
    return ec == http::error::end_of_stream || ec == beast::error::timeout ||
           ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
           ec == asio::error::eof || ec == asio::error::bad_descriptor || shed_.load();
  }

  void onHeader(beast::error_code ec, std::size_t) {
    if (closing(ec)) return close();
    if (ec) {
      keep_alive_ = false;
      return send(
          Router::error(400, Status(ErrorCode::kDecodeError, "bad HTTP: " + ec.message()), true));
    }
    busy_ = true;
    const auto& h = parser_->get();
    RequestHead head;
    head.method = std::string(h.method_string());
    head.target = std::string(h.target());
    head.content_type = std::string(h[http::field::content_type]);
    head.authorization = std::string(h[http::field::authorization]);
    if (auto n = parser_->content_length()) head.content_length = *n;
    head.peer = peer_;
    head.cookie = std::string(h[http::field::cookie]);
    head.csrf_token = std::string(h["X-CSRF-Token"]);
    Admission admitted = router_.admit(head);
    if (admitted.rejection.has_value()) {
      // Nothing of the body is read: answer, then close.
      keep_alive_ = false;
      rejected_ = true;
      log(head.method + " " + head.target, *admitted.rejection);
      return send(std::move(*admitted.rejection));
    }
    parser_->body_limit(admitted.body_limit);
    admitted_ = std::move(admitted);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::onBody, shared_from_this()));
  }

  void onBody(beast::error_code ec, std::size_t) {
    if (closing(ec)) return close();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      rejected_ = true;
      return send(
          Router::error(413,
                        Status(ErrorCode::kTooLarge, "the body is larger than the " +
                                                         std::to_string(admitted_->body_limit) +
                                                         " bytes this route accepts"),
                        true));
    }
    if (ec) {
      keep_alive_ = false;
      return send(
          Router::error(400, Status(ErrorCode::kDecodeError, "bad HTTP: " + ec.message()), true));
    }
    auto req = parser_->release();
    keep_alive_ = keep_alive_ && req.keep_alive() && !draining_.load();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.content_type = std::string(req[http::field::content_type]);
    r.authorization = std::string(req[http::field::authorization]);
    r.body = std::move(req.body());
    r.peer = peer_;
    r.cookie = std::string(req[http::field::cookie]);
    r.csrf_token = std::string(req["X-CSRF-Token"]);
    r.admitted = std::move(admitted_);
    admitted_.reset();
    // While a request is handled no read is pending; the response write gets its own timer.
    stream_.expires_never();
    const std::string line = r.method + " " + r.target;
    auto self = shared_from_this();
    router_.handle(std::move(r), [self, line](Response res) {
      asio::post(self->stream_.get_executor(), [self, line, res = std::move(res)]() mutable {
        self->log(line, res);
        self->send(std::move(res));
      });
    });
  }

  void log(const std::string& line, const Response& res) const {
    if (opts_.log_requests)
      std::clog << line << " " << res.status << " " << res.body.size() << "B\n";
  }

  void send(Response r) {
    busy_ = true;
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "eropaf-server");
    res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->insert(name, value);
    res->keep_alive(keep_alive_);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(opts_.read_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        self->busy_ = false;
                        if (!ec && self->rejected_) return self->linger();
                        if (ec || !self->keep_alive_ || self->draining_.load()) {
                          return self->close();
                        }
                        self->read();
                      });
  }

  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    linger_until_ = SteadyClock::now() + kLingerTime;
    stream_.expires_after(kLingerTime);
    discard();
  }

  void discard() {
    stream_.async_read_some(
        asio::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          self->discarded_ += n;
          if (ec || self->discarded_ >= kLingerBytes || SteadyClock::now() >= self->linger_until_) {
            return self->closeNow();
          }
          self->discard();
        });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  void closeNow() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Admission> admitted_;
  Router& router_;
  Metrics& metrics_;
  const HttpOptions& opts_;
  std::atomic<bool>& draining_;
  std::atomic<std::int64_t>& shedding_;
  std::string peer_;
  bool keep_alive_ = true;
  bool first_ = true;
  bool rejected_ = false;
  // Read by the acceptor (another strand) to pick a connection to shed.
  std::atomic<bool> busy_{false};
  std::atomic<bool> shed_{false};
  std::atomic<SteadyClock::rep> idle_since_{0};
  std::array<char, std::size_t{16} * 1024> discard_{};
  std::size_t discarded_ = 0;
  SteadyClock::time_point linger_until_;
};

}  // namespace

struct HttpServer::Impl {
  Engine& engine;
  HttpOptions opts;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer backoff{ioc};
  std::unique_ptr<Router> router;
  std::vector<std::thread> threads;
  std::atomic<bool> draining{false};
  std::atomic<std::int64_t> shedding{0};  ///< sessions shed but not yet destroyed
  std::once_flag stopped;
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Session>> sessions;  ///< guarded by sessions_mu

  Impl(Engine& e, HttpOptions o) : engine(e), opts(std::move(o)) {}

  /// Sheds the connection idle longest; false when every connection is busy.
  bool shedOldestIdle() {
    std::lock_guard lock(sessions_mu);
    std::erase_if(sessions, [](const auto& w) { return w.expired(); });
    for (;;) {
      std::shared_ptr<Session> oldest;
      for (const auto& w : sessions) {
        auto s = w.lock();
        if (s && s->idle() && (!oldest || s->idleSince() < oldest->idleSince())) oldest = s;
      }
      if (!oldest) return false;
      if (oldest->shed()) return true;
    }
  }

  void accept(Metrics& metrics) {
    acceptor.async_accept(
        asio::make_strand(ioc), [this, &metrics](beast::error_code ec, tcp::socket socket) {
          if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
            if (outOfDescriptors(ec)) {
              // The listen socket stays readable while connections wait in its backlog: accepting
              // again at once would spin. Free a descriptor for the next try, and pause.
              metrics.acceptBackoff();
              shedOldestIdle();
              backoff.expires_after(opts.accept_backoff);
              backoff.async_wait([this, &metrics](beast::error_code wait_ec) {
                if (!wait_ec && acceptor.is_open()) accept(metrics);
              });
              return;
            }
          } else {
            const std::int64_t live = metrics.openConnections() - shedding.load();
            if (live >= static_cast<std::int64_t>(opts.max_connections) && !shedOldestIdle()) {
              // Every connection is busy: this one is closed at once rather than left unanswered.
              metrics.connectionRefused();
              socket.close(ec);
            } else {
              socket.set_option(tcp::no_delay(true), ec);
              auto session = std::make_shared<Session>(std::move(socket), *router, metrics, opts,
                                                       draining, shedding);
              {
                std::lock_guard lock(sessions_mu);
                sessions.push_back(session);
              }
              session->run();
            }
          }
          accept(metrics);
        });
  }
};

HttpServer::HttpServer(Engine& engine, HttpOptions options)
    : impl_(std::make_unique<Impl>(engine, std::move(options))) {
  Impl* impl = impl_.get();
  impl_->router = std::make_unique<Router>(
      engine, metrics_,
      [impl](std::chrono::milliseconds delay, std::function<void()> fn) {
        auto timer = std::make_shared<asio::steady_timer>(impl->ioc, delay);
        timer->async_wait([timer, fn = std::move(fn)](beast::error_code) { fn(); });
      },
      impl_->opts.router);
}

HttpServer::~HttpServer() { stop(); }

Result<tcp::endpoint> HttpServer::start() {
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->opts.host, ec);
  if (ec) return Status(ErrorCode::kInvalidArgument, "bad listen address " + impl_->opts.host);
  const tcp::endpoint endpoint(address, impl_->opts.port);
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(ErrorCode::kIoError, "cannot listen on " + impl_->opts.host + ":" +
                                           std::to_string(impl_->opts.port) + ": " + ec.message());
  }
  const tcp::endpoint bound = acc.local_endpoint();
  impl_->accept(metrics_);
  unsigned n = impl_->opts.threads != 0 ? impl_->opts.threads
                                        : std::max(2u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return bound;
}

void HttpServer::stop(std::chrono::seconds grace) {
  std::call_once(impl_->stopped, [&] {
    impl_->draining = true;
    asio::post(impl_->ioc, [this] {
      beast::error_code ec;
      impl_->acceptor.close(ec);
      impl_->backoff.cancel();
    });
    // Commits what is queued and wakes every long poll (answered with an empty page).
    impl_->engine.stop();
    {
      std::lock_guard lock(impl_->sessions_mu);
      for (auto& w : impl_->sessions) {
        if (auto s = w.lock()) s->shutdownIfIdle();
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (metrics_.openConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    impl_->ioc.stop();
    for (auto& t : impl_->threads) {
      if (t.joinable()) t.join();
    }
  });
}

}  // namespace eropaf::server
