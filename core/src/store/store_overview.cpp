// The device store, norms: the derived norm columns of every case (refreshNorms, run for every
// transaction that touched a case, a signal's link or a contact moment), the coordinator's
// overview, duplicate hints by household, and the reference wijken a write is checked against.
//
// The norm columns (schema v3, schema.cpp) are what deriveNorms() and firstContacts()
// (norms.hpp) give over the facts this device holds: the case, its linked signals (not
// deleted, not afgewezen) and the contact moments of it and of the cases merged into it.
// Overdue at `now` is a column test (`missed = 1 OR open_due_ms < now`), so the overview is
// served by indexes (cases_open_order for the rows in order, cases_overdue for the overdue
// count) and a table of counts kept by triggers (open_counts, schema v4), and decrypts only
// the rows it returns.
#include <algorithm>

#include "eropaf/id.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "eropaf/wire.hpp"
#include "store/store_impl.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::store {
namespace {

constexpr std::int64_t kHintWindowMs = std::int64_t{84} * 86'400'000;  // 12 weeks
constexpr std::int64_t kNoPriority = 9;  // the priority column of a case with none

std::int64_t priorityColumn(Priority p) {
  return p == Priority::kUnspecified ? kNoPriority : static_cast<std::int64_t>(p);
}

Priority priorityFromColumn(std::int64_t v) {
  return v >= 1 && v <= 4 ? static_cast<Priority>(v) : Priority::kUnspecified;
}

/// One bound parameter of a query built from the overview's filters.
struct Arg {
  bool is_int = false;
  std::int64_t i = 0;
  std::string s;
};

void bindAll(Stmt& q, const std::vector<Arg>& args, int first = 1) {
  int n = first;
  for (const Arg& a : args) {
    if (a.is_int) {
      q.bind(n++, a.i);
    } else {
      q.bind(n++, a.s);
    }
  }
}

std::string printable(std::string_view text) {
  if (!isValidUtf8(text) || text.size() > 64) return "?";
  return std::string(text);
}

}  // namespace

// --- norm columns ----------------------------------------------------------------------------

void Store::Impl::markDirty(std::string_view case_id) {
  if (!case_id.empty()) dirty_cases.emplace(case_id);
}

Status Store::Impl::flushNorms() {
  if (schema < 3 || dirty_cases.empty()) return {};
  std::set<std::string> todo;
  todo.swap(dirty_cases);
  // A case's moments count for the case it is merged into as well.
  std::vector<std::string> targets;
  for (const std::string& id : todo) {
    Result<bool> row = select_case_merged.bind(1, id).step();
    if (!row.ok()) return row.status();
    if (*row && !select_case_merged.text(0).empty()) targets.push_back(select_case_merged.text(0));
    select_case_merged.reset();
  }
  todo.insert(targets.begin(), targets.end());
  for (const std::string& id : todo) EROPAF_RETURN_IF_ERROR(refreshNorms(id));
  return {};
}

Result<bool> Store::Impl::momentLeavesNorms(const ContactMoment& m) {
  // Only a moment this store does not hold yet, neither deleted nor a correction (those can
  // take a first contact away), and no earlier than each first contact it could be.
  if (m.deleted.value || !m.corrects_id.empty()) return false;
  Stmt& q = select_moment_news;
  Result<bool> row = q.bind(1, m.id).bind(2, m.case_id).step();
  if (!row.ok()) return row.status();
  bool unchanged = false;
  if (*row && q.int64(0) == 0) {
    const bool attempt_later = !q.isNull(1) && q.int64(1) <= m.at_ms;
    const bool gesprek_later = !q.isNull(2) && q.int64(2) <= m.at_ms;
    unchanged = !norms::isAttempt(m) ||
                (attempt_later && (m.outcome != ContactOutcome::kGesprek || gesprek_later));
  }
  q.reset();
  return unchanged;
}

Result<Store::Impl::NormColumns> Store::Impl::computeNorms(const Case& c) {
  case_signals.bind(1, c.id);
  Result<std::vector<Signal>> signals = list<Signal>(case_signals);
  case_signals.reset();
  if (!signals.ok()) return signals.status();
  case_moments.bind(1, c.id);
  Result<std::vector<ContactMoment>> moments = list<ContactMoment>(case_moments);
  case_moments.reset();
  if (!moments.ok()) return moments.status();
  // A priority WITH a reason is the coordinator's override (model.hpp); one without is not.
  std::optional<Priority> override_priority;
  if (c.priority.isSet() && !c.priority_reason.value.empty()) override_priority = c.priority.value;
  const norms::CaseNorms n =
      norms::deriveNorms(norms::normInputs(c, *signals, override_priority), categories, calendar);
  const norms::FirstContacts fc = norms::firstContacts(*moments);
  NormColumns out;
  out.priority = priorityColumn(n.priority);
  out.derived_priority = priorityColumn(n.derived_priority);
  out.first_attempt_due_ms = n.first_attempt_due_ms;
  out.first_attempt_ms = fc.first_attempt_ms;
  out.first_gesprek_due_ms = n.first_gesprek_due_ms;
  out.first_gesprek_ms = fc.first_gesprek_ms;
  const norms::OverdueFacts od = norms::overdueFacts(n, fc);
  out.missed = od.missed;
  out.open_due_ms = od.open_due_ms;
  return out;
}

Status Store::Impl::refreshNorms(const std::string& case_id) {
  Result<std::optional<Record>> loaded = load(RecordKind::kCase, case_id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return {};
  Result<NormColumns> n = computeNorms(std::get<Case>(**loaded));
  if (!n.ok()) return n.status();
  Stmt& u = update_norms;
  u.bind(1, n->priority).bind(2, n->derived_priority).bind(3, n->first_attempt_due_ms);
  if (n->first_attempt_ms) {
    u.bind(4, *n->first_attempt_ms);
  } else {
    u.bindNull(4);
  }
  u.bind(5, n->first_gesprek_due_ms);
  if (n->first_gesprek_ms) {
    u.bind(6, *n->first_gesprek_ms);
  } else {
    u.bindNull(6);
  }
  return u.bind(7, n->open_due_ms).bind(8, std::int64_t{n->missed}).bind(9, case_id).run();
}

Status Store::Impl::recomputeAfterMigration() {
  return inTransaction([&]() -> Status {
    // Category norms that v1/v2 did not keep: the defaults' values for the default codes (an
    // admin's own code keeps the column defaults until the server sends its table again).
    Result<Stmt> cat = db->prepare(
        "UPDATE categories SET first_gesprek_days = ?, working_days = ?, min_attempts = ? "
        "WHERE code = ?");
    if (!cat.ok()) return cat.status();
    for (const Category& d : defaultCategories()) {
      EROPAF_RETURN_IF_ERROR(cat->bind(1, std::int64_t{d.first_gesprek_days})
                                 .bind(2, std::int64_t{d.working_days})
                                 .bind(3, std::int64_t{d.min_attempts})
                                 .bind(4, d.code)
                                 .run());
    }
    EROPAF_RETURN_IF_ERROR(loadCategories());
    // Signal urgency and case merged_into live in the sealed bodies: decode each row once.
    Result<Stmt> sigs = db->prepare("SELECT id, body FROM signals");
    if (!sigs.ok()) return sigs.status();
    Result<std::vector<Signal>> all_signals = list<Signal>(*sigs);
    if (!all_signals.ok()) return all_signals.status();
    Result<Stmt> urg = db->prepare("UPDATE signals SET urgency = ? WHERE id = ?");
    if (!urg.ok()) return urg.status();
    for (const Signal& sig : *all_signals) {
      EROPAF_RETURN_IF_ERROR(
          urg->bind(1, static_cast<std::int64_t>(sig.content.urgency)).bind(2, sig.id).run());
    }
    Result<Stmt> cases = db->prepare("SELECT id, body FROM cases");
    if (!cases.ok()) return cases.status();
    Result<std::vector<Case>> all_cases = list<Case>(*cases);
    if (!all_cases.ok()) return all_cases.status();
    Result<Stmt> mi = db->prepare("UPDATE cases SET merged_into = ? WHERE id = ?");
    if (!mi.ok()) return mi.status();
    for (const Case& c : *all_cases) {
      EROPAF_RETURN_IF_ERROR(mi->bind(1, c.merged_into.value).bind(2, c.id).run());
      markDirty(c.id);
    }
    return db->exec("DELETE FROM meta WHERE key = 'norms_recompute'");
  });
}

// --- reference wijken ------------------------------------------------------------------------

Result<std::vector<Wijk>> Store::Impl::loadWijken() {
  if (wijken_cache) return *wijken_cache;
  Result<std::optional<std::string>> raw = getMeta("reference");
  if (!raw.ok()) return raw.status();
  std::vector<Wijk> out;
  if (raw->has_value()) {
    Result<std::string> plain = cipher->open(**raw, "reference");
    if (!plain.ok()) return plain.status();
    v1::ReferenceData ref;
    if (!ref.ParseFromString(*plain)) {
      return Status(ErrorCode::kStorageCorrupt, "stored reference data does not decode");
    }
    for (const auto& w : ref.wijken()) out.push_back({w.code(), w.name()});
  }
  wijken_cache = out;
  return out;
}

Result<std::string> Store::Impl::checkWijk(const Identity& id, std::string_view wijk) {
  std::string w(wijk);
  if (w.empty() && id.wijken.size() == 1) w = id.wijken.front();
  Result<std::vector<Wijk>> known = loadWijken();
  if (!known.ok()) return known.status();
  if (!known->empty() &&
      std::none_of(known->begin(), known->end(), [&](const Wijk& k) { return k.code == w; })) {
    std::string valid;
    for (const Wijk& k : *known) {
      if (!valid.empty()) valid += ", ";
      valid += k.code + (k.name.empty() ? "" : " (" + k.name + ")");
    }
    return Status(
        ErrorCode::kInvalidArgument,
        (w.empty() ? std::string("wijk is required") : "unknown wijk '" + printable(w) + "'") +
            "; valid: " + valid,
        "wijk");
  }
  if (!isValidWijkCode(w)) {
    return Status(ErrorCode::kInvalidArgument,
                  w.empty() ? "wijk is required (the identity has more than one wijk)"
                            : "wijk is not a CBS wijk code like WK015301",
                  "wijk");
  }
  return w;
}

Result<std::vector<Wijk>> Store::wijken() const {
  std::lock_guard lock(impl_->mu);
  return impl_->loadWijken();
}

// --- overview --------------------------------------------------------------------------------

namespace {

constexpr const char* kRowColumns =
    "SELECT id, body, priority, derived_priority, first_attempt_due_ms, first_attempt_ms, "
    "first_gesprek_due_ms, first_gesprek_ms FROM cases ";

/// The overview row of the current result row of a query selecting kRowColumns. (`Impl` is
/// Store::Impl, private to Store: a template parameter so these helpers need not name it.)
template <class Impl>
Result<OverviewRow> rowFrom(Impl& s, Stmt& q, std::int64_t now) {
  Result<Record> rec = s.decodeBody(q.text(0), q.blob(1));
  if (!rec.ok()) return rec.status();
  if (!std::holds_alternative<Case>(*rec)) {
    return Status(ErrorCode::kStorageCorrupt, "stored record has the wrong kind");
  }
  OverviewRow row;
  row.kase = std::get<Case>(std::move(rec).value());
  row.norms.priority = priorityFromColumn(q.int64(2));
  row.norms.derived_priority = priorityFromColumn(q.int64(3));
  row.norms.first_attempt_due_ms = q.int64(4);
  if (!q.isNull(5)) row.contacts.first_attempt_ms = q.int64(5);
  row.norms.first_gesprek_due_ms = q.int64(6);
  if (!q.isNull(7)) row.contacts.first_gesprek_ms = q.int64(7);
  for (const std::string& code : presentElements(row.kase.categories)) {
    if (std::none_of(s.categories.begin(), s.categories.end(),
                     [&](const Category& c) { return c.code == code; })) {
      row.norms.unknown_categories.push_back(code);
    }
  }
  row.status = norms::normStatus(row.norms, row.contacts, now);
  row.overdue = row.status.first_attempt.state == norms::NormState::kMissed ||
                row.status.first_gesprek.state == norms::NormState::kMissed;
  return row;
}

/// The overview's counts from schema v4 on: the total from `open_counts` (kept by triggers),
/// the overdue ones by two range scans over `cases_overdue` that read only overdue entries.
/// `where` and `args` are the filters over cases; the same filters, without the `cases`
/// columns that open_counts lacks, apply to it (wijk, assignee, state are its key).
template <class Impl>
Status countOverview(Impl& s, const std::string& where, const std::vector<Arg>& args,
                     std::int64_t now, Overview& out) {
  std::string count_where = where;
  const std::string open_prefix = "is_open = 1 AND deleted = 0 AND ";
  count_where.erase(0, open_prefix.size());
  Result<Stmt> total =
      s.db->prepare("SELECT coalesce(sum(n), 0) FROM open_counts WHERE " + count_where);
  if (!total.ok()) return total.status();
  bindAll(*total, args);
  Result<bool> row = total->step();
  if (!row.ok()) return row.status();
  out.total = static_cast<std::size_t>(total->int64(0));
  Result<Stmt> late = s.db->prepare(
      "SELECT (SELECT count(*) FROM cases INDEXED BY cases_overdue WHERE " + where +
      " AND missed = 1) + (SELECT count(*) FROM cases INDEXED BY cases_overdue WHERE " + where +
      " AND missed = 0 AND open_due_ms < ?)");
  if (!late.ok()) return late.status();
  bindAll(*late, args);
  bindAll(*late, args, static_cast<int>(args.size()) + 1);
  late->bind(static_cast<int>(2 * args.size()) + 1, now);
  row = late->step();
  if (!row.ok()) return row.status();
  out.overdue = static_cast<std::size_t>(late->int64(0));
  return {};
}

/// The same counts for a v3 store (opened with migrate_to 3: tests and tooling), by one scan
/// of the covering index.
template <class Impl>
Status countOverviewByScan(Impl& s, const std::string& where, const std::vector<Arg>& args,
                           std::int64_t now, Overview& out) {
  Result<Stmt> cnt = s.db->prepare(
      "SELECT count(*), coalesce(sum(missed = 1 OR open_due_ms < ?), 0) FROM cases INDEXED BY "
      "cases_open_count WHERE " +
      where);
  if (!cnt.ok()) return cnt.status();
  cnt->bind(1, now);
  bindAll(*cnt, args, 2);
  Result<bool> row = cnt->step();
  if (!row.ok()) return row.status();
  out.overdue = static_cast<std::size_t>(cnt->int64(1));
  out.total = static_cast<std::size_t>(cnt->int64(0));
  return {};
}

}  // namespace

Result<Overview> Store::overview(const OverviewQuery& q) const {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kCoordinator) {
    return Status(ErrorCode::kPermissionDenied, "only a coordinator sees the overview");
  }
  const std::vector<std::string>& wijken = q.wijken.empty() ? id.wijken : q.wijken;
  for (const std::string& w : wijken) EROPAF_RETURN_IF_ERROR(s.requireWijk(id, w));
  if (q.assignee && !q.assignee->empty() && !isValidWorkerId(*q.assignee)) {
    return Status(ErrorCode::kInvalidArgument, "not a worker id", "assignee");
  }
  if (q.state && (*q.state == CaseState::kUnspecified || static_cast<int>(*q.state) > 10)) {
    return Status(ErrorCode::kInvalidArgument, "state is not a case state", "state");
  }
  if (!q.category.empty()) {
    const std::vector<std::string> one{q.category};
    EROPAF_RETURN_IF_ERROR(checkCategories("category", one, s.categories, true));
  }
  const std::int64_t now = q.now_ms.value_or(s.now());
  Overview out;
  if (wijken.empty() || (q.state && !isOpenState(*q.state))) return out;

  std::string where = "is_open = 1 AND deleted = 0 AND wijk IN (";
  std::vector<Arg> args;
  for (std::size_t i = 0; i < wijken.size(); ++i) {
    where += i == 0 ? "?" : ",?";
    args.push_back({false, 0, wijken[i]});
  }
  where += ")";
  if (q.assignee) {
    where += " AND assignee = ?";
    args.push_back({false, 0, *q.assignee});
  }
  if (q.state) {
    where += " AND state = ?";
    args.push_back({true, static_cast<std::int64_t>(*q.state), {}});
  }
  const std::string overdue_sql = "(missed = 1 OR open_due_ms < ?)";
  const bool by_category = !q.category.empty();

  if (!by_category) {
    Status counted = s.schema >= 4 ? countOverview(s, where, args, now, out)
                                   : countOverviewByScan(s, where, args, now, out);
    if (!counted.ok()) return counted;
    if (q.overdue_only) out.total = out.overdue;
  }

  // Overdue rows first, then (unless overdue_only) the others; each part in index order.
  for (const bool overdue_part : {true, false}) {
    if (!overdue_part && q.overdue_only) break;
    const std::size_t have = out.rows.size();
    if (!by_category && q.limit != 0 && have >= q.limit) break;
    std::string sql(kRowColumns);
    sql += "INDEXED BY cases_open_order WHERE ";
    sql += where;
    sql += overdue_part ? " AND " : " AND NOT ";
    sql += overdue_sql;
    sql += " ORDER BY priority, due_ms, id LIMIT ?";
    Result<Stmt> sel = s.db->prepare(sql);
    if (!sel.ok()) return sel.status();
    bindAll(*sel, args);
    const int n = static_cast<int>(args.size());
    sel->bind(n + 1, now);
    sel->bind(n + 2, by_category || q.limit == 0 ? std::int64_t{-1}
                                                 : static_cast<std::int64_t>(q.limit - have));
    for (;;) {
      Result<bool> row = sel->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Result<OverviewRow> r = rowFrom(s, *sel, now);
      if (!r.ok()) return r.status();
      if (by_category) {
        const auto it = r->kase.categories.find(q.category);
        if (it == r->kase.categories.end() || !it->second.present) continue;
        ++out.total;
        if (overdue_part) ++out.overdue;
        if (q.limit != 0 && out.rows.size() >= q.limit) continue;
      }
      out.rows.push_back(std::move(r).value());
    }
  }
  // One access-log line per row returned, in one transaction (one sync, not one per row).
  if (!out.rows.empty() && s.schema >= 2) {
    Transaction txn(*s.db);
    if (txn.begin().ok()) {
      for (const OverviewRow& r : out.rows) {
        s.logAccess("list:overview", r.kase.id, r.kase.household_key.value);
      }
      static_cast<void>(txn.commit());
    }
  }
  return out;
}

Result<std::optional<OverviewRow>> Store::caseNorms(std::string_view case_id) const {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<Stmt> q = s.db->prepare(std::string(kRowColumns) + "WHERE id = ?");
  if (!q.ok()) return q.status();
  q->bind(1, case_id);
  Result<bool> row = q->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<OverviewRow>();
  Result<OverviewRow> r = rowFrom(s, *q, s.now());
  if (!r.ok()) return r.status();
  s.logAccess("read:case", r->kase.id, r->kase.household_key.value);
  return std::optional<OverviewRow>(std::move(r).value());
}

// --- duplicate hints -------------------------------------------------------------------------

namespace {

/// The hint for household `key`, leaving out `self_signal` and `self_case` (`Impl` as above).
template <class Impl>
Result<DuplicateHint> hintFor(Impl& s, const std::string& key, std::string_view self_signal,
                              std::string_view self_case) {
  DuplicateHint hint;
  const std::string hash = s.householdHash(key);
  // The keyed hash can in theory collide: the decrypted key decides (a few rows at most).
  Result<Stmt> sq = s.db->prepare(
      "SELECT id, body FROM signals WHERE household = ? AND observed_at_ms >= ? AND deleted = 0");
  if (!sq.ok()) return sq.status();
  sq->bindBlob(1, hash).bind(2, s.now() - kHintWindowMs);
  Result<std::vector<Signal>> sigs = s.template list<Signal>(*sq);
  if (!sigs.ok()) return sigs.status();
  for (const Signal& sig : *sigs) {
    if (sig.id != self_signal && sig.content.household_key == key) ++hint.recent_signals;
  }
  Result<std::vector<Case>> cases = s.template query<Case>(
      "SELECT id, body FROM cases WHERE household = ?1 AND is_open = 1 AND deleted = 0 "
      "ORDER BY id LIMIT ?2",
      {}, 0, hash);
  if (!cases.ok()) return cases.status();
  for (const Case& c : *cases) {
    if (c.id != self_case && c.household_key.value == key) hint.open_case_ids.push_back(c.id);
  }
  return hint;
}

}  // namespace

Result<DuplicateHint> Store::duplicateHint(std::string_view signal_id) const {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<Signal> sig = s.loadAs<Signal>(signal_id, "signal");
  if (!sig.ok()) return Status(sig.status().code(), sig.status().message(), "signal_id");
  return hintFor(s, sig->content.household_key, sig->id, sig->case_id.value);
}

Result<DuplicateHint> Store::householdHint(const Address& address) const {
  if (address.postcode.empty()) {
    return Status(ErrorCode::kRequiredFieldMissing, "postcode is required", "address.postcode");
  }
  if (address.house_number.empty()) {
    return Status(ErrorCode::kRequiredFieldMissing, "house number is required",
                  "address.house_number");
  }
  const std::string key = householdKey(address);
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<DuplicateHint> hint = hintFor(s, key, "", "");
  if (hint.ok()) s.logAccess("read:household_hint", "", key);
  return hint;
}

}  // namespace eropaf::store
