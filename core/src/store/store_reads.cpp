// The device store, reads: getters, the lists a screen shows (mine, the wijk queue,
// untriaged, conflicts), a household, the outbox, the export of all records and matchIds.
//
// Reads decrypt bodies selected through plaintext index columns that reveal no personal
// detail. A read of personal detail leaves a line in the local access log (logAccess).
#include "eropaf/id.hpp"
#include "eropaf/validate.hpp"
#include "eropaf/wire.hpp"
#include "store/store_impl.hpp"

namespace eropaf::store {

void Store::Impl::logAccess(std::string_view action, std::string_view record_id,
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
  // Most urgent first (urgency 4 = acuut), then oldest: the signals_untriaged index order.
  auto r = impl_->query<Signal>(
      impl_->schema >= 3
          ? "SELECT id, body FROM signals WHERE wijk = ? AND triage_state <= 1 AND deleted = 0 "
            "ORDER BY urgency DESC, observed_at_ms, id LIMIT ?"
          : "SELECT id, body FROM signals WHERE wijk = ? AND triage_state <= 1 AND deleted = 0 "
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
    Result<Record> delta = s.openDelta(e.change_id, q->blob(10));
    if (!delta.ok()) return delta.status();
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

}  // namespace eropaf::store
