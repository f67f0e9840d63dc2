// The sync engine, report: the results report (docs/console.md "Rapportage") over the plain
// report_cases and report_signals rows the engine keeps on every write (engine_norms.cpp, with
// core's norm function: due dates, first contacts and counting moments are never re-derived
// here). Promises: aggregates only (no id, name, address or text reaches a Report); every count
// of 1 to 4 and every figure derived from fewer than 5 cases is shown as "<5"; a coordinator
// reports only on her own wijken; the admin CLI on any wijk of the server.
#include <algorithm>
#include <cstdio>

#include "engine_impl.hpp"
#include "eropaf/id.hpp"
#include "eropaf/resolution.hpp"
#include "eropaf/validate.hpp"

namespace eropaf::server {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::size_t kMinCell = 5;  // smallest count shown as itself (besides 0)

std::string oneDecimal(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

/// A count: 0 stays 0, 1..4 is "<5".
ReportRow countRow(std::string section, std::string key, std::string label, std::size_t n) {
  ReportRow r{std::move(section), std::move(key), std::move(label), "", false};
  if (n > 0 && n < kMinCell) {
    r.value = "<5";
    r.suppressed = true;
  } else {
    r.value = std::to_string(n);
  }
  return r;
}

/// A figure derived from `base` cases: "-" when there are none, "<5" under 5.
ReportRow derivedRow(std::string section, std::string key, std::string label, double value,
                     std::size_t base) {
  ReportRow r{std::move(section), std::move(key), std::move(label), "", false};
  if (base == 0) {
    r.value = "-";
  } else if (base < kMinCell) {
    r.value = "<5";
    r.suppressed = true;
  } else {
    r.value = oneDecimal(value);
  }
  return r;
}

/// The median of `v` (sorted here); 0 for an empty one (callers suppress it).
double median(std::vector<double>& v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/// One norm clock of the period's cases: the time from the clock's start to its first counting
/// moment, and its state at now (norms::clockStatus decides met, open and missed).
void clockRows(std::vector<ReportRow>& out, const std::string& section, const char* with_key,
               const char* with_label, const std::vector<const ReportCaseRow*>& cohort,
               bool gesprek, std::int64_t now) {
  std::vector<double> hours;
  std::size_t met = 0;
  std::size_t missed = 0;
  std::size_t open = 0;
  for (const ReportCaseRow* c : cohort) {
    const std::optional<std::int64_t>& first = gesprek ? c->first_gesprek_ms : c->first_attempt_ms;
    const std::int64_t due = gesprek ? c->first_gesprek_due_ms : c->first_attempt_due_ms;
    if (first) {
      hours.push_back(static_cast<double>(std::max<std::int64_t>(0, *first - c->start_ms)) /
                      static_cast<double>(kHourMs));
    }
    switch (norms::clockStatus(due, first, now).state) {
      case norms::NormState::kMet:
        ++met;
        break;
      case norms::NormState::kMissed:
        ++missed;
        break;
      case norms::NormState::kOpen:
        ++open;
        break;
    }
  }
  const std::size_t with = hours.size();
  out.push_back(countRow(section, "casussen", "Casussen in de periode", cohort.size()));
  out.push_back(countRow(section, with_key, with_label, with));
  out.push_back(derivedRow(section, "mediaan_uren", "Mediaan tijd (uren)", median(hours), with));
  out.push_back(countRow(section, "binnen_norm", "Binnen de norm", met));
  out.push_back(countRow(section, "buiten_norm", "Buiten de norm", missed));
  out.push_back(countRow(section, "norm_loopt", "Norm loopt nog", open));
  const std::size_t decided = met + missed;
  out.push_back(derivedRow(
      section, "binnen_norm_pct", "Aandeel binnen de norm (%)",
      decided == 0 ? 0.0 : 100.0 * static_cast<double>(met) / static_cast<double>(decided),
      decided));
}

std::string_view roleKey(Role r) {
  switch (r) {
    case Role::kZorgmedewerker:
      return "zorgmedewerker";
    case Role::kWijkcoach:
      return "wijkcoach";
    case Role::kCoordinator:
      return "coordinator";
    default:
      return "overig";
  }
}

Status checkPeriod(const ReportQuery& q) {
  if (q.from_ms < 0 || q.to_ms <= q.from_ms) {
    return Status(ErrorCode::kInvalidArgument, "the period must end after it starts", "period");
  }
  if (q.to_ms - q.from_ms > kMaxReportPeriodMs) {
    return Status(ErrorCode::kInvalidArgument, "a report covers at most five years", "period");
  }
  return {};
}

/// The report's figures over one read transaction of `s` (wijken checked by the caller).
Result<Report> buildReport(StoreSession& s, const ReportQuery& q,
                           const std::vector<std::string>& wijken, std::int64_t now) {
  Report rep;
  rep.from_ms = q.from_ms;
  rep.to_ms = q.to_ms;
  rep.wijken = wijken;
  std::sort(rep.wijken.begin(), rep.wijken.end());
  rep.wijken.erase(std::unique(rep.wijken.begin(), rep.wijken.end()), rep.wijken.end());
  rep.as_of_ms = std::min(q.to_ms, now);
  std::vector<ReportRow>& out = rep.rows;

  Result<std::vector<Category>> table = s.categories();
  if (!table.ok()) return table.status();

  // --- signals in: observed in the period, by category and by source role ---
  Result<std::vector<ReportSignalRow>> signals = s.reportSignals(rep.wijken, q.from_ms, q.to_ms);
  if (!signals.ok()) return signals.status();
  std::vector<std::pair<std::string, std::size_t>> by_code;  // table order, then unknown codes
  for (const Category& c : *table) by_code.emplace_back(c.code, 0);
  std::size_t by_role[4] = {0, 0, 0, 0};  // zorgmedewerker, wijkcoach, coordinator, overig
  for (const ReportSignalRow& sig : *signals) {
    switch (sig.source_role) {
      case Role::kZorgmedewerker:
        ++by_role[0];
        break;
      case Role::kWijkcoach:
        ++by_role[1];
        break;
      case Role::kCoordinator:
        ++by_role[2];
        break;
      default:
        ++by_role[3];
    }
    std::string_view rest(sig.categories);
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view code = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (code.empty()) continue;
      auto it = std::find_if(by_code.begin(), by_code.end(),
                             [&](const auto& e) { return e.first == code; });
      if (it == by_code.end()) {
        by_code.emplace_back(std::string(code), 1);
      } else {
        ++it->second;
      }
    }
  }
  out.push_back(countRow("signalen", "totaal", "Signalen binnengekomen", signals->size()));
  for (const auto& entry : by_code) {
    const std::string& code = entry.first;
    auto it = std::find_if(table->begin(), table->end(),
                           [&](const Category& c) { return c.code == code; });
    out.push_back(countRow("signalen_per_categorie", code, it == table->end() ? code : it->label,
                           entry.second));
  }
  constexpr Role kRoles[3] = {Role::kZorgmedewerker, Role::kWijkcoach, Role::kCoordinator};
  constexpr const char* kRoleLabels[3] = {"Zorgmedewerker", "Wijkcoach", "Co\xc3\xb6rdinator"};
  for (int i = 0; i < 3; ++i) {
    out.push_back(
        countRow("signalen_per_bron", std::string(roleKey(kRoles[i])), kRoleLabels[i], by_role[i]));
  }
  if (by_role[3] > 0) out.push_back(countRow("signalen_per_bron", "overig", "Overig", by_role[3]));

  // --- the period's cases: norm clocks started in the period ---
  Result<std::vector<ReportCaseRow>> cases = s.reportCases(rep.wijken);
  if (!cases.ok()) return cases.status();
  std::vector<const ReportCaseRow*> cohort;
  for (const ReportCaseRow& c : *cases) {
    if (!c.merged && c.state != CaseState::kGeannuleerd && c.start_ms >= q.from_ms &&
        c.start_ms < q.to_ms) {
      cohort.push_back(&c);
    }
  }
  clockRows(out, "eerste_poging", "met_poging", "Met een contactpoging", cohort, false, now);
  clockRows(out, "eerste_gesprek", "met_gesprek", "Met een gesprek", cohort, true, now);

  // --- attempts per case ---
  std::size_t buckets[6] = {0, 0, 0, 0, 0, 0};
  std::vector<double> attempts;
  attempts.reserve(cohort.size());
  double sum = 0;
  for (const ReportCaseRow* c : cohort) {
    ++buckets[std::clamp<std::int32_t>(c->attempts, 0, 5)];
    attempts.push_back(c->attempts);
    sum += c->attempts;
  }
  for (int i = 0; i < 5; ++i) {
    out.push_back(countRow("pogingen_per_casus", std::to_string(i),
                           std::to_string(i) + (i == 1 ? " poging" : " pogingen"), buckets[i]));
  }
  out.push_back(countRow("pogingen_per_casus", "5_of_meer", "5 of meer pogingen", buckets[5]));
  out.push_back(derivedRow("pogingen_per_casus", "gemiddeld", "Gemiddeld aantal pogingen",
                           cohort.empty() ? 0.0 : sum / static_cast<double>(cohort.size()),
                           cohort.size()));
  out.push_back(derivedRow("pogingen_per_casus", "mediaan", "Mediaan aantal pogingen",
                           median(attempts), cohort.size()));

  // --- closures in the period, by resolution code ---
  std::vector<std::pair<std::string, std::size_t>> closed;
  for (const ResolutionCode& r : resolutionCodes()) closed.emplace_back(std::string(r.code), 0);
  std::size_t closed_total = 0;
  std::size_t closed_other = 0;
  for (const ReportCaseRow& c : *cases) {
    if (c.state != CaseState::kAfgesloten || !c.ended_ms || *c.ended_ms < q.from_ms ||
        *c.ended_ms >= q.to_ms) {
      continue;
    }
    ++closed_total;
    auto it = std::find_if(closed.begin(), closed.end(),
                           [&](const auto& e) { return e.first == c.resolution_code; });
    if (it == closed.end()) {
      ++closed_other;
    } else {
      ++it->second;
    }
  }
  out.push_back(countRow("afsluitingen", "totaal", "Afgesloten casussen", closed_total));
  for (const auto& [code, n] : closed) {
    const ResolutionCode* r = findResolutionCode(code);
    out.push_back(countRow("afsluitingen", code, std::string(r->label), n));
  }
  if (closed_other > 0) {
    out.push_back(countRow("afsluitingen", "overig", "Overige code", closed_other));
  }

  // --- open caseload at the period's end (or now), by age since the norm clocks started ---
  const std::int64_t at = rep.as_of_ms;
  std::size_t age[4] = {0, 0, 0, 0};
  std::size_t open_total = 0;
  for (const ReportCaseRow& c : *cases) {
    if (c.merged || c.start_ms >= at || (c.ended_ms && *c.ended_ms < at)) continue;
    const std::int64_t days = (at - c.start_ms) / kDayMs;
    ++open_total;
    ++age[days < 7 ? 0 : days < 28 ? 1 : days < 91 ? 2 : 3];
  }
  out.push_back(countRow("open_caseload", "totaal", "Open casussen", open_total));
  out.push_back(countRow("open_caseload", "lt_1w", "Korter dan 1 week", age[0]));
  out.push_back(countRow("open_caseload", "1w_4w", "1 tot 4 weken", age[1]));
  out.push_back(countRow("open_caseload", "1m_3m", "4 weken tot 3 maanden", age[2]));
  out.push_back(countRow("open_caseload", "gt_3m", "3 maanden of langer", age[3]));
  return rep;
}

}  // namespace

Result<Report> Engine::report(const ReportQuery& q) {
  EROPAF_RETURN_IF_ERROR(checkPeriod(q));
  for (const std::string& x : q.wijken) {
    if (!isValidWijkCode(x)) {
      return Status(ErrorCode::kInvalidArgument, "not a CBS wijk code like WK015301", "wijk");
    }
  }
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  StoreSession& s = *lease->s;
  EROPAF_RETURN_IF_ERROR(s.begin(false));
  EndRead end_read{s};
  Result<std::vector<Wijk>> known = s.wijken();
  if (!known.ok()) return known.status();
  std::vector<std::string> wijken = q.wijken;
  for (const std::string& x : wijken) {
    if (std::none_of(known->begin(), known->end(), [&](const Wijk& w) { return w.code == x; })) {
      return Status(ErrorCode::kNotFound, "unknown wijk " + x, "wijk");
    }
  }
  if (wijken.empty()) {
    for (const Wijk& w : *known) wijken.push_back(w.code);
  }
  return buildReport(s, q, wijken, q.now_ms.value_or(impl_->now()));
}

Result<Report> Engine::report(const Principal& p, const ReportQuery& q) {
  if (p.worker.role != Role::kCoordinator) {
    return Status(ErrorCode::kPermissionDenied, "only a coordinator sees the report");
  }
  const std::vector<std::string>& wijken = q.wijken.empty() ? p.worker.wijken : q.wijken;
  for (const std::string& x : wijken) {
    if (!detail::inWijk(p.worker, x)) {
      return Status(
          ErrorCode::kPermissionDenied,
          (isValidWijkCode(x) ? "wijk " + x : std::string("that wijk")) + " is not one of yours",
          "wijk");
    }
  }
  EROPAF_RETURN_IF_ERROR(checkPeriod(q));
  Report out;
  if (wijken.empty()) {
    out.from_ms = q.from_ms;
    out.to_ms = q.to_ms;
    out.as_of_ms = std::min(q.to_ms, q.now_ms.value_or(impl_->now()));
  } else {
    Result<Impl::Lease> lease = impl_->borrow();
    if (!lease.ok()) return lease.status();
    StoreSession& s = *lease->s;
    EROPAF_RETURN_IF_ERROR(s.begin(false));
    EndRead end_read{s};
    Result<Report> built = buildReport(s, q, wijken, q.now_ms.value_or(impl_->now()));
    if (!built.ok()) return built.status();
    out = std::move(*built);
  }
  const AccessEntry entry{impl_->now(),
                          "report",
                          "",
                          "",
                          p.worker.id,
                          "",
                          p.device_id,
                          std::string(toString(p.worker.role)),
                          ""};
  Result<bool> logged = impl_->runBlocking<bool>([entry](StoreSession& ws) -> Result<bool> {
    EROPAF_RETURN_IF_ERROR(ws.appendAccess(entry));
    return true;
  });
  if (!logged.ok()) return logged.status();
  return out;
}

}  // namespace eropaf::server
