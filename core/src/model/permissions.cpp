// Who may write what. Deliberately small and table-like: this is the code an auditor reads.
// Every refusal below is one of three answers (unknownRecord, unknownParent, refused(kind)),
// except checks on the pushed record alone (its own name, the state table), which tell the
// principal nothing about what the server holds.
#include "eropaf/permissions.hpp"

#include <algorithm>

#include "eropaf/norms.hpp"
#include "eropaf/state_table.hpp"

namespace eropaf::permissions {
namespace {

bool inWijk(const Worker& w, std::string_view wijk) {
  return std::find(w.wijken.begin(), w.wijken.end(), wijk) != w.wijken.end();
}

bool isCoordinatorOf(const Worker& w, std::string_view wijk) {
  return w.role == Role::kCoordinator && inWijk(w, wijk);
}

/// The fields of a case delta a wijkcoach may never write, whatever their value.
bool setsCoordinatorField(const Case& d) {
  return d.wijk.isSet() || d.household_key.isSet() || d.address.isSet() || d.priority.isSet() ||
         d.first_contact_due_ms.isSet() || d.resolution_code.isSet() || d.resolution_text.isSet() ||
         d.merged_into.isSet() || d.conflict.isSet() || d.deleted.isSet() ||
         d.priority_reason.isSet() || !d.history.empty();
}

/// The history entries a coordinator's delta carries: those already stored unchanged; new
/// ones in her own name, at most one per field, each recording exactly the change the same
/// delta makes (to = the assignee / priority it sets).
bool historyOk(const Worker& w, const Case& current, const Case& d) {
  bool assignee_entry = false;
  bool priority_entry = false;
  for (const auto& [id, e] : d.history) {
    if (auto it = current.history.find(id); it != current.history.end()) {
      if (it->second != e) return false;
      continue;
    }
    if (e.id != id || e.actor_id != w.id) return false;
    if (e.field == HistoryField::kAssignee) {
      if (assignee_entry || !d.assignee.isSet() || e.to != d.assignee.value) return false;
      assignee_entry = true;
    } else if (e.field == HistoryField::kPriority) {
      if (priority_entry || !d.priority.isSet() || e.to != toString(d.priority.value)) {
        return false;
      }
      priority_entry = true;
    } else {
      return false;
    }
  }
  return true;
}

/// A delta's creation facts: absent, or exactly the stored ones.
bool keepsCreationFacts(const Case& current, const Case& d) {
  if (d.created.isZero() && d.opened_by.empty() && d.opened_at_ms == 0) return true;
  return d.created == current.created && d.opened_by == current.opened_by &&
         d.opened_at_ms == current.opened_at_ms;
}

}  // namespace

Status unknownRecord() { return Status(ErrorCode::kNotFound, "no such record", "id"); }

Status unknownParent() { return Status(ErrorCode::kNotFound, "no such record", "case_id"); }

Status refused(RecordKind kind) {
  return Status(ErrorCode::kPermissionDenied,
                "you may not make this change to this " + std::string(toString(kind)));
}

Hold caseHoldOnDevice(const Worker& w, const Case& c) {
  if (w.role == Role::kCoordinator) return inWijk(w, c.wijk.value) ? Hold::kFull : Hold::kNone;
  if (w.role != Role::kWijkcoach) return Hold::kNone;
  if (c.assignee.value == w.id) return Hold::kFull;
  if (c.assignee.value.empty() && isOpenState(c.state.value) && !c.deleted.value &&
      inWijk(w, c.wijk.value)) {
    return Hold::kQueued;
  }
  return Hold::kWasAssigned;
}

Status mayCreateCase(const Worker& w, const Case& in) {
  Status no = refused(RecordKind::kCase);
  if (w.role != Role::kCoordinator && w.role != Role::kWijkcoach) return no;
  if (in.opened_by != w.id || in.created.isZero()) return no;
  if (!in.wijk.isSet() || !inWijk(w, in.wijk.value)) return no;
  if (in.state.value != CaseState::kNieuw || !in.assignee.value.empty()) return no;
  if (!in.address.isSet() || in.household_key.value != householdKey(in.address.value)) return no;
  // Coordinator-only facts are never set by the one who opens the case.
  if (in.conflict.value || in.deleted.value || !in.resolution_code.value.empty() ||
      !in.resolution_text.value.empty() || !in.merged_into.value.empty()) {
    return no;
  }
  // A priority override (a priority with a reason) and its history entry: a coordinator's.
  if (w.role != Role::kCoordinator && (in.priority_reason.isSet() || !in.history.empty())) {
    return no;
  }
  if (!historyOk(w, Case{}, in)) return no;
  return {};
}

Status mayWriteCase(const Worker& w, Hold hold, const Case& current, const Case& d,
                    Hold merge_target) {
  // Not theirs now (only offline moments and moves are kept from them): as unknown.
  if (!visible(hold) || hold == Hold::kWasQueued || hold == Hold::kWasAssigned) {
    return unknownRecord();
  }
  Status no = refused(RecordKind::kCase);
  if (!keepsCreationFacts(current, d)) return no;
  if (d.state.isSet()) return no;  // a case's state changes only through transitions
  if (w.role == Role::kCoordinator) {
    if (hold != Hold::kFull) return no;
    if (d.wijk.isSet() && !inWijk(w, d.wijk.value)) return no;
    if (d.merged_into.isSet() && !d.merged_into.value.empty() && merge_target != Hold::kFull) {
      return no;  // a link is never an existence oracle, nor points outside their wijken
    }
    if (!historyOk(w, current, d)) return no;
    if (d.household_key.isSet() || d.address.isSet()) {
      // Both together, and matching: a case's household key is its address's.
      if (!d.household_key.isSet() || !d.address.isSet() ||
          d.household_key.value != householdKey(d.address.value)) {
        return no;
      }
    }
    return {};
  }
  if (w.role != Role::kWijkcoach) return no;
  if (setsCoordinatorField(d)) return no;
  switch (hold) {
    case Hold::kFull:
      // The assigned coach: title and categories; the assignee field stays theirs to keep.
      if (d.assignee.isSet() && d.assignee.value != w.id) return no;
      return {};
    case Hold::kQueued:
      // Pick up: to themselves, and nothing else.
      if (d.title.isSet() || !d.categories.empty()) return no;
      if (!d.assignee.isSet() || d.assignee.value != w.id) return no;
      return {};
    default:
      return no;  // kOwn, kReadOnly
  }
}

Status mayAssign(std::string_view assignee_id, const Worker* a, std::string_view wijk) {
  if (assignee_id.empty()) return {};
  if (a == nullptr || !a->active ||
      (a->role != Role::kWijkcoach && a->role != Role::kCoordinator) || !inWijk(*a, wijk)) {
    return Status(ErrorCode::kFailedPrecondition,
                  "the assignee is not an active wijkcoach or coordinator of the case's wijk",
                  "assignee");
  }
  return {};
}

std::vector<Worker> validAssignees(std::span<const Worker> workers, std::string_view wijk) {
  std::vector<Worker> out;
  for (const Worker& w : workers) {
    if (mayAssign(w.id, &w, wijk).ok()) out.push_back(w);
  }
  std::sort(out.begin(), out.end(), [](const Worker& a, const Worker& b) {
    return a.name != b.name ? a.name < b.name : a.id < b.id;
  });
  return out;
}

std::string validAssigneesSentence(std::span<const Worker> workers, std::string_view wijk) {
  const std::vector<Worker> valid = validAssignees(workers, wijk);
  if (valid.empty()) {
    return " No colleague on this device can take a case of " + std::string(wijk) +
           "; sync to refresh the list (eropaf workers).";
  }
  std::string out = " Valid colleagues for " + std::string(wijk) + ": ";
  for (std::size_t i = 0; i < valid.size(); ++i) {
    const Worker& w = valid[i];
    out += (i == 0 ? "" : ", ") + w.id + " (" + w.name + ", " + std::string(toString(w.role)) + ")";
  }
  return out + ".";
}

namespace {

/// Triage fields of a signal delta, judged for `w` on a signal of `wijk` reported by `reporter`.
Status mayTriage(const Worker& w, std::string_view wijk, std::string_view reporter, const Signal& d,
                 Hold link_target, Hold duplicate_target, bool creation) {
  const bool triage =
      d.case_id.isSet() || d.duplicate_of.isSet() || d.triage_reason.isSet() ||
      (d.triage_state.isSet() && !(creation && d.triage_state.value == TriageState::kNieuw));
  Status no = refused(RecordKind::kSignal);
  if (d.deleted.isSet() && !isCoordinatorOf(w, wijk)) return no;
  if (!triage) return {};
  if (isCoordinatorOf(w, wijk)) {
    // Links name only records the coordinator sees: a link is never an existence oracle.
    if (d.case_id.isSet() && !d.case_id.value.empty() && link_target != Hold::kFull) return no;
    if (d.duplicate_of.isSet() && !d.duplicate_of.value.empty() && !visible(duplicate_target)) {
      return no;
    }
    return {};
  }
  // The reporting coach links their own signal to a case assigned to them.
  if (w.role == Role::kWijkcoach && reporter == w.id && !d.duplicate_of.isSet() &&
      !d.triage_reason.isSet() && d.case_id.isSet() && link_target == Hold::kFull &&
      (!d.triage_state.isSet() || d.triage_state.value == TriageState::kGekoppeld)) {
    return {};
  }
  return no;
}

}  // namespace

Status mayCreateSignal(const Worker& w, const Signal& in, Hold link_target, Hold duplicate_target) {
  Status no = refused(RecordKind::kSignal);
  if (w.role == Role::kAdmin || w.role == Role::kUnspecified) return no;
  if (in.created.isZero() || in.content.reporter_id != w.id || in.content.source_role != w.role) {
    return no;
  }
  if (in.content.household_key != householdKey(in.content.address)) return no;
  return mayTriage(w, in.content.wijk, in.content.reporter_id, in, link_target, duplicate_target,
                   true);
}

Status mayWriteSignal(const Worker& w, Hold hold, const Signal& current, const Signal& d,
                      Hold link_target, Hold duplicate_target, Hold current_link) {
  if (!visible(hold)) return unknownRecord();
  Status no = refused(RecordKind::kSignal);
  if (!d.created.isZero() && (d.created != current.created || d.content != current.content)) {
    return no;  // content is fixed once synced
  }
  if (w.role == Role::kWijkcoach && d.case_id.isSet() && !current.case_id.value.empty() &&
      d.case_id.value != current.case_id.value && current_link != Hold::kFull) {
    return no;  // out of a case that is not theirs: the coordinator's triage stands
  }
  return mayTriage(w, current.content.wijk, current.content.reporter_id, d, link_target,
                   duplicate_target, false);
}

Status mayCreateMoment(const Worker& w, Hold case_hold, const ContactMoment& in, Origin origin) {
  if (!visible(case_hold)) return unknownParent();
  Status no = refused(RecordKind::kContactMoment);
  if (in.author_id != w.id || in.created.isZero()) return no;
  if (w.role == Role::kCoordinator) return case_hold == Hold::kFull ? Status() : no;
  if (w.role != Role::kWijkcoach) return no;
  if (case_hold == Hold::kFull) return {};
  // Offline work on a case the coach held (assigned to them, or picked up offline: the
  // server has their pick-up) and that went to someone else meanwhile: kept on the server, so
  // nothing a worker wrote is lost; never new on a device.
  if (case_hold == Hold::kWasAssigned && origin == Origin::kServer) return {};
  if (case_hold == Hold::kWasQueued) return unknownParent();  // only seen in a queue, once
  return no;
}

Status mayWriteMoment(const Worker& w, Hold case_hold, const ContactMoment& current,
                      const ContactMoment& d) {
  if (!visible(case_hold)) return unknownRecord();
  Status no = refused(RecordKind::kContactMoment);
  if (!d.created.isZero()) {
    ContactMoment a = current;
    ContactMoment b = d;
    a.deleted = b.deleted = {};
    if (a != b) return no;  // never edited: a correction is a new moment
  }
  if (d.deleted.isSet() && !(w.role == Role::kCoordinator && case_hold == Hold::kFull)) return no;
  return {};
}

namespace {

/// A close as merged (state_table.hpp isMergeClose()): the move's own facts, then a
/// coordinator holding the case whole, then the judge's stored case: merged into another.
TransitionDecision decideMergeClose(const Worker& w, Hold hold, const Case& c,
                                    const Transition& t) {
  TransitionDecision out;
  out.next = c.state.value;
  if (Status rule = checkMergeClose(t.from, w.role, t.reason, t.made_offline); !rule.ok()) {
    out.status = rule;
    return out;
  }
  if (w.role != Role::kCoordinator || hold != Hold::kFull) {
    out.status = refused(RecordKind::kTransition);
    return out;
  }
  if (c.merged_into.value.empty()) {
    out.status = Status(ErrorCode::kFailedPrecondition,
                        "a case closes as samengevoegd only once it is merged into another "
                        "(merge it: case merge)",
                        "resolution_code");
    return out;
  }
  const CaseState current = c.state.value;
  if (isOpenState(current)) {
    out.verdict = TransitionVerdict::kApplied;
    out.next = CaseState::kAfgesloten;
  } else if (current == CaseState::kAfgesloten) {
    out.verdict = TransitionVerdict::kApplied;  // already where this move wanted it
  } else {
    out.verdict = TransitionVerdict::kConflict;  // cancelled meanwhile: the coordinator decides
  }
  return out;
}

}  // namespace

TransitionDecision decideTransition(const Worker& w, Hold hold, const Case& c, const Transition& t,
                                    Origin origin, std::span<const ContactMoment> stored_moments,
                                    std::span<const Category> categories) {
  TransitionDecision out;
  out.next = c.state.value;
  if (!visible(hold)) {
    out.status = unknownParent();
    return out;
  }
  if (t.actor_id != w.id || t.actor_role != w.role || t.created.isZero()) {
    out.status = refused(RecordKind::kTransition);
    return out;
  }
  if (isMergeClose(t.to, t.resolution_code)) return decideMergeClose(w, hold, c, t);
  // The state table judges the move itself: it tells nothing about the case.
  if (Status rule =
          checkTransition(t.from, t.to, w.role, t.reason, t.made_offline, t.resolution_code);
      !rule.ok()) {
    out.status = rule;
    return out;
  }
  const bool pickup = t.to == CaseState::kToegewezen &&
                      (t.from == CaseState::kNieuw || t.from == CaseState::kHeropend);
  if (w.role == Role::kWijkcoach) {
    switch (hold) {
      case Hold::kFull:
        break;
      case Hold::kWasQueued:
        // Only seen in their queue: a pick up made offline is kept as a conflict (two coaches
        // picked it up); anything else is answered as for an unknown case.
        if (!pickup || origin != Origin::kServer) {
          out.status = unknownParent();
          return out;
        }
        out.verdict = TransitionVerdict::kConflict;
        return out;
      case Hold::kQueued:
      case Hold::kWasAssigned:
        if (hold == Hold::kQueued && pickup) break;
        // Offline work on a case the coach was shown but does not hold (any more): on the
        // server the move is kept as a conflict for the coordinator, never applied and never
        // lost; a device does not make it.
        if (origin == Origin::kServer) {
          out.verdict = TransitionVerdict::kConflict;
          return out;
        }
        out.status = refused(RecordKind::kTransition);
        return out;
      default:
        out.status = refused(RecordKind::kTransition);
        return out;
    }
  } else if (w.role != Role::kCoordinator || hold != Hold::kFull) {
    out.status = refused(RecordKind::kTransition);
    return out;
  }
  const CaseState current = c.state.value;
  if (pickup && w.role == Role::kWijkcoach && !c.assignee.value.empty() &&
      c.assignee.value != w.id) {
    out.verdict = TransitionVerdict::kConflict;  // two coaches picked it up
    return out;
  }
  // From here the actor holds the case whole (or picks it up, a move with no guard): the
  // case's stored facts may be told.
  const GuardFacts facts = norms::guardFacts(c, stored_moments, categories);
  if (t.from == current) {
    if (Status guard = checkGuard(t.from, t.to, facts); !guard.ok()) {
      out.status = guard;
      return out;
    }
    out.verdict = TransitionVerdict::kApplied;
    out.next = t.to;
  } else if (t.to == current) {
    out.verdict = TransitionVerdict::kApplied;  // already where this move wanted it
  } else if (checkTransition(current, t.to, w.role, t.reason, t.made_offline, t.resolution_code)
                 .ok() &&
             checkGuard(current, t.to, facts).ok()) {
    out.verdict = TransitionVerdict::kApplied;
    out.next = t.to;
  } else {
    out.verdict = TransitionVerdict::kConflict;
    return out;
  }
  // The rule that moved it (none when it already was in `to`).
  const TransitionRule* rule = findTransition(current, t.to);
  if (w.role == Role::kWijkcoach && rule != nullptr && rule->coach_proposes) {
    // The coach proposes, the coordinator confirms: kept for her, never applied by itself.
    out.verdict = TransitionVerdict::kConflict;
    out.proposal = true;
    out.next = current;
    return out;
  }
  out.assign_actor = pickup && w.role == Role::kWijkcoach && c.assignee.value.empty();
  return out;
}

const std::vector<RuleRow>& ruleTable() {
  static const std::vector<RuleRow> rows = {
      {"signal content", "own name and role only", "own name and role only",
       "own name and role only"},
      {"signal triage (case link, triage state, duplicate)", "yes, to records they see",
       "link own signal to own case", "—"},
      {"new case", "own wijk, state `nieuw`, unassigned, no conflict/resolution/merge",
       "own wijk, state `nieuw`, unassigned, no conflict/resolution/merge", "—"},
      {"case assignee", "an active coach or coordinator of the case's wijk, or nobody",
       "pick up: an open unassigned case of their wijk, to themselves", "—"},
      {"case title, categories", "yes", "cases assigned to them", "—"},
      {"case state", "only through transitions", "only through transitions", "—"},
      {"case creation facts (`opened_by`, `opened_at_ms`)", "never", "never", "—"},
      {"other case fields, conflict flag, deletion", "yes", "—", "—"},
      {"contact moment", "own name",
       "own name; kept when the case was reassigned before it "
       "arrived",
       "—"},
      {"transition",
       "own name and role, state table; closing with a resolution code; `samengevoegd` from any "
       "open state, only for a case merged into another",
       "own name and role, state table; a conflict when the case was reassigned before it "
       "arrived; `contact_zoeken → afgesloten` only as a proposal the coordinator confirms",
       "—"},
  };
  return rows;
}

}  // namespace eropaf::permissions
