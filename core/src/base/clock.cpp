// The system clock and the hybrid logical clock.
#include "eropaf/clock.hpp"

#include <algorithm>
#include <chrono>

namespace eropaf {

std::int64_t SystemClock::nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// Clamps a wall reading into what 48 bits of milliseconds can carry.
std::int64_t wallMs(Clock& clock) {
  return std::clamp<std::int64_t>(clock.nowMs(), 0, kHlcMaxMillis);
}

// The smallest HLC value strictly greater than `v`: next counter, or next millisecond when the
// counter is exhausted.
std::uint64_t successor(std::uint64_t v) {
  if (hlcCounter(v) == 0xFFFF) return hlcPack(hlcMillis(v) + 1, 0);
  return v + 1;
}

}  // namespace

std::uint64_t Hlc::tick() {
  const std::uint64_t wall = hlcPack(wallMs(*clock_), 0);
  last_ = wall > last_ ? wall : successor(last_);
  return last_;
}

bool Hlc::tooFarAhead(std::uint64_t remote, std::int64_t ahead_ms) const {
  return hlcMillis(remote) > wallMs(*clock_) + std::max<std::int64_t>(ahead_ms, 0) + max_skew_ms_;
}

Status Hlc::receive(std::uint64_t remote, std::int64_t ahead_ms) {
  if (tooFarAhead(remote, ahead_ms)) {
    return Status(ErrorCode::kClockSkew, "version is " +
                                             std::to_string(hlcMillis(remote) - wallMs(*clock_) -
                                                            std::max<std::int64_t>(ahead_ms, 0)) +
                                             " ms ahead of this clock; the limit is " +
                                             std::to_string(max_skew_ms_) + " ms");
  }
  if (remote > last_) last_ = remote;
  return {};
}

}  // namespace eropaf
