// The device store's norms (schema v3, counts v4): the derived norm columns follow every write path
// (local writes, remote apply, category changes), the coordinator's overview lists and orders
// by them, duplicate hints find the same household, and writes are checked against the
// reference wijken and the clock.
#include <catch2/catch.hpp>
#include <random>

#include "eropaf/norms.hpp"
#include "store/store_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::aSignal;
using eropaf::test::kDay;
using eropaf::test::kStart;
using eropaf::test::readOk;
using eropaf::test::StoreFixture;

namespace {

using std::chrono::year;

std::vector<std::string> ids(const store::Overview& o) {
  std::vector<std::string> out;
  for (const auto& r : o.rows) out.push_back(r.kase.id);
  return out;
}

store::OverviewRow normsOf(StoreFixture& f, const std::string& case_id) {
  auto r = readOk(f.db->caseNorms(case_id));
  if (!r) throw std::runtime_error("no norms for " + case_id);
  return *r;
}

std::string openCase(StoreFixture& f, const store::NewCase& c) {
  auto r = f.db->openCase(c);
  if (!r.ok()) throw std::runtime_error(r.status().toString());
  return r->id;
}

std::string signalAs(StoreFixture& f, const store::NewSignal& s,
                     const std::string& back_as = "co-jan") {
  f.become("zm-fatima", Role::kZorgmedewerker);
  auto r = f.db->createSignal(s);
  if (!r.ok()) throw std::runtime_error(r.status().toString());
  f.become(back_as, Role::kCoordinator, {"WK015301", "WK015302"});
  return r->id;
}

}  // namespace

// kStart is Monday 21 September 2026, 14:13 UTC (16:13 in Amsterdam).

TEST_CASE("the overview lists every open case of my wijken, overdue first, then priority, due",
          "[store][overview]") {
  StoreFixture f;
  f.become("co-other", Role::kCoordinator, {"WK036301"});
  store::NewCase elsewhere = aCase("Andere wijk", {"huiselijk_geweld"}, "3011AA", "1");
  elsewhere.wijk = "WK036301";
  const std::string other_wijk = openCase(f, elsewhere);
  f.become("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});
  const std::string overlast = openCase(f, aCase("Overlast", {"overlast"}, "1234AB", "1"));
  const std::string eenzaam = openCase(f, aCase("Eenzaam", {"vereenzaming"}, "1234AB", "2"));
  store::NewCase oost = aCase("Oost, acuut", {"huiselijk_geweld"}, "1234AB", "3");
  oost.wijk = "WK015302";
  const std::string acuut = openCase(f, oost);
  const std::string closed = openCase(f, aCase("Dubbel", {"huiselijk_geweld"}, "1234AB", "4"));
  REQUIRE(f.db->moveCase({closed, CaseState::kGeannuleerd, "dubbel ingevoerd", true}).ok());
  REQUIRE(f.db->assignCase(eenzaam, "wc-anna").ok());

  auto o = readOk(f.db->overview({}));
  // Assigned and unassigned alike; the other wijk's case and the closed one are not listed.
  CHECK(ids(o) == std::vector<std::string>{acuut, overlast, eenzaam});
  CHECK(o.total == 3);
  CHECK(o.overdue == 0);
  CHECK(o.rows[0].norms.priority == Priority::kAcuut);
  CHECK(o.rows[0].status.first_attempt.state == norms::NormState::kOpen);
  // huiselijk geweld: 1 calendar day; overlast 10 working days; vereenzaming 14.
  CHECK(o.rows[0].norms.first_attempt_due_ms == norms::endOfDayMs(year{2026} / 9 / 22));
  CHECK(o.rows[1].norms.first_attempt_due_ms == norms::endOfDayMs(year{2026} / 10 / 5));
  CHECK(o.rows[2].norms.first_attempt_due_ms == norms::endOfDayMs(year{2026} / 10 / 9));
  CHECK(o.rows[2].kase.assignee.value == "wc-anna");
  // Each row returned is access-logged.
  CHECK(test::sqlColumn(f.path(),
                        "SELECT count(*) FROM access_log WHERE action = "
                        "'list:overview'") == std::vector<std::string>{"3"});

  SECTION("filters narrow; total counts all matches, rows the first `limit`") {
    store::OverviewQuery q;
    q.limit = 1;
    auto lim = readOk(f.db->overview(q));
    CHECK(ids(lim) == std::vector<std::string>{acuut});
    CHECK(lim.total == 3);
    q = {};
    q.assignee = "";
    CHECK(ids(readOk(f.db->overview(q))) == std::vector<std::string>{acuut, overlast});
    q.assignee = "wc-anna";
    CHECK(ids(readOk(f.db->overview(q))) == std::vector<std::string>{eenzaam});
    q = {};
    q.wijken = {"WK015302"};
    CHECK(ids(readOk(f.db->overview(q))) == std::vector<std::string>{acuut});
    q = {};
    q.state = CaseState::kToegewezen;
    CHECK(ids(readOk(f.db->overview(q))) == std::vector<std::string>{eenzaam});
    q.state = CaseState::kGeannuleerd;
    CHECK(readOk(f.db->overview(q)).rows.empty());
    q = {};
    q.category = "overlast";
    auto cat = readOk(f.db->overview(q));
    CHECK(ids(cat) == std::vector<std::string>{overlast});
    CHECK(cat.total == 1);
    q = {};
    q.wijken = {"WK036301"};
    CHECK(f.db->overview(q).status().code() == ErrorCode::kPermissionDenied);
    q = {};
    q.category = "geen_categorie";
    CHECK_FALSE(f.db->overview(q).ok());
  }

  SECTION("overdue after the clock advances: first, whatever its priority") {
    f.clock->advance(3 * kDay);  // Thursday: the acuut case's day-1 norm has passed
    const std::string fresh =
        openCase(f, aCase("Nieuw acuut", {"huiselijk_geweld"}, "1234AB", "5"));
    auto later = readOk(f.db->overview({}));
    CHECK(ids(later) == std::vector<std::string>{acuut, fresh, overlast, eenzaam});
    CHECK(later.overdue == 1);
    CHECK(later.rows[0].overdue);
    CHECK(later.rows[0].status.first_attempt.state == norms::NormState::kMissed);
    CHECK(later.rows[0].status.first_attempt.days_late == 2);
    CHECK_FALSE(later.rows[1].overdue);

    f.clock->advance(12 * kDay);  // overlast (due 5 October) is now late too; normaal
    auto much_later = readOk(f.db->overview({}));
    CHECK(much_later.overdue == 3);
    CHECK(ids(much_later) == std::vector<std::string>{acuut, fresh, overlast, eenzaam});
    store::OverviewQuery only;
    only.overdue_only = true;
    auto od = readOk(f.db->overview(only));
    CHECK(ids(od) == std::vector<std::string>{acuut, fresh, overlast});
    CHECK(od.total == 3);
    // now_ms overrides the store clock (tests, what-if).
    only.now_ms = kStart;
    CHECK(readOk(f.db->overview(only)).rows.empty());
  }

  SECTION("only a coordinator sees the overview") {
    f.become("wc-anna", Role::kWijkcoach);
    CHECK(f.db->overview({}).status().code() == ErrorCode::kPermissionDenied);
  }
  CHECK(readOk(f.db->getCase(other_wijk)).has_value());
}

TEST_CASE("norms tighten at once: an acuut signal linked, a stricter category",
          "[store][overview]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});
  const std::string c = openCase(f, aCase("Eenzaam", {"vereenzaming"}));
  CHECK(normsOf(f, c).norms.priority == Priority::kNormaal);
  CHECK(normsOf(f, c).norms.first_attempt_due_ms == norms::endOfDayMs(year{2026} / 10 / 9));

  SECTION("linking an acuut signal") {
    store::NewSignal s = aSignal("Acuut: geen eten in huis");
    s.urgency = Urgency::kAcuut;
    const std::string sig = signalAs(f, s);
    f.clock->advance(3'600'000);
    REQUIRE(f.db->linkSignal(sig, c).ok());
    const auto n = normsOf(f, c);
    CHECK(n.norms.priority == Priority::kAcuut);
    CHECK(n.norms.derived_priority == Priority::kAcuut);
    CHECK(n.norms.first_attempt_due_ms == norms::endOfDayMs(year{2026} / 9 / 22));
    CHECK(n.norms.first_gesprek_due_ms == norms::endOfDayMs(year{2026} / 9 / 23));
    // The wijk queue (an older list) follows the same effective priority.
    const std::string later = openCase(f, aCase("Hoog", {"verwaarlozing"}, "1234AB", "9"));
    auto q = readOk(f.db->wijkQueue("WK015301"));
    REQUIRE(q.size() == 2);
    CHECK(q[0].id == c);
    CHECK(q[1].id == later);
  }

  SECTION("adding a stricter category through a linked signal") {
    store::NewSignal s = aSignal("Verwaarlozing");
    s.urgency = Urgency::kLaag;
    s.categories = {"verwaarlozing"};
    const std::string sig = signalAs(f, s);
    REQUIRE(f.db->linkSignal(sig, c).ok());
    const auto n = normsOf(f, c);
    CHECK(n.norms.priority == Priority::kHoog);
    CHECK(n.norms.first_attempt_due_ms == norms::endOfDayMs(year{2026} / 9 / 28));  // 5 wd
  }

  SECTION("a stricter category table recomputes every open case") {
    std::vector<Category> cats = defaultCategories();
    for (Category& cat : cats) {
      if (cat.code == "vereenzaming") {
        cat.default_priority = Priority::kHoog;
        cat.first_contact_days = 1;
        cat.working_days = false;
      }
    }
    REQUIRE(f.db->setCategories(cats).ok());
    const auto n = normsOf(f, c);
    CHECK(n.norms.priority == Priority::kHoog);
    CHECK(n.norms.first_attempt_due_ms == norms::endOfDayMs(year{2026} / 9 / 22));
    // The new fields are persisted: they survive a reopen.
    f.reopen();
    bool found = false;
    for (const Category& cat : f.db->categories()) {
      if (cat.code != "vereenzaming") continue;
      found = true;
      CHECK(cat.first_contact_days == 1);
      CHECK_FALSE(cat.working_days);
      CHECK(cat.first_gesprek_days == 28);
    }
    CHECK(found);
    CHECK(normsOf(f, c).norms.priority == Priority::kHoog);
  }
}

TEST_CASE("an override with a reason wins for priority only", "[store][overview]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  store::NewCase with = aCase("Huiselijk geweld, al in beeld", {"huiselijk_geweld"});
  with.priority = Priority::kLaag;
  with.priority_reason = "Veilig Thuis heeft de regie";
  const std::string c = openCase(f, with);
  auto n = normsOf(f, c);
  CHECK(n.norms.priority == Priority::kLaag);
  CHECK(n.norms.derived_priority == Priority::kAcuut);
  CHECK(n.norms.first_attempt_due_ms == norms::endOfDayMs(year{2026} / 9 / 22));
  CHECK(n.kase.priority_reason.value == "Veilig Thuis heeft de regie");

  store::NewCase without = aCase("Zonder reden", {"huiselijk_geweld"}, "1234AB", "2");
  without.priority = Priority::kLaag;
  const std::string d = openCase(f, without);
  CHECK(normsOf(f, d).norms.priority == Priority::kAcuut);
  CHECK_FALSE(normsOf(f, d).kase.priority.isSet());
  // A priority set without a reason (older data, written before overrides had one) is no
  // override either.
  Case older = normsOf(f, d).kase;
  older.priority.set(Priority::kLaag, {older.created.hlc + 1000, 99});
  REQUIRE(f.db->applyRemote(std::vector<Record>{older}).ok());
  CHECK(normsOf(f, d).kase.priority.isSet());
  CHECK(normsOf(f, d).norms.priority == Priority::kAcuut);
  // Sorted by the effective priority: the overridden one last.
  CHECK(ids(readOk(f.db->overview({}))) == std::vector<std::string>{d, c});

  store::NewCase reason_only = aCase("Reden zonder prioriteit", {"overlast"}, "1234AB", "3");
  reason_only.priority_reason = "zomaar";
  CHECK(f.db->openCase(reason_only).status().field() == "priority_reason");
}

TEST_CASE("a norm met stays met, one missed stays missed, a correction replaces its moment",
          "[store][overview]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  const std::string met = openCase(f, aCase("Op tijd", {"huiselijk_geweld"}));
  const std::string late = openCase(f, aCase("Te laat", {"huiselijk_geweld"}, "1234AB", "2"));
  store::NewContactMoment m;
  m.case_id = met;
  m.outcome = ContactOutcome::kGesprek;
  auto on_time = f.db->addContactMoment(m);
  REQUIRE(on_time.ok());

  f.clock->advance(4 * kDay);
  m.case_id = late;
  REQUIRE(f.db->addContactMoment(m).ok());
  f.clock->advance(10 * kDay);
  auto o = readOk(f.db->overview({}));
  REQUIRE(o.rows.size() == 2);
  CHECK(o.rows[0].kase.id == late);
  CHECK(o.rows[0].overdue);
  CHECK(o.rows[0].status.first_attempt.state == norms::NormState::kMissed);
  CHECK(o.rows[0].status.first_attempt.days_late == 3);  // due Tue 22, contact Fri 25
  CHECK(o.rows[0].contacts.first_attempt_ms == kStart + 4 * kDay);
  CHECK(o.rows[1].kase.id == met);
  CHECK_FALSE(o.rows[1].overdue);
  CHECK(o.rows[1].status.first_attempt.state == norms::NormState::kMet);
  CHECK(o.rows[1].status.first_gesprek.state == norms::NormState::kMet);
  CHECK(o.overdue == 1);

  SECTION("a correction replaces the moment it corrects in the counts") {
    store::NewContactMoment fix;
    fix.case_id = met;
    fix.kind = ContactKind::kOverleg;  // "it was a talk with the GP, not with her"
    fix.outcome = ContactOutcome::kGesprek;
    fix.corrects_id = on_time->id;
    REQUIRE(f.db->addContactMoment(fix).ok());
    const auto n = normsOf(f, met);
    CHECK_FALSE(n.contacts.first_attempt_ms.has_value());
    CHECK(n.status.first_attempt.state == norms::NormState::kMissed);
    CHECK(n.overdue);
    CHECK(readOk(f.db->overview({})).overdue == 2);
  }
}

TEST_CASE("remote apply of a case, a signal and a moment updates the norm columns",
          "[store][overview]") {
  StoreFixture src;
  src.become("co-jan", Role::kCoordinator);
  const std::string c = openCase(src, aCase("Eenzaam", {"vereenzaming"}));
  store::NewSignal s = aSignal("Acuut");
  s.urgency = Urgency::kAcuut;
  const std::string sig = signalAs(src, s);
  src.become("co-jan", Role::kCoordinator);
  REQUIRE(src.db->linkSignal(sig, c).ok());
  store::NewContactMoment m;
  m.case_id = c;
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(src.db->addContactMoment(m).ok());
  auto all = readOk(src.db->allRecords());
  auto pick = [&](RecordKind k) {
    std::vector<Record> out;
    for (const auto& r : all) {
      if (recordKind(r) == k) out.push_back(r);
    }
    return out;
  };

  StoreFixture dst;
  dst.become("co-jan", Role::kCoordinator);
  REQUIRE(readOk(dst.db->applyRemote(pick(RecordKind::kCase))).inserted == 1);
  CHECK(normsOf(dst, c).norms.priority == Priority::kNormaal);
  REQUIRE(readOk(dst.db->applyRemote(pick(RecordKind::kSignal))).inserted == 1);
  CHECK(normsOf(dst, c).norms.priority == Priority::kAcuut);
  CHECK_FALSE(normsOf(dst, c).contacts.first_attempt_ms.has_value());
  REQUIRE(readOk(dst.db->applyRemote(pick(RecordKind::kContactMoment))).inserted == 1);
  CHECK(normsOf(dst, c).contacts.first_attempt_ms == kStart);
  CHECK(normsOf(dst, c).status.first_attempt.state == norms::NormState::kMet);
  // Evicting the signal takes its contribution away again.
  REQUIRE(dst.db->evict(sig).ok());
  CHECK(normsOf(dst, c).norms.priority == Priority::kNormaal);
}

TEST_CASE("untriaged signals come by urgency, then age", "[store][overview]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  auto mk = [&](Urgency u, const std::string& number) {
    store::NewSignal s = aSignal("signaal " + number, "1234AB", number);
    s.urgency = u;
    auto r = f.db->createSignal(s);
    REQUIRE(r.ok());
    f.clock->advance(60'000);
    return r->id;
  };
  const std::string normaal_old = mk(Urgency::kNormaal, "1");
  const std::string laag = mk(Urgency::kLaag, "2");
  const std::string acuut = mk(Urgency::kAcuut, "3");
  const std::string normaal_new = mk(Urgency::kNormaal, "4");
  std::vector<std::string> got;
  for (const auto& s : readOk(f.db->untriagedSignals("WK015301"))) got.push_back(s.id);
  CHECK(got == std::vector<std::string>{acuut, normaal_old, normaal_new, laag});
}

TEST_CASE("duplicate hints: the same household's open cases and recent signals",
          "[store][overview]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});
  const std::string s1 = signalAs(f, aSignal("eerste melding", "1234AB", "12"));
  f.clock->advance(kDay);
  const std::string s2 = signalAs(f, aSignal("tweede melding", "1234 ab", "12"));
  const std::string other = signalAs(f, aSignal("ander huis", "1234AB", "14"));
  const std::string c = openCase(f, aCase("Zelfde huis", {"vereenzaming"}, "1234AB", "12"));

  auto h1 = readOk(f.db->duplicateHint(s1));
  CHECK(h1.recent_signals == 1);
  CHECK(h1.open_case_ids == std::vector<std::string>{c});
  auto h_other = readOk(f.db->duplicateHint(other));
  CHECK(h_other.recent_signals == 0);
  CHECK(h_other.open_case_ids.empty());
  auto by_address = readOk(f.db->householdHint({"1234AB", "12", "", "", ""}));
  CHECK(by_address.recent_signals == 2);
  CHECK(by_address.open_case_ids == std::vector<std::string>{c});
  CHECK(readOk(f.db->householdHint({"9999ZZ", "1", "", "", ""})).open_case_ids.empty());
  CHECK(f.db->duplicateHint("01a0c450-6c00-7000-8000-000000000000").status().code() ==
        ErrorCode::kNotFound);

  // The signal's own case is not a hint for it.
  REQUIRE(f.db->linkSignal(s1, c).ok());
  CHECK(readOk(f.db->duplicateHint(s1)).open_case_ids.empty());
  CHECK(readOk(f.db->duplicateHint(s2)).open_case_ids == std::vector<std::string>{c});

  // 12 weeks: s1 (observed a day before s2) leaves the window first.
  f.clock->advance(83 * kDay);  // s1 is exactly 12 weeks old: still in
  CHECK(readOk(f.db->duplicateHint(s2)).recent_signals == 1);
  f.clock->advance(1);
  CHECK(readOk(f.db->duplicateHint(s2)).recent_signals == 0);
  CHECK(readOk(f.db->duplicateHint(s1)).recent_signals == 1);
  f.clock->advance(kDay);
  CHECK(readOk(f.db->duplicateHint(s1)).recent_signals == 0);
  CHECK(readOk(f.db->duplicateHint(s1)).open_case_ids.empty());
  CHECK(readOk(f.db->duplicateHint(s2)).open_case_ids == std::vector<std::string>{c});
}

TEST_CASE("wijk defaults to the identity's only one, an unknown wijk is refused with the list",
          "[store][overview]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  store::NewSignal s = aSignal();
  s.wijk = "";
  auto one = f.db->createSignal(s);
  REQUIRE(one.ok());
  CHECK(one->content.wijk == "WK015301");

  f.become("zm-fatima", Role::kZorgmedewerker, {"WK015301", "WK015302"});
  auto two = f.db->createSignal(s);
  REQUIRE_FALSE(two.ok());
  CHECK(two.status().field() == "wijk");

  REQUIRE(
      f.db->setReference({}, std::vector<Wijk>{{"WK015301", "Binnenstad"}, {"WK015302", "Oost"}})
          .ok());
  CHECK(readOk(f.db->wijken()).size() == 2);
  s.wijk = "WK1";
  auto bad = f.db->createSignal(s);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == ErrorCode::kInvalidArgument);
  CHECK(bad.status().field() == "wijk");
  CHECK(bad.status().message() ==
        "unknown wijk 'WK1'; valid: WK015301 (Binnenstad), WK015302 (Oost)");
  s.wijk = "WK036301";  // a well-formed code the reference data does not know
  CHECK(f.db->createSignal(s).status().field() == "wijk");
  s.wijk = "WK015302";
  CHECK(f.db->createSignal(s).ok());

  f.become("co-jan", Role::kCoordinator, {"WK015301", "WK036301"});
  store::NewCase c = aCase();
  c.wijk = "WK036301";
  auto refused = f.db->openCase(c);
  CHECK(refused.status().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(refused.status().message(), Catch::Contains("unknown wijk 'WK036301'"));
  c.wijk = "";
  CHECK(f.db->openCase(c).status().field() == "wijk");  // two wijken: no default
  f.become("co-jan", Role::kCoordinator);
  auto defaulted = f.db->openCase(c);
  REQUIRE(defaulted.ok());
  CHECK(defaulted->wijk.value == "WK015301");
}

TEST_CASE("a contact moment dated in the future beyond the clock skew is refused",
          "[store][overview]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  const std::string c = openCase(f, aCase());
  store::NewContactMoment m;
  m.case_id = c;
  m.outcome = ContactOutcome::kGesprek;
  m.at_ms = kStart + kDefaultMaxSkewMs + 1;
  auto r = f.db->addContactMoment(m);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().field() == "at_ms");
  CHECK_THAT(r.status().message(), Catch::Contains("in the future"));
  CHECK(readOk(f.db->contactMoments(c)).empty());
  m.at_ms = kStart + kDefaultMaxSkewMs;
  CHECK(f.db->addContactMoment(m).ok());
}

TEST_CASE("the overview's counts follow every write path: local, remote apply, evict, wipe",
          "[store][overview]") {
  // open_counts (schema v4) is kept by triggers; here it must always equal a recount of the
  // cases themselves, and the overview's totals the rows it lists, whatever wrote the row.
  StoreFixture src;
  StoreFixture dst;
  src.become("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});
  dst.become("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});
  const std::string recount =
      "SELECT wijk || '|' || assignee || '|' || state || '|' || count(*) FROM cases "
      "WHERE is_open = 1 AND deleted = 0 GROUP BY wijk, assignee, state ORDER BY 1";
  const std::string kept =
      "SELECT wijk || '|' || assignee || '|' || state || '|' || n FROM open_counts "
      "WHERE n != 0 ORDER BY 1";
  auto consistent = [&](StoreFixture& f) {
    CHECK(test::sqlColumn(f.path(), kept) == test::sqlColumn(f.path(), recount));
    for (const std::optional<std::string>& who :
         {std::optional<std::string>(), std::optional<std::string>(""),
          std::optional<std::string>("wc-anna")}) {
      store::OverviewQuery q;
      q.assignee = who;
      auto o = readOk(f.db->overview(q));
      CHECK(o.total == o.rows.size());
      std::size_t late = 0;
      for (const auto& r : o.rows) late += r.overdue ? 1 : 0;
      CHECK(o.overdue == late);
    }
  };
  std::mt19937 rng(7);
  std::vector<std::string> cases;
  auto copy = [&] {
    std::vector<Record> recs;
    for (auto& r : readOk(src.db->allRecords())) {
      if (recordKind(r) == RecordKind::kCase) recs.push_back(std::move(r));
    }
    REQUIRE(dst.db->applyRemote(recs).ok());
  };
  for (int step = 0; step < 60; ++step) {
    const auto pick = rng() % 5;
    if (pick == 0 || cases.size() < 3) {
      store::NewCase c =
          aCase("Casus " + std::to_string(step), {rng() % 2 ? "overlast" : "huiselijk_geweld"},
                "1234AB", std::to_string(step + 1));
      c.wijk = rng() % 2 ? "WK015301" : "WK015302";
      cases.push_back(openCase(src, c));
    } else if (pick == 1) {
      static_cast<void>(
          src.db->assignCase(cases[rng() % cases.size()], rng() % 2 ? "wc-anna" : "wc-bram"));
    } else if (pick == 2) {
      static_cast<void>(src.db->moveCase(
          {cases[rng() % cases.size()], CaseState::kGeannuleerd, "dubbel ingevoerd", true}));
    } else if (pick == 3) {
      src.clock->advance(2 * kDay);
      dst.clock->advance(2 * kDay);
    } else {
      REQUIRE(dst.db->evict(cases[rng() % cases.size()]).ok());
    }
    copy();
    consistent(src);
    consistent(dst);
  }
  CHECK_FALSE(test::sqlColumn(dst.path(), kept).empty());
  REQUIRE(dst.db->wipe().ok());
  CHECK(test::sqlColumn(dst.path(), kept).empty());
}

TEST_CASE("a backdated or first gesprek moment moves the first contacts but a later one not",
          "[store][overview]") {
  // The store skips recomputing a case for a new moment later than its first contacts; these
  // are the moments it must not skip (local writes and remote apply alike).
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  const std::string c = openCase(f, aCase("Eenzaam", {"vereenzaming"}));
  f.clock->advance(5 * kDay);
  store::NewContactMoment m;
  m.case_id = c;
  m.outcome = ContactOutcome::kNietThuis;
  m.at_ms = kStart + 3 * kDay;
  REQUIRE(f.db->addContactMoment(m).ok());
  CHECK(normsOf(f, c).contacts.first_attempt_ms == kStart + 3 * kDay);
  m.at_ms = kStart + 4 * kDay;  // later, not a gesprek: nothing moves
  REQUIRE(f.db->addContactMoment(m).ok());
  CHECK(normsOf(f, c).contacts.first_attempt_ms == kStart + 3 * kDay);
  CHECK_FALSE(normsOf(f, c).contacts.first_gesprek_ms.has_value());
  m.outcome = ContactOutcome::kGesprek;  // later than the first attempt, but the first gesprek
  REQUIRE(f.db->addContactMoment(m).ok());
  CHECK(normsOf(f, c).contacts.first_gesprek_ms == kStart + 4 * kDay);
  m.outcome = ContactOutcome::kNietThuis;
  m.at_ms = kStart + 1 * kDay;  // backdated before the first attempt
  REQUIRE(f.db->addContactMoment(m).ok());
  CHECK(normsOf(f, c).contacts.first_attempt_ms == kStart + 1 * kDay);
  CHECK(normsOf(f, c).contacts.first_gesprek_ms == kStart + 4 * kDay);

  // The same moments applied remotely, oldest last, give the same first contacts.
  StoreFixture dst;
  dst.become("co-jan", Role::kCoordinator);
  dst.clock->advance(5 * kDay);
  std::vector<Record> cases;
  std::vector<Record> moments;
  for (auto& r : readOk(f.db->allRecords())) {
    if (recordKind(r) == RecordKind::kCase) cases.push_back(r);
    if (recordKind(r) == RecordKind::kContactMoment) moments.push_back(r);
  }
  REQUIRE(dst.db->applyRemote(cases).ok());
  REQUIRE(moments.size() == 4);
  for (auto it = moments.rbegin(); it != moments.rend(); ++it) {
    REQUIRE(readOk(dst.db->applyRemote(std::span<const Record>(&*it, 1))).inserted == 1);
  }
  CHECK(normsOf(dst, c).contacts.first_attempt_ms == kStart + 1 * kDay);
  CHECK(normsOf(dst, c).contacts.first_gesprek_ms == kStart + 4 * kDay);
}
