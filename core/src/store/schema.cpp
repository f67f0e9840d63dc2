// Device store schema, one migration per released version.
//
// Index columns hold only what lists need (ids, wijk codes, states, priorities, due dates,
// keyed household hashes); everything personal lives in the encrypted `body`.
#include "store/schema.hpp"

#include <array>
#include <string>

namespace eropaf::store::detail {
namespace {

// v1: records, outbox, reference data, meta.
constexpr const char* kV1 = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL);
CREATE TABLE signals(
  id TEXT PRIMARY KEY NOT NULL,
  reporter_id TEXT NOT NULL,
  wijk TEXT NOT NULL,
  household BLOB NOT NULL,
  observed_at_ms INTEGER NOT NULL,
  triage_state INTEGER NOT NULL,
  case_id TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX signals_by_reporter ON signals(reporter_id, observed_at_ms);
CREATE INDEX signals_by_household ON signals(household);
CREATE INDEX signals_untriaged ON signals(wijk, observed_at_ms)
  WHERE triage_state <= 1 AND deleted = 0;
CREATE TABLE cases(
  id TEXT PRIMARY KEY NOT NULL,
  wijk TEXT NOT NULL,
  household BLOB NOT NULL,
  state INTEGER NOT NULL,
  is_open INTEGER NOT NULL,
  assignee TEXT NOT NULL,
  priority INTEGER NOT NULL,
  due_ms INTEGER NOT NULL,
  conflict INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX cases_by_assignee ON cases(assignee, priority, due_ms)
  WHERE is_open = 1 AND deleted = 0;
CREATE INDEX cases_queue ON cases(wijk, priority, due_ms)
  WHERE is_open = 1 AND assignee = '' AND deleted = 0;
CREATE INDEX cases_by_household ON cases(household);
CREATE INDEX cases_conflict ON cases(conflict) WHERE conflict = 1;
CREATE TABLE contact_moments(
  id TEXT PRIMARY KEY NOT NULL,
  case_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX contact_moments_by_case ON contact_moments(case_id, at_ms);
CREATE TABLE transitions(
  id TEXT PRIMARY KEY NOT NULL,
  case_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX transitions_by_case ON transitions(case_id, at_ms);
CREATE TABLE outbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  change_id TEXT NOT NULL UNIQUE,
  kind INTEGER NOT NULL,
  record_id TEXT NOT NULL,
  summary TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  status INTEGER NOT NULL DEFAULT 1,
  error_code INTEGER NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  error_field TEXT NOT NULL DEFAULT '',
  delta BLOB NOT NULL);
CREATE INDEX outbox_by_record ON outbox(record_id);
CREATE TABLE categories(
  code TEXT PRIMARY KEY NOT NULL,
  label TEXT NOT NULL,
  default_priority INTEGER NOT NULL,
  first_contact_days INTEGER NOT NULL,
  sensitive INTEGER NOT NULL);
)sql";

// v2: the device's access log (DESIGN "Who sees what": every read of case content on a device
// is recorded and uploaded at the next sync).
constexpr const char* kV2 = R"sql(
CREATE TABLE access_log(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  action TEXT NOT NULL,
  record_id TEXT NOT NULL,
  household BLOB,
  uploaded INTEGER NOT NULL DEFAULT 0);
CREATE INDEX access_log_pending ON access_log(seq) WHERE uploaded = 0;
)sql";

// v3: norms (docs/triage.md). Categories carry all their norms; signals their urgency; cases
// the columns deriveNorms() and firstContacts() give (filled by Store::Impl::refreshNorms, and
// for rows migrated from v1/v2 by the recompute pass Store::open runs while the meta key
// `norms_recompute` is present: bodies are encrypted, so SQL cannot derive them). `priority`
// becomes the effective priority (override or derived; 9 = none) and `due_ms` the first-attempt
// due date. `open_due_ms` is the earliest due date of a clock with no contact yet and `missed`
// says a clock was met late, so "overdue at now" is `missed = 1 OR open_due_ms < now`.
constexpr const char* kV3 = R"sql(
ALTER TABLE categories ADD COLUMN first_gesprek_days INTEGER NOT NULL DEFAULT 28;
ALTER TABLE categories ADD COLUMN working_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE categories ADD COLUMN min_attempts INTEGER NOT NULL DEFAULT 3;
ALTER TABLE signals ADD COLUMN urgency INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN derived_priority INTEGER NOT NULL DEFAULT 9;
ALTER TABLE cases ADD COLUMN first_attempt_due_ms INTEGER NOT NULL DEFAULT 9223372036854775807;
ALTER TABLE cases ADD COLUMN first_attempt_ms INTEGER;
ALTER TABLE cases ADD COLUMN first_gesprek_due_ms INTEGER NOT NULL DEFAULT 9223372036854775807;
ALTER TABLE cases ADD COLUMN first_gesprek_ms INTEGER;
ALTER TABLE cases ADD COLUMN open_due_ms INTEGER NOT NULL DEFAULT 9223372036854775807;
ALTER TABLE cases ADD COLUMN missed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN merged_into TEXT NOT NULL DEFAULT '';
DROP INDEX signals_untriaged;
CREATE INDEX signals_untriaged ON signals(wijk, urgency DESC, observed_at_ms, id)
  WHERE triage_state <= 1 AND deleted = 0;
DROP INDEX signals_by_household;
CREATE INDEX signals_by_household ON signals(household, observed_at_ms);
CREATE INDEX cases_open_order ON cases(priority, due_ms, id, wijk, missed, open_due_ms, assignee,
  state) WHERE is_open = 1 AND deleted = 0;
CREATE INDEX cases_open_count ON cases(wijk, open_due_ms, missed, assignee, state)
  WHERE is_open = 1 AND deleted = 0;
CREATE INDEX cases_merged ON cases(merged_into) WHERE merged_into != '';
CREATE INDEX signals_by_case ON signals(case_id) WHERE case_id != '';
INSERT INTO meta(key, value) VALUES('norms_recompute', x'01');
)sql";

// v4: the overview's counts without a scan. `open_counts` holds how many open, not deleted
// cases each (wijk, assignee, state) has: kept by the store's one case write (Impl::write, the
// only statement that inserts or updates those columns) and, for deletes (evict, wipe), by a
// trigger; a trigger on the upsert would make every case write keep a statement journal.
// Overdue cases are counted from `cases_overdue` by two range scans (missed = 1, then
// missed = 0 AND open_due_ms < now), which read only overdue entries.
constexpr const char* kV4 = R"sql(
CREATE TABLE open_counts(
  wijk TEXT NOT NULL,
  assignee TEXT NOT NULL,
  state INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY(wijk, assignee, state)) WITHOUT ROWID;
INSERT INTO open_counts(wijk, assignee, state, n)
  SELECT wijk, assignee, state, count(*) FROM cases WHERE is_open = 1 AND deleted = 0
  GROUP BY wijk, assignee, state;
CREATE TRIGGER cases_count_delete AFTER DELETE ON cases
  WHEN old.is_open = 1 AND old.deleted = 0 BEGIN
  UPDATE open_counts SET n = n - 1
    WHERE wijk = old.wijk AND assignee = old.assignee AND state = old.state;
END;
DROP INDEX cases_open_count;
CREATE INDEX cases_overdue ON cases(wijk, missed, open_due_ms, assignee, state)
  WHERE is_open = 1 AND deleted = 0;
)sql";

constexpr std::array<const char*, kSchemaVersion> kMigrations{kV1, kV2, kV3, kV4};

}  // namespace

Result<int> schemaVersionOf(Db& db) {
  Result<Stmt> has = db.prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (!has.ok()) return has.status();
  Result<bool> row = has->step();
  if (!row.ok()) return row.status();
  if (has->int64(0) == 0) return 0;
  Result<Stmt> q = db.prepare("SELECT coalesce(max(version), 0) FROM schema_version");
  if (!q.ok()) return q.status();
  row = q->step();
  if (!row.ok()) return row.status();
  return static_cast<int>(q->int64(0));
}

Status migrate(Db& db, int target, std::int64_t now_ms) {
  Result<int> current = schemaVersionOf(db);
  if (!current.ok()) return current.status();
  if (*current > kSchemaVersion) {
    return Status(ErrorCode::kUnsupported,
                  "the store was written by a newer eropaf (schema " + std::to_string(*current) +
                      ", this build knows up to " + std::to_string(kSchemaVersion) + ")");
  }
  for (int v = *current + 1; v <= target; ++v) {
    Transaction txn(db);
    EROPAF_RETURN_IF_ERROR(txn.begin());
    if (v == 1) {
      EROPAF_RETURN_IF_ERROR(
          db.exec("CREATE TABLE schema_version(version INTEGER PRIMARY KEY NOT NULL, "
                  "applied_at_ms INTEGER NOT NULL)"));
    }
    EROPAF_RETURN_IF_ERROR(db.exec(kMigrations[static_cast<std::size_t>(v - 1)]));
    Result<Stmt> rec =
        db.prepare("INSERT INTO schema_version(version, applied_at_ms) VALUES(?, ?)");
    if (!rec.ok()) return rec.status();
    EROPAF_RETURN_IF_ERROR(rec->bind(1, std::int64_t{v}).bind(2, now_ms).run());
    EROPAF_RETURN_IF_ERROR(txn.commit());
  }
  return {};
}

}  // namespace eropaf::store::detail
