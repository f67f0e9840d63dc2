// The sync client (syncOnce, enroll, the SyncClient actor) against the real engine and HTTP
// router, in process: a Transport that hands requests to the Router and can fail sends, cut
// responses after the server applied them, and be cancelled. Checks retries, exactly-once
// application, cancellation, revocation, and that no callback runs after stop().
#include <catch2/catch.hpp>
#include <functional>
#include <future>
#include <thread>

#include "eropaf/sync.hpp"
#include "http/router.hpp"
#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::readOk;

namespace {

class RouterTransport final : public sync::Transport {
 public:
  explicit RouterTransport(server::Router& r) : router_(r) {}

  Result<sync::HttpResponse> send(const sync::HttpRequest& req) override {
    ++sends;
    if (before_send) before_send(req);
    if (cancelled_.exchange(false)) return Status(ErrorCode::kCancelled, "cancelled");
    if (fail_next > 0) {
      --fail_next;
      return Status(ErrorCode::kNetwork, "connection refused (injected)");
    }
    server::Request r{req.method, req.path, req.content_type,
                      req.bearer_token.empty() ? "" : "Bearer " + req.bearer_token, req.body};
    auto done = std::make_shared<std::promise<server::Response>>();
    auto f = done->get_future();
    router_.handle(std::move(r), [done](server::Response res) { done->set_value(std::move(res)); });
    // Wait, but give up when cancelled (a long poll).
    while (f.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready) {
      if (cancelled_.exchange(false)) return Status(ErrorCode::kCancelled, "cancelled");
    }
    server::Response res = f.get();
    if (req.path == "/v1/push" && cut_push_responses > 0) {
      --cut_push_responses;
      return Status(ErrorCode::kNetwork, "connection reset mid-response (injected)");
    }
    return sync::HttpResponse{static_cast<int>(res.status), res.content_type, res.body};
  }

  void cancel() override { cancelled_ = true; }

  /// Runs first in every send, on the sending thread (set before the transport is in use).
  std::function<void(const sync::HttpRequest&)> before_send;
  std::atomic<int> sends{0};
  std::atomic<int> fail_next{0};
  std::atomic<int> cut_push_responses{0};

 private:
  server::Router& router_;
  std::atomic<bool> cancelled_{false};
};

struct Fixture : test::EngineFixture {
  server::Metrics metrics;
  std::vector<std::thread> timers;
  std::mutex timers_mu;
  server::Router router{*engine, metrics,
                        [this](std::chrono::milliseconds d, std::function<void()> fn) {
                          std::lock_guard lock(timers_mu);
                          timers.emplace_back([d, fn = std::move(fn)] {
                            std::this_thread::sleep_for(d);
                            fn();
                          });
                        }};
  ~Fixture() {
    engine->stop();  // wakes long polls
    std::lock_guard lock(timers_mu);
    for (auto& t : timers) t.join();
  }

  /// A device enrolled over the router.
  std::unique_ptr<test::StoreFixture> enrolled(const std::string& id, Role role,
                                               RouterTransport& t) {
    REQUIRE(engine->addWorker({id, "Name " + id, role, {"WK015301"}, true}).ok());
    auto code = engine->createEnrollmentCode(id);
    auto dev = std::make_unique<test::StoreFixture>();
    auto who = sync::enroll(*dev->db, t, "inproc://", *code, "test");
    REQUIRE(who.ok());
    CHECK(who->worker_id == id);
    return dev;
  }
};

sync::SyncOptions fast() {
  sync::SyncOptions o;
  o.backoff_base = std::chrono::milliseconds(1);
  o.backoff_cap = std::chrono::milliseconds(5);
  o.watch_wait_ms = 2000;
  return o;
}

}  // namespace

TEST_CASE("sync survives failed sends and cut responses, and applies each change once",
          "[sync][client]") {
  Fixture f;
  RouterTransport tc(f.router), tw(f.router);
  auto co = f.enrolled("co-jan", Role::kCoordinator, tc);
  auto wc = f.enrolled("wc-anna", Role::kWijkcoach, tw);
  const std::atomic<bool> no{false};
  auto c = co->db->openCase(test::aCase());
  REQUIRE(co->db->assignCase(c->id, "wc-anna").ok());
  REQUIRE(sync::syncOnce(*co->db, tc, fast(), no, {}).ok());
  auto first = sync::syncOnce(*wc->db, tw, fast(), no, {});
  REQUIRE(first.ok());
  CHECK(first->pulled >= 2);  // the case and its transition

  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kNietThuis;
  for (int i = 0; i < 5; ++i) REQUIRE(wc->db->addContactMoment(m).ok());
  tw.fail_next = 2;           // two refused connections, then...
  tw.cut_push_responses = 1;  // ...the server applies the push but the answer is lost
  auto r = sync::syncOnce(*wc->db, tw, fast(), no, {});
  REQUIRE(r.ok());
  CHECK(readOk(wc->db->outboxSize()) == 0);
  CHECK(r->pushed == 5);  // the retry was answered from the server's memory
  REQUIRE(sync::syncOnce(*co->db, tc, fast(), no, {}).ok());
  CHECK(readOk(co->db->contactMoments(c->id)).size() == 5);

  SECTION("a server that stays down is reported, and the change waits") {
    REQUIRE(wc->db->addContactMoment(m).ok());
    tw.fail_next = 100;
    auto down = sync::syncOnce(*wc->db, tw, fast(), no, {});
    REQUIRE_FALSE(down.ok());
    CHECK(down.status().code() == ErrorCode::kNetwork);
    CHECK(readOk(wc->db->outboxSize()) == 1);
  }
}

TEST_CASE("progress is reported, a revoked device wipes itself", "[sync][client]") {
  Fixture f;
  RouterTransport t(f.router);
  auto zm = f.enrolled("zm-fatima", Role::kZorgmedewerker, t);
  REQUIRE(zm->db->createSignal(test::aSignal()).ok());
  std::vector<sync::SyncProgress::Phase> phases;
  const std::atomic<bool> no{false};
  auto r = sync::syncOnce(*zm->db, t, fast(), no,
                          [&](const sync::SyncProgress& p) { phases.push_back(p.phase); });
  REQUIRE(r.ok());
  CHECK(r->pushed == 1);
  REQUIRE(!phases.empty());
  CHECK(phases.back() == sync::SyncProgress::Phase::kDone);

  auto devices = f.engine->devices();
  REQUIRE(devices.ok());
  for (const auto& d : *devices) REQUIRE(f.engine->revokeDevice(d.id).ok());
  auto revoked = sync::syncOnce(*zm->db, t, fast(), no, {});
  REQUIRE(revoked.ok());
  CHECK(revoked->revoked);
  CHECK_FALSE(zm->db->identity());
  CHECK(zm->db->mySignals().status().code() == ErrorCode::kFailedPrecondition);
}

TEST_CASE("the actor: watch delivers live changes, cancel and stop are prompt and final",
          "[sync][client]") {
  Fixture f;
  RouterTransport tc(f.router), tz(f.router);
  auto co = f.enrolled("co-jan", Role::kCoordinator, tc);
  auto zm = f.enrolled("zm-fatima", Role::kZorgmedewerker, tz);
  const std::atomic<bool> no{false};
  REQUIRE(sync::syncOnce(*co->db, tc, fast(), no, {}).ok());

  auto transport = std::make_unique<RouterTransport>(f.router);
  sync::SyncClient client(*co->db, std::move(transport), fast());
  std::atomic<int> rounds{0};
  std::atomic<bool> after_stop{false};
  std::atomic<bool> called_after_stop{false};
  client.startWatch([&](Result<sync::SyncResult> r) {
    if (after_stop) called_after_stop = true;
    if (r.ok() && r->pulled > 0) ++rounds;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the watch is waiting
  REQUIRE(zm->db->createSignal(test::aSignal("live")).ok());
  REQUIRE(sync::syncOnce(*zm->db, tz, fast(), no, {}).ok());
  for (int i = 0; i < 200 && rounds.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(rounds.load() >= 1);
  CHECK(co->db->untriagedSignals("WK015301")->size() == 1);

  const auto t0 = std::chrono::steady_clock::now();
  client.stop();  // a long poll is in progress: stop must not wait for it
  after_stop = true;
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(called_after_stop.load());
  CHECK(client.syncBlocking().status().code() == ErrorCode::kCancelled);
}

TEST_CASE("a sync that is cancelled ends with kCancelled and loses nothing", "[sync][client]") {
  Fixture f;
  RouterTransport t(f.router);
  auto zm = f.enrolled("zm-fatima", Role::kZorgmedewerker, t);
  REQUIRE(zm->db->createSignal(test::aSignal()).ok());
  std::atomic<bool> cancelled{true};
  auto r = sync::syncOnce(*zm->db, t, fast(), cancelled, {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kCancelled);
  CHECK(readOk(zm->db->outboxSize()) == 1);
  cancelled = false;
  REQUIRE(sync::syncOnce(*zm->db, t, fast(), cancelled, {}).ok());
  CHECK(readOk(zm->db->outboxSize()) == 0);
}

TEST_CASE("notifyLocalChange ends a watch round's long poll but never a push in progress",
          "[sync][client]") {
  Fixture f;
  RouterTransport tc(f.router);
  auto co = f.enrolled("co-jan", Role::kCoordinator, tc);
  const std::atomic<bool> no{false};
  REQUIRE(sync::syncOnce(*co->db, tc, fast(), no, {}).ok());
  REQUIRE(co->db->openCase(test::aCase("eerste")).ok());
  REQUIRE(co->db->openCase(test::aCase("tweede", {"vereenzaming"}, "1234AB", "14")).ok());

  // The client's push stops in the transport until the test lets it go; the test calls
  // notifyLocalChange() while it waits. Only promises cross the threads (no Catch2 macro runs
  // on the client's thread).
  std::promise<void> push_started;
  std::promise<void> go;
  std::shared_future<void> released = go.get_future().share();
  std::atomic<bool> gated{false};
  std::promise<Result<sync::SyncResult>> result;
  auto synced = result.get_future();
  auto transport = std::make_unique<RouterTransport>(f.router);
  transport->before_send = [&](const sync::HttpRequest& req) {
    if (req.path != "/v1/push" || gated.exchange(true)) return;
    push_started.set_value();
    released.wait();
  };
  sync::SyncOptions o = fast();
  o.watch_wait_ms = 10'000;
  sync::SyncClient client(*co->db, std::move(transport), o);

  client.syncNow([&](Result<sync::SyncResult> r) { result.set_value(std::move(r)); });
  REQUIRE(push_started.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  client.notifyLocalChange();  // a push is in progress: it must go on
  go.set_value();
  REQUIRE(synced.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  Result<sync::SyncResult> r = synced.get();
  INFO(r.status().toString());
  REQUIRE(r.ok());
  CHECK(r->pushed == 2);
  CHECK(readOk(co->db->outboxSize()) == 0);

  SECTION("while the watch waits in its long poll, a local change is pushed at once") {
    client.startWatch([](const Result<sync::SyncResult>&) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the long poll is waiting
    REQUIRE(co->db->openCase(test::aCase("derde", {"vereenzaming"}, "1234AB", "16")).ok());
    const auto t0 = std::chrono::steady_clock::now();
    client.notifyLocalChange();
    while (readOk(co->db->outboxSize()) > 0 &&
           std::chrono::steady_clock::now() - t0 < std::chrono::seconds(8)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(readOk(co->db->outboxSize()) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));  // not 10 s
    client.stop();
  }
}
