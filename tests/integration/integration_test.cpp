// Integration: the real eropaf-server process on port 0, real device stores, the real libcurl
// transport over loopback. The user scenarios of the sync issue, a push whose answer was cut,
// kill -9 during a push storm, concurrent pushes and pulls, what a pull reveals to whom, and
// bad input answered while the server keeps serving.
#include <algorithm>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "eropaf/id.hpp"
#include "eropaf/v1/sync.pb.h"
#include "integration/server_process.hpp"
#include "store/store_fixture.hpp"
#include "wire/wire_mapping.hpp"

using namespace eropaf;
using eropaf::test::readOk;
using test::RemoteDevice;
using test::ServerProcess;

namespace {

/// What worker threads saw go wrong. Catch2 v2's assertions are not thread-safe, so a thread
/// records its failures here and the test checks them on the main thread, after the join.
class ThreadFailures {
 public:
  void add(std::string what) {
    std::lock_guard lock(mu_);
    failures_.push_back(std::move(what));
  }
  /// Call on the main thread once every writer has joined.
  std::vector<std::string> all() {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> failures_;
};

/// A raw POST through the device's transport: status and body, nothing interpreted.
sync::HttpResponse raw(RemoteDevice& d, const std::string& path, const std::string& body,
                       const std::string& content_type = "application/x-protobuf",
                       std::optional<std::string> token = std::nullopt) {
  sync::HttpRequest r;
  r.path = path;
  r.content_type = content_type;
  r.bearer_token = token ? *token : d.db->syncState()->token;
  r.body = body;
  auto res = d.transport->send(r);
  REQUIRE(res.ok());
  return *res;
}

v1::ErrorCode errorCodeOf(const sync::HttpResponse& r) {
  v1::ErrorResponse e;
  if (r.content_type.find("json") != std::string::npos) {
    // {"error":{"code":"ERROR_CODE_X",...}}
    const auto p = r.body.find("ERROR_CODE_");
    if (p == std::string::npos) return v1::ERROR_CODE_OK;
    const auto end = r.body.find('"', p);
    v1::ErrorCode code = v1::ERROR_CODE_OK;
    v1::ErrorCode_Parse(r.body.substr(p, end - p), &code);
    return code;
  }
  REQUIRE(e.ParseFromString(r.body));
  return e.error().code();
}

std::set<std::string> ids(RemoteDevice& d) {
  std::set<std::string> out;
  for (const auto& r : *d.db->allRecords()) out.insert(recordId(r));
  return out;
}

/// Fails the first push's answer after the server has applied it: a cut connection.
class CutFirstPushAnswer final : public sync::Transport {
 public:
  explicit CutFirstPushAnswer(std::unique_ptr<sync::Transport> inner) : inner_(std::move(inner)) {}
  Result<sync::HttpResponse> send(const sync::HttpRequest& r) override {
    auto res = inner_->send(r);
    if (r.path == "/v1/push" && !cut_) {
      cut_ = true;
      return Status(ErrorCode::kNetwork, "connection reset by peer (cut after the request)");
    }
    return res;
  }
  void cancel() override { inner_->cancel(); }

 private:
  std::unique_ptr<sync::Transport> inner_;
  bool cut_ = false;
};

}  // namespace

TEST_CASE("a signal becomes a case, the coach gets it whole, reassigned, it moves with its history",
          "[integration]") {
  ServerProcess server;
  auto zm = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto anna = test::enrollDevice(server, "wc-anna", Role::kWijkcoach);
  auto bram = test::enrollDevice(server, "wc-bram", Role::kWijkcoach);

  auto sig = zm->db->createSignal(test::aSignal("Koelkast leeg, brieven van de deurwaarder"));
  REQUIRE(sig.ok());
  REQUIRE(zm->sync().ok());
  REQUIRE(co->sync().ok());
  REQUIRE(co->db->untriagedSignals("WK015301")->size() == 1);
  store::NewCase nc = test::aCase("Schulden Dorpsstraat 12", {"schulden"});
  nc.signal_ids = {sig->id};
  auto c = co->db->openCase(nc);
  REQUIRE(c.ok());
  REQUIRE(co->db->assignCase(c->id, "wc-anna").ok());
  REQUIRE(co->sync().ok());

  REQUIRE(anna->sync().ok());
  REQUIRE(anna->db->myCases()->size() == 1);
  CHECK(readOk(anna->db->signal(sig->id)).has_value());  // the whole case: its signal too
  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kNietThuis;
  REQUIRE(anna->db->addContactMoment(m).ok());
  m.outcome = ContactOutcome::kDeurNietGeopend;
  REQUIRE(anna->db->addContactMoment(m).ok());
  REQUIRE(anna->db->moveCase({c->id, CaseState::kContactZoeken, "", false}).ok());
  REQUIRE(anna->sync().ok());
  REQUIRE(co->sync().ok());
  CHECK(readOk(co->db->contactMoments(c->id)).size() == 2);
  CHECK(readOk(co->db->getCase(c->id))->state.value == CaseState::kContactZoeken);

  REQUIRE(co->db->assignCase(c->id, "wc-bram").ok());
  REQUIRE(co->sync().ok());
  auto evicted = anna->sync();
  REQUIRE(evicted.ok());
  CHECK(evicted->evicted >= 1);
  CHECK_FALSE(readOk(anna->db->getCase(c->id)));
  CHECK(readOk(anna->db->contactMoments(c->id)).empty());
  CHECK_FALSE(readOk(anna->db->signal(sig->id)));
  REQUIRE(bram->sync().ok());
  REQUIRE(readOk(bram->db->getCase(c->id)));
  CHECK(readOk(bram->db->contactMoments(c->id)).size() == 2);

  REQUIRE(zm->sync().ok());
  auto mine = readOk(zm->db->signal(sig->id));
  REQUIRE(mine);
  CHECK(mine->triage_state.value == TriageState::kGekoppeld);
  CHECK(mine->case_id.value.empty());
  CHECK_FALSE(readOk(zm->db->getCase(c->id)));
}

TEST_CASE(
    "two coaches pick up the same case offline: one gets it, the coordinator sees the conflict",
    "[integration]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto anna = test::enrollDevice(server, "wc-anna", Role::kWijkcoach);
  auto bram = test::enrollDevice(server, "wc-bram", Role::kWijkcoach);
  auto c = co->db->openCase(test::aCase());
  REQUIRE(co->sync().ok());
  REQUIRE(anna->sync().ok());
  REQUIRE(bram->sync().ok());
  REQUIRE(anna->db->pickUpCase(c->id).ok());
  REQUIRE(bram->db->pickUpCase(c->id).ok());
  REQUIRE(anna->sync().ok());
  REQUIRE(bram->sync().ok());
  REQUIRE(anna->sync().ok());
  REQUIRE(co->sync().ok());
  const bool anna_has = readOk(anna->db->getCase(c->id)).has_value();
  const bool bram_has = readOk(bram->db->getCase(c->id)).has_value();
  CHECK(anna_has != bram_has);
  auto conflicts = co->db->conflictCases();
  REQUIRE(conflicts->size() == 1);
  REQUIRE(co->db->resolveConflict(c->id, std::nullopt, "Anna neemt het over").ok());
  REQUIRE(co->sync().ok());
  REQUIRE(co->sync().ok());
  CHECK(co->db->conflictCases()->empty());
}

TEST_CASE("a push whose answer was cut is retried and applies once", "[integration]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto zm = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  for (int i = 0; i < 20; ++i)
    REQUIRE(zm->db->createSignal(test::aSignal("nr " + std::to_string(i))).ok());
  zm->transport = std::make_unique<CutFirstPushAnswer>(std::move(zm->transport));
  auto r = zm->sync();
  REQUIRE(r.ok());
  CHECK(readOk(zm->db->outboxSize()) == 0);
  REQUIRE(co->sync().ok());
  CHECK(co->db->untriagedSignals("WK015301")->size() == 20);
  CHECK(ids(*co).size() == 20);
}

TEST_CASE("kill -9 during a push storm: every acknowledged change is there exactly once",
          "[integration]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  std::vector<std::unique_ptr<RemoteDevice>> coaches;
  coaches.reserve(3);
  for (int i = 0; i < 3; ++i) {
    coaches.push_back(test::enrollDevice(server, "wc-" + std::to_string(i), Role::kWijkcoach));
  }
  constexpr int kPerDevice = 150;
  std::atomic<bool> go{false};
  ThreadFailures failures;
  std::vector<std::thread> writers;
  writers.reserve(coaches.size());
  for (auto& d : coaches) {
    writers.emplace_back([&go, &failures, dev = d.get()] {
      while (!go) std::this_thread::yield();
      for (int i = 0; i < kPerDevice; ++i) {
        auto sig = dev->db->createSignal(test::aSignal("storm " + std::to_string(i)));
        if (!sig.ok()) {
          failures.add("createSignal " + std::to_string(i) + ": " + sig.status().toString());
          return;
        }
        if (i % 10 == 9) static_cast<void>(dev->sync());  // fails while the server is down
      }
    });
  }
  go = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  server.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.restart();
  for (auto& t : writers) t.join();
  for (const auto& failure : failures.all()) FAIL_CHECK(failure);
  REQUIRE(failures.all().empty());
  for (auto& d : coaches) {
    d->moveTo(server.url());
    for (int round = 0; round < 5 && readOk(d->db->outboxSize()) > 0; ++round)
      static_cast<void>(d->sync());
    CHECK(readOk(d->db->outboxSize()) == 0);
  }
  co->moveTo(server.url());
  REQUIRE(co->sync().ok());
  std::set<std::string> expected;
  for (auto& d : coaches) {
    for (const auto& s : *d->db->mySignals()) expected.insert(s.id);
    REQUIRE(d->sync().ok());
  }
  CHECK(expected.size() == std::size_t{3} * kPerDevice);
  const auto seen = ids(*co);
  CHECK(seen == expected);  // each exactly once (a set of ids, and no extra records)
}

TEST_CASE("concurrent pushes and pulls: no cursor skips a change", "[integration]") {
  ServerProcess server;
  std::vector<std::unique_ptr<RemoteDevice>> writers, readers;
  for (int i = 0; i < 3; ++i) {
    writers.push_back(test::enrollDevice(server, "zm-" + std::to_string(i), Role::kZorgmedewerker));
  }
  for (int i = 0; i < 2; ++i) {
    readers.push_back(test::enrollDevice(server, "co-" + std::to_string(i), Role::kCoordinator));
  }
  std::atomic<bool> done{false};
  ThreadFailures failures;
  std::vector<std::thread> threads;
  threads.reserve(writers.size());
  for (auto& w : writers) {
    threads.emplace_back([&failures, dev = w.get()] {
      for (int i = 0; i < 60; ++i) {
        auto sig = dev->db->createSignal(test::aSignal("c " + std::to_string(i)));
        if (!sig.ok()) {
          failures.add("createSignal " + std::to_string(i) + ": " + sig.status().toString());
          return;
        }
        auto synced = dev->sync();
        if (!synced.ok()) {
          failures.add("writer sync " + std::to_string(i) + ": " + synced.status().toString());
          return;
        }
      }
    });
  }
  for (auto& r : readers) {
    threads.emplace_back([&done, &failures, dev = r.get()] {
      while (!done) {
        auto synced = dev->sync();
        if (!synced.ok()) {
          failures.add("reader sync: " + synced.status().toString());
          return;
        }
      }
    });
  }
  for (std::size_t i = 0; i < writers.size(); ++i) threads[i].join();
  done = true;
  for (std::size_t i = writers.size(); i < threads.size(); ++i) threads[i].join();
  for (const auto& failure : failures.all()) FAIL_CHECK(failure);
  REQUIRE(failures.all().empty());
  std::set<std::string> written;
  for (auto& w : writers) {
    for (const auto& s : *w->db->mySignals()) written.insert(s.id);
  }
  CHECK(written.size() == 180);
  for (auto& r : readers) {
    REQUIRE(r->sync().ok());
    CHECK(ids(*r) == written);
  }
}

TEST_CASE("a pull shows nothing outside the principal's scope, not even an id", "[integration]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto zm = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  auto other = test::enrollDevice(server, "zm-other", Role::kZorgmedewerker);
  auto far = test::enrollDevice(server, "wc-far", Role::kWijkcoach, "WK036301");
  auto somebody = test::enrollDevice(server, "wc-somebody", Role::kWijkcoach);
  auto theirs = other->db->createSignal(test::aSignal("Geheim-van-een-ander", "1234AB", "77"));
  REQUIRE(other->sync().ok());
  auto sig = zm->db->createSignal(test::aSignal("Mijn-eigen-melding"));
  REQUIRE(zm->sync().ok());
  REQUIRE(co->sync().ok());
  store::NewCase nc = test::aCase("Casus-titel-geheim");
  nc.address.street = "Geheimstraat";
  nc.signal_ids = {sig->id, theirs->id};
  auto c = co->db->openCase(nc);
  REQUIRE(co->db->assignCase(c->id, "wc-somebody").ok());
  REQUIRE(co->sync().ok());

  v1::PullRequest first;
  const std::string body = first.SerializeAsString();
  for (RemoteDevice* d : {zm.get(), far.get()}) {
    const auto res = raw(*d, "/v1/pull", body);
    REQUIRE(res.status == 200);
    INFO("pull of " << d->db->identity()->worker_id);
    CHECK(res.body.find(c->id) == std::string::npos);
    CHECK(res.body.find(theirs->id) == std::string::npos);
    CHECK(res.body.find("Geheim-van-een-ander") == std::string::npos);
    CHECK(res.body.find("Casus-titel-geheim") == std::string::npos);
    CHECK(res.body.find("Geheimstraat") == std::string::npos);
  }
  // The far coach sees nothing of WK015301 at all; the reporter sees her own signal only.
  CHECK(raw(*far, "/v1/pull", body).body.find(sig->id) == std::string::npos);
  CHECK(raw(*zm, "/v1/pull", body).body.find(sig->id) != std::string::npos);
}

TEST_CASE("bad input gets a clear error while the server keeps serving", "[integration]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto wc = test::enrollDevice(server, "wc-anna", Role::kWijkcoach);
  auto c = co->db->openCase(test::aCase());
  REQUIRE(co->db->assignCase(c->id, "wc-anna").ok());
  REQUIRE(co->sync().ok());
  REQUIRE(wc->sync().ok());

  auto bad = raw(*wc, "/v1/push", std::string("\xff\xff\xff\xff\x0f", 5));
  CHECK(bad.status == 400);
  CHECK(errorCodeOf(bad) == v1::ERROR_CODE_DECODE_ERROR);
  auto big = raw(*wc, "/v1/push", std::string(std::size_t{9} * 1024 * 1024, 'x'));
  CHECK(big.status == 413);
  CHECK(errorCodeOf(big) == v1::ERROR_CODE_TOO_LARGE);
  auto type = raw(*wc, "/v1/push", "x", "text/plain");
  CHECK(type.status == 415);
  auto route = raw(*wc, "/v1/nothing", "");
  CHECK(route.status == 404);
  auto missing = raw(*wc, "/v1/pull", "", "application/x-protobuf", std::string());
  CHECK(missing.status == 401);
  CHECK(errorCodeOf(missing) == v1::ERROR_CODE_UNAUTHENTICATED);
  auto forged = raw(*wc, "/v1/pull", "", "application/x-protobuf",
                    wc->db->syncState()->token.substr(0, 40) + "0000");
  CHECK(forged.status == 401);

  // Refused per change: a field the role may not write, a transition the role may not make,
  // a version far in the future.
  const std::uint64_t node = wc->db->node();
  v1::PushRequest push;
  Case delta;
  delta.id = c->id;
  delta.priority.set(Priority::kAcuut, {wc->db->hlcLast() + 1, node});
  auto* ch = push.add_changes();
  ch->set_change_id(newUuidV7(test::kStart));
  wire::toProto(Record(delta), *ch->mutable_record());
  Transition t;
  t.id = newUuidV7(test::kStart);
  t.created = {wc->db->hlcLast() + 2, node};
  t.case_id = c->id;
  t.from = CaseState::kToegewezen;
  t.to = CaseState::kGeannuleerd;
  t.actor_id = "wc-anna";
  t.actor_role = Role::kWijkcoach;
  t.at_ms = test::kStart;
  t.reason = "zelf gestopt";
  ch = push.add_changes();
  ch->set_change_id(newUuidV7(test::kStart));
  wire::toProto(Record(t), *ch->mutable_record());
  Signal future;
  future.id = newUuidV7(test::kStart);
  future.created = {hlcPack(SystemClock().nowMs() + 3'600'000, 0), node};
  future.content = {
      "wc-anna",  Role::kWijkcoach, "WK015301",   {"1234AB", "1", "", "", ""}, "1234AB|1|",
      {"overig"}, Urgency::kLaag,   test::kStart, "uit de toekomst",           Informed::kYes};
  ch = push.add_changes();
  ch->set_change_id(newUuidV7(test::kStart));
  wire::toProto(Record(future), *ch->mutable_record());
  auto answered = raw(*wc, "/v1/push", push.SerializeAsString());
  REQUIRE(answered.status == 200);
  v1::PushResponse pr;
  REQUIRE(pr.ParseFromString(answered.body));
  REQUIRE(pr.results_size() == 3);
  CHECK(pr.results(0).error().code() == v1::ERROR_CODE_PERMISSION_DENIED);
  CHECK(pr.results(0).error().field().empty());  // one refusal per record, no field told
  CHECK(pr.results(1).error().code() == v1::ERROR_CODE_TRANSITION_NOT_ALLOWED);
  CHECK(pr.results(2).error().code() == v1::ERROR_CODE_CLOCK_SKEW);

  // Still serving: a normal sync works.
  REQUIRE(wc->db
              ->addContactMoment({c->id, ContactKind::kHuisbezoek, ContactOutcome::kGesprek,
                                  "na alle fouten", std::nullopt, ""})
              .ok());
  auto ok = wc->sync();
  REQUIRE(ok.ok());
  CHECK(ok->pushed == 1);

  // A revoked device is told so, and wipes itself.
  auto devices = server.admin({"devices", "--json"});
  REQUIRE(devices.exit_code == 0);
  const std::string device_id = wc->db->identity()->device_id;
  REQUIRE(server.admin({"revoke", device_id}).exit_code == 0);
  auto revoked = raw(*wc, "/v1/pull", "");
  CHECK(revoked.status == 403);
  CHECK(errorCodeOf(revoked) == v1::ERROR_CODE_DEVICE_REVOKED);
  auto wiped = wc->sync();
  REQUIRE(wiped.ok());
  CHECK(wiped->revoked);
  CHECK_FALSE(wc->db->identity());

  CHECK(server.terminate() == 0);  // SIGTERM drains and exits cleanly
}

TEST_CASE("admin changes made by another process reach the running server", "[integration]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  REQUIRE(co->sync().ok());
  auto knows = [&](const std::string& id) {
    auto workers = co->db->workers();
    REQUIRE(workers.ok());
    return std::any_of(workers->begin(), workers->end(),
                       [&](const Worker& w) { return w.id == id; });
  };
  CHECK_FALSE(knows("wc-nieuw"));
  // `eropaf-server admin` is its own process on the same database.
  auto added = server.admin({"add-worker", "--id", "wc-nieuw", "--name", "Nieuwe Coach", "--role",
                             "wijkcoach", "--wijk", "WK015301"});
  REQUIRE(added.exit_code == 0);
  bool seen = false;
  for (int i = 0; i < 40 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(co->sync().ok());
    seen = knows("wc-nieuw");
  }
  CHECK(seen);
  // And the new colleague can be assigned at once: the server's engine knows them.
  auto c = co->db->openCase(test::aCase());
  REQUIRE(co->db->assignCase(c->id, "wc-nieuw").ok());
  auto r = co->sync();
  REQUIRE(r.ok());
  CHECK(r->refused == 0);
}

namespace {

/// Every id a raw pull response names: in records (and their links) or in evictions.
std::vector<std::string> evictedIds(const std::string& body) {
  v1::PullResponse r;
  REQUIRE(r.ParseFromString(body));
  std::vector<std::string> out;
  for (const auto& e : r.evictions()) out.push_back(e.record_id());
  return out;
}

/// A raw push of one case delta: `delta` is the coordinator's own outbox delta for an
/// assignment, rewritten to name `to` (what a stale or tampered device would send).
sync::HttpResponse pushAssignment(RemoteDevice& d, Record delta, const std::string& to) {
  auto& k = std::get<Case>(delta);
  k.assignee.value = to;
  for (auto& [id, h] : k.history) h.to = to;
  v1::PushRequest req;
  v1::Change* c = req.add_changes();
  c->set_change_id(newUuidV7(test::kStart));
  wire::toProto(delta, *c->mutable_record());
  return raw(d, "/v1/push", req.SerializeAsString());
}

}  // namespace

TEST_CASE("after a reassignment and a mis-assignment, raw pulls name no case never held",
          "[integration][triage]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto anna = test::enrollDevice(server, "wc-anna", Role::kWijkcoach);
  auto bram = test::enrollDevice(server, "wc-bram", Role::kWijkcoach);
  auto zm = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  auto far = test::enrollDevice(server, "wc-far", Role::kWijkcoach, "WK036301");

  auto sig = zm->db->createSignal(test::aSignal("Melding-van-fatima"));
  REQUIRE(sig.ok());
  REQUIRE(zm->sync().ok());
  REQUIRE(co->sync().ok());
  store::NewCase n1 = test::aCase("Casus-een");
  n1.signal_ids = {sig->id};
  auto c1 = co->db->openCase(n1);
  auto c2 = co->db->openCase(test::aCase("Casus-twee", {"schulden"}, "1234AB", "14"));
  auto c3 = co->db->openCase(test::aCase("Casus-drie", {"overlast"}, "1234AB", "16"));
  REQUIRE((c1.ok() && c2.ok() && c3.ok()));
  REQUIRE(co->db->assignCase(c1->id, "wc-anna").ok());
  REQUIRE(co->db->assignCase(c2->id, "wc-anna").ok());
  REQUIRE(co->sync().ok());
  for (RemoteDevice* d : {anna.get(), bram.get(), zm.get(), far.get()}) REQUIRE(d->sync().ok());
  REQUIRE(readOk(anna->db->myCases()).size() == 2);
  const std::vector<std::string> cases{c1->id, c2->id, c3->id};

  // A mis-assignment: the coordinator's assignment of the third case, pushed (as a stale or
  // tampered device would) to the home-care worker and to a coach of another wijk. Refused,
  // per change, naming the valid colleagues.
  REQUIRE(co->db->assignCase(c3->id, "wc-bram").ok());
  Record delta;
  for (const auto& e : readOk(co->db->outbox())) {
    if (std::holds_alternative<Case>(e.delta)) delta = e.delta;
  }
  REQUIRE(std::holds_alternative<Case>(delta));
  for (const std::string bad : {"zm-fatima", "wc-far"}) {
    INFO(bad);
    const auto res = pushAssignment(*co, delta, bad);
    REQUIRE(res.status == 200);
    v1::PushResponse pr;
    REQUIRE(pr.ParseFromString(res.body));
    REQUIRE(pr.results_size() == 1);
    CHECK_FALSE(pr.results(0).accepted());
    CHECK(pr.results(0).error().field() == "assignee");
    CHECK(pr.results(0).error().message().find("wc-bram") != std::string::npos);
  }
  REQUIRE(co->sync().ok());  // the genuine assignment, to wc-bram

  // Anna leaves: deactivated (her phone revoked), her open cases to Bram.
  const auto before_zm = zm->db->syncState()->cursor;
  const auto before_far = far->db->syncState()->cursor;
  const auto before_bram = bram->db->syncState()->cursor;
  REQUIRE(server.admin({"deactivate", "wc-anna"}).exit_code == 0);
  const auto moved = server.admin(
      {"--json", "reassign", "--from", "wc-anna", "--to", "wc-bram", "--reason", "Anna vertrekt"});
  REQUIRE(moved.exit_code == 0);
  CHECK(moved.out.find(c1->id) != std::string::npos);
  CHECK(moved.out.find(c2->id) != std::string::npos);
  // To someone who may not take them: refused, exit 1, nothing moved.
  CHECK(server.admin({"reassign", "--from", "wc-bram", "--to", "zm-fatima"}).exit_code == 1);

  // The raw pull bytes, from their last cursor and from scratch: no id of a case they never
  // held, in records or in evictions.
  auto pullFrom = [&](RemoteDevice& d, const std::string& cursor) {
    v1::PullRequest req;
    req.set_cursor(cursor);
    const auto res = raw(d, "/v1/pull", req.SerializeAsString());
    REQUIRE(res.status == 200);
    return res.body;
  };
  for (auto [d, cursor] : {std::pair{zm.get(), before_zm}, std::pair{far.get(), before_far}}) {
    INFO("pull of " << d->db->identity()->worker_id);
    for (const std::string& from : {cursor, std::string()}) {
      const std::string body = pullFrom(*d, from);
      for (const auto& id : cases) CHECK(body.find(id) == std::string::npos);
      CHECK(body.find("Casus-") == std::string::npos);
      CHECK(evictedIds(body).empty());  // they never held anything that left
    }
  }
  // The far coach learns nothing of the signal either; the reporter sees hers, no case id.
  CHECK(pullFrom(*far, "").find(sig->id) == std::string::npos);
  CHECK(pullFrom(*zm, "").find(sig->id) != std::string::npos);
  // A case that came into Bram's queue and left it again between two of his pulls: he was
  // never sent it, so he is told nothing about it, not even an eviction.
  auto c4 = co->db->openCase(test::aCase("Casus-vier", {"overlast"}, "1234AB", "18"));
  REQUIRE(c4.ok());
  REQUIRE(co->sync().ok());
  REQUIRE(co->db->assignCase(c4->id, "co-jan").ok());
  REQUIRE(co->sync().ok());
  // Bram gains the cases: no eviction for any of them (he never held one that left him).
  const std::string bram_body = pullFrom(*bram, before_bram);
  CHECK(bram_body.find(c4->id) == std::string::npos);
  for (const auto& id : evictedIds(bram_body)) {
    CHECK(std::find(cases.begin(), cases.end(), id) == cases.end());
  }
  REQUIRE(bram->sync().ok());
  const auto his = readOk(bram->db->myCases());
  CHECK(his.size() == 3);
  for (const Case& c : his) {
    if (c.id == c3->id) continue;
    bool entry = false;
    for (const auto& [id, h] : c.history) {
      entry = entry || (h.actor_id == "admin" && h.from == "wc-anna" && h.to == "wc-bram" &&
                        h.reason == "Anna vertrekt");
    }
    CHECK(entry);
  }
  // Anna's phone is told it was revoked, and wipes its data.
  const auto gone = anna->sync();
  REQUIRE(gone.ok());
  CHECK(gone->revoked);
  CHECK_FALSE(anna->db->identity());  // wiped
}

TEST_CASE("admin set-category over the CLI: validated, and on devices at their next pull",
          "[integration][admin]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  REQUIRE(co->sync().ok());
  // Bad input: usage (2) for a missing code or an unknown flag, refused (1) naming what.
  CHECK(server.admin({"set-category"}).exit_code == 2);
  CHECK(server.admin({"set-category", "woning", "--kleur", "rood"}).exit_code == 2);
  auto no_label = server.admin(
      {"--json", "set-category", "woning", "--priority", "hoog", "--first-contact-days", "3"});
  CHECK(no_label.exit_code == 1);
  CHECK(no_label.out.find("--label") != std::string::npos);
  auto bad_prio = server.admin({"--json", "set-category", "woning", "--label", "Woning",
                                "--priority", "dringend", "--first-contact-days", "3"});
  CHECK(bad_prio.exit_code == 1);
  CHECK(bad_prio.out.find("dringend") != std::string::npos);
  auto bad_days = server.admin({"--json", "set-category", "woning", "--label", "Woning",
                                "--priority", "hoog", "--first-contact-days", "drie"});
  CHECK(bad_days.exit_code == 1);
  CHECK(bad_days.out.find("whole number") != std::string::npos);
  CHECK(server
            .admin({"set-category", "woning", "--label", "Woning", "--priority", "hoog",
                    "--first-contact-days", "3", "--working-days", "misschien"})
            .exit_code == 1);

  REQUIRE(server
              .admin({"set-category", "woningvervuiling", "--label", "Woningvervuiling",
                      "--priority", "hoog", "--first-contact-days", "3", "--working-days", "yes",
                      "--sensitive", "yes"})
              .exit_code == 0);
  // An update changes only the flags given.
  REQUIRE(server.admin({"set-category", "overig", "--label", "Anders"}).exit_code == 0);
  bool seen = false;
  for (int i = 0; i < 40 && !seen; ++i) {
    REQUIRE(co->sync().ok());
    for (const Category& c : co->db->categories()) {
      if (c.code != "woningvervuiling") continue;
      seen = true;
      CHECK(c.label == "Woningvervuiling");
      CHECK(c.default_priority == Priority::kHoog);
      CHECK(c.first_contact_days == 3);
      CHECK(c.first_gesprek_days == 6);
      CHECK(c.working_days);
      CHECK(c.sensitive);
    }
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(seen);
  for (const Category& c : co->db->categories()) {
    if (c.code != "overig") continue;
    CHECK(c.label == "Anders");
    CHECK(c.default_priority == Priority::kLaag);  // kept
  }
  // A signal of the new category is accepted by the server.
  store::NewSignal s = test::aSignal();
  s.categories = {"woningvervuiling"};
  REQUIRE(co->db->createSignal(s).ok());
  const auto r = co->sync();
  REQUIRE(r.ok());
  CHECK(r->refused == 0);
}
