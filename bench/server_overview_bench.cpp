// eropaf-bench-server-overview: the coordinator's overview on the server (Engine::overview,
// limit 50) over a real SQLite file on this machine's disk: N open cases (default 1,000,000)
// over 10 wijken, 10% of them overdue, asked by a coordinator of 5 of those wijken. The cases
// are seeded through Engine::push (the real write path: authorisation, merge, scope changes,
// the case_norms rows), 5,000 per push. Prints the seeding rate and p50 / p99 / max of the
// query, which includes its access-log commit (the rows' reads are durable before the answer).
// Usage: eropaf-bench-server-overview [--quick] [--cases N] [--dir DIR]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "engine.hpp"
#include "eropaf/clock.hpp"
#include "eropaf/id.hpp"
#include "wire/wire_mapping.hpp"

using namespace eropaf;
using Steady = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kNow = 1'790'000'000'000;  // 2026-09-21, a Monday
constexpr std::int64_t kDay = 86'400'000;

double ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void must(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, st.toString().c_str());
    std::exit(1);
  }
}

server::Principal enrolled(server::Engine& e, const Worker& w) {
  must(e.addWorker(w), "add worker");
  auto code = e.createEnrollmentCode(w.id);
  must(code.status(), "enrollment code");
  std::promise<Result<v1::EnrollResponse>> done;
  v1::EnrollRequest req;
  req.set_code(*code);
  req.set_device_name("bench");
  e.enroll(req, [&](Result<v1::EnrollResponse> r) { done.set_value(std::move(r)); });
  auto resp = done.get_future().get();
  must(resp.status(), "enroll");
  auto p = e.authenticate(resp->token());
  must(p.status(), "authenticate");
  return *p;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  long cases = 1'000'000;
  std::filesystem::path dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--cases" && i + 1 < argc) {
      cases = std::stol(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: eropaf-bench-server-overview [--quick] [--cases N] [--dir DIR]\n");
      return 2;
    }
  }
  if (quick) cases = std::min(cases, 20'000L);
  const bool own_dir = dir.empty();
  if (own_dir) {
    dir = std::filesystem::temp_directory_path() /
          ("eropaf-bench-server-overview-" + std::to_string(::getpid()));
  }
  std::filesystem::create_directories(dir);
  auto clock = std::make_shared<ManualClock>(kNow);
  server::EngineOptions o;
  o.database_path = (dir / "server.db").string();
  o.clock = clock;
  auto opened = server::Engine::open(o);
  must(opened.status(), "open engine");
  server::Engine& e = **opened;

  std::vector<std::string> wijken;
  for (int i = 1; i <= 10; ++i) {
    char code[16];
    std::snprintf(code, sizeof code, "WK0153%02d", i);
    wijken.emplace_back(code);
    must(e.addWijk({code, std::string("Wijk ") + code}), "add wijk");
  }
  const server::Principal seeder =
      enrolled(e, {"co-seed", "Seeder", Role::kCoordinator, wijken, true});
  const std::vector<std::string> five(wijken.begin(), wijken.begin() + 5);
  const server::Principal asker =
      enrolled(e, {"co-vijf", "Vijf wijken", Role::kCoordinator, five, true});

  // Categories with norms of 5 days or more: a fresh case is never overdue at kNow; an old one
  // (60-90 days) always is.
  const std::vector<std::string> cats = {"schulden",
                                         "vereenzaming",
                                         "overlast",
                                         "verwaarlozing",
                                         "verslaving",
                                         "schoolverzuim",
                                         "psychische_problemen",
                                         "mantelzorg_overbelast",
                                         "overig"};
  std::mt19937_64 rng(42);
  const std::uint64_t node = rng();
  const auto seed_start = Steady::now();
  long made = 0;
  while (made < cases) {
    v1::PushRequest req;
    req.set_device_id(seeder.device_id);
    const long batch = std::min(5000L, cases - made);
    for (long i = 0; i < batch; ++i) {
      const bool old = rng() % 10 == 0;
      const std::int64_t age =
          old ? (60 + static_cast<std::int64_t>(rng() % 30)) * kDay
              : static_cast<std::int64_t>(rng() % (std::uint64_t{12} * 3600 * 1000));
      const std::int64_t at = kNow - age;
      ManualClock at_clock(at);
      Hlc hlc(at_clock, 0);
      const std::uint64_t h = hlc.tick();  // versions of different records may coincide
      const Version v{h, node};
      Case c;
      c.id = newUuidV7(at);
      c.created = v;
      c.opened_by = seeder.worker.id;
      c.opened_at_ms = hlcMillis(h);
      c.wijk.set(wijken[rng() % wijken.size()], v);
      c.state.set(CaseState::kNieuw, v);
      c.address.set({"1234AB", std::to_string(1 + rng() % 20000), "", "Benchstraat", "Utrecht"}, v);
      c.household_key.set(householdKey(c.address.value), v);
      c.title.set("bench casus", v);
      c.categories[cats[rng() % cats.size()]] = {true, v};
      v1::Change* ch = req.add_changes();
      ch->set_change_id(newUuidV7(at));
      wire::toProto(Record(c), *ch->mutable_record());
    }
    std::promise<Result<v1::PushResponse>> done;
    e.push(seeder, req, [&](Result<v1::PushResponse> r) { done.set_value(std::move(r)); });
    auto resp = done.get_future().get();
    must(resp.status(), "push");
    for (const auto& r : resp->results()) {
      if (!r.accepted()) {
        std::fprintf(stderr, "seed refused: %s\n", r.error().message().c_str());
        return 1;
      }
    }
    made += batch;
  }
  const double seed_s = ms(Steady::now() - seed_start) / 1000.0;
  std::printf("seeded %ld cases over 10 wijken through Engine::push in %.1f s (%.0f cases/s)\n",
              made, seed_s, static_cast<double>(made) / seed_s);

  store::OverviewQuery q;
  q.limit = 50;
  q.now_ms = kNow;
  auto first = e.overview(asker, q);
  must(first.status(), "overview");
  std::printf("coordinator of 5 wijken: %zu open cases, %zu overdue; rows %zu\n", first->total,
              first->overdue, first->rows.size());
  const int runs = quick ? 20 : 200;
  std::vector<double> t;
  t.reserve(static_cast<std::size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Steady::now();
    auto r = e.overview(asker, q);
    t.push_back(ms(Steady::now() - t0));
    must(r.status(), "overview");
    if (r->rows.size() != std::min<std::size_t>(50, r->total)) {
      std::fprintf(stderr, "overview returned %zu rows\n", r->rows.size());
      return 1;
    }
  }
  std::sort(t.begin(), t.end());
  auto at = [&](double p) {
    return t[static_cast<std::size_t>(p * static_cast<double>(t.size() - 1))];
  };
  std::printf("Engine::overview limit 50 (%d runs): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", runs,
              at(0.5), at(0.99), t.back());
  std::printf(
      "json: {\"bench\":\"server_overview\",\"cases\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"max_ms\":%.3f,\"seed_cases_per_s\":%.0f}\n",
      made, at(0.5), at(0.99), t.back(), static_cast<double>(made) / seed_s);
  e.stop();
  opened->reset();
  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
