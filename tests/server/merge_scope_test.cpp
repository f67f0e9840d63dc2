// A merged case follows its target's holders (docs/triage.md "Triage verbs"): the source of a
// merge is closed with merged_into set, and whoever holds the target whole holds the source
// and its contact moments too. When the target is reassigned, the source goes along: the new
// coach gets it with every contact moment, the former coach gets an eviction. Found by the
// convergence simulator (tests/sim/): before, the source stayed with the coach who held the
// target at the time of the merge, and the new coach's case lacked the source's moments.
#include <algorithm>
#include <catch2/catch.hpp>

#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::readOk;

namespace {

bool holdsMoment(test::Device& d, const std::string& case_id, const std::string& moment_id) {
  const auto moments = readOk(d.db().caseMoments(case_id));
  return std::any_of(moments.begin(), moments.end(),
                     [&](const ContactMoment& m) { return m.id == moment_id; });
}

bool evicted(const std::vector<v1::PullResponse>& pages, const std::string& id) {
  for (const auto& p : pages) {
    for (const auto& e : p.evictions()) {
      if (e.record_id() == id) return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("engine merge: the merged source follows its target when the target is reassigned",
          "[server][engine][triage][merge]") {
  test::EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto bas = s.device("wc-bas", Role::kWijkcoach);

  auto src = co->db().openCase(aCase("Bron", {"schulden"}, "1234AB", "1"));
  auto dst = co->db().openCase(aCase("Doel", {"overlast"}, "1234AB", "2"));
  REQUIRE((src.ok() && dst.ok()));
  REQUIRE(co->db().assignCase(src->id, "wc-anna").ok());
  REQUIRE(co->db().assignCase(dst->id, "wc-anna").ok());
  s.sync(*co);
  s.pull(*anna);
  s.pull(*bas);

  store::NewContactMoment m;
  m.case_id = src->id;
  m.outcome = ContactOutcome::kNietThuis;
  m.note = "Niemand thuis, briefje achtergelaten";
  auto moment = anna->db().addContactMoment(m);
  REQUIRE(moment.ok());
  s.sync(*anna);

  s.pull(*co);
  REQUIRE(co->db().mergeCase(src->id, dst->id, "zelfde huishouden").ok());
  s.sync(*co);
  s.pull(*anna);
  REQUIRE(holdsMoment(*anna, dst->id, moment->id));

  // The target goes to another coach: the source and its moment go with it.
  REQUIRE(co->db().assignCase(dst->id, "wc-bas", "anna met verlof").ok());
  s.sync(*co);

  s.pull(*bas);
  const auto source = readOk(bas->db().getCase(src->id));
  REQUIRE(source);
  CHECK(source->merged_into.value == dst->id);
  CHECK(source->state.value == CaseState::kAfgesloten);
  CHECK(source->assignee.value == "wc-bas");
  CHECK(holdsMoment(*bas, dst->id, moment->id));

  const auto pages = s.pull(*anna);
  CHECK(evicted(pages, dst->id));
  CHECK(evicted(pages, src->id));
  CHECK_FALSE(readOk(anna->db().getCase(src->id)));
  CHECK_FALSE(readOk(anna->db().getCase(dst->id)));

  // The coordinator's device learns the source's new holder too (the server's version).
  s.pull(*co);
  const auto at_co = readOk(co->db().getCase(src->id));
  REQUIRE(at_co);
  CHECK(at_co->assignee.value == "wc-bas");
}

TEST_CASE(
    "engine merge: a merge that reaches the server after a reassignment follows the "
    "target's current coach",
    "[server][engine][triage][merge]") {
  test::EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto co2 = s.device("co-els", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto bas = s.device("wc-bas", Role::kWijkcoach);

  auto src = co->db().openCase(aCase("Bron", {"schulden"}, "1234AB", "1"));
  auto dst = co->db().openCase(aCase("Doel", {"overlast"}, "1234AB", "2"));
  REQUIRE((src.ok() && dst.ok()));
  REQUIRE(co->db().assignCase(src->id, "wc-anna").ok());
  REQUIRE(co->db().assignCase(dst->id, "wc-anna").ok());
  s.sync(*co);
  s.pull(*co2);
  s.pull(*anna);

  store::NewContactMoment m;
  m.case_id = src->id;
  m.outcome = ContactOutcome::kGesprek;
  m.note = "Gesprek aan de deur";
  auto moment = anna->db().addContactMoment(m);
  REQUIRE(moment.ok());
  s.sync(*anna);
  s.pull(*co);

  // Offline, co-jan merges (the source goes to anna, the target's coach as far as he knows);
  // meanwhile co-els reassigns the target to bas, and her change reaches the server first.
  REQUIRE(co->db().mergeCase(src->id, dst->id, "zelfde huishouden").ok());
  REQUIRE(co2->db().assignCase(dst->id, "wc-bas", "wijkverdeling").ok());
  s.sync(*co2);
  s.sync(*co);

  s.pull(*bas);
  const auto source = readOk(bas->db().getCase(src->id));
  REQUIRE(source);
  CHECK(source->merged_into.value == dst->id);
  CHECK(source->assignee.value == "wc-bas");
  CHECK(holdsMoment(*bas, dst->id, moment->id));

  s.pull(*anna);
  CHECK_FALSE(readOk(anna->db().getCase(src->id)));
}

TEST_CASE("engine merge: a merged case a coordinator reopens is a case of its own again",
          "[server][engine][triage][merge]") {
  test::EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto bas = s.device("wc-bas", Role::kWijkcoach);

  auto src = co->db().openCase(aCase("Bron", {"schulden"}, "1234AB", "1"));
  auto dst = co->db().openCase(aCase("Doel", {"overlast"}, "1234AB", "2"));
  REQUIRE((src.ok() && dst.ok()));
  REQUIRE(co->db().mergeCase(src->id, dst->id, "zelfde huishouden").ok());
  s.sync(*co);

  // Merged by mistake: reopened, and given to a coach of its own while the target waits.
  REQUIRE(co->db().moveCase({src->id, CaseState::kHeropend, "toch twee huishoudens", true}).ok());
  s.sync(*co);
  REQUIRE(co->db().assignCase(src->id, "wc-bas").ok());
  s.sync(*co);

  s.pull(*bas);
  const auto reopened = readOk(bas->db().getCase(src->id));
  REQUIRE(reopened);
  CHECK(reopened->assignee.value == "wc-bas");
  CHECK(reopened->state.value == CaseState::kToegewezen);
  const auto target = readOk(bas->db().getCase(dst->id));  // in her queue, redacted
  CHECK((!target || target->assignee.value.empty()));
}
