// Linking a signal is triage of that signal, so it is its wijk's coordinators' (DESIGN's role
// table; permissions::mayTriage on the server). Found by the convergence simulator
// (tests/sim/): a coordinator who reported a signal in another wijk could link it to a case of
// her own wijk on the device; the server refused the change, and the device kept a link the
// server never had. The device now refuses it the way the server does.
#include <catch2/catch.hpp>

#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aCase;
using eropaf::test::aSignal;
using eropaf::test::readOk;

TEST_CASE("engine link: a coordinator links only signals of her wijken, as the server decides",
          "[server][engine][triage]") {
  test::EngineFixture s;
  auto jan = s.device("co-jan", Role::kCoordinator, {"WK015301"});
  auto els = s.device("co-els", Role::kCoordinator, {"WK015301", "WK015302"});

  // Jan reports what he saw in the next wijk; his case is in his own.
  store::NewSignal elsewhere = aSignal("Gezien bij de buren", "1234AB", "40");
  elsewhere.wijk = "WK015302";
  auto sig = jan->db().createSignal(elsewhere);
  auto c = jan->db().openCase(aCase("Zelfde gezin", {"schulden"}, "1234AB", "41"));
  REQUIRE((sig.ok() && c.ok()));
  s.sync(*jan);
  REQUIRE(readOk(jan->db().outboxSize()) == 0);

  const store::LinkOptions force{true, "zelfde gezin, ander adres"};
  const Status refused = jan->db().linkSignal(sig->id, c->id, force);
  CHECK(refused.code() == ErrorCode::kPermissionDenied);
  CHECK(refused.field() == "wijk");
  CHECK(readOk(jan->db().outboxSize()) == 0);  // nothing queued that the server would refuse
  const auto unchanged = readOk(jan->db().signal(sig->id));
  REQUIRE(unchanged);
  CHECK(unchanged->case_id.value.empty());

  // A coordinator of both wijken links it, and the server takes it.
  s.pull(*els);
  REQUIRE(els->db().linkSignal(sig->id, c->id, force).ok());
  const v1::PushResponse resp = s.push(*els);
  REQUIRE(resp.results_size() > 0);
  for (const auto& r : resp.results()) CHECK(r.accepted());
  s.pull(*jan);
  const auto linked = readOk(jan->db().signal(sig->id));
  REQUIRE(linked);
  CHECK(linked->case_id.value == c->id);
}
