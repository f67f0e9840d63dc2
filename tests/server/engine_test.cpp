// The server engine with real device stores: enrollment, need-to-know scope (whole records on
// entry, evictions on exit, nothing outside scope), per-change authorisation, conflicting
// transitions on the coordinator's list, and pushes that apply once however often retried.
#include <catch2/catch.hpp>

#include "eropaf/id.hpp"
#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::aSignal;
using eropaf::test::Device;
using eropaf::test::EngineFixture;
using eropaf::test::readOk;

namespace {

std::string rawBytes(const std::vector<v1::PullResponse>& pages) {
  std::string all;
  for (const auto& p : pages) all += p.SerializeAsString();
  return all;
}

Status answerOf(const v1::PushResponse& r, int i) {
  const auto& res = r.results(i);
  if (res.accepted()) return {};
  return Status(static_cast<ErrorCode>(res.error().code()), res.error().message(),
                res.error().field());
}

}  // namespace

TEST_CASE("enrollment codes are one-time, tokens authenticate, revoked devices are told",
          "[server][engine]") {
  EngineFixture s;
  REQUIRE(s.engine->addWorker({"wc-anna", "Anna", Role::kWijkcoach, {"WK015301"}, true}).ok());
  auto code = s.engine->createEnrollmentCode("wc-anna");
  REQUIRE(code.ok());
  auto resp = s.enrollRaw(*code);
  CHECK(resp.worker().id() == "wc-anna");
  CHECK(resp.reference().categories_size() == 11);
  CHECK_THROWS(s.enrollRaw(*code));  // used
  auto p = s.engine->authenticate(resp.token());
  REQUIRE(p.ok());
  CHECK(p->worker.role == Role::kWijkcoach);
  std::string forged = resp.token();
  forged.back() = forged.back() == 'a' ? 'b' : 'a';
  CHECK(s.engine->authenticate(forged).status().code() == ErrorCode::kUnauthenticated);
  CHECK(s.engine->authenticate("").status().code() == ErrorCode::kUnauthenticated);
  REQUIRE(s.engine->revokeDevice(resp.device_id()).ok());
  CHECK(s.engine->authenticate(resp.token()).status().code() == ErrorCode::kDeviceRevoked);
  CHECK(s.engine->createEnrollmentCode("nobody").status().code() == ErrorCode::kNotFound);
}

TEST_CASE("a signal travels from a home-care worker to the coordinator and back as 'picked up'",
          "[server][engine][scope]") {
  EngineFixture s;
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  auto co = s.device("co-jan", Role::kCoordinator, {"WK015301"});
  auto far = s.device("wc-piet", Role::kWijkcoach, {"WK015302"});
  auto anna = s.device("wc-anna", Role::kWijkcoach, {"WK015301"});  // an assignee must exist

  auto sig = zm->db().createSignal(aSignal("Mevrouw valt vaak, koelkast leeg"));
  REQUIRE(sig.ok());
  auto pushed = s.push(*zm);
  REQUIRE(pushed.results_size() == 1);
  CHECK(pushed.results(0).accepted());
  CHECK(readOk(zm->db().outboxSize()) == 0);

  s.pull(*co);
  auto untriaged = co->db().untriagedSignals("WK015301");
  REQUIRE(untriaged->size() == 1);
  CHECK(untriaged->at(0).content.text == "Mevrouw valt vaak, koelkast leeg");

  store::NewCase nc = aCase();
  nc.signal_ids = {sig->id};
  auto c = co->db().openCase(nc);
  REQUIRE(c.ok());
  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  auto r = s.push(*co);
  for (int i = 0; i < r.results_size(); ++i) CHECK(answerOf(r, i).ok());

  // The reporter sees only that it was picked up: no case id, no case.
  auto pages = s.pull(*zm);
  auto mine = readOk(zm->db().signal(sig->id));
  REQUIRE(mine);
  CHECK(mine->triage_state.value == TriageState::kGekoppeld);
  CHECK(mine->case_id.value.empty());
  CHECK_FALSE(readOk(zm->db().getCase(c->id)));
  CHECK(rawBytes(pages).find(c->id) == std::string::npos);

  // A coach of another wijk learns nothing at all.
  auto far_pages = s.pull(*far);
  const std::string raw = rawBytes(far_pages);
  CHECK(raw.find(sig->id) == std::string::npos);
  CHECK(raw.find(c->id) == std::string::npos);
  CHECK(raw.find("Dorpsstraat") == std::string::npos);
  CHECK(raw.find("koelkast") == std::string::npos);
}

TEST_CASE("assigned coaches get the whole case with its history, reassigned away, it leaves",
          "[server][engine][scope]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto bram = s.device("wc-bram", Role::kWijkcoach);

  auto c = co->db().openCase(aCase("Huurachterstand", {"schulden"}));
  REQUIRE(c.ok());
  s.push(*co);

  // Unassigned: coaches of the wijk see it in the queue without personal detail.
  auto q = s.pull(*anna);
  auto queued = anna->db().wijkQueue("WK015301");
  REQUIRE(queued->size() == 1);
  CHECK(queued->at(0).title.value.empty());
  CHECK_FALSE(queued->at(0).address.isSet());
  CHECK(rawBytes(q).find("Huurachterstand") == std::string::npos);
  s.pull(*bram);

  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  s.push(*co);
  s.pull(*anna);
  auto mine = anna->db().myCases();
  REQUIRE(mine->size() == 1);
  CHECK(mine->at(0).title.value == "Huurachterstand");
  CHECK(mine->at(0).address.value.street == "Dorpsstraat");

  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(anna->db().addContactMoment(m).ok());
  m.outcome = ContactOutcome::kGesprek;
  m.note = "Wil hulp bij brieven";
  REQUIRE(anna->db().addContactMoment(m).ok());
  REQUIRE(anna->db().moveCase({c->id, CaseState::kContactZoeken, "", false}).ok());
  auto pr = s.push(*anna);
  for (int i = 0; i < pr.results_size(); ++i) CHECK(answerOf(pr, i).ok());

  // Bram's queue copy goes away once Anna has it.
  s.pull(*bram);
  CHECK(bram->db().wijkQueue("WK015301")->empty());
  CHECK_FALSE(readOk(bram->db().getCase(c->id)));

  s.pull(*co);
  REQUIRE(co->db().assignCase(c->id, "wc-bram").ok());
  s.push(*co);
  s.pull(*anna);
  s.pull(*bram);
  CHECK_FALSE(readOk(anna->db().getCase(c->id)));
  CHECK(readOk(anna->db().contactMoments(c->id)).empty());
  auto theirs = readOk(bram->db().getCase(c->id));
  REQUIRE(theirs);
  CHECK(theirs->state.value == CaseState::kContactZoeken);
  CHECK(readOk(bram->db().contactMoments(c->id)).size() == 2);
  CHECK(readOk(bram->db().transitions(c->id)).size() == 2);
}

TEST_CASE("contradicting offline transitions put the case on the conflict list, both kept",
          "[server][engine][conflict]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto c = co->db().openCase(aCase());
  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  s.push(*co);
  s.pull(*anna);
  REQUIRE(anna->db().moveCase({c->id, CaseState::kContactZoeken, "", false}).ok());
  REQUIRE(anna->db().moveCase({c->id, CaseState::kInBehandeling, "", false}).ok());
  s.push(*anna);
  s.pull(*co);
  s.pull(*anna);

  // Offline, Anna puts the case on hold while the coordinator's tablet refers it.
  REQUIRE(anna->db().moveCase({c->id, CaseState::kWacht, "Wacht op schuldhulp", false}).ok());
  REQUIRE(co->db()
              .moveCase({c->id, CaseState::kDoorverwezen, "Naar maatschappelijk werk", false})
              .ok());
  auto first = s.push(*co);
  CHECK(answerOf(first, 0).ok());
  auto second = s.push(*anna);
  CHECK(answerOf(second, 0).ok());  // accepted as a record: kept, but in conflict

  s.pull(*co);
  auto conflicts = co->db().conflictCases();
  REQUIRE(conflicts->size() == 1);
  CHECK(conflicts->at(0).state.value == CaseState::kDoorverwezen);
  int applied = 0, conflicting = 0;
  for (const auto& t : readOk(co->db().transitions(c->id))) {
    if (t.outcome.value == TransitionOutcome::kApplied) ++applied;
    if (t.outcome.value == TransitionOutcome::kConflict) {
      ++conflicting;
      CHECK(t.to == CaseState::kWacht);
      CHECK(t.reason == "Wacht op schuldhulp");
    }
  }
  CHECK(conflicting == 1);
  CHECK(applied == 4);  // assign + 2 moves + the referral

  // Anna's optimistic "wacht" is overruled by the server's state.
  s.pull(*anna);
  CHECK(readOk(anna->db().getCase(c->id))->state.value == CaseState::kDoorverwezen);

  // The coordinator resolves: the case leaves the list, the conflicting move is marked.
  CHECK(co->db().resolveConflict(c->id, std::nullopt, "").code() ==
        ErrorCode::kRequiredFieldMissing);
  REQUIRE(co->db().resolveConflict(c->id, std::nullopt, "Doorverwijzing gaat voor").ok());
  auto resolved = s.push(*co);
  CHECK(answerOf(resolved, 0).ok());
  s.pull(*co);
  s.pull(*anna);
  CHECK(co->db().conflictCases()->empty());
  CHECK_FALSE(readOk(anna->db().getCase(c->id))->conflict.value);
  int marked = 0;
  for (const auto& t : readOk(co->db().transitions(c->id))) {
    if (t.outcome.value == TransitionOutcome::kResolved) ++marked;
  }
  CHECK(marked == 1);
  CHECK(co->db().resolveConflict(c->id, std::nullopt, "nog eens").code() ==
        ErrorCode::kFailedPrecondition);
}

TEST_CASE("a retried push applies once, refusals are per change and say why",
          "[server][engine][push]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto c = co->db().openCase(aCase());
  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  const v1::PushRequest req = EngineFixture::outboxRequest(*co);
  auto once = s.pushRaw(co->principal, req);
  const auto seq = s.engine->lastSeq();
  auto twice = s.pushRaw(co->principal, req);
  CHECK(once.SerializeAsString().size() > 0);
  REQUIRE(twice.results_size() == once.results_size());
  for (int i = 0; i < once.results_size(); ++i) {
    CHECK(twice.results(i).accepted() == once.results(i).accepted());
  }
  CHECK(s.engine->lastSeq() == seq);  // nothing written again

  s.pull(*anna);
  SECTION("a field the role may not write") {
    Case delta;
    delta.id = c->id;
    delta.priority.set(Priority::kAcuut, {anna->db().hlcLast() + 1, anna->db().node()});
    v1::PushRequest bad;
    auto* ch = bad.add_changes();
    ch->set_change_id(newUuidV7(eropaf::test::kStart));
    wire::toProto(Record(delta), *ch->mutable_record());
    auto r = s.pushRaw(anna->principal, bad);
    CHECK(answerOf(r, 0).code() == ErrorCode::kPermissionDenied);
    // One refusal per record, whatever field: which field was refused is never told.
    CHECK(answerOf(r, 0).field().empty());
    CHECK(answerOf(r, 0).message() == "you may not make this change to this case");
  }
  SECTION("a transition the role may not make") {
    Transition t;
    t.id = newUuidV7(eropaf::test::kStart);
    t.created = {anna->db().hlcLast() + 1, anna->db().node()};
    t.case_id = c->id;
    t.from = CaseState::kToegewezen;
    t.to = CaseState::kGeannuleerd;
    t.actor_id = "wc-anna";
    t.actor_role = Role::kWijkcoach;
    t.at_ms = eropaf::test::kStart;
    t.reason = "zelf gestopt";
    v1::PushRequest bad;
    auto* ch = bad.add_changes();
    ch->set_change_id(newUuidV7(eropaf::test::kStart));
    wire::toProto(Record(t), *ch->mutable_record());
    auto r = s.pushRaw(anna->principal, bad);
    CHECK(answerOf(r, 0).code() == ErrorCode::kTransitionNotAllowed);
  }
  SECTION("a version far in the future") {
    s.clock->advance(3 * eropaf::test::kDay);
    auto sig = anna->db().createSignal(aSignal());
    s.clock->advance(-3 * eropaf::test::kDay);
    auto r = s.push(*anna);
    REQUIRE(r.results_size() == 1);
    CHECK(answerOf(r, 0).code() == ErrorCode::kClockSkew);
    // The device re-stamps and the change goes through.
    auto out = anna->db().outbox();
    REQUIRE(anna->db().restampChange(out->at(0).change_id, r.server_version().hlc()).ok());
    auto again = s.push(*anna);
    CHECK(answerOf(again, 0).ok());
  }
  SECTION("a signal in someone else's name") {
    Signal forged;
    forged.id = newUuidV7(eropaf::test::kStart);
    forged.created = {anna->db().hlcLast() + 1, 5};
    forged.content.reporter_id = "co-jan";
    forged.content.source_role = Role::kCoordinator;
    forged.content.wijk = "WK015301";
    forged.content.address = {"1234AB", "1", "", "", ""};
    forged.content.household_key = householdKey(forged.content.address);
    forged.content.categories = {"overig"};
    forged.content.urgency = Urgency::kLaag;
    forged.content.observed_at_ms = eropaf::test::kStart;
    forged.content.text = "x";
    forged.content.informed = Informed::kYes;
    v1::PushRequest bad;
    auto* ch = bad.add_changes();
    ch->set_change_id(newUuidV7(eropaf::test::kStart));
    wire::toProto(Record(forged), *ch->mutable_record());
    auto r = s.pushRaw(anna->principal, bad);
    CHECK(answerOf(r, 0).code() == ErrorCode::kPermissionDenied);
  }
}

TEST_CASE("cursors are sealed by the server: a forged or altered one starts over",
          "[server][engine][security]") {
  EngineFixture s;
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  REQUIRE(zm->db().createSignal(aSignal("Eerste melding")).ok());
  s.push(*zm);
  s.pull(*zm);
  const std::string genuine = zm->cursor;
  REQUIRE(genuine.rfind("c2.", 0) == 0);
  // The plain form is not readable in it.
  CHECK(genuine.find(std::to_string(s.engine->lastSeq()) + ".") == std::string::npos);
  auto pullWith = [&](const std::string& cursor) {
    v1::PullRequest req;
    req.set_cursor(cursor);
    auto r = s.engine->pull(zm->principal, req);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK_FALSE(pullWith(genuine).reset());
  std::string altered = genuine;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  for (const std::string& forged :
       {altered, std::string("v1.0.") + "abcdefabcdef" + ".0", std::string("c2.AAAA")}) {
    INFO(forged);
    const v1::PullResponse r = pullWith(forged);
    CHECK(r.reset());
    CHECK(s.engine->cursorSeq(forged) == 0);
  }
  CHECK(s.engine->cursorSeq(genuine) == s.engine->lastSeq());
}

TEST_CASE("a device's own pushes are not sent back to it, unless it is rebuilding its store",
          "[server][engine][scope]") {
  EngineFixture s;
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto co = s.device("co-jan", Role::kCoordinator);
  auto pulledIn = [](const std::vector<v1::PullResponse>& pages, const std::string& id) {
    return rawBytes(pages).find(id) != std::string::npos;
  };
  auto pullLines = [&](const std::string& id) {
    auto log = s.engine->accessLog(1000);
    REQUIRE(log.ok());
    return std::count_if(log->begin(), log->end(), [&](const server::AccessEntry& e) {
      return e.record_id == id && e.action.rfind("pull:", 0) == 0;
    });
  };

  // A first pull (no cursor) carries everything, its own pushes too: the store may be new.
  auto first = anna->db().createSignal(aSignal("Eerste melding"));
  REQUIRE(first.ok());
  s.push(*anna);
  CHECK(pulledIn(s.pull(*anna), first->id));

  // Caught up: what it pushes next is not sent back, and no read of it is logged.
  auto second = anna->db().createSignal(aSignal("Tweede melding"));
  REQUIRE(second.ok());
  s.push(*anna);
  CHECK_FALSE(pulledIn(s.pull(*anna), second->id));
  CHECK(pullLines(second->id) == 0);
  CHECK(readOk(anna->db().signal(second->id)));

  // Everyone else gets it, the same worker's other device too.
  CHECK(pulledIn(s.pull(*co), second->id));
  CHECK(pullLines(second->id) == 1);
  auto code = s.engine->createEnrollmentCode("wc-anna");
  REQUIRE(code.ok());
  auto tablet = s.engine->authenticate(s.enrollRaw(*code).token());
  REQUIRE(tablet.ok());
  auto tablet_pull = [&](const std::string& cursor) {
    v1::PullRequest req;
    req.set_cursor(cursor);
    auto r = s.engine->pull(*tablet, req);
    REQUIRE(r.ok());
    return *r;
  };
  const v1::PullResponse on_tablet = tablet_pull("");
  CHECK(pulledIn({on_tablet}, second->id));

  // Written by someone else after the push: sent (the device lacks that change).
  store::NewCase nc = aCase();
  nc.signal_ids = {second->id};
  REQUIRE(co->db().openCase(nc).ok());
  s.push(*co);
  CHECK(pulledIn(s.pull(*anna), second->id));
  CHECK(pulledIn({tablet_pull(on_tablet.next_cursor())}, second->id));
  // A reset (a cursor the server no longer accepts) drops the device's records: while it
  // rebuilds, its own pushes come back like everything else.
  std::string altered = anna->cursor;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  anna->cursor = altered;
  v1::PullRequest req;
  req.set_cursor(anna->cursor);
  auto r = s.engine->pull(anna->principal, req);
  REQUIRE(r.ok());
  CHECK(r->reset());
  const std::string bytes = r->SerializeAsString();
  CHECK(bytes.find(first->id) != std::string::npos);
  CHECK(bytes.find(second->id) != std::string::npos);
}

TEST_CASE("a coach's own contact moments come back with her case when it returns to her",
          "[server][engine][scope]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto bram = s.device("wc-bram", Role::kWijkcoach);
  auto c = co->db().openCase(aCase("Huurachterstand", {"schulden"}));
  REQUIRE(c.ok());
  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  s.push(*co);
  s.pull(*anna);
  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kGesprek;
  m.note = "Wil hulp bij brieven";
  auto moment = anna->db().addContactMoment(m);
  REQUIRE(moment.ok());
  s.push(*anna);
  s.pull(*anna);  // her own moment is not sent back
  REQUIRE(readOk(anna->db().contactMoments(c->id)).size() == 1);

  // Reassigned away: the case and its history leave her phone ...
  s.pull(*co);
  REQUIRE(co->db().assignCase(c->id, "wc-bram").ok());
  s.push(*co);
  s.pull(*anna);
  REQUIRE(readOk(anna->db().contactMoments(c->id)).empty());
  // ... and back: her own moment returns with it, though she wrote it.
  s.pull(*co);
  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  s.push(*co);
  s.pull(*anna);
  auto back = readOk(anna->db().contactMoments(c->id));
  REQUIRE(back.size() == 1);
  CHECK(back[0].id == moment->id);
  CHECK(back[0].note == "Wil hulp bij brieven");
}

TEST_CASE("a commit wakes only the long polls of the audiences it touched",
          "[server][engine][scope]") {
  EngineFixture s;
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker, {"WK015301"});
  auto far = s.device("wc-piet", Role::kWijkcoach, {"WK015302"});
  auto co_far = s.device("co-els", Role::kCoordinator, {"WK015302"});
  auto co = s.device("co-jan", Role::kCoordinator, {"WK015301"});
  s.pull(*far);
  s.pull(*co);
  std::atomic<int> far_woken{0};
  std::atomic<int> co_woken{0};
  s.engine->waitForChange(s.engine->cursorSeq(far->cursor), far->principal,
                          [&](bool) { ++far_woken; });
  s.engine->waitForChange(s.engine->cursorSeq(co->cursor), co->principal,
                          [&](bool) { ++co_woken; });

  // A signal in WK015301: its coordinator is woken (the wake runs before the push answers),
  // a coach of WK015302 is not.
  REQUIRE(zm->db().createSignal(aSignal("Buurvrouw ongerust")).ok());
  s.push(*zm);
  CHECK(co_woken == 1);
  CHECK(far_woken == 0);

  // A case entering the queue of WK015302 wakes him.
  store::NewCase nc = aCase();
  nc.wijk = "WK015302";
  REQUIRE(co_far->db().openCase(nc).ok());
  s.push(*co_far);
  CHECK(far_woken == 1);
}
