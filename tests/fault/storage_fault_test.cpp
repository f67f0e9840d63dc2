// Storage faults: a SQLite VFS that delegates to the default one but fails the Nth write or
// sync (as an I/O error or a full disk). For every N that hits one createSignal or one
// applyRemote batch, the call must fail with a clear storage error and leave nothing half
// applied (no record without its outbox row, no partial batch); after the fault the same store
// keeps working, and after a reopen the database is intact.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <cstring>

#include "eropaf/id.hpp"
#include "store/store_fixture.hpp"

using namespace eropaf;

namespace {

// --- the fault-injecting VFS (test-only global state: SQLite VFSes are process-wide) --------

struct Faults {
  std::atomic<int> writes{0};  // calls counted since arming
  std::atomic<int> syncs{0};
  std::atomic<int> fail_write_at{0};  // 0 = never
  std::atomic<int> fail_sync_at{0};
  std::atomic<int> code{SQLITE_IOERR_WRITE};
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
  return real(f)->pMethods->xFetch(real(f), off, n, pp);
}
int xUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

const sqlite3_io_methods kMethods = {
    3,         xClose,          xRead,      xWrite,       xTruncate,   xSync,
    xFileSize, xLock,           xUnlock,    xCheckReservedLock, xFileControl, xSectorSize,
    xDeviceCharacteristics,     xShmMap,    xShmLock,     xShmBarrier, xShmUnmap,   xFetch,
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
    CHECK(db->outboxSize() == expected);
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
  CHECK((*reopened)->outboxSize() == expected);
  reopened->reset();
  std::filesystem::remove_all(dir);
}
