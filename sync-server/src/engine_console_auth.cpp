// The console's login: accounts (set up with a one-time enrollment code), password + TOTP
// login, sessions, lockout and the per-address throttle. See engine.hpp "console login" and
// docs/console.md for the rules.
//
// Secrets: the password only as an Argon2id hash (crypto_pwhash_str, interactive limits), the
// TOTP secret sealed (XChaCha20-Poly1305 under meta "console_key", the worker id as associated
// data, so a sealed secret cannot be moved to another account), session tokens only as hashes.
// The expensive password check runs on the caller's thread; only the outcome (failure count,
// lock, last TOTP step, session row, access log) goes through the writer, which re-reads the
// account so two logins racing with the same TOTP code cannot both win.
#include <sodium.h>

#include <cctype>
#include <chrono>
#include <cstring>

#include "engine_impl.hpp"
#include "eropaf/id.hpp"
#include "totp.hpp"

namespace eropaf::server {
namespace {

constexpr std::size_t kTotpSecretBytes = 20;    // RFC 4226's recommended 160 bits
constexpr std::size_t kSessionTokenBytes = 32;  // base64url: 43 characters
constexpr std::size_t kMinPasswordChars = 12;
constexpr std::size_t kMaxPasswordBytes = 256;
constexpr std::int64_t kTouchEveryMs = 15'000;  // last-seen is written at most this often

Status badLogin() { return Status(ErrorCode::kUnauthenticated, "the login details are not right"); }

Status endedSession() {
  return Status(ErrorCode::kUnauthenticated, "no console session, or it has ended: log in again");
}

std::string secretHash(std::string_view text) {
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return out;
}

std::string base64url(const std::string& bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string randomBytes(std::size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), out.size());
  return out;
}

bool sameSecret(std::string_view a, std::string_view b) {
  // Hashes first, so neither length nor a common prefix shows in the timing.
  const std::string ha = secretHash(a);
  const std::string hb = secretHash(b);
  return sodium_memcmp(ha.data(), hb.data(), ha.size()) == 0;
}

bool isConsoleRole(Role r) { return r == Role::kCoordinator || r == Role::kAdmin; }

Status checkPassword(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) {
    return Status(ErrorCode::kInvalidArgument, "the password is longer than 256 bytes", "password");
  }
  std::size_t chars = 0;
  for (const char c : password) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;  // UTF-8 lead bytes
  }
  if (chars < kMinPasswordChars) {
    return Status(ErrorCode::kInvalidArgument, "the password must be at least 12 characters",
                  "password");
  }
  return {};
}

std::string normalizedCode(std::string_view raw) {
  std::string code;
  for (const char c : raw) {
    if (c == '-' || c == ' ') continue;
    code.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return code;
}

/// A hash to verify against when there is no account, so an unknown worker costs the same time.
const std::string& dummyPasswordHash() {
  static const std::string hash = [] {
    const std::string pw = base64url(randomBytes(16));
    std::string out(crypto_pwhash_STRBYTES, '\0');
    if (crypto_pwhash_str(out.data(), pw.data(), pw.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
      return std::string();
    }
    out.resize(std::strlen(out.c_str()));
    return out;
  }();
  return hash;
}

/// One of Impl::pwhash_slots, held for one password hash or verification.
class HashSlot {
 public:
  explicit HashSlot(std::counting_semaphore<2>& slots)
      : slots_(slots), held_(slots.try_acquire_for(std::chrono::seconds(2))) {}
  ~HashSlot() {
    if (held_) slots_.release();
  }
  HashSlot(const HashSlot&) = delete;
  HashSlot& operator=(const HashSlot&) = delete;
  bool held() const { return held_; }

 private:
  std::counting_semaphore<2>& slots_;
  bool held_;
};

Status busy() {
  return Status(ErrorCode::kUnavailable, "the server is busy with other logins; try again");
}

}  // namespace

bool ConsoleSession::csrfMatches(std::string_view presented) const {
  return !csrf_token.empty() && !presented.empty() && sameSecret(presented, csrf_token);
}

Status Engine::Impl::loadConsoleKey(StoreSession& s) {
  Result<std::optional<std::string>> key = s.meta("console_key");
  if (!key.ok()) return key.status();
  if (key->has_value() && (*key)->size() == crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    console_key = **key;
    return {};
  }
  console_key.assign(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, '\0');
  crypto_aead_xchacha20poly1305_ietf_keygen(reinterpret_cast<unsigned char*>(console_key.data()));
  return s.setMeta("console_key", console_key);
}

bool Engine::Impl::peerThrottled(const std::string& peer) {
  std::lock_guard lock(peer_mu);
  auto it = peer_failures.find(peer);
  if (it == peer_failures.end()) return false;
  const std::int64_t since = now() - opts.console_peer_window_ms;
  while (!it->second.empty() && it->second.front() <= since) it->second.pop_front();
  if (it->second.empty()) {
    peer_failures.erase(it);
    return false;
  }
  return it->second.size() >= opts.console_peer_failures;
}

void Engine::Impl::peerFailed(const std::string& peer) {
  std::lock_guard lock(peer_mu);
  auto& times = peer_failures[peer];
  times.push_back(now());
  // Bounded: only the window's count matters.
  while (times.size() > opts.console_peer_failures + 1) times.pop_front();
}

namespace {

/// The step (now-1, now or now+1) whose code is `presented`, all three compared.
std::optional<std::uint64_t> matchingStep(const std::string& secret, std::string_view presented,
                                          std::int64_t now_ms) {
  if (presented.size() != static_cast<std::size_t>(totp::kDigits)) return std::nullopt;
  const std::uint64_t now_step = totp::stepOf(now_ms);
  std::optional<std::uint64_t> found;
  for (std::uint64_t step = now_step == 0 ? 0 : now_step - 1; step <= now_step + 1; ++step) {
    if (sameSecret(totp::code(secret, step), presented) && !found) found = step;
  }
  return found;
}

}  // namespace

Result<ConsoleSetupResult> Engine::consoleSetup(std::string_view raw_code,
                                                std::string_view password, std::string_view peer) {
  Impl* impl = impl_.get();
  const std::string from(peer);
  const std::string code = normalizedCode(raw_code);
  if (code.empty() || code.size() > 64) {
    return Status(ErrorCode::kInvalidArgument, "the enrollment code is missing", "code");
  }
  EROPAF_RETURN_IF_ERROR(checkPassword(password));
  if (impl->peerThrottled(from)) {
    return Status(ErrorCode::kResourceExhausted,
                  "too many failed attempts from this address; try again later");
  }
  const Status bad_code(ErrorCode::kUnauthenticated,
                        "the enrollment code is unknown, used or expired", "code");
  const std::string code_hash = secretHash(code);
  {
    // Read-only first: a wrong code or a wrong role costs no write and consumes nothing.
    Result<Impl::Lease> lease = impl->borrow();
    if (!lease.ok()) return lease.status();
    Result<std::optional<std::string>> known = lease->s->findEnrollmentCode(code_hash, impl->now());
    if (!known.ok()) return known.status();
    if (!known->has_value()) {
      impl->peerFailed(from);
      return bad_code;
    }
    Result<std::optional<Worker>> worker = lease->s->worker(**known);
    if (!worker.ok()) return worker.status();
    if (!worker->has_value() || !(*worker)->active) return bad_code;
    if (!isConsoleRole((*worker)->role)) {
      return Status(ErrorCode::kPermissionDenied,
                    "the console is for coordinators and admins; this code is for a " +
                        std::string(toString((*worker)->role)) +
                        ": enroll a phone with it instead (the code was not used)",
                    "code");
    }
  }
  std::string hash(crypto_pwhash_STRBYTES, '\0');
  HashSlot slot(impl->pwhash_slots);
  if (!slot.held()) return busy();
  if (crypto_pwhash_str(hash.data(), password.data(), password.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status(ErrorCode::kResourceExhausted, "the server has no memory to hash the password");
  }
  hash.resize(std::strlen(hash.c_str()));
  const std::string secret = randomBytes(kTotpSecretBytes);

  struct Done {
    std::string worker_id;
    std::string old_device;
  };
  Result<Done> done = impl->runBlocking<Done>([impl, code_hash, hash, secret, bad_code,
                                               from](StoreSession& s) -> Result<Done> {
    const std::int64_t now = impl->now();
    Result<std::optional<std::string>> worker_id = s.useEnrollmentCode(code_hash, now);
    if (!worker_id.ok()) return worker_id.status();
    if (!worker_id->has_value()) return bad_code;
    Result<std::optional<Worker>> worker = s.worker(**worker_id);
    if (!worker.ok()) return worker.status();
    // Re-checked here (the role may have changed since the look-up): a refusal rolls the
    // job back, so the code stays unused.
    if (!worker->has_value() || !(*worker)->active) return bad_code;
    if (!isConsoleRole((*worker)->role)) {
      return Status(ErrorCode::kPermissionDenied, "the console is for coordinators and admins",
                    "code");
    }
    const Worker& w = **worker;
    Done out{w.id, {}};
    Result<std::optional<ConsoleAccount>> old = s.consoleAccount(w.id);
    if (!old.ok()) return old.status();
    if (old->has_value()) {
      // A new setup replaces the account: the old console device and its sessions end.
      EROPAF_RETURN_IF_ERROR(s.deleteConsoleSessions(w.id, ""));
      Result<std::optional<std::pair<DeviceInfo, std::string>>> dev = s.device((*old)->device_id);
      if (!dev.ok()) return dev.status();
      if (dev->has_value() && !(*dev)->first.revoked) {
        EROPAF_RETURN_IF_ERROR(s.revokeDevice((*old)->device_id));
        EROPAF_RETURN_IF_ERROR(
            s.appendAccess({now, "revoke", "", "", "", "", (*old)->device_id, "", from}));
        EROPAF_RETURN_IF_ERROR(impl->bumpAdminVersion(s));
        out.old_device = (*old)->device_id;
      }
    }
    // The console's device row: no bearer token is ever handed out for it (its token hash
    // is of a secret nobody keeps); it exists so revocation ends the console's sessions.
    DeviceInfo d{newUuidV7(now), w.id, "console", false, now, now};
    EROPAF_RETURN_IF_ERROR(s.addDevice(d, secretHash(randomBytes(32))));
    ConsoleAccount a;
    a.worker_id = w.id;
    a.device_id = d.id;
    a.password_hash = hash;
    a.totp_sealed = aeadSeal(impl->console_key, w.id, secret);
    a.created_ms = now;
    EROPAF_RETURN_IF_ERROR(s.putConsoleAccount(a));
    EROPAF_RETURN_IF_ERROR(s.appendAccess(
        {now, "console:setup", "", "", w.id, "", d.id, std::string(toString(w.role)), from}));
    return out;
  });
  if (!done.ok()) return done.status();
  if (!done->old_device.empty()) impl->wakeWho(done->old_device, {});
  ConsoleSetupResult r;
  r.worker_id = done->worker_id;
  r.totp_secret_base32 = totp::base32(secret);
  r.otpauth_uri = "otpauth://totp/eropaf:" + r.worker_id + "?secret=" + r.totp_secret_base32 +
                  "&issuer=eropaf&algorithm=SHA1&digits=6&period=30";
  return r;
}

Result<ConsoleLoginResult> Engine::consoleLogin(std::string_view worker_id,
                                                std::string_view password, std::string_view totp,
                                                std::string_view peer) {
  Impl* impl = impl_.get();
  const std::string from(peer);
  if (impl->peerThrottled(from)) {
    return Status(ErrorCode::kResourceExhausted,
                  "too many failed logins from this address; try again later");
  }
  // A well-formed id is looked up; anything else is answered the same way, after the same work.
  const std::string id = isValidWorkerId(worker_id) ? std::string(worker_id) : std::string();
  std::optional<ConsoleAccount> account;
  if (!id.empty()) {
    Result<Impl::Lease> lease = impl->borrow();
    if (!lease.ok()) return lease.status();
    Result<std::optional<ConsoleAccount>> a = lease->s->consoleAccount(id);
    if (!a.ok()) return a.status();
    account = std::move(*a);
  }
  const std::string& stored = account ? account->password_hash : dummyPasswordHash();
  HashSlot slot(impl->pwhash_slots);
  if (!slot.held()) return busy();
  const bool password_ok =
      password.size() <= kMaxPasswordBytes &&
      crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0 &&
      account.has_value();
  std::optional<std::uint64_t> step;
  if (account) {
    const std::optional<std::string> secret =
        aeadOpen(impl->console_key, account->worker_id, account->totp_sealed);
    if (!secret) {
      return Status(ErrorCode::kStorageCorrupt,
                    "the TOTP secret of console account " + id + " does not open");
    }
    // Apps show "123 456": spaces are not part of the code.
    std::string digits;
    for (const char ch : totp.substr(0, 32)) {
      if (ch != ' ') digits.push_back(ch);
    }
    step = matchingStep(*secret, digits, impl->now());
  }

  struct Outcome {
    Status refusal;
    ConsoleLoginResult login;
  };
  const std::uint32_t max_failures = std::max<std::uint32_t>(1, impl->opts.console_max_failures);
  Result<Outcome> outcome = impl->runBlocking<Outcome>([impl, id, password_ok, step, max_failures,
                                                        from](StoreSession& s) -> Result<Outcome> {
    const std::int64_t now = impl->now();
    Outcome out;
    auto failed = [&](const std::string& action) -> Result<Outcome> {
      out.refusal = badLogin();
      EROPAF_RETURN_IF_ERROR(s.appendAccess({now, action, "", "", id, "", "", "", from}));
      return out;
    };
    Result<std::optional<ConsoleAccount>> cur = s.consoleAccount(id);
    if (!cur.ok()) return cur.status();
    if (id.empty() || !cur->has_value()) return failed("console:login-failed");
    ConsoleAccount a = **cur;
    Result<std::optional<Worker>> worker = s.worker(a.worker_id);
    if (!worker.ok()) return worker.status();
    Result<std::optional<std::pair<DeviceInfo, std::string>>> dev = s.device(a.device_id);
    if (!dev.ok()) return dev.status();
    // The step is re-judged against the stored last step here, in the writer: of two
    // logins racing with one code, only the first wins.
    const bool factors_ok = password_ok && step.has_value() && *step > a.last_step;
    const bool usable = worker->has_value() && (*worker)->active &&
                        isConsoleRole((*worker)->role) && dev->has_value() &&
                        !(*dev)->first.revoked;
    if (a.locked) {
      if (!factors_ok) return failed("console:login-failed");
      // Only someone with both factors learns of the lock; the code is used up.
      a.last_step = *step;
      EROPAF_RETURN_IF_ERROR(s.putConsoleAccount(a));
      EROPAF_RETURN_IF_ERROR(s.appendAccess(
          {now, "console:login-locked", "", "", a.worker_id, "", a.device_id, "", from}));
      out.refusal = Status(ErrorCode::kPermissionDenied,
                           "this console account is locked after too many failed logins; "
                           "ask an admin to unlock it");
      return out;
    }
    if (!factors_ok || !usable) {
      a.failures += 1;
      if (a.failures >= max_failures) a.locked = true;
      EROPAF_RETURN_IF_ERROR(s.putConsoleAccount(a));
      if (a.locked) {
        EROPAF_RETURN_IF_ERROR(s.appendAccess(
            {now, "console:lockout", "", "", a.worker_id, "", a.device_id, "", from}));
      }
      return failed("console:login-failed");
    }
    a.failures = 0;
    a.last_step = *step;
    EROPAF_RETURN_IF_ERROR(s.putConsoleAccount(a));
    const std::string token = base64url(randomBytes(kSessionTokenBytes));
    ConsoleSessionRow row{a.worker_id, a.device_id, base64url(randomBytes(32)), now, now};
    EROPAF_RETURN_IF_ERROR(s.addConsoleSession(secretHash(token), row));
    EROPAF_RETURN_IF_ERROR(
        s.appendAccess({now, "console:login", "", "", a.worker_id, "", a.device_id, "", from}));
    const DeviceInfo& d = (*dev)->first;
    out.login.session_token = token;
    out.login.session = ConsoleSession{
        Principal{d.id, **worker, d.served_seq, d.served_hlc, d.first_served_seq}, (*worker)->role,
        row.csrf_token, now + impl->opts.console_idle_ms, now + impl->opts.console_absolute_ms};
    return out;
  });
  if (!outcome.ok()) return outcome.status();
  if (!outcome->refusal.ok()) {
    if (outcome->refusal.code() == ErrorCode::kUnauthenticated) impl->peerFailed(from);
    return outcome->refusal;
  }
  return std::move(outcome->login);
}

Result<ConsoleSession> Engine::consoleAuthenticate(std::string_view token,
                                                   std::string_view /*peer*/) {
  Impl* impl = impl_.get();
  if (token.empty() || token.size() > 128) return endedSession();
  const std::string token_hash = secretHash(token);
  const std::int64_t now = impl->now();
  ConsoleSessionRow row;
  ConsoleSession out;
  {
    Result<Impl::Lease> lease = impl->borrow();
    if (!lease.ok()) return lease.status();
    Result<std::optional<ConsoleSessionRow>> found = lease->s->consoleSession(token_hash);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return endedSession();
    row = **found;
    Result<std::optional<std::pair<DeviceInfo, std::string>>> dev = lease->s->device(row.device_id);
    if (!dev.ok()) return dev.status();
    Result<std::optional<Worker>> worker = lease->s->worker(row.worker_id);
    if (!worker.ok()) return worker.status();
    const bool expired = now - row.last_seen_ms > impl->opts.console_idle_ms ||
                         now - row.created_ms > impl->opts.console_absolute_ms;
    const bool usable = dev->has_value() && !(*dev)->first.revoked && worker->has_value() &&
                        (*worker)->active && isConsoleRole((*worker)->role);
    if (expired || !usable) {
      // Ended for good: the row goes, so a later clock or a re-activation cannot revive it.
      static_cast<void>(impl->runBlocking<bool>([token_hash](StoreSession& s) -> Result<bool> {
        EROPAF_RETURN_IF_ERROR(s.deleteConsoleSession(token_hash));
        return true;
      }));
      return endedSession();
    }
    const DeviceInfo& d = (*dev)->first;
    out.principal = Principal{d.id, **worker, d.served_seq, d.served_hlc, d.first_served_seq};
    out.role = (*worker)->role;
    out.csrf_token = row.csrf_token;
  }
  std::int64_t seen = row.last_seen_ms;
  if (now - row.last_seen_ms >= kTouchEveryMs) {
    Result<bool> touched = impl->runBlocking<bool>(
        [token_hash, now, device = row.device_id](StoreSession& s) -> Result<bool> {
          EROPAF_RETURN_IF_ERROR(s.touchConsoleSession(token_hash, now));
          EROPAF_RETURN_IF_ERROR(s.touchDevice(device, now));
          return true;
        });
    if (!touched.ok()) return touched.status();
    seen = now;
  }
  out.idle_expires_ms = seen + impl->opts.console_idle_ms;
  out.absolute_expires_ms = row.created_ms + impl->opts.console_absolute_ms;
  return out;
}

Status Engine::consoleLogout(std::string_view token) {
  if (token.empty() || token.size() > 128) return {};
  Impl* impl = impl_.get();
  const std::string token_hash = secretHash(token);
  return impl
      ->runBlocking<bool>([impl, token_hash](StoreSession& s) -> Result<bool> {
        Result<std::optional<ConsoleSessionRow>> row = s.consoleSession(token_hash);
        if (!row.ok()) return row.status();
        if (!row->has_value()) return true;
        EROPAF_RETURN_IF_ERROR(s.deleteConsoleSession(token_hash));
        EROPAF_RETURN_IF_ERROR(s.appendAccess({impl->now(), "console:logout", "", "",
                                               (*row)->worker_id, "", (*row)->device_id, "", ""}));
        return true;
      })
      .status();
}

Status Engine::unlockConsole(std::string_view worker_id) {
  Impl* impl = impl_.get();
  const std::string id(worker_id);
  return impl
      ->runBlocking<bool>([impl, id](StoreSession& s) -> Result<bool> {
        Result<std::optional<ConsoleAccount>> a = s.consoleAccount(id);
        if (!a.ok()) return a.status();
        if (!a->has_value()) {
          return Status(ErrorCode::kNotFound, "no console account for worker " + id, "worker_id");
        }
        ConsoleAccount changed = **a;
        changed.locked = false;
        changed.failures = 0;
        EROPAF_RETURN_IF_ERROR(s.putConsoleAccount(changed));
        EROPAF_RETURN_IF_ERROR(s.appendAccess(
            {impl->now(), "console:unlock", "", "", "", id, changed.device_id, "", ""}));
        return true;
      })
      .status();
}

}  // namespace eropaf::server
