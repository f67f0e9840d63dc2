// The server engine judges what the device's triage verbs enqueue (tests/store/triage_test.cpp):
// pushed from the coordinator's device they are accepted; the same changes pushed by a coach
// (in her own name, holding both cases whole) are refused, every one but the target's new
// categories, which the assigned coach may write; the close as samengevoegd
// without its merged case delta is refused; and the reporter sees afgewezen without the reason.
#include <catch2/catch.hpp>

#include "eropaf/id.hpp"
#include "eropaf/permissions.hpp"
#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::aSignal;
using eropaf::test::Device;
using eropaf::test::EngineFixture;
using eropaf::test::readOk;

namespace {

Status answer(const v1::ChangeResult& res) {
  if (res.accepted()) return {};
  return Status(static_cast<ErrorCode>(res.error().code()), res.error().message(),
                res.error().field());
}

/// The device's pending outbox as a push request, every delta rewritten as made by `w`: the
/// changes a worker of another role would push to do the same.
v1::PushRequest outboxAs(Device& d, const Worker& w, const std::string& device_id) {
  v1::PushRequest req;
  req.set_device_id(device_id);
  for (const auto& e : readOk(d.db().outbox())) {
    if (e.status != store::OutboxStatus::kPending) continue;
    Record r = e.delta;
    if (auto* t = std::get_if<Transition>(&r)) {
      t->actor_id = w.id;
      t->actor_role = w.role;
    } else if (auto* c = std::get_if<Case>(&r)) {
      for (auto& [id, h] : c->history) h.actor_id = w.id;
    }
    v1::Change* c = req.add_changes();
    c->set_change_id(newUuidV7(test::kStart));
    wire::toProto(r, *c->mutable_record());
  }
  return req;
}

}  // namespace

TEST_CASE("engine triage: the verbs' changes are a coordinator's, never a coach's",
          "[server][engine][triage]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  const Worker anna_w{"wc-anna", "Name wc-anna", Role::kWijkcoach, {"WK015301"}, true};

  auto junk = zm->db().createSignal(aSignal("Onzin", "1234AB", "30"));
  auto first = zm->db().createSignal(aSignal("Eerste", "1234AB", "12"));
  auto again = zm->db().createSignal(aSignal("Nog eens", "1234AB", "12"));
  REQUIRE((junk.ok() && first.ok() && again.ok()));
  s.push(*zm);
  s.pull(*co);

  store::NewCase src_req = aCase("Bron", {"schulden"});
  src_req.signal_ids = {first->id};
  auto src = co->db().openCase(src_req);
  auto dst = co->db().openCase(aCase("Doel", {"overlast"}));
  REQUIRE((src.ok() && dst.ok()));
  REQUIRE(co->db().assignCase(src->id, "wc-anna").ok());
  REQUIRE(co->db().assignCase(dst->id, "wc-anna", "zelfde coach").ok());
  REQUIRE(co->db().setPriority(dst->id, Priority::kHoog, "kinderen in huis").ok());
  s.push(*co);
  s.pull(*anna);
  REQUIRE(anna->db().moveCase({src->id, CaseState::kContactZoeken, "", false}).ok());
  store::NewContactMoment m;
  m.case_id = src->id;
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(anna->db().addContactMoment(m).ok());
  const v1::PushResponse coach_work = s.push(*anna);
  for (const auto& r : coach_work.results()) REQUIRE(answer(r).ok());
  s.pull(*co);

  REQUIRE(co->db().rejectSignal(junk->id, "geen zorgsignaal, buurman ruzie").ok());
  REQUIRE(co->db().markDuplicate(again->id, first->id).ok());
  REQUIRE(co->db().mergeCase(src->id, dst->id, "zelfde huishouden").ok());
  const std::size_t changes = readOk(co->db().outbox()).size();
  REQUIRE(changes >= 5);  // reject, duplicate, target categories, source, close, relinks

  SECTION("a coach pushing the same changes is refused") {
    const v1::PushRequest req = outboxAs(*co, anna_w, anna->principal.device_id);
    const v1::PushResponse resp = s.pushRaw(anna->principal, req);
    REQUIRE(resp.results_size() == req.changes_size());
    for (int i = 0; i < resp.results_size(); ++i) {
      INFO(req.changes(i).record().DebugString());
      const auto& rec = req.changes(i).record();
      if (rec.has_case_() && rec.case_().merged_into().value().empty()) {
        // The target's new categories: hers to add, as the case's assigned coach.
        CHECK(resp.results(i).accepted());
        continue;
      }
      CHECK_FALSE(resp.results(i).accepted());
    }
    s.pull(*anna);
    const auto source = readOk(anna->db().getCase(src->id));
    REQUIRE(source);
    CHECK(source->state.value == CaseState::kContactZoeken);
    CHECK(source->merged_into.value.empty());
  }

  SECTION("a home-care worker or another wijk's coordinator pushing them is refused") {
    auto els = s.device("co-els", Role::kCoordinator, {"WK015302"});
    const Worker els_w{"co-els", "Name co-els", Role::kCoordinator, {"WK015302"}, true};
    const Worker zm_w{"zm-fatima", "Name zm-fatima", Role::kZorgmedewerker, {"WK015301"}, true};
    for (auto [who, dev] : {std::pair{zm_w, zm.get()}, std::pair{els_w, els.get()}}) {
      INFO(who.id);
      const v1::PushRequest req = outboxAs(*co, who, dev->principal.device_id);
      const v1::PushResponse resp = s.pushRaw(dev->principal, req);
      REQUIRE(resp.results_size() == req.changes_size());
      for (int i = 0; i < resp.results_size(); ++i) {
        INFO(req.changes(i).record().DebugString());
        CHECK_FALSE(resp.results(i).accepted());
        // Another wijk's records are answered as unknown ids, never as "not yours".
        if (who.id == "co-els" && !resp.results(i).accepted()) {
          const Status st = answer(resp.results(i));
          const Status a = permissions::unknownRecord();
          const Status b = permissions::unknownParent();
          CHECK(((st.code() == a.code() && st.message() == a.message()) ||
                 (st.code() == b.code() && st.message() == b.message())));
        }
      }
    }
    // On the server nothing moved: the reporter still sees her signal untriaged.
    s.pull(*zm);
    const auto junk_now = readOk(zm->db().signal(junk->id));
    REQUIRE(junk_now);
    CHECK(junk_now->triage_state.value != TriageState::kAfgewezen);
  }

  SECTION("the close as samengevoegd without its case delta is refused") {
    v1::PushRequest only_close;
    only_close.set_device_id(co->principal.device_id);
    const v1::PushRequest all = EngineFixture::outboxRequest(*co);
    for (const auto& change : all.changes()) {
      if (change.record().has_transition()) *only_close.add_changes() = change;
    }
    REQUIRE(only_close.changes_size() == 1);
    const v1::PushResponse resp = s.pushRaw(co->principal, only_close);
    const Status st = answer(resp.results(0));
    CHECK(st.code() == ErrorCode::kFailedPrecondition);
    CHECK(st.field() == "resolution_code");
  }

  SECTION("from the coordinator every change is accepted") {
    const v1::PushResponse resp = s.push(*co);
    REQUIRE(resp.results_size() == static_cast<int>(changes));
    for (const auto& r : resp.results()) CHECK(answer(r).ok());
    CHECK(readOk(co->db().outboxSize()) == 0);
    s.pull(*co);
    const auto source = readOk(co->db().getCase(src->id));
    REQUIRE(source);
    CHECK(source->state.value == CaseState::kAfgesloten);
    CHECK(source->resolution_code.value == "samengevoegd");  // written by the server
    CHECK(source->merged_into.value == dst->id);
    const auto target = readOk(co->db().getCase(dst->id));
    REQUIRE(target);
    CHECK(presentElements(target->categories) ==
          std::vector<std::string>{"overlast", "schulden", "vereenzaming"});
    CHECK(target->priority_reason.value == "kinderen in huis");
    CHECK(target->history.size() == 2);
    // Every moment and move of both cases is kept; the signals follow.
    CHECK(readOk(co->db().caseMoments(dst->id)).size() == 1);
    const auto signals = readOk(co->db().caseSignals(dst->id));
    CHECK(signals.size() == 2);  // the first, and its duplicate
    const auto moves = readOk(co->db().transitions(src->id));
    REQUIRE(moves.size() == 3);  // assigned, contact_zoeken, the close
    for (const Transition& t : moves) CHECK(t.outcome.value == TransitionOutcome::kApplied);

    // The coach holds the merged source (the target's coach) and its moments.
    s.pull(*anna);
    CHECK(readOk(anna->db().caseMoments(dst->id)).size() == 1);
    // The reporter: afgewezen and duplicaat, no reason, no case ids of others' work.
    std::string zm_raw;
    for (const auto& page : s.pull(*zm)) zm_raw += page.SerializeAsString();
    CHECK(zm_raw.find(src->id) == std::string::npos);
    CHECK(zm_raw.find(dst->id) == std::string::npos);
    CHECK(zm_raw.find("buurman ruzie") == std::string::npos);
    const auto rejected = readOk(zm->db().signal(junk->id));
    REQUIRE(rejected);
    CHECK(rejected->triage_state.value == TriageState::kAfgewezen);
    CHECK(rejected->triage_reason.value.empty());
    const auto dup = readOk(zm->db().signal(again->id));
    REQUIRE(dup);
    CHECK(dup->triage_state.value == TriageState::kDuplicaat);
    CHECK(dup->triage_reason.value.empty());
    CHECK(dup->case_id.value.empty());
    // The signal of the merged case: gekoppeld, linked to no case she can name.
    const auto merged = readOk(zm->db().signal(first->id));
    REQUIRE(merged);
    CHECK(merged->triage_state.value == TriageState::kGekoppeld);
    CHECK(merged->case_id.value.empty());
    CHECK_FALSE(readOk(zm->db().getCase(dst->id)));
    CHECK_FALSE(readOk(zm->db().getCase(src->id)));
  }
}

namespace {

/// The device's pending outbox as a push request, each delta passed through `edit` first (and
/// left out when it answers false): the changes a device with other (stale or tampered) data
/// would push.
template <class Edit>
v1::PushRequest outboxEdited(Device& d, Edit edit) {
  v1::PushRequest req;
  req.set_device_id(d.principal.device_id);
  for (const auto& e : readOk(d.db().outbox())) {
    if (e.status != store::OutboxStatus::kPending) continue;
    Record r = e.delta;
    if (!edit(r)) continue;
    v1::Change* c = req.add_changes();
    c->set_change_id(newUuidV7(test::kStart));
    wire::toProto(r, *c->mutable_record());
  }
  return req;
}

}  // namespace

TEST_CASE("engine triage: an unknown wijk is refused per change, naming the field and the wijk",
          "[server][engine][triage]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto other = s.device("co-els", Role::kCoordinator, {"WK015302"});
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);

  // Her device has no wijk list yet (never pulled): it takes any CBS code; the server does not.
  store::NewSignal wrong = aSignal("Geen wijk van ons");
  wrong.wijk = "WK099999";
  auto lost = zm->db().createSignal(wrong);
  auto good = zm->db().createSignal(aSignal("Wel van ons"));
  REQUIRE((lost.ok() && good.ok()));
  const v1::PushResponse resp = s.push(*zm);
  REQUIRE(resp.results_size() == 2);
  const Status refused = answer(resp.results(0));
  CHECK(refused.code() == ErrorCode::kInvalidArgument);
  CHECK(refused.field() == "content.wijk");
  CHECK(refused.message().find("WK099999") != std::string::npos);
  CHECK(refused.message().find("WK015301") != std::string::npos);  // hers
  CHECK(refused.message().find("WK015302") == std::string::npos);  // nobody else's
  CHECK(answer(resp.results(1)).ok());  // per change: the other one applies

  // Nothing of it was stored: no coordinator gets it, not even an id.
  s.pull(*co);
  CHECK_FALSE(readOk(co->db().signal(lost->id)));
  CHECK(readOk(co->db().signal(good->id)));
  std::string raw;
  for (const auto& page : s.pull(*other)) raw += page.SerializeAsString();
  CHECK(raw.find(lost->id) == std::string::npos);

  // Geweigerd on her device, re-filed with a known wijk: accepted, and it reaches the queue.
  REQUIRE(readOk(zm->db().refusal(lost->id)));
  REQUIRE(zm->db().refileSignal(lost->id, "WK015301").ok());
  const v1::PushResponse again = s.push(*zm);
  REQUIRE(again.results_size() == 1);
  CHECK(answer(again.results(0)).ok());
  s.pull(*co);
  CHECK(readOk(co->db().signal(lost->id)));

  SECTION("a case with an unknown wijk is refused, field wijk") {
    // Her device checks the wijk against its list; a stale or tampered one pushes it anyway.
    REQUIRE(co->db().openCase(aCase("Nergens")).ok());
    const v1::PushRequest req = outboxEdited(*co, [](Record& r) {
      if (auto* k = std::get_if<Case>(&r)) k->wijk.value = "WK099999";
      return true;
    });
    REQUIRE(req.changes_size() == 1);
    const Status st = answer(s.pushRaw(co->principal, req).results(0));
    CHECK(st.code() == ErrorCode::kInvalidArgument);
    CHECK(st.field() == "wijk");
    CHECK(st.message().find("WK099999") != std::string::npos);
    CHECK(st.message().find("WK015302") == std::string::npos);
  }
}

TEST_CASE("engine triage: an assignee must be an active coach or coordinator of the case's wijk",
          "[server][engine][triage]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  auto piet = s.device("wc-piet", Role::kWijkcoach, {"WK015302"});
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  auto gone = s.device("wc-gone", Role::kWijkcoach);
  REQUIRE(s.engine->deactivateWorker("wc-gone").ok());
  s.pull(*co);
  auto c = co->db().openCase(aCase("Toewijzen"));
  REQUIRE(c.ok());
  REQUIRE(answer(s.push(*co).results(0)).ok());

  // The device would refuse these itself (it knows its colleagues); a tampered or stale device
  // pushes them anyway: the server decides on its own worker table.
  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  for (const std::string bad : {"wc-nobody", "zm-fatima", "wc-piet", "wc-gone"}) {
    INFO(bad);
    // Only the case delta (the assignment's transition is judged on its own).
    const v1::PushRequest req = outboxEdited(*co, [&](Record& r) {
      auto* k = std::get_if<Case>(&r);
      if (k == nullptr) return false;
      k->assignee.value = bad;
      for (auto& [id, h] : k->history) h.to = bad;
      return true;
    });
    REQUIRE(req.changes_size() == 1);
    const Status st = answer(s.pushRaw(co->principal, req).results(0));
    CHECK(st.code() == ErrorCode::kFailedPrecondition);
    CHECK(st.field() == "assignee");
    // The colleagues who may take it (permissions::validAssignees), and nobody else.
    CHECK(st.message().find("wc-anna (Name wc-anna, wijkcoach)") != std::string::npos);
    CHECK(st.message().find("co-jan") != std::string::npos);
    CHECK(st.message().find("wc-piet") == std::string::npos);
    CHECK(st.message().find("zm-fatima") == std::string::npos);
    CHECK(st.message().find("wc-gone") == std::string::npos);
  }
  // Nothing was applied: the case is still in the queue, nobody's.
  s.pull(*anna);
  CHECK(readOk(anna->db().myCases()).empty());
  CHECK(readOk(anna->db().wijkQueue("WK015301")).size() == 1);

  // The valid colleague is accepted.
  {
    const v1::PushResponse pushed = s.push(*co);
    for (const auto& r : pushed.results()) CHECK(answer(r).ok());
  }
  s.pull(*anna);
  CHECK(readOk(anna->db().myCases()).size() == 1);
}
