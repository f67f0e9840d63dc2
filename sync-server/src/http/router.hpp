// HTTP request handling without a network: method, target, headers and body in; status,
// headers and body out. The socket layer (http_server.cpp) and in-process tests both use it.
//
// Routes: POST /v1/push, POST /v1/pull (long poll with wait_ms), POST /v1/enroll,
// GET /v1/health, GET /metrics (behind a token), and everything under /v1/console/, which
// ConsoleRoutes (http/console_routes.hpp) admits and answers: session cookie, CSRF token, role.
// Bodies are application/x-protobuf or application/json (protobuf's JSON mapping); the answer
// uses the request's format. Every error answer carries eropaf.v1.ErrorResponse.
//
// Two steps, so that the socket layer reads no body it will not use: admit() decides from the
// request line and headers alone (route, method, content type, declared size, device token,
// enrollment throttle); handle() then decodes the body and answers. handle() admits by itself
// when the caller did not (in-process tests).
// Thread-safety: admit() and handle() may be called from any thread; `done` runs on an engine
// or scheduler thread, exactly once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine.hpp"
#include "http/metrics.hpp"
#include "http/rate_limiter.hpp"

namespace eropaf::server {

class ConsoleRoutes;

/// A body's format by its Content-Type: protobuf, protobuf's JSON mapping, or neither.
enum class BodyFormat { kProtobuf, kJson, kOther };
BodyFormat bodyFormatOf(std::string_view content_type);
/// A message as protobuf or as JSON (field names as in the .proto).
std::string encodeBody(const google::protobuf::Message& m, bool json);
/// kDecodeError naming the message type when `body` is not one.
Status decodeBody(const std::string& body, bool json, google::protobuf::Message& m);
/// The HTTP status an engine error code is answered with.
unsigned httpStatusFor(ErrorCode c);

/// The console's frame (http/console_routes.hpp).
struct ConsoleOptions {
  /// Mark the session cookie `Secure`: the server is reached over TLS (a TLS proxy in front).
  bool secure_cookie = false;
  /// Every console request body: small JSON messages.
  std::uint64_t max_body_bytes = std::uint64_t{16} * 1024;
};

/// What the server accepts before it reads a body. Sizes are bytes of the body as sent.
struct RouterOptions {
  /// A push: the device sends at most 200 changes per request (SyncOptions::push_batch), which
  /// stays under 2 MiB even with maximal notes.
  std::uint64_t max_push_bytes = std::uint64_t{4} * 1024 * 1024;
  /// A pull request is a cursor and two numbers.
  std::uint64_t max_pull_bytes = std::uint64_t{64} * 1024;
  /// An enrollment request is a code and a device name.
  std::uint64_t max_enroll_bytes = std::uint64_t{4} * 1024;
  /// `Authorization: Bearer <token>` for GET /metrics. Empty: /metrics answers 404 (as an
  /// unknown route), so nothing about the server's activity is public by default.
  std::string metrics_token;
  /// Enrollment attempts (see EnrollThrottle).
  EnrollThrottle::Options enroll_throttle;
  ConsoleOptions console;
};

/// The request line and headers: all admit() needs.
struct RequestHead {
  std::string method;
  std::string target;
  std::string content_type;
  std::string authorization;
  std::optional<std::uint64_t> content_length;  ///< none: chunked or no body
  std::string peer;                             ///< the client's address ("" in process)
  std::string cookie;                           ///< the Cookie header (the console's session)
  std::string csrf_token;                       ///< the X-CSRF-Token header (console writes)
};

struct Response {
  unsigned status = 200;
  std::string content_type;
  std::string body;
  /// Further header fields (name, value), sent as given: Set-Cookie, the console's security
  /// headers, Cache-Control.
  std::vector<std::pair<std::string, std::string>> headers{};
};

/// admit()'s verdict: either a rejection to send (and close), or the body limit to read with
/// and, for /v1/push and /v1/pull, the authenticated principal.
struct Admission {
  std::optional<Response> rejection;
  std::optional<Principal> principal;
  std::uint64_t body_limit = 0;
  bool enroll_ticket = false;  ///< an enrollment attempt took a throttle token (see handle())
  /// A console route's checked session (cookie, CSRF and role already checked).
  std::optional<ConsoleSession> console{};
};

struct Request {
  std::string method;
  std::string target;
  std::string content_type;
  std::string authorization;
  std::string body;
  std::string peer{};        ///< the client's address, for the enrollment throttle
  std::string cookie{};      ///< the Cookie header
  std::string csrf_token{};  ///< the X-CSRF-Token header
  /// Set by the socket layer from admit(); handle() admits by itself when it is empty.
  std::optional<Admission> admitted{};
};

/// Runs `fn` after `delay` on some thread of the caller's choosing (an Asio timer in the
/// server). Used for long-poll deadlines and to move work off the engine's writer thread.
using Scheduler = std::function<void(std::chrono::milliseconds delay, std::function<void()> fn)>;

class Router {
 public:
  static constexpr std::uint32_t kMaxWaitMs = 30'000;

  Router(Engine& engine, Metrics& metrics, Scheduler scheduler, RouterOptions options = {});
  ~Router();  ///< logs the enrollment failures not yet logged

  /// Decides from the head alone whether to read the body. A rejection is the whole answer:
  /// 404/405/415 for a wrong route, method or type, 413 when Content-Length exceeds the route's
  /// limit, 401/403 for a missing, wrong or revoked token (push, pull, metrics), 429 when
  /// enrollment attempts are throttled, 503 when the token could not be checked.
  Admission admit(const RequestHead& head);

  void handle(Request request, std::function<void(Response)> done);

  /// An error answer in the format the request asked for.
  static Response error(unsigned status, const Status& st, bool json);

  /// The console's routes under /v1/console/: register further ones here before serving.
  ConsoleRoutes& console() { return *console_; }

 private:
  void pull(const Principal& p, std::string token, const v1::PullRequest& req, bool json,
            std::function<void(Response)> done);

  /// The error answer for a failed engine call; every 5xx is logged with route and device.
  Response failure(const std::string& route, std::string_view device_id, const Status& st,
                   bool json);
  void enrollFinished(const std::string& peer, const Status& result);
  void logEnrollFailures(bool force);

  Engine& engine_;
  Metrics& metrics_;
  Scheduler schedule_;
  RouterOptions options_;
  EnrollThrottle throttle_;
  // Enrollment failures are logged in aggregate, at most one line a minute. Guarded by log_mu_.
  std::mutex log_mu_;
  std::chrono::steady_clock::time_point last_log_;
  std::uint64_t unlogged_failures_ = 0;
  std::uint64_t unlogged_throttled_ = 0;
  std::string last_failure_peer_;
  std::unique_ptr<ConsoleRoutes> console_;
};

}  // namespace eropaf::server
