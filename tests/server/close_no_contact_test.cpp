// Proves, with the real engine and real device stores, the edge contact_zoeken → afgesloten
// with resolution geen_contact_mogelijk: the server judges the attempts on the contact moments
// IT has stored for the case (a coach whose device holds three days but whose third moment has
// not reached the server is refused), a coach's move is a proposal that lands on the
// coordinator's conflict list without moving the case, and the coordinator's move closes the
// case with the resolution code the transition carried.
#include <catch2/catch.hpp>

#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::EngineFixture;
using eropaf::test::kDay;
using eropaf::test::readOk;

namespace {

Status answer(const v1::ChangeResult& res) {
  if (res.accepted()) return {};
  return Status(static_cast<ErrorCode>(res.error().code()), res.error().message(),
                res.error().field());
}

/// The push's answer for the change that carried a transition.
Status transitionAnswer(const v1::PushRequest& req, const v1::PushResponse& resp) {
  for (int i = 0; i < req.changes_size(); ++i) {
    if (req.changes(i).record().has_transition()) return answer(resp.results(i));
  }
  FAIL("no transition in the push");
  return {};
}

}  // namespace

TEST_CASE("engine norms: geen contact mogelijk is judged on the server's stored moments",
          "[server][engine][norms]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto c = co->db().openCase(aCase("Niemand doet open", {"schulden"}));
  REQUIRE(c.ok());
  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  s.push(*co);
  s.pull(*anna);
  REQUIRE(anna->db().moveCase({c->id, CaseState::kContactZoeken, "", false}).ok());

  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(anna->db().addContactMoment(m).ok());
  s.clock->advance(kDay);
  m.outcome = ContactOutcome::kDeurNietGeopend;
  REQUIRE(anna->db().addContactMoment(m).ok());
  s.push(*anna);  // two days of attempts on the server
  s.clock->advance(kDay);
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(anna->db().addContactMoment(m).ok());  // the third day, only on her phone so far

  const store::MoveCase propose{c->id, CaseState::kAfgesloten, "drie keer niet thuis", true,
                                "geen_contact_mogelijk"};
  REQUIRE(anna->db().moveCase(propose).ok());  // her device counts three days

  SECTION("the transition ahead of its moment: the server counts what it has") {
    v1::PushRequest all = EngineFixture::outboxRequest(*anna);
    v1::PushRequest only_move;
    only_move.set_device_id(all.device_id());
    for (const auto& change : all.changes()) {
      if (change.record().has_transition()) *only_move.add_changes() = change;
    }
    REQUIRE(only_move.changes_size() == 1);
    const v1::PushResponse resp = s.pushRaw(anna->principal, only_move);
    const Status st = transitionAnswer(only_move, resp);
    CHECK(st.code() == ErrorCode::kFailedPrecondition);
    CHECK_THAT(st.message(), Catch::Contains("3 different days; this case has 2"));
    s.pull(*co);
    CHECK(readOk(co->db().conflictCases()).empty());
  }

  SECTION("the coach proposes, the coordinator confirms") {
    const v1::PushRequest req = EngineFixture::outboxRequest(*anna);
    const v1::PushResponse resp = s.push(*anna);
    for (int i = 0; i < resp.results_size(); ++i) CHECK(answer(resp.results(i)).ok());
    CHECK(transitionAnswer(req, resp).ok());

    // On the coordinator's list, the case not moved, no resolution yet.
    s.pull(*co);
    const auto conflicts = readOk(co->db().conflictCases());
    REQUIRE(conflicts.size() == 1);
    CHECK(conflicts[0].id == c->id);
    auto seen = readOk(co->db().getCase(c->id));
    REQUIRE(seen);
    CHECK(seen->state.value == CaseState::kContactZoeken);
    CHECK(seen->resolution_code.value.empty());
    const auto moves = readOk(co->db().transitions(c->id));
    bool proposal_seen = false;
    for (const Transition& t : moves) {
      if (t.to != CaseState::kAfgesloten) continue;
      proposal_seen = true;
      CHECK(t.outcome.value == TransitionOutcome::kConflict);
      CHECK(t.resolution_code == "geen_contact_mogelijk");
      CHECK(t.actor_id == "wc-anna");
    }
    CHECK(proposal_seen);

    // She confirms by making the move herself: the server closes with the code.
    auto no_code = co->db().moveCase({c->id, CaseState::kAfgesloten, "bevestigd", true});
    CHECK(no_code.status().code() == ErrorCode::kRequiredFieldMissing);
    REQUIRE(co->db()
                .moveCase({c->id, CaseState::kAfgesloten, "bevestigd: drie keer niet thuis", true,
                           "geen_contact_mogelijk"})
                .ok());
    const v1::PushRequest close_req = EngineFixture::outboxRequest(*co);
    const v1::PushResponse closed = s.push(*co);
    CHECK(transitionAnswer(close_req, closed).ok());
    REQUIRE(co->db().resolveConflict(c->id, std::nullopt, "voorstel bevestigd").ok());
    s.push(*co);
    s.pull(*co);
    auto after = readOk(co->db().getCase(c->id));
    REQUIRE(after);
    CHECK(after->state.value == CaseState::kAfgesloten);
    CHECK(after->resolution_code.value == "geen_contact_mogelijk");
    CHECK_FALSE(after->conflict.value);
    // The coach's device never wrote a code: what she sees is the server's.
    s.pull(*anna);
    auto hers = readOk(anna->db().getCase(c->id));
    REQUIRE(hers);
    CHECK(hers->state.value == CaseState::kAfgesloten);
    CHECK(hers->resolution_code.value == "geen_contact_mogelijk");
  }
}

TEST_CASE("engine norms: geen contact mogelijk counts the moments of cases merged into it",
          "[server][engine][norms]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto into = co->db().openCase(aCase("Doel", {"schulden"}));
  auto from = co->db().openCase(aCase("Bron", {"schulden"}));
  REQUIRE((into.ok() && from.ok()));
  REQUIRE(co->db().assignCase(into->id, "co-jan").ok());
  REQUIRE(co->db().assignCase(from->id, "co-jan").ok());
  REQUIRE(co->db().moveCase({into->id, CaseState::kContactZoeken, "", true}).ok());
  store::NewContactMoment m;
  m.outcome = ContactOutcome::kNietThuis;
  m.case_id = into->id;
  REQUIRE(co->db().addContactMoment(m).ok());
  s.clock->advance(kDay);
  REQUIRE(co->db().addContactMoment(m).ok());
  s.clock->advance(kDay);
  m.case_id = from->id;  // the third day's attempt is on the case merged into it
  REQUIRE(co->db().addContactMoment(m).ok());
  REQUIRE(co->db().mergeCase(from->id, into->id, "zelfde huishouden").ok());
  {
    const v1::PushResponse pushed = s.push(*co);
    for (const auto& r : pushed.results()) REQUIRE(answer(r).ok());
  }
  // Three different days over both cases: the coordinator's close applies.
  REQUIRE(co->db()
              .moveCase({into->id, CaseState::kAfgesloten, "drie keer niet thuis", true,
                         "geen_contact_mogelijk"})
              .ok());
  const v1::PushRequest req = EngineFixture::outboxRequest(*co);
  const v1::PushResponse resp = s.pushRaw(co->principal, req);
  const Status st = transitionAnswer(req, resp);
  INFO(st.toString());
  CHECK(st.ok());
}
