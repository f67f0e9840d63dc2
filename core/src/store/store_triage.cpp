// The device store, triage: the coordinator's verbs on signals and cases (reject, duplicate,
// merge), the reporter's re-filing of a refused signal, the history entries of assignee and
// priority changes, opening a case from a signal, and the reads that follow a merge.
//
// Each verb is one write like those in store_writes.cpp: identity and role, the request
// validated, every field stamped with one fresh version, then ONE transaction writing the full
// states and their outbox deltas. The permissions module decides what the server decides
// (permissions::decideTransition() for the close of a merged case), so the device makes no
// change the server would refuse for its rules. docs/triage.md "Triage verbs" says who may do
// what and what the reporter sees.
#include <algorithm>
#include <map>
#include <set>

#include "eropaf/id.hpp"
#include "eropaf/merge.hpp"
#include "eropaf/permissions.hpp"
#include "eropaf/resolution.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "eropaf/wire.hpp"
#include "store/store_impl.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::store {
namespace detail {

void addHistory(Case& delta, HistoryField field, std::string from, std::string to,
                std::string_view reason, const Identity& id, std::int64_t now, Version v) {
  HistoryEntry e;
  e.id = newUuidV7(now);
  e.version = v;
  e.actor_id = id.worker_id;
  e.at_ms = now;
  e.field = field;
  e.from = std::move(from);
  e.to = std::move(to);
  e.reason = std::string(reason);
  delta.history[e.id] = std::move(e);
}

Status requireReason(std::string_view reason) {
  if (std::all_of(reason.begin(), reason.end(),
                  [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
    return Status(ErrorCode::kReasonRequired, "a reason is required", "reason");
  }
  return checkText("reason", reason, kMaxReasonBytes, true);
}

Status withValidAssignees(const Status& refusal, std::string_view to,
                          const std::vector<Worker>& known, std::string_view wijk) {
  return Status(refusal.code(),
                std::string(to) + " cannot take this case: " + refusal.message() + "." +
                    permissions::validAssigneesSentence(known, wijk),
                refusal.field());
}

}  // namespace detail

namespace {

Status permission(std::string message) {
  return Status(ErrorCode::kPermissionDenied, std::move(message));
}

/// `st` with its field renamed (a load's "not in this store" names the request's field).
Status inField(const Status& st, std::string_view field) {
  return Status(st.code(), st.message(), std::string(field));
}

Worker asWorker(const Identity& id) { return {id.worker_id, id.name, id.role, id.wijken, true}; }

constexpr std::size_t kMaxDuplicateChain = 64;

}  // namespace

// --- helpers of Impl ---------------------------------------------------------------------------

Result<std::vector<ContactMoment>> Store::Impl::mergedMoments(std::string_view case_id) {
  std::set<std::string> seen{std::string(case_id)};
  std::vector<std::string> todo{std::string(case_id)};
  std::vector<ContactMoment> out;
  while (!todo.empty()) {
    const std::string id = todo.back();
    todo.pop_back();
    Result<std::vector<ContactMoment>> own = query<ContactMoment>(
        "SELECT id, body FROM contact_moments WHERE case_id = ? ORDER BY at_ms, id LIMIT ?", {id},
        0);
    if (!own.ok()) return own.status();
    out.insert(out.end(), own->begin(), own->end());
    // The cases merged into this one, by the plain merged_into column (schema v3's index).
    Result<Stmt> merged = db->prepare("SELECT id FROM cases WHERE merged_into = ? AND deleted = 0");
    if (!merged.ok()) return merged.status();
    merged->bind(1, id);
    for (;;) {
      Result<bool> row = merged->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      std::string source = merged->text(0);
      if (seen.insert(source).second) todo.push_back(std::move(source));
    }
  }
  std::sort(out.begin(), out.end(), [](const ContactMoment& a, const ContactMoment& b) {
    return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : a.id < b.id;
  });
  return out;
}

Status Store::Impl::resolveFromSignal(const Identity& id, NewCase& request) {
  Result<Signal> sig = loadAs<Signal>(request.from_signal, "signal");
  if (!sig.ok()) return inField(sig.status(), "from_signal");
  if (sig->deleted.value) return inField(notFound("signal", request.from_signal), "from_signal");
  if (id.role == Role::kWijkcoach && sig->content.reporter_id != id.worker_id) {
    return permission("a wijkcoach opens a case only from their own signal");
  }
  if (request.wijk.empty()) {
    request.wijk = sig->content.wijk;
  } else if (request.wijk != sig->content.wijk) {
    return Status(ErrorCode::kInvalidArgument,
                  "wijk differs from the signal's wijk " + sig->content.wijk, "wijk");
  }
  if (request.address == Address{}) {
    request.address = sig->content.address;
  } else if (householdKey(request.address) != sig->content.household_key) {
    return Status(ErrorCode::kInvalidArgument, "the address is not the signal's household",
                  "address");
  }
  for (const auto& code : sig->content.categories) {
    if (std::find(request.categories.begin(), request.categories.end(), code) ==
        request.categories.end()) {
      request.categories.push_back(code);
    }
  }
  if (std::find(request.signal_ids.begin(), request.signal_ids.end(), sig->id) ==
      request.signal_ids.end()) {
    request.signal_ids.push_back(sig->id);
  }
  if (checkText("title", request.title, kMaxTitleBytes, true).code() ==
      ErrorCode::kRequiredFieldMissing) {
    // No title given: the labels of the categories, which say what the case is about.
    std::string title;
    for (const auto& code : request.categories) {
      auto it = std::find_if(categories.begin(), categories.end(),
                             [&](const Category& c) { return c.code == code; });
      if (!title.empty()) title += ", ";
      title += it != categories.end() && !it->label.empty() ? it->label : code;
    }
    request.title = title;
  }
  return {};
}

Status Store::Impl::refuseSecondOpenCase(std::string_view household_key) {
  Result<std::vector<Case>> open = query<Case>(
      "SELECT id, body FROM cases WHERE household = ? AND is_open = 1 AND deleted = 0 "
      "ORDER BY id LIMIT ?",
      {}, 0, householdHash(household_key));
  if (!open.ok()) return open.status();
  for (const Case& c : *open) {
    // A keyed hash can in theory collide; the decrypted key is the truth.
    if (c.household_key.value != household_key) continue;
    return Status(ErrorCode::kAlreadyExists,
                  "this household already has an open case " + shortId(c.id) +
                      "; link the signal to it, or open another with --new-case",
                  "address");
  }
  return {};
}

// --- verbs -----------------------------------------------------------------------------------

Status Store::rejectSignal(std::string_view signal_id, std::string_view reason) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kCoordinator) return permission("only a coordinator rejects signals");
  Result<Signal> sig = s.loadAs<Signal>(signal_id, "signal");
  if (!sig.ok()) return inField(sig.status(), "signal_id");
  if (sig->deleted.value) return inField(notFound("signal", signal_id), "signal_id");
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, sig->content.wijk));
  EROPAF_RETURN_IF_ERROR(requireReason(reason));
  const Version v = s.nextVersion();
  Signal delta;
  delta.id = sig->id;
  delta.triage_state.set(TriageState::kAfgewezen, v);
  delta.triage_reason.set(std::string(reason), v);
  if (!sig->case_id.value.empty()) delta.case_id.set("", v);
  if (!sig->duplicate_of.value.empty()) delta.duplicate_of.set("", v);
  mergeInto(*sig, delta);
  EROPAF_RETURN_IF_ERROR(validateRecord(*sig));
  return s.commit({{*sig, delta, "signal rejected"}});
}

Status Store::markDuplicate(std::string_view signal_id, std::string_view of_signal_id) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kCoordinator) {
    return permission("only a coordinator marks signals as duplicates");
  }
  Result<Signal> sig = s.loadAs<Signal>(signal_id, "signal");
  if (!sig.ok()) return inField(sig.status(), "signal_id");
  if (sig->deleted.value) return inField(notFound("signal", signal_id), "signal_id");
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, sig->content.wijk));
  if (of_signal_id == sig->id) {
    return Status(ErrorCode::kInvalidArgument, "a signal is not a duplicate of itself",
                  "of_signal_id");
  }
  Result<Signal> orig = s.loadAs<Signal>(of_signal_id, "signal");
  if (!orig.ok()) return inField(orig.status(), "of_signal_id");
  if (orig->deleted.value) return inField(notFound("signal", of_signal_id), "of_signal_id");
  // A duplicate of a duplicate points at the original instead: no chains.
  for (std::size_t hops = 0;
       orig->triage_state.value == TriageState::kDuplicaat && !orig->duplicate_of.value.empty();
       ++hops) {
    if (orig->duplicate_of.value == sig->id || hops == kMaxDuplicateChain) {
      return Status(ErrorCode::kInvalidArgument,
                    "signal " + shortId(of_signal_id) + " is a duplicate of this one",
                    "of_signal_id");
    }
    Result<Signal> next = s.loadAs<Signal>(orig->duplicate_of.value, "signal");
    if (!next.ok()) {
      if (next.status().code() != ErrorCode::kNotFound) return next.status();
      return Status(ErrorCode::kFailedPrecondition,
                    "signal " + shortId(orig->id) + " is a duplicate of " +
                        shortId(orig->duplicate_of.value) +
                        ", which is not on this device; sync, or mark it a duplicate of another",
                    "of_signal_id");
    }
    orig = std::move(next);
  }
  if (orig->triage_state.value == TriageState::kAfgewezen) {
    return Status(ErrorCode::kFailedPrecondition,
                  "signal " + shortId(orig->id) + " was rejected; reject this one too",
                  "of_signal_id");
  }
  // The duplicate goes where its original is: linked to its case, so the case's norms count
  // its urgency too.
  const std::string& target = orig->case_id.value;
  if (!target.empty()) {
    Result<Case> c = s.loadAs<Case>(target, "case");
    if (!c.ok()) return inField(c.status(), "of_signal_id");
    EROPAF_RETURN_IF_ERROR(s.requireWijk(id, c->wijk.value));
  }
  const Version v = s.nextVersion();
  Signal delta;
  delta.id = sig->id;
  delta.triage_state.set(TriageState::kDuplicaat, v);
  delta.duplicate_of.set(orig->id, v);
  if (sig->case_id.value != target) delta.case_id.set(target, v);
  mergeInto(*sig, delta);
  EROPAF_RETURN_IF_ERROR(validateRecord(*sig));
  return s.commit({{*sig, delta, "signal marked duplicate of " + shortId(orig->id)}});
}

Result<Case> Store::mergeCase(std::string_view case_id, std::string_view into_id,
                              std::string_view reason) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kCoordinator) return permission("only a coordinator merges cases");
  Result<Case> src = s.loadAs<Case>(case_id, "case");
  if (!src.ok()) return inField(src.status(), "case_id");
  if (src->deleted.value) return inField(notFound("case", case_id), "case_id");
  Result<Case> dst = s.loadAs<Case>(into_id, "case");
  if (!dst.ok()) return inField(dst.status(), "into_id");
  if (dst->deleted.value) return inField(notFound("case", into_id), "into_id");
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, src->wijk.value));
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, dst->wijk.value));
  if (src->id == dst->id) {
    return Status(ErrorCode::kInvalidArgument, "a case is not merged into itself", "into_id");
  }
  EROPAF_RETURN_IF_ERROR(requireReason(reason));
  for (const auto& [c, field] : {std::pair{&*src, "case_id"}, std::pair{&*dst, "into_id"}}) {
    if (!isOpenState(c->state.value)) {
      return Status(ErrorCode::kFailedPrecondition,
                    "case " + shortId(c->id) + " is " + std::string(toString(c->state.value)) +
                        "; only open cases are merged",
                    field);
    }
    if (!c->merged_into.value.empty()) {
      return Status(ErrorCode::kFailedPrecondition,
                    "case " + shortId(c->id) + " is merged into case " +
                        shortId(c->merged_into.value) + " already",
                    field);
    }
  }
  // The target's coach takes the source (and its contact moments): the same rule as an
  // assignment, for a colleague the reference data names.
  const std::string& coach = dst->assignee.value;
  if (!coach.empty() && coach != src->assignee.value) {
    Result<std::vector<Worker>> known = s.loadWorkers();
    if (!known.ok()) return known.status();
    const auto it =
        std::find_if(known->begin(), known->end(), [&](const Worker& w) { return w.id == coach; });
    if (it != known->end()) {
      if (Status may = permissions::mayAssign(coach, &*it, src->wijk.value); !may.ok()) {
        return Status(ErrorCode::kFailedPrecondition,
                      "the coach of case " + shortId(dst->id) + " (" + coach +
                          ") cannot hold case " + shortId(src->id) + " of wijk " + src->wijk.value +
                          "; assign the target to a coach of both wijken first",
                      "into_id");
      }
    }
  }
  Result<std::vector<Signal>> linked = s.query<Signal>(
      "SELECT id, body FROM signals WHERE case_id = ? AND deleted = 0 "
      "ORDER BY observed_at_ms, id LIMIT ?",
      {src->id}, 0);
  if (!linked.ok()) return linked.status();

  const std::int64_t now = s.now();
  const Version v = s.nextVersion();
  const std::string merged_with = "samengevoegd met casus " + shortId(dst->id);
  std::vector<Impl::Change> changes;
  // The target gains the source's categories.
  Case ddelta;
  ddelta.id = dst->id;
  for (const auto& code : presentElements(src->categories)) {
    auto it = dst->categories.find(code);
    if (it == dst->categories.end() || !it->second.present) ddelta.categories[code] = {true, v};
  }
  if (!ddelta.categories.empty()) {
    mergeInto(*dst, ddelta);
    changes.push_back({*dst, ddelta, "case categories added from merged case"});
  }
  // The source: merged into the target, held by the target's coach, then closed. Its delta
  // goes before its transition, so the server judges the close on a case it knows is merged.
  Case sdelta;
  sdelta.id = src->id;
  sdelta.merged_into.set(dst->id, v);
  if (src->assignee.value != coach) {
    sdelta.assignee.set(coach, v);
    addHistory(sdelta, HistoryField::kAssignee, src->assignee.value, coach, merged_with, id, now,
               v);
  }
  const std::string closing = merged_with + ": " + std::string(reason);
  sdelta.resolution_text.set(closing, v);
  Case merged_src = *src;
  mergeInto(merged_src, sdelta);
  Transition t = makeTransition(*src, CaseState::kAfgesloten, id, closing, true, now, v);
  t.resolution_code = std::string(kResolutionSamengevoegd);
  EROPAF_RETURN_IF_ERROR(checkText("reason", t.reason, kMaxReasonBytes, true));
  {
    const Worker me_w = asWorker(id);
    const permissions::TransitionDecision d =
        permissions::decideTransition(me_w, permissions::caseHoldOnDevice(me_w, merged_src),
                                      merged_src, t, permissions::Origin::kDevice, {}, {});
    if (d.verdict != permissions::TransitionVerdict::kApplied) {
      return d.status.ok() ? permission("this case cannot be closed as merged") : d.status;
    }
  }
  // Optimistic, like moveCase: the server's check decides and writes the resolution code.
  merged_src.state.set(CaseState::kAfgesloten, v);
  EROPAF_RETURN_IF_ERROR(validateRecord(merged_src));
  EROPAF_RETURN_IF_ERROR(validateRecord(t));
  changes.push_back({merged_src, sdelta, "case merged into " + shortId(dst->id)});
  changes.push_back({t, t, moveSummary(src->state.value, CaseState::kAfgesloten)});
  // Every signal of the source follows to the target (a duplicate stays a duplicate).
  for (Signal& sig : *linked) {
    Signal delta;
    delta.id = sig.id;
    delta.case_id.set(dst->id, v);
    mergeInto(sig, delta);
    changes.push_back({sig, delta, "signal relinked to merged case " + shortId(dst->id)});
  }
  EROPAF_RETURN_IF_ERROR(s.commit(changes));
  return *dst;
}

namespace {

/// A change of another signal that names `signal_id` (a duplicate mark), refused because the
/// server did not know `signal_id` or still waiting to be sent, is queued again behind the
/// re-filed creation, so the server takes both in order (sent before it, the mark would be
/// refused again); left refused, the device would keep a mark the server never had.
/// (`Impl` as in the other helpers: Store::Impl is private.)
template <class Impl>
Status requeueDependents(Impl& s, const std::string& signal_id) {
  Result<Stmt> q = s.db->prepare(
      "SELECT change_id, delta, summary FROM outbox WHERE kind = ? AND status IN (?, ?) AND "
      "record_id != ? ORDER BY seq");
  if (!q.ok()) return q.status();
  q->bind(1, static_cast<std::int64_t>(RecordKind::kSignal))
      .bind(2, static_cast<std::int64_t>(OutboxStatus::kRefused))
      .bind(3, static_cast<std::int64_t>(OutboxStatus::kPending))
      .bind(4, signal_id);
  struct Again {
    std::string change_id;
    Record delta;
    std::string summary;
  };
  std::vector<Again> again;
  for (;;) {
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const std::string change_id = q->text(0);
    Result<Record> delta = s.openDelta(change_id, q->blob(1));
    if (!delta.ok()) return delta.status();
    const auto* d = std::get_if<Signal>(&*delta);
    if (d != nullptr && d->duplicate_of.isSet() && d->duplicate_of.value == signal_id) {
      again.push_back({change_id, std::move(delta).value(), q->text(2)});
    }
  }
  Result<Stmt> del = s.db->prepare("DELETE FROM outbox WHERE change_id = ?");
  if (!del.ok()) return del.status();
  for (const Again& a : again) {
    EROPAF_RETURN_IF_ERROR(del->bind(1, a.change_id).run());
    EROPAF_RETURN_IF_ERROR(s.enqueue(a.delta, a.summary));
  }
  return {};
}

}  // namespace

Result<Signal> Store::refileSignal(std::string_view signal_id, std::string_view wijk) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  Result<Signal> sig = s.loadAs<Signal>(signal_id, "signal");
  if (!sig.ok()) return inField(sig.status(), "signal_id");
  if (sig->content.reporter_id != id.worker_id) {
    return permission("only the reporter re-files a signal");
  }
  Result<std::string> checked = s.checkWijk(id, wijk);
  if (!checked.ok()) return checked.status();
  // The refused row that created it: only what the server never took is re-filed.
  Result<Stmt> q = s.db->prepare(
      "SELECT change_id, delta FROM outbox WHERE record_id = ? AND kind = ? AND status = ? "
      "ORDER BY seq");
  if (!q.ok()) return q.status();
  q->bind(1, sig->id)
      .bind(2, static_cast<std::int64_t>(RecordKind::kSignal))
      .bind(3, static_cast<std::int64_t>(OutboxStatus::kRefused));
  bool refused_creation = false;
  for (;;) {
    Result<bool> row = q->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const std::string change_id = q->text(0);
    Result<Record> delta = s.openDelta(change_id, q->blob(1));
    if (!delta.ok()) return delta.status();
    const auto* d = std::get_if<Signal>(&*delta);
    if (d != nullptr && !d->created.isZero()) refused_creation = true;
  }
  if (!refused_creation) {
    return Status(ErrorCode::kFailedPrecondition,
                  "signal " + shortId(sig->id) +
                      " was not refused by the server; only a refused signal is re-filed",
                  "signal_id");
  }
  // A fresh creation: the same id and content but the wijk, triage back to nieuw. Any later
  // change of it in the outbox named a signal the server never had, so it goes too.
  const Version v = s.nextVersion();
  Signal fresh;
  fresh.id = sig->id;
  fresh.created = v;
  fresh.content = sig->content;
  fresh.content.wijk = *checked;
  fresh.triage_state.set(TriageState::kNieuw, v);
  EROPAF_RETURN_IF_ERROR(validateRecord(fresh));
  EROPAF_RETURN_IF_ERROR(s.inTransaction([&]() -> Status {
    Result<Stmt> del = s.db->prepare("DELETE FROM outbox WHERE record_id = ?");
    if (!del.ok()) return del.status();
    EROPAF_RETURN_IF_ERROR(del->bind(1, fresh.id).run());
    EROPAF_RETURN_IF_ERROR(s.write(fresh));
    EROPAF_RETURN_IF_ERROR(s.enqueue(fresh, "signal re-filed in wijk " + std::string(wijk)));
    return requeueDependents(s, fresh.id);
  }));
  return fresh;
}

// --- reads -----------------------------------------------------------------------------------

Result<std::vector<ContactMoment>> Store::caseMoments(std::string_view case_id) const {
  std::lock_guard lock(impl_->mu);
  Result<std::vector<ContactMoment>> r = impl_->mergedMoments(case_id);
  if (r.ok()) impl_->logAccess("read:contact_moments", case_id, "");
  return r;
}

Result<std::vector<Signal>> Store::caseSignals(std::string_view case_id) const {
  std::lock_guard lock(impl_->mu);
  Result<std::vector<Signal>> r = impl_->query<Signal>(
      "SELECT id, body FROM signals WHERE case_id = ? AND deleted = 0 "
      "ORDER BY observed_at_ms, id LIMIT ?",
      {std::string(case_id)}, 0);
  if (r.ok()) impl_->logAccess("list:case_signals", case_id, "");
  return r;
}

Result<std::optional<OutboxEntry>> Store::refusal(std::string_view record_id) const {
  Result<std::vector<OutboxEntry>> rows = outbox();
  if (!rows.ok()) return rows.status();
  for (OutboxEntry& e : *rows) {
    if (e.record_id == record_id && e.status == OutboxStatus::kRefused) {
      return std::optional<OutboxEntry>(std::move(e));
    }
  }
  return std::optional<OutboxEntry>();
}

}  // namespace eropaf::store
