// JNI glue for nl.eropaf.NativeBridge: each native method calls one function of the C ABI
// (eropaf.h) and nothing else. Strings arrive as UTF-8 byte arrays (the Java side converts, so
// no "modified UTF-8" reaches the library); messages are protobuf bytes; an eropaf_error becomes
// an nl.eropaf.EropafException thrown into Java. No C++ exception leaves this file: every entry
// point is noexcept, and the only allocations that can throw are guarded.
//
// Sync callbacks run on the sync client's thread. Each attaches that thread to the JVM for the
// length of the call (as a daemon, so a running sync never keeps the JVM alive) and detaches it
// again; the listener is held by a global reference that ctx_free deletes.
#include <jni.h>

#include <cstdint>
#include <new>

#include "eropaf.h"

namespace {

JavaVM* g_vm = nullptr;
jclass g_exception = nullptr;       // nl.eropaf.EropafException
jmethodID g_from_native = nullptr;  // static fromNative(int, int, byte[], byte[])
jclass g_callback = nullptr;        // nl.eropaf.SyncCallback
jmethodID g_progress = nullptr;     // progress(byte[])
jmethodID g_done = nullptr;         // done(byte[], int, int, byte[], byte[])

jbyteArray newBytes(JNIEnv* env, const void* data, std::size_t size) {
  if (size > static_cast<std::size_t>(INT32_MAX)) return nullptr;
  jbyteArray a = env->NewByteArray(static_cast<jsize>(size));
  if (a != nullptr && size != 0) {
    env->SetByteArrayRegion(a, 0, static_cast<jsize>(size), static_cast<const jbyte*>(data));
  }
  return a;
}

jbyteArray newString(JNIEnv* env, const char* s) {
  if (s == nullptr) return nullptr;
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  return newBytes(env, s, n);
}

/// Throws the error into Java (and clears it). A pending exception (say, OutOfMemoryError while
/// building this one) is left as it is.
void throwError(JNIEnv* env, eropaf_error& e) {
  if (!env->ExceptionCheck()) {
    jbyteArray message = newString(env, e.message);
    jbyteArray field = newString(env, e.field);
    if (!env->ExceptionCheck()) {
      auto ex = static_cast<jthrowable>(
          env->CallStaticObjectMethod(g_exception, g_from_native, static_cast<jint>(e.domain),
                                      static_cast<jint>(e.code), message, field));
      if (ex != nullptr && !env->ExceptionCheck()) env->Throw(ex);
    }
  }
  eropaf_error_clear(&e);
}

/// An ABI-domain error raised by the glue itself (a negative limit, a failed JNI allocation).
void throwAbi(JNIEnv* env, int32_t code, const char* message, const char* field) {
  if (env->ExceptionCheck()) return;
  jbyteArray m = newString(env, message);
  jbyteArray f = newString(env, field);
  if (env->ExceptionCheck()) return;
  auto ex = static_cast<jthrowable>(
      env->CallStaticObjectMethod(g_exception, g_from_native, static_cast<jint>(EROPAF_DOMAIN_ABI),
                                  static_cast<jint>(code), m, f));
  if (ex != nullptr && !env->ExceptionCheck()) env->Throw(ex);
}

/// A Java byte[] borrowed for one call. A null array is (NULL, 0).
class Bytes {
 public:
  Bytes(JNIEnv* env, jbyteArray array) : env_(env), array_(array) {
    if (array_ != nullptr) {
      size_ = static_cast<std::size_t>(env_->GetArrayLength(array_));
      data_ = env_->GetByteArrayElements(array_, nullptr);
      if (data_ == nullptr) size_ = 0;  // OutOfMemoryError is pending
    }
  }
  ~Bytes() {
    if (data_ != nullptr) env_->ReleaseByteArrayElements(array_, data_, JNI_ABORT);
  }
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;

  bool failed() const { return array_ != nullptr && data_ == nullptr; }
  const uint8_t* u8() const { return reinterpret_cast<const uint8_t*>(data_); }
  const char* chars() const { return reinterpret_cast<const char*>(data_); }
  std::size_t size() const { return size_; }

 private:
  JNIEnv* env_;
  jbyteArray array_;
  jbyte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// A returned buffer as a Java byte[]; null for "not found". Frees the buffer.
jbyteArray toJava(JNIEnv* env, eropaf_buffer& b) {
  jbyteArray out = b.data == nullptr ? nullptr : newBytes(env, b.data, b.size);
  eropaf_buffer_free(&b);
  return out;
}

// A Java object holds its native handle as a long: turning it back into a pointer is the point.
eropaf_store_t* store(jlong h) {
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  return reinterpret_cast<eropaf_store_t*>(static_cast<intptr_t>(h));
}
eropaf_sync_t* syncOf(jlong h) {
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  return reinterpret_cast<eropaf_sync_t*>(static_cast<intptr_t>(h));
}

bool checkLimit(JNIEnv* env, jint limit) {
  if (limit >= 0) return true;
  throwAbi(env, EROPAF_ERROR_INVALID_ARGUMENT, "limit must be 0 (all) or positive", "limit");
  return false;
}

/// Calls a "request bytes in, message out" function of the C ABI.
template <class F>
jbyteArray requestCall(JNIEnv* env, jlong h, jbyteArray request, F f) {
  Bytes in(env, request);
  if (in.failed()) return nullptr;
  eropaf_buffer out{nullptr, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!f(store(h), in.u8(), in.size(), &out, &e)) {
    throwError(env, e);
    return nullptr;
  }
  return toJava(env, out);
}

/// Calls a "list with a limit" function.
template <class F>
jbyteArray listCall(JNIEnv* env, jlong h, jint limit, F f) {
  if (!checkLimit(env, limit)) return nullptr;
  eropaf_buffer out{nullptr, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!f(store(h), static_cast<uint32_t>(limit), &out, &e)) {
    throwError(env, e);
    return nullptr;
  }
  return toJava(env, out);
}

/// Calls an "id in, message (or not found) out" function.
template <class F>
jbyteArray idCall(JNIEnv* env, jlong h, jbyteArray id, F f) {
  Bytes in(env, id);
  if (in.failed()) return nullptr;
  eropaf_buffer out{nullptr, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!f(store(h), in.chars(), in.size(), &out, &e)) {
    throwError(env, e);
    return nullptr;
  }
  return toJava(env, out);
}

/// Calls a "wijk and limit in, list out" function.
template <class F>
jbyteArray wijkListCall(JNIEnv* env, jlong h, jbyteArray wijk, jint limit, F f) {
  if (!checkLimit(env, limit)) return nullptr;
  return idCall(
      env, h, wijk,
      [limit, f](eropaf_store_t* s, const char* w, size_t n, eropaf_buffer* out, eropaf_error* e) {
        return f(s, w, n, static_cast<uint32_t>(limit), out, e);
      });
}

void check(JNIEnv* env, bool ok, eropaf_error& e) {
  if (!ok) throwError(env, e);
}

// --- sync callbacks ------------------------------------------------------------------------------

/// The JNIEnv of the current thread, attaching it (as a daemon) when it is not a Java thread.
class ScopedEnv {
 public:
  ScopedEnv() {
    if (g_vm == nullptr) return;
    const jint rc = g_vm->GetEnv(reinterpret_cast<void**>(&env_), JNI_VERSION_1_6);
    if (rc == JNI_EDETACHED) {
#ifdef __ANDROID__
      if (g_vm->AttachCurrentThreadAsDaemon(&env_, nullptr) == JNI_OK) attached_ = true;
#else
      if (g_vm->AttachCurrentThreadAsDaemon(reinterpret_cast<void**>(&env_), nullptr) == JNI_OK) {
        attached_ = true;
      }
#endif
      if (!attached_) env_ = nullptr;
    } else if (rc != JNI_OK) {
      env_ = nullptr;
    }
  }
  ~ScopedEnv() {
    if (attached_) g_vm->DetachCurrentThread();
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  JNIEnv* get() const { return env_; }

 private:
  JNIEnv* env_ = nullptr;
  bool attached_ = false;
};

struct CallbackRef {
  jobject callback;  // global reference to an nl.eropaf.SyncCallback
};

void onProgress(void* ctx, const uint8_t* progress, size_t len) {
  ScopedEnv scoped;
  JNIEnv* env = scoped.get();
  if (env == nullptr) return;
  jbyteArray a = newBytes(env, progress, len);
  if (a != nullptr) {
    env->CallVoidMethod(static_cast<CallbackRef*>(ctx)->callback, g_progress, a);
    env->DeleteLocalRef(a);
  }
  if (env->ExceptionCheck()) env->ExceptionClear();  // never unwinds into the sync thread
}

void onDone(void* ctx, const uint8_t* result, size_t len, const eropaf_error* error) {
  ScopedEnv scoped;
  JNIEnv* env = scoped.get();
  if (env == nullptr) return;
  jbyteArray r = result != nullptr ? newBytes(env, result, len) : nullptr;
  jbyteArray m = error != nullptr ? newString(env, error->message) : nullptr;
  jbyteArray f = error != nullptr ? newString(env, error->field) : nullptr;
  if (!env->ExceptionCheck()) {
    env->CallVoidMethod(static_cast<CallbackRef*>(ctx)->callback, g_done, r,
                        static_cast<jint>(error != nullptr ? error->domain : 0),
                        static_cast<jint>(error != nullptr ? error->code : 0), m, f);
  }
  if (env->ExceptionCheck()) env->ExceptionClear();
  if (r != nullptr) env->DeleteLocalRef(r);
  if (m != nullptr) env->DeleteLocalRef(m);
  if (f != nullptr) env->DeleteLocalRef(f);
}

void freeCallback(void* ctx) {
  auto* ref = static_cast<CallbackRef*>(ctx);
  ScopedEnv scoped;
  if (JNIEnv* env = scoped.get()) env->DeleteGlobalRef(ref->callback);
  delete ref;
}

/// A global reference to the Java callback, owned by the C ABI from here on (ctx_free).
CallbackRef* newCallbackRef(JNIEnv* env, jobject callback) {
  if (callback == nullptr) {
    throwAbi(env, EROPAF_ERROR_INVALID_ARGUMENT, "listener is null", "listener");
    return nullptr;
  }
  auto* ref = new (std::nothrow) CallbackRef{env->NewGlobalRef(callback)};
  if (ref == nullptr || ref->callback == nullptr) {
    if (ref != nullptr) delete ref;
    throwAbi(env, EROPAF_ERROR_INTERNAL, "out of memory", nullptr);
    return nullptr;
  }
  return ref;
}

jclass globalClass(JNIEnv* env, const char* name) {
  jclass local = env->FindClass(name);
  if (local == nullptr) return nullptr;
  auto global = static_cast<jclass>(env->NewGlobalRef(local));
  env->DeleteLocalRef(local);
  return global;
}

}  // namespace

extern "C" {

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void*) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
  g_vm = vm;
  // Classes are looked up here, on a thread with the app's class loader; the sync thread that
  // calls back later would only see the system class loader.
  g_exception = globalClass(env, "nl/eropaf/EropafException");
  g_callback = globalClass(env, "nl/eropaf/SyncCallback");
  if (g_exception == nullptr || g_callback == nullptr) return JNI_ERR;
  g_from_native =
      env->GetStaticMethodID(g_exception, "fromNative", "(II[B[B)Lnl/eropaf/EropafException;");
  g_progress = env->GetMethodID(g_callback, "progress", "([B)V");
  g_done = env->GetMethodID(g_callback, "done", "([BII[B[B)V");
  if (g_from_native == nullptr || g_progress == nullptr || g_done == nullptr) return JNI_ERR;
  return JNI_VERSION_1_6;
}

#define EROPAF_JNI(ret, name) JNIEXPORT ret JNICALL Java_nl_eropaf_NativeBridge_##name

EROPAF_JNI(jstring, version)(JNIEnv* env, jclass) noexcept {
  return env->NewStringUTF(eropaf_version());
}

EROPAF_JNI(jlong, liveObjectCount)(JNIEnv*, jclass) noexcept {
  return static_cast<jlong>(eropaf_live_object_count());
}

EROPAF_JNI(jlong, storeOpen)(JNIEnv* env, jclass, jbyteArray path, jbyteArray key) noexcept {
  Bytes p(env, path);
  Bytes k(env, key);
  if (p.failed() || k.failed()) return 0;
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_store_t* s = eropaf_store_open(p.chars(), p.size(), k.u8(), k.size(), &e);
  if (s == nullptr) throwError(env, e);
  return static_cast<jlong>(reinterpret_cast<intptr_t>(s));
}

EROPAF_JNI(void, storeRelease)(JNIEnv*, jclass, jlong h) noexcept {
  eropaf_store_release(store(h));
}

EROPAF_JNI(void, setIdentity)(JNIEnv* env, jclass, jlong h, jbyteArray identity) noexcept {
  Bytes in(env, identity);
  if (in.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env, eropaf_store_set_identity(store(h), in.u8(), in.size(), &e), e);
}

EROPAF_JNI(jbyteArray, identity)(JNIEnv* env, jclass, jlong h) noexcept {
  eropaf_buffer out{nullptr, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!eropaf_store_identity(store(h), &out, &e)) {
    throwError(env, e);
    return nullptr;
  }
  return toJava(env, out);
}

EROPAF_JNI(jbyteArray, createSignal)(JNIEnv* env, jclass, jlong h, jbyteArray r) noexcept {
  return requestCall(env, h, r, eropaf_store_create_signal);
}

EROPAF_JNI(jbyteArray, openCase)(JNIEnv* env, jclass, jlong h, jbyteArray r) noexcept {
  return requestCall(env, h, r, eropaf_store_open_case);
}

EROPAF_JNI(void, linkSignal)
(JNIEnv* env, jclass, jlong h, jbyteArray signal_id, jbyteArray case_id) noexcept {
  Bytes s(env, signal_id);
  Bytes c(env, case_id);
  if (s.failed() || c.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env, eropaf_store_link_signal(store(h), s.chars(), s.size(), c.chars(), c.size(), &e), e);
}

EROPAF_JNI(void, assignCase)
(JNIEnv* env, jclass, jlong h, jbyteArray case_id, jbyteArray worker_id) noexcept {
  Bytes c(env, case_id);
  Bytes w(env, worker_id);
  if (c.failed() || w.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env, eropaf_store_assign_case(store(h), c.chars(), c.size(), w.chars(), w.size(), &e), e);
}

EROPAF_JNI(void, assignCaseWithReason)
(JNIEnv* env, jclass, jlong h, jbyteArray case_id, jbyteArray worker_id,
 jbyteArray reason) noexcept {
  Bytes c(env, case_id);
  Bytes w(env, worker_id);
  Bytes r(env, reason);
  if (c.failed() || w.failed() || r.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env,
        eropaf_store_assign_case_with_reason(store(h), c.chars(), c.size(), w.chars(), w.size(),
                                             r.chars(), r.size(), &e),
        e);
}

EROPAF_JNI(void, linkSignalWithOptions)(JNIEnv* env, jclass, jlong h, jbyteArray r) noexcept {
  Bytes in(env, r);
  if (in.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env, eropaf_store_link_signal_with_options(store(h), in.u8(), in.size(), &e), e);
}

EROPAF_JNI(void, rejectSignal)
(JNIEnv* env, jclass, jlong h, jbyteArray signal_id, jbyteArray reason) noexcept {
  Bytes s(env, signal_id);
  Bytes r(env, reason);
  if (s.failed() || r.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env, eropaf_store_reject_signal(store(h), s.chars(), s.size(), r.chars(), r.size(), &e), e);
}

EROPAF_JNI(void, markDuplicate)
(JNIEnv* env, jclass, jlong h, jbyteArray signal_id, jbyteArray of_signal_id) noexcept {
  Bytes s(env, signal_id);
  Bytes o(env, of_signal_id);
  if (s.failed() || o.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env, eropaf_store_mark_duplicate(store(h), s.chars(), s.size(), o.chars(), o.size(), &e),
        e);
}

EROPAF_JNI(jbyteArray, mergeCase)
(JNIEnv* env, jclass, jlong h, jbyteArray case_id, jbyteArray into_id, jbyteArray reason) noexcept {
  Bytes c(env, case_id);
  Bytes i(env, into_id);
  Bytes r(env, reason);
  if (c.failed() || i.failed() || r.failed()) return nullptr;
  eropaf_buffer out{nullptr, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!eropaf_store_merge_case(store(h), c.chars(), c.size(), i.chars(), i.size(), r.chars(),
                               r.size(), &out, &e)) {
    throwError(env, e);
    return nullptr;
  }
  return toJava(env, out);
}

EROPAF_JNI(jbyteArray, refileSignal)
(JNIEnv* env, jclass, jlong h, jbyteArray signal_id, jbyteArray wijk) noexcept {
  Bytes s(env, signal_id);
  Bytes w(env, wijk);
  if (s.failed() || w.failed()) return nullptr;
  eropaf_buffer out{nullptr, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!eropaf_store_refile_signal(store(h), s.chars(), s.size(), w.chars(), w.size(), &out, &e)) {
    throwError(env, e);
    return nullptr;
  }
  return toJava(env, out);
}

EROPAF_JNI(void, pickUpCase)(JNIEnv* env, jclass, jlong h, jbyteArray case_id) noexcept {
  Bytes c(env, case_id);
  if (c.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env, eropaf_store_pick_up_case(store(h), c.chars(), c.size(), &e), e);
}

EROPAF_JNI(void, setPriority)
(JNIEnv* env, jclass, jlong h, jbyteArray case_id, jint priority, jbyteArray reason) noexcept {
  Bytes c(env, case_id);
  Bytes r(env, reason);
  if (c.failed() || r.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env,
        eropaf_store_set_priority(store(h), c.chars(), c.size(), priority, r.chars(), r.size(), &e),
        e);
}

EROPAF_JNI(jbyteArray, addContactMoment)(JNIEnv* env, jclass, jlong h, jbyteArray r) noexcept {
  return requestCall(env, h, r, eropaf_store_add_contact_moment);
}

EROPAF_JNI(jbyteArray, moveCase)(JNIEnv* env, jclass, jlong h, jbyteArray r) noexcept {
  return requestCall(env, h, r, eropaf_store_move_case);
}

EROPAF_JNI(void, resolveConflict)
(JNIEnv* env, jclass, jlong h, jbyteArray case_id, jint to, jbyteArray reason) noexcept {
  Bytes c(env, case_id);
  Bytes r(env, reason);
  if (c.failed() || r.failed()) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  check(env,
        eropaf_store_resolve_conflict(store(h), c.chars(), c.size(), to, r.chars(), r.size(), &e),
        e);
}

EROPAF_JNI(jbyteArray, getSignal)(JNIEnv* env, jclass, jlong h, jbyteArray id) noexcept {
  return idCall(env, h, id, eropaf_store_get_signal);
}

EROPAF_JNI(jbyteArray, getCase)(JNIEnv* env, jclass, jlong h, jbyteArray id) noexcept {
  return idCall(env, h, id, eropaf_store_get_case);
}

EROPAF_JNI(jbyteArray, contactMoments)(JNIEnv* env, jclass, jlong h, jbyteArray id) noexcept {
  return idCall(env, h, id, eropaf_store_contact_moments);
}

EROPAF_JNI(jbyteArray, caseMoments)(JNIEnv* env, jclass, jlong h, jbyteArray id) noexcept {
  return idCall(env, h, id, eropaf_store_case_moments);
}

EROPAF_JNI(jbyteArray, caseSignals)(JNIEnv* env, jclass, jlong h, jbyteArray id) noexcept {
  return idCall(env, h, id, eropaf_store_case_signals);
}

EROPAF_JNI(jbyteArray, refusal)(JNIEnv* env, jclass, jlong h, jbyteArray id) noexcept {
  return idCall(env, h, id, eropaf_store_refusal);
}

EROPAF_JNI(jbyteArray, caseNorms)(JNIEnv* env, jclass, jlong h, jbyteArray id) noexcept {
  return idCall(env, h, id, eropaf_store_case_norms);
}

EROPAF_JNI(jbyteArray, overview)(JNIEnv* env, jclass, jlong h, jbyteArray query) noexcept {
  return requestCall(env, h, query, eropaf_store_overview);
}

EROPAF_JNI(jbyteArray, duplicateHint)(JNIEnv* env, jclass, jlong h, jbyteArray id) noexcept {
  return idCall(env, h, id, eropaf_store_duplicate_hint);
}

EROPAF_JNI(jbyteArray, householdHint)(JNIEnv* env, jclass, jlong h, jbyteArray address) noexcept {
  return requestCall(env, h, address, eropaf_store_household_hint);
}

EROPAF_JNI(jbyteArray, wijken)(JNIEnv* env, jclass, jlong h) noexcept {
  eropaf_buffer out{nullptr, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!eropaf_store_wijken(store(h), &out, &e)) {
    throwError(env, e);
    return nullptr;
  }
  return toJava(env, out);
}

EROPAF_JNI(jbyteArray, mySignals)(JNIEnv* env, jclass, jlong h, jint limit) noexcept {
  return listCall(env, h, limit, eropaf_store_my_signals);
}

EROPAF_JNI(jbyteArray, myCases)(JNIEnv* env, jclass, jlong h, jint limit) noexcept {
  return listCall(env, h, limit, eropaf_store_my_cases);
}

EROPAF_JNI(jbyteArray, wijkQueue)
(JNIEnv* env, jclass, jlong h, jbyteArray wijk, jint limit) noexcept {
  return wijkListCall(env, h, wijk, limit, eropaf_store_wijk_queue);
}

EROPAF_JNI(jbyteArray, untriagedSignals)
(JNIEnv* env, jclass, jlong h, jbyteArray wijk, jint limit) noexcept {
  return wijkListCall(env, h, wijk, limit, eropaf_store_untriaged_signals);
}

EROPAF_JNI(jbyteArray, conflictCases)(JNIEnv* env, jclass, jlong h, jint limit) noexcept {
  return listCall(env, h, limit, eropaf_store_conflict_cases);
}

EROPAF_JNI(jbyteArray, household)(JNIEnv* env, jclass, jlong h, jbyteArray address) noexcept {
  return requestCall(env, h, address, eropaf_store_household);
}

EROPAF_JNI(jbyteArray, outbox)(JNIEnv* env, jclass, jlong h, jint limit) noexcept {
  return listCall(env, h, limit, eropaf_store_outbox);
}

EROPAF_JNI(jlong, outboxSize)(JNIEnv* env, jclass, jlong h) noexcept {
  eropaf_error e = EROPAF_ERROR_INIT;
  const int64_t n = eropaf_store_outbox_size(store(h), &e);
  if (n < 0) throwError(env, e);
  return static_cast<jlong>(n);
}

EROPAF_JNI(jbyteArray, enroll)(JNIEnv* env, jclass, jlong h, jbyteArray r) noexcept {
  return requestCall(env, h, r, eropaf_enroll);
}

EROPAF_JNI(jlong, syncNew)(JNIEnv* env, jclass, jlong h, jbyteArray config) noexcept {
  Bytes in(env, config);
  if (in.failed()) return 0;
  eropaf_error e = EROPAF_ERROR_INIT;
  eropaf_sync_t* s = eropaf_sync_new(store(h), in.u8(), in.size(), &e);
  if (s == nullptr) throwError(env, e);
  return static_cast<jlong>(reinterpret_cast<intptr_t>(s));
}

EROPAF_JNI(void, syncRelease)(JNIEnv*, jclass, jlong h) noexcept { eropaf_sync_release(syncOf(h)); }

EROPAF_JNI(void, syncRun)(JNIEnv* env, jclass, jlong h, jobject callback) noexcept {
  CallbackRef* ref = newCallbackRef(env, callback);
  if (ref == nullptr) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  // On failure the C ABI did not take ctx: free it here.
  if (!eropaf_sync_run(syncOf(h), onProgress, onDone, ref, freeCallback, &e)) {
    freeCallback(ref);
    throwError(env, e);
  }
}

EROPAF_JNI(jbyteArray, syncRunBlocking)(JNIEnv* env, jclass, jlong h) noexcept {
  eropaf_buffer out{nullptr, 0};
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!eropaf_sync_run_blocking(syncOf(h), &out, &e)) {
    throwError(env, e);
    return nullptr;
  }
  return toJava(env, out);
}

EROPAF_JNI(void, syncStartWatch)(JNIEnv* env, jclass, jlong h, jobject callback) noexcept {
  CallbackRef* ref = newCallbackRef(env, callback);
  if (ref == nullptr) return;
  eropaf_error e = EROPAF_ERROR_INIT;
  if (!eropaf_sync_start_watch(syncOf(h), onDone, ref, freeCallback, &e)) {
    freeCallback(ref);
    throwError(env, e);
  }
}

EROPAF_JNI(void, syncNotifyLocalChange)(JNIEnv*, jclass, jlong h) noexcept {
  eropaf_sync_notify_local_change(syncOf(h));
}

EROPAF_JNI(void, syncCancel)(JNIEnv*, jclass, jlong h) noexcept { eropaf_sync_cancel(syncOf(h)); }

}  // extern "C"
