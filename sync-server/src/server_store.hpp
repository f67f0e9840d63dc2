// The server's storage interface, with one backend per database (SQLite now; PostgreSQL is the
// way out when one machine is not enough). A StoreSession is one database connection used by
// one thread at a time; the sync engine keeps one for its writer and a pool for readers.
//
// Change sequence: every putRecord() gives the record the next sequence number. Pull cursors
// are sequence numbers; a backend must guarantee that once a reader has seen sequence N
// committed, no change with a sequence ≤ N commits later (SQLite: one writer connection, so
// numbers are handed out in commit order).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"

namespace eropaf::server {

struct StoredRecord {
  Record record;
  std::uint64_t seq = 0;
  /// The device whose push this row is exactly (what it sent, nothing merged in); empty when
  /// anything else wrote it. That device already holds it: its pulls need not carry it back.
  std::string echo_device;
};

/// Plain index columns for a record: who may see it follows from these and the record itself.
struct RecordIndex {
  std::string wijk;         ///< case wijk; signal wijk; children: the case's wijk
  std::string owner;        ///< case assignee; signal reporter; children: empty
  std::string parent;       ///< children: case id; signals: linked case id (may be empty)
  std::string echo_device;  ///< see StoredRecord::echo_device
};

/// A record entering or leaving what one audience sees (see scope.hpp).
struct ScopeChange {
  std::uint64_t seq = 0;
  std::string record_id;
  std::string audience;
  bool entered = false;
};

struct AppliedChange {
  std::string change_id;
  bool accepted = false;
  Status error;
};

struct DeviceInfo {
  std::string id;
  std::string worker_id;
  std::string name;
  bool revoked = false;
  std::int64_t created_ms = 0;
  std::int64_t last_seen_ms = 0;
  /// What the server has served this device: the sequence of the last non-empty pull page and
  /// the server clock then. Authorisation judges offline work against these, never against
  /// versions the device chose.
  std::uint64_t served_seq = 0;
  std::uint64_t served_hlc = 0;
  /// The sequence of the first page the device was served (0: never): what reached this
  /// device's queue is judged from here on.
  std::uint64_t first_served_seq = 0;
};

/// A worker's console login (coordinators and admins): Argon2id password hash, sealed TOTP
/// secret, the console device row whose revocation ends its sessions, and the failure count.
struct ConsoleAccount {
  std::string worker_id;
  std::string device_id;        ///< its row in devices (Principal::device_id of its sessions)
  std::string password_hash;    ///< crypto_pwhash_str (Argon2id), a NUL-free string
  std::string totp_sealed;      ///< nonce | XChaCha20-Poly1305(secret), AD = worker id
  std::uint64_t last_step = 0;  ///< the TOTP step last accepted (a code is used only once)
  std::uint32_t failures = 0;   ///< consecutive failed logins
  bool locked = false;          ///< set after too many failures; only an admin unlocks
  std::int64_t created_ms = 0;
};

/// One console session; the token itself is never stored, only its hash (the row's key).
struct ConsoleSessionRow {
  std::string worker_id;
  std::string device_id;
  std::string csrf_token;
  std::int64_t created_ms = 0;
  std::int64_t last_seen_ms = 0;
};

/// One line of the server's append-only access log (NEN 7513 fields).
struct AccessEntry {
  std::int64_t at_ms = 0;
  std::string action;  ///< "push:contact_moment", "pull:case", "enroll", "revoke" ...
  std::string record_id;
  std::string household_key;
  std::string worker_id;     ///< who did it
  std::string on_behalf_of;  ///< for whom (empty: themselves)
  std::string device_id;
  std::string role;  ///< the actor's role (toString(Role)); empty for admin and system entries
  std::string peer;  ///< from where: the client's address; empty for in-process callers
};

/// One case's derived norms (norms::deriveNorms over the server's stored facts) and the plain
/// columns the coordinator's overview filters and sorts by: the case_norms table, kept by the
/// sync engine on every write that touches a case, a signal's link or a contact moment.
struct CaseNormRow {
  std::string case_id;
  std::string wijk;
  std::string assignee;
  CaseState state = CaseState::kUnspecified;
  bool open = false;        ///< an open state, not deleted
  std::string categories;   ///< present codes as ",a,b," (a filter by one code)
  std::string household;    ///< keyed household hash (the access log's), empty when none
  std::string merged_into;  ///< the case this one was merged into, empty when none
  Priority priority = Priority::kUnspecified;          ///< effective: override or derived
  Priority derived_priority = Priority::kUnspecified;  ///< norms::CaseNorms::derived_priority
  std::int64_t first_attempt_due_ms = 0;
  std::optional<std::int64_t> first_attempt_ms;
  std::int64_t first_gesprek_due_ms = 0;
  std::optional<std::int64_t> first_gesprek_ms;
  std::int64_t open_due_ms = 0;  ///< earliest due of a clock without contact (overdue: < now)
  bool missed = false;           ///< a clock met late (stays overdue)
};

/// What the overview selects from case_norms (open cases only). Unset filters do not filter.
struct NormQuery {
  std::vector<std::string> wijken;      ///< at least one
  std::optional<std::string> assignee;  ///< "" = unassigned only
  std::optional<CaseState> state;
  std::string category;  ///< empty: any
  std::int64_t now_ms = 0;
};

/// A signal's household and when it was observed, for the "zelfde huishouden" hints.
struct SignalHousehold {
  std::string signal_id;
  std::string household;  ///< keyed household hash
  std::string wijk;
  std::string case_id;  ///< the case it is linked to, empty when none
  std::int64_t observed_at_ms = 0;
};

/// One case's figures for the results report (the report_cases table, kept beside case_norms
/// by the same refresh): when its norm clocks started, its first contacts and due dates, how
/// many counting attempts it has, and when and how it ended. No content: the report reads only
/// these plain columns.
struct ReportCaseRow {
  std::string case_id;
  std::string wijk;
  bool merged = false;  ///< merged into another case (its moments count for that one)
  /// When the case's norm clocks started: the earliest arrival among norms::normInputs() (its
  /// first signal linked or category set, never before the case opened); opened_at_ms when
  /// there is none.
  std::int64_t start_ms = 0;
  std::optional<std::int64_t> first_attempt_ms;
  std::int64_t first_attempt_due_ms = 0;
  std::optional<std::int64_t> first_gesprek_ms;
  std::int64_t first_gesprek_due_ms = 0;
  std::int32_t attempts = 0;  ///< norms::countingMoments() of the case (and merged ones)
  CaseState state = CaseState::kUnspecified;
  /// When it left the open states (the state's version time); nullopt while open.
  std::optional<std::int64_t> ended_ms;
  std::string resolution_code;
};

/// One signal's figures for the results report (the report_signals table): wijk, when observed,
/// the reporter's role (checked against the server's worker at push) and its category codes.
struct ReportSignalRow {
  std::string signal_id;
  std::string wijk;
  std::int64_t observed_at_ms = 0;
  Role source_role = Role::kUnspecified;
  std::string categories;  ///< present codes as ",a,b,"
};

/// An untriaged signal (triage state nieuw, not deleted) in the coordinator's werkvoorraad.
struct QueuedSignal {
  std::string signal_id;
  std::string wijk;
  int urgency = 0;  ///< the Urgency number (higher first)
  std::int64_t observed_at_ms = 0;
};

class StoreSession {
 public:
  virtual ~StoreSession() = default;

  /// write=true takes the write lock at once (BEGIN IMMEDIATE).
  virtual Status begin(bool write) = 0;
  virtual Status commit() = 0;
  virtual void rollback() noexcept = 0;
  /// Nested undo points inside a write transaction (one per push in a commit group).
  virtual Status savepoint() = 0;
  virtual Status releaseSavepoint() = 0;
  virtual Status rollbackToSavepoint() = 0;

  virtual Result<std::optional<StoredRecord>> getRecord(std::string_view id) = 0;
  /// Writes a record state with the next sequence number and returns that number.
  virtual Result<std::uint64_t> putRecord(const Record& record, const RecordIndex& index) = 0;
  /// Records with sequence > after_seq, in sequence order, at most `limit`.
  virtual Result<std::vector<StoredRecord>> scan(std::uint64_t after_seq, std::size_t limit) = 0;
  /// Which rows can be in a principal's scope, by index columns (scope.hpp decides exactly).
  struct ScanFilter {
    std::string owner;                     ///< rows owned by this worker
    std::vector<std::string> wijken;       ///< rows of these wijken...
    bool wijk_cases_only = false;          ///< ...of kind case only (a coach's queue)
    bool children_of_owned_cases = false;  ///< rows whose parent is a case owned by `owner`
  };
  /// Like scan(), but only rows the filter admits; found through indexes, so the cost follows
  /// the rows that match, not all changes.
  virtual Result<std::vector<StoredRecord>> scanFor(std::uint64_t after_seq, std::size_t limit,
                                                    const ScanFilter& filter) = 0;
  /// Contact moments, transitions and signals whose parent is `case_id`.
  virtual Result<std::vector<StoredRecord>> children(std::string_view case_id) = 0;
  /// The greatest committed sequence number (0 when empty).
  virtual Result<std::uint64_t> lastSeq() = 0;

  virtual Status addScopeChange(const ScopeChange& change) = 0;
  /// Scope changes with after < seq ≤ upto for any of `audiences`.
  virtual Result<std::vector<ScopeChange>> scopeChanges(std::uint64_t after, std::uint64_t upto,
                                                        std::span<const std::string> audiences) = 0;

  /// Was `record_id` in any of `audiences` right after sequence `seq` (the last scope change
  /// at or before `seq` for that audience says "entered")?
  virtual Result<bool> heldAt(std::string_view record_id, std::span<const std::string> audiences,
                              std::uint64_t seq) = 0;

  /// Did `record_id` enter any of `audiences` at a sequence above `after` (0: ever)?
  virtual Result<bool> everHeld(std::string_view record_id, std::span<const std::string> audiences,
                                std::uint64_t after) = 0;

  /// Change ids are the device's: (device_id, change_id) names one change.
  virtual Result<std::optional<AppliedChange>> appliedChange(std::string_view device_id,
                                                             std::string_view change_id) = 0;
  virtual Status recordApplied(const AppliedChange& change, std::string_view device_id) = 0;

  virtual Status putWorker(const Worker& worker) = 0;
  virtual Result<std::optional<Worker>> worker(std::string_view id) = 0;
  virtual Result<std::vector<Worker>> workers() = 0;
  virtual Status putWijk(const Wijk& wijk) = 0;
  virtual Result<std::vector<Wijk>> wijken() = 0;
  virtual Status putCategory(const Category& category) = 0;
  virtual Result<std::vector<Category>> categories() = 0;

  virtual Status addEnrollmentCode(std::string_view code_hash, std::string_view worker_id,
                                   std::int64_t expires_ms) = 0;
  /// Marks an unused, unexpired code used and returns its worker id; nullopt otherwise.
  virtual Result<std::optional<std::string>> useEnrollmentCode(std::string_view code_hash,
                                                               std::int64_t now_ms) = 0;
  virtual Status addDevice(const DeviceInfo& device, std::string_view token_hash) = 0;
  /// The device and its stored token hash.
  virtual Result<std::optional<std::pair<DeviceInfo, std::string>>> device(std::string_view id) = 0;
  virtual Result<std::vector<DeviceInfo>> devices() = 0;
  /// kNotFound for an unknown device.
  virtual Status revokeDevice(std::string_view device_id) = 0;
  virtual Status touchDevice(std::string_view device_id, std::int64_t now_ms) = 0;
  /// Raises the device's served marks (never lowers them).
  virtual Status markServed(std::string_view device_id, std::uint64_t seq, std::uint64_t hlc) = 0;

  virtual Status appendAccess(const AccessEntry& entry) = 0;
  virtual Result<std::vector<AccessEntry>> accessLog(std::size_t limit) = 0;

  virtual Result<std::optional<std::string>> meta(std::string_view key) = 0;
  virtual Status setMeta(std::string_view key, std::string_view value) = 0;

  // --- norms (case_norms, signal_households) ---------------------------------------------
  virtual Status putCaseNorms(const CaseNormRow& row) = 0;
  virtual Result<std::optional<CaseNormRow>> caseNorms(std::string_view case_id) = 0;
  /// Ids of the cases whose merged_into is `case_id`.
  virtual Result<std::vector<std::string>> mergedInto(std::string_view case_id) = 0;
  /// Open cases matching `q`, overdue ones (`overdue`) or the others, ordered by priority,
  /// first-attempt due date and id, at most `limit` (0: all).
  virtual Result<std::vector<CaseNormRow>> overviewRows(const NormQuery& q, bool overdue,
                                                        std::size_t limit) = 0;
  /// How many open cases match `q`, and how many of them are overdue at q.now_ms.
  virtual Result<std::pair<std::size_t, std::size_t>> overviewCounts(const NormQuery& q) = 0;
  /// Ids of open cases carrying category `code`.
  virtual Result<std::vector<std::string>> openCasesWithCategory(std::string_view code) = 0;
  /// Ids of all cases (for a recompute after migration).
  virtual Result<std::vector<std::string>> allCaseIds() = 0;
  /// Stores (or, for a deleted signal, removes: `live` false) a signal's household row.
  virtual Status putSignalHousehold(const SignalHousehold& row, bool live) = 0;
  /// Signals of `household` in `wijken` observed from `since_ms` to `until_ms` (inclusive).
  virtual Result<std::vector<SignalHousehold>> householdSignals(std::string_view household,
                                                                std::span<const std::string> wijken,
                                                                std::int64_t since_ms,
                                                                std::int64_t until_ms) = 0;
  /// Open cases of `household` in `wijken`.
  virtual Result<std::vector<CaseNormRow>> householdCases(std::string_view household,
                                                          std::span<const std::string> wijken) = 0;

  // --- console login (console_accounts, console_sessions) ---------------------------------
  virtual Status putConsoleAccount(const ConsoleAccount& account) = 0;
  virtual Result<std::optional<ConsoleAccount>> consoleAccount(std::string_view worker_id) = 0;
  virtual Status addConsoleSession(std::string_view token_hash, const ConsoleSessionRow& row) = 0;
  virtual Result<std::optional<ConsoleSessionRow>> consoleSession(std::string_view token_hash) = 0;
  virtual Status touchConsoleSession(std::string_view token_hash, std::int64_t now_ms) = 0;
  virtual Status deleteConsoleSession(std::string_view token_hash) = 0;
  /// Ends every session of the worker (empty: none) and every session of the device (empty:
  /// none).
  virtual Status deleteConsoleSessions(std::string_view worker_id, std::string_view device_id) = 0;
  // --- report (report_cases, report_signals) ---------------------------------------------
  /// Stores a case's report row (`live` false: removes it, for a deleted case).
  virtual Status putReportCase(const ReportCaseRow& row, bool live) = 0;
  /// Stores (or, `live` false, removes) a signal's report row.
  virtual Status putReportSignal(const ReportSignalRow& row, bool live) = 0;
  /// Every case row of `wijken` (case_id left empty: the report needs no ids).
  virtual Result<std::vector<ReportCaseRow>> reportCases(std::span<const std::string> wijken) = 0;
  /// The signal rows of `wijken` observed in [from_ms, to_ms) (signal_id left empty).
  virtual Result<std::vector<ReportSignalRow>> reportSignals(std::span<const std::string> wijken,
                                                             std::int64_t from_ms,
                                                             std::int64_t to_ms) = 0;
  /// Stores (`live`) or removes a signal's werkvoorraad row (the signal_queue table).
  virtual Status putQueuedSignal(const QueuedSignal& row, bool live) = 0;
  /// The untriaged signals of `wijk`, most urgent first, then oldest, at most `limit`.
  virtual Result<std::vector<QueuedSignal>> queuedSignals(std::string_view wijk,
                                                          std::size_t limit) = 0;

  /// The worker id of an unused, unexpired enrollment code; nullopt otherwise. Read-only (no
  /// write transaction), so a wrong code costs no commit; useEnrollmentCode() still decides.
  virtual Result<std::optional<std::string>> findEnrollmentCode(std::string_view code_hash,
                                                                std::int64_t now_ms) = 0;
};

class ServerStore {
 public:
  virtual ~ServerStore() = default;
  /// A new connection. Thread-safety: the ServerStore may be called from any thread; each
  /// session from one thread at a time.
  virtual Result<std::unique_ptr<StoreSession>> openSession() = 0;
};

/// The embedded backend: one SQLite file (WAL, synchronous=FULL), created and migrated on open.
Result<std::unique_ptr<ServerStore>> openSqliteServerStore(const std::string& path);

}  // namespace eropaf::server
