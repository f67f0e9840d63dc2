// Who may write what (DESIGN.md "Who sees what"): the one module that says whether a principal
// may write a delta to a record, and how a transition is decided. Pure functions over tables,
// like state_table.hpp; the device store and the server's sync engine both call it.
//
// The caller supplies only facts it owns. On the server those are its stored state, its own
// history of who held a case and what it has served to the device (see Hold); never the
// versions, times or ids the device chose. On a device they are the local store's state.
//
// Rules every answer follows:
// - Visibility first. A record the principal may not see (Hold::kNone) is answered exactly like
//   an unknown id (unknownRecord() / unknownParent()): same code, text and field.
// - A write to a field the principal may not write is refused whatever its value, with ONE
//   refusal text per record kind (refused()): which field, or whether a guess matched, is never
//   told.
// - Creation facts (a case's opened_by/opened_at_ms, a signal's content, a contact moment's or
//   transition's body) are fixed once created.
//
// Where device and server differ (Origin): the server tolerates stale offline work: a coach's
// contact moment on a case that was reassigned before the change reached the server is kept,
// and their transition becomes a conflict for the coordinator. A device never makes new work
// on a case it knows is not theirs.
// Thread-safety: pure functions; any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"

namespace eropaf::permissions {

/// Where the write is judged: on the worker's own device, or on the server.
enum class Origin { kDevice, kServer };

/// How much of an existing record (for a new child: of its case) the principal holds.
enum class Hold {
  kNone,         ///< may not see it: answered exactly like an unknown id
  kOwn,          ///< a signal the principal reported (a zorgmedewerker sees only its status)
  kReadOnly,     ///< sees it whole but writes nothing (a coach: a signal linked to their case)
  kQueued,       ///< a coach: an open unassigned case of their wijk, seen redacted
  kWasQueued,    ///< a coach: it was in their queue once, and has left it (not theirs)
  kWasAssigned,  ///< a coach: it was assigned to them (or they picked it up offline: the
                 ///< server holds their pick-up), and is not any more
  kFull,         ///< sees and works it whole (a coordinator of its wijk; the assigned coach)
};

/// Is a hold enough to name the record at all (anything but kNone)?
constexpr bool visible(Hold h) noexcept { return h != Hold::kNone; }

/// The answer for an id the principal may not see, exactly as for an unknown id.
Status unknownRecord();
/// The same, for a child whose case the principal may not see or that does not exist.
Status unknownParent();
/// The one refusal of a write to a record of this kind, whatever field or value was refused.
Status refused(RecordKind kind);

/// The case's hold for a worker from the current state alone (what a device knows): a
/// coordinator of the wijk or the assignee: kFull; a coach and an open unassigned case of their
/// wijk: kQueued; a coach holding it anyway (the eviction has not arrived): kWasAssigned.
Hold caseHoldOnDevice(const Worker& w, const Case& current);

/// May `w` open `in` (a whole new case)? Own name, own wijk, state nieuw, unassigned, household
/// key matching the address, no coordinator-only field (conflict, resolution, merged_into,
/// deletion) from anyone.
Status mayCreateCase(const Worker& w, const Case& in);

/// May `w`, holding the case as `hold`, write the fields `delta` carries onto `current`? The
/// delta's creation facts must be absent or equal to the stored ones. An assignee the delta
/// sets is checked with mayAssign() by the caller, who knows the workers. `merge_target` is
/// the hold of the case a merged_into the delta sets names (kNone when none or not seen): a
/// link names only a case the coordinator sees whole.
Status mayWriteCase(const Worker& w, Hold hold, const Case& current, const Case& delta,
                    Hold merge_target = Hold::kNone);

/// A valid assignee: exists, active, a wijkcoach or coordinator, working in `wijk`. An empty id
/// (back to the queue) is always valid.
Status mayAssign(std::string_view assignee_id, const Worker* assignee, std::string_view wijk);

/// The workers of `workers` who may take a case of `wijk` (mayAssign), by name then id.
std::vector<Worker> validAssignees(std::span<const Worker> workers, std::string_view wijk);

/// The sentence that names them for a refusal a coordinator can act on: " Valid colleagues for
/// WK: id (name, role), ...." — or, when there is none, that a sync refreshes the list.
std::string validAssigneesSentence(std::span<const Worker> workers, std::string_view wijk);

/// May `w` report the new signal `in` (own name and role; triage fields only by a coordinator
/// of the signal's wijk, or a coach linking to their own case: `link_target` is the hold of the
/// case `in.case_id` names, kNone when it names none or one not seen)?
Status mayCreateSignal(const Worker& w, const Signal& in, Hold link_target, Hold duplicate_target);

/// May `w`, holding the signal as `hold`, write `delta` onto `current`? Content is fixed;
/// triage (case link, state, duplicate) by a coordinator of its wijk, or the reporting coach
/// linking it to a case assigned to them; deletion by a coordinator. `current_link` is the
/// hold of the case the signal is linked to now: a coach does not take a signal out of a case
/// that is not theirs (the coordinator's triage stands).
Status mayWriteSignal(const Worker& w, Hold hold, const Signal& current, const Signal& delta,
                      Hold link_target, Hold duplicate_target, Hold current_link = Hold::kNone);

/// May `w` record the new contact moment `in` on a case held as `case_hold`? Own name; a
/// coordinator of the wijk or the case's coach. On the server a coach whose case was
/// reassigned before the moment arrived keeps it (kWasAssigned): nothing a worker wrote is lost.
Status mayCreateMoment(const Worker& w, Hold case_hold, const ContactMoment& in, Origin origin);

/// A delta on an existing contact moment: the body is fixed; only a coordinator removes it.
Status mayWriteMoment(const Worker& w, Hold case_hold, const ContactMoment& current,
                      const ContactMoment& delta);

/// How a transition ends.
enum class TransitionVerdict {
  kRefused,   ///< not stored (see the status)
  kApplied,   ///< the case moves (or already was where the move wanted it)
  kConflict,  ///< kept with outcome conflict; the case goes on the coordinator's conflict list
};

struct TransitionDecision {
  TransitionVerdict verdict = TransitionVerdict::kRefused;
  Status status;              ///< the refusal when kRefused
  CaseState next{};           ///< the case's state afterwards
  bool assign_actor = false;  ///< a pick up that applied: the actor becomes the assignee
  /// A coach's move that the state table makes a proposal (TransitionRule::coach_proposes:
  /// contact_zoeken → afgesloten, geen contact mogelijk). Its guard held, and the verdict is
  /// kConflict: kept, the case on the coordinator's list, the state unchanged; the coordinator
  /// confirms by making the move herself.
  bool proposal = false;
};

/// Decides a new transition `t` by `w` on the case `current`, held as `hold`: first the
/// state table for the actor's role and what the move says (refused when the move does not
/// exist for them, or its reason or resolution code is wrong), then the server's current state
/// (applied when legal from there, else a conflict), and whether the actor may move this case
/// at all (a coach who no longer holds it: conflict; one who never held it: as unknown).
/// A guarded move (closing for lack of contact) is judged on `stored_moments` (every contact
/// moment the judge has stored for the case; others are ignored) and `categories` (the judge's
/// category table), through norms::guardFacts() — never on anything the move carries; the
/// guard is asked only once the actor is known to hold the case whole. Moves that do not
/// close read neither: the caller may pass empty spans for them.
/// A close as merged (→ afgesloten with `samengevoegd`, state_table.hpp checkMergeClose())
/// exists from any open state, for a coordinator holding the case whole, and only when
/// `current` (the judge's stored case) has merged_into set: on the server the merge's case
/// delta arrives before its transition (outbox order). Refused otherwise.
TransitionDecision decideTransition(const Worker& w, Hold hold, const Case& current,
                                    const Transition& t, Origin origin,
                                    std::span<const ContactMoment> stored_moments,
                                    std::span<const Category> categories);

/// One row of the "who may write what" table in docs/sync.md, generated from the rules above
/// (permissions_test checks the document against it).
struct RuleRow {
  std::string_view record;
  std::string_view coordinator;
  std::string_view wijkcoach;
  std::string_view zorgmedewerker;
};
const std::vector<RuleRow>& ruleTable();

}  // namespace eropaf::permissions
