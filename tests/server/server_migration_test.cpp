// Server database migrations: a server.db written by schema v1 and one by v2
// (tests/data/golden/server-vN, committed, never regenerated) open with the current engine,
// migrate to the current schema and keep every record, worker and device; a migrated row is
// nobody's echo (StoredRecord::echo_device), so every device is still sent everything; the
// default categories get the norm fields of schema v4; a v4 database with cases gets every
// case's norms (schema v5's case_norms) and report rows (schema v7's report_cases) on its first
// open.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>

#include "engine.hpp"
#include "server/engine_fixture.hpp"
#include "server_store.hpp"
#include "store/store_fixture.hpp"

using namespace eropaf;

namespace {}  // namespace

TEST_CASE("golden server databases of schema v1 and v2 migrate with every record and device",
          "[server][migration]") {
  for (const int version : {1, 2}) {
    INFO("schema v" << version);
    const auto dir = test::makeTempDir("eropaf-server-golden");
    const auto src = std::filesystem::path(EROPAF_TEST_DATA_DIR) / "golden" /
                     ("server-v" + std::to_string(version)) / "server.db";
    REQUIRE(std::filesystem::exists(src));
    const std::string path = (dir / "server.db").string();
    std::filesystem::copy_file(src, path);
    const auto before_ids = test::sqlColumn(path, "SELECT id FROM records ORDER BY seq");
    const auto before_seqs = test::sqlColumn(path, "SELECT seq FROM records ORDER BY seq");
    REQUIRE(before_ids.size() == 10);
    REQUIRE(test::sqlColumn(path, "SELECT max(version) FROM schema_version") ==
            std::vector<std::string>{std::to_string(version)});

    server::EngineOptions o;
    o.database_path = path;
    {
      auto engine = server::Engine::open(o);
      REQUIRE(engine.ok());
      CHECK((*engine)->lastSeq() == std::stoull(before_seqs.back()));
    }
    CHECK(test::sqlColumn(path, "SELECT version FROM schema_version ORDER BY version") ==
          std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7", "8"});
    CHECK(test::sqlColumn(path, "SELECT id FROM records ORDER BY seq") == before_ids);
    // v6: the access log's role and peer columns; the werkvoorraad rows are derived on open.
    CHECK(test::sqlColumn(path, "SELECT count(*) FROM access_log WHERE role = '' AND peer = ''")
              .size() == 1);
    CHECK(test::sqlColumn(path, "SELECT count(*) FROM signal_queue") ==
          test::sqlColumn(path, "SELECT count(*) FROM signal_households WHERE case_id = ''"));
    // v5: the golden databases hold signals only; each gets its household row on the first
    // open after the migration (cases: the v4 test below), and the request to derive is gone.
    CHECK(test::sqlColumn(path, "SELECT hex(value) FROM meta WHERE key = 'norms_recompute'") ==
          std::vector<std::string>{""});
    CHECK(test::sqlColumn(path, "SELECT count(*) FROM signal_households") ==
          test::sqlColumn(path, "SELECT count(*) FROM records WHERE kind = 1"));
    // v7: and its report row.
    CHECK(test::sqlColumn(path, "SELECT count(*) FROM report_signals") ==
          test::sqlColumn(path, "SELECT count(*) FROM records WHERE kind = 1"));

    auto store = server::openSqliteServerStore(path);
    REQUIRE(store.ok());
    auto session = (*store)->openSession();
    REQUIRE(session.ok());
    server::StoreSession& s = **session;
    REQUIRE(s.begin(false).ok());
    auto rows = s.scan(0, 100);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == before_ids.size());
    for (std::size_t i = 0; i < rows->size(); ++i) {
      CHECK(recordId((*rows)[i].record) == before_ids[i]);
      CHECK((*rows)[i].echo_device.empty());
    }
    auto devices = s.devices();
    REQUIRE(devices.ok());
    CHECK(devices->size() == 3);
    auto workers = s.workers();
    REQUIRE(workers.ok());
    CHECK(workers->size() == 3);
    // v4: the default categories carry the defaults' norm fields, the rest kept as stored.
    auto cats = s.categories();
    REQUIRE(cats.ok());
    REQUIRE(cats->size() == defaultCategories().size());
    for (const Category& want : defaultCategories()) {
      INFO(want.code);
      auto got = std::find_if(cats->begin(), cats->end(),
                              [&](const Category& c) { return c.code == want.code; });
      REQUIRE(got != cats->end());
      CHECK(got->first_gesprek_days == want.first_gesprek_days);
      CHECK(got->working_days == want.working_days);
      CHECK(got->min_attempts == want.min_attempts);
      CHECK(got->label == want.label);
    }
    s.rollback();
    session->reset();
    store->reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

TEST_CASE("the server store keeps every norm field of a category", "[server][migration]") {
  const auto dir = test::makeTempDir("eropaf-server-categories");
  auto store = server::openSqliteServerStore((dir / "server.db").string());
  REQUIRE(store.ok());
  auto session = (*store)->openSession();
  REQUIRE(session.ok());
  server::StoreSession& s = **session;
  Category c{"schulden", "Geldzorgen", Priority::kHoog, 4, true};
  c.first_gesprek_days = 9;
  c.working_days = true;
  c.min_attempts = 5;
  REQUIRE(s.begin(true).ok());
  REQUIRE(s.putCategory(c).ok());
  REQUIRE(s.commit().ok());
  REQUIRE(s.begin(false).ok());
  auto cats = s.categories();
  REQUIRE(cats.ok());
  s.rollback();
  auto got = std::find_if(cats->begin(), cats->end(),
                          [](const Category& x) { return x.code == "schulden"; });
  REQUIRE(got != cats->end());
  CHECK(got->label == "Geldzorgen");
  CHECK(got->default_priority == Priority::kHoog);
  CHECK(got->first_contact_days == 4);
  CHECK(got->sensitive);
  CHECK(got->first_gesprek_days == 9);
  CHECK(got->working_days);
  CHECK(got->min_attempts == 5);
  session->reset();
  store->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("a schema v4 server database with cases gets every case's norms on open",
          "[server][migration]") {
  // A v4 database with cases: made by the current engine, then the v5 tables taken away and
  // the schema version set back, as a database written before them looks.
  test::EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  s.pull(*co);
  auto a = co->db().openCase(test::aCase("Een", {"dreigende_huisuitzetting"}));
  auto b = co->db().openCase(test::aCase("Twee", {"overig"}));
  REQUIRE((a.ok() && b.ok()));
  {
    const v1::PushResponse pushed = s.push(*co);
    for (const auto& r : pushed.results()) REQUIRE(r.accepted());
  }
  const std::string path = (s.dir / "server.db").string();
  const auto want = test::sqlColumn(
      path,
      "SELECT case_id || ':' || priority || ':' || first_attempt_due_ms FROM case_norms "
      "ORDER BY case_id");
  REQUIRE(want.size() == 2);
  const char* kReportRows =
      "SELECT case_id || ':' || wijk || ':' || start_ms || ':' || first_attempt_due_ms || ':' || "
      "attempts || ':' || state FROM report_cases ORDER BY case_id";
  const auto want_report = test::sqlColumn(path, kReportRows);
  REQUIRE(want_report.size() == 2);
  s.engine.reset();
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const int rc = sqlite3_exec(db,
                                "DROP TABLE case_norms; DROP TABLE case_norms_open; "
                                "DROP TABLE signal_households; DROP TABLE signal_queue; "
                                "DROP TABLE console_accounts; DROP TABLE console_sessions; "
                                "DROP TABLE report_cases; DROP TABLE report_signals; "
                                "ALTER TABLE access_log DROP COLUMN role; "
                                "ALTER TABLE access_log DROP COLUMN peer; "
                                "DELETE FROM schema_version WHERE version >= 5",
                                nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }
  REQUIRE(test::sqlColumn(path, "SELECT max(version) FROM schema_version") ==
          std::vector<std::string>{"4"});

  server::EngineOptions o;
  o.database_path = path;
  o.clock = s.clock;
  auto reopened = server::Engine::open(o);
  REQUIRE(reopened.ok());
  reopened->reset();
  CHECK(test::sqlColumn(path, "SELECT max(version) FROM schema_version") ==
        std::vector<std::string>{"8"});
  // v7: the report's rows come from the same recompute.
  CHECK(test::sqlColumn(path, kReportRows) == want_report);
  CHECK(test::sqlColumn(path,
                        "SELECT case_id || ':' || priority || ':' || first_attempt_due_ms FROM "
                        "case_norms ORDER BY case_id") == want);
  // The per-wijk open counters follow the rows (triggers).
  CHECK(test::sqlColumn(path, "SELECT sum(open_count) FROM case_norms_open") ==
        std::vector<std::string>{"2"});
}
