// The device store against known data: every list a worker relies on (my signals, my cases,
// the wijk queue, a household, the outbox), each validation error, the role rules, merging
// remote states in any order, encryption at rest and what survives a reopen.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>

#include "eropaf/id.hpp"
#include "eropaf/merge.hpp"
#include "eropaf/wire.hpp"
#include "store/crypto.hpp"
#include "store/store_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::aSignal;
using eropaf::test::kDay;
using eropaf::test::readOk;
using eropaf::test::StoreFixture;

namespace {

/// Runs one statement on the store's file through a second, raw SQLite connection, the way a
/// failing disk or someone with the file would change it: ?1 is `blob`, ?2 is `id`.
void tamper(const std::string& path, const std::string& sql, std::string_view blob,
            std::string_view id) {
  sqlite3* raw = nullptr;
  if (sqlite3_open(path.c_str(), &raw) != SQLITE_OK) throw std::runtime_error("cannot open");
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(raw, sql.c_str(), -1, &st, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_bind_blob64(st, 1, blob.data(), blob.size(), SQLITE_TRANSIENT);
    if (sqlite3_bind_parameter_count(st) >= 2) {
      sqlite3_bind_text64(st, 2, id.data(), id.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    rc = sqlite3_step(st);
  }
  const std::string err = sqlite3_errmsg(raw);
  const int changed = sqlite3_changes(raw);
  sqlite3_finalize(st);
  sqlite3_close(raw);
  if (rc != SQLITE_DONE) throw std::runtime_error("tamper failed: " + err + " in " + sql);
  if (changed != 1)
    throw std::runtime_error("tamper changed " + std::to_string(changed) + " rows: " + sql);
}

std::vector<std::string> ids(const auto& records) {
  std::vector<std::string> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back(r.id);
  return out;
}

}  // namespace

TEST_CASE("a store without identity refuses writes and says why", "[store][unit]") {
  StoreFixture f;
  auto r = f.db->createSignal(aSignal());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(r.status().message(), Catch::Contains("identity"));
  CHECK(readOk(f.db->outboxSize()) == 0);
}

TEST_CASE("a signal at a door is in my signals and in the outbox", "[store][unit]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  auto first = f.db->createSignal(aSignal("Eerste zorg"));
  REQUIRE(first.ok());
  f.clock->advance(60'000);
  store::NewSignal req = aSignal("Tweede zorg", "1234 ab", "14");
  req.address.addition = "A";
  auto second = f.db->createSignal(req);
  REQUIRE(second.ok());

  CHECK(second->content.address.postcode == "1234AB");  // normalised
  CHECK(second->content.household_key == "1234AB|14|a");
  CHECK(second->content.reporter_id == "zm-fatima");
  CHECK(second->content.source_role == Role::kZorgmedewerker);
  CHECK(second->triage_state.value == TriageState::kNieuw);

  auto mine = f.db->mySignals();
  REQUIRE(mine.ok());
  CHECK(ids(*mine) == std::vector<std::string>{second->id, first->id});  // newest first
  CHECK(mine->at(1).content.text == "Eerste zorg");

  auto out = f.db->outbox();
  REQUIRE(out.ok());
  REQUIRE(out->size() == 2);
  CHECK(out->at(0).record_id == first->id);
  CHECK(out->at(0).summary == "signal created");
  CHECK(out->at(0).status == store::OutboxStatus::kPending);
  CHECK(std::get<Signal>(out->at(0).delta) == *first);
}

TEST_CASE("every bad input is refused with its code and field, and changes nothing",
          "[store][unit][validate]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  struct Bad {
    const char* what;
    store::NewSignal req;
    ErrorCode code;
    const char* field;
  };
  std::vector<Bad> cases;
  {
    auto s = aSignal();
    s.categories = {"vereenzaming", "geldzorgen"};
    cases.push_back({"unknown category", s, ErrorCode::kUnknownCategory, "categories"});
  }
  {
    auto s = aSignal();
    s.categories.clear();
    cases.push_back({"no category", s, ErrorCode::kRequiredFieldMissing, "categories"});
  }
  cases.push_back({"empty text", aSignal(""), ErrorCode::kRequiredFieldMissing, "text"});
  cases.push_back({"blank text", aSignal("   \n"), ErrorCode::kRequiredFieldMissing, "text"});
  cases.push_back(
      {"text over 4000 bytes", aSignal(std::string(4001, 'x')), ErrorCode::kTextTooLong, "text"});
  cases.push_back(
      {"invalid UTF-8", aSignal("kapot \xff\xfe tekst"), ErrorCode::kInvalidUtf8, "text"});
  cases.push_back({"bad postcode", aSignal("tekst", "0123AB"), ErrorCode::kInvalidArgument,
                   "address.postcode"});
  cases.push_back({"missing house number", aSignal("tekst", "1234AB", ""),
                   ErrorCode::kRequiredFieldMissing, "address.house_number"});
  {
    auto s = aSignal();
    s.wijk = "Utrecht-Oost";
    cases.push_back({"bad wijk", s, ErrorCode::kInvalidArgument, "wijk"});
  }
  {
    auto s = aSignal();
    s.informed = Informed::kUnspecified;
    cases.push_back({"informed missing", s, ErrorCode::kRequiredFieldMissing, "informed"});
  }
  {
    auto s = aSignal();
    s.urgency = static_cast<Urgency>(17);
    cases.push_back({"unknown urgency", s, ErrorCode::kInvalidArgument, "urgency"});
  }
  for (const Bad& b : cases) {
    INFO(b.what);
    auto r = f.db->createSignal(b.req);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == b.code);
    CHECK(r.status().field() == b.field);
    CHECK_FALSE(r.status().message().empty());
  }
  CHECK(readOk(f.db->outboxSize()) == 0);
  CHECK(f.db->mySignals()->empty());
  // exactly at the limit is fine
  CHECK(f.db->createSignal(aSignal(std::string(4000, 'x'))).ok());
}

TEST_CASE("a coordinator triages signals into a case, the wijk queue orders by priority, due",
          "[store][unit]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  store::NewSignal laag = aSignal();
  laag.urgency = Urgency::kLaag;  // contributes laag, 20 working days: the categories decide
  auto sig = f.db->createSignal(laag);
  REQUIRE(sig.ok());
  f.become("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});

  auto untriaged = f.db->untriagedSignals("WK015301");
  REQUIRE(untriaged.ok());
  CHECK(ids(*untriaged) == std::vector<std::string>{sig->id});

  store::NewCase low = aCase("Overlast buren", {"overlast"}, "1234AB", "20");
  low.signal_ids = {};
  auto c_low = f.db->openCase(low);
  REQUIRE(c_low.ok());
  store::NewCase evict = aCase("Huurachterstand, deurwaarder geweest",
                               {"dreigende_huisuitzetting", "schulden"}, "1234AB", "30");
  auto c_evict = f.db->openCase(evict);
  REQUIRE(c_evict.ok());
  store::NewCase linked = aCase();
  linked.signal_ids = {sig->id};
  auto c_linked = f.db->openCase(linked);
  REQUIRE(c_linked.ok());

  // No priority field without a reason: the derived norms (from the category defaults) stand.
  CHECK_FALSE(c_evict->priority.isSet());
  CHECK_FALSE(c_evict->first_contact_due_ms.isSet());  // deprecated, no longer written
  const auto n_evict = readOk(f.db->caseNorms(c_evict->id));
  REQUIRE(n_evict);
  CHECK(n_evict->norms.priority == Priority::kAcuut);
  // 2 working days from Monday 21 September 2026: the end of Wednesday 23rd, Amsterdam time.
  CHECK(n_evict->norms.first_attempt_due_ms == norms::endOfDayMs(std::chrono::year{2026} / 9 / 23));
  CHECK(readOk(f.db->caseNorms(c_low->id))->norms.priority == Priority::kNormaal);
  CHECK(c_linked->state.value == CaseState::kNieuw);

  auto queue = f.db->wijkQueue("WK015301");
  REQUIRE(queue.ok());
  // acuut first; then the two normaal cases by due date (overlast 10 days, vereenzaming 14)
  CHECK(ids(*queue) == std::vector<std::string>{c_evict->id, c_low->id, c_linked->id});

  auto s = readOk(f.db->signal(sig->id));
  REQUIRE(s);
  CHECK(s->case_id.value == c_linked->id);
  CHECK(s->triage_state.value == TriageState::kGekoppeld);
  CHECK(f.db->untriagedSignals("WK015301")->empty());

  SECTION("linking a second signal unites categories") {
    f.become("zm-fatima", Role::kZorgmedewerker);
    auto s2 = aSignal("Schulden, brieven van incasso");
    s2.categories = {"schulden"};
    auto sig2 = f.db->createSignal(s2);
    REQUIRE(sig2.ok());
    f.become("co-jan", Role::kCoordinator);
    REQUIRE(f.db->linkSignal(sig2->id, c_linked->id).ok());
    auto c = readOk(f.db->getCase(c_linked->id));
    REQUIRE(c);
    CHECK(presentElements(c->categories) == std::vector<std::string>{"schulden", "vereenzaming"});
  }

  SECTION("a case outside my wijken is refused") {
    store::NewCase other = aCase();
    other.wijk = "WK036301";
    auto r = f.db->openCase(other);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kPermissionDenied);
  }

  SECTION("a home-care worker may not open a case") {
    f.become("zm-fatima", Role::kZorgmedewerker);
    auto r = f.db->openCase(aCase());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kPermissionDenied);
  }
}

TEST_CASE("a coach works the cases assigned to them, in order, through the states",
          "[store][unit]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  auto a = f.db->openCase(aCase("A", {"overig"}, "1234AB", "1"));            // laag, 14 d
  auto b = f.db->openCase(aCase("B", {"huiselijk_geweld"}, "1234AB", "2"));  // acuut, 1 d
  f.clock->advance(kDay);
  auto c = f.db->openCase(aCase("C", {"schulden"}, "1234AB", "3"));  // normaal, due day 11
  auto d = f.db->openCase(aCase("D", {"overlast"}, "1234AB", "4"));  // normaal, due day 11
  auto e = f.db->openCase(aCase("E", {"vereenzaming"}, "1234AB", "5"));
  REQUIRE((a.ok() && b.ok() && c.ok() && d.ok() && e.ok()));
  REQUIRE(f.db->setPriority(e->id, Priority::kHoog, "buren bellen dagelijks").ok());
  for (const auto* x : {&a, &b, &c, &d, &e}) REQUIRE(f.db->assignCase((*x)->id, "wc-anna").ok());
  auto other = f.db->openCase(aCase("F", {"overig"}, "1234AB", "6"));
  REQUIRE(f.db->assignCase(other->id, "wc-bram").ok());

  f.become("wc-anna", Role::kWijkcoach);
  auto mine = f.db->myCases();
  REQUIRE(mine.ok());
  // E's priority is a coordinator's override (it has a reason): hoog, right after acuut B.
  CHECK(ids(*mine) == std::vector<std::string>{b->id, e->id, std::min(c->id, d->id),
                                               std::max(c->id, d->id), a->id});
  for (const auto& x : *mine) CHECK(x.state.value == CaseState::kToegewezen);

  SECTION("contact moments, including the doors that stay shut, in order") {
    store::NewContactMoment m;
    m.case_id = b->id;
    m.outcome = ContactOutcome::kNietThuis;
    auto m1 = f.db->addContactMoment(m);
    f.clock->advance(3600'000);
    m.outcome = ContactOutcome::kDeurNietGeopend;
    m.note = "Gordijnen dicht, wel licht aan";
    auto m2 = f.db->addContactMoment(m);
    REQUIRE((m1.ok() && m2.ok()));
    auto moments = readOk(f.db->contactMoments(b->id));
    REQUIRE(moments.size() == 2);
    CHECK(moments[0].outcome == ContactOutcome::kNietThuis);
    CHECK(moments[1].note == "Gordijnen dicht, wel licht aan");

    m.outcome = ContactOutcome::kUnspecified;
    auto bad = f.db->addContactMoment(m);
    CHECK(bad.status().code() == ErrorCode::kRequiredFieldMissing);
    m.outcome = ContactOutcome::kGesprek;
    m.case_id = other->id;
    auto not_mine = f.db->addContactMoment(m);
    CHECK(not_mine.status().code() == ErrorCode::kPermissionDenied);
    m.case_id = a->id;
    m.corrects_id = m1->id;  // belongs to case b
    auto wrong_case = f.db->addContactMoment(m);
    CHECK(wrong_case.status().code() == ErrorCode::kInvalidArgument);
    CHECK(wrong_case.status().field() == "corrects_id");
  }

  SECTION("geen contact mogelijk: the coach proposes after attempts on N days, nothing moves") {
    REQUIRE(f.db->moveCase({c->id, CaseState::kContactZoeken, "", false}).ok());
    store::NewContactMoment m;
    m.case_id = c->id;
    m.outcome = ContactOutcome::kNietThuis;
    const store::MoveCase propose{c->id, CaseState::kAfgesloten, "drie keer niet thuis", true,
                                  "geen_contact_mogelijk"};
    for (int day = 1; day <= 3; ++day) {
      REQUIRE(f.db->addContactMoment(m).ok());
      f.clock->advance(3600'000);
      REQUIRE(f.db->addContactMoment(m).ok());  // twice the same day counts once
      if (day < 3) {
        auto early = f.db->moveCase(propose);
        CHECK(early.status().code() == ErrorCode::kFailedPrecondition);
        CHECK_THAT(early.status().message(), Catch::Contains("has " + std::to_string(day)));
        f.clock->advance(kDay);
      }
    }
    auto wrong = f.db->moveCase({c->id, CaseState::kAfgesloten, "r", true, "opgelost"});
    CHECK(wrong.status().code() == ErrorCode::kTransitionNotAllowed);
    auto proposal = f.db->moveCase(propose);
    REQUIRE(proposal.ok());
    CHECK(proposal->resolution_code == "geen_contact_mogelijk");
    CHECK(proposal->outcome.value == TransitionOutcome::kPending);
    // The case waits for the coordinator: same state, no resolution written by the coach.
    auto still = readOk(f.db->getCase(c->id));
    CHECK(still->state.value == CaseState::kContactZoeken);
    CHECK_FALSE(still->resolution_code.isSet());
    CHECK_FALSE(still->resolution_text.isSet());
    for (const auto& entry : readOk(f.db->outbox())) {
      if (const auto* delta = std::get_if<Case>(&entry.delta)) {
        CHECK_FALSE(delta->resolution_code.isSet());
        CHECK_FALSE(delta->resolution_text.isSet());
      }
    }
  }

  SECTION("transitions: allowed, refused for the role, reason missing, needs a connection") {
    auto t1 = f.db->moveCase({b->id, CaseState::kContactZoeken, "", false});
    REQUIRE(t1.ok());
    CHECK(t1->from == CaseState::kToegewezen);
    CHECK(t1->made_offline);
    CHECK(t1->outcome.value == TransitionOutcome::kPending);
    REQUIRE(f.db->moveCase({b->id, CaseState::kInBehandeling, "", false}).ok());

    auto no_reason = f.db->moveCase({b->id, CaseState::kWacht, " ", false});
    CHECK(no_reason.status().code() == ErrorCode::kReasonRequired);
    auto skip = f.db->moveCase({b->id, CaseState::kAfgesloten, "klaar", false});
    CHECK(skip.status().code() == ErrorCode::kTransitionNotAllowed);
    auto not_mine = f.db->moveCase({other->id, CaseState::kContactZoeken, "", false});
    CHECK(not_mine.status().code() == ErrorCode::kPermissionDenied);
    REQUIRE(f.db->moveCase({b->id, CaseState::kNazorg, "", false}).ok());
    auto coach_close = f.db->moveCase({b->id, CaseState::kAfgesloten, "opgelost", true});
    CHECK(coach_close.status().code() == ErrorCode::kTransitionNotAllowed);

    f.become("co-jan", Role::kCoordinator);
    auto offline_close = f.db->moveCase({b->id, CaseState::kAfgesloten, "opgelost", false});
    CHECK(offline_close.status().code() == ErrorCode::kTransitionNotAllowed);
    CHECK_THAT(offline_close.status().message(), Catch::Contains("connection"));
    auto no_code = f.db->moveCase({b->id, CaseState::kAfgesloten, "Schuldhulp loopt", true});
    CHECK(no_code.status().code() == ErrorCode::kRequiredFieldMissing);
    CHECK(no_code.status().field() == "resolution_code");
    auto closing =
        f.db->moveCase({b->id, CaseState::kAfgesloten, "Schuldhulp loopt", true, "overgedragen"});
    REQUIRE(closing.ok());
    CHECK(closing->resolution_code == "overgedragen");
    auto closed = readOk(f.db->getCase(b->id));
    CHECK(closed->state.value == CaseState::kAfgesloten);
    CHECK(closed->resolution_text.value == "Schuldhulp loopt");
    // The code is the server's to write on the case (when the close applies): here it is in
    // the transition only, so a close the server turns into a conflict leaves none behind.
    CHECK_FALSE(closed->resolution_code.isSet());
    CHECK(readOk(f.db->transitions(b->id)).size() == 5);  // assign + 4 moves

    f.become("wc-anna", Role::kWijkcoach);
    CHECK(f.db->myCases()->size() == 4);  // closed case left the list
  }

  SECTION("a coach picks up an open case in their wijk") {
    f.become("co-jan", Role::kCoordinator);
    auto open = f.db->openCase(aCase("G", {"overig"}, "1234AB", "7"));
    f.become("wc-anna", Role::kWijkcoach);
    REQUIRE(f.db->pickUpCase(open->id).ok());
    CHECK(readOk(f.db->getCase(open->id))->assignee.value == "wc-anna");
    CHECK(f.db->pickUpCase(open->id).code() == ErrorCode::kFailedPrecondition);
    CHECK(f.db->wijkQueue("WK015301")->empty());
  }
}

TEST_CASE("a household shows every signal, case, moment and transition at one address",
          "[store][unit]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  auto s1 = f.db->createSignal(aSignal("Eerste", "1234AB", "12"));
  auto s2 = f.db->createSignal(aSignal("Ander huis", "1234AB", "13"));
  auto c = f.db->openCase(aCase());
  REQUIRE((s1.ok() && s2.ok() && c.ok()));
  REQUIRE(f.db->linkSignal(s1->id, c->id).ok());
  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(f.db->addContactMoment(m).ok());
  REQUIRE(f.db->assignCase(c->id, "wc-anna").ok());

  auto h = f.db->household(householdKey({"1234AB", "12", "", "", ""}));
  REQUIRE(h.ok());
  CHECK(ids(h->signals) == std::vector<std::string>{s1->id});
  CHECK(ids(h->cases) == std::vector<std::string>{c->id});
  CHECK(h->contact_moments.size() == 1);
  CHECK(h->transitions.size() == 1);
  CHECK(f.db->household("9999ZZ|1|")->signals.empty());
}

TEST_CASE("remote states merge to the same result in any order, repeatedly",
          "[store][unit][merge]") {
  StoreFixture origin;
  origin.become("co-jan", Role::kCoordinator);
  auto c = origin.db->openCase(aCase());
  REQUIRE(c.ok());
  // Two concurrent deltas from other nodes: one sets priority and adds a category, the other
  // assigns and adds another category.
  Case d1;
  d1.id = c->id;
  d1.priority.set(Priority::kHoog, {origin.db->hlcLast() + 10, 77});
  d1.categories["schulden"] = {true, {origin.db->hlcLast() + 10, 77}};
  Case d2;
  d2.id = c->id;
  d2.assignee.set("wc-anna", {origin.db->hlcLast() + 11, 88});
  d2.categories["overlast"] = {true, {origin.db->hlcLast() + 11, 88}};
  ContactMoment m;
  m.id = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
  m.created = {origin.db->hlcLast() + 12, 88};
  m.case_id = c->id;
  m.author_id = "wc-anna";
  m.at_ms = eropaf::test::kStart;
  m.kind = ContactKind::kHuisbezoek;
  m.outcome = ContactOutcome::kGesprek;
  m.note = "Goed gesprek";

  StoreFixture x, y;
  const std::vector<Record> base{Record(*c)};
  REQUIRE(x.db->applyRemote(base).ok());
  REQUIRE(y.db->applyRemote(base).ok());
  const std::vector<Record> forward{Record(d1), Record(d2), Record(m)};
  const std::vector<Record> backward{Record(m), Record(d2), Record(d1), Record(d2)};
  auto rx = x.db->applyRemote(forward);
  auto ry = y.db->applyRemote(backward);
  REQUIRE((rx.ok() && ry.ok()));
  CHECK(rx->updated == 2);
  CHECK(rx->inserted == 1);
  auto cx = readOk(x.db->getCase(c->id));
  auto cy = readOk(y.db->getCase(c->id));
  REQUIRE((cx && cy));
  CHECK(*cx == *cy);
  CHECK(cx->priority.value == Priority::kHoog);
  CHECK(cx->assignee.value == "wc-anna");
  CHECK(presentElements(cx->categories) ==
        std::vector<std::string>{"overlast", "schulden", "vereenzaming"});
  CHECK(readOk(x.db->contactMoments(c->id)).size() == 1);

  auto again = x.db->applyRemote(forward);
  REQUIRE(again.ok());
  CHECK(again->unchanged == 3);
  CHECK(again->updated == 0);
  CHECK(x.db->hlcLast() >= d2.assignee.version.hlc);  // receive advanced the clock

  SECTION("one invalid record is skipped and counted; the rest of the page applies") {
    ContactMoment bad = m;
    bad.id = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2c";
    bad.note = "\xc0\x80";
    Case d3 = d1;
    d3.priority.set(Priority::kLaag, {origin.db->hlcLast() + 50, 77});
    const std::vector<Record> batch{Record(d3), Record(bad)};
    auto r = x.db->applyRemote(batch);
    REQUIRE(r.ok());
    CHECK(r->skipped == 1);
    CHECK(r->first_skip.code() == ErrorCode::kInvalidUtf8);
    CHECK(readOk(x.db->getCase(c->id))->priority.value == Priority::kLaag);
    CHECK_FALSE(readOk(x.db->contactMoments(c->id)).size() > 1);
  }

  SECTION("a version far in the future is skipped, the others apply") {
    Case far = d1;
    far.priority.set(Priority::kLaag, {hlcPack(eropaf::test::kStart + kDay, 0), 77});
    Case near = d1;
    near.id = c->id;
    near.title.set("Bijgewerkt", {origin.db->hlcLast() + 60, 78});
    const std::vector<Record> batch{Record(far), Record(near)};
    const std::uint64_t before = x.db->hlcLast();
    auto r = x.db->applyRemote(batch);
    REQUIRE(r.ok());
    CHECK(r->skipped == 1);
    CHECK(r->first_skip.code() == ErrorCode::kClockSkew);
    CHECK(readOk(x.db->getCase(c->id))->priority.value == Priority::kHoog);
    CHECK(readOk(x.db->getCase(c->id))->title.value == "Bijgewerkt");
    CHECK(hlcMillis(x.db->hlcLast()) < eropaf::test::kStart + kDay);  // not pushed ahead
    CHECK(x.db->hlcLast() >= before);
  }

  SECTION("versions are judged by the server's clock when the device's clock lags") {
    // The server's clock reads 10 minutes ahead of this device's: what it sends, even 4
    // minutes beyond its own clock, is within its bound and must apply here.
    const std::int64_t server_now = eropaf::test::kStart + std::int64_t{10} * 60'000;
    Case ahead = d1;
    ahead.priority.set(Priority::kLaag, {hlcPack(server_now + std::int64_t{4} * 60'000, 0), 77});
    const std::vector<Record> batch{Record(ahead)};
    auto r = x.db->applyRemote(batch, hlcPack(server_now, 0));
    REQUIRE(r.ok());
    CHECK(r->skipped == 0);
    CHECK(readOk(x.db->getCase(c->id))->priority.value == Priority::kLaag);
    // Judged by its own clock the same record would be refused.
    CHECK_FALSE(y.db->applyRemote(batch)->skipped == 0);
  }
}

TEST_CASE("outbox rows go when acknowledged, stay visible when refused", "[store][unit]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  REQUIRE(f.db->createSignal(aSignal("een")).ok());
  REQUIRE(f.db->createSignal(aSignal("twee")).ok());
  auto out = f.db->outbox();
  REQUIRE(out->size() == 2);
  const std::vector<std::string> first{out->at(0).change_id};
  REQUIRE(f.db->acknowledge(first).ok());
  REQUIRE(f.db->markRefused(out->at(1).change_id,
                            Status(ErrorCode::kPermissionDenied, "not your wijk", "wijk"))
              .ok());
  auto after = f.db->outbox();
  REQUIRE(after->size() == 1);
  CHECK(after->at(0).status == store::OutboxStatus::kRefused);
  CHECK(after->at(0).refusal.code() == ErrorCode::kPermissionDenied);
  CHECK(after->at(0).refusal.field() == "wijk");
  CHECK(f.db->markRefused("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", Status(ErrorCode::kConflict, "x"))
            .code() == ErrorCode::kNotFound);
}

TEST_CASE("eviction removes a case and its children", "[store][unit]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  auto c = f.db->openCase(aCase());
  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(f.db->addContactMoment(m).ok());
  REQUIRE(f.db->evict(c->id).ok());
  CHECK_FALSE(readOk(f.db->getCase(c->id)));
  CHECK(readOk(f.db->contactMoments(c->id)).empty());
}

TEST_CASE("the file holds no address or text in plain form, the wrong key is refused",
          "[store][unit][crypto]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  REQUIRE(f.db->createSignal(aSignal("Geheime-notitie-over-schulden", "9876ZY", "321")).ok());
  f.db.reset();  // close: the WAL is checkpointed into the main file
  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(f.path() + suffix, std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(bytes.size() > 4096);
  CHECK(bytes.find("Geheime-notitie") == std::string::npos);
  CHECK(bytes.find("9876ZY") == std::string::npos);
  CHECK(bytes.find("Dorpsstraat") == std::string::npos);
  CHECK(bytes.find("Test zm-fatima") == std::string::npos);  // the worker's name

  store::OpenOptions o;
  o.path = f.path();
  o.key = eropaf::test::testKey(99);
  auto wrong = store::Store::open(o);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == ErrorCode::kCrypto);
  f.reopen();
  CHECK(f.db->mySignals()->size() == 1);
}

TEST_CASE("writes survive a reopen and the clock never runs backwards across it",
          "[store][unit][hlc]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  auto s = f.db->createSignal(aSignal());
  REQUIRE(s.ok());
  const std::uint64_t before = f.db->hlcLast();
  f.clock->set(eropaf::test::kStart - 10 * kDay);  // the phone's clock jumps back
  f.reopen();
  REQUIRE(f.db->identity());
  CHECK(f.db->identity()->worker_id == "zm-fatima");
  CHECK(readOk(f.db->signal(s->id)).has_value());
  auto later = f.db->createSignal(aSignal("later"));
  REQUIRE(later.ok());
  CHECK(later->created.hlc > before);
  CHECK(readOk(f.db->outboxSize()) == 2);
}

TEST_CASE("sync state is kept encrypted across a reopen, wipe forgets everything",
          "[store][unit][sync]") {
  StoreFixture f;
  f.become("wc-anna", Role::kWijkcoach);
  REQUIRE(f.db->createSignal(aSignal()).ok());
  store::SyncState st{"http://127.0.0.1:8080", "tok-secret-123", "c42", 1234};
  REQUIRE(f.db->setSyncState(st).ok());
  const std::vector<Worker> workers{{"wc-anna", "Anna", Role::kWijkcoach, {"WK015301"}, true}};
  const std::vector<Wijk> wijken{{"WK015301", "Binnenstad"}};
  REQUIRE(f.db->setReference(workers, wijken).ok());
  f.reopen();
  auto back = f.db->syncState();
  REQUIRE(back.ok());
  CHECK(back->token == "tok-secret-123");
  CHECK(back->cursor == "c42");
  CHECK(back->last_sync_ms == 1234);
  CHECK(readOk(f.db->workers()).size() == 1);

  REQUIRE(f.db->wipe().ok());
  CHECK_FALSE(f.db->identity());
  CHECK(readOk(f.db->outboxSize()) == 0);
  CHECK(f.db->syncState()->token.empty());
  f.become("wc-anna", Role::kWijkcoach);
  CHECK(f.db->mySignals()->empty());
}

TEST_CASE("a change refused for clock skew is re-stamped, not lost", "[store][unit][sync]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  f.clock->advance(2 * kDay);  // the phone's clock runs two days ahead
  auto sig = f.db->createSignal(aSignal("Met verkeerde klok"));
  REQUIRE(sig.ok());
  f.clock->advance(-2 * kDay);  // the phone's clock is corrected
  auto out = f.db->outbox();
  REQUIRE(out->size() == 1);
  const std::uint64_t server_hlc = hlcPack(eropaf::test::kStart, 0);
  REQUIRE(f.db->restampChange(out->at(0).change_id, server_hlc).ok());
  auto after = f.db->outbox();
  REQUIRE(after->size() == 1);
  CHECK(after->at(0).change_id != out->at(0).change_id);
  const Signal& delta = std::get<Signal>(after->at(0).delta);
  CHECK(delta.content.text == "Met verkeerde klok");
  CHECK(hlcMillis(delta.created.hlc) <= eropaf::test::kStart + 1);
  CHECK(readOk(f.db->signal(sig->id))->created == delta.created);
}

TEST_CASE("evicting a case also removes signals linked to it that I did not report",
          "[store][unit][sync]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  auto theirs = f.db->createSignal(aSignal("van een ander"));
  f.become("co-jan", Role::kCoordinator);
  auto mine = f.db->createSignal(aSignal("van mij"));
  auto c = f.db->openCase(aCase());
  REQUIRE((theirs.ok() && mine.ok() && c.ok()));
  REQUIRE(f.db->linkSignal(theirs->id, c->id).ok());
  REQUIRE(f.db->linkSignal(mine->id, c->id).ok());
  REQUIRE(f.db->evict(c->id).ok());
  CHECK_FALSE(readOk(f.db->signal(theirs->id)));
  CHECK(readOk(f.db->signal(mine->id)));
}

TEST_CASE("a row that does not decrypt or decode is an error for every read and never not found",
          "[store][unit]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  auto sig = f.db->createSignal(aSignal());
  REQUIRE(sig.ok());
  auto c = f.db->openCase(aCase());
  REQUIRE(c.ok());
  REQUIRE(f.db->assignCase(c->id, "wc-anna").ok());  // and its transition
  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kNietThuis;
  auto moment = f.db->addContactMoment(m);
  REQUIRE(moment.ok());
  const std::vector<Worker> workers{{"wc-anna", "Anna", Role::kWijkcoach, {"WK015301"}, true}};
  const std::vector<Wijk> wijken{{"WK015301", "Binnenstad"}};
  REQUIRE(f.db->setReference(workers, wijken).ok());
  const auto transitions = readOk(f.db->transitions(c->id));
  REQUIRE(transitions.size() == 1);
  const std::string transition_id = transitions.front().id;
  // Every read answers before the damage.
  REQUIRE(readOk(f.db->signal(sig->id)).has_value());
  REQUIRE(readOk(f.db->getCase(c->id)).has_value());
  REQUIRE(readOk(f.db->contactMoments(c->id)).size() == 1);
  REQUIRE(readOk(f.db->workers()).size() == 1);

  const store::detail::Cipher cipher(test::testKey());
  const std::string path = f.path();
  /// Each read of a damaged row fails with `code`; an id this store never held is still ok.
  auto expectReadsFail = [&](ErrorCode code) {
    auto s = f.db->signal(sig->id);
    CHECK_FALSE(s.ok());
    CHECK(s.status().code() == code);
    auto cs = f.db->getCase(c->id);
    CHECK_FALSE(cs.ok());
    CHECK(cs.status().code() == code);
    auto ms = f.db->contactMoments(c->id);
    CHECK_FALSE(ms.ok());
    CHECK(ms.status().code() == code);
    auto ts = f.db->transitions(c->id);
    CHECK_FALSE(ts.ok());
    CHECK(ts.status().code() == code);
    CHECK(f.db->mySignals().status().code() == code);
    CHECK(f.db->conflictCases().ok());  // selects no damaged row
    CHECK(f.db->household(sig->content.household_key).status().code() == code);
    CHECK(f.db->allRecords().status().code() == code);
    CHECK_FALSE(readOk(f.db->signal("0190a0b0-0000-7000-8000-000000000000")).has_value());
    CHECK_FALSE(readOk(f.db->getCase("0190a0b0-0000-7000-8000-000000000000")).has_value());
    CHECK(readOk(f.db->contactMoments("0190a0b0-0000-7000-8000-000000000000")).empty());
  };

  SECTION("bytes that are not a seal under this key: kCrypto") {
    const std::string garbage(64, '\x5a');
    tamper(path, "UPDATE signals SET body = ?1 WHERE id = ?2", garbage, sig->id);
    tamper(path, "UPDATE cases SET body = ?1 WHERE id = ?2", garbage, c->id);
    tamper(path, "UPDATE contact_moments SET body = ?1 WHERE id = ?2", garbage, moment->id);
    tamper(path, "UPDATE transitions SET body = ?1 WHERE id = ?2", garbage, transition_id);
    tamper(path, "UPDATE meta SET value = ?1 WHERE key = ?2", garbage, "reference");
    expectReadsFail(ErrorCode::kCrypto);
    auto w = f.db->workers();
    CHECK_FALSE(w.ok());
    CHECK(w.status().code() == ErrorCode::kCrypto);
  }

  SECTION("a seal under this key that holds no record: kStorageCorrupt") {
    auto junk = [&](const std::string& id) { return cipher.seal("\xff\xff\xff not a record", id); };
    tamper(path, "UPDATE signals SET body = ?1 WHERE id = ?2", junk(sig->id), sig->id);
    tamper(path, "UPDATE cases SET body = ?1 WHERE id = ?2", junk(c->id), c->id);
    tamper(path, "UPDATE contact_moments SET body = ?1 WHERE id = ?2", junk(moment->id),
           moment->id);
    tamper(path, "UPDATE transitions SET body = ?1 WHERE id = ?2", junk(transition_id),
           transition_id);
    tamper(path, "UPDATE meta SET value = ?1 WHERE key = ?2",
           cipher.seal("\xff\xff\xff not reference data", "reference"), "reference");
    expectReadsFail(ErrorCode::kStorageCorrupt);
    auto w = f.db->workers();
    CHECK_FALSE(w.ok());
    CHECK(w.status().code() == ErrorCode::kStorageCorrupt);
  }

  SECTION("a body moved to another row does not open, another kind does not pass") {
    // The signal's sealed body in the case's row: sealed for another id, so kCrypto.
    tamper(path,
           "UPDATE cases SET body = (SELECT body FROM signals WHERE id = CAST(?1 AS TEXT)) "
           "WHERE id = ?2",
           sig->id, c->id);
    auto moved = f.db->getCase(c->id);
    CHECK_FALSE(moved.ok());
    CHECK(moved.status().code() == ErrorCode::kCrypto);
    // The signal, sealed for the case's id: it opens, but it is not a case.
    tamper(path, "UPDATE cases SET body = ?1 WHERE id = ?2",
           cipher.seal(encodeRecord(Record(*sig)), c->id), c->id);
    auto other = f.db->getCase(c->id);
    CHECK_FALSE(other.ok());
    CHECK(other.status().code() == ErrorCode::kStorageCorrupt);
    CHECK(f.db->household(sig->content.household_key).status().code() ==
          ErrorCode::kStorageCorrupt);
    CHECK(readOk(f.db->signal(sig->id)).has_value());  // the undamaged rows still read
  }

  SECTION("an outbox row of no known kind: kStorageCorrupt, not skipped") {
    tamper(path, "UPDATE outbox SET kind = 9 WHERE seq = (SELECT min(seq) FROM outbox) AND ?1 = ?1",
           "x", "");
    CHECK(f.db->outbox().status().code() == ErrorCode::kStorageCorrupt);
  }
}

TEST_CASE("the device refuses to assign a case to a colleague the server said cannot take it",
          "[store][unit][permissions]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  const std::vector<Worker> colleagues{
      {"wc-anna", "Anna", Role::kWijkcoach, {"WK015301"}, true},
      {"wc-far", "Far", Role::kWijkcoach, {"WK036301"}, true},
      {"zm-fatima", "Fatima", Role::kZorgmedewerker, {"WK015301"}, true}};
  REQUIRE(f.db->setReference(colleagues, {}).ok());
  auto c = f.db->openCase(aCase());
  REQUIRE(c.ok());
  for (const char* who : {"wc-far", "zm-fatima"}) {
    INFO(who);
    const Status st = f.db->assignCase(c->id, who);
    CHECK(st.code() == ErrorCode::kFailedPrecondition);
    CHECK(st.field() == "assignee");
  }
  CHECK(readOk(f.db->getCase(c->id))->assignee.value.empty());
  CHECK(f.db->assignCase(c->id, "wc-anna").ok());
  // One the server has not told about yet is left to the server.
  auto d = f.db->openCase(aCase());
  CHECK(f.db->assignCase(d->id, "wc-new").ok());
}

TEST_CASE("matchIds finds records by a prefix of the id or of its short form",
          "[store][unit][ids]") {
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator);
  auto made = f.db->openCase(aCase());
  REQUIRE(made.ok());
  // Known ids: A and B share the first four digits of their short forms (4e8b); C's short form
  // starts with the first group of A and B; D shares 4e8b too but is deleted.
  const std::string a = "0190a1b2-c3d4-7e5f-8a6b-4e8b1c0d2f6a";
  const std::string b = "0190a1b2-c3d4-7e5f-8a6b-4e8b99990000";
  const std::string c = "0190a1b3-0000-7000-8000-0190a1b2ffff";
  const std::string d = "0190a1b4-0000-7000-8000-4e8b00000000";
  std::vector<Record> copies;
  for (const std::string& id : {a, b, c, d}) {
    Case x = *made;
    x.id = id;
    if (id == d) x.deleted.set(true, {f.db->hlcLast() + 1, 99});
    copies.emplace_back(x);
  }
  // A contact moment whose short form starts the same way lives in another table.
  ContactMoment m;
  m.id = "0190a1b5-0000-7000-8000-4e8b77777777";
  m.created = {f.db->hlcLast() + 1, 99};
  m.case_id = a;
  m.author_id = "co-jan";
  m.at_ms = eropaf::test::kStart;
  m.kind = ContactKind::kTelefoon;
  m.outcome = ContactOutcome::kNietThuis;
  copies.emplace_back(m);
  const auto applied = readOk(f.db->applyRemote(copies));
  REQUIRE(applied.skipped == 0);
  REQUIRE(applied.inserted == 5);
  using V = std::vector<std::string>;

  CHECK(shortId(a) == "4e8b1c0d");
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "4e8b1")) == V{a});
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "4E8B1C")) == V{a});          // either case
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "4e8b")) == V{a, b});         // ambiguous; no D
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "0190a1b2")) == V{a, b, c});  // full or short
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "0190a1b2", 2)).size() == 2);
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "0190a1b2-c3d4-7e5f-8a6b-4e8b9")) == V{b});
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, a)) == V{a});
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, made->id)) == V{made->id});
  CHECK(readOk(f.db->matchIds(RecordKind::kContactMoment, "4e8b")) == V{m.id});
  CHECK(readOk(f.db->matchIds(RecordKind::kSignal, "4e8b")).empty());
  // Only the last group is the short form: digits of the other groups match nothing there.
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "c3d4")).empty());
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "8a6b")).empty());
  CHECK(readOk(f.db->matchIds(RecordKind::kCase, "ffff")).empty());

  CHECK(f.db->matchIds(static_cast<RecordKind>(9), "4e8b").status().field() == "kind");

  SECTION("anything but hex digits and '-' is refused, never a wildcard") {
    for (const std::string& bad :
         {std::string(), std::string("%"), std::string("_"), std::string("4e8b%"),
          std::string("4e8_"), std::string("4e8g"), std::string(" 4e8b"), std::string("4e8b'--"),
          std::string("4e8\\"), std::string(37, 'a'), "4e" + std::string(1, '\0') + "8b"}) {
      INFO("prefix '" << bad << "'");
      auto r = f.db->matchIds(RecordKind::kCase, bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == ErrorCode::kInvalidArgument);
      CHECK(r.status().field() == "prefix");
    }
  }
}
