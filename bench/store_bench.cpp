// eropaf-bench-store: the device store's figures on a real file on this machine's disk.
//   1. one durable change (record + outbox row, WAL synchronous=FULL): p50 / p99 / max
//   2. applying remote record states in batches: records per second (insert and merge)
//   3. a store of 100,000 cases: "my cases" and "wijk queue" latency
//   4. the coordinator's overview (limit 50) over 100,000 open cases, 10% overdue: p50 / p99
//   5. a duplicate hint for a signal in a store of 100,000 signals: p50 / p99
// Usage: eropaf-bench-store [--quick] [--dir DIR]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "eropaf/id.hpp"
#include "eropaf/store.hpp"

using namespace eropaf;
using Steady = std::chrono::steady_clock;

namespace {

struct Percentiles {
  double p50, p99, max;
};

Percentiles summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
  };
  return {at(0.50), at(0.99), v.back()};
}

double ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::unique_ptr<store::Store> open(const std::filesystem::path& path) {
  store::OpenOptions o;
  o.path = path.string();
  for (std::size_t i = 0; i < o.key.size(); ++i) o.key[i] = static_cast<std::uint8_t>(i * 7 + 3);
  auto s = store::Store::open(o);
  if (!s.ok()) {
    std::fprintf(stderr, "open %s: %s\n", o.path.c_str(), s.status().toString().c_str());
    std::exit(1);
  }
  return std::move(s).value();
}

void must(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, st.toString().c_str());
    std::exit(1);
  }
}

store::Identity who(const std::string& id, Role role) {
  return {id, "Bench " + id, role, {"WK015301", "WK015302"}, ""};
}

// Remote states as a server would send them, versioned by another node.
struct Remote {
  std::uint64_t hlc;
  std::uint64_t node = 0xBE7C4;
  std::mt19937_64 rng{42};
  std::int64_t now = SystemClock().nowMs();

  Version v() { return {++hlc, node}; }

  Case makeCase(int i, int coaches, int wijken) {
    Case c;
    c.id = newUuidV7(now - 86'400'000 + i);  // time-ordered, as real ids are
    const Version ver = v();
    c.created = ver;
    c.opened_by = "co-1";
    c.opened_at_ms = now;
    char wijk[16];
    std::snprintf(wijk, sizeof wijk, "WK%06d",
                  15301 + static_cast<int>(rng() % static_cast<unsigned>(wijken)));
    c.wijk.set(wijk, ver);
    Address a{"1234AB", std::to_string(1 + i % 999), "", "Dorpsstraat", "Utrecht"};
    c.household_key.set(householdKey(a), ver);
    c.address.set(a, ver);
    c.title.set("Casus " + std::to_string(i) + ": huurachterstand en eenzaamheid", ver);
    c.categories["schulden"] = {true, ver};
    const auto r = rng() % 100;
    // ~75% assigned, ~20% closed, the rest open and unassigned.
    const bool closed = r < 20;
    const bool unassigned = r >= 95;
    c.state.set(closed       ? CaseState::kAfgesloten
                : unassigned ? CaseState::kNieuw
                             : CaseState::kInBehandeling,
                ver);
    c.assignee.set(unassigned ? "" : "wc-" + std::to_string(rng() % static_cast<unsigned>(coaches)),
                   ver);
    c.priority.set(static_cast<Priority>(1 + rng() % 4), ver);
    c.first_contact_due_ms.set(now + static_cast<std::int64_t>(rng() % 30) * 86'400'000, ver);
    c.conflict.set(false, ver);
    return c;
  }
};

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): a benchmark tool; an exception ends it with a message
int main(int argc, char** argv) {
  bool quick = false;
  std::filesystem::path dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: eropaf-bench-store [--quick] [--dir DIR]\n");
      return 2;
    }
  }
  if (dir.empty()) {
    dir = std::filesystem::temp_directory_path() / ("eropaf-bench-" + std::to_string(::getpid()));
  }
  std::filesystem::create_directories(dir);
  const int n_single = quick ? 100 : 2000;
  const int n_apply = quick ? 5000 : 100'000;
  const int n_cases = quick ? 5000 : 100'000;
  const int n_queries = quick ? 20 : 200;

  // 1. single durable changes
  auto db = open(dir / "single.db");
  must(db->setIdentity(who("wc-1", Role::kWijkcoach)), "identity");
  std::vector<double> sig_ms, moment_ms;
  store::NewSignal ns;
  ns.wijk = "WK015301";
  ns.address = {"1234AB", "12", "", "Dorpsstraat", "Utrecht"};
  ns.categories = {"vereenzaming"};
  ns.text = "Post stapelt zich op, buren ongerust";
  ns.informed = Informed::kNoLater;
  for (int i = 0; i < n_single; ++i) {
    const auto t0 = Steady::now();
    must(db->createSignal(ns).status(), "createSignal");
    sig_ms.push_back(ms(Steady::now() - t0));
  }
  {
    // a case assigned to me, for contact moments
    must(db->setIdentity(who("co-1", Role::kCoordinator)), "identity");
    store::NewCase nc;
    nc.wijk = "WK015301";
    nc.address = ns.address;
    nc.title = "Bench case";
    nc.categories = {"schulden"};
    auto c = db->openCase(nc);
    must(c.status(), "openCase");
    must(db->assignCase(c->id, "wc-1"), "assign");
    must(db->setIdentity(who("wc-1", Role::kWijkcoach)), "identity");
    store::NewContactMoment m;
    m.case_id = c->id;
    m.outcome = ContactOutcome::kNietThuis;
    for (int i = 0; i < n_single; ++i) {
      const auto t0 = Steady::now();
      must(db->addContactMoment(m).status(), "addContactMoment");
      moment_ms.push_back(ms(Steady::now() - t0));
    }
  }
  db.reset();
  const auto sig = summarize(sig_ms);
  const auto mom = summarize(moment_ms);
  std::printf("1. durable single change (record + outbox row, synchronous=FULL), %d each:\n",
              n_single);
  std::printf("   createSignal       p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", sig.p50, sig.p99,
              sig.max);
  std::printf("   addContactMoment   p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", mom.p50, mom.p99,
              mom.max);

  // 2. remote states in batches
  auto target = open(dir / "apply.db");
  must(target->setIdentity(who("co-1", Role::kCoordinator)), "identity");
  Remote remote{target->hlcLast() + 1000};
  std::vector<Record> batch;
  std::vector<Case> made;
  made.reserve(static_cast<std::size_t>(n_apply));
  for (int i = 0; i < n_apply; ++i) made.push_back(remote.makeCase(i, 200, 20));
  // 5000 = the sync client's pull page (see SyncOptions); BATCH=N measures another size.
  const std::size_t kBatch = std::getenv("BATCH") ? std::stoul(std::getenv("BATCH")) : 5000;
  auto applyAll = [&](const std::vector<Case>& cases) {
    const auto t0 = Steady::now();
    for (std::size_t i = 0; i < cases.size(); i += kBatch) {
      batch.assign(cases.begin() + static_cast<std::ptrdiff_t>(i),
                   cases.begin() + static_cast<std::ptrdiff_t>(std::min(cases.size(), i + kBatch)));
      must(target->applyRemote(batch).status(), "applyRemote");
    }
    return std::chrono::duration<double>(Steady::now() - t0).count();
  };
  const double insert_s = applyAll(made);
  for (Case& c : made) c.priority.set(Priority::kHoog, remote.v());  // an indexed field
  const double merge_s = applyAll(made);
  for (Case& c : made) c.title.set("Bijgewerkt: " + c.title.value, remote.v());  // body only
  const double body_s = applyAll(made);
  std::printf("2. applyRemote in batches of %zu, %d case states (BATCH=N to change):\n", kBatch,
              n_apply);
  std::printf("   new records        %.0f records/s\n", n_apply / insert_s);
  std::printf("   merge, index field %.0f records/s\n", n_apply / merge_s);
  std::printf("   merge, body only   %.0f records/s\n", n_apply / body_s);
  target.reset();

  // 3. lists over 100,000 cases
  auto big = open(dir / "lists.db");
  must(big->setIdentity(who("wc-7", Role::kWijkcoach)), "identity");
  Remote r3{big->hlcLast() + 1000};
  std::vector<Case> cases;
  cases.reserve(static_cast<std::size_t>(n_cases));
  for (int i = 0; i < n_cases; ++i) cases.push_back(r3.makeCase(i, 200, 20));
  for (std::size_t i = 0; i < cases.size(); i += kBatch) {
    batch.assign(cases.begin() + static_cast<std::ptrdiff_t>(i),
                 cases.begin() + static_cast<std::ptrdiff_t>(std::min(cases.size(), i + kBatch)));
    must(big->applyRemote(batch).status(), "seed");
  }
  std::vector<double> mine_ms, queue_ms;
  std::size_t mine_rows = 0, queue_rows = 0;
  for (int i = 0; i < n_queries; ++i) {
    auto t0 = Steady::now();
    auto mine = big->myCases();
    mine_ms.push_back(ms(Steady::now() - t0));
    must(mine.status(), "myCases");
    mine_rows = mine->size();
    t0 = Steady::now();
    auto queue = big->wijkQueue("WK015301");
    queue_ms.push_back(ms(Steady::now() - t0));
    must(queue.status(), "wijkQueue");
    queue_rows = queue->size();
  }
  const auto mq = summarize(mine_ms);
  const auto qq = summarize(queue_ms);
  std::printf("3. a store of %d cases (20 wijken, 200 coaches), %d calls each:\n", n_cases,
              n_queries);
  std::printf("   my cases   (%zu rows)  p50 %.3f ms  p99 %.3f ms\n", mine_rows, mq.p50, mq.p99);
  std::printf("   wijk queue (%zu rows)  p50 %.3f ms  p99 %.3f ms\n", queue_rows, qq.p50, qq.p99);
  big.reset();

  // 4. the overview: 100,000 open cases of one wijk, 10% with a norm long past
  auto ov = open(dir / "overview.db");
  must(ov->setIdentity({"co-1", "Bench co-1", Role::kCoordinator, {"WK015301"}, ""}), "identity");
  Remote r4{ov->hlcLast() + 1000};
  const std::int64_t now4 = r4.now;
  std::vector<Case> open_cases;
  open_cases.reserve(static_cast<std::size_t>(n_cases));
  for (int i = 0; i < n_cases; ++i) {
    Case c = r4.makeCase(i, 200, 1);
    const bool overdue = r4.rng() % 10 == 0;
    if (overdue) {
      // Opened (and its category arrived) 40 days ago: schulden's 10 working days are past.
      c.opened_at_ms = now4 - 40 * 86'400'000LL;
      c.categories["schulden"] = {true, {hlcPack(c.opened_at_ms, 0), r4.node}};
    }
    c.state.set(CaseState::kInBehandeling, r4.v());
    open_cases.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < open_cases.size(); i += kBatch) {
    batch.assign(
        open_cases.begin() + static_cast<std::ptrdiff_t>(i),
        open_cases.begin() + static_cast<std::ptrdiff_t>(std::min(open_cases.size(), i + kBatch)));
    must(ov->applyRemote(batch).status(), "seed overview");
  }
  std::vector<double> ov_ms;
  std::size_t ov_total = 0, ov_overdue = 0;
  store::OverviewQuery oq;
  oq.limit = 50;
  for (int i = 0; i < n_queries; ++i) {
    const auto t0 = Steady::now();
    auto o = ov->overview(oq);
    ov_ms.push_back(ms(Steady::now() - t0));
    must(o.status(), "overview");
    ov_total = o->total;
    ov_overdue = o->overdue;
  }
  const auto oo = summarize(ov_ms);
  std::printf("4. overview, limit 50, over %zu open cases (%zu overdue), %d calls:\n", ov_total,
              ov_overdue, n_queries);
  std::printf("   overview           p50 %.3f ms  p99 %.3f ms\n", oo.p50, oo.p99);
  ov.reset();

  // 5. duplicate hints: 100,000 signals over 50,000 households
  auto hs = open(dir / "hints.db");
  must(hs->setIdentity(who("co-1", Role::kCoordinator)), "identity");
  Remote r5{hs->hlcLast() + 1000};
  std::vector<Record> sigs;
  sigs.reserve(static_cast<std::size_t>(n_cases));
  for (int i = 0; i < n_cases; ++i) {
    Signal s;
    s.id = newUuidV7(r5.now - 86'400'000 + i);
    const Version ver = r5.v();
    s.created = ver;
    s.content.reporter_id = "zm-" + std::to_string(i % 50);
    s.content.source_role = Role::kZorgmedewerker;
    s.content.wijk = "WK015301";
    char pc[8];
    std::snprintf(pc, sizeof pc, "%04dAB", 1000 + (i / 2) % 9000);
    s.content.address = {pc, std::to_string(1 + (i / 2) / 9000), "", "Dorpsstraat", "Utrecht"};
    s.content.household_key = householdKey(s.content.address);
    s.content.categories = {"vereenzaming"};
    s.content.urgency = Urgency::kNormaal;
    s.content.observed_at_ms = r5.now - static_cast<std::int64_t>(r5.rng() % 120) * 86'400'000;
    s.content.text = "Signaal " + std::to_string(i);
    s.content.informed = Informed::kNoLater;
    s.triage_state.set(TriageState::kNieuw, ver);
    sigs.push_back(std::move(s));
  }
  std::vector<Record> page;
  for (std::size_t i = 0; i < sigs.size(); i += kBatch) {
    page.assign(sigs.begin() + static_cast<std::ptrdiff_t>(i),
                sigs.begin() + static_cast<std::ptrdiff_t>(std::min(sigs.size(), i + kBatch)));
    must(hs->applyRemote(page).status(), "seed signals");
  }
  std::vector<double> hint_ms;
  std::size_t hint_hits = 0;
  const int n_hints = quick ? 200 : 5000;
  for (int i = 0; i < n_hints; ++i) {
    const std::string& id = recordId(sigs[r5.rng() % sigs.size()]);
    const auto t0 = Steady::now();
    auto h = hs->duplicateHint(id);
    hint_ms.push_back(ms(Steady::now() - t0));
    must(h.status(), "duplicateHint");
    hint_hits += h->recent_signals;
  }
  const auto hq = summarize(hint_ms);
  std::printf("5. duplicateHint over %d signals (%zu recent others found), %d calls:\n", n_cases,
              hint_hits, n_hints);
  std::printf("   duplicateHint      p50 %.3f ms  p99 %.3f ms\n", hq.p50, hq.p99);
  hs.reset();

  std::printf(
      "json: {\"single_create_p50_ms\":%.3f,\"single_create_p99_ms\":%.3f,"
      "\"single_moment_p50_ms\":%.3f,\"single_moment_p99_ms\":%.3f,\"apply_insert_per_s\":%.0f,"
      "\"apply_merge_per_s\":%.0f,\"apply_merge_body_per_s\":%.0f,\"apply_batch\":%zu,\"my_cases_"
      "p50_ms\":%.3f,\"my_cases_p99_ms\":%.3f,"
      "\"my_cases_rows\":%zu,\"wijk_queue_p50_ms\":%.3f,\"wijk_queue_p99_ms\":%.3f,"
      "\"wijk_queue_rows\":%zu,\"cases\":%d,\"overview_p50_ms\":%.3f,\"overview_p99_ms\":%.3f,"
      "\"hint_p50_ms\":%.3f,\"hint_p99_ms\":%.3f}\n",
      sig.p50, sig.p99, mom.p50, mom.p99, n_apply / insert_s, n_apply / merge_s, n_apply / body_s,
      kBatch, mq.p50, mq.p99, mine_rows, qq.p50, qq.p99, queue_rows, n_cases, oo.p50, oo.p99,
      hq.p50, hq.p99);
  std::filesystem::remove_all(dir);
  return 0;
}
