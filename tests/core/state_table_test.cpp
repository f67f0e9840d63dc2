// Proves that the case state table (DESIGN.md "Records") is exactly the one the users were
// promised: for every (from, to) pair of the ten case states and every role, checkTransition
// allows precisely the listed transitions to the listed roles, refuses everything else with
// kTransitionNotAllowed, asks for a reason where one is required (blank counts as missing),
// and refuses connection-only transitions offline. The expected table is written out here
// independently of core/src/model/state_table.cpp, so a change to either shows up as a failure.
#include "eropaf/state_table.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <utility>

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
};

// The allowed set from DESIGN.md, with role/reason/offline flags as the project decided them:
// coaches do the day-to-day work moves, offline, in stairwells; ending (afgesloten,
// geannuleerd) and reviving (heropend) a case is coordinator work with a reason and a
// connection; waiting and referring need a reason so the file says why.
constexpr std::array<Expected, 20> kExpected{{
    // from               to                 coach  coord  reason offline
    {S::kNieuw, S::kToegewezen, true, true, false, true},
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
    {S::kHeropend, S::kToegewezen, true, true, false, true},
}};

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
        // Online with a reason: always allowed.
        const eropaf::Status online = eropaf::checkTransition(from, to, role, "reden", false);
        CHECK(online.ok());
        // Offline with a reason: allowed only where the table says so.
        const eropaf::Status offline = eropaf::checkTransition(from, to, role, "reden", true);
        if (e->offline_allowed) {
          CHECK(offline.ok());
        } else {
          CHECK(offline.code() == ErrorCode::kTransitionNotAllowed);
        }
        // Without a reason: refused only where one is required; blank counts as missing.
        for (const char* missing : {"", "  ", "\t", " \n "}) {
          INFO("reason '" << missing << "'");
          const eropaf::Status s = eropaf::checkTransition(from, to, role, missing, false);
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
  // 20 transitions; coaches may make 8 of them, coordinators all 20.
  CHECK(allowed_checked == 28);
  CHECK(refused_checked == 400 - 28);
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
