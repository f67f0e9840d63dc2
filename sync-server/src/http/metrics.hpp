// Server metrics in Prometheus text format: requests by route and status, request latency
// histograms by route, connections (open, shed, refused, accept back-offs), enrollment failures
// and throttling, and the engine's counters.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace eropaf::server {

class Engine;

class Metrics {
 public:
  void request(const std::string& route, unsigned status, double seconds);
  void connectionOpened() { ++open_connections_; }
  void connectionClosed() { --open_connections_; }
  std::int64_t openConnections() const { return open_connections_.load(); }
  void connectionShed() { ++connections_shed_; }
  void connectionRefused() { ++connections_refused_; }
  void acceptBackoff() { ++accept_backoffs_; }
  void enrollFailed() { ++enroll_failures_; }
  void enrollThrottled() { ++enroll_throttled_; }
  /// The Prometheus text exposition (version 0.0.4).
  std::string render(const Engine& engine) const;

 private:
  static constexpr std::array<double, 12> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::atomic<std::int64_t> open_connections_{0};
  std::atomic<std::uint64_t> connections_shed_{0};
  std::atomic<std::uint64_t> connections_refused_{0};
  std::atomic<std::uint64_t> accept_backoffs_{0};
  std::atomic<std::uint64_t> enroll_failures_{0};
  std::atomic<std::uint64_t> enroll_throttled_{0};
};

}  // namespace eropaf::server
