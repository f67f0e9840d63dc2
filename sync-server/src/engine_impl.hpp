// Private to the sync engine's own files (engine.cpp, engine_push.cpp, engine_pull.cpp,
// engine_admin.cpp): Engine::Impl, the state they share, and the few helpers more than one of
// them needs. Nothing else includes it; engine.hpp is the engine's interface.
//
// Impl's members are defined where their aspect lives: open/stop, sessions, the writer and
// the waiters in engine.cpp; put, holds and apply* in engine_push.cpp; cursors, pages and the
// reference cache in engine_pull.cpp; enrollment and admin commands in engine_admin.cpp.
// Threads are as engine.hpp says: only the writer thread runs jobs (and so touches the
// writer-only members below); the comments at the members say which lock guards what.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <semaphore>
#include <set>
#include <thread>

#include "engine.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/permissions.hpp"

namespace eropaf::server {
namespace detail {

inline bool inWijk(const Worker& w, std::string_view wijk) {
  return std::find(w.wijken.begin(), w.wijken.end(), wijk) != w.wijken.end();
}

/// The answer to one change: ok (accepted) or the refusal. Kept apart from Status so a
/// refusal can never be mistaken for a storage failure, which aborts the whole push.
struct Verdict {
  Status status;
  bool wrote = false;  ///< accepted and stored (an accepted no-op stores and logs nothing)
  /// A transition stored: how the server decided it (applied, or conflict).
  TransitionOutcome transition_outcome = TransitionOutcome::kUnspecified;
};

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

}  // namespace detail

/// Ends the read transaction of a borrowed session (begin(false)) when the scope ends.
struct EndRead {
  StoreSession& s;
  ~EndRead() { s.rollback(); }
};

/// XChaCha20-Poly1305 under a 32-byte server key with associated data `ad`: nonce, then the
/// ciphertext and tag (cursors, sealed TOTP secrets). aeadOpen: nullopt for a forged or
/// truncated box.
std::string aeadSeal(const std::string& key, std::string_view ad, std::string_view plain);
std::optional<std::string> aeadOpen(const std::string& key, std::string_view ad,
                                    std::string_view box);

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

  Result<const std::vector<Category>*> knownCategories(StoreSession& s);

  // The same for the wijken: a signal or case of a wijk the server does not know would reach
  // no coordinator, so it is refused per change (writer thread only).
  std::vector<Wijk> wijken_cache;
  std::uint64_t wijken_version = ~std::uint64_t{0};

  Result<const std::vector<Wijk>*> knownWijken(StoreSession& s);
  /// Ok when `wijk` is one of the server's wijken; else the refusal naming `field` and the
  /// wijk, and listing only the principal's own wijken (never anything of other wijken).
  Result<detail::Verdict> checkKnownWijk(StoreSession& s, const Worker& w, std::string_view field,
                                         std::string_view wijk);
  /// The refusal of an assignee mayAssign() refused, naming the colleagues who may take a case
  /// of `wijk` (permissions::validAssignees, as the device lists them). Only for a principal
  /// who may write the case's assignee: they see that wijk's colleagues in their reference data.
  Result<detail::Verdict> assigneeRefusal(StoreSession& s, const Status& refused,
                                          std::string_view wijk);

  std::atomic<std::uint64_t> c_pushes{0}, c_applied{0}, c_refused{0}, c_commits{0}, c_pulls{0},
      c_sent{0};

  explicit Impl(EngineOptions o) : opts(std::move(o)), hlc(*opts.clock, 0, opts.max_skew_ms) {}

  std::int64_t now() { return opts.clock->nowMs(); }

  // Cursors are opaque: "c2." + base64url(nonce | XChaCha20-Poly1305(plain cursor)) under a
  // key of this server (meta "cursor_key"). One that does not open is answered as a reset.
  std::string cursor_key;  // 32 bytes, made on first open

  std::string sealCursor(std::uint64_t seq, const std::string& scope, std::uint64_t ref,
                         bool complete) const;

  detail::Cursor openCursor(std::string_view text) const;

  // The access log names a household by a keyed hash of its key (an address), never the key
  // itself: "who saw this household" is answered by hashing the asked-for address the same way.
  std::string household_salt;  // 32 random bytes, meta "household_salt", made on first open

  std::string householdOf(const Record& r) const;

  // --- console login (engine_console_auth.cpp) ---------------------------------------------
  // TOTP secrets are sealed under this key (meta "console_key", made on first open, kept like
  // the cursor key).
  std::string console_key;
  Status loadConsoleKey(StoreSession& s);
  // Argon2id takes ~64 MiB and tens of ms per hash, on the caller's (an HTTP) thread: at most
  // two at a time, so a flood of logins can neither exhaust memory nor every HTTP thread.
  std::counting_semaphore<2> pwhash_slots{2};
  // Failed console logins per peer address, in this process (times in ms, oldest first).
  std::mutex peer_mu;
  std::map<std::string, std::deque<std::int64_t>> peer_failures;  // GUARDED_BY(peer_mu)
  bool peerThrottled(const std::string& peer);
  void peerFailed(const std::string& peer);

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

  Result<Lease> borrow();

  // --- writer ----------------------------------------------------------------------------

  bool enqueue(Job job);

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

  void writerLoop();

  /// Wakes (with true) the waiters of one device or one worker at once: revocation and worker
  /// changes take effect on long polls already waiting.
  void wakeWho(std::string_view device_id, std::string_view worker_id);

  Result<std::uint64_t> metaNumber(StoreSession& s, std::string_view key);
  /// The reference data's version as `s` (an open transaction) has it, and ref_version raised to
  /// it: another process may have changed the reference data since the watcher last looked.
  Result<std::uint64_t> freshRefVersion(StoreSession& s);

  void watchLoop();

  /// Advances this engine's clock past the one stored in meta "hlc" (what the last commit of
  /// any process on this database stamped): versions an admin process writes next to a running
  /// server, and the server's after them, stay ordered.
  void observeStoredHlc(StoreSession& s);

  /// Bumps admin_version (in the caller's write transaction): other processes' watchers wake.
  Status bumpAdminVersion(StoreSession& s);

  void wakeAll();

  /// Publishes the last committed sequence and wakes the waiters behind it whose audiences the
  /// commit touched (the others keep waiting: their next page would be empty anyway).
  void publishSeq(std::uint64_t seq, const std::set<std::string>& touched);

  // --- push ------------------------------------------------------------------------------

  /// Stores `r` with the next sequence number and logs its scope changes. `echo_device`: the
  /// device whose push `r` is exactly (see StoredRecord::echo_device), else empty.
  Status put(StoreSession& s, const Record& r, const Record* before, const Case* parent,
             std::string_view echo_device = {});

  Result<std::optional<Case>> loadCase(StoreSession& s, const std::string& id);
  /// A merged case takes its target's assignee (scope.hpp holderOf()), stamped by the server.
  Status followMergeTarget(StoreSession& s, Case& c);

  // --- authorisation facts ---------------------------------------------------------------
  // What the principal holds, from the server's stored state and its own history of who held
  // a case (scope changes). permissions.hpp decides on these facts; nothing here looks at a
  // version, time or cursor the device chose.

  Result<permissions::Hold> caseHold(StoreSession& s, const Principal& p, const Case& c);

  Result<permissions::Hold> caseHoldById(StoreSession& s, const Principal& p,
                                         const std::string& id);

  Result<permissions::Hold> signalHold(StoreSession& s, const Principal& p, const Signal& sig);

  Result<permissions::Hold> signalHoldById(StoreSession& s, const Principal& p,
                                           const std::string& id);

  // --- apply -----------------------------------------------------------------------------

  /// The pushing device when what is stored is exactly what it sent (a record it created, with
  /// nothing merged in or added by the server); otherwise nobody.
  template <class T>
  static std::string_view echoOf(const Principal& p, const T& stored, const T& sent);
  // Outer Result: storage failure (aborts the push). Inner Verdict: the change's answer.

  Result<detail::Verdict> applySignal(StoreSession& s, const Principal& p, const Signal& in,
                                      const std::optional<Signal>& cur);

  Result<detail::Verdict> applyCase(StoreSession& s, const Principal& p, Case in,
                                    const std::optional<Case>& cur);

  Result<detail::Verdict> applyMoment(StoreSession& s, const Principal& p, const ContactMoment& in,
                                      const std::optional<ContactMoment>& cur);

  Result<detail::Verdict> applyTransition(StoreSession& s, const Principal& p, Transition in,
                                          const std::optional<Transition>& cur);

  Result<detail::Verdict> applyChange(StoreSession& s, const Principal& p,
                                      const v1::Change& change);

  Status applyPush(StoreSession& s, const Principal& authenticated, const v1::PushRequest& req,
                   v1::PushResponse& resp);

  /// A console action's push (engine_console.cpp): applyPush under its own savepoint; when
  /// the server refuses any change, every change is rolled back and answered refused.
  void pushAllOrNothing(const Principal& principal, v1::PushRequest request, PushDone done);

  // --- norms (engine_norms.cpp) -----------------------------------------------------------
  // Every write that touches a case, a signal's link or a contact moment marks the case; the
  // job that wrote flushes the marks before it ends (in its own savepoint): the case_norms row
  // is what norms::deriveNorms() and firstContacts() give over the server's stored facts, as
  // the device computes it over what it holds.

  std::set<std::string> norms_dirty;  // writer thread only
  norms::Calendar calendar;           // the national holidays (norms.hpp's default)

  /// Marks the cases whose norms `r` (written over `before`) may change; stores a signal's
  /// household row.
  Status noteNorms(StoreSession& s, const Record& r, const Record* before, const Case* parent);
  /// Recomputes the marked cases (and the cases they are merged into).
  Status flushNorms(StoreSession& s);
  /// Keeps a signal's werkvoorraad row (signal_queue): present while it is untriaged.
  Status noteQueue(StoreSession& s, const Signal& sig);
  Status refreshCaseNorms(StoreSession& s, const std::string& case_id,
                          std::string* merged_into_out);
  /// A case's stored facts for its norms and its close guard: its linked signals (its own
  /// children) and the contact moments of it and of every case merged into it, transitively.
  struct CaseFacts {
    std::vector<Signal> signals;
    std::vector<ContactMoment> moments;
  };
  Result<CaseFacts> caseFacts(StoreSession& s, const std::string& case_id);
  /// Recomputes every case when the database asks for it (meta norms_recompute, set by the
  /// migration to schema 5), then clears the request. In the caller's write transaction.
  Status recomputeNormsIfAsked(StoreSession& s);

  // --- pull ------------------------------------------------------------------------------

  // Reference data changes only through admin commands (reference_version). It is built once
  // per version and set of wijken, not read from the database for every first pull.
  std::mutex ref_mu;
  std::uint64_t ref_built_for = ~std::uint64_t{0};
  std::vector<Worker> ref_workers;
  v1::ReferenceData ref_common;  // wijken and categories
  std::map<std::string, v1::ReferenceData> ref_by_wijken;

  Status fillReference(StoreSession& s, const Worker& w, v1::ReferenceData& ref);

  /// A page and the reads it makes, which must be durable before the page leaves the server.
  struct Page {
    v1::PullResponse resp;
    std::vector<AccessEntry> reads;
    std::uint64_t upto = 0;
  };

  Result<Page> buildPage(const Principal& p, const v1::PullRequest& req);

  /// Builds the page on the caller's thread; a page that carries anything is answered only
  /// after its reads are in the access log and the device's served marks are raised, in one
  /// commit of the writer (grouped with whatever else is queued).
  void pull(const Principal& p, const v1::PullRequest& req, PullDone done);
};

}  // namespace eropaf::server
