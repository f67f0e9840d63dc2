// Convergence under faults. Each seeded history runs one server engine and 3-8 real device
// stores (a coordinator or two, coaches, a home-care worker). Devices work offline for random
// periods and sync over a channel that drops, duplicates, delays (so reorders) and cuts
// requests and responses. After a final quiet sync every replica must hold exactly what the
// server says that principal may see (field by field, so the same state hash), no change may
// be left pending, and every contact moment any worker recorded must be on the server.
//
// The histories use the coordinator's triage verbs as a device makes them (store_triage.cpp):
// reject, duplicate, merge, (re)assign with a reason, link of another household with force and
// a reason, priority override with a reason; a reporter's signal for a wijk the server does not
// know, refused there, is re-filed. Half the devices keep the reference data the server sends
// (so their checks refuse a wrong wijk at once); the others have none (the server decides).
// After a merge every contact moment of both cases stays: the holder of the surviving case
// sees each one through caseMoments() (merged_into followed).
#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "eropaf/id.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/wire.hpp"
#include "scope.hpp"
#include "server/engine_fixture.hpp"

using namespace eropaf;

namespace {

constexpr const char* kWijk = "WK015301";
/// A well-formed CBS code the server does not know: a typo a device without reference data
/// cannot catch. The server's per-change wijk check refuses it (then the reporter re-files it
/// in kWijk); a server without that check keeps it, seen by its reporter only.
constexpr const char* kUnknownWijk = "WK015399";

struct SimDevice {
  std::unique_ptr<store::Store> db;
  server::Principal principal;
  std::string cursor;
  bool online = true;
  bool reference = false;  ///< keeps the reference data the server sends, as the sync client does
};

/// What sync_client.cpp does with a reference message.
void applyReference(store::Store& db, const v1::ReferenceData& ref) {
  std::vector<Worker> workers;
  for (const auto& w : ref.workers()) {
    Result<Worker> x = wire::fromProto(w);
    if (x.ok()) workers.push_back(std::move(x).value());
  }
  std::vector<Wijk> wijken;
  for (const auto& w : ref.wijken()) wijken.push_back({w.code(), w.name()});
  REQUIRE(db.setReference(workers, wijken).ok());
  if (ref.categories_size() > 0) {
    std::vector<Category> cats;
    for (const auto& c : ref.categories()) {
      Result<Category> x = wire::fromProto(c);
      REQUIRE(x.ok());
      cats.push_back(std::move(x).value());
    }
    REQUIRE(db.setCategories(cats).ok());
  }
}

struct Delayed {
  std::size_t device;
  v1::PushRequest request;
  int due_step;
};

class Sim {
 public:
  Sim(std::uint64_t seed, const std::filesystem::path& dir) : rng_(seed), dir_(dir) {
    server::EngineOptions o;
    o.database_path = (dir / "server.db").string();
    o.clock = clock_;
    o.max_group = 8;
    engine_ = std::move(server::Engine::open(o)).value();
    REQUIRE(engine_->addWijk({kWijk, "Binnenstad"}).ok());
    const int n = 3 + static_cast<int>(rng_() % 6);  // 3..8 devices
    addDevice("co-1", Role::kCoordinator);
    addDevice("zm-1", Role::kZorgmedewerker);
    addDevice("wc-1", Role::kWijkcoach);
    for (int i = 3; i < n; ++i) {
      const auto pick = rng_() % 4;
      if (pick == 0) {
        addDevice("co-" + std::to_string(i), Role::kCoordinator);
      } else if (pick == 1) {
        addDevice("zm-" + std::to_string(i), Role::kZorgmedewerker);
      } else {
        addDevice("wc-" + std::to_string(i), Role::kWijkcoach);
      }
    }
  }

  void run(int steps) {
    for (step_ = 0; step_ < steps; ++step_) {
      clock_->advance(static_cast<std::int64_t>(rng_() % 120'000));
      deliverDelayed(false);
      SimDevice& d = devices_[rng_() % devices_.size()];
      const auto action = rng_() % 10;
      if (action < 6) {
        localWork(d);
      } else if (action < 9) {
        if (d.online) sync(d, true);
      } else {
        d.online = !d.online;
      }
    }
  }

  /// Everyone comes online; the channel heals; sync until nothing moves.
  void settle() {
    deliverDelayed(true);
    for (auto& d : devices_) d.online = true;
    for (int round = 0; round < 6; ++round) {
      for (auto& d : devices_) sync(d, false);
      // The reporters see their refused signals (geweigerd) and re-file them.
      if (round == 1) {
        for (auto& d : devices_) {
          while (refile(d)) {
          }
        }
      }
    }
  }

  void check() {
    // The server's whole state.
    auto store = server::openSqliteServerStore((dir_ / "server.db").string());
    REQUIRE(store.ok());
    auto session = (*store)->openSession();
    REQUIRE(session.ok());
    auto rows = (*session)->scan(0, 1'000'000);
    REQUIRE(rows.ok());
    std::map<std::string, Record> server;
    for (auto& r : *rows) server.emplace(recordId(r.record), r.record);

    for (const std::string& id : moments_) {
      INFO("contact moment " << id);
      CHECK(server.count(id) == 1);
    }
    for (auto& d : devices_) {
      INFO("device of " << d.principal.worker.id);
      CHECK(pending(d) == 0);
      if (std::getenv("EROPAF_SIM_DEBUG") != nullptr) {
        for (const auto& e : *d.db->outbox()) {
          if (e.status != store::OutboxStatus::kRefused) continue;
          std::fprintf(stderr, "REFUSED at %s: %s of %s: %s\n", d.principal.worker.id.c_str(),
                       e.summary.c_str(), e.record_id.c_str(), e.refusal.toString().c_str());
        }
      }
      std::map<std::string, Record> expected;
      for (const auto& [id, rec] : server) {
        const Case* parent = nullptr;
        std::string pid;
        if (const auto* s = std::get_if<Signal>(&rec)) pid = s->case_id.value;
        if (const auto* m = std::get_if<ContactMoment>(&rec)) pid = m->case_id;
        if (const auto* t = std::get_if<Transition>(&rec)) pid = t->case_id;
        if (!pid.empty() && server.count(pid) != 0) parent = std::get_if<Case>(&server.at(pid));
        const auto view = server::viewOf(d.principal.worker, rec, parent);
        if (view == server::View::kNone) continue;
        Record shown = view == server::View::kRedacted ? server::redact(rec) : rec;
        // Link ids pointing at what the principal may not see are stripped.
        auto sees = [&](const std::string& target) {
          if (target.empty() || server.count(target) == 0) return false;
          const Record& t = server.at(target);
          const Case* tp = nullptr;
          if (const auto* ts = std::get_if<Signal>(&t); ts && server.count(ts->case_id.value)) {
            tp = std::get_if<Case>(&server.at(ts->case_id.value));
          }
          const auto v = server::viewOf(d.principal.worker, t, tp);
          // A case must be seen whole (the server sends a link to a case only then).
          return std::holds_alternative<Case>(t) ? v == server::View::kFull
                                                 : v != server::View::kNone;
        };
        if (auto* sig = std::get_if<Signal>(&shown)) {
          // Why a signal was triaged as it was may name others: the server sends it only to
          // coordinators.
          if (d.principal.worker.role != Role::kCoordinator) sig->triage_reason = {};
          if (!sig->case_id.value.empty() && !sees(sig->case_id.value)) sig->case_id = {};
          if (!sig->duplicate_of.value.empty() && !sees(sig->duplicate_of.value)) {
            sig->duplicate_of = {};
          }
        } else if (auto* c = std::get_if<Case>(&shown)) {
          if (!c->merged_into.value.empty() && !sees(c->merged_into.value)) c->merged_into = {};
        }
        expected.emplace(id, std::move(shown));
      }
      auto mine = d.db->allRecords();
      REQUIRE(mine.ok());
      std::map<std::string, Record> actual;
      for (auto& r : *mine) actual.emplace(recordId(r), r);
      for (auto& [id, rec] : expected) {
        INFO("record " << id << " (" << toString(recordKind(rec)) << ")");
        REQUIRE(actual.count(id) == 1);
        // A stripped link (zero version: "says nothing") leaves a link the device learned while
        // it could still see the target; the server never sends it one it could not see.
        if (auto* sig = std::get_if<Signal>(&rec)) {
          const auto& mine_sig = std::get<Signal>(actual.at(id));
          if (!sig->case_id.isSet()) sig->case_id = mine_sig.case_id;
          if (!sig->duplicate_of.isSet()) sig->duplicate_of = mine_sig.duplicate_of;
        } else if (auto* c = std::get_if<Case>(&rec); c && !c->merged_into.isSet()) {
          c->merged_into = std::get<Case>(actual.at(id)).merged_into;
        }
        v1::Record want, got;
        wire::toProto(rec, want);
        wire::toProto(actual.at(id), got);
        std::string diff;
        google::protobuf::util::MessageDifferencer differ;
        differ.ReportDifferencesToString(&diff);
        const bool same = differ.Compare(got, want);
        INFO("device vs server: " << diff);
        CHECK(same);
      }
      for (const auto& [id, rec] : actual) {
        if (expected.count(id) == 0 && std::getenv("EROPAF_SIM_DEBUG") != nullptr) {
          auto describe = [](const Record& r) {
            std::string out = std::string(toString(recordKind(r)));
            if (const auto* c = std::get_if<Case>(&r)) {
              out += " assignee=" + c->assignee.value +
                     " state=" + std::string(toString(c->state.value)) +
                     " conflict=" + std::to_string(c->conflict.value) +
                     " assignee_v=" + std::to_string(c->assignee.version.hlc);
            }
            if (const auto* t = std::get_if<Transition>(&r)) {
              out += " case=" + t->case_id + " " + std::string(toString(t->from)) + "->" +
                     std::string(toString(t->to)) + " actor=" + t->actor_id;
            }
            return out;
          };
          std::fprintf(stderr, "EXTRA %s\n  device: %s\n  server: %s\n", id.c_str(),
                       describe(rec).c_str(),
                       server.count(id) ? describe(server.at(id)).c_str() : "-");
        }
        INFO("record the device should not hold: " << id << " (" << toString(recordKind(rec))
                                                   << ", on server: " << server.count(id) << ")");
        CHECK(expected.count(id) == 1);
      }
      checkMergedMoments(d, server);
    }
  }

  std::size_t moments() const { return moments_.size(); }
  const std::map<std::string, std::size_t>& verbs() const { return verbs_; }

 private:
  /// Every contact moment of a merged case is in the surviving case's caseMoments() on each
  /// device that holds the surviving case whole (merged_into followed through closed cases: a
  /// reopened source is a case of its own again, scope.hpp holderOf()).
  void checkMergedMoments(SimDevice& d, const std::map<std::string, Record>& server) {
    auto root = [&](std::string id) {
      for (int hops = 0; hops < 64; ++hops) {
        auto it = server.find(id);
        const Case* c = it == server.end() ? nullptr : std::get_if<Case>(&it->second);
        if (c == nullptr || c->merged_into.value.empty() || isOpenState(c->state.value)) break;
        id = c->merged_into.value;
      }
      return id;
    };
    std::map<std::string, std::set<std::string>> shown;  // surviving case → its moments
    for (const auto& [id, rec] : server) {
      const auto* m = std::get_if<ContactMoment>(&rec);
      if (m == nullptr || m->case_id.empty()) continue;
      const std::string target = root(m->case_id);
      if (target == m->case_id) continue;  // not merged: the field-by-field check covers it
      const auto* c = std::get_if<Case>(&server.at(target));
      if (c == nullptr ||
          server::viewOf(d.principal.worker, server.at(target), nullptr) != server::View::kFull) {
        continue;
      }
      auto it = shown.find(target);
      if (it == shown.end()) {
        auto listed = d.db->caseMoments(target);
        REQUIRE(listed.ok());
        std::set<std::string> ids;
        for (const auto& x : *listed) ids.insert(x.id);
        it = shown.emplace(target, std::move(ids)).first;
      }
      INFO("moment " << id << " of merged case " << m->case_id << ", surviving case " << target);
      CHECK(it->second.count(id) == 1);
    }
  }

  void addDevice(const std::string& id, Role role) {
    REQUIRE(engine_->addWorker({id, "Sim " + id, role, {kWijk}, true}).ok());
    auto code = engine_->createEnrollmentCode(id);
    std::promise<Result<v1::EnrollResponse>> p;
    v1::EnrollRequest req;
    req.set_code(*code);
    engine_->enroll(req, [&](Result<v1::EnrollResponse> r) { p.set_value(std::move(r)); });
    auto resp = p.get_future().get();
    REQUIRE(resp.ok());
    store::OpenOptions o;
    o.path = (dir_ / (id + ".db")).string();
    o.key = test::testKey(static_cast<std::uint8_t>(devices_.size()));
    o.clock = clock_;
    SimDevice d;
    d.db = std::move(store::Store::open(o)).value();
    store::Identity ident{id, "Sim " + id, role, {kWijk}, resp->device_id()};
    REQUIRE(d.db->setIdentity(ident).ok());
    d.reference = chance(0.5);
    if (d.reference) applyReference(*d.db, resp->reference());
    d.principal = *engine_->authenticate(resp->token());
    devices_.push_back(std::move(d));
  }

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  template <class T>
  const T* pick(const std::vector<T>& v) {
    return v.empty() ? nullptr : &v[rng_() % v.size()];
  }

  /// A coach other than `not_this` (every sim coach is a valid assignee of the one wijk).
  std::string randomCoach(const std::string& not_this = {}) {
    std::vector<std::string> coaches;
    for (auto& d : devices_) {
      const auto& w = d.principal.worker;
      if (w.role == Role::kWijkcoach && w.id != not_this) coaches.push_back(w.id);
    }
    return coaches.empty() ? not_this : *pick(coaches);
  }

  /// Counts a verb the device accepted (the report says how often each one ran).
  void count(const char* verb, const Status& st) {
    if (st.ok()) ++verbs_[verb];
  }

  void newSignal(SimDevice& d) {
    store::NewSignal s = test::aSignal("sim signal " + std::to_string(rng_() % 1000), "1234AB",
                                       std::to_string(1 + rng_() % 5));
    if (chance(0.1)) s.wijk = kUnknownWijk;  // see kUnknownWijk
    s.urgency = static_cast<Urgency>(1 + rng_() % 4);
    static_cast<void>(d.db->createSignal(s));
  }

  /// Re-files one signal of this reporter whose creation the server refused; false when none.
  bool refile(SimDevice& d) {
    auto out = d.db->outbox();
    REQUIRE(out.ok());
    for (const auto& e : *out) {
      if (e.status != store::OutboxStatus::kRefused || e.kind != RecordKind::kSignal) continue;
      const auto& delta = std::get<Signal>(e.delta);
      // Only the creation of one's own signal is re-filed (what `signal refile` offers).
      if (delta.created.isZero() || delta.content.reporter_id != d.principal.worker.id) continue;
      auto fresh = d.db->refileSignal(e.record_id, kWijk);
      INFO("refile " << e.record_id << ": " << fresh.status().toString());
      REQUIRE(fresh.ok());
      ++verbs_["refile"];
      return true;
    }
    return false;
  }

  void localWork(SimDevice& d) {
    store::Store& db = *d.db;
    const Role role = d.principal.worker.role;
    const auto r = rng_() % 12;
    if (r == 11 && refile(d)) return;
    if (role == Role::kZorgmedewerker || r == 0) {
      newSignal(d);
      return;
    }
    if (role == Role::kCoordinator) {
      auto records = db.allRecords();
      REQUIRE(records.ok());
      std::vector<Case> known, open;
      std::vector<Signal> signals;
      for (auto& rec : *records) {
        if (auto* c = std::get_if<Case>(&rec)) {
          known.push_back(*c);
          if (isOpenState(c->state.value) && c->merged_into.value.empty()) open.push_back(*c);
        } else if (auto* s = std::get_if<Signal>(&rec)) {
          signals.push_back(*s);
        }
      }
      const Case* c = pick(known);
      const Signal* sig = pick(signals);
      if (r == 1 || c == nullptr) {
        store::NewCase nc =
            test::aCase("sim case", {"schulden"}, "1234AB", std::to_string(1 + rng_() % 5));
        auto untriaged = db.untriagedSignals(kWijk);
        if (untriaged.ok() && !untriaged->empty()) nc.signal_ids = {untriaged->front().id};
        static_cast<void>(db.openCase(nc));
      } else if (r == 2) {
        // Assign, or reassign to another coach with a reason (a history entry).
        const std::string to = randomCoach(c->assignee.value);
        count(c->assignee.value.empty() ? "assign" : "reassign",
              db.assignCase(c->id, to, c->assignee.value.empty() ? "" : "sim reassign"));
      } else if (r == 3) {
        count("priority",
              db.setPriority(c->id, static_cast<Priority>(1 + rng_() % 4), "simulated override"));
      } else if (r == 4) {
        move(d, *c);
      } else if (r == 6 && sig != nullptr) {
        count("reject", db.rejectSignal(sig->id, "sim: geen zorgsignaal"));
      } else if (r == 7 && signals.size() >= 2) {
        const Signal* of = pick(signals);
        count("duplicate", db.markDuplicate(sig->id, of->id));
      } else if ((r == 8 || r == 10) && open.size() >= 2) {
        const Case* src = pick(open);
        const Case* dst = pick(open);
        count("merge", db.mergeCase(src->id, dst->id, "sim: zelfde huishouden").status());
      } else if (r == 9 && sig != nullptr) {
        // Another household's signal needs force and a reason; the same household's does not.
        count("link", db.linkSignal(sig->id, c->id, {true, "sim: zelfde gezin, ander adres"}));
      } else {
        moment(d, *c);  // r == 5 or 11, or a verb with nothing to work on
      }
      return;
    }
    // wijkcoach
    const auto r6 = r % 6;
    auto mine = db.myCases();
    const Case* c = mine.ok() ? pick(*mine) : nullptr;
    if (r6 == 1 || c == nullptr) {
      auto queue = db.wijkQueue(kWijk);
      if (queue.ok() && !queue->empty()) static_cast<void>(db.pickUpCase(queue->front().id));
    } else if (r6 <= 3) {
      moment(d, *c);
    } else {
      move(d, *c);
    }
  }

  void moment(SimDevice& d, const Case& c) {
    store::NewContactMoment m;
    m.case_id = c.id;
    m.outcome = static_cast<ContactOutcome>(1 + rng_() % 5);
    m.note = "sim note " + std::to_string(rng_() % 1000);
    auto r = d.db->addContactMoment(m);
    if (r.ok()) moments_.push_back(r->id);
  }

  void move(SimDevice& d, const Case& c) {
    std::vector<CaseState> targets;
    for (const auto& rule : transitionTable()) {
      if (rule.from == c.state.value) targets.push_back(rule.to);
    }
    if (targets.empty()) return;
    store::MoveCase m{c.id, *pick(targets), "sim reason", d.online, ""};
    if (m.to == CaseState::kAfgesloten) {
      // Closing needs a code; geen_contact_mogelijk also needs attempts on enough days (the
      // histories' moments decide whether it passes on the device and on the server).
      m.resolution_code =
          c.state.value == CaseState::kContactZoeken ? "geen_contact_mogelijk" : "opgelost";
    }
    static_cast<void>(d.db->moveCase(m));
  }

  std::size_t pending(SimDevice& d) {
    auto out = d.db->outbox();
    std::size_t n = 0;
    for (const auto& e : *out) n += e.status == store::OutboxStatus::kPending ? 1 : 0;
    return n;
  }

  void applyPushResponse(SimDevice& d, const v1::PushResponse& resp) {
    static_cast<void>(d.db->observeRemoteVersion(resp.server_version().hlc()));
    for (const auto& r : resp.results()) {
      if (r.accepted()) {
        const std::vector<std::string> ids{r.change_id()};
        REQUIRE(d.db->acknowledge(ids).ok());
      } else if (r.error().code() == v1::ERROR_CODE_CLOCK_SKEW) {
        static_cast<void>(d.db->restampChange(r.change_id(), resp.server_version().hlc()));
      } else {
        // Already answered (a duplicate delivery) is fine: the row may be gone.
        static_cast<void>(
            d.db->markRefused(r.change_id(), Status(static_cast<ErrorCode>(r.error().code()),
                                                    r.error().message(), r.error().field())));
      }
    }
  }

  v1::PushResponse deliver(const server::Principal& p, const v1::PushRequest& req) {
    std::promise<Result<v1::PushResponse>> done;
    engine_->push(p, req, [&](Result<v1::PushResponse> r) { done.set_value(std::move(r)); });
    auto r = done.get_future().get();
    REQUIRE(r.ok());
    return *r;
  }

  void deliverDelayed(bool all) {
    for (auto it = delayed_.begin(); it != delayed_.end();) {
      if (all || it->due_step <= step_) {
        deliver(devices_[it->device].principal, it->request);  // the answer is lost
        it = delayed_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void sync(SimDevice& d, bool faulty) {
    const std::size_t index = static_cast<std::size_t>(&d - devices_.data());
    // push
    v1::PushRequest req;
    req.set_device_id(d.principal.device_id);
    auto out = d.db->outbox();
    REQUIRE(out.ok());
    for (const auto& e : *out) {
      if (e.status != store::OutboxStatus::kPending) continue;
      v1::Change* c = req.add_changes();
      c->set_change_id(e.change_id);
      wire::toProto(e.delta, *c->mutable_record());
    }
    if (req.changes_size() > 0) {
      if (faulty && chance(0.1)) {
        // request lost or cut before the server read it whole
      } else if (faulty && chance(0.1)) {
        delayed_.push_back({index, req, step_ + 1 + static_cast<int>(rng_() % 10)});
      } else {
        v1::PushResponse resp = deliver(d.principal, req);
        if (faulty && chance(0.1)) resp = deliver(d.principal, req);  // duplicated
        if (!(faulty && chance(0.15))) applyPushResponse(d, resp);    // else: response cut
      }
    }
    // pull, page by page
    for (int pages = 0; pages < 50; ++pages) {
      v1::PullRequest preq;
      preq.set_cursor(d.cursor);
      preq.set_max_records(1 + static_cast<std::uint32_t>(rng_() % 20));
      auto resp = engine_->pull(d.principal, preq);
      REQUIRE(resp.ok());
      if (faulty && chance(0.1)) return;                // response lost or cut: nothing applied
      const int times = faulty && chance(0.1) ? 2 : 1;  // duplicated delivery
      for (int t = 0; t < times; ++t) {
        // In the sync client's order: reset, evictions, records, reference.
        if (resp->reset()) REQUIRE(d.db->dropRecords().ok());
        for (const auto& e : resp->evictions()) REQUIRE(d.db->evict(e.record_id()).ok());
        std::vector<Record> records;
        for (const auto& rec : resp->records()) records.push_back(*wire::fromProto(rec));
        auto applied = d.db->applyRemote(records, resp->server_version().hlc());
        INFO(applied.status().toString());
        REQUIRE(applied.ok());
        if (d.reference && resp->has_reference()) applyReference(*d.db, resp->reference());
        static_cast<void>(d.db->observeRemoteVersion(resp->server_version().hlc()));
      }
      d.cursor = resp->next_cursor();
      if (!resp->more()) break;
    }
  }

  std::mt19937_64 rng_;
  std::filesystem::path dir_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(test::kStart);
  std::unique_ptr<server::Engine> engine_;
  std::vector<SimDevice> devices_;
  std::vector<Delayed> delayed_;
  std::vector<std::string> moments_;
  std::map<std::string, std::size_t> verbs_;  ///< triage verbs the devices accepted, by name
  int step_ = 0;
};

std::filesystem::path simDir() {
  // tmpfs when there is one: the histories are about merging, not about fsync.
  std::filesystem::path base =
      std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  std::random_device rd;
  auto dir = base / ("eropaf-sim-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

void runHistories(int count, int steps, std::uint64_t first_seed) {
  std::size_t moments = 0;
  std::map<std::string, std::size_t> verbs;
  for (int i = 0; i < count; ++i) {
    const std::uint64_t seed = first_seed + static_cast<std::uint64_t>(i);
    INFO("seed " << seed << " (rerun: EROPAF_SIM_SEED=" << seed << ")");
    const auto dir = simDir();
    {
      Sim sim(seed, dir);
      sim.run(steps);
      sim.settle();
      sim.check();
      moments += sim.moments();
      for (const auto& [verb, n] : sim.verbs()) verbs[verb] += n;
    }
    std::filesystem::remove_all(dir);
  }
  std::string done;
  for (const auto& [verb, n] : verbs) done += " " + verb + " " + std::to_string(n) + ",";
  WARN(count << " histories, " << moments << " contact moments, triage verbs:" << done
             << " all converged");
}

int historiesPerCase() {
  // The plain build runs 10 x 1000 = 10,000 histories; the sanitizer build (scripts/test phase
  // 3) sets a smaller number, since there it checks memory safety, not more interleavings.
  const char* n = std::getenv("EROPAF_SIM_HISTORIES_PER_CASE");
  return n != nullptr ? std::max(1, std::atoi(n)) : 1000;
}

void runShard(int shard) {
  const char* one = std::getenv("EROPAF_SIM_SEED");
  if (one != nullptr) {
    if (shard == 0) runHistories(1, 60, std::strtoull(one, nullptr, 10));
    return;
  }
  runHistories(historiesPerCase(), 60, static_cast<std::uint64_t>(shard) * 1'000'000 + 1);
}

}  // namespace

#define EROPAF_SIM_SHARD(n)                                                                     \
  TEST_CASE("replicas converge under drops, duplicates, delays, cuts and offline periods #" #n, \
            "[property][sim]") {                                                                \
    runShard(n);                                                                                \
  }
EROPAF_SIM_SHARD(0)
EROPAF_SIM_SHARD(1)
EROPAF_SIM_SHARD(2)
EROPAF_SIM_SHARD(3)
EROPAF_SIM_SHARD(4)
EROPAF_SIM_SHARD(5)
EROPAF_SIM_SHARD(6)
EROPAF_SIM_SHARD(7)
EROPAF_SIM_SHARD(8)
EROPAF_SIM_SHARD(9)

TEST_CASE("convergence, large run", "[.slow][sim]") { runHistories(50'000, 120, 500'000'000); }

// Found by the histories above; kept as fixed regressions (a rerun of the same seed).
TEST_CASE(
    "convergence: a case that leaves a coach's scope in a pull page's range and comes "
    "back after it is evicted and re-sent whole (seed 4000835)",
    "[property][sim]") {
  // A merged case followed its target to the coach after the page's range; the page sent its
  // current state but the next cursor's scope history said "not held", so its later departure
  // sent no eviction (engine_pull.cpp `deferred`).
  runHistories(1, 60, 4'000'835);
}
