// The case state table (DESIGN.md "Records"): the one place that says which transitions exist.
//
// Choices where DESIGN.md is silent, argued:
// - Closing (→ afgesloten), cancelling (→ geannuleerd) and reopening are coordinator work and
//   need a connection: they end or revive a case for everyone, so they are checked online.
// - Work moves of a coach (contact zoeken, in behandeling, wacht, doorverwezen, nazorg) are
//   allowed offline: coaches work in stairwells; the server checks them on push and puts
//   contradicting ones on the conflict list.
// - Waiting, referring and every move that ends or revives a case need a reason text.
#include "eropaf/state_table.hpp"

#include <array>

namespace eropaf {
namespace {

using S = CaseState;

// from, to, wijkcoach, coordinator, reason_required, offline_allowed
constexpr std::array<TransitionRule, 20> kTable{{
    {S::kNieuw, S::kToegewezen, true, true, false, true},
    {S::kHeropend, S::kToegewezen, true, true, false, true},
    {S::kToegewezen, S::kContactZoeken, true, true, false, true},
    {S::kContactZoeken, S::kInBehandeling, true, true, false, true},
    {S::kInBehandeling, S::kWacht, true, true, true, true},
    {S::kWacht, S::kInBehandeling, true, true, false, true},
    {S::kInBehandeling, S::kDoorverwezen, true, true, true, true},
    {S::kInBehandeling, S::kNazorg, true, true, false, true},
    {S::kDoorverwezen, S::kAfgesloten, false, true, true, false},
    {S::kNazorg, S::kAfgesloten, false, true, true, false},
    {S::kNieuw, S::kGeannuleerd, false, true, true, false},
    {S::kToegewezen, S::kGeannuleerd, false, true, true, false},
    {S::kContactZoeken, S::kGeannuleerd, false, true, true, false},
    {S::kInBehandeling, S::kGeannuleerd, false, true, true, false},
    {S::kWacht, S::kGeannuleerd, false, true, true, false},
    {S::kDoorverwezen, S::kGeannuleerd, false, true, true, false},
    {S::kNazorg, S::kGeannuleerd, false, true, true, false},
    {S::kHeropend, S::kGeannuleerd, false, true, true, false},
    {S::kAfgesloten, S::kHeropend, false, true, true, false},
    {S::kGeannuleerd, S::kHeropend, false, true, true, false},
}};

bool isBlank(std::string_view s) {
  for (const char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace

std::span<const TransitionRule> transitionTable() noexcept { return kTable; }

const TransitionRule* findTransition(CaseState from, CaseState to) noexcept {
  for (const TransitionRule& rule : kTable) {
    if (rule.from == from && rule.to == to) return &rule;
  }
  return nullptr;
}

bool isOpenState(CaseState s) noexcept {
  return s != CaseState::kAfgesloten && s != CaseState::kGeannuleerd &&
         s != CaseState::kUnspecified;
}

Status checkTransition(CaseState from, CaseState to, Role role, std::string_view reason,
                       bool offline) {
  const std::string move = std::string(toString(from)) + " → " + std::string(toString(to));
  const TransitionRule* rule = findTransition(from, to);
  if (rule == nullptr) {
    return Status(ErrorCode::kTransitionNotAllowed, "there is no transition " + move, "to");
  }
  const bool role_ok = (role == Role::kWijkcoach && rule->wijkcoach) ||
                       (role == Role::kCoordinator && rule->coordinator);
  if (!role_ok) {
    return Status(ErrorCode::kTransitionNotAllowed,
                  "a " + std::string(toString(role)) + " may not make the transition " + move,
                  "to");
  }
  if (offline && !rule->offline_allowed) {
    return Status(ErrorCode::kTransitionNotAllowed,
                  "the transition " + move + " needs a connection to the server", "to");
  }
  if (rule->reason_required && isBlank(reason)) {
    return Status(ErrorCode::kReasonRequired, "the transition " + move + " needs a reason",
                  "reason");
  }
  return {};
}

}  // namespace eropaf
