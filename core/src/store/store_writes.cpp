// The device store, local writes: signals, cases, contact moments, transitions and their
// outbox entries.
//
// Every write follows one path: check identity and role, validate the request, stamp fields
// with a fresh HLC version, then in ONE transaction write the full record state(s), append
// the delta(s) to the outbox and persist the clock. Reads decrypt bodies selected through
// plaintext index columns that reveal no personal detail.
//
// Case.state follows transitions: a device never pushes a state field after a case's
// creation; it pushes the Transition and sets its local state optimistically. The server
// checks the transition and answers with the authoritative state.
#include <algorithm>
#include <limits>

#include "eropaf/id.hpp"
#include "eropaf/merge.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/permissions.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "eropaf/wire.hpp"
#include "store/store_impl.hpp"

namespace eropaf::store {
namespace {

using norms::kNoDue;

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

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

Status Store::Impl::write(const Record& full, bool is_new) {
  const std::string& id = recordId(full);
  const std::string body = cipher->seal(encodeRecord(full), id);
  const auto kind = recordKind(full);
  const bool v3 = schema >= 3;
  // The norm columns of every case this write touches are right when the transaction commits:
  // a case's own are computed here; the case a signal leaves and the one it joins, the case of
  // a contact moment and the case a case is (or was) merged into are recomputed by flushNorms.
  if (v3 && kind == RecordKind::kSignal && !is_new) {
    Result<bool> row = select_signal_case.bind(1, id).step();
    if (!row.ok()) return row.status();
    if (*row) markDirty(select_signal_case.text(0));
    select_signal_case.reset();
  }
  NormColumns norm_cols;
  // The overview's open count key this case row had before the write (schema v4).
  std::optional<OpenKey> old_key;
  if (v3 && kind == RecordKind::kCase) {
    Result<bool> row = is_new ? Result<bool>(false) : select_case_merged.bind(1, id).step();
    if (!row.ok()) return row.status();
    if (*row) {
      markDirty(select_case_merged.text(0));
      if (select_case_merged.int64(4) != 0) {
        old_key = OpenKey{select_case_merged.text(1), select_case_merged.text(2),
                          select_case_merged.int64(3)};
      }
    }
    select_case_merged.reset();
    Result<NormColumns> n = computeNorms(std::get<Case>(full));
    if (!n.ok()) return n.status();
    norm_cols = *n;
    // Computed over everything stored now: what earlier writes of this transaction marked is in
    // (a page that brings a case's signals before the case recomputes it once, not twice).
    dirty_cases.erase(id);
  }
  // A new contact moment later than its case's first contacts changes no norm (the firsts are
  // minimums): its case is not recomputed, which would decrypt every moment of the case.
  if (v3 && kind == RecordKind::kContactMoment) {
    const auto& m = std::get<ContactMoment>(full);
    Result<bool> unchanged = momentLeavesNorms(m);
    if (!unchanged.ok()) return unchanged.status();
    if (!*unchanged) markDirty(m.case_id);
  }
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
          if (v3) {
            s.bind(10, static_cast<std::int64_t>(r.content.urgency));
            markDirty(r.case_id.value);
          }
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
          if (v3) {
            // From v3 priority and due_ms are the derived norms, computed here over what is
            // stored now; a later write of a signal or moment in this transaction marks the
            // case for flushNorms again.
            s.bind(7, norm_cols.priority)
                .bind(8, norm_cols.first_attempt_due_ms)
                .bind(12, r.merged_into.value)
                .bind(13, norm_cols.derived_priority);
            if (norm_cols.first_attempt_ms) {
              s.bind(14, *norm_cols.first_attempt_ms);
            } else {
              s.bindNull(14);
            }
            s.bind(15, norm_cols.first_gesprek_due_ms);
            if (norm_cols.first_gesprek_ms) {
              s.bind(16, *norm_cols.first_gesprek_ms);
            } else {
              s.bindNull(16);
            }
            s.bind(17, norm_cols.open_due_ms).bind(18, std::int64_t{norm_cols.missed});
            markDirty(r.merged_into.value);
          }
        } else {
          s.bind(2, r.case_id).bind(3, r.at_ms).bindBlob(4, body);
        }
      },
      full);
  EROPAF_RETURN_IF_ERROR(s.run());
  if (schema >= 4 && kind == RecordKind::kCase) {
    // open_counts follows the row here rather than by triggers: a trigger on the upsert makes
    // SQLite keep a statement journal for every write (a third of remote apply's speed).
    const auto& c = std::get<Case>(full);
    std::optional<OpenKey> new_key;
    if (isOpenState(c.state.value) && !c.deleted.value) {
      new_key = OpenKey{c.wijk.value, c.assignee.value, static_cast<std::int64_t>(c.state.value)};
    }
    if (old_key != new_key) {
      if (old_key) EROPAF_RETURN_IF_ERROR(countOpen(*old_key, -1));
      if (new_key) EROPAF_RETURN_IF_ERROR(countOpen(*new_key, 1));
    }
  }
  return {};
}

Status Store::Impl::countOpen(const OpenKey& key, std::int64_t delta) {
  return add_open_count.bind(1, key.wijk)
      .bind(2, key.assignee)
      .bind(3, key.state)
      .bind(4, delta)
      .run();
}

Status Store::Impl::enqueue(const Record& delta, std::string_view summary) {
  const std::string change_id = newUuidV7(now());
  return insert_outbox.bind(1, change_id)
      .bind(2, static_cast<std::int64_t>(recordKind(delta)))
      .bind(3, recordId(delta))
      .bind(4, summary)
      .bind(5, now())
      .bindBlob(6, cipher->seal(encodeRecord(delta), change_id))
      .run();
}

Status Store::Impl::commit(const std::vector<Change>& changes) {
  return inTransaction([&]() -> Status {
    for (const Change& c : changes) {
      EROPAF_RETURN_IF_ERROR(write(c.full));
      EROPAF_RETURN_IF_ERROR(enqueue(c.delta, c.summary));
    }
    return {};
  });
}

Status Store::Impl::requireWijk(const Identity& id, std::string_view wijk) {
  if (!contains(id.wijken, wijk)) {
    return Status(ErrorCode::kPermissionDenied,
                  "wijk " + std::string(wijk) + " is not one of your wijken", "wijk");
  }
  return {};
}

// --- writes ----------------------------------------------------------------------------------

Result<Signal> Store::createSignal(const NewSignal& request) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role == Role::kAdmin) return permission("an admin does not report signals");
  Result<std::string> wijk = s.checkWijk(id, request.wijk);
  if (!wijk.ok()) return wijk.status();
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
  sig.content.wijk = *wijk;
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

Result<Case> Store::openCase(const NewCase& original) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<const Identity*> me = s.me();
  if (!me.ok()) return me.status();
  const Identity& id = **me;
  if (id.role != Role::kCoordinator && id.role != Role::kWijkcoach) {
    return permission("only a coordinator or a wijkcoach opens a case");
  }
  NewCase request = original;
  if (!request.from_signal.empty()) EROPAF_RETURN_IF_ERROR(s.resolveFromSignal(id, request));
  Result<std::string> wijk = s.checkWijk(id, request.wijk);
  if (!wijk.ok()) return wijk.status();
  request.wijk = *wijk;
  EROPAF_RETURN_IF_ERROR(s.requireWijk(id, *wijk));
  const Address address = normalized(request.address);
  EROPAF_RETURN_IF_ERROR(checkAddress("address", address));
  EROPAF_RETURN_IF_ERROR(checkText("title", request.title, kMaxTitleBytes, true));
  EROPAF_RETURN_IF_ERROR(checkCategories("categories", request.categories, s.categories, true));
  if (request.priority &&
      (*request.priority == Priority::kUnspecified || static_cast<int>(*request.priority) > 4)) {
    return Status(ErrorCode::kInvalidArgument, "priority is not acuut, hoog, normaal or laag",
                  "priority");
  }
  EROPAF_RETURN_IF_ERROR(
      checkText("priority_reason", request.priority_reason, kMaxReasonBytes, false));
  if (!request.priority_reason.empty() && !request.priority) {
    return Status(ErrorCode::kInvalidArgument, "a priority reason needs a priority",
                  "priority_reason");
  }
  if (!request.new_case) EROPAF_RETURN_IF_ERROR(s.refuseSecondOpenCase(householdKey(address)));
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
  c.wijk.set(*wijk, v);
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
  // A priority with a reason is the coordinator's override; without one the case carries no
  // priority and the derived one (norms::deriveNorms, in the case row) is used. The due dates
  // are derived too: first_contact_due_ms is deprecated and no longer written (model.hpp).
  if (request.priority && !request.priority_reason.empty()) {
    c.priority.set(*request.priority, v);
    c.priority_reason.set(request.priority_reason, v);
  }
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
  return linkSignal(signal_id, case_id, LinkOptions{});
}

Status Store::linkSignal(std::string_view signal_id, std::string_view case_id,
                         const LinkOptions& options) {
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
    // Triage of a signal is its wijk's coordinators' (as the server decides), also for a
    // signal she reported herself in another wijk.
    EROPAF_RETURN_IF_ERROR(s.requireWijk(id, c->wijk.value));
    EROPAF_RETURN_IF_ERROR(s.requireWijk(id, sig->content.wijk));
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
  // Another household: only on purpose, with the reason kept (a coordinator's triage field).
  const bool other_household = sig->content.household_key != c->household_key.value;
  if (other_household) {
    if (!options.force || checkText("reason", options.reason, kMaxReasonBytes, true).code() ==
                              ErrorCode::kRequiredFieldMissing) {
      return Status(ErrorCode::kFailedPrecondition,
                    "the signal is about another household than the case; link it anyway with "
                    "force and a reason",
                    "signal_id");
    }
    EROPAF_RETURN_IF_ERROR(checkText("reason", options.reason, kMaxReasonBytes, true));
    if (id.role != Role::kCoordinator) {
      return permission("only a coordinator links a signal of another household");
    }
  }
  const Version v = s.nextVersion();
  Signal sdelta;
  sdelta.id = sig->id;
  sdelta.case_id.set(c->id, v);
  sdelta.triage_state.set(TriageState::kGekoppeld, v);
  if (other_household) sdelta.triage_reason.set(options.reason, v);
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

namespace detail {

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

}  // namespace detail

namespace {

/// The device's worker as the permissions module sees it.
Worker asWorker(const Identity& id) { return {id.worker_id, id.name, id.role, id.wijken, true}; }

}  // namespace

Status Store::assignCase(std::string_view case_id, std::string_view worker_id,
                         std::string_view reason) {
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
    if (Status may = permissions::mayAssign(worker_id, &*it, c->wijk.value); !may.ok()) {
      return withValidAssignees(may, worker_id, *known, c->wijk.value);
    }
  }
  EROPAF_RETURN_IF_ERROR(checkText("reason", reason, kMaxReasonBytes, false));
  const std::int64_t now = s.now();
  const Version v = s.nextVersion();
  Case delta;
  delta.id = c->id;
  delta.assignee.set(std::string(worker_id), v);
  addHistory(delta, HistoryField::kAssignee, c->assignee.value, std::string(worker_id), reason, id,
             now, v);
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

Status Store::setPriority(std::string_view case_id, Priority priority, std::string_view reason) {
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
  EROPAF_RETURN_IF_ERROR(requireReason(reason));
  const std::int64_t now = s.now();
  const Version v = s.nextVersion();
  Case delta;
  delta.id = c->id;
  delta.priority.set(priority, v);
  delta.priority_reason.set(std::string(reason), v);
  // "From" is the priority the case had as the coordinator saw it: the effective one (an
  // earlier override, or the derived priority).
  Result<Impl::NormColumns> before = s.computeNorms(*c);
  if (!before.ok()) return before.status();
  const auto was = static_cast<Priority>(before->priority);
  addHistory(delta, HistoryField::kPriority,
             before->priority == 9 ? std::string() : std::string(toString(was)),
             std::string(toString(priority)), reason, id, now, v);
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
  if (request.at_ms && *request.at_ms > now + s.hlc.maxSkewMs()) {
    return Status(ErrorCode::kInvalidArgument,
                  "at_ms is in the future (more than " + std::to_string(s.hlc.maxSkewMs() / 1000) +
                      " s after this device's clock)",
                  "at_ms");
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
    // The guard on what this device holds, the moments of cases merged into this one included;
    // the server judges it again on what it stored.
    Result<std::vector<ContactMoment>> moments = s.mergedMoments(c->id);
    if (!moments.ok()) return moments.status();
    for (ContactMoment& m : *moments) m.case_id = c->id;  // guardFacts counts the case's own
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

}  // namespace eropaf::store
