// Routing, admission (route, size, token, throttle) before the body, content negotiation,
// long poll, and the log lines for 5xx answers and enrollment failures.
#include "http/router.hpp"

#include <google/protobuf/util/json_util.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <iostream>
#include <memory>
#include <mutex>

#include "http/console_api.hpp"
#include "http/console_assets.hpp"
#include "http/console_routes.hpp"

namespace eropaf::server {

BodyFormat bodyFormatOf(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }),
          t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "application/x-protobuf" || t == "application/protobuf") return BodyFormat::kProtobuf;
  if (t == "application/json") return BodyFormat::kJson;
  return BodyFormat::kOther;
}

std::string encodeBody(const google::protobuf::Message& m, bool json) {
  if (!json) return m.SerializeAsString();
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  static_cast<void>(google::protobuf::util::MessageToJsonString(m, &out, o));
  return out;
}

Status decodeBody(const std::string& body, bool json, google::protobuf::Message& m) {
  if (json) {
    google::protobuf::util::JsonParseOptions o;
    o.ignore_unknown_fields = false;
    const auto st = google::protobuf::util::JsonStringToMessage(body, &m, o);
    if (!st.ok()) {
      return Status(ErrorCode::kDecodeError,
                    "the body is not a JSON " + m.GetTypeName() + ": " + std::string(st.message()));
    }
    return {};
  }
  if (body.size() > static_cast<std::size_t>(INT32_MAX) ||
      !m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Status(ErrorCode::kDecodeError, "the body is not a protobuf " + m.GetTypeName());
  }
  return {};
}

unsigned httpStatusFor(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kDecodeError:
    case ErrorCode::kRequiredFieldMissing:
    case ErrorCode::kTextTooLong:
    case ErrorCode::kInvalidUtf8:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kDeviceRevoked:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kUnavailable:
    case ErrorCode::kStorageBusy:
      return 503;
    default:
      return 500;
  }
}

namespace {

std::string bearer(const std::string& header) {
  if (header.size() < 7) return {};
  std::string scheme = header.substr(0, 7);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (scheme != "bearer ") return {};
  std::string token = header.substr(7);
  while (!token.empty() && token.front() == ' ') token.erase(token.begin());
  while (!token.empty() && token.back() == ' ') token.pop_back();
  return token;
}

bool tokenMatches(const std::string& presented, const std::string& expected) {
  // Compare hashes, so neither the length nor a prefix shows in the timing.
  unsigned char a[crypto_generichash_BYTES];
  unsigned char b[crypto_generichash_BYTES];
  crypto_generichash(a, sizeof a, reinterpret_cast<const unsigned char*>(presented.data()),
                     presented.size(), nullptr, 0);
  crypto_generichash(b, sizeof b, reinterpret_cast<const unsigned char*>(expected.data()),
                     expected.size(), nullptr, 0);
  return sodium_memcmp(a, b, sizeof a) == 0;
}

std::string routeOf(const std::string& target) { return target.substr(0, target.find('?')); }

// GET routes take no body; a few bytes are tolerated, more are refused before reading.
constexpr std::uint64_t kMaxGetBodyBytes = 1024;
constexpr auto kEnrollLogInterval = std::chrono::minutes(1);

}  // namespace

Router::Router(Engine& engine, Metrics& metrics, Scheduler scheduler, RouterOptions options)
    : engine_(engine),
      metrics_(metrics),
      schedule_(std::move(scheduler)),
      options_(std::move(options)),
      throttle_(options_.enroll_throttle),
      last_log_(std::chrono::steady_clock::now() - kEnrollLogInterval),
      console_(std::make_unique<ConsoleRoutes>(engine, options_.console)) {
  addConsoleApi(*console_, engine_, schedule_);
}

Router::~Router() { logEnrollFailures(true); }

Response Router::error(unsigned status, const Status& st, bool json) {
  v1::ErrorResponse e;
  e.mutable_error()->set_code(static_cast<v1::ErrorCode>(st.code()));
  // Storage and internal failures are logged, not shown: no paths or SQL to the client.
  const bool internal = status >= 500 && st.code() != ErrorCode::kUnavailable;
  e.mutable_error()->set_message(internal ? "the server could not complete the request"
                                          : st.message());
  e.mutable_error()->set_field(internal ? "" : st.field());
  return {status, json ? "application/json" : "application/x-protobuf", encodeBody(e, json)};
}

Response Router::failure(const std::string& route, std::string_view device_id, const Status& st,
                         bool json) {
  const unsigned status = httpStatusFor(st.code());
  if (status >= 500) {
    // The client sees a generic message; the operator must see what failed, always (also with
    // --quiet): a full disk must not be silent.
    std::clog << "eropaf-server: " << status << " " << route << " device "
              << (device_id.empty() ? "-" : device_id) << ": " << st.toString() << std::endl;
  }
  return error(status, st, json);
}

Admission Router::admit(const RequestHead& head) {
  const std::string route = routeOf(head.target);
  const BodyFormat format = bodyFormatOf(head.content_type);
  const bool json = format != BodyFormat::kProtobuf;
  Admission a;
  auto reject = [&](Response r) {
    a.rejection = std::move(r);
    return a;
  };
  auto tooLarge = [&](std::uint64_t limit) -> bool {
    return head.content_length.has_value() && *head.content_length > limit;
  };
  auto limitStatus = [&](std::uint64_t limit) {
    return Status(ErrorCode::kTooLarge, "the body is larger than the " + std::to_string(limit) +
                                            " bytes " + route + " accepts");
  };

  if (ConsoleRoutes::owns(route)) return console_->admit(head);
  if (ConsoleRoutes::isConsolePage(route)) {
    if (head.method != "GET") {
      Response r = error(405, Status(ErrorCode::kInvalidArgument, "use GET for " + route), true);
      ConsoleRoutes::addSecurityHeaders(r, false);
      return reject(std::move(r));
    }
    if (tooLarge(kMaxGetBodyBytes)) return reject(error(413, limitStatus(kMaxGetBodyBytes), true));
    a.body_limit = kMaxGetBodyBytes;
    return a;
  }
  const bool metrics_route = route == "/metrics" && !options_.metrics_token.empty();
  if (route == "/v1/health" || metrics_route) {
    if (metrics_route && !tokenMatches(bearer(head.authorization), options_.metrics_token)) {
      return reject(error(
          401, Status(ErrorCode::kUnauthenticated, "the metrics token is missing or not valid"),
          true));
    }
    if (head.method != "GET") {
      return reject(error(405, Status(ErrorCode::kInvalidArgument, "use GET for " + route), true));
    }
    if (tooLarge(kMaxGetBodyBytes)) return reject(error(413, limitStatus(kMaxGetBodyBytes), true));
    a.body_limit = kMaxGetBodyBytes;
    return a;
  }
  if (route != "/v1/push" && route != "/v1/pull" && route != "/v1/enroll") {
    // Also /metrics without a configured token: answered exactly as an unknown route.
    return reject(error(404, Status(ErrorCode::kNotFound, "no route " + route), json));
  }
  if (head.method != "POST") {
    return reject(error(405, Status(ErrorCode::kInvalidArgument, "use POST for " + route), json));
  }
  if (format == BodyFormat::kOther) {
    return reject(error(
        415,
        Status(ErrorCode::kInvalidArgument,
               "Content-Type must be application/x-protobuf or application/json", "content-type"),
        true));
  }
  if (route == "/v1/enroll") {
    a.body_limit = options_.max_enroll_bytes;
    if (tooLarge(a.body_limit)) return reject(error(413, limitStatus(a.body_limit), json));
    if (!throttle_.tryAcquire(head.peer)) {
      metrics_.enrollThrottled();
      {
        std::lock_guard lock(log_mu_);
        ++unlogged_throttled_;
        last_failure_peer_ = head.peer;
      }
      logEnrollFailures(false);
      return reject(error(429,
                          Status(ErrorCode::kResourceExhausted,
                                 "too many failed enrollment attempts; try again in a minute"),
                          json));
    }
    a.enroll_ticket = true;
    return a;
  }
  a.body_limit = route == "/v1/push" ? options_.max_push_bytes : options_.max_pull_bytes;
  // The token before the size: a client without a valid token learns nothing about limits.
  Result<Principal> who = engine_.authenticate(bearer(head.authorization));
  if (!who.ok()) return reject(failure(route, "", who.status(), json));
  if (tooLarge(a.body_limit)) return reject(error(413, limitStatus(a.body_limit), json));
  a.principal = std::move(who).value();
  return a;
}

void Router::handle(Request request, std::function<void(Response)> done) {
  const auto start = std::chrono::steady_clock::now();
  const std::string route = routeOf(request.target);
  const BodyFormat format = bodyFormatOf(request.content_type);
  const bool json = format != BodyFormat::kProtobuf;
  auto finish = [this, route, start, done = std::move(done)](Response r) mutable {
    const std::string label = route == "/v1/push" || route == "/v1/pull" || route == "/v1/enroll" ||
                                      route == "/v1/health" || route == "/metrics"
                                  ? route
                                  : "other";
    // Every console answer carries the console's headers, whichever step produced it.
    if (ConsoleRoutes::owns(route)) ConsoleRoutes::addSecurityHeaders(r, true);
    if (ConsoleRoutes::isConsolePage(route)) ConsoleRoutes::addSecurityHeaders(r, false);
    metrics_.request(
        label, r.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    done(std::move(r));
  };

  Admission admitted;
  if (request.admitted.has_value()) {
    admitted = std::move(*request.admitted);
  } else {
    admitted = admit({request.method, request.target, request.content_type, request.authorization,
                      request.body.size(), request.peer, request.cookie, request.csrf_token});
  }
  if (admitted.rejection.has_value()) return finish(std::move(*admitted.rejection));
  if (request.body.size() > admitted.body_limit) {
    // A chunked body has no Content-Length to check up front; the parser's limit caught it.
    return finish(error(413,
                        Status(ErrorCode::kTooLarge, "the body is larger than the " +
                                                         std::to_string(admitted.body_limit) +
                                                         " bytes " + route + " accepts"),
                        json));
  }

  if (ConsoleRoutes::isConsolePage(route)) {
    if (std::optional<Response> page = consoleAsset(request.target)) {
      ConsoleRoutes::addSecurityHeaders(*page, false);
      return finish(std::move(*page));
    }
    Response missing = error(404, Status(ErrorCode::kNotFound, "no console file " + route), true);
    ConsoleRoutes::addSecurityHeaders(missing, false);
    return finish(std::move(missing));
  }
  if (ConsoleRoutes::owns(route)) {
    console_->handle(request, std::move(admitted), std::move(finish));
    return;
  }

  if (route == "/v1/health") {
    // Liveness only: sequence numbers would tell anyone how busy the server is.
    return finish({200, "application/json", "{\"status\":\"ok\"}"});
  }
  if (route == "/metrics") {
    return finish({200, "text/plain; version=0.0.4", metrics_.render(engine_)});
  }

  if (route == "/v1/enroll") {
    v1::EnrollRequest req;
    if (Status st = decodeBody(request.body, json, req); !st.ok()) {
      enrollFinished(request.peer, st);
      return finish(error(400, st, json));
    }
    engine_.enroll(
        req, [this, json, finish, peer = request.peer](Result<v1::EnrollResponse> r) mutable {
          enrollFinished(peer, r.status());
          if (!r.ok()) return finish(failure("/v1/enroll", "", r.status(), json));
          finish({200, json ? "application/json" : "application/x-protobuf", encodeBody(*r, json)});
        });
    return;
  }

  Principal who = std::move(*admitted.principal);
  if (route == "/v1/push") {
    v1::PushRequest req;
    if (Status st = decodeBody(request.body, json, req); !st.ok())
      return finish(error(400, st, json));
    const std::string device = who.device_id;
    engine_.push(
        std::move(who), std::move(req),
        [this, json, finish, device](Result<v1::PushResponse> r) mutable {
          if (!r.ok()) return finish(failure("/v1/push", device, r.status(), json));
          finish({200, json ? "application/json" : "application/x-protobuf", encodeBody(*r, json)});
        });
    return;
  }
  v1::PullRequest req;
  if (Status st = decodeBody(request.body, json, req); !st.ok())
    return finish(error(400, st, json));
  pull(who, bearer(request.authorization), req, json, std::move(finish));
}

void Router::enrollFinished(const std::string& peer, const Status& result) {
  if (result.ok()) {
    // A valid code: the attempt does not count against the throttle.
    throttle_.refund(peer);
    return;
  }
  metrics_.enrollFailed();
  {
    std::lock_guard lock(log_mu_);
    ++unlogged_failures_;
    last_failure_peer_ = peer;
  }
  logEnrollFailures(false);
}

void Router::logEnrollFailures(bool force) {
  std::lock_guard lock(log_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (unlogged_failures_ == 0 && unlogged_throttled_ == 0) return;
  if (!force && now - last_log_ < kEnrollLogInterval) return;
  std::clog << "eropaf-server: enrollment: " << unlogged_failures_ << " failed and "
            << unlogged_throttled_ << " throttled attempt(s) since the last report (last from "
            << (last_failure_peer_.empty() ? "-" : last_failure_peer_) << ")" << std::endl;
  unlogged_failures_ = 0;
  unlogged_throttled_ = 0;
  last_log_ = now;
}

void Router::pull(const Principal& p, std::string token, const v1::PullRequest& req, bool json,
                  std::function<void(Response)> done) {
  auto answer = [this, json, device = p.device_id](const Result<v1::PullResponse>& r) -> Response {
    if (!r.ok()) return failure("/v1/pull", device, r.status(), json);
    return {200, json ? "application/json" : "application/x-protobuf", encodeBody(*r, json)};
  };
  auto isEmpty = [](const v1::PullResponse& r) {
    return r.records_size() == 0 && r.evictions_size() == 0 && !r.more() && !r.reset();
  };
  engine_.pull(
      p, req,
      [this, p, token = std::move(token), req, answer, isEmpty,
       done = std::move(done)](Result<v1::PullResponse> first) mutable {
        if (!first.ok() || !isEmpty(*first) || req.wait_ms() == 0) return done(answer(first));

        // Long poll: answer with the first page that carries something for this principal, or
        // with the empty page at the deadline — exactly once. A commit that brings nothing for
        // them is not told (no global activity channel), and every wake re-authenticates, so a
        // device revoked or a worker changed meanwhile is answered as such, never with records.
        struct Poll {
          std::atomic<bool> answered{false};
          std::atomic<std::uint64_t> ticket{0};
          std::mutex mu;
          std::function<void(Response)> done;
          Principal principal;      // GUARDED_BY(mu)
          v1::PullRequest request;  // GUARDED_BY(mu): the cursor of the last empty page
          Response empty;           // GUARDED_BY(mu)
          std::string token;
        };
        auto poll = std::make_shared<Poll>();
        poll->done = std::move(done);
        poll->principal = p;
        poll->request = req;
        poll->request.set_cursor(first->next_cursor());
        poll->request.set_wait_ms(0);
        poll->empty = answer(first);
        poll->token = token;
        auto finish = [poll](Response r) {
          if (!poll->answered.exchange(true)) poll->done(std::move(r));
        };
        auto wait = std::make_shared<std::function<void()>>();
        *wait = [this, poll, answer, isEmpty, finish, wait_weak = std::weak_ptr(wait)] {
          std::string cursor;
          Principal who;
          {
            std::lock_guard lock(poll->mu);
            cursor = poll->request.cursor();
            who = poll->principal;
          }
          poll->ticket = engine_.waitForChange(
              engine_.cursorSeq(cursor), who,
              [this, poll, answer, isEmpty, finish, wait_weak](bool changed) {
                // On the writer thread (or here, at once): move the re-pull off it.
                schedule_(std::chrono::milliseconds(0), [this, poll, answer, isEmpty, finish,
                                                         wait_weak, changed] {
                  if (poll->answered.load()) return;
                  if (!changed) {
                    std::lock_guard lock(poll->mu);
                    return finish(poll->empty);
                  }
                  Result<Principal> again = engine_.authenticate(poll->token);
                  if (!again.ok()) {
                    return finish(error(httpStatusFor(again.status().code()), again.status(),
                                        poll->empty.content_type == "application/json"));
                  }
                  v1::PullRequest next;
                  {
                    std::lock_guard lock(poll->mu);
                    poll->principal = *again;
                    next = poll->request;
                  }
                  engine_.pull(
                      *again, next,
                      [poll, answer, isEmpty, finish, wait_weak](Result<v1::PullResponse> r) {
                        if (!r.ok() || !isEmpty(*r)) return finish(answer(r));
                        {
                          std::lock_guard lock(poll->mu);
                          poll->request.set_cursor(r->next_cursor());
                          poll->empty = answer(r);
                        }
                        if (auto again_wait = wait_weak.lock()) (*again_wait)();
                      });
                });
              });
        };
        const auto deadline = std::chrono::milliseconds(std::min(req.wait_ms(), kMaxWaitMs));
        // The deadline timer owns the wait function: it lives until the poll is answered.
        schedule_(deadline, [this, poll, wait, finish] {
          engine_.cancelWait(poll->ticket);
          std::lock_guard lock(poll->mu);
          finish(poll->empty);
        });
        (*wait)();
      });
}

}  // namespace eropaf::server
