/* eropaf.h: the C ABI over eropaf's core (device store and sync client), for Android (JNI),
 * iOS (Swift) and any language with a C FFI. Pure C99.
 *
 * Promises
 * - Messages cross the boundary as protobuf bytes of the proto/ schema (package eropaf.v1);
 *   each function names the message it takes and the one it returns.
 * - Every fallible call returns `bool` (true = success) or a handle (NULL = failure) and takes
 *   `eropaf_error* out_error` last. On failure `*out_error` is filled (when out_error is not
 *   NULL); on success it is left untouched. Pass a zeroed error (EROPAF_ERROR_INIT) and clear it
 *   with eropaf_error_clear() before reusing it.
 * - No call throws, aborts or exits on bad input: a NULL handle, a NULL pointer with a non-zero
 *   length, bytes that are not the named message, an enum number this build does not know, a
 *   call in the wrong state: each is an error with a code and a message that says what was
 *   wrong. A refused write changes nothing.
 *
 * Ownership
 * - Inputs are borrowed for the duration of the call: pointer + length, never NUL-terminated
 *   strings (a NULL pointer is allowed only with length 0).
 * - A returned handle is released with its own eropaf_<object>_release(); a returned buffer is
 *   freed only with eropaf_buffer_free(); an error's message with eropaf_error_clear().
 * - eropaf_live_object_count() counts handles, buffers, error messages and callback contexts
 *   not yet released; it returns to zero when the caller has released everything.
 *
 * Threads
 * - A store handle may be used from several threads at once: calls on one store are
 *   serialised inside (each is one short SQLite transaction). eropaf_store_release() must not
 *   race with other calls on the same handle; a sync handle keeps its store alive, so the store
 *   handle may be released while a sync handle still uses it.
 * - A sync handle owns one background thread. Every eropaf_sync_* call may come from any
 *   thread; callbacks run on that background thread, one at a time, and never after
 *   eropaf_sync_release() has returned. Do not call eropaf_sync_release() or
 *   eropaf_sync_run_blocking() from inside a callback (the latter answers
 *   EROPAF_ERROR_FAILED_PRECONDITION; the former would wait for itself).
 * - A sync running in the background while other threads write to the store is allowed.
 */
#ifndef EROPAF_H
#define EROPAF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define EROPAF_API __declspec(dllexport)
#elif defined(__GNUC__)
#define EROPAF_API __attribute__((visibility("default")))
#else
#define EROPAF_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------------------------ */

/* Where an error came from. */
enum {
  EROPAF_DOMAIN_NONE = 0,  /* no error */
  EROPAF_DOMAIN_ABI = 1,   /* the call itself: NULL handle, bad bytes, unknown enum, wrong state */
  EROPAF_DOMAIN_STORE = 2, /* the device store: validation, permissions, storage */
  EROPAF_DOMAIN_SYNC = 3   /* enrollment and sync: network, server answers */
};

/* What went wrong: one list shared with C++ (eropaf::ErrorCode) and the wire
 * (eropaf.v1.ErrorCode); the numbers never change. */
enum {
  EROPAF_ERROR_OK = 0,
  EROPAF_ERROR_INVALID_ARGUMENT = 1,
  EROPAF_ERROR_NOT_FOUND = 2,
  EROPAF_ERROR_ALREADY_EXISTS = 3,
  EROPAF_ERROR_PERMISSION_DENIED = 4,
  EROPAF_ERROR_FAILED_PRECONDITION = 5,
  EROPAF_ERROR_UNAUTHENTICATED = 6,
  EROPAF_ERROR_DEVICE_REVOKED = 7,
  EROPAF_ERROR_CLOCK_SKEW = 8,
  EROPAF_ERROR_CONFLICT = 9,
  EROPAF_ERROR_IO_ERROR = 10,
  EROPAF_ERROR_STORAGE_BUSY = 11,
  EROPAF_ERROR_STORAGE_FULL = 12,
  EROPAF_ERROR_STORAGE_CORRUPT = 13,
  EROPAF_ERROR_DECODE_ERROR = 14,
  EROPAF_ERROR_NETWORK = 15,
  EROPAF_ERROR_TIMEOUT = 16,
  EROPAF_ERROR_CANCELLED = 17,
  EROPAF_ERROR_TOO_LARGE = 18,
  EROPAF_ERROR_UNSUPPORTED = 19,
  EROPAF_ERROR_INTERNAL = 20,
  EROPAF_ERROR_UNKNOWN_CATEGORY = 21,
  EROPAF_ERROR_REQUIRED_FIELD_MISSING = 22,
  EROPAF_ERROR_TEXT_TOO_LONG = 23,
  EROPAF_ERROR_INVALID_UTF8 = 24,
  EROPAF_ERROR_TRANSITION_NOT_ALLOWED = 25,
  EROPAF_ERROR_REASON_REQUIRED = 26,
  EROPAF_ERROR_CRYPTO = 27,
  EROPAF_ERROR_UNAVAILABLE = 28,
  EROPAF_ERROR_RESOURCE_EXHAUSTED = 29
};

typedef struct eropaf_error {
  int32_t domain; /* EROPAF_DOMAIN_* */
  int32_t code;   /* EROPAF_ERROR_* */
  char* message;  /* English, NUL-terminated UTF-8; owned, freed by eropaf_error_clear() */
  char* field;    /* dotted path of the input field ("address.postcode"), or NULL; owned */
} eropaf_error;

#define EROPAF_ERROR_INIT \
  { 0, 0, NULL, NULL }

/* Frees the message and field and zeroes the error. NULL and a zeroed error are fine.
 * Thread-safety: any thread. */
EROPAF_API void eropaf_error_clear(eropaf_error* error);

/* ---- buffers and library ------------------------------------------------------------------- */

/* Bytes the library returns. A call that returns a message always sets `data` (non-NULL, even
 * for zero bytes); `data == NULL` after a successful call means "not found". */
typedef struct eropaf_buffer {
  uint8_t* data;
  size_t size;
} eropaf_buffer;

/* Frees a buffer the library returned and zeroes it. NULL and a zeroed buffer are fine. */
EROPAF_API void eropaf_buffer_free(eropaf_buffer* buffer);

/* "0.1.0". Static storage; never freed. */
EROPAF_API const char* eropaf_version(void);

/* Handles, buffers, error messages and callback contexts alive right now (all threads). */
EROPAF_API int64_t eropaf_live_object_count(void);

/* ---- the device store ---------------------------------------------------------------------- */

typedef struct eropaf_store_t eropaf_store_t;

/* Opens (creating when missing) the encrypted store at `path` (UTF-8) with a 32-byte key from
 * the platform key store, migrating it to the current schema. EROPAF_ERROR_CRYPTO: the key is
 * not the one the file was made with; EROPAF_ERROR_UNSUPPORTED: written by a newer version. */
EROPAF_API eropaf_store_t* eropaf_store_open(const char* path, size_t path_len, const uint8_t* key,
                                             size_t key_len, eropaf_error* out_error);

/* Closes the store. NULL is fine. Must not race with other calls on the same handle. */
EROPAF_API void eropaf_store_release(eropaf_store_t* store);

/* Sets who works on this device (eropaf.v1.Identity), for a device that does not enroll
 * (a test, a demo). Enrollment sets it otherwise. */
EROPAF_API bool eropaf_store_set_identity(eropaf_store_t* store, const uint8_t* identity,
                                          size_t identity_len, eropaf_error* out_error);

/* The identity (eropaf.v1.Identity); data NULL when none is set. */
EROPAF_API bool eropaf_store_identity(eropaf_store_t* store, eropaf_buffer* out_identity,
                                      eropaf_error* out_error);

/* Writes: each validated, durable on return, with its outbox row. */

/* eropaf.v1.NewSignalRequest -> eropaf.v1.Signal. */
EROPAF_API bool eropaf_store_create_signal(eropaf_store_t* store, const uint8_t* request,
                                           size_t request_len, eropaf_buffer* out_signal,
                                           eropaf_error* out_error);

/* eropaf.v1.NewCaseRequest -> eropaf.v1.Case. Coordinator or wijkcoach of the wijk. */
EROPAF_API bool eropaf_store_open_case(eropaf_store_t* store, const uint8_t* request,
                                       size_t request_len, eropaf_buffer* out_case,
                                       eropaf_error* out_error);

/* Links a signal to a case (triage state gekoppeld). */
EROPAF_API bool eropaf_store_link_signal(eropaf_store_t* store, const char* signal_id,
                                         size_t signal_id_len, const char* case_id,
                                         size_t case_id_len, eropaf_error* out_error);

/* Coordinator: assigns (or reassigns) a case to a wijkcoach. */
EROPAF_API bool eropaf_store_assign_case(eropaf_store_t* store, const char* case_id,
                                         size_t case_id_len, const char* worker_id,
                                         size_t worker_id_len, eropaf_error* out_error);

/* As eropaf_store_assign_case, with a reason (UTF-8; may be empty) kept in the case's history
 * entry (who, when, from, to, reason). An assignee the cached reference data says cannot take
 * the case (inactive, not a wijkcoach or coordinator of its wijk) is refused in
 * EROPAF_DOMAIN_STORE with EROPAF_ERROR_FAILED_PRECONDITION, field "assignee", naming the valid
 * colleagues; one the device was never told about is left to the server (a refused change). */
EROPAF_API bool eropaf_store_assign_case_with_reason(eropaf_store_t* store, const char* case_id,
                                                     size_t case_id_len, const char* worker_id,
                                                     size_t worker_id_len, const char* reason,
                                                     size_t reason_len, eropaf_error* out_error);

/* eropaf.v1.LinkSignalRequest: links a signal to a case, as eropaf_store_link_signal. A signal
 * of another household is refused (EROPAF_ERROR_FAILED_PRECONDITION, field "signal_id") unless
 * `force` is set with a non-blank `reason`, and then only for a coordinator; the reason is kept
 * as the signal's triage_reason. */
EROPAF_API bool eropaf_store_link_signal_with_options(eropaf_store_t* store, const uint8_t* request,
                                                      size_t request_len, eropaf_error* out_error);

/* Wijkcoach: takes an open, unassigned case of one of their wijken. */
EROPAF_API bool eropaf_store_pick_up_case(eropaf_store_t* store, const char* case_id,
                                          size_t case_id_len, eropaf_error* out_error);

/* Coordinator: overrides the priority; `priority` is an eropaf.v1.Priority number (not
 * UNSPECIFIED) and `reason` (UTF-8, required: REASON_REQUIRED when blank) says why. */
EROPAF_API bool eropaf_store_set_priority(eropaf_store_t* store, const char* case_id,
                                          size_t case_id_len, int32_t priority, const char* reason,
                                          size_t reason_len, eropaf_error* out_error);

/* eropaf.v1.NewContactMomentRequest -> eropaf.v1.ContactMoment. */
EROPAF_API bool eropaf_store_add_contact_moment(eropaf_store_t* store, const uint8_t* request,
                                                size_t request_len, eropaf_buffer* out_moment,
                                                eropaf_error* out_error);

/* eropaf.v1.MoveCaseRequest -> eropaf.v1.Transition, checked against the state table for the
 * worker's role: EROPAF_ERROR_TRANSITION_NOT_ALLOWED, EROPAF_ERROR_REASON_REQUIRED; closing (to
 * afgesloten) needs a resolution_code (EROPAF_ERROR_REQUIRED_FIELD_MISSING,
 * EROPAF_ERROR_INVALID_ARGUMENT) and, for geen_contact_mogelijk, attempts on enough different
 * days (EROPAF_ERROR_FAILED_PRECONDITION). */
EROPAF_API bool eropaf_store_move_case(eropaf_store_t* store, const uint8_t* request,
                                       size_t request_len, eropaf_buffer* out_transition,
                                       eropaf_error* out_error);

/* Coordinator: takes a case off the conflict list; `to_state` is an eropaf.v1.CaseState number
 * to move it to, or 0 to leave its state. EROPAF_ERROR_FAILED_PRECONDITION when the case is not
 * in conflict. */
EROPAF_API bool eropaf_store_resolve_conflict(eropaf_store_t* store, const char* case_id,
                                              size_t case_id_len, int32_t to_state,
                                              const char* reason, size_t reason_len,
                                              eropaf_error* out_error);

/* Triage (docs/triage.md "Triage verbs"): coordinators of the record's wijk. */

/* Rejects a signal: triage state afgewezen, `reason` (UTF-8, required:
 * EROPAF_ERROR_REASON_REQUIRED when blank) kept as its triage_reason, unlinked from its case.
 * The reporter sees "afgewezen", never the reason. */
EROPAF_API bool eropaf_store_reject_signal(eropaf_store_t* store, const char* signal_id,
                                           size_t signal_id_len, const char* reason,
                                           size_t reason_len, eropaf_error* out_error);

/* Marks a signal a duplicate of another (triage state duplicaat). Self, a cycle or a rejected
 * original is refused; the duplicate follows the original's case. */
EROPAF_API bool eropaf_store_mark_duplicate(eropaf_store_t* store, const char* signal_id,
                                            size_t signal_id_len, const char* of_signal_id,
                                            size_t of_signal_id_len, eropaf_error* out_error);

/* Merges case `case_id` into `into_id` -> eropaf.v1.Case (the target). Signals follow, the
 * source is closed as samengevoegd with merged_into set; both histories are kept. */
EROPAF_API bool eropaf_store_merge_case(eropaf_store_t* store, const char* case_id,
                                        size_t case_id_len, const char* into_id, size_t into_id_len,
                                        const char* reason, size_t reason_len,
                                        eropaf_buffer* out_case, eropaf_error* out_error);

/* Reporter: re-files a signal whose creation the server refused, in another wijk (UTF-8 CBS
 * code) -> eropaf.v1.Signal, queued as a new pending change. EROPAF_ERROR_FAILED_PRECONDITION
 * (field "signal_id") for a signal the server did not refuse. */
EROPAF_API bool eropaf_store_refile_signal(eropaf_store_t* store, const char* signal_id,
                                           size_t signal_id_len, const char* wijk, size_t wijk_len,
                                           eropaf_buffer* out_signal, eropaf_error* out_error);

/* Reads. A record this device does not hold is a successful call with data NULL (or an empty
 * list); a record it holds but cannot read is an error in EROPAF_DOMAIN_STORE: a row that does
 * not decrypt EROPAF_ERROR_CRYPTO, one that does not decode EROPAF_ERROR_STORAGE_CORRUPT, a
 * failing file EROPAF_ERROR_IO_ERROR or EROPAF_ERROR_STORAGE_CORRUPT. */

/* eropaf.v1.Signal; data NULL when this device does not hold it. */
EROPAF_API bool eropaf_store_get_signal(eropaf_store_t* store, const char* id, size_t id_len,
                                        eropaf_buffer* out_signal, eropaf_error* out_error);

/* eropaf.v1.Case; data NULL when this device does not hold it. */
EROPAF_API bool eropaf_store_get_case(eropaf_store_t* store, const char* id, size_t id_len,
                                      eropaf_buffer* out_case, eropaf_error* out_error);

/* eropaf.v1.ContactMomentList of one case, oldest first. */
EROPAF_API bool eropaf_store_contact_moments(eropaf_store_t* store, const char* case_id,
                                             size_t case_id_len, eropaf_buffer* out_list,
                                             eropaf_error* out_error);

/* eropaf.v1.ContactMomentList: the case's own contact moments plus those of every case merged
 * into it, oldest first (what a case view lists after a merge). */
EROPAF_API bool eropaf_store_case_moments(eropaf_store_t* store, const char* case_id,
                                          size_t case_id_len, eropaf_buffer* out_list,
                                          eropaf_error* out_error);

/* eropaf.v1.SignalList: the signals linked to a case, oldest first. */
EROPAF_API bool eropaf_store_case_signals(eropaf_store_t* store, const char* case_id,
                                          size_t case_id_len, eropaf_buffer* out_list,
                                          eropaf_error* out_error);

/* eropaf.v1.OutboxEntry: the change of a record the server refused ("geweigerd", with the
 * reason in `refusal`); data NULL when the record has no refused change. */
EROPAF_API bool eropaf_store_refusal(eropaf_store_t* store, const char* record_id,
                                     size_t record_id_len, eropaf_buffer* out_entry,
                                     eropaf_error* out_error);

/* eropaf.v1.OverviewRow: the norms of one case (both clocks at the store clock); data NULL when
 * this device does not hold it. */
EROPAF_API bool eropaf_store_case_norms(eropaf_store_t* store, const char* case_id,
                                        size_t case_id_len, eropaf_buffer* out_row,
                                        eropaf_error* out_error);

/* eropaf.v1.OverviewQuery -> eropaf.v1.Overview. Coordinator (others
 * EROPAF_ERROR_PERMISSION_DENIED): every open case of her wijken, assigned or not, overdue
 * first, then priority, then first-attempt due. A wijk not hers is refused (field "wijk"). */
EROPAF_API bool eropaf_store_overview(eropaf_store_t* store, const uint8_t* query, size_t query_len,
                                      eropaf_buffer* out_overview, eropaf_error* out_error);

/* eropaf.v1.DuplicateHint for a signal: the open cases of its household and its household's
 * other signals of the last 12 weeks (itself and its own case excluded). NOT_FOUND (store
 * domain) for a signal this device does not hold. */
EROPAF_API bool eropaf_store_duplicate_hint(eropaf_store_t* store, const char* signal_id,
                                            size_t signal_id_len, eropaf_buffer* out_hint,
                                            eropaf_error* out_error);

/* eropaf.v1.Address -> eropaf.v1.DuplicateHint: the same for an address, before a signal or
 * case exists (postcode and house number required). */
EROPAF_API bool eropaf_store_household_hint(eropaf_store_t* store, const uint8_t* address,
                                            size_t address_len, eropaf_buffer* out_hint,
                                            eropaf_error* out_error);

/* eropaf.v1.WijkList: the cached reference wijken (empty before the first reference data). */
EROPAF_API bool eropaf_store_wijken(eropaf_store_t* store, eropaf_buffer* out_list,
                                    eropaf_error* out_error);

/* Lists; `limit` 0 means all. */

/* eropaf.v1.SignalList: signals I reported, newest first. */
EROPAF_API bool eropaf_store_my_signals(eropaf_store_t* store, uint32_t limit,
                                        eropaf_buffer* out_list, eropaf_error* out_error);

/* eropaf.v1.CaseList: open cases assigned to me, by priority then first-contact due date. */
EROPAF_API bool eropaf_store_my_cases(eropaf_store_t* store, uint32_t limit,
                                      eropaf_buffer* out_list, eropaf_error* out_error);

/* eropaf.v1.CaseList: open unassigned cases of a wijk, by priority then due date. */
EROPAF_API bool eropaf_store_wijk_queue(eropaf_store_t* store, const char* wijk, size_t wijk_len,
                                        uint32_t limit, eropaf_buffer* out_list,
                                        eropaf_error* out_error);

/* eropaf.v1.SignalList: signals of a wijk not yet triaged, oldest first. */
EROPAF_API bool eropaf_store_untriaged_signals(eropaf_store_t* store, const char* wijk,
                                               size_t wijk_len, uint32_t limit,
                                               eropaf_buffer* out_list, eropaf_error* out_error);

/* eropaf.v1.CaseList: cases on the conflict list. */
EROPAF_API bool eropaf_store_conflict_cases(eropaf_store_t* store, uint32_t limit,
                                            eropaf_buffer* out_list, eropaf_error* out_error);

/* eropaf.v1.Address -> eropaf.v1.Household: everything known about the household there. */
EROPAF_API bool eropaf_store_household(eropaf_store_t* store, const uint8_t* address,
                                       size_t address_len, eropaf_buffer* out_household,
                                       eropaf_error* out_error);

/* eropaf.v1.Outbox: changes the server has not accepted yet, oldest first. */
EROPAF_API bool eropaf_store_outbox(eropaf_store_t* store, uint32_t limit,
                                    eropaf_buffer* out_outbox, eropaf_error* out_error);

/* Number of changes in the outbox, or -1 on error. */
EROPAF_API int64_t eropaf_store_outbox_size(eropaf_store_t* store, eropaf_error* out_error);

/* ---- enrollment and sync ------------------------------------------------------------------- */

/* eropaf.v1.EnrollDeviceRequest -> eropaf.v1.Identity. Blocks the calling thread for one HTTP
 * round trip. EROPAF_ERROR_UNAUTHENTICATED for an unknown, used or expired code. */
EROPAF_API bool eropaf_enroll(eropaf_store_t* store, const uint8_t* request, size_t request_len,
                              eropaf_buffer* out_identity, eropaf_error* out_error);

typedef struct eropaf_sync_t eropaf_sync_t;

/* Progress of a sync: `progress` is eropaf.v1.SyncProgress bytes, borrowed for the call. */
typedef void (*eropaf_sync_progress_fn)(void* ctx, const uint8_t* progress, size_t progress_len);

/* The end of a sync: on success `result` is eropaf.v1.SyncResult bytes and `error` NULL; on
 * failure `result` is NULL and `error` says why. Both borrowed for the call. */
typedef void (*eropaf_sync_done_fn)(void* ctx, const uint8_t* result, size_t result_len,
                                    const eropaf_error* error);

/* A sync client for an enrolled store (eropaf.v1.SyncConfig; an empty server_url uses the one
 * enrollment stored). Starts its background thread. EROPAF_ERROR_FAILED_PRECONDITION when the
 * store is not enrolled. The sync handle keeps the store alive until it is released. */
EROPAF_API eropaf_sync_t* eropaf_sync_new(eropaf_store_t* store, const uint8_t* config,
                                          size_t config_len, eropaf_error* out_error);

/* Stops the client: cancels the sync in progress, waits for the thread. After it returns no
 * callback runs and every ctx_free has been called. NULL is fine. Not from a callback. */
EROPAF_API void eropaf_sync_release(eropaf_sync_t* sync);

/* Queues one full sync (push the outbox, pull until done). `progress` (may be NULL) and `done`
 * (required) run on the sync thread; `ctx_free` (may be NULL) is called once, when the library
 * no longer needs ctx: after `done` (on the sync thread, or on the calling thread when the sync
 * ended before this call returned), or in eropaf_sync_release() for a sync that never ran.
 * When the call fails, ctx_free is not called: the caller still owns ctx. */
EROPAF_API bool eropaf_sync_run(eropaf_sync_t* sync, eropaf_sync_progress_fn progress,
                                eropaf_sync_done_fn done, void* ctx, void (*ctx_free)(void*),
                                eropaf_error* out_error);

/* Runs one full sync and waits for it: eropaf.v1.SyncResult. */
EROPAF_API bool eropaf_sync_run_blocking(eropaf_sync_t* sync, eropaf_buffer* out_result,
                                         eropaf_error* out_error);

/* Keeps syncing (long poll) until eropaf_sync_release(), a revocation or a lost enrollment;
 * `on_each` runs after every round with its result. `ctx_free` runs in eropaf_sync_release(),
 * or when a later eropaf_sync_start_watch() replaces this callback. When the call fails,
 * ctx_free is not called: the caller still owns ctx. */
EROPAF_API bool eropaf_sync_start_watch(eropaf_sync_t* sync, eropaf_sync_done_fn on_each, void* ctx,
                                        void (*ctx_free)(void*), eropaf_error* out_error);

/* A local write happened: a watching client pushes it now. NULL is fine. */
EROPAF_API void eropaf_sync_notify_local_change(eropaf_sync_t* sync);

/* Cancels the sync in progress (its done callback gets EROPAF_ERROR_CANCELLED). NULL is fine. */
EROPAF_API void eropaf_sync_cancel(eropaf_sync_t* sync);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EROPAF_H */
