// Record ids: UUIDv7 made on the device (time-ordered, so SQLite appends instead of scattering
// writes), and the syntax checks applied to ids that arrive from outside.
// Thread-safety: every function may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace eropaf {

/// A new UUIDv7 in canonical lower-case text form, with `unix_ms` as its timestamp and 74
/// random bits from libsodium. Two calls never return the same id.
std::string newUuidV7(std::int64_t unix_ms);

/// True for a canonical lower-case UUID text (8-4-4-4-12 hex digits), any version.
bool isValidUuid(std::string_view text) noexcept;

/// The timestamp of a UUIDv7, or -1 when `id` is not a valid UUIDv7.
std::int64_t uuidV7Millis(std::string_view id) noexcept;

/// True for a worker id: 1..64 characters of [a-z0-9._-], starting with a letter or digit.
bool isValidWorkerId(std::string_view text) noexcept;

/// True for a CBS wijk code: "WK" followed by six digits.
bool isValidWijkCode(std::string_view text) noexcept;

/// Hex digits in the short form of an id (shortId()).
inline constexpr std::size_t kShortIdLength = 8;

/// Where the short form starts in a canonical UUID: the first digit of its last group.
inline constexpr std::size_t kShortIdOffset = 24;

/// The short form people read and type: the first kShortIdLength hex digits of the id's last
/// group (`0190c3a2-7b1e-7c4d-9f2a-4e8b1c0d2f6a` → `4e8b1c0d`). In a UUIDv7 those are random
/// bits, so records made in the same second differ there, while the first eight digits (the
/// timestamp's top 32 bits) are the same for every record made within about a minute. 32 bits:
/// a device holding 10,000 records of one kind has about a 1% chance that any two share a short
/// form, and a prefix resolver (Store::matchIds) lists both when they do. Text that is not a
/// canonical UUID is returned unchanged.
std::string shortId(std::string_view id);

/// True for text that can start an id or its short form: 1..36 characters of hex digits
/// (either case; ids themselves are lower case) and '-'.
bool isValidIdPrefix(std::string_view text) noexcept;

}  // namespace eropaf
