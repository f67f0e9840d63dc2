// The sync engine: authorisation, merge and scope on the server side.
//
// Push: every change is decoded, validated, checked against the clock-skew bound, authorised
// for the principal (role, wijk, field, transition) and merged with core's merge function. All
// pushes queued while a commit runs are applied in the next transaction (group commit), each
// under its own savepoint, and answered only after COMMIT. Per-change results are remembered
// by change id, so a retried push is answered the same way and never applies twice.
//
// Transitions: checked against the shared state table for the actor's role, then against the
// server's current state. Legal from there: applied. Not legal: the transition is kept with
// outcome "conflict" and the case goes on the coordinator's conflict list. The case's state is
// re-stamped with a server version either way, so a device's optimistic state never wins.
//
// Pull: a page of records changed since the cursor, each shown as the principal may see it
// (scope.hpp). Scope changes since the cursor turn into whole records with children (entered)
// or evictions (left). Nothing about a record outside the principal's scope is sent.
#include "engine.hpp"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "eropaf/id.hpp"
#include "eropaf/merge.hpp"
#include "eropaf/permissions.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "scope.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

using permissions::Hold;
using permissions::Origin;

constexpr std::size_t kMaxChangesPerPush = 5000;
constexpr std::uint32_t kDefaultPage = 500;
/// A change whose versions are this far below what its device was already served is refused.
constexpr std::int64_t kStaleVersionMarginMs = 30LL * 24 * 3600 * 1000;

std::string hashHex(std::string_view text) {
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                     nullptr, 0);
  char hex[2 * sizeof h + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string(hex, 2 * sizeof h);
}

std::string secretHash(std::string_view text) {
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return out;
}

bool inWijk(const Worker& w, std::string_view wijk) {
  return std::find(w.wijken.begin(), w.wijken.end(), wijk) != w.wijken.end();
}

/// The answer to one change: ok (accepted) or the refusal. Kept apart from Status so a
/// refusal can never be mistaken for a storage failure, which aborts the whole push.
struct Verdict {
  Status status;
  bool wrote = false;  ///< accepted and stored (an accepted no-op stores and logs nothing)
};

Verdict refuse(ErrorCode code, std::string message, std::string field = {}) {
  return {Status(code, std::move(message), std::move(field))};
}

// The scope fingerprint a cursor carries: a change of role or wijken invalidates cursors.
std::string scopeFingerprint(const Worker& w) {
  std::vector<std::string> wijken = w.wijken;
  std::sort(wijken.begin(), wijken.end());
  std::string s =
      w.id + "|" + std::to_string(static_cast<int>(w.role)) + "|" + (w.active ? "1" : "0");
  for (const auto& x : wijken) s += "|" + x;
  return hashHex(s).substr(0, 12);
}

struct Cursor {
  std::uint64_t seq = 0;
  std::string scope;
  std::uint64_t ref = 0;
  /// The device holds everything up to `seq`: it finished a pull (a page without `more`) and
  /// has not dropped its records since (a reset or a first pull clears it until it finishes).
  /// Only then may its own pushes be left out of its pages (StoredRecord::echo_device).
  bool complete = false;
  bool valid = false;
};

// The cursor's plain form "<seq>.<scope>.<reference version>.<complete 0|1>"; on the wire it is
// sealed (see Impl::sealCursor), so a device can neither read nor choose it. A cursor sealed
// before the last part existed reads as not complete.
Cursor parseCursorText(std::string_view text) {
  Cursor c;
  const auto p1 = text.find('.');
  const auto p2 = p1 == std::string_view::npos ? p1 : text.find('.', p1 + 1);
  if (p2 == std::string_view::npos) return c;
  const auto p3 = text.find('.', p2 + 1);
  try {
    c.seq = std::stoull(std::string(text.substr(0, p1)));
    c.scope = std::string(text.substr(p1 + 1, p2 - p1 - 1));
    c.ref = std::stoull(std::string(text.substr(p2 + 1, p3 - p2 - 1)));
  } catch (...) {
    return Cursor{};
  }
  c.complete = p3 != std::string_view::npos && text.substr(p3 + 1) == "1";
  c.valid = true;
  return c;
}

std::string cursorText(std::uint64_t seq, const std::string& scope, std::uint64_t ref,
                       bool complete) {
  return std::to_string(seq) + "." + scope + "." + std::to_string(ref) + "." +
         (complete ? "1" : "0");
}

std::string plainHouseholdOf(const Record& r) {
  if (const auto* s = std::get_if<Signal>(&r)) return s->content.household_key;
  if (const auto* c = std::get_if<Case>(&r)) return c->household_key.value;
  return {};
}

}  // namespace

struct Engine::Impl {
  struct Job {
    std::function<Status(StoreSession&)> apply;
    std::function<void(Status)> finish;
  };
  struct Waiter {
    std::uint64_t seq;
    std::string device_id;
    std::string worker_id;
    std::vector<std::string> audiences;  ///< sorted: scope.hpp's audiencesOf(worker)
    std::function<void(bool)> fn;
  };

  EngineOptions opts;
  std::unique_ptr<ServerStore> store;
  std::uint64_t node = 0;

  std::mutex hlc_mu;
  Hlc hlc;

  std::mutex pool_mu;
  std::vector<std::unique_ptr<StoreSession>> pool;

  std::unique_ptr<StoreSession> writer_session;
  std::thread writer;

  // Admin commands may run in another process on the same database (`eropaf-server admin`):
  // the watcher sees their commits (reference_version, admin_version in meta) and applies them
  // here: caches follow, waiting long polls re-authenticate.
  std::unique_ptr<StoreSession> watch_session;
  std::thread watcher;
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool watch_stop = false;  // GUARDED_BY(watch_mu)
  std::uint64_t admin_version = 0;
  std::mutex q_mu;
  std::condition_variable q_cv;
  std::deque<Job> queue;
  std::atomic<bool> stopping{false};  // written under q_mu; read under q_mu or w_mu

  std::mutex w_mu;
  std::map<std::uint64_t, Waiter> waiters;
  std::uint64_t next_ticket = 0;
  std::atomic<std::uint64_t> last_seq{0};
  std::atomic<std::uint64_t> ref_version{0};

  // The audiences the writer's current job and batch touched (writer thread only): a commit
  // wakes only the long polls of those audiences, so waiting devices cost nothing while
  // others' wijken are busy.
  std::set<std::string> job_touched;
  std::set<std::string> batch_touched;

  // Categories change only through admin commands (reference_version); the writer caches them
  // instead of reading them for every change.
  std::vector<Category> categories_cache;
  std::uint64_t categories_version = ~std::uint64_t{0};

  Result<const std::vector<Category>*> knownCategories(StoreSession& s) {
    if (categories_version != ref_version.load()) {
      Result<std::vector<Category>> cats = s.categories();
      if (!cats.ok()) return cats.status();
      categories_cache = std::move(cats).value();
      categories_version = ref_version.load();
    }
    return &categories_cache;
  }

  std::atomic<std::uint64_t> c_pushes{0}, c_applied{0}, c_refused{0}, c_commits{0}, c_pulls{0},
      c_sent{0};

  explicit Impl(EngineOptions o) : opts(std::move(o)), hlc(*opts.clock, 0, opts.max_skew_ms) {}

  std::int64_t now() { return opts.clock->nowMs(); }

  // Cursors are opaque: "c2." + base64url(nonce | XChaCha20-Poly1305(plain cursor)) under a
  // key of this server (meta "cursor_key"). One that does not open is answered as a reset.
  std::string cursor_key;  // 32 bytes, made on first open

  std::string sealCursor(std::uint64_t seq, const std::string& scope, std::uint64_t ref,
                         bool complete) const {
    const std::string plain = cursorText(seq, scope, ref, complete);
    std::string box(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plain.size() +
                        crypto_aead_xchacha20poly1305_ietf_ABYTES,
                    '\0');
    auto* out = reinterpret_cast<unsigned char*>(box.data());
    randombytes_buf(out, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &len,
        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), nullptr, 0, nullptr,
        out, reinterpret_cast<const unsigned char*>(cursor_key.data()));
    std::string b64(sodium_base64_ENCODED_LEN(box.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                    '\0');
    sodium_bin2base64(b64.data(), b64.size(), out, box.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    b64.resize(std::strlen(b64.c_str()));
    return "c2." + b64;
  }

  Cursor openCursor(std::string_view text) const {
    if (text.substr(0, 3) != "c2." || text.size() > 512) return {};
    text.remove_prefix(3);
    std::string box(text.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), text.data(),
                          text.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                  crypto_aead_xchacha20poly1305_ietf_ABYTES) {
      return {};
    }
    const auto* in = reinterpret_cast<const unsigned char*>(box.data());
    std::string plain(len, '\0');
    unsigned long long plain_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(plain.data()), &plain_len, nullptr,
            in + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, nullptr, 0, in,
            reinterpret_cast<const unsigned char*>(cursor_key.data())) != 0) {
      return {};
    }
    plain.resize(static_cast<std::size_t>(plain_len));
    return parseCursorText(plain);
  }

  // The access log names a household by a keyed hash of its key (an address), never the key
  // itself: "who saw this household" is answered by hashing the asked-for address the same way.
  std::string household_salt;  // 32 random bytes, meta "household_salt", made on first open

  std::string householdOf(const Record& r) const {
    const std::string key = plainHouseholdOf(r);
    if (key.empty()) return {};
    unsigned char h[16];
    crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                       reinterpret_cast<const unsigned char*>(household_salt.data()),
                       household_salt.size());
    char hex[2 * sizeof h + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    return "h:" + std::string(hex, 2 * sizeof h);
  }

  Version serverVersion() {
    std::lock_guard lock(hlc_mu);
    return {hlc.tick(), node};
  }

  // --- read sessions ---------------------------------------------------------------------

  struct Lease {
    Impl* impl;
    std::unique_ptr<StoreSession> s;
    Lease(Impl* i, std::unique_ptr<StoreSession> session) : impl(i), s(std::move(session)) {}
    Lease(Lease&& o) noexcept : impl(o.impl), s(std::move(o.s)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (s) {
        std::lock_guard lock(impl->pool_mu);
        impl->pool.push_back(std::move(s));
      }
    }
  };

  Result<Lease> borrow() {
    {
      std::lock_guard lock(pool_mu);
      if (!pool.empty()) {
        Lease l(this, std::move(pool.back()));
        pool.pop_back();
        return l;
      }
    }
    Result<std::unique_ptr<StoreSession>> s = store->openSession();
    if (!s.ok()) return s.status();
    return Lease(this, std::move(s).value());
  }

  // --- writer ----------------------------------------------------------------------------

  bool enqueue(Job job) {
    {
      std::lock_guard lock(q_mu);
      if (stopping) return false;
      queue.push_back(std::move(job));
    }
    q_cv.notify_one();
    return true;
  }

  /// Runs `fn` on the writer inside a transaction and waits for COMMIT.
  template <class T>
  Result<T> runBlocking(std::function<Result<T>(StoreSession&)> fn) {
    auto result = std::make_shared<std::optional<Result<T>>>();
    std::promise<void> done;
    auto fut = done.get_future();
    const bool queued = enqueue(Job{[fn, result](StoreSession& s) -> Status {
                                      *result = fn(s);
                                      return (*result)->ok() ? Status() : (*result)->status();
                                    },
                                    [&done, result](Status st) {
                                      if (!st.ok() && (!result->has_value() || (*result)->ok()))
                                        *result = Result<T>(st);
                                      done.set_value();
                                    }});
    if (!queued) return Status(ErrorCode::kUnavailable, "the server is stopping");
    fut.wait();
    return std::move(**result);
  }

  void writerLoop() {
    for (;;) {
      std::vector<Job> jobs;
      {
        std::unique_lock lock(q_mu);
        q_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty() && stopping) break;
        while (!queue.empty() && jobs.size() < opts.max_group) {
          jobs.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      std::vector<Status> results(jobs.size());
      StoreSession& s = *writer_session;
      batch_touched.clear();
      Status st = s.begin(true);
      if (st.ok()) {
        for (std::size_t i = 0; i < jobs.size() && st.ok(); ++i) {
          st = s.savepoint();
          if (!st.ok()) break;
          job_touched.clear();
          results[i] = jobs[i].apply(s);
          st = results[i].ok() ? s.releaseSavepoint() : s.rollbackToSavepoint();
          if (results[i].ok()) batch_touched.merge(job_touched);
        }
        if (st.ok()) {
          std::uint64_t h;
          {
            std::lock_guard lock(hlc_mu);
            h = hlc.last();
          }
          st = s.setMeta("hlc", std::string_view(reinterpret_cast<const char*>(&h), sizeof h));
        }
        if (st.ok()) st = s.commit();
      }
      if (!st.ok()) {
        s.rollback();
        for (auto& r : results) r = st;
      } else {
        ++c_commits;
        Result<std::uint64_t> last = s.lastSeq();
        if (last.ok()) publishSeq(*last, batch_touched);
      }
      for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].finish(results[i]);
    }
  }

  /// Wakes (with true) the waiters of one device or one worker at once: revocation and worker
  /// changes take effect on long polls already waiting.
  void wakeWho(std::string_view device_id, std::string_view worker_id) {
    std::vector<std::function<void(bool)>> wake;
    {
      std::lock_guard lock(w_mu);
      for (auto it = waiters.begin(); it != waiters.end();) {
        if ((!device_id.empty() && it->second.device_id == device_id) ||
            (!worker_id.empty() && it->second.worker_id == worker_id)) {
          wake.push_back(std::move(it->second.fn));
          it = waiters.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& fn : wake) fn(true);
  }

  Result<std::uint64_t> metaNumber(StoreSession& s, std::string_view key) {
    Result<std::optional<std::string>> v = s.meta(key);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return std::uint64_t{0};
    try {
      return static_cast<std::uint64_t>(std::stoull(**v));
    } catch (const std::exception&) {
      return Status(ErrorCode::kStorageCorrupt, "meta " + std::string(key) + " is not a number");
    }
  }

  void watchLoop() {
    std::unique_lock lock(watch_mu);
    while (!watch_cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return watch_stop; })) {
      lock.unlock();
      StoreSession& s = *watch_session;
      Result<std::uint64_t> ref = Status();
      Result<std::uint64_t> adm = Status();
      if (s.begin(false).ok()) {
        ref = metaNumber(s, "reference_version");
        adm = metaNumber(s, "admin_version");
        s.rollback();
      }
      bool wake = false;
      if (ref.ok() && *ref > ref_version.load()) {
        ref_version = *ref;
        wake = true;
      }
      if (adm.ok() && *adm != admin_version) {
        admin_version = *adm;
        wake = true;
      }
      if (wake) wakeAll();
      lock.lock();
    }
  }

  /// Bumps admin_version (in the caller's write transaction): other processes' watchers wake.
  Status bumpAdminVersion(StoreSession& s) {
    Result<std::uint64_t> v = metaNumber(s, "admin_version");
    if (!v.ok()) return v.status();
    return s.setMeta("admin_version", std::to_string(*v + 1));
  }

  void wakeAll() {
    std::vector<std::function<void(bool)>> wake;
    {
      std::lock_guard lock(w_mu);
      for (auto& [ticket, waiter] : waiters) wake.push_back(std::move(waiter.fn));
      waiters.clear();
    }
    for (auto& fn : wake) fn(true);
  }

  /// Publishes the last committed sequence and wakes the waiters behind it whose audiences the
  /// commit touched (the others keep waiting: their next page would be empty anyway).
  void publishSeq(std::uint64_t seq, const std::set<std::string>& touched) {
    std::vector<std::function<void(bool)>> wake;
    {
      std::lock_guard lock(w_mu);
      last_seq.store(seq);
      for (auto it = waiters.begin(); it != waiters.end();) {
        const auto& aud = it->second.audiences;
        const bool concerned = std::any_of(aud.begin(), aud.end(),
                                           [&](const std::string& a) { return touched.count(a); });
        if (it->second.seq < seq && concerned) {
          wake.push_back(std::move(it->second.fn));
          it = waiters.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& fn : wake) fn(true);
  }

  // --- push ------------------------------------------------------------------------------

  /// Stores `r` with the next sequence number and logs its scope changes. `echo_device`: the
  /// device whose push `r` is exactly (see StoredRecord::echo_device), else empty.
  Status put(StoreSession& s, const Record& r, const Record* before, const Case* parent,
             std::string_view echo_device = {}) {
    RecordIndex index = indexOf(r, parent);
    index.echo_device = echo_device;
    Result<std::uint64_t> seq = s.putRecord(r, index);
    if (!seq.ok()) return seq.status();
    if (!std::holds_alternative<Case>(r) && !std::holds_alternative<Signal>(r)) {
      // A contact moment or transition is seen by whoever sees its case whole.
      if (parent != nullptr) {
        for (auto& a : audiencesOf(Record(*parent), nullptr)) job_touched.insert(std::move(a));
      }
      return {};
    }
    const Case* linked_before = nullptr;
    std::optional<Case> lb;
    if (before != nullptr) {
      if (const auto* sig = std::get_if<Signal>(before); sig && !sig->case_id.value.empty()) {
        Result<std::optional<StoredRecord>> c = s.getRecord(sig->case_id.value);
        if (c.ok() && c->has_value() && std::holds_alternative<Case>((*c)->record)) {
          lb = std::get<Case>((*c)->record);
          linked_before = &*lb;
        }
      }
    }
    std::vector<std::string> old_aud =
        before != nullptr ? audiencesOf(*before, linked_before) : std::vector<std::string>{};
    std::vector<std::string> new_aud = audiencesOf(r, parent);
    job_touched.insert(old_aud.begin(), old_aud.end());
    job_touched.insert(new_aud.begin(), new_aud.end());
    for (const auto& a : new_aud) {
      if (!std::binary_search(old_aud.begin(), old_aud.end(), a)) {
        EROPAF_RETURN_IF_ERROR(s.addScopeChange({*seq, recordId(r), a, true}));
      }
    }
    for (const auto& a : old_aud) {
      if (!std::binary_search(new_aud.begin(), new_aud.end(), a)) {
        EROPAF_RETURN_IF_ERROR(s.addScopeChange({*seq, recordId(r), a, false}));
      }
    }
    // A case's assignee is an audience of its linked signals too: their history follows, so
    // "who held this signal" stays a server fact even though the signals are not rewritten.
    const auto* now_case = std::get_if<Case>(&r);
    const auto* was_case = before != nullptr ? std::get_if<Case>(before) : nullptr;
    if (now_case != nullptr && was_case != nullptr &&
        now_case->assignee.value != was_case->assignee.value) {
      Result<std::vector<StoredRecord>> kids = s.children(now_case->id);
      if (!kids.ok()) return kids.status();
      for (const StoredRecord& k : *kids) {
        const auto* sig = std::get_if<Signal>(&k.record);
        if (sig == nullptr) continue;
        const std::string& reporter = sig->content.reporter_id;
        if (!was_case->assignee.value.empty() && was_case->assignee.value != reporter) {
          EROPAF_RETURN_IF_ERROR(
              s.addScopeChange({*seq, sig->id, "w:" + was_case->assignee.value, false}));
        }
        if (!now_case->assignee.value.empty() && now_case->assignee.value != reporter) {
          EROPAF_RETURN_IF_ERROR(
              s.addScopeChange({*seq, sig->id, "w:" + now_case->assignee.value, true}));
        }
      }
    }
    return {};
  }

  Result<std::optional<Case>> loadCase(StoreSession& s, const std::string& id) {
    if (id.empty()) return std::optional<Case>();
    Result<std::optional<StoredRecord>> r = s.getRecord(id);
    if (!r.ok()) return r.status();
    if (!r->has_value() || !std::holds_alternative<Case>((*r)->record)) {
      return std::optional<Case>();
    }
    return std::optional<Case>(std::get<Case>((*r)->record));
  }

  // --- authorisation facts ---------------------------------------------------------------
  // What the principal holds, from the server's stored state and its own history of who held
  // a case (scope changes). permissions.hpp decides on these facts; nothing here looks at a
  // version, time or cursor the device chose.

  Result<Hold> caseHold(StoreSession& s, const Principal& p, const Case& c) {
    const Worker& w = p.worker;
    const Hold now_hold = permissions::caseHoldOnDevice(w, c);
    if (w.role != Role::kWijkcoach || now_hold != Hold::kWasAssigned) return now_hold;
    // Not theirs now. Offline work counts when the server's history shows they held it: as
    // assignee, or in their queue (they may have picked it up offline). A coach who never
    // held it gets the answer for an unknown id. ("Ever", not "when last served": work made
    // before an eviction may reach the server after it, and a note is never lost; what it can
    // do is bounded by permissions.hpp: a contact moment is kept, a move becomes a conflict.)
    const std::vector<std::string> self{"w:" + w.id};
    Result<bool> was_assigned = s.everHeld(c.id, self, 0);
    if (!was_assigned.ok()) return was_assigned.status();
    if (*was_assigned) return Hold::kWasAssigned;
    // In their queue while this device was syncing (from its first served page on): a case
    // that came and went before the device's first pull was never shown to it.
    const std::uint64_t first = p.first_served_seq;
    if (first == 0) return Hold::kNone;
    std::vector<std::string> queues;
    for (const auto& x : w.wijken) queues.push_back("q:" + x);
    Result<bool> queued_then = s.heldAt(c.id, queues, first);
    if (!queued_then.ok()) return queued_then.status();
    Result<bool> queued_since = *queued_then ? Result<bool>(true) : s.everHeld(c.id, queues, first);
    if (!queued_since.ok()) return queued_since.status();
    if (!*queued_since) return Hold::kNone;
    // Seen in their queue: did they pick it up (offline, and lost the race)? Then their work
    // on it is theirs to keep, as for a former assignee.
    Result<std::vector<StoredRecord>> kids = s.children(c.id);
    if (!kids.ok()) return kids.status();
    for (const StoredRecord& k : *kids) {
      const auto* t = std::get_if<Transition>(&k.record);
      if (t != nullptr && t->actor_id == w.id && t->to == CaseState::kToegewezen) {
        return Hold::kWasAssigned;
      }
    }
    return Hold::kWasQueued;
  }

  Result<Hold> caseHoldById(StoreSession& s, const Principal& p, const std::string& id) {
    Result<std::optional<Case>> c = loadCase(s, id);
    if (!c.ok()) return c.status();
    if (!c->has_value()) return Hold::kNone;
    return caseHold(s, p, **c);
  }

  Result<Hold> signalHold(StoreSession& s, const Principal& p, const Signal& sig) {
    Result<std::optional<Case>> linked = loadCase(s, sig.case_id.value);
    if (!linked.ok()) return linked.status();
    const Case* parent = linked->has_value() ? &**linked : nullptr;
    const Worker& w = p.worker;
    switch (viewOf(w, sig, parent)) {
      case View::kNone:
        return Hold::kNone;
      case View::kRedacted:
        return Hold::kOwn;
      case View::kFull:
        if (w.role == Role::kCoordinator && inWijk(w, sig.content.wijk)) return Hold::kFull;
        return sig.content.reporter_id == w.id ? Hold::kOwn : Hold::kReadOnly;
    }
    return Hold::kNone;
  }

  Result<Hold> signalHoldById(StoreSession& s, const Principal& p, const std::string& id) {
    if (id.empty()) return Hold::kNone;
    Result<std::optional<StoredRecord>> r = s.getRecord(id);
    if (!r.ok()) return r.status();
    if (!r->has_value()) return Hold::kNone;
    const auto* sig = std::get_if<Signal>(&(*r)->record);
    if (sig == nullptr) return Hold::kNone;
    return signalHold(s, p, *sig);
  }

  // --- apply -----------------------------------------------------------------------------

  /// The pushing device when what is stored is exactly what it sent (a record it created, with
  /// nothing merged in or added by the server); otherwise nobody.
  template <class T>
  static std::string_view echoOf(const Principal& p, const T& stored, const T& sent) {
    return stored == sent ? std::string_view(p.device_id) : std::string_view();
  }
  // Outer Result: storage failure (aborts the push). Inner Verdict: the change's answer.

  Result<Verdict> applySignal(StoreSession& s, const Principal& p, const Signal& in,
                              const std::optional<Signal>& cur) {
    const Worker& w = p.worker;
    Result<Hold> link = caseHoldById(s, p, in.case_id.value);
    if (!link.ok()) return link.status();
    Result<Hold> dup = signalHoldById(s, p, in.duplicate_of.value);
    if (!dup.ok()) return dup.status();
    if (!cur) {
      if (in.created.isZero()) return Verdict{permissions::unknownRecord()};
      if (Status st = permissions::mayCreateSignal(w, in, *link, *dup); !st.ok()) {
        return Verdict{st};
      }
      Result<const std::vector<Category>*> known = knownCategories(s);
      if (!known.ok()) return known.status();
      Status cats = checkCategories("content.categories", in.content.categories, **known, false);
      if (!cats.ok()) return Verdict{cats};
    } else {
      Result<Hold> hold = signalHold(s, p, *cur);
      if (!hold.ok()) return hold.status();
      Result<Hold> now_linked = caseHoldById(s, p, cur->case_id.value);
      if (!now_linked.ok()) return now_linked.status();
      if (Status st = permissions::mayWriteSignal(w, *hold, *cur, in, *link, *dup, *now_linked);
          !st.ok()) {
        return Verdict{st};
      }
    }
    Signal merged = cur.value_or(in);
    if (cur) mergeInto(merged, in);
    if (cur && merged == *cur) return Verdict{};  // nothing changes: nothing is stored
    Result<std::optional<Case>> linked = loadCase(s, merged.case_id.value);
    if (!linked.ok()) return linked.status();
    const Record before = cur ? Record(*cur) : Record(Signal{});
    EROPAF_RETURN_IF_ERROR(put(s, merged, cur ? &before : nullptr,
                               linked->has_value() ? &**linked : nullptr, echoOf(p, merged, in)));
    return Verdict{Status(), true};
  }

  Result<Verdict> applyCase(StoreSession& s, const Principal& p, Case in,
                            const std::optional<Case>& cur) {
    const Worker& w = p.worker;
    if (!cur) {
      if (in.created.isZero()) return Verdict{permissions::unknownRecord()};
      if (Status st = permissions::mayCreateCase(w, in); !st.ok()) return Verdict{st};
    } else {
      Result<Hold> hold = caseHold(s, p, *cur);
      if (!hold.ok()) return hold.status();
      Result<Hold> merge_target = caseHoldById(s, p, in.merged_into.value);
      if (!merge_target.ok()) return merge_target.status();
      if (Status st = permissions::mayWriteCase(w, *hold, *cur, in, *merge_target); !st.ok()) {
        return Verdict{st};
      }
      // Creation facts are the stored ones (checked equal or absent above).
      in.created = {};
      in.opened_by.clear();
      in.opened_at_ms = 0;
    }
    std::vector<std::string> codes;
    for (const auto& [code, entry] : in.categories) {
      if (entry.present) codes.push_back(code);
    }
    Result<const std::vector<Category>*> known = knownCategories(s);
    if (!known.ok()) return known.status();
    Status cats = checkCategories("categories", codes, **known, false);
    if (!cats.ok()) return Verdict{cats};

    Case merged = cur.value_or(in);
    if (cur) mergeInto(merged, in);
    if (cur && merged == *cur) return Verdict{};  // nothing changes: nothing is stored
    const bool assignee_changed = !cur || merged.assignee.value != cur->assignee.value ||
                                  merged.wijk.value != cur->wijk.value;
    if (assignee_changed && !merged.assignee.value.empty()) {
      Result<std::optional<Worker>> a = s.worker(merged.assignee.value);
      if (!a.ok()) return a.status();
      Status valid = permissions::mayAssign(merged.assignee.value, a->has_value() ? &**a : nullptr,
                                            merged.wijk.value);
      if (!valid.ok()) return Verdict{valid};
    }
    // Clearing the conflict flag resolves the conflicting transitions.
    const bool resolved = cur && cur->conflict.value && !merged.conflict.value;
    const Record before = cur ? Record(*cur) : Record(Case{});
    EROPAF_RETURN_IF_ERROR(put(s, merged, cur ? &before : nullptr, nullptr, echoOf(p, merged, in)));
    if (resolved) {
      Result<std::vector<StoredRecord>> kids = s.children(merged.id);
      if (!kids.ok()) return kids.status();
      const Version v = serverVersion();
      for (StoredRecord& k : *kids) {
        auto* t = std::get_if<Transition>(&k.record);
        if (t == nullptr || t->outcome.value != TransitionOutcome::kConflict) continue;
        t->outcome.set(TransitionOutcome::kResolved, v);
        EROPAF_RETURN_IF_ERROR(put(s, *t, nullptr, &merged));
      }
    }
    return Verdict{Status(), true};
  }

  Result<Verdict> applyMoment(StoreSession& s, const Principal& p, const ContactMoment& in,
                              const std::optional<ContactMoment>& cur) {
    if (!cur && in.created.isZero()) return Verdict{permissions::unknownRecord()};
    const std::string& case_id = cur ? cur->case_id : in.case_id;
    Result<std::optional<Case>> c = loadCase(s, case_id);
    if (!c.ok()) return c.status();
    Hold hold = Hold::kNone;
    if (c->has_value()) {
      Result<Hold> h = caseHold(s, p, **c);
      if (!h.ok()) return h.status();
      hold = *h;
    }
    if (cur) {
      if (Status st = permissions::mayWriteMoment(p.worker, hold, *cur, in); !st.ok()) {
        return Verdict{st};
      }
    } else if (Status st = permissions::mayCreateMoment(p.worker, hold, in, Origin::kServer);
               !st.ok()) {
      return Verdict{st};
    } else if (!in.corrects_id.empty()) {
      // A correction names a moment of its own case (as the device checks): one answer for a
      // moment elsewhere and an unknown id, so the link is never an existence oracle.
      Result<std::optional<StoredRecord>> old = s.getRecord(in.corrects_id);
      if (!old.ok()) return old.status();
      const auto* m = old->has_value() ? std::get_if<ContactMoment>(&(*old)->record) : nullptr;
      if (m == nullptr || m->case_id != in.case_id) {
        return Verdict{permissions::refused(RecordKind::kContactMoment)};
      }
    }
    ContactMoment merged = cur.value_or(in);
    if (cur) mergeInto(merged, in);
    if (cur && merged == *cur) return Verdict{};  // nothing changes: nothing is stored
    EROPAF_RETURN_IF_ERROR(put(s, merged, nullptr, &**c, echoOf(p, merged, in)));
    return Verdict{Status(), true};
  }

  Result<Verdict> applyTransition(StoreSession& s, const Principal& p, Transition in,
                                  const std::optional<Transition>& cur) {
    if (!cur && in.created.isZero()) return Verdict{permissions::unknownRecord()};
    const std::string& case_id = cur ? cur->case_id : in.case_id;
    Result<std::optional<Case>> loaded = loadCase(s, case_id);
    if (!loaded.ok()) return loaded.status();
    Hold hold = Hold::kNone;
    if (loaded->has_value()) {
      Result<Hold> h = caseHold(s, p, **loaded);
      if (!h.ok()) return h.status();
      hold = *h;
    }
    if (cur) {
      // Known already: the same transition again changes nothing; anything else is an edit.
      if (!permissions::visible(hold)) return Verdict{permissions::unknownRecord()};
      Transition a = *cur;
      Transition b = in;
      a.outcome = b.outcome = {};
      a.deleted = b.deleted = {};
      if (in.created.isZero() || a != b)
        return Verdict{permissions::refused(RecordKind::kTransition)};
      return Verdict{};
    }
    in.outcome = {};  // server-owned
    Case c = loaded->has_value() ? **loaded : Case{};
    // A closing move's guard is judged on what this server stored for the case (its contact
    // moments, its category table), never on the pushed move; other moves read neither.
    std::vector<ContactMoment> stored_moments;
    std::span<const Category> categories;
    if (in.to == CaseState::kAfgesloten && loaded->has_value() && permissions::visible(hold)) {
      Result<std::vector<StoredRecord>> kids = s.children(c.id);
      if (!kids.ok()) return kids.status();
      for (const StoredRecord& k : *kids) {
        if (const auto* m = std::get_if<ContactMoment>(&k.record)) stored_moments.push_back(*m);
      }
      Result<const std::vector<Category>*> known = knownCategories(s);
      if (!known.ok()) return known.status();
      categories = **known;
    }
    const permissions::TransitionDecision d = permissions::decideTransition(
        p.worker, hold, c, in, Origin::kServer, stored_moments, categories);
    if (d.verdict == permissions::TransitionVerdict::kRefused) return Verdict{d.status};
    const bool applied = d.verdict == permissions::TransitionVerdict::kApplied;
    const Version v = serverVersion();
    in.outcome.set(applied ? TransitionOutcome::kApplied : TransitionOutcome::kConflict, v);
    const Record before(c);
    const bool closes = applied && d.next == CaseState::kAfgesloten && c.state.value != d.next;
    c.state.set(d.next, v);  // re-stamped either way: the server's state is the truth
    if (!applied) c.conflict.set(true, v);
    // The case keeps the code it was closed with (the state table checked it).
    if (closes) c.resolution_code.set(in.resolution_code, v);
    if (d.assign_actor) c.assignee.set(p.worker.id, v);
    EROPAF_RETURN_IF_ERROR(put(s, c, &before, nullptr));
    EROPAF_RETURN_IF_ERROR(put(s, in, nullptr, &c));
    return Verdict{Status(), true};
  }

  Result<Verdict> applyChange(StoreSession& s, const Principal& p, const v1::Change& change) {
    Result<Record> decoded = wire::fromProto(change.record());
    if (!decoded.ok()) return Verdict{decoded.status()};
    Record incoming = std::move(decoded).value();
    if (Status v = validateRecord(incoming); !v.ok()) return Verdict{v};
    const Worker& w = p.worker;
    if (w.role == Role::kAdmin || w.role == Role::kUnspecified) {
      return refuse(ErrorCode::kPermissionDenied, "an admin does not write case content");
    }
    const std::uint64_t newest = maxVersion(incoming).hlc;
    {
      // Before applying: the server's own stamps (a transition's re-stamped state) must be
      // newer than every version this change carries.
      std::lock_guard lock(hlc_mu);
      if (hlc.tooFarAhead(newest)) return Verdict{hlc.receive(newest)};  // kClockSkew
      static_cast<void>(hlc.receive(newest));
    }
    // Far below what this device was already served: not work made since (its clock went
    // back, or the version was chosen to look old). Judged on the device's own served mark;
    // the margin is wide because offline work may wait for its push while a pull gets through.
    const std::uint64_t stale_margin = hlcPack(kStaleVersionMarginMs, 0);
    if (p.served_hlc > stale_margin && newest < p.served_hlc - stale_margin) {
      return refuse(ErrorCode::kFailedPrecondition,
                    "this change is older than what this device was already sent; its clock "
                    "went back",
                    "version");
    }
    Result<std::optional<StoredRecord>> existing = s.getRecord(recordId(incoming));
    if (!existing.ok()) return existing.status();
    if (existing->has_value() && (*existing)->record.index() != incoming.index()) {
      return Verdict{permissions::unknownRecord()};  // another kind: as unknown
    }
    auto cur = [&](auto tag) {
      using T = decltype(tag);
      return existing->has_value() ? std::optional<T>(std::get<T>((*existing)->record))
                                   : std::optional<T>();
    };
    Result<Verdict> r = std::visit(
        [&](auto& rec) -> Result<Verdict> {
          using T = std::decay_t<decltype(rec)>;
          if constexpr (std::is_same_v<T, Signal>) {
            return applySignal(s, p, rec, cur(Signal{}));
          } else if constexpr (std::is_same_v<T, Case>) {
            return applyCase(s, p, rec, cur(Case{}));
          } else if constexpr (std::is_same_v<T, ContactMoment>) {
            return applyMoment(s, p, rec, cur(ContactMoment{}));
          } else {
            return applyTransition(s, p, rec, cur(Transition{}));
          }
        },
        incoming);
    if (r.ok() && r->status.ok()) {
      // Only a write is logged as theirs: a refusal or an accepted no-op leaves no line.
      if (r->wrote) {
        // In the push's own transaction: the log line commits with the write, or neither does.
        EROPAF_RETURN_IF_ERROR(
            s.appendAccess({now(), "push:" + std::string(toString(recordKind(incoming))),
                            recordId(incoming), householdOf(incoming), w.id, "", p.device_id}));
      }
    }
    return r;
  }

  Status applyPush(StoreSession& s, const Principal& authenticated, const v1::PushRequest& req,
                   v1::PushResponse& resp) {
    // What this device was served, read in the writer's transaction: the freshest server fact.
    Principal p = authenticated;
    Result<std::optional<std::pair<DeviceInfo, std::string>>> dev = s.device(p.device_id);
    if (!dev.ok()) return dev.status();
    if (dev->has_value()) {
      p.served_seq = (*dev)->first.served_seq;
      p.served_hlc = (*dev)->first.served_hlc;
      p.first_served_seq = (*dev)->first.first_served_seq;
    }
    for (const v1::Change& change : req.changes()) {
      v1::ChangeResult* out = resp.add_results();
      out->set_change_id(change.change_id());
      if (!isValidUuid(change.change_id())) {
        out->set_accepted(false);
        out->mutable_error()->set_code(v1::ERROR_CODE_INVALID_ARGUMENT);
        out->mutable_error()->set_message("change_id is not a lower-case UUID");
        out->mutable_error()->set_field("change_id");
        ++c_refused;
        continue;
      }
      Result<std::optional<AppliedChange>> prior = s.appliedChange(p.device_id, change.change_id());
      if (!prior.ok()) return prior.status();
      AppliedChange result;
      if (prior->has_value()) {
        result = **prior;
      } else {
        Result<Verdict> r = applyChange(s, p, change);
        if (!r.ok()) return r.status();
        result.change_id = change.change_id();
        result.accepted = r->status.ok();
        result.error = r->status;
        // A clock-skew refusal is not remembered: the device re-stamps and may retry.
        if (r->status.code() != ErrorCode::kClockSkew) {
          EROPAF_RETURN_IF_ERROR(s.recordApplied(result, p.device_id));
        }
      }
      out->set_accepted(result.accepted);
      if (!result.accepted) {
        out->mutable_error()->set_code(static_cast<v1::ErrorCode>(result.error.code()));
        out->mutable_error()->set_message(result.error.message());
        out->mutable_error()->set_field(result.error.field());
        ++c_refused;
      } else {
        ++c_applied;
      }
    }
    EROPAF_RETURN_IF_ERROR(s.touchDevice(p.device_id, now()));
    wire::toProto(serverVersion(), *resp.mutable_server_version());
    return {};
  }

  // --- pull ------------------------------------------------------------------------------

  // Reference data changes only through admin commands (reference_version). It is built once
  // per version and set of wijken, not read from the database for every first pull.
  std::mutex ref_mu;
  std::uint64_t ref_built_for = ~std::uint64_t{0};
  std::vector<Worker> ref_workers;
  v1::ReferenceData ref_common;  // wijken and categories
  std::map<std::string, v1::ReferenceData> ref_by_wijken;

  Status fillReference(StoreSession& s, const Worker& w, v1::ReferenceData& ref) {
    std::lock_guard lock(ref_mu);
    const std::uint64_t version = ref_version.load();
    if (ref_built_for != version) {
      Result<std::vector<Worker>> workers = s.workers();
      if (!workers.ok()) return workers.status();
      Result<std::vector<Wijk>> wijken = s.wijken();
      if (!wijken.ok()) return wijken.status();
      Result<std::vector<Category>> cats = s.categories();
      if (!cats.ok()) return cats.status();
      ref_workers = std::move(workers).value();
      ref_common.Clear();
      for (const Wijk& x : *wijken) {
        v1::Wijk* out = ref_common.add_wijken();
        out->set_code(x.code);
        out->set_name(x.name);
      }
      for (const Category& c : *cats) wire::toProto(c, *ref_common.add_categories());
      ref_by_wijken.clear();
      ref_built_for = version;
    }
    std::vector<std::string> key_parts = w.wijken;
    std::sort(key_parts.begin(), key_parts.end());
    std::string key;
    for (const auto& k : key_parts) key += k + ",";
    auto it = ref_by_wijken.find(key);
    if (it == ref_by_wijken.end()) {
      v1::ReferenceData built = ref_common;
      // Colleagues of the same wijken, by name and role: whom to assign, who did what.
      for (const Worker& other : ref_workers) {
        const bool shared = std::any_of(other.wijken.begin(), other.wijken.end(),
                                        [&](const std::string& x) { return inWijk(w, x); });
        if (shared) wire::toProto(other, *built.add_workers());
      }
      it = ref_by_wijken.emplace(key, std::move(built)).first;
    }
    ref = it->second;
    const bool has_self = std::any_of(ref.workers().begin(), ref.workers().end(),
                                      [&](const v1::Worker& x) { return x.id() == w.id; });
    if (!has_self) wire::toProto(w, *ref.add_workers());
    return {};
  }

  /// A page and the reads it makes, which must be durable before the page leaves the server.
  struct Page {
    v1::PullResponse resp;
    std::vector<AccessEntry> reads;
    std::uint64_t upto = 0;
  };

  Result<Page> buildPage(const Principal& p, const v1::PullRequest& req) {
    ++c_pulls;
    Page page;
    v1::PullResponse& resp = page.resp;
    const Worker& w = p.worker;
    const std::string scope = scopeFingerprint(w);
    const std::uint64_t ref_now = ref_version.load();
    Cursor cursor = openCursor(req.cursor());
    const bool reset = !req.cursor().empty() && (!cursor.valid || cursor.scope != scope);
    const std::uint64_t after = reset ? 0 : cursor.seq;
    const bool holds_all = !req.cursor().empty() && !reset && cursor.complete;
    const std::uint32_t want = req.max_records() == 0 ? kDefaultPage : req.max_records();
    const std::size_t limit = std::clamp<std::uint32_t>(want, 1, opts.max_page_records);

    Result<Lease> lease = borrow();
    if (!lease.ok()) return lease.status();
    StoreSession& s = *lease->s;
    EROPAF_RETURN_IF_ERROR(s.begin(false));
    struct EndRead {
      StoreSession& s;
      ~EndRead() { s.rollback(); }
    } end_read{s};

    // Candidates through the index columns; scope.hpp then decides exactly. The snapshot's
    // last sequence bounds the page when fewer rows match than the limit.
    StoreSession::ScanFilter filter;
    filter.owner = w.id;
    if (w.role == Role::kCoordinator) {
      filter.wijken = w.wijken;
    } else if (w.role == Role::kWijkcoach) {
      filter.wijken = w.wijken;
      filter.wijk_cases_only = true;
      filter.children_of_owned_cases = true;
    }
    Result<std::uint64_t> snapshot_last = s.lastSeq();
    if (!snapshot_last.ok()) return snapshot_last.status();
    Result<std::vector<StoredRecord>> rows = s.scanFor(after, limit, filter);
    if (!rows.ok()) return rows.status();
    const bool full_page = rows->size() == limit;
    const std::uint64_t upto = full_page ? rows->back().seq : std::max(after, *snapshot_last);
    const std::vector<std::string> mine = audiencesOf(w);
    Result<std::vector<ScopeChange>> changes = s.scopeChanges(after, upto, mine);
    if (!changes.ok()) return changes.status();
    std::map<std::string, std::optional<Case>> case_cache;
    auto caseById = [&](const std::string& id) -> Result<const Case*> {
      if (id.empty()) return static_cast<const Case*>(nullptr);
      auto it = case_cache.find(id);
      if (it == case_cache.end()) {
        Result<std::optional<Case>> c = loadCase(s, id);
        if (!c.ok()) return c.status();
        it = case_cache.emplace(id, std::move(c).value()).first;
      }
      return it->second ? &*it->second : nullptr;
    };
    auto parentOf = [&](const Record& r) -> Result<const Case*> {
      if (const auto* sig = std::get_if<Signal>(&r)) return caseById(sig->case_id.value);
      if (const auto* m = std::get_if<ContactMoment>(&r)) return caseById(m->case_id);
      if (const auto* t = std::get_if<Transition>(&r)) return caseById(t->case_id);
      return static_cast<const Case*>(nullptr);
    };
    // Link ids are sent only when the principal sees what they point at — a case whole: a
    // case that enters their scope whole comes with its linked signals, so a link stripped
    // before is sent then (a redacted queue case never brings its signals along).
    auto seesCase = [&](const std::string& id) -> Result<bool> {
      Result<const Case*> c = caseById(id);
      if (!c.ok()) return c.status();
      return *c != nullptr && viewOf(w, **c, nullptr) == View::kFull;
    };
    auto seesSignal = [&](const std::string& id) -> Result<bool> {
      Result<std::optional<StoredRecord>> r = s.getRecord(id);
      if (!r.ok()) return r.status();
      if (!r->has_value() || !std::holds_alternative<Signal>((*r)->record)) return false;
      Result<const Case*> parent = parentOf((*r)->record);
      if (!parent.ok()) return parent.status();
      return viewOf(w, (*r)->record, *parent) != View::kNone;
    };
    auto stripLinks = [&](Record& r) -> Status {
      if (auto* sig = std::get_if<Signal>(&r)) {
        if (!sig->case_id.value.empty()) {
          Result<bool> ok = seesCase(sig->case_id.value);
          if (!ok.ok()) return ok.status();
          if (!*ok) sig->case_id = {};
        }
        if (!sig->duplicate_of.value.empty()) {
          Result<bool> ok = seesSignal(sig->duplicate_of.value);
          if (!ok.ok()) return ok.status();
          if (!*ok) sig->duplicate_of = {};
        }
      } else if (auto* c = std::get_if<Case>(&r); c && !c->merged_into.value.empty()) {
        Result<bool> ok = seesCase(c->merged_into.value);
        if (!ok.ok()) return ok.status();
        if (!*ok) c->merged_into = {};
      }
      return {};
    };
    std::set<std::string> sent, evicted;
    auto send = [&](const Record& r, View view) -> Status {
      if (!sent.insert(recordId(r)).second) return {};
      Record out = view == View::kRedacted ? redact(r) : r;
      EROPAF_RETURN_IF_ERROR(stripLinks(out));
      wire::toProto(out, *resp.add_records());
      ++c_sent;
      if (view == View::kFull) {
        page.reads.push_back({now(), "pull:" + std::string(toString(recordKind(r))), recordId(r),
                              householdOf(r), w.id, "", p.device_id});
      }
      return {};
    };
    // The device's own push, stored exactly as it sent it: it holds it already, unless it
    // dropped its records for a reset and has not caught up since (then `holds_all` is false).
    // Any write by someone else, and every change of who sees a case, rewrites the row and
    // clears the mark; so a record marked as this device's has never left the device.
    auto isEcho = [&](const StoredRecord& row) {
      return holds_all && row.echo_device == p.device_id;
    };
    // A case entering whole brings its children. When the case itself is this device's own
    // push, the device has held it since it made it, and with it its own children.
    auto sendWithChildren = [&](const Case& c, bool case_is_echo) -> Status {
      Result<std::vector<StoredRecord>> kids = s.children(c.id);
      if (!kids.ok()) return kids.status();
      for (const StoredRecord& k : *kids) {
        if (case_is_echo && isEcho(k)) continue;
        const View kv = viewOf(w, k.record, &c);
        if (kv != View::kNone) EROPAF_RETURN_IF_ERROR(send(k.record, kv));
      }
      return {};
    };

    // Scope changes in this page's range, judged by each record's CURRENT state (its row may
    // sit on a later page): left → eviction (then the redacted view, if any); entered whole →
    // the record with its children.
    std::set<std::string> scoped;
    for (const ScopeChange& c : *changes) scoped.insert(c.record_id);
    for (const std::string& id : scoped) {
      Result<std::optional<StoredRecord>> cur = s.getRecord(id);
      if (!cur.ok()) return cur.status();
      if (!cur->has_value()) continue;
      const Record& r = (*cur)->record;
      Result<const Case*> parent = parentOf(r);
      if (!parent.ok()) return parent.status();
      const View view = viewOf(w, r, *parent);
      bool left = false, entered_full = false;
      for (const ScopeChange& c : *changes) {
        if (c.record_id != id) continue;
        left = left || !c.entered;
        entered_full = entered_full || (c.entered && c.audience[0] != 'q');
      }
      if (left && view != View::kFull && !evicted.count(id)) {
        // Evict only what the device held at its cursor: never name a record it was not sent.
        Result<bool> held = after == 0 ? Result<bool>(false) : s.heldAt(id, mine, after);
        if (!held.ok()) return held.status();
        if (*held) {
          evicted.insert(id);
          resp.add_evictions()->set_record_id(id);
        }
      }
      if (view == View::kNone) continue;
      const bool echo = isEcho(**cur);
      if (echo) {
        sent.insert(id);
      } else {
        EROPAF_RETURN_IF_ERROR(send(r, view));
      }
      if (const auto* c = std::get_if<Case>(&r); c && view == View::kFull && entered_full) {
        EROPAF_RETURN_IF_ERROR(sendWithChildren(*c, echo));
      }
    }
    for (const StoredRecord& row : *rows) {
      const Record& r = row.record;
      if (sent.count(recordId(r)) != 0 || isEcho(row)) continue;
      Result<const Case*> parent = parentOf(r);
      if (!parent.ok()) return parent.status();
      const View view = viewOf(w, r, *parent);
      if (view != View::kNone) EROPAF_RETURN_IF_ERROR(send(r, view));
    }
    page.upto = upto;
    resp.set_next_cursor(sealCursor(upto, scope, ref_now, holds_all || !full_page));
    resp.set_more(full_page);
    resp.set_reset(reset);
    if (req.cursor().empty() || reset || cursor.ref != ref_now) {
      EROPAF_RETURN_IF_ERROR(fillReference(s, w, *resp.mutable_reference()));
    }
    wire::toProto(serverVersion(), *resp.mutable_server_version());
    return page;
  }

  /// Builds the page on the caller's thread; a page that carries anything is answered only
  /// after its reads are in the access log and the device's served marks are raised, in one
  /// commit of the writer (grouped with whatever else is queued).
  void pull(const Principal& p, const v1::PullRequest& req, PullDone done) {
    Result<Page> built = buildPage(p, req);
    if (!built.ok()) return done(built.status());
    auto page = std::make_shared<Page>(std::move(built).value());
    // Nothing read in full (an empty page, evictions, redacted records): nothing to log, and
    // the served marks may lag (they only bound how old a change may claim to be).
    // A device's first non-empty page is always marked: where its queue history starts.
    const v1::PullResponse& r = page->resp;
    const bool first_page =
        p.first_served_seq == 0 && (r.records_size() > 0 || r.evictions_size() > 0 || r.reset());
    if (page->reads.empty() && !first_page) return done(std::move(page->resp));
    auto shared_done = std::make_shared<PullDone>(std::move(done));
    const std::string device = p.device_id;
    // The served marks bound how old a change may claim to be (30 days): raising them once an
    // hour is enough, and spares the writer an UPDATE per pull.
    const bool mark =
        first_page || page->resp.server_version().hlc() > p.served_hlc + hlcPack(3600LL * 1000, 0);
    const bool queued =
        enqueue(Job{[page, device, mark](StoreSession& s) -> Status {
                      // Revoked while the page was built: it does not leave (the pull answers 403).
                      Result<std::optional<std::pair<DeviceInfo, std::string>>> dev =
                          s.device(device);
                      if (!dev.ok()) return dev.status();
                      if (!dev->has_value() || (*dev)->first.revoked) {
                        return Status(ErrorCode::kDeviceRevoked,
                                      "this device was revoked; its data must be wiped");
                      }
                      for (const AccessEntry& e : page->reads)
                        EROPAF_RETURN_IF_ERROR(s.appendAccess(e));
                      if (!mark) return {};
                      return s.markServed(device, page->upto, page->resp.server_version().hlc());
                    },
                    [page, shared_done](const Status& st) {
                      if (st.ok()) {
                        (*shared_done)(std::move(page->resp));
                      } else {
                        (*shared_done)(st);
                      }
                    }});
    if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
  }
};

// --- Engine ------------------------------------------------------------------------------------

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { stop(); }

Result<std::unique_ptr<Engine>> Engine::open(EngineOptions options) {
  if (sodium_init() < 0) return Status(ErrorCode::kInternal, "libsodium failed to initialise");
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
  if (options.max_skew_ms > kMaxServerSkewMs) {
    return Status(ErrorCode::kInvalidArgument,
                  "max_skew_ms is above " + std::to_string(kMaxServerSkewMs) +
                      ": the server's bound must stay tighter than the devices'",
                  "max_skew_ms");
  }
  if (options.max_group == 0) options.max_group = 1;
  if (options.max_page_records == 0) options.max_page_records = 1;
  auto impl = std::make_unique<Impl>(std::move(options));
  Result<std::unique_ptr<ServerStore>> store = openSqliteServerStore(impl->opts.database_path);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  Result<std::unique_ptr<StoreSession>> w = impl->store->openSession();
  if (!w.ok()) return w.status();
  impl->writer_session = std::move(w).value();
  StoreSession& s = *impl->writer_session;
  // Node id and clock persist across restarts: versions stay monotonic.
  EROPAF_RETURN_IF_ERROR(s.begin(true));
  Result<std::optional<std::string>> node = s.meta("node");
  Result<std::optional<std::string>> hlc = s.meta("hlc");
  Result<std::optional<std::string>> ref = s.meta("reference_version");
  if (!node.ok() || !hlc.ok() || !ref.ok()) {
    s.rollback();
    return !node.ok() ? node.status() : !hlc.ok() ? hlc.status() : ref.status();
  }
  if (node->has_value() && (*node)->size() == sizeof impl->node) {
    std::memcpy(&impl->node, (*node)->data(), sizeof impl->node);
  } else {
    randombytes_buf(&impl->node, sizeof impl->node);
    Status st = s.setMeta(
        "node", std::string_view(reinterpret_cast<const char*>(&impl->node), sizeof impl->node));
    if (!st.ok()) {
      s.rollback();
      return st;
    }
  }
  if (hlc->has_value() && (*hlc)->size() == sizeof(std::uint64_t)) {
    std::uint64_t v = 0;
    std::memcpy(&v, (*hlc)->data(), sizeof v);
    impl->hlc.resetTo(v);
  }
  if (ref->has_value()) impl->ref_version = std::stoull(**ref);
  Result<std::optional<std::string>> ckey = s.meta("cursor_key");
  if (!ckey.ok()) {
    s.rollback();
    return ckey.status();
  }
  if (ckey->has_value() && (*ckey)->size() == crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    impl->cursor_key = **ckey;
  } else {
    impl->cursor_key.assign(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, '\0');
    crypto_aead_xchacha20poly1305_ietf_keygen(
        reinterpret_cast<unsigned char*>(impl->cursor_key.data()));
    Status st = s.setMeta("cursor_key", impl->cursor_key);
    if (!st.ok()) {
      s.rollback();
      return st;
    }
  }
  Result<std::optional<std::string>> salt = s.meta("household_salt");
  if (!salt.ok()) {
    s.rollback();
    return salt.status();
  }
  if (salt->has_value() && (*salt)->size() == 32) {
    impl->household_salt = **salt;
  } else {
    impl->household_salt.assign(32, '\0');
    randombytes_buf(impl->household_salt.data(), impl->household_salt.size());
    Status st = s.setMeta("household_salt", impl->household_salt);
    if (!st.ok()) {
      s.rollback();
      return st;
    }
  }
  EROPAF_RETURN_IF_ERROR(s.commit());
  Result<std::uint64_t> last = s.lastSeq();
  if (!last.ok()) return last.status();
  impl->last_seq = *last;
  Result<std::optional<std::string>> adm = s.meta("admin_version");
  if (adm.ok() && adm->has_value()) impl->admin_version = std::stoull(**adm);
  Result<std::unique_ptr<StoreSession>> watch = impl->store->openSession();
  if (!watch.ok()) return watch.status();
  impl->watch_session = std::move(watch).value();
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->writerLoop(); });
  impl->watcher = std::thread([raw] { raw->watchLoop(); });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Result<Principal> Engine::authenticate(std::string_view token) {
  const Status bad(ErrorCode::kUnauthenticated, "the device token is missing or not valid");
  const auto dot = token.find('.');
  if (token.empty() || dot == std::string_view::npos || token.size() > 512) return bad;
  const std::string_view device_id = token.substr(0, dot);
  const std::string_view secret = token.substr(dot + 1);
  if (!isValidUuid(device_id)) return bad;
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  Result<std::optional<std::pair<DeviceInfo, std::string>>> dev = lease->s->device(device_id);
  if (!dev.ok()) return dev.status();
  const std::string presented = secretHash(secret);
  // Compare even for an unknown device, so timing does not tell which ids exist.
  const std::string stored = dev->has_value() ? (*dev)->second : std::string(32, '\0');
  const bool match = stored.size() == presented.size() &&
                     sodium_memcmp(stored.data(), presented.data(), presented.size()) == 0;
  if (!dev->has_value() || !match) return bad;
  if ((*dev)->first.revoked) {
    return Status(ErrorCode::kDeviceRevoked, "this device was revoked; its data must be wiped");
  }
  Result<std::optional<Worker>> worker = lease->s->worker((*dev)->first.worker_id);
  if (!worker.ok()) return worker.status();
  if (!worker->has_value() || !(*worker)->active) return bad;
  return Principal{std::string(device_id), std::move(**worker), (*dev)->first.served_seq,
                   (*dev)->first.served_hlc, (*dev)->first.first_served_seq};
}

void Engine::push(Principal principal, v1::PushRequest request, PushDone done) {
  ++impl_->c_pushes;
  if (!request.device_id().empty() && request.device_id() != principal.device_id) {
    done(Status(ErrorCode::kPermissionDenied, "device_id is not the authenticated device",
                "device_id"));
    return;
  }
  if (static_cast<std::size_t>(request.changes_size()) > kMaxChangesPerPush) {
    done(Status(ErrorCode::kTooLarge,
                "at most " + std::to_string(kMaxChangesPerPush) + " changes per push", "changes"));
    return;
  }
  auto resp = std::make_shared<v1::PushResponse>();
  auto req = std::make_shared<v1::PushRequest>(std::move(request));
  auto who = std::make_shared<Principal>(std::move(principal));
  Impl* impl = impl_.get();
  auto shared_done = std::make_shared<PushDone>(std::move(done));
  const bool queued = impl->enqueue(Impl::Job{[impl, req, resp, who](StoreSession& s) {
                                                resp->Clear();
                                                return impl->applyPush(s, *who, *req, *resp);
                                              },
                                              [resp, shared_done](const Status& st) {
                                                if (st.ok()) {
                                                  (*shared_done)(std::move(*resp));
                                                } else {
                                                  (*shared_done)(st);
                                                }
                                              }});
  if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

static Status checkDeviceName(std::string_view name);  // at the end of this file

void Engine::enroll(const v1::EnrollRequest& request, EnrollDone done) {
  std::string code;
  for (const char c : request.code()) {
    if (c == '-' || c == ' ') continue;
    code.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (code.empty() || code.size() > 64) {
    done(Status(ErrorCode::kInvalidArgument, "the enrollment code is missing", "code"));
    return;
  }
  if (Status st = checkText("device_name", request.device_name(), kMaxShortBytes, false);
      !st.ok()) {
    done(st);
    return;
  }
  if (Status st = checkDeviceName(request.device_name()); !st.ok()) {
    done(st);
    return;
  }
  Impl* impl = impl_.get();
  {
    // A read-only look-up first, on a pooled reader: a wrong code costs no write transaction.
    Result<Impl::Lease> lease = impl->borrow();
    if (!lease.ok()) return done(lease.status());
    Result<std::optional<std::string>> known =
        lease->s->findEnrollmentCode(secretHash(code), impl->now());
    if (!known.ok()) return done(known.status());
    if (!known->has_value()) {
      return done(Status(ErrorCode::kUnauthenticated,
                         "the enrollment code is unknown, used or expired", "code"));
    }
  }
  auto resp = std::make_shared<v1::EnrollResponse>();
  auto name = std::make_shared<std::string>(request.device_name());
  auto shared_done = std::make_shared<EnrollDone>(std::move(done));
  const bool queued = impl->enqueue(Impl::Job{
      [impl, code, resp, name](StoreSession& s) -> Status {
        const std::int64_t now = impl->now();
        Result<std::optional<std::string>> worker_id = s.useEnrollmentCode(secretHash(code), now);
        if (!worker_id.ok()) return worker_id.status();
        Status bad(ErrorCode::kUnauthenticated, "the enrollment code is unknown, used or expired",
                   "code");
        if (!worker_id->has_value()) return bad;
        Result<std::optional<Worker>> worker = s.worker(**worker_id);
        if (!worker.ok()) return worker.status();
        if (!worker->has_value() || !(*worker)->active) return bad;
        unsigned char secret[32];
        randombytes_buf(secret, sizeof secret);
        char hex[2 * sizeof secret + 1];
        sodium_bin2hex(hex, sizeof hex, secret, sizeof secret);
        const std::string secret_hex(hex, 2 * sizeof secret);
        DeviceInfo d{newUuidV7(now), (*worker)->id, *name, false, now, now};
        EROPAF_RETURN_IF_ERROR(s.addDevice(d, secretHash(secret_hex)));
        resp->set_device_id(d.id);
        resp->set_token(d.id + "." + secret_hex);
        wire::toProto(**worker, *resp->mutable_worker());
        EROPAF_RETURN_IF_ERROR(impl->fillReference(s, **worker, *resp->mutable_reference()));
        return s.appendAccess({now, "enroll", "", "", (*worker)->id, "", d.id});
      },
      [resp, shared_done](const Status& st) {
        if (st.ok()) {
          (*shared_done)(std::move(*resp));
        } else {
          (*shared_done)(st);
        }
      }});
  if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

void Engine::pull(const Principal& principal, const v1::PullRequest& request, PullDone done) {
  impl_->pull(principal, request, std::move(done));
}

Result<v1::PullResponse> Engine::pull(const Principal& principal, const v1::PullRequest& request) {
  std::promise<Result<v1::PullResponse>> answer;
  auto fut = answer.get_future();
  impl_->pull(principal, request,
              [&answer](Result<v1::PullResponse> r) { answer.set_value(std::move(r)); });
  return fut.get();
}

std::uint64_t Engine::waitForChange(std::uint64_t seq, const Principal& who,
                                    std::function<void(bool)> fn) {
  {
    std::lock_guard lock(impl_->w_mu);
    if (impl_->last_seq.load() <= seq && !impl_->stopping) {
      const std::uint64_t ticket = ++impl_->next_ticket;
      std::vector<std::string> audiences = audiencesOf(who.worker);
      std::sort(audiences.begin(), audiences.end());
      impl_->waiters.emplace(ticket, Impl::Waiter{seq, who.device_id, who.worker.id,
                                                  std::move(audiences), std::move(fn)});
      return ticket;
    }
  }
  fn(impl_->last_seq.load() > seq);
  return 0;
}

void Engine::cancelWait(std::uint64_t ticket) {
  std::lock_guard lock(impl_->w_mu);
  impl_->waiters.erase(ticket);
}

std::uint64_t Engine::cursorSeq(std::string_view cursor) const {
  const Cursor c = impl_->openCursor(cursor);
  return c.valid ? c.seq : 0;
}

Status Engine::addWijk(const Wijk& wijk) {
  if (!isValidWijkCode(wijk.code)) {
    return Status(ErrorCode::kInvalidArgument, "not a CBS wijk code like WK015301", "code");
  }
  EROPAF_RETURN_IF_ERROR(checkText("name", wijk.name, kMaxShortBytes, true));
  Impl* impl = impl_.get();
  Result<bool> r = impl->runBlocking<bool>([impl, wijk](StoreSession& s) -> Result<bool> {
    EROPAF_RETURN_IF_ERROR(s.putWijk(wijk));
    const std::uint64_t v = impl->ref_version.load() + 1;
    EROPAF_RETURN_IF_ERROR(s.setMeta("reference_version", std::to_string(v)));
    impl->ref_version = v;
    return true;
  });
  return r.status();
}

Status Engine::addWorker(const Worker& worker) {
  if (!isValidWorkerId(worker.id)) {
    return Status(ErrorCode::kInvalidArgument, "worker id must be 1-64 of a-z 0-9 . _ -", "id");
  }
  EROPAF_RETURN_IF_ERROR(checkText("name", worker.name, kMaxShortBytes, true));
  if (worker.role == Role::kUnspecified || static_cast<int>(worker.role) > 4) {
    return Status(ErrorCode::kInvalidArgument, "role is not a known role", "role");
  }
  Impl* impl = impl_.get();
  Result<bool> r = impl->runBlocking<bool>([impl, worker](StoreSession& s) -> Result<bool> {
    Result<std::vector<Wijk>> known = s.wijken();
    if (!known.ok()) return known.status();
    for (const auto& w : worker.wijken) {
      const bool found =
          std::any_of(known->begin(), known->end(), [&](const Wijk& k) { return k.code == w; });
      if (!found) {
        return Status(ErrorCode::kNotFound, "wijk " + w + " is unknown: add it first", "wijken");
      }
    }
    EROPAF_RETURN_IF_ERROR(s.putWorker(worker));
    const std::uint64_t v = impl->ref_version.load() + 1;
    EROPAF_RETURN_IF_ERROR(s.setMeta("reference_version", std::to_string(v)));
    impl->ref_version = v;
    return true;
  });
  if (r.ok()) impl->wakeWho({}, worker.id);  // a changed role or wijk applies at once
  return r.status();
}

Result<std::string> Engine::createEnrollmentCode(std::string_view worker_id) {
  static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";  // no 0/O, 1/I
  std::string code;
  for (int i = 0; i < 12; ++i) {
    if (i > 0 && i % 4 == 0) code.push_back('-');
    code.push_back(kAlphabet[randombytes_uniform(32)]);
  }
  std::string plain;
  for (char c : code) {
    if (c != '-') plain.push_back(c);
  }
  Impl* impl = impl_.get();
  const std::string id(worker_id);
  Result<bool> r = impl->runBlocking<bool>([impl, id, plain](StoreSession& s) -> Result<bool> {
    Result<std::optional<Worker>> w = s.worker(id);
    if (!w.ok()) return w.status();
    if (!w->has_value()) return Status(ErrorCode::kNotFound, "no worker " + id, "worker_id");
    EROPAF_RETURN_IF_ERROR(s.addEnrollmentCode(secretHash(plain), id,
                                               impl->now() + impl->opts.enrollment_code_ttl_ms));
    EROPAF_RETURN_IF_ERROR(s.appendAccess({impl->now(), "enrollment_code", "", "", "", id, ""}));
    return true;
  });
  if (!r.ok()) return r.status();
  return code;
}

Result<std::vector<DeviceInfo>> Engine::devices() {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  return lease->s->devices();
}

Status Engine::revokeDevice(std::string_view device_id) {
  Impl* impl = impl_.get();
  const std::string id(device_id);
  Result<bool> r = impl->runBlocking<bool>([impl, id](StoreSession& s) -> Result<bool> {
    EROPAF_RETURN_IF_ERROR(s.revokeDevice(id));
    EROPAF_RETURN_IF_ERROR(impl->bumpAdminVersion(s));
    EROPAF_RETURN_IF_ERROR(s.appendAccess({impl->now(), "revoke", "", "", "", "", id}));
    return true;
  });
  if (r.ok()) impl->wakeWho(id, {});  // its waiting long polls re-authenticate: 403
  return r.status();
}

Result<std::vector<Worker>> Engine::workers() {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  return lease->s->workers();
}

Result<std::vector<AccessEntry>> Engine::accessLog(std::size_t limit) {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  return lease->s->accessLog(limit);
}

Engine::Counters Engine::counters() const {
  return {impl_->c_pushes.load(),  impl_->c_applied.load(), impl_->c_refused.load(),
          impl_->c_commits.load(), impl_->c_pulls.load(),   impl_->c_sent.load()};
}

std::uint64_t Engine::lastSeq() const { return impl_->last_seq.load(); }

void Engine::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->q_mu);
    if (impl_->stopping && !impl_->writer.joinable()) return;
    impl_->stopping = true;
  }
  impl_->q_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
  {
    std::lock_guard lock(impl_->watch_mu);
    impl_->watch_stop = true;
  }
  impl_->watch_cv.notify_all();
  if (impl_->watcher.joinable()) impl_->watcher.join();
  std::vector<std::function<void(bool)>> wake;
  {
    std::lock_guard lock(impl_->w_mu);
    for (auto& [ticket, w] : impl_->waiters) wake.push_back(std::move(w.fn));
    impl_->waiters.clear();
  }
  for (auto& fn : wake) fn(false);
}

// A device name reaches the admin's terminal (`admin devices`): no C0/C1 control characters
// or DEL, which could move the cursor, clear the screen or rewrite what the admin reads.
static Status checkDeviceName(std::string_view name) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool c1 = c == 0xC2 && i + 1 < name.size() &&
                    static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) {
      return Status(ErrorCode::kInvalidArgument, "device_name must not contain control characters",
                    "device_name");
    }
  }
  return {};
}

}  // namespace eropaf::server
