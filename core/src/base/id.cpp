// UUIDv7 generation (RFC 9562) and id syntax checks.
#include "eropaf/id.hpp"

#include <sodium.h>

#include <array>
#include <cstdlib>

namespace eropaf {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool isLowerHex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int hexValue(char c) noexcept { return c <= '9' ? c - '0' : c - 'a' + 10; }

}  // namespace

std::string newUuidV7(std::int64_t unix_ms) {
  // sodium_init is idempotent and thread-safe; randombytes_buf works without it on Linux, but
  // the documented contract asks for it.
  if (sodium_init() < 0) {
    // Without a working RNG no id is safe to make; this cannot happen on supported platforms.
    std::abort();
  }
  std::array<std::uint8_t, 16> b{};
  randombytes_buf(b.data(), b.size());
  const auto ms = static_cast<std::uint64_t>(unix_ms < 0 ? 0 : unix_ms);
  for (int i = 0; i < 6; ++i) {
    b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  }
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0F));  // version 7
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));  // variant 10
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0F]);
  }
  return out;
}

bool isValidUuid(std::string_view text) noexcept {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (!isLowerHex(text[i])) {
      return false;
    }
  }
  return true;
}

std::int64_t uuidV7Millis(std::string_view id) noexcept {
  if (!isValidUuid(id) || id[14] != '7') return -1;
  const char v = id[19];
  if (v != '8' && v != '9' && v != 'a' && v != 'b') return -1;
  std::int64_t ms = 0;
  for (std::size_t i = 0; i < 13; ++i) {
    if (i == 8) continue;
    ms = (ms << 4) | hexValue(id[i]);
  }
  return ms;
}

bool isValidWorkerId(std::string_view text) noexcept {
  if (text.empty() || text.size() > 64) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (i == 0 && !alnum) return false;
    if (!alnum && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool isValidWijkCode(std::string_view text) noexcept {
  if (text.size() != 8 || text[0] != 'W' || text[1] != 'K') return false;
  for (std::size_t i = 2; i < 8; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

std::string shortId(std::string_view id) {
  if (!isValidUuid(id)) return std::string(id);
  return std::string(id.substr(kShortIdOffset, kShortIdLength));
}

bool isValidIdPrefix(std::string_view text) noexcept {
  if (text.empty() || text.size() > 36) return false;
  for (const char c : text) {
    if (!isLowerHex(c) && !(c >= 'A' && c <= 'F') && c != '-') return false;
  }
  return true;
}

}  // namespace eropaf
