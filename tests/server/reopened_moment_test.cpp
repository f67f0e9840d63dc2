// Nothing a worker wrote is lost, also when a case comes back to her queue: a coach picks a
// case up offline, a coordinator cancels it meanwhile (her pick-up arrives as a conflict), then
// reopens it (unassigned, in the coach's queue again), and only then does the coach's contact
// moment reach the server. Found by the convergence simulator (tests/sim/, seeds 2000428,
// 6000610, 8000328, 8000613): the moment was refused because the coach's hold was "queued",
// which skipped the check for a former holder's offline work; it is now kept.
#include <algorithm>
#include <catch2/catch.hpp>

#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::readOk;

TEST_CASE("engine: a coach's offline moment on a case reopened into her queue is kept",
          "[server][engine][conflict]") {
  test::EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);

  auto c = co->db().openCase(aCase("Post stapelt op", {"vereenzaming"}, "1234AB", "7"));
  REQUIRE(c.ok());
  s.sync(*co);
  s.pull(*anna);

  REQUIRE(anna->db().pickUpCase(c->id).ok());  // offline
  REQUIRE(co->db().moveCase({c->id, CaseState::kGeannuleerd, "dubbel gemeld", true}).ok());
  s.sync(*co);
  s.push(*anna);  // her pick-up: a conflict on a cancelled case

  s.pull(*co);
  REQUIRE(co->db().moveCase({c->id, CaseState::kHeropend, "toch nodig", true}).ok());
  s.sync(*co);

  // Still offline as far as she knows: she was at the door.
  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kNietThuis;
  m.note = "Niet thuis, briefje achtergelaten";
  auto moment = anna->db().addContactMoment(m);
  REQUIRE(moment.ok());
  const v1::PushResponse resp = s.push(*anna);
  REQUIRE(resp.results_size() == 1);
  INFO(resp.results(0).error().message());
  CHECK(resp.results(0).accepted());

  s.pull(*co);
  const auto moments = readOk(co->db().contactMoments(c->id));
  CHECK(std::any_of(moments.begin(), moments.end(),
                    [&](const ContactMoment& x) { return x.id == moment->id; }));
}
