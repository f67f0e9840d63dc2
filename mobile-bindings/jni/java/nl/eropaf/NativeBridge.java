package nl.eropaf;

/**
 * The JNI entry points (mobile-bindings/jni/src/eropaf_jni.cpp), one per function of the C ABI.
 * Strings travel as UTF-8 bytes and messages as protobuf bytes; a failure throws
 * {@link EropafException}. Not public: apps use {@link EropafStore} and {@link EropafSync}.
 */
final class NativeBridge {
  static {
    System.loadLibrary("eropaf_jni");
  }

  private NativeBridge() {}

  static native String version();

  static native long liveObjectCount();

  static native long storeOpen(byte[] path, byte[] key);

  static native void storeRelease(long store);

  static native void setIdentity(long store, byte[] identity);

  static native byte[] identity(long store);

  static native byte[] createSignal(long store, byte[] request);

  static native byte[] openCase(long store, byte[] request);

  static native void linkSignal(long store, byte[] signalId, byte[] caseId);

  static native void assignCase(long store, byte[] caseId, byte[] workerId);

  static native void assignCaseWithReason(
      long store, byte[] caseId, byte[] workerId, byte[] reason);

  static native void linkSignalWithOptions(long store, byte[] request);

  static native void rejectSignal(long store, byte[] signalId, byte[] reason);

  static native void markDuplicate(long store, byte[] signalId, byte[] ofSignalId);

  static native byte[] mergeCase(long store, byte[] caseId, byte[] intoId, byte[] reason);

  static native byte[] refileSignal(long store, byte[] signalId, byte[] wijk);

  static native void pickUpCase(long store, byte[] caseId);

  static native void setPriority(long store, byte[] caseId, int priority, byte[] reason);

  static native byte[] addContactMoment(long store, byte[] request);

  static native byte[] moveCase(long store, byte[] request);

  static native void resolveConflict(long store, byte[] caseId, int toState, byte[] reason);

  static native byte[] getSignal(long store, byte[] id);

  static native byte[] getCase(long store, byte[] id);

  static native byte[] contactMoments(long store, byte[] caseId);

  static native byte[] caseMoments(long store, byte[] caseId);

  static native byte[] caseSignals(long store, byte[] caseId);

  static native byte[] refusal(long store, byte[] recordId);

  static native byte[] caseNorms(long store, byte[] caseId);

  static native byte[] overview(long store, byte[] query);

  static native byte[] duplicateHint(long store, byte[] signalId);

  static native byte[] householdHint(long store, byte[] address);

  static native byte[] wijken(long store);

  static native byte[] mySignals(long store, int limit);

  static native byte[] myCases(long store, int limit);

  static native byte[] wijkQueue(long store, byte[] wijk, int limit);

  static native byte[] untriagedSignals(long store, byte[] wijk, int limit);

  static native byte[] conflictCases(long store, int limit);

  static native byte[] household(long store, byte[] address);

  static native byte[] outbox(long store, int limit);

  static native long outboxSize(long store);

  static native byte[] enroll(long store, byte[] request);

  static native long syncNew(long store, byte[] config);

  static native void syncRelease(long sync);

  static native void syncRun(long sync, SyncCallback callback);

  static native byte[] syncRunBlocking(long sync);

  static native void syncStartWatch(long sync, SyncCallback callback);

  static native void syncNotifyLocalChange(long sync);

  static native void syncCancel(long sync);
}
