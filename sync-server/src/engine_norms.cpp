// The sync engine, norms: the case_norms rows (what norms::deriveNorms() and firstContacts()
// give over the server's stored facts: the case, its linked signals, the contact moments of it
// and of the cases merged into it, the server's category table), kept by every write in the
// writer's transaction, and the coordinator's queries over them (overview, household hints).
//
// The device computes the same rows over what it holds (core/src/store/store_overview.cpp):
// same function, same inputs, same order. Here the facts are the server's, so device and server
// agree once the device has synced.
#include <algorithm>

#include "engine_impl.hpp"
#include "eropaf/id.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"

namespace eropaf::server {
namespace {

constexpr std::int64_t kHintWindowMs = std::int64_t{84} * 86'400'000;  // 12 weeks
// A signal observed "later than now" by a device clock ahead of ours still counts.
constexpr std::int64_t kHintSkewMs = 86'400'000;

std::string categoryColumn(const Case& c) {
  std::string out = ",";
  for (const std::string& code : presentElements(c.categories)) out += code + ",";
  return out;
}

/// A signal's report row: its content's wijk, observation time, source role (push checked it
/// is the reporter's own role, permissions.cpp) and categories.
ReportSignalRow reportSignalRow(const Signal& sig) {
  ReportSignalRow row;
  row.signal_id = sig.id;
  row.wijk = sig.content.wijk;
  row.observed_at_ms = sig.content.observed_at_ms;
  row.source_role = sig.content.source_role;
  row.categories = ",";
  for (const std::string& code : sig.content.categories) row.categories += code + ",";
  return row;
}

/// When a case's norm clocks started: the earliest arrival of its norm inputs (norms.hpp:
/// never before the case opened), the opening when it has none.
std::int64_t normStartMs(const Case& c, const norms::NormInputs& in) {
  std::optional<std::int64_t> start;
  const auto earliest = [&](std::int64_t at) { start = start ? std::min(*start, at) : at; };
  for (const norms::CategoryArrival& a : in.categories) earliest(a.at_ms);
  for (const norms::UrgencyArrival& a : in.signals) earliest(a.at_ms);
  return start.value_or(c.opened_at_ms);
}

}  // namespace

Status Engine::Impl::noteQueue(StoreSession& s, const Signal& sig) {
  const bool live = !sig.deleted.value && sig.triage_state.value == TriageState::kNieuw;
  return s.putQueuedSignal(
      {sig.id, sig.content.wijk, static_cast<int>(sig.content.urgency), sig.content.observed_at_ms},
      live);
}

Status Engine::Impl::noteNorms(StoreSession& s, const Record& r, const Record* before,
                               const Case* parent) {
  if (const auto* c = std::get_if<Case>(&r)) {
    norms_dirty.insert(c->id);
    return {};
  }
  if (const auto* sig = std::get_if<Signal>(&r)) {
    if (!sig->case_id.value.empty()) norms_dirty.insert(sig->case_id.value);
    if (const auto* was = before != nullptr ? std::get_if<Signal>(before) : nullptr;
        was != nullptr && !was->case_id.value.empty()) {
      norms_dirty.insert(was->case_id.value);
    }
    SignalHousehold h{sig->id, householdOf(r), sig->content.wijk, sig->case_id.value,
                      sig->content.observed_at_ms};
    EROPAF_RETURN_IF_ERROR(s.putSignalHousehold(h, !sig->deleted.value));
    EROPAF_RETURN_IF_ERROR(s.putReportSignal(reportSignalRow(*sig), !sig->deleted.value));
    return noteQueue(s, *sig);
  }
  // A contact moment counts for its case; a transition's case is written beside it.
  if (parent != nullptr) norms_dirty.insert(parent->id);
  return {};
}

Status Engine::Impl::flushNorms(StoreSession& s) {
  // A merged case's moments count for the case it was merged into: once every marked case is
  // refreshed (so merged_into columns are current), the targets are refreshed again, up a
  // chain of merges (finite: a merged case is never merged again).
  std::set<std::string> pass;
  pass.swap(norms_dirty);
  for (int round = 0; !pass.empty() && round < 32; ++round) {
    std::set<std::string> targets;
    for (const std::string& id : pass) {
      std::string target;
      EROPAF_RETURN_IF_ERROR(refreshCaseNorms(s, id, &target));
      if (!target.empty()) targets.insert(std::move(target));
    }
    pass.swap(targets);
  }
  return {};
}

Result<Engine::Impl::CaseFacts> Engine::Impl::caseFacts(StoreSession& s,
                                                        const std::string& case_id) {
  CaseFacts out;
  // The case's own children, then those of every case merged into it (transitively).
  std::vector<std::string> todo{case_id};
  std::set<std::string> seen{case_id};
  while (!todo.empty()) {
    const std::string id = todo.back();
    todo.pop_back();
    Result<std::vector<StoredRecord>> kids = s.children(id);
    if (!kids.ok()) return kids.status();
    for (StoredRecord& k : *kids) {
      if (auto* m = std::get_if<ContactMoment>(&k.record)) {
        out.moments.push_back(std::move(*m));
      } else if (auto* sig = std::get_if<Signal>(&k.record); sig != nullptr && id == case_id) {
        out.signals.push_back(std::move(*sig));
      }
    }
    Result<std::vector<std::string>> sources = s.mergedInto(id);
    if (!sources.ok()) return sources.status();
    for (const std::string& src : *sources) {
      if (seen.insert(src).second) todo.push_back(src);
    }
  }
  return out;
}

Status Engine::Impl::refreshCaseNorms(StoreSession& s, const std::string& case_id,
                                      std::string* merged_into_out) {
  Result<std::optional<Case>> loaded = loadCase(s, case_id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return {};
  const Case& c = **loaded;
  Result<CaseFacts> facts = caseFacts(s, c.id);
  if (!facts.ok()) return facts.status();
  const std::vector<Signal>& signals = facts->signals;
  const std::vector<ContactMoment>& moments = facts->moments;
  // A priority WITH a reason is the coordinator's override (model.hpp); one without is not.
  std::optional<Priority> override_priority;
  if (c.priority.isSet() && !c.priority_reason.value.empty()) override_priority = c.priority.value;
  Result<const std::vector<Category>*> table = knownCategories(s);
  if (!table.ok()) return table.status();
  const norms::NormInputs inputs = norms::normInputs(c, signals, override_priority);
  const norms::CaseNorms n = norms::deriveNorms(inputs, **table, calendar);
  const norms::FirstContacts fc = norms::firstContacts(moments);
  CaseNormRow row;
  row.case_id = c.id;
  row.wijk = c.wijk.value;
  row.assignee = c.assignee.value;
  row.state = c.state.value;
  row.open = isOpenState(c.state.value) && !c.deleted.value;
  row.categories = categoryColumn(c);
  row.household = householdOf(Record(c));
  row.merged_into = c.merged_into.value;
  row.priority = n.priority;
  row.derived_priority = n.derived_priority;
  row.first_attempt_due_ms = n.first_attempt_due_ms;
  row.first_attempt_ms = fc.first_attempt_ms;
  row.first_gesprek_due_ms = n.first_gesprek_due_ms;
  row.first_gesprek_ms = fc.first_gesprek_ms;
  const norms::OverdueFacts od = norms::overdueFacts(n, fc);
  row.missed = od.missed;
  row.open_due_ms = od.open_due_ms;
  if (merged_into_out != nullptr) *merged_into_out = c.merged_into.value;
  EROPAF_RETURN_IF_ERROR(s.putCaseNorms(row));

  ReportCaseRow rep;
  rep.case_id = c.id;
  rep.wijk = c.wijk.value;
  rep.merged = !c.merged_into.value.empty();
  rep.start_ms = normStartMs(c, inputs);
  rep.first_attempt_ms = fc.first_attempt_ms;
  rep.first_attempt_due_ms = n.first_attempt_due_ms;
  rep.first_gesprek_ms = fc.first_gesprek_ms;
  rep.first_gesprek_due_ms = n.first_gesprek_due_ms;
  rep.attempts = static_cast<std::int32_t>(norms::countingMoments(moments).size());
  rep.state = c.state.value;
  if (!isOpenState(c.state.value)) rep.ended_ms = hlcMillis(c.state.version.hlc);
  rep.resolution_code = c.resolution_code.value;
  return s.putReportCase(rep, !c.deleted.value);
}

Status Engine::Impl::recomputeNormsIfAsked(StoreSession& s) {
  Result<std::optional<std::string>> asked = s.meta("norms_recompute");
  if (!asked.ok()) return asked.status();
  if (!asked->has_value() || (*asked)->empty()) return {};
  Result<std::vector<std::string>> ids = s.allCaseIds();
  if (!ids.ok()) return ids.status();
  for (const std::string& id : *ids) norms_dirty.insert(id);
  // Signals' household rows: every signal once.
  std::uint64_t after = 0;
  for (;;) {
    Result<std::vector<StoredRecord>> rows = s.scan(after, 1000);
    if (!rows.ok()) return rows.status();
    for (const StoredRecord& r : *rows) {
      after = std::max(after, r.seq);
      if (const auto* sig = std::get_if<Signal>(&r.record)) {
        SignalHousehold h{sig->id, householdOf(r.record), sig->content.wijk, sig->case_id.value,
                          sig->content.observed_at_ms};
        EROPAF_RETURN_IF_ERROR(s.putSignalHousehold(h, !sig->deleted.value));
        EROPAF_RETURN_IF_ERROR(s.putReportSignal(reportSignalRow(*sig), !sig->deleted.value));
        EROPAF_RETURN_IF_ERROR(noteQueue(s, *sig));
      }
    }
    if (rows->size() < 1000) break;
  }
  EROPAF_RETURN_IF_ERROR(flushNorms(s));
  return s.setMeta("norms_recompute", "");
}

// --- the coordinator's queries ----------------------------------------------------------------

namespace {

Status coordinatorOnly(const Principal& p, std::string_view what) {
  if (p.worker.role != Role::kCoordinator) {
    return Status(ErrorCode::kPermissionDenied, "only a coordinator sees the " + std::string(what));
  }
  return {};
}

}  // namespace

Result<store::Overview> Engine::overview(const Principal& p, const store::OverviewQuery& q) {
  EROPAF_RETURN_IF_ERROR(coordinatorOnly(p, "overview"));
  const Worker& w = p.worker;
  const std::vector<std::string>& wijken = q.wijken.empty() ? w.wijken : q.wijken;
  for (const std::string& x : wijken) {
    if (!detail::inWijk(w, x)) {
      return Status(
          ErrorCode::kPermissionDenied,
          (isValidWijkCode(x) ? "wijk " + x : std::string("that wijk")) + " is not one of yours",
          "wijk");
    }
  }
  if (q.assignee && !q.assignee->empty() && !isValidWorkerId(*q.assignee)) {
    return Status(ErrorCode::kInvalidArgument, "not a worker id", "assignee");
  }
  if (q.state && (*q.state == CaseState::kUnspecified || static_cast<int>(*q.state) > 10)) {
    return Status(ErrorCode::kInvalidArgument, "state is not a case state", "state");
  }
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  StoreSession& s = *lease->s;
  EROPAF_RETURN_IF_ERROR(s.begin(false));
  EndRead end_read{s};
  Result<std::vector<Category>> table = s.categories();
  if (!table.ok()) return table.status();
  if (!q.category.empty()) {
    const std::vector<std::string> one{q.category};
    EROPAF_RETURN_IF_ERROR(checkCategories("category", one, *table, true));
  }
  const std::int64_t now = q.now_ms.value_or(impl_->now());
  store::Overview out;
  if (wijken.empty() || (q.state && !isOpenState(*q.state))) return out;

  NormQuery nq{wijken, q.assignee, q.state, q.category, now};
  Result<std::pair<std::size_t, std::size_t>> counts = s.overviewCounts(nq);
  if (!counts.ok()) return counts.status();
  out.overdue = counts->second;
  out.total = q.overdue_only ? counts->second : counts->first;

  std::vector<AccessEntry> reads;
  for (const bool overdue_part : {true, false}) {
    if (!overdue_part && q.overdue_only) break;
    const std::size_t have = out.rows.size();
    if (q.limit != 0 && have >= q.limit) break;
    Result<std::vector<CaseNormRow>> rows =
        s.overviewRows(nq, overdue_part, q.limit == 0 ? 0 : q.limit - have);
    if (!rows.ok()) return rows.status();
    for (const CaseNormRow& r : *rows) {
      Result<std::optional<Case>> c = impl_->loadCase(s, r.case_id);
      if (!c.ok()) return c.status();
      if (!c->has_value()) continue;
      store::OverviewRow row;
      row.kase = std::move(**c);
      row.norms.priority = r.priority;
      row.norms.derived_priority = r.derived_priority;
      row.norms.first_attempt_due_ms = r.first_attempt_due_ms;
      row.norms.first_gesprek_due_ms = r.first_gesprek_due_ms;
      row.contacts.first_attempt_ms = r.first_attempt_ms;
      row.contacts.first_gesprek_ms = r.first_gesprek_ms;
      for (const std::string& code : presentElements(row.kase.categories)) {
        if (std::none_of(table->begin(), table->end(),
                         [&](const Category& k) { return k.code == code; })) {
          row.norms.unknown_categories.push_back(code);
        }
      }
      row.status = norms::normStatus(row.norms, row.contacts, now);
      row.overdue = row.status.first_attempt.state == norms::NormState::kMissed ||
                    row.status.first_gesprek.state == norms::NormState::kMissed;
      reads.push_back({impl_->now(), "list:overview", row.kase.id, impl_->householdOf(row.kase),
                       w.id, "", p.device_id, std::string(toString(w.role)), ""});
      out.rows.push_back(std::move(row));
    }
  }
  // Case content leaves only once its reads are in the access log (as for a pull page).
  if (!reads.empty()) {
    Result<bool> logged = impl_->runBlocking<bool>([reads](StoreSession& ws) -> Result<bool> {
      for (const AccessEntry& a : reads) EROPAF_RETURN_IF_ERROR(ws.appendAccess(a));
      return true;
    });
    if (!logged.ok()) return logged.status();
  }
  return out;
}

Result<store::DuplicateHint> Engine::duplicateHint(const Principal& p, std::string_view signal_id) {
  EROPAF_RETURN_IF_ERROR(coordinatorOnly(p, "household hints"));
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  StoreSession& s = *lease->s;
  EROPAF_RETURN_IF_ERROR(s.begin(false));
  EndRead end_read{s};
  Result<std::optional<StoredRecord>> rec = s.getRecord(signal_id);
  if (!rec.ok()) return rec.status();
  const auto* sig = rec->has_value() ? std::get_if<Signal>(&(*rec)->record) : nullptr;
  // Visibility first: a signal she may not triage is answered as an unknown id.
  if (sig == nullptr) return permissions::unknownRecord();
  Result<permissions::Hold> hold = impl_->signalHold(s, p, *sig);
  if (!hold.ok()) return hold.status();
  if (*hold != permissions::Hold::kFull) return permissions::unknownRecord();
  const std::string household = impl_->householdOf((*rec)->record);
  store::DuplicateHint hint;
  if (household.empty()) return hint;
  const std::span<const std::string> wijken(p.worker.wijken);
  Result<std::vector<SignalHousehold>> others = s.householdSignals(
      household, wijken, impl_->now() - kHintWindowMs, impl_->now() + kHintSkewMs);
  if (!others.ok()) return others.status();
  for (const SignalHousehold& h : *others) {
    if (h.signal_id != sig->id) ++hint.recent_signals;
  }
  Result<std::vector<CaseNormRow>> cases = s.householdCases(household, wijken);
  if (!cases.ok()) return cases.status();
  for (const CaseNormRow& c : *cases) {
    if (c.case_id != sig->case_id.value) hint.open_case_ids.push_back(c.case_id);
  }
  return hint;
}

}  // namespace eropaf::server
