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
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "scope.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

constexpr std::size_t kMaxChangesPerPush = 5000;
constexpr std::uint32_t kDefaultPage = 500;

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
};

Verdict refuse(ErrorCode code, std::string message, std::string field = {}) {
  return {Status(code, std::move(message), std::move(field))};
}

// The scope fingerprint a cursor carries: a change of role or wijken invalidates cursors.
std::string scopeFingerprint(const Worker& w) {
  std::vector<std::string> wijken = w.wijken;
  std::sort(wijken.begin(), wijken.end());
  std::string s = w.id + "|" + std::to_string(static_cast<int>(w.role)) + "|" +
                  (w.active ? "1" : "0");
  for (const auto& x : wijken) s += "|" + x;
  return hashHex(s).substr(0, 12);
}

struct Cursor {
  std::uint64_t seq = 0;
  std::string scope;
  std::uint64_t ref = 0;
  bool valid = false;
};

// "v1.<seq>.<scope>.<reference version>"
Cursor parseCursor(std::string_view text) {
  Cursor c;
  if (text.substr(0, 3) != "v1.") return c;
  text.remove_prefix(3);
  const auto p1 = text.find('.');
  const auto p2 = p1 == std::string_view::npos ? p1 : text.find('.', p1 + 1);
  if (p2 == std::string_view::npos) return c;
  try {
    c.seq = std::stoull(std::string(text.substr(0, p1)));
    c.scope = std::string(text.substr(p1 + 1, p2 - p1 - 1));
    c.ref = std::stoull(std::string(text.substr(p2 + 1)));
  } catch (...) {
    return Cursor{};
  }
  c.valid = true;
  return c;
}

std::string makeCursor(std::uint64_t seq, const std::string& scope, std::uint64_t ref) {
  return "v1." + std::to_string(seq) + "." + scope + "." + std::to_string(ref);
}

std::string householdOf(const Record& r) {
  if (const auto* s = std::get_if<Signal>(&r)) return s->content.household_key;
  if (const auto* c = std::get_if<Case>(&r)) return c->household_key.value;
  return {};
}

template <class T>
bool newer(const Lww<T>& in, const Lww<T>& cur) {
  return in.isSet() && in.version > cur.version;
}

/// A write that would change what the field says. Re-writing the value a field already has
/// (two people set the same assignee) changes nothing and needs no permission.
template <class T>
bool changes(const Lww<T>& in, const Lww<T>& cur) {
  return newer(in, cur) && !(in.value == cur.value);
}

}  // namespace

struct Engine::Impl {
  struct Job {
    std::function<Status(StoreSession&)> apply;
    std::function<void(Status)> finish;
  };
  struct Waiter {
    std::uint64_t seq;
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
  std::mutex q_mu;
  std::condition_variable q_cv;
  std::deque<Job> queue;
  std::vector<AccessEntry> pending_access;
  bool stopping = false;

  std::mutex w_mu;
  std::map<std::uint64_t, Waiter> waiters;
  std::uint64_t next_ticket = 0;
  std::atomic<std::uint64_t> last_seq{0};
  std::atomic<std::uint64_t> ref_version{0};

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

  explicit Impl(EngineOptions o)
      : opts(std::move(o)), hlc(*opts.clock, 0, opts.max_skew_ms) {}

  std::int64_t now() { return opts.clock->nowMs(); }

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
    const bool queued = enqueue(Job{
        [fn, result](StoreSession& s) -> Status {
          *result = fn(s);
          return (*result)->ok() ? Status() : (*result)->status();
        },
        [&done, result](Status st) {
          if (!st.ok() && (!result->has_value() || (*result)->ok())) *result = Result<T>(st);
          done.set_value();
        }});
    if (!queued) return Status(ErrorCode::kUnavailable, "the server is stopping");
    fut.wait();
    return std::move(**result);
  }

  void writerLoop() {
    for (;;) {
      std::vector<Job> jobs;
      std::vector<AccessEntry> access;
      {
        std::unique_lock lock(q_mu);
        q_cv.wait(lock, [&] { return stopping || !queue.empty() || !pending_access.empty(); });
        if (queue.empty() && pending_access.empty() && stopping) break;
        while (!queue.empty() && jobs.size() < opts.max_group) {
          jobs.push_back(std::move(queue.front()));
          queue.pop_front();
        }
        access.swap(pending_access);
      }
      std::vector<Status> results(jobs.size());
      StoreSession& s = *writer_session;
      Status st = s.begin(true);
      if (st.ok()) {
        for (std::size_t i = 0; i < jobs.size() && st.ok(); ++i) {
          st = s.savepoint();
          if (!st.ok()) break;
          results[i] = jobs[i].apply(s);
          st = results[i].ok() ? s.releaseSavepoint() : s.rollbackToSavepoint();
        }
        for (const AccessEntry& e : access) {
          if (!st.ok()) break;
          st = s.appendAccess(e);
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
        if (!access.empty()) {
          // Keep the access entries for the next commit: the log must not lose a line.
          std::lock_guard lock(q_mu);
          pending_access.insert(pending_access.begin(), access.begin(), access.end());
        }
      } else {
        ++c_commits;
        Result<std::uint64_t> last = s.lastSeq();
        if (last.ok()) publishSeq(*last);
      }
      for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].finish(results[i]);
      if (!st.ok() && jobs.empty()) {
        // Only access entries and the commit failed: back off instead of spinning.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  void publishSeq(std::uint64_t seq) {
    std::vector<std::function<void(bool)>> wake;
    {
      std::lock_guard lock(w_mu);
      last_seq.store(seq);
      for (auto it = waiters.begin(); it != waiters.end();) {
        if (it->second.seq < seq) {
          wake.push_back(std::move(it->second.fn));
          it = waiters.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& fn : wake) fn(true);
  }

  void logAccess(AccessEntry e) {
    std::lock_guard lock(q_mu);
    pending_access.push_back(std::move(e));
  }

  // --- push ------------------------------------------------------------------------------

  Status put(StoreSession& s, const Record& r, const Record* before, const Case* parent) {
    Result<std::uint64_t> seq = s.putRecord(r, indexOf(r, parent));
    if (!seq.ok()) return seq.status();
    if (!std::holds_alternative<Case>(r) && !std::holds_alternative<Signal>(r)) return {};
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

  // A coach may act on a case assigned to them, or on work that predates the case's
  // reassignment (their offline work from before is kept).
  static bool coachMayWork(const Worker& w, const Case& c, const Version& write) {
    if (c.assignee.value == w.id) return true;
    return inWijk(w, c.wijk.value) && write < c.assignee.version;
  }

  /// Outer Result: storage failure (aborts the push). Inner Status: the change's answer.
  Result<Verdict> applySignal(StoreSession& s, const Worker& w, Signal in,
                             std::optional<Signal> cur) {
    const bool has_content = !in.created.isZero();
    const bool cur_content = cur && !cur->created.isZero();
    if (has_content && cur_content) {
      if (cur->created != in.created || cur->content != in.content) {
        return refuse(ErrorCode::kFailedPrecondition, "a signal's content is fixed once synced",
                      "content");
      }
    } else if (has_content) {
      if (in.content.reporter_id != w.id) {
        return refuse(ErrorCode::kPermissionDenied, "a signal is reported in your own name",
                      "content.reporter_id");
      }
      if (in.content.source_role != w.role) {
        return refuse(ErrorCode::kPermissionDenied, "source_role is not your role",
                      "content.source_role");
      }
      Result<const std::vector<Category>*> known = knownCategories(s);
      if (!known.ok()) return known.status();
      Status cats = checkCategories("content.categories", in.content.categories, **known, false);
      if (!cats.ok()) return Verdict{cats};
    } else if (!cur) {
      return refuse(ErrorCode::kNotFound, "unknown signal " + in.id, "id");
    }
    const SignalContent& content = cur_content ? cur->content : in.content;
    const bool coordinator = w.role == Role::kCoordinator && inWijk(w, content.wijk);
    const Signal base = cur.value_or(Signal{});
    const bool triage =
        changes(in.case_id, base.case_id) || changes(in.triage_state, base.triage_state) ||
        changes(in.duplicate_of, base.duplicate_of);
    if (triage && !coordinator) {
      const bool creation = !cur && in.triage_state.value == TriageState::kNieuw &&
                            !in.case_id.isSet() && !in.duplicate_of.isSet();
      bool own_link = false;
      if (!creation && w.role == Role::kWijkcoach && content.reporter_id == w.id &&
          in.case_id.isSet() && !in.duplicate_of.isSet()) {
        Result<std::optional<Case>> target = loadCase(s, in.case_id.value);
        if (!target.ok()) return target.status();
        own_link = target->has_value() && (*target)->assignee.value == w.id;
      }
      if (!creation && !own_link) {
        return refuse(ErrorCode::kPermissionDenied,
                      "only a coordinator of the wijk triages signals", "triage_state");
      }
    }
    if (changes(in.deleted, base.deleted) && !coordinator) {
      return refuse(ErrorCode::kPermissionDenied, "only a coordinator deletes a signal",
                    "deleted");
    }
    Signal merged = cur.value_or(in);
    if (cur) mergeInto(merged, in);
    Result<std::optional<Case>> linked = loadCase(s, merged.case_id.value);
    if (!linked.ok()) return linked.status();
    const Record before = cur ? Record(*cur) : Record(Signal{});
    EROPAF_RETURN_IF_ERROR(put(s, merged, cur ? &before : nullptr,
                               linked->has_value() ? &**linked : nullptr));
    return Verdict{};
  }

  Result<Verdict> applyCase(StoreSession& s, const Worker& w, const Case& in,
                           std::optional<Case> cur) {
    if (!cur) {
      if (in.created.isZero()) return refuse(ErrorCode::kNotFound, "unknown case " + in.id, "id");
      if (w.role != Role::kCoordinator && w.role != Role::kWijkcoach) {
        return refuse(ErrorCode::kPermissionDenied, "only a coordinator or wijkcoach opens a case");
      }
      if (in.opened_by != w.id) {
        return refuse(ErrorCode::kPermissionDenied, "a case is opened in your own name",
                      "opened_by");
      }
      if (!in.wijk.isSet() || !inWijk(w, in.wijk.value)) {
        return refuse(ErrorCode::kPermissionDenied, "the case's wijk is not one of yours", "wijk");
      }
      if (in.state.value != CaseState::kNieuw) {
        return refuse(ErrorCode::kFailedPrecondition, "a new case starts in state nieuw", "state");
      }
      if (!in.assignee.value.empty()) {
        return refuse(ErrorCode::kFailedPrecondition,
                      "a new case starts unassigned; assign it afterwards", "assignee");
      }
    } else {
      const Case& c = *cur;
      const bool coordinator = w.role == Role::kCoordinator && inWijk(w, c.wijk.value);
      if (changes(in.state, c.state)) {
        return refuse(ErrorCode::kPermissionDenied, "a case's state changes through transitions",
                      "state");
      }
      if (coordinator) {
        if (changes(in.wijk, c.wijk) && !inWijk(w, in.wijk.value)) {
          return refuse(ErrorCode::kPermissionDenied, "the new wijk is not one of yours", "wijk");
        }
      } else if (w.role == Role::kWijkcoach) {
        struct F {
          bool changed;
          const char* name;
        };
        const Version write = maxVersion(Record(in));
        const bool may_work = coachMayWork(w, c, write);
        if (changes(in.assignee, c.assignee)) {
          const bool pickup = c.assignee.value.empty() && in.assignee.value == w.id &&
                              isOpenState(c.state.value) && inWijk(w, c.wijk.value);
          if (!pickup) {
            return refuse(ErrorCode::kPermissionDenied,
                          "a wijkcoach only picks up an unassigned case of their wijk",
                          "assignee");
          }
        }
        bool cats_changed = false;
        for (const auto& [code, entry] : in.categories) {
          auto it = c.categories.find(code);
          const bool was = it != c.categories.end() && it->second.present;
          const bool newer_entry = it == c.categories.end() || entry.version > it->second.version;
          if (newer_entry && entry.present != was) cats_changed = true;
        }
        if ((changes(in.title, c.title) || cats_changed) && !may_work) {
          return refuse(ErrorCode::kPermissionDenied,
                        "a wijkcoach edits only cases assigned to them", "title");
        }
        for (const F& f : {F{changes(in.wijk, c.wijk), "wijk"},
                           F{changes(in.household_key, c.household_key), "household_key"},
                           F{changes(in.address, c.address), "address"},
                           F{changes(in.priority, c.priority), "priority"},
                           F{changes(in.first_contact_due_ms, c.first_contact_due_ms),
                             "first_contact_due_ms"},
                           F{changes(in.resolution_code, c.resolution_code), "resolution_code"},
                           F{changes(in.merged_into, c.merged_into), "merged_into"},
                           F{changes(in.conflict, c.conflict), "conflict"},
                           F{changes(in.deleted, c.deleted), "deleted"}}) {
          if (f.changed) {
            return refuse(ErrorCode::kPermissionDenied,
                          std::string("a wijkcoach may not change a case's ") + f.name, f.name);
          }
        }
        // resolution_text comes with a close or cancel, which only coordinators make.
        if (changes(in.resolution_text, c.resolution_text)) {
          return refuse(ErrorCode::kPermissionDenied, "a wijkcoach does not close cases",
                        "resolution_text");
        }
      } else {
        return refuse(ErrorCode::kPermissionDenied, "you may not change cases");
      }
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
    // Clearing the conflict flag resolves the conflicting transitions.
    const bool resolved = cur && cur->conflict.value && !merged.conflict.value;
    const Record before = cur ? Record(*cur) : Record(Case{});
    EROPAF_RETURN_IF_ERROR(put(s, merged, cur ? &before : nullptr, nullptr));
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
    return Verdict{};
  }

  Result<Verdict> applyMoment(StoreSession& s, const Worker& w, const ContactMoment& in,
                             std::optional<ContactMoment> cur) {
    const std::string case_id = cur && !cur->created.isZero() ? cur->case_id : in.case_id;
    if (in.created.isZero() && !cur) {
      return refuse(ErrorCode::kNotFound, "unknown contact moment " + in.id, "id");
    }
    Result<std::optional<Case>> c = loadCase(s, case_id);
    if (!c.ok()) return c.status();
    if (!c->has_value()) {
      return refuse(ErrorCode::kNotFound, "the contact moment's case is unknown", "case_id");
    }
    const Case& parent = **c;
    const bool coordinator = w.role == Role::kCoordinator && inWijk(w, parent.wijk.value);
    if (!in.created.isZero()) {
      if (cur && !cur->created.isZero()) {
        ContactMoment a = *cur, b = in;
        a.deleted = b.deleted = {};
        if (a != b) {
          return refuse(ErrorCode::kFailedPrecondition,
                        "a contact moment is never edited: record a correction", "id");
        }
      } else {
        if (in.author_id != w.id) {
          return refuse(ErrorCode::kPermissionDenied, "a contact moment is recorded in your own name",
                        "author_id");
        }
        // A note is never lost: a coach of the wijk who knows the case (ids are unguessable)
        // keeps a contact moment even when the case was reassigned while they were offline.
        const bool coach = w.role == Role::kWijkcoach && inWijk(w, parent.wijk.value);
        if (!coordinator && !coach) {
          return refuse(ErrorCode::kPermissionDenied,
                        "contact moments are recorded by the case's wijkcoach or a coordinator",
                        "case_id");
        }
      }
    }
    const ContactMoment base = cur.value_or(ContactMoment{});
    if (newer(in.deleted, base.deleted) && !coordinator) {
      return refuse(ErrorCode::kPermissionDenied, "only a coordinator removes a contact moment",
                    "deleted");
    }
    ContactMoment merged = cur.value_or(in);
    if (cur) mergeInto(merged, in);
    EROPAF_RETURN_IF_ERROR(put(s, merged, nullptr, &parent));
    return Verdict{};
  }

  Result<Verdict> applyTransition(StoreSession& s, const Worker& w, Transition in,
                                 std::optional<Transition> cur) {
    if (in.created.isZero()) {
      return refuse(ErrorCode::kPermissionDenied, "a transition's outcome is set by the server",
                    "outcome");
    }
    in.outcome = {};  // server-owned
    if (cur && !cur->created.isZero()) {
      Transition a = *cur, b = in;
      a.outcome = b.outcome = {};
      a.deleted = b.deleted = {};
      if (a != b) {
        return refuse(ErrorCode::kFailedPrecondition, "a transition is never edited", "id");
      }
      return Verdict{};  // already known: nothing to do
    }
    if (in.actor_id != w.id || in.actor_role != w.role) {
      return refuse(ErrorCode::kPermissionDenied, "a transition is made in your own name and role",
                    "actor_id");
    }
    Result<std::optional<Case>> loaded = loadCase(s, in.case_id);
    if (!loaded.ok()) return loaded.status();
    if (!loaded->has_value()) {
      return refuse(ErrorCode::kNotFound, "the transition's case is unknown", "case_id");
    }
    Case c = std::move(**loaded);
    const bool pickup = in.to == CaseState::kToegewezen &&
                        (in.from == CaseState::kNieuw || in.from == CaseState::kHeropend);
    if (!inWijk(w, c.wijk.value)) {
      return refuse(ErrorCode::kPermissionDenied, "you may not move this case", "case_id");
    }
    // A coach of the wijk who is not (or no longer) the assignee: the move is kept, but as a
    // conflict for the coordinator, never applied and never silently dropped.
    const bool stale_coach = w.role == Role::kWijkcoach && !pickup &&
                             !coachMayWork(w, c, in.created);
    Status rule = checkTransition(in.from, in.to, w.role, in.reason, in.made_offline);
    if (!rule.ok()) return Verdict{rule};

    const CaseState current = c.state.value;
    bool applied = false;
    CaseState next = current;
    if (stale_coach) {
      applied = false;
    } else if (pickup && w.role == Role::kWijkcoach && c.assignee.value != w.id) {
      applied = false;  // someone else has it: two coaches picked it up
    } else if (in.from == current) {
      applied = true;
      next = in.to;
    } else if (in.to == current) {
      applied = true;  // the case is already where this move wanted it
    } else if (checkTransition(current, in.to, w.role, in.reason, in.made_offline).ok()) {
      applied = true;
      next = in.to;
    }
    const Version v = serverVersion();
    in.outcome.set(applied ? TransitionOutcome::kApplied : TransitionOutcome::kConflict, v);
    const Record before(c);
    c.state.set(next, v);  // re-stamped either way: the server's state is the truth
    if (!applied) c.conflict.set(true, v);
    if (applied && pickup && c.assignee.value.empty()) c.assignee.set(w.id, v);
    EROPAF_RETURN_IF_ERROR(put(s, c, &before, nullptr));
    EROPAF_RETURN_IF_ERROR(put(s, in, nullptr, &c));
    return Verdict{};
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
    {
      std::lock_guard lock(hlc_mu);
      const std::uint64_t newest = maxVersion(incoming).hlc;
      if (hlc.tooFarAhead(newest)) return Verdict{hlc.receive(newest)};  // kClockSkew
      static_cast<void>(hlc.receive(newest));
    }
    Result<std::optional<StoredRecord>> existing = s.getRecord(recordId(incoming));
    if (!existing.ok()) return existing.status();
    if (existing->has_value() && (*existing)->record.index() != incoming.index()) {
      return refuse(ErrorCode::kInvalidArgument, "that id belongs to a record of another kind",
                    "id");
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
            return applySignal(s, w, rec, cur(Signal{}));
          } else if constexpr (std::is_same_v<T, Case>) {
            return applyCase(s, w, rec, cur(Case{}));
          } else if constexpr (std::is_same_v<T, ContactMoment>) {
            return applyMoment(s, w, rec, cur(ContactMoment{}));
          } else {
            return applyTransition(s, w, rec, cur(Transition{}));
          }
        },
        incoming);
    if (r.ok() && r->status.ok()) {
      logAccess({now(), "push:" + std::string(toString(recordKind(incoming))),
                 recordId(incoming), householdOf(incoming), w.id, "", p.device_id});
    }
    return r;
  }

  Status applyPush(StoreSession& s, const Principal& p, const v1::PushRequest& req,
                   v1::PushResponse& resp) {
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
      Result<std::optional<AppliedChange>> prior = s.appliedChange(change.change_id());
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

  Result<v1::PullResponse> pull(const Principal& p, const v1::PullRequest& req) {
    ++c_pulls;
    const Worker& w = p.worker;
    const std::string scope = scopeFingerprint(w);
    const std::uint64_t ref_now = ref_version.load();
    v1::PullResponse resp;
    Cursor cursor = parseCursor(req.cursor());
    const bool reset = !req.cursor().empty() && (!cursor.valid || cursor.scope != scope);
    const std::uint64_t after = reset ? 0 : cursor.seq;
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
    const std::uint64_t upto =
        full_page ? rows->back().seq : std::max(after, *snapshot_last);
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
    std::set<std::string> sent, evicted;
    auto send = [&](const Record& r, View view) {
      if (!sent.insert(recordId(r)).second) return;
      wire::toProto(view == View::kRedacted ? redact(r) : r, *resp.add_records());
      ++c_sent;
      if (view == View::kFull) {
        logAccess({now(), "pull:" + std::string(toString(recordKind(r))), recordId(r),
                   householdOf(r), w.id, "", p.device_id});
      }
    };
    auto sendWithChildren = [&](const Case& c) -> Status {
      Result<std::vector<StoredRecord>> kids = s.children(c.id);
      if (!kids.ok()) return kids.status();
      for (const StoredRecord& k : *kids) {
        const View kv = viewOf(w, k.record, &c);
        if (kv != View::kNone) send(k.record, kv);
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
      if (left && view != View::kFull && evicted.insert(id).second) {
        resp.add_evictions()->set_record_id(id);
      }
      if (view == View::kNone) continue;
      send(r, view);
      if (const auto* c = std::get_if<Case>(&r); c && view == View::kFull && entered_full) {
        EROPAF_RETURN_IF_ERROR(sendWithChildren(*c));
      }
    }
    for (const StoredRecord& row : *rows) {
      const Record& r = row.record;
      if (sent.count(recordId(r)) != 0) continue;
      Result<const Case*> parent = parentOf(r);
      if (!parent.ok()) return parent.status();
      const View view = viewOf(w, r, *parent);
      if (view != View::kNone) send(r, view);
    }
    resp.set_next_cursor(makeCursor(upto, scope, ref_now));
    resp.set_more(full_page);
    resp.set_reset(reset);
    if (req.cursor().empty() || reset || cursor.ref != ref_now) {
      EROPAF_RETURN_IF_ERROR(fillReference(s, w, *resp.mutable_reference()));
    }
    wire::toProto(serverVersion(), *resp.mutable_server_version());
    return resp;
  }
};

// --- Engine ------------------------------------------------------------------------------------

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { stop(); }

Result<std::unique_ptr<Engine>> Engine::open(EngineOptions options) {
  if (sodium_init() < 0) return Status(ErrorCode::kInternal, "libsodium failed to initialise");
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
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
    Status st = s.setMeta("node", std::string_view(reinterpret_cast<const char*>(&impl->node),
                                                   sizeof impl->node));
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
  EROPAF_RETURN_IF_ERROR(s.commit());
  Result<std::uint64_t> last = s.lastSeq();
  if (!last.ok()) return last.status();
  impl->last_seq = *last;
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->writerLoop(); });
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
  return Principal{std::string(device_id), std::move(**worker)};
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
  const bool queued = impl->enqueue(Impl::Job{
      [impl, req, resp, who](StoreSession& s) {
        resp->Clear();
        return impl->applyPush(s, *who, *req, *resp);
      },
      [resp, shared_done](Status st) {
        if (st.ok()) {
          (*shared_done)(std::move(*resp));
        } else {
          (*shared_done)(st);
        }
      }});
  if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

static Status checkDeviceName(std::string_view name);  // at the end of this file

void Engine::enroll(v1::EnrollRequest request, EnrollDone done) {
  std::string code;
  for (const char c : request.code()) {
    if (c == '-' || c == ' ') continue;
    code.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (code.empty() || code.size() > 64) {
    done(Status(ErrorCode::kInvalidArgument, "the enrollment code is missing", "code"));
    return;
  }
  if (Status st = checkText("device_name", request.device_name(), kMaxShortBytes, false); !st.ok()) {
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
        const Status bad(ErrorCode::kUnauthenticated,
                         "the enrollment code is unknown, used or expired", "code");
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
      [resp, shared_done](Status st) {
        if (st.ok()) {
          (*shared_done)(std::move(*resp));
        } else {
          (*shared_done)(st);
        }
      }});
  if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

Result<v1::PullResponse> Engine::pull(const Principal& principal, const v1::PullRequest& request) {
  return impl_->pull(principal, request);
}

std::uint64_t Engine::waitForChange(std::uint64_t seq, std::function<void(bool)> fn) {
  {
    std::lock_guard lock(impl_->w_mu);
    if (impl_->last_seq.load() <= seq && !impl_->stopping) {
      const std::uint64_t ticket = ++impl_->next_ticket;
      impl_->waiters.emplace(ticket, Impl::Waiter{seq, std::move(fn)});
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

std::uint64_t Engine::cursorSeq(std::string_view cursor) {
  const Cursor c = parseCursor(cursor);
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
      const bool found = std::any_of(known->begin(), known->end(),
                                     [&](const Wijk& k) { return k.code == w; });
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
    EROPAF_RETURN_IF_ERROR(s.appendAccess({impl->now(), "revoke", "", "", "", "", id}));
    return true;
  });
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
  return {impl_->c_pushes.load(), impl_->c_applied.load(), impl_->c_refused.load(),
          impl_->c_commits.load(), impl_->c_pulls.load(), impl_->c_sent.load()};
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
