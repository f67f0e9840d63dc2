// Migrations: a database written by schema v1 (tests/data/golden/v1, committed, never
// regenerated) opens with the current code, migrates, and keeps every record, the identity and
// the outbox exactly; the new schema's features work on it. Also: a wrong key and a database
// from a newer eropaf are refused, and migrating step by step gives the same schema as a fresh
// store.
#include <catch2/catch.hpp>
#include <set>

#include "eropaf/norms.hpp"
#include "store/store_fixture.hpp"

using namespace eropaf;
using eropaf::test::readOk;

namespace {

store::Key goldenKey() {
  store::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i + 1);
  return k;
}

std::string copyGolden(int version, const std::filesystem::path& dir) {
  const auto src = std::filesystem::path(EROPAF_TEST_DATA_DIR) / "golden" /
                   ("v" + std::to_string(version)) / "device.db";
  REQUIRE(std::filesystem::exists(src));
  const auto dst = dir / "device.db";
  std::filesystem::copy_file(src, dst);
  return dst.string();
}

Result<std::unique_ptr<store::Store>> openWith(const std::string& path, store::Key key,
                                               int migrate_to = 0) {
  store::OpenOptions o;
  o.path = path;
  o.key = key;
  o.migrate_to = migrate_to;
  return store::Store::open(o);
}

}  // namespace

TEST_CASE("the golden v1 database migrates with every record, the identity and the outbox",
          "[store][migration]") {
  const auto dir = test::makeTempDir("eropaf-golden");
  const std::string path = copyGolden(1, dir);
  REQUIRE(test::sqlColumn(path, "SELECT max(version) FROM schema_version") ==
          std::vector<std::string>{"1"});
  {
    auto opened = openWith(path, goldenKey());
    REQUIRE(opened.ok());
    store::Store& db = **opened;
    CHECK(db.schemaVersion() == store::currentSchemaVersion());
    REQUIRE(db.identity());
    CHECK(db.identity()->worker_id == "co-golden");
    CHECK(db.identity()->name == "Golden Coordinator");
    CHECK(db.identity()->role == Role::kCoordinator);

    auto signals = db.mySignals();
    REQUIRE(signals.ok());
    REQUIRE(signals->size() == 2);
    CHECK(signals->at(0).content.text == "Golden signal two: geluidsoverlast");
    CHECK(signals->at(1).content.text == "Golden signal: ongeopende post, koelkast leeg");
    CHECK(signals->at(1).content.categories ==
          std::vector<std::string>{"schulden", "vereenzaming"});
    CHECK(signals->at(1).triage_state.value == TriageState::kGekoppeld);

    auto h = db.household("1234AB|12|a");
    REQUIRE(h.ok());
    REQUIRE(h->cases.size() == 1);
    const Case& c = h->cases[0];
    CHECK(c.title.value == "Golden case: schulden en eenzaamheid");
    CHECK(c.assignee.value == "wc-golden");
    CHECK(c.state.value == CaseState::kToegewezen);
    CHECK(c.priority.value == Priority::kAcuut);
    CHECK(presentElements(c.categories) ==
          std::vector<std::string>{"dreigende_huisuitzetting", "schulden", "vereenzaming"});
    REQUIRE(h->contact_moments.size() == 2);
    CHECK(h->contact_moments[0].note == "Golden: niet thuis");
    CHECK(h->contact_moments[1].outcome == ContactOutcome::kGesprek);
    CHECK(h->transitions.size() == 1);
    CHECK(h->signals.size() == 1);

    auto out = db.outbox();
    REQUIRE(out.ok());
    std::vector<std::string> summaries;
    for (const auto& e : *out) summaries.push_back(e.summary);
    CHECK(summaries ==
          std::vector<std::string>{"case opened", "signal linked to case",
                                   "case assigned to wc-golden", "case moved nieuw → toegewezen",
                                   "contact moment niet_thuis", "contact moment gesprek"});

    // The migrated store works, including what v2 added: the device access log.
    CHECK(db.createSignal(test::aSignal("na de migratie")).ok());
    CHECK(readOk(db.getCase(c.id)).has_value());
  }
  CHECK(test::sqlColumn(path, "SELECT max(version) FROM schema_version") ==
        std::vector<std::string>{std::to_string(store::currentSchemaVersion())});
  const auto logged = test::sqlColumn(path, "SELECT action FROM access_log ORDER BY seq");
  CHECK(std::find(logged.begin(), logged.end(), "read:case") != logged.end());
  CHECK(test::sqlColumn(path, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("a wrong key and a newer schema are refused with clear errors", "[store][migration]") {
  const auto dir = test::makeTempDir("eropaf-golden");
  const std::string path = copyGolden(1, dir);
  auto wrong = openWith(path, test::testKey(200));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == ErrorCode::kCrypto);
  // The failed open changed nothing: the right key still opens it (and migrates).
  REQUIRE(openWith(path, goldenKey()).ok());

  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "INSERT INTO schema_version(version, applied_at_ms) VALUES(99, 0)", nullptr,
               nullptr, nullptr);
  sqlite3_close(db);
  auto newer = openWith(path, goldenKey());
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.status().code() == ErrorCode::kUnsupported);
  CHECK_THAT(newer.status().message(), Catch::Contains("newer"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("migrating step by step gives the schema a fresh store has", "[store][migration]") {
  const auto dir = test::makeTempDir("eropaf-schema");
  const std::string stepped = (dir / "stepped.db").string();
  const std::string fresh = (dir / "fresh.db").string();
  REQUIRE(openWith(stepped, goldenKey(), 1).ok());
  REQUIRE(openWith(stepped, goldenKey()).ok());
  REQUIRE(openWith(fresh, goldenKey()).ok());
  const std::string q =
      "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master "
      "ORDER BY type, name";
  CHECK(test::sqlColumn(stepped, q) == test::sqlColumn(fresh, q));
  std::filesystem::remove_all(dir);
}

TEST_CASE("the golden v1, v2 and v3 databases migrate with the norm columns and counts filled",
          "[store][migration]") {
  const int version = GENERATE(1, 2, 3);
  CAPTURE(version);
  const auto dir = test::makeTempDir("eropaf-golden");
  const std::string path = copyGolden(version, dir);
  std::string case_id;
  std::int64_t first_moment = 0;
  std::int64_t second_moment = 0;
  {
    auto opened = openWith(path, goldenKey());
    REQUIRE(opened.ok());
    store::Store& db = **opened;
    auto h = readOk(db.household("1234AB|12|a"));
    REQUIRE(h.cases.size() == 1);
    REQUIRE(h.contact_moments.size() == 2);
    case_id = h.cases[0].id;
    first_moment = h.contact_moments[0].at_ms;
    second_moment = h.contact_moments[1].at_ms;
    // The norms API reads the migrated columns. Opened Monday 21 September 2026 with
    // dreigende_huisuitzetting (acuut, 2 working days; gesprek 5) and a linked hoog signal.
    auto n = readOk(db.caseNorms(case_id));
    REQUIRE(n);
    CHECK(n->norms.priority == Priority::kAcuut);
    CHECK(n->norms.first_attempt_due_ms == norms::endOfDayMs(std::chrono::year{2026} / 9 / 23));
    CHECK(n->norms.first_gesprek_due_ms == norms::endOfDayMs(std::chrono::year{2026} / 9 / 28));
    CHECK(n->contacts.first_attempt_ms == first_moment);
    CHECK(n->contacts.first_gesprek_ms == second_moment);
    CHECK(n->status.first_attempt.state == norms::NormState::kMet);
    // Category norms the old table did not keep come from the defaults for the default codes.
    for (const Category& c : db.categories()) {
      if (c.code == "schulden") {
        CHECK(c.working_days);
        CHECK(c.first_gesprek_days == 20);
      }
      if (c.code == "huiselijk_geweld") CHECK(c.min_attempts == 5);
    }
  }
  auto col = [&](const std::string& expr) {
    return test::sqlColumn(path, "SELECT " + expr + " FROM cases WHERE id = '" + case_id + "'");
  };
  // v4: the overview's counts table holds the migrated open cases.
  CHECK(test::sqlColumn(path,
                        "SELECT wijk || '|' || assignee || '|' || state || '|' || n "
                        "FROM open_counts WHERE n != 0") ==
        test::sqlColumn(
            path,
            "SELECT wijk || '|' || assignee || '|' || state || '|' || count(*) "
            "FROM cases WHERE is_open = 1 AND deleted = 0 GROUP BY wijk, assignee, state"));
  CHECK_FALSE(test::sqlColumn(path, "SELECT n FROM open_counts").empty());
  CHECK(col("priority") == std::vector<std::string>{"1"});
  CHECK(col("derived_priority") == std::vector<std::string>{"1"});
  CHECK(col("due_ms") == std::vector<std::string>{
                             std::to_string(norms::endOfDayMs(std::chrono::year{2026} / 9 / 23))});
  CHECK(col("first_attempt_ms") == std::vector<std::string>{std::to_string(first_moment)});
  CHECK(col("first_gesprek_ms") == std::vector<std::string>{std::to_string(second_moment)});
  CHECK(col("missed") == std::vector<std::string>{"0"});
  CHECK(col("open_due_ms") == std::vector<std::string>{std::to_string(norms::kNoDue)});
  CHECK(test::sqlColumn(path, "SELECT urgency FROM signals ORDER BY urgency") ==
        std::vector<std::string>{"3", "3"});
  CHECK(test::sqlColumn(path, "SELECT count(*) FROM meta WHERE key = 'norms_recompute'") ==
        std::vector<std::string>{"0"});
  CHECK(test::sqlColumn(path, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
  std::filesystem::remove_all(dir);
}
