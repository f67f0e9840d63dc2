// Prometheus text rendering.
#include "http/metrics.hpp"

#include <cstdio>
#include <sstream>

#include "engine.hpp"

namespace eropaf::server {

void Metrics::request(const std::string& route, unsigned status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  Histogram& h = latency_[route];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render(const Engine& engine) const {
  std::ostringstream out;
  {
    std::lock_guard lock(mu_);
    out << "# HELP eropaf_http_requests_total HTTP requests by route and status.\n"
        << "# TYPE eropaf_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      out << "eropaf_http_requests_total{route=\"" << key.first << "\",status=\"" << key.second
          << "\"} " << n << "\n";
    }
    out << "# HELP eropaf_http_request_duration_seconds Request latency by route.\n"
        << "# TYPE eropaf_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        char le[32];
        std::snprintf(le, sizeof le, "%g", kBuckets[i]);
        out << "eropaf_http_request_duration_seconds_bucket{route=\"" << route << "\",le=\"" << le
            << "\"} " << h.counts[i] << "\n";
      }
      out << "eropaf_http_request_duration_seconds_bucket{route=\"" << route << "\",le=\"+Inf\"} "
          << h.count << "\n"
          << "eropaf_http_request_duration_seconds_sum{route=\"" << route << "\"} " << h.sum << "\n"
          << "eropaf_http_request_duration_seconds_count{route=\"" << route << "\"} " << h.count
          << "\n";
    }
  }
  const Engine::Counters c = engine.counters();
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
        << name << " " << v << "\n";
  };
  counter("eropaf_pushes_total", "Push requests received.", c.pushes);
  counter("eropaf_changes_applied_total", "Changes accepted.", c.changes_applied);
  counter("eropaf_changes_refused_total", "Changes refused, per change.", c.changes_refused);
  counter("eropaf_commits_total", "Group commits.", c.commits);
  counter("eropaf_pulls_total", "Pull pages served.", c.pulls);
  counter("eropaf_records_sent_total", "Records sent in pull pages.", c.records_sent);
  counter("eropaf_connections_shed_total",
          "Idle connections closed to make room for a new one (max_connections).",
          connections_shed_.load());
  counter("eropaf_connections_refused_total",
          "New connections closed at once: max_connections reached and none idle.",
          connections_refused_.load());
  counter("eropaf_accept_backoffs_total",
          "Pauses of the acceptor after accept() ran out of file descriptors.",
          accept_backoffs_.load());
  counter("eropaf_enroll_failures_total", "Enrollment attempts that failed (wrong code, bad body).",
          enroll_failures_.load());
  counter("eropaf_enroll_throttled_total", "Enrollment attempts answered 429 without a lookup.",
          enroll_throttled_.load());
  out << "# HELP eropaf_open_connections Open HTTP connections.\n"
      << "# TYPE eropaf_open_connections gauge\neropaf_open_connections "
      << open_connections_.load() << "\n"
      << "# HELP eropaf_last_seq The last committed change sequence.\n"
      << "# TYPE eropaf_last_seq gauge\neropaf_last_seq " << engine.lastSeq() << "\n";
  return out.str();
}

}  // namespace eropaf::server
