// The admin's reference commands on the engine (functioneel beheer): categories created and
// changed reach devices on their next pull; a deactivated worker is no assignee and their
// devices are revoked; a leaver's open cases move to a valid colleague, each with a history
// entry by "admin", all or nothing.
#include <catch2/catch.hpp>

#include "eropaf/resolution.hpp"
#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::Device;
using eropaf::test::EngineFixture;
using eropaf::test::readOk;

namespace {

std::string rawBytes(const std::vector<v1::PullResponse>& pages) {
  std::string all;
  for (const auto& p : pages) all += p.SerializeAsString();
  return all;
}

const v1::ReferenceData* lastReference(const std::vector<v1::PullResponse>& pages) {
  const v1::ReferenceData* ref = nullptr;
  for (const auto& p : pages) {
    if (p.has_reference()) ref = &p.reference();
  }
  return ref;
}

}  // namespace

TEST_CASE("admin set-category: created or changed, validated, on devices at their next pull",
          "[server][engine][admin]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  const auto first = s.pull(*co);
  const v1::ReferenceData* ref = lastReference(first);
  REQUIRE(ref != nullptr);
  // The resolution codes come from the server with the rest of the reference data.
  REQUIRE(static_cast<std::size_t>(ref->resolution_codes_size()) == resolutionCodes().size());
  CHECK(ref->resolution_codes(0).code() == std::string(resolutionCodes()[0].code));
  bool merged_code_by_hand = true;
  for (const auto& r : ref->resolution_codes()) {
    if (r.code() == "samengevoegd") merged_code_by_hand = r.by_hand();
  }
  CHECK_FALSE(merged_code_by_hand);

  Category c;
  c.code = "woningvervuiling";
  c.label = "Woningvervuiling";
  c.default_priority = Priority::kHoog;
  c.first_contact_days = 3;
  c.first_gesprek_days = 6;
  c.working_days = true;
  c.sensitive = true;
  REQUIRE(s.engine->setCategory(c).ok());
  c.label = "Vervuilde woning";
  REQUIRE(s.engine->setCategory(c).ok());  // an update, not a second row
  const auto cats = readOk(s.engine->categories());
  const auto count = std::count_if(cats.begin(), cats.end(),
                                   [](const Category& k) { return k.code == "woningvervuiling"; });
  CHECK(count == 1);

  const auto next = s.pull(*co);
  ref = lastReference(next);
  REQUIRE(ref != nullptr);  // the reference version rose: the next pull carries it
  bool found = false;
  for (const auto& k : ref->categories()) {
    if (k.code() != "woningvervuiling") continue;
    found = true;
    CHECK(k.label() == "Vervuilde woning");
    CHECK(k.default_priority() == v1::PRIORITY_HOOG);
    CHECK(k.first_contact_days() == 3);
    CHECK(k.first_gesprek_days() == 6);
    CHECK(k.working_days());
    CHECK(k.sensitive());
  }
  CHECK(found);
  // A signal of the new category is accepted now.
  store::NewSignal sig = test::aSignal();
  sig.categories = {"woningvervuiling"};
  REQUIRE(co->db().setCategories(readOk(s.engine->categories())).ok());
  REQUIRE(co->db().createSignal(sig).ok());
  {
    const v1::PushResponse pushed = s.push(*co);
    for (const auto& r : pushed.results()) CHECK(r.accepted());
  }

  SECTION("bad input names the field, and nothing changes") {
    struct Bad {
      const char* what;
      Category c;
      const char* field;
    };
    Category base = c;
    base.code = "nieuw_iets";
    std::vector<Bad> bad;
    Category x = base;
    x.code = "Hoofdletters";
    bad.push_back({"code", x, "code"});
    x = base;
    x.code = "";
    bad.push_back({"empty code", x, "code"});
    x = base;
    x.label = " ";
    bad.push_back({"blank label", x, "label"});
    x = base;
    x.default_priority = Priority::kUnspecified;
    bad.push_back({"priority", x, "priority"});
    x = base;
    x.first_contact_days = -1;
    bad.push_back({"days", x, "first_contact_days"});
    x = base;
    x.first_contact_days = 400;
    bad.push_back({"days", x, "first_contact_days"});
    for (const Bad& b : bad) {
      INFO(b.what);
      const Status st = s.engine->setCategory(b.c);
      CHECK_FALSE(st.ok());
      CHECK(st.field() == b.field);
    }
    const auto after = readOk(s.engine->categories());
    CHECK(after.size() == cats.size());
  }
}

TEST_CASE("admin deactivate: no longer an assignee, devices revoked, cases stay until moved",
          "[server][engine][admin]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  auto anna = s.device("wc-anna", Role::kWijkcoach);
  s.pull(*co);
  auto c = co->db().openCase(aCase("Bij Anna"));
  REQUIRE(c.ok());
  REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
  {
    const v1::PushResponse pushed = s.push(*co);
    for (const auto& r : pushed.results()) CHECK(r.accepted());
  }

  REQUIRE(s.engine->deactivateWorker("wc-anna").ok());
  CHECK(s.engine->deactivateWorker("wc-nobody").code() == ErrorCode::kNotFound);
  // Her device is told to wipe on its next request.
  const std::string token_device = anna->principal.device_id;
  const auto devs = readOk(s.engine->devices());
  for (const server::DeviceInfo& d : devs) {
    if (d.id == token_device) CHECK(d.revoked);
  }
  const auto workers = readOk(s.engine->workers());
  for (const Worker& w : workers) {
    if (w.id == "wc-anna") CHECK_FALSE(w.active);
  }
  // Her case keeps her as assignee (the coordinator sees who left it) until reassigned.
  s.pull(*co);
  const auto held = readOk(co->db().getCase(c->id));
  REQUIRE(held);
  CHECK(held->assignee.value == "wc-anna");
}

TEST_CASE("admin reassign: a leaver's open cases move to a valid colleague with history",
          "[server][engine][admin]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});
  auto anna = s.device("wc-anna", Role::kWijkcoach, {"WK015301", "WK015302"});
  auto bram = s.device("wc-bram", Role::kWijkcoach, {"WK015301"});
  auto zm = s.device("zm-fatima", Role::kZorgmedewerker);
  s.pull(*co);
  std::vector<std::string> ids;
  for (const char* wijk : {"WK015301", "WK015301", "WK015302"}) {
    store::NewCase nc = aCase(std::string("Casus in ") + wijk);
    nc.wijk = wijk;
    auto c = co->db().openCase(nc);
    REQUIRE(c.ok());
    REQUIRE(co->db().assignCase(c->id, "wc-anna").ok());
    ids.push_back(c->id);
  }
  auto closed = co->db().openCase(aCase("Al klaar"));
  REQUIRE(closed.ok());
  REQUIRE(co->db().assignCase(closed->id, "wc-anna").ok());
  REQUIRE(co->db().moveCase({closed->id, CaseState::kGeannuleerd, "dubbel ingevoerd", true}).ok());
  {
    const v1::PushResponse pushed = s.push(*co);
    for (const auto& r : pushed.results()) CHECK(r.accepted());
  }
  s.pull(*anna);
  s.pull(*bram);
  REQUIRE(readOk(anna->db().myCases()).size() == 3);

  SECTION("to a colleague who is not valid for every wijk: nothing moves") {
    const auto r = s.engine->reassignCases("wc-anna", "wc-bram", "", "Anna vertrekt");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kFailedPrecondition);
    CHECK(r.status().field() == "to");
    CHECK(r.status().message().find("WK015302") != std::string::npos);
    CHECK(r.status().message().find("co-jan") != std::string::npos);  // valid there
    s.pull(*bram);
    CHECK(readOk(bram->db().myCases()).empty());
    // Unknown, the same person, a home-care worker, no reason: refused with the field.
    CHECK(s.engine->reassignCases("wc-nobody", "wc-bram", "", "x").status().field() == "from");
    CHECK(s.engine->reassignCases("wc-anna", "wc-anna", "", "x").status().field() == "to");
    CHECK(s.engine->reassignCases("wc-anna", "zm-fatima", "WK015301", "x").status().field() ==
          "to");
    CHECK(s.engine->reassignCases("wc-anna", "wc-bram", "WK015301", " ").status().field() ==
          "reason");
    CHECK(s.engine->reassignCases("wc-anna", "wc-bram", "nowhere", "x").status().field() == "wijk");
  }

  SECTION("one wijk at a time, each case with a history entry by admin") {
    const auto r = s.engine->reassignCases("wc-anna", "wc-bram", "WK015301", "Anna vertrekt");
    REQUIRE(r.ok());
    CHECK(r->size() == 2);
    CHECK(std::find(r->begin(), r->end(), ids[2]) == r->end());
    CHECK(std::find(r->begin(), r->end(), closed->id) == r->end());  // closed: stays
    s.pull(*bram);
    const auto mine = readOk(bram->db().myCases());
    REQUIRE(mine.size() == 2);
    for (const Case& c : mine) {
      bool entry = false;
      for (const auto& [id, h] : c.history) {
        if (h.actor_id != "admin") continue;
        entry = true;
        CHECK(h.field == HistoryField::kAssignee);
        CHECK(h.from == "wc-anna");
        CHECK(h.to == "wc-bram");
        CHECK(h.reason == "Anna vertrekt");
      }
      CHECK(entry);
    }
    // Anna's device gets the evictions; the home-care worker nothing about any of it.
    s.pull(*anna);
    CHECK(readOk(anna->db().myCases()).size() == 1);
    const std::string raw = rawBytes(s.pull(*zm));
    for (const auto& id : ids) CHECK(raw.find(id) == std::string::npos);
    // The rest to the coordinator, who works both wijken.
    const auto rest = s.engine->reassignCases("wc-anna", "co-jan", "", "Anna vertrekt");
    REQUIRE(rest.ok());
    CHECK(*rest == std::vector<std::string>{ids[2]});
  }
}
