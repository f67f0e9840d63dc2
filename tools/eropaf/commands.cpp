// The eropaf CLI's commands over the device store. All validation is the store's: the CLI only
// turns words into requests and Status into messages and exit codes.
#include "commands.hpp"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli.hpp"
#include "eropaf/id.hpp"
#include "eropaf/model.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/permissions.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/sync.hpp"
#include "json.hpp"
#include "lookup.hpp"

namespace eropaf::cli {

namespace fs = std::filesystem;

// --- the store -------------------------------------------------------------------------------

Status readOrCreateKey(const fs::path& path, store::Key& key) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (sodium_init() < 0) return Status(ErrorCode::kInternal, "libsodium failed to initialise");
    randombytes_buf(key.data(), key.size());
    const std::string tmp = path.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(key.data()),
                static_cast<std::streamsize>(key.size()));
      if (!out) return Status(ErrorCode::kIoError, "cannot write key file " + tmp);
    }
    ::chmod(tmp.c_str(), 0600);
    fs::rename(tmp, path, ec);
    if (ec) return Status(ErrorCode::kIoError, "cannot create key file " + path.string());
    return {};
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (!in.eof() && !in.good()) return Status(ErrorCode::kIoError, "cannot read " + path.string());
  if (bytes.size() != key.size()) {
    return Status(ErrorCode::kCrypto, "key file " + path.string() + " is " +
                                          std::to_string(bytes.size()) +
                                          " bytes; a store key is exactly 32 bytes");
  }
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return {};
}

Status openStore(Context& ctx) {
  if (ctx.store) return {};
  std::error_code ec;
  fs::create_directories(ctx.home, ec);
  if (ec) return Status(ErrorCode::kIoError, "cannot create " + ctx.home + ": " + ec.message());
  ::chmod(ctx.home.c_str(), 0700);
  store::OpenOptions o;
  o.path = (fs::path(ctx.home) / "device.db").string();
  EROPAF_RETURN_IF_ERROR(readOrCreateKey(fs::path(ctx.home) / "device.key", o.key));
  auto s = store::Store::open(o);
  if (!s.ok()) return s.status();
  ctx.store = std::move(s).value();
  return {};
}

// --- parsing helpers ---------------------------------------------------------------------

std::string required(const Args& a, const std::string& flag) {
  auto v = a.get(flag);
  if (!v || v->empty()) throw Usage{flag + " is required"};
  return *v;
}

/// The full id that `text`, given with `flag`, names (lookup.hpp: a full id, or a unique prefix
/// of the id or of its short id). Opens the store.
std::string resolved(Context& ctx, const std::string& flag, const std::string& text,
                     RecordKind kind, std::string_view case_id) {
  if (Status st = openStore(ctx); !st.ok()) throw Refused{st};
  Result<std::string> id = resolveId(*ctx.store, kind, flag, text, case_id);
  if (!id.ok()) throw Refused{id.status()};
  return std::move(id).value();
}

std::string requiredId(Context& ctx, const Args& a, const std::string& flag, RecordKind kind) {
  return resolved(ctx, flag, required(a, flag), kind);
}

Address addressFrom(const Args& a) {
  Address addr;
  addr.postcode = required(a, "--postcode");
  addr.house_number = required(a, "--number");
  addr.addition = a.get("--addition").value_or("");
  addr.street = a.get("--street").value_or("");
  addr.city = a.get("--city").value_or("");
  return addr;
}

std::set<std::string> with(std::set<std::string> base, std::initializer_list<std::string> more) {
  base.insert(more.begin(), more.end());
  return base;
}

// --- output --------------------------------------------------------------------------------

int ok(const Context& ctx, const Json& json, const std::string& human) {
  if (ctx.json) {
    std::cout << json.dump() << "\n";
  } else if (!human.empty()) {
    std::cout << human << "\n";
  }
  return kExitOk;
}

int simple(Context& ctx, const std::function<Status()>& f, const std::string& done) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  if (Status st = f(); !st.ok()) return fail(ctx, st);
  return ok(ctx, Json::Object{{"ok", true}}, done);
}

namespace {

namespace fs = std::filesystem;

// --- errors ----------------------------------------------------------------------------------

int exitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return kExitOk;
    case ErrorCode::kIoError:
    case ErrorCode::kStorageBusy:
    case ErrorCode::kStorageFull:
    case ErrorCode::kStorageCorrupt:
    case ErrorCode::kCrypto:
    case ErrorCode::kUnsupported:
    case ErrorCode::kInternal:
      return kExitStorage;
    case ErrorCode::kNetwork:
    case ErrorCode::kTimeout:
    case ErrorCode::kUnavailable:
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kDeviceRevoked:
      return kExitNetwork;
    default:
      return kExitRefused;
  }
}

// --- commands ------------------------------------------------------------------------------

int cmdInit(Context& ctx, const Args& a) {
  store::Identity id;
  id.worker_id = required(a, "--worker");
  id.name = required(a, "--name");
  id.role = parseEnum<Role>("--role", required(a, "--role"), &parseRole,
                            "zorgmedewerker, wijkcoach, coordinator, admin");
  id.wijken = a.all("--wijk");
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  if (Status st = ctx.store->setIdentity(id); !st.ok()) return fail(ctx, st);
  return ok(ctx,
            Json::Object{{"worker_id", id.worker_id}, {"role", std::string(toString(id.role))}},
            "This device now works as " + id.name + " (" + id.worker_id + ", " +
                std::string(toString(id.role)) + ").");
}

int cmdWhoami(Context& ctx, const Args&) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto id = ctx.store->identity();
  if (!id) {
    return fail(ctx, Status(ErrorCode::kFailedPrecondition,
                            "no identity yet: run `eropaf init` or `eropaf enroll`"));
  }
  std::string wijken;
  for (const auto& w : id->wijken) wijken += (wijken.empty() ? "" : ", ") + w;
  return ok(ctx, identityJson(*id),
            id->name + " (" + id->worker_id + "), " + std::string(toString(id->role)) +
                ", wijken: " + (wijken.empty() ? "-" : wijken) + ", device " + id->device_id);
}

int cmdSignalAdd(Context& ctx, const Args& a) {
  store::NewSignal s;
  s.wijk = a.get("--wijk").value_or("");  // the store defaults it to the identity's one wijk
  s.address = addressFrom(a);
  s.categories = a.all("--category");
  s.urgency = parseEnum<Urgency>("--urgency", a.get("--urgency").value_or("normaal"), &parseUrgency,
                                 "laag, normaal, hoog, acuut");
  s.text = a.get("--text").value_or("");
  s.informed = parseEnum<Informed>("--informed", required(a, "--informed"), &parseInformed,
                                   "yes, later, risk");
  if (auto t = a.get("--observed-at")) {
    auto ms = parseTime(*t);
    if (!ms) throw Usage{"--observed-at '" + *t + "' is not YYYY-MM-DDTHH:MM"};
    s.observed_at_ms = *ms;
  }
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->createSignal(s);
  if (!r.ok()) return fail(ctx, r.status());
  return ok(ctx, signalJson(*r), r->id);
}

int cmdSignals(Context& ctx, const Args&) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->mySignals();
  if (!r.ok()) return fail(ctx, r.status());
  // A signal the server refused stays here, shown as geweigerd with why, until it is re-filed.
  std::map<std::string, std::string> shown;
  std::vector<std::pair<std::string, Status>> refused;
  for (const Signal& sig : *r) {
    auto refusal = ctx.store->refusal(sig.id);
    if (!refusal.ok()) return fail(ctx, refusal.status());
    if (!refusal->has_value()) continue;
    shown[sig.id] = "geweigerd";
    refused.emplace_back(sig.id, (*refusal)->refusal);
  }
  if (ctx.json) {
    Json::Array out;
    for (const Signal& sig : *r) {
      Json::Object row = signalFields(sig);
      auto it = std::find_if(refused.begin(), refused.end(),
                             [&](const auto& x) { return x.first == sig.id; });
      row.emplace_back("refusal", it == refused.end() ? Json(nullptr) : statusJson(it->second));
      out.emplace_back(std::move(row));
    }
    return ok(ctx, out, "");
  }
  printSignals(*r, "You have not reported any signals.", categoryLabels(*ctx.store), shown);
  for (const auto& [id, why] : refused) {
    std::cout << "  " << shortId(id) << " geweigerd: " << why.message()
              << (why.field().find("wijk") != std::string::npos
                      ? " (re-file: eropaf signal refile --signal " + shortId(id) + " --wijk WK)"
                      : std::string())
              << "\n";
  }
  return kExitOk;
}

int cmdCaseOpen(Context& ctx, const Args& a) {
  store::NewCase c;
  if (a.has("--from-signal")) {
    // The signal gives the wijk, address and categories; any given must agree.
    c.from_signal = resolved(ctx, "--from-signal", *a.get("--from-signal"), RecordKind::kSignal);
    c.wijk = a.get("--wijk").value_or("");
    if (a.has("--postcode") || a.has("--number")) c.address = addressFrom(a);
  } else {
    c.wijk = a.get("--wijk").value_or("");  // the store defaults it to the identity's one wijk
    c.address = addressFrom(a);
  }
  c.new_case = a.has("--new-case");
  c.title = a.get("--title").value_or("");
  c.categories = a.all("--category");
  if (auto p = a.get("--priority")) {
    c.priority =
        parseEnum<Priority>("--priority", *p, &parsePriority, "acuut, hoog, normaal, laag");
    // A chosen priority overrides the one the norms derive: only with a reason.
    c.priority_reason = a.get("--reason").value_or("");
    if (c.priority_reason.empty()) {
      throw Usage{"--priority overrides the derived priority and needs --reason TEXT"};
    }
  }
  for (const auto& sig : a.all("--signal")) {
    c.signal_ids.push_back(resolved(ctx, "--signal", sig, RecordKind::kSignal));
  }
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->openCase(c);
  if (!r.ok()) return fail(ctx, r.status());
  return ok(ctx, caseJson(*r), r->id);
}

int cmdCaseLink(Context& ctx, const Args& a) {
  const std::string sig = requiredId(ctx, a, "--signal", RecordKind::kSignal);
  const std::string c = requiredId(ctx, a, "--case", RecordKind::kCase);
  return simple(
      ctx,
      [&] {
        Status st =
            ctx.store->linkSignal(sig, c, {a.has("--force"), a.get("--reason").value_or("")});
        // The store names no flags (apps call it too); here they are --force and --reason.
        if (st.code() == ErrorCode::kFailedPrecondition && st.field() == "signal_id" &&
            st.message().ends_with("with force and a reason")) {
          return Status(st.code(), st.message() + " (--force --reason TEXT)", st.field());
        }
        return st;
      },
      "Signal " + shortId(sig) + " linked to case " + shortId(c) + ".");
}

int cmdCaseAssign(Context& ctx, const Args& a) {
  const std::string c = requiredId(ctx, a, "--case", RecordKind::kCase);
  const std::string to = required(a, "--to");
  auto workers = ctx.store->workers();
  if (!workers.ok()) return fail(ctx, workers.status());
  auto found = ctx.store->getCase(c);
  if (!found.ok()) return fail(ctx, found.status());
  const std::string wijk = found->has_value() ? (*found)->wijk.value : std::string();
  const bool known =
      std::any_of(workers->begin(), workers->end(), [&](const Worker& w) { return w.id == to; });
  // The store leaves a colleague its reference data does not know to the server (it may have
  // been enrolled since the last sync). A person typing a name is better served at once: with a
  // colleague list on this device, an id not on it is refused here, with the permissions
  // module's own words, and `eropaf sync` refreshes the list.
  if (found->has_value() && !workers->empty() && !known) {
    const Status refusal = permissions::mayAssign(to, nullptr, wijk);
    if (!refusal.ok()) return fail(ctx, withValidAssignees(refusal, to, wijk, *workers, false));
  }
  // The store names the valid colleagues itself when it refuses a known one.
  const Status st = ctx.store->assignCase(c, to, a.get("--reason").value_or(""));
  if (!st.ok()) return fail(ctx, st);
  return ok(ctx, Json::Object{{"ok", true}}, "Case " + shortId(c) + " assigned to " + to + ".");
}

int cmdCasePickup(Context& ctx, const Args& a) {
  const std::string c = requiredId(ctx, a, "--case", RecordKind::kCase);
  return simple(
      ctx, [&] { return ctx.store->pickUpCase(c); }, "You picked up case " + shortId(c) + ".");
}

int cmdCasePriority(Context& ctx, const Args& a) {
  const std::string c = requiredId(ctx, a, "--case", RecordKind::kCase);
  const Priority p = parseEnum<Priority>("--to", required(a, "--to"), &parsePriority,
                                         "acuut, hoog, normaal, laag");
  const std::string reason = a.get("--reason").value_or("");
  return simple(
      ctx, [&] { return ctx.store->setPriority(c, p, reason); },
      "Case " + shortId(c) + " now has priority " + std::string(toString(p)) + ".");
}

const char* kStates =
    "nieuw, toegewezen, contact_zoeken, in_behandeling, wacht, doorverwezen, nazorg, afgesloten, "
    "geannuleerd, heropend";

int cmdCaseMove(Context& ctx, const Args& a) {
  store::MoveCase m;
  m.case_id = requiredId(ctx, a, "--case", RecordKind::kCase);
  m.to = parseEnum<CaseState>("--to", required(a, "--to"), &parseCaseState, kStates);
  m.reason = a.get("--reason").value_or("");
  m.resolution_code = a.get("--resolution").value_or("");
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  // A move the state table makes only with a connection is tried against the server: sync first
  // (so it is judged on the server's current state), move, and sync again to send it.
  auto current = ctx.store->getCase(m.case_id);
  if (!current.ok()) return fail(ctx, current.status());
  const TransitionRule* rule =
      current->has_value() ? findTransition((*current)->state.value, m.to) : nullptr;
  const bool needs_server = rule != nullptr && !rule->offline_allowed;
  if (needs_server) {
    // What the move itself says is judged here first: a move this worker may not make at all
    // is refused without a round trip.
    auto me = ctx.store->identity();
    const Status own =
        checkTransition((*current)->state.value, m.to, me ? me->role : Role::kUnspecified, m.reason,
                        false, m.resolution_code);
    if (!own.ok()) return fail(ctx, own);
    auto before = syncQuietly(ctx);
    if (!before.ok()) return fail(ctx, noConnection(before.status()));
    m.online = true;
  }
  auto r = ctx.store->moveCase(m);
  if (!r.ok()) return fail(ctx, r.status());
  std::string sent;
  if (needs_server) {
    auto after = syncQuietly(ctx);
    if (!after.ok()) return fail(ctx, noConnection(after.status()));
    sent = " (sent to the server)";
  }
  return ok(ctx, transitionJson(*r),
            "Case " + shortId(m.case_id) + ": " + std::string(toString(r->from)) + " → " +
                std::string(toString(r->to)) +
                (r->made_offline ? " (to be checked at sync)" : sent));
}

int cmdCaseResolve(Context& ctx, const Args& a) {
  const std::string c = requiredId(ctx, a, "--case", RecordKind::kCase);
  std::optional<CaseState> to;
  if (auto s = a.get("--state")) to = parseEnum<CaseState>("--state", *s, &parseCaseState, kStates);
  const std::string reason = a.get("--reason").value_or("");
  return simple(
      ctx, [&] { return ctx.store->resolveConflict(c, to, reason); },
      "Conflict on case " + shortId(c) + " resolved.");
}

Json historyJson(const HistoryEntry& e) {
  return Json::Object{{"id", e.id},        {"actor_id", e.actor_id},
                      {"at_ms", e.at_ms},  {"field", std::string(toString(e.field))},
                      {"from", e.from},    {"to", e.to},
                      {"reason", e.reason}};
}

int cmdCaseShow(Context& ctx, const Args& a) {
  const std::string id = requiredId(ctx, a, "--case", RecordKind::kCase);
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto found = ctx.store->getCase(id);
  if (!found.ok()) return fail(ctx, found.status());
  if (!found->has_value()) {
    return fail(ctx, Status(ErrorCode::kNotFound, "case " + id + " is not on this device", "case"));
  }
  const Case* c = &**found;
  // Contact moments follow a merge: those of cases merged into this one are listed here too.
  auto read_moments = ctx.store->caseMoments(id);
  if (!read_moments.ok()) return fail(ctx, read_moments.status());
  auto read_transitions = ctx.store->transitions(id);
  if (!read_transitions.ok()) return fail(ctx, read_transitions.status());
  auto read_signals = ctx.store->caseSignals(id);
  if (!read_signals.ok()) return fail(ctx, read_signals.status());
  auto read_norms = ctx.store->caseNorms(id);
  if (!read_norms.ok()) return fail(ctx, read_norms.status());
  const std::vector<ContactMoment>& moments = *read_moments;
  const std::vector<Transition>& transitions = *read_transitions;
  std::vector<HistoryEntry> history;
  for (const auto& [hid, e] : c->history) history.push_back(e);
  std::sort(history.begin(), history.end(), [](const HistoryEntry& x, const HistoryEntry& y) {
    return x.at_ms != y.at_ms ? x.at_ms < y.at_ms : x.id < y.id;
  });
  if (ctx.json) {
    Json norms_json(nullptr);
    if (read_norms->has_value()) {
      const auto& n = **read_norms;
      norms_json = Json::Object{
          {"priority", std::string(toString(n.norms.priority))},
          {"derived_priority", std::string(toString(n.norms.derived_priority))},
          {"overdue", n.overdue},
          {"first_attempt_due_ms", n.norms.first_attempt_due_ms},
          {"first_attempt_state", std::string(norms::toString(n.status.first_attempt.state))},
          {"first_gesprek_due_ms", n.norms.first_gesprek_due_ms},
          {"first_gesprek_state", std::string(norms::toString(n.status.first_gesprek.state))}};
    }
    return ok(ctx,
              Json::Object{{"case", caseJson(*c)},
                           {"norms", norms_json},
                           {"signals", arrayOf(*read_signals, signalJson)},
                           {"contact_moments", arrayOf(moments, momentJson)},
                           {"transitions", arrayOf(transitions, transitionJson)},
                           {"history", arrayOf(history, historyJson)}},
              "");
  }
  const Labels labels = categoryLabels(*ctx.store);
  const Address& ad = c->address.value;
  std::cout << "Case " << c->id << (c->conflict.value ? "  [CONFLICT]" : "") << "\n"
            << "  " << (c->title.value.empty() ? "(details after pick-up)" : c->title.value) << "\n"
            << "  address:   " << ad.street << " " << ad.house_number << ad.addition << ", "
            << ad.postcode << " " << ad.city << "\n"
            << "  wijk:      " << c->wijk.value << "\n"
            << "  state:     " << toString(c->state.value)
            << (c->resolution_code.value.empty() ? "" : " (" + c->resolution_code.value + ")")
            << (c->merged_into.value.empty() ? ""
                                             : ", merged into " + shortId(c->merged_into.value))
            << "\n";
  if (read_norms->has_value()) {
    const auto& n = **read_norms;
    std::cout << "  priority:  " << toString(n.norms.priority)
              << (c->priority_reason.value.empty()
                      ? ""
                      : " (override: " + c->priority_reason.value + ")")
              << "\n  norms:     first attempt by " << formatTime(n.norms.first_attempt_due_ms)
              << " (" << norms::toString(n.status.first_attempt.state) << "), first gesprek by "
              << formatTime(n.norms.first_gesprek_due_ms) << " ("
              << norms::toString(n.status.first_gesprek.state) << ")\n";
  }
  std::cout << "  assignee:  " << (c->assignee.value.empty() ? "-" : c->assignee.value) << "\n";
  std::cout << "  categories: " << labelList(presentElements(c->categories), labels)
            << "\n  signals:\n";
  if (read_signals->empty()) std::cout << "    (none)\n";
  for (const auto& sig : *read_signals) {
    std::cout << "    " << pad(shortId(sig.id), 10) << formatTime(sig.content.observed_at_ms)
              << "  " << pad(std::string(toString(sig.content.urgency)), 9)
              << pad(sig.content.reporter_id, 14) << labelList(sig.content.categories, labels)
              << "\n";
  }
  std::cout << "  contact moments:\n";
  if (moments.empty()) std::cout << "    (none)\n";
  std::set<std::string> corrected;
  for (const auto& m : moments) {
    if (!m.corrects_id.empty()) corrected.insert(m.corrects_id);
  }
  for (const auto& m : moments) {
    std::cout << "    " << pad(shortId(m.id), 10) << formatTime(m.at_ms) << "  "
              << pad(std::string(toString(m.kind)), 11) << pad(std::string(toString(m.outcome)), 19)
              << m.author_id << (m.note.empty() ? "" : "  \"" + m.note + "\"")
              << (m.case_id != id ? "  (from merged case " + shortId(m.case_id) + ")" : "")
              << (corrected.count(m.id) != 0 ? "  [corrected]" : "") << "\n";
  }
  std::cout << "  transitions:\n";
  for (const auto& t : transitions) {
    std::cout << "    " << formatTime(t.at_ms) << "  " << toString(t.from) << " → "
              << toString(t.to) << "  by " << t.actor_id << "  [" << toString(t.outcome.value)
              << "]" << (t.reason.empty() ? "" : "  \"" + t.reason + "\"") << "\n";
  }
  if (!history.empty()) std::cout << "  history:\n";
  for (const auto& e : history) {
    std::cout << "    " << formatTime(e.at_ms) << "  " << toString(e.field) << " "
              << (e.from.empty() ? "-" : e.from) << " → " << (e.to.empty() ? "-" : e.to) << "  by "
              << e.actor_id << (e.reason.empty() ? "" : "  \"" + e.reason + "\"") << "\n";
  }
  return kExitOk;
}

int cmdVisitAdd(Context& ctx, const Args& a) {
  store::NewContactMoment m;
  m.case_id = requiredId(ctx, a, "--case", RecordKind::kCase);
  m.outcome = parseEnum<ContactOutcome>(
      "--outcome", required(a, "--outcome"), &parseContactOutcome,
      "gesprek, niet_thuis, deur_niet_geopend, weigert_contact, doorverwezen");
  m.kind = parseEnum<ContactKind>("--kind", a.get("--kind").value_or("huisbezoek"),
                                  &parseContactKind, "huisbezoek, telefoon, bericht, overleg");
  m.note = a.get("--note").value_or("");
  if (auto corrects = a.get("--corrects"); corrects && !corrects->empty()) {
    m.corrects_id = resolved(ctx, "--corrects", *corrects, RecordKind::kContactMoment, m.case_id);
  }
  if (auto t = a.get("--at")) {
    auto ms = parseTime(*t);
    if (!ms) throw Usage{"--at '" + *t + "' is not YYYY-MM-DDTHH:MM"};
    m.at_ms = *ms;
  }
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->addContactMoment(m);
  if (!r.ok()) return fail(ctx, r.status());
  return ok(ctx, momentJson(*r), r->id);
}

int cmdCases(Context& ctx, const Args&) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->myCases();
  if (!r.ok()) return fail(ctx, r.status());
  if (ctx.json) return ok(ctx, arrayOf(*r, caseJson), "");
  printCases(*ctx.store, *r, "No open cases are assigned to you.", categoryLabels(*ctx.store));
  return kExitOk;
}

std::vector<std::string> wijkenFor(Context& ctx, const Args& a) {
  auto w = a.all("--wijk");
  if (!w.empty()) return w;
  if (auto id = ctx.store->identity()) return id->wijken;
  return {};
}

int cmdQueue(Context& ctx, const Args& a) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  std::vector<Case> all;
  for (const auto& w : wijkenFor(ctx, a)) {
    auto r = ctx.store->wijkQueue(w);
    if (!r.ok()) return fail(ctx, r.status());
    all.insert(all.end(), r->begin(), r->end());
  }
  if (ctx.json) return ok(ctx, arrayOf(all, caseJson), "");
  printCases(*ctx.store, all, "The queue is empty: every open case has a coach.",
             categoryLabels(*ctx.store));
  return kExitOk;
}

Json workerJson(const Worker& w) {
  return Json::Object{{"id", w.id},
                      {"name", w.name},
                      {"role", std::string(toString(w.role))},
                      {"wijken", stringsJson(w.wijken)},
                      {"active", w.active}};
}

int cmdWorkers(Context& ctx, const Args&) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->workers();
  if (!r.ok()) return fail(ctx, r.status());
  std::vector<Worker> all = std::move(r).value();
  // Coordinators first, then coaches, home-care workers; by name within a role.
  std::sort(all.begin(), all.end(), [](const Worker& x, const Worker& y) {
    auto rank = [](Role role) {
      switch (role) {
        case Role::kCoordinator:
          return 0;
        case Role::kWijkcoach:
          return 1;
        case Role::kZorgmedewerker:
          return 2;
        default:
          return 3;
      }
    };
    if (rank(x.role) != rank(y.role)) return rank(x.role) < rank(y.role);
    return x.name != y.name ? x.name < y.name : x.id < y.id;
  });
  if (ctx.json) return ok(ctx, arrayOf(all, workerJson), "");
  if (all.empty()) {
    std::cout << "No colleagues known yet: the list comes from the server with each sync "
                 "(eropaf enroll, eropaf sync).\n";
    return kExitOk;
  }
  std::size_t idw = 4;
  std::size_t namew = 6;
  for (const Worker& w : all) {
    idw = std::max(idw, displayWidth(w.id));
    namew = std::max(namew, displayWidth(w.name));
  }
  std::cout << pad("ID", idw + 2) << pad("NAME", namew + 2) << pad("ROLE", 16) << pad("ACTIVE", 8)
            << "WIJKEN\n";
  for (const Worker& w : all) {
    std::string wijken;
    for (const auto& x : w.wijken) wijken += (wijken.empty() ? "" : ", ") + x;
    std::cout << pad(w.id, idw + 2) << pad(w.name, namew + 2)
              << pad(std::string(toString(w.role)), 16) << pad(w.active ? "ja" : "nee", 8)
              << (wijken.empty() ? "-" : wijken) << "\n";
  }
  return kExitOk;
}

int cmdConflicts(Context& ctx, const Args&) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->conflictCases();
  if (!r.ok()) return fail(ctx, r.status());
  // Every read first, so an unreadable transition fails the command before any output.
  std::vector<std::vector<Transition>> history;
  for (const Case& c : *r) {
    auto t = ctx.store->transitions(c.id);
    if (!t.ok()) return fail(ctx, t.status());
    history.push_back(std::move(t).value());
  }
  if (ctx.json) {
    Json::Array out;
    for (std::size_t i = 0; i < r->size(); ++i) {
      out.push_back(Json::Object{{"case", caseJson((*r)[i])},
                                 {"transitions", arrayOf(history[i], transitionJson)}});
    }
    return ok(ctx, out, "");
  }
  if (r->empty()) {
    std::cout << "No conflicts.\n";
    return kExitOk;
  }
  for (std::size_t i = 0; i < r->size(); ++i) {
    const Case& c = (*r)[i];
    std::cout << "Case " << c.id << "  \"" << c.title.value << "\"  now " << toString(c.state.value)
              << "\n";
    for (const auto& t : history[i]) {
      if (t.outcome.value != TransitionOutcome::kApplied &&
          t.outcome.value != TransitionOutcome::kConflict) {
        continue;
      }
      std::cout << "  "
                << (t.outcome.value == TransitionOutcome::kConflict ? "CONFLICT " : "applied  ")
                << formatTime(t.at_ms) << "  " << toString(t.from) << " → " << toString(t.to)
                << "  by " << t.actor_id << (t.reason.empty() ? "" : "  \"" + t.reason + "\"")
                << "\n";
    }
  }
  std::cout << "Resolve with: eropaf case resolve --case ID [--state STATE] --reason TEXT\n";
  return kExitOk;
}

int cmdHousehold(Context& ctx, const Args& a) {
  Address addr;
  addr.postcode = required(a, "--postcode");
  addr.house_number = required(a, "--number");
  addr.addition = a.get("--addition").value_or("");
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto h = ctx.store->household(householdKey(addr));
  if (!h.ok()) return fail(ctx, h.status());
  if (ctx.json) {
    return ok(ctx,
              Json::Object{{"household_key", h->household_key},
                           {"signals", arrayOf(h->signals, signalJson)},
                           {"cases", arrayOf(h->cases, caseJson)},
                           {"contact_moments", arrayOf(h->contact_moments, momentJson)},
                           {"transitions", arrayOf(h->transitions, transitionJson)}},
              "");
  }
  std::cout << "Household " << h->household_key << "\n";
  const Labels labels = categoryLabels(*ctx.store);
  printSignals(h->signals, "  no signals", labels);
  printCases(*ctx.store, h->cases, "  no cases", labels);
  std::cout << h->contact_moments.size() << " contact moment(s), " << h->transitions.size()
            << " transition(s)\n";
  return kExitOk;
}

int cmdOutbox(Context& ctx, const Args&) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto r = ctx.store->outbox();
  if (!r.ok()) return fail(ctx, r.status());
  if (ctx.json) {
    Json::Array out;
    for (const auto& e : *r) {
      out.push_back(Json::Object{
          {"seq", e.seq},
          {"change_id", e.change_id},
          {"kind", std::string(toString(e.kind))},
          {"record_id", e.record_id},
          {"summary", e.summary},
          {"created_ms", e.created_ms},
          {"status", e.status == store::OutboxStatus::kPending ? "pending" : "refused"},
          {"refusal",
           e.status == store::OutboxStatus::kRefused ? statusJson(e.refusal) : Json(nullptr)}});
    }
    return ok(ctx, out, "");
  }
  if (r->empty()) {
    std::cout << "The outbox is empty: everything was accepted by the server.\n";
    return kExitOk;
  }
  std::cout << r->size() << " change(s) not yet accepted by the server:\n";
  for (const auto& e : *r) {
    std::cout << "  " << pad(std::to_string(e.seq), 5) << pad(formatTime(e.created_ms), 18)
              << pad(std::string(toString(e.kind)), 15) << shortId(e.record_id) << "  "
              << e.summary;
    if (e.status == store::OutboxStatus::kRefused) {
      std::cout << "  REFUSED: " << e.refusal.toString();
    }
    std::cout << "\n";
  }
  return kExitOk;
}

struct Command {
  std::vector<std::string> path;
  std::set<std::string> flags;
  int (*run)(Context&, const Args&);
};

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands{
      {{"init"}, {"--worker", "--name", "--role", "--wijk"}, &cmdInit},
      {{"whoami"}, {}, &cmdWhoami},
      {{"signal", "add"},
       with(kAddressFlags,
            {"--wijk", "--category", "--urgency", "--text", "--informed", "--observed-at"}),
       &cmdSignalAdd},
      {{"signals"}, {}, &cmdSignals},
      {{"case", "open"},
       with(kAddressFlags, {"--wijk", "--title", "--category", "--priority", "--reason", "--signal",
                            "--from-signal", "--new-case"}),
       &cmdCaseOpen},
      {{"signal", "reject"}, {"--signal", "--reason"}, &cmdSignalReject},
      {{"signal", "duplicate"}, {"--signal", "--of"}, &cmdSignalDuplicate},
      {{"signal", "refile"}, {"--signal", "--wijk"}, &cmdSignalRefile},
      {{"case", "merge"}, {"--case", "--into", "--reason"}, &cmdCaseMerge},
      {{"overview"},
       {"--wijk", "--assignee", "--state", "--category", "--overdue", "--limit", "--at"},
       &cmdOverview},
      {{"case", "link"}, {"--signal", "--case", "--force", "--reason"}, &cmdCaseLink},
      {{"link"}, {"--signal", "--case", "--force", "--reason"}, &cmdCaseLink},
      {{"case", "assign"}, {"--case", "--to", "--reason"}, &cmdCaseAssign},
      {{"assign"}, {"--case", "--to", "--reason"}, &cmdCaseAssign},
      {{"case", "pickup"}, {"--case"}, &cmdCasePickup},
      {{"case", "priority"}, {"--case", "--to", "--reason"}, &cmdCasePriority},
      {{"case", "move"}, {"--case", "--to", "--reason", "--resolution"}, &cmdCaseMove},
      {{"case", "resolve"}, {"--case", "--state", "--reason"}, &cmdCaseResolve},
      {{"resolve"}, {"--case", "--state", "--reason"}, &cmdCaseResolve},
      {{"case", "show"}, {"--case"}, &cmdCaseShow},
      {{"visit", "add"},
       {"--case", "--outcome", "--kind", "--note", "--corrects", "--at"},
       &cmdVisitAdd},
      {{"cases"}, {}, &cmdCases},
      {{"queue"}, {"--wijk"}, &cmdQueue},
      {{"untriaged"}, {"--wijk"}, &cmdUntriaged},
      {{"conflicts"}, {}, &cmdConflicts},
      {{"workers"}, {}, &cmdWorkers},
      {{"household"}, {"--postcode", "--number", "--addition"}, &cmdHousehold},
      {{"outbox"}, {}, &cmdOutbox},
      {{"enroll"}, {"--server", "--code", "--name"}, &cmdEnroll},
      {{"sync"}, {"--watch"}, &cmdSync},
  };
  return kCommands;
}

}  // namespace

int fail(const Context& ctx, const Status& status) {
  std::cerr << "eropaf: error: " << status.toString() << "\n";
  if (ctx.json) {
    std::cout << Json(Json::Object{{"error", statusJson(status)}}).dump() << "\n";
  }
  return exitCodeFor(status.code());
}

int usageError(const Context& ctx, const std::string& message) {
  std::cerr << "eropaf: usage: " << message << "\n(try: eropaf --help)\n";
  if (ctx.json) {
    std::cout << Json(
                     Json::Object{{"error", Json::Object{{"code", "USAGE"}, {"message", message}}}})
                     .dump()
              << "\n";
  }
  return kExitUsage;
}

int runCommand(Context& ctx, const Args& args) {
  const Command* best = nullptr;
  for (const Command& c : commands()) {
    if (c.path.size() > args.words().size()) continue;
    if (!std::equal(c.path.begin(), c.path.end(), args.words().begin())) continue;
    if (best == nullptr || c.path.size() > best->path.size()) best = &c;
  }
  if (best == nullptr || best->path.size() != args.words().size()) {
    std::string said;
    for (const auto& w : args.words()) said += (said.empty() ? "" : " ") + w;
    return usageError(ctx, "unknown command '" + said + "'");
  }
  if (auto unknown = args.unknown(best->flags); !unknown.empty()) {
    return usageError(ctx, "unknown flag " + unknown.front() + " for '" + args.word(0) +
                               (best->path.size() > 1 ? " " + args.word(1) : "") + "'");
  }
  try {
    return best->run(ctx, args);
  } catch (const Usage& u) {
    return usageError(ctx, u.message);
  } catch (const Refused& r) {
    return fail(ctx, r.status);
  }
}

std::string helpText() {
  return R"(eropaf: the eropaf device on a terminal (a wijkcoach's or coordinator's phone).

Usage: eropaf [--home DIR] [--json] COMMAND [FLAGS]

  --home DIR   where this device keeps its store (device.db) and key (device.key);
               default $EROPAF_HOME, else ~/.eropaf. The key is 32 random bytes made on first
               use (mode 0600); on a phone the platform key store (Android Keystore, iOS
               Keychain) holds it instead.
  --json       machine-readable output on every command (errors too).

Who works here:
  enroll --server URL --code CODE [--name DEVICE]   (one-time code from the administrator)
  init --worker ID --name NAME --role zorgmedewerker|wijkcoach|coordinator|admin --wijk WK..
  whoami
Signals:
  signal add [--wijk WK015301] --postcode 1234AB --number 12 [--addition A] [--street S]
             [--city C] --category CODE [--category CODE...] [--urgency laag|normaal|hoog|acuut]
             --text TEXT --informed yes|later|risk [--observed-at YYYY-MM-DDTHH:MM]
                                 --wijk may be left out when I work in one wijk
  signals                        signals I reported, with their triage state (geweigerd: the
                                 server refused it; the reason is shown)
  signal refile --signal ID --wijk WK   send a refused signal again, in another wijk
Triage (coordinator):
  untriaged [--wijk WK]          signals waiting for triage, urgency then age, with a hint when
                                 the household has an open case or other recent signals
  overview [--wijk WK] [--assignee ID|-] [--state S] [--category C] [--overdue] [--limit N]
           [--at YYYY-MM-DDTHH:MM]   every open case of my wijken, overdue first, with both
                                 norm clocks (gehaald, open, TE LAAT 3 d); --at judges them then
  signal reject --signal ID --reason TEXT      afgewezen; the reporter sees only that
  signal duplicate --signal ID --of ID         duplicaat; it follows the original's case
  case merge --case ID --into ID [--reason TEXT]   the case is closed as samengevoegd; its
                                 signals and contact moments go with the other case
Cases:
  case open --wijk WK --postcode P --number N [...address] --title T --category C [...]
            [--priority acuut|hoog|normaal|laag --reason TEXT] [--signal ID...] [--new-case]
  case open --from-signal ID [--title T] [--category C...] [--new-case]
                                 the signal's wijk, address and categories; --new-case when the
                                 household has an open case already
  case link --signal ID --case ID [--force --reason TEXT]   (also: link; --force for a signal
                                 of another household)
  case assign --case ID --to WORKER [--reason TEXT]   (also: assign)
  case pickup --case ID
  case priority --case ID --to PRIORITY --reason TEXT
  case move --case ID --to STATE [--reason TEXT] [--resolution CODE]
  case resolve --case ID [--state STATE] --reason TEXT   (also: resolve)
  case show --case ID           the case, its norms, signals, contact moments (also of
                                 cases merged into it), transitions, assignment/priority history
  visit add --case ID --outcome gesprek|niet_thuis|deur_niet_geopend|weigert_contact|doorverwezen
            [--kind huisbezoek|telefoon|bericht|overleg] [--note TEXT] [--corrects ID]
Sync:
  sync [--watch]                 push the outbox, receive what changed; --watch stays live
Lists:
  cases                          open cases assigned to me, by priority then due date
  queue [--wijk WK]              open unassigned cases of my wijken
  conflicts                      cases on the conflict list, with both moves
  workers                        colleagues from the server's reference data (name, role,
                                 wijken, active): whom a case can be assigned to
  household --postcode P --number N [--addition A]
  outbox                         changes not yet accepted by the server

Ids: tables show a short id (8 hex digits, the random part of the id). Every ID flag (--case,
--signal, --corrects) takes the full id, or any unique prefix of it or of the short id;
a prefix that fits several records is refused with the candidates listed. --json shows full
ids, and category codes where tables show labels.

Exit codes: 0 ok; 1 refused (validation, permission, transition not allowed, not found);
2 usage; 3 storage, key or I/O; 4 server unreachable or refused the device.
)";
}

}  // namespace eropaf::cli
