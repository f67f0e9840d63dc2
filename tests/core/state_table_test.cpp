// Proves that the case state table (DESIGN.md "Records") is exactly the one the users were
// promised: for every (from, to) pair of the ten case states and every role, checkTransition
// allows precisely the listed transitions to the listed roles, refuses everything else with
// kTransitionNotAllowed, asks for a reason where one is required (blank counts as missing),
// and refuses connection-only transitions offline; that closing needs a resolution code from
// the one list and closing for lack of contact also attempts on N days. The expected table is
// written out here independently of core/src/model/state_table.cpp, so a change to either
// shows up as a failure.
#include "eropaf/state_table.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <utility>

#include "eropaf/resolution.hpp"
#include "eropaf/validate.hpp"

namespace {

using eropaf::CaseState;
using eropaf::ErrorCode;
using eropaf::Role;
using S = CaseState;

struct Expected {
  CaseState from;
  CaseState to;
  bool wijkcoach;
  bool coordinator;
  bool reason_required;
  bool offline_allowed;
  eropaf::Guard guard;
  bool coach_proposes;
};

using G = eropaf::Guard;

// The allowed set from DESIGN.md, with role/reason/offline flags as the project decided them:
// coaches do the day-to-day work moves, offline, in stairwells; ending (afgesloten,
// geannuleerd) and reviving (heropend) a case is coordinator work with a reason and a
// connection; waiting and referring need a reason so the file says why. Closing needs a
// resolution code; closing for lack of contact (issue 9) a coach may only propose.
constexpr std::array<Expected, 21> kExpected{{
    // from               to                 coach  coord  reason offline guard proposes
    {S::kNieuw, S::kToegewezen, true, true, false, true, G::kNone, false},
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
    {S::kHeropend, S::kToegewezen, true, true, false, true, G::kNone, false},
}};

/// The resolution code that makes a move's own inputs right.
const char* goodCode(const Expected& e) {
  switch (e.guard) {
    case G::kResolution:
      return "opgelost";
    case G::kNoContact:
      return "geen_contact_mogelijk";
    case G::kNone:
      break;
  }
  return "";
}

const Expected* expectedRule(CaseState from, CaseState to) {
  for (const Expected& e : kExpected) {
    if (e.from == from && e.to == to) return &e;
  }
  return nullptr;
}

bool roleMay(const Expected& e, Role role) {
  switch (role) {
    case Role::kWijkcoach:
      return e.wijkcoach;
    case Role::kCoordinator:
      return e.coordinator;
    default:
      return false;  // zorgmedewerker, admin and unspecified make no transitions
  }
}

constexpr std::array<Role, 4> kRoles{Role::kZorgmedewerker, Role::kWijkcoach, Role::kCoordinator,
                                     Role::kAdmin};

CaseState state(int n) { return static_cast<CaseState>(n); }

}  // namespace

TEST_CASE("checkTransition answers what the table says for every state pair and role",
          "[unit][state]") {
  int allowed_checked = 0;
  int refused_checked = 0;
  for (int f = 1; f <= 10; ++f) {
    for (int t = 1; t <= 10; ++t) {
      for (const Role role : kRoles) {
        const CaseState from = state(f);
        const CaseState to = state(t);
        INFO(eropaf::toString(from)
             << " -> " << eropaf::toString(to) << " as " << eropaf::toString(role));
        const Expected* e = expectedRule(from, to);
        if (e == nullptr || !roleMay(*e, role)) {
          // Refused whatever the reason text and connection.
          for (const bool offline : {false, true}) {
            const eropaf::Status s =
                eropaf::checkTransition(from, to, role, "a good reason", offline);
            CHECK(s.code() == ErrorCode::kTransitionNotAllowed);
            CHECK_FALSE(s.message().empty());
          }
          CHECK(eropaf::checkTransition(from, to, role, "", false).code() ==
                ErrorCode::kTransitionNotAllowed);
          ++refused_checked;
          continue;
        }
        ++allowed_checked;
        const char* code = goodCode(*e);
        // Online with a reason (and the code it needs): always allowed.
        const eropaf::Status online = eropaf::checkTransition(from, to, role, "reden", false, code);
        CHECK(online.ok());
        // Offline with a reason: allowed only where the table says so.
        const eropaf::Status offline = eropaf::checkTransition(from, to, role, "reden", true, code);
        if (e->offline_allowed) {
          CHECK(offline.ok());
        } else {
          CHECK(offline.code() == ErrorCode::kTransitionNotAllowed);
        }
        // Without a reason: refused only where one is required; blank counts as missing.
        for (const char* missing : {"", "  ", "\t", " \n "}) {
          INFO("reason '" << missing << "'");
          const eropaf::Status s = eropaf::checkTransition(from, to, role, missing, false, code);
          if (e->reason_required) {
            CHECK(s.code() == ErrorCode::kReasonRequired);
            CHECK(s.field() == "reason");
          } else {
            CHECK(s.ok());
          }
        }
      }
    }
  }
  // 21 transitions; coaches may make 9 of them, coordinators all 21.
  CHECK(allowed_checked == 30);
  CHECK(refused_checked == 400 - 30);
}

TEST_CASE("transitionTable and findTransition hold exactly the expected rules", "[unit][state]") {
  const auto table = eropaf::transitionTable();
  CHECK(table.size() == kExpected.size());
  std::set<std::pair<int, int>> seen;
  for (const eropaf::TransitionRule& rule : table) {
    INFO(eropaf::toString(rule.from) << " -> " << eropaf::toString(rule.to));
    CHECK(seen.emplace(static_cast<int>(rule.from), static_cast<int>(rule.to)).second);
    const Expected* e = expectedRule(rule.from, rule.to);
    REQUIRE(e != nullptr);
    CHECK(rule.wijkcoach == e->wijkcoach);
    CHECK(rule.coordinator == e->coordinator);
    CHECK(rule.reason_required == e->reason_required);
    CHECK(rule.offline_allowed == e->offline_allowed);
    CHECK(rule.guard == e->guard);
    CHECK(rule.coach_proposes == e->coach_proposes);
  }
  for (int f = 0; f <= 10; ++f) {
    for (int t = 0; t <= 10; ++t) {
      const eropaf::TransitionRule* rule = eropaf::findTransition(state(f), state(t));
      const Expected* e = expectedRule(state(f), state(t));
      INFO(f << " -> " << t);
      CHECK((rule == nullptr) == (e == nullptr));
      if (rule != nullptr) {
        CHECK(rule->from == state(f));
        CHECK(rule->to == state(t));
      }
    }
  }
}

TEST_CASE("zorgmedewerker and admin can make no transition", "[unit][state]") {
  for (const Role role : {Role::kZorgmedewerker, Role::kAdmin, Role::kUnspecified}) {
    for (const Expected& e : kExpected) {
      INFO(eropaf::toString(role) << ": " << eropaf::toString(e.from) << " -> "
                                  << eropaf::toString(e.to));
      CHECK(eropaf::checkTransition(e.from, e.to, role, "reden", false).code() ==
            ErrorCode::kTransitionNotAllowed);
    }
  }
}

TEST_CASE("states and roles outside the enums are refused, not trusted", "[unit][state]") {
  CHECK(eropaf::checkTransition(S::kUnspecified, S::kToegewezen, Role::kCoordinator, "r", false)
            .code() == ErrorCode::kTransitionNotAllowed);
  CHECK(
      eropaf::checkTransition(S::kNieuw, S::kUnspecified, Role::kCoordinator, "r", false).code() ==
      ErrorCode::kTransitionNotAllowed);
  CHECK(eropaf::checkTransition(state(11), S::kHeropend, Role::kCoordinator, "r", false).code() ==
        ErrorCode::kTransitionNotAllowed);
  CHECK(eropaf::checkTransition(S::kNieuw, S::kToegewezen, static_cast<Role>(99), "r", false)
            .code() == ErrorCode::kTransitionNotAllowed);
  // A state never moves to itself.
  for (int s = 1; s <= 10; ++s) {
    INFO(eropaf::toString(state(s)));
    CHECK(eropaf::checkTransition(state(s), state(s), Role::kCoordinator, "r", false).code() ==
          ErrorCode::kTransitionNotAllowed);
  }
}

TEST_CASE("a refused role is not told to add a reason", "[unit][state]") {
  // A coach closing a case without a reason must hear "not allowed", not "add a reason":
  // adding one would not help.
  CHECK(eropaf::checkTransition(S::kNazorg, S::kAfgesloten, Role::kWijkcoach, "", false).code() ==
        ErrorCode::kTransitionNotAllowed);
}

TEST_CASE("isOpenState: everything but afgesloten and geannuleerd needs work", "[unit][state]") {
  for (int s = 1; s <= 10; ++s) {
    const CaseState cs = state(s);
    INFO(eropaf::toString(cs));
    const bool closed = cs == S::kAfgesloten || cs == S::kGeannuleerd;
    CHECK(eropaf::isOpenState(cs) == !closed);
  }
  CHECK_FALSE(eropaf::isOpenState(S::kUnspecified));
  // Every open state can be cancelled, and only open states.
  for (int s = 1; s <= 10; ++s) {
    const CaseState cs = state(s);
    INFO(eropaf::toString(cs));
    CHECK((eropaf::findTransition(cs, S::kGeannuleerd) != nullptr) == eropaf::isOpenState(cs));
  }
}

TEST_CASE("state table: the resolution code list and its validation", "[unit][state]") {
  // The list the issue names, plus samengevoegd for merging; nothing else.
  const std::set<std::string> want{
      "opgelost",       "overgedragen", "hulp_geweigerd", "geen_contact_mogelijk",
      "geen_hulpvraag", "verhuisd",     "overleden",      "samengevoegd"};
  std::set<std::string> got;
  for (const eropaf::ResolutionCode& c : eropaf::resolutionCodes()) {
    INFO(c.code);
    CHECK(got.emplace(c.code).second);
    CHECK_FALSE(c.label.empty());
    CHECK(eropaf::isResolutionCode(c.code));
    REQUIRE(eropaf::findResolutionCode(c.code) == &c);
    // Every code but samengevoegd may be chosen by hand.
    CHECK(c.by_hand == (c.code != "samengevoegd"));
    CHECK(eropaf::checkResolutionCode(c.code).ok() == c.by_hand);
  }
  CHECK(got == want);
  const eropaf::Status empty = eropaf::checkResolutionCode("");
  CHECK(empty.code() == ErrorCode::kRequiredFieldMissing);
  CHECK(empty.field() == "resolution_code");
  for (const char* bad : {"Opgelost", "opgelost ", "weg", "samen gevoegd", "\xff"}) {
    INFO(bad);
    CHECK_FALSE(eropaf::isResolutionCode(bad));
    const eropaf::Status st = eropaf::checkResolutionCode(bad);
    CHECK(st.code() == ErrorCode::kInvalidArgument);
    CHECK(st.field() == "resolution_code");
    CHECK(st.message().find("opgelost") != std::string::npos);  // names the valid ones
  }
  const eropaf::Status merged = eropaf::checkResolutionCode("samengevoegd");
  CHECK(merged.code() == ErrorCode::kInvalidArgument);
  CHECK(merged.message().find("merging") != std::string::npos);
}

TEST_CASE("state table: closing needs a resolution code, other moves carry none", "[unit][state]") {
  const Role co = Role::kCoordinator;
  // Closing from nazorg / doorverwezen: any code a worker may choose.
  for (const CaseState from : {S::kNazorg, S::kDoorverwezen}) {
    INFO(eropaf::toString(from));
    const eropaf::Status none = eropaf::checkTransition(from, S::kAfgesloten, co, "klaar", false);
    CHECK(none.code() == ErrorCode::kRequiredFieldMissing);
    CHECK(none.field() == "resolution_code");
    CHECK(eropaf::checkTransition(from, S::kAfgesloten, co, "klaar", false, "verhuisd").ok());
    CHECK(eropaf::checkTransition(from, S::kAfgesloten, co, "klaar", false, "geen_contact_mogelijk")
              .ok());
    CHECK(eropaf::checkTransition(from, S::kAfgesloten, co, "klaar", false, "weg").code() ==
          ErrorCode::kInvalidArgument);
    CHECK(
        eropaf::checkTransition(from, S::kAfgesloten, co, "klaar", false, "samengevoegd").code() ==
        ErrorCode::kInvalidArgument);
  }
  // contact_zoeken → afgesloten: only geen_contact_mogelijk, for coach and coordinator.
  for (const Role role : {Role::kWijkcoach, Role::kCoordinator}) {
    INFO(eropaf::toString(role));
    const eropaf::Status none =
        eropaf::checkTransition(S::kContactZoeken, S::kAfgesloten, role, "3x niet thuis", false);
    CHECK(none.code() == ErrorCode::kRequiredFieldMissing);
    CHECK(none.field() == "resolution_code");
    for (const char* other : {"opgelost", "verhuisd", "hulp_geweigerd", "samengevoegd"}) {
      INFO(other);
      const eropaf::Status wrong = eropaf::checkTransition(S::kContactZoeken, S::kAfgesloten, role,
                                                           "3x niet thuis", false, other);
      CHECK(wrong.code() == ErrorCode::kTransitionNotAllowed);
      CHECK(wrong.field() == "resolution_code");
    }
    CHECK(eropaf::checkTransition(S::kContactZoeken, S::kAfgesloten, role, "3x niet thuis", false,
                                  "geen_contact_mogelijk")
              .ok());
    // Like every closing: a reason, and a connection.
    CHECK(eropaf::checkTransition(S::kContactZoeken, S::kAfgesloten, role, " ", false,
                                  "geen_contact_mogelijk")
              .code() == ErrorCode::kReasonRequired);
    CHECK(eropaf::checkTransition(S::kContactZoeken, S::kAfgesloten, role, "reden", true,
                                  "geen_contact_mogelijk")
              .code() == ErrorCode::kTransitionNotAllowed);
  }
  // A code on any move that does not close is refused, never silently dropped.
  for (const Expected& e : kExpected) {
    if (e.guard != G::kNone) continue;
    INFO(eropaf::toString(e.from) << " -> " << eropaf::toString(e.to));
    const eropaf::Status st =
        eropaf::checkTransition(e.from, e.to, Role::kCoordinator, "reden", false, "opgelost");
    CHECK(st.code() == ErrorCode::kInvalidArgument);
    CHECK(st.field() == "resolution_code");
  }
  // A role that may not make the move hears that, not "add a code".
  CHECK(eropaf::checkTransition(S::kNazorg, S::kAfgesloten, Role::kWijkcoach, "r", false).code() ==
        ErrorCode::kTransitionNotAllowed);
}

TEST_CASE("state table: the geen contact mogelijk guard counts attempt days against N",
          "[unit][state]") {
  using eropaf::GuardFacts;
  CHECK(eropaf::checkGuard(S::kContactZoeken, S::kAfgesloten, GuardFacts{3, 3}).ok());
  CHECK(eropaf::checkGuard(S::kContactZoeken, S::kAfgesloten, GuardFacts{7, 5}).ok());
  const eropaf::Status few =
      eropaf::checkGuard(S::kContactZoeken, S::kAfgesloten, GuardFacts{2, 3});
  CHECK(few.code() == ErrorCode::kFailedPrecondition);
  CHECK(few.message().find("3 different days") != std::string::npos);
  CHECK(few.message().find("has 2") != std::string::npos);
  CHECK_FALSE(eropaf::checkGuard(S::kContactZoeken, S::kAfgesloten, GuardFacts{4, 5}).ok());
  CHECK_FALSE(eropaf::checkGuard(S::kContactZoeken, S::kAfgesloten, GuardFacts{}).ok());
  // Every other move (and moves that do not exist) has no guard.
  for (int f = 0; f <= 10; ++f) {
    for (int t = 0; t <= 10; ++t) {
      if (state(f) == S::kContactZoeken && state(t) == S::kAfgesloten) continue;
      CHECK(eropaf::checkGuard(state(f), state(t), GuardFacts{0, 20}).ok());
    }
  }
}

TEST_CASE("state table: stored records carry only listed resolution codes", "[unit][state]") {
  eropaf::Transition t;
  t.id = "0199a1b2-c3d4-7e5f-8a6b-000000000020";
  t.created = {1, 1};
  t.case_id = "0199a1b2-c3d4-7e5f-8a6b-000000000001";
  t.from = S::kContactZoeken;
  t.to = S::kAfgesloten;
  t.actor_id = "co.jansen";
  t.actor_role = Role::kCoordinator;
  t.at_ms = 1;
  t.reason = "drie keer niet thuis";
  t.resolution_code = "geen_contact_mogelijk";
  CHECK(eropaf::validateRecord(t).ok());
  t.resolution_code = "weg";
  CHECK(eropaf::validateRecord(t).field() == "resolution_code");
  eropaf::Case c;
  c.id = t.case_id;
  c.resolution_code.set("samengevoegd", {2, 2});  // set by merging: a stored case may carry it
  CHECK(eropaf::validateRecord(c).ok());
  c.resolution_code.set("klaar", {3, 3});
  const eropaf::Status st = eropaf::validateRecord(c);
  CHECK(st.code() == ErrorCode::kInvalidArgument);
  CHECK(st.field() == "resolution_code");
}

TEST_CASE("state table: a refused move names the moves the role may make from there",
          "[unit][state]") {
  // No such edge: a coach in in_behandeling hears where she may go.
  const eropaf::Status none = eropaf::checkTransition(CaseState::kInBehandeling, CaseState::kNieuw,
                                                      Role::kWijkcoach, "reden", false);
  CHECK(none.code() == ErrorCode::kTransitionNotAllowed);
  std::string expected;
  for (const eropaf::TransitionRule& r : eropaf::transitionTable()) {
    if (r.from == CaseState::kInBehandeling && r.wijkcoach) {
      expected += (expected.empty() ? "" : ", ") + std::string(eropaf::toString(r.to));
    }
  }
  REQUIRE_FALSE(expected.empty());
  CHECK(none.message() ==
        "there is no transition in_behandeling → nieuw; from in_behandeling a "
        "wijkcoach may move to: " +
            expected);
  // An edge of the coordinator's only: the coach is told hers.
  const eropaf::Status role = eropaf::checkTransition(CaseState::kNieuw, CaseState::kGeannuleerd,
                                                      Role::kWijkcoach, "reden", false);
  CHECK(role.code() == ErrorCode::kTransitionNotAllowed);
  CHECK_THAT(role.message(), Catch::Matchers::Contains("; from nieuw a wijkcoach may move to: "));
  // A role with no move at all says so.
  CHECK_THAT(eropaf::checkTransition(CaseState::kNieuw, CaseState::kToegewezen,
                                     Role::kZorgmedewerker, "", false)
                 .message(),
             Catch::Matchers::EndsWith("from nieuw a zorgmedewerker makes no move"));
}
