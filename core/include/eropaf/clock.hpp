// Clocks: the wall clock interface, and the hybrid logical clock (HLC) that versions every
// field eropaf replicates.
//
// An HLC value packs 48 bits of wall milliseconds and a 16-bit counter: (ms << 16) | counter.
// It never goes backwards, even when the wall clock does; it advances past every version the
// node receives; and it refuses remote versions more than a bounded skew ahead of the wall
// clock, so one device with a wrong clock cannot push everyone's versions into the future.
#pragma once

#include <atomic>
#include <cstdint>

#include "eropaf/status.hpp"

namespace eropaf {

/// Milliseconds since the Unix epoch. Implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t nowMs() = 0;
};

/// The system wall clock (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  std::int64_t nowMs() override;
};

/// A clock tests set by hand; it may go backwards. Thread-safety: any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t ms) : ms_(ms) {}
  std::int64_t nowMs() override { return ms_.load(); }
  void set(std::int64_t ms) { ms_.store(ms); }
  void advance(std::int64_t delta_ms) { ms_.fetch_add(delta_ms); }

 private:
  std::atomic<std::int64_t> ms_;
};

constexpr std::uint64_t hlcPack(std::int64_t ms, std::uint16_t counter) {
  return (static_cast<std::uint64_t>(ms) << 16) | counter;
}
constexpr std::int64_t hlcMillis(std::uint64_t hlc) { return static_cast<std::int64_t>(hlc >> 16); }
constexpr std::uint16_t hlcCounter(std::uint64_t hlc) {
  return static_cast<std::uint16_t>(hlc & 0xFFFFu);
}

/// Largest wall time an HLC can carry (48 bits of milliseconds: the year 10889).
constexpr std::int64_t kHlcMaxMillis = (std::int64_t{1} << 48) - 1;
/// Default bound on how far a received version may be ahead of the local wall clock (devices).
constexpr std::int64_t kDefaultMaxSkewMs = std::int64_t{5} * 60 * 1000;
/// The server's bound, clearly tighter than the devices': whatever the server accepts and
/// passes on stays acceptable to a device whose clock lags the server's by up to the
/// difference (4 minutes). The server refuses a configuration above kMaxServerSkewMs.
constexpr std::int64_t kDefaultServerMaxSkewMs = std::int64_t{60} * 1000;
constexpr std::int64_t kMaxServerSkewMs = kDefaultMaxSkewMs / 2;

/// A hybrid logical clock. Thread-safety: not synchronised; the owner (a store, the server's
/// writer) serialises calls.
class Hlc {
 public:
  /// `last` is the greatest value issued or received before (persisted by the owner so the
  /// clock is monotonic across restarts).
  explicit Hlc(Clock& clock, std::uint64_t last = 0, std::int64_t max_skew_ms = kDefaultMaxSkewMs)
      : clock_(&clock), last_(last), max_skew_ms_(max_skew_ms) {}

  /// A new value for a local write: greater than every value issued or received before.
  std::uint64_t tick();

  /// Advances past a remote value. Refuses (kClockSkew, clock unchanged) a value whose wall
  /// part is more than max_skew_ms ahead of the local wall clock, read `ahead_ms` later (a
  /// device whose wall clock lags the server's by `ahead_ms` judges versions by the server's
  /// clock, not its own).
  Status receive(std::uint64_t remote, std::int64_t ahead_ms = 0);

  /// Whether `remote` would be refused by receive(), without changing the clock.
  bool tooFarAhead(std::uint64_t remote, std::int64_t ahead_ms = 0) const;

  std::uint64_t last() const noexcept { return last_; }
  /// Clock-skew recovery only: sets the clock back to `v` (the one place monotonicity is given
  /// up, because the values it issued were wrong).
  void resetTo(std::uint64_t v) noexcept { last_ = v; }
  std::int64_t maxSkewMs() const noexcept { return max_skew_ms_; }

 private:
  Clock* clock_;  // not owned; outlives the Hlc
  std::uint64_t last_;
  std::int64_t max_skew_ms_;
};

}  // namespace eropaf
