package nl.eropaf;

import nl.eropaf.proto.v1.SyncProgress;
import nl.eropaf.proto.v1.SyncResult;

/**
 * Hears how a sync goes. Every method runs on the sync client's own thread (never the UI
 * thread): post to your UI thread from here. An exception thrown by a listener is caught and
 * ignored; it never reaches the sync.
 */
public interface SyncListener {
  /** A step of a long sync: what was pushed and pulled so far. */
  default void onProgress(SyncProgress progress) {}

  /** The sync ended: what was pushed, refused, pulled, evicted, and whether it was revoked. */
  void onDone(SyncResult result);

  /** The sync failed (network, server, cancelled); nothing written locally is lost. */
  void onError(EropafException error);
}
