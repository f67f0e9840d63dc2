// HTTP request handling without a network: method, target, headers and body in; status,
// headers and body out. The socket layer (http_server.cpp) and in-process tests both use it.
//
// Routes: POST /v1/push, POST /v1/pull (long poll with wait_ms), POST /v1/enroll,
// GET /v1/health, GET /metrics. Bodies are application/x-protobuf or application/json
// (protobuf's JSON mapping); the answer uses the request's format. Every error answer carries
// eropaf.v1.ErrorResponse.
// Thread-safety: handle() may be called from any thread; `done` runs on an engine or
// scheduler thread, exactly once.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine.hpp"
#include "http/metrics.hpp"

namespace eropaf::server {

struct Request {
  std::string method;
  std::string target;
  std::string content_type;
  std::string authorization;
  std::string body;
};

struct Response {
  unsigned status = 200;
  std::string content_type;
  std::string body;
};

/// Runs `fn` after `delay` on some thread of the caller's choosing (an Asio timer in the
/// server). Used for long-poll deadlines and to move work off the engine's writer thread.
using Scheduler = std::function<void(std::chrono::milliseconds delay, std::function<void()> fn)>;

class Router {
 public:
  static constexpr std::uint32_t kMaxWaitMs = 30'000;

  Router(Engine& engine, Metrics& metrics, Scheduler scheduler)
      : engine_(engine), metrics_(metrics), schedule_(std::move(scheduler)) {}

  void handle(Request request, std::function<void(Response)> done);

  /// An error answer in the format the request asked for.
  static Response error(unsigned status, const Status& st, bool json);

 private:
  void pull(const Principal& p, std::string token, const v1::PullRequest& req, bool json,
            std::function<void(Response)> done);

  Engine& engine_;
  Metrics& metrics_;
  Scheduler schedule_;
};

}  // namespace eropaf::server
