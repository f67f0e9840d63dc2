// The device store (see eropaf/store.hpp for its promises): opening (key check, migrations,
// node and clock), the prepared statements, meta, sealed record bodies, the identity and the
// category table. Store::Impl is in store_impl.hpp; the store is split by aspect: local
// writes and the outbox in store_writes.cpp, reads in store_reads.cpp, what the sync client
// applies from the server in store_remote.cpp.
//
// Every body is sealed under the store's key with its record id as associated data, so a body
// moved to another row does not open; a store opened with the wrong key is refused at open.
#include <sodium.h>

#include <cstring>

#include "eropaf/id.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/validate.hpp"
#include "eropaf/wire.hpp"
#include "store/schema.hpp"
#include "store/store_impl.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::store {

int currentSchemaVersion() noexcept { return detail::kSchemaVersion; }

namespace {

constexpr std::string_view kKeyCheck = "eropaf key check v1";

}  // namespace

Status Store::Impl::prepareStatements() {
  // Before v3 (a store opened with migrate_to 1 or 2: tests and tooling) the rows have no norm
  // columns. From v3 the case upsert leaves priority and due_ms to flushNorms(), which runs
  // in the same transaction.
  const char* upserts_v1[4] = {
      "INSERT INTO signals(id, reporter_id, wijk, household, observed_at_ms, triage_state, "
      "case_id, deleted, body) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(id) DO UPDATE SET "
      "reporter_id=?2, wijk=?3, household=?4, observed_at_ms=?5, triage_state=?6, case_id=?7, "
      "deleted=?8, body=?9",
      "INSERT INTO cases(id, wijk, household, state, is_open, assignee, priority, due_ms, "
      "conflict, deleted, body) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) ON CONFLICT(id) DO "
      "UPDATE SET wijk=?2, household=?3, state=?4, is_open=?5, assignee=?6, priority=?7, "
      "due_ms=?8, conflict=?9, deleted=?10, body=?11",
      "INSERT INTO contact_moments(id, case_id, at_ms, body) VALUES(?1,?2,?3,?4) "
      "ON CONFLICT(id) DO UPDATE SET case_id=?2, at_ms=?3, body=?4",
      "INSERT INTO transitions(id, case_id, at_ms, body) VALUES(?1,?2,?3,?4) "
      "ON CONFLICT(id) DO UPDATE SET case_id=?2, at_ms=?3, body=?4",
  };
  const char* upserts_v3[2] = {
      "INSERT INTO signals(id, reporter_id, wijk, household, observed_at_ms, triage_state, "
      "case_id, deleted, body, urgency) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10) ON CONFLICT(id) "
      "DO UPDATE SET reporter_id=?2, wijk=?3, household=?4, observed_at_ms=?5, triage_state=?6, "
      "case_id=?7, deleted=?8, body=?9, urgency=?10",
      "INSERT INTO cases(id, wijk, household, state, is_open, assignee, priority, due_ms, "
      "conflict, deleted, body, merged_into, derived_priority, first_attempt_due_ms, "
      "first_attempt_ms, first_gesprek_due_ms, first_gesprek_ms, open_due_ms, missed) "
      "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?8,?14,?15,?16,?17,?18) "
      "ON CONFLICT(id) DO UPDATE SET wijk=?2, household=?3, state=?4, is_open=?5, assignee=?6, "
      "priority=?7, due_ms=?8, conflict=?9, deleted=?10, body=?11, merged_into=?12, "
      "derived_priority=?13, first_attempt_due_ms=?8, first_attempt_ms=?14, "
      "first_gesprek_due_ms=?15, first_gesprek_ms=?16, open_due_ms=?17, missed=?18",
  };
  const char* upserts[4] = {schema >= 3 ? upserts_v3[0] : upserts_v1[0],
                            schema >= 3 ? upserts_v3[1] : upserts_v1[1], upserts_v1[2],
                            upserts_v1[3]};
  for (int i = 0; i < 4; ++i) {
    Result<Stmt> s = db->prepare(upserts[i]);
    if (!s.ok()) return s.status();
    upsert[i] = std::move(s).value();
    const std::string q = std::string("SELECT body FROM ") +
                          tableOf(static_cast<RecordKind>(i + 1)) + " WHERE id = ?";
    Result<Stmt> sel = db->prepare(q);
    if (!sel.ok()) return sel.status();
    select_body[i] = std::move(sel).value();
    Result<Stmt> upd =
        db->prepare(std::string("UPDATE ") + tableOf(static_cast<RecordKind>(i + 1)) +
                    " SET body = ? WHERE id = ?");
    if (!upd.ok()) return upd.status();
    update_body[i] = std::move(upd).value();
  }
  Result<Stmt> ob = db->prepare(
      "INSERT INTO outbox(change_id, kind, record_id, summary, created_ms, delta) "
      "VALUES(?,?,?,?,?,?)");
  if (!ob.ok()) return ob.status();
  insert_outbox = std::move(ob).value();
  Result<Stmt> meta = db->prepare(
      "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET "
      "value = ?2");
  if (!meta.ok()) return meta.status();
  set_meta = std::move(meta).value();
  if (schema >= 2) {
    Result<Stmt> acc = db->prepare(
        "INSERT INTO access_log(at_ms, worker_id, device_id, action, record_id, household) "
        "VALUES(?,?,?,?,?,?)");
    if (!acc.ok()) return acc.status();
    insert_access = std::move(acc).value();
  }
  if (schema >= 3) {
    Result<Stmt> sc = db->prepare("SELECT case_id FROM signals WHERE id = ?");
    if (!sc.ok()) return sc.status();
    select_signal_case = std::move(sc).value();
    Result<Stmt> cm = db->prepare(
        "SELECT merged_into, wijk, assignee, state, is_open = 1 AND deleted = 0 FROM cases "
        "WHERE id = ?");
    if (!cm.ok()) return cm.status();
    select_case_merged = std::move(cm).value();
    Result<Stmt> un = db->prepare(
        "UPDATE cases SET priority=?1, derived_priority=?2, due_ms=?3, first_attempt_due_ms=?3, "
        "first_attempt_ms=?4, first_gesprek_due_ms=?5, first_gesprek_ms=?6, open_due_ms=?7, "
        "missed=?8 WHERE id=?9");
    if (!un.ok()) return un.status();
    update_norms = std::move(un).value();
    Result<Stmt> mn = db->prepare(
        "SELECT (SELECT count(*) FROM contact_moments WHERE id = ?1), first_attempt_ms, "
        "first_gesprek_ms FROM cases WHERE id = ?2");
    if (!mn.ok()) return mn.status();
    select_moment_news = std::move(mn).value();
  }
  if (schema >= 4) {
    Result<Stmt> oc = db->prepare(
        "INSERT INTO open_counts(wijk, assignee, state, n) VALUES(?1, ?2, ?3, ?4) "
        "ON CONFLICT DO UPDATE SET n = n + ?4");
    if (!oc.ok()) return oc.status();
    add_open_count = std::move(oc).value();
    Result<Stmt> cs =
        db->prepare("SELECT id, body FROM signals WHERE case_id = ?1 AND case_id != ''");
    if (!cs.ok()) return cs.status();
    case_signals = std::move(cs).value();
    Result<Stmt> mo = db->prepare(
        "SELECT id, body FROM contact_moments WHERE case_id = ?1 UNION ALL "
        "SELECT m.id, m.body FROM cases c JOIN contact_moments m ON m.case_id = c.id "
        "WHERE c.merged_into = ?1 AND c.merged_into != ''");
    if (!mo.ok()) return mo.status();
    case_moments = std::move(mo).value();
  }
  return {};
}

Result<std::optional<std::string>> Store::Impl::getMeta(std::string_view key) {
  Result<Stmt> q = db->prepare("SELECT value FROM meta WHERE key = ?");
  if (!q.ok()) return q.status();
  q->bind(1, key);
  Result<bool> row = q->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(q->blob(0));
}

Status Store::Impl::putMeta(std::string_view key, std::string_view value) {
  return set_meta.bind(1, key).bindBlob(2, value).run();
}

Status Store::Impl::persistHlc() {
  const std::uint64_t v = hlc.last();
  return putMeta("hlc", std::string_view(reinterpret_cast<const char*>(&v), sizeof v));
}

std::string Store::Impl::householdHash(std::string_view key) {
  return key.empty() ? std::string() : cipher->keyedHash(key);
}

Result<Record> Store::Impl::decodeBody(const std::string& id, const std::string& sealed) {
  Result<std::string> plain = cipher->open(sealed, id);
  if (!plain.ok()) return plain.status();
  Result<Record> rec = decodeRecord(*plain);
  if (!rec.ok()) {
    return Status(ErrorCode::kStorageCorrupt,
                  "stored record " + id + " does not decode: " + rec.status().message());
  }
  return rec;
}

Result<Record> Store::Impl::openDelta(const std::string& change_id, const std::string& sealed) {
  Result<std::string> plain = cipher->open(sealed, change_id);
  if (!plain.ok()) return plain.status();
  Result<Record> delta = decodeRecord(*plain);
  if (!delta.ok()) {
    return Status(ErrorCode::kStorageCorrupt, "outbox change " + change_id + " does not decode");
  }
  return delta;
}

Result<std::optional<Record>> Store::Impl::load(RecordKind kind, std::string_view id) {
  Stmt& q = select_body[static_cast<int>(kind) - 1];
  q.bind(1, id);
  Result<bool> row = q.step();
  if (!row.ok()) return row.status();
  if (!*row) {
    q.reset();
    return std::optional<Record>();
  }
  std::string body = q.blob(0);
  q.reset();
  Result<Record> rec = decodeBody(std::string(id), body);
  if (!rec.ok()) return rec.status();
  if (recordKind(*rec) != kind) {
    return Status(ErrorCode::kStorageCorrupt,
                  "stored record " + std::string(id) + " has the wrong kind");
  }
  return std::optional<Record>(std::move(rec).value());
}

Result<const Identity*> Store::Impl::me() {
  if (!identity) {
    return Status(ErrorCode::kFailedPrecondition,
                  "this store has no identity yet: enroll the device (or `eropaf init`)");
  }
  return &*identity;
}

Result<std::vector<Worker>> Store::Impl::loadWorkers() {
  Impl& s = *this;
  Result<std::optional<std::string>> raw = s.getMeta("reference");
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::vector<Worker>();
  Result<std::string> plain = s.cipher->open(**raw, "reference");
  if (!plain.ok()) return plain.status();
  v1::ReferenceData ref;
  if (!ref.ParseFromString(*plain)) {
    return Status(ErrorCode::kStorageCorrupt, "stored reference data does not decode");
  }
  std::vector<Worker> out;
  for (const auto& w : ref.workers()) {
    // setReference stored only valid workers, so one that does not map back is corruption.
    Result<Worker> worker = wire::fromProto(w);
    if (!worker.ok()) {
      return Status(ErrorCode::kStorageCorrupt,
                    "stored reference data holds an invalid worker: " + worker.status().message());
    }
    out.push_back(std::move(worker).value());
  }
  return out;
}

Status Store::Impl::loadIdentity() {
  Result<std::optional<std::string>> raw = getMeta("identity");
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return {};
  Result<std::string> plain = cipher->open(**raw, "identity");
  if (!plain.ok()) return plain.status();
  v1::Worker w;
  if (!w.ParseFromString(*plain)) {
    return Status(ErrorCode::kStorageCorrupt, "stored identity does not decode");
  }
  Identity id;
  id.worker_id = w.id();
  id.name = w.name();
  id.role = static_cast<Role>(w.role());
  id.wijken.assign(w.wijken().begin(), w.wijken().end());
  id.device_id = device_id;
  identity = std::move(id);
  return {};
}

Status Store::Impl::loadCategories() {
  // Before v3 the table has only the first five columns; the others read as the defaults.
  Result<Stmt> q = db->prepare(
      schema >= 3 ? "SELECT code, label, default_priority, first_contact_days, sensitive, "
                    "first_gesprek_days, working_days, min_attempts FROM categories ORDER BY code"
                  : "SELECT code, label, default_priority, first_contact_days, sensitive "
                    "FROM categories ORDER BY code");
  if (!q.ok()) return q.status();
  categories.clear();
  for (;;) {
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Category c{q->text(0), q->text(1), static_cast<Priority>(q->int64(2)),
               static_cast<std::int32_t>(q->int64(3)), q->int64(4) != 0};
    if (schema >= 3) {
      c.first_gesprek_days = static_cast<std::int32_t>(q->int64(5));
      c.working_days = q->int64(6) != 0;
      c.min_attempts = static_cast<std::int32_t>(q->int64(7));
    }
    categories.push_back(std::move(c));
  }
  return {};
}

Status Store::Impl::replaceCategories(std::span<const Category> cats) {
  Status st = inTransaction([&]() -> Status {
    EROPAF_RETURN_IF_ERROR(db->exec("DELETE FROM categories"));
    Result<Stmt> ins = db->prepare(
        schema >= 3 ? "INSERT INTO categories(code, label, default_priority, first_contact_days, "
                      "sensitive, first_gesprek_days, working_days, min_attempts) "
                      "VALUES(?,?,?,?,?,?,?,?)"
                    : "INSERT INTO categories(code, label, default_priority, first_contact_days, "
                      "sensitive) VALUES(?,?,?,?,?)");
    if (!ins.ok()) return ins.status();
    for (const Category& c : cats) {
      ins->bind(1, c.code)
          .bind(2, c.label)
          .bind(3, static_cast<std::int64_t>(c.default_priority))
          .bind(4, std::int64_t{c.first_contact_days})
          .bind(5, std::int64_t{c.sensitive});
      if (schema >= 3) {
        ins->bind(6, std::int64_t{c.first_gesprek_days})
            .bind(7, std::int64_t{c.working_days})
            .bind(8, std::int64_t{c.min_attempts});
      }
      EROPAF_RETURN_IF_ERROR(ins->run());
    }
    // The norms follow the new table at once: every open case is recomputed (flushNorms, in
    // this transaction) with the categories just written.
    EROPAF_RETURN_IF_ERROR(loadCategories());
    if (schema >= 3) {
      Result<Stmt> open = db->prepare("SELECT id FROM cases WHERE is_open = 1 AND deleted = 0");
      if (!open.ok()) return open.status();
      for (;;) {
        Result<bool> row = open->step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        markDirty(open->text(0));
      }
    }
    return {};
  });
  // A refused transaction leaves the stored table; the cache follows it again.
  if (!st.ok()) static_cast<void>(loadCategories());
  return st;
}

// --- open ----------------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(OpenOptions options) {
  if (sodium_init() < 0) return Status(ErrorCode::kInternal, "libsodium failed to initialise");
  if (options.path.empty()) {
    return Status(ErrorCode::kInvalidArgument, "the store needs a file path", "path");
  }
  if (options.migrate_to < 0 || options.migrate_to > detail::kSchemaVersion) {
    return Status(ErrorCode::kInvalidArgument,
                  "migrate_to is outside 0.." + std::to_string(detail::kSchemaVersion),
                  "migrate_to");
  }
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
  Result<std::unique_ptr<Db>> db = Db::open(options.path, options.vfs);
  if (!db.ok()) return db.status();
  // WAL with synchronous=FULL: a commit returns only after the WAL is synced, so every write
  // that returned survives power loss. busy_timeout covers a second process (the CLI and a
  // test, say) holding the write lock briefly.
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA busy_timeout=5000",
        "PRAGMA foreign_keys=OFF", "PRAGMA secure_delete=ON", "PRAGMA cache_size=-16384",
        "PRAGMA temp_store=MEMORY"}) {
    EROPAF_RETURN_IF_ERROR((*db)->exec(pragma));
  }
  const int target = options.migrate_to == 0 ? detail::kSchemaVersion : options.migrate_to;
  auto impl = std::make_unique<Impl>(std::move(db).value(), std::make_unique<Cipher>(options.key),
                                     options.clock, options.max_skew_ms);
  sodium_memzero(options.key.data(), options.key.size());
  Impl& s = *impl;
  Result<int> before = detail::schemaVersionOf(*s.db);
  if (!before.ok()) return before.status();
  if (*before > target && options.migrate_to == 0) {
    EROPAF_RETURN_IF_ERROR(detail::migrate(*s.db, target, s.now()));  // reports kUnsupported
  }
  EROPAF_RETURN_IF_ERROR(detail::migrate(*s.db, target, s.now()));
  Result<int> version = detail::schemaVersionOf(*s.db);
  if (!version.ok()) return version.status();
  s.schema = *version;
  EROPAF_RETURN_IF_ERROR(s.prepareStatements());

  // Key check: a known text sealed at creation must open with the key given now.
  Result<std::optional<std::string>> check = s.getMeta("key_check");
  if (!check.ok()) return check.status();
  if (check->has_value()) {
    Result<std::string> plain = s.cipher->open(**check, "key_check");
    if (!plain.ok() || *plain != kKeyCheck) {
      return Status(ErrorCode::kCrypto, "the key does not open this store (wrong key?)");
    }
  } else {
    std::uint64_t node = 0;
    randombytes_buf(&node, sizeof node);
    Status init = s.inTransaction([&]() -> Status {
      EROPAF_RETURN_IF_ERROR(s.putMeta("key_check", s.cipher->seal(kKeyCheck, "key_check")));
      EROPAF_RETURN_IF_ERROR(
          s.putMeta("node", std::string_view(reinterpret_cast<const char*>(&node), sizeof node)));
      return s.putMeta("device_id", newUuidV7(s.now()));
    });
    EROPAF_RETURN_IF_ERROR(init);
    EROPAF_RETURN_IF_ERROR(s.replaceCategories(defaultCategories()));
  }
  Result<std::optional<std::string>> node = s.getMeta("node");
  Result<std::optional<std::string>> last = s.getMeta("hlc");
  Result<std::optional<std::string>> device = s.getMeta("device_id");
  if (!node.ok()) return node.status();
  if (!last.ok()) return last.status();
  if (!device.ok()) return device.status();
  if (!node->has_value() || (*node)->size() != sizeof s.node || !device->has_value()) {
    return Status(ErrorCode::kStorageCorrupt, "store metadata (node, device id) is missing");
  }
  std::memcpy(&s.node, (*node)->data(), sizeof s.node);
  s.device_id = **device;
  if (last->has_value() && (*last)->size() == sizeof(std::uint64_t)) {
    std::uint64_t v = 0;
    std::memcpy(&v, (*last)->data(), sizeof v);
    s.hlc = Hlc(*s.clock, v, options.max_skew_ms);
  }
  EROPAF_RETURN_IF_ERROR(s.loadIdentity());
  EROPAF_RETURN_IF_ERROR(s.loadCategories());
  if (s.schema >= 3) {
    // Rows migrated from v1/v2 get their norm columns (the key is present until this is done;
    // a crash in between runs it again at the next open).
    Result<std::optional<std::string>> pending = s.getMeta("norms_recompute");
    if (!pending.ok()) return pending.status();
    if (pending->has_value()) EROPAF_RETURN_IF_ERROR(s.recomputeAfterMigration());
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

int Store::schemaVersion() const { return impl_->schema; }
std::uint64_t Store::node() const { return impl_->node; }
std::uint64_t Store::hlcLast() const {
  std::lock_guard lock(impl_->mu);
  return impl_->hlc.last();
}

Status Store::setIdentity(const Identity& identity) {
  if (!isValidWorkerId(identity.worker_id)) {
    return Status(ErrorCode::kInvalidArgument, "worker id must be 1-64 characters of a-z 0-9 . _ -",
                  "worker_id");
  }
  EROPAF_RETURN_IF_ERROR(checkText("name", identity.name, kMaxShortBytes, true));
  if (identity.role == Role::kUnspecified || static_cast<int>(identity.role) > 4) {
    return Status(ErrorCode::kInvalidArgument, "role is not a known role", "role");
  }
  for (const auto& w : identity.wijken) {
    if (!isValidWijkCode(w)) {
      return Status(ErrorCode::kInvalidArgument,
                    "wijk '" + (isValidUtf8(w) ? w : std::string("?")) +
                        "' is not a CBS wijk code like WK015301",
                    "wijken");
    }
  }
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Worker w{identity.worker_id, identity.name, identity.role, identity.wijken, true};
  v1::Worker msg;
  wire::toProto(w, msg);
  const std::string device_id = identity.device_id.empty() ? s.device_id : identity.device_id;
  EROPAF_RETURN_IF_ERROR(s.inTransaction([&]() -> Status {
    EROPAF_RETURN_IF_ERROR(
        s.putMeta("identity", s.cipher->seal(msg.SerializeAsString(), "identity")));
    return s.putMeta("device_id", device_id);
  }));
  s.device_id = device_id;
  s.identity = identity;
  s.identity->device_id = device_id;
  return {};
}

std::optional<Identity> Store::identity() const {
  std::lock_guard lock(impl_->mu);
  return impl_->identity;
}

Status Store::setCategories(std::span<const Category> categories) {
  for (const Category& c : categories) {
    EROPAF_RETURN_IF_ERROR(checkText("categories.code", c.code, 64, true));
    EROPAF_RETURN_IF_ERROR(checkText("categories.label", c.label, kMaxShortBytes, true));
    if (c.first_contact_days < 0) {
      return Status(ErrorCode::kInvalidArgument, "first_contact_days is negative",
                    "categories.first_contact_days");
    }
    if (Status norms = norms::checkNorms(c); !norms.ok()) {
      return Status(norms.code(), norms.message(), "categories." + norms.field());
    }
  }
  std::lock_guard lock(impl_->mu);
  return impl_->replaceCategories(categories);
}

std::vector<Category> Store::categories() const {
  std::lock_guard lock(impl_->mu);
  return impl_->categories;
}

}  // namespace eropaf::store
