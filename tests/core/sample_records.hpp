// Valid, fully populated records of every kind for the core tests: every field set, every
// version non-zero, so a test that breaks one field knows the rest is good.
#pragma once

#include <cstdint>
#include <string>

#include "eropaf/model.hpp"

namespace eropaf::test {

inline constexpr std::int64_t kSampleMs = 1'790'000'000'000;  // 2026-09-21

inline Version sampleVersion(std::uint64_t n) {
  return {(std::uint64_t{0x19A2B3C4D5E} << 16) + n, 0xC0FFEE};
}

inline Address sampleAddress() { return {"1234AB", "12", "bis", "Dorpsstraat", "Utrecht"}; }

inline Signal sampleSignal() {
  Signal s;
  s.id = "0199a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
  s.created = sampleVersion(1);
  SignalContent& c = s.content;
  c.reporter_id = "zm.jansen";
  c.source_role = Role::kZorgmedewerker;
  c.wijk = "WK015301";
  c.address = sampleAddress();
  c.household_key = householdKey(c.address);
  c.categories = {"vereenzaming", "schulden"};
  c.urgency = Urgency::kHoog;
  c.observed_at_ms = kSampleMs - 3'600'000;
  c.text =
      "Post stapelt zich op; mevrouw zegt dat ze niemand meer ziet. \xE2\x82\xAC 300 achterstand.";
  c.informed = Informed::kNoLater;
  s.case_id.set("0199a1b2-c3d4-7e5f-8a6b-000000000001", sampleVersion(2));
  s.triage_state.set(TriageState::kGekoppeld, sampleVersion(3));
  s.duplicate_of.set("0199a1b2-c3d4-7e5f-8a6b-000000000002", sampleVersion(4));
  s.deleted.set(true, sampleVersion(5));
  s.triage_reason.set("Al bekend bij het buurtteam.", sampleVersion(6));
  return s;
}

inline Case sampleCase() {
  Case c;
  c.id = "0199a1b2-c3d4-7e5f-8a6b-000000000001";
  c.created = sampleVersion(10);
  c.opened_by = "coord.de-vries";
  c.opened_at_ms = kSampleMs;
  c.wijk.set("WK015301", sampleVersion(11));
  c.household_key.set(householdKey(sampleAddress()), sampleVersion(12));
  c.address.set(sampleAddress(), sampleVersion(13));
  c.title.set("Mevrouw alleen, post stapelt op", sampleVersion(14));
  c.categories["vereenzaming"] = {true, sampleVersion(15)};
  c.categories["schulden"] = {false, sampleVersion(16)};
  c.state.set(CaseState::kInBehandeling, sampleVersion(17));
  c.assignee.set("wc.bakker", sampleVersion(18));
  c.priority.set(Priority::kHoog, sampleVersion(19));
  c.first_contact_due_ms.set(kSampleMs + std::int64_t{5} * 86'400'000, sampleVersion(20));
  c.resolution_code.set("opgelost", sampleVersion(21));
  c.resolution_text.set("Schuldhulp loopt, buurvrouw kijkt om.", sampleVersion(22));
  c.merged_into.set("0199a1b2-c3d4-7e5f-8a6b-000000000003", sampleVersion(23));
  c.conflict.set(true, sampleVersion(24));
  c.deleted.set(true, sampleVersion(25));
  c.priority_reason.set("Huisuitzetting volgende week.", sampleVersion(26));
  HistoryEntry e;
  e.id = "0199a1b2-c3d4-7e5f-8a6b-000000000020";
  e.version = sampleVersion(27);
  e.actor_id = "coord.de-vries";
  e.at_ms = kSampleMs + 60'000;
  e.field = HistoryField::kAssignee;
  e.from = "wc.jansen";
  e.to = "wc.bakker";
  e.reason = "Jansen met verlof.";
  c.history[e.id] = e;
  return c;
}

inline ContactMoment sampleMoment() {
  ContactMoment m;
  m.id = "0199a1b2-c3d4-7e5f-8a6b-000000000010";
  m.created = sampleVersion(30);
  m.case_id = "0199a1b2-c3d4-7e5f-8a6b-000000000001";
  m.author_id = "wc.bakker";
  m.at_ms = kSampleMs + 86'400'000;
  m.kind = ContactKind::kHuisbezoek;
  m.outcome = ContactOutcome::kDeurNietGeopend;
  m.note = "Twee keer aangebeld, licht aan, niet opengedaan. Kaartje achtergelaten.";
  m.corrects_id = "0199a1b2-c3d4-7e5f-8a6b-000000000011";
  m.deleted.set(true, sampleVersion(31));
  return m;
}

inline Transition sampleTransition() {
  Transition t;
  t.id = "0199a1b2-c3d4-7e5f-8a6b-000000000020";
  t.created = sampleVersion(40);
  t.case_id = "0199a1b2-c3d4-7e5f-8a6b-000000000001";
  t.from = CaseState::kInBehandeling;
  t.to = CaseState::kWacht;
  t.actor_id = "wc.bakker";
  t.actor_role = Role::kWijkcoach;
  t.at_ms = kSampleMs + std::int64_t{2} * 86'400'000;
  t.reason = "Wacht op intake schuldhulp";
  t.made_offline = true;
  t.outcome.set(TransitionOutcome::kApplied, sampleVersion(41));
  t.deleted.set(true, sampleVersion(42));
  return t;
}

}  // namespace eropaf::test
