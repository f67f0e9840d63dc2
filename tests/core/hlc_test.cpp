// Proves the hybrid logical clock promises of DESIGN.md "Merging": every local tick is greater
// than everything issued or received before, even when the wall clock goes backwards, stands
// still for 65,536 ticks, or the process restarts; receiving a version advances the clock past
// it; and a version more than the skew bound ahead of the wall clock is refused without
// touching the clock, while one exactly at the bound is accepted.
#include <catch2/catch.hpp>
#include <cstdint>

#include "eropaf/clock.hpp"

namespace {

constexpr std::int64_t kT0 = 1718000000000;  // an ordinary wall time in ms

}  // namespace

TEST_CASE("HLC packing keeps 48 bits of ms and a 16-bit counter", "[unit][hlc]") {
  constexpr std::uint64_t v = eropaf::hlcPack(kT0, 0xABCD);
  STATIC_REQUIRE(eropaf::hlcMillis(v) == kT0);
  STATIC_REQUIRE(eropaf::hlcCounter(v) == 0xABCD);
  STATIC_REQUIRE(eropaf::hlcPack(kT0, 0xFFFF) < eropaf::hlcPack(kT0 + 1, 0));
  STATIC_REQUIRE(eropaf::hlcMillis(eropaf::hlcPack(eropaf::kHlcMaxMillis, 0xFFFF)) ==
                 eropaf::kHlcMaxMillis);
}

TEST_CASE("tick follows the wall clock when it moves forward", "[unit][hlc]") {
  eropaf::ManualClock clock(kT0);
  eropaf::Hlc hlc(clock);
  const std::uint64_t a = hlc.tick();
  CHECK(eropaf::hlcMillis(a) == kT0);
  CHECK(eropaf::hlcCounter(a) == 0);
  CHECK(hlc.last() == a);

  clock.advance(5);
  const std::uint64_t b = hlc.tick();
  CHECK(b == eropaf::hlcPack(kT0 + 5, 0));
  CHECK(hlc.last() == b);
}

TEST_CASE("ticks in the same millisecond increment the counter", "[unit][hlc]") {
  eropaf::ManualClock clock(kT0);
  eropaf::Hlc hlc(clock);
  std::uint64_t previous = hlc.tick();
  for (std::uint16_t i = 1; i < 100; ++i) {
    const std::uint64_t v = hlc.tick();
    REQUIRE(v == eropaf::hlcPack(kT0, i));
    REQUIRE(v > previous);
    previous = v;
  }
}

TEST_CASE("tick stays monotonic when the wall clock goes backwards", "[unit][hlc]") {
  eropaf::ManualClock clock(kT0);
  eropaf::Hlc hlc(clock);
  const std::uint64_t before = hlc.tick();

  clock.set(kT0 - 60'000);  // NTP correction: a minute back
  std::uint64_t previous = before;
  for (int i = 0; i < 10; ++i) {
    const std::uint64_t v = hlc.tick();
    INFO("tick " << i);
    REQUIRE(v > previous);
    // The wall part stays at the highest time seen; only the counter moves.
    REQUIRE(eropaf::hlcMillis(v) == kT0);
    previous = v;
  }

  // Once the wall clock passes the old time again, ticks follow it.
  clock.set(kT0 + 1);
  const std::uint64_t after = hlc.tick();
  CHECK(after > previous);
  CHECK(after == eropaf::hlcPack(kT0 + 1, 0));

  // A clock far in the past (battery removed, reset to 1970) changes nothing either.
  clock.set(0);
  CHECK(hlc.tick() > after);
  clock.set(-5);
  CHECK(hlc.tick() > after);
}

TEST_CASE("counter overflow moves to the next millisecond and stays monotonic", "[unit][hlc]") {
  eropaf::ManualClock clock(kT0);
  eropaf::Hlc hlc(clock);
  std::uint64_t previous = hlc.tick();
  REQUIRE(eropaf::hlcCounter(previous) == 0);
  // The wall clock stands still for 65,535 more ticks: the counter reaches 0xFFFF.
  for (std::uint32_t i = 1; i <= 0xFFFF; ++i) {
    const std::uint64_t v = hlc.tick();
    if (v <= previous) FAIL("tick " << i << " went from " << previous << " to " << v);
    previous = v;
  }
  CHECK(previous == eropaf::hlcPack(kT0, 0xFFFF));

  const std::uint64_t next = hlc.tick();
  CHECK(next > previous);
  CHECK(next == eropaf::hlcPack(kT0 + 1, 0));
  const std::uint64_t after = hlc.tick();
  CHECK(after == eropaf::hlcPack(kT0 + 1, 1));

  // The wall clock catching up with the borrowed millisecond does not reuse it.
  clock.set(kT0 + 1);
  CHECK(hlc.tick() > after);
}

TEST_CASE("receive advances the clock past the remote version", "[unit][hlc]") {
  eropaf::ManualClock clock(kT0);
  eropaf::Hlc hlc(clock);
  const std::uint64_t local = hlc.tick();

  SECTION("a remote version ahead in the same bound") {
    const std::uint64_t remote = eropaf::hlcPack(kT0 + 1000, 7);
    REQUIRE(hlc.receive(remote).ok());
    CHECK(hlc.last() >= remote);
    const std::uint64_t next = hlc.tick();
    CHECK(next > remote);
    CHECK(next > local);
  }
  SECTION("a remote version with a full counter") {
    const std::uint64_t remote = eropaf::hlcPack(kT0 + 10, 0xFFFF);
    REQUIRE(hlc.receive(remote).ok());
    const std::uint64_t next = hlc.tick();
    CHECK(next > remote);
    CHECK(eropaf::hlcMillis(next) == kT0 + 11);
  }
  SECTION("a remote version behind the local clock changes nothing") {
    const std::uint64_t remote = eropaf::hlcPack(kT0 - 1000, 3);
    REQUIRE(hlc.receive(remote).ok());
    CHECK(hlc.last() == local);
    CHECK(hlc.tick() > local);
  }
  SECTION("the zero version is harmless") {
    REQUIRE(hlc.receive(0).ok());
    CHECK(hlc.last() == local);
  }
}

TEST_CASE("receive refuses a version beyond the skew bound and leaves the clock alone",
          "[unit][hlc]") {
  eropaf::ManualClock clock(kT0);
  const std::int64_t skew = 60'000;
  eropaf::Hlc hlc(clock, 0, skew);
  CHECK(hlc.maxSkewMs() == skew);
  const std::uint64_t local = hlc.tick();

  SECTION("one millisecond beyond the bound") {
    const std::uint64_t remote = eropaf::hlcPack(kT0 + skew + 1, 0);
    CHECK(hlc.tooFarAhead(remote));
    const eropaf::Status s = hlc.receive(remote);
    CHECK(s.code() == eropaf::ErrorCode::kClockSkew);
    CHECK_FALSE(s.message().empty());
    CHECK(hlc.last() == local);
    // And the next local tick is not dragged into the future.
    CHECK(eropaf::hlcMillis(hlc.tick()) == kT0);
  }
  SECTION("far in the future") {
    const std::uint64_t remote = eropaf::hlcPack(eropaf::kHlcMaxMillis, 0xFFFF);
    CHECK(hlc.receive(remote).code() == eropaf::ErrorCode::kClockSkew);
    CHECK(hlc.last() == local);
  }
  SECTION("exactly at the bound is accepted") {
    const std::uint64_t remote = eropaf::hlcPack(kT0 + skew, 0xFFFF);
    CHECK_FALSE(hlc.tooFarAhead(remote));
    REQUIRE(hlc.receive(remote).ok());
    CHECK(hlc.last() >= remote);
    CHECK(hlc.tick() > remote);
  }
  SECTION("the bound moves with the wall clock") {
    const std::uint64_t remote = eropaf::hlcPack(kT0 + skew + 1, 0);
    REQUIRE(hlc.receive(remote).code() == eropaf::ErrorCode::kClockSkew);
    clock.advance(1);
    CHECK(hlc.receive(remote).ok());
    CHECK(hlc.last() >= remote);
  }
  SECTION("tooFarAhead does not change the clock") {
    CHECK(hlc.tooFarAhead(eropaf::hlcPack(kT0 + skew + 1, 0)));
    CHECK_FALSE(hlc.tooFarAhead(eropaf::hlcPack(kT0 + 1, 0)));
    CHECK(hlc.last() == local);
  }
}

TEST_CASE("the default skew bound is five minutes", "[unit][hlc]") {
  eropaf::ManualClock clock(kT0);
  eropaf::Hlc hlc(clock);
  CHECK(hlc.maxSkewMs() == eropaf::kDefaultMaxSkewMs);
  CHECK(eropaf::kDefaultMaxSkewMs == 300'000);
  CHECK(hlc.receive(eropaf::hlcPack(kT0 + 300'000, 0)).ok());
  CHECK(hlc.receive(eropaf::hlcPack(kT0 + 300'001, 0)).code() == eropaf::ErrorCode::kClockSkew);
}

TEST_CASE("a restarted clock never issues a smaller value", "[unit][hlc]") {
  eropaf::ManualClock clock(kT0);
  std::uint64_t persisted = 0;
  {
    eropaf::Hlc hlc(clock);
    for (int i = 0; i < 5; ++i) (void)hlc.tick();
    REQUIRE(hlc.receive(eropaf::hlcPack(kT0 + 200'000, 9)).ok());
    persisted = hlc.last();
  }
  // The device reboots with its clock reset a day back.
  clock.set(kT0 - 86'400'000);
  eropaf::Hlc restarted(clock, persisted);
  CHECK(restarted.last() == persisted);
  std::uint64_t previous = persisted;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t v = restarted.tick();
    REQUIRE(v > previous);
    previous = v;
  }
  CHECK(eropaf::hlcMillis(previous) == kT0 + 200'000);
}
