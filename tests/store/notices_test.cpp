// What a remote apply tells the worker about their own work (store::ApplyNotice): the sync
// summary's sentences are built from these.
#include <catch2/catch.hpp>

#include "store_fixture.hpp"

namespace eropaf::test {
namespace {

using Kind = store::ApplyNotice::Kind;

/// A case made on a coordinator's device, as the server would send it to a coach.
Case serverCase(StoreFixture& coord) {
  auto c = coord.db->openCase(aCase());
  REQUIRE(c.ok());
  return *c;
}

TEST_CASE("a case newly assigned to me is a notice, once", "[store][notices]") {
  StoreFixture coord;
  coord.become("co.jan", Role::kCoordinator);
  Case c = serverCase(coord);
  StoreFixture coach;
  coach.become("wc.anna", Role::kWijkcoach);

  // Queued (unassigned): nothing to say.
  auto first = coach.db->applyRemote(std::vector<Record>{c});
  REQUIRE(first.ok());
  CHECK(first->notices.empty());

  c.assignee.set("wc.anna", {c.created.hlc + 100, 7});
  auto second = coach.db->applyRemote(std::vector<Record>{c});
  REQUIRE(second.ok());
  REQUIRE(second->notices.size() == 1);
  CHECK(second->notices[0].kind == Kind::kAssignedToMe);
  CHECK(second->notices[0].case_id == c.id);

  // The same state again, or another change to a case already mine: no second notice.
  c.title.set("Nieuwe titel", {c.created.hlc + 200, 7});
  auto third = coach.db->applyRemote(std::vector<Record>{c});
  REQUIRE(third.ok());
  CHECK(third->notices.empty());

  // Assigned to someone else: not mine, no notice.
  Case other = serverCase(coord);
  other.assignee.set("wc.piet", {other.created.hlc + 100, 7});
  auto fourth = coach.db->applyRemote(std::vector<Record>{other});
  REQUIRE(fourth.ok());
  CHECK(fourth->notices.empty());
}

TEST_CASE("my move that became a conflict, and a lost pick-up, are notices", "[store][notices]") {
  StoreFixture coach;
  coach.become("wc.anna", Role::kWijkcoach);
  Transition mine;
  mine.id = "0199a1b2-c3d4-7e5f-8a6b-00000000aa01";
  mine.created = {kStart * 65536, 3};
  mine.case_id = "0199a1b2-c3d4-7e5f-8a6b-00000000cc01";
  mine.from = CaseState::kInBehandeling;
  mine.to = CaseState::kWacht;
  mine.actor_id = "wc.anna";
  mine.actor_role = Role::kWijkcoach;
  mine.at_ms = kStart;
  mine.reason = "wacht op schuldhulp";
  mine.made_offline = true;
  mine.outcome.set(TransitionOutcome::kPending, mine.created);
  auto pending = coach.db->applyRemote(std::vector<Record>{mine});
  REQUIRE(pending.ok());
  CHECK(pending->notices.empty());

  mine.outcome.set(TransitionOutcome::kConflict, {mine.created.hlc + 100, 9});
  auto conflict = coach.db->applyRemote(std::vector<Record>{mine});
  REQUIRE(conflict.ok());
  REQUIRE(conflict->notices.size() == 1);
  CHECK(conflict->notices[0].kind == Kind::kMoveConflict);
  CHECK(conflict->notices[0].from == CaseState::kInBehandeling);
  CHECK(conflict->notices[0].to == CaseState::kWacht);

  Transition pick = mine;
  pick.id = "0199a1b2-c3d4-7e5f-8a6b-00000000aa02";
  pick.from = CaseState::kNieuw;
  pick.to = CaseState::kToegewezen;
  pick.reason.clear();
  auto lost = coach.db->applyRemote(std::vector<Record>{pick});
  REQUIRE(lost.ok());
  REQUIRE(lost->notices.size() == 1);
  CHECK(lost->notices[0].kind == Kind::kPickUpLost);

  // Someone else's conflict is not mine to hear about.
  Transition theirs = mine;
  theirs.id = "0199a1b2-c3d4-7e5f-8a6b-00000000aa03";
  theirs.actor_id = "wc.piet";
  auto other = coach.db->applyRemote(std::vector<Record>{theirs});
  REQUIRE(other.ok());
  CHECK(other->notices.empty());
}

}  // namespace
}  // namespace eropaf::test
