// The device sync client: push the outbox, pull what changed, with retries, and the actor that
// runs it on its own thread.
#include <google/protobuf/message.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "eropaf/sync.hpp"
#include "eropaf/v1/sync.pb.h"
#include "wire/wire_mapping.hpp"

namespace eropaf::sync {
namespace {

bool retryable(ErrorCode c) {
  return c == ErrorCode::kNetwork || c == ErrorCode::kTimeout || c == ErrorCode::kUnavailable ||
         c == ErrorCode::kInternal || c == ErrorCode::kStorageBusy;
}

/// Sleeps up to `d`, in slices, returning early (false) when cancelled.
bool sleepFor(std::chrono::milliseconds d, const std::atomic<bool>& cancelled) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
    if (cancelled.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return !cancelled.load();
}

/// POSTs a message and parses the answer; non-2xx answers become their ErrorResponse's Status.
/// Network and 5xx failures are retried with exponential backoff and full jitter.
Status call(Transport& t, const SyncOptions& o, const std::atomic<bool>& cancelled,
            const std::string& path, const std::string& token,
            const google::protobuf::MessageLite& request, google::protobuf::MessageLite& response,
            std::chrono::milliseconds timeout) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  HttpRequest req;
  req.path = path;
  req.bearer_token = token;
  req.body = request.SerializeAsString();
  req.timeout = timeout;
  Status last;
  for (int attempt = 0; attempt < std::max(1, o.max_attempts); ++attempt) {
    if (cancelled.load()) return Status(ErrorCode::kCancelled, "sync cancelled");
    if (attempt > 0) {
      const auto cap = std::min<std::int64_t>(o.backoff_cap.count(), o.backoff_base.count()
                                                                         << std::min(attempt, 16));
      std::uniform_int_distribution<std::int64_t> jitter(0, std::max<std::int64_t>(cap, 1));
      if (!sleepFor(std::chrono::milliseconds(jitter(rng)), cancelled)) {
        return Status(ErrorCode::kCancelled, "sync cancelled");
      }
    }
    Result<HttpResponse> res = t.send(req);
    if (!res.ok()) {
      last = res.status();
      if (retryable(last.code())) continue;
      return last;
    }
    if (res->status == 200) {
      if (!response.ParseFromString(res->body)) {
        return Status(ErrorCode::kDecodeError,
                      "the server's answer to " + path + " does not decode");
      }
      return {};
    }
    v1::ErrorResponse err;
    Status st;
    if (err.ParseFromString(res->body) && err.has_error()) {
      st = Status(errorCodeFromNumber(err.error().code()).value_or(ErrorCode::kInternal),
                  err.error().message(), err.error().field());
    } else {
      st = Status(res->status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument,
                  "HTTP " + std::to_string(res->status) + " from " + path);
    }
    last = st;
    if (res->status >= 500 &&
        retryable(st.code() == ErrorCode::kInternal ? ErrorCode::kInternal
                                                    : ErrorCode::kUnavailable)) {
      continue;
    }
    return st;
  }
  return last;
}

Result<store::SyncState> credentials(store::Store& s) {
  Result<store::SyncState> st = s.syncState();
  if (!st.ok()) return st.status();
  if (st->token.empty() || st->server_url.empty()) {
    return Status(ErrorCode::kFailedPrecondition,
                  "this device is not enrolled: `eropaf enroll --server URL --code CODE`");
  }
  return st;
}

Status applyReference(store::Store& s, const v1::ReferenceData& ref) {
  std::vector<Worker> workers;
  for (const auto& w : ref.workers()) {
    Result<Worker> x = wire::fromProto(w);
    if (x.ok()) workers.push_back(std::move(x).value());
  }
  std::vector<Wijk> wijken;
  for (const auto& w : ref.wijken()) wijken.push_back({w.code(), w.name()});
  EROPAF_RETURN_IF_ERROR(s.setReference(workers, wijken));
  if (ref.categories_size() > 0) {
    std::vector<Category> cats;
    for (const auto& c : ref.categories()) {
      Result<Category> x = wire::fromProto(c);
      if (!x.ok()) return x.status();
      cats.push_back(std::move(x).value());
    }
    EROPAF_RETURN_IF_ERROR(s.setCategories(cats));
  }
  return {};
}

}  // namespace

Result<store::Identity> enroll(store::Store& store, Transport& transport,
                               std::string_view server_url, std::string_view code,
                               std::string_view device_name, const SyncOptions& options) {
  v1::EnrollRequest req;
  req.set_code(std::string(code));
  req.set_device_name(std::string(device_name));
  v1::EnrollResponse resp;
  const std::atomic<bool> never{false};
  EROPAF_RETURN_IF_ERROR(call(transport, options, never, "/v1/enroll", "", req, resp,
                              std::chrono::milliseconds(30'000)));
  Result<Worker> w = wire::fromProto(resp.worker());
  if (!w.ok()) return w.status();
  store::Identity id{w->id, w->name, w->role, w->wijken, resp.device_id()};
  // A device enrolled before (another worker, another server) starts clean.
  EROPAF_RETURN_IF_ERROR(store.wipe());
  EROPAF_RETURN_IF_ERROR(store.setIdentity(id));
  EROPAF_RETURN_IF_ERROR(applyReference(store, resp.reference()));
  EROPAF_RETURN_IF_ERROR(store.setSyncState({std::string(server_url), resp.token(), "", 0}));
  return id;
}

namespace {

/// The server stored my transition as a conflict: say so (a lost pick-up, or a move that went to
/// the coordinator's list). The case may leave this device in the same sync, so the pull would
/// not tell.
void noteConflict(const std::vector<store::OutboxEntry>& sent, const v1::ChangeResult& r,
                  SyncResult& result) {
  auto e = std::find_if(sent.begin(), sent.end(),
                        [&](const store::OutboxEntry& x) { return x.change_id == r.change_id(); });
  if (e == sent.end()) return;
  const auto* t = std::get_if<Transition>(&e->delta);
  if (t == nullptr) return;
  const bool pick_up = t->to == CaseState::kToegewezen &&
                       (t->from == CaseState::kNieuw || t->from == CaseState::kHeropend);
  using Kind = store::ApplyNotice::Kind;
  result.notices.push_back(
      {pick_up ? Kind::kPickUpLost : Kind::kMoveConflict, t->case_id, t->id, t->from, t->to});
}

}  // namespace

Result<SyncResult> syncOnce(store::Store& s, Transport& t, const SyncOptions& o,
                            const std::atomic<bool>& cancelled,
                            const std::function<void(const SyncProgress&)>& progress,
                            std::uint32_t wait_ms) {
  Result<store::SyncState> cred = credentials(s);
  if (!cred.ok()) return cred.status();
  std::optional<store::Identity> me = s.identity();
  SyncResult result;
  SyncProgress p;
  auto report = [&] {
    if (progress) progress(p);
  };
  auto revoked = [&](const Status& st) -> std::optional<Result<SyncResult>> {
    if (st.code() != ErrorCode::kDeviceRevoked) return std::nullopt;
    Status wiped = s.wipe();
    if (!wiped.ok()) return Result<SyncResult>(wiped);
    result.revoked = true;
    return Result<SyncResult>(result);
  };

  // Push: pending changes, oldest first, in batches, until none is pending.
  Result<std::vector<store::OutboxEntry>> at_start = s.outbox();
  if (!at_start.ok()) return at_start.status();
  std::size_t pending_at_start = 0;
  for (const auto& e : *at_start) {
    pending_at_start += e.status == store::OutboxStatus::kPending ? 1 : 0;
  }
  p.to_push = pending_at_start;
  // Each round settles every change it sends (accepted, refused or re-stamped once); the
  // bound only guards against a server that never answers a change.
  for (std::size_t round = 0; round < pending_at_start / std::max<std::size_t>(1, o.push_batch) + 8;
       ++round) {
    Result<std::vector<store::OutboxEntry>> out = s.outbox();
    if (!out.ok()) return out.status();
    v1::PushRequest req;
    req.set_device_id(me ? me->device_id : "");
    for (const auto& e : *out) {
      if (e.status != store::OutboxStatus::kPending) continue;
      v1::Change* c = req.add_changes();
      c->set_change_id(e.change_id);
      wire::toProto(e.delta, *c->mutable_record());
      if (static_cast<std::size_t>(req.changes_size()) >= o.push_batch) break;
    }
    if (req.changes_size() == 0) break;
    p.phase = SyncProgress::Phase::kPush;
    report();
    v1::PushResponse resp;
    Status st = call(t, o, cancelled, "/v1/push", cred->token, req, resp,
                     std::chrono::milliseconds(60'000));
    if (auto r = revoked(st)) return *r;
    EROPAF_RETURN_IF_ERROR(st);
    static_cast<void>(s.observeRemoteVersion(resp.server_version().hlc()));
    std::vector<std::string> accepted;
    for (const auto& r : resp.results()) {
      if (r.accepted()) {
        accepted.push_back(r.change_id());
        if (r.transition_outcome() == v1::TRANSITION_OUTCOME_CONFLICT)
          noteConflict(*out, r, result);
        continue;
      }
      if (r.error().code() == v1::ERROR_CODE_CLOCK_SKEW) {
        EROPAF_RETURN_IF_ERROR(s.restampChange(r.change_id(), resp.server_version().hlc()));
        ++result.restamped;
        continue;
      }
      const Status why(errorCodeFromNumber(r.error().code()).value_or(ErrorCode::kInternal),
                       r.error().message(), r.error().field());
      EROPAF_RETURN_IF_ERROR(s.markRefused(r.change_id(), why));
      ++result.refused;
      auto sent = std::find_if(out->begin(), out->end(), [&](const store::OutboxEntry& e) {
        return e.change_id == r.change_id();
      });
      if (sent != out->end()) {
        result.refusals.push_back({sent->record_id, sent->kind, sent->summary, why});
      }
    }
    EROPAF_RETURN_IF_ERROR(s.acknowledge(accepted));
    result.pushed += accepted.size();
    p.pushed = result.pushed;
  }

  // Pull: pages until the server has no more. In order: reset, evictions, records, reference,
  // then the cursor, so a cut at any point repeats a page instead of skipping one.
  std::string cursor = cred->cursor;
  for (bool first = true;; first = false) {
    v1::PullRequest req;
    req.set_cursor(cursor);
    req.set_max_records(o.pull_page);
    req.set_wait_ms(first ? wait_ms : 0);
    v1::PullResponse resp;
    p.phase = SyncProgress::Phase::kPull;
    report();
    Status st = call(t, o, cancelled, "/v1/pull", cred->token, req, resp,
                     std::chrono::milliseconds(60'000 + req.wait_ms()));
    if (auto r = revoked(st)) return *r;
    EROPAF_RETURN_IF_ERROR(st);
    if (resp.reset()) EROPAF_RETURN_IF_ERROR(s.dropRecords());
    for (const auto& e : resp.evictions()) {
      EROPAF_RETURN_IF_ERROR(s.evict(e.record_id()));
      ++result.evicted;
    }
    std::vector<Record> records;
    records.reserve(static_cast<std::size_t>(resp.records_size()));
    for (const auto& r : resp.records()) {
      Result<Record> rec = wire::fromProto(r);
      if (!rec.ok()) return rec.status();
      records.push_back(std::move(rec).value());
    }
    if (!records.empty()) {
      Result<store::ApplyStats> applied = s.applyRemote(records, resp.server_version().hlc());
      if (!applied.ok()) return applied.status();
      result.skipped += applied->skipped;
      for (auto& n : applied->notices) {
        // A conflict the push already reported comes back with the page when the case stays.
        const bool known = std::any_of(
            result.notices.begin(), result.notices.end(),
            [&](const auto& x) { return x.kind == n.kind && x.record_id == n.record_id; });
        if (!known) result.notices.push_back(std::move(n));
      }
      if (!applied->first_skip.ok() && result.first_skip.ok()) {
        result.first_skip = applied->first_skip;
      }
    }
    if (resp.has_reference()) EROPAF_RETURN_IF_ERROR(applyReference(s, resp.reference()));
    static_cast<void>(s.observeRemoteVersion(resp.server_version().hlc()));
    cursor = resp.next_cursor();
    store::SyncState state = *cred;
    state.cursor = cursor;
    state.last_sync_ms = SystemClock().nowMs();
    EROPAF_RETURN_IF_ERROR(s.setSyncState(state));
    result.pulled += records.size();
    p.pulled = result.pulled;
    p.evicted = result.evicted;
    if (!resp.more()) break;
  }
  p.phase = SyncProgress::Phase::kDone;
  report();
  return result;
}

// --- the actor ---------------------------------------------------------------------------------

struct SyncClient::Impl {
  store::Store& store;
  std::unique_ptr<Transport> transport;
  SyncOptions options;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool stopping = false;
  bool watching = false;
  bool local_change = false;
  /// A watch round's first pull (its long poll) is under way: the only request that queued
  /// work (syncNow) and notifyLocalChange() may cut short.
  bool in_long_poll = false;
  Done on_each;
  std::atomic<bool> cancelled{false};

  Impl(store::Store& s, std::unique_ptr<Transport> t, SyncOptions o)
      : store(s), transport(std::move(t)), options(o) {}

  /// With `mu` held: ends the watch round's long poll, if one is under way, so waiting work
  /// runs at once. Anything else in progress (a sync, a watch round's push) goes on.
  void interruptLongPollLocked() {
    if (!in_long_poll) return;
    cancelled = true;
    transport->cancel();
  }

  /// The watch round's progress: its first pull is the long poll; every later phase is not.
  /// Entering the long poll with work already waiting ends it at once.
  void onWatchPhase(const SyncProgress& p, bool& polled) {
    std::lock_guard lock(mu);
    in_long_poll = p.phase == SyncProgress::Phase::kPull && !polled;
    if (!in_long_poll) return;
    polled = true;
    if (!tasks.empty() || local_change) interruptLongPollLocked();
  }

  void loop() {
    for (;;) {
      std::function<void()> task;
      bool watch_round = false;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !tasks.empty() || watching; });
        if (stopping) break;
        if (!tasks.empty()) {
          task = std::move(tasks.front());
          tasks.pop_front();
        } else {
          watch_round = true;
          local_change = false;
        }
        // Under the lock: an interrupt meant for an earlier long poll does not reach this work.
        cancelled = false;
      }
      if (task) {
        task();
        continue;
      }
      if (watch_round) {
        bool polled = false;
        Result<SyncResult> r = syncOnce(
            store, *transport, options, cancelled,
            [&](const SyncProgress& p) { onWatchPhase(p, polled); }, options.watch_wait_ms);
        const bool interrupted = !r.ok() && r.status().code() == ErrorCode::kCancelled;
        bool stop_watching = false;
        if (r.ok() && r->revoked) stop_watching = true;
        if (!r.ok() && r.status().code() == ErrorCode::kUnauthenticated) stop_watching = true;
        {
          std::lock_guard lock(mu);
          in_long_poll = false;
          if (stopping) break;
          if (stop_watching) watching = false;
        }
        const bool failed = !r.ok();  // r is moved into the callback below
        if (!interrupted && on_each) on_each(std::move(r));
        if (failed && !interrupted && !stop_watching) {
          // A failed round (server down): wait a little before the next one.
          std::unique_lock lock(mu);
          cv.wait_for(lock, options.backoff_base * 10, [&] { return stopping || local_change; });
        }
      }
    }
  }
};

SyncClient::SyncClient(store::Store& store, std::unique_ptr<Transport> transport,
                       SyncOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(transport), options)) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

SyncClient::~SyncClient() { stop(); }

void SyncClient::syncNow(Done done, Progress progress) {
  Impl* impl = impl_.get();
  {
    std::lock_guard lock(impl->mu);
    if (impl->stopping) return;
    impl->tasks.push_back([impl, done = std::move(done), progress = std::move(progress)] {
      Result<SyncResult> r =
          syncOnce(impl->store, *impl->transport, impl->options, impl->cancelled, progress);
      if (done) done(std::move(r));
    });
    // A watch round's long poll yields to the queued sync; a sync in progress is never cut
    // short. Under the lock, so the interrupt cannot land on the sync that runs next.
    impl->interruptLongPollLocked();
  }
  impl->cv.notify_all();
}

Result<SyncResult> SyncClient::syncBlocking(Progress progress) {
  // The promise lives in the task: a task dropped by stop() breaks it, and the wait ends.
  auto p = std::make_shared<std::promise<Result<SyncResult>>>();
  auto f = p->get_future();
  syncNow([p](Result<SyncResult> r) { p->set_value(std::move(r)); }, std::move(progress));
  p.reset();
  try {
    return f.get();
  } catch (const std::future_error&) {
    return Status(ErrorCode::kCancelled, "the sync client is stopped");
  }
}

void SyncClient::startWatch(Done on_each) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->on_each = std::move(on_each);
    impl_->watching = true;
  }
  impl_->cv.notify_all();
}

void SyncClient::notifyLocalChange() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->local_change = true;
    // Ends a watch round's long poll (the next round pushes); a sync or a push in progress
    // goes on, and the round after it pushes the change.
    impl_->interruptLongPollLocked();
  }
  impl_->cv.notify_all();
}

void SyncClient::cancel() {
  impl_->cancelled = true;
  impl_->transport->cancel();
}

void SyncClient::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping && !impl_->thread.joinable()) return;
    impl_->stopping = true;
    impl_->watching = false;
  }
  impl_->cancelled = true;
  impl_->transport->cancel();
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Queued tasks that never ran: their callbacks are dropped (none runs after stop()).
  std::lock_guard lock(impl_->mu);
  impl_->tasks.clear();
}

}  // namespace eropaf::sync
