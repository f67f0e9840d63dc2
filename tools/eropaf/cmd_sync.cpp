// The CLI's commands that talk to the server: enroll, sync (once or watching), and the quiet
// sync other commands use when they need the server's current state.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli.hpp"
#include "eropaf/id.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/sync.hpp"

namespace eropaf::cli {

/// One sync with the enrolled server, without output (for commands that need the server).
Result<sync::SyncResult> syncQuietly(Context& ctx) {
  auto state = ctx.store->syncState();
  if (!state.ok()) return state.status();
  if (state->token.empty()) {
    return Status(ErrorCode::kFailedPrecondition,
                  "this device is not enrolled: eropaf enroll --server URL --code CODE");
  }
  sync::CurlOptions co;
  co.base_url = state->server_url;
  auto transport = sync::makeCurlTransport(co);
  if (!transport.ok()) return transport.status();
  sync::SyncOptions so;
  so.max_attempts = 2;
  std::atomic<bool> cancelled{false};
  return sync::syncOnce(*ctx.store, **transport, so, cancelled, {});
}

/// A move that needs the server, and no server: says so in words the user can act on.
Status noConnection(const Status& st) {
  if (st.code() == ErrorCode::kNetwork || st.code() == ErrorCode::kTimeout ||
      st.code() == ErrorCode::kUnavailable) {
    return Status(st.code(), "no connection: this move needs the server; sync when connected (" +
                                 st.message() + ")");
  }
  return st;
}

int cmdEnroll(Context& ctx, const Args& a) {
  const std::string server = required(a, "--server");
  const std::string code = required(a, "--code");
  std::string name = a.get("--name").value_or("");
  if (name.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    name = std::string("eropaf CLI on ") + host;
  }
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  sync::CurlOptions co;
  co.base_url = server;
  auto transport = sync::makeCurlTransport(co);
  if (!transport.ok()) return fail(ctx, transport.status());
  auto id = sync::enroll(*ctx.store, **transport, server, code, name);
  if (!id.ok()) return fail(ctx, id.status());
  return ok(ctx, identityJson(*id),
            "Enrolled: this device works as " + id->name + " (" + id->worker_id + ", " +
                std::string(toString(id->role)) + ") with " + server + ".");
}

namespace {

std::string_view noticeKind(store::ApplyNotice::Kind k) {
  switch (k) {
    case store::ApplyNotice::Kind::kAssignedToMe:
      return "assigned_to_me";
    case store::ApplyNotice::Kind::kMoveConflict:
      return "move_conflict";
    case store::ApplyNotice::Kind::kPickUpLost:
      return "pick_up_lost";
  }
  return "unknown";
}

Json syncResultJson(const sync::SyncResult& r) {
  Json::Array notices;
  for (const auto& n : r.notices) {
    notices.emplace_back(Json::Object{{"kind", std::string(noticeKind(n.kind))},
                                      {"case_id", n.case_id},
                                      {"record_id", n.record_id},
                                      {"from", std::string(toString(n.from))},
                                      {"to", std::string(toString(n.to))}});
  }
  Json::Array refusals;
  for (const auto& f : r.refusals) {
    refusals.emplace_back(Json::Object{{"record_id", f.record_id},
                                       {"kind", std::string(toString(f.kind))},
                                       {"summary", f.summary},
                                       {"error", statusJson(f.reason)}});
  }
  return Json::Object{{"pushed", static_cast<std::uint64_t>(r.pushed)},
                      {"refused", static_cast<std::uint64_t>(r.refused)},
                      {"restamped", static_cast<std::uint64_t>(r.restamped)},
                      {"pulled", static_cast<std::uint64_t>(r.pulled)},
                      {"evicted", static_cast<std::uint64_t>(r.evicted)},
                      {"revoked", r.revoked},
                      {"notices", std::move(notices)},
                      {"refusals", std::move(refusals)}};
}

/// " (acuut, first contact by Thu 3 Dec)" for a case newly assigned to me, from what the store
/// holds; empty when it cannot be read.
std::string assignedDetail(Context& ctx, const std::string& case_id) {
  auto row = ctx.store->caseNorms(case_id);
  if (!row.ok() || !row->has_value()) return "";
  const auto& n = (*row)->norms;
  std::string out = " (" + std::string(toString(n.priority));
  if (!(*row)->contacts.first_attempt_ms && n.first_attempt_due_ms != norms::kNoDue) {
    out += ", first contact by " + formatDay(n.first_attempt_due_ms);
  }
  return out + ")";
}

/// The sync summary: counts, then one sentence per thing that happened to my own work.
std::string syncSummary(Context& ctx, const sync::SyncResult& r) {
  if (r.revoked) return "This device was revoked by the administrator; its data has been wiped.";
  std::string s = "Synced: " + std::to_string(r.pushed) + " change(s) accepted";
  if (r.refused > 0) s += ", " + std::to_string(r.refused) + " refused (see `eropaf outbox`)";
  if (r.restamped > 0)
    s += ", " + std::to_string(r.restamped) + " re-sent after a clock correction";
  s += "; " + std::to_string(r.pulled) + " record(s) received";
  if (r.evicted > 0) s += ", " + std::to_string(r.evicted) + " removed from this device";
  s += ".";
  for (const auto& f : r.refusals) {
    // A lost pick-up also refuses its assignee change: the sentence below says it all.
    const bool lost_pick_up = std::any_of(r.notices.begin(), r.notices.end(), [&](const auto& n) {
      return n.kind == store::ApplyNotice::Kind::kPickUpLost && n.case_id == f.record_id;
    });
    if (lost_pick_up) continue;
    s += "\nRefused: " + f.summary + " (" + std::string(toString(f.kind)) + " " +
         shortId(f.record_id) + "): " + f.reason.message() + ".";
    if (f.kind == RecordKind::kSignal && f.reason.field().find("wijk") != std::string::npos) {
      s += " Re-file it: eropaf signal refile --signal " + shortId(f.record_id) + " --wijk WK";
    }
  }
  for (const auto& n : r.notices) {
    switch (n.kind) {
      case store::ApplyNotice::Kind::kMoveConflict:
        s += "\nYour move " + std::string(toString(n.from)) + " → " + std::string(toString(n.to)) +
             " on case " + shortId(n.case_id) + " went to the coordinator's conflict list.";
        break;
      case store::ApplyNotice::Kind::kPickUpLost:
        s += "\nCase " + shortId(n.case_id) + " was picked up by another coach first.";
        break;
      case store::ApplyNotice::Kind::kAssignedToMe:
        s += "\nNew: case " + shortId(n.case_id) + " assigned to you" +
             assignedDetail(ctx, n.case_id) + ".";
        break;
    }
  }
  return s;
}

std::atomic<bool> g_interrupted{false};

}  // namespace

int cmdSync(Context& ctx, const Args& a) {
  if (Status st = openStore(ctx); !st.ok()) return fail(ctx, st);
  auto state = ctx.store->syncState();
  if (!state.ok()) return fail(ctx, state.status());
  if (state->token.empty()) {
    return fail(ctx, Status(ErrorCode::kFailedPrecondition,
                            "this device is not enrolled: eropaf enroll --server URL --code CODE"));
  }
  sync::CurlOptions co;
  co.base_url = state->server_url;
  auto transport = sync::makeCurlTransport(co);
  if (!transport.ok()) return fail(ctx, transport.status());
  sync::SyncClient client(*ctx.store, std::move(transport).value());
  const bool tty = !ctx.json && ::isatty(2) != 0;
  auto progress = [tty](const sync::SyncProgress& p) {
    if (!tty) return;
    std::fprintf(stderr, "\r  %s: pushed %zu/%zu, received %zu   ",
                 p.phase == sync::SyncProgress::Phase::kPush ? "pushing" : "pulling", p.pushed,
                 p.to_push, p.pulled);
    if (p.phase == sync::SyncProgress::Phase::kDone) std::fprintf(stderr, "\r%60s\r", "");
  };
  if (!a.has("--watch")) {
    auto r = client.syncBlocking(progress);
    if (!r.ok()) return fail(ctx, r.status());
    ok(ctx, syncResultJson(*r), syncSummary(ctx, *r));
    return r->revoked ? kExitNetwork : kExitOk;
  }
  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  std::mutex mu;
  bool revoked = false;
  client.startWatch([&](Result<sync::SyncResult> r) {
    std::lock_guard lock(mu);
    if (!r.ok()) {
      std::cerr << "eropaf: sync: " << r.status().toString() << " (retrying)\n";
      return;
    }
    if (r->revoked) revoked = true;
    if (r->pushed + r->pulled + r->evicted + r->refused > 0 || r->revoked) {
      if (ctx.json) {
        std::cout << syncResultJson(*r).dump() << std::endl;
      } else {
        std::cout << syncSummary(ctx, *r) << std::endl;
      }
    }
  });
  if (!ctx.json) std::cerr << "Watching for changes (Ctrl-C to stop)...\n";
  while (!g_interrupted.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lock(mu);
    if (revoked) break;
  }
  client.stop();
  return revoked ? kExitNetwork : kExitOk;
}

}  // namespace eropaf::cli
