// eropaf-make-golden: writes the golden device database of one schema version, for the
// migration tests (tests/store/migration_test.cpp). Run once per released schema version and
// commit the result; never regenerate an existing golden file — it is what that version wrote.
// Usage: eropaf-make-golden VERSION OUT_DIR
// Fixed key (bytes 1..32), fixed clock, fixed content: the test asserts exact values.
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "eropaf/store.hpp"

using namespace eropaf;

namespace {
void must(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, st.toString().c_str());
    std::exit(1);
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: eropaf-make-golden VERSION OUT_DIR\n");
    return 2;
  }
  const int version = std::stoi(argv[1]);
  const std::filesystem::path out = argv[2];
  std::filesystem::create_directories(out);
  const std::string path = (out / "device.db").string();
  std::filesystem::remove(path);
  store::OpenOptions o;
  o.path = path;
  for (std::size_t i = 0; i < o.key.size(); ++i) o.key[i] = static_cast<std::uint8_t>(i + 1);
  auto clock = std::make_shared<ManualClock>(1'790'000'000'000);  // 2026-09-21
  o.clock = clock;
  o.migrate_to = version;
  auto s = store::Store::open(o);
  must(s.status(), "open");
  store::Store& db = **s;
  must(db.setIdentity({"co-golden", "Golden Coordinator", Role::kCoordinator, {"WK015301"}, ""}),
       "identity");
  store::NewSignal sig;
  sig.wijk = "WK015301";
  sig.address = {"1234AB", "12", "a", "Dorpsstraat", "Utrecht"};
  sig.categories = {"schulden", "vereenzaming"};
  sig.urgency = Urgency::kHoog;
  sig.text = "Golden signal: ongeopende post, koelkast leeg";
  sig.informed = Informed::kNoLater;
  auto s1 = db.createSignal(sig);
  must(s1.status(), "signal 1");
  clock->advance(60'000);
  sig.address.house_number = "14";
  sig.address.addition = "";
  sig.categories = {"overlast"};
  sig.text = "Golden signal two: geluidsoverlast";
  must(db.createSignal(sig).status(), "signal 2");
  clock->advance(60'000);
  store::NewCase c;
  c.wijk = "WK015301";
  c.address = {"1234AB", "12", "a", "Dorpsstraat", "Utrecht"};
  c.title = "Golden case: schulden en eenzaamheid";
  c.categories = {"dreigende_huisuitzetting"};
  c.signal_ids = {s1->id};
  auto gc = db.openCase(c);
  must(gc.status(), "case");
  must(db.assignCase(gc->id, "wc-golden"), "assign");
  store::NewContactMoment m;
  m.case_id = gc->id;
  m.outcome = ContactOutcome::kNietThuis;
  m.note = "Golden: niet thuis";
  clock->advance(3'600'000);
  must(db.addContactMoment(m).status(), "moment 1");
  m.outcome = ContactOutcome::kGesprek;
  m.kind = ContactKind::kTelefoon;
  m.note = "Golden: gesprek, wil hulp";
  clock->advance(3'600'000);
  must(db.addContactMoment(m).status(), "moment 2");
  // Two changes already accepted by a server, the rest still in the outbox.
  auto out_rows = db.outbox();
  must(out_rows.status(), "outbox");
  std::vector<std::string> acked{out_rows->at(0).change_id, out_rows->at(1).change_id};
  must(db.acknowledge(acked), "acknowledge");
  s->reset();
  // Fold the WAL into the one file that gets committed.
  sqlite3* raw = nullptr;
  sqlite3_open(path.c_str(), &raw);
  sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", nullptr,
               nullptr, nullptr);
  sqlite3_close(raw);
  std::printf("wrote %s (schema %d), case %s\n", path.c_str(), version, gc->id.c_str());
  return 0;
}
