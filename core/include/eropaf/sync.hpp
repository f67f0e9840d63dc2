// The device side of sync: a Transport interface (libcurl by default; a host app may bring its
// own HTTP stack), enrollment, and the SyncClient actor that pushes the outbox and pulls what
// changed (see docs/sync.md for the protocol).
//
// Thread-safety: SyncClient is an actor. It owns one thread; every public method may be
// called from any thread and only enqueues work. Callbacks (done, progress, on_each) run on
// the client's thread, never after stop() returns. A Transport is used by one thread at a
// time (the client's), except cancel(), which may come from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "eropaf/status.hpp"
#include "eropaf/store.hpp"

namespace eropaf::sync {

struct HttpRequest {
  std::string method = "POST";
  std::string path;  ///< "/v1/push"; the transport knows the server's base URL
  std::string content_type = "application/x-protobuf";
  std::string bearer_token;  ///< empty: no Authorization header
  std::string body;
  std::chrono::milliseconds timeout{30'000};
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

class Transport {
 public:
  virtual ~Transport() = default;
  /// One request/response. kNetwork (connect, reset, TLS), kTimeout, kCancelled, kTooLarge.
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
  /// Aborts the request in progress (it answers kCancelled), promptly; from any thread.
  virtual void cancel() = 0;
};

struct CurlOptions {
  std::string base_url;  ///< "http://127.0.0.1:7700" or "https://eropaf.gemeente.nl"
  std::chrono::milliseconds connect_timeout{5'000};
  /// TLS peer and host verification for https. Off only when the caller says so.
  bool verify_tls = true;
  std::string ca_file;  ///< extra CA bundle; empty: the system's
  std::size_t max_response_bytes = std::size_t{64} * 1024 * 1024;
};

/// The libcurl transport: one connection kept alive between requests, HTTP/1.1.
/// kInvalidArgument (field server_url), before any request, for a URL that is not http(s)://,
/// has no host, or is plain http:// to anything but loopback (127.0.0.0/8, ::1, localhost).
Result<std::unique_ptr<Transport>> makeCurlTransport(CurlOptions options);

struct SyncOptions {
  std::size_t push_batch = 200;    ///< changes per push request
  std::uint32_t pull_page = 5000;  ///< records per pull page (applied in one commit)
  int max_attempts = 6;            ///< per request, for network and 5xx failures
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_cap{30'000};
  std::uint32_t watch_wait_ms = 25'000;  ///< long-poll wait in watch mode
};

/// Turns a one-time enrollment code into this device's identity and token (stored in the
/// store's sync state, encrypted). kUnauthenticated for an unknown, used or expired code.
/// Network failures are retried as `options` says (max_attempts, backoff).
Result<store::Identity> enroll(store::Store& store, Transport& transport,
                               std::string_view server_url, std::string_view code,
                               std::string_view device_name, const SyncOptions& options = {});

struct SyncProgress {
  enum class Phase { kPush, kPull, kDone };
  Phase phase = Phase::kPush;
  std::size_t pushed = 0;
  std::size_t to_push = 0;
  std::size_t pulled = 0;
  std::size_t evicted = 0;
};

/// A change of mine the server refused in this sync (it stays in the outbox, marked refused).
struct RefusedChange {
  std::string record_id;
  RecordKind kind = RecordKind::kSignal;
  std::string summary;  ///< the outbox entry's summary: "signal created"
  Status reason;
};

struct SyncResult {
  std::size_t pushed = 0;     ///< changes the server accepted
  std::size_t refused = 0;    ///< changes refused (they stay in the outbox, marked)
  std::size_t restamped = 0;  ///< changes re-stamped after a clock-skew refusal
  std::size_t pulled = 0;     ///< records applied
  std::size_t evicted = 0;
  std::size_t skipped = 0;  ///< received records not applied (invalid, or beyond the clock)
  Status first_skip;        ///< why the first skipped record was skipped
  bool revoked = false;     ///< the server revoked this device; its store was wiped
  /// What the sync did to my own work, for sentences (store::ApplyNotice), in pull order.
  std::vector<store::ApplyNotice> notices;
  /// The changes refused in this sync, in push order.
  std::vector<RefusedChange> refusals;
};

/// One full sync on the calling thread: push until the outbox has no pending change, then pull
/// until the server has no more. `wait_ms` > 0 makes the first pull a long poll. Stops with
/// kCancelled when `cancelled` becomes true.
Result<SyncResult> syncOnce(store::Store& store, Transport& transport, const SyncOptions& options,
                            const std::atomic<bool>& cancelled,
                            const std::function<void(const SyncProgress&)>& progress,
                            std::uint32_t wait_ms = 0);

class SyncClient {
 public:
  using Done = std::function<void(Result<SyncResult>)>;
  using Progress = std::function<void(const SyncProgress&)>;

  SyncClient(store::Store& store, std::unique_ptr<Transport> transport, SyncOptions options = {});
  ~SyncClient();  ///< stop()
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  /// Enqueues a full sync; `done` gets its result. It runs after the sync in progress (which
  /// is never cut short), except that it ends a watch round's long poll so it runs at once.
  /// A sync still queued when stop() runs is dropped: its `done` is destroyed, never called.
  void syncNow(Done done, Progress progress = {});
  /// Enqueues a sync and waits for it; kCancelled when stop() drops it. Not from a callback
  /// (that would wait for itself).
  Result<SyncResult> syncBlocking(Progress progress = {});
  /// Keeps syncing: long-polls for changes, pushes whenever notifyLocalChange() is called,
  /// and calls on_each after every round, until stop() or a revoked/unauthenticated answer.
  void startWatch(Done on_each);
  /// A local write happened: a watching client pushes it now.
  void notifyLocalChange();
  /// Cancels the sync in progress (it ends with kCancelled); queued work still runs.
  void cancel();
  /// Cancels, drains, joins the thread. After it returns no callback runs. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eropaf::sync
