// Storage faults: a SQLite VFS that delegates to the default one but fails the Nth write or
// sync (as an I/O error or a full disk). For every N that hits one createSignal or one
// applyRemote batch, the call must fail with a clear storage error and leave nothing half
// applied (no record without its outbox row, no partial batch); after the fault the same store
// keeps working, and after a reopen the database is intact.
#include <sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "eropaf/id.hpp"
#include "store/store_fixture.hpp"

using namespace eropaf;
using eropaf::test::readOk;

namespace {

// --- the fault-injecting VFS (test-only global state: SQLite VFSes are process-wide) --------

struct Faults {
  std::atomic<int> writes{0};  // calls counted since arming
  std::atomic<int> syncs{0};
  std::atomic<int> fail_write_at{0};  // 0 = never
  std::atomic<int> fail_sync_at{0};
  std::atomic<int> code{SQLITE_IOERR_WRITE};
  std::atomic<bool> fail_reads{false};  // every xRead fails while set
  void arm(int write_at, int sync_at, int c) {
    writes = 0;
    syncs = 0;
    fail_write_at = write_at;
    fail_sync_at = sync_at;
    code = c;
  }
  void disarm() { arm(0, 0, SQLITE_IOERR_WRITE); }
};
Faults g_faults;
sqlite3_vfs* g_real = nullptr;

struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
};

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

int xClose(sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); }
int xRead(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  if (g_faults.fail_reads) return SQLITE_IOERR_READ;
  return real(f)->pMethods->xRead(real(f), p, n, off);
}
int xWrite(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  const int k = ++g_faults.writes;
  if (g_faults.fail_write_at != 0 && k == g_faults.fail_write_at) return g_faults.code;
  return real(f)->pMethods->xWrite(real(f), p, n, off);
}
int xTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return real(f)->pMethods->xTruncate(real(f), size);
}
int xSync(sqlite3_file* f, int flags) {
  const int k = ++g_faults.syncs;
  if (g_faults.fail_sync_at != 0 && k == g_faults.fail_sync_at) {
    return g_faults.code == SQLITE_FULL ? SQLITE_FULL : SQLITE_IOERR_FSYNC;
  }
  return real(f)->pMethods->xSync(real(f), flags);
}
int xFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return real(f)->pMethods->xFileSize(real(f), size);
}
int xLock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int xUnlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int xCheckReservedLock(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int xFileControl(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int xSectorSize(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int xDeviceCharacteristics(sqlite3_file* f) {
  return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
int xShmMap(sqlite3_file* f, int pg, int sz, int ext, void volatile** pp) {
  return real(f)->pMethods->xShmMap(real(f), pg, sz, ext, pp);
}
int xShmLock(sqlite3_file* f, int off, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), off, n, flags);
}
void xShmBarrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int xShmUnmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
int xFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
  if (g_faults.fail_reads) {  // no memory map: SQLite falls back to xRead, which fails
    *pp = nullptr;
    return SQLITE_OK;
  }
  return real(f)->pMethods->xFetch(real(f), off, n, pp);
}
int xUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

const sqlite3_io_methods kMethods = {3,
                                     xClose,
                                     xRead,
                                     xWrite,
                                     xTruncate,
                                     xSync,
                                     xFileSize,
                                     xLock,
                                     xUnlock,
                                     xCheckReservedLock,
                                     xFileControl,
                                     xSectorSize,
                                     xDeviceCharacteristics,
                                     xShmMap,
                                     xShmLock,
                                     xShmBarrier,
                                     xShmUnmap,
                                     xFetch,
                                     xUnfetch};

int xOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(file);
  ff->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(FaultFile));
  const int rc = g_real->xOpen(g_real, name, ff->real, flags, out_flags);
  // SQLite calls xClose only when pMethods is set; mirror the real file's success.
  ff->base.pMethods = ff->real->pMethods != nullptr ? &kMethods : nullptr;
  static_cast<void>(vfs);
  return rc;
}

sqlite3_vfs* faultVfs() {
  static sqlite3_vfs vfs = [] {
    g_real = sqlite3_vfs_find(nullptr);
    sqlite3_vfs v = *g_real;
    v.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real->szOsFile;
    v.zName = "eropaf-fault";
    v.pNext = nullptr;
    v.xOpen = xOpen;
    return v;
  }();
  static const bool registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
  REQUIRE(registered);
  return &vfs;
}

std::unique_ptr<store::Store> openFaulty(const std::string& path) {
  faultVfs();
  store::OpenOptions o;
  o.path = path;
  o.key = test::testKey();
  o.vfs = "eropaf-fault";
  auto s = store::Store::open(o);
  if (!s.ok()) throw std::runtime_error(s.status().toString());
  return std::move(s).value();
}

/// Commits a change the store ignores (a meta key of its own) through a second connection (the
/// default VFS), so the store's connection finds the file changed and must read its pages again.
void touch(const std::string& path) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  sqlite3_busy_timeout(raw, 5000);
  const int rc = sqlite3_exec(
      raw, "INSERT OR REPLACE INTO meta(key, value) VALUES('test_touch', randomblob(16))", nullptr,
      nullptr, nullptr);
  sqlite3_close(raw);
  REQUIRE(rc == SQLITE_OK);
}

bool isStorageError(ErrorCode c) {
  return c == ErrorCode::kIoError || c == ErrorCode::kStorageFull;
}

}  // namespace

TEST_CASE("a failed write or sync refuses the change whole, the store goes on working",
          "[fault][storage]") {
  const auto dir = test::makeTempDir("eropaf-vfs");
  const std::string path = (dir / "device.db").string();
  auto db = openFaulty(path);
  REQUIRE(db->setIdentity({"zm-1", "Zorg", Role::kZorgmedewerker, {"WK015301"}, ""}).ok());

  // How many writes and syncs does one durable change take?
  g_faults.disarm();
  REQUIRE(db->createSignal(test::aSignal("counting")).ok());
  const int writes = g_faults.writes;
  const int syncs = g_faults.syncs;
  INFO(writes << " writes and " << syncs << " syncs per change");
  REQUIRE(writes > 0);
  REQUIRE(syncs > 0);

  std::size_t expected = 1;  // the counting signal
  int failures = 0;
  auto attempt = [&](int write_at, int sync_at, int code) {
    g_faults.arm(write_at, sync_at, code);
    auto r = db->createSignal(test::aSignal("under fault"));
    g_faults.disarm();
    if (r.ok()) {
      ++expected;  // the fault hit after COMMIT returned (e.g. a checkpoint): it is durable
    } else {
      ++failures;
      INFO(r.status().toString());
      CHECK(isStorageError(r.status().code()));
      CHECK_FALSE(r.status().message().empty());
    }
    // Never half applied: records and outbox rows agree.
    auto mine = db->mySignals();
    REQUIRE(mine.ok());
    CHECK(mine->size() == expected);
    CHECK(readOk(db->outboxSize()) == expected);
    // And the next change goes through.
    REQUIRE(db->createSignal(test::aSignal("after the fault")).ok());
    ++expected;
  };
  for (int n = 1; n <= writes; ++n) {
    attempt(n, 0, SQLITE_IOERR_WRITE);
    attempt(n, 0, SQLITE_FULL);
  }
  for (int n = 1; n <= syncs; ++n) attempt(0, n, SQLITE_IOERR_FSYNC);
  CHECK(failures > 0);

  SECTION("a remote batch is all or nothing") {
    std::vector<Record> batch;
    for (int i = 0; i < 50; ++i) {
      Case c;
      c.id = newUuidV7(test::kStart + i);
      c.created = {db->hlcLast() + 10, 99};
      c.opened_by = "co-1";
      c.opened_at_ms = test::kStart;
      c.wijk.set("WK015301", c.created);
      c.state.set(CaseState::kNieuw, c.created);
      batch.emplace_back(c);
    }
    for (int n = 1; n <= 4; ++n) {
      g_faults.arm(n, 0, SQLITE_IOERR_WRITE);
      auto r = db->applyRemote(batch);
      g_faults.disarm();
      auto all = db->allRecords();
      REQUIRE(all.ok());
      std::size_t cases = 0;
      for (const auto& rec : *all) cases += std::holds_alternative<Case>(rec) ? 1u : 0u;
      CHECK((cases == 0 || cases == batch.size()));
      if (r.ok()) CHECK(cases == batch.size());
    }
    REQUIRE(db->applyRemote(batch).ok());
  }

  db.reset();
  store::OpenOptions o;
  o.path = path;
  o.key = test::testKey();
  auto reopened = store::Store::open(o);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->mySignals()->size() == expected);
  CHECK(readOk((*reopened)->outboxSize()) == expected);
  reopened->reset();
  std::filesystem::remove_all(dir);
}

TEST_CASE("a read that hits an I/O error says so and never answers not found or empty",
          "[fault][storage]") {
  const auto dir = test::makeTempDir("eropaf-vfs");
  const std::string path = (dir / "device.db").string();
  auto db = openFaulty(path);
  REQUIRE(db->setIdentity({"co-1", "Coördinator", Role::kCoordinator, {"WK015301"}, ""}).ok());
  auto sig = db->createSignal(test::aSignal());
  REQUIRE(sig.ok());
  auto c = db->openCase(test::aCase());
  REQUIRE(c.ok());
  REQUIRE(db->assignCase(c->id, "wc-1").ok());
  store::NewContactMoment m;
  m.case_id = c->id;
  m.outcome = ContactOutcome::kGesprek;
  REQUIRE(db->addContactMoment(m).ok());
  const std::vector<Worker> workers{{"wc-1", "Coach", Role::kWijkcoach, {"WK015301"}, true}};
  const std::vector<Wijk> wijken{{"WK015301", "Binnenstad"}};
  REQUIRE(db->setReference(workers, wijken).ok());

  const std::vector<std::pair<std::string, std::function<Status()>>> reads{
      {"signal", [&] { return db->signal(sig->id).status(); }},
      {"getCase", [&] { return db->getCase(c->id).status(); }},
      {"contactMoments", [&] { return db->contactMoments(c->id).status(); }},
      {"transitions", [&] { return db->transitions(c->id).status(); }},
      {"outboxSize", [&] { return db->outboxSize().status(); }},
      {"workers", [&] { return db->workers().status(); }},
      {"outbox", [&] { return db->outbox().status(); }},
      {"mySignals", [&] { return db->mySignals().status(); }},
      {"household", [&] { return db->household(sig->content.household_key).status(); }},
      {"syncState", [&] { return db->syncState().status(); }},
  };
  for (const auto& [name, read] : reads) {
    INFO(name);
    REQUIRE(read().ok());  // without the fault it answers
    touch(path);
    g_faults.fail_reads = true;
    const Status st = read();
    g_faults.fail_reads = false;
    INFO(st.toString());
    CHECK(st.code() == ErrorCode::kIoError);
  }
  // Nothing was lost: the same reads answer again.
  CHECK(readOk(db->getCase(c->id)).has_value());
  CHECK(readOk(db->outboxSize()) == 5);  // signal, case, assignment, its transition, moment
  db.reset();
  std::filesystem::remove_all(dir);
}
