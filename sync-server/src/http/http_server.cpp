// Beast sessions and the listener.
#include "http/http_server.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <iostream>
#include <mutex>

namespace eropaf::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Router& router, Metrics& metrics, const HttpOptions& opts,
          std::atomic<bool>& draining)
      : stream_(std::move(socket)), router_(router), metrics_(metrics), opts_(opts),
        draining_(draining) {
    metrics_.connectionOpened();
  }
  ~Session() { metrics_.connectionClosed(); }

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::read, shared_from_this()));
  }

  /// Drain: an idle keep-alive connection closes now; a busy one after its response.
  void shutdownIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      if (!self->busy_) {
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.socket().close(ec);
      }
    });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(opts_.header_limit);
    parser_->body_limit(opts_.max_body_bytes);
    stream_.expires_after(first_ ? opts_.read_timeout : opts_.idle_timeout);
    first_ = false;
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::onRead, shared_from_this()));
  }

  void onRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return close();
    }
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return send(Router::error(413,
                                Status(ErrorCode::kTooLarge,
                                       "the body is larger than " +
                                           std::to_string(opts_.max_body_bytes) + " bytes"),
                                true));
    }
    if (ec) {
      keep_alive_ = false;
      return send(Router::error(400, Status(ErrorCode::kDecodeError, "bad HTTP: " + ec.message()),
                                true));
    }
    auto req = parser_->release();
    busy_ = true;
    keep_alive_ = keep_alive_ && req.keep_alive() && !draining_.load();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.content_type = std::string(req[http::field::content_type]);
    r.authorization = std::string(req[http::field::authorization]);
    r.body = std::move(req.body());
    // While a request is handled no read is pending; the response write gets its own timer.
    stream_.expires_never();
    const std::string line = r.method + " " + r.target;
    auto self = shared_from_this();
    router_.handle(std::move(r), [self, line](Response res) {
      asio::post(self->stream_.get_executor(), [self, line, res = std::move(res)]() mutable {
        if (self->opts_.log_requests) {
          std::clog << line << " " << res.status << " " << res.body.size() << "B\n";
        }
        self->send(std::move(res));
      });
    });
  }

  void send(Response r) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "eropaf-server");
    res->set(http::field::content_type, r.content_type);
    res->keep_alive(keep_alive_);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(opts_.read_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        self->busy_ = false;
                        if (ec || !self->keep_alive_ || self->draining_.load()) {
                          return self->close();
                        }
                        self->read();
                      });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Router& router_;
  Metrics& metrics_;
  const HttpOptions& opts_;
  std::atomic<bool>& draining_;
  bool keep_alive_ = true;
  bool first_ = true;
  bool busy_ = false;
};

}  // namespace

struct HttpServer::Impl {
  Engine& engine;
  HttpOptions opts;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<Router> router;
  std::vector<std::thread> threads;
  std::atomic<bool> draining{false};
  std::once_flag stopped;
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Session>> sessions;

  Impl(Engine& e, HttpOptions o) : engine(e), opts(std::move(o)) {}

  void accept(Metrics& metrics) {
    acceptor.async_accept(asio::make_strand(ioc), [this, &metrics](beast::error_code ec,
                                                                    tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        auto session =
            std::make_shared<Session>(std::move(socket), *router, metrics, opts, draining);
        {
          std::lock_guard lock(sessions_mu);
          std::erase_if(sessions, [](const auto& w) { return w.expired(); });
          sessions.push_back(session);
        }
        session->run();
      }
      accept(metrics);
    });
  }
};

HttpServer::HttpServer(Engine& engine, HttpOptions options)
    : impl_(std::make_unique<Impl>(engine, std::move(options))) {
  Impl* impl = impl_.get();
  impl_->router = std::make_unique<Router>(
      engine, metrics_, [impl](std::chrono::milliseconds delay, std::function<void()> fn) {
        auto timer = std::make_shared<asio::steady_timer>(impl->ioc, delay);
        timer->async_wait([timer, fn = std::move(fn)](beast::error_code) { fn(); });
      });
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
