// Record encryption and keyed hashing with libsodium.
#include "store/crypto.hpp"

#include <sodium.h>

#include <cstdlib>

namespace eropaf::store::detail {
namespace {
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES] = {'e', 'r', 'o', 'p', 'a', 'f', 'd', 'b'};
constexpr std::uint64_t kEncSubkey = 1;
constexpr std::uint64_t kHashSubkey = 2;
constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
}  // namespace

Cipher::Cipher(const Key& master) {
  if (sodium_init() < 0) std::abort();  // no safe way to go on without the RNG
  crypto_kdf_derive_from_key(enc_key_.data(), enc_key_.size(), kEncSubkey, kKdfContext,
                             master.data());
  crypto_kdf_derive_from_key(hash_key_.data(), hash_key_.size(), kHashSubkey, kKdfContext,
                             master.data());
}

Cipher::~Cipher() {
  sodium_memzero(enc_key_.data(), enc_key_.size());
  sodium_memzero(hash_key_.data(), hash_key_.size());
}

std::string Cipher::seal(std::string_view plaintext, std::string_view associated) const {
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(p, kNonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      p + kNonce, &written, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(associated.data()),
      associated.size(), nullptr, p, enc_key_.data());
  out.resize(kNonce + written);
  return out;
}

Result<std::string> Cipher::open(std::string_view sealed, std::string_view associated) const {
  if (sealed.size() < kNonce + kTag) {
    return Status(ErrorCode::kCrypto, "encrypted data is too short to be a sealed record");
  }
  std::string out(sealed.size() - kNonce - kTag, '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &written, nullptr, p + kNonce,
          sealed.size() - kNonce, reinterpret_cast<const unsigned char*>(associated.data()),
          associated.size(), p, enc_key_.data()) != 0) {
    return Status(ErrorCode::kCrypto,
                  "encrypted data does not open with this key (wrong key or tampered data)");
  }
  out.resize(written);
  return out;
}

std::string Cipher::keyedHash(std::string_view text) const {
  std::string out(16, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                     hash_key_.data(), hash_key_.size());
  return out;
}

}  // namespace eropaf::store::detail
