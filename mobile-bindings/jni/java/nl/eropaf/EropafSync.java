package nl.eropaf;

import static nl.eropaf.Messages.parse;

import java.util.Objects;
import nl.eropaf.proto.v1.SyncConfig;
import nl.eropaf.proto.v1.SyncResult;

/**
 * The sync client of an enrolled store: pushes the outbox, pulls what changed, on its own
 * background thread. Listener methods run on that thread.
 *
 * <p>Thread-safety: every method may be called from any thread, while other threads keep
 * writing to the store. {@link #close()} cancels a sync in progress and waits for the thread;
 * after it returns no listener method runs. Do not call {@link #close()} or
 * {@link #syncBlocking()} from a listener.
 */
public final class EropafSync implements AutoCloseable {
  private final Handle handle;

  private EropafSync(long h) {
    handle = new Handle("sync client", h, NativeBridge::syncRelease);
  }

  /**
   * A sync client for {@code store}; an empty {@code config.server_url} uses the server the
   * store enrolled with. FAILED_PRECONDITION when the store is not enrolled.
   */
  public static EropafSync create(EropafStore store, SyncConfig config) {
    byte[] b = config.toByteArray();
    return new EropafSync(store.withHandle(h -> NativeBridge.syncNew(h, b)));
  }

  /** Queues one full sync; the listener hears its progress and its end. */
  public void syncNow(SyncListener listener) {
    SyncCallback cb = new SyncCallback(Objects.requireNonNull(listener, "listener is null"));
    handle.call(h -> {
      NativeBridge.syncRun(h, cb);
      return null;
    });
  }

  /** Runs one full sync and waits for it. */
  public SyncResult syncBlocking() {
    return parse(SyncResult.parser(), handle.call(NativeBridge::syncRunBlocking));
  }

  /** Keeps syncing (long poll) until close(); the listener hears every round. */
  public void startWatch(SyncListener listener) {
    SyncCallback cb = new SyncCallback(Objects.requireNonNull(listener, "listener is null"));
    handle.call(h -> {
      NativeBridge.syncStartWatch(h, cb);
      return null;
    });
  }

  /** A local write happened: a watching client pushes it now. */
  public void notifyLocalChange() {
    handle.call(h -> {
      NativeBridge.syncNotifyLocalChange(h);
      return null;
    });
  }

  /** Cancels the sync in progress; its listener gets CANCELLED. */
  public void cancel() {
    handle.call(h -> {
      NativeBridge.syncCancel(h);
      return null;
    });
  }

  /** Stops the client. Idempotent. */
  @Override
  public void close() {
    handle.close();
  }
}
