// The coordinator's triage on the CLI: the overview of every open case of her wijken, the
// untriaged signals with their duplicate hints, and the verbs that empty that list (reject,
// duplicate, merge, refile). The rules are the store's and the permissions module's; these
// commands turn words into requests and answers into tables.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>

#include "cli.hpp"
#include "eropaf/id.hpp"
#include "eropaf/norms.hpp"

namespace eropaf::cli {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

/// "gehaald", "open", "TE LAAT 3 d": one clock as the overview shows it.
std::string clockText(const norms::ClockStatus& c) {
  switch (c.state) {
    case norms::NormState::kMet:
      return "gehaald";
    case norms::NormState::kOpen:
      return c.due_ms == norms::kNoDue ? "-" : "open";
    case norms::NormState::kMissed:
      return "TE LAAT " + std::to_string(c.days_late) + " d";
  }
  return "-";
}

Json clockJson(const norms::ClockStatus& c) {
  return Json::Object{{"state", std::string(norms::toString(c.state))},
                      {"days_late", static_cast<std::int64_t>(c.days_late)},
                      {"due_ms", c.due_ms == norms::kNoDue ? Json(nullptr) : Json(c.due_ms)}};
}

Json overviewRowJson(const store::OverviewRow& r) {
  return Json::Object{{"case", caseJson(r.kase)},
                      {"priority", std::string(toString(r.norms.priority))},
                      {"derived_priority", std::string(toString(r.norms.derived_priority))},
                      {"overdue", r.overdue},
                      {"first_attempt", clockJson(r.status.first_attempt)},
                      {"first_gesprek", clockJson(r.status.first_gesprek)}};
}

std::map<std::string, std::string> workerNames(Context& ctx) {
  std::map<std::string, std::string> names;
  auto workers = ctx.store->workers();
  if (workers.ok()) {
    for (const auto& w : *workers) names[w.id] = w.name;
  }
  return names;
}

std::string nameOf(const std::map<std::string, std::string>& names, const std::string& id) {
  if (id.empty()) return "-";
  auto it = names.find(id);
  return it == names.end() ? id : it->second;
}

/// "zelfde huishouden: open casus 7k2f, 2 signalen < 12 wk"; empty when there is nothing.
std::string hintText(const store::DuplicateHint& h) {
  std::vector<std::string> parts;
  for (const auto& c : h.open_case_ids) parts.push_back("open casus " + shortId(c));
  if (h.recent_signals > 0) {
    parts.push_back(std::to_string(h.recent_signals) +
                    (h.recent_signals == 1 ? " signaal" : " signalen") + " < 12 wk");
  }
  if (parts.empty()) return "";
  std::string out = "zelfde huishouden: ";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i > 0 ? ", " : "") + parts[i];
  return out;
}

Json hintJson(const store::DuplicateHint& h) {
  return Json::Object{{"open_case_ids", stringsJson(h.open_case_ids)},
                      {"recent_signals", static_cast<std::uint64_t>(h.recent_signals)}};
}

}  // namespace

int cmdOverview(Context& ctx, const Args& a) {
  store::OverviewQuery q;
  q.wijken = a.all("--wijk");
  if (auto who = a.get("--assignee")) q.assignee = *who == "-" ? std::string() : *who;
  if (auto st = a.get("--state")) {
    q.state = parseEnum<CaseState>("--state", *st, &parseCaseState,
                                   "nieuw, toegewezen, contact_zoeken, in_behandeling, wacht, "
                                   "doorverwezen, nazorg, heropend");
  }
  q.category = a.get("--category").value_or("");
  q.overdue_only = a.has("--overdue");
  // "What will be overdue by Friday?": the norms judged at another time than now.
  if (auto at = a.get("--at")) {
    auto ms = parseTime(*at);
    if (!ms) throw Usage{"--at '" + *at + "' is not YYYY-MM-DDTHH:MM"};
    q.now_ms = *ms;
  }
  q.limit = 50;
  if (auto l = a.get("--limit")) {
    try {
      q.limit = static_cast<std::size_t>(std::stoul(*l));
    } catch (const std::exception&) {
      throw Usage{"--limit '" + *l + "' is not a number"};
    }
  }
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->overview(q);
  if (!r.ok()) return fail(ctx, r.status());
  if (ctx.json) {
    return ok(ctx,
              Json::Object{{"total", static_cast<std::uint64_t>(r->total)},
                           {"overdue", static_cast<std::uint64_t>(r->overdue)},
                           {"rows", arrayOf(r->rows, overviewRowJson)}},
              "");
  }
  if (r->rows.empty()) {
    std::cout << "No open cases match.\n";
    return kExitOk;
  }
  const auto names = workerNames(ctx);
  const std::int64_t now =
      q.now_ms.value_or(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  std::cout << pad("ID", 10) << pad("PRIORITY", 10) << pad("STATE", 16) << pad("ASSIGNEE", 18)
            << pad("AGE", 6) << pad("FIRST CONTACT", 15) << pad("ATTEMPT", 13) << pad("GESPREK", 13)
            << "TITLE\n";
  for (const auto& row : r->rows) {
    const Case& c = row.kase;
    const std::int64_t age = std::max<std::int64_t>(0, (now - c.opened_at_ms) / kDayMs);
    std::cout << pad(shortId(c.id), 10) << pad(std::string(toString(row.norms.priority)), 10)
              << pad(std::string(toString(c.state.value)) + (c.conflict.value ? "!" : ""), 16)
              << pad(fit(nameOf(names, c.assignee.value)), 18) << pad(std::to_string(age) + " d", 6)
              << pad(formatDay(row.norms.first_attempt_due_ms), 15)
              << pad(clockText(row.status.first_attempt), 13)
              << pad(clockText(row.status.first_gesprek), 13) << c.title.value << "\n";
  }
  std::cout << r->total << " open case(s), " << r->overdue << " overdue";
  if (r->rows.size() < r->total) std::cout << " (showing " << r->rows.size() << ")";
  std::cout << ".\n";
  return kExitOk;
}

int cmdUntriaged(Context& ctx, const Args& a) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  std::vector<std::string> wijken = a.all("--wijk");
  if (wijken.empty()) {
    if (auto id = ctx.store->identity()) wijken = id->wijken;
  }
  std::vector<Signal> all;
  for (const auto& w : wijken) {
    auto r = ctx.store->untriagedSignals(w);
    if (!r.ok()) return fail(ctx, r.status());
    all.insert(all.end(), r->begin(), r->end());
  }
  // Several wijken: one list, urgency then age, as each wijk's list is.
  std::stable_sort(all.begin(), all.end(), [](const Signal& x, const Signal& y) {
    if (x.content.urgency != y.content.urgency) return x.content.urgency > y.content.urgency;
    return x.content.observed_at_ms < y.content.observed_at_ms;
  });
  std::vector<store::DuplicateHint> hints;
  hints.reserve(all.size());
  for (const auto& s : all) {
    auto h = ctx.store->duplicateHint(s.id);
    if (!h.ok()) return fail(ctx, h.status());
    hints.push_back(*h);
  }
  if (ctx.json) {
    Json::Array out;
    for (std::size_t i = 0; i < all.size(); ++i) {
      Json::Object row = signalFields(all[i]);
      row.emplace_back("hint", hintJson(hints[i]));
      out.emplace_back(std::move(row));
    }
    return ok(ctx, out, "");
  }
  printSignals(all, "No signals wait for triage.", categoryLabels(*ctx.store));
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string h = hintText(hints[i]);
    if (!h.empty()) std::cout << "  " << shortId(all[i].id) << ": " << h << "\n";
  }
  return kExitOk;
}

int cmdSignalReject(Context& ctx, const Args& a) {
  const std::string s = requiredId(ctx, a, "--signal", RecordKind::kSignal);
  const std::string reason = required(a, "--reason");
  return simple(
      ctx, [&] { return ctx.store->rejectSignal(s, reason); },
      "Signal " + shortId(s) + " rejected (afgewezen).");
}

int cmdSignalDuplicate(Context& ctx, const Args& a) {
  const std::string s = requiredId(ctx, a, "--signal", RecordKind::kSignal);
  const std::string of = requiredId(ctx, a, "--of", RecordKind::kSignal);
  return simple(
      ctx, [&] { return ctx.store->markDuplicate(s, of); },
      "Signal " + shortId(s) + " marked as a duplicate of " + shortId(of) + ".");
}

int cmdSignalRefile(Context& ctx, const Args& a) {
  const std::string s = requiredId(ctx, a, "--signal", RecordKind::kSignal);
  const std::string wijk = required(a, "--wijk");
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->refileSignal(s, wijk);
  if (!r.ok()) return fail(ctx, r.status());
  return ok(ctx, signalJson(*r),
            "Signal " + shortId(s) + " re-filed in " + wijk + "; it is sent at the next sync.");
}

int cmdCaseMerge(Context& ctx, const Args& a) {
  const std::string from = requiredId(ctx, a, "--case", RecordKind::kCase);
  const std::string into = requiredId(ctx, a, "--into", RecordKind::kCase);
  const std::string reason = a.get("--reason").value_or("");
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->mergeCase(from, into, reason);
  if (!r.ok()) return fail(ctx, r.status());
  return ok(ctx, caseJson(*r),
            "Case " + shortId(from) + " merged into case " + shortId(into) +
                " (closed as samengevoegd; its signals and contact moments follow).");
}

}  // namespace eropaf::cli
