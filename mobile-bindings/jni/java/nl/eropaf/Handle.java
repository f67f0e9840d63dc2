package nl.eropaf;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import nl.eropaf.proto.v1.ErrorCode;

/**
 * A native handle that several threads may use while one of them closes it: calls hold the read
 * lock, close() takes the write lock, so a handle is never released under a running call and a
 * call after close() fails cleanly instead of touching freed memory.
 */
final class Handle {
  interface Call<T> {
    T apply(long handle);
  }

  interface Release {
    void release(long handle);
  }

  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final String what;
  private final Release release;
  private long handle;

  Handle(String what, long handle, Release release) {
    this.what = what;
    this.handle = handle;
    this.release = release;
  }

  <T> T call(Call<T> call) {
    lock.readLock().lock();
    try {
      if (handle == 0) {
        throw new EropafException(EropafException.Domain.ABI,
            ErrorCode.ERROR_CODE_FAILED_PRECONDITION, "the " + what + " is closed", null);
      }
      return call.apply(handle);
    } finally {
      lock.readLock().unlock();
    }
  }

  void close() {
    long h;
    // Waits for calls in progress; later calls see 0. The release itself runs outside the lock,
    // so a sync listener that calls in while close() joins the sync thread is refused, not stuck.
    lock.writeLock().lock();
    try {
      h = handle;
      handle = 0;
    } finally {
      lock.writeLock().unlock();
    }
    if (h != 0) {
      release.release(h);
    }
  }
}
