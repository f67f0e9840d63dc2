// The console's engine side (engine.hpp "console"): the field day's triage done through
// consoleAct by a coordinator, with real device stores for a zorgmedewerker and two coaches,
// each step seen on the devices' next pull; the werkvoorraad, casus and conflict reads with
// their access-log lines (role, peer); and the refusals: another wijk's signal, a coach, bad
// arguments, and an all-or-nothing push whose second change is refused.
#include <catch2/catch.hpp>
#include <future>

#include "eropaf/id.hpp"
#include "eropaf/permissions.hpp"
#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aSignal;
using eropaf::test::EngineFixture;
using eropaf::test::readOk;

namespace {

const server::RequestContext kDesk{"192.0.2.7"};

v1::ActionResult act(EngineFixture& s, const server::Principal& p, const v1::ConsoleAction& a) {
  auto r = s.engine->consoleAct(p, a, kDesk);
  if (!r.ok()) throw std::runtime_error(r.status().toString());
  return *r;
}

/// The action's changes all applied; else the first refusal, for the failure message.
std::string outcome(const v1::ActionResult& r) {
  if (r.has_error()) return "verb: " + r.error().message() + " (" + r.error().field() + ")";
  for (const auto& c : r.results()) {
    if (!c.accepted()) return "refused: " + c.error().message() + " (" + c.error().field() + ")";
  }
  return r.applied() ? "applied" : "not applied";
}

v1::ConsoleAction openFrom(const std::string& signal_id, bool new_case = false) {
  v1::ConsoleAction a;
  a.mutable_open_case()->set_from_signal(signal_id);
  a.mutable_open_case()->set_new_case(new_case);
  return a;
}

}  // namespace

TEST_CASE("console: the field day's triage through consoleAct, seen on the devices",
          "[server][engine][console]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto bert = s.device("wc-bert", Role::kWijkcoach, {"WK015302"});
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  const server::Principal& desk = co->principal;

  const std::string xss = "<img src=x onerror=alert(1)>";
  auto first = zm->db().createSignal(aSignal(xss, "1234AB", "12"));
  s.clock->advance(60'000);
  auto again = zm->db().createSignal(aSignal("Nog eens dezelfde mevrouw", "1234AB", "12"));
  s.clock->advance(60'000);
  auto junk = zm->db().createSignal(aSignal("Onzin", "9999ZZ", "1"));
  s.clock->advance(60'000);
  store::NewSignal acute = aSignal("Acuut: rook uit de woning", "5555AA", "5");
  acute.urgency = Urgency::kAcuut;
  auto urgent = zm->db().createSignal(acute);
  REQUIRE((first.ok() && again.ok() && junk.ok() && urgent.ok()));
  s.push(*zm);
  s.pull(*zm);

  // Werkvoorraad: most urgent first, then oldest; text byte-identical; the household hint.
  auto queue = s.engine->consoleQueue(desk, "", kDesk);
  REQUIRE(queue.ok());
  REQUIRE(queue->items_size() == 4);
  CHECK(queue->items(0).signal().id() == urgent->id);
  CHECK(queue->items(1).signal().id() == first->id);
  CHECK(queue->items(1).signal().content().text() == xss);
  CHECK(queue->items(1).hint().recent_signals() == 1);  // "again", same household
  CHECK(queue->items(3).signal().id() == junk->id);
  CHECK(queue->items(3).hint().recent_signals() == 0);

  // Open a case from the first signal: case + link, both applied.
  const v1::ActionResult opened = act(s, desk, openFrom(first->id));
  INFO(outcome(opened));
  REQUIRE(opened.applied());
  REQUIRE(opened.results_size() >= 2);
  const std::string& case_id = opened.case_id();
  REQUIRE(isValidUuid(case_id));
  s.pull(*zm);
  CHECK(readOk(zm->db().signal(first->id))->triage_state.value == TriageState::kGekoppeld);

  // The second signal of the household is a duplicate of the first.
  v1::ConsoleAction dup;
  dup.mutable_mark_duplicate()->set_signal_id(again->id);
  dup.mutable_mark_duplicate()->set_of_signal_id(first->id);
  const v1::ActionResult duped = act(s, desk, dup);
  INFO(outcome(duped));
  REQUIRE(duped.applied());
  s.pull(*zm);
  CHECK(readOk(zm->db().signal(again->id))->triage_state.value == TriageState::kDuplicaat);

  // Reject the junk signal; the reporter sees afgewezen, never the reason.
  v1::ConsoleAction reject;
  reject.mutable_reject_signal()->set_signal_id(junk->id);
  reject.mutable_reject_signal()->set_reason("geen zorgsignaal, burenruzie");
  const v1::ActionResult rejected = act(s, desk, reject);
  INFO(outcome(rejected));
  REQUIRE(rejected.applied());
  s.pull(*zm);
  const auto junk_now = readOk(zm->db().signal(junk->id));
  CHECK(junk_now->triage_state.value == TriageState::kAfgewezen);
  CHECK(junk_now->triage_reason.value.empty());

  // Only the acute signal is left in the werkvoorraad.
  queue = s.engine->consoleQueue(desk, "WK015301", kDesk);
  REQUIRE(queue.ok());
  REQUIRE(queue->items_size() == 1);
  CHECK(queue->items(0).signal().id() == urgent->id);

  // Casus: the picker offers the wijk's active coaches and coordinators (permissions::
  // mayAssign): no zorgmedewerker, no coach of another wijk, no inactive coach.
  REQUIRE(s.engine->addWorker({"wc-carla", "Name wc-carla", Role::kWijkcoach, {"WK015301"}, true})
              .ok());
  REQUIRE(s.engine->deactivateWorker("wc-carla").ok());
  auto detail = s.engine->consoleCase(desk, case_id, kDesk);
  REQUIRE(detail.ok());
  std::vector<std::string> picker;
  for (const auto& w : detail->assignees()) picker.push_back(w.id());
  CHECK(picker == std::vector<std::string>{"co-jan", "wc-anna"});
  CHECK(detail->signals_size() == 2);  // the first and its duplicate
  for (const auto& sig : detail->signals()) {
    if (sig.id() == first->id) CHECK(sig.content().text() == xss);
  }

  v1::ConsoleAction assign;
  assign.mutable_assign_case()->set_case_id(case_id);
  assign.mutable_assign_case()->set_worker_id("wc-anna");
  const v1::ActionResult assigned = act(s, desk, assign);
  INFO(outcome(assigned));
  REQUIRE(assigned.applied());
  s.pull(*anna);
  REQUIRE(readOk(anna->db().getCase(case_id)).has_value());
  CHECK(readOk(anna->db().getCase(case_id))->assignee.value == "wc-anna");
  // Assigning zm or bert is the verb's refusal, naming the field; nothing is pushed.
  // Assigning zm, carla or bert is refused naming the field: by the verb (zm, carla: in the
  // console store's reference) or by the server (bert: not of her wijken, so not in it).
  for (const char* wrong : {"zm-fatima", "wc-carla", "wc-bert"}) {
    INFO(wrong);
    assign.mutable_assign_case()->set_worker_id(wrong);
    const v1::ActionResult no = act(s, desk, assign);
    CHECK_FALSE(no.applied());
    if (no.has_error()) {
      CHECK(no.error().field() == "assignee");
      CHECK(no.results_size() == 0);
    } else {
      REQUIRE(no.results_size() == 1);
      CHECK(no.results(0).error().field() == "assignee");
    }
  }
  s.pull(*anna);
  CHECK(readOk(anna->db().getCase(case_id))->assignee.value == "wc-anna");

  // Merge a duplicate case: a second case for the household, merged into the first.
  auto third = zm->db().createSignal(aSignal("Derde melding", "1234AB", "12"));
  REQUIRE(third.ok());
  s.push(*zm);
  const v1::ActionResult refused_open = act(s, desk, openFrom(third->id));
  CHECK(refused_open.has_error());  // the household has an open case: new_case needed
  CHECK(refused_open.error().field() == "address");
  const v1::ActionResult second = act(s, desk, openFrom(third->id, true));
  INFO(outcome(second));
  REQUIRE(second.applied());
  v1::ConsoleAction merge;
  merge.mutable_merge_case()->set_case_id(second.case_id());
  merge.mutable_merge_case()->set_into_id(case_id);
  merge.mutable_merge_case()->set_reason("zelfde huishouden");
  const v1::ActionResult merged = act(s, desk, merge);
  INFO(outcome(merged));
  REQUIRE(merged.applied());
  CHECK(merged.case_id() == case_id);
  s.pull(*anna);
  const auto source = readOk(anna->db().getCase(second.case_id()));
  REQUIRE(source.has_value());
  CHECK(source->merged_into.value == case_id);
  CHECK(source->state.value == CaseState::kAfgesloten);
  s.pull(*zm);
  CHECK(readOk(zm->db().signal(third->id))->triage_state.value == TriageState::kGekoppeld);

  // A conflict: anna's offline "wacht" against the console's referral.
  REQUIRE(anna->db().moveCase({case_id, CaseState::kContactZoeken, "", false}).ok());
  store::NewContactMoment m;
  m.case_id = case_id;
  m.kind = ContactKind::kHuisbezoek;
  m.outcome = ContactOutcome::kGesprek;
  REQUIRE(anna->db().addContactMoment(m).ok());
  s.clock->advance(60'000);
  store::NewContactMoment fix = m;  // the same visit, corrected: the first is superseded
  fix.note = "Gesprek met mevrouw en dochter";
  fix.corrects_id = readOk(anna->db().contactMoments(case_id)).at(0).id;
  REQUIRE(anna->db().addContactMoment(fix).ok());
  REQUIRE(anna->db().moveCase({case_id, CaseState::kInBehandeling, "", false}).ok());
  s.sync(*anna);
  REQUIRE(anna->db().moveCase({case_id, CaseState::kWacht, "Wacht op schuldhulp", false}).ok());
  v1::ConsoleAction refer;
  refer.mutable_move_case()->set_case_id(case_id);
  refer.mutable_move_case()->set_to(v1::CASE_STATE_DOORVERWEZEN);
  refer.mutable_move_case()->set_reason("Naar maatschappelijk werk");
  const v1::ActionResult referred = act(s, desk, refer);
  INFO(outcome(referred));
  REQUIRE(referred.applied());
  s.push(*anna);  // accepted as a record, decided a conflict
  auto conflicts = s.engine->consoleConflicts(desk, kDesk);
  REQUIRE(conflicts.ok());
  REQUIRE(conflicts->cases_size() == 1);
  CHECK(conflicts->cases(0).kase().id() == case_id);
  int conflicting = 0;
  for (const auto& mv : conflicts->cases(0).moves()) {
    if (mv.transition().outcome().value() == v1::TRANSITION_OUTCOME_CONFLICT) {
      ++conflicting;
      CHECK(mv.transition().to() == v1::CASE_STATE_WACHT);
      CHECK(mv.transition().actor_id() == "wc-anna");
    }
  }
  CHECK(conflicting == 1);

  v1::ConsoleAction resolve;
  resolve.mutable_resolve_conflict()->set_case_id(case_id);
  resolve.mutable_resolve_conflict()->set_reason("Doorverwijzing gaat voor");
  const v1::ActionResult resolved = act(s, desk, resolve);
  INFO(outcome(resolved));
  REQUIRE(resolved.applied());
  s.pull(*anna);
  CHECK_FALSE(readOk(anna->db().getCase(case_id))->conflict.value);
  conflicts = s.engine->consoleConflicts(desk, kDesk);
  REQUIRE(conflicts.ok());
  CHECK(conflicts->cases_size() == 0);

  // Close with a resolution code.
  v1::ConsoleAction close;
  close.mutable_move_case()->set_case_id(case_id);
  close.mutable_move_case()->set_to(v1::CASE_STATE_AFGESLOTEN);
  close.mutable_move_case()->set_reason("Doorverwezen en opgepakt");
  const v1::ActionResult no_code = act(s, desk, close);
  CHECK(no_code.has_error());
  CHECK(no_code.error().field() == "resolution_code");
  close.mutable_move_case()->set_resolution_code("overgedragen");
  const v1::ActionResult closed = act(s, desk, close);
  INFO(outcome(closed));
  REQUIRE(closed.applied());
  s.pull(*anna);
  const auto done = readOk(anna->db().getCase(case_id));
  CHECK(done->state.value == CaseState::kAfgesloten);
  CHECK(done->resolution_code.value == "overgedragen");

  // The casus shows the merged case's moments and every move; its read is logged.
  detail = s.engine->consoleCase(desk, case_id, kDesk);
  REQUIRE(detail.ok());
  CHECK(detail->merged_case_ids_size() == 1);
  REQUIRE(detail->moments_size() == 2);
  CHECK(detail->moments(0).superseded());
  CHECK(detail->moments(1).moment().corrects_id() == detail->moments(0).moment().id());
  CHECK_FALSE(detail->moments(1).superseded());
  CHECK(detail->transitions_size() >= 5);

  auto log = s.engine->accessLog(1000);
  REQUIRE(log.ok());
  int case_reads = 0, queue_reads = 0;
  for (const auto& e : *log) {
    if (e.action == "console:case") {
      ++case_reads;
      CHECK(e.record_id == case_id);
      CHECK(e.worker_id == "co-jan");
      CHECK(e.role == "coordinator");
      CHECK(e.peer == "192.0.2.7");
      CHECK(e.on_behalf_of.empty());
      CHECK_FALSE(e.household_key.empty());
    }
    if (e.action == "console:queue") ++queue_reads;
    // Device lines carry the role too.
    if (e.action.rfind("push:", 0) == 0 || e.action.rfind("pull:", 0) == 0) {
      CHECK_FALSE(e.role.empty());
    }
  }
  CHECK(case_reads == 2);
  CHECK(queue_reads == 5);  // four rows, then one
}

TEST_CASE("console: refusals — another wijk, a coach, bad arguments, a verb's own refusal",
          "[server][engine][console][security]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto els = s.device("co-els", Role::kCoordinator, {"WK015302"});
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  auto sig = zm->db().createSignal(aSignal("Zorgen om meneer", "1234AB", "12"));
  REQUIRE(sig.ok());
  s.push(*zm);

  // Another wijk's coordinator: the signal is an unknown id, in the queue and in actions.
  auto q = s.engine->consoleQueue(els->principal, "", kDesk);
  REQUIRE(q.ok());
  CHECK(q->items_size() == 0);
  CHECK(s.engine->consoleQueue(els->principal, "WK015301", kDesk).status().code() ==
        ErrorCode::kPermissionDenied);
  const v1::ActionResult foreign = act(s, els->principal, openFrom(sig->id));
  REQUIRE(foreign.has_error());
  const Status unknown = permissions::unknownRecord();
  v1::ConsoleAction reject;
  reject.mutable_reject_signal()->set_signal_id(sig->id);
  reject.mutable_reject_signal()->set_reason("niet van ons");
  const v1::ActionResult foreign_reject = act(s, els->principal, reject);
  REQUIRE(foreign_reject.has_error());
  CHECK(foreign_reject.error().code() == static_cast<v1::ErrorCode>(unknown.code()));
  CHECK(foreign_reject.results_size() == 0);

  // A coach (or anyone but a coordinator) is refused before anything is read.
  CHECK(s.engine->consoleAct(anna->principal, reject, kDesk).status().code() ==
        ErrorCode::kPermissionDenied);
  CHECK(s.engine->consoleQueue(anna->principal, "", kDesk).status().code() ==
        ErrorCode::kPermissionDenied);
  CHECK(s.engine->consoleCase(zm->principal, sig->id, kDesk).status().code() ==
        ErrorCode::kPermissionDenied);

  // Bad arguments are named.
  v1::ConsoleAction bad;
  CHECK(s.engine->consoleAct(co->principal, bad, kDesk).status().field() == "action");
  bad.mutable_assign_case()->set_case_id("not-a-uuid");
  CHECK(s.engine->consoleAct(co->principal, bad, kDesk).status().field() == "case_id");
  bad.mutable_assign_case()->set_case_id(sig->id);
  bad.mutable_assign_case()->set_worker_id("Robert'); DROP TABLE");
  CHECK(s.engine->consoleAct(co->principal, bad, kDesk).status().field() == "worker_id");
  bad.mutable_move_case()->set_case_id(sig->id);
  bad.mutable_move_case()->set_to(static_cast<v1::CaseState>(42));
  CHECK(s.engine->consoleAct(co->principal, bad, kDesk).status().field() == "to");
  CHECK(s.engine->consoleCase(co->principal, "x", kDesk).status().field() == "case_id");
  // A case id that is a signal's (or unknown) is answered as an unknown id.
  CHECK(s.engine->consoleCase(co->principal, sig->id, kDesk).status().code() == unknown.code());

  // The verb's own refusal: a rejection without a reason names the field, pushes nothing.
  reject.mutable_reject_signal()->set_reason("");
  const v1::ActionResult no_reason = act(s, co->principal, reject);
  REQUIRE(no_reason.has_error());
  CHECK(no_reason.error().field() == "reason");
  s.pull(*zm);
  CHECK(readOk(zm->db().signal(sig->id))->triage_state.value == TriageState::kNieuw);
}

TEST_CASE("console: an all-or-nothing push whose second change is refused applies nothing",
          "[server][engine][console]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  auto sig = zm->db().createSignal(aSignal("Zorgen om meneer", "1234AB", "12"));
  REQUIRE(sig.ok());
  s.push(*zm);
  s.pull(*co);

  // The coordinator's case opened from the signal: the case and the signal's link...
  store::NewCase req;
  req.from_signal = sig->id;
  auto c = co->db().openCase(req);
  REQUIRE(c.ok());
  v1::PushRequest push = EngineFixture::outboxRequest(*co);
  REQUIRE(push.changes_size() >= 2);
  // ...and, second, a change the server refuses: a link of a signal it does not know.
  v1::Change* bogus = push.mutable_changes()->Add();
  bogus->set_change_id(newUuidV7(test::kStart));
  {
    Signal unknown_sig = *sig;
    unknown_sig.id = newUuidV7(test::kStart);
    unknown_sig.created = {};
    unknown_sig.case_id.set(c->id, readOk(co->db().signal(sig->id))->case_id.version);
    wire::toProto(Record(unknown_sig), *bogus->mutable_record());
  }
  push.mutable_changes()->SwapElements(1, push.changes_size() - 1);
  push.set_all_or_nothing(true);
  const v1::PushResponse resp = s.pushRaw(co->principal, push);
  REQUIRE(resp.results_size() == push.changes_size());
  for (const auto& r : resp.results()) CHECK_FALSE(r.accepted());
  CHECK(resp.results(0).error().code() == v1::ERROR_CODE_FAILED_PRECONDITION);

  // Nothing of it is on the server: the reporter's signal is untriaged, no case exists.
  s.pull(*zm);
  CHECK(readOk(zm->db().signal(sig->id))->triage_state.value == TriageState::kNieuw);
  CHECK(s.engine->consoleCase(co->principal, c->id, kDesk).status().code() ==
        permissions::unknownRecord().code());
  auto q = s.engine->consoleQueue(co->principal, "", kDesk);
  REQUIRE(q.ok());
  CHECK(q->items_size() == 1);

  // Nothing was remembered as done: the good changes alone, under the same ids, apply.
  v1::PushRequest good = EngineFixture::outboxRequest(*co);
  good.set_all_or_nothing(true);
  const v1::PushResponse again = s.pushRaw(co->principal, good);
  for (const auto& r : again.results()) CHECK(r.accepted());
  s.pull(*zm);
  CHECK(readOk(zm->db().signal(sig->id))->triage_state.value == TriageState::kGekoppeld);
}

TEST_CASE("console: a coordinator's long poll wakes when a home-care signal of their wijk commits",
          "[server][engine][console]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto els = s.device("co-els", Role::kCoordinator, {"WK015302"});
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  const std::uint64_t seq = s.engine->lastSeq();
  std::promise<bool> woke, other;
  auto woke_f = woke.get_future();
  auto other_f = other.get_future();
  const auto t1 = s.engine->waitForChange(seq, co->principal, [&](bool c) { woke.set_value(c); });
  const auto t2 = s.engine->waitForChange(seq, els->principal, [&](bool c) { other.set_value(c); });
  REQUIRE(zm->db().createSignal(aSignal("Nieuw signaal", "1234AB", "12")).ok());
  s.push(*zm);
  REQUIRE(woke_f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(woke_f.get());
  // Another wijk's coordinator keeps waiting: the commit touched none of her audiences.
  CHECK(other_f.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  s.engine->cancelWait(t1);
  s.engine->cancelWait(t2);
  auto q = s.engine->consoleQueue(co->principal, "", kDesk);
  REQUIRE(q.ok());
  CHECK(q->items_size() == 1);
}
