// Proves the permissions module (core/include/eropaf/permissions.hpp) for every role and
// hold: what each may write, that a hidden record is answered exactly like an unknown id, that
// a refused write gets one text per record whatever the field or value (no equality oracle),
// and that docs/sync.md's "who may write what" table is the module's ruleTable().
#include "eropaf/permissions.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

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
  CHECK(permissions::decideTransition(kCoach, Hold::kFull, mine, t, Origin::kServer).verdict ==
        TransitionVerdict::kApplied);
  CHECK(permissions::decideTransition(kCoach, Hold::kWasAssigned, theirs, t, Origin::kServer)
            .verdict == TransitionVerdict::kConflict);
  CHECK(permissions::decideTransition(kCoach, Hold::kWasAssigned, theirs, t, Origin::kDevice)
            .verdict == TransitionVerdict::kRefused);
  const auto never = permissions::decideTransition(kCoach, Hold::kNone, theirs, t, Origin::kServer);
  CHECK(never.verdict == TransitionVerdict::kRefused);
  CHECK(never.status.message() == permissions::unknownParent().message());
  const auto queued =
      permissions::decideTransition(kCoach, Hold::kWasQueued, theirs, t, Origin::kServer);
  CHECK(queued.status.code() == ErrorCode::kNotFound);
  // A pick up from the queue, and the race two coaches can lose.
  Transition pick = t;
  pick.from = CaseState::kNieuw;
  pick.to = CaseState::kToegewezen;
  const auto won =
      permissions::decideTransition(kCoach, Hold::kQueued, aCase(), pick, Origin::kServer);
  CHECK(won.verdict == TransitionVerdict::kApplied);
  CHECK(won.assign_actor);
  CHECK(permissions::decideTransition(kCoach, Hold::kWasQueued, theirs, pick, Origin::kServer)
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
