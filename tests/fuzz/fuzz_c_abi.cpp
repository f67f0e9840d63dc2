// Fuzz target: arbitrary bytes into every C ABI entry point that takes protobuf bytes or strings
// (and the integer arguments beside them). The first byte picks the entry point; the rest is the
// message, or the string arguments cut from it (halves or thirds).
//
// Checked on every input: no crash or sanitizer report; a failed call fills the error with a
// domain, a code and a message; a successful write returns a buffer; nothing is left alive
// (eropaf_live_object_count back to the one store handle this process keeps open).
//
// Enrollment never leaves the machine: a request that parses has its server URL pointed at a
// closed loopback port (connection refused at once), so the fuzzer measures parsing and
// validation, not DNS.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <type_traits>

#include "eropaf.h"
#include "eropaf/v1/device.pb.h"

namespace {

eropaf_store_t* g_store = nullptr;
std::int64_t g_baseline = 0;

void fail(const char* what) {
  std::fprintf(stderr, "fuzz-c-abi: %s\n", what);
  std::abort();
}

/// Makes the store's worker the coordinator co-fuzz, so fuzzed writes can succeed.
bool setCoordinator(eropaf_store_t* s) {
  eropaf::v1::Identity id;
  id.set_worker_id("co-fuzz");
  id.set_name("Fuzz");
  id.set_role(eropaf::v1::SOURCE_ROLE_COORDINATOR);
  id.add_wijken("WK015301");
  const std::string bytes = id.SerializeAsString();
  eropaf_error e = EROPAF_ERROR_INIT;
  const bool ok = eropaf_store_set_identity(s, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                            bytes.size(), &e);
  eropaf_error_clear(&e);
  return ok;
}

eropaf_store_t* store() {
  if (g_store != nullptr) return g_store;
  char tmpl[] = "/tmp/eropaf-fuzz-c-abi.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail("mkdtemp");
  const std::string path = std::string(tmpl) + "/device.db";
  std::uint8_t key[32];
  for (int i = 0; i < 32; ++i) key[i] = static_cast<std::uint8_t>(i);
  eropaf_error e = EROPAF_ERROR_INIT;
  g_store = eropaf_store_open(path.data(), path.size(), key, sizeof key, &e);
  if (g_store == nullptr) fail("cannot open the store");
  if (!setCoordinator(g_store)) fail("cannot set the identity");
  g_baseline = eropaf_live_object_count();
  return g_store;
}

/// A failed call must say what went wrong.
void checkError(bool ok, eropaf_error& e) {
  if (!ok) {
    if (e.domain == EROPAF_DOMAIN_NONE || e.code == EROPAF_ERROR_OK || e.message == nullptr ||
        e.message[0] == '\0') {
      fail("a failed call without domain, code or message");
    }
  }
  eropaf_error_clear(&e);
}

/// A successful call that returns a message must return a buffer.
void checkWrite(bool ok, eropaf_buffer& b) {
  if (ok && b.data == nullptr) fail("a successful write without a result");
  eropaf_buffer_free(&b);
}

template <class Message>
std::string pointAtClosedPort(const std::uint8_t* data, std::size_t size) {
  Message m;
  if (!m.ParseFromArray(data, static_cast<int>(size))) {
    return std::string(reinterpret_cast<const char*>(data), size);
  }
  eropaf::v1::SyncConfig* c = nullptr;
  if constexpr (std::is_same_v<Message, eropaf::v1::EnrollDeviceRequest>) {
    c = m.mutable_config();
  } else {
    c = &m;
  }
  if (!c->server_url().empty()) c->set_server_url("http://127.0.0.1:9");
  c->set_connect_timeout_ms(200);
  c->set_max_attempts(1);
  return m.SerializeAsString();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  eropaf_store_t* s = store();
  const std::uint8_t op = data[0];
  const std::uint8_t* p = data + 1;
  const std::size_t n = size - 1;
  const char* chars = reinterpret_cast<const char*>(p);
  const std::int32_t number =
      n >= 4 ? static_cast<std::int32_t>(p[0] | p[1] << 8 | p[2] << 16 |
                                         static_cast<std::uint32_t>(p[3]) << 24)
             : static_cast<std::int32_t>(n);
  // Two and three string arguments cut from the same bytes (the triage calls).
  const std::size_t half = n / 2;
  const std::size_t third = n / 3;
  const char* second = chars + half;
  const std::size_t second_len = n - half;
  const char* mid = chars + third;
  const char* last = chars + 2 * third;
  const std::size_t last_len = n - 2 * third;
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_buffer b{nullptr, 0};
  bool ok = false;
  // Ops 0..11 keep their numbers (the committed seeds start with them); the triage calls
  // came later as 12..25.
  switch (op % 26) {
    case 0:
      ok = eropaf_store_create_signal(s, p, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 1:
      ok = eropaf_store_open_case(s, p, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 2:
      ok = eropaf_store_add_contact_moment(s, p, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 3:
      ok = eropaf_store_move_case(s, p, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 4:
      ok = eropaf_store_household(s, p, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 5: {
      // Identity: parse and validate, then put the coordinator back so later inputs can write.
      ok = eropaf_store_set_identity(s, p, n, &e);
      checkError(ok, e);
      ok = setCoordinator(s);
      if (!ok) fail("cannot restore the identity");
      break;
    }
    case 6: {
      const std::string req = pointAtClosedPort<eropaf::v1::EnrollDeviceRequest>(p, n);
      ok = eropaf_enroll(s, reinterpret_cast<const std::uint8_t*>(req.data()), req.size(), &b, &e);
      if (ok) fail("enrolled against a closed port");
      eropaf_buffer_free(&b);
      break;
    }
    case 7: {
      const std::string cfg = pointAtClosedPort<eropaf::v1::SyncConfig>(p, n);
      eropaf_sync_t* sync =
          eropaf_sync_new(s, reinterpret_cast<const std::uint8_t*>(cfg.data()), cfg.size(), &e);
      if (sync != nullptr) fail("a sync client for a store that is not enrolled");
      break;
    }
    case 8:
      ok = eropaf_store_set_priority(s, chars + (n >= 4 ? 4 : n), n >= 4 ? n - 4 : 0, number, chars,
                                     n >= 4 ? 4 : n, &e);
      break;
    case 9:
      ok = eropaf_store_resolve_conflict(s, chars, n / 2, number, chars + n / 2, n - n / 2, &e);
      break;
    case 10:
      ok = eropaf_store_wijk_queue(s, chars, n, static_cast<std::uint32_t>(number) % 50, &b, &e);
      eropaf_buffer_free(&b);
      break;
    case 11:
      ok = eropaf_store_link_signal(s, chars, half, second, second_len, &e);
      break;
    case 12:
      ok = eropaf_store_link_signal_with_options(s, p, n, &e);
      break;
    case 13:
      ok = eropaf_store_overview(s, p, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 14:
      ok = eropaf_store_household_hint(s, p, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 15:
      ok = eropaf_store_assign_case_with_reason(s, chars, third, mid, third, last, last_len, &e);
      break;
    case 16:
      ok = eropaf_store_reject_signal(s, chars, half, second, second_len, &e);
      break;
    case 17:
      ok = eropaf_store_mark_duplicate(s, chars, half, second, second_len, &e);
      break;
    case 18:
      ok = eropaf_store_merge_case(s, chars, third, mid, third, last, last_len, &b, &e);
      checkWrite(ok, b);
      break;
    case 19:
      ok = eropaf_store_refile_signal(s, chars, half, second, second_len, &b, &e);
      checkWrite(ok, b);
      break;
    case 20:
      ok = eropaf_store_case_moments(s, chars, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 21:
      ok = eropaf_store_case_signals(s, chars, n, &b, &e);
      checkWrite(ok, b);
      break;
    case 22:
      ok = eropaf_store_refusal(s, chars, n, &b, &e);  // data NULL: no refusal, not an error
      eropaf_buffer_free(&b);
      break;
    case 23:
      ok = eropaf_store_case_norms(s, chars, n, &b, &e);  // data NULL: not held here
      eropaf_buffer_free(&b);
      break;
    case 24:
      ok = eropaf_store_duplicate_hint(s, chars, n, &b, &e);
      checkWrite(ok, b);
      break;
    default:
      ok = eropaf_store_wijken(s, &b, &e);
      checkWrite(ok, b);
      break;
  }
  checkError(ok, e);
  if (eropaf_live_object_count() != g_baseline) fail("an object was left alive");
  return 0;
}
