// Encryption at rest for the device store: XChaCha20-Poly1305 (IETF) per record body, with the
// record id as associated data so a body cannot be moved to another row unnoticed; keyed
// BLAKE2b for household lookups. Both keys derive from the host app's master key with the
// libsodium KDF, so the master key itself never encrypts anything.
// Thread-safety: const methods may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "eropaf/status.hpp"
#include "eropaf/store.hpp"

namespace eropaf::store::detail {

class Cipher {
 public:
  explicit Cipher(const Key& master);
  ~Cipher();
  Cipher(const Cipher&) = delete;
  Cipher& operator=(const Cipher&) = delete;

  /// nonce (24 bytes) || ciphertext || tag (16 bytes).
  std::string seal(std::string_view plaintext, std::string_view associated) const;
  /// kCrypto when the bytes were not sealed with this key and associated data.
  Result<std::string> open(std::string_view sealed, std::string_view associated) const;
  /// 16-byte keyed hash, for index columns that must not reveal what they index.
  std::string keyedHash(std::string_view text) const;

 private:
  std::array<std::uint8_t, 32> enc_key_{};
  std::array<std::uint8_t, 32> hash_key_{};
};

}  // namespace eropaf::store::detail
