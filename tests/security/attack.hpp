// What an enrolled insider can do with nothing but a device and the documented protocol: push
// hand-made records (every field, version and id of his choosing) and pull raw pages over the
// device's own transport, then compare the answers the way an attacker would. Also the few
// looks at the server's files a security test needs (the database's columns, raw file bytes).
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "eropaf/id.hpp"
#include "eropaf/v1/sync.pb.h"
#include "integration/server_process.hpp"
#include "store/store_fixture.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::test::attack {

/// The greatest server version seen in any answer: an attacker's "fresh" version is above it,
/// so it always wins the merge unless authorisation stops it.
inline std::atomic<std::uint64_t>& seenServerHlc() {
  static std::atomic<std::uint64_t> hlc{0};
  return hlc;
}

inline void noteServerVersion(const v1::Version& v) {
  std::uint64_t cur = seenServerHlc().load();
  while (v.hlc() > cur && !seenServerHlc().compare_exchange_weak(cur, v.hlc())) {
  }
}

/// A version the attacker picks: newer than anything written so far (wall clock plus
/// `ahead_ms`, and above every server version seen), on `node`. Each call is newer than the last.
inline Version freshVersion(std::uint64_t node, std::int64_t ahead_ms = 0) {
  static std::atomic<std::uint64_t> last{0};
  std::uint64_t want =
      std::max(hlcPack(SystemClock().nowMs() + ahead_ms, 0), seenServerHlc().load() + 1);
  std::uint64_t prev = last.load();
  for (;;) {
    const std::uint64_t next = std::max(want, prev + 1);
    if (last.compare_exchange_weak(prev, next)) return {next, node};
  }
}

inline Version freshVersion(RemoteDevice& d, std::int64_t ahead_ms = 0) {
  return freshVersion(d.db->node(), ahead_ms);
}

/// The device's bearer token (it starts with the device id).
inline std::string tokenOf(RemoteDevice& d) {
  auto st = d.db->syncState();
  REQUIRE(st.ok());
  return st->token;
}

inline std::string deviceIdOf(RemoteDevice& d) {
  const std::string token = tokenOf(d);
  return token.substr(0, token.find('.'));
}

/// A raw POST through the device's transport: status and body, nothing interpreted.
inline sync::HttpResponse post(RemoteDevice& d, const std::string& path, const std::string& body,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  sync::HttpRequest r;
  r.path = path;
  r.bearer_token = tokenOf(d);
  r.body = body;
  r.timeout = timeout;
  auto res = d.transport->send(r);
  REQUIRE(res.ok());
  return *res;
}

struct PushAnswer {
  sync::HttpResponse http;
  v1::PushResponse body;
  std::vector<std::string> change_ids;
};

/// One push carrying `records` as changes, under the given change ids (fresh ones when empty).
inline PushAnswer push(RemoteDevice& d, const std::vector<Record>& records,
                       std::vector<std::string> change_ids = {}) {
  v1::PushRequest req;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (change_ids.size() <= i) change_ids.push_back(newUuidV7(SystemClock().nowMs()));
    v1::Change* ch = req.add_changes();
    ch->set_change_id(change_ids[i]);
    wire::toProto(records[i], *ch->mutable_record());
  }
  PushAnswer a;
  a.http = post(d, "/v1/push", req.SerializeAsString());
  a.change_ids = std::move(change_ids);
  INFO("push answered HTTP " << a.http.status);
  REQUIRE(a.http.status == 200);
  REQUIRE(a.body.ParseFromString(a.http.body));
  REQUIRE(static_cast<std::size_t>(a.body.results_size()) == records.size());
  noteServerVersion(a.body.server_version());
  return a;
}

/// An empty push: the server's writer runs one more commit (audit entries queued before it are
/// then on disk in today's server, which writes them with the next commit).
inline void emptyPush(RemoteDevice& d) { static_cast<void>(push(d, {})); }

/// Every id a record names (its own, its case's, the one it corrects or duplicates): echoing
/// those back in a refusal tells the attacker nothing he did not send.
inline std::vector<std::string> idsIn(const Record& r) {
  std::vector<std::string> out{recordId(r)};
  if (const auto* m = std::get_if<ContactMoment>(&r)) out.push_back(m->case_id);
  if (const auto* t = std::get_if<Transition>(&r)) out.push_back(t->case_id);
  if (const auto* s = std::get_if<Signal>(&r)) {
    out.push_back(s->case_id.value);
    out.push_back(s->duplicate_of.value);
  }
  if (const auto* c = std::get_if<Case>(&r)) out.push_back(c->merged_into.value);
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

/// What one answer tells the attacker: the whole ChangeResult but its change id (which he
/// chose), with the ids he sent replaced by "<id>". Two guesses whose answers differ here
/// leak something.
inline std::string answerOf(const v1::ChangeResult& r, const Record& sent) {
  v1::ChangeResult c = r;
  c.clear_change_id();
  if (c.has_error()) {
    std::string msg = c.error().message();
    for (const std::string& id : idsIn(sent)) {
      for (auto p = msg.find(id); p != std::string::npos; p = msg.find(id, p)) {
        msg.replace(p, id.size(), "<id>");
      }
    }
    c.mutable_error()->set_message(msg);
  }
  return c.accepted() && !c.has_error() ? std::string("accepted") : c.ShortDebugString();
}

/// One guess of the attacker: a label for the report and the record he pushes.
struct Guess {
  std::string label;
  Record record;
};

/// Pushes every guess in one push (as the attacker would: thousands fit) and checks that the
/// server answers each the same way and applies none of them.
inline void expectOneAnswerForEveryGuess(RemoteDevice& attacker, const std::string& what,
                                         const std::vector<Guess>& guesses) {
  std::vector<Record> records;
  records.reserve(guesses.size());
  for (const Guess& g : guesses) records.push_back(g.record);
  const PushAnswer a = push(attacker, records);
  std::map<std::string, std::vector<std::string>> by_answer;
  std::vector<std::string> accepted;
  for (std::size_t i = 0; i < guesses.size(); ++i) {
    const std::string ans = answerOf(a.body.results(static_cast<int>(i)), guesses[i].record);
    by_answer[ans].push_back(guesses[i].label);
    if (a.body.results(static_cast<int>(i)).accepted()) accepted.push_back(guesses[i].label);
  }
  std::ostringstream report;
  for (const auto& [ans, labels] : by_answer) {
    report << "  ";
    for (std::size_t i = 0; i < labels.size(); ++i) report << (i ? " | " : "") << labels[i];
    report << "  ->  " << ans << "\n";
  }
  INFO(what << ": the server answered\n" << report.str());
  CHECK(by_answer.size() == 1);  // one answer whatever the guess: nothing learned
  std::string applied;
  for (const auto& l : accepted) applied += (applied.empty() ? "" : " | ") + l;
  CHECK(applied == "");  // no guess is accepted (a no-op accepted is the oracle itself)
}

struct Pulled {
  int status = 0;
  std::string bytes;        ///< every page's body, concatenated
  v1::PullResponse pages;   ///< every page's records and evictions, in order
  std::string cursor;       ///< the last next_cursor
  v1::ErrorResponse error;  ///< set when status != 200
};

/// Pulls from `cursor` until the server has no more, raw.
inline Pulled pullAll(RemoteDevice& d, std::string cursor = "") {
  Pulled out;
  for (int page = 0; page < 100; ++page) {
    v1::PullRequest req;
    req.set_cursor(cursor);
    const sync::HttpResponse res = post(d, "/v1/pull", req.SerializeAsString());
    out.status = res.status;
    out.bytes += res.body;
    if (res.status != 200) {
      static_cast<void>(out.error.ParseFromString(res.body));
      return out;
    }
    v1::PullResponse p;
    REQUIRE(p.ParseFromString(res.body));
    noteServerVersion(p.server_version());
    for (const auto& r : p.records()) *out.pages.add_records() = r;
    for (const auto& e : p.evictions()) *out.pages.add_evictions() = e;
    if (p.reset()) out.pages.set_reset(true);
    cursor = p.next_cursor();
    out.cursor = cursor;
    if (!p.more()) break;
  }
  return out;
}

inline bool mentions(const Pulled& p, const std::string& id) {
  return p.bytes.find(id) != std::string::npos;
}

/// The last state of record `id` in a pull, decoded.
inline std::optional<Record> recordIn(const Pulled& p, const std::string& id) {
  std::optional<Record> out;
  for (const v1::Record& r : p.pages.records()) {
    Result<Record> rec = wire::fromProto(r);
    REQUIRE(rec.ok());
    if (recordId(*rec) == id) out = *rec;
  }
  return out;
}

/// Record `id` in a pull as protobuf text, every field and version ("" when absent): equal
/// text, nothing changed; unequal, the failure message shows what.
inline std::string recordStateIn(const Pulled& p, const std::string& id) {
  std::string out;
  for (const v1::Record& r : p.pages.records()) {
    Result<Record> rec = wire::fromProto(r);
    REQUIRE(rec.ok());
    if (recordId(*rec) == id) out = r.ShortDebugString();
  }
  return out;
}

inline std::string evictionsOf(const Pulled& p) {
  std::string out;
  for (const auto& e : p.pages.evictions()) out += (out.empty() ? "" : " ") + e.record_id();
  return out;
}

/// The admin's access log, one line per entry ("at action worker device record").
inline std::vector<std::string> accessLog(const ServerProcess& s) {
  const auto r = s.admin({"access-log", "--limit", "1000000"});
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// Access-log lines that name both `a` and `b`.
inline std::vector<std::string> accessLinesWith(const ServerProcess& s, const std::string& a,
                                                const std::string& b) {
  std::vector<std::string> out;
  for (const auto& l : accessLog(s)) {
    if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) out.push_back(l);
  }
  return out;
}

/// A clock a fixed offset from the system clock: a phone whose time is off.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(std::int64_t offset_ms) : offset_ms_(offset_ms) {}
  std::int64_t nowMs() override { return SystemClock().nowMs() + offset_ms_; }

 private:
  std::int64_t offset_ms_;
};

/// Reopens an enrolled device's store on `clock` (same file and key; enrollDevice() derives
/// the key from the worker id).
inline void reopenWithClock(RemoteDevice& d, const std::string& worker,
                            std::shared_ptr<Clock> clock) {
  d.db.reset();
  store::OpenOptions o;
  o.path = (d.dir / "device.db").string();
  o.key = testKey(static_cast<std::uint8_t>(worker.size()));
  o.clock = std::move(clock);
  auto opened = store::Store::open(o);
  REQUIRE(opened.ok());
  d.db = std::move(opened).value();
}

inline std::filesystem::path databaseOf(const ServerProcess& s) {
  return s.dir() / "data" / "server.db";
}

/// Runs one SQL statement on the server's database from outside (what an admin tool would do).
inline void execSql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(h, 5000);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  const std::string why = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  INFO(sql << ": " << why);
  REQUIRE(rc == SQLITE_OK);
}

/// "table.column" for every column of every table holding a value that contains `needle`.
inline std::set<std::string> columnsContaining(const std::filesystem::path& db,
                                               const std::string& needle) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(h, 5000);
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &st,
                             nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  std::set<std::string> out;
  for (const std::string& t : tables) {
    const std::string sql = "SELECT * FROM \"" + t + "\"";
    REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const int type = sqlite3_column_type(st, c);
        if (type != SQLITE_TEXT && type != SQLITE_BLOB) continue;
        const auto* p = static_cast<const char*>(sqlite3_column_blob(st, c));
        const auto n = static_cast<std::size_t>(sqlite3_column_bytes(st, c));
        if (p != nullptr && std::string_view(p, n).find(needle) != std::string_view::npos) {
          out.insert(t + "." + sqlite3_column_name(st, c));
        }
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

/// How often `needle` occurs in a file's raw bytes (0 for a missing file).
inline std::size_t occurrencesInFile(const std::filesystem::path& file, const std::string& needle) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return 0;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t n = 0;
  for (auto p = bytes.find(needle); p != std::string::npos; p = bytes.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace eropaf::test::attack
