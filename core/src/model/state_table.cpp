// The case state table (DESIGN.md "Records"): the one place that says which transitions exist.
//
// Choices where DESIGN.md is silent, argued:
// - Closing (→ afgesloten), cancelling (→ geannuleerd) and reopening are coordinator work and
//   need a connection: they end or revive a case for everyone, so they are checked online.
// - Work moves of a coach (contact zoeken, in behandeling, wacht, doorverwezen, nazorg) are
//   allowed offline: coaches work in stairwells; the server checks them on push and puts
//   contradicting ones on the conflict list.
// - Waiting, referring and every move that ends or revives a case need a reason text.
// - Closing needs a resolution code (resolution.hpp); the reason is its free text.
// - contact_zoeken → afgesloten ("geen contact mogelijk", issue 9): only with that code and
//   attempts on N different days, judged on the case's stored contact moments. The coach
//   proposes, the coordinator confirms: a coach may make the move, but it is a proposal
//   (coach_proposes) that the server keeps for the coordinator and never applies by itself;
//   the coordinator's own move applies. Like every closing it needs a connection.
// - Closing as merged (resolution samengevoegd) is no row of the table: the merge verb closes
//   the source from whatever open state it is in (isMergeClose(), checkMergeClose()), and the
//   permissions module accepts it only for a case the judge has stored as merged.
#include "eropaf/state_table.hpp"

#include <array>
#include <string>

#include "eropaf/resolution.hpp"

namespace eropaf {
namespace {

using S = CaseState;
using G = Guard;

// from, to, wijkcoach, coordinator, reason_required, offline_allowed, guard, coach_proposes
constexpr std::array<TransitionRule, 21> kTable{{
    {S::kNieuw, S::kToegewezen, true, true, false, true, G::kNone, false},
    {S::kHeropend, S::kToegewezen, true, true, false, true, G::kNone, false},
    {S::kToegewezen, S::kContactZoeken, true, true, false, true, G::kNone, false},
    {S::kContactZoeken, S::kInBehandeling, true, true, false, true, G::kNone, false},
    {S::kInBehandeling, S::kWacht, true, true, true, true, G::kNone, false},
    {S::kWacht, S::kInBehandeling, true, true, false, true, G::kNone, false},
    {S::kInBehandeling, S::kDoorverwezen, true, true, true, true, G::kNone, false},
    {S::kInBehandeling, S::kNazorg, true, true, false, true, G::kNone, false},
    {S::kDoorverwezen, S::kAfgesloten, false, true, true, false, G::kResolution, false},
    {S::kNazorg, S::kAfgesloten, false, true, true, false, G::kResolution, false},
    {S::kContactZoeken, S::kAfgesloten, true, true, true, false, G::kNoContact, true},
    {S::kNieuw, S::kGeannuleerd, false, true, true, false, G::kNone, false},
    {S::kToegewezen, S::kGeannuleerd, false, true, true, false, G::kNone, false},
    {S::kContactZoeken, S::kGeannuleerd, false, true, true, false, G::kNone, false},
    {S::kInBehandeling, S::kGeannuleerd, false, true, true, false, G::kNone, false},
    {S::kWacht, S::kGeannuleerd, false, true, true, false, G::kNone, false},
    {S::kDoorverwezen, S::kGeannuleerd, false, true, true, false, G::kNone, false},
    {S::kNazorg, S::kGeannuleerd, false, true, true, false, G::kNone, false},
    {S::kHeropend, S::kGeannuleerd, false, true, true, false, G::kNone, false},
    {S::kAfgesloten, S::kHeropend, false, true, true, false, G::kNone, false},
    {S::kGeannuleerd, S::kHeropend, false, true, true, false, G::kNone, false},
}};

bool isBlank(std::string_view s) {
  for (const char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

std::string moveName(CaseState from, CaseState to) {
  return std::string(toString(from)) + " → " + std::string(toString(to));
}

/// "; from S a wijkcoach may move to: a, b" — the moves `role` may make from `from` (or that
/// it may make none), for a refused move's message.
std::string allowedNext(CaseState from, Role role) {
  std::string out;
  for (const TransitionRule& rule : kTable) {
    const bool may = (role == Role::kWijkcoach && rule.wijkcoach) ||
                     (role == Role::kCoordinator && rule.coordinator);
    if (rule.from != from || !may) continue;
    out += out.empty() ? "" : ", ";
    out += toString(rule.to);
  }
  const std::string who = "a " + std::string(toString(role));
  if (out.empty()) return "; from " + std::string(toString(from)) + " " + who + " makes no move";
  return "; from " + std::string(toString(from)) + " " + who + " may move to: " + out;
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
                       bool offline, std::string_view resolution_code) {
  const std::string move = moveName(from, to);
  const TransitionRule* rule = findTransition(from, to);
  if (rule == nullptr) {
    return Status(ErrorCode::kTransitionNotAllowed,
                  "there is no transition " + move + allowedNext(from, role), "to");
  }
  const bool role_ok = (role == Role::kWijkcoach && rule->wijkcoach) ||
                       (role == Role::kCoordinator && rule->coordinator);
  if (!role_ok) {
    return Status(ErrorCode::kTransitionNotAllowed,
                  "a " + std::string(toString(role)) + " may not make the transition " + move +
                      allowedNext(from, role),
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
  switch (rule->guard) {
    case Guard::kNone:
      if (!resolution_code.empty()) {
        return Status(ErrorCode::kInvalidArgument,
                      "only a move to afgesloten carries a resolution code, not " + move,
                      "resolution_code");
      }
      return {};
    case Guard::kResolution:
      return checkResolutionCode(resolution_code);
    case Guard::kNoContact:
      if (resolution_code.empty()) {
        return Status(ErrorCode::kRequiredFieldMissing,
                      "the transition " + move + " needs resolution code " +
                          std::string(kResolutionGeenContactMogelijk),
                      "resolution_code");
      }
      if (resolution_code != kResolutionGeenContactMogelijk) {
        return Status(ErrorCode::kTransitionNotAllowed,
                      "the transition " + move + " closes only with resolution code " +
                          std::string(kResolutionGeenContactMogelijk) +
                          "; a case in contact can be closed from nazorg or doorverwezen",
                      "resolution_code");
      }
      return {};
  }
  return {};
}

bool isMergeClose(CaseState to, std::string_view resolution_code) noexcept {
  return to == CaseState::kAfgesloten && resolution_code == kResolutionSamengevoegd;
}

Status checkMergeClose(CaseState from, Role role, std::string_view reason, bool offline) {
  const std::string move = moveName(from, CaseState::kAfgesloten);
  if (!isOpenState(from)) {
    return Status(
        ErrorCode::kTransitionNotAllowed,
        "only an open case closes as " + std::string(kResolutionSamengevoegd) + ", not " + move,
        "to");
  }
  if (role != Role::kCoordinator) {
    return Status(ErrorCode::kTransitionNotAllowed,
                  "a " + std::string(toString(role)) + " may not close a case as " +
                      std::string(kResolutionSamengevoegd),
                  "to");
  }
  if (offline) {
    return Status(ErrorCode::kTransitionNotAllowed,
                  "the transition " + move + " needs a connection to the server", "to");
  }
  if (isBlank(reason)) {
    return Status(ErrorCode::kReasonRequired, "the transition " + move + " needs a reason",
                  "reason");
  }
  return {};
}

Status checkGuard(CaseState from, CaseState to, const GuardFacts& facts) {
  const TransitionRule* rule = findTransition(from, to);
  if (rule == nullptr || rule->guard != Guard::kNoContact) return {};
  if (facts.attempt_days >= facts.min_attempts) return {};
  return Status(ErrorCode::kFailedPrecondition,
                "the transition " + moveName(from, to) + " with " +
                    std::string(kResolutionGeenContactMogelijk) + " needs contact attempts on " +
                    std::to_string(facts.min_attempts) + " different days; this case has " +
                    std::to_string(facts.attempt_days),
                "to");
}

}  // namespace eropaf
