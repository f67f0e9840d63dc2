// The device store: a worker's signals, cases, contact moments and transitions in one SQLite
// file, usable fully offline.
//
// Promises:
// - Durable on return: every write that returned ok is on disk (WAL, synchronous=FULL) and
//   survives an app kill or power loss. The record and its outbox row commit in one
//   transaction, so the outbox is never behind or ahead of the data.
// - Sensitive content (addresses, texts, notes) is encrypted at rest with XChaCha20-Poly1305
//   under a key the host app supplies; lookups by address use a keyed hash.
// - Every write is validated first; a refused write changes nothing.
// - Schema migrations are numbered and run on open, in one transaction each.
//
// Thread-safety: a Store may be used from several threads at once; calls are serialised by an
// internal mutex. Returned values are copies the caller owns.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eropaf/clock.hpp"
#include "eropaf/model.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/status.hpp"

namespace eropaf::store {

/// 32 bytes from the platform key store (Android Keystore, iOS Keychain).
using Key = std::array<std::uint8_t, 32>;

/// The schema version this build writes.
int currentSchemaVersion() noexcept;

struct OpenOptions {
  std::string path;  ///< the SQLite file; created when missing
  Key key{};
  /// Wall clock for HLC and timestamps; the system clock when null. Shared so tests can keep it.
  std::shared_ptr<Clock> clock;
  std::int64_t max_skew_ms = kDefaultMaxSkewMs;
  /// Test and tooling only: stop migrating at this schema version (0 = the current one).
  int migrate_to = 0;
  /// Test only: the name of a registered SQLite VFS to use (fault injection); empty = default.
  std::string vfs;
};

/// Who works on this device. Set locally (CLI `init`) or by enrollment.
struct Identity {
  std::string worker_id;
  std::string name;
  Role role = Role::kUnspecified;
  std::vector<std::string> wijken;
  std::string device_id;
};

struct NewSignal {
  /// Empty: the identity's wijk when it has exactly one. A wijk not in the cached reference
  /// wijken (when there are any) is refused naming the valid ones.
  std::string wijk;
  Address address;
  std::vector<std::string> categories;
  Urgency urgency = Urgency::kNormaal;
  std::optional<std::int64_t> observed_at_ms;  ///< now when unset
  std::string text;
  Informed informed = Informed::kUnspecified;
};

struct NewCase {
  std::string wijk;  ///< as NewSignal::wijk
  Address address;
  std::string title;
  std::vector<std::string> categories;
  /// A coordinator's override, stored only with `priority_reason`; without a reason the case
  /// carries no priority and the derived one (norms::deriveNorms) is used.
  std::optional<Priority> priority;
  std::vector<std::string> signal_ids;  ///< signals to link right away
  std::string priority_reason;          ///< why `priority` overrides the derived one
  /// Open the case for this signal: its wijk, address and categories are copied (a wijk or
  /// address given as well must be the same), it is linked, and an empty title becomes the
  /// labels of the categories.
  std::string from_signal;
  /// Open it even though the household already has an open case (else kAlreadyExists, field
  /// "address", naming that case's short id).
  bool new_case = false;
};

/// How linkSignal links a signal of another household (its household key differs from the
/// case's): only with force and a reason, which is kept as the signal's triage_reason.
struct LinkOptions {
  bool force = false;
  std::string reason;
};

struct NewContactMoment {
  std::string case_id;
  ContactKind kind = ContactKind::kHuisbezoek;
  ContactOutcome outcome = ContactOutcome::kUnspecified;
  std::string note;
  std::optional<std::int64_t> at_ms;  ///< now when unset
  std::string corrects_id;
};

struct MoveCase {
  std::string case_id;
  CaseState to = CaseState::kUnspecified;
  std::string reason;
  /// The caller is connected to the server right now (transitions that need a connection are
  /// refused otherwise).
  bool online = false;
  /// Closing (to afgesloten): the resolution code (resolution.hpp); empty for other moves.
  std::string resolution_code{};
};

enum class OutboxStatus : std::int32_t { kPending = 1, kRefused = 2 };

/// One change not yet accepted by the server.
struct OutboxEntry {
  std::int64_t seq = 0;
  std::string change_id;
  RecordKind kind = RecordKind::kSignal;
  std::string record_id;
  std::string summary;  ///< "signal created", "case moved toegewezen → contact_zoeken"
  std::int64_t created_ms = 0;
  OutboxStatus status = OutboxStatus::kPending;
  Status refusal;  ///< why the server refused it (status kRefused)
  Record delta;    ///< the partial record state to push
};

/// Everything known about one household.
struct Household {
  std::string household_key;
  std::vector<Signal> signals;
  std::vector<Case> cases;
  std::vector<ContactMoment> contact_moments;
  std::vector<Transition> transitions;
};

/// Something a remote apply did to this worker's own work, for the sync summary's sentences.
struct ApplyNotice {
  enum class Kind : std::int32_t {
    kAssignedToMe = 1,  ///< a case is now assigned to me (it was not, or was not here)
    kMoveConflict = 2,  ///< a move I made went to the coordinator's conflict list
    kPickUpLost = 3,    ///< a case I picked up offline was picked up by someone else first
  };
  Kind kind = Kind::kAssignedToMe;
  std::string case_id;
  std::string record_id;                     ///< the case, or my transition (a move or pick-up)
  CaseState from = CaseState::kUnspecified;  ///< the move (kMoveConflict, kPickUpLost)
  CaseState to = CaseState::kUnspecified;
};

struct ApplyStats {
  std::size_t inserted = 0;
  std::size_t updated = 0;    ///< merged and changed
  std::size_t unchanged = 0;  ///< merged, already known
  std::size_t skipped = 0;    ///< not applied: invalid, or versions beyond the clock bound
  Status first_skip;          ///< why the first skipped one was skipped
  /// What the page did to the identity's own work, in page order (ApplyNotice).
  std::vector<ApplyNotice> notices;
};

/// What the sync client keeps between runs. The token is stored encrypted.
struct SyncState {
  std::string server_url;
  std::string token;   ///< bearer token from enrollment; empty before enrollment
  std::string cursor;  ///< opaque pull cursor from the server; empty for a first pull
  std::int64_t last_sync_ms = 0;
};

struct ListOptions {
  std::size_t limit = 0;  ///< 0 = no limit
};

/// What overview() selects. Every filter narrows; unset ones do not filter.
struct OverviewQuery {
  std::vector<std::string> wijken;      ///< empty: all of the identity's
  std::optional<std::string> assignee;  ///< "" = unassigned only
  std::optional<CaseState> state;
  std::string category;  ///< a category code; empty = any
  bool overdue_only = false;
  std::size_t limit = 0;               ///< rows to return; 0 = all
  std::optional<std::int64_t> now_ms;  ///< tests; the store clock otherwise
};

/// One case with its norms as the overview shows it.
struct OverviewRow {
  Case kase;
  norms::CaseNorms norms;
  norms::FirstContacts contacts;
  norms::NormStatus status;
  /// A clock was missed (met late), or a clock with no contact yet is past due at now.
  bool overdue = false;
};

struct Overview {
  std::vector<OverviewRow> rows;
  std::size_t total = 0;    ///< cases matching the query (not only `rows`)
  std::size_t overdue = 0;  ///< of those, overdue
};

/// Others of the same household (keyed household hash): open cases and recent signals.
struct DuplicateHint {
  std::vector<std::string> open_case_ids;
  std::size_t recent_signals = 0;  ///< observed in the 12 weeks before now
};

class Store {
 public:
  /// Opens or creates the store at options.path and migrates it to the current schema.
  /// kCrypto when the key does not match the one the file was created with; kUnsupported for
  /// a file written by a newer schema; kStorageCorrupt / kIoError from SQLite.
  static Result<std::unique_ptr<Store>> open(OpenOptions options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schemaVersion() const;
  /// This device's node id (the tie-break in every Version it writes).
  std::uint64_t node() const;
  std::uint64_t hlcLast() const;

  Status setIdentity(const Identity& identity);
  std::optional<Identity> identity() const;

  /// Replaces the cached reference data. Categories default to defaultCategories().
  Status setCategories(std::span<const Category> categories);
  std::vector<Category> categories() const;

  // --- writes: each validated, durable on return, with its outbox row ---------------------

  /// Any role but admin. kUnknownCategory, kRequiredFieldMissing, kTextTooLong, kInvalidUtf8...
  Result<Signal> createSignal(const NewSignal& request);
  /// Coordinator or wijkcoach (in one of their wijken). State nieuw, unassigned. A household
  /// with an open case already: kAlreadyExists (field "address") unless request.new_case.
  Result<Case> openCase(const NewCase& request);
  /// Links a signal to a case (triage state gekoppeld). Coordinator; a wijkcoach for a case
  /// assigned to them. A signal of another household: kFailedPrecondition (field "signal_id")
  /// unless options.force with a reason (a coordinator's: it becomes the triage_reason).
  Status linkSignal(std::string_view signal_id, std::string_view case_id);
  Status linkSignal(std::string_view signal_id, std::string_view case_id,
                    const LinkOptions& options);
  /// Coordinator: assigns a coach (moving nieuw/heropend → toegewezen) or reassigns, with a
  /// history entry (from, to, reason) in the same delta. An assignee the cached reference data
  /// says cannot take the case is refused (field "assignee") naming the valid colleagues.
  Status assignCase(std::string_view case_id, std::string_view worker_id,
                    std::string_view reason = {});
  /// Wijkcoach: takes an open unassigned case of one of their wijken (→ toegewezen, assignee me).
  Status pickUpCase(std::string_view case_id);
  /// Coordinator: overrides the priority with a reason (kReasonRequired, field "reason"):
  /// priority, priority_reason and a history entry (from the previous priority) in one delta.
  Status setPriority(std::string_view case_id, Priority priority, std::string_view reason);
  /// Author: the assigned wijkcoach or a coordinator.
  Result<ContactMoment> addContactMoment(const NewContactMoment& request);
  /// Checked against the state table for the identity's role. A wijkcoach moves only cases
  /// assigned to them.
  Result<Transition> moveCase(const MoveCase& request);
  /// Coordinator: takes a case off the conflict list, optionally moving it to the state the
  /// coordinator chose (a transition made online, with `reason`). kFailedPrecondition when the
  /// case is not in conflict.
  Status resolveConflict(std::string_view case_id, std::optional<CaseState> to,
                         std::string_view reason);

  // --- triage (docs/triage.md "Triage verbs"); coordinators of the record's wijk ----------

  /// Rejects a signal: triage state afgewezen, triage_reason = reason (required), unlinked
  /// from its case. The reporter sees "afgewezen", never the reason.
  Status rejectSignal(std::string_view signal_id, std::string_view reason);
  /// Marks a signal a duplicate of another (triage state duplicaat, duplicate_of). Marking one
  /// as a duplicate of a duplicate points it at that one's original; self, a cycle or a
  /// rejected original is refused. The duplicate is linked to the original's case (or unlinked
  /// when the original has none), so the case's norms count its urgency.
  Status markDuplicate(std::string_view signal_id, std::string_view of_signal_id);
  /// Merges case `case_id` into `into_id`: both open, different, the target not merged itself,
  /// a coordinator of both wijken. The source's signals are relinked to the target, the target
  /// gains the source's categories, the source gets merged_into and the target's assignee and
  /// is closed (→ afgesloten, resolution samengevoegd, reason "samengevoegd met casus <short
  /// id>: <reason>"). Returns the target.
  Result<Case> mergeCase(std::string_view case_id, std::string_view into_id,
                         std::string_view reason);
  /// Reporter: re-files a signal whose creation the server refused, with another wijk (checked
  /// against the cached wijken when there are any). The signal is rewritten (content otherwise
  /// unchanged, triage back to nieuw) and queued as a new pending change; the refused row goes.
  /// kFailedPrecondition (field "signal_id") for a signal the server did not refuse.
  Result<Signal> refileSignal(std::string_view signal_id, std::string_view wijk);

  // --- reads ------------------------------------------------------------------------------
  //
  // Every read keeps "not here" apart from "could not read": an absent record is an empty
  // optional or an empty list, while a row that does not decrypt (kCrypto), does not decode
  // (kStorageCorrupt) or cannot be read (kIoError, kStorageCorrupt from SQLite) is an error.
  // A read never answers "not found" for a record it failed to read.

  /// The signal with this id; nullopt when this store does not hold it.
  Result<std::optional<Signal>> signal(std::string_view id) const;
  /// The case with this id; nullopt when this store does not hold it.
  Result<std::optional<Case>> getCase(std::string_view id) const;
  /// Contact moments of a case, oldest first; empty when there are none (or no such case).
  Result<std::vector<ContactMoment>> contactMoments(std::string_view case_id) const;
  /// Transitions of a case, oldest first; empty when there are none (or no such case).
  Result<std::vector<Transition>> transitions(std::string_view case_id) const;
  /// The case's own contact moments plus those of every case merged into it (transitively),
  /// oldest first: what `case show` lists after a merge.
  Result<std::vector<ContactMoment>> caseMoments(std::string_view case_id) const;
  /// The signals linked to a case (not deleted), oldest first.
  Result<std::vector<Signal>> caseSignals(std::string_view case_id) const;
  /// The refused outbox row of a record (its first), if any: "geweigerd" and why.
  Result<std::optional<OutboxEntry>> refusal(std::string_view record_id) const;

  /// Signals I reported, newest first.
  Result<std::vector<Signal>> mySignals(ListOptions options = {}) const;
  /// Open cases assigned to me, by priority (acuut first) then first-contact due date.
  Result<std::vector<Case>> myCases(ListOptions options = {}) const;
  /// Open unassigned cases of a wijk, by priority then due date.
  Result<std::vector<Case>> wijkQueue(std::string_view wijk, ListOptions options = {}) const;
  /// Signals of a wijk not yet triaged, by urgency (acuut first) then age (oldest first).
  Result<std::vector<Signal>> untriagedSignals(std::string_view wijk,
                                               ListOptions options = {}) const;
  /// Cases on the conflict list.
  Result<std::vector<Case>> conflictCases(ListOptions options = {}) const;
  /// Coordinator (others kPermissionDenied): every open case of her wijken (or of
  /// `q.wijken`, each one of hers), assigned or not, overdue first, then effective priority
  /// (acuut first), then first-attempt due, then id. Served by the cases_open_order and
  /// cases_open_count indexes; a category filter decrypts the candidate rows (the category
  /// codes are not in a plain column). Each row returned is access-logged.
  Result<Overview> overview(const OverviewQuery& q) const;
  /// The norms of one case as a row of overview() (at the store clock); nullopt when this
  /// store does not hold it. Access-logged as a case read.
  Result<std::optional<OverviewRow>> caseNorms(std::string_view case_id) const;
  /// Other signals of the signal's household observed in the 12 weeks before now, and the
  /// open cases of that household, excluding the signal itself and the case it is linked to.
  /// kNotFound for an unknown signal. Reads ids and counts through the household index.
  Result<DuplicateHint> duplicateHint(std::string_view signal_id) const;
  /// The same for an address (before a signal or case exists). Access-logged (a lookup by
  /// address).
  Result<DuplicateHint> householdHint(const Address& address) const;
  /// Everything about one household key (see householdKey()).
  Result<Household> household(std::string_view household_key) const;
  /// Changes not yet accepted by the server, oldest first.
  Result<std::vector<OutboxEntry>> outbox(ListOptions options = {}) const;
  /// Number of outbox rows (pending and refused).
  Result<std::size_t> outboxSize() const;
  /// Every record state this store holds (tests, export, replica comparison).
  Result<std::vector<Record>> allRecords() const;
  /// Ids of the records of `kind` this store holds (not deleted) whose full id starts with
  /// `prefix`, or whose short form (shortId(), the random digits of a UUIDv7) starts with it,
  /// in id order, at most `limit` (0 = no limit). `prefix` is 1..36 hex digits (either case)
  /// and '-'; anything else is kInvalidArgument naming field "prefix", so a user's `%` or `_`
  /// never becomes a wildcard. An empty list means no match; two or more mean the prefix is
  /// ambiguous. Reads ids only (no content), so it is not access-logged.
  Result<std::vector<std::string>> matchIds(RecordKind kind, std::string_view prefix,
                                            std::size_t limit = 0) const;

  // --- sync -------------------------------------------------------------------------------

  /// Merges record states from elsewhere (server, another device) in one transaction. Each is
  /// validated and its versions judged against the clock bound — the server's clock when
  /// `server_hlc` (the page's server_version) is given, so a device whose clock lags the
  /// server's still takes what the server accepted; the local clock otherwise. A state that
  /// fails either is skipped and counted (ApplyStats::skipped), never failing the other
  /// records of the page. The HLC advances past every version applied.
  Result<ApplyStats> applyRemote(std::span<const Record> records, std::uint64_t server_hlc = 0);
  /// The server accepted these changes: their outbox rows go.
  Status acknowledge(std::span<const std::string> change_ids);
  /// The server refused a change: its row stays, marked refused, with the reason.
  Status markRefused(std::string_view change_id, const Status& reason);
  /// Removes a record that left this worker's scope. For a case: also its contact moments,
  /// transitions, and linked signals this worker did not report.
  Status evict(std::string_view record_id);
  /// Clock-skew recovery: after the server refused a change as too far in the future, the
  /// device clock is pulled back to `server_hlc` (if it ran ahead) and the change, plus every
  /// local field that carried its version, is re-stamped with a fresh version. The change
  /// becomes pending again under a new change id; nothing it said is lost.
  Status restampChange(std::string_view change_id, std::uint64_t server_hlc);
  /// Advances the clock past a version the server reported. The server's clock is the
  /// reference: it is taken even when it runs ahead of this device's wall clock by more than
  /// the skew bound (a device clock that lags), and the lag is remembered for applyRemote().
  Status observeRemoteVersion(std::uint64_t hlc);

  Result<SyncState> syncState() const;
  Status setSyncState(const SyncState& state);
  /// Replaces the cached reference data (workers, wijken); categories via setCategories.
  Status setReference(std::span<const Worker> workers, std::span<const Wijk> wijken);
  /// The cached workers; empty before the first reference data arrived.
  Result<std::vector<Worker>> workers() const;
  /// The cached wijken; empty before the first reference data arrived.
  Result<std::vector<Wijk>> wijken() const;
  /// The server said the worker's scope changed (pull `reset`): every record goes; the outbox,
  /// identity and sync state stay, and the next pull brings the new scope.
  Status dropRecords();
  /// A revoked device: every record, the outbox, the access log, the identity and the sync
  /// state go. The file stays usable (enroll again).
  Status wipe();

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace eropaf::store
