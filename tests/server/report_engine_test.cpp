// The results report (Engine::report, docs/console.md "Rapportage") over a golden dataset made
// with an injected clock by real device stores pushing to the real engine on a real SQLite file:
// every figure exact, counts 1..4 and figures over fewer than 5 cases shown as "<5", zeros as 0;
// the JSON and CSV hold no id, name, address or text of the dataset; a coordinator reports only
// on her own wijken, a coach not at all; bad periods and unknown wijken are refused.
#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <map>

#include "report_format.hpp"
#include "server/engine_fixture.hpp"

using namespace eropaf;
using eropaf::test::aSignal;
using eropaf::test::Device;
using eropaf::test::EngineFixture;
using eropaf::test::readOk;

namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kT0 = test::kStart;     // 2026-09-21 14:13:20 UTC, a Monday
constexpr std::int64_t kT1 = kT0 + 10 * kDay;  // 2026-10-01, in the period

struct Golden {
  EngineFixture s;
  std::unique_ptr<Device> co, els, anna, zm;
  std::vector<std::string> secrets;  // every id, name, address part and text of the dataset
  int next_number = 1;

  Golden() {
    co = s.device("co-jan", Role::kCoordinator, {"WK015301", "WK015302"});
    els = s.device("co-els", Role::kCoordinator, {"WK015302"});
    anna = s.device("wc-anna", Role::kWijkcoach);
    zm = s.device("zm-fatima", Role::kZorgmedewerker, {"WK015301", "WK015302"});
    for (const char* w : {"co-jan", "co-els", "wc-anna", "zm-fatima"}) {
      secrets.push_back(w);
      secrets.push_back(std::string("Name ") + w);
    }
    for (Device* d : {co.get(), els.get(), anna.get(), zm.get()}) {
      secrets.push_back(d->principal.device_id);
      s.pull(*d);
    }
    secrets.push_back("Dorpsstraat");
    secrets.push_back("Utrecht");
  }

  store::NewSignal signal(std::vector<std::string> cats, const std::string& wijk = "WK015301") {
    const int n = next_number++;
    const std::string text = "geheime tekst nummer " + std::to_string(n);
    const std::string postcode = "9" + std::to_string(100 + n) + "XY";
    secrets.push_back(text);
    secrets.push_back(postcode);
    store::NewSignal sig = aSignal(text, postcode, std::to_string(n));
    sig.categories = std::move(cats);
    sig.wijk = wijk;
    return sig;
  }

  Signal newSignal(Device& d, std::vector<std::string> cats, const std::string& wijk = "WK015301") {
    auto sig = d.db().createSignal(signal(std::move(cats), wijk));
    REQUIRE(sig.ok());
    secrets.push_back(sig->id);
    return *sig;
  }

  /// The coordinator's own signal and a case opened from it, now.
  std::string openCase() {
    const Signal sig = newSignal(*co, {"vereenzaming"});
    store::NewCase nc;
    nc.from_signal = sig.id;
    nc.title = "geheime titel " + sig.id.substr(0, 8);
    nc.new_case = true;
    secrets.push_back(nc.title);
    auto c = co->db().openCase(nc);
    REQUIRE(c.ok());
    secrets.push_back(c->id);
    return c->id;
  }

  void moment(const std::string& case_id, ContactOutcome outcome) {
    store::NewContactMoment m;
    m.case_id = case_id;
    m.kind = ContactKind::kHuisbezoek;
    m.outcome = outcome;
    m.note = "geheime notitie " + case_id.substr(0, 8);
    secrets.push_back(m.note);
    auto r = co->db().addContactMoment(m);
    REQUIRE(r.ok());
    secrets.push_back(r->id);
  }

  void close(const std::string& case_id, const std::string& code) {
    REQUIRE(co->db().assignCase(case_id, "wc-anna").ok());
    for (const CaseState to :
         {CaseState::kContactZoeken, CaseState::kInBehandeling, CaseState::kNazorg}) {
      REQUIRE(co->db().moveCase({case_id, to, "", true}).ok());
    }
    const store::MoveCase close{case_id, CaseState::kAfgesloten, "geheime reden afsluiten", true,
                                code};
    secrets.push_back(close.reason);
    auto t = co->db().moveCase(close);
    REQUIRE(t.ok());
    secrets.push_back(t->id);
  }

  void pushAll(Device& d) {
    const v1::PushResponse pushed = s.push(d);
    for (const auto& r : pushed.results()) REQUIRE(r.accepted());
  }
};

/// The period 2026-10-01 up to and including 2026-10-31 (Amsterdam days).
server::ReportQuery october(std::vector<std::string> wijken = {"WK015301"}) {
  auto q = server::reportQueryForDays("2026-10-01", "2026-10-31", std::move(wijken));
  REQUIRE(q.ok());
  q->now_ms = kT1 + 35 * kDay;  // 2026-11-05
  return *q;
}

using Figures = std::map<std::pair<std::string, std::string>, std::string>;

Figures figures(const server::Report& r) {
  Figures out;
  for (const server::ReportRow& row : r.rows) {
    INFO(row.section << "," << row.key);
    CHECK(out.emplace(std::make_pair(row.section, row.key), row.value).second);  // unique
    CHECK(row.suppressed == (row.value == "<5"));
  }
  return out;
}

}  // namespace

TEST_CASE("report: exact figures of a golden dataset, small cells as <5",
          "[server][engine][report]") {
  Golden g;
  // Before the period: one case (open at the period's end, 40 days old) and its signal.
  const std::string early = g.openCase();
  g.pushAll(*g.co);

  // 2026-10-01 16:13 Amsterdam: 16 cases opened from the coordinator's own signals.
  g.s.clock->set(kT1);
  std::vector<std::string> a, b, d;
  for (int i = 0; i < 5; ++i) a.push_back(g.openCase());  // gesprek after one attempt, closed
  for (int i = 0; i < 2; ++i) b.push_back(g.openCase());  // gesprek at once, closed verhuisd
  const std::string c = g.openCase();                     // three attempts, gesprek day 3
  for (int i = 0; i < 6; ++i) d.push_back(g.openCase());  // niet thuis once, no gesprek
  const std::string e = g.openCase();                     // first contact 30 days late
  const std::string merged = g.openCase();                // merged into `f` on day 27
  const std::string cancelled = g.openCase();  // opened by mistake: no case of the period
  REQUIRE(g.co->db().moveCase({cancelled, CaseState::kGeannuleerd, "geheime reden", true}).ok());
  g.s.clock->set(kT1 + 1 * kHour);
  for (const auto& id : a) g.moment(id, ContactOutcome::kNietThuis);
  g.s.clock->set(kT1 + 2 * kHour);
  for (const auto& id : a) g.moment(id, ContactOutcome::kGesprek);
  g.s.clock->set(kT1 + 3 * kHour);
  for (const auto& id : b) g.moment(id, ContactOutcome::kGesprek);
  g.s.clock->set(kT1 + 5 * kHour);
  g.moment(c, ContactOutcome::kNietThuis);
  g.s.clock->set(kT1 + 7 * kHour);
  for (const auto& id : d) g.moment(id, ContactOutcome::kDeurNietGeopend);
  g.pushAll(*g.co);

  // Day 1: signals from the home-care worker and the coach; one of another wijk.
  g.s.clock->set(kT1 + 1 * kDay);
  for (int i = 0; i < 4; ++i) g.newSignal(*g.zm, {"schulden"});
  for (int i = 0; i < 2; ++i) g.newSignal(*g.zm, {"vereenzaming", "overlast"});
  g.newSignal(*g.zm, {"overlast"}, "WK015302");
  g.pushAll(*g.zm);
  for (int i = 0; i < 2; ++i) g.newSignal(*g.anna, {"overlast"});
  g.pushAll(*g.anna);

  g.s.clock->set(kT1 + 29 * kHour);
  g.moment(c, ContactOutcome::kNietThuis);
  g.s.clock->set(kT1 + 53 * kHour);
  g.moment(c, ContactOutcome::kGesprek);
  g.s.clock->set(kT1 + 3 * kDay);
  for (const auto& id : a) g.close(id, "opgelost");
  for (const auto& id : b) g.close(id, "verhuisd");
  g.pushAll(*g.co);

  // Day 27 (2026-10-28): a new case, and the merged one goes into it.
  g.s.clock->set(kT1 + 27 * kDay);
  const std::string f = g.openCase();
  auto into = g.co->db().mergeCase(merged, f, "geheime reden samenvoegen");
  REQUIRE(into.ok());
  g.secrets.push_back("geheime reden samenvoegen");
  g.pushAll(*g.co);
  // Day 30: the late case's first contact, a gesprek (both clocks missed).
  g.s.clock->set(kT1 + 30 * kDay);
  g.moment(e, ContactOutcome::kGesprek);
  g.pushAll(*g.co);
  g.s.clock->set(kT1 + 35 * kDay);

  const server::Report rep = readOk(g.s.engine->report(october()));
  CHECK(rep.wijken == std::vector<std::string>{"WK015301"});
  CHECK(rep.from_ms == norms::startOfDayMs(norms::Date{std::chrono::year{2026},
                                                       std::chrono::October, std::chrono::day{1}}));
  // 2026-11-01 00:00 Amsterdam (CET) is 2026-10-31 23:00 UTC.
  CHECK(rep.to_ms == 1'793'487'600'000);
  CHECK(rep.as_of_ms == rep.to_ms);
  const Figures got = figures(rep);
  Figures want = {
      // 18 of the coordinator (17 on day 0, 1 on day 27), 6 of the home-care worker, 2 of the
      // coach; the early signal (September) and the other wijk's are not in it.
      {{"signalen", "totaal"}, "26"},
      // A signal counts once for each of its categories; 4 is "<5", 5 is itself (below).
      {{"signalen_per_categorie", "schulden"}, "<5"},
      {{"signalen_per_categorie", "vereenzaming"}, "20"},
      {{"signalen_per_categorie", "overlast"}, "<5"},
      {{"signalen_per_bron", "zorgmedewerker"}, "6"},
      {{"signalen_per_bron", "wijkcoach"}, "<5"},
      {{"signalen_per_bron", "coordinator"}, "18"},
      // The period's cases: 16 (the merged one counts for its target, the cancelled one not:
      // it is no closure either, nor open). First attempt after
      // 1 h (5), 3 h (2), 5 h, 7 h (6) and 720 h: median 5 h; 14 met, 1 late, 1 still open.
      {{"eerste_poging", "casussen"}, "16"},
      {{"eerste_poging", "met_poging"}, "15"},
      {{"eerste_poging", "mediaan_uren"}, "5.0"},
      {{"eerste_poging", "binnen_norm"}, "14"},
      {{"eerste_poging", "buiten_norm"}, "<5"},
      {{"eerste_poging", "norm_loopt"}, "<5"},
      {{"eerste_poging", "binnen_norm_pct"}, "93.3"},
      // First gesprek after 2 h (5), 3 h (2), 53 h and 720 h: median 2 h; 8 met, 7 missed (the
      // six without one, the late one), 1 open.
      {{"eerste_gesprek", "casussen"}, "16"},
      {{"eerste_gesprek", "met_gesprek"}, "9"},
      {{"eerste_gesprek", "mediaan_uren"}, "2.0"},
      {{"eerste_gesprek", "binnen_norm"}, "8"},
      {{"eerste_gesprek", "buiten_norm"}, "7"},
      {{"eerste_gesprek", "norm_loopt"}, "<5"},
      {{"eerste_gesprek", "binnen_norm_pct"}, "53.3"},
      // Attempts: 0 (1), 1 (2 + 6 + 1), 2 (5), 3 (1): mean 22/16, median 1.
      {{"pogingen_per_casus", "0"}, "<5"},
      {{"pogingen_per_casus", "1"}, "9"},
      {{"pogingen_per_casus", "2"}, "5"},
      {{"pogingen_per_casus", "3"}, "<5"},
      {{"pogingen_per_casus", "4"}, "0"},
      {{"pogingen_per_casus", "5_of_meer"}, "0"},
      {{"pogingen_per_casus", "gemiddeld"}, "1.4"},
      {{"pogingen_per_casus", "mediaan"}, "1.0"},
      {{"afsluitingen", "totaal"}, "8"},
      {{"afsluitingen", "opgelost"}, "5"},
      {{"afsluitingen", "verhuisd"}, "<5"},
      {{"afsluitingen", "samengevoegd"}, "<5"},
      // Open at 2026-11-01 00:00: the early case (40 days), c, the six, e (30 days), f (3 days).
      {{"open_caseload", "totaal"}, "10"},
      {{"open_caseload", "lt_1w"}, "<5"},
      {{"open_caseload", "1w_4w"}, "0"},
      {{"open_caseload", "1m_3m"}, "9"},
      {{"open_caseload", "gt_3m"}, "0"},
  };
  for (const char* code :
       {"verslaving", "verwaarlozing", "huiselijk_geweld", "dreigende_huisuitzetting",
        "schoolverzuim", "psychische_problemen", "mantelzorg_overbelast", "overig"}) {
    want[{"signalen_per_categorie", code}] = "0";
  }
  for (const char* code :
       {"overgedragen", "hulp_geweigerd", "geen_contact_mogelijk", "geen_hulpvraag", "overleden"}) {
    want[{"afsluitingen", code}] = "0";
  }
  CHECK(got.size() == want.size());
  for (const auto& [key, value] : want) {
    INFO(key.first << "," << key.second);
    const auto it = got.find(key);
    REQUIRE(it != got.end());
    CHECK(it->second == value);
  }

  SECTION("labels: categories from the reference data, resolution codes from core") {
    for (const server::ReportRow& row : rep.rows) {
      if (row.section == "signalen_per_categorie" && row.key == "dreigende_huisuitzetting") {
        CHECK(row.label == "Dreigende huisuitzetting");
      }
      if (row.section == "afsluitingen" && row.key == "geen_contact_mogelijk") {
        CHECK(row.label == "Geen contact mogelijk");
      }
    }
  }

  SECTION("JSON and CSV carry the figures and nothing of the dataset") {
    const std::string json = server::reportJson(rep);
    const std::string csv = server::reportCsv(rep);
    v1::Report parsed;
    REQUIRE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
    CHECK(parsed.from() == "2026-10-01");
    CHECK(parsed.to() == "2026-10-31");
    REQUIRE(parsed.rows_size() == static_cast<int>(rep.rows.size()));
    CHECK(parsed.rows(0).value() == "26");
    CHECK(csv.rfind("section,key,label,value\n", 0) == 0);
    CHECK(csv.find("\neerste_poging,mediaan_uren,Mediaan tijd (uren),5.0\n") != std::string::npos);
    CHECK(csv.find("\nafsluitingen,verhuisd,Verhuisd,<5\n") != std::string::npos);
    REQUIRE(g.secrets.size() > 100);
    for (const std::string& secret : g.secrets) {
      INFO(secret);
      CHECK(json.find(secret) == std::string::npos);
      CHECK(csv.find(secret) == std::string::npos);
      CHECK(server::reportText(rep).find(secret) == std::string::npos);
    }
  }

  SECTION("a coordinator gets the same for her own wijken, and only for those") {
    const server::Report hers = readOk(g.s.engine->report(g.co->principal, october()));
    CHECK(figures(hers) == got);
    // No wijk asked: all of hers (the other wijk's one signal is in, as "<5").
    server::ReportQuery all = october({});
    const server::Report both = readOk(g.s.engine->report(g.co->principal, all));
    CHECK(both.wijken == std::vector<std::string>{"WK015301", "WK015302"});
    CHECK(figures(both).at({"signalen", "totaal"}) == "27");
    // Another wijk's coordinator asking for this one is refused, naming it.
    const auto other = g.s.engine->report(g.els->principal, october());
    CHECK(other.status().code() == ErrorCode::kPermissionDenied);
    CHECK(other.status().field() == "wijk");
    const auto own = readOk(g.s.engine->report(g.els->principal, october({})));
    CHECK(figures(own).at({"signalen", "totaal"}) == "<5");
    // A coach or a home-care worker gets no report at all.
    CHECK(g.s.engine->report(g.anna->principal, october()).status().code() ==
          ErrorCode::kPermissionDenied);
    CHECK(g.s.engine->report(g.zm->principal, october({})).status().code() ==
          ErrorCode::kPermissionDenied);
    // The report is in the access log, without a record.
    const auto log = readOk(g.s.engine->accessLog(10));
    CHECK(std::any_of(log.begin(), log.end(), [](const server::AccessEntry& entry) {
      return entry.action == "report" && entry.worker_id == "co-jan" && entry.record_id.empty();
    }));
  }
}

TEST_CASE("report: bad periods and unknown wijken are refused with the field named",
          "[server][engine][report]") {
  EngineFixture s;
  auto co = s.device("co-jan", Role::kCoordinator);
  const auto field = [](const auto& r) { return std::string(r.status().field()); };

  CHECK(field(server::reportQueryForDays("2026-10-31", "2026-10-01", {})) == "period");
  CHECK(field(server::reportQueryForDays("2026-02-30", "2026-03-01", {})) == "from");
  CHECK(field(server::reportQueryForDays("2026-10-01", "2026-13-01", {})) == "to");
  CHECK(field(server::reportQueryForDays("1-10-2026", "2026-10-31", {})) == "from");
  CHECK(field(server::reportQueryForDays("2026-10-01", "2026-10-3x", {})) == "to");
  // One day is a period: 00:00 to 00:00 the next day, Amsterdam time (CEST: 22:00 UTC).
  const auto day = server::reportQueryForDays("2026-10-01", "2026-10-01", {});
  REQUIRE(day.ok());
  CHECK(day->to_ms - day->from_ms == 86'400'000);
  CHECK(day->from_ms == 1'790'805'600'000);

  server::ReportQuery q;
  q.from_ms = 1'790'805'600'000;
  q.to_ms = q.from_ms;
  CHECK(s.engine->report(q).status().code() == ErrorCode::kInvalidArgument);
  CHECK(field(s.engine->report(co->principal, q)) == "period");
  q.to_ms = q.from_ms - 1;
  CHECK(field(s.engine->report(q)) == "period");
  q.to_ms = q.from_ms + server::kMaxReportPeriodMs + 1;
  CHECK(field(s.engine->report(q)) == "period");
  q.to_ms = q.from_ms + server::kMaxReportPeriodMs;
  CHECK(s.engine->report(q).ok());

  q.wijken = {"WK099999"};
  const auto unknown = s.engine->report(q);
  CHECK(unknown.status().code() == ErrorCode::kNotFound);
  CHECK(unknown.status().message().find("WK099999") != std::string::npos);
  q.wijken = {"nonsense"};
  CHECK(field(s.engine->report(q)) == "wijk");
  // The admin's report without wijken covers every wijk of the server.
  q.wijken = {};
  CHECK(readOk(s.engine->report(q)).wijken == std::vector<std::string>{"WK015301", "WK015302"});
}

TEST_CASE("report rows: a case moved to another wijk leaves the old wijk's rows",
          "[server][report]") {
  const auto dir = test::makeTempDir("eropaf-report-rows");
  {
    auto store = server::openSqliteServerStore((dir / "server.db").string());
    REQUIRE(store.ok());
    auto session = (*store)->openSession();
    REQUIRE(session.ok());
    server::StoreSession& st = **session;
    REQUIRE(st.begin(true).ok());
    server::ReportCaseRow row;
    row.case_id = "0190a0b0-0000-7000-8000-000000000001";
    row.wijk = "WK015301";
    row.start_ms = kT1;
    REQUIRE(st.putReportCase(row, true).ok());
    row.attempts = 2;
    REQUIRE(st.putReportCase(row, true).ok());  // an update, not a second row
    const std::vector<std::string> first{"WK015301"};
    const std::vector<std::string> second{"WK015302"};
    REQUIRE(readOk(st.reportCases(first)).size() == 1);
    CHECK(readOk(st.reportCases(first))[0].attempts == 2);
    row.wijk = "WK015302";
    REQUIRE(st.putReportCase(row, true).ok());
    CHECK(readOk(st.reportCases(first)).empty());
    CHECK(readOk(st.reportCases(second)).size() == 1);
    REQUIRE(st.putReportCase(row, false).ok());  // deleted
    CHECK(readOk(st.reportCases(second)).empty());
    REQUIRE(st.commit().ok());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
