// The device store (see eropaf/store.hpp for its promises).
//
// Every write follows one path: check identity and role, validate the request, stamp fields
// with a fresh HLC version, then in ONE transaction write the full record state(s), append
// the delta(s) to the outbox and persist the clock. Reads decrypt bodies selected through
// plaintext index columns that reveal no personal detail.
//
// Case.state follows transitions: a device never pushes a state field after a case's
// creation; it pushes the Transition and sets its local state optimistically. The server
// checks the transition and answers with the authoritative state.
#include "eropaf/store.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>

#include "eropaf/id.hpp"
#include "eropaf/merge.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/permissions.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "eropaf/wire.hpp"
#include "store/crypto.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::store {

using detail::Cipher;
using detail::Db;
using detail::Stmt;
using detail::Transaction;

int currentSchemaVersion() noexcept { return detail::kSchemaVersion; }

namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kNoDue = std::numeric_limits<std::int64_t>::max();
constexpr std::string_view kKeyCheck = "eropaf key check v1";

const char* tableOf(RecordKind kind) {
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

Address normalized(Address a) {
  std::string pc;
  for (const char c : a.postcode) {
    if (c != ' ') pc.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  // Only normalise what already has the right shape; validation reports the rest as typed.
  if (pc.size() == 6) a.postcode = pc;
  return a;
}

Status permission(std::string message) {
  return Status(ErrorCode::kPermissionDenied, std::move(message));
}

Status notFound(std::string_view what, std::string_view id) {
  return Status(ErrorCode::kNotFound,
                std::string(what) + " " + std::string(id) + " is not in this store");
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

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
  std::mutex mu;

  Stmt upsert[4];
  Stmt select_body[4];
  Stmt update_body[4];
  Stmt insert_outbox;
  Stmt set_meta;
  Stmt insert_access;

  Impl(std::unique_ptr<Db> d, std::unique_ptr<Cipher> c, std::shared_ptr<Clock> clk,
       std::int64_t max_skew)
      : db(std::move(d)), cipher(std::move(c)), clock(std::move(clk)), hlc(*clock, 0, max_skew) {}

  std::int64_t now() { return clock->nowMs(); }
  Version nextVersion() { return {hlc.tick(), node}; }

  Status prepareStatements() {
    const char* upserts[4] = {
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
    return {};
  }

  Result<std::optional<std::string>> getMeta(std::string_view key) {
    Result<Stmt> q = db->prepare("SELECT value FROM meta WHERE key = ?");
    if (!q.ok()) return q.status();
    q->bind(1, key);
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(q->blob(0));
  }

  Status putMeta(std::string_view key, std::string_view value) {
    return set_meta.bind(1, key).bindBlob(2, value).run();
  }

  Status persistHlc() {
    const std::uint64_t v = hlc.last();
    return putMeta("hlc", std::string_view(reinterpret_cast<const char*>(&v), sizeof v));
  }

  std::string householdHash(std::string_view key) {
    return key.empty() ? std::string() : cipher->keyedHash(key);
  }

  // --- records ---------------------------------------------------------------------------

  Result<Record> decodeBody(const std::string& id, const std::string& sealed) {
    Result<std::string> plain = cipher->open(sealed, id);
    if (!plain.ok()) return plain.status();
    Result<Record> rec = decodeRecord(*plain);
    if (!rec.ok()) {
      return Status(ErrorCode::kStorageCorrupt,
                    "stored record " + id + " does not decode: " + rec.status().message());
    }
    return rec;
  }

  Result<std::optional<Record>> load(RecordKind kind, std::string_view id) {
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

  template <class T>
  Result<T> loadAs(std::string_view id, std::string_view what) {
    Result<std::optional<Record>> r = load(static_cast<RecordKind>(Record(T{}).index() + 1), id);
    if (!r.ok()) return r.status();
    if (!r->has_value()) return notFound(what, id);
    return std::get<T>(std::move(**r));
  }

  /// The plain index columns a record produces; equal tuples mean only the body changes.
  std::string indexKey(const Record& r) {
    return std::visit(
        [&](const auto& x) -> std::string {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Signal>) {
            return x.content.reporter_id + '\x1f' + x.content.wijk + '\x1f' +
                   x.content.household_key + '\x1f' + std::to_string(x.content.observed_at_ms) +
                   '\x1f' + std::to_string(static_cast<int>(x.triage_state.value)) + '\x1f' +
                   x.case_id.value + '\x1f' + std::to_string(x.deleted.value);
          } else if constexpr (std::is_same_v<T, Case>) {
            return x.wijk.value + '\x1f' + x.household_key.value + '\x1f' +
                   std::to_string(static_cast<int>(x.state.value)) + '\x1f' + x.assignee.value +
                   '\x1f' + std::to_string(static_cast<int>(x.priority.value)) + '\x1f' +
                   std::to_string(x.first_contact_due_ms.value) + '\x1f' +
                   std::to_string(x.first_contact_due_ms.isSet()) + '\x1f' +
                   std::to_string(x.conflict.value) + '\x1f' + std::to_string(x.deleted.value);
          } else {
            return x.case_id + '\x1f' + std::to_string(x.at_ms);
          }
        },
        r);
  }

  /// Rewrites only the sealed body of an existing row (its index columns are unchanged), so
  /// SQLite touches no index page.
  Status writeBody(const Record& full) {
    const std::string& id = recordId(full);
    Stmt& s = update_body[static_cast<int>(recordKind(full)) - 1];
    return s.bindBlob(1, cipher->seal(encodeRecord(full), id)).bind(2, id).run();
  }

  Status write(const Record& full) {
    const std::string& id = recordId(full);
    const std::string body = cipher->seal(encodeRecord(full), id);
    const auto kind = recordKind(full);
    Stmt& s = upsert[static_cast<int>(kind) - 1];
    s.bind(1, id);
    std::visit(
        [&](const auto& r) {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, Signal>) {
            s.bind(2, r.content.reporter_id)
                .bind(3, r.content.wijk)
                .bindBlob(4, householdHash(r.content.household_key))
                .bind(5, r.content.observed_at_ms)
                .bind(6, static_cast<std::int64_t>(r.triage_state.value))
                .bind(7, r.case_id.value)
                .bind(8, std::int64_t{r.deleted.value})
                .bindBlob(9, body);
          } else if constexpr (std::is_same_v<T, Case>) {
            const auto prio =
                r.priority.isSet() ? static_cast<std::int64_t>(r.priority.value) : std::int64_t{9};
            s.bind(2, r.wijk.value)
                .bindBlob(3, householdHash(r.household_key.value))
                .bind(4, static_cast<std::int64_t>(r.state.value))
                .bind(5, std::int64_t{isOpenState(r.state.value)})
                .bind(6, r.assignee.value)
                .bind(7, prio)
                .bind(8, r.first_contact_due_ms.isSet() ? r.first_contact_due_ms.value : kNoDue)
                .bind(9, std::int64_t{r.conflict.value})
                .bind(10, std::int64_t{r.deleted.value})
                .bindBlob(11, body);
          } else {
            s.bind(2, r.case_id).bind(3, r.at_ms).bindBlob(4, body);
          }
        },
        full);
    return s.run();
  }

  Status enqueue(const Record& delta, std::string_view summary) {
    const std::string change_id = newUuidV7(now());
    return insert_outbox.bind(1, change_id)
        .bind(2, static_cast<std::int64_t>(recordKind(delta)))
        .bind(3, recordId(delta))
        .bind(4, summary)
        .bind(5, now())
        .bindBlob(6, cipher->seal(encodeRecord(delta), change_id))
        .run();
  }

  /// Runs `body` in one immediate transaction, persisting the clock before COMMIT.
  template <class F>
  Status inTransaction(F&& body) {
    Transaction txn(*db);
    EROPAF_RETURN_IF_ERROR(txn.begin());
    EROPAF_RETURN_IF_ERROR(body());
    EROPAF_RETURN_IF_ERROR(persistHlc());
    return txn.commit();
  }

  /// A local change: full states to write, deltas with summaries for the outbox.
  struct Change {
    Record full;
    Record delta;
    std::string summary;
  };

  Status commit(const std::vector<Change>& changes) {
    return inTransaction([&]() -> Status {
      for (const Change& c : changes) {
        EROPAF_RETURN_IF_ERROR(write(c.full));
        EROPAF_RETURN_IF_ERROR(enqueue(c.delta, c.summary));
      }
      return {};
    });
  }

  // --- identity and access --------------------------------------------------------------

  Result<const Identity*> me() {
    if (!identity) {
      return Status(ErrorCode::kFailedPrecondition,
                    "this store has no identity yet: enroll the device (or `eropaf init`)");
    }
    return &*identity;
  }

  /// The cached colleagues from the server's reference data; empty before it sent any.
  Result<std::vector<Worker>> loadWorkers() {
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
        return Status(
            ErrorCode::kStorageCorrupt,
            "stored reference data holds an invalid worker: " + worker.status().message());
      }
      out.push_back(std::move(worker).value());
    }
    return out;
  }

  Status requireWijk(const Identity& id, std::string_view wijk) {
    if (!contains(id.wijken, wijk)) {
      return Status(ErrorCode::kPermissionDenied,
                    "wijk " + std::string(wijk) + " is not one of your wijken", "wijk");
    }
    return {};
  }

  void logAccess(std::string_view action, std::string_view record_id,
                 std::string_view household_key) {
    if (schema < 2 || !identity) return;
    // The access log is evidence, not data the caller waits for: a failed insert is reported
    // by the next write that hits the same storage error, and the read itself still answers.
    static_cast<void>(insert_access.bind(1, now())
                          .bind(2, identity->worker_id)
                          .bind(3, device_id)
                          .bind(4, action)
                          .bind(5, record_id)
                          .bindBlob(6, householdHash(household_key))
                          .run());
  }

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

  std::int64_t dueFor(const std::vector<std::string>& codes, std::int64_t opened_at) {
    std::int32_t days = std::numeric_limits<std::int32_t>::max();
    for (const auto& code : codes) {
      for (const auto& c : categories) {
        if (c.code == code) days = std::min(days, c.first_contact_days);
      }
    }
    if (days == std::numeric_limits<std::int32_t>::max()) return kNoDue;
    return opened_at + static_cast<std::int64_t>(days) * kDayMs;
  }

  Priority defaultPriority(const std::vector<std::string>& codes) {
    Priority p = Priority::kLaag;
    for (const auto& code : codes) {
      for (const auto& c : categories) {
        if (c.code == code && c.default_priority < p) p = c.default_priority;
      }
    }
    return p;
  }

  Status loadIdentity() {
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

  Status loadCategories() {
    Result<Stmt> q = db->prepare(
        "SELECT code, label, default_priority, first_contact_days, sensitive FROM categories "
        "ORDER BY code");
    if (!q.ok()) return q.status();
    categories.clear();
    for (;;) {
      Result<bool> row = q->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      categories.push_back({q->text(0), q->text(1), static_cast<Priority>(q->int64(2)),
                            static_cast<std::int32_t>(q->int64(3)), q->int64(4) != 0});
    }
    return {};
  }

  Status replaceCategories(std::span<const Category> cats) {
    return inTransaction([&]() -> Status {
      EROPAF_RETURN_IF_ERROR(db->exec("DELETE FROM categories"));
      Result<Stmt> ins = db->prepare(
          "INSERT INTO categories(code, label, default_priority, first_contact_days, sensitive) "
          "VALUES(?,?,?,?,?)");
      if (!ins.ok()) return ins.status();
      for (const Category& c : cats) {
        EROPAF_RETURN_IF_ERROR(ins->bind(1, c.code)
                                   .bind(2, c.label)
                                   .bind(3, static_cast<std::int64_t>(c.default_priority))
                                   .bind(4, std::int64_t{c.first_contact_days})
                                   .bind(5, std::int64_t{c.sensitive})
                                   .run());
      }
      return {};
    });
  }
};

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
        "PRAGMA foreign_keys=OFF", "PRAGMA secure_delete=ON", "PRAGMA cache_size=-16384"}) {
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
  EROPAF_RETURN_IF_ERROR(impl_->replaceCategories(categories));
  return impl_->loadCategories();
}

std::vector<Category> Store::categories() const {
  std::lock_guard lock(impl_->mu);
  return impl_->categories;
}

// --- writes ----------------------------------------------------------------------------------

Result<Signal> Store::createSignal(const NewSignal& request) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role == Role::kAdmin) return permission("an admin does not report signals");
  if (!isValidWijkCode(request.wijk)) {
    return Status(ErrorCode::kInvalidArgument, "wijk is not a CBS wijk code like WK015301", "wijk");
  }
  const Address address = normalized(request.address);
  EROPAF_RETURN_IF_ERROR(checkAddress("address", address));
  EROPAF_RETURN_IF_ERROR(checkCategories("categories", request.categories, s.categories, true));
  EROPAF_RETURN_IF_ERROR(checkText("text", request.text, kMaxSignalTextBytes, true));
  if (request.urgency == Urgency::kUnspecified || static_cast<int>(request.urgency) > 4) {
    return Status(ErrorCode::kInvalidArgument, "urgency is not laag, normaal, hoog or acuut",
                  "urgency");
  }
  if (request.informed == Informed::kUnspecified || static_cast<int>(request.informed) > 3) {
    return Status(ErrorCode::kRequiredFieldMissing,
                  "say whether the person was informed (AVG art. 14): yes, later or risk",
                  "informed");
  }
  const std::int64_t now = s.now();
  const Version v = s.nextVersion();
  Signal sig;
  sig.id = newUuidV7(now);
  sig.created = v;
  sig.content.reporter_id = id.worker_id;
  sig.content.source_role = id.role;
  sig.content.wijk = request.wijk;
  sig.content.address = address;
  sig.content.household_key = householdKey(address);
  sig.content.categories = request.categories;
  std::sort(sig.content.categories.begin(), sig.content.categories.end());
  sig.content.categories.erase(
      std::unique(sig.content.categories.begin(), sig.content.categories.end()),
      sig.content.categories.end());
  sig.content.urgency = request.urgency;
  sig.content.observed_at_ms = request.observed_at_ms.value_or(now);
  sig.content.text = request.text;
  sig.content.informed = request.informed;
  sig.triage_state.set(TriageState::kNieuw, v);
  EROPAF_RETURN_IF_ERROR(validateRecord(sig));
  EROPAF_RETURN_IF_ERROR(s.commit({{sig, sig, "signal created"}}));
  return sig;
}

Result<Case> Store::openCase(const NewCase& request) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kCoordinator && id.role != Role::kWijkcoach) {
    return permission("only a coordinator or a wijkcoach opens a case");
  }
  if (!isValidWijkCode(request.wijk)) {
    return Status(ErrorCode::kInvalidArgument, "wijk is not a CBS wijk code like WK015301", "wijk");
  }
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, request.wijk));
  const Address address = normalized(request.address);
  EROPAF_RETURN_IF_ERROR(checkAddress("address", address));
  EROPAF_RETURN_IF_ERROR(checkText("title", request.title, kMaxTitleBytes, true));
  EROPAF_RETURN_IF_ERROR(checkCategories("categories", request.categories, s.categories, true));
  if (request.priority &&
      (*request.priority == Priority::kUnspecified || static_cast<int>(*request.priority) > 4)) {
    return Status(ErrorCode::kInvalidArgument, "priority is not acuut, hoog, normaal or laag",
                  "priority");
  }
  std::vector<Signal> signals;
  for (const auto& sid : request.signal_ids) {
    Result<Signal> sig = s.loadAs<Signal>(sid, "signal");
    if (!sig.ok()) return Status(sig.status().code(), sig.status().message(), "signal_ids");
    if (id.role == Role::kWijkcoach && sig->content.reporter_id != id.worker_id) {
      return permission("a wijkcoach links only their own signals");
    }
    signals.push_back(std::move(sig).value());
  }
  const std::int64_t now = s.now();
  const Version v = s.nextVersion();
  Case c;
  c.id = newUuidV7(now);
  c.created = v;
  c.opened_by = id.worker_id;
  c.opened_at_ms = now;
  c.wijk.set(request.wijk, v);
  c.household_key.set(householdKey(address), v);
  c.address.set(address, v);
  c.title.set(request.title, v);
  std::vector<std::string> cats = request.categories;
  for (const auto& sig : signals) {
    cats.insert(cats.end(), sig.content.categories.begin(), sig.content.categories.end());
  }
  for (const auto& code : cats) c.categories[code] = SetEntry{true, v};
  c.state.set(CaseState::kNieuw, v);
  c.assignee.set("", v);
  c.priority.set(request.priority.value_or(s.defaultPriority(cats)), v);
  const std::int64_t due = s.dueFor(cats, now);
  if (due != kNoDue) c.first_contact_due_ms.set(due, v);
  c.conflict.set(false, v);
  EROPAF_RETURN_IF_ERROR(validateRecord(c));
  std::vector<Impl::Change> changes{{c, c, "case opened"}};
  for (Signal& sig : signals) {
    Signal delta;
    delta.id = sig.id;
    delta.case_id.set(c.id, v);
    delta.triage_state.set(TriageState::kGekoppeld, v);
    mergeInto(sig, delta);
    changes.push_back({sig, delta, "signal linked to case"});
  }
  EROPAF_RETURN_IF_ERROR(s.commit(changes));
  return c;
}

Status Store::linkSignal(std::string_view signal_id, std::string_view case_id) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  Result<Signal> sig = s.loadAs<Signal>(signal_id, "signal");
  if (!sig.ok()) return Status(sig.status().code(), sig.status().message(), "signal_id");
  Result<Case> c = s.loadAs<Case>(case_id, "case");
  if (!c.ok()) return Status(c.status().code(), c.status().message(), "case_id");
  if (id.role == Role::kCoordinator) {
    EROPAF_RETURN_IF_ERROR(s.requireWijk(id, c->wijk.value));
  } else if (id.role == Role::kWijkcoach) {
    if (c->assignee.value != id.worker_id) {
      return permission("a wijkcoach links signals only to cases assigned to them");
    }
  } else {
    return permission("only a coordinator or the assigned wijkcoach links signals");
  }
  if (!isOpenState(c->state.value)) {
    return Status(ErrorCode::kFailedPrecondition,
                  "case is " + std::string(toString(c->state.value)) + "; reopen it first");
  }
  const Version v = s.nextVersion();
  Signal sdelta;
  sdelta.id = sig->id;
  sdelta.case_id.set(c->id, v);
  sdelta.triage_state.set(TriageState::kGekoppeld, v);
  mergeInto(*sig, sdelta);
  std::vector<Impl::Change> changes{{*sig, sdelta, "signal linked to case"}};
  Case cdelta;
  cdelta.id = c->id;
  for (const auto& code : sig->content.categories) {
    auto it = c->categories.find(code);
    if (it == c->categories.end() || !it->second.present) cdelta.categories[code] = {true, v};
  }
  if (!cdelta.categories.empty()) {
    mergeInto(*c, cdelta);
    changes.push_back({*c, cdelta, "case categories added from signal"});
  }
  return s.commit(changes);
}

namespace {

Transition makeTransition(const Case& c, CaseState to, const Identity& id, std::string reason,
                          bool online, std::int64_t now, Version v) {
  Transition t;
  t.id = newUuidV7(now);
  t.created = v;
  t.case_id = c.id;
  t.from = c.state.value;
  t.to = to;
  t.actor_id = id.worker_id;
  t.actor_role = id.role;
  t.at_ms = now;
  t.reason = std::move(reason);
  t.made_offline = !online;
  t.outcome.set(TransitionOutcome::kPending, v);
  return t;
}

std::string moveSummary(CaseState from, CaseState to) {
  return "case moved " + std::string(toString(from)) + " → " + std::string(toString(to));
}

}  // namespace

namespace {

/// The device's worker as the permissions module sees it.
Worker asWorker(const Identity& id) { return {id.worker_id, id.name, id.role, id.wijken, true}; }

}  // namespace

Status Store::assignCase(std::string_view case_id, std::string_view worker_id) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kCoordinator) return permission("only a coordinator assigns cases");
  if (!isValidWorkerId(worker_id)) {
    return Status(ErrorCode::kInvalidArgument, "not a worker id", "worker_id");
  }
  Result<Case> c = s.loadAs<Case>(case_id, "case");
  if (!c.ok()) return Status(c.status().code(), c.status().message(), "case_id");
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, c->wijk.value));
  if (!isOpenState(c->state.value)) {
    return Status(ErrorCode::kFailedPrecondition,
                  "case is " + std::string(toString(c->state.value)) + "; reopen it first");
  }
  // The same rule as the server's, for a colleague the server told this device about (a
  // home-care worker, a coach of another wijk). One it did not tell about yet (reference data
  // older than the enrollment) is left to the server, which refuses what is not valid.
  Result<std::vector<Worker>> known = s.loadWorkers();
  if (!known.ok()) return known.status();
  const auto it = std::find_if(known->begin(), known->end(),
                               [&](const Worker& w) { return w.id == worker_id; });
  if (it != known->end()) {
    EROPAF_RETURN_IF_ERROR(permissions::mayAssign(worker_id, &*it, c->wijk.value));
  }
  const std::int64_t now = s.now();
  const Version v = s.nextVersion();
  Case delta;
  delta.id = c->id;
  delta.assignee.set(std::string(worker_id), v);
  std::vector<Impl::Change> changes;
  const CaseState from = c->state.value;
  if (from == CaseState::kNieuw || from == CaseState::kHeropend) {
    EROPAF_RETURN_IF_ERROR(checkTransition(from, CaseState::kToegewezen, id.role, "", true));
    Transition t = makeTransition(*c, CaseState::kToegewezen, id, "", false, now, v);
    mergeInto(*c, delta);
    c->state.set(CaseState::kToegewezen, v);
    changes.push_back({*c, delta, "case assigned to " + std::string(worker_id)});
    changes.push_back({t, t, moveSummary(from, CaseState::kToegewezen)});
  } else {
    mergeInto(*c, delta);
    changes.push_back({*c, delta, "case reassigned to " + std::string(worker_id)});
  }
  return s.commit(changes);
}

Status Store::pickUpCase(std::string_view case_id) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kWijkcoach) return permission("only a wijkcoach picks up a case");
  Result<Case> c = s.loadAs<Case>(case_id, "case");
  if (!c.ok()) return Status(c.status().code(), c.status().message(), "case_id");
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, c->wijk.value));
  if (!c->assignee.value.empty()) {
    return Status(ErrorCode::kFailedPrecondition,
                  "case is already assigned to " + c->assignee.value);
  }
  const CaseState from = c->state.value;
  EROPAF_RETURN_IF_ERROR(checkTransition(from, CaseState::kToegewezen, id.role, "", true));
  const std::int64_t now = s.now();
  const Version v = s.nextVersion();
  Case delta;
  delta.id = c->id;
  delta.assignee.set(id.worker_id, v);
  Transition t = makeTransition(*c, CaseState::kToegewezen, id, "", false, now, v);
  mergeInto(*c, delta);
  c->state.set(CaseState::kToegewezen, v);
  return s.commit(
      {{*c, delta, "case picked up"}, {t, t, moveSummary(from, CaseState::kToegewezen)}});
}

Status Store::setPriority(std::string_view case_id, Priority priority) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kCoordinator) return permission("only a coordinator sets priority");
  if (priority == Priority::kUnspecified || static_cast<int>(priority) > 4) {
    return Status(ErrorCode::kInvalidArgument, "priority is not acuut, hoog, normaal or laag",
                  "priority");
  }
  Result<Case> c = s.loadAs<Case>(case_id, "case");
  if (!c.ok()) return Status(c.status().code(), c.status().message(), "case_id");
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, c->wijk.value));
  Case delta;
  delta.id = c->id;
  delta.priority.set(priority, s.nextVersion());
  mergeInto(*c, delta);
  return s.commit({{*c, delta, "case priority set to " + std::string(toString(priority))}});
}

Result<ContactMoment> Store::addContactMoment(const NewContactMoment& request) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  Result<Case> c = s.loadAs<Case>(request.case_id, "case");
  if (!c.ok()) return Status(c.status().code(), c.status().message(), "case_id");
  {
    // The permissions module decides, as on the server (a device makes no new work on a case
    // it knows is not theirs).
    const Worker me_w = asWorker(id);
    ContactMoment probe;
    probe.created = {1, 0};
    probe.author_id = id.worker_id;
    Status may = permissions::mayCreateMoment(me_w, permissions::caseHoldOnDevice(me_w, *c), probe,
                                              permissions::Origin::kDevice);
    if (!may.ok()) {
      return permission(id.role == Role::kWijkcoach
                            ? "a wijkcoach records contact moments only on cases assigned to them"
                            : "only the assigned wijkcoach or a coordinator records contact "
                              "moments");
    }
  }
  if (request.kind == ContactKind::kUnspecified || static_cast<int>(request.kind) > 4) {
    return Status(ErrorCode::kInvalidArgument,
                  "kind is not huisbezoek, telefoon, bericht or overleg", "kind");
  }
  if (request.outcome == ContactOutcome::kUnspecified || static_cast<int>(request.outcome) > 5) {
    return Status(ErrorCode::kRequiredFieldMissing,
                  "outcome is required: gesprek, niet_thuis, deur_niet_geopend, weigert_contact "
                  "or doorverwezen",
                  "outcome");
  }
  EROPAF_RETURN_IF_ERROR(checkText("note", request.note, kMaxNoteBytes, false));
  if (!request.corrects_id.empty()) {
    Result<ContactMoment> old = s.loadAs<ContactMoment>(request.corrects_id, "contact moment");
    if (!old.ok()) return Status(old.status().code(), old.status().message(), "corrects_id");
    if (old->case_id != c->id) {
      return Status(ErrorCode::kInvalidArgument, "the corrected moment belongs to another case",
                    "corrects_id");
    }
  }
  const std::int64_t now = s.now();
  if (request.at_ms && *request.at_ms <= 0) {
    return Status(ErrorCode::kInvalidArgument, "at_ms must be a positive time", "at_ms");
  }
  ContactMoment m;
  m.id = newUuidV7(now);
  m.created = s.nextVersion();
  m.case_id = c->id;
  m.author_id = id.worker_id;
  m.at_ms = request.at_ms.value_or(now);
  m.kind = request.kind;
  m.outcome = request.outcome;
  m.note = request.note;
  m.corrects_id = request.corrects_id;
  EROPAF_RETURN_IF_ERROR(validateRecord(m));
  EROPAF_RETURN_IF_ERROR(s.commit({{m, m, "contact moment " + std::string(toString(m.outcome))}}));
  return m;
}

Result<Transition> Store::moveCase(const MoveCase& request) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  Result<Case> c = s.loadAs<Case>(request.case_id, "case");
  if (!c.ok()) return Status(c.status().code(), c.status().message(), "case_id");
  if (request.to == CaseState::kUnspecified || static_cast<int>(request.to) > 10) {
    return Status(ErrorCode::kInvalidArgument, "to is not a case state", "to");
  }
  EROPAF_RETURN_IF_ERROR(checkText("reason", request.reason, kMaxReasonBytes, false));
  const CaseState from = c->state.value;
  EROPAF_RETURN_IF_ERROR(checkTransition(from, request.to, id.role, request.reason, !request.online,
                                         request.resolution_code));
  // A coach's proposal (geen contact mogelijk) waits for the coordinator: no optimistic move,
  // and no resolution fields, which are the coordinator's to write.
  const TransitionRule* rule = findTransition(from, request.to);
  const bool proposal = id.role == Role::kWijkcoach && rule != nullptr && rule->coach_proposes;
  if (id.role == Role::kWijkcoach) {
    EROPAF_RETURN_IF_ERROR(s.requireWijk(id, c->wijk.value));
    if (request.to == CaseState::kToegewezen) {
      if (!c->assignee.value.empty()) {
        return Status(ErrorCode::kFailedPrecondition,
                      "case is already assigned to " + c->assignee.value);
      }
    } else if (c->assignee.value != id.worker_id) {
      return permission("a wijkcoach moves only cases assigned to them");
    }
  } else if (id.role == Role::kCoordinator) {
    EROPAF_RETURN_IF_ERROR(s.requireWijk(id, c->wijk.value));
    if (request.to == CaseState::kToegewezen && c->assignee.value.empty()) {
      return Status(ErrorCode::kFailedPrecondition,
                    "assign a wijkcoach to move the case to toegewezen", "to");
    }
  }
  if (request.to == CaseState::kAfgesloten) {
    // The guard on what this device holds; the server judges it again on what it stored.
    Result<std::vector<ContactMoment>> moments = s.query<ContactMoment>(
        "SELECT id, body FROM contact_moments WHERE case_id = ? ORDER BY at_ms, id LIMIT ?",
        {c->id}, 0);
    if (!moments.ok()) return moments.status();
    EROPAF_RETURN_IF_ERROR(
        checkGuard(from, request.to, norms::guardFacts(*c, *moments, s.categories)));
  }
  const std::int64_t now = s.now();
  const Version v = s.nextVersion();
  Transition t = makeTransition(*c, request.to, id, request.reason, request.online, now, v);
  t.resolution_code = request.resolution_code;
  Case delta;
  delta.id = c->id;
  if (request.to == CaseState::kToegewezen && c->assignee.value.empty()) {
    delta.assignee.set(id.worker_id, v);
  }
  if (!proposal &&
      (request.to == CaseState::kAfgesloten || request.to == CaseState::kGeannuleerd)) {
    delta.resolution_text.set(request.reason, v);
  }
  mergeInto(*c, delta);
  // Optimistic; the server's check decides (see file comment). A proposal does not move. The
  // resolution code travels in the transition only and is not set here: the server writes it on
  // the case when the close applies (a close that becomes a conflict leaves no code anywhere),
  // and this device learns it with its next pull.
  if (!proposal) c->state.set(request.to, v);
  std::vector<Impl::Change> changes{{t, t, moveSummary(from, request.to)}};
  if (delta.assignee.isSet() || delta.resolution_text.isSet()) {
    changes.insert(changes.begin(), {*c, delta, "case updated with move"});
  } else {
    // The case row changes (state) without an outbox row of its own.
    EROPAF_RETURN_IF_ERROR(s.inTransaction([&]() -> Status {
      EROPAF_RETURN_IF_ERROR(s.write(*c));
      EROPAF_RETURN_IF_ERROR(s.write(t));
      return s.enqueue(t, moveSummary(from, request.to));
    }));
    return t;
  }
  EROPAF_RETURN_IF_ERROR(s.commit(changes));
  return t;
}

Status Store::resolveConflict(std::string_view case_id, std::optional<CaseState> to,
                              std::string_view reason) {
  {
    std::lock_guard lock(impl_->mu);
    Impl& s = *impl_;
    Result<const Identity*> me = s.me();
    if (!me.ok()) return me.status();
    if ((*me)->role != Role::kCoordinator)
      return permission("only a coordinator resolves conflicts");
    Result<Case> c = s.loadAs<Case>(case_id, "case");
    if (!c.ok()) return Status(c.status().code(), c.status().message(), "case_id");
    EROPAF_RETURN_IF_ERROR(s.requireWijk(**me, c->wijk.value));
    if (!c->conflict.value) {
      return Status(ErrorCode::kFailedPrecondition, "case " + c->id + " is not in conflict");
    }
    EROPAF_RETURN_IF_ERROR(checkText("reason", reason, kMaxReasonBytes, true));
  }
  if (to) {
    const Result<std::optional<Case>> current = getCase(case_id);
    if (!current.ok()) return current.status();
    if (current->has_value() && (*current)->state.value != *to) {
      Result<Transition> t = moveCase({std::string(case_id), *to, std::string(reason), true});
      if (!t.ok()) return t.status();
    }
  }
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<Case> c = s.loadAs<Case>(case_id, "case");
  if (!c.ok()) return c.status();
  Case delta;
  delta.id = c->id;
  delta.conflict.set(false, s.nextVersion());
  mergeInto(*c, delta);
  return s.commit({{*c, delta, "conflict resolved"}});
}

// --- reads -----------------------------------------------------------------------------------

Result<std::optional<Signal>> Store::signal(std::string_view id) const {
  std::lock_guard lock(impl_->mu);
  Result<std::optional<Record>> r = impl_->load(RecordKind::kSignal, id);
  if (!r.ok()) return r.status();
  if (!r->has_value()) return std::optional<Signal>();
  Signal sig = std::get<Signal>(std::move(**r));
  impl_->logAccess("read:signal", sig.id, sig.content.household_key);
  return std::optional<Signal>(std::move(sig));
}

Result<std::optional<Case>> Store::getCase(std::string_view id) const {
  std::lock_guard lock(impl_->mu);
  Result<std::optional<Record>> r = impl_->load(RecordKind::kCase, id);
  if (!r.ok()) return r.status();
  if (!r->has_value()) return std::optional<Case>();
  Case c = std::get<Case>(std::move(**r));
  impl_->logAccess("read:case", c.id, c.household_key.value);
  return std::optional<Case>(std::move(c));
}

Result<std::vector<ContactMoment>> Store::contactMoments(std::string_view case_id) const {
  std::lock_guard lock(impl_->mu);
  Result<std::vector<ContactMoment>> r = impl_->query<ContactMoment>(
      "SELECT id, body FROM contact_moments WHERE case_id = ? ORDER BY at_ms, id LIMIT ?",
      {std::string(case_id)}, 0);
  if (r.ok()) impl_->logAccess("read:contact_moments", case_id, "");
  return r;
}

Result<std::vector<Transition>> Store::transitions(std::string_view case_id) const {
  std::lock_guard lock(impl_->mu);
  return impl_->query<Transition>(
      "SELECT id, body FROM transitions WHERE case_id = ? ORDER BY at_ms, id LIMIT ?",
      {std::string(case_id)}, 0);
}

Result<std::vector<Signal>> Store::mySignals(ListOptions options) const {
  std::lock_guard lock(impl_->mu);
  Result<const Identity*> me = impl_->me();
  if (!me.ok()) return me.status();
  auto r = impl_->query<Signal>(
      "SELECT id, body FROM signals WHERE reporter_id = ? AND deleted = 0 "
      "ORDER BY observed_at_ms DESC, id DESC LIMIT ?",
      {(*me)->worker_id}, options.limit);
  if (r.ok()) impl_->logAccess("list:my_signals", "", "");
  return r;
}

Result<std::vector<Case>> Store::myCases(ListOptions options) const {
  std::lock_guard lock(impl_->mu);
  Result<const Identity*> me = impl_->me();
  if (!me.ok()) return me.status();
  auto r = impl_->query<Case>(
      "SELECT id, body FROM cases WHERE assignee = ? AND is_open = 1 AND deleted = 0 "
      "ORDER BY priority, due_ms, id LIMIT ?",
      {(*me)->worker_id}, options.limit);
  if (r.ok()) impl_->logAccess("list:my_cases", "", "");
  return r;
}

Result<std::vector<Case>> Store::wijkQueue(std::string_view wijk, ListOptions options) const {
  if (!isValidWijkCode(wijk)) {
    return Status(ErrorCode::kInvalidArgument, "wijk is not a CBS wijk code like WK015301", "wijk");
  }
  std::lock_guard lock(impl_->mu);
  auto r = impl_->query<Case>(
      "SELECT id, body FROM cases WHERE wijk = ? AND is_open = 1 AND assignee = '' AND "
      "deleted = 0 ORDER BY priority, due_ms, id LIMIT ?",
      {std::string(wijk)}, options.limit);
  if (r.ok()) impl_->logAccess("list:wijk_queue", "", "");
  return r;
}

Result<std::vector<Signal>> Store::untriagedSignals(std::string_view wijk,
                                                    ListOptions options) const {
  if (!isValidWijkCode(wijk)) {
    return Status(ErrorCode::kInvalidArgument, "wijk is not a CBS wijk code like WK015301", "wijk");
  }
  std::lock_guard lock(impl_->mu);
  auto r = impl_->query<Signal>(
      "SELECT id, body FROM signals WHERE wijk = ? AND triage_state <= 1 AND deleted = 0 "
      "ORDER BY observed_at_ms, id LIMIT ?",
      {std::string(wijk)}, options.limit);
  if (r.ok()) impl_->logAccess("list:untriaged", "", "");
  return r;
}

Result<std::vector<Case>> Store::conflictCases(ListOptions options) const {
  std::lock_guard lock(impl_->mu);
  auto r = impl_->query<Case>(
      "SELECT id, body FROM cases WHERE conflict = 1 AND deleted = 0 ORDER BY priority, id "
      "LIMIT ?",
      {}, options.limit);
  if (r.ok()) impl_->logAccess("list:conflicts", "", "");
  return r;
}

Result<Household> Store::household(std::string_view household_key) const {
  EROPAF_RETURN_IF_ERROR(checkText("household_key", household_key, kMaxShortBytes, true));
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  const std::string hash = s.householdHash(household_key);
  Household h;
  h.household_key = std::string(household_key);
  auto sigs = s.query<Signal>(
      "SELECT id, body FROM signals WHERE household = ? AND deleted = 0 "
      "ORDER BY observed_at_ms, id LIMIT ?",
      {}, 0, hash);
  if (!sigs.ok()) return sigs.status();
  auto cases = s.query<Case>(
      "SELECT id, body FROM cases WHERE household = ? AND deleted = 0 ORDER BY id LIMIT ?", {}, 0,
      hash);
  if (!cases.ok()) return cases.status();
  // A keyed hash can in theory collide; the decrypted key is the truth.
  for (Signal& sig : *sigs) {
    if (sig.content.household_key == household_key) h.signals.push_back(std::move(sig));
  }
  for (Case& c : *cases) {
    if (c.household_key.value != household_key) continue;
    auto moments = s.query<ContactMoment>(
        "SELECT id, body FROM contact_moments WHERE case_id = ? ORDER BY at_ms, id LIMIT ?", {c.id},
        0);
    if (!moments.ok()) return moments.status();
    auto trans = s.query<Transition>(
        "SELECT id, body FROM transitions WHERE case_id = ? ORDER BY at_ms, id LIMIT ?", {c.id}, 0);
    if (!trans.ok()) return trans.status();
    h.contact_moments.insert(h.contact_moments.end(), moments->begin(), moments->end());
    h.transitions.insert(h.transitions.end(), trans->begin(), trans->end());
    h.cases.push_back(std::move(c));
  }
  s.logAccess("read:household", "", household_key);
  return h;
}

Result<std::vector<OutboxEntry>> Store::outbox(ListOptions options) const {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<Stmt> q = s.db->prepare(
      "SELECT seq, change_id, kind, record_id, summary, created_ms, status, error_code, "
      "error_message, error_field, delta FROM outbox ORDER BY seq LIMIT ?");
  if (!q.ok()) return q.status();
  q->bind(1, options.limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(options.limit));
  std::vector<OutboxEntry> out;
  for (;;) {
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    OutboxEntry e;
    e.seq = q->int64(0);
    e.change_id = q->text(1);
    const std::int64_t kind = q->int64(2);
    const std::int64_t status = q->int64(6);
    if (kind < 1 || kind > 4 || status < 1 || status > 2) {
      return Status(ErrorCode::kStorageCorrupt,
                    "outbox change " + e.change_id + " has an unknown kind or status");
    }
    e.kind = static_cast<RecordKind>(kind);
    e.record_id = q->text(3);
    e.summary = q->text(4);
    e.created_ms = q->int64(5);
    e.status = static_cast<OutboxStatus>(status);
    if (e.status == OutboxStatus::kRefused) {
      const std::optional<ErrorCode> code = errorCodeFromNumber(q->int64(7));
      if (!code || *code == ErrorCode::kOk) {
        return Status(ErrorCode::kStorageCorrupt,
                      "outbox change " + e.change_id + " has an unknown refusal code");
      }
      e.refusal = Status(*code, q->text(8), q->text(9));
    }
    Result<std::string> plain = s.cipher->open(q->blob(10), e.change_id);
    if (!plain.ok()) return plain.status();
    Result<Record> delta = decodeRecord(*plain);
    if (!delta.ok()) {
      return Status(ErrorCode::kStorageCorrupt,
                    "outbox change " + e.change_id + " does not decode");
    }
    e.delta = std::move(delta).value();
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::size_t> Store::outboxSize() const {
  std::lock_guard lock(impl_->mu);
  Result<Stmt> q = impl_->db->prepare("SELECT count(*) FROM outbox");
  if (!q.ok()) return q.status();
  Result<bool> row = q->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(ErrorCode::kStorageCorrupt, "count(*) over the outbox gave no row");
  return static_cast<std::size_t>(q->int64(0));
}

Result<std::vector<Record>> Store::allRecords() const {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  std::vector<Record> out;
  for (const char* table : {"signals", "cases", "contact_moments", "transitions"}) {
    Result<Stmt> q = s.db->prepare(std::string("SELECT id, body FROM ") + table + " ORDER BY id");
    if (!q.ok()) return q.status();
    for (;;) {
      Result<bool> row = q->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Result<Record> rec = s.decodeBody(q->text(0), q->blob(1));
      if (!rec.ok()) return rec.status();
      out.push_back(std::move(rec).value());
    }
  }
  s.logAccess("export:all", "", "");
  return out;
}

namespace {

/// `text` with LIKE's wildcards and the escape character escaped (ESCAPE '\'). matchIds
/// admits only hex digits and '-', so nothing needs escaping today; the escape keeps the query
/// literal should the accepted alphabet ever grow.
std::string likeLiteral(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> Store::matchIds(RecordKind kind, std::string_view prefix,
                                                 std::size_t limit) const {
  if (static_cast<int>(kind) < 1 || static_cast<int>(kind) > 4) {
    return Status(ErrorCode::kInvalidArgument, "record kind is not a known kind", "kind");
  }
  if (!isValidIdPrefix(prefix)) {
    // The text is not echoed: it may be anything, and the caller knows what it passed.
    return Status(ErrorCode::kInvalidArgument, "an id or id prefix is 1-36 hex digits and '-'",
                  "prefix");
  }
  // Upper-case digits need no folding: SQLite's LIKE ignores ASCII case (the store never sets
  // case_sensitive_like).
  const std::string full = likeLiteral(prefix) + "%";
  // The short form starts the last group: '_' matches any one character, here the 24 before
  // it. (A prefix with '-' or longer than the 12-digit group cannot match there, only at the
  // start.)
  const std::string tail = std::string(kShortIdOffset, '_') + likeLiteral(prefix) + "%";
  const bool has_deleted = kind == RecordKind::kSignal || kind == RecordKind::kCase;
  std::lock_guard lock(impl_->mu);
  Result<Stmt> q =
      impl_->db->prepare(std::string("SELECT id FROM ") + tableOf(kind) +
                         " WHERE (id LIKE ?1 ESCAPE '\\' OR id LIKE ?2 ESCAPE '\\')" +
                         (has_deleted ? " AND deleted = 0" : "") + " ORDER BY id LIMIT ?3");
  if (!q.ok()) return q.status();
  q->bind(1, full).bind(2, tail);
  q->bind(3, limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit));
  std::vector<std::string> out;
  for (;;) {
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(q->text(0));
  }
  return out;
}

// --- sync ------------------------------------------------------------------------------------

Result<ApplyStats> Store::applyRemote(std::span<const Record> records, std::uint64_t server_hlc) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  // How far the server's clock runs ahead of this device's: versions are judged by the
  // server's clock (what it accepted, bounded tighter than a device's skew, is fine here).
  if (server_hlc != 0) {
    s.server_ahead_ms = std::max<std::int64_t>(0, hlcMillis(server_hlc) - s.clock->nowMs());
  }
  const std::int64_t ahead = s.server_ahead_ms;
  ApplyStats stats;
  std::vector<const Record*> good;
  good.reserve(records.size());
  std::uint64_t newest = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    Status valid = validateRecord(records[i]);
    const std::uint64_t v = maxVersion(records[i]).hlc;
    if (valid.ok() && s.hlc.tooFarAhead(v, ahead)) valid = s.hlc.receive(v, ahead);
    if (!valid.ok()) {
      // One bad state never fails the page: it is skipped, counted and reported.
      if (stats.skipped++ == 0) {
        stats.first_skip = Status(
            valid.code(),
            "record " + std::to_string(i) + " (" + recordId(records[i]) + "): " + valid.message(),
            valid.field());
      }
      continue;
    }
    newest = std::max(newest, v);
    good.push_back(&records[i]);
  }
  // Remote states can be fetched again, so their commit need not wait for fsync: the sync
  // client stores the cursor only afterwards, in a synchronous=FULL commit, and syncing the WAL
  // for that commit makes every earlier frame durable too (the WAL is append-only). A crash in
  // between loses the batch and its cursor together, and the next pull brings both again.
  EROPAF_RETURN_IF_ERROR(s.db->exec("PRAGMA synchronous=NORMAL"));
  Status st = s.inTransaction([&]() -> Status {
    for (const Record* rp : good) {
      const Record& r = *rp;
      Result<std::optional<Record>> existing = s.load(recordKind(r), recordId(r));
      if (!existing.ok()) return existing.status();
      if (!existing->has_value()) {
        EROPAF_RETURN_IF_ERROR(s.write(r));
        ++stats.inserted;
        continue;
      }
      Record merged = **existing;
      EROPAF_RETURN_IF_ERROR(mergeInto(merged, r));
      if (merged == **existing) {
        ++stats.unchanged;
        continue;
      }
      if (s.indexKey(merged) == s.indexKey(**existing)) {
        EROPAF_RETURN_IF_ERROR(s.writeBody(merged));
      } else {
        EROPAF_RETURN_IF_ERROR(s.write(merged));
      }
      ++stats.updated;
    }
    return s.hlc.receive(newest, ahead);
  });
  // Back to full durability for everything the worker writes (see above).
  const Status restore = s.db->exec("PRAGMA synchronous=FULL");
  if (!st.ok()) return st;
  EROPAF_RETURN_IF_ERROR(restore);
  return stats;
}

Status Store::acknowledge(std::span<const std::string> change_ids) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  return s.inTransaction([&]() -> Status {
    Result<Stmt> del = s.db->prepare("DELETE FROM outbox WHERE change_id = ?");
    if (!del.ok()) return del.status();
    for (const auto& id : change_ids) EROPAF_RETURN_IF_ERROR(del->bind(1, id).run());
    return {};
  });
}

Status Store::markRefused(std::string_view change_id, const Status& reason) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<Stmt> upd = s.db->prepare(
      "UPDATE outbox SET status = 2, error_code = ?, error_message = ?, error_field = ? "
      "WHERE change_id = ?");
  if (!upd.ok()) return upd.status();
  EROPAF_RETURN_IF_ERROR(upd->bind(1, static_cast<std::int64_t>(reason.code()))
                             .bind(2, reason.message())
                             .bind(3, reason.field())
                             .bind(4, change_id)
                             .run());
  if (sqlite3_changes(s.db->handle()) == 0) return notFound("outbox change", change_id);
  return {};
}

Status Store::evict(std::string_view record_id) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  // Pending outbox rows stay: they are this worker's own unsent work (nothing is lost); the
  // server answers them.
  const std::string me = s.identity ? s.identity->worker_id : std::string();
  return s.inTransaction([&]() -> Status {
    for (const char* sql :
         {"DELETE FROM signals WHERE id = ?1 OR (case_id = ?1 AND reporter_id != ?2)",
          "DELETE FROM cases WHERE id = ?1",
          "DELETE FROM contact_moments WHERE id = ?1 OR case_id = ?1",
          "DELETE FROM transitions WHERE id = ?1 OR case_id = ?1"}) {
      Result<Stmt> del = s.db->prepare(sql);
      if (!del.ok()) return del.status();
      del->bind(1, record_id);
      if (std::string_view(sql).find("?2") != std::string_view::npos) del->bind(2, me);
      EROPAF_RETURN_IF_ERROR(del->run());
    }
    return {};
  });
}

Status Store::restampChange(std::string_view change_id, std::uint64_t server_hlc) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<Stmt> q =
      s.db->prepare("SELECT kind, record_id, summary, delta FROM outbox WHERE change_id = ?");
  if (!q.ok()) return q.status();
  q->bind(1, change_id);
  Result<bool> row = q->step();
  if (!row.ok()) return row.status();
  if (!*row) return notFound("outbox change", change_id);
  const auto kind = static_cast<RecordKind>(q->int64(0));
  const std::string record_id = q->text(1);
  const std::string summary = q->text(2);
  Result<std::string> plain = s.cipher->open(q->blob(3), change_id);
  if (!plain.ok()) return plain.status();
  Result<Record> delta = decodeRecord(*plain);
  if (!delta.ok()) return Status(ErrorCode::kStorageCorrupt, "outbox change does not decode");
  // Versions above this bound are the ones the server refuses.
  const std::uint64_t bound = hlcPack(hlcMillis(server_hlc) + s.hlc.maxSkewMs(), 0xFFFF);
  if (s.hlc.last() > server_hlc) s.hlc.resetTo(server_hlc);
  const Version fresh = s.nextVersion();
  restampVersions(*delta, s.node, bound, fresh);
  Result<std::optional<Record>> local = s.load(kind, record_id);
  if (!local.ok()) return local.status();
  return s.inTransaction([&]() -> Status {
    if (local->has_value()) {
      restampVersions(**local, s.node, bound, fresh);
      EROPAF_RETURN_IF_ERROR(s.write(**local));
    }
    Result<Stmt> del = s.db->prepare("DELETE FROM outbox WHERE change_id = ?");
    if (!del.ok()) return del.status();
    EROPAF_RETURN_IF_ERROR(del->bind(1, change_id).run());
    return s.enqueue(*delta, summary);
  });
}

Status Store::observeRemoteVersion(std::uint64_t hlc) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  if (hlcMillis(hlc) > kHlcMaxMillis - s.hlc.maxSkewMs()) {
    return Status(ErrorCode::kClockSkew, "the server's clock is out of range");
  }
  s.server_ahead_ms = std::max<std::int64_t>(0, hlcMillis(hlc) - s.clock->nowMs());
  EROPAF_RETURN_IF_ERROR(s.hlc.receive(hlc, s.server_ahead_ms));
  return s.inTransaction([]() -> Status { return {}; });
}

Result<SyncState> Store::syncState() const {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<std::optional<std::string>> raw = s.getMeta("sync_state");
  if (!raw.ok()) return raw.status();
  SyncState st;
  if (!raw->has_value()) return st;
  Result<std::string> plain = s.cipher->open(**raw, "sync_state");
  if (!plain.ok()) return plain.status();
  // Four length-prefixed fields: url, token, cursor, last_sync_ms.
  std::string_view in = *plain;
  auto take = [&](std::string& out) -> bool {
    if (in.size() < 4) return false;
    std::uint32_t n = 0;
    std::memcpy(&n, in.data(), 4);
    in.remove_prefix(4);
    if (in.size() < n) return false;
    out.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
  };
  std::string last;
  if (!take(st.server_url) || !take(st.token) || !take(st.cursor) || !take(last) ||
      last.size() != sizeof st.last_sync_ms) {
    return Status(ErrorCode::kStorageCorrupt, "stored sync state does not decode");
  }
  std::memcpy(&st.last_sync_ms, last.data(), sizeof st.last_sync_ms);
  return st;
}

Status Store::setSyncState(const SyncState& state) {
  std::string plain;
  auto put = [&](std::string_view v) {
    const auto n = static_cast<std::uint32_t>(v.size());
    plain.append(reinterpret_cast<const char*>(&n), 4);
    plain.append(v);
  };
  put(state.server_url);
  put(state.token);
  put(state.cursor);
  put(std::string_view(reinterpret_cast<const char*>(&state.last_sync_ms),
                       sizeof state.last_sync_ms));
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  return s.inTransaction(
      [&]() -> Status { return s.putMeta("sync_state", s.cipher->seal(plain, "sync_state")); });
}

Status Store::setReference(std::span<const Worker> workers, std::span<const Wijk> wijken) {
  v1::ReferenceData ref;
  for (const Worker& w : workers) wire::toProto(w, *ref.add_workers());
  for (const Wijk& w : wijken) {
    v1::Wijk* out = ref.add_wijken();
    out->set_code(w.code);
    out->set_name(w.name);
  }
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  return s.inTransaction([&]() -> Status {
    return s.putMeta("reference", s.cipher->seal(ref.SerializeAsString(), "reference"));
  });
}

Result<std::vector<Worker>> Store::workers() const {
  std::lock_guard lock(impl_->mu);
  return impl_->loadWorkers();
}

Status Store::dropRecords() {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  return s.inTransaction([&]() -> Status {
    for (const char* sql : {"DELETE FROM signals", "DELETE FROM cases",
                            "DELETE FROM contact_moments", "DELETE FROM transitions"}) {
      EROPAF_RETURN_IF_ERROR(s.db->exec(sql));
    }
    return {};
  });
}

Status Store::wipe() {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Status st = s.inTransaction([&]() -> Status {
    for (const char* sql :
         {"DELETE FROM signals", "DELETE FROM cases", "DELETE FROM contact_moments",
          "DELETE FROM transitions", "DELETE FROM outbox",
          "DELETE FROM meta WHERE key IN ('identity', 'sync_state', 'reference')"}) {
      EROPAF_RETURN_IF_ERROR(s.db->exec(sql));
    }
    if (s.schema >= 2) EROPAF_RETURN_IF_ERROR(s.db->exec("DELETE FROM access_log"));
    return {};
  });
  EROPAF_RETURN_IF_ERROR(st);
  s.identity.reset();
  // secure_delete is on, so freed pages are zeroed; a checkpoint moves that into the file.
  return s.db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace eropaf::store
