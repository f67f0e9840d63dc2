// TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA1, the variant every authenticator app
// reads from an otpauth:// URI, and the base32 (RFC 4648) those URIs carry. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace eropaf::server::totp {

constexpr std::int64_t kStepMs = 30'000;  ///< RFC 6238's default time step X
constexpr int kDigits = 6;

/// The time step of a moment (T = floor(unix time / X), T0 = 0); 0 before 1970.
std::uint64_t stepOf(std::int64_t unix_ms);

/// The HOTP value of `secret` at counter `step`, `digits` (6..8) decimal digits with leading
/// zeros.
std::string code(std::string_view secret, std::uint64_t step, int digits = kDigits);

/// RFC 4648 base32, upper case, without padding.
std::string base32(std::string_view bytes);

}  // namespace eropaf::server::totp
