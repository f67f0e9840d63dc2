// Record ids: UUIDv7 made on the device (time-ordered, so SQLite appends instead of scattering
// writes), and the syntax checks applied to ids that arrive from outside.
// Thread-safety: every function may be called from any thread.
#pragma once

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

}  // namespace eropaf
