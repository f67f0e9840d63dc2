// Proves the id contract of DESIGN.md "Merging": ids made on a device are canonical lower-case
// UUIDv7 (version 7, RFC 9562 variant), carry the millisecond they were made in, sort by time
// across milliseconds (so SQLite appends), and never repeat; and that the syntax checks applied
// to ids, worker ids and wijk codes from outside accept exactly the documented forms.
#include "eropaf/id.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <unordered_set>

#include "eropaf/clock.hpp"

namespace {

constexpr std::int64_t kSomeMs = 1718000000123;  // 2024-06-10, an ordinary device time

bool isLowerHexDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

TEST_CASE("newUuidV7 makes canonical lower-case UUIDv7 text", "[unit][id]") {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = eropaf::newUuidV7(kSomeMs + i);
    INFO(id);
    REQUIRE(id.size() == 36);
    for (std::size_t p = 0; p < id.size(); ++p) {
      if (p == 8 || p == 13 || p == 18 || p == 23) {
        REQUIRE(id[p] == '-');
      } else {
        REQUIRE(isLowerHexDigit(id[p]));
      }
    }
    CHECK(id[14] == '7');  // version nibble
    const char variant = id[19];
    CHECK((variant == '8' || variant == '9' || variant == 'a' || variant == 'b'));  // 10xx
    CHECK(eropaf::isValidUuid(id));
  }
}

TEST_CASE("the UUIDv7 timestamp round-trips through uuidV7Millis", "[unit][id]") {
  for (const std::int64_t ms : {std::int64_t{0}, std::int64_t{1}, kSomeMs, kSomeMs + 1,
                                std::int64_t{0x0123456789AB}, eropaf::kHlcMaxMillis}) {
    INFO("ms " << ms);
    const std::string id = eropaf::newUuidV7(ms);
    CHECK(eropaf::uuidV7Millis(id) == ms);
  }
  // The timestamp is the first 48 bits, big-endian, in the first 12 hex digits.
  const std::string id = eropaf::newUuidV7(0x0123456789AB);
  CHECK(id.substr(0, 13) == "01234567-89ab");
}

TEST_CASE("uuidV7Millis refuses what is not a UUIDv7", "[unit][id]") {
  // Valid UUID syntax, wrong version (4) or wrong variant (c = 110x).
  CHECK(eropaf::uuidV7Millis("0190f5c2-1a2b-4c3d-8e4f-0123456789ab") == -1);
  CHECK(eropaf::uuidV7Millis("0190f5c2-1a2b-7c3d-ce4f-0123456789ab") == -1);
  CHECK(eropaf::uuidV7Millis("0190f5c2-1a2b-7c3d-0e4f-0123456789ab") == -1);
  CHECK(eropaf::uuidV7Millis("0190F5C2-1A2B-7C3D-8E4F-0123456789AB") == -1);
  CHECK(eropaf::uuidV7Millis("") == -1);
  CHECK(eropaf::uuidV7Millis("not-a-uuid") == -1);
  // The same digits with version 7 and variant 8 are accepted.
  CHECK(eropaf::uuidV7Millis("0190f5c2-1a2b-7c3d-8e4f-0123456789ab") == 0x0190f5c21a2b);
}

TEST_CASE("100,000 ids are all different", "[unit][id]") {
  std::unordered_set<std::string> seen;
  seen.reserve(100000);
  // Half of them in one millisecond: uniqueness must not depend on the clock moving.
  for (int i = 0; i < 50000; ++i) {
    REQUIRE(seen.insert(eropaf::newUuidV7(kSomeMs)).second);
  }
  for (int i = 0; i < 50000; ++i) {
    REQUIRE(seen.insert(eropaf::newUuidV7(kSomeMs + i / 10)).second);
  }
  CHECK(seen.size() == 100000);
}

TEST_CASE("ids made in later milliseconds sort after earlier ones", "[unit][id]") {
  std::string previous = eropaf::newUuidV7(kSomeMs);
  for (std::int64_t ms = kSomeMs + 1; ms < kSomeMs + 2000; ++ms) {
    const std::string id = eropaf::newUuidV7(ms);
    INFO(previous << " then " << id);
    REQUIRE(previous < id);
    previous = id;
  }
  // Across a carry of several timestamp digits as well.
  CHECK(eropaf::newUuidV7(0x00FFFFFFFFFF) < eropaf::newUuidV7(0x010000000000));
  CHECK(eropaf::newUuidV7(1) < eropaf::newUuidV7(eropaf::kHlcMaxMillis));
}

TEST_CASE("isValidUuid accepts only canonical lower-case UUID text", "[unit][id]") {
  const std::string good = "0190f5c2-1a2b-7c3d-8e4f-0123456789ab";
  CHECK(eropaf::isValidUuid(good));
  CHECK(eropaf::isValidUuid("00000000-0000-0000-0000-000000000000"));
  CHECK(eropaf::isValidUuid("0190f5c2-1a2b-4c3d-8e4f-0123456789ab"));  // any version

  SECTION("upper case") {
    CHECK_FALSE(eropaf::isValidUuid("0190F5C2-1A2B-7C3D-8E4F-0123456789AB"));
    CHECK_FALSE(eropaf::isValidUuid("0190f5c2-1a2b-7c3d-8e4f-0123456789aB"));
  }
  SECTION("wrong lengths") {
    CHECK_FALSE(eropaf::isValidUuid(""));
    CHECK_FALSE(eropaf::isValidUuid(good.substr(0, 35)));
    CHECK_FALSE(eropaf::isValidUuid(good + "0"));
    CHECK_FALSE(eropaf::isValidUuid("{" + good + "}"));
    CHECK_FALSE(eropaf::isValidUuid("0190f5c21a2b7c3d8e4f0123456789ab"));  // no dashes
  }
  SECTION("non-hex and misplaced dashes") {
    CHECK_FALSE(eropaf::isValidUuid("0190f5c2-1a2b-7c3d-8e4f-0123456789ag"));
    CHECK_FALSE(eropaf::isValidUuid("0190f5c2-1a2b-7c3d-8e4f-01234567 9ab"));
    CHECK_FALSE(eropaf::isValidUuid("0190f5c2-1a2b-7c3d-8e4f_0123456789ab"));
    CHECK_FALSE(eropaf::isValidUuid("0190f5c21-a2b-7c3d-8e4f-0123456789ab"));
    CHECK_FALSE(eropaf::isValidUuid("0190f5c2-1a2b-7c3d-8e4f-0123456789-b"));
    std::string with_nul = good;
    with_nul[3] = '\0';
    CHECK_FALSE(eropaf::isValidUuid(with_nul));
  }
}

TEST_CASE("isValidWorkerId accepts 1..64 of [a-z0-9._-] starting alphanumeric", "[unit][id]") {
  CHECK(eropaf::isValidWorkerId("a"));
  CHECK(eropaf::isValidWorkerId("7"));
  CHECK(eropaf::isValidWorkerId("j.de-vries_2"));
  CHECK(eropaf::isValidWorkerId(std::string(64, 'a')));
  CHECK(eropaf::isValidWorkerId("a" + std::string(63, '-')));

  CHECK_FALSE(eropaf::isValidWorkerId(""));
  CHECK_FALSE(eropaf::isValidWorkerId(std::string(65, 'a')));
  CHECK_FALSE(eropaf::isValidWorkerId(".hidden"));
  CHECK_FALSE(eropaf::isValidWorkerId("-a"));
  CHECK_FALSE(eropaf::isValidWorkerId("_a"));
  CHECK_FALSE(eropaf::isValidWorkerId("Jan"));
  CHECK_FALSE(eropaf::isValidWorkerId("jan de vries"));
  CHECK_FALSE(eropaf::isValidWorkerId("jan@gemeente"));
  CHECK_FALSE(eropaf::isValidWorkerId("jan/../x"));
  CHECK_FALSE(eropaf::isValidWorkerId("jos\xC3\xA9"));  // é: not ASCII
  CHECK_FALSE(eropaf::isValidWorkerId(std::string("ja\0n", 4)));
}

TEST_CASE("isValidWijkCode accepts WK followed by six digits", "[unit][id]") {
  CHECK(eropaf::isValidWijkCode("WK015301"));
  CHECK(eropaf::isValidWijkCode("WK000000"));
  CHECK(eropaf::isValidWijkCode("WK999999"));

  CHECK_FALSE(eropaf::isValidWijkCode(""));
  CHECK_FALSE(eropaf::isValidWijkCode("WK"));
  CHECK_FALSE(eropaf::isValidWijkCode("WK01530"));    // five digits
  CHECK_FALSE(eropaf::isValidWijkCode("WK0153011"));  // seven digits
  CHECK_FALSE(eropaf::isValidWijkCode("wk015301"));
  CHECK_FALSE(eropaf::isValidWijkCode("Wk015301"));
  CHECK_FALSE(eropaf::isValidWijkCode("BU015301"));  // a buurt code, not a wijk
  CHECK_FALSE(eropaf::isValidWijkCode("GM015301"));
  CHECK_FALSE(eropaf::isValidWijkCode("WK01530A"));
  CHECK_FALSE(eropaf::isValidWijkCode(" WK015301"));
  CHECK_FALSE(eropaf::isValidWijkCode("WK 015301"));
  CHECK_FALSE(eropaf::isValidWijkCode("WK-15301"));
}

TEST_CASE("shortId takes the random digits at the start of the last group", "[unit][id]") {
  CHECK(eropaf::kShortIdLength == 8);
  CHECK(eropaf::shortId("0190f5c2-1a2b-7c3d-8e4f-0123456789ab") == "01234567");
  // Anything that is not a canonical UUID comes back as it was.
  CHECK(eropaf::shortId("wc-anna") == "wc-anna");
  CHECK(eropaf::shortId("") == "");
  // Ids of the same millisecond: their first eight digits (the timestamp) are equal, their
  // short forms differ (a 2^-32 chance that two random tails agree).
  const std::string one = eropaf::newUuidV7(kSomeMs);
  const std::string two = eropaf::newUuidV7(kSomeMs);
  CHECK(one.substr(0, 8) == two.substr(0, 8));
  CHECK(eropaf::shortId(one) != eropaf::shortId(two));
  CHECK(eropaf::shortId(one) == one.substr(24, 8));
}

TEST_CASE("isValidIdPrefix accepts 1..36 hex digits and dashes", "[unit][id]") {
  CHECK(eropaf::isValidIdPrefix("4"));
  CHECK(eropaf::isValidIdPrefix("4e8B"));
  CHECK(eropaf::isValidIdPrefix("0190f5c2-1a2b"));
  CHECK(eropaf::isValidIdPrefix("0190f5c2-1a2b-7c3d-8e4f-0123456789ab"));
  CHECK_FALSE(eropaf::isValidIdPrefix(""));
  CHECK_FALSE(eropaf::isValidIdPrefix("0190f5c2-1a2b-7c3d-8e4f-0123456789ab0"));
  CHECK_FALSE(eropaf::isValidIdPrefix("4e8g"));
  CHECK_FALSE(eropaf::isValidIdPrefix("4e%"));
  CHECK_FALSE(eropaf::isValidIdPrefix("4e_"));
  CHECK_FALSE(eropaf::isValidIdPrefix(" 4e"));
  CHECK_FALSE(eropaf::isValidIdPrefix(std::string("4e\0", 3)));
}
