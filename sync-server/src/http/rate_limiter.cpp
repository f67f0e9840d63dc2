// Token buckets for enrollment attempts.
#include "http/rate_limiter.hpp"

#include <algorithm>
#include <iterator>

namespace eropaf::server {

void EnrollThrottle::refill(Bucket& b, double capacity, Clock::time_point now) const {
  if (b.at == Clock::time_point::min()) {
    b = {capacity, now};
    return;
  }
  const double seconds = std::chrono::duration<double>(now - b.at).count();
  if (seconds > 0) {
    // The bucket's capacity is its per-minute rate: it refills completely in one minute.
    b.tokens = std::min(capacity, b.tokens + seconds * capacity / 60.0);
    b.at = now;
  }
}

bool EnrollThrottle::tryAcquire(const std::string& address, Clock::time_point now) {
  const auto per_address = static_cast<double>(options_.per_address_per_minute);
  const auto global = static_cast<double>(options_.global_per_minute);
  std::lock_guard lock(mu_);
  if (addresses_.size() >= kMaxAddresses) {
    // Forget addresses whose bucket is full again: they are as good as new.
    for (auto it = addresses_.begin(); it != addresses_.end();) {
      refill(it->second, per_address, now);
      it = it->second.tokens >= per_address ? addresses_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = addresses_.try_emplace(address, Bucket{per_address, now});
  Bucket& mine = it->second;
  if (!inserted) refill(mine, per_address, now);
  refill(global_, global, now);
  if (mine.tokens < 1 || global_.tokens < 1) return false;
  mine.tokens -= 1;
  global_.tokens -= 1;
  return true;
}

void EnrollThrottle::refund(const std::string& address, Clock::time_point now) {
  const auto per_address = static_cast<double>(options_.per_address_per_minute);
  const auto global = static_cast<double>(options_.global_per_minute);
  std::lock_guard lock(mu_);
  refill(global_, global, now);
  global_.tokens = std::min(global, global_.tokens + 1);
  auto it = addresses_.find(address);
  if (it != addresses_.end()) {
    refill(it->second, per_address, now);
    it->second.tokens = std::min(per_address, it->second.tokens + 1);
  }
}

}  // namespace eropaf::server
