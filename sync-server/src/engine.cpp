// The sync engine's frame: open and stop, the pooled read sessions, the one writer thread
// and its group commit, the long-poll waiters, and the watcher that follows admin commands
// committed by another process. Engine's public methods that only forward live here too.
//
// Group commit: all jobs queued while a commit runs are applied in the next transaction, each
// under its own savepoint (a failed job rolls back alone), and each caller is answered only
// after COMMIT; a failed COMMIT answers every job of the group with its error.
//
// The engine is split by aspect; Engine::Impl is in engine_impl.hpp. Push (authorisation and
// merge): engine_push.cpp. Pull (cursors, pages, scope): engine_pull.cpp. Enrollment, tokens
// and admin commands: engine_admin.cpp.
#include <sodium.h>

#include <cstring>

#include "engine_impl.hpp"
#include "scope.hpp"

namespace eropaf::server {
namespace {

using detail::Cursor;

std::string plainHouseholdOf(const Record& r) {
  if (const auto* s = std::get_if<Signal>(&r)) return s->content.household_key;
  if (const auto* c = std::get_if<Case>(&r)) return c->household_key.value;
  return {};
}

}  // namespace

std::string Engine::Impl::householdOf(const Record& r) const {
  const std::string key = plainHouseholdOf(r);
  if (key.empty()) return {};
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(household_salt.data()),
                     household_salt.size());
  char hex[2 * sizeof h + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return "h:" + std::string(hex, 2 * sizeof h);
}

Result<Engine::Impl::Lease> Engine::Impl::borrow() {
  {
    std::lock_guard lock(pool_mu);
    if (!pool.empty()) {
      Lease l(this, std::move(pool.back()));
      pool.pop_back();
      return l;
    }
  }
  Result<std::unique_ptr<StoreSession>> s = store->openSession();
  if (!s.ok()) return s.status();
  return Lease(this, std::move(s).value());
}

bool Engine::Impl::enqueue(Job job) {
  {
    std::lock_guard lock(q_mu);
    if (stopping) return false;
    queue.push_back(std::move(job));
  }
  q_cv.notify_one();
  return true;
}

void Engine::Impl::writerLoop() {
  for (;;) {
    std::vector<Job> jobs;
    {
      std::unique_lock lock(q_mu);
      q_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty() && stopping) break;
      while (!queue.empty() && jobs.size() < opts.max_group) {
        jobs.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    std::vector<Status> results(jobs.size());
    StoreSession& s = *writer_session;
    batch_touched.clear();
    Status st = s.begin(true);
    if (st.ok()) {
      for (std::size_t i = 0; i < jobs.size() && st.ok(); ++i) {
        st = s.savepoint();
        if (!st.ok()) break;
        job_touched.clear();
        results[i] = jobs[i].apply(s);
        st = results[i].ok() ? s.releaseSavepoint() : s.rollbackToSavepoint();
        if (results[i].ok()) batch_touched.merge(job_touched);
      }
      if (st.ok()) {
        std::uint64_t h;
        {
          std::lock_guard lock(hlc_mu);
          h = hlc.last();
        }
        st = s.setMeta("hlc", std::string_view(reinterpret_cast<const char*>(&h), sizeof h));
      }
      if (st.ok()) st = s.commit();
    }
    if (!st.ok()) {
      s.rollback();
      for (auto& r : results) r = st;
    } else {
      ++c_commits;
      Result<std::uint64_t> last = s.lastSeq();
      if (last.ok()) publishSeq(*last, batch_touched);
    }
    for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].finish(results[i]);
  }
}

void Engine::Impl::wakeWho(std::string_view device_id, std::string_view worker_id) {
  std::vector<std::function<void(bool)>> wake;
  {
    std::lock_guard lock(w_mu);
    for (auto it = waiters.begin(); it != waiters.end();) {
      if ((!device_id.empty() && it->second.device_id == device_id) ||
          (!worker_id.empty() && it->second.worker_id == worker_id)) {
        wake.push_back(std::move(it->second.fn));
        it = waiters.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& fn : wake) fn(true);
}

Result<std::uint64_t> Engine::Impl::metaNumber(StoreSession& s, std::string_view key) {
  Result<std::optional<std::string>> v = s.meta(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::uint64_t{0};
  try {
    return static_cast<std::uint64_t>(std::stoull(**v));
  } catch (const std::exception&) {
    return Status(ErrorCode::kStorageCorrupt, "meta " + std::string(key) + " is not a number");
  }
}

Result<std::uint64_t> Engine::Impl::freshRefVersion(StoreSession& s) {
  Result<std::uint64_t> stored = metaNumber(s, "reference_version");
  if (!stored.ok()) return stored.status();
  for (std::uint64_t seen = ref_version.load(); *stored > seen;) {
    if (ref_version.compare_exchange_weak(seen, *stored)) break;
  }
  return std::max(ref_version.load(), *stored);
}

void Engine::Impl::watchLoop() {
  std::unique_lock lock(watch_mu);
  while (!watch_cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return watch_stop; })) {
    lock.unlock();
    StoreSession& s = *watch_session;
    Result<std::uint64_t> ref = Status();
    Result<std::uint64_t> adm = Status();
    if (s.begin(false).ok()) {
      ref = metaNumber(s, "reference_version");
      adm = metaNumber(s, "admin_version");
      s.rollback();
    }
    bool wake = false;
    if (ref.ok() && *ref > ref_version.load()) {
      ref_version = *ref;
      wake = true;
    }
    if (adm.ok() && *adm != admin_version) {
      admin_version = *adm;
      wake = true;
      // An admin process may have written records (admin reassign): stamp after them.
      if (s.begin(false).ok()) {
        observeStoredHlc(s);
        s.rollback();
      }
    }
    if (wake) wakeAll();
    lock.lock();
  }
}

void Engine::Impl::observeStoredHlc(StoreSession& s) {
  Result<std::optional<std::string>> stored = s.meta("hlc");
  if (!stored.ok() || !stored->has_value() || (*stored)->size() != sizeof(std::uint64_t)) return;
  std::uint64_t v = 0;
  std::memcpy(&v, (*stored)->data(), sizeof v);
  std::lock_guard lock(hlc_mu);
  if (v > hlc.last()) static_cast<void>(hlc.receive(v));
}

Status Engine::Impl::bumpAdminVersion(StoreSession& s) {
  Result<std::uint64_t> v = metaNumber(s, "admin_version");
  if (!v.ok()) return v.status();
  return s.setMeta("admin_version", std::to_string(*v + 1));
}

void Engine::Impl::wakeAll() {
  std::vector<std::function<void(bool)>> wake;
  {
    std::lock_guard lock(w_mu);
    for (auto& [ticket, waiter] : waiters) wake.push_back(std::move(waiter.fn));
    waiters.clear();
  }
  for (auto& fn : wake) fn(true);
}

void Engine::Impl::publishSeq(std::uint64_t seq, const std::set<std::string>& touched) {
  std::vector<std::function<void(bool)>> wake;
  {
    std::lock_guard lock(w_mu);
    last_seq.store(seq);
    for (auto it = waiters.begin(); it != waiters.end();) {
      const auto& aud = it->second.audiences;
      const bool concerned = std::any_of(aud.begin(), aud.end(),
                                         [&](const std::string& a) { return touched.count(a); });
      if (it->second.seq < seq && concerned) {
        wake.push_back(std::move(it->second.fn));
        it = waiters.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& fn : wake) fn(true);
}

// --- Engine ------------------------------------------------------------------------------------

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { stop(); }

Result<std::unique_ptr<Engine>> Engine::open(EngineOptions options) {
  if (sodium_init() < 0) return Status(ErrorCode::kInternal, "libsodium failed to initialise");
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
  if (options.max_skew_ms > kMaxServerSkewMs) {
    return Status(ErrorCode::kInvalidArgument,
                  "max_skew_ms is above " + std::to_string(kMaxServerSkewMs) +
                      ": the server's bound must stay tighter than the devices'",
                  "max_skew_ms");
  }
  if (options.max_group == 0) options.max_group = 1;
  if (options.max_page_records == 0) options.max_page_records = 1;
  auto impl = std::make_unique<Impl>(std::move(options));
  Result<std::unique_ptr<ServerStore>> store = openSqliteServerStore(impl->opts.database_path);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  Result<std::unique_ptr<StoreSession>> w = impl->store->openSession();
  if (!w.ok()) return w.status();
  impl->writer_session = std::move(w).value();
  StoreSession& s = *impl->writer_session;
  // Node id and clock persist across restarts: versions stay monotonic.
  EROPAF_RETURN_IF_ERROR(s.begin(true));
  Result<std::optional<std::string>> node = s.meta("node");
  Result<std::optional<std::string>> hlc = s.meta("hlc");
  Result<std::optional<std::string>> ref = s.meta("reference_version");
  if (!node.ok() || !hlc.ok() || !ref.ok()) {
    s.rollback();
    return !node.ok() ? node.status() : !hlc.ok() ? hlc.status() : ref.status();
  }
  if (node->has_value() && (*node)->size() == sizeof impl->node) {
    std::memcpy(&impl->node, (*node)->data(), sizeof impl->node);
  } else {
    randombytes_buf(&impl->node, sizeof impl->node);
    Status st = s.setMeta(
        "node", std::string_view(reinterpret_cast<const char*>(&impl->node), sizeof impl->node));
    if (!st.ok()) {
      s.rollback();
      return st;
    }
  }
  if (hlc->has_value() && (*hlc)->size() == sizeof(std::uint64_t)) {
    std::uint64_t v = 0;
    std::memcpy(&v, (*hlc)->data(), sizeof v);
    impl->hlc.resetTo(v);
  }
  if (ref->has_value()) impl->ref_version = std::stoull(**ref);
  Result<std::optional<std::string>> ckey = s.meta("cursor_key");
  if (!ckey.ok()) {
    s.rollback();
    return ckey.status();
  }
  if (ckey->has_value() && (*ckey)->size() == crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    impl->cursor_key = **ckey;
  } else {
    impl->cursor_key.assign(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, '\0');
    crypto_aead_xchacha20poly1305_ietf_keygen(
        reinterpret_cast<unsigned char*>(impl->cursor_key.data()));
    Status st = s.setMeta("cursor_key", impl->cursor_key);
    if (!st.ok()) {
      s.rollback();
      return st;
    }
  }
  Result<std::optional<std::string>> salt = s.meta("household_salt");
  if (!salt.ok()) {
    s.rollback();
    return salt.status();
  }
  if (salt->has_value() && (*salt)->size() == 32) {
    impl->household_salt = **salt;
  } else {
    impl->household_salt.assign(32, '\0');
    randombytes_buf(impl->household_salt.data(), impl->household_salt.size());
    Status st = s.setMeta("household_salt", impl->household_salt);
    if (!st.ok()) {
      s.rollback();
      return st;
    }
  }
  if (Status st = impl->loadConsoleKey(s); !st.ok()) {
    s.rollback();
    return st;
  }
  // A database migrated to schema 5 derives every case's norms once (meta norms_recompute).
  if (Status st = impl->recomputeNormsIfAsked(s); !st.ok()) {
    s.rollback();
    return st;
  }
  EROPAF_RETURN_IF_ERROR(s.commit());
  Result<std::uint64_t> last = s.lastSeq();
  if (!last.ok()) return last.status();
  impl->last_seq = *last;
  Result<std::optional<std::string>> adm = s.meta("admin_version");
  if (adm.ok() && adm->has_value()) impl->admin_version = std::stoull(**adm);
  Result<std::unique_ptr<StoreSession>> watch = impl->store->openSession();
  if (!watch.ok()) return watch.status();
  impl->watch_session = std::move(watch).value();
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->writerLoop(); });
  impl->watcher = std::thread([raw] { raw->watchLoop(); });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

void Engine::pull(const Principal& principal, const v1::PullRequest& request, PullDone done) {
  impl_->pull(principal, request, std::move(done));
}

Result<v1::PullResponse> Engine::pull(const Principal& principal, const v1::PullRequest& request) {
  std::promise<Result<v1::PullResponse>> answer;
  auto fut = answer.get_future();
  impl_->pull(principal, request,
              [&answer](Result<v1::PullResponse> r) { answer.set_value(std::move(r)); });
  return fut.get();
}

std::uint64_t Engine::waitForChange(std::uint64_t seq, const Principal& who,
                                    std::function<void(bool)> fn) {
  {
    std::lock_guard lock(impl_->w_mu);
    if (impl_->last_seq.load() <= seq && !impl_->stopping) {
      const std::uint64_t ticket = ++impl_->next_ticket;
      std::vector<std::string> audiences = audiencesOf(who.worker);
      std::sort(audiences.begin(), audiences.end());
      impl_->waiters.emplace(ticket, Impl::Waiter{seq, who.device_id, who.worker.id,
                                                  std::move(audiences), std::move(fn)});
      return ticket;
    }
  }
  fn(impl_->last_seq.load() > seq);
  return 0;
}

void Engine::cancelWait(std::uint64_t ticket) {
  std::lock_guard lock(impl_->w_mu);
  impl_->waiters.erase(ticket);
}

std::uint64_t Engine::cursorSeq(std::string_view cursor) const {
  const Cursor c = impl_->openCursor(cursor);
  return c.valid ? c.seq : 0;
}

Engine::Counters Engine::counters() const {
  return {impl_->c_pushes.load(),  impl_->c_applied.load(), impl_->c_refused.load(),
          impl_->c_commits.load(), impl_->c_pulls.load(),   impl_->c_sent.load()};
}

std::uint64_t Engine::lastSeq() const { return impl_->last_seq.load(); }

void Engine::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->q_mu);
    if (impl_->stopping && !impl_->writer.joinable()) return;
    impl_->stopping = true;
  }
  impl_->q_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
  {
    std::lock_guard lock(impl_->watch_mu);
    impl_->watch_stop = true;
  }
  impl_->watch_cv.notify_all();
  if (impl_->watcher.joinable()) impl_->watcher.join();
  std::vector<std::function<void(bool)>> wake;
  {
    std::lock_guard lock(impl_->w_mu);
    for (auto& [ticket, w] : impl_->waiters) wake.push_back(std::move(w.fn));
    impl_->waiters.clear();
  }
  for (auto& fn : wake) fn(false);
}

}  // namespace eropaf::server
