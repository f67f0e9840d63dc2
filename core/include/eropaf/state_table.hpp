// The case state table: which transitions exist, which roles may make them, which need a
// reason text, which a device may make while offline, and which are guarded (closing needs a
// resolution code; closing for lack of contact needs N attempts on different days). Devices
// and the server both check transitions against this one table.
// Thread-safety: immutable data; any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"

namespace eropaf {

/// What a move needs besides the roles, reason and connection of its rule.
enum class Guard : std::int32_t {
  kNone,        ///< nothing more; the move carries no resolution code
  kResolution,  ///< a resolution code a worker may choose by hand (resolution.hpp)
  kNoContact,   ///< resolution `geen_contact_mogelijk` and, judged on the case's stored facts,
                ///< contact attempts on at least N different days (checkGuard())
};

struct TransitionRule {
  CaseState from;
  CaseState to;
  bool wijkcoach;        ///< a wijkcoach may make it (on a case assigned to them / picking up)
  bool coordinator;      ///< a coordinator may make it
  bool reason_required;  ///< needs a non-empty reason text
  bool offline_allowed;  ///< a device may make it without a connection
  Guard guard = Guard::kNone;
  /// A wijkcoach's move is a proposal: it is never applied by itself but kept for the
  /// coordinator (on the server: outcome conflict, the case on the conflict list), who confirms
  /// it by making the move herself or declines it by resolving the conflict without it.
  bool coach_proposes = false;
};

/// Facts about the case that a guarded move is judged on, taken from the judge's own store (on
/// the server: its stored contact moments and category table, see norms::guardFacts()), never
/// values sent with the move.
struct GuardFacts {
  std::int32_t attempt_days = 0;                    ///< Amsterdam dates with a counting attempt
  std::int32_t min_attempts = kDefaultMinAttempts;  ///< N, the strictest over the categories
};

/// Every transition that exists.
std::span<const TransitionRule> transitionTable() noexcept;

/// The rule for from → to, or nullptr when no such transition exists.
const TransitionRule* findTransition(CaseState from, CaseState to) noexcept;

/// True for states in which a case still needs work (everything but afgesloten/geannuleerd).
bool isOpenState(CaseState s) noexcept;

/// Checks one transition on what the move itself says (nothing about the case), in this order:
/// kTransitionNotAllowed when it does not exist, the role may not make it, or it needs a
/// connection and `offline` is true; kReasonRequired when the reason is missing (blank); then
/// the resolution code: a Guard::kResolution move needs a by-hand code (checkResolutionCode():
/// kRequiredFieldMissing / kInvalidArgument), a Guard::kNoContact move exactly
/// `geen_contact_mogelijk` (kRequiredFieldMissing when empty, kTransitionNotAllowed for another
/// code), any other move none (kInvalidArgument: no code is silently dropped). Ok otherwise.
/// A move is legal when this and checkGuard() both pass.
Status checkTransition(CaseState from, CaseState to, Role role, std::string_view reason,
                       bool offline, std::string_view resolution_code = {});

/// True for a close as merged: a move to afgesloten with resolution code `samengevoegd`. Such
/// a move is not in the table (checkTransition() refuses the code as not chosen by hand): it
/// exists from every open state, and only for a case merged into another, which
/// permissions::decideTransition() judges on the stored case (checkMergeClose()).
bool isMergeClose(CaseState to, std::string_view resolution_code) noexcept;

/// Checks a close as merged on what the move itself says: kTransitionNotAllowed unless `from`
/// is an open state, the role is coordinator and the move is made online; kReasonRequired for
/// a blank reason. Ok otherwise (the merge itself is the judge's fact, not the move's).
Status checkMergeClose(CaseState from, Role role, std::string_view reason, bool offline);

/// Checks the rule's guard on the case's facts: for a Guard::kNoContact move,
/// kFailedPrecondition (field "to") unless facts.attempt_days >= facts.min_attempts. Ok for
/// every other move (also one that does not exist: checkTransition() refuses those).
Status checkGuard(CaseState from, CaseState to, const GuardFacts& facts);

}  // namespace eropaf
