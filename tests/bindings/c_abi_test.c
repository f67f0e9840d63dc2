/* The C ABI from C: every function of eropaf.h, its error paths (NULL handle, bad bytes,
 * unknown enum, wrong state), enrollment and sync against a real eropaf-server on loopback
 * (started by with_server.sh), a background sync while several threads write, and the live
 * object count back at zero.
 *
 * Compiled as C99. Protobuf bytes are written and read with the few helpers below (varints and
 * length-delimited fields), so the test depends on nothing but eropaf.h — and SQLite, which
 * only test_unreadable_rows uses, to damage a store file the way a failing disk would.
 *
 * Usage: c_abi_test [concurrent]   ("concurrent" runs only the concurrent-use test, for TSan) */
/* NOLINTNEXTLINE(bugprone-reserved-identifier): the POSIX feature test macro */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eropaf.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++g_checks;                                                                \
    if (!(cond)) {                                                             \
      ++g_failures;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define REQUIRE(cond)                                                            \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* ---- protobuf writing ---------------------------------------------------------------------- */

typedef struct {
  uint8_t data[8192];
  size_t size;
} msg;

static void put_varint(msg* m, uint64_t v) {
  while (v >= 0x80) {
    m->data[m->size++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  m->data[m->size++] = (uint8_t)v;
}

static void put_int(msg* m, int field, int64_t v) {
  put_varint(m, (uint64_t)field << 3);
  put_varint(m, (uint64_t)v);
}

static void put_bytes(msg* m, int field, const void* p, size_t n) {
  put_varint(m, ((uint64_t)field << 3) | 2);
  put_varint(m, n);
  memcpy(m->data + m->size, p, n);
  m->size += n;
}

static void put_str(msg* m, int field, const char* s) { put_bytes(m, field, s, strlen(s)); }

static void put_msg(msg* m, int field, const msg* sub) {
  put_bytes(m, field, sub->data, sub->size);
}

/* ---- protobuf reading ---------------------------------------------------------------------- */

static int get_varint(const uint8_t** p, const uint8_t* end, uint64_t* v) {
  uint64_t r = 0;
  int shift = 0;
  while (*p < end && shift < 64) {
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 1;
    }
    shift += 7;
  }
  return 0;
}

/* Walks the top-level fields of a message. For the n-th (0-based) occurrence of `field`:
 * length-delimited: out and out_len; varint: out_v. Returns the number of occurrences. */
static int find_field(const uint8_t* data, size_t size, int field, int n, const uint8_t** out,
                      size_t* out_len, uint64_t* out_v) {
  const uint8_t* p = data;
  const uint8_t* end = data + size;
  int seen = 0;
  while (p < end) {
    uint64_t key, v = 0;
    if (!get_varint(&p, end, &key)) return -1;
    const int f = (int)(key >> 3);
    const int wt = (int)(key & 7);
    const uint8_t* start = p;
    size_t len = 0;
    if (wt == 0) {
      if (!get_varint(&p, end, &v)) return -1;
    } else if (wt == 2) {
      if (!get_varint(&p, end, &v) || v > (uint64_t)(end - p)) return -1;
      start = p;
      len = (size_t)v;
      p += len;
    } else if (wt == 1) {
      p += 8;
    } else if (wt == 5) {
      p += 4;
    } else {
      return -1;
    }
    if (f == field) {
      if (seen == n) {
        if (out) *out = start;
        if (out_len) *out_len = len;
        if (out_v) *out_v = v;
      }
      ++seen;
    }
  }
  return seen;
}

static int count_field(const eropaf_buffer* b, int field) {
  return find_field(b->data, b->size, field, 0, NULL, NULL, NULL);
}

/* A string field, copied into `out` (NUL-terminated). */
static void get_str(const uint8_t* data, size_t size, int field, char* out, size_t cap) {
  const uint8_t* p = NULL;
  size_t len = 0;
  out[0] = '\0';
  if (find_field(data, size, field, 0, &p, &len, NULL) > 0 && len < cap) {
    memcpy(out, p, len);
    out[len] = '\0';
  }
}

static uint64_t get_uint(const uint8_t* data, size_t size, int field) {
  uint64_t v = 0;
  if (find_field(data, size, field, 0, NULL, NULL, &v) <= 0) return 0;
  return v;
}

/* ---- building requests ----------------------------------------------------------------------- */

enum {
  URGENCY_HOOG = 3,
  INFORMED_YES = 1,
  PRIORITY_HOOG = 2,
  CASE_STATE_TOEGEWEZEN = 2,
  CASE_STATE_CONTACT_ZOEKEN = 3,
  CASE_STATE_AFGESLOTEN = 8,
  CONTACT_OUTCOME_NIET_THUIS = 2,
  ROLE_WIJKCOACH = 2,
  ROLE_COORDINATOR = 3
};

static msg address(const char* postcode, const char* number) {
  msg a = {{0}, 0};
  put_str(&a, 1, postcode);
  put_str(&a, 2, number);
  return a;
}

static msg signal_request(const char* category, const char* text, int urgency, int informed) {
  msg r = {{0}, 0};
  msg a = address("1234AB", "12");
  put_str(&r, 1, "WK015301");
  put_msg(&r, 2, &a);
  put_str(&r, 3, category);
  if (urgency) put_int(&r, 4, urgency);
  put_str(&r, 6, text);
  if (informed) put_int(&r, 7, informed);
  return r;
}

static msg identity(const char* worker, int role) {
  msg r = {{0}, 0};
  put_str(&r, 1, worker);
  put_str(&r, 2, "Test");
  put_int(&r, 3, role);
  put_str(&r, 4, "WK015301");
  return r;
}

static msg sync_config(const char* url) {
  msg r = {{0}, 0};
  if (url) put_str(&r, 1, url);
  put_int(&r, 8, 20);    /* backoff_base_ms */
  put_int(&r, 9, 200);   /* backoff_cap_ms */
  put_int(&r, 10, 2000); /* watch_wait_ms */
  return r;
}

static msg enroll_request(const char* url, const char* code) {
  msg r = {{0}, 0};
  msg c = sync_config(url);
  put_msg(&r, 1, &c);
  if (code) put_str(&r, 2, code);
  put_str(&r, 3, "c test");
  return r;
}

static const uint8_t kKey[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static char g_dir[256];

static eropaf_store_t* open_store(const char* name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", g_dir, name);
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_store_t* s = eropaf_store_open(path, strlen(path), kKey, sizeof kKey, &e);
  if (!s) fprintf(stderr, "open %s: %s\n", path, e.message ? e.message : "?");
  eropaf_error_clear(&e);
  REQUIRE(s != NULL);
  return s;
}

/* Checks a failed call's error, then clears it. */
static void expect_error(eropaf_error* e, int domain, int code, const char* field, int line) {
  ++g_checks;
  if (e->domain != domain || e->code != code || e->message == NULL || e->message[0] == '\0' ||
      (field != NULL && (e->field == NULL || strcmp(e->field, field) != 0))) {
    ++g_failures;
    fprintf(stderr,
            "line %d: expected domain %d code %d field %s; got domain %d code %d "
            "field %s message \"%s\"\n",
            line, domain, code, field ? field : "-", e->domain, e->code, e->field ? e->field : "-",
            e->message ? e->message : "(null)");
  }
  eropaf_error_clear(e);
}
#define EXPECT_ERROR(e, domain, code, field) expect_error(&(e), domain, code, field, __LINE__)

static const char* env(const char* name) {
  const char* v = getenv(name);
  if (v == NULL || v[0] == '\0') {
    fprintf(stderr, "%s is not set: run this test through with_server.sh\n", name);
    exit(1);
  }
  return v;
}

/* ---- the library and NULL handles ----------------------------------------------------------- */

static void test_library_and_null_handles(void) {
  CHECK(strcmp(eropaf_version(), "0.1.0") == 0);
  eropaf_error_clear(NULL);
  eropaf_buffer_free(NULL);
  eropaf_buffer empty = {NULL, 0};
  eropaf_buffer_free(&empty);
  eropaf_store_release(NULL);
  eropaf_sync_release(NULL);
  eropaf_sync_cancel(NULL);
  eropaf_sync_notify_local_change(NULL);

  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b = {NULL, 0};
  const uint8_t one = 0;
  CHECK(!eropaf_store_set_identity(NULL, &one, 0, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_identity(NULL, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_create_signal(NULL, &one, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_open_case(NULL, &one, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_link_signal(NULL, "a", 1, "b", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_assign_case(NULL, "a", 1, "b", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_pick_up_case(NULL, "a", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_set_priority(NULL, "a", 1, PRIORITY_HOOG, "r", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_add_contact_moment(NULL, &one, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_move_case(NULL, &one, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_resolve_conflict(NULL, "a", 1, 0, "r", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_get_signal(NULL, "a", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_get_case(NULL, "a", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_contact_moments(NULL, "a", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_my_signals(NULL, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_my_cases(NULL, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_wijk_queue(NULL, "w", 1, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_untriaged_signals(NULL, "w", 1, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_conflict_cases(NULL, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_household(NULL, &one, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_outbox(NULL, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(eropaf_store_outbox_size(NULL, &e) == -1);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_enroll(NULL, &one, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(eropaf_sync_new(NULL, &one, 0, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_sync_run(NULL, NULL, NULL, NULL, NULL, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "sync");
  CHECK(!eropaf_sync_run_blocking(NULL, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "sync");
  CHECK(!eropaf_sync_start_watch(NULL, NULL, NULL, NULL, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "sync");
  /* The triage calls. */
  CHECK(!eropaf_store_assign_case_with_reason(NULL, "a", 1, "b", 1, "r", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_link_signal_with_options(NULL, &one, 0, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_reject_signal(NULL, "a", 1, "r", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_mark_duplicate(NULL, "a", 1, "b", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_merge_case(NULL, "a", 1, "b", 1, "r", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_refile_signal(NULL, "a", 1, "w", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_case_moments(NULL, "a", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_case_signals(NULL, "a", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_refusal(NULL, "a", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_case_norms(NULL, "a", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_overview(NULL, &one, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_duplicate_hint(NULL, "a", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_household_hint(NULL, &one, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(!eropaf_store_wijken(NULL, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "store");
  CHECK(b.data == NULL);
  /* A NULL out_error is allowed: the failure is still reported by the return value. */
  CHECK(!eropaf_store_my_cases(NULL, 0, &b, NULL));
  CHECK(b.data == NULL);
}

static void test_open_errors(void) {
  eropaf_error e = EROPAF_ERROR_INIT;
  CHECK(eropaf_store_open(NULL, 5, kKey, 32, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "path");
  CHECK(eropaf_store_open("", 0, kKey, 32, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_REQUIRED_FIELD_MISSING, "path");
  CHECK(eropaf_store_open("x\0y", 3, kKey, 32, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "path");
  CHECK(eropaf_store_open("/tmp/x.db", 9, kKey, 16, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "key");
  CHECK(eropaf_store_open("/tmp/x.db", 9, NULL, 32, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "key");
  const char* bad = "/nonexistent-dir/sub/store.db";
  CHECK(eropaf_store_open(bad, strlen(bad), kKey, 32, &e) == NULL);
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_IO_ERROR);
  eropaf_error_clear(&e);

  /* The right file with the wrong key. */
  eropaf_store_t* s = open_store("keyed");
  eropaf_store_release(s);
  char path[512];
  snprintf(path, sizeof path, "%s/keyed.db", g_dir);
  uint8_t other[32];
  memset(other, 7, sizeof other);
  CHECK(eropaf_store_open(path, strlen(path), other, sizeof other, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_CRYPTO, NULL);
}

/* ---- the store, offline ---------------------------------------------------------------------- */

static void test_store_offline(void) {
  eropaf_store_t* s = open_store("coordinator");
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b = {NULL, 0};

  /* Identity: none yet; bad bytes; unknown role; then set. */
  CHECK(eropaf_store_identity(s, &b, &e));
  CHECK(b.data == NULL);
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff};
  CHECK(!eropaf_store_set_identity(s, garbage, sizeof garbage, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_DECODE_ERROR, "identity");
  msg bad_role = identity("co-x", 99);
  CHECK(!eropaf_store_set_identity(s, bad_role.data, bad_role.size, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "role");
  msg id = identity("co-x", ROLE_COORDINATOR);
  REQUIRE(eropaf_store_set_identity(s, id.data, id.size, &e));
  REQUIRE(eropaf_store_identity(s, &b, &e));
  char worker[64];
  get_str(b.data, b.size, 1, worker, sizeof worker);
  CHECK(strcmp(worker, "co-x") == 0);
  CHECK(get_uint(b.data, b.size, 3) == ROLE_COORDINATOR);
  eropaf_buffer_free(&b);
  CHECK(b.data == NULL && b.size == 0);

  /* Signals: the bad ones first, each refused with what was wrong. */
  msg r = signal_request("schulden", "Brieven van de deurwaarder", URGENCY_HOOG, 0);
  CHECK(!eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_REQUIRED_FIELD_MISSING, "informed");
  r = signal_request("bestaat_niet", "x", URGENCY_HOOG, INFORMED_YES);
  CHECK(!eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_UNKNOWN_CATEGORY);
  eropaf_error_clear(&e);
  r = signal_request("schulden", "x", 42, INFORMED_YES);
  CHECK(!eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "urgency");
  r = signal_request("schulden", "\xc3\x28 kapot", URGENCY_HOOG, INFORMED_YES);
  /* proto3 strings must be UTF-8: such bytes are not a NewSignalRequest at all. */
  CHECK(!eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_DECODE_ERROR, "request");
  CHECK(!eropaf_store_create_signal(s, garbage, sizeof garbage, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_DECODE_ERROR, "request");
  CHECK(!eropaf_store_create_signal(s, NULL, 3, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "request");
  r = signal_request("schulden", "ok", URGENCY_HOOG, INFORMED_YES);
  CHECK(!eropaf_store_create_signal(s, r.data, r.size, NULL, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "out_signal");
  CHECK(eropaf_store_outbox_size(s, &e) == 0); /* nothing refused was written */

  REQUIRE(eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  char signal_id[64];
  get_str(b.data, b.size, 1, signal_id, sizeof signal_id);
  CHECK(strlen(signal_id) == 36);
  eropaf_buffer_free(&b);

  REQUIRE(eropaf_store_my_signals(s, 0, &b, &e));
  CHECK(count_field(&b, 1) == 1);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_untriaged_signals(s, "WK015301", 8, 0, &b, &e));
  CHECK(count_field(&b, 1) == 1);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_get_signal(s, signal_id, strlen(signal_id), &b, &e));
  CHECK(b.data != NULL);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_get_signal(s, "nope", 4, &b, &e));
  CHECK(b.data == NULL);

  /* A case for the household, linking the signal. */
  msg c = {{0}, 0};
  msg a = address("1234AB", "12");
  put_str(&c, 1, "WK015301");
  put_msg(&c, 2, &a);
  put_str(&c, 3, "Schulden Dorpsstraat 12");
  put_str(&c, 4, "schulden");
  msg bad_case = c;
  put_int(&bad_case, 5, 17);
  CHECK(!eropaf_store_open_case(s, bad_case.data, bad_case.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "priority");
  REQUIRE(eropaf_store_open_case(s, c.data, c.size, &b, &e));
  char case_id[64];
  get_str(b.data, b.size, 1, case_id, sizeof case_id);
  eropaf_buffer_free(&b);
  const size_t cl = strlen(case_id);

  REQUIRE(eropaf_store_link_signal(s, signal_id, strlen(signal_id), case_id, cl, &e));
  CHECK(!eropaf_store_link_signal(s, "nope", 4, case_id, cl, &e));
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_NOT_FOUND);
  eropaf_error_clear(&e);
  REQUIRE(eropaf_store_untriaged_signals(s, "WK015301", 8, 0, &b, &e));
  CHECK(count_field(&b, 1) == 0);
  CHECK(b.data != NULL); /* an empty list is still a message, not "not found" */
  eropaf_buffer_free(&b);

  REQUIRE(eropaf_store_wijk_queue(s, "WK015301", 8, 0, &b, &e));
  CHECK(count_field(&b, 1) == 1);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_set_priority(s, case_id, cl, PRIORITY_HOOG, "buren bellen", 12, &e));
  CHECK(!eropaf_store_set_priority(s, case_id, cl, PRIORITY_HOOG, "", 0, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_REASON_REQUIRED, "reason");
  CHECK(!eropaf_store_set_priority(s, case_id, cl, 0, "r", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "priority");
  CHECK(!eropaf_store_set_priority(s, case_id, cl, 99, "r", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "priority");

  /* Wrong state: a transition the table does not have; a conflict that is not there. */
  msg mv = {{0}, 0};
  put_str(&mv, 1, case_id);
  put_int(&mv, 2, CASE_STATE_AFGESLOTEN);
  put_str(&mv, 3, "klaar");
  put_int(&mv, 4, 1);
  CHECK(!eropaf_store_move_case(s, mv.data, mv.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_TRANSITION_NOT_ALLOWED, "to");
  msg mv_bad = {{0}, 0};
  put_str(&mv_bad, 1, case_id);
  put_int(&mv_bad, 2, 1234);
  CHECK(!eropaf_store_move_case(s, mv_bad.data, mv_bad.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "to");
  CHECK(!eropaf_store_resolve_conflict(s, case_id, cl, 0, "x", 1, &e));
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_FAILED_PRECONDITION);
  eropaf_error_clear(&e);
  CHECK(!eropaf_store_resolve_conflict(s, case_id, cl, 77, "x", 1, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "to_state");
  CHECK(!eropaf_store_pick_up_case(s, case_id, cl, &e)); /* a coordinator does not pick up */
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code != EROPAF_ERROR_OK);
  eropaf_error_clear(&e);

  REQUIRE(eropaf_store_assign_case(s, case_id, cl, "wc-1", 4, &e));
  REQUIRE(eropaf_store_get_case(s, case_id, cl, &b, &e));
  REQUIRE(b.data != NULL);
  const uint8_t* state = NULL;
  size_t state_len = 0;
  REQUIRE(find_field(b.data, b.size, 10, 0, &state, &state_len, NULL) == 1);
  CHECK(get_uint(state, state_len, 1) == CASE_STATE_TOEGEWEZEN);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_get_case(s, "nope", 4, &b, &e));
  CHECK(b.data == NULL);

  msg mv2 = {{0}, 0};
  put_str(&mv2, 1, case_id);
  put_int(&mv2, 2, CASE_STATE_CONTACT_ZOEKEN);
  REQUIRE(eropaf_store_move_case(s, mv2.data, mv2.size, &b, &e));
  CHECK(get_uint(b.data, b.size, 5) == CASE_STATE_CONTACT_ZOEKEN);
  eropaf_buffer_free(&b);

  msg cm = {{0}, 0};
  put_str(&cm, 1, case_id);
  put_int(&cm, 3, CONTACT_OUTCOME_NIET_THUIS);
  put_str(&cm, 4, "Niemand thuis, briefje achtergelaten");
  REQUIRE(eropaf_store_add_contact_moment(s, cm.data, cm.size, &b, &e));
  eropaf_buffer_free(&b);
  msg cm_bad = cm;
  put_int(&cm_bad, 2, 55);
  CHECK(!eropaf_store_add_contact_moment(s, cm_bad.data, cm_bad.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "kind");
  msg cm_none = {{0}, 0};
  put_str(&cm_none, 1, case_id);
  CHECK(!eropaf_store_add_contact_moment(s, cm_none.data, cm_none.size, &b, &e));
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_REQUIRED_FIELD_MISSING);
  eropaf_error_clear(&e);
  REQUIRE(eropaf_store_contact_moments(s, case_id, cl, &b, &e));
  CHECK(count_field(&b, 1) == 1);
  eropaf_buffer_free(&b);

  /* The household at the address: one signal, one case, one moment, two transitions. */
  msg here = address("1234 ab", "12");
  REQUIRE(eropaf_store_household(s, here.data, here.size, &b, &e));
  CHECK(count_field(&b, 2) == 1);
  CHECK(count_field(&b, 3) == 1);
  CHECK(count_field(&b, 4) == 1);
  CHECK(count_field(&b, 5) == 2);
  eropaf_buffer_free(&b);
  msg nowhere = address("", "12");
  CHECK(!eropaf_store_household(s, nowhere.data, nowhere.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_REQUIRED_FIELD_MISSING, "address.postcode");

  REQUIRE(eropaf_store_my_cases(s, 0, &b, &e)); /* assigned to wc-1, not to me */
  CHECK(count_field(&b, 1) == 0);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_conflict_cases(s, 0, &b, &e));
  CHECK(count_field(&b, 1) == 0);
  eropaf_buffer_free(&b);

  const int64_t pending = eropaf_store_outbox_size(s, &e);
  CHECK(pending >= 6);
  REQUIRE(eropaf_store_outbox(s, 0, &b, &e));
  CHECK(count_field(&b, 1) == pending);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_outbox(s, 2, &b, &e));
  CHECK(count_field(&b, 1) == 2);
  eropaf_buffer_free(&b);

  /* Not enrolled: no sync client. */
  msg cfg = sync_config("http://127.0.0.1:1");
  CHECK(eropaf_sync_new(s, cfg.data, cfg.size, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_FAILED_PRECONDITION, NULL);

  eropaf_store_release(s);
}

/* ---- triage, offline ------------------------------------------------------------------------ */

enum {
  TRIAGE_STATE_NIEUW = 1,
  TRIAGE_STATE_GEKOPPELD = 2,
  TRIAGE_STATE_DUPLICAAT = 3,
  TRIAGE_STATE_AFGEWEZEN = 4,
  NORM_STATE_OPEN = 1,
  NORM_STATE_MISSED = 3,
  OUTBOX_STATUS_REFUSED = 2,
  RECORD_KIND_SIGNAL = 1,
  RECORD_KIND_CASE = 2,
  NOTICE_ASSIGNED_TO_ME = 1
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A signal at 1234AB `number`; its id into `id`. */
static void make_signal(eropaf_store_t* s, const char* number, const char* text, char* id) {
  msg r = {{0}, 0};
  msg a = address("1234AB", number);
  put_str(&r, 1, "WK015301");
  put_msg(&r, 2, &a);
  put_str(&r, 3, "schulden");
  put_int(&r, 4, URGENCY_HOOG);
  put_str(&r, 6, text);
  put_int(&r, 7, INFORMED_YES);
  eropaf_buffer b = {NULL, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  REQUIRE(eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  get_str(b.data, b.size, 1, id, 64);
  eropaf_buffer_free(&b);
}

/* The value (field 1) of the versioned field `field` of a message. */
static uint64_t versioned_uint(const eropaf_buffer* b, int field) {
  const uint8_t* p = NULL;
  size_t n = 0;
  if (find_field(b->data, b->size, field, 0, &p, &n, NULL) <= 0) return 0;
  return get_uint(p, n, 1);
}

static void versioned_str(const eropaf_buffer* b, int field, char* out, size_t cap) {
  const uint8_t* p = NULL;
  size_t n = 0;
  out[0] = '\0';
  if (find_field(b->data, b->size, field, 0, &p, &n, NULL) > 0) get_str(p, n, 1, out, cap);
}

/* The triage state of a signal this store holds. */
static uint64_t triage_state(eropaf_store_t* s, const char* signal_id) {
  eropaf_buffer b = {NULL, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  REQUIRE(eropaf_store_get_signal(s, signal_id, strlen(signal_id), &b, &e));
  REQUIRE(b.data != NULL);
  const uint64_t v = versioned_uint(&b, 5);
  eropaf_buffer_free(&b);
  return v;
}

static msg overview_query(int64_t at_ms) {
  msg q = {{0}, 0};
  if (at_ms) put_int(&q, 7, at_ms);
  return q;
}

/* Every triage call of eropaf.h on a coordinator's store without a server: the happy path, a
 * refusal with its domain, code and field, and what each left behind. */
static void test_triage_offline(void) {
  eropaf_store_t* s = open_store("triage");
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b = {NULL, 0};
  msg id = identity("co-t", ROLE_COORDINATOR);
  REQUIRE(eropaf_store_set_identity(s, id.data, id.size, &e));

  char s1[64], s2[64], s3[64], s4[64], s5[64];
  make_signal(s, "20", "Huur niet betaald", s1);
  make_signal(s, "20", "Buurvrouw meldt brieven", s2);
  make_signal(s, "22", "Ander adres", s3);
  make_signal(s, "24", "Geen zorgsignaal", s4);
  make_signal(s, "20", "Derde melding", s5);

  /* Duplicate hints: s1's household has two other recent signals and no open case yet. */
  REQUIRE(eropaf_store_duplicate_hint(s, s1, strlen(s1), &b, &e));
  CHECK(b.data != NULL);
  CHECK(get_uint(b.data, b.size, 2) == 2);
  CHECK(count_field(&b, 1) == 0);
  eropaf_buffer_free(&b);
  CHECK(!eropaf_store_duplicate_hint(s, "0190aaaa-0000-7000-8000-000000000000", 36, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_NOT_FOUND, NULL);
  CHECK(!eropaf_store_duplicate_hint(s, NULL, 4, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "signal_id");
  msg here = address("1234AB", "20");
  REQUIRE(eropaf_store_household_hint(s, here.data, here.size, &b, &e));
  CHECK(get_uint(b.data, b.size, 2) == 3);
  eropaf_buffer_free(&b);
  msg nowhere = address("", "20");
  CHECK(!eropaf_store_household_hint(s, nowhere.data, nowhere.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_REQUIRED_FIELD_MISSING, "address.postcode");
  const uint8_t garbage[] = {0xff, 0xff, 0xff};
  CHECK(!eropaf_store_household_hint(s, garbage, sizeof garbage, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_DECODE_ERROR, "address");

  /* A case from a signal: wijk, address and categories copied, the signal linked. */
  msg from = {{0}, 0};
  put_str(&from, 8, s1);
  REQUIRE(eropaf_store_open_case(s, from.data, from.size, &b, &e));
  char c1[64], title[128], wijk[32];
  get_str(b.data, b.size, 1, c1, sizeof c1);
  versioned_str(&b, 8, title, sizeof title);
  versioned_str(&b, 5, wijk, sizeof wijk);
  CHECK(title[0] != '\0');
  CHECK(strcmp(wijk, "WK015301") == 0);
  eropaf_buffer_free(&b);
  CHECK(triage_state(s, s1) == TRIAGE_STATE_GEKOPPELD);
  /* The household has an open case now: a second one only on purpose. */
  msg again = {{0}, 0};
  put_str(&again, 8, s2);
  CHECK(!eropaf_store_open_case(s, again.data, again.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_ALREADY_EXISTS, "address");
  put_int(&again, 5, PRIORITY_HOOG);
  put_str(&again, 7, "twee melders, spoed");
  put_int(&again, 9, 1);
  REQUIRE(eropaf_store_open_case(s, again.data, again.size, &b, &e));
  char c2[64];
  get_str(b.data, b.size, 1, c2, sizeof c2);
  CHECK(versioned_uint(&b, 12) == PRIORITY_HOOG);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_duplicate_hint(s, s5, strlen(s5), &b, &e));
  CHECK(count_field(&b, 1) == 2); /* both open cases of the household */
  eropaf_buffer_free(&b);

  /* Linking a signal of another household needs force and a reason. */
  msg link = {{0}, 0};
  put_str(&link, 1, s3);
  put_str(&link, 2, c1);
  CHECK(!eropaf_store_link_signal_with_options(s, link.data, link.size, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_FAILED_PRECONDITION, "signal_id");
  msg link_forced = link;
  put_int(&link_forced, 3, 1);
  CHECK(!eropaf_store_link_signal_with_options(s, link_forced.data, link_forced.size, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_FAILED_PRECONDITION, "signal_id");
  put_str(&link_forced, 4, "zelfde gezin, ander huisnummer");
  REQUIRE(eropaf_store_link_signal_with_options(s, link_forced.data, link_forced.size, &e));
  CHECK(triage_state(s, s3) == TRIAGE_STATE_GEKOPPELD);
  msg link_empty = {{0}, 0};
  put_str(&link_empty, 2, c1);
  CHECK(!eropaf_store_link_signal_with_options(s, link_empty.data, link_empty.size, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_REQUIRED_FIELD_MISSING, "signal_id");
  CHECK(!eropaf_store_link_signal_with_options(s, garbage, sizeof garbage, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_DECODE_ERROR, "request");
  REQUIRE(eropaf_store_case_signals(s, c1, strlen(c1), &b, &e));
  CHECK(count_field(&b, 1) == 2);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_case_signals(s, "nope", 4, &b, &e));
  CHECK(b.data != NULL && count_field(&b, 1) == 0);
  eropaf_buffer_free(&b);

  /* Reject: a reason is required; the signal is afgewezen. */
  CHECK(!eropaf_store_reject_signal(s, s4, strlen(s4), "", 0, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_REASON_REQUIRED, "reason");
  CHECK(!eropaf_store_reject_signal(s, s4, strlen(s4), NULL, 3, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "reason");
  CHECK(triage_state(s, s4) == TRIAGE_STATE_NIEUW);
  REQUIRE(eropaf_store_reject_signal(s, s4, strlen(s4), "geen zorgsignaal", 16, &e));
  CHECK(triage_state(s, s4) == TRIAGE_STATE_AFGEWEZEN);

  /* Duplicate: not of itself, not of a rejected one; then of s1. */
  CHECK(!eropaf_store_mark_duplicate(s, s5, strlen(s5), s5, strlen(s5), &e));
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_INVALID_ARGUMENT);
  eropaf_error_clear(&e);
  CHECK(!eropaf_store_mark_duplicate(s, s5, strlen(s5), s4, strlen(s4), &e));
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_FAILED_PRECONDITION);
  eropaf_error_clear(&e);
  REQUIRE(eropaf_store_mark_duplicate(s, s5, strlen(s5), s1, strlen(s1), &e));
  CHECK(triage_state(s, s5) == TRIAGE_STATE_DUPLICAAT);
  REQUIRE(eropaf_store_untriaged_signals(s, "WK015301", 8, 0, &b, &e));
  CHECK(count_field(&b, 1) == 0); /* every signal triaged */
  eropaf_buffer_free(&b);

  /* Norms of one case: first attempt due, not yet contacted, open. */
  REQUIRE(eropaf_store_case_norms(s, c1, strlen(c1), &b, &e));
  REQUIRE(b.data != NULL);
  {
    const uint8_t* clock = NULL;
    size_t clock_len = 0;
    REQUIRE(find_field(b.data, b.size, 4, 0, &clock, &clock_len, NULL) == 1);
    CHECK(get_uint(clock, clock_len, 1) > (uint64_t)now_ms());
    CHECK(find_field(clock, clock_len, 2, 0, NULL, NULL, NULL) == 0); /* no contact yet */
    CHECK(get_uint(clock, clock_len, 3) == NORM_STATE_OPEN);
    CHECK(count_field(&b, 1) == 1);          /* the case itself */
    CHECK(get_uint(b.data, b.size, 2) != 0); /* a priority */
  }
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_case_norms(s, "nope", 4, &b, &e));
  CHECK(b.data == NULL);

  /* The overview: both open cases now; both overdue sixty days on; a bad state refused. */
  msg q = overview_query(0);
  REQUIRE(eropaf_store_overview(s, q.data, q.size, &b, &e));
  CHECK(count_field(&b, 1) == 2);
  CHECK(get_uint(b.data, b.size, 2) == 2);
  CHECK(get_uint(b.data, b.size, 3) == 0);
  eropaf_buffer_free(&b);
  msg late = overview_query(now_ms() + 60LL * 24 * 3600 * 1000);
  REQUIRE(eropaf_store_overview(s, late.data, late.size, &b, &e));
  CHECK(get_uint(b.data, b.size, 3) == 2);
  {
    const uint8_t* row = NULL;
    size_t row_len = 0;
    REQUIRE(find_field(b.data, b.size, 1, 0, &row, &row_len, NULL) == 2);
    CHECK(get_uint(row, row_len, 6) == 1); /* overdue */
    const uint8_t* clock = NULL;
    size_t clock_len = 0;
    REQUIRE(find_field(row, row_len, 4, 0, &clock, &clock_len, NULL) == 1);
    CHECK(get_uint(clock, clock_len, 3) == NORM_STATE_MISSED);
    CHECK(get_uint(clock, clock_len, 4) >= 1); /* days late */
  }
  eropaf_buffer_free(&b);
  msg overdue_now = overview_query(0);
  put_int(&overdue_now, 5, 1);
  REQUIRE(eropaf_store_overview(s, overdue_now.data, overdue_now.size, &b, &e));
  CHECK(count_field(&b, 1) == 0);
  eropaf_buffer_free(&b);
  msg limited = overview_query(0);
  put_int(&limited, 6, 1);
  REQUIRE(eropaf_store_overview(s, limited.data, limited.size, &b, &e));
  CHECK(count_field(&b, 1) == 1);
  CHECK(get_uint(b.data, b.size, 2) == 2); /* total counts every match */
  eropaf_buffer_free(&b);
  msg unassigned = overview_query(0);
  put_str(&unassigned, 2, "");
  REQUIRE(eropaf_store_overview(s, unassigned.data, unassigned.size, &b, &e));
  CHECK(count_field(&b, 1) == 2);
  eropaf_buffer_free(&b);
  msg bad_state = overview_query(0);
  put_int(&bad_state, 3, 99);
  CHECK(!eropaf_store_overview(s, bad_state.data, bad_state.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "state");
  msg bad_now = overview_query(-5);
  CHECK(!eropaf_store_overview(s, bad_now.data, bad_now.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "now_ms");
  msg bad_category = overview_query(0);
  put_str(&bad_category, 4, "bestaat_niet");
  CHECK(!eropaf_store_overview(s, bad_category.data, bad_category.size, &b, &e));
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_UNKNOWN_CATEGORY);
  eropaf_error_clear(&e);
  msg other_wijk = overview_query(0);
  put_str(&other_wijk, 1, "WK036302");
  CHECK(!eropaf_store_overview(s, other_wijk.data, other_wijk.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_PERMISSION_DENIED, "wijk");
  CHECK(!eropaf_store_overview(s, garbage, sizeof garbage, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_DECODE_ERROR, "query");

  /* Assign with a reason: a history entry. */
  CHECK(!eropaf_store_assign_case_with_reason(s, c1, strlen(c1), "wc-1", 4, NULL, 2, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "reason");
  REQUIRE(
      eropaf_store_assign_case_with_reason(s, c1, strlen(c1), "wc-1", 4, "wijk van wc-1", 13, &e));
  REQUIRE(eropaf_store_get_case(s, c1, strlen(c1), &b, &e));
  CHECK(count_field(&b, 20) == 1);
  {
    const uint8_t* h = NULL;
    size_t h_len = 0;
    char to[32], reason[64];
    REQUIRE(find_field(b.data, b.size, 20, 0, &h, &h_len, NULL) == 1);
    get_str(h, h_len, 7, to, sizeof to);
    get_str(h, h_len, 8, reason, sizeof reason);
    CHECK(strcmp(to, "wc-1") == 0);
    CHECK(strcmp(reason, "wijk van wc-1") == 0);
  }
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_overview(s, unassigned.data, unassigned.size, &b, &e));
  CHECK(count_field(&b, 1) == 1); /* c2 only */
  eropaf_buffer_free(&b);
  msg of_wc1 = overview_query(0);
  put_str(&of_wc1, 2, "wc-1");
  REQUIRE(eropaf_store_overview(s, of_wc1.data, of_wc1.size, &b, &e));
  CHECK(count_field(&b, 1) == 1); /* c1 only */
  eropaf_buffer_free(&b);

  /* Merge c2 into c1: its moment follows, it is closed with merged_into. */
  msg cm = {{0}, 0};
  put_str(&cm, 1, c2);
  put_int(&cm, 3, CONTACT_OUTCOME_NIET_THUIS);
  REQUIRE(eropaf_store_add_contact_moment(s, cm.data, cm.size, &b, &e));
  eropaf_buffer_free(&b);
  CHECK(!eropaf_store_merge_case(s, c1, strlen(c1), c1, strlen(c1), "x", 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_INVALID_ARGUMENT, "into_id");
  CHECK(!eropaf_store_merge_case(s, c2, strlen(c2), c1, strlen(c1), "x", 1, NULL, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "out_case");
  REQUIRE(
      eropaf_store_merge_case(s, c2, strlen(c2), c1, strlen(c1), "zelfde huishouden", 17, &b, &e));
  {
    char target[64];
    get_str(b.data, b.size, 1, target, sizeof target);
    CHECK(strcmp(target, c1) == 0);
  }
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_get_case(s, c2, strlen(c2), &b, &e));
  {
    char into[64];
    versioned_str(&b, 16, into, sizeof into);
    CHECK(strcmp(into, c1) == 0);
    CHECK(versioned_uint(&b, 10) == CASE_STATE_AFGESLOTEN);
  }
  eropaf_buffer_free(&b);
  CHECK(!eropaf_store_merge_case(s, c2, strlen(c2), c1, strlen(c1), "nogmaals", 8, &b, &e));
  CHECK(e.domain == EROPAF_DOMAIN_STORE && e.code == EROPAF_ERROR_FAILED_PRECONDITION);
  eropaf_error_clear(&e);
  REQUIRE(eropaf_store_contact_moments(s, c1, strlen(c1), &b, &e));
  CHECK(count_field(&b, 1) == 0); /* its own */
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_case_moments(s, c1, strlen(c1), &b, &e));
  CHECK(count_field(&b, 1) == 1); /* with the merged case's */
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_case_signals(s, c1, strlen(c1), &b, &e));
  CHECK(count_field(&b, 1) == 4); /* s1, s3, s2 from the merged case, s5 the duplicate */
  eropaf_buffer_free(&b);
  CHECK(!eropaf_store_case_moments(s, NULL, 1, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "case_id");

  /* Refusals: nothing was refused here; re-filing a signal the server did not refuse is not. */
  REQUIRE(eropaf_store_refusal(s, s1, strlen(s1), &b, &e));
  CHECK(b.data == NULL);
  CHECK(!eropaf_store_refile_signal(s, s1, strlen(s1), "WK015301", 8, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_FAILED_PRECONDITION, "signal_id");
  CHECK(!eropaf_store_refile_signal(s, s1, strlen(s1), "WK015301", 8, NULL, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "out_signal");

  /* No reference data yet: no wijken, and still a message. */
  REQUIRE(eropaf_store_wijken(s, &b, &e));
  CHECK(b.data != NULL && count_field(&b, 1) == 0);
  eropaf_buffer_free(&b);
  CHECK(!eropaf_store_wijken(s, NULL, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "out_list");
  eropaf_store_release(s);

  /* A wijkcoach sees no overview and triages nothing. */
  eropaf_store_t* coach = open_store("triage-coach");
  msg cid = identity("wc-t", ROLE_WIJKCOACH);
  REQUIRE(eropaf_store_set_identity(coach, cid.data, cid.size, &e));
  char cs[64];
  make_signal(coach, "30", "Gezien bij huisbezoek", cs);
  CHECK(!eropaf_store_overview(coach, q.data, q.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_PERMISSION_DENIED, NULL);
  CHECK(!eropaf_store_reject_signal(coach, cs, strlen(cs), "niet nodig", 10, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_PERMISSION_DENIED, NULL);
  CHECK(triage_state(coach, cs) == TRIAGE_STATE_NIEUW);
  eropaf_store_release(coach);
}

/* ---- a damaged file ------------------------------------------------------------------------ */

/* Overwrites the sealed body of the rows of `table` whose `column` is `id` with bytes that are
 * no seal, through a raw SQLite connection on the store's file. */
static void damage_rows(const char* name, const char* table, const char* column, const char* id) {
  char path[512];
  char sql[256];
  snprintf(path, sizeof path, "%s/%s.db", g_dir, name);
  snprintf(sql, sizeof sql, "UPDATE %s SET body = randomblob(64) WHERE %s = ?1", table, column);
  sqlite3* db = NULL;
  REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = NULL;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(st) == SQLITE_DONE);
  REQUIRE(sqlite3_changes(db) == 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

/* A row the store holds but cannot read is an error in the STORE domain, never "not found". */
static void test_unreadable_rows(void) {
  eropaf_store_t* s = open_store("damaged");
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b = {NULL, 0};
  msg id = identity("co-d", ROLE_COORDINATOR);
  REQUIRE(eropaf_store_set_identity(s, id.data, id.size, &e));
  msg r = signal_request("schulden", "Brieven van de deurwaarder", URGENCY_HOOG, INFORMED_YES);
  REQUIRE(eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  char signal_id[64];
  get_str(b.data, b.size, 1, signal_id, sizeof signal_id);
  eropaf_buffer_free(&b);
  msg c = {{0}, 0};
  msg a = address("1234AB", "12");
  put_str(&c, 1, "WK015301");
  put_msg(&c, 2, &a);
  put_str(&c, 3, "Schulden Dorpsstraat 12");
  put_str(&c, 4, "schulden");
  REQUIRE(eropaf_store_open_case(s, c.data, c.size, &b, &e));
  char case_id[64];
  get_str(b.data, b.size, 1, case_id, sizeof case_id);
  eropaf_buffer_free(&b);
  msg cm = {{0}, 0};
  put_str(&cm, 1, case_id);
  put_int(&cm, 3, CONTACT_OUTCOME_NIET_THUIS);
  REQUIRE(eropaf_store_add_contact_moment(s, cm.data, cm.size, &b, &e));
  eropaf_buffer_free(&b);

  damage_rows("damaged", "signals", "id", signal_id);
  damage_rows("damaged", "cases", "id", case_id);
  damage_rows("damaged", "contact_moments", "case_id", case_id);
  CHECK(!eropaf_store_get_signal(s, signal_id, strlen(signal_id), &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_CRYPTO, NULL);
  CHECK(b.data == NULL);
  CHECK(!eropaf_store_get_case(s, case_id, strlen(case_id), &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_CRYPTO, NULL);
  CHECK(!eropaf_store_contact_moments(s, case_id, strlen(case_id), &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_CRYPTO, NULL);
  CHECK(!eropaf_store_my_signals(s, 0, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_CRYPTO, NULL);
  CHECK(b.data == NULL);
  /* What the store never held is still a successful "not found". */
  REQUIRE(eropaf_store_get_case(s, "nope", 4, &b, &e));
  CHECK(b.data == NULL);
  eropaf_store_release(s);
}

/* ---- enrollment and sync against the real server --------------------------------------------- */

typedef struct {
  atomic_int progress_calls;
  atomic_int done_calls;
  atomic_int freed;
  atomic_int pushed;
  atomic_int failed;
  atomic_int nested_refused;
  eropaf_sync_t* sync;
} sync_ctx;

static void on_progress(void* ctx, const uint8_t* p, size_t n) {
  sync_ctx* c = ctx;
  (void)p;
  (void)n;
  atomic_fetch_add(&c->progress_calls, 1);
}

static void on_done(void* ctx, const uint8_t* result, size_t n, const eropaf_error* error) {
  sync_ctx* c = ctx;
  if (error != NULL) {
    fprintf(stderr, "sync failed: %s\n", error->message);
    atomic_fetch_add(&c->failed, 1);
  } else {
    atomic_fetch_add(&c->pushed, (int)get_uint(result, n, 1));
  }
  /* Waiting for a sync from inside one is refused, not a deadlock. */
  eropaf_buffer b = {NULL, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (c->sync != NULL && !eropaf_sync_run_blocking(c->sync, &b, &e) &&
      e.code == EROPAF_ERROR_FAILED_PRECONDITION) {
    atomic_fetch_add(&c->nested_refused, 1);
  }
  eropaf_error_clear(&e);
  atomic_fetch_add(&c->done_calls, 1);
}

static void free_ctx(void* ctx) {
  sync_ctx* c = ctx;
  atomic_fetch_add(&c->freed, 1);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int wait_for(atomic_int* v, int at_least, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 5) {
    if (atomic_load(v) >= at_least) return 1;
    sleep_ms(5);
  }
  return atomic_load(v) >= at_least;
}

static eropaf_store_t* enrolled_store(const char* name, const char* code_env) {
  eropaf_store_t* s = open_store(name);
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b = {NULL, 0};
  msg req = enroll_request(env("EROPAF_TEST_URL"), env(code_env));
  if (!eropaf_enroll(s, req.data, req.size, &b, &e)) {
    fprintf(stderr, "enroll: %s\n", e.message);
    exit(1);
  }
  eropaf_buffer_free(&b);
  return s;
}

static void test_enroll_and_sync(void) {
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b = {NULL, 0};
  const char* url = env("EROPAF_TEST_URL");

  eropaf_store_t* s = open_store("enrolling");
  msg no_code = enroll_request(url, NULL);
  CHECK(!eropaf_enroll(s, no_code.data, no_code.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_REQUIRED_FIELD_MISSING, "code");
  msg bad_url = enroll_request("ftp://example", "abc");
  CHECK(!eropaf_enroll(s, bad_url.data, bad_url.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "server_url");
  msg wrong_code = enroll_request(url, "not-a-code");
  CHECK(!eropaf_enroll(s, wrong_code.data, wrong_code.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_SYNC, EROPAF_ERROR_UNAUTHENTICATED, NULL);
  msg req = enroll_request(url, env("EROPAF_TEST_CODE_CO1"));
  REQUIRE(eropaf_enroll(s, req.data, req.size, &b, &e));
  char worker[64];
  get_str(b.data, b.size, 1, worker, sizeof worker);
  CHECK(strcmp(worker, "co-1") == 0);
  eropaf_buffer_free(&b);
  /* The code was one-time. */
  eropaf_store_t* again = open_store("enrolling-again");
  CHECK(!eropaf_enroll(again, req.data, req.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_SYNC, EROPAF_ERROR_UNAUTHENTICATED, NULL);
  eropaf_store_release(again);

  const uint8_t garbage[] = {0x0a, 0x99};
  CHECK(eropaf_sync_new(s, garbage, sizeof garbage, &e) == NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_DECODE_ERROR, "config");
  msg cfg = sync_config(NULL); /* the enrolled server */
  eropaf_sync_t* sync = eropaf_sync_new(s, cfg.data, cfg.size, &e);
  REQUIRE(sync != NULL);

  msg r = signal_request("overlast", "Geluidsoverlast 's nachts", URGENCY_HOOG, INFORMED_YES);
  REQUIRE(eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_sync_run_blocking(sync, &b, &e));
  CHECK(get_uint(b.data, b.size, 1) == 1); /* pushed */
  eropaf_buffer_free(&b);
  CHECK(eropaf_store_outbox_size(s, &e) == 0);

  /* A queued sync with callbacks: progress, done, and ctx_free once. */
  CHECK(!eropaf_sync_run(sync, on_progress, NULL, NULL, NULL, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_ABI, EROPAF_ERROR_INVALID_ARGUMENT, "done");
  sync_ctx c;
  memset(&c, 0, sizeof c);
  c.sync = sync;
  REQUIRE(eropaf_store_create_signal(s, r.data, r.size, &b, &e));
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_sync_run(sync, on_progress, on_done, &c, free_ctx, &e));
  REQUIRE(wait_for(&c.freed, 1, 10000));
  CHECK(atomic_load(&c.done_calls) == 1);
  CHECK(atomic_load(&c.failed) == 0);
  CHECK(atomic_load(&c.pushed) == 1);
  CHECK(atomic_load(&c.progress_calls) >= 1);
  CHECK(atomic_load(&c.nested_refused) == 1);
  CHECK(atomic_load(&c.freed) == 1);

  /* A coach's device receives the case assigned to them. */
  eropaf_store_t* coach = enrolled_store("coach", "EROPAF_TEST_CODE_WC1");
  eropaf_sync_t* coach_sync = eropaf_sync_new(coach, cfg.data, cfg.size, &e);
  REQUIRE(coach_sync != NULL);
  msg c1 = {{0}, 0};
  msg a = address("1234AB", "14");
  put_str(&c1, 1, "WK015301");
  put_msg(&c1, 2, &a);
  put_str(&c1, 3, "Vereenzaming");
  put_str(&c1, 4, "vereenzaming");
  REQUIRE(eropaf_store_open_case(s, c1.data, c1.size, &b, &e));
  char case_id[64];
  get_str(b.data, b.size, 1, case_id, sizeof case_id);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_assign_case(s, case_id, strlen(case_id), "wc-1", 4, &e));

  /* Watch mode on the coach: the next round after the coordinator's push brings the case. */
  sync_ctx w;
  memset(&w, 0, sizeof w);
  REQUIRE(eropaf_sync_start_watch(coach_sync, on_done, &w, free_ctx, &e));
  REQUIRE(eropaf_sync_run_blocking(sync, &b, &e));
  eropaf_buffer_free(&b);
  int found = 0;
  for (int i = 0; i < 400 && !found; ++i) {
    REQUIRE(eropaf_store_my_cases(coach, 0, &b, &e));
    found = count_field(&b, 1) == 1;
    eropaf_buffer_free(&b);
    if (!found) sleep_ms(25);
  }
  CHECK(found);
  CHECK(wait_for(&w.done_calls, 1, 10000)); /* on_each runs after the round has applied */
  /* A local write on the coach is pushed by the watching client. */
  msg cm = {{0}, 0};
  put_str(&cm, 1, case_id);
  put_int(&cm, 3, CONTACT_OUTCOME_NIET_THUIS);
  REQUIRE(eropaf_store_add_contact_moment(coach, cm.data, cm.size, &b, &e));
  eropaf_buffer_free(&b);
  eropaf_sync_notify_local_change(coach_sync);
  int pushed = 0;
  for (int i = 0; i < 400 && !pushed; ++i) {
    pushed = eropaf_store_outbox_size(coach, &e) == 0;
    if (!pushed) sleep_ms(25);
  }
  CHECK(pushed);
  eropaf_sync_cancel(coach_sync);
  /* The store handle may go before the sync handle: the sync keeps the store alive. */
  eropaf_store_release(coach);
  eropaf_sync_release(coach_sync);
  CHECK(atomic_load(&w.freed) == 1);

  REQUIRE(eropaf_sync_run_blocking(sync, &b, &e));
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_contact_moments(s, case_id, strlen(case_id), &b, &e));
  CHECK(count_field(&b, 1) == 1);
  eropaf_buffer_free(&b);

  /* A sync queued and then released before it ran still frees its ctx. */
  sync_ctx q;
  memset(&q, 0, sizeof q);
  REQUIRE(eropaf_sync_run(sync, NULL, on_done, &q, free_ctx, &e));
  eropaf_sync_release(sync);
  CHECK(atomic_load(&q.freed) == 1);
  eropaf_store_release(s);
}

/* ---- triage against the real server: refusals, re-filing, the reference data, notices ------- */

static void test_triage_sync(void) {
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b = {NULL, 0};
  eropaf_store_t* co = enrolled_store("triage-co", "EROPAF_TEST_CODE_CO3");
  eropaf_store_t* wc = enrolled_store("triage-wc", "EROPAF_TEST_CODE_WC2");
  msg cfg = sync_config(NULL);
  eropaf_sync_t* co_sync = eropaf_sync_new(co, cfg.data, cfg.size, &e);
  eropaf_sync_t* wc_sync = eropaf_sync_new(wc, cfg.data, cfg.size, &e);
  REQUIRE(co_sync != NULL && wc_sync != NULL);
  REQUIRE(eropaf_sync_run_blocking(co_sync, &b, &e));
  eropaf_buffer_free(&b);

  /* The reference data came with enrollment: the wijk list, and the device refuses a signal
   * for a wijk it does not list. */
  REQUIRE(eropaf_store_wijken(co, &b, &e));
  CHECK(count_field(&b, 1) == 1);
  {
    const uint8_t* w = NULL;
    size_t w_len = 0;
    char code[32];
    REQUIRE(find_field(b.data, b.size, 1, 0, &w, &w_len, NULL) == 1);
    get_str(w, w_len, 1, code, sizeof code);
    CHECK(strcmp(code, "WK015301") == 0);
  }
  eropaf_buffer_free(&b);
  msg r = {{0}, 0};
  msg a = address("1234AB", "40");
  put_str(&r, 1, "WK099999");
  put_msg(&r, 2, &a);
  put_str(&r, 3, "schulden");
  put_str(&r, 6, "Verkeerde wijk");
  put_int(&r, 7, INFORMED_YES);
  CHECK(!eropaf_store_create_signal(co, r.data, r.size, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_INVALID_ARGUMENT, "wijk");

  /* A case, assigned: a colleague the reference data says cannot take it (a zorgmedewerker) is
   * refused on the device, naming the field and the valid colleagues; wc-2 is assigned, with a
   * reason, and the coach's sync says so in a notice. */
  char sig[64];
  make_signal(co, "42", "Post stapelt zich op", sig);
  msg from = {{0}, 0};
  put_str(&from, 8, sig);
  REQUIRE(eropaf_store_open_case(co, from.data, from.size, &b, &e));
  char kase[64];
  get_str(b.data, b.size, 1, kase, sizeof kase);
  eropaf_buffer_free(&b);
  CHECK(!eropaf_store_assign_case_with_reason(co, kase, strlen(kase), "zm-1", 4, "typo", 4, &e));
  CHECK(e.message != NULL && strstr(e.message, "wc-2") != NULL);
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_FAILED_PRECONDITION, "assignee");
  REQUIRE(eropaf_store_assign_case_with_reason(co, kase, strlen(kase), "wc-2", 4, "eerste coach",
                                               12, &e));
  REQUIRE(eropaf_sync_run_blocking(co_sync, &b, &e));
  CHECK(get_uint(b.data, b.size, 1) >= 3); /* signal, case, link, assignment */
  CHECK(get_uint(b.data, b.size, 2) == 0);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_sync_run_blocking(wc_sync, &b, &e));
  int assigned = 0;
  const int notices = count_field(&b, 9);
  for (int i = 0; i < notices; ++i) {
    const uint8_t* n = NULL;
    size_t n_len = 0;
    char cid[64];
    find_field(b.data, b.size, 9, i, &n, &n_len, NULL);
    get_str(n, n_len, 2, cid, sizeof cid);
    if (get_uint(n, n_len, 1) == NOTICE_ASSIGNED_TO_ME && strcmp(cid, kase) == 0) ++assigned;
  }
  CHECK(assigned == 1);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_my_cases(wc, 0, &b, &e));
  CHECK(count_field(&b, 1) == 1);
  eropaf_buffer_free(&b);

  /* A worker the device was never told about is left to the server, which refuses it: the
   * sync result lists the refused change and the store keeps it as geweigerd. */
  REQUIRE(
      eropaf_store_assign_case_with_reason(co, kase, strlen(kase), "wc-nobody", 9, "typo", 4, &e));
  REQUIRE(eropaf_sync_run_blocking(co_sync, &b, &e));
  CHECK(get_uint(b.data, b.size, 2) == 1); /* refused */
  CHECK(count_field(&b, 10) == 1);
  {
    const uint8_t* rc = NULL;
    size_t rc_len = 0;
    char rid[64];
    REQUIRE(find_field(b.data, b.size, 10, 0, &rc, &rc_len, NULL) == 1);
    get_str(rc, rc_len, 1, rid, sizeof rid);
    CHECK(strcmp(rid, kase) == 0);
    CHECK(get_uint(rc, rc_len, 2) == RECORD_KIND_CASE);
    CHECK(find_field(rc, rc_len, 4, 0, NULL, NULL, NULL) == 1); /* the reason */
  }
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_refusal(co, kase, strlen(kase), &b, &e));
  REQUIRE(b.data != NULL);
  CHECK(get_uint(b.data, b.size, 6) == OUTBOX_STATUS_REFUSED);
  CHECK(get_uint(b.data, b.size, 9) == RECORD_KIND_CASE);
  CHECK(count_field(&b, 7) == 1);
  eropaf_buffer_free(&b);

  /* A signal the server refuses: written under a stale role (this device still thinks co-3 is
   * a zorgmedewerker), which the server judges by co-3's real one. Its reporter re-files it. */
  msg stale = identity("co-3", 1 /* zorgmedewerker */);
  REQUIRE(eropaf_store_set_identity(co, stale.data, stale.size, &e));
  char refused_sig[64];
  make_signal(co, "44", "Geweigerd door de server", refused_sig);
  msg real = identity("co-3", ROLE_COORDINATOR);
  REQUIRE(eropaf_store_set_identity(co, real.data, real.size, &e));
  REQUIRE(eropaf_sync_run_blocking(co_sync, &b, &e));
  CHECK(get_uint(b.data, b.size, 2) == 1); /* refused */
  {
    const uint8_t* rc = NULL;
    size_t rc_len = 0;
    char rid[64];
    REQUIRE(find_field(b.data, b.size, 10, 0, &rc, &rc_len, NULL) == 1);
    get_str(rc, rc_len, 1, rid, sizeof rid);
    CHECK(strcmp(rid, refused_sig) == 0);
    CHECK(get_uint(rc, rc_len, 2) == RECORD_KIND_SIGNAL);
  }
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_refusal(co, refused_sig, strlen(refused_sig), &b, &e));
  REQUIRE(b.data != NULL);
  CHECK(get_uint(b.data, b.size, 6) == OUTBOX_STATUS_REFUSED);
  CHECK(get_uint(b.data, b.size, 9) == RECORD_KIND_SIGNAL);
  CHECK(count_field(&b, 7) == 1);
  eropaf_buffer_free(&b);
  REQUIRE(eropaf_store_refusal(co, sig, strlen(sig), &b, &e)); /* accepted: none */
  CHECK(b.data == NULL);
  CHECK(!eropaf_store_refile_signal(co, refused_sig, strlen(refused_sig), "WK099999", 8, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_INVALID_ARGUMENT, "wijk");
  CHECK(!eropaf_store_refile_signal(co, sig, strlen(sig), "WK015301", 8, &b, &e));
  EXPECT_ERROR(e, EROPAF_DOMAIN_STORE, EROPAF_ERROR_FAILED_PRECONDITION, "signal_id");
  REQUIRE(eropaf_store_refile_signal(co, refused_sig, strlen(refused_sig), "WK015301", 8, &b, &e));
  {
    char id[64];
    get_str(b.data, b.size, 1, id, sizeof id);
    CHECK(strcmp(id, refused_sig) == 0);
  }
  eropaf_buffer_free(&b);
  /* Queued again as a pending change; the refused row is gone. (Its content, reporter role
   * included, is unchanged but for the wijk: the server judges it again on the next push.) */
  REQUIRE(eropaf_store_refusal(co, refused_sig, strlen(refused_sig), &b, &e));
  CHECK(b.data == NULL);
  CHECK(eropaf_store_outbox_size(co, &e) == 2); /* it, and the refused assignment */

  eropaf_sync_release(wc_sync);
  eropaf_sync_release(co_sync);
  eropaf_store_release(wc);
  eropaf_store_release(co);
}

/* ---- concurrent use: writers on several threads while a sync runs in the background ---------- */

enum { kWriters = 4, kPerWriter = 40 };

typedef struct {
  eropaf_store_t* store;
  int index;
  atomic_int* errors;
} writer_arg;

static void* writer(void* p) {
  writer_arg* w = p;
  for (int i = 0; i < kPerWriter; ++i) {
    char text[64];
    snprintf(text, sizeof text, "writer %d signal %d", w->index, i);
    msg r = signal_request("schulden", text, URGENCY_HOOG, INFORMED_YES);
    eropaf_buffer b = {NULL, 0};
    eropaf_error e = EROPAF_ERROR_INIT;
    if (!eropaf_store_create_signal(w->store, r.data, r.size, &b, &e)) {
      fprintf(stderr, "writer %d: %s\n", w->index, e.message);
      atomic_fetch_add(w->errors, 1);
    }
    eropaf_error_clear(&e);
    eropaf_buffer_free(&b);
    if (!eropaf_store_my_signals(w->store, 5, &b, &e)) atomic_fetch_add(w->errors, 1);
    eropaf_error_clear(&e);
    eropaf_buffer_free(&b);
  }
  return NULL;
}

static void test_concurrent_use(void) {
  eropaf_store_t* s = enrolled_store("concurrent", "EROPAF_TEST_CODE_CO2");
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b = {NULL, 0};
  msg cfg = sync_config(NULL);
  eropaf_sync_t* sync = eropaf_sync_new(s, cfg.data, cfg.size, &e);
  REQUIRE(sync != NULL);

  atomic_int errors;
  atomic_init(&errors, 0);
  pthread_t threads[kWriters];
  writer_arg args[kWriters];
  for (int i = 0; i < kWriters; ++i) {
    args[i].store = s;
    args[i].index = i;
    args[i].errors = &errors;
    REQUIRE(pthread_create(&threads[i], NULL, writer, &args[i]) == 0);
  }
  /* Background syncs while the writers write. */
  sync_ctx c;
  memset(&c, 0, sizeof c);
  int queued = 0;
  for (int i = 0; i < 8; ++i) {
    REQUIRE(eropaf_sync_run(sync, on_progress, on_done, &c, NULL, &e));
    ++queued;
    sleep_ms(20);
  }
  for (int i = 0; i < kWriters; ++i) pthread_join(threads[i], NULL);
  REQUIRE(wait_for(&c.done_calls, queued, 30000));
  CHECK(atomic_load(&errors) == 0);
  CHECK(atomic_load(&c.failed) == 0);
  REQUIRE(eropaf_sync_run_blocking(sync, &b, &e));
  eropaf_buffer_free(&b);
  CHECK(eropaf_store_outbox_size(s, &e) == 0);
  REQUIRE(eropaf_store_my_signals(s, 0, &b, &e));
  CHECK(count_field(&b, 1) == kWriters * kPerWriter);
  eropaf_buffer_free(&b);
  eropaf_sync_release(sync);
  eropaf_store_release(s);
}

int main(int argc, char** argv) {
  snprintf(g_dir, sizeof g_dir, "%s/eropaf-c-abi.XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  REQUIRE(mkdtemp(g_dir) != NULL);
  REQUIRE(eropaf_live_object_count() == 0);
  if (argc > 1 && strcmp(argv[1], "concurrent") == 0) {
    test_concurrent_use();
  } else {
    test_library_and_null_handles();
    test_open_errors();
    test_store_offline();
    test_triage_offline();
    test_unreadable_rows();
    test_enroll_and_sync();
    test_triage_sync();
    test_concurrent_use();
  }
  const int64_t live = eropaf_live_object_count();
  CHECK(live == 0);
  if (live != 0) fprintf(stderr, "%lld live objects at the end\n", (long long)live);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  printf("c_abi_test: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
