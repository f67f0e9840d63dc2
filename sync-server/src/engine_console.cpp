// The sync engine, console: the coordinator's console reads (werkvoorraad, casus, conflicten)
// and actions. An action is not re-implemented here: a short-lived console device store gets
// the records the verb needs as the principal may see them, core's verb runs on it, and its
// outbox goes through the same push path as a device's, all or nothing (docs/sync.md "Console").
#include <sodium.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <tuple>

#include "engine_impl.hpp"
#include "eropaf/id.hpp"
#include "eropaf/permissions.hpp"
#include "scope.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

constexpr std::size_t kQueueCap = 200;
constexpr std::int64_t kHintWindowMs = std::int64_t{84} * 86'400'000;  // 12 weeks
constexpr std::int64_t kHintSkewMs = 86'400'000;

Status coordinatorOnly(const Principal& p) {
  if (p.worker.role != Role::kCoordinator || !p.worker.active) {
    return Status(ErrorCode::kPermissionDenied, "the console is for coordinators only");
  }
  return {};
}

/// One norm clock as the console shows it (kNoDue becomes 0, "none").
void normClock(const norms::ClockStatus& cs, std::optional<std::int64_t> first, v1::NormClock& o) {
  o.set_due_ms(cs.due_ms == norms::kNoDue ? 0 : cs.due_ms);
  if (first) o.set_first_ms(*first);
  o.set_state(static_cast<v1::NormState>(cs.state));
  o.set_days_late(cs.days_late);
}

AccessEntry readEntry(const Principal& p, const RequestContext& ctx, std::int64_t now,
                      std::string action, std::string record_id, std::string household) {
  return {now,
          std::move(action),
          std::move(record_id),
          std::move(household),
          p.worker.id,
          "",
          p.device_id,
          std::string(toString(p.worker.role)),
          ctx.peer};
}

Status badArgument(std::string_view field, std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message), std::string(field));
}

void toProto(const Status& st, v1::Error& out) {
  out.set_code(static_cast<v1::ErrorCode>(st.code()));
  out.set_message(st.message());
  out.set_field(st.field());
}

}  // namespace

namespace {

/// Reads of one console request on one read transaction: records as the principal may see
/// them, and the access-log lines of what left.
template <class Impl>
struct ConsoleReader {
  Impl& impl;
  StoreSession& s;
  const Principal& p;

  /// The record and the case it belongs to as the principal sees it: nullopt when it may not
  /// see it (or it does not exist), redacted when it sees only part.
  Result<std::optional<Record>> visible(std::string_view id) {
    Result<std::optional<StoredRecord>> rec = s.getRecord(id);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value()) return std::optional<Record>();
    const Record& r = (*rec)->record;
    std::string parent_id;
    if (const auto* sig = std::get_if<Signal>(&r)) parent_id = sig->case_id.value;
    if (const auto* m = std::get_if<ContactMoment>(&r)) parent_id = m->case_id;
    if (const auto* t = std::get_if<Transition>(&r)) parent_id = t->case_id;
    std::optional<Case> parent;
    if (!parent_id.empty()) {
      Result<std::optional<Case>> c = impl.loadCase(s, parent_id);
      if (!c.ok()) return c.status();
      parent = std::move(*c);
    }
    switch (viewOf(p.worker, r, parent ? &*parent : nullptr)) {
      case View::kNone:
        return std::optional<Record>();
      case View::kRedacted:
        return std::optional<Record>(redact(r));
      case View::kFull:
        break;
    }
    return std::optional<Record>(r);
  }

  /// A case the principal sees whole, nullopt otherwise (answered as an unknown id).
  Result<std::optional<Case>> wholeCase(std::string_view id) {
    Result<std::optional<Case>> c = impl.loadCase(s, std::string(id));
    if (!c.ok()) return c.status();
    if (!c->has_value() || (*c)->deleted.value) return std::optional<Case>();
    Result<permissions::Hold> hold = impl.caseHold(s, p, **c);
    if (!hold.ok()) return hold.status();
    if (*hold != permissions::Hold::kFull) return std::optional<Case>();
    return c;
  }

  /// The children of a case the principal sees whole (signals, moments, transitions).
  Result<std::vector<Record>> childrenOf(const Case& c) {
    Result<std::vector<StoredRecord>> kids = s.children(c.id);
    if (!kids.ok()) return kids.status();
    std::vector<Record> out;
    for (StoredRecord& k : *kids) {
      switch (viewOf(p.worker, k.record, &c)) {
        case View::kNone:
          break;
        case View::kRedacted:
          out.push_back(redact(k.record));
          break;
        case View::kFull:
          out.push_back(std::move(k.record));
          break;
      }
    }
    return out;
  }

  Result<store::DuplicateHint> hint(const Signal& sig, const Record& as_record) {
    const std::string household = impl.householdOf(as_record);
    store::DuplicateHint out;
    if (household.empty()) return out;
    const std::span<const std::string> wijken(p.worker.wijken);
    Result<std::vector<SignalHousehold>> others =
        s.householdSignals(household, wijken, impl.now() - kHintWindowMs, impl.now() + kHintSkewMs);
    if (!others.ok()) return others.status();
    for (const SignalHousehold& h : *others) {
      if (h.signal_id != sig.id) ++out.recent_signals;
    }
    Result<std::vector<CaseNormRow>> cases = s.householdCases(household, wijken);
    if (!cases.ok()) return cases.status();
    for (const CaseNormRow& c : *cases) {
      if (c.case_id != sig.case_id.value) out.open_case_ids.push_back(c.case_id);
    }
    return out;
  }
};

template <class Impl>
Status logReads(Impl& impl, const std::vector<AccessEntry>& reads) {
  if (reads.empty()) return {};
  Result<bool> logged = impl.template runBlocking<bool>([reads](StoreSession& ws) -> Result<bool> {
    for (const AccessEntry& a : reads) EROPAF_RETURN_IF_ERROR(ws.appendAccess(a));
    return true;
  });
  return logged.ok() ? Status() : logged.status();
}

Status checkWijkFilter(const Principal& p, std::string_view wijk) {
  if (wijk.empty() || detail::inWijk(p.worker, wijk)) return {};
  return Status(ErrorCode::kPermissionDenied,
                (isValidWijkCode(wijk) ? "wijk " + std::string(wijk) : std::string("that wijk")) +
                    " is not one of yours",
                "wijk");
}

}  // namespace

// --- reads ---------------------------------------------------------------------------------

Result<v1::QueueResponse> Engine::consoleQueue(const Principal& p, std::string_view wijk,
                                               const RequestContext& ctx) {
  EROPAF_RETURN_IF_ERROR(coordinatorOnly(p));
  EROPAF_RETURN_IF_ERROR(checkWijkFilter(p, wijk));
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  StoreSession& s = *lease->s;
  EROPAF_RETURN_IF_ERROR(s.begin(false));
  EndRead end_read{s};
  ConsoleReader<Impl> reader{*impl_, s, p};

  // Each wijk's rows come through its index in queue order; the first kQueueCap of their
  // merge are the page (O(wijken × cap), whatever the number of cases).
  std::vector<QueuedSignal> rows;
  const std::vector<std::string> wijken =
      wijk.empty() ? p.worker.wijken : std::vector<std::string>{std::string(wijk)};
  for (const std::string& w : wijken) {
    Result<std::vector<QueuedSignal>> part = s.queuedSignals(w, kQueueCap);
    if (!part.ok()) return part.status();
    rows.insert(rows.end(), part->begin(), part->end());
  }
  std::sort(rows.begin(), rows.end(), [](const QueuedSignal& a, const QueuedSignal& b) {
    return std::tie(b.urgency, a.observed_at_ms, a.signal_id) <
           std::tie(a.urgency, b.observed_at_ms, b.signal_id);
  });
  if (rows.size() > kQueueCap) rows.resize(kQueueCap);

  v1::QueueResponse out;
  std::vector<AccessEntry> reads;
  for (const QueuedSignal& q : rows) {
    Result<std::optional<StoredRecord>> rec = s.getRecord(q.signal_id);
    if (!rec.ok()) return rec.status();
    const auto* sig = rec->has_value() ? std::get_if<Signal>(&(*rec)->record) : nullptr;
    if (sig == nullptr || sig->deleted.value || sig->triage_state.value != TriageState::kNieuw)
      continue;
    Result<permissions::Hold> hold = impl_->signalHold(s, p, *sig);
    if (!hold.ok()) return hold.status();
    if (*hold != permissions::Hold::kFull) continue;
    Result<store::DuplicateHint> hint = reader.hint(*sig, (*rec)->record);
    if (!hint.ok()) return hint.status();
    v1::QueueItem* item = out.add_items();
    wire::toProto(*sig, *item->mutable_signal());
    for (const std::string& id : hint->open_case_ids) item->mutable_hint()->add_open_case_ids(id);
    item->mutable_hint()->set_recent_signals(hint->recent_signals);
    reads.push_back(readEntry(p, ctx, impl_->now(), "console:queue", sig->id,
                              impl_->householdOf((*rec)->record)));
  }
  EROPAF_RETURN_IF_ERROR(logReads(*impl_, reads));
  return out;
}

Result<v1::CaseDetail> Engine::consoleCase(const Principal& p, std::string_view case_id,
                                           const RequestContext& ctx) {
  EROPAF_RETURN_IF_ERROR(coordinatorOnly(p));
  if (!isValidUuid(case_id)) return badArgument("case_id", "case_id is not a lower-case UUID");
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  StoreSession& s = *lease->s;
  EROPAF_RETURN_IF_ERROR(s.begin(false));
  EndRead end_read{s};
  ConsoleReader<Impl> reader{*impl_, s, p};

  Result<std::optional<Case>> c = reader.wholeCase(case_id);
  if (!c.ok()) return c.status();
  if (!c->has_value()) return permissions::unknownRecord();
  const Case& kase = **c;
  v1::CaseDetail out;
  wire::toProto(kase, *out.mutable_kase());
  std::vector<AccessEntry> reads;
  reads.push_back(
      readEntry(p, ctx, impl_->now(), "console:case", kase.id, impl_->householdOf(kase)));

  std::vector<ContactMoment> moments;
  auto addChildren = [&](const Case& of) -> Status {
    Result<std::vector<Record>> kids = reader.childrenOf(of);
    if (!kids.ok()) return kids.status();
    for (const Record& r : *kids) {
      if (const auto* m = std::get_if<ContactMoment>(&r)) {
        if (!m->deleted.value) moments.push_back(*m);
      } else if (of.id != kase.id) {
        continue;  // a merged case's own signals and moves stay with it
      } else if (const auto* sig = std::get_if<Signal>(&r)) {
        if (!sig->deleted.value) wire::toProto(*sig, *out.add_signals());
      } else if (const auto* t = std::get_if<Transition>(&r)) {
        if (!t->deleted.value) wire::toProto(*t, *out.add_transitions());
      }
    }
    return {};
  };
  EROPAF_RETURN_IF_ERROR(addChildren(kase));
  Result<std::vector<std::string>> merged = s.mergedInto(kase.id);
  if (!merged.ok()) return merged.status();
  for (const std::string& id : *merged) {
    Result<std::optional<Case>> m = reader.wholeCase(id);
    if (!m.ok()) return m.status();
    if (!m->has_value()) continue;
    out.add_merged_case_ids(id);
    EROPAF_RETURN_IF_ERROR(addChildren(**m));
  }
  std::sort(moments.begin(), moments.end(), [](const ContactMoment& a, const ContactMoment& b) {
    return std::tie(a.at_ms, a.id) < std::tie(b.at_ms, b.id);
  });
  for (const ContactMoment& m : moments) {
    v1::ContactMomentRow* row = out.add_moments();
    wire::toProto(m, *row->mutable_moment());
    // As the device marks them: a moment another one corrects is superseded.
    row->set_superseded(std::any_of(moments.begin(), moments.end(),
                                    [&](const ContactMoment& o) { return o.corrects_id == m.id; }));
  }

  Result<std::optional<CaseNormRow>> norms = s.caseNorms(kase.id);
  if (!norms.ok()) return norms.status();
  if (norms->has_value()) {
    const CaseNormRow& n = **norms;
    out.set_priority(static_cast<v1::Priority>(n.priority));
    out.set_derived_priority(static_cast<v1::Priority>(n.derived_priority));
    norms::CaseNorms cn;
    cn.priority = n.priority;
    cn.derived_priority = n.derived_priority;
    cn.first_attempt_due_ms = n.first_attempt_due_ms;
    cn.first_gesprek_due_ms = n.first_gesprek_due_ms;
    norms::FirstContacts fc;
    fc.first_attempt_ms = n.first_attempt_ms;
    fc.first_gesprek_ms = n.first_gesprek_ms;
    const norms::NormStatus st = norms::normStatus(cn, fc, impl_->now());
    normClock(st.first_attempt, n.first_attempt_ms, *out.mutable_first_attempt());
    normClock(st.first_gesprek, n.first_gesprek_ms, *out.mutable_first_gesprek());
  }

  // The picker: only workers mayAssign() accepts for the case's wijk (never a zorgmedewerker,
  // never an inactive worker, only coaches of that wijk).
  Result<std::vector<Worker>> workers = s.workers();
  if (!workers.ok()) return workers.status();
  for (const Worker& w : permissions::validAssignees(*workers, kase.wijk.value)) {
    wire::toProto(w, *out.add_assignees());
  }
  EROPAF_RETURN_IF_ERROR(logReads(*impl_, reads));
  return out;
}

Result<v1::ConflictsResponse> Engine::consoleConflicts(const Principal& p,
                                                       const RequestContext& ctx) {
  EROPAF_RETURN_IF_ERROR(coordinatorOnly(p));
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  StoreSession& s = *lease->s;
  EROPAF_RETURN_IF_ERROR(s.begin(false));
  EndRead end_read{s};
  ConsoleReader<Impl> reader{*impl_, s, p};
  v1::ConflictsResponse out;
  std::vector<AccessEntry> reads;
  if (p.worker.wijken.empty()) return out;
  // TODO(console): a conflict column in case_norms would make this O(conflicts); today it walks
  // the open cases of the coordinator's wijken.
  const NormQuery nq{p.worker.wijken, std::nullopt, std::nullopt, "", impl_->now()};
  for (const bool overdue : {true, false}) {
    Result<std::vector<CaseNormRow>> rows = s.overviewRows(nq, overdue, 0);
    if (!rows.ok()) return rows.status();
    for (const CaseNormRow& r : *rows) {
      Result<std::optional<Case>> c = reader.wholeCase(r.case_id);
      if (!c.ok()) return c.status();
      if (!c->has_value() || !(*c)->conflict.value) continue;
      v1::ConflictCase* cc = out.add_cases();
      wire::toProto(**c, *cc->mutable_kase());
      Result<std::vector<Record>> kids = reader.childrenOf(**c);
      if (!kids.ok()) return kids.status();
      std::vector<Transition> moves;
      for (const Record& k : *kids) {
        if (const auto* t = std::get_if<Transition>(&k); t != nullptr && !t->deleted.value)
          moves.push_back(*t);
      }
      std::sort(moves.begin(), moves.end(), [](const Transition& a, const Transition& b) {
        return std::tie(a.at_ms, a.id) < std::tie(b.at_ms, b.id);
      });
      for (const Transition& t : moves) wire::toProto(t, *cc->add_moves()->mutable_transition());
      reads.push_back(
          readEntry(p, ctx, impl_->now(), "console:conflict", (*c)->id, impl_->householdOf(**c)));
    }
  }
  EROPAF_RETURN_IF_ERROR(logReads(*impl_, reads));
  return out;
}

// --- actions -------------------------------------------------------------------------------

namespace {

/// A private folder of this process for console device stores (0700), made once.
Result<std::filesystem::path> consoleFolder() {
  static std::mutex mu;
  static std::filesystem::path made;
  std::lock_guard lock(mu);
  if (!made.empty()) return made;
  std::string tmpl = (std::filesystem::temp_directory_path() / "eropaf-console-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Status(ErrorCode::kIoError, "cannot make the console's private temp folder");
  }
  made = tmpl;
  return made;
}

/// One console action's store: a device store on a fresh file, removed with its side files.
struct ConsoleStore {
  std::filesystem::path path;
  std::unique_ptr<store::Store> db;
  ConsoleStore() = default;
  ConsoleStore(const ConsoleStore&) = delete;
  ConsoleStore& operator=(const ConsoleStore&) = delete;
  ~ConsoleStore() {
    db.reset();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(path.string() + suffix, ec);
    }
  }
};

}  // namespace

struct ConsolePlan {
  std::vector<std::string> case_ids;    ///< cases to load with their children (and merged)
  std::vector<std::string> signal_ids;  ///< signals to load (with their case, duplicate chain)
  bool household_cases = false;         ///< the first signal's household's open cases too
};

void Engine::consoleAct(const Principal& p, const v1::ConsoleAction& action,
                        const RequestContext& ctx, const ActDone& done) {
  static_cast<void>(ctx);  // actions are logged as the push's lines (push:<kind>)
  if (Status st = coordinatorOnly(p); !st.ok()) return done(st);
  using A = v1::ConsoleAction;
  ConsolePlan plan;
  auto needId = [](std::string_view field, const std::string& id) -> Status {
    if (id.empty()) return Status(ErrorCode::kRequiredFieldMissing, "required", std::string(field));
    if (!isValidUuid(id))
      return badArgument(field, std::string(field) + " is not a lower-case UUID");
    return {};
  };
  Status args;
  switch (action.action_case()) {
    case A::kOpenCase:
      args = needId("from_signal", action.open_case().from_signal());
      plan.signal_ids = {action.open_case().from_signal()};
      plan.household_cases = true;
      break;
    case A::kLinkSignal:
      args = needId("signal_id", action.link_signal().signal_id());
      if (args.ok()) args = needId("case_id", action.link_signal().case_id());
      plan.signal_ids = {action.link_signal().signal_id()};
      plan.case_ids = {action.link_signal().case_id()};
      break;
    case A::kMarkDuplicate:
      args = needId("signal_id", action.mark_duplicate().signal_id());
      if (args.ok()) args = needId("of_signal_id", action.mark_duplicate().of_signal_id());
      plan.signal_ids = {action.mark_duplicate().signal_id(),
                         action.mark_duplicate().of_signal_id()};
      break;
    case A::kRejectSignal:
      args = needId("signal_id", action.reject_signal().signal_id());
      plan.signal_ids = {action.reject_signal().signal_id()};
      break;
    case A::kAssignCase:
      args = needId("case_id", action.assign_case().case_id());
      if (args.ok() && !isValidWorkerId(action.assign_case().worker_id())) {
        args = badArgument("worker_id", "worker_id is not a worker id");
      }
      plan.case_ids = {action.assign_case().case_id()};
      break;
    case A::kSetPriority:
      args = needId("case_id", action.set_priority().case_id());
      if (args.ok() &&
          (action.set_priority().priority() < 1 || action.set_priority().priority() > 4)) {
        args = badArgument("priority", "priority is not a known priority");
      }
      plan.case_ids = {action.set_priority().case_id()};
      break;
    case A::kMoveCase:
      args = needId("case_id", action.move_case().case_id());
      if (args.ok() && (action.move_case().to() < 1 || action.move_case().to() > 10)) {
        args = badArgument("to", "to is not a case state");
      }
      plan.case_ids = {action.move_case().case_id()};
      break;
    case A::kMergeCase:
      args = needId("case_id", action.merge_case().case_id());
      if (args.ok()) args = needId("into_id", action.merge_case().into_id());
      plan.case_ids = {action.merge_case().case_id(), action.merge_case().into_id()};
      break;
    case A::kResolveConflict:
      args = needId("case_id", action.resolve_conflict().case_id());
      if (args.ok() &&
          (action.resolve_conflict().to() < 0 || action.resolve_conflict().to() > 10)) {
        args = badArgument("to", "to is not a case state");
      }
      plan.case_ids = {action.resolve_conflict().case_id()};
      break;
    case A::ACTION_NOT_SET:
      args = Status(ErrorCode::kRequiredFieldMissing, "no action given", "action");
      break;
  }
  if (!args.ok()) return done(args);

  // --- the records the verb needs, as the principal may see them ---
  std::vector<Record> records;
  std::vector<Worker> ref_workers;
  std::vector<Wijk> ref_wijken;
  std::vector<Category> categories;
  {
    Result<Impl::Lease> lease = impl_->borrow();
    if (!lease.ok()) return done(lease.status());
    StoreSession& s = *lease->s;
    if (Status st = s.begin(false); !st.ok()) return done(st);
    EndRead end_read{s};
    ConsoleReader<Impl> reader{*impl_, s, p};
    std::set<std::string> seen;
    auto addCase = [&](const std::string& id) -> Status {
      if (!seen.insert(id).second) return {};
      Result<std::optional<Record>> r = reader.visible(id);
      if (!r.ok()) return r.status();
      if (!r->has_value()) return {};
      const auto* c = std::get_if<Case>(&**r);
      if (c == nullptr) return {};
      const Case kase = *c;
      records.push_back(std::move(**r));
      Result<std::vector<Record>> kids = reader.childrenOf(kase);
      if (!kids.ok()) return kids.status();
      for (Record& k : *kids) {
        if (seen.insert(recordId(k)).second) records.push_back(std::move(k));
      }
      // Cases merged into it: their moments count for its close guard and norms.
      Result<std::vector<std::string>> merged = s.mergedInto(kase.id);
      if (!merged.ok()) return merged.status();
      for (const std::string& m : *merged) {
        if (seen.contains(m)) continue;
        seen.insert(m);
        Result<std::optional<Record>> mr = reader.visible(m);
        if (!mr.ok()) return mr.status();
        if (!mr->has_value()) continue;
        const auto* mc = std::get_if<Case>(&**mr);
        if (mc == nullptr) continue;
        const Case mcase = *mc;
        records.push_back(std::move(**mr));
        Result<std::vector<Record>> mk = reader.childrenOf(mcase);
        if (!mk.ok()) return mk.status();
        for (Record& k : *mk) {
          if (seen.insert(recordId(k)).second) records.push_back(std::move(k));
        }
      }
      return {};
    };
    auto addSignal = [&](const std::string& first) -> Status {
      std::string id = first;
      // The signal, and up its duplicate chain (finite: cycles are refused, capped anyway).
      for (int depth = 0; depth < 16 && !id.empty(); ++depth) {
        if (seen.contains(id)) break;
        seen.insert(id);
        Result<std::optional<Record>> r = reader.visible(id);
        if (!r.ok()) return r.status();
        if (!r->has_value()) break;
        const auto* sig = std::get_if<Signal>(&**r);
        if (sig == nullptr) break;
        const std::string case_id = sig->case_id.value;
        const std::string next = sig->duplicate_of.value;
        records.push_back(std::move(**r));
        if (!case_id.empty()) EROPAF_RETURN_IF_ERROR(addCase(case_id));
        id = next;
      }
      return {};
    };
    Status st;
    for (const std::string& id : plan.case_ids) {
      if (st.ok()) st = addCase(id);
    }
    for (const std::string& id : plan.signal_ids) {
      if (st.ok()) st = addSignal(id);
    }
    if (st.ok() && plan.household_cases && !plan.signal_ids.empty()) {
      // openCase's one-open-case check: the household's open cases of their wijken.
      for (const Record& r : std::vector<Record>(records)) {
        const auto* sig = std::get_if<Signal>(&r);
        if (sig == nullptr || sig->id != plan.signal_ids.front()) continue;
        const std::string household = impl_->householdOf(r);
        if (household.empty()) break;
        Result<std::vector<CaseNormRow>> cases =
            s.householdCases(household, std::span<const std::string>(p.worker.wijken));
        if (!cases.ok()) {
          st = cases.status();
          break;
        }
        for (const CaseNormRow& c : *cases) {
          if (st.ok()) st = addCase(c.case_id);
        }
        break;
      }
    }
    if (!st.ok()) return done(st);
    Result<std::vector<Worker>> workers = s.workers();
    Result<std::vector<Wijk>> wijken = s.wijken();
    Result<std::vector<Category>> cats = s.categories();
    if (!workers.ok()) return done(workers.status());
    if (!wijken.ok()) return done(wijken.status());
    if (!cats.ok()) return done(cats.status());
    for (Worker& w : *workers) {
      if (std::any_of(w.wijken.begin(), w.wijken.end(),
                      [&](const std::string& x) { return detail::inWijk(p.worker, x); })) {
        ref_workers.push_back(std::move(w));
      }
    }
    ref_wijken = std::move(*wijken);
    categories = std::move(*cats);
  }

  // --- the console device store ---
  Result<std::filesystem::path> folder = consoleFolder();
  if (!folder.ok()) return done(folder.status());
  auto cs = std::make_shared<ConsoleStore>();
  cs->path = *folder / (newUuidV7(impl_->now()) + ".db");
  store::OpenOptions so;
  so.path = cs->path.string();
  randombytes_buf(so.key.data(), so.key.size());
  so.clock = impl_->opts.clock;
  so.max_skew_ms = impl_->opts.max_skew_ms;
  Result<std::unique_ptr<store::Store>> opened = store::Store::open(so);
  if (!opened.ok()) return done(opened.status());
  cs->db = std::move(*opened);
  store::Store& db = *cs->db;
  const Version server_now = impl_->serverVersion();
  Status st =
      db.setIdentity({p.worker.id, p.worker.name, p.worker.role, p.worker.wijken, p.device_id});
  if (st.ok()) st = db.setCategories(categories);
  if (st.ok()) st = db.setReference(ref_workers, ref_wijken);
  if (st.ok()) st = db.observeRemoteVersion(server_now.hlc);
  if (!st.ok()) return done(st);
  // Cases before the records that hang under them.
  std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return std::holds_alternative<Case>(a) && !std::holds_alternative<Case>(b);
  });
  Result<store::ApplyStats> applied = db.applyRemote(records, server_now.hlc);
  if (!applied.ok()) return done(applied.status());

  // --- the verb ---
  v1::ActionResult result;
  Status verb;
  switch (action.action_case()) {
    case A::kOpenCase: {
      store::NewCase req;
      req.from_signal = action.open_case().from_signal();
      req.title = action.open_case().title();
      req.categories.assign(action.open_case().categories().begin(),
                            action.open_case().categories().end());
      req.new_case = action.open_case().new_case();
      Result<Case> made = db.openCase(req);
      verb = made.status();
      if (made.ok()) result.set_case_id(made->id);
      break;
    }
    case A::kLinkSignal: {
      store::LinkOptions lo;
      lo.force = action.link_signal().force();
      lo.reason = action.link_signal().reason();
      verb = db.linkSignal(action.link_signal().signal_id(), action.link_signal().case_id(), lo);
      result.set_case_id(action.link_signal().case_id());
      break;
    }
    case A::kMarkDuplicate:
      verb = db.markDuplicate(action.mark_duplicate().signal_id(),
                              action.mark_duplicate().of_signal_id());
      break;
    case A::kRejectSignal:
      verb = db.rejectSignal(action.reject_signal().signal_id(), action.reject_signal().reason());
      break;
    case A::kAssignCase:
      verb = db.assignCase(action.assign_case().case_id(), action.assign_case().worker_id(),
                           action.assign_case().reason());
      result.set_case_id(action.assign_case().case_id());
      break;
    case A::kSetPriority:
      verb = db.setPriority(action.set_priority().case_id(),
                            static_cast<Priority>(action.set_priority().priority()),
                            action.set_priority().reason());
      result.set_case_id(action.set_priority().case_id());
      break;
    case A::kMoveCase: {
      store::MoveCase mv;
      mv.case_id = action.move_case().case_id();
      mv.to = static_cast<CaseState>(action.move_case().to());
      mv.reason = action.move_case().reason();
      mv.online = true;  // the console is the server
      mv.resolution_code = action.move_case().resolution_code();
      verb = db.moveCase(mv).status();
      result.set_case_id(mv.case_id);
      break;
    }
    case A::kMergeCase: {
      Result<Case> target =
          db.mergeCase(action.merge_case().case_id(), action.merge_case().into_id(),
                       action.merge_case().reason());
      verb = target.status();
      if (target.ok()) result.set_case_id(target->id);
      break;
    }
    case A::kResolveConflict: {
      std::optional<CaseState> to;
      if (action.resolve_conflict().to() != v1::CASE_STATE_UNSPECIFIED) {
        to = static_cast<CaseState>(action.resolve_conflict().to());
      }
      verb = db.resolveConflict(action.resolve_conflict().case_id(), to,
                                action.resolve_conflict().reason());
      result.set_case_id(action.resolve_conflict().case_id());
      break;
    }
    case A::ACTION_NOT_SET:
      break;
  }
  if (!verb.ok()) {
    // The verb's own refusal, as the device would show it; nothing was pushed.
    toProto(verb, *result.mutable_error());
    return done(std::move(result));
  }

  // --- its outbox as ONE push, all or nothing ---
  Result<std::vector<store::OutboxEntry>> outbox = db.outbox();
  if (!outbox.ok()) return done(outbox.status());
  v1::PushRequest req;
  req.set_device_id(p.device_id);
  req.set_all_or_nothing(true);
  for (const store::OutboxEntry& e : *outbox) {
    v1::Change* c = req.add_changes();
    c->set_change_id(e.change_id);
    wire::toProto(e.delta, *c->mutable_record());
  }
  if (req.changes().empty()) {
    result.set_applied(true);
    return done(std::move(result));
  }
  auto shared_result = std::make_shared<v1::ActionResult>(std::move(result));
  push(p, std::move(req), [cs, shared_result, done](Result<v1::PushResponse> resp) {
    if (!resp.ok()) return done(resp.status());
    bool all = true;
    for (const v1::ChangeResult& r : resp->results()) all = all && r.accepted();
    shared_result->set_applied(all);
    *shared_result->mutable_results() = resp->results();
    if (!all) shared_result->clear_case_id();
    done(std::move(*shared_result));
  });
}

Result<v1::ActionResult> Engine::consoleAct(const Principal& p, const v1::ConsoleAction& action,
                                            const RequestContext& ctx) {
  std::promise<Result<v1::ActionResult>> done;
  auto fut = done.get_future();
  consoleAct(p, action, ctx, [&done](Result<v1::ActionResult> r) { done.set_value(std::move(r)); });
  return fut.get();
}

void Engine::Impl::pushAllOrNothing(const Principal& principal, v1::PushRequest request,
                                    PushDone done) {
  auto resp = std::make_shared<v1::PushResponse>();
  auto req = std::make_shared<v1::PushRequest>(std::move(request));
  auto who = std::make_shared<Principal>(principal);
  auto shared_done = std::make_shared<PushDone>(std::move(done));
  const bool queued =
      enqueue(Job{[this, req, resp, who](StoreSession& s) -> Status {
                    resp->Clear();
                    EROPAF_RETURN_IF_ERROR(s.savepoint());
                    Status st = applyPush(s, *who, *req, *resp);
                    if (!st.ok()) {
                      static_cast<void>(s.rollbackToSavepoint());  // also releases it
                      return st;
                    }
                    const auto refused =
                        std::find_if(resp->results().begin(), resp->results().end(),
                                     [](const v1::ChangeResult& r) { return !r.accepted(); });
                    if (refused == resp->results().end()) return s.releaseSavepoint();
                    // One change refused: none of the action's changes stays (nor its
                    // applied-change rows, so nothing is remembered as done).
                    EROPAF_RETURN_IF_ERROR(s.rollbackToSavepoint());  // also releases it
                    norms_dirty.clear();
                    const std::string first = refused->change_id();
                    for (v1::ChangeResult& r : *resp->mutable_results()) {
                      if (!r.accepted()) continue;
                      r.set_accepted(false);
                      r.clear_transition_outcome();
                      r.mutable_error()->set_code(v1::ERROR_CODE_FAILED_PRECONDITION);
                      r.mutable_error()->set_message("not applied: change " + first +
                                                     " of the same action was refused");
                      r.mutable_error()->set_field("");
                      --c_applied;
                      ++c_refused;
                    }
                    return {};
                  },
                  [resp, shared_done](const Status& st) {
                    if (st.ok()) {
                      (*shared_done)(std::move(*resp));
                    } else {
                      (*shared_done)(st);
                    }
                  }});
  if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

}  // namespace eropaf::server

namespace eropaf::server {

Result<v1::ReferenceData> Engine::consoleReference(const Principal& p) {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  StoreSession& s = *lease->s;
  EROPAF_RETURN_IF_ERROR(s.begin(false));
  EndRead end_read{s};
  v1::ReferenceData out;
  EROPAF_RETURN_IF_ERROR(impl_->fillReference(s, p.worker, out));
  return out;
}

Result<v1::Overview> Engine::consoleOverview(const Principal& p, const store::OverviewQuery& q) {
  Result<store::Overview> ov = overview(p, q);
  if (!ov.ok()) return ov.status();
  v1::Overview out;
  out.set_total(ov->total);
  out.set_overdue(ov->overdue);
  for (const store::OverviewRow& r : ov->rows) {
    v1::OverviewRow& row = *out.add_rows();
    wire::toProto(r.kase, *row.mutable_case_());
    row.set_priority(static_cast<v1::Priority>(r.norms.priority));
    row.set_derived_priority(static_cast<v1::Priority>(r.norms.derived_priority));
    normClock(r.status.first_attempt, r.contacts.first_attempt_ms, *row.mutable_first_attempt());
    normClock(r.status.first_gesprek, r.contacts.first_gesprek_ms, *row.mutable_first_gesprek());
    row.set_overdue(r.overdue);
    for (const auto& code : r.norms.unknown_categories) row.add_unknown_categories(code);
  }
  return out;
}

}  // namespace eropaf::server
