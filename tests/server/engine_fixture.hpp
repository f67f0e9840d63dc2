// An in-process server engine plus real device stores, for engine tests: devices enroll with
// one-time codes and exchange their real outboxes with the engine.
#pragma once

#include <future>

#include "engine.hpp"
#include "eropaf/store.hpp"
#include "store/store_fixture.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::test {

struct Device {
  StoreFixture f;
  server::Principal principal;
  std::string cursor;
  store::Store& db() { return *f.db; }
};

struct EngineFixture {
  std::filesystem::path dir = makeTempDir("eropaf-engine");
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kStart);
  std::unique_ptr<server::Engine> engine;

  EngineFixture() {
    server::EngineOptions o;
    o.database_path = (dir / "server.db").string();
    o.clock = clock;
    auto e = server::Engine::open(o);
    if (!e.ok()) throw std::runtime_error(e.status().toString());
    engine = std::move(e).value();
    for (const char* w : {"WK015301", "WK015302"}) {
      if (!engine->addWijk({w, std::string("Wijk ") + w}).ok()) throw std::runtime_error("wijk");
    }
  }
  ~EngineFixture() {
    engine.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  v1::EnrollResponse enrollRaw(const std::string& code) {
    std::promise<Result<v1::EnrollResponse>> p;
    v1::EnrollRequest req;
    req.set_code(code);
    req.set_device_name("test phone");
    engine->enroll(req, [&](Result<v1::EnrollResponse> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    if (!r.ok()) throw std::runtime_error(r.status().toString());
    return *r;
  }

  /// Adds the worker, enrolls a fresh device store for it.
  std::unique_ptr<Device> device(const std::string& id, Role role,
                                 const std::vector<std::string>& wijken = {"WK015301"}) {
    Worker w{id, "Name " + id, role, wijken, true};
    if (!engine->addWorker(w).ok()) throw std::runtime_error("worker");
    auto code = engine->createEnrollmentCode(id);
    auto resp = enrollRaw(*code);
    auto d = std::make_unique<Device>();
    d->f.clock = clock;
    d->f.reopen();
    d->f.become(id, role, wijken);
    auto p = engine->authenticate(resp.token());
    if (!p.ok()) throw std::runtime_error(p.status().toString());
    d->principal = *p;
    return d;
  }

  v1::PushResponse pushRaw(const server::Principal& p, const v1::PushRequest& req) {
    std::promise<Result<v1::PushResponse>> done;
    engine->push(p, req, [&](Result<v1::PushResponse> r) { done.set_value(std::move(r)); });
    auto r = done.get_future().get();
    if (!r.ok()) throw std::runtime_error(r.status().toString());
    return *r;
  }

  static v1::PushRequest outboxRequest(Device& d) {
    v1::PushRequest req;
    req.set_device_id(d.principal.device_id);
    const auto outbox = d.db().outbox();
    if (!outbox.ok()) throw std::runtime_error(outbox.status().toString());
    for (const auto& e : *outbox) {
      if (e.status != store::OutboxStatus::kPending) continue;
      v1::Change* c = req.add_changes();
      c->set_change_id(e.change_id);
      wire::toProto(e.delta, *c->mutable_record());
    }
    return req;
  }

  /// Pushes the device's pending outbox and records the answers on the device.
  v1::PushResponse push(Device& d) {
    v1::PushResponse resp = pushRaw(d.principal, outboxRequest(d));
    for (const auto& r : resp.results()) {
      if (r.accepted()) {
        const std::vector<std::string> ids{r.change_id()};
        if (!d.db().acknowledge(ids).ok()) throw std::runtime_error("ack");
      } else {
        Status why(static_cast<ErrorCode>(r.error().code()), r.error().message(),
                   r.error().field());
        if (!d.db().markRefused(r.change_id(), why).ok()) throw std::runtime_error("refuse");
      }
    }
    return resp;
  }

  /// Pulls until done, applying pages to the device; returns the raw pages.
  std::vector<v1::PullResponse> pull(Device& d, std::uint32_t page = 100) {
    std::vector<v1::PullResponse> pages;
    for (;;) {
      v1::PullRequest req;
      req.set_cursor(d.cursor);
      req.set_max_records(page);
      auto r = engine->pull(d.principal, req);
      if (!r.ok()) throw std::runtime_error(r.status().toString());
      for (const auto& e : r->evictions()) {
        if (!d.db().evict(e.record_id()).ok()) throw std::runtime_error("evict");
      }
      std::vector<Record> records;
      for (const auto& rec : r->records()) records.push_back(*wire::fromProto(rec));
      auto applied = d.db().applyRemote(records);
      if (!applied.ok()) throw std::runtime_error(applied.status().toString());
      d.cursor = r->next_cursor();
      pages.push_back(*r);
      if (!r->more()) break;
    }
    return pages;
  }

  void sync(Device& d) {
    push(d);
    pull(d);
  }
};

}  // namespace eropaf::test
