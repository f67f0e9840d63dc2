// Private to the eropaf CLI's own files (commands.cpp, views.cpp, cmd_sync.cpp, cmd_triage.cpp):
// the helpers more than one of them needs. commands.hpp is the CLI's interface to main.cpp.
//
// Parsing helpers throw Usage (a usage error, exit 2) or Refused (a store answer, exit 1..4);
// runCommand catches both. Output helpers print JSON with --json and text otherwise.
// Thread-safety: the CLI runs on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "args.hpp"
#include "commands.hpp"
#include "eropaf/model.hpp"
#include "eropaf/status.hpp"
#include "eropaf/store.hpp"
#include "eropaf/sync.hpp"
#include "json.hpp"
#include "lookup.hpp"

namespace eropaf::cli {

// --- errors a command stops with ---------------------------------------------------------------

struct Usage {
  std::string message;
};

/// A record-id flag that does not name exactly one record here (or the store did not open):
/// the command stops with this status (runCommand prints it).
struct Refused {
  Status status;
};

// --- the store and flags (commands.cpp) -----------------------------------------------------

/// Opens the store in ctx.home (creating it and its key on first use), once.
Status openStore(Context& ctx);

std::string required(const Args& a, const std::string& flag);

/// The full id that `text`, given with `flag`, names (lookup.hpp: a full id, or a unique prefix
/// of the id or of its short id). Opens the store.
std::string resolved(Context& ctx, const std::string& flag, const std::string& text,
                     RecordKind kind, std::string_view case_id = {});

std::string requiredId(Context& ctx, const Args& a, const std::string& flag, RecordKind kind);

template <class E>
E parseEnum(const std::string& flag, const std::string& value,
            std::optional<E> (*parse)(std::string_view), const std::string& choices) {
  auto e = parse(value);
  if (!e) throw Usage{flag + " '" + value + "' is not one of: " + choices};
  return *e;
}

Address addressFrom(const Args& a);

inline const std::set<std::string> kAddressFlags{"--postcode", "--number", "--addition", "--street",
                                                 "--city"};

std::set<std::string> with(std::set<std::string> base, std::initializer_list<std::string> more);

/// Prints `json` (with --json) or `human` (when not empty); exit 0.
int ok(const Context& ctx, const Json& json, const std::string& human);

/// Opens the store, runs `f`, and prints {"ok":true} / `done`.
int simple(Context& ctx, const std::function<Status()>& f, const std::string& done);

// --- views (views.cpp) ----------------------------------------------------------------------

/// "2026-12-03 14:00" (local time); "-" for none.
std::string formatTime(std::int64_t ms, bool with_time = true);
/// "Thu 3 Dec" (local time); "-" for none.
std::string formatDay(std::int64_t ms);
/// "YYYY-MM-DDTHH:MM" or "YYYY-MM-DD HH:MM", local time.
std::optional<std::int64_t> parseTime(const std::string& s);

/// Characters, not bytes: labels and names may hold é or ë.
std::size_t displayWidth(const std::string& s);
std::string pad(std::string s, std::size_t width);
/// A table cell of at most 40 characters ("…" where it was cut).
std::string fit(std::string s);
/// The width of a column of labels: the widest in the table, within bounds.
std::size_t labelColumn(const std::vector<std::string>& cells);

Json statusJson(const Status& st);
Json addressJson(const Address& a);
Json stringsJson(const std::vector<std::string>& v);
Json signalJson(const Signal& s);
/// signalJson's fields, for a row that adds its own.
Json::Object signalFields(const Signal& s);
Json caseJson(const Case& c);
Json momentJson(const ContactMoment& m);
Json transitionJson(const Transition& t);
Json identityJson(const store::Identity& id);

template <class T, class F>
Json arrayOf(const std::vector<T>& v, F f) {
  Json::Array out;
  for (const auto& x : v) out.push_back(f(x));
  return out;
}

/// Cases as a table, with the priority and first-contact due the store's norms give.
void printCases(const store::Store& store, const std::vector<Case>& cases, const std::string& empty,
                const Labels& labels);
/// `triage_shown`: a signal id → what its TRIAGE column says instead of its state ("geweigerd").
void printSignals(const std::vector<Signal>& signals, const std::string& empty,
                  const Labels& labels,
                  const std::map<std::string, std::string>& triage_shown = {});

// --- the server (cmd_sync.cpp) --------------------------------------------------------------

/// One sync with the enrolled server, without output (for commands that need the server).
Result<sync::SyncResult> syncQuietly(Context& ctx);

/// A move that needs the server, and no server: says so in words the user can act on.
Status noConnection(const Status& st);

int cmdEnroll(Context& ctx, const Args& a);
int cmdSync(Context& ctx, const Args& a);

// --- triage (cmd_triage.cpp) ------------------------------------------------------------------

int cmdOverview(Context& ctx, const Args& a);
int cmdUntriaged(Context& ctx, const Args& a);
int cmdSignalReject(Context& ctx, const Args& a);
int cmdSignalDuplicate(Context& ctx, const Args& a);
int cmdSignalRefile(Context& ctx, const Args& a);
int cmdCaseMerge(Context& ctx, const Args& a);

}  // namespace eropaf::cli
