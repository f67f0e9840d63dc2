// The server's norms and the coordinator's queries: Engine::overview over the case_norms rows
// the engine keeps on every write (norms::deriveNorms over the server's facts), in the device's
// order and with its filters, agreeing with the device's own norms; overdue after the clock
// moves; refused for anyone but a coordinator of the wijken asked; merged moments count for
// the target; household hints within the coordinator's wijken.
#include <catch2/catch.hpp>

#include "eropaf/permissions.hpp"
#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::aSignal;
using eropaf::test::Device;
using eropaf::test::EngineFixture;
using eropaf::test::readOk;

namespace {

constexpr std::int64_t kDay = 86'400'000;

std::vector<std::string> idsOf(const store::Overview& o) {
  std::vector<std::string> out;
  for (const auto& r : o.rows) out.push_back(r.kase.id);
  return out;
}

store::OverviewQuery at(std::int64_t now) {
  store::OverviewQuery q;
  q.now_ms = now;
  return q;
}

}  // namespace

TEST_CASE("engine overview: every open case of the coordinator's wijken, overdue first",
          "[server][engine][norms]") {
  EngineFixture s;
  REQUIRE(s.engine->addWijk({"WK015303", "Wijk drie"}).ok());
  auto co = s.device("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});
  auto els = s.device("co-els", Role::kCoordinator, {"WK015303"});
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  s.pull(*co);
  s.pull(*els);

  auto a = co->db().openCase(aCase("Uitzetting", {"dreigende_huisuitzetting"}));  // acuut
  auto b = co->db().openCase(aCase("Alleen", {"vereenzaming"}));                  // normaal
  auto c = co->db().openCase(aCase("Iets", {"overig"}));                          // laag
  store::NewCase nd = aCase("Schulden", {"schulden"});                            // normaal
  nd.wijk = "WK015302";
  auto d = co->db().openCase(nd);
  REQUIRE((a.ok() && b.ok() && c.ok() && d.ok()));
  REQUIRE(co->db().assignCase(b->id, "wc-anna").ok());
  {
    const v1::PushResponse pushed = s.push(*co);
    for (const auto& r : pushed.results()) REQUIRE(r.accepted());
  }
  store::NewCase ne = aCase("Elders", {"dreigende_huisuitzetting"});
  ne.wijk = "WK015303";
  auto e = els->db().openCase(ne);
  REQUIRE(e.ok());
  {
    const v1::PushResponse pushed = s.push(*els);
    for (const auto& r : pushed.results()) REQUIRE(r.accepted());
  }
  s.pull(*co);

  const std::int64_t t0 = test::kStart;
  auto now = readOk(s.engine->overview(co->principal, at(t0)));
  CHECK(now.total == 4);
  CHECK(now.overdue == 0);
  // Priority, then first-attempt due date: acuut; normaal (10 before 14 working days); laag.
  CHECK(idsOf(now) == std::vector<std::string>{a->id, d->id, b->id, c->id});
  // The server's norms are the device's: the same function over the same facts.
  for (const auto& row : now.rows) {
    INFO(row.kase.title.value);
    const auto mine = readOk(co->db().caseNorms(row.kase.id));
    REQUIRE(mine);
    CHECK(mine->norms.priority == row.norms.priority);
    CHECK(mine->norms.first_attempt_due_ms == row.norms.first_attempt_due_ms);
    CHECK(mine->norms.first_gesprek_due_ms == row.norms.first_gesprek_due_ms);
    CHECK(row.kase.title.isSet());  // a coordinator sees her cases whole
  }

  // Ten days on: the acuut case is past its 2 working days; it comes first, however listed.
  auto later = readOk(s.engine->overview(co->principal, at(t0 + 10 * kDay)));
  CHECK(later.total == 4);
  CHECK(later.overdue == 1);
  REQUIRE(!later.rows.empty());
  CHECK(later.rows[0].kase.id == a->id);
  CHECK(later.rows[0].overdue);
  CHECK(later.rows[0].status.first_attempt.state == norms::NormState::kMissed);

  SECTION("filters: wijk, assignee, state, category, overdue, limit") {
    store::OverviewQuery q = at(t0 + 10 * kDay);
    q.wijken = {"WK015302"};
    CHECK(idsOf(readOk(s.engine->overview(co->principal, q))) == std::vector<std::string>{d->id});
    q = at(t0);
    q.assignee = "wc-anna";
    CHECK(idsOf(readOk(s.engine->overview(co->principal, q))) == std::vector<std::string>{b->id});
    q.assignee = "";
    CHECK(readOk(s.engine->overview(co->principal, q)).total == 3);
    q = at(t0);
    q.state = CaseState::kToegewezen;
    CHECK(idsOf(readOk(s.engine->overview(co->principal, q))) == std::vector<std::string>{b->id});
    q.state = CaseState::kAfgesloten;
    CHECK(readOk(s.engine->overview(co->principal, q)).rows.empty());
    q = at(t0);
    q.category = "overig";
    CHECK(idsOf(readOk(s.engine->overview(co->principal, q))) == std::vector<std::string>{c->id});
    q = at(t0 + 10 * kDay);
    q.overdue_only = true;
    const auto late = readOk(s.engine->overview(co->principal, q));
    CHECK(idsOf(late) == std::vector<std::string>{a->id});
    CHECK(late.total == 1);
    q = at(t0);
    q.limit = 2;
    const auto two = readOk(s.engine->overview(co->principal, q));
    CHECK(idsOf(two) == std::vector<std::string>{a->id, d->id});
    CHECK(two.total == 4);
  }

  SECTION("refused for anyone but a coordinator of the wijken asked") {
    const auto coach = s.engine->overview(anna->principal, at(t0));
    CHECK(coach.status().code() == ErrorCode::kPermissionDenied);
    store::OverviewQuery q = at(t0);
    q.wijken = {"WK015303"};
    const auto other = s.engine->overview(co->principal, q);
    CHECK(other.status().code() == ErrorCode::kPermissionDenied);
    CHECK(other.status().field() == "wijk");
    q.wijken = {};
    q.category = "geen_categorie";
    CHECK(s.engine->overview(co->principal, q).status().field() == "category");
    // Another wijk's coordinator sees only her own case.
    CHECK(idsOf(readOk(s.engine->overview(els->principal, at(t0)))) ==
          std::vector<std::string>{e->id});
  }

  SECTION("a late contact keeps the case overdue: missed stays missed") {
    s.clock->set(t0 + 30 * kDay);
    store::NewContactMoment m;
    m.case_id = d->id;
    m.outcome = ContactOutcome::kNietThuis;
    REQUIRE(co->db().addContactMoment(m).ok());
    {
      const v1::PushResponse pushed = s.push(*co);
      for (const auto& r : pushed.results()) REQUIRE(r.accepted());
    }
    const auto o = readOk(s.engine->overview(co->principal, at(t0 + 30 * kDay)));
    CHECK(o.overdue == 4);
    bool seen = false;
    for (const auto& row : o.rows) {
      if (row.kase.id != d->id) continue;
      seen = true;
      CHECK(row.overdue);
      CHECK(row.contacts.first_attempt_ms.has_value());
      CHECK(row.status.first_attempt.state == norms::NormState::kMissed);
      CHECK(row.status.first_attempt.days_late >= 1);
    }
    CHECK(seen);
  }

  SECTION("merged: the source's contact moments count for the target") {
    store::NewContactMoment m;
    m.case_id = c->id;
    m.outcome = ContactOutcome::kGesprek;
    REQUIRE(co->db().addContactMoment(m).ok());
    REQUIRE(co->db().mergeCase(c->id, a->id, "zelfde huishouden").ok());
    {
      const v1::PushResponse pushed = s.push(*co);
      for (const auto& r : pushed.results()) REQUIRE(r.accepted());
    }
    const auto o = readOk(s.engine->overview(co->principal, at(t0)));
    CHECK(o.total == 3);  // the source is closed
    REQUIRE(!o.rows.empty());
    CHECK(o.rows[0].kase.id == a->id);
    CHECK(o.rows[0].contacts.first_attempt_ms.has_value());
    CHECK(o.rows[0].contacts.first_gesprek_ms.has_value());
    CHECK(o.rows[0].status.first_gesprek.state == norms::NormState::kMet);
    s.pull(*co);
    const auto mine = readOk(co->db().caseNorms(a->id));
    REQUIRE(mine);
    CHECK(mine->contacts.first_attempt_ms == o.rows[0].contacts.first_attempt_ms);
  }

  SECTION("a changed category norm reaches the open cases at once") {
    Category overig;
    for (const Category& k : readOk(s.engine->categories())) {
      if (k.code == "overig") overig = k;
    }
    overig.default_priority = Priority::kAcuut;
    overig.first_contact_days = 0;
    REQUIRE(s.engine->setCategory(overig).ok());
    // Thursday: the eviction case is past its 2 working days, the overig one past 0 days.
    const auto o = readOk(s.engine->overview(co->principal, at(t0 + 3 * kDay)));
    CHECK(o.overdue == 2);
    REQUIRE(o.rows.size() == 4);
    CHECK(o.rows[0].norms.priority == Priority::kAcuut);
    CHECK(o.rows[1].norms.priority == Priority::kAcuut);
  }
}

TEST_CASE("engine household hints: open cases and recent signals of the household, in her wijken",
          "[server][engine][norms]") {
  EngineFixture s;
  REQUIRE(s.engine->addWijk({"WK015303", "Wijk drie"}).ok());
  auto co = s.device("co-jan", Role::kCoordinator);
  auto els = s.device("co-els", Role::kCoordinator, {"WK015303"});
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  auto first = zm->db().createSignal(aSignal("Eerste melding", "1234AB", "7"));
  auto second = zm->db().createSignal(aSignal("Tweede melding", "1234AB", "7"));
  auto elsewhere = zm->db().createSignal(aSignal("Ander adres", "9999ZZ", "1"));
  REQUIRE((first.ok() && second.ok() && elsewhere.ok()));
  {
    const v1::PushResponse pushed = s.push(*zm);
    for (const auto& r : pushed.results()) REQUIRE(r.accepted());
  }
  s.pull(*co);
  store::NewCase nc = aCase("Huishouden 7", {"schulden"}, "1234AB", "7");
  nc.signal_ids = {first->id};
  auto c = co->db().openCase(nc);
  REQUIRE(c.ok());
  {
    const v1::PushResponse pushed = s.push(*co);
    for (const auto& r : pushed.results()) REQUIRE(r.accepted());
  }

  const auto hint = readOk(s.engine->duplicateHint(co->principal, second->id));
  CHECK(hint.open_case_ids == std::vector<std::string>{c->id});
  CHECK(hint.recent_signals == 1);  // the first; not itself
  const auto own = readOk(s.engine->duplicateHint(co->principal, first->id));
  CHECK(own.open_case_ids.empty());  // its own case is left out
  CHECK(own.recent_signals == 1);
  const auto none = readOk(s.engine->duplicateHint(co->principal, elsewhere->id));
  CHECK(none.open_case_ids.empty());
  CHECK(none.recent_signals == 0);
  // Thirteen weeks on, the signals are no longer recent; the open case still is.
  s.clock->advance(91 * 86'400'000LL);
  const auto old = readOk(s.engine->duplicateHint(co->principal, second->id));
  CHECK(old.recent_signals == 0);
  CHECK(old.open_case_ids.size() == 1);

  // Another wijk's coordinator: the signal is answered as an unknown id, the same bytes.
  const auto theirs = s.engine->duplicateHint(els->principal, second->id);
  const auto unknown =
      s.engine->duplicateHint(els->principal, "01890000-0000-7000-8000-000000000000");
  REQUIRE_FALSE(theirs.ok());
  REQUIRE_FALSE(unknown.ok());
  CHECK(theirs.status().code() == unknown.status().code());
  CHECK(theirs.status().message() == unknown.status().message());
  CHECK(theirs.status().field() == unknown.status().field());
  CHECK(s.engine->duplicateHint(zm->principal, second->id).status().code() ==
        ErrorCode::kPermissionDenied);
}
