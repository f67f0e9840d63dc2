// Private to the device store's own files (store.cpp, store_writes.cpp, store_triage.cpp,
// store_reads.cpp, store_remote.cpp, store_overview.cpp): Store::Impl, the state they share, and
// the helpers more than one of them needs. Nothing else includes it; eropaf/store.hpp is the
// store's interface.
//
// Impl's members are defined where their aspect lives: statements, meta, sealed bodies,
// identity and categories in store.cpp; writing records and the outbox in store_writes.cpp;
// the access log of reads in store_reads.cpp; body-only rewrites in store_remote.cpp; the norm
// columns (refreshNorms, flushNorms) and the reference wijken in store_overview.cpp.
// Thread-safety: Store's methods take Impl::mu before they touch Impl (Store::open excepted:
// nothing else holds the store yet), so no member here locks.
#pragma once

#include <algorithm>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "eropaf/norms.hpp"
#include "eropaf/store.hpp"
#include "store/crypto.hpp"
#include "store/sqlite.hpp"

namespace eropaf::store {
namespace detail {

inline const char* tableOf(RecordKind kind) {
  switch (kind) {
    case RecordKind::kSignal:
      return "signals";
    case RecordKind::kCase:
      return "cases";
    case RecordKind::kContactMoment:
      return "contact_moments";
    case RecordKind::kTransition:
      return "transitions";
  }
  return "signals";
}

inline Status notFound(std::string_view what, std::string_view id) {
  return Status(ErrorCode::kNotFound,
                std::string(what) + " " + std::string(id) + " is not in this store");
}

/// A new transition of `c` to `to` by `id` (store_writes.cpp).
Transition makeTransition(const Case& c, CaseState to, const Identity& id, std::string reason,
                          bool online, std::int64_t now, Version v);

/// "case moved from → to", the outbox summary of a transition.
std::string moveSummary(CaseState from, CaseState to);

/// Adds to `delta` one history entry (store_triage.cpp): `field` changed from → to by `id`
/// at `now`, with the write's version `v` and a fresh id.
void addHistory(Case& delta, HistoryField field, std::string from, std::string to,
                std::string_view reason, const Identity& id, std::int64_t now, Version v);

/// kReasonRequired (field "reason") for a blank reason; the text checks otherwise.
Status requireReason(std::string_view reason);

/// A refused assignee `to`'s status with the valid colleagues for `wijk` (of `known`) named in
/// the message, as the CLI shows it.
Status withValidAssignees(const Status& refusal, std::string_view to,
                          const std::vector<Worker>& known, std::string_view wijk);

}  // namespace detail

// The store's files are one implementation split by aspect: they share these names as the
// single store.cpp did.
using detail::addHistory;
using detail::Cipher;
using detail::Db;
using detail::makeTransition;
using detail::moveSummary;
using detail::notFound;
using detail::requireReason;
using detail::Stmt;
using detail::tableOf;
using detail::Transaction;
using detail::withValidAssignees;

struct Store::Impl {
  std::unique_ptr<Db> db;
  std::unique_ptr<Cipher> cipher;
  std::shared_ptr<Clock> clock;
  Hlc hlc;
  /// How far the server's clock ran ahead of this device's wall clock at the last sync (0 when
  /// behind): incoming versions are judged by the server's clock.
  std::int64_t server_ahead_ms = 0;
  std::uint64_t node = 0;
  int schema = 0;
  std::string device_id;
  std::optional<Identity> identity;
  std::vector<Category> categories;
  /// The calendar norms count in (norms.hpp's default: the national holidays).
  norms::Calendar calendar;
  /// The cached reference wijken (nullopt: not read from meta yet).
  std::optional<std::vector<Wijk>> wijken_cache;
  /// Cases whose norm columns the running transaction must recompute (flushNorms).
  std::set<std::string> dirty_cases;
  std::mutex mu;

  Stmt upsert[4];
  Stmt select_body[4];
  Stmt update_body[4];
  Stmt insert_outbox;
  Stmt set_meta;
  Stmt insert_access;
  Stmt select_signal_case;  ///< v3: a signal row's case_id before it is rewritten
  Stmt select_case_merged;  ///< v3: a case row's merged_into
  Stmt update_norms;        ///< v3: a case row's norm columns
  Stmt select_moment_news;  ///< v3: is a moment stored, and its case's first contact times
  Stmt add_open_count;      ///< v4: open_counts n += delta for one (wijk, assignee, state)

  /// The key of an open, not deleted case in open_counts (schema v4).
  struct OpenKey {
    std::string wijk;
    std::string assignee;
    std::int64_t state = 0;
    bool operator==(const OpenKey&) const = default;
  };
  Status countOpen(const OpenKey& key, std::int64_t delta);
  Stmt case_signals;  ///< v3: the signals linked to a case
  /// v3: the moments of a case and of the cases merged into it, in no order (the norms take
  /// minimums); two index searches, no temporary b-tree.
  Stmt case_moments;

  Impl(std::unique_ptr<Db> d, std::unique_ptr<Cipher> c, std::shared_ptr<Clock> clk,
       std::int64_t max_skew)
      : db(std::move(d)), cipher(std::move(c)), clock(std::move(clk)), hlc(*clock, 0, max_skew) {}

  std::int64_t now() { return clock->nowMs(); }
  Version nextVersion() { return {hlc.tick(), node}; }

  Status prepareStatements();

  Result<std::optional<std::string>> getMeta(std::string_view key);

  Status putMeta(std::string_view key, std::string_view value);

  Status persistHlc();

  std::string householdHash(std::string_view key);

  // --- records ---------------------------------------------------------------------------

  Result<Record> decodeBody(const std::string& id, const std::string& sealed);
  /// An outbox row's delta (sealed under its change id).
  Result<Record> openDelta(const std::string& change_id, const std::string& sealed);

  Result<std::optional<Record>> load(RecordKind kind, std::string_view id);

  template <class T>
  Result<T> loadAs(std::string_view id, std::string_view what) {
    Result<std::optional<Record>> r = load(static_cast<RecordKind>(Record(T{}).index() + 1), id);
    if (!r.ok()) return r.status();
    if (!r->has_value()) return notFound(what, id);
    return std::get<T>(std::move(**r));
  }

  /// The plain index columns a record produces; equal tuples mean only the body changes.
  std::string indexKey(const Record& r);

  /// Rewrites only the sealed body of an existing row (its index columns are unchanged), so
  /// SQLite touches no index page.
  Status writeBody(const Record& full);

  /// `is_new`: the caller knows no row of this id is stored (remote apply loaded it just now),
  /// so the lookups of the row's previous links are skipped.
  Status write(const Record& full, bool is_new = false);

  Status enqueue(const Record& delta, std::string_view summary);

  /// Runs `body` in one immediate transaction, recomputing the norm columns of every case it
  /// touched (flushNorms) and persisting the clock before COMMIT.
  template <class F>
  Status inTransaction(F&& body) {
    dirty_cases.clear();
    Transaction txn(*db);
    Status st = txn.begin();
    if (st.ok()) st = body();
    if (st.ok()) st = flushNorms();
    if (st.ok()) st = persistHlc();
    if (st.ok()) st = txn.commit();
    dirty_cases.clear();
    return st;
  }

  // --- norms (store_overview.cpp) ---------------------------------------------------------

  /// Notes that the norm columns of case `case_id` (and of the case it is merged into) must be
  /// recomputed before the running transaction commits. Empty ids are ignored. write(),
  /// writeBody() and evict call it, so every path that changes a case, a signal's link or a
  /// contact moment recomputes.
  void markDirty(std::string_view case_id);

  /// Recomputes the norm columns of every case markDirty() named (and of the cases they are
  /// merged into), then forgets them.
  Status flushNorms();

  /// A case's norm columns (schema.cpp v3).
  struct NormColumns {
    std::int64_t priority = 9;  ///< effective; 9 = none
    std::int64_t derived_priority = 9;
    std::int64_t first_attempt_due_ms = norms::kNoDue;
    std::optional<std::int64_t> first_attempt_ms;
    std::int64_t first_gesprek_due_ms = norms::kNoDue;
    std::optional<std::int64_t> first_gesprek_ms;
    std::int64_t open_due_ms = norms::kNoDue;
    bool missed = false;
  };

  /// A contact moment about to be written cannot change its case's norm columns (so its
  /// case need not be recomputed).
  Result<bool> momentLeavesNorms(const ContactMoment& m);
  /// The norm columns of `c` over the signals and contact moments stored now.
  Result<NormColumns> computeNorms(const Case& c);

  /// Loads case `case_id`, its linked signals and the contact moments of it and of the cases
  /// merged into it, runs deriveNorms() and firstContacts() and updates its row's columns
  /// (priority, derived_priority, due_ms, first_attempt_due_ms, first_attempt_ms,
  /// first_gesprek_due_ms, first_gesprek_ms, open_due_ms, missed). Nothing for an absent case.
  Status refreshNorms(const std::string& case_id);

  /// After the v3 migration (meta key norms_recompute): fills the new columns of existing rows
  /// (category norms of the default codes, signal urgency, case merged_into and norms) in one
  /// transaction, and removes the key.
  Status recomputeAfterMigration();

  /// The cached reference wijken (empty before the server sent any).
  Result<std::vector<Wijk>> loadWijken();

  /// `wijk` checked for a write: an empty one becomes the identity's only wijk; one not in the
  /// cached reference wijken (when there are any) or not a CBS code is kInvalidArgument "wijk".
  Result<std::string> checkWijk(const Identity& id, std::string_view wijk);

  /// A local change: full states to write, deltas with summaries for the outbox.
  struct Change {
    Record full;
    Record delta;
    std::string summary;
  };

  Status commit(const std::vector<Change>& changes);

  // --- identity and access --------------------------------------------------------------

  Result<const Identity*> me();

  /// The cached colleagues from the server's reference data; empty before it sent any.
  Result<std::vector<Worker>> loadWorkers();

  Status requireWijk(const Identity& id, std::string_view wijk);

  // --- triage (store_triage.cpp) ----------------------------------------------------------

  /// The contact moments of a case and of every case merged into it (transitively), oldest
  /// first.
  Result<std::vector<ContactMoment>> mergedMoments(std::string_view case_id);

  /// openCase with `from_signal`: copies the signal's wijk, address and categories into
  /// `request` (ones given as well must agree), links it, and names an empty title after the
  /// categories.
  Status resolveFromSignal(const Identity& id, NewCase& request);

  /// openCase: kAlreadyExists (field "address") naming the open case of this household.
  Status refuseSecondOpenCase(std::string_view household_key);

  void logAccess(std::string_view action, std::string_view record_id,
                 std::string_view household_key);

  template <class T>
  Result<std::vector<T>> list(Stmt& q) {
    std::vector<T> out;
    for (;;) {
      Result<bool> row = q.step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Result<Record> rec = decodeBody(q.text(0), q.blob(1));
      if (!rec.ok()) return rec.status();
      if (!std::holds_alternative<T>(*rec)) {
        return Status(ErrorCode::kStorageCorrupt, "stored record has the wrong kind");
      }
      out.push_back(std::get<T>(std::move(rec).value()));
    }
    return out;
  }

  template <class T>
  Result<std::vector<T>> query(std::string_view sql, const std::vector<std::string>& text_args,
                               std::size_t limit, std::string_view blob_arg = {}) {
    Result<Stmt> q = db->prepare(sql);
    if (!q.ok()) return q.status();
    int i = 1;
    for (const auto& a : text_args) q->bind(i++, a);
    if (!blob_arg.empty()) q->bindBlob(i++, blob_arg);
    q->bind(i, limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit));
    return list<T>(*q);
  }

  Status loadIdentity();

  Status loadCategories();

  Status replaceCategories(std::span<const Category> cats);
};

}  // namespace eropaf::store
