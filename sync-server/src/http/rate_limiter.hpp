// The enrollment throttle: token buckets per client address and one for the whole server, so
// guessing enrollment codes is slow from one address and from many. An attempt takes a token
// from both buckets and gives it back when its code was valid: only failed attempts count, so
// rolling out many devices with real codes is never throttled.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace eropaf::server {

class EnrollThrottle {
 public:
  struct Options {
    /// Failed attempts per minute from one address; also the burst allowed at once.
    std::uint32_t per_address_per_minute = 10;
    /// Failed attempts per minute from all addresses together; also the burst.
    std::uint32_t global_per_minute = 60;
  };
  using Clock = std::chrono::steady_clock;

  explicit EnrollThrottle(Options options) : options_(options) {}

  /// Takes one token from the address's bucket and one from the global bucket. false (and
  /// nothing taken) when either is empty: the attempt must be answered 429 without a lookup.
  bool tryAcquire(const std::string& address, Clock::time_point now = Clock::now());
  /// Gives back the tokens of an attempt whose code was valid.
  void refund(const std::string& address, Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at;
  };
  void refill(Bucket& b, double capacity, Clock::time_point now) const;

  static constexpr std::size_t kMaxAddresses = 16384;

  Options options_;
  std::mutex mu_;
  // Guarded by mu_.
  Bucket global_{static_cast<double>(options_.global_per_minute), Clock::time_point::min()};
  std::unordered_map<std::string, Bucket> addresses_;
};

}  // namespace eropaf::server
