// The C ABI (eropaf.h) over core's device store and sync client.
//
// Every entry point is noexcept and runs its body through guard(), which turns a C++ exception
// into EROPAF_ERROR_INTERNAL. Arguments are checked before anything else: a NULL handle, a NULL
// pointer with a length, bytes that do not parse as the named message, and enum numbers this
// build does not know are answered in EROPAF_DOMAIN_ABI and never reach the store.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "eropaf.h"
#include "eropaf/status.hpp"
#include "eropaf/store.hpp"
#include "eropaf/sync.hpp"
#include "eropaf/v1/device.pb.h"
#include "wire/wire_mapping.hpp"

// The C constants and the one list of codes must agree, number for number.
// NOLINTBEGIN(bugprone-macro-parentheses): names pasted into identifiers, not expressions
#define EROPAF_ERROR_CODE(cpp, number, wire)                                               \
  static_assert(                                                                           \
      EROPAF_ERROR_##wire == number && static_cast<int>(eropaf::ErrorCode::cpp) == number, \
      "eropaf.h and error_codes.def disagree on " #wire);
#include "eropaf/error_codes.def"
#undef EROPAF_ERROR_CODE
// NOLINTEND(bugprone-macro-parentheses)

namespace {

using eropaf::ErrorCode;
using eropaf::Result;
using eropaf::Status;
namespace v1 = eropaf::v1;
namespace store = eropaf::store;
namespace sync = eropaf::sync;

std::atomic<std::int64_t> g_live{0};

struct LiveCount {
  LiveCount() noexcept { g_live.fetch_add(1, std::memory_order_relaxed); }
  LiveCount(const LiveCount&) noexcept { g_live.fetch_add(1, std::memory_order_relaxed); }
  LiveCount& operator=(const LiveCount&) noexcept = default;
  ~LiveCount() { g_live.fetch_sub(1, std::memory_order_relaxed); }
};

/// An error to report: where it came from plus the core Status.
struct Failure {
  std::int32_t domain;
  Status status;
};

Failure abiError(ErrorCode code, std::string message, std::string field = {}) {
  return {EROPAF_DOMAIN_ABI, Status(code, std::move(message), std::move(field))};
}

char* dupString(const std::string& s) {
  auto* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  g_live.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void freeString(char* p) {
  if (p == nullptr) return;
  std::free(p);
  g_live.fetch_sub(1, std::memory_order_relaxed);
}

void fill(eropaf_error* out, const Failure& f) {
  if (out == nullptr) return;
  out->domain = f.domain;
  out->code = static_cast<std::int32_t>(f.status.code());
  out->message = dupString(f.status.message().empty() ? std::string("error") : f.status.message());
  out->field = f.status.field().empty() ? nullptr : dupString(f.status.field());
}

/// Runs `body` (returning a std::optional<Failure>: nullopt = success) with every exception
/// turned into an error. Returns true on success.
template <class F>
bool guard(eropaf_error* out_error, F&& body) noexcept {
  try {
    std::optional<Failure> f = body();
    if (!f) return true;
    fill(out_error, *f);
  } catch (const std::bad_alloc&) {
    fill(out_error, {EROPAF_DOMAIN_ABI, Status(ErrorCode::kInternal, "out of memory")});
  } catch (const std::exception& e) {
    fill(out_error, {EROPAF_DOMAIN_ABI,
                     Status(ErrorCode::kInternal, std::string("internal error: ") + e.what())});
  } catch (...) {
    fill(out_error, {EROPAF_DOMAIN_ABI, Status(ErrorCode::kInternal, "internal error")});
  }
  return false;
}

std::optional<Failure> storeFailure(const Status& s) {
  if (s.ok()) return std::nullopt;
  return Failure{EROPAF_DOMAIN_STORE, s};
}

std::optional<Failure> syncFailure(const Status& s) {
  if (s.ok()) return std::nullopt;
  return Failure{EROPAF_DOMAIN_SYNC, s};
}

// --- arguments ---------------------------------------------------------------------------------

std::optional<Failure> checkBytes(const void* p, std::size_t len, const char* what) {
  if (p == nullptr && len != 0) {
    return abiError(ErrorCode::kInvalidArgument,
                    std::string(what) + " is NULL with length " + std::to_string(len), what);
  }
  return std::nullopt;
}

std::optional<Failure> checkOut(const eropaf_buffer* out, const char* what) {
  if (out == nullptr) {
    return abiError(ErrorCode::kInvalidArgument, std::string(what) + " is NULL", what);
  }
  return std::nullopt;
}

std::string_view view(const char* p, std::size_t len) {
  return p == nullptr ? std::string_view() : std::string_view(p, len);
}

template <class Message>
std::optional<Failure> parse(const std::uint8_t* p, std::size_t len, Message& out,
                             const char* what) {
  if (auto f = checkBytes(p, len, what)) return f;
  if (len > static_cast<std::size_t>(INT32_MAX) || !out.ParseFromArray(p, static_cast<int>(len))) {
    return abiError(ErrorCode::kDecodeError,
                    std::string(what) + " is not a valid " + out.GetTypeName() + " message", what);
  }
  return std::nullopt;
}

/// An enum number this build does not know: proto3 keeps it, we refuse it.
template <class IsValid>
std::optional<Failure> checkEnum(int value, IsValid is_valid, const char* field) {
  if (!is_valid(value)) {
    return abiError(ErrorCode::kInvalidArgument,
                    std::string(field) + " has unknown value " + std::to_string(value), field);
  }
  return std::nullopt;
}

std::optional<Failure> put(const google::protobuf::MessageLite& m, eropaf_buffer* out) {
  const std::size_t n = m.ByteSizeLong();
  auto* data = static_cast<std::uint8_t*>(std::malloc(n == 0 ? 1 : n));
  if (data == nullptr) throw std::bad_alloc();
  if (n != 0 && !m.SerializeToArray(data, static_cast<int>(n))) {
    std::free(data);
    return abiError(ErrorCode::kInternal, "could not serialise the result");
  }
  g_live.fetch_add(1, std::memory_order_relaxed);
  out->data = data;
  out->size = n;
  return std::nullopt;
}

void putNotFound(eropaf_buffer* out) {
  out->data = nullptr;
  out->size = 0;
}

eropaf::Address fromProto(const v1::Address& a) {
  return {a.postcode(), a.house_number(), a.addition(), a.street(), a.city()};
}

using eropaf::wire::toProto;

void toProto(const store::Identity& i, v1::Identity& out) {
  out.set_worker_id(i.worker_id);
  out.set_name(i.name);
  out.set_role(static_cast<v1::SourceRole>(i.role));
  for (const auto& w : i.wijken) out.add_wijken(w);
  out.set_device_id(i.device_id);
}

void toProto(const Status& s, v1::Error& out) {
  out.set_code(static_cast<v1::ErrorCode>(s.code()));
  out.set_message(s.message());
  out.set_field(s.field());
}

v1::RecordKind toProto(eropaf::RecordKind k) {
  switch (k) {
    case eropaf::RecordKind::kSignal:
      return v1::RECORD_KIND_SIGNAL;
    case eropaf::RecordKind::kCase:
      return v1::RECORD_KIND_CASE;
    case eropaf::RecordKind::kContactMoment:
      return v1::RECORD_KIND_CONTACT_MOMENT;
    case eropaf::RecordKind::kTransition:
      return v1::RECORD_KIND_TRANSITION;
  }
  return v1::RECORD_KIND_UNSPECIFIED;
}

v1::SyncNotice::Kind toProto(store::ApplyNotice::Kind k) {
  switch (k) {
    case store::ApplyNotice::Kind::kAssignedToMe:
      return v1::SyncNotice::KIND_ASSIGNED_TO_ME;
    case store::ApplyNotice::Kind::kMoveConflict:
      return v1::SyncNotice::KIND_MOVE_CONFLICT;
    case store::ApplyNotice::Kind::kPickUpLost:
      return v1::SyncNotice::KIND_PICK_UP_LOST;
  }
  return v1::SyncNotice::KIND_UNSPECIFIED;
}

void toProto(const sync::SyncResult& r, v1::SyncResult& out) {
  out.set_pushed(r.pushed);
  out.set_refused(r.refused);
  out.set_restamped(r.restamped);
  out.set_pulled(r.pulled);
  out.set_evicted(r.evicted);
  out.set_revoked(r.revoked);
  out.set_skipped(r.skipped);
  if (!r.first_skip.ok()) toProto(r.first_skip, *out.mutable_first_skip());
  for (const store::ApplyNotice& n : r.notices) {
    v1::SyncNotice* m = out.add_notices();
    m->set_kind(toProto(n.kind));
    m->set_case_id(n.case_id);
    m->set_record_id(n.record_id);
    m->set_from(static_cast<v1::CaseState>(n.from));
    m->set_to(static_cast<v1::CaseState>(n.to));
  }
  for (const sync::RefusedChange& c : r.refusals) {
    v1::RefusedChange* m = out.add_refusals();
    m->set_record_id(c.record_id);
    m->set_kind(toProto(c.kind));
    m->set_summary(c.summary);
    toProto(c.reason, *m->mutable_reason());
  }
}

void toProto(const store::OutboxEntry& e, v1::OutboxEntry& o) {
  o.set_seq(e.seq);
  o.set_change_id(e.change_id);
  o.set_record_id(e.record_id);
  o.set_kind(toProto(e.kind));
  o.set_summary(e.summary);
  o.set_created_ms(e.created_ms);
  o.set_status(e.status == store::OutboxStatus::kRefused ? v1::OUTBOX_STATUS_REFUSED
                                                         : v1::OUTBOX_STATUS_PENDING);
  if (e.status == store::OutboxStatus::kRefused) toProto(e.refusal, *o.mutable_refusal());
  eropaf::wire::toProto(e.delta, *o.mutable_delta());
}

v1::NormState toProto(eropaf::norms::NormState s) {
  switch (s) {
    case eropaf::norms::NormState::kOpen:
      return v1::NORM_STATE_OPEN;
    case eropaf::norms::NormState::kMet:
      return v1::NORM_STATE_MET;
    case eropaf::norms::NormState::kMissed:
      return v1::NORM_STATE_MISSED;
  }
  return v1::NORM_STATE_UNSPECIFIED;
}

/// One clock: its due date (kNoDue becomes 0, "none"), the first counting moment and status.
void toProto(const eropaf::norms::ClockStatus& c, std::optional<std::int64_t> first,
             v1::NormClock& out) {
  out.set_due_ms(c.due_ms == eropaf::norms::kNoDue ? 0 : c.due_ms);
  if (first) out.set_first_ms(*first);
  out.set_state(toProto(c.state));
  out.set_days_late(c.days_late);
}

void toProto(const store::OverviewRow& r, v1::OverviewRow& out) {
  toProto(r.kase, *out.mutable_case_());
  out.set_priority(static_cast<v1::Priority>(r.norms.priority));
  out.set_derived_priority(static_cast<v1::Priority>(r.norms.derived_priority));
  toProto(r.status.first_attempt, r.contacts.first_attempt_ms, *out.mutable_first_attempt());
  toProto(r.status.first_gesprek, r.contacts.first_gesprek_ms, *out.mutable_first_gesprek());
  out.set_overdue(r.overdue);
  for (const auto& code : r.norms.unknown_categories) out.add_unknown_categories(code);
}

void toProto(const store::DuplicateHint& h, v1::DuplicateHint& out) {
  for (const auto& id : h.open_case_ids) out.add_open_case_ids(id);
  out.set_recent_signals(h.recent_signals);
}

void toProto(const sync::SyncProgress& p, v1::SyncProgress& out) {
  switch (p.phase) {
    case sync::SyncProgress::Phase::kPush:
      out.set_phase(v1::SyncProgress::PHASE_PUSH);
      break;
    case sync::SyncProgress::Phase::kPull:
      out.set_phase(v1::SyncProgress::PHASE_PULL);
      break;
    case sync::SyncProgress::Phase::kDone:
      out.set_phase(v1::SyncProgress::PHASE_DONE);
      break;
  }
  out.set_pushed(p.pushed);
  out.set_to_push(p.to_push);
  out.set_pulled(p.pulled);
  out.set_evicted(p.evicted);
}

/// SyncConfig -> the libcurl transport's and the client's options.
std::optional<Failure> toOptions(const v1::SyncConfig& c, const std::string& fallback_url,
                                 sync::CurlOptions& curl, sync::SyncOptions& opts) {
  curl.base_url = c.server_url().empty() ? fallback_url : c.server_url();
  if (curl.base_url.empty()) {
    return abiError(ErrorCode::kRequiredFieldMissing, "server_url is required", "server_url");
  }
  if (curl.base_url.rfind("http://", 0) != 0 && curl.base_url.rfind("https://", 0) != 0) {
    return abiError(ErrorCode::kInvalidArgument,
                    "server_url must start with http:// or https://, got \"" + curl.base_url + "\"",
                    "server_url");
  }
  curl.verify_tls = !c.insecure_skip_tls_verify();
  curl.ca_file = c.ca_file();
  if (c.connect_timeout_ms() != 0)
    curl.connect_timeout = std::chrono::milliseconds(c.connect_timeout_ms());
  if (c.push_batch() != 0) opts.push_batch = c.push_batch();
  if (c.pull_page() != 0) opts.pull_page = c.pull_page();
  if (c.max_attempts() != 0)
    opts.max_attempts = static_cast<int>(std::min<std::uint32_t>(c.max_attempts(), 100));
  if (c.backoff_base_ms() != 0) opts.backoff_base = std::chrono::milliseconds(c.backoff_base_ms());
  if (c.backoff_cap_ms() != 0) opts.backoff_cap = std::chrono::milliseconds(c.backoff_cap_ms());
  if (c.watch_wait_ms() != 0) opts.watch_wait_ms = c.watch_wait_ms();
  return std::nullopt;
}

/// The caller's ctx, freed with ctx_free when the last callback holding it is gone.
struct CallbackContext {
  CallbackContext(void* c, void (*f)(void*)) : ctx(c), ctx_free(f) {}
  CallbackContext(const CallbackContext&) = delete;
  CallbackContext& operator=(const CallbackContext&) = delete;
  void* ctx;
  void (*ctx_free)(void*);
  LiveCount live;
  ~CallbackContext() {
    if (ctx_free != nullptr) ctx_free(ctx);
  }
};

/// Set on the sync thread while a callback runs: run_blocking from there would wait for itself.
thread_local bool t_in_callback = false;

struct InCallback {
  InCallback() { t_in_callback = true; }
  ~InCallback() { t_in_callback = false; }
  InCallback(const InCallback&) = delete;
  InCallback& operator=(const InCallback&) = delete;
};

void deliverDone(eropaf_sync_done_fn fn, void* ctx, const Result<sync::SyncResult>& r) {
  InCallback in;
  if (r.ok()) {
    v1::SyncResult m;
    toProto(*r, m);
    const std::string bytes = m.SerializeAsString();
    // A zero-length result still gets a non-NULL pointer: NULL means failure.
    static const std::uint8_t kEmpty = 0;
    fn(ctx, bytes.empty() ? &kEmpty : reinterpret_cast<const std::uint8_t*>(bytes.data()),
       bytes.size(), nullptr);
    return;
  }
  eropaf_error e = EROPAF_ERROR_INIT;
  fill(&e, {EROPAF_DOMAIN_SYNC, r.status()});
  fn(ctx, nullptr, 0, &e);
  eropaf_error_clear(&e);
}

}  // namespace

struct eropaf_store_t {
  std::shared_ptr<store::Store> store;
  LiveCount live;
};

struct eropaf_sync_t {
  std::shared_ptr<store::Store> store;  // declared first: outlives the client
  std::unique_ptr<sync::SyncClient> client;
  LiveCount live;
};

namespace {

std::optional<Failure> checkStore(const eropaf_store_t* s) {
  if (s == nullptr || !s->store)
    return abiError(ErrorCode::kInvalidArgument, "store handle is NULL", "store");
  return std::nullopt;
}

std::optional<Failure> checkSync(const eropaf_sync_t* s) {
  if (s == nullptr || !s->client)
    return abiError(ErrorCode::kInvalidArgument, "sync handle is NULL", "sync");
  return std::nullopt;
}

/// The common shape of "one id in, one message out" reads.
template <class Get, class Msg>
bool getById(eropaf_store_t* s, const char* id, std::size_t id_len, eropaf_buffer* out,
             eropaf_error* out_error, Get get, Msg) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(id, id_len, "id")) return f;
    if (auto f = checkOut(out, "out")) return f;
    auto found = get(*s->store, view(id, id_len));
    if (!found.ok()) return storeFailure(found.status());
    if (!found->has_value()) {
      putNotFound(out);
      return std::nullopt;
    }
    Msg m;
    toProto(**found, m);
    return put(m, out);
  });
}

template <class T>
std::optional<Failure> putCases(const Result<std::vector<T>>& r, eropaf_buffer* out) {
  if (!r.ok()) return storeFailure(r.status());
  v1::CaseList list;
  for (const auto& c : *r) toProto(c, *list.add_cases());
  return put(list, out);
}

std::optional<Failure> putSignals(const Result<std::vector<eropaf::Signal>>& r,
                                  eropaf_buffer* out) {
  if (!r.ok()) return storeFailure(r.status());
  v1::SignalList list;
  for (const auto& x : *r) toProto(x, *list.add_signals());
  return put(list, out);
}

}  // namespace

// --- errors, buffers, library -------------------------------------------------------------------

extern "C" {

void eropaf_error_clear(eropaf_error* error) {
  if (error == nullptr) return;
  freeString(error->message);
  freeString(error->field);
  error->domain = EROPAF_DOMAIN_NONE;
  error->code = EROPAF_ERROR_OK;
  error->message = nullptr;
  error->field = nullptr;
}

void eropaf_buffer_free(eropaf_buffer* buffer) {
  if (buffer == nullptr || buffer->data == nullptr) return;
  std::free(buffer->data);
  g_live.fetch_sub(1, std::memory_order_relaxed);
  buffer->data = nullptr;
  buffer->size = 0;
}

const char* eropaf_version(void) { return "0.1.0"; }

int64_t eropaf_live_object_count(void) { return g_live.load(std::memory_order_relaxed); }

// --- store ---------------------------------------------------------------------------------------

eropaf_store_t* eropaf_store_open(const char* path, size_t path_len, const uint8_t* key,
                                  size_t key_len, eropaf_error* out_error) {
  eropaf_store_t* handle = nullptr;
  guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkBytes(path, path_len, "path")) return f;
    if (auto f = checkBytes(key, key_len, "key")) return f;
    if (path_len == 0) return abiError(ErrorCode::kRequiredFieldMissing, "path is empty", "path");
    if (std::memchr(path, '\0', path_len) != nullptr) {
      return abiError(ErrorCode::kInvalidArgument, "path contains a NUL byte", "path");
    }
    store::OpenOptions o;
    if (key_len != o.key.size()) {
      return abiError(
          ErrorCode::kInvalidArgument,
          "key must be " + std::to_string(o.key.size()) + " bytes, got " + std::to_string(key_len),
          "key");
    }
    o.path.assign(path, path_len);
    std::memcpy(o.key.data(), key, key_len);
    auto opened = store::Store::open(std::move(o));
    if (!opened.ok()) return storeFailure(opened.status());
    auto h = std::make_unique<eropaf_store_t>();
    h->store = std::shared_ptr<store::Store>(std::move(opened).value());
    handle = h.release();
    return std::nullopt;
  });
  return handle;
}

void eropaf_store_release(eropaf_store_t* store) {
  try {
    delete store;
  } catch (...) {  // a destructor that throws would end the process: swallow it here
  }
}

bool eropaf_store_set_identity(eropaf_store_t* s, const uint8_t* identity, size_t identity_len,
                               eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    v1::Identity m;
    if (auto f = parse(identity, identity_len, m, "identity")) return f;
    if (auto f = checkEnum(m.role(), v1::SourceRole_IsValid, "role")) return f;
    store::Identity id;
    id.worker_id = m.worker_id();
    id.name = m.name();
    id.role = static_cast<eropaf::Role>(m.role());
    id.wijken.assign(m.wijken().begin(), m.wijken().end());
    id.device_id = m.device_id();
    return storeFailure(s->store->setIdentity(id));
  });
}

bool eropaf_store_identity(eropaf_store_t* s, eropaf_buffer* out_identity,
                           eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_identity, "out_identity")) return f;
    auto id = s->store->identity();
    if (!id) {
      putNotFound(out_identity);
      return std::nullopt;
    }
    v1::Identity m;
    toProto(*id, m);
    return put(m, out_identity);
  });
}

bool eropaf_store_create_signal(eropaf_store_t* s, const uint8_t* request, size_t request_len,
                                eropaf_buffer* out_signal, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_signal, "out_signal")) return f;
    v1::NewSignalRequest m;
    if (auto f = parse(request, request_len, m, "request")) return f;
    if (auto f = checkEnum(m.urgency(), v1::Urgency_IsValid, "urgency")) return f;
    if (auto f = checkEnum(m.informed(), v1::Informed_IsValid, "informed")) return f;
    store::NewSignal n;
    n.wijk = m.wijk();
    n.address = fromProto(m.address());
    n.categories.assign(m.categories().begin(), m.categories().end());
    n.urgency = m.urgency() == v1::URGENCY_UNSPECIFIED ? eropaf::Urgency::kNormaal
                                                       : static_cast<eropaf::Urgency>(m.urgency());
    if (m.observed_at_ms() != 0) n.observed_at_ms = m.observed_at_ms();
    n.text = m.text();
    n.informed = static_cast<eropaf::Informed>(m.informed());
    auto r = s->store->createSignal(n);
    if (!r.ok()) return storeFailure(r.status());
    v1::Signal out;
    toProto(*r, out);
    return put(out, out_signal);
  });
}

bool eropaf_store_open_case(eropaf_store_t* s, const uint8_t* request, size_t request_len,
                            eropaf_buffer* out_case, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_case, "out_case")) return f;
    v1::NewCaseRequest m;
    if (auto f = parse(request, request_len, m, "request")) return f;
    if (auto f = checkEnum(m.priority(), v1::Priority_IsValid, "priority")) return f;
    store::NewCase n;
    n.wijk = m.wijk();
    n.address = fromProto(m.address());
    n.title = m.title();
    n.categories.assign(m.categories().begin(), m.categories().end());
    if (m.priority() != v1::PRIORITY_UNSPECIFIED)
      n.priority = static_cast<eropaf::Priority>(m.priority());
    n.signal_ids.assign(m.signal_ids().begin(), m.signal_ids().end());
    n.priority_reason = m.priority_reason();
    n.from_signal = m.from_signal();
    n.new_case = m.new_case();
    auto r = s->store->openCase(n);
    if (!r.ok()) return storeFailure(r.status());
    v1::Case out;
    toProto(*r, out);
    return put(out, out_case);
  });
}

bool eropaf_store_link_signal(eropaf_store_t* s, const char* signal_id, size_t signal_id_len,
                              const char* case_id, size_t case_id_len, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(signal_id, signal_id_len, "signal_id")) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    return storeFailure(
        s->store->linkSignal(view(signal_id, signal_id_len), view(case_id, case_id_len)));
  });
}

bool eropaf_store_assign_case(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                              const char* worker_id, size_t worker_id_len,
                              eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkBytes(worker_id, worker_id_len, "worker_id")) return f;
    return storeFailure(
        s->store->assignCase(view(case_id, case_id_len), view(worker_id, worker_id_len)));
  });
}

bool eropaf_store_assign_case_with_reason(eropaf_store_t* s, const char* case_id,
                                          size_t case_id_len, const char* worker_id,
                                          size_t worker_id_len, const char* reason,
                                          size_t reason_len, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkBytes(worker_id, worker_id_len, "worker_id")) return f;
    if (auto f = checkBytes(reason, reason_len, "reason")) return f;
    return storeFailure(s->store->assignCase(
        view(case_id, case_id_len), view(worker_id, worker_id_len), view(reason, reason_len)));
  });
}

bool eropaf_store_link_signal_with_options(eropaf_store_t* s, const uint8_t* request,
                                           size_t request_len, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    v1::LinkSignalRequest m;
    if (auto f = parse(request, request_len, m, "request")) return f;
    if (m.signal_id().empty()) {
      return abiError(ErrorCode::kRequiredFieldMissing, "signal_id is required", "signal_id");
    }
    if (m.case_id().empty()) {
      return abiError(ErrorCode::kRequiredFieldMissing, "case_id is required", "case_id");
    }
    store::LinkOptions options;
    options.force = m.force();
    options.reason = m.reason();
    return storeFailure(s->store->linkSignal(m.signal_id(), m.case_id(), options));
  });
}

bool eropaf_store_pick_up_case(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                               eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    return storeFailure(s->store->pickUpCase(view(case_id, case_id_len)));
  });
}

bool eropaf_store_set_priority(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                               int32_t priority, const char* reason, size_t reason_len,
                               eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkBytes(reason, reason_len, "reason")) return f;
    if (priority == v1::PRIORITY_UNSPECIFIED || !v1::Priority_IsValid(priority)) {
      return abiError(ErrorCode::kInvalidArgument,
                      "priority has unknown value " + std::to_string(priority), "priority");
    }
    return storeFailure(s->store->setPriority(view(case_id, case_id_len),
                                              static_cast<eropaf::Priority>(priority),
                                              view(reason, reason_len)));
  });
}

bool eropaf_store_add_contact_moment(eropaf_store_t* s, const uint8_t* request, size_t request_len,
                                     eropaf_buffer* out_moment, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_moment, "out_moment")) return f;
    v1::NewContactMomentRequest m;
    if (auto f = parse(request, request_len, m, "request")) return f;
    if (auto f = checkEnum(m.kind(), v1::ContactKind_IsValid, "kind")) return f;
    if (auto f = checkEnum(m.outcome(), v1::ContactOutcome_IsValid, "outcome")) return f;
    store::NewContactMoment n;
    n.case_id = m.case_id();
    n.kind = m.kind() == v1::CONTACT_KIND_UNSPECIFIED ? eropaf::ContactKind::kHuisbezoek
                                                      : static_cast<eropaf::ContactKind>(m.kind());
    n.outcome = static_cast<eropaf::ContactOutcome>(m.outcome());
    n.note = m.note();
    if (m.at_ms() != 0) n.at_ms = m.at_ms();
    n.corrects_id = m.corrects_id();
    auto r = s->store->addContactMoment(n);
    if (!r.ok()) return storeFailure(r.status());
    v1::ContactMoment out;
    toProto(*r, out);
    return put(out, out_moment);
  });
}

bool eropaf_store_move_case(eropaf_store_t* s, const uint8_t* request, size_t request_len,
                            eropaf_buffer* out_transition, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_transition, "out_transition")) return f;
    v1::MoveCaseRequest m;
    if (auto f = parse(request, request_len, m, "request")) return f;
    if (auto f = checkEnum(m.to(), v1::CaseState_IsValid, "to")) return f;
    auto r = s->store->moveCase({m.case_id(), static_cast<eropaf::CaseState>(m.to()), m.reason(),
                                 m.online(), m.resolution_code()});
    if (!r.ok()) return storeFailure(r.status());
    v1::Transition out;
    toProto(*r, out);
    return put(out, out_transition);
  });
}

bool eropaf_store_resolve_conflict(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                                   int32_t to_state, const char* reason, size_t reason_len,
                                   eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkBytes(reason, reason_len, "reason")) return f;
    if (auto f = checkEnum(to_state, v1::CaseState_IsValid, "to_state")) return f;
    std::optional<eropaf::CaseState> to;
    if (to_state != 0) to = static_cast<eropaf::CaseState>(to_state);
    return storeFailure(
        s->store->resolveConflict(view(case_id, case_id_len), to, view(reason, reason_len)));
  });
}

bool eropaf_store_reject_signal(eropaf_store_t* s, const char* signal_id, size_t signal_id_len,
                                const char* reason, size_t reason_len, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(signal_id, signal_id_len, "signal_id")) return f;
    if (auto f = checkBytes(reason, reason_len, "reason")) return f;
    return storeFailure(
        s->store->rejectSignal(view(signal_id, signal_id_len), view(reason, reason_len)));
  });
}

bool eropaf_store_mark_duplicate(eropaf_store_t* s, const char* signal_id, size_t signal_id_len,
                                 const char* of_signal_id, size_t of_signal_id_len,
                                 eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(signal_id, signal_id_len, "signal_id")) return f;
    if (auto f = checkBytes(of_signal_id, of_signal_id_len, "of_signal_id")) return f;
    return storeFailure(s->store->markDuplicate(view(signal_id, signal_id_len),
                                                view(of_signal_id, of_signal_id_len)));
  });
}

bool eropaf_store_merge_case(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                             const char* into_id, size_t into_id_len, const char* reason,
                             size_t reason_len, eropaf_buffer* out_case, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkBytes(into_id, into_id_len, "into_id")) return f;
    if (auto f = checkBytes(reason, reason_len, "reason")) return f;
    if (auto f = checkOut(out_case, "out_case")) return f;
    auto r = s->store->mergeCase(view(case_id, case_id_len), view(into_id, into_id_len),
                                 view(reason, reason_len));
    if (!r.ok()) return storeFailure(r.status());
    v1::Case out;
    toProto(*r, out);
    return put(out, out_case);
  });
}

bool eropaf_store_refile_signal(eropaf_store_t* s, const char* signal_id, size_t signal_id_len,
                                const char* wijk, size_t wijk_len, eropaf_buffer* out_signal,
                                eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(signal_id, signal_id_len, "signal_id")) return f;
    if (auto f = checkBytes(wijk, wijk_len, "wijk")) return f;
    if (auto f = checkOut(out_signal, "out_signal")) return f;
    auto r = s->store->refileSignal(view(signal_id, signal_id_len), view(wijk, wijk_len));
    if (!r.ok()) return storeFailure(r.status());
    v1::Signal out;
    toProto(*r, out);
    return put(out, out_signal);
  });
}

bool eropaf_store_get_signal(eropaf_store_t* s, const char* id, size_t id_len,
                             eropaf_buffer* out_signal, eropaf_error* out_error) {
  return getById(
      s, id, id_len, out_signal, out_error,
      [](store::Store& st, std::string_view i) { return st.signal(i); }, v1::Signal());
}

bool eropaf_store_get_case(eropaf_store_t* s, const char* id, size_t id_len,
                           eropaf_buffer* out_case, eropaf_error* out_error) {
  return getById(
      s, id, id_len, out_case, out_error,
      [](store::Store& st, std::string_view i) { return st.getCase(i); }, v1::Case());
}

bool eropaf_store_contact_moments(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                                  eropaf_buffer* out_list, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    auto moments = s->store->contactMoments(view(case_id, case_id_len));
    if (!moments.ok()) return storeFailure(moments.status());
    v1::ContactMomentList list;
    for (const auto& m : *moments) toProto(m, *list.add_contact_moments());
    return put(list, out_list);
  });
}

bool eropaf_store_case_moments(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                               eropaf_buffer* out_list, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    auto moments = s->store->caseMoments(view(case_id, case_id_len));
    if (!moments.ok()) return storeFailure(moments.status());
    v1::ContactMomentList list;
    for (const auto& m : *moments) toProto(m, *list.add_contact_moments());
    return put(list, out_list);
  });
}

bool eropaf_store_case_signals(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                               eropaf_buffer* out_list, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    return putSignals(s->store->caseSignals(view(case_id, case_id_len)), out_list);
  });
}

bool eropaf_store_refusal(eropaf_store_t* s, const char* record_id, size_t record_id_len,
                          eropaf_buffer* out_entry, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(record_id, record_id_len, "record_id")) return f;
    if (auto f = checkOut(out_entry, "out_entry")) return f;
    auto r = s->store->refusal(view(record_id, record_id_len));
    if (!r.ok()) return storeFailure(r.status());
    if (!r->has_value()) {
      putNotFound(out_entry);
      return std::nullopt;
    }
    v1::OutboxEntry m;
    toProto(**r, m);
    return put(m, out_entry);
  });
}

bool eropaf_store_case_norms(eropaf_store_t* s, const char* case_id, size_t case_id_len,
                             eropaf_buffer* out_row, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(case_id, case_id_len, "case_id")) return f;
    if (auto f = checkOut(out_row, "out_row")) return f;
    auto r = s->store->caseNorms(view(case_id, case_id_len));
    if (!r.ok()) return storeFailure(r.status());
    if (!r->has_value()) {
      putNotFound(out_row);
      return std::nullopt;
    }
    v1::OverviewRow m;
    toProto(**r, m);
    return put(m, out_row);
  });
}

bool eropaf_store_overview(eropaf_store_t* s, const uint8_t* query, size_t query_len,
                           eropaf_buffer* out_overview, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_overview, "out_overview")) return f;
    v1::OverviewQuery m;
    if (auto f = parse(query, query_len, m, "query")) return f;
    if (auto f = checkEnum(m.state(), v1::CaseState_IsValid, "state")) return f;
    if (m.now_ms() < 0) {
      return abiError(
          ErrorCode::kInvalidArgument,
          "now_ms must be 0 (the store clock) or a time, got " + std::to_string(m.now_ms()),
          "now_ms");
    }
    store::OverviewQuery q;
    q.wijken.assign(m.wijken().begin(), m.wijken().end());
    if (m.has_assignee()) q.assignee = m.assignee();
    if (m.state() != v1::CASE_STATE_UNSPECIFIED)
      q.state = static_cast<eropaf::CaseState>(m.state());
    q.category = m.category();
    q.overdue_only = m.overdue_only();
    q.limit = m.limit();
    if (m.now_ms() != 0) q.now_ms = m.now_ms();
    auto r = s->store->overview(q);
    if (!r.ok()) return storeFailure(r.status());
    v1::Overview out;
    for (const auto& row : r->rows) toProto(row, *out.add_rows());
    out.set_total(r->total);
    out.set_overdue(r->overdue);
    return put(out, out_overview);
  });
}

bool eropaf_store_duplicate_hint(eropaf_store_t* s, const char* signal_id, size_t signal_id_len,
                                 eropaf_buffer* out_hint, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(signal_id, signal_id_len, "signal_id")) return f;
    if (auto f = checkOut(out_hint, "out_hint")) return f;
    auto r = s->store->duplicateHint(view(signal_id, signal_id_len));
    if (!r.ok()) return storeFailure(r.status());
    v1::DuplicateHint m;
    toProto(*r, m);
    return put(m, out_hint);
  });
}

bool eropaf_store_household_hint(eropaf_store_t* s, const uint8_t* address, size_t address_len,
                                 eropaf_buffer* out_hint, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_hint, "out_hint")) return f;
    v1::Address a;
    if (auto f = parse(address, address_len, a, "address")) return f;
    auto r = s->store->householdHint(fromProto(a));
    if (!r.ok()) return storeFailure(r.status());
    v1::DuplicateHint m;
    toProto(*r, m);
    return put(m, out_hint);
  });
}

bool eropaf_store_wijken(eropaf_store_t* s, eropaf_buffer* out_list, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    auto r = s->store->wijken();
    if (!r.ok()) return storeFailure(r.status());
    v1::WijkList list;
    for (const auto& w : *r) {
      v1::Wijk* m = list.add_wijken();
      m->set_code(w.code);
      m->set_name(w.name);
    }
    return put(list, out_list);
  });
}

bool eropaf_store_my_signals(eropaf_store_t* s, uint32_t limit, eropaf_buffer* out_list,
                             eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    return putSignals(s->store->mySignals({limit}), out_list);
  });
}

bool eropaf_store_my_cases(eropaf_store_t* s, uint32_t limit, eropaf_buffer* out_list,
                           eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    return putCases(s->store->myCases({limit}), out_list);
  });
}

bool eropaf_store_wijk_queue(eropaf_store_t* s, const char* wijk, size_t wijk_len, uint32_t limit,
                             eropaf_buffer* out_list, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(wijk, wijk_len, "wijk")) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    return putCases(s->store->wijkQueue(view(wijk, wijk_len), {limit}), out_list);
  });
}

bool eropaf_store_untriaged_signals(eropaf_store_t* s, const char* wijk, size_t wijk_len,
                                    uint32_t limit, eropaf_buffer* out_list,
                                    eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkBytes(wijk, wijk_len, "wijk")) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    return putSignals(s->store->untriagedSignals(view(wijk, wijk_len), {limit}), out_list);
  });
}

bool eropaf_store_conflict_cases(eropaf_store_t* s, uint32_t limit, eropaf_buffer* out_list,
                                 eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_list, "out_list")) return f;
    return putCases(s->store->conflictCases({limit}), out_list);
  });
}

bool eropaf_store_household(eropaf_store_t* s, const uint8_t* address, size_t address_len,
                            eropaf_buffer* out_household, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_household, "out_household")) return f;
    v1::Address a;
    if (auto f = parse(address, address_len, a, "address")) return f;
    if (a.postcode().empty()) {
      return abiError(ErrorCode::kRequiredFieldMissing, "address.postcode is required",
                      "address.postcode");
    }
    if (a.house_number().empty()) {
      return abiError(ErrorCode::kRequiredFieldMissing, "address.house_number is required",
                      "address.house_number");
    }
    auto h = s->store->household(eropaf::householdKey(fromProto(a)));
    if (!h.ok()) return storeFailure(h.status());
    v1::Household m;
    m.set_household_key(h->household_key);
    for (const auto& x : h->signals) toProto(x, *m.add_signals());
    for (const auto& x : h->cases) toProto(x, *m.add_cases());
    for (const auto& x : h->contact_moments) toProto(x, *m.add_contact_moments());
    for (const auto& x : h->transitions) toProto(x, *m.add_transitions());
    return put(m, out_household);
  });
}

bool eropaf_store_outbox(eropaf_store_t* s, uint32_t limit, eropaf_buffer* out_outbox,
                         eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_outbox, "out_outbox")) return f;
    auto r = s->store->outbox({limit});
    if (!r.ok()) return storeFailure(r.status());
    v1::Outbox m;
    for (const auto& e : *r) toProto(e, *m.add_entries());
    return put(m, out_outbox);
  });
}

int64_t eropaf_store_outbox_size(eropaf_store_t* s, eropaf_error* out_error) {
  std::int64_t n = -1;
  guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    auto size = s->store->outboxSize();
    if (!size.ok()) return storeFailure(size.status());
    n = static_cast<std::int64_t>(*size);
    return std::nullopt;
  });
  return n;
}

// --- enrollment and sync
// ---------------------------------------------------------------------------

bool eropaf_enroll(eropaf_store_t* s, const uint8_t* request, size_t request_len,
                   eropaf_buffer* out_identity, eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    if (auto f = checkOut(out_identity, "out_identity")) return f;
    v1::EnrollDeviceRequest m;
    if (auto f = parse(request, request_len, m, "request")) return f;
    if (m.code().empty())
      return abiError(ErrorCode::kRequiredFieldMissing, "code is required", "code");
    sync::CurlOptions curl;
    sync::SyncOptions opts;
    if (auto f = toOptions(m.config(), "", curl, opts)) return f;
    const std::string url = curl.base_url;
    auto transport = sync::makeCurlTransport(std::move(curl));
    if (!transport.ok()) return syncFailure(transport.status());
    auto id = sync::enroll(*s->store, **transport, url, m.code(), m.device_name(), opts);
    if (!id.ok()) return syncFailure(id.status());
    v1::Identity out;
    toProto(*id, out);
    return put(out, out_identity);
  });
}

eropaf_sync_t* eropaf_sync_new(eropaf_store_t* s, const uint8_t* config, size_t config_len,
                               eropaf_error* out_error) {
  eropaf_sync_t* handle = nullptr;
  guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkStore(s)) return f;
    v1::SyncConfig m;
    if (auto f = parse(config, config_len, m, "config")) return f;
    auto state = s->store->syncState();
    if (!state.ok()) return storeFailure(state.status());
    if (state->token.empty()) {
      return abiError(ErrorCode::kFailedPrecondition,
                      "this store is not enrolled: call eropaf_enroll first");
    }
    sync::CurlOptions curl;
    sync::SyncOptions opts;
    if (auto f = toOptions(m, state->server_url, curl, opts)) return f;
    auto transport = sync::makeCurlTransport(std::move(curl));
    if (!transport.ok()) return syncFailure(transport.status());
    auto h = std::make_unique<eropaf_sync_t>();
    h->store = s->store;
    h->client = std::make_unique<sync::SyncClient>(*h->store, std::move(transport).value(), opts);
    handle = h.release();
    return std::nullopt;
  });
  return handle;
}

void eropaf_sync_release(eropaf_sync_t* sync) {
  if (sync == nullptr) return;
  try {
    sync->client->stop();
    delete sync;
  } catch (...) {
  }
}

bool eropaf_sync_run(eropaf_sync_t* s, eropaf_sync_progress_fn progress, eropaf_sync_done_fn done,
                     void* ctx, void (*ctx_free)(void*), eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkSync(s)) return f;
    if (done == nullptr)
      return abiError(ErrorCode::kInvalidArgument, "done callback is NULL", "done");
    // ctx_free is armed only once the sync is queued: on failure the caller still owns ctx.
    auto holder = std::make_shared<CallbackContext>(ctx, nullptr);
    sync::SyncClient::Progress on_progress;
    if (progress != nullptr) {
      on_progress = [holder, progress](const sync::SyncProgress& p) {
        v1::SyncProgress m;
        toProto(p, m);
        const std::string bytes = m.SerializeAsString();
        InCallback in;
        static const std::uint8_t kEmpty = 0;
        progress(holder->ctx,
                 bytes.empty() ? &kEmpty : reinterpret_cast<const std::uint8_t*>(bytes.data()),
                 bytes.size());
      };
    }
    s->client->syncNow(
        [holder, done](const Result<sync::SyncResult>& r) { deliverDone(done, holder->ctx, r); },
        std::move(on_progress));
    // Our `holder` keeps the context alive until here, so ctx_free runs after this, once.
    holder->ctx_free = ctx_free;
    return std::nullopt;
  });
}

bool eropaf_sync_run_blocking(eropaf_sync_t* s, eropaf_buffer* out_result,
                              eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkSync(s)) return f;
    if (auto f = checkOut(out_result, "out_result")) return f;
    if (t_in_callback) {
      return abiError(ErrorCode::kFailedPrecondition,
                      "eropaf_sync_run_blocking called from a sync callback would wait for itself");
    }
    auto r = s->client->syncBlocking();
    if (!r.ok()) return syncFailure(r.status());
    v1::SyncResult m;
    toProto(*r, m);
    return put(m, out_result);
  });
}

bool eropaf_sync_start_watch(eropaf_sync_t* s, eropaf_sync_done_fn on_each, void* ctx,
                             void (*ctx_free)(void*), eropaf_error* out_error) {
  return guard(out_error, [&]() -> std::optional<Failure> {
    if (auto f = checkSync(s)) return f;
    if (on_each == nullptr)
      return abiError(ErrorCode::kInvalidArgument, "on_each callback is NULL", "on_each");
    // As in eropaf_sync_run: ctx_free is armed only once the watch is in place.
    auto holder = std::make_shared<CallbackContext>(ctx, nullptr);
    s->client->startWatch([holder, on_each](const Result<sync::SyncResult>& r) {
      deliverDone(on_each, holder->ctx, r);
    });
    holder->ctx_free = ctx_free;
    return std::nullopt;
  });
}

void eropaf_sync_notify_local_change(eropaf_sync_t* s) {
  if (s == nullptr || !s->client) return;
  try {
    s->client->notifyLocalChange();
  } catch (...) {
  }
}

void eropaf_sync_cancel(eropaf_sync_t* s) {
  if (s == nullptr || !s->client) return;
  try {
    s->client->cancel();
  } catch (...) {
  }
}

}  // extern "C"
