package nl.eropaf;

import com.google.protobuf.InvalidProtocolBufferException;
import nl.eropaf.proto.v1.ErrorCode;
import nl.eropaf.proto.v1.SyncProgress;
import nl.eropaf.proto.v1.SyncResult;

/** What the native layer calls, on the sync thread: decodes and hands over to the listener. */
final class SyncCallback {
  private final SyncListener listener;

  SyncCallback(SyncListener listener) {
    this.listener = listener;
  }

  void progress(byte[] bytes) {
    try {
      listener.onProgress(SyncProgress.parseFrom(bytes));
    } catch (Throwable ignored) {
      // A listener's exception must not unwind into native code.
    }
  }

  void done(byte[] result, int domain, int code, byte[] message, byte[] field) {
    try {
      if (result != null) {
        SyncResult r;
        try {
          r = SyncResult.parseFrom(result);
        } catch (InvalidProtocolBufferException e) {
          listener.onError(new EropafException(EropafException.Domain.ABI,
              ErrorCode.ERROR_CODE_DECODE_ERROR, "undecodable SyncResult: " + e.getMessage(),
              null));
          return;
        }
        listener.onDone(r);
      } else {
        listener.onError(EropafException.fromNative(domain, code, message, field));
      }
    } catch (Throwable ignored) {
      // As above.
    }
  }
}
