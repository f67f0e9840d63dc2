// eropaf-bench-report: the results report on the server (Engine::report) for a year of one wijk
// over a real SQLite file on this machine's disk: a coordinator of 5 wijken over 1,000,000
// cases (default: 200,000 cases per wijk, 1.2 signals per case, contact moments summarised in
// each case's row), asking for one wijk's calendar year 2025. The report's rows (report_cases,
// report_signals) are seeded in one direct transaction through the server store: this measures
// the report's read, not the write path (the engine keeps these rows on every push; the push
// cost is eropaf-bench-server-overview's). Prints the seeding time and p50 / max of the report
// for the admin (Engine::report) and for the coordinator (plus its access-log commit).
// Usage: eropaf-bench-report [--quick] [--cases-per-wijk N] [--dir DIR]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "engine.hpp"
#include "eropaf/clock.hpp"
#include "eropaf/resolution.hpp"
#include "report_format.hpp"
#include "server_store.hpp"

using namespace eropaf;
using Steady = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kHour = 3'600'000;

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

int run(int argc, char** argv) {
  bool quick = false;
  long per_wijk = 200'000;
  std::filesystem::path dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--cases-per-wijk" && i + 1 < argc) {
      per_wijk = std::stol(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: eropaf-bench-report [--quick] [--cases-per-wijk N] [--dir DIR]\n");
      return 2;
    }
  }
  if (quick) per_wijk = std::min(per_wijk, 2'000L);
  const bool own_dir = dir.empty();
  if (own_dir) {
    dir = std::filesystem::temp_directory_path() /
          ("eropaf-bench-report-" + std::to_string(::getpid()));
  }
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "server.db").string();

  auto q = server::reportQueryForDays("2025-01-01", "2025-12-31", {"WK015301"});
  must(q.status(), "period");
  const std::int64_t year_from = q->from_ms;
  const std::int64_t year_to = q->to_ms;
  q->now_ms = year_to + 14 * kDay;

  std::vector<std::string> wijken;
  for (int i = 1; i <= 5; ++i) {
    char code[16];
    std::snprintf(code, sizeof code, "WK0153%02d", i);
    wijken.emplace_back(code);
  }

  // --- seed: one direct transaction through the server store ---
  const auto seed_start = Steady::now();
  std::size_t signals = 0;
  {
    auto store = server::openSqliteServerStore(path);
    must(store.status(), "open store");
    auto session = (*store)->openSession();
    must(session.status(), "session");
    server::StoreSession& s = **session;
    must(s.begin(true), "begin");
    std::mt19937_64 rng(42);
    const auto uniform = [&](std::int64_t lo, std::int64_t hi) {
      return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    const std::vector<std::string> cats = {"schulden",      "vereenzaming", "overlast",
                                           "verwaarlozing", "verslaving",   "overig"};
    const auto codes = resolutionCodes();
    const Role roles[3] = {Role::kZorgmedewerker, Role::kWijkcoach, Role::kCoordinator};
    std::uint64_t n = 0;
    char id[40];
    for (const std::string& wijk : wijken) {
      must(s.putWijk({wijk, "Wijk " + wijk}), "wijk");
      for (long i = 0; i < per_wijk; ++i) {
        ++n;
        server::ReportCaseRow c;
        std::snprintf(id, sizeof id, "c%015llu", static_cast<unsigned long long>(n));
        c.case_id = id;
        c.wijk = wijk;
        // Cases over the year and the two months before it.
        c.start_ms = uniform(year_from - 60 * kDay, year_to - kHour);
        c.merged = uniform(0, 99) < 2;
        c.first_attempt_due_ms = c.start_ms + 10 * kDay;
        c.first_gesprek_due_ms = c.start_ms + 20 * kDay;
        if (uniform(0, 9) < 9) c.first_attempt_ms = c.start_ms + uniform(kHour, 20 * kDay);
        if (c.first_attempt_ms && uniform(0, 9) < 7) {
          c.first_gesprek_ms = *c.first_attempt_ms + uniform(0, 15 * kDay);
        }
        c.attempts = c.first_attempt_ms ? static_cast<std::int32_t>(uniform(1, 7)) : 0;
        if (c.merged) {
          c.state = CaseState::kAfgesloten;
          c.resolution_code = std::string(kResolutionSamengevoegd);
          c.ended_ms = c.start_ms + uniform(kDay, 30 * kDay);
        } else if (uniform(0, 9) < 6) {
          c.state = CaseState::kAfgesloten;
          c.resolution_code = std::string(codes[static_cast<std::size_t>(uniform(0, 6))].code);
          c.ended_ms = c.start_ms + uniform(5 * kDay, 120 * kDay);
        } else {
          c.state = CaseState::kInBehandeling;
        }
        must(s.putReportCase(c, true), "case row");
        // 1.2 signals per case, observed around its start.
        for (int k = 0; k < (uniform(0, 4) == 0 ? 2 : 1); ++k) {
          server::ReportSignalRow sig;
          std::snprintf(id, sizeof id, "s%015llu-%d", static_cast<unsigned long long>(n), k);
          sig.signal_id = id;
          sig.wijk = wijk;
          sig.observed_at_ms = c.start_ms - uniform(0, 2 * kDay);
          sig.source_role = roles[uniform(0, 2)];
          sig.categories = "," + cats[static_cast<std::size_t>(uniform(0, 5))] + ",";
          if (uniform(0, 3) == 0)
            sig.categories += cats[static_cast<std::size_t>(uniform(0, 5))] + ",";
          must(s.putReportSignal(sig, true), "signal row");
          ++signals;
        }
      }
    }
    must(s.commit(), "commit");
  }
  const double seed_ms = ms(Steady::now() - seed_start);
  std::printf("seeded %ld cases and %zu signals over %zu wijken in %.0f ms (one transaction)\n",
              per_wijk * static_cast<long>(wijken.size()), signals, wijken.size(), seed_ms);

  server::EngineOptions o;
  o.database_path = path;
  auto opened = server::Engine::open(o);
  must(opened.status(), "open engine");
  server::Engine& e = **opened;
  const server::Principal asker =
      enrolled(e, {"co-vijf", "Vijf wijken", Role::kCoordinator, wijken, true});

  const int runs = quick ? 3 : 7;
  for (const bool as_coordinator : {false, true}) {
    std::vector<double> times;
    server::Report last;
    for (int r = 0; r < runs; ++r) {
      const auto t = Steady::now();
      Result<server::Report> rep = as_coordinator ? e.report(asker, *q) : e.report(*q);
      times.push_back(ms(Steady::now() - t));
      must(rep.status(), "report");
      last = std::move(*rep);
    }
    std::sort(times.begin(), times.end());
    std::string total;
    std::string cohort;
    for (const auto& row : last.rows) {
      if (row.section == "signalen" && row.key == "totaal") total = row.value;
      if (row.section == "eerste_poging" && row.key == "casussen") cohort = row.value;
    }
    std::printf(
        "report %s, WK015301, 2025 (%s signals, %s cases in the year): p50 %.1f ms, max %.1f ms "
        "over %d runs\n",
        as_coordinator ? "as the coordinator (with its access-log commit)" : "as the admin",
        total.c_str(), cohort.c_str(), times[times.size() / 2], times.back(), runs);
  }
  e.stop();
  opened->reset();
  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eropaf-bench-report: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "eropaf-bench-report: unknown error\n");
  }
  return 1;
}
