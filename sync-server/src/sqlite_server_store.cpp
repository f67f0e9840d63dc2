// The embedded server backend: one SQLite file in WAL mode with synchronous=FULL, so a push is
// acknowledged only once it is on disk. Reuses core's SQLite wrapper (store/sqlite.hpp).
//
// Sequence numbers: only the engine's writer session calls putRecord, and it reads the last
// sequence when its write transaction begins, so numbers are handed out in commit order and a
// reader that saw N committed never later finds a change ≤ N.
#include <algorithm>
#include <iterator>
#include <map>
#include <tuple>

#include "eropaf/wire.hpp"
#include "server_store.hpp"
#include "store/sqlite.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

using store::detail::Db;
using store::detail::Stmt;

constexpr int kSchemaVersion = 8;

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE schema_version(version INTEGER PRIMARY KEY NOT NULL, applied_at_ms INTEGER NOT NULL);
CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
CREATE TABLE records(
  id TEXT PRIMARY KEY NOT NULL,
  kind INTEGER NOT NULL,
  seq INTEGER NOT NULL UNIQUE,
  wijk TEXT NOT NULL,
  owner TEXT NOT NULL,
  parent TEXT NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX records_by_parent ON records(parent, seq) WHERE parent != '';
CREATE INDEX records_by_owner ON records(owner, seq) WHERE owner != '';
CREATE INDEX records_by_wijk ON records(wijk, seq) WHERE wijk != '';
CREATE INDEX records_cases_by_wijk ON records(wijk, seq) WHERE kind = 2 AND wijk != '';
CREATE TABLE scope_changes(
  seq INTEGER NOT NULL,
  record_id TEXT NOT NULL,
  audience TEXT NOT NULL,
  entered INTEGER NOT NULL);
CREATE INDEX scope_changes_by_audience ON scope_changes(audience, seq);
CREATE TABLE applied_changes(
  change_id TEXT PRIMARY KEY NOT NULL,
  device_id TEXT NOT NULL,
  accepted INTEGER NOT NULL,
  code INTEGER NOT NULL,
  message TEXT NOT NULL,
  field TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE workers(
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  role INTEGER NOT NULL,
  wijken TEXT NOT NULL,
  active INTEGER NOT NULL);
CREATE TABLE wijken(code TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL);
CREATE TABLE categories(
  code TEXT PRIMARY KEY NOT NULL,
  label TEXT NOT NULL,
  default_priority INTEGER NOT NULL,
  first_contact_days INTEGER NOT NULL,
  sensitive INTEGER NOT NULL);
CREATE TABLE enrollment_codes(
  code_hash BLOB PRIMARY KEY NOT NULL,
  worker_id TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE devices(
  id TEXT PRIMARY KEY NOT NULL,
  worker_id TEXT NOT NULL,
  name TEXT NOT NULL,
  token_hash BLOB NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL);
CREATE TABLE access_log(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  action TEXT NOT NULL,
  record_id TEXT NOT NULL,
  household_key TEXT NOT NULL,
  worker_id TEXT NOT NULL,
  on_behalf_of TEXT NOT NULL,
  device_id TEXT NOT NULL);
)sql";

// v2: change ids are per device; what was served to a device; the scope history by record.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE applied_changes_v2(
  device_id TEXT NOT NULL,
  change_id TEXT NOT NULL,
  accepted INTEGER NOT NULL,
  code INTEGER NOT NULL,
  message TEXT NOT NULL,
  field TEXT NOT NULL,
  PRIMARY KEY(device_id, change_id)) WITHOUT ROWID;
INSERT INTO applied_changes_v2(device_id, change_id, accepted, code, message, field)
  SELECT device_id, change_id, accepted, code, message, field FROM applied_changes;
DROP TABLE applied_changes;
ALTER TABLE applied_changes_v2 RENAME TO applied_changes;
ALTER TABLE devices ADD COLUMN served_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN served_hlc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN first_served_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX scope_changes_by_record ON scope_changes(record_id, audience, seq);
)sql";

// v3: the device whose push a record's row is exactly (its pulls need not carry it back).
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE records ADD COLUMN echo TEXT NOT NULL DEFAULT '';
)sql";

// v4: a category's first-gesprek norm, whether its norms count working days, and the attempts
// before "geen contact mogelijk" (norms.hpp). A migrated database gets the defaults' values for
// the default codes (openSqliteServerStore), the column defaults for any other code.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE categories ADD COLUMN first_gesprek_days INTEGER NOT NULL DEFAULT 28;
ALTER TABLE categories ADD COLUMN working_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE categories ADD COLUMN min_attempts INTEGER NOT NULL DEFAULT 3;
)sql";

// v5: the norms of every case (docs/triage.md "On the server"): case_norms holds what
// norms::deriveNorms() and firstContacts() give over the server's stored facts, in plain
// columns the coordinator's overview filters and sorts by (bodies are sealed, so SQL cannot
// derive them). "Overdue at now" is `missed = 1 OR open_due_ms < now`, as on the device.
// case_norms_open: open cases per wijk, kept by triggers, so the overview's total needs no count
// over the index. signal_households: each signal's keyed household hash, for the hints, in one
// b-tree keyed by (wijk, observed day, signal): a new signal's row lands at the end of its
// wijk's part, a few pages every push touches anyway (a table keyed by signal id with an index
// led by the hash put each insert on two random pages: push throughput fell by a third), and a
// hint reads her wijken's twelve weeks of these short rows. A signal's wijk and day never
// change on the server (content is fixed at creation), so the key is stable.
// A migrated database gets its rows from the engine's recompute pass on open (meta
// `norms_recompute`), a new one from its writes.
constexpr const char* kSchemaV5 = R"sql(
CREATE TABLE case_norms(
  case_id TEXT PRIMARY KEY NOT NULL,
  wijk TEXT NOT NULL,
  assignee TEXT NOT NULL,
  state INTEGER NOT NULL,
  is_open INTEGER NOT NULL,
  categories TEXT NOT NULL,
  household TEXT NOT NULL,
  merged_into TEXT NOT NULL,
  priority INTEGER NOT NULL,
  derived_priority INTEGER NOT NULL,
  first_attempt_due_ms INTEGER NOT NULL,
  first_attempt_ms INTEGER,
  first_gesprek_due_ms INTEGER NOT NULL,
  first_gesprek_ms INTEGER,
  open_due_ms INTEGER NOT NULL,
  missed INTEGER NOT NULL);
CREATE INDEX case_norms_order ON case_norms(priority, first_attempt_due_ms, case_id, wijk, missed,
  open_due_ms, assignee, state) WHERE is_open = 1;
CREATE INDEX case_norms_count ON case_norms(wijk, missed, open_due_ms, assignee, state)
  WHERE is_open = 1;
CREATE INDEX case_norms_household ON case_norms(household) WHERE is_open = 1 AND household != '';
CREATE INDEX case_norms_merged ON case_norms(merged_into) WHERE merged_into != '';
-- (No conflict clauses in the triggers: an outer statement's policy would override them.)
CREATE TABLE case_norms_open(wijk TEXT PRIMARY KEY NOT NULL, open_count INTEGER NOT NULL);
CREATE TRIGGER case_norms_open_insert AFTER INSERT ON case_norms WHEN new.is_open = 1 BEGIN
  INSERT INTO case_norms_open(wijk, open_count) SELECT new.wijk, 0
    WHERE NOT EXISTS (SELECT 1 FROM case_norms_open WHERE wijk = new.wijk);
  UPDATE case_norms_open SET open_count = open_count + 1 WHERE wijk = new.wijk;
END;
CREATE TRIGGER case_norms_open_leave AFTER UPDATE OF wijk, is_open ON case_norms
  WHEN old.is_open = 1 BEGIN
  UPDATE case_norms_open SET open_count = open_count - 1 WHERE wijk = old.wijk;
END;
CREATE TRIGGER case_norms_open_enter AFTER UPDATE OF wijk, is_open ON case_norms
  WHEN new.is_open = 1 BEGIN
  INSERT INTO case_norms_open(wijk, open_count) SELECT new.wijk, 0
    WHERE NOT EXISTS (SELECT 1 FROM case_norms_open WHERE wijk = new.wijk);
  UPDATE case_norms_open SET open_count = open_count + 1 WHERE wijk = new.wijk;
END;
CREATE TRIGGER case_norms_open_delete AFTER DELETE ON case_norms WHEN old.is_open = 1 BEGIN
  UPDATE case_norms_open SET open_count = open_count - 1 WHERE wijk = old.wijk;
END;
CREATE TABLE signal_households(
  wijk TEXT NOT NULL,
  observed_day INTEGER NOT NULL,
  signal_id TEXT NOT NULL,
  household TEXT NOT NULL,
  case_id TEXT NOT NULL,
  observed_at_ms INTEGER NOT NULL,
  PRIMARY KEY(wijk, observed_day, signal_id)) WITHOUT ROWID;
)sql";

// v6: the console's logins and sessions (engine_console_auth.cpp). A session row is keyed by
// the hash of its token; the token itself is never stored.
constexpr const char* kSchemaV6 = R"sql(
CREATE TABLE console_accounts(
  worker_id TEXT PRIMARY KEY NOT NULL,
  device_id TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  totp_sealed BLOB NOT NULL,
  last_step INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  locked INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL);
CREATE TABLE console_sessions(
  token_hash BLOB PRIMARY KEY NOT NULL,
  worker_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL);
CREATE INDEX console_sessions_worker ON console_sessions(worker_id);
CREATE INDEX console_sessions_device ON console_sessions(device_id);
)sql";

// v7: the results report's facts (docs/console.md "Rapportage"), plain columns beside
// case_norms so a year of a wijk is aggregated without opening a sealed body. report_cases: one
// row per case in one b-tree keyed by (wijk, case id), so a wijk's rows are one range of
// neighbouring pages (through an index on wijk, each row also cost a lookup in the table), and
// a new case (UUIDv7: time-ordered) lands at the end of
// its wijk's part; report_cases_by_id finds the row when a case moves to another wijk.
// report_signals: one row per signal keyed by (wijk, observed_at_ms, signal_id), so a period of a
// wijk is one range; a signal's wijk and observation time never change on the server. A migrated
// database gets its rows from the engine's recompute pass on open (meta `norms_recompute`), a new
// one from its writes.
constexpr const char* kSchemaV7 = R"sql(
CREATE TABLE report_cases(
  wijk TEXT NOT NULL,
  case_id TEXT NOT NULL,
  merged INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  first_attempt_ms INTEGER,
  first_attempt_due_ms INTEGER NOT NULL,
  first_gesprek_ms INTEGER,
  first_gesprek_due_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  state INTEGER NOT NULL,
  ended_ms INTEGER,
  resolution_code TEXT NOT NULL,
  PRIMARY KEY(wijk, case_id)) WITHOUT ROWID;
CREATE INDEX report_cases_by_id ON report_cases(case_id);
CREATE TABLE report_signals(
  wijk TEXT NOT NULL,
  observed_at_ms INTEGER NOT NULL,
  signal_id TEXT NOT NULL,
  source_role INTEGER NOT NULL,
  categories TEXT NOT NULL,
  PRIMARY KEY(wijk, observed_at_ms, signal_id)) WITHOUT ROWID;
)sql";

// v8: the access log's NEN 7513 fields are complete: the actor's role and where the request
// came from (the client's address; empty for in-process callers and older entries).
constexpr const char* kSchemaV8 = R"sql(
ALTER TABLE access_log ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE access_log ADD COLUMN peer TEXT NOT NULL DEFAULT '';
CREATE TABLE signal_queue(
  signal_id TEXT PRIMARY KEY NOT NULL,
  wijk TEXT NOT NULL,
  urgency INTEGER NOT NULL,
  observed_at_ms INTEGER NOT NULL);
CREATE INDEX signal_queue_order ON signal_queue(wijk, urgency DESC, observed_at_ms, signal_id);
)sql";

// Migrations in order: kMigrations[i] takes a database from schema i + 1 to i + 2.
constexpr const char* kMigrations[] = {kSchemaV2, kSchemaV3, kSchemaV4, kSchemaV5,
                                       kSchemaV6, kSchemaV7, kSchemaV8};
static_assert(std::size(kMigrations) == kSchemaVersion - 1);

/// The UTC day number of a time in ms (floor, also before 1970).
std::int64_t dayOf(std::int64_t ms) {
  constexpr std::int64_t kDayMs = 86'400'000;
  return ms >= 0 ? ms / kDayMs : -((-ms + kDayMs - 1) / kDayMs);
}

std::string joinWijken(const std::vector<std::string>& w) {
  std::string out;
  for (const auto& s : w) {
    if (!out.empty()) out.push_back(',');
    out += s;
  }
  return out;
}

std::vector<std::string> splitWijken(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t comma = std::min(s.find(',', start), s.size());
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

/// Binds a category's columns in the order of the categories table (1..8).
Stmt& bindCategory(Stmt& q, const Category& c) {
  return q.bind(1, c.code)
      .bind(2, c.label)
      .bind(3, static_cast<std::int64_t>(c.default_priority))
      .bind(4, std::int64_t{c.first_contact_days})
      .bind(5, std::int64_t{c.sensitive})
      .bind(6, std::int64_t{c.first_gesprek_days})
      .bind(7, std::int64_t{c.working_days})
      .bind(8, std::int64_t{c.min_attempts});
}

class SqliteSession final : public StoreSession {
 public:
  explicit SqliteSession(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Status begin(bool write) override {
    EROPAF_RETURN_IF_ERROR(db_->exec(write ? "BEGIN IMMEDIATE" : "BEGIN"));
    in_txn_ = true;
    if (write) {
      Result<std::uint64_t> last = lastSeq();
      if (!last.ok()) return last.status();
      next_seq_ = *last + 1;
    }
    return {};
  }
  Status commit() override {
    EROPAF_RETURN_IF_ERROR(db_->exec("COMMIT"));
    in_txn_ = false;
    return {};
  }
  void rollback() noexcept override {
    if (in_txn_) static_cast<void>(db_->exec("ROLLBACK"));
    in_txn_ = false;
  }

  Status savepoint() override {
    saved_next_seq_ = next_seq_;
    return db_->exec("SAVEPOINT push");
  }
  Status releaseSavepoint() override { return db_->exec("RELEASE push"); }
  Status rollbackToSavepoint() override {
    next_seq_ = saved_next_seq_;
    EROPAF_RETURN_IF_ERROR(db_->exec("ROLLBACK TO push"));
    return db_->exec("RELEASE push");
  }

  Result<std::optional<StoredRecord>> getRecord(std::string_view id) override {
    Stmt* q = stmt("SELECT body, seq, echo FROM records WHERE id = ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, id);
    Result<std::optional<StoredRecord>> out = readOne(*q);
    q->reset();
    return out;
  }

  Result<std::uint64_t> putRecord(const Record& record, const RecordIndex& index) override {
    Stmt* q = stmt(
        "INSERT INTO records(id, kind, seq, wijk, owner, parent, body, echo) "
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8) "
        "ON CONFLICT(id) DO UPDATE SET seq=?3, wijk=?4, owner=?5, parent=?6, body=?7, echo=?8");
    if (q == nullptr) return prepare_error_;
    const std::uint64_t seq = next_seq_++;
    EROPAF_RETURN_IF_ERROR(q->bind(1, recordId(record))
                               .bind(2, static_cast<std::int64_t>(recordKind(record)))
                               .bind(3, static_cast<std::int64_t>(seq))
                               .bind(4, index.wijk)
                               .bind(5, index.owner)
                               .bind(6, index.parent)
                               .bindBlob(7, encodeRecord(record))
                               .bind(8, index.echo_device)
                               .run());
    return seq;
  }

  Result<std::vector<StoredRecord>> scan(std::uint64_t after_seq, std::size_t limit) override {
    Stmt* q = stmt("SELECT body, seq, echo FROM records WHERE seq > ? ORDER BY seq LIMIT ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, static_cast<std::int64_t>(after_seq)).bind(2, static_cast<std::int64_t>(limit));
    return readAll(*q);
  }

  Result<std::vector<StoredRecord>> scanFor(std::uint64_t after_seq, std::size_t limit,
                                            const ScanFilter& f) override {
    // Each part walks one index in sequence order and stops at `limit`; the parts are merged
    // here. (A single UNION ... ORDER BY would sort every remaining candidate for each page.)
    std::map<std::uint64_t, StoredRecord> merged;
    auto part = [&](const char* sql, const std::string& text) -> Status {
      Stmt* q = stmt(sql);
      if (q == nullptr) return prepare_error_;
      q->bind(1, text)
          .bind(2, static_cast<std::int64_t>(after_seq))
          .bind(3, static_cast<std::int64_t>(limit));
      Result<std::vector<StoredRecord>> rows = readAll(*q);
      if (!rows.ok()) return rows.status();
      for (auto& r : *rows) merged.emplace(r.seq, std::move(r));
      return {};
    };
    if (!f.owner.empty()) {
      EROPAF_RETURN_IF_ERROR(
          part("SELECT body, seq, echo FROM records WHERE owner = ?1 AND owner != '' "
               "AND seq > ?2 ORDER BY seq LIMIT ?3",
               f.owner));
    }
    for (const auto& w : f.wijken) {
      EROPAF_RETURN_IF_ERROR(
          part(f.wijk_cases_only
                   ? "SELECT body, seq, echo FROM records WHERE wijk = ?1 AND wijk != '' AND "
                     "kind = 2 AND seq > ?2 ORDER BY seq LIMIT ?3"
                   : "SELECT body, seq, echo FROM records WHERE wijk = ?1 AND wijk != '' AND "
                     "seq > ?2 ORDER BY seq LIMIT ?3",
               w));
    }
    if (f.children_of_owned_cases && !f.owner.empty()) {
      EROPAF_RETURN_IF_ERROR(
          part("SELECT body, seq, echo FROM records WHERE parent IN (SELECT id FROM records WHERE "
               "owner = ?1 "
               "AND owner != '' AND kind = 2) AND parent != '' AND seq > ?2 ORDER BY seq LIMIT ?3",
               f.owner));
    }
    std::vector<StoredRecord> out;
    for (auto& [seq, r] : merged) {
      if (out.size() == limit) break;
      out.push_back(std::move(r));
    }
    return out;
  }

  Result<std::vector<StoredRecord>> children(std::string_view case_id) override {
    Stmt* q =
        stmt("SELECT body, seq, echo FROM records WHERE parent = ? AND parent != '' ORDER BY seq");
    if (q == nullptr) return prepare_error_;
    q->bind(1, case_id);
    return readAll(*q);
  }

  Result<std::uint64_t> lastSeq() override {
    Stmt* q = stmt("SELECT coalesce(max(seq), 0) FROM records");
    if (q == nullptr) return prepare_error_;
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    const auto v = static_cast<std::uint64_t>(q->int64(0));
    q->reset();
    return v;
  }

  Status addScopeChange(const ScopeChange& c) override {
    Stmt* q = stmt("INSERT INTO scope_changes(seq, record_id, audience, entered) VALUES(?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, static_cast<std::int64_t>(c.seq))
        .bind(2, c.record_id)
        .bind(3, c.audience)
        .bind(4, std::int64_t{c.entered})
        .run();
  }

  Result<std::vector<ScopeChange>> scopeChanges(std::uint64_t after, std::uint64_t upto,
                                                std::span<const std::string> audiences) override {
    Stmt* q = stmt(
        "SELECT seq, record_id, audience, entered FROM scope_changes WHERE audience = ? AND "
        "seq > ? AND seq <= ? ORDER BY seq");
    if (q == nullptr) return prepare_error_;
    std::vector<ScopeChange> out;
    for (const auto& a : audiences) {
      q->bind(1, a)
          .bind(2, static_cast<std::int64_t>(after))
          .bind(3, static_cast<std::int64_t>(upto));
      for (;;) {
        Result<bool> row = q->step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        out.push_back(
            {static_cast<std::uint64_t>(q->int64(0)), q->text(1), q->text(2), q->int64(3) != 0});
      }
      q->reset();
    }
    std::sort(out.begin(), out.end(),
              [](const ScopeChange& a, const ScopeChange& b) { return a.seq < b.seq; });
    return out;
  }

  Result<bool> heldAt(std::string_view record_id, std::span<const std::string> audiences,
                      std::uint64_t seq) override {
    return anyAudience(
        "SELECT entered FROM scope_changes WHERE record_id = ? AND audience = ? AND seq <= ? "
        "ORDER BY seq DESC LIMIT 1",
        record_id, audiences, seq);
  }

  Result<bool> everHeld(std::string_view record_id, std::span<const std::string> audiences,
                        std::uint64_t after) override {
    return anyAudience(
        "SELECT 1 FROM scope_changes WHERE record_id = ? AND audience = ? AND entered = 1 "
        "AND seq > ? LIMIT 1",
        record_id, audiences, after);
  }

  /// Runs `sql` (binding record id, audience, sequence; selecting a value non-zero when held)
  /// for each audience; true at the first that holds the record.
  Result<bool> anyAudience(const char* sql, std::string_view record_id,
                           std::span<const std::string> audiences, std::uint64_t seq) {
    Stmt* q = stmt(sql);
    if (q == nullptr) return prepare_error_;
    for (const auto& a : audiences) {
      q->bind(1, record_id).bind(2, a).bind(3, static_cast<std::int64_t>(seq));
      Result<bool> row = q->step();
      if (!row.ok()) return row.status();
      const bool held = *row && q->int64(0) != 0;
      q->reset();
      if (held) return true;
    }
    return false;
  }

  Result<std::optional<AppliedChange>> appliedChange(std::string_view device_id,
                                                     std::string_view change_id) override {
    Stmt* q = stmt(
        "SELECT accepted, code, message, field FROM applied_changes WHERE device_id = ? AND "
        "change_id = ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, device_id).bind(2, change_id);
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    std::optional<AppliedChange> out;
    if (*row) {
      AppliedChange c;
      c.change_id = std::string(change_id);
      c.accepted = q->int64(0) != 0;
      if (!c.accepted) {
        c.error = Status(errorCodeFromNumber(q->int64(1)).value_or(ErrorCode::kInternal),
                         q->text(2), q->text(3));
      }
      out = std::move(c);
    }
    q->reset();
    return out;
  }

  Status recordApplied(const AppliedChange& c, std::string_view device_id) override {
    Stmt* q = stmt(
        "INSERT OR REPLACE INTO applied_changes(change_id, device_id, accepted, code, message, "
        "field) VALUES(?,?,?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, c.change_id)
        .bind(2, device_id)
        .bind(3, std::int64_t{c.accepted})
        .bind(4, static_cast<std::int64_t>(c.error.code()))
        .bind(5, c.error.message())
        .bind(6, c.error.field())
        .run();
  }

  Status putWorker(const Worker& w) override {
    Stmt* q =
        stmt("INSERT OR REPLACE INTO workers(id, name, role, wijken, active) VALUES(?,?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, w.id)
        .bind(2, w.name)
        .bind(3, static_cast<std::int64_t>(w.role))
        .bind(4, joinWijken(w.wijken))
        .bind(5, std::int64_t{w.active})
        .run();
  }

  Result<std::optional<Worker>> worker(std::string_view id) override {
    Stmt* q = stmt("SELECT id, name, role, wijken, active FROM workers WHERE id = ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, id);
    Result<std::vector<Worker>> all = readWorkers(*q);
    if (!all.ok()) return all.status();
    if (all->empty()) return std::optional<Worker>();
    return std::optional<Worker>(std::move(all->front()));
  }

  Result<std::vector<Worker>> workers() override {
    Stmt* q = stmt("SELECT id, name, role, wijken, active FROM workers ORDER BY id");
    if (q == nullptr) return prepare_error_;
    return readWorkers(*q);
  }

  Status putWijk(const Wijk& w) override {
    Stmt* q = stmt("INSERT OR REPLACE INTO wijken(code, name) VALUES(?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, w.code).bind(2, w.name).run();
  }

  Result<std::vector<Wijk>> wijken() override {
    Stmt* q = stmt("SELECT code, name FROM wijken ORDER BY code");
    if (q == nullptr) return prepare_error_;
    std::vector<Wijk> out;
    for (;;) {
      Result<bool> row = q->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back({q->text(0), q->text(1)});
    }
    q->reset();
    return out;
  }

  Status putCategory(const Category& c) override {
    Stmt* q = stmt(
        "INSERT OR REPLACE INTO categories(code, label, default_priority, first_contact_days, "
        "sensitive, first_gesprek_days, working_days, min_attempts) VALUES(?,?,?,?,?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return bindCategory(*q, c).run();
  }

  Result<std::vector<Category>> categories() override {
    Stmt* q = stmt(
        "SELECT code, label, default_priority, first_contact_days, sensitive, first_gesprek_days, "
        "working_days, min_attempts FROM categories ORDER BY code");
    if (q == nullptr) return prepare_error_;
    std::vector<Category> out;
    for (;;) {
      Result<bool> row = q->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Category c{q->text(0), q->text(1), static_cast<Priority>(q->int64(2)),
                 static_cast<std::int32_t>(q->int64(3)), q->int64(4) != 0};
      c.first_gesprek_days = static_cast<std::int32_t>(q->int64(5));
      c.working_days = q->int64(6) != 0;
      c.min_attempts = static_cast<std::int32_t>(q->int64(7));
      out.push_back(std::move(c));
    }
    q->reset();
    return out;
  }

  Status addEnrollmentCode(std::string_view code_hash, std::string_view worker_id,
                           std::int64_t expires_ms) override {
    Stmt* q = stmt("INSERT INTO enrollment_codes(code_hash, worker_id, expires_ms) VALUES(?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bindBlob(1, code_hash).bind(2, worker_id).bind(3, expires_ms).run();
  }

  Result<std::optional<std::string>> useEnrollmentCode(std::string_view code_hash,
                                                       std::int64_t now_ms) override {
    Stmt* q = stmt(
        "UPDATE enrollment_codes SET used = 1 WHERE code_hash = ? AND used = 0 AND expires_ms > ? "
        "RETURNING worker_id");
    if (q == nullptr) return prepare_error_;
    q->bindBlob(1, code_hash).bind(2, now_ms);
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    std::optional<std::string> out;
    if (*row) out = q->text(0);
    // Drain so the UPDATE completes before the statement is reset.
    while (*row) {
      row = q->step();
      if (!row.ok()) return row.status();
    }
    q->reset();
    return out;
  }

  Status addDevice(const DeviceInfo& d, std::string_view token_hash) override {
    Stmt* q = stmt(
        "INSERT INTO devices(id, worker_id, name, token_hash, revoked, created_ms, last_seen_ms) "
        "VALUES(?,?,?,?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, d.id)
        .bind(2, d.worker_id)
        .bind(3, d.name)
        .bindBlob(4, token_hash)
        .bind(5, std::int64_t{d.revoked})
        .bind(6, d.created_ms)
        .bind(7, d.last_seen_ms)
        .run();
  }

  Result<std::optional<std::pair<DeviceInfo, std::string>>> device(std::string_view id) override {
    Stmt* q = stmt(
        "SELECT id, worker_id, name, revoked, created_ms, last_seen_ms, served_seq, served_hlc, "
        "first_served_seq, token_hash FROM devices WHERE id = ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, id);
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    std::optional<std::pair<DeviceInfo, std::string>> out;
    if (*row) out.emplace(readDevice(*q), q->blob(9));
    q->reset();
    return out;
  }

  Result<std::vector<DeviceInfo>> devices() override {
    Stmt* q = stmt(
        "SELECT id, worker_id, name, revoked, created_ms, last_seen_ms, served_seq, served_hlc, "
        "first_served_seq FROM devices ORDER BY worker_id, created_ms");
    if (q == nullptr) return prepare_error_;
    std::vector<DeviceInfo> out;
    for (;;) {
      Result<bool> row = q->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(readDevice(*q));
    }
    q->reset();
    return out;
  }

  Status revokeDevice(std::string_view device_id) override {
    Stmt* q = stmt("UPDATE devices SET revoked = 1 WHERE id = ?");
    if (q == nullptr) return prepare_error_;
    EROPAF_RETURN_IF_ERROR(q->bind(1, device_id).run());
    if (sqlite3_changes(db_->handle()) == 0) {
      return Status(ErrorCode::kNotFound, "no device " + std::string(device_id));
    }
    return {};
  }

  Status markServed(std::string_view device_id, std::uint64_t seq, std::uint64_t hlc) override {
    Stmt* q = stmt(
        "UPDATE devices SET served_seq = max(served_seq, ?1), served_hlc = max(served_hlc, ?2), "
        "first_served_seq = CASE WHEN first_served_seq = 0 THEN ?1 ELSE first_served_seq END "
        "WHERE id = ?3");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, static_cast<std::int64_t>(seq))
        .bind(2, static_cast<std::int64_t>(hlc & 0x7fffffffffffffffULL))
        .bind(3, device_id)
        .run();
  }

  Status touchDevice(std::string_view device_id, std::int64_t now_ms) override {
    Stmt* q = stmt("UPDATE devices SET last_seen_ms = ? WHERE id = ?");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, now_ms).bind(2, device_id).run();
  }

  Status appendAccess(const AccessEntry& e) override {
    Stmt* q = stmt(
        "INSERT INTO access_log(at_ms, action, record_id, household_key, worker_id, "
        "on_behalf_of, device_id, role, peer) VALUES(?,?,?,?,?,?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, e.at_ms)
        .bind(2, e.action)
        .bind(3, e.record_id)
        .bind(4, e.household_key)
        .bind(5, e.worker_id)
        .bind(6, e.on_behalf_of)
        .bind(7, e.device_id)
        .bind(8, e.role)
        .bind(9, e.peer)
        .run();
  }

  Status putQueuedSignal(const QueuedSignal& row, bool live) override {
    if (!live) {
      Stmt* q = stmt("DELETE FROM signal_queue WHERE signal_id = ?");
      if (q == nullptr) return prepare_error_;
      return q->bind(1, row.signal_id).run();
    }
    Stmt* q = stmt(
        "INSERT OR REPLACE INTO signal_queue(signal_id, wijk, urgency, observed_at_ms) "
        "VALUES(?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, row.signal_id)
        .bind(2, row.wijk)
        .bind(3, static_cast<std::int64_t>(row.urgency))
        .bind(4, row.observed_at_ms)
        .run();
  }

  Result<std::vector<QueuedSignal>> queuedSignals(std::string_view wijk,
                                                  std::size_t limit) override {
    Stmt* q = stmt(
        "SELECT signal_id, wijk, urgency, observed_at_ms FROM signal_queue WHERE wijk = ? "
        "ORDER BY urgency DESC, observed_at_ms, signal_id LIMIT ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, wijk).bind(2, static_cast<std::int64_t>(limit));
    std::vector<QueuedSignal> out;
    for (;;) {
      Result<bool> row = q->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back({q->text(0), q->text(1), static_cast<int>(q->int64(2)), q->int64(3)});
    }
    q->reset();
    return out;
  }

  Result<std::vector<AccessEntry>> accessLog(std::size_t limit) override {
    Stmt* q = stmt(
        "SELECT at_ms, action, record_id, household_key, worker_id, on_behalf_of, device_id, role, "
        "peer FROM "
        "access_log ORDER BY seq DESC LIMIT ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, static_cast<std::int64_t>(limit));
    std::vector<AccessEntry> out;
    for (;;) {
      Result<bool> row = q->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back({q->int64(0), q->text(1), q->text(2), q->text(3), q->text(4), q->text(5),
                     q->text(6), q->text(7), q->text(8)});
    }
    q->reset();
    return out;
  }

  Result<std::optional<std::string>> meta(std::string_view key) override {
    Stmt* q = stmt("SELECT value FROM meta WHERE key = ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, key);
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    std::optional<std::string> out;
    if (*row) out = q->blob(0);
    q->reset();
    return out;
  }

  Status setMeta(std::string_view key, std::string_view value) override {
    Stmt* q = stmt("INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, key).bindBlob(2, value).run();
  }

  Status putConsoleAccount(const ConsoleAccount& a) override {
    Stmt* q = stmt(
        "INSERT OR REPLACE INTO console_accounts(worker_id, device_id, password_hash, "
        "totp_sealed, last_step, failures, locked, created_ms) VALUES(?,?,?,?,?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, a.worker_id)
        .bind(2, a.device_id)
        .bind(3, a.password_hash)
        .bindBlob(4, a.totp_sealed)
        .bind(5, static_cast<std::int64_t>(a.last_step))
        .bind(6, std::int64_t{a.failures})
        .bind(7, std::int64_t{a.locked})
        .bind(8, a.created_ms)
        .run();
  }

  Result<std::optional<ConsoleAccount>> consoleAccount(std::string_view worker_id) override {
    Stmt* q = stmt(
        "SELECT worker_id, device_id, password_hash, totp_sealed, last_step, failures, locked, "
        "created_ms FROM console_accounts WHERE worker_id = ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, worker_id);
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    std::optional<ConsoleAccount> out;
    if (*row) {
      out = ConsoleAccount{q->text(0),
                           q->text(1),
                           q->text(2),
                           q->blob(3),
                           static_cast<std::uint64_t>(q->int64(4)),
                           static_cast<std::uint32_t>(q->int64(5)),
                           q->int64(6) != 0,
                           q->int64(7)};
    }
    q->reset();
    return out;
  }

  Status addConsoleSession(std::string_view token_hash, const ConsoleSessionRow& r) override {
    Stmt* q = stmt(
        "INSERT INTO console_sessions(token_hash, worker_id, device_id, csrf_token, created_ms, "
        "last_seen_ms) VALUES(?,?,?,?,?,?)");
    if (q == nullptr) return prepare_error_;
    return q->bindBlob(1, token_hash)
        .bind(2, r.worker_id)
        .bind(3, r.device_id)
        .bind(4, r.csrf_token)
        .bind(5, r.created_ms)
        .bind(6, r.last_seen_ms)
        .run();
  }

  Result<std::optional<ConsoleSessionRow>> consoleSession(std::string_view token_hash) override {
    Stmt* q = stmt(
        "SELECT worker_id, device_id, csrf_token, created_ms, last_seen_ms FROM console_sessions "
        "WHERE token_hash = ?");
    if (q == nullptr) return prepare_error_;
    q->bindBlob(1, token_hash);
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    std::optional<ConsoleSessionRow> out;
    if (*row) out = ConsoleSessionRow{q->text(0), q->text(1), q->text(2), q->int64(3), q->int64(4)};
    q->reset();
    return out;
  }

  Status touchConsoleSession(std::string_view token_hash, std::int64_t now_ms) override {
    Stmt* q = stmt(
        "UPDATE console_sessions SET last_seen_ms = max(last_seen_ms, ?) WHERE token_hash = ?");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, now_ms).bindBlob(2, token_hash).run();
  }

  Status deleteConsoleSession(std::string_view token_hash) override {
    Stmt* q = stmt("DELETE FROM console_sessions WHERE token_hash = ?");
    if (q == nullptr) return prepare_error_;
    return q->bindBlob(1, token_hash).run();
  }

  Status deleteConsoleSessions(std::string_view worker_id, std::string_view device_id) override {
    Stmt* q = stmt(
        "DELETE FROM console_sessions WHERE (worker_id = ?1 AND ?1 != '') OR "
        "(device_id = ?2 AND ?2 != '')");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, worker_id).bind(2, device_id).run();
  }

  Result<std::optional<std::string>> findEnrollmentCode(std::string_view code_hash,
                                                        std::int64_t now_ms) override {
    Stmt* q = stmt(
        "SELECT worker_id FROM enrollment_codes WHERE code_hash = ? AND used = 0 AND expires_ms > "
        "?");
    if (q == nullptr) return prepare_error_;
    q->bindBlob(1, code_hash).bind(2, now_ms);
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    std::optional<std::string> out;
    if (*row) out = q->text(0);
    q->reset();
    return out;
  }

  Db& db() { return *db_; }

 private:
  // Prepared statements live as long as the session (SQLite re-prepares after schema changes).
  // --- norms ---------------------------------------------------------------------------

  static constexpr std::int64_t kNoPriority = 9;  // the priority column of a case with none

  static std::int64_t priorityColumn(Priority p) {
    return p == Priority::kUnspecified ? kNoPriority : static_cast<std::int64_t>(p);
  }
  static Priority priorityFromColumn(std::int64_t v) {
    return v >= 1 && v <= 4 ? static_cast<Priority>(v) : Priority::kUnspecified;
  }

  static constexpr const char* kNormColumns =
      "SELECT case_id, wijk, assignee, state, is_open, categories, household, merged_into, "
      "priority, derived_priority, first_attempt_due_ms, first_attempt_ms, first_gesprek_due_ms, "
      "first_gesprek_ms, open_due_ms, missed FROM case_norms ";

  static CaseNormRow normRow(const Stmt& q) {
    CaseNormRow r;
    r.case_id = q.text(0);
    r.wijk = q.text(1);
    r.assignee = q.text(2);
    r.state = static_cast<CaseState>(q.int64(3));
    r.open = q.int64(4) != 0;
    r.categories = q.text(5);
    r.household = q.text(6);
    r.merged_into = q.text(7);
    r.priority = priorityFromColumn(q.int64(8));
    r.derived_priority = priorityFromColumn(q.int64(9));
    r.first_attempt_due_ms = q.int64(10);
    if (!q.isNull(11)) r.first_attempt_ms = q.int64(11);
    r.first_gesprek_due_ms = q.int64(12);
    if (!q.isNull(13)) r.first_gesprek_ms = q.int64(13);
    r.open_due_ms = q.int64(14);
    r.missed = q.int64(15) != 0;
    return r;
  }

  static Result<std::vector<CaseNormRow>> normRows(Stmt& q) {
    std::vector<CaseNormRow> out;
    for (;;) {
      Result<bool> row = q.step();
      if (!row.ok()) {
        q.reset();
        return row.status();
      }
      if (!*row) break;
      out.push_back(normRow(q));
    }
    q.reset();
    return out;
  }

  static Result<std::vector<std::string>> ids(Stmt& q) {
    std::vector<std::string> out;
    for (;;) {
      Result<bool> row = q.step();
      if (!row.ok()) {
        q.reset();
        return row.status();
      }
      if (!*row) break;
      out.push_back(q.text(0));
    }
    q.reset();
    return out;
  }

  Status putCaseNorms(const CaseNormRow& r) override {
    Stmt* q = stmt(
        "INSERT INTO case_norms(case_id, wijk, assignee, state, is_open, categories, "
        "household, merged_into, priority, derived_priority, first_attempt_due_ms, "
        "first_attempt_ms, first_gesprek_due_ms, first_gesprek_ms, open_due_ms, missed) "
        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(case_id) DO UPDATE SET "
        "wijk = excluded.wijk, assignee = excluded.assignee, state = excluded.state, "
        "is_open = excluded.is_open, categories = excluded.categories, "
        "household = excluded.household, merged_into = excluded.merged_into, "
        "priority = excluded.priority, derived_priority = excluded.derived_priority, "
        "first_attempt_due_ms = excluded.first_attempt_due_ms, "
        "first_attempt_ms = excluded.first_attempt_ms, "
        "first_gesprek_due_ms = excluded.first_gesprek_due_ms, "
        "first_gesprek_ms = excluded.first_gesprek_ms, open_due_ms = excluded.open_due_ms, "
        "missed = excluded.missed");
    if (q == nullptr) return prepare_error_;
    q->bind(1, r.case_id)
        .bind(2, r.wijk)
        .bind(3, r.assignee)
        .bind(4, static_cast<std::int64_t>(r.state))
        .bind(5, std::int64_t{r.open})
        .bind(6, r.categories)
        .bind(7, r.household)
        .bind(8, r.merged_into)
        .bind(9, priorityColumn(r.priority))
        .bind(10, priorityColumn(r.derived_priority))
        .bind(11, r.first_attempt_due_ms)
        .bind(13, r.first_gesprek_due_ms)
        .bind(15, r.open_due_ms)
        .bind(16, std::int64_t{r.missed});
    if (r.first_attempt_ms) {
      q->bind(12, *r.first_attempt_ms);
    } else {
      q->bindNull(12);
    }
    if (r.first_gesprek_ms) {
      q->bind(14, *r.first_gesprek_ms);
    } else {
      q->bindNull(14);
    }
    return q->run();
  }

  Result<std::optional<CaseNormRow>> caseNorms(std::string_view case_id) override {
    Stmt* q = cached(std::string(kNormColumns) + "WHERE case_id = ?");
    if (q == nullptr) return prepare_error_;
    q->bind(1, case_id);
    Result<std::vector<CaseNormRow>> rows = normRows(*q);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<CaseNormRow>();
    return std::optional<CaseNormRow>(std::move(rows->front()));
  }

  Result<std::vector<std::string>> mergedInto(std::string_view case_id) override {
    Stmt* q = stmt("SELECT case_id FROM case_norms WHERE merged_into = ? AND merged_into != ''");
    if (q == nullptr) return prepare_error_;
    q->bind(1, case_id);
    return ids(*q);
  }

  /// The WHERE clause of an overview query and its parameters after the first `first`.
  static std::string normWhere(const NormQuery& q, std::vector<std::string>& texts,
                               std::vector<std::int64_t>& numbers) {
    std::string where = "is_open = 1 AND wijk IN (";
    for (std::size_t i = 0; i < q.wijken.size(); ++i) {
      where += i == 0 ? "?" : ",?";
      texts.push_back(q.wijken[i]);
    }
    where += ")";
    if (q.assignee) {
      where += " AND assignee = ?";
      texts.push_back(*q.assignee);
    }
    if (!q.category.empty()) {
      where += " AND instr(categories, ?) > 0";
      texts.push_back("," + q.category + ",");
    }
    if (q.state) {
      where += " AND state = ?";
      numbers.push_back(static_cast<std::int64_t>(*q.state));
    }
    return where;
  }

  static int bindWhere(Stmt& st, int n, const std::vector<std::string>& texts,
                       const std::vector<std::int64_t>& numbers) {
    for (const auto& t : texts) st.bind(n++, t);
    for (const auto v : numbers) st.bind(n++, v);
    return n;
  }

  Result<std::vector<CaseNormRow>> overviewRows(const NormQuery& q, bool overdue,
                                                std::size_t limit) override {
    if (q.wijken.empty()) return std::vector<CaseNormRow>();
    std::vector<std::string> texts;
    std::vector<std::int64_t> numbers;
    const std::string where = normWhere(q, texts, numbers);
    // In the order index: rows come in overview order and the scan stops at the limit.
    Stmt* st = cached(std::string(kNormColumns) + "INDEXED BY case_norms_order WHERE " + where +
                      (overdue ? " AND " : " AND NOT ") +
                      "(missed = 1 OR open_due_ms < ?) "
                      "ORDER BY priority, first_attempt_due_ms, case_id LIMIT ?");
    if (st == nullptr) return prepare_error_;
    int n = bindWhere(*st, 1, texts, numbers);
    st->bind(n++, q.now_ms);
    st->bind(n, limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit));
    return normRows(*st);
  }

  Result<std::pair<std::size_t, std::size_t>> overviewCounts(const NormQuery& q) override {
    if (q.wijken.empty()) return std::pair<std::size_t, std::size_t>{0, 0};
    std::vector<std::string> texts;
    std::vector<std::int64_t> numbers;
    const std::string where = normWhere(q, texts, numbers);
    auto count = [&](Stmt* st, std::optional<std::int64_t> now) -> Result<std::size_t> {
      if (st == nullptr) return prepare_error_;
      int n = bindWhere(*st, 1, texts, numbers);
      if (now) st->bind(n, *now);
      Result<bool> row = st->step();
      if (!row.ok()) {
        st->reset();
        return row.status();
      }
      const auto v = static_cast<std::size_t>(st->int64(0));
      st->reset();
      return v;
    };
    // Overdue: two ranges of the count index per wijk (missed; not missed and due before now),
    // so the cost follows the overdue cases, not all open ones.
    const std::string base = "SELECT count(*) FROM case_norms INDEXED BY case_norms_count WHERE ";
    Result<std::size_t> missed = count(cached(base + where + " AND missed = 1"), std::nullopt);
    if (!missed.ok()) return missed.status();
    Result<std::size_t> late =
        count(cached(base + where + " AND missed = 0 AND open_due_ms < ?"), q.now_ms);
    if (!late.ok()) return late.status();
    // Total: without further filters, the per-wijk counters the triggers keep.
    Result<std::size_t> total = Status();
    if (!q.assignee && !q.state && q.category.empty()) {
      std::string sql = "SELECT coalesce(sum(open_count), 0) FROM case_norms_open WHERE wijk IN (";
      for (std::size_t i = 0; i < q.wijken.size(); ++i) sql += i == 0 ? "?" : ",?";
      total = count(cached(sql + ")"), std::nullopt);
    } else {
      total = count(cached(base + where), std::nullopt);
    }
    if (!total.ok()) return total.status();
    return std::pair<std::size_t, std::size_t>{*total, *missed + *late};
  }

  Result<std::vector<std::string>> openCasesWithCategory(std::string_view code) override {
    Stmt* q = stmt("SELECT case_id FROM case_norms WHERE is_open = 1 AND instr(categories, ?) > 0");
    if (q == nullptr) return prepare_error_;
    q->bind(1, "," + std::string(code) + ",");
    return ids(*q);
  }

  Result<std::vector<std::string>> allCaseIds() override {
    Stmt* q = stmt("SELECT id FROM records WHERE kind = 2 ORDER BY seq");
    if (q == nullptr) return prepare_error_;
    return ids(*q);
  }

  Status putSignalHousehold(const SignalHousehold& r, bool live) override {
    if (r.household.empty()) return {};  // nothing to hint by, so nothing was stored
    if (!live) {
      Stmt* q = stmt(
          "DELETE FROM signal_households WHERE wijk = ? AND observed_day = ? AND "
          "signal_id = ?");
      if (q == nullptr) return prepare_error_;
      return q->bind(1, r.wijk).bind(2, dayOf(r.observed_at_ms)).bind(3, r.signal_id).run();
    }
    Stmt* q = stmt(
        "INSERT INTO signal_households(wijk, observed_day, signal_id, household, case_id, "
        "observed_at_ms) VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(wijk, observed_day, signal_id) "
        "DO UPDATE SET household = ?4, case_id = ?5, observed_at_ms = ?6");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, r.wijk)
        .bind(2, dayOf(r.observed_at_ms))
        .bind(3, r.signal_id)
        .bind(4, r.household)
        .bind(5, r.case_id)
        .bind(6, r.observed_at_ms)
        .run();
  }

  // --- report ------------------------------------------------------------------------

  static void bindOptional(Stmt& q, int i, const std::optional<std::int64_t>& v) {
    if (v) {
      q.bind(i, *v);
    } else {
      q.bindNull(i);
    }
  }

  Status putReportCase(const ReportCaseRow& r, bool live) override {
    // A case re-filed to another wijk leaves its old wijk's range.
    Stmt* del = stmt("DELETE FROM report_cases WHERE case_id = ?1 AND (?2 = 0 OR wijk != ?3)");
    if (del == nullptr) return prepare_error_;
    EROPAF_RETURN_IF_ERROR(
        del->bind(1, r.case_id).bind(2, std::int64_t{live}).bind(3, r.wijk).run());
    if (!live) return {};
    Stmt* q = stmt(
        "INSERT INTO report_cases(case_id, wijk, merged, start_ms, first_attempt_ms, "
        "first_attempt_due_ms, first_gesprek_ms, first_gesprek_due_ms, attempts, state, "
        "ended_ms, resolution_code) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12) "
        "ON CONFLICT(wijk, case_id) DO UPDATE SET merged = ?3, start_ms = ?4, "
        "first_attempt_ms = ?5, first_attempt_due_ms = ?6, first_gesprek_ms = ?7, "
        "first_gesprek_due_ms = ?8, attempts = ?9, state = ?10, ended_ms = ?11, "
        "resolution_code = ?12");
    if (q == nullptr) return prepare_error_;
    q->bind(1, r.case_id)
        .bind(2, r.wijk)
        .bind(3, std::int64_t{r.merged})
        .bind(4, r.start_ms)
        .bind(6, r.first_attempt_due_ms)
        .bind(8, r.first_gesprek_due_ms)
        .bind(9, std::int64_t{r.attempts})
        .bind(10, static_cast<std::int64_t>(r.state))
        .bind(12, r.resolution_code);
    bindOptional(*q, 5, r.first_attempt_ms);
    bindOptional(*q, 7, r.first_gesprek_ms);
    bindOptional(*q, 11, r.ended_ms);
    return q->run();
  }

  Status putReportSignal(const ReportSignalRow& r, bool live) override {
    if (!live) {
      Stmt* q = stmt(
          "DELETE FROM report_signals WHERE wijk = ? AND observed_at_ms = ? AND signal_id = ?");
      if (q == nullptr) return prepare_error_;
      return q->bind(1, r.wijk).bind(2, r.observed_at_ms).bind(3, r.signal_id).run();
    }
    Stmt* q = stmt(
        "INSERT INTO report_signals(wijk, observed_at_ms, signal_id, source_role, categories) "
        "VALUES(?1,?2,?3,?4,?5) ON CONFLICT(wijk, observed_at_ms, signal_id) DO UPDATE SET "
        "source_role = ?4, categories = ?5");
    if (q == nullptr) return prepare_error_;
    return q->bind(1, r.wijk)
        .bind(2, r.observed_at_ms)
        .bind(3, r.signal_id)
        .bind(4, static_cast<std::int64_t>(r.source_role))
        .bind(5, r.categories)
        .run();
  }

  Result<std::vector<ReportCaseRow>> reportCases(std::span<const std::string> wijken) override {
    std::vector<ReportCaseRow> out;
    Stmt* q = stmt(
        "SELECT merged, start_ms, first_attempt_ms, first_attempt_due_ms, first_gesprek_ms, "
        "first_gesprek_due_ms, attempts, state, ended_ms, resolution_code FROM report_cases "
        "WHERE wijk = ?");
    if (q == nullptr) return prepare_error_;
    for (const std::string& wijk : wijken) {
      q->bind(1, wijk);
      for (;;) {
        Result<bool> row = q->step();
        if (!row.ok()) {
          q->reset();
          return row.status();
        }
        if (!*row) break;
        ReportCaseRow r;
        r.wijk = wijk;
        r.merged = q->int64(0) != 0;
        r.start_ms = q->int64(1);
        if (!q->isNull(2)) r.first_attempt_ms = q->int64(2);
        r.first_attempt_due_ms = q->int64(3);
        if (!q->isNull(4)) r.first_gesprek_ms = q->int64(4);
        r.first_gesprek_due_ms = q->int64(5);
        r.attempts = static_cast<std::int32_t>(q->int64(6));
        r.state = static_cast<CaseState>(q->int64(7));
        if (!q->isNull(8)) r.ended_ms = q->int64(8);
        r.resolution_code = q->text(9);
        out.push_back(std::move(r));
      }
      q->reset();
    }
    return out;
  }

  Result<std::vector<ReportSignalRow>> reportSignals(std::span<const std::string> wijken,
                                                     std::int64_t from_ms,
                                                     std::int64_t to_ms) override {
    std::vector<ReportSignalRow> out;
    Stmt* q = stmt(
        "SELECT observed_at_ms, source_role, categories FROM report_signals WHERE wijk = ? AND "
        "observed_at_ms >= ? AND observed_at_ms < ?");
    if (q == nullptr) return prepare_error_;
    for (const std::string& wijk : wijken) {
      q->bind(1, wijk).bind(2, from_ms).bind(3, to_ms);
      for (;;) {
        Result<bool> row = q->step();
        if (!row.ok()) {
          q->reset();
          return row.status();
        }
        if (!*row) break;
        ReportSignalRow r;
        r.wijk = wijk;
        r.observed_at_ms = q->int64(0);
        r.source_role = static_cast<Role>(q->int64(1));
        r.categories = q->text(2);
        out.push_back(std::move(r));
      }
      q->reset();
    }
    return out;
  }

  Result<std::vector<SignalHousehold>> householdSignals(std::string_view household,
                                                        std::span<const std::string> wijken,
                                                        std::int64_t since_ms,
                                                        std::int64_t until_ms) override {
    // Her wijken one by one: a range over the days of the window, the household compared on
    // each row (a wijk's signals of twelve weeks, a few thousand short rows at most).
    std::vector<SignalHousehold> out;
    if (until_ms < since_ms) return out;
    Stmt* q = stmt(
        "SELECT signal_id, household, wijk, case_id, observed_at_ms FROM signal_households "
        "WHERE wijk = ?1 AND observed_day BETWEEN ?2 AND ?3 AND household = ?4 AND "
        "observed_at_ms BETWEEN ?5 AND ?6");
    if (q == nullptr) return prepare_error_;
    for (const std::string& wijk : wijken) {
      q->bind(1, wijk)
          .bind(2, dayOf(since_ms))
          .bind(3, dayOf(until_ms))
          .bind(4, household)
          .bind(5, since_ms)
          .bind(6, until_ms);
      for (;;) {
        Result<bool> row = q->step();
        if (!row.ok()) {
          q->reset();
          return row.status();
        }
        if (!*row) break;
        out.push_back({q->text(0), q->text(1), q->text(2), q->text(3), q->int64(4)});
      }
      q->reset();
    }
    std::sort(out.begin(), out.end(), [](const SignalHousehold& a, const SignalHousehold& b) {
      return std::tie(a.observed_at_ms, a.signal_id) < std::tie(b.observed_at_ms, b.signal_id);
    });
    return out;
  }

  Result<std::vector<CaseNormRow>> householdCases(std::string_view household,
                                                  std::span<const std::string> wijken) override {
    Stmt* q = cached(std::string(kNormColumns) +
                     "WHERE household = ? AND household != '' AND is_open = 1 ORDER BY case_id");
    if (q == nullptr) return prepare_error_;
    q->bind(1, household);
    Result<std::vector<CaseNormRow>> rows = normRows(*q);
    if (!rows.ok()) return rows.status();
    std::vector<CaseNormRow> out;
    for (auto& r : *rows) {
      if (std::find(wijken.begin(), wijken.end(), r.wijk) != wijken.end()) {
        out.push_back(std::move(r));
      }
    }
    return out;
  }

  /// A prepared statement for SQL built at run time (a bounded set of shapes), kept by text.
  Stmt* cached(const std::string& sql) { return prepared(dynamic_cache_, sql, sql); }

  Stmt* stmt(const char* sql) { return prepared(cache_, sql, sql); }

  /// The statement `cache` keeps under `key`, prepared from `sql` on first use (nullptr and
  /// prepare_error_ set when SQLite refuses it).
  template <class Cache, class Key>
  Stmt* prepared(Cache& cache, const Key& key, const std::string& sql) {
    auto it = cache.find(key);
    if (it != cache.end()) return &it->second;
    Result<Stmt> s = db_->prepare(sql);
    if (!s.ok()) {
      prepare_error_ = s.status();
      return nullptr;
    }
    return &cache.emplace(key, std::move(s).value()).first->second;
  }

  static Result<std::optional<StoredRecord>> readOne(Stmt& q) {
    Result<bool> row = q.step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<StoredRecord>();
    Result<Record> rec = decodeRecord(q.blob(0));
    if (!rec.ok()) {
      return Status(ErrorCode::kStorageCorrupt,
                    "stored record does not decode: " + rec.status().message());
    }
    return std::optional<StoredRecord>(
        StoredRecord{std::move(rec).value(), static_cast<std::uint64_t>(q.int64(1)), q.text(2)});
  }

  static Result<std::vector<StoredRecord>> readAll(Stmt& q) {
    std::vector<StoredRecord> out;
    for (;;) {
      Result<std::optional<StoredRecord>> r = readOne(q);
      if (!r.ok()) {
        q.reset();
        return r.status();
      }
      if (!r->has_value()) break;
      out.push_back(std::move(**r));
    }
    q.reset();
    return out;
  }

  static Result<std::vector<Worker>> readWorkers(Stmt& q) {
    std::vector<Worker> out;
    for (;;) {
      Result<bool> row = q.step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back({q.text(0), q.text(1), static_cast<Role>(q.int64(2)), splitWijken(q.text(3)),
                     q.int64(4) != 0});
    }
    q.reset();
    return out;
  }

  static DeviceInfo readDevice(const Stmt& q) {
    return {q.text(0),
            q.text(1),
            q.text(2),
            q.int64(3) != 0,
            q.int64(4),
            q.int64(5),
            static_cast<std::uint64_t>(q.int64(6)),
            static_cast<std::uint64_t>(q.int64(7)),
            static_cast<std::uint64_t>(q.int64(8))};
  }

  std::unique_ptr<Db> db_;
  std::map<const char*, Stmt> cache_;
  std::map<std::string, Stmt> dynamic_cache_;
  Status prepare_error_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t saved_next_seq_ = 1;
  bool in_txn_ = false;
};

Result<std::unique_ptr<Db>> connect(const std::string& path) {
  Result<std::unique_ptr<Db>> db = Db::open(path);
  if (!db.ok()) return db.status();
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA busy_timeout=10000", "PRAGMA temp_store=MEMORY"}) {
    EROPAF_RETURN_IF_ERROR((*db)->exec(pragma));
  }
  return db;
}

class SqliteServerStore final : public ServerStore {
 public:
  explicit SqliteServerStore(std::string path) : path_(std::move(path)) {}

  Result<std::unique_ptr<StoreSession>> openSession() override {
    Result<std::unique_ptr<Db>> db = connect(path_);
    if (!db.ok()) return db.status();
    return std::unique_ptr<StoreSession>(new SqliteSession(std::move(db).value()));
  }

 private:
  std::string path_;
};

}  // namespace

namespace {

/// Migration to v4: the default categories get the defaults' new norm fields (nobody could
/// have set them before); labels, priorities and first-contact days stay as the admin set them.
Status fillNormDefaults(Db& d) {
  Result<Stmt> q = d.prepare(
      "UPDATE categories SET first_gesprek_days = ?2, working_days = ?3, min_attempts = ?4 "
      "WHERE code = ?1");
  if (!q.ok()) return q.status();
  for (const Category& c : defaultCategories()) {
    EROPAF_RETURN_IF_ERROR(q->bind(1, c.code)
                               .bind(2, std::int64_t{c.first_gesprek_days})
                               .bind(3, std::int64_t{c.working_days})
                               .bind(4, std::int64_t{c.min_attempts})
                               .run());
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<ServerStore>> openSqliteServerStore(const std::string& path) {
  Result<std::unique_ptr<Db>> db = connect(path);
  if (!db.ok()) return db.status();
  Db& d = **db;
  Result<Stmt> has = d.prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (!has.ok()) return has.status();
  if (Result<bool> r = has->step(); !r.ok()) return r.status();
  const bool exists = has->int64(0) != 0;
  has->reset();
  if (exists) {
    Result<Stmt> v = d.prepare("SELECT max(version) FROM schema_version");
    if (!v.ok()) return v.status();
    if (Result<bool> r = v->step(); !r.ok()) return r.status();
    const std::int64_t version = v->int64(0);
    v->reset();
    if (version < 1) {
      return Status(ErrorCode::kStorageCorrupt, "the server database has no schema version");
    }
    if (version > kSchemaVersion) {
      return Status(ErrorCode::kUnsupported,
                    "the server database was written by a newer eropaf-server (schema " +
                        std::to_string(version) + ")");
    }
    for (std::int64_t from = version; from < kSchemaVersion; ++from) {
      const std::string to = std::to_string(from + 1);
      EROPAF_RETURN_IF_ERROR(d.exec("BEGIN IMMEDIATE"));
      Status st = d.exec(kMigrations[from - 1]);
      if (st.ok() && from + 1 == 4) st = fillNormDefaults(d);
      // v5 (case_norms), v7 (report rows) and v8 (signal_queue) are derived from the records.
      if (st.ok() && (from + 1 == 5 || from + 1 == 7 || from + 1 == 8)) {
        st = d.exec("INSERT OR REPLACE INTO meta(key, value) VALUES('norms_recompute', x'01')");
      }
      if (st.ok()) {
        st = d.exec("INSERT INTO schema_version(version, applied_at_ms) VALUES(" + to + ", 0)");
      }
      if (st.ok()) st = d.exec("COMMIT");
      if (!st.ok()) {
        static_cast<void>(d.exec("ROLLBACK"));
        return st;
      }
    }
  } else {
    EROPAF_RETURN_IF_ERROR(d.exec("BEGIN IMMEDIATE"));
    Status st = d.exec(kSchemaV1);
    for (const char* migration : kMigrations) {
      if (st.ok()) st = d.exec(migration);
    }
    // A fresh database records every version it was built up to.
    for (int v = 1; st.ok() && v <= kSchemaVersion; ++v) {
      st = d.exec("INSERT INTO schema_version(version, applied_at_ms) VALUES(" + std::to_string(v) +
                  ", 0)");
    }
    if (!st.ok()) {
      static_cast<void>(d.exec("ROLLBACK"));
      return st;
    }
    Result<Stmt> cat = d.prepare(
        "INSERT INTO categories(code, label, default_priority, first_contact_days, sensitive, "
        "first_gesprek_days, working_days, min_attempts) VALUES(?,?,?,?,?,?,?,?)");
    if (!cat.ok()) return cat.status();
    for (const Category& c : defaultCategories()) {
      EROPAF_RETURN_IF_ERROR(bindCategory(*cat, c).run());
    }
    EROPAF_RETURN_IF_ERROR(d.exec("COMMIT"));
  }
  return std::unique_ptr<ServerStore>(new SqliteServerStore(path));
}

}  // namespace eropaf::server
