package nl.eropaf;

/** The library as a whole. Thread-safety: every method may be called from any thread. */
public final class Eropaf {
  private Eropaf() {}

  /** The native library's version, "0.1.0". */
  public static String version() {
    return NativeBridge.version();
  }

  /**
   * Native objects alive right now: store and sync handles, buffers, error messages and callback
   * contexts. Zero once every {@link EropafStore} and {@link EropafSync} is closed; a test that
   * ends with more has leaked.
   */
  public static long liveObjectCount() {
    return NativeBridge.liveObjectCount();
  }
}
