// The device store's triage verbs (docs/triage.md "Triage verbs"): reject, duplicate, merge,
// re-file, opening a case from a signal with the household check, linking another household,
// and the history entries of assignee and priority changes. Each verb is tried by the role that
// may and by those that may not (zorgmedewerker, wijkcoach, coordinator of another wijk), and a
// refused verb changes nothing (the outbox stays as it was).
#include <catch2/catch.hpp>

#include "eropaf/id.hpp"
#include "store/store_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::aSignal;
using eropaf::test::kDay;
using eropaf::test::readOk;
using eropaf::test::StoreFixture;

namespace {

constexpr const char* kOtherWijk = "WK015302";

/// A coordinator's store with a signal reported by a zorgmedewerker (the same device, the
/// identity switched: the store keeps what each wrote).
struct Triage {
  StoreFixture f;
  Triage() { f.become("co-jan", Role::kCoordinator); }

  Signal report(const std::string& text = "Post stapelt zich op", const std::string& number = "12",
                Urgency urgency = Urgency::kNormaal) {
    f.become("zm-fatima", Role::kZorgmedewerker);
    store::NewSignal s = aSignal(text, "1234AB", number);
    s.urgency = urgency;
    auto r = f.db->createSignal(s);
    f.become("co-jan", Role::kCoordinator);
    REQUIRE(r.ok());
    return *r;
  }

  std::size_t outbox() { return readOk(f.db->outboxSize()); }

  Signal signal(const std::string& id) {
    auto s = readOk(f.db->signal(id));
    REQUIRE(s);
    return *s;
  }

  Case getCase(const std::string& id) {
    auto c = readOk(f.db->getCase(id));
    REQUIRE(c);
    return *c;
  }

  /// Runs `verb` as each role that may not, checking it is refused and changes nothing.
  template <class F>
  void refusedForOthers(F verb) {
    const std::size_t before = outbox();
    for (const auto& [who, role, wijk] :
         {std::tuple{"zm-fatima", Role::kZorgmedewerker, "WK015301"},
          std::tuple{"wc-anna", Role::kWijkcoach, "WK015301"},
          std::tuple{"co-other", Role::kCoordinator, kOtherWijk}}) {
      INFO(who);
      f.become(who, role, {wijk});
      const Status st = verb();
      CHECK(st.code() == ErrorCode::kPermissionDenied);
    }
    f.become("co-jan", Role::kCoordinator);
    CHECK(outbox() == before);
  }
};

template <class T>
Status statusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace

TEST_CASE("triage: a coordinator rejects a signal with a reason, and it leaves its case",
          "[store][triage]") {
  Triage t;
  const Signal sig = t.report();
  store::NewCase nc = aCase();
  nc.signal_ids = {sig.id};
  auto c = t.f.db->openCase(nc);
  REQUIRE(c.ok());
  REQUIRE(t.signal(sig.id).case_id.value == c->id);

  t.refusedForOthers([&] { return t.f.db->rejectSignal(sig.id, "geen zorgsignaal"); });
  const std::size_t before = t.outbox();
  auto blank = t.f.db->rejectSignal(sig.id, "  ");
  CHECK(blank.code() == ErrorCode::kReasonRequired);
  CHECK(blank.field() == "reason");
  auto unknown = t.f.db->rejectSignal(newUuidV7(1), "geen zorgsignaal");
  CHECK(unknown.code() == ErrorCode::kNotFound);
  CHECK(unknown.field() == "signal_id");
  CHECK(t.outbox() == before);

  REQUIRE(t.f.db->rejectSignal(sig.id, "geen zorgsignaal: dubbel ingevoerd door buurman").ok());
  const Signal after = t.signal(sig.id);
  CHECK(after.triage_state.value == TriageState::kAfgewezen);
  CHECK(after.triage_reason.value == "geen zorgsignaal: dubbel ingevoerd door buurman");
  CHECK(after.case_id.value.empty());
  CHECK(after.case_id.isSet());  // cleared by a write, so the server unlinks it too
  const auto rows = readOk(t.f.db->outbox());
  REQUIRE(rows.size() == before + 1);
  CHECK(rows.back().summary == "signal rejected");
  const auto& delta = std::get<Signal>(rows.back().delta);
  CHECK(delta.created.isZero());  // a triage-only delta
  CHECK(delta.triage_state.value == TriageState::kAfgewezen);
  // No longer untriaged, and no longer counted by the case.
  CHECK(readOk(t.f.db->untriagedSignals("WK015301")).empty());
  CHECK(readOk(t.f.db->caseSignals(c->id)).empty());
}

TEST_CASE("triage: marking a duplicate follows the original, to its case", "[store][triage]") {
  Triage t;
  const Signal original = t.report("Eerste melding", "12");
  const Signal second = t.report("Tweede melding", "12", Urgency::kAcuut);
  const Signal third = t.report("Derde melding", "12");

  t.refusedForOthers([&] { return t.f.db->markDuplicate(second.id, original.id); });
  CHECK(t.f.db->markDuplicate(second.id, second.id).field() == "of_signal_id");
  CHECK(t.f.db->markDuplicate(second.id, second.id).code() == ErrorCode::kInvalidArgument);
  auto unknown = t.f.db->markDuplicate(second.id, newUuidV7(1));
  CHECK(unknown.code() == ErrorCode::kNotFound);
  CHECK(unknown.field() == "of_signal_id");
  CHECK(t.f.db->markDuplicate(newUuidV7(1), second.id).code() == ErrorCode::kNotFound);

  store::NewCase nc = aCase();
  nc.signal_ids = {original.id};
  auto c = t.f.db->openCase(nc);
  REQUIRE(c.ok());

  REQUIRE(t.f.db->markDuplicate(second.id, original.id).ok());
  Signal dup = t.signal(second.id);
  CHECK(dup.triage_state.value == TriageState::kDuplicaat);
  CHECK(dup.duplicate_of.value == original.id);
  CHECK(dup.case_id.value == c->id);  // so the case's norms count its (acuut) urgency

  SECTION("a duplicate of a duplicate points at the original") {
    REQUIRE(t.f.db->markDuplicate(third.id, second.id).ok());
    const Signal d3 = t.signal(third.id);
    CHECK(d3.duplicate_of.value == original.id);
    CHECK(d3.case_id.value == c->id);
  }
  SECTION("a cycle is refused") {
    auto st = t.f.db->markDuplicate(original.id, second.id);
    CHECK(st.code() == ErrorCode::kInvalidArgument);
    CHECK(st.field() == "of_signal_id");
    CHECK(t.signal(original.id).triage_state.value == TriageState::kGekoppeld);
  }
  SECTION("a rejected original is refused") {
    REQUIRE(t.f.db->rejectSignal(third.id, "onzin").ok());
    auto st = t.f.db->markDuplicate(second.id, third.id);
    CHECK(st.code() == ErrorCode::kFailedPrecondition);
    CHECK(st.field() == "of_signal_id");
    CHECK(t.signal(second.id).duplicate_of.value == original.id);
  }
}

TEST_CASE("triage: a merge keeps every moment and move of both cases", "[store][triage]") {
  Triage t;
  const Signal sig = t.report("Melding bij bron", "12");
  store::NewCase src_req = aCase("Bron", {"vereenzaming", "schulden"});
  src_req.signal_ids = {sig.id};
  auto src = t.f.db->openCase(src_req);
  auto dst = t.f.db->openCase(aCase("Doel", {"overlast"}));
  REQUIRE((src.ok() && dst.ok()));
  REQUIRE(t.f.db->assignCase(src->id, "wc-bram").ok());
  REQUIRE(t.f.db->assignCase(dst->id, "wc-anna").ok());
  REQUIRE(t.f.db->moveCase({src->id, CaseState::kContactZoeken, "", false}).ok());
  store::NewContactMoment m;
  m.case_id = src->id;
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(t.f.db->addContactMoment(m).ok());
  t.f.clock->advance(kDay);
  m.case_id = dst->id;
  m.outcome = ContactOutcome::kGesprek;
  REQUIRE(t.f.db->addContactMoment(m).ok());
  t.f.clock->advance(kDay);
  m.case_id = src->id;
  m.outcome = ContactOutcome::kDeurNietGeopend;
  REQUIRE(t.f.db->addContactMoment(m).ok());
  const auto src_moves = readOk(t.f.db->transitions(src->id));
  const auto dst_moves = readOk(t.f.db->transitions(dst->id));

  t.refusedForOthers([&] { return statusOf(t.f.db->mergeCase(src->id, dst->id, "dubbel")); });
  CHECK(t.f.db->mergeCase(src->id, src->id, "dubbel").status().field() == "into_id");
  CHECK(t.f.db->mergeCase(src->id, dst->id, "").status().code() == ErrorCode::kReasonRequired);
  CHECK(t.f.db->mergeCase(src->id, newUuidV7(1), "dubbel").status().code() == ErrorCode::kNotFound);

  const std::size_t before = t.outbox();
  auto merged = t.f.db->mergeCase(src->id, dst->id, "zelfde huishouden");
  REQUIRE(merged.ok());
  CHECK(merged->id == dst->id);

  // The target: the source's categories united with its own, the signal, every moment.
  const Case target = t.getCase(dst->id);
  CHECK(presentElements(target.categories) ==
        std::vector<std::string>{"overlast", "schulden", "vereenzaming"});
  const auto signals = readOk(t.f.db->caseSignals(dst->id));
  REQUIRE(signals.size() == 1);
  CHECK(signals[0].id == sig.id);
  CHECK(signals[0].triage_state.value == TriageState::kGekoppeld);
  CHECK(readOk(t.f.db->caseSignals(src->id)).empty());
  const auto all = readOk(t.f.db->caseMoments(dst->id));
  REQUIRE(all.size() == 3);
  CHECK(all[0].case_id == src->id);
  CHECK(all[1].case_id == dst->id);
  CHECK(all[2].case_id == src->id);
  CHECK(all[0].at_ms < all[1].at_ms);
  CHECK(readOk(t.f.db->contactMoments(dst->id)).size() == 1);  // unchanged: its own
  CHECK(readOk(t.f.db->contactMoments(src->id)).size() == 2);

  // The source: merged, held by the target's coach, closed as samengevoegd.
  const Case source = t.getCase(src->id);
  CHECK(source.merged_into.value == dst->id);
  CHECK(source.assignee.value == "wc-anna");
  CHECK(source.state.value == CaseState::kAfgesloten);
  REQUIRE(source.history.size() == 2);  // the assignment and the merge's hand-over
  const auto src_after = readOk(t.f.db->transitions(src->id));
  REQUIRE(src_after.size() == src_moves.size() + 1);
  const Transition& close = src_after.back();
  CHECK(close.from == CaseState::kContactZoeken);
  CHECK(close.to == CaseState::kAfgesloten);
  CHECK(close.resolution_code == "samengevoegd");
  CHECK(close.reason == "samengevoegd met casus " + shortId(dst->id) + ": zelfde huishouden");
  CHECK_FALSE(close.made_offline);
  CHECK(readOk(t.f.db->transitions(dst->id)) == dst_moves);

  // The outbox: the source's delta (merged_into) before its transition.
  const auto rows = readOk(t.f.db->outbox());
  std::size_t case_row = 0;
  std::size_t move_row = 0;
  for (std::size_t i = before; i < rows.size(); ++i) {
    if (const auto* c = std::get_if<Case>(&rows[i].delta); c && c->merged_into.isSet()) {
      case_row = i;
    }
    if (std::holds_alternative<Transition>(rows[i].delta)) move_row = i;
  }
  CHECK(case_row != 0);
  CHECK(case_row < move_row);

  SECTION("a closed source, a merged target or a merge twice is refused") {
    auto again = t.f.db->mergeCase(src->id, dst->id, "nog eens");
    CHECK(again.status().code() == ErrorCode::kFailedPrecondition);
    CHECK(again.status().field() == "case_id");
    auto third = t.f.db->openCase(aCase("Derde"));
    REQUIRE(third.ok());
    auto into_merged = t.f.db->mergeCase(third->id, src->id, "naar de bron");
    CHECK(into_merged.status().code() == ErrorCode::kFailedPrecondition);
    CHECK(into_merged.status().field() == "into_id");
  }
  SECTION("geen contact mogelijk counts the moments merged in") {
    // The target in contact_zoeken with attempts on three days, two of them the source's.
    REQUIRE(t.f.db->moveCase({dst->id, CaseState::kContactZoeken, "", false}).ok());
    store::MoveCase close_it{dst->id, CaseState::kAfgesloten, "niemand thuis", true,
                             "geen_contact_mogelijk"};
    // One gesprek + two attempts = three days with an attempt.
    auto closed = t.f.db->moveCase(close_it);
    INFO(closed.status().toString());
    CHECK(closed.ok());
  }
}

TEST_CASE("triage: the close as samengevoegd is only the merge's", "[store][triage]") {
  Triage t;
  auto c = t.f.db->openCase(aCase());
  REQUIRE(c.ok());
  REQUIRE(t.f.db->assignCase(c->id, "wc-anna").ok());
  REQUIRE(t.f.db->moveCase({c->id, CaseState::kContactZoeken, "", false}).ok());
  REQUIRE(t.f.db->moveCase({c->id, CaseState::kInBehandeling, "", false}).ok());
  REQUIRE(t.f.db->moveCase({c->id, CaseState::kNazorg, "", false}).ok());
  auto by_hand = t.f.db->moveCase({c->id, CaseState::kAfgesloten, "klaar", true, "samengevoegd"});
  CHECK(by_hand.status().code() == ErrorCode::kInvalidArgument);
  CHECK(by_hand.status().field() == "resolution_code");
}

TEST_CASE("triage: assignments and priority overrides leave history entries", "[store][triage]") {
  Triage t;
  auto c = t.f.db->openCase(aCase());
  REQUIRE(c.ok());
  REQUIRE(t.f.db->assignCase(c->id, "wc-anna").ok());
  t.f.clock->advance(60'000);
  REQUIRE(t.f.db->assignCase(c->id, "wc-bram", "Anna met verlof").ok());
  t.f.clock->advance(60'000);
  auto blank = t.f.db->setPriority(c->id, Priority::kAcuut, "");
  CHECK(blank.code() == ErrorCode::kReasonRequired);
  CHECK(blank.field() == "reason");
  REQUIRE(
      t.f.db->setPriority(c->id, Priority::kAcuut, "deurwaarder staat morgen op de stoep").ok());
  for (const auto& [who, role, wijk] : {std::tuple{"zm-fatima", Role::kZorgmedewerker, "WK015301"},
                                        std::tuple{"wc-anna", Role::kWijkcoach, "WK015301"},
                                        std::tuple{"co-other", Role::kCoordinator, kOtherWijk}}) {
    INFO(who);
    t.f.become(who, role, {wijk});
    CHECK(t.f.db->setPriority(c->id, Priority::kLaag, "x").code() == ErrorCode::kPermissionDenied);
    CHECK(t.f.db->assignCase(c->id, "wc-anna", "x").code() == ErrorCode::kPermissionDenied);
  }
  t.f.become("co-jan", Role::kCoordinator);

  const Case after = t.getCase(c->id);
  CHECK(after.priority.value == Priority::kAcuut);
  CHECK(after.priority_reason.value == "deurwaarder staat morgen op de stoep");
  std::vector<HistoryEntry> entries;
  for (const auto& [id, e] : after.history) entries.push_back(e);
  std::sort(entries.begin(), entries.end(),
            [](const HistoryEntry& a, const HistoryEntry& b) { return a.at_ms < b.at_ms; });
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].field == HistoryField::kAssignee);
  CHECK(entries[0].from.empty());
  CHECK(entries[0].to == "wc-anna");
  CHECK(entries[1].field == HistoryField::kAssignee);
  CHECK(entries[1].from == "wc-anna");
  CHECK(entries[1].to == "wc-bram");
  CHECK(entries[1].reason == "Anna met verlof");
  CHECK(entries[1].actor_id == "co-jan");
  CHECK(entries[1].at_ms == test::kStart + 60'000);
  CHECK(entries[2].field == HistoryField::kPriority);
  CHECK(entries[2].from == "normaal");  // the derived priority of the category it had
  CHECK(entries[2].to == "acuut");
  CHECK(entries[2].reason == "deurwaarder staat morgen op de stoep");
  CHECK(entries[2].at_ms == test::kStart + 120'000);
  CHECK_FALSE(entries[2].id.empty());
  CHECK(entries[2].version == after.priority.version);
  // Each entry travels in the delta of its change.
  const auto rows = readOk(t.f.db->outbox());
  const auto& last = std::get<Case>(rows.back().delta);
  REQUIRE(last.history.size() == 1);
  CHECK(last.history.begin()->second == entries[2]);
}

TEST_CASE("triage: a refused assignee names the field and the valid colleagues",
          "[store][triage]") {
  Triage t;
  const std::vector<Worker> colleagues{
      {"wc-anna", "Anna", Role::kWijkcoach, {"WK015301"}, true},
      {"wc-far", "Far", Role::kWijkcoach, {kOtherWijk}, true},
      {"zm-fatima", "Fatima", Role::kZorgmedewerker, {"WK015301"}, true}};
  REQUIRE(t.f.db->setReference(colleagues, {}).ok());
  auto c = t.f.db->openCase(aCase());
  REQUIRE(c.ok());
  const Status st = t.f.db->assignCase(c->id, "wc-far", "probeer");
  CHECK(st.code() == ErrorCode::kFailedPrecondition);
  CHECK(st.field() == "assignee");
  CHECK_THAT(st.message(), Catch::Contains("Valid colleagues for WK015301: wc-anna (Anna"));
  CHECK_THAT(st.message(), !Catch::Contains("wc-far ("));
  CHECK(t.getCase(c->id).history.empty());
}

TEST_CASE("triage: a case from a signal copies it, a second open case needs new_case",
          "[store][triage]") {
  Triage t;
  store::NewSignal s = aSignal("Schulden en verwaarlozing", "1234AB", "40");
  s.categories = {"schulden", "verwaarlozing"};
  s.address.addition = "B";
  t.f.become("zm-fatima", Role::kZorgmedewerker);
  auto sig = t.f.db->createSignal(s);
  REQUIRE(sig.ok());
  t.f.become("co-jan", Role::kCoordinator);

  store::NewCase nc;
  nc.from_signal = sig->id;
  auto c = t.f.db->openCase(nc);
  REQUIRE(c.ok());
  CHECK(c->wijk.value == "WK015301");
  CHECK(c->address.value == sig->content.address);
  CHECK(c->household_key.value == sig->content.household_key);
  CHECK(presentElements(c->categories) == std::vector<std::string>{"schulden", "verwaarlozing"});
  CHECK_FALSE(c->title.value.empty());
  CHECK(t.signal(sig->id).case_id.value == c->id);
  CHECK(t.signal(sig->id).triage_state.value == TriageState::kGekoppeld);

  // The same household again (the address typed differently): refused, naming the open case.
  store::NewCase again = aCase("Nog een casus");
  again.new_case = false;
  again.address = {"1234 ab", "40", "b", "", ""};
  const std::size_t before = t.outbox();
  auto second = t.f.db->openCase(again);
  CHECK(second.status().code() == ErrorCode::kAlreadyExists);
  CHECK(second.status().field() == "address");
  CHECK_THAT(second.status().message(), Catch::Contains(shortId(c->id)));
  CHECK(t.outbox() == before);
  again.new_case = true;
  CHECK(t.f.db->openCase(again).ok());
  // Another household is not held back; a closed case does not count.
  again.new_case = false;
  again.address.house_number = "41";
  CHECK(t.f.db->openCase(again).ok());

  // A wijk or address that is not the signal's is refused.
  store::NewCase wrong;
  wrong.from_signal = sig->id;
  wrong.new_case = true;
  wrong.wijk = kOtherWijk;
  CHECK(t.f.db->openCase(wrong).status().field() == "wijk");
  wrong.wijk.clear();
  wrong.address = {"9999ZZ", "1", "", "", ""};
  CHECK(t.f.db->openCase(wrong).status().field() == "address");
  wrong.from_signal = newUuidV7(1);
  CHECK(t.f.db->openCase(wrong).status().field() == "from_signal");
}

TEST_CASE("triage: a signal of another household links only with force and a reason",
          "[store][triage]") {
  Triage t;
  const Signal neighbour = t.report("Gezien bij de buren", "14");
  auto c = t.f.db->openCase(aCase());  // number 12
  REQUIRE(c.ok());
  const std::size_t before = t.outbox();
  auto plain = t.f.db->linkSignal(neighbour.id, c->id);
  CHECK(plain.code() == ErrorCode::kFailedPrecondition);
  CHECK(plain.field() == "signal_id");
  CHECK_THAT(plain.message(), Catch::Contains("with force and a reason"));
  CHECK(t.f.db->linkSignal(neighbour.id, c->id, {true, " "}).field() == "signal_id");
  CHECK(t.f.db->linkSignal(neighbour.id, c->id, {false, "buren"}).field() == "signal_id");
  CHECK(t.outbox() == before);
  REQUIRE(t.f.db->linkSignal(neighbour.id, c->id, {true, "zelfde gezin, andere woning"}).ok());
  const Signal after = t.signal(neighbour.id);
  CHECK(after.case_id.value == c->id);
  CHECK(after.triage_reason.value == "zelfde gezin, andere woning");
  // The same household needs nothing, and writes no reason.
  const Signal own = t.report("Zelfde adres", "12");
  REQUIRE(t.f.db->linkSignal(own.id, c->id).ok());
  CHECK_FALSE(t.signal(own.id).triage_reason.isSet());
  // A coach (her own signal, her own case) may not force another household.
  REQUIRE(t.f.db->assignCase(c->id, "wc-anna").ok());
  t.f.become("wc-anna", Role::kWijkcoach);
  auto hers = t.f.db->createSignal(aSignal("Overbuurvrouw", "1234AB", "15"));
  REQUIRE(hers.ok());
  CHECK(t.f.db->linkSignal(hers->id, c->id, {true, "buren"}).code() ==
        ErrorCode::kPermissionDenied);
}

TEST_CASE("triage: the reporter re-files a signal the server refused, only that",
          "[store][triage]") {
  StoreFixture f;
  f.become("zm-fatima", Role::kZorgmedewerker);
  REQUIRE(
      f.db->setReference({}, std::vector<Wijk>{{"WK015301", "Noord"}, {kOtherWijk, "Zuid"}}).ok());
  auto sig = f.db->createSignal(aSignal());
  REQUIRE(sig.ok());
  CHECK_FALSE(readOk(f.db->refusal(sig->id)).has_value());
  auto not_refused = f.db->refileSignal(sig->id, kOtherWijk);
  CHECK(not_refused.status().code() == ErrorCode::kFailedPrecondition);
  CHECK(not_refused.status().field() == "signal_id");

  const auto rows = readOk(f.db->outbox());
  REQUIRE(rows.size() == 1);
  const std::string refused_change = rows[0].change_id;
  REQUIRE(f.db->markRefused(refused_change, Status(ErrorCode::kInvalidArgument,
                                                   "wijk is not one the server knows", "wijk"))
              .ok());
  const auto why = readOk(f.db->refusal(sig->id));
  REQUIRE(why);
  CHECK(why->change_id == refused_change);
  CHECK(why->refusal.field() == "wijk");

  CHECK(f.db->refileSignal(sig->id, "WK999999").status().field() == "wijk");  // not cached
  CHECK(f.db->refileSignal(sig->id, "Noord").status().field() == "wijk");     // not a code
  f.become("zm-other", Role::kZorgmedewerker);
  CHECK(f.db->refileSignal(sig->id, kOtherWijk).status().code() == ErrorCode::kPermissionDenied);
  f.become("zm-fatima", Role::kZorgmedewerker);
  CHECK(readOk(f.db->outbox()).size() == 1);

  auto refiled = f.db->refileSignal(sig->id, kOtherWijk);
  REQUIRE(refiled.ok());
  CHECK(refiled->id == sig->id);
  CHECK(refiled->content.wijk == kOtherWijk);
  CHECK(refiled->content.text == sig->content.text);
  CHECK(refiled->content.address == sig->content.address);
  CHECK(readOk(f.db->signal(sig->id))->content.wijk == kOtherWijk);
  const auto after = readOk(f.db->outbox());
  REQUIRE(after.size() == 1);
  CHECK(after[0].status == store::OutboxStatus::kPending);
  CHECK(after[0].change_id != refused_change);
  CHECK(std::get<Signal>(after[0].delta).content.wijk == kOtherWijk);
  CHECK_FALSE(std::get<Signal>(after[0].delta).created.isZero());
  CHECK_FALSE(readOk(f.db->refusal(sig->id)).has_value());
  CHECK(f.db->refileSignal(sig->id, "WK015301").status().code() ==
        ErrorCode::kFailedPrecondition);  // pending again, not refused
}

TEST_CASE("triage: re-filing a refused signal queues again the duplicate marks refused with it",
          "[store][triage]") {
  // Found by the simulator: a coordinator marks X a duplicate of her own signal Y; the server
  // refuses Y (unknown wijk) and so the mark; she re-files Y. The mark must go again, after Y.
  StoreFixture f;
  f.become("co-jan", Role::kCoordinator, {"WK015301", kOtherWijk});
  auto x = f.db->createSignal(aSignal("Eerste melding"));
  REQUIRE(x.ok());
  auto y = f.db->createSignal(aSignal("Tweede melding"));
  REQUIRE(y.ok());
  auto w = f.db->createSignal(aSignal("Andere melding"));
  REQUIRE(w.ok());
  REQUIRE(f.db->markDuplicate(x->id, y->id).ok());
  const Status unknown(ErrorCode::kInvalidArgument, "unknown wijk", "content.wijk");
  for (const auto& e : readOk(f.db->outbox())) {
    // Y's creation, X's mark of Y, and W's creation (which names no Y: it stays refused).
    if (e.record_id != x->id || std::get<Signal>(e.delta).created.isZero()) {
      REQUIRE(f.db->markRefused(e.change_id, unknown).ok());
    }
  }
  // A mark of Y made after the refusal, not sent yet: sent before Y's fresh creation it would
  // be refused again, so it moves behind it too.
  auto v = f.db->createSignal(aSignal("Vierde melding"));
  REQUIRE(v.ok());
  REQUIRE(f.db->markDuplicate(v->id, y->id).ok());
  REQUIRE(f.db->refileSignal(y->id, kOtherWijk).ok());
  std::vector<std::string> pending;
  std::vector<std::string> refused;
  for (const auto& e : readOk(f.db->outbox())) {
    if (e.status == store::OutboxStatus::kPending) pending.push_back(e.record_id);
    if (e.status == store::OutboxStatus::kRefused) refused.push_back(e.record_id);
  }
  // X's and V's creations, Y's fresh creation, then the marks of Y by X and V.
  CHECK(pending == std::vector<std::string>{x->id, v->id, y->id, x->id, v->id});
  CHECK(refused == std::vector<std::string>{w->id});
  CHECK(readOk(f.db->signal(x->id))->duplicate_of.value == y->id);
}
