// The sync engine: everything the server does, without HTTP. The HTTP layer (http/), the
// admin commands and the in-process tests all drive the server through this one class.
//
// Threads: pushes and enrollments are queued to ONE writer thread that applies whatever has
// queued up in one transaction (group commit) and answers each caller only after COMMIT.
// Pulls, authentication and reads run on the caller's thread with a pooled read connection.
// Every public method is thread-safe. Callbacks run on the writer thread and must not block;
// none runs after stop() returns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eropaf/clock.hpp"
#include "eropaf/model.hpp"
#include "eropaf/status.hpp"
#include "eropaf/store.hpp"
#include "eropaf/v1/console.pb.h"
#include "eropaf/v1/sync.pb.h"
#include "server_store.hpp"

namespace eropaf::server {

/// Who is asking: the authenticated device and its worker.
struct Principal {
  std::string device_id;
  Worker worker;
  /// Server facts about the device (DeviceInfo::served_seq/served_hlc) when authenticated;
  /// a push re-reads them in the writer's transaction.
  std::uint64_t served_seq = 0;
  std::uint64_t served_hlc = 0;
  std::uint64_t first_served_seq = 0;
};

/// Facts about the request that are not the principal's: where it came from (the client's
/// address, "from where" in the access log; empty for in-process callers).
struct RequestContext {
  std::string peer;
};

struct EngineOptions {
  std::string database_path;                           ///< SQLite file; created when missing
  std::shared_ptr<Clock> clock;                        ///< the system clock when null
  std::int64_t max_skew_ms = kDefaultServerMaxSkewMs;  ///< at most kMaxServerSkewMs
  std::uint32_t max_page_records = 5000;  ///< cap on a pull page (devices apply a page per commit)
  std::size_t max_group = 256;            ///< pushes committed together at most
  std::int64_t enrollment_code_ttl_ms = 7LL * 24 * 3600 * 1000;
  // The console's login (engine_console_auth.cpp).
  std::uint32_t console_max_failures = 5;  ///< consecutive failed logins that lock the account
  std::int64_t console_idle_ms = 30LL * 60 * 1000;         ///< a session unused this long ends
  std::int64_t console_absolute_ms = 10LL * 3600 * 1000;   ///< a session ends this long after login
  std::uint32_t console_peer_failures = 10;                ///< failures per address per window...
  std::int64_t console_peer_window_ms = 15LL * 60 * 1000;  ///< ...before it is throttled
};

/// An authenticated console session (Engine::consoleAuthenticate).
struct ConsoleSession {
  Principal principal;  ///< device_id: the worker's console device row
  Role role = Role::kUnspecified;
  std::string csrf_token;
  std::int64_t idle_expires_ms = 0;
  std::int64_t absolute_expires_ms = 0;
  /// Is `presented` this session's CSRF token? Compared in constant time.
  bool csrfMatches(std::string_view presented) const;
};

/// What a console setup answers: the TOTP secret for the authenticator app, once.
struct ConsoleSetupResult {
  std::string worker_id;
  std::string totp_secret_base32;
  std::string otpauth_uri;
};

/// A console login: the session token (for the cookie only) and the session it opened.
struct ConsoleLoginResult {
  std::string session_token;
  ConsoleSession session;
};

// --- report ---------------------------------------------------------------------------------
// The results report (docs/console.md "Rapportage"): aggregates only, for a period and wijken.

/// What a report is asked for: the half-open period [from_ms, to_ms) and the wijken (empty:
/// every wijk the asker may report on). now_ms for tests; the engine clock otherwise.
struct ReportQuery {
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::vector<std::string> wijken;
  std::optional<std::int64_t> now_ms;
};

/// One figure of a report. `value` is what is shown: a count ("12", "0"), "<5" for a count of 1
/// to 4 or a figure derived from fewer than 5 cases (`suppressed` true), "-" for a figure with
/// nothing to derive it from, or a number with one decimal ("26.5"). Labels are Dutch.
struct ReportRow {
  std::string section;
  std::string key;
  std::string label;
  std::string value;
  bool suppressed = false;
};

/// A whole report: the period asked, the wijken it covers (sorted), the instant its "as of"
/// figures are judged at (min(to_ms, now)), and its rows in a fixed order.
struct Report {
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::vector<std::string> wijken;
  std::int64_t as_of_ms = 0;
  std::vector<ReportRow> rows;
};

/// Longest period a report covers (five years).
inline constexpr std::int64_t kMaxReportPeriodMs = std::int64_t{5} * 366 * 86'400'000;

class Engine {
 public:
  using PushDone = std::function<void(Result<v1::PushResponse>)>;
  using EnrollDone = std::function<void(Result<v1::EnrollResponse>)>;
  using PullDone = std::function<void(Result<v1::PullResponse>)>;

  static Result<std::unique_ptr<Engine>> open(EngineOptions options);
  ~Engine();  ///< stops the writer (see stop())
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Bearer token → principal. kUnauthenticated for a missing/unknown token (compared in
  /// constant time); kDeviceRevoked for a revoked device.
  Result<Principal> authenticate(std::string_view bearer_token);

  /// Queues a push; `done` gets the per-change results after COMMIT, or an error when the
  /// whole request failed (malformed, storage error). kUnavailable after stop().
  void push(Principal principal, v1::PushRequest request, PushDone done);
  /// One-time enrollment code → device token.
  void enroll(const v1::EnrollRequest& request, EnrollDone done);

  /// One page of what changed for the principal since the request's cursor. Never waits for
  /// changes (long poll is the caller's, see waitForChange). A page that carries anything is
  /// answered only after the reads it makes are committed to the access log (the audit cannot
  /// be lost) and the device's served marks are raised; `done` then runs on the writer thread,
  /// and at once on the caller's thread for an empty page or an error.
  void pull(const Principal& principal, const v1::PullRequest& request, PullDone done);
  /// The same, waiting for the answer (tests and tools).
  Result<v1::PullResponse> pull(const Principal& principal, const v1::PullRequest& request);

  /// Calls `fn` once (on the writer thread) as soon as a commit raises the last sequence above
  /// `seq`, at once if it is already above; returns a ticket for cancelWait. fn also runs (with
  /// false) at stop().
  /// Revoking the device or changing its worker also wakes it (with true), so a long poll
  /// re-authenticates before it answers.
  std::uint64_t waitForChange(std::uint64_t seq, const Principal& who,
                              std::function<void(bool changed)> fn);
  void cancelWait(std::uint64_t ticket);
  /// The sequence sealed in a cursor (0 for empty, forged or unreadable ones). Cursors are
  /// opaque to devices: sealed (AEAD) under a key of this server.
  std::uint64_t cursorSeq(std::string_view cursor) const;

  // --- coordinator queries (the console's) ---------------------------------------------------
  /// The coordinator's overview: every open case of their wijken (or of the query's, each of
  /// which must be theirs), overdue first, then priority, then first-attempt due date, with the
  /// same filters and order as the device's Store::overview (store.hpp's OverviewQuery; now_ms
  /// for tests, the engine clock otherwise). Norms come from the case_norms table the engine
  /// keeps on every write (norms::deriveNorms over the server's stored facts). kPermissionDenied
  /// for anyone but a coordinator. Each row returned is access-logged (committed before the
  /// answer). Runs on the caller's thread (reads) and waits for one writer commit (the log).
  Result<store::Overview> overview(const Principal& principal, const store::OverviewQuery& query);
  /// "Zelfde huishouden": the open cases of the signal's household and its other signals
  /// observed in the 12 weeks before now, both within the coordinator's wijken, leaving out the
  /// signal itself and its linked case. A signal the coordinator may not triage is answered as
  /// an unknown id. kPermissionDenied for anyone but a coordinator.
  Result<store::DuplicateHint> duplicateHint(const Principal& principal,
                                             std::string_view signal_id);

  // --- console login -------------------------------------------------------------------------
  // Coordinators and admins log in to the console with a password (Argon2id) and a TOTP code
  // (RFC 6238), set up with a one-time enrollment code. Refusals never tell whether the worker
  // exists or which factor was wrong (kUnauthenticated "the login details are not right").
  // A session is a row in console_sessions keyed by the hash of its token; it is bound to the
  // worker's console device row, so revokeDevice and deactivateWorker end it at once.
  // Password hashing runs on the caller's thread, never on the writer.

  /// Consumes the one-time code of a coordinator or admin (anyone else: kPermissionDenied and
  /// the code stays unused) and creates (or replaces, ending its sessions) the worker's console
  /// account: password rules are at least 12 characters and at most 256 bytes
  /// (kInvalidArgument). A fresh TOTP secret is sealed at rest and returned once.
  /// Wrong codes count against `peer` like failed logins.
  Result<ConsoleSetupResult> consoleSetup(std::string_view code, std::string_view password,
                                          std::string_view peer);
  /// Password and TOTP → a new session. kUnauthenticated for anything wrong (also an unknown
  /// worker or a TOTP code already used); kResourceExhausted when `peer` had too many failures
  /// in the window; kPermissionDenied "locked" only when both factors were right for a locked
  /// account (so a lock tells nothing to someone who lacks them).
  Result<ConsoleLoginResult> consoleLogin(std::string_view worker_id, std::string_view password,
                                          std::string_view totp, std::string_view peer);
  /// Session token → session. kUnauthenticated (one answer: "log in again") when unknown, idle
  /// too long, past its absolute end, the console device revoked, or the worker inactive / no
  /// longer coordinator or admin; such a session's row is deleted. Keeps the session's
  /// last-seen time (written at most every 15 s, through the writer).
  Result<ConsoleSession> consoleAuthenticate(std::string_view token, std::string_view peer);
  /// Ends the session (an unknown token is fine: nothing to end).
  Status consoleLogout(std::string_view token);
  /// Lifts a console lockout and clears the failure count. kNotFound without an account.
  Status unlockConsole(std::string_view worker_id);
  // --- report (the console's Rapportage and `eropaf-server admin report`) -------------------
  /// The results report over the server's stored facts (report_cases, report_signals, kept on
  /// every write with core's norm function), for any wijk: the admin CLI's (functioneel beheer
  /// reads aggregates, never content). No wijken asked: every wijk of the server.
  /// kInvalidArgument (field "period") for an empty, reversed or longer than
  /// kMaxReportPeriodMs period; kNotFound (field "wijk") for a wijk the server does not have.
  /// Runs on the caller's thread (reads only).
  Result<Report> report(const ReportQuery& query);
  /// The same for a principal: only a coordinator, and only for their own wijken (each wijk
  /// asked must be theirs, else kPermissionDenied naming it; none asked: all of theirs). The
  /// report is access-logged (action "report", no record: it holds no case content).
  Result<Report> report(const Principal& principal, const ReportQuery& query);
  // --- console ---------------------------------------------------------------------------
  // The coordinator's console (docs/console.md): reads that return only what the principal may
  // see, each row with case or signal content access-logged (role and peer included, committed
  // before the answer), and actions that are the device store's triage verbs run as the
  // coordinator's changes through the device push path. kPermissionDenied for anyone but a
  // coordinator. Reads run on the caller's thread and wait for one writer commit (the log).
  using ActDone = std::function<void(Result<v1::ActionResult>)>;

  /// Werkvoorraad: the untriaged signals (triage nieuw) of the coordinator's wijken (or of
  /// `wijk`, which must be theirs), most urgent first, then oldest, at most 200, each with its
  /// duplicateHint().
  Result<v1::QueueResponse> consoleQueue(const Principal& principal, std::string_view wijk,
                                         const RequestContext& ctx);
  /// Casus: the case, its signals, contact moments (superseded ones marked; with those of the
  /// cases merged into it), transitions, history, norms and the valid assignees for the picker.
  /// A case the coordinator may not see is answered as an unknown id.
  Result<v1::CaseDetail> consoleCase(const Principal& principal, std::string_view case_id,
                                     const RequestContext& ctx);
  /// Conflicten: the open cases of their wijken on the conflict list, with the transitions
  /// the server decided as conflicts beside the applied ones.
  Result<v1::ConflictsResponse> consoleConflicts(const Principal& principal,
                                                 const RequestContext& ctx);
  /// "Koppel aan bestaande casus": open cases of their wijken whose id or short id starts with
  /// `text` (hex digits and '-'), or of the household at "postcode number" (e.g. "1234AB 12"),
  /// at most 20 (capped says more matched).
  Result<v1::FindCasesResponse> consoleFindCases(const Principal& principal, std::string_view text,
                                                 const RequestContext& ctx);
  /// Runs one action: a short-lived console device store (identity: the coordinator and the
  /// principal's device) gets the records the verb needs as the principal may see them, the
  /// verb runs, and its outbox is pushed as ONE request with the principal, all or nothing: a
  /// change the server refuses rolls back every change of the action (each answered refused).
  /// The verb's own refusal comes back in ActionResult.error with nothing pushed. An error
  /// Result only for a malformed action or a storage failure.
  void consoleAct(const Principal& principal, const v1::ConsoleAction& action,
                  const RequestContext& ctx, const ActDone& done);
  /// The reference data the principal's devices get (colleagues of their wijken, wijken,
  /// categories, resolution codes): the console's labels and pickers. Any console role.
  Result<v1::ReferenceData> consoleReference(const Principal& principal);
  /// Overzicht: overview() in the console's messages (device.proto's Overview), each row's norm
  /// clocks at the server's now.
  Result<v1::Overview> consoleOverview(const Principal& principal, const store::OverviewQuery& q);
  /// The same, waiting for the answer (tests and tools).
  Result<v1::ActionResult> consoleAct(const Principal& principal, const v1::ConsoleAction& action,
                                      const RequestContext& ctx);

  // --- admin (functioneel beheer) ----------------------------------------------------------
  Status addWijk(const Wijk& wijk);
  Status addWorker(const Worker& worker);
  /// A new one-time enrollment code for the worker (only its hash is kept).
  Result<std::string> createEnrollmentCode(std::string_view worker_id);
  Result<std::vector<DeviceInfo>> devices();
  Status revokeDevice(std::string_view device_id);
  Result<std::vector<Worker>> workers();
  Result<std::vector<Wijk>> wijken();
  Result<std::vector<AccessEntry>> accessLog(std::size_t limit);
  /// The category table (codes, labels, priorities, norms).
  Result<std::vector<Category>> categories();
  /// Creates or replaces one category (code a-z 0-9 _, 1-64; label required; norms within
  /// norms::checkNorms()). Devices get it on their next pull (the reference version rises).
  Status setCategory(const Category& category);
  /// Marks a worker inactive: no longer a valid assignee (permissions::mayAssign), no longer
  /// authenticated, and every device of theirs revoked (told to wipe on its next request). Their
  /// cases keep their assignee until `reassignCases` moves them. kNotFound for an unknown id.
  Status deactivateWorker(std::string_view worker_id);
  /// Moves the open cases assigned to `from` (only those of `wijk` when given) to `to`, in one
  /// transaction: each gets the new assignee and one history entry (actor "admin", from, to,
  /// `reason`). `to` must be a valid assignee for every such case's wijk, else nothing moves
  /// (kFailedPrecondition naming the wijk and the valid colleagues). Returns the case ids moved.
  Result<std::vector<std::string>> reassignCases(std::string_view from, std::string_view to,
                                                 std::string_view wijk, std::string_view reason);

  // --- observation -------------------------------------------------------------------------
  struct Counters {
    std::uint64_t pushes = 0;
    std::uint64_t changes_applied = 0;
    std::uint64_t changes_refused = 0;
    std::uint64_t commits = 0;
    std::uint64_t pulls = 0;
    std::uint64_t records_sent = 0;
  };
  Counters counters() const;
  std::uint64_t lastSeq() const;

  /// Finishes queued work, stops the writer, wakes every waiter with false. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace eropaf::server
