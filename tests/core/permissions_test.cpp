// Proves the permissions module (core/include/eropaf/permissions.hpp) for every role and
// hold: what each may write, that a hidden record is answered exactly like an unknown id, that
// a refused write gets one text per record whatever the field or value (no equality oracle),
// and that docs/sync.md's "who may write what" table is the module's ruleTable().
#include "eropaf/permissions.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "eropaf/state_table.hpp"

namespace {

using namespace eropaf;
using permissions::Hold;
using permissions::Origin;
using permissions::TransitionVerdict;

constexpr Version kV{100, 1};
constexpr Version kNewer{200, 2};

Worker worker(const std::string& id, Role role) { return {id, id, role, {"WK015301"}, true}; }

Case aCase(const std::string& assignee = "") {
  Case c;
  c.id = "c1";
  c.created = kV;
  c.opened_by = "co-jan";
  c.opened_at_ms = 1;
  c.wijk.set("WK015301", kV);
  c.address.set({"1234AB", "12", "", "Dorpsstraat", "Utrecht"}, kV);
  c.household_key.set(householdKey(c.address.value), kV);
  c.title.set("Dossier", kV);
  c.state.set(assignee.empty() ? CaseState::kNieuw : CaseState::kToegewezen, kV);
  c.assignee.set(assignee, kV);
  c.conflict.set(false, kV);
  return c;
}

const Worker kCo = worker("co-jan", Role::kCoordinator);
const Worker kCoach = worker("wc-anna", Role::kWijkcoach);
const Worker kZm = worker("zm-fatima", Role::kZorgmedewerker);

}  // namespace

TEST_CASE("permissions: a hidden record is answered exactly like an unknown id",
          "[unit][permissions]") {
  const Case c = aCase("wc-bram");
  Case delta;
  delta.id = c.id;
  delta.title.set("geraden", kNewer);
  for (const Worker* w : {&kCo, &kCoach, &kZm}) {
    const Status st = permissions::mayWriteCase(*w, Hold::kNone, c, delta);
    CHECK(st.code() == permissions::unknownRecord().code());
    CHECK(st.message() == permissions::unknownRecord().message());
    CHECK(st.field() == permissions::unknownRecord().field());
  }
  ContactMoment m;
  m.id = "m1";
  m.created = kNewer;
  m.case_id = c.id;
  m.author_id = kZm.id;
  const Status moment = permissions::mayCreateMoment(kZm, Hold::kNone, m, Origin::kServer);
  CHECK(moment.message() == permissions::unknownParent().message());
  CHECK(moment.field() == "case_id");
  // A coach who only ever saw it in the queue: as unknown too, for fields and moments.
  CHECK(permissions::mayWriteCase(kCoach, Hold::kWasQueued, c, delta).code() ==
        ErrorCode::kNotFound);
  m.author_id = kCoach.id;
  CHECK(permissions::mayCreateMoment(kCoach, Hold::kWasQueued, m, Origin::kServer).code() ==
        ErrorCode::kNotFound);
}

TEST_CASE("permissions: a coach's guess at a hidden field gets one answer whatever its value",
          "[unit][permissions]") {
  const Case c = aCase();  // in the queue: the coach sees it redacted
  Case right, wrong;
  right.id = wrong.id = c.id;
  right.household_key.set(c.household_key.value, kNewer);
  wrong.household_key.set("9999ZZ|1|", kNewer);
  const Status a = permissions::mayWriteCase(kCoach, Hold::kQueued, c, right);
  const Status b = permissions::mayWriteCase(kCoach, Hold::kQueued, c, wrong);
  CHECK_FALSE(a.ok());
  CHECK(a.code() == b.code());
  CHECK(a.message() == b.message());
  CHECK(a.field() == b.field());
  CHECK(a.field().empty());
  // Each coordinator-only field is refused with that same text.
  Case d;
  d.id = c.id;
  d.priority.set(Priority::kAcuut, kNewer);
  CHECK(permissions::mayWriteCase(kCoach, Hold::kFull, aCase("wc-anna"), d).message() ==
        a.message());
  d = Case{};
  d.id = c.id;
  d.conflict.set(false, kNewer);  // even the value it already has
  CHECK(permissions::mayWriteCase(kCoach, Hold::kFull, aCase("wc-anna"), d).message() ==
        a.message());
}

TEST_CASE("permissions: who writes which case field, by role and hold", "[unit][permissions]") {
  struct Row {
    const Worker* who;
    Hold hold;
    const char* field;
    bool allowed;
  };
  const Row rows[] = {
      {&kCo, Hold::kFull, "title", true},         {&kCo, Hold::kFull, "priority", true},
      {&kCo, Hold::kFull, "assignee", true},      {&kCo, Hold::kFull, "state", false},
      {&kCo, Hold::kFull, "opened_by", false},    {&kCoach, Hold::kFull, "title", true},
      {&kCoach, Hold::kFull, "priority", false},  {&kCoach, Hold::kFull, "state", false},
      {&kCoach, Hold::kFull, "opened_by", false}, {&kCoach, Hold::kQueued, "title", false},
      {&kCoach, Hold::kQueued, "pickup", true},   {&kCoach, Hold::kWasAssigned, "title", false},
      {&kZm, Hold::kNone, "title", false},
  };
  for (const Row& r : rows) {
    const Case c = r.hold == Hold::kQueued ? aCase() : aCase("wc-anna");
    Case d;
    d.id = c.id;
    const std::string f = r.field;
    if (f == "title") d.title.set("nieuw", kNewer);
    if (f == "priority") d.priority.set(Priority::kHoog, kNewer);
    if (f == "assignee") d.assignee.set("wc-bram", kNewer);
    if (f == "state") d.state.set(CaseState::kWacht, kNewer);
    if (f == "opened_by") {
      d.created = kNewer;
      d.opened_by = r.who->id;
      d.opened_at_ms = 2;
    }
    if (f == "pickup") d.assignee.set(r.who->id, kNewer);
    INFO(r.who->id << " " << static_cast<int>(r.hold) << " " << f);
    CHECK(permissions::mayWriteCase(*r.who, r.hold, c, d).ok() == r.allowed);
  }
}

TEST_CASE("permissions: opening a case, and who may be assigned", "[unit][permissions]") {
  Case c = aCase();
  c.opened_by = kCoach.id;
  CHECK(permissions::mayCreateCase(kCoach, c).ok());
  CHECK_FALSE(permissions::mayCreateCase(kZm, c).ok());
  Case forged = c;
  forged.opened_by = "co-jan";
  CHECK_FALSE(permissions::mayCreateCase(kCoach, forged).ok());
  Case with_conflict = c;
  with_conflict.conflict.set(true, kV);
  CHECK_FALSE(permissions::mayCreateCase(kCoach, with_conflict).ok());
  Case resolved = c;
  resolved.resolution_code.set("opgelost", kV);
  CHECK_FALSE(permissions::mayCreateCase(kCoach, resolved).ok());
  Case other_key = c;
  other_key.household_key.set("9999ZZ|1|", kV);
  CHECK_FALSE(permissions::mayCreateCase(kCoach, other_key).ok());

  const Worker far{"wc-far", "far", Role::kWijkcoach, {"WK015302"}, true};
  const Worker gone{"wc-gone", "gone", Role::kWijkcoach, {"WK015301"}, false};
  CHECK(permissions::mayAssign("wc-anna", &kCoach, "WK015301").ok());
  CHECK(permissions::mayAssign("", nullptr, "WK015301").ok());
  CHECK_FALSE(permissions::mayAssign("nobody", nullptr, "WK015301").ok());
  CHECK_FALSE(permissions::mayAssign("wc-far", &far, "WK015301").ok());
  CHECK_FALSE(permissions::mayAssign("wc-gone", &gone, "WK015301").ok());
  CHECK_FALSE(permissions::mayAssign("zm-fatima", &kZm, "WK015301").ok());
}

TEST_CASE("permissions: transitions by hold are applied, conflicts or refused",
          "[unit][permissions]") {
  Transition t;
  t.id = "t1";
  t.created = kV;  // backdated or not: the version plays no part
  t.case_id = "c1";
  t.from = CaseState::kToegewezen;
  t.to = CaseState::kContactZoeken;
  t.actor_id = kCoach.id;
  t.actor_role = Role::kWijkcoach;
  t.made_offline = true;
  const Case mine = aCase("wc-anna");
  const Case theirs = aCase("wc-bram");
  CHECK(permissions::decideTransition(kCoach, Hold::kFull, mine, t, Origin::kServer, {}, {})
            .verdict == TransitionVerdict::kApplied);
  CHECK(
      permissions::decideTransition(kCoach, Hold::kWasAssigned, theirs, t, Origin::kServer, {}, {})
          .verdict == TransitionVerdict::kConflict);
  CHECK(
      permissions::decideTransition(kCoach, Hold::kWasAssigned, theirs, t, Origin::kDevice, {}, {})
          .verdict == TransitionVerdict::kRefused);
  const auto never =
      permissions::decideTransition(kCoach, Hold::kNone, theirs, t, Origin::kServer, {}, {});
  CHECK(never.verdict == TransitionVerdict::kRefused);
  CHECK(never.status.message() == permissions::unknownParent().message());
  const auto queued =
      permissions::decideTransition(kCoach, Hold::kWasQueued, theirs, t, Origin::kServer, {}, {});
  CHECK(queued.status.code() == ErrorCode::kNotFound);
  // A pick up from the queue, and the race two coaches can lose.
  Transition pick = t;
  pick.from = CaseState::kNieuw;
  pick.to = CaseState::kToegewezen;
  const auto won =
      permissions::decideTransition(kCoach, Hold::kQueued, aCase(), pick, Origin::kServer, {}, {});
  CHECK(won.verdict == TransitionVerdict::kApplied);
  CHECK(won.assign_actor);
  CHECK(
      permissions::decideTransition(kCoach, Hold::kWasQueued, theirs, pick, Origin::kServer, {}, {})
          .verdict == TransitionVerdict::kConflict);
}

TEST_CASE("permissions: docs/sync.md's table is the module's ruleTable", "[unit][permissions]") {
  std::ifstream in(EROPAF_SOURCE_DIR "/docs/sync.md");
  REQUIRE(in);
  std::stringstream doc;
  doc << in.rdbuf();
  for (const auto& row : permissions::ruleTable()) {
    const std::string line = "| " + std::string(row.record) + " | " + std::string(row.coordinator) +
                             " | " + std::string(row.wijkcoach) + " | " +
                             std::string(row.zorgmedewerker) + " | — |";
    INFO(line);
    CHECK(doc.str().find(line + "\n") != std::string::npos);
  }
}

namespace {

constexpr std::int64_t kMonday = 1'731'922'200'000;  // Monday 18 November 2024 10:30 CET
constexpr std::int64_t kOneDay = 86'400'000;

Case searching(const std::string& category = "schulden") {
  Case c = aCase("wc-anna");
  c.state.set(CaseState::kContactZoeken, kV);
  c.categories[category] = {true, kV};
  return c;
}

ContactMoment attempt(const std::string& id, std::int64_t at_ms,
                      const std::string& case_id = "c1") {
  ContactMoment m;
  m.id = id;
  m.created = kV;
  m.case_id = case_id;
  m.author_id = "wc-anna";
  m.at_ms = at_ms;
  m.kind = ContactKind::kHuisbezoek;
  m.outcome = ContactOutcome::kNietThuis;
  return m;
}

Transition closeForNoContact(const Worker& w, const std::string& code = "geen_contact_mogelijk") {
  Transition t;
  t.id = "t-close";
  t.created = kNewer;
  t.case_id = "c1";
  t.from = CaseState::kContactZoeken;
  t.to = CaseState::kAfgesloten;
  t.actor_id = w.id;
  t.actor_role = w.role;
  t.reason = "drie keer niet thuis, kaartje achtergelaten";
  t.resolution_code = code;
  return t;
}

}  // namespace

TEST_CASE("permissions: geen contact mogelijk closes after N attempts on N different days",
          "[unit][permissions]") {
  const auto& table = defaultCategories();
  const Case c = searching();
  const std::vector<ContactMoment> three_days{attempt("m1", kMonday),
                                              attempt("m2", kMonday + kOneDay),
                                              attempt("m3", kMonday + 2 * kOneDay)};
  // A coordinator's move applies.
  auto d = permissions::decideTransition(kCo, Hold::kFull, c, closeForNoContact(kCo),
                                         Origin::kServer, three_days, table);
  CHECK(d.verdict == TransitionVerdict::kApplied);
  CHECK(d.next == CaseState::kAfgesloten);
  CHECK_FALSE(d.proposal);
  // The coach proposes: kept for the coordinator, the case does not move.
  d = permissions::decideTransition(kCoach, Hold::kFull, c, closeForNoContact(kCoach),
                                    Origin::kServer, three_days, table);
  CHECK(d.verdict == TransitionVerdict::kConflict);
  CHECK(d.proposal);
  CHECK(d.next == CaseState::kContactZoeken);

  // Three attempts on two days are not enough, for either of them.
  const std::vector<ContactMoment> two_days{
      attempt("m1", kMonday), attempt("m2", kMonday + 3'600'000), attempt("m3", kMonday + kOneDay)};
  for (const Worker* w : {&kCo, &kCoach}) {
    INFO(w->id);
    d = permissions::decideTransition(*w, Hold::kFull, c, closeForNoContact(*w), Origin::kServer,
                                      two_days, table);
    CHECK(d.verdict == TransitionVerdict::kRefused);
    CHECK(d.status.code() == ErrorCode::kFailedPrecondition);
    CHECK(d.status.message().find("3 different days; this case has 2") != std::string::npos);
    CHECK_FALSE(d.proposal);
  }
  // Superseded and deleted moments, and moments of another case, do not count.
  std::vector<ContactMoment> tricky = three_days;
  tricky.push_back(attempt("m3b", kMonday + kOneDay + 3'600'000));
  tricky.back().corrects_id = "m3";  // "that was Tuesday, not Wednesday"
  d = permissions::decideTransition(kCo, Hold::kFull, c, closeForNoContact(kCo), Origin::kServer,
                                    tricky, table);
  CHECK(d.status.code() == ErrorCode::kFailedPrecondition);
  std::vector<ContactMoment> deleted = three_days;
  deleted[2].deleted.set(true, kNewer);
  d = permissions::decideTransition(kCo, Hold::kFull, c, closeForNoContact(kCo), Origin::kServer,
                                    deleted, table);
  CHECK(d.status.code() == ErrorCode::kFailedPrecondition);
  std::vector<ContactMoment> elsewhere{attempt("m1", kMonday), attempt("m2", kMonday + kOneDay),
                                       attempt("x3", kMonday + 2 * kOneDay, "c2")};
  d = permissions::decideTransition(kCo, Hold::kFull, c, closeForNoContact(kCo), Origin::kServer,
                                    elsewhere, table);
  CHECK(d.status.code() == ErrorCode::kFailedPrecondition);
  // N is the strictest category's: domestic violence asks for 5 days.
  Case safety = searching("huiselijk_geweld");
  d = permissions::decideTransition(kCo, Hold::kFull, safety, closeForNoContact(kCo),
                                    Origin::kServer, three_days, table);
  CHECK(d.status.code() == ErrorCode::kFailedPrecondition);
  std::vector<ContactMoment> five_days = three_days;
  five_days.push_back(attempt("m4", kMonday + 3 * kOneDay));
  five_days.push_back(attempt("m5", kMonday + 4 * kOneDay));
  CHECK(permissions::decideTransition(kCo, Hold::kFull, safety, closeForNoContact(kCo),
                                      Origin::kServer, five_days, table)
            .verdict == TransitionVerdict::kApplied);

  // Without a code, or with another one: refused, whatever the attempts.
  for (const Worker* w : {&kCo, &kCoach}) {
    INFO(w->id);
    d = permissions::decideTransition(*w, Hold::kFull, c, closeForNoContact(*w, ""),
                                      Origin::kServer, five_days, table);
    CHECK(d.verdict == TransitionVerdict::kRefused);
    CHECK(d.status.code() == ErrorCode::kRequiredFieldMissing);
    CHECK(d.status.field() == "resolution_code");
    d = permissions::decideTransition(*w, Hold::kFull, c, closeForNoContact(*w, "opgelost"),
                                      Origin::kServer, five_days, table);
    CHECK(d.verdict == TransitionVerdict::kRefused);
    CHECK(d.status.code() == ErrorCode::kTransitionNotAllowed);
  }
  // Someone who may not see the case learns nothing, not even that attempts are missing.
  d = permissions::decideTransition(kCoach, Hold::kNone, c, closeForNoContact(kCoach),
                                    Origin::kServer, two_days, table);
  CHECK(d.status.message() == permissions::unknownParent().message());
  d = permissions::decideTransition(kCoach, Hold::kWasQueued, c, closeForNoContact(kCoach),
                                    Origin::kServer, two_days, table);
  CHECK(d.status.message() == permissions::unknownParent().message());
}

TEST_CASE("permissions: closing from nazorg needs a listed resolution code",
          "[unit][permissions]") {
  Case c = aCase("wc-anna");
  c.state.set(CaseState::kNazorg, kV);
  Transition t = closeForNoContact(kCo, "");
  t.from = CaseState::kNazorg;
  auto d = permissions::decideTransition(kCo, Hold::kFull, c, t, Origin::kServer, {}, {});
  CHECK(d.status.code() == ErrorCode::kRequiredFieldMissing);
  t.resolution_code = "samengevoegd";  // merging only: this case is not merged
  d = permissions::decideTransition(kCo, Hold::kFull, c, t, Origin::kServer, {}, {});
  CHECK(d.verdict == TransitionVerdict::kRefused);
  CHECK(d.status.code() == ErrorCode::kFailedPrecondition);
  CHECK(d.status.field() == "resolution_code");
  t.resolution_code = "verhuisd";
  d = permissions::decideTransition(kCo, Hold::kFull, c, t, Origin::kServer, {}, {});
  CHECK(d.verdict == TransitionVerdict::kApplied);
  CHECK(d.next == CaseState::kAfgesloten);
  // A move from nazorg made while the case went back to contact_zoeken: from there only the
  // no-contact close exists, and verhuisd is not it: a conflict, not a silent close.
  c.state.set(CaseState::kContactZoeken, kNewer);
  d = permissions::decideTransition(kCo, Hold::kFull, c, t, Origin::kServer, {}, {});
  CHECK(d.verdict == TransitionVerdict::kConflict);
  // A code on a move that does not close is refused.
  Transition wait;
  wait.id = "t-wait";
  wait.created = kNewer;
  wait.case_id = "c1";
  wait.from = CaseState::kInBehandeling;
  wait.to = CaseState::kWacht;
  wait.actor_id = kCo.id;
  wait.actor_role = kCo.role;
  wait.reason = "wacht op schuldhulp";
  wait.resolution_code = "opgelost";
  c.state.set(CaseState::kInBehandeling, kNewer);
  d = permissions::decideTransition(kCo, Hold::kFull, c, wait, Origin::kServer, {}, {});
  CHECK(d.status.code() == ErrorCode::kInvalidArgument);
  CHECK(d.status.field() == "resolution_code");
}

TEST_CASE("permissions: a close as samengevoegd only for a merged case, from any open state",
          "[unit][permissions][triage]") {
  Case c = aCase("wc-anna");
  for (const CaseState from :
       {CaseState::kNieuw, CaseState::kToegewezen, CaseState::kContactZoeken,
        CaseState::kInBehandeling, CaseState::kWacht, CaseState::kDoorverwezen, CaseState::kNazorg,
        CaseState::kHeropend}) {
    INFO(toString(from));
    c.state.set(from, kV);
    c.merged_into = {};
    Transition t = closeForNoContact(kCo, "samengevoegd");
    t.from = from;
    t.reason = "samengevoegd met casus 7k2f: zelfde huishouden";
    // Not merged on the judge's store: refused, whatever the move says.
    auto d = permissions::decideTransition(kCo, Hold::kFull, c, t, Origin::kServer, {}, {});
    CHECK(d.verdict == TransitionVerdict::kRefused);
    CHECK(d.status.code() == ErrorCode::kFailedPrecondition);
    CHECK(d.status.field() == "resolution_code");
    c.merged_into.set("c2", kV);
    d = permissions::decideTransition(kCo, Hold::kFull, c, t, Origin::kServer, {}, {});
    CHECK(d.verdict == TransitionVerdict::kApplied);
    CHECK(d.next == CaseState::kAfgesloten);
    // The coach, even holding the case whole; a coordinator who does not; the zorgmedewerker.
    Transition by_coach = closeForNoContact(kCoach, "samengevoegd");
    by_coach.from = from;
    d = permissions::decideTransition(kCoach, Hold::kFull, c, by_coach, Origin::kServer, {}, {});
    CHECK(d.verdict == TransitionVerdict::kRefused);
    CHECK(d.status.code() == ErrorCode::kTransitionNotAllowed);
    d = permissions::decideTransition(kCo, Hold::kNone, c, t, Origin::kServer, {}, {});
    CHECK(d.status.message() == permissions::unknownParent().message());
    Transition by_zm = closeForNoContact(kZm, "samengevoegd");
    by_zm.from = from;
    d = permissions::decideTransition(kZm, Hold::kFull, c, by_zm, Origin::kServer, {}, {});
    CHECK(d.verdict == TransitionVerdict::kRefused);
    // Offline or without a reason: refused on the move alone.
    Transition offline = t;
    offline.made_offline = true;
    d = permissions::decideTransition(kCo, Hold::kFull, c, offline, Origin::kServer, {}, {});
    CHECK(d.status.code() == ErrorCode::kTransitionNotAllowed);
    Transition blank = t;
    blank.reason = " ";
    d = permissions::decideTransition(kCo, Hold::kFull, c, blank, Origin::kServer, {}, {});
    CHECK(d.status.code() == ErrorCode::kReasonRequired);
  }
  // From a closed state it is no move; a case cancelled meanwhile is the coordinator's call.
  Transition from_closed = closeForNoContact(kCo, "samengevoegd");
  from_closed.from = CaseState::kGeannuleerd;
  CHECK(permissions::decideTransition(kCo, Hold::kFull, c, from_closed, Origin::kServer, {}, {})
            .status.code() == ErrorCode::kTransitionNotAllowed);
  Transition stale = closeForNoContact(kCo, "samengevoegd");
  stale.from = CaseState::kNazorg;
  c.state.set(CaseState::kGeannuleerd, kNewer);
  CHECK(
      permissions::decideTransition(kCo, Hold::kFull, c, stale, Origin::kServer, {}, {}).verdict ==
      TransitionVerdict::kConflict);
  // By hand, the state table still refuses the code.
  CHECK(checkTransition(CaseState::kNazorg, CaseState::kAfgesloten, Role::kCoordinator, "klaar",
                        false, "samengevoegd")
            .code() == ErrorCode::kInvalidArgument);
}
