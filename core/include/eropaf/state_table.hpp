// The case state table: which transitions exist, which roles may make them, which need a
// reason text, and which a device may make while offline. Devices and the server both check
// transitions against this one table.
// Thread-safety: immutable data; any thread.
#pragma once

#include <span>
#include <string_view>

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"

namespace eropaf {

struct TransitionRule {
  CaseState from;
  CaseState to;
  bool wijkcoach;        ///< a wijkcoach may make it (on a case assigned to them / picking up)
  bool coordinator;      ///< a coordinator may make it
  bool reason_required;  ///< needs a non-empty reason text
  bool offline_allowed;  ///< a device may make it without a connection
};

/// Every transition that exists.
std::span<const TransitionRule> transitionTable() noexcept;

/// The rule for from → to, or nullptr when no such transition exists.
const TransitionRule* findTransition(CaseState from, CaseState to) noexcept;

/// True for states in which a case still needs work (everything but afgesloten/geannuleerd).
bool isOpenState(CaseState s) noexcept;

/// Checks one transition: kTransitionNotAllowed when it does not exist, the role may not make
/// it, or it needs a connection and `offline` is true; kReasonRequired when the reason is
/// missing (blank). Ok otherwise.
Status checkTransition(CaseState from, CaseState to, Role role, std::string_view reason,
                       bool offline);

}  // namespace eropaf
