// Routing, content negotiation, authentication and long poll.
#include "http/router.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <mutex>

namespace eropaf::server {
namespace {

enum class Format { kProtobuf, kJson, kOther };

Format formatOf(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }),
          t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "application/x-protobuf" || t == "application/protobuf") return Format::kProtobuf;
  if (t == "application/json") return Format::kJson;
  return Format::kOther;
}

std::string encode(const google::protobuf::Message& m, bool json) {
  if (!json) return m.SerializeAsString();
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  static_cast<void>(google::protobuf::util::MessageToJsonString(m, &out, o));
  return out;
}

Status decode(const std::string& body, bool json, google::protobuf::Message& m) {
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
    case ErrorCode::kUnavailable:
    case ErrorCode::kStorageBusy:
      return 503;
    default:
      return 500;
  }
}

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

}  // namespace

Response Router::error(unsigned status, const Status& st, bool json) {
  v1::ErrorResponse e;
  e.mutable_error()->set_code(static_cast<v1::ErrorCode>(st.code()));
  // Storage and internal failures are logged, not shown: no paths or SQL to the client.
  const bool internal = status >= 500 && st.code() != ErrorCode::kUnavailable;
  e.mutable_error()->set_message(internal ? "the server could not complete the request"
                                          : st.message());
  e.mutable_error()->set_field(internal ? "" : st.field());
  return {status, json ? "application/json" : "application/x-protobuf", encode(e, json)};
}

void Router::handle(Request request, std::function<void(Response)> done) {
  const auto start = std::chrono::steady_clock::now();
  std::string route = request.target.substr(0, request.target.find('?'));
  const Format format = formatOf(request.content_type);
  const bool json = format != Format::kProtobuf;
  auto finish = [this, route, start, done = std::move(done)](Response r) mutable {
    const std::string label =
        route == "/v1/push" || route == "/v1/pull" || route == "/v1/enroll" ||
                route == "/v1/health" || route == "/metrics"
            ? route
            : "other";
    metrics_.request(label, r.status,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    done(std::move(r));
  };

  if (route == "/v1/health" || route == "/metrics") {
    if (request.method != "GET") {
      return finish(error(405, Status(ErrorCode::kInvalidArgument, "use GET for " + route), true));
    }
    if (route == "/metrics") {
      return finish({200, "text/plain; version=0.0.4", metrics_.render(engine_)});
    }
    return finish({200, "application/json",
                   "{\"status\":\"ok\",\"last_seq\":" + std::to_string(engine_.lastSeq()) + "}"});
  }
  if (route != "/v1/push" && route != "/v1/pull" && route != "/v1/enroll") {
    return finish(error(404, Status(ErrorCode::kNotFound, "no route " + route), json));
  }
  if (request.method != "POST") {
    return finish(error(405, Status(ErrorCode::kInvalidArgument, "use POST for " + route), json));
  }
  if (format == Format::kOther) {
    return finish(error(415,
                        Status(ErrorCode::kInvalidArgument,
                               "Content-Type must be application/x-protobuf or application/json",
                               "content-type"),
                        true));
  }

  if (route == "/v1/enroll") {
    v1::EnrollRequest req;
    if (Status st = decode(request.body, json, req); !st.ok()) return finish(error(400, st, json));
    engine_.enroll(std::move(req), [json, finish](Result<v1::EnrollResponse> r) mutable {
      if (!r.ok()) return finish(error(httpStatusFor(r.status().code()), r.status(), json));
      finish({200, json ? "application/json" : "application/x-protobuf", encode(*r, json)});
    });
    return;
  }

  Result<Principal> who = engine_.authenticate(bearer(request.authorization));
  if (!who.ok()) return finish(error(httpStatusFor(who.status().code()), who.status(), json));

  if (route == "/v1/push") {
    v1::PushRequest req;
    if (Status st = decode(request.body, json, req); !st.ok()) return finish(error(400, st, json));
    engine_.push(std::move(who).value(), std::move(req),
                 [json, finish](Result<v1::PushResponse> r) mutable {
                   if (!r.ok()) {
                     return finish(error(httpStatusFor(r.status().code()), r.status(), json));
                   }
                   finish({200, json ? "application/json" : "application/x-protobuf",
                           encode(*r, json)});
                 });
    return;
  }
  v1::PullRequest req;
  if (Status st = decode(request.body, json, req); !st.ok()) return finish(error(400, st, json));
  pull(*who, bearer(request.authorization), req, json, std::move(finish));
}

void Router::pull(const Principal& p, std::string token, const v1::PullRequest& req, bool json,
                  std::function<void(Response)> done) {
  auto answer = [json](const Result<v1::PullResponse>& r) -> Response {
    if (!r.ok()) return error(httpStatusFor(r.status().code()), r.status(), json);
    return {200, json ? "application/json" : "application/x-protobuf", encode(*r, json)};
  };
  auto isEmpty = [](const v1::PullResponse& r) {
    return r.records_size() == 0 && r.evictions_size() == 0 && !r.more() && !r.reset();
  };
  engine_.pull(p, req, [this, p, token = std::move(token), req, answer, isEmpty,
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
      Principal principal;       // GUARDED_BY(mu)
      v1::PullRequest request;   // GUARDED_BY(mu): the cursor of the last empty page
      Response empty;            // GUARDED_BY(mu)
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
          Engine::cursorSeq(cursor), who,
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
              engine_.pull(*again, next,
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
