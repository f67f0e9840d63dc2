package nl.eropaf;

import java.io.File;
import java.nio.file.Files;
import java.util.Arrays;
import nl.eropaf.proto.v1.Address;
import nl.eropaf.proto.v1.Case;
import nl.eropaf.proto.v1.Identity;
import nl.eropaf.proto.v1.Informed;
import nl.eropaf.proto.v1.NewCaseRequest;
import nl.eropaf.proto.v1.NewSignalRequest;
import nl.eropaf.proto.v1.SourceRole;
import nl.eropaf.proto.v1.Urgency;

/**
 * eropaf-bench-jni: create a signal and list my cases (50) through the Java binding (JNI over
 * the C ABI), timed per call, as eropaf-bench-abi times core and the C ABI. Prints p50s in
 * microseconds. Usage: BindingBench [--quick]
 */
public final class BindingBench {
  private BindingBench() {}

  private static double p50(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  public static void main(String[] args) throws Exception {
    boolean quick = args.length > 0 && args[0].equals("--quick");
    int writes = quick ? 20 : 1000;
    int reads = quick ? 50 : 5000;
    int cases = 50;
    File dir = Files.createTempDirectory("eropaf-bench-jni").toFile();
    byte[] key = new byte[32];
    for (int i = 0; i < key.length; i++) {
      key[i] = (byte) (i * 7);
    }
    double[] w = new double[writes];
    double[] r = new double[reads];
    try (EropafStore store = EropafStore.open(new File(dir, "jni.db").getPath(), key)) {
      store.setIdentity(Identity.newBuilder().setWorkerId("co-b").setName("Coordinator")
          .setRole(SourceRole.SOURCE_ROLE_COORDINATOR).addWijken("WK015301").build());
      for (int i = 0; i < cases; i++) {
        Case c = store.openCase(NewCaseRequest.newBuilder().setWijk("WK015301")
            .setAddress(Address.newBuilder().setPostcode("1234AB").setHouseNumber("" + (i + 1)))
            .setTitle("Casus " + i).addCategories(i % 2 == 1 ? "schulden" : "vereenzaming")
            .build());
        store.assignCase(c.getId(), "wc-b");
      }
      store.setIdentity(Identity.newBuilder().setWorkerId("wc-b").setName("Coach")
          .setRole(SourceRole.SOURCE_ROLE_WIJKCOACH).addWijken("WK015301").build());
      NewSignalRequest req = NewSignalRequest.newBuilder().setWijk("WK015301")
          .setAddress(Address.newBuilder().setPostcode("1234AB").setHouseNumber("12"))
          .addCategories("schulden").setUrgency(Urgency.URGENCY_HOOG)
          .setText("Brieven van de deurwaarder op de mat").setInformed(Informed.INFORMED_YES)
          .build();
      // Warm up the JIT on both paths before timing.
      for (int i = 0; i < (quick ? 5 : 200); i++) {
        store.myCases(0);
      }
      for (int i = 0; i < writes; i++) {
        long t = System.nanoTime();
        store.createSignal(req);
        w[i] = (System.nanoTime() - t) / 1000.0;
      }
      for (int i = 0; i < reads; i++) {
        long t = System.nanoTime();
        int n = store.myCases(0).size();
        r[i] = (System.nanoTime() - t) / 1000.0;
        if (n != cases) {
          throw new IllegalStateException("expected " + cases + " cases, got " + n);
        }
      }
    } finally {
      for (File f : dir.listFiles()) {
        f.delete();
      }
      dir.delete();
    }
    System.out.printf("eropaf-bench-jni (%d writes, %d reads of %d cases)%n", writes, reads, cases);
    System.out.printf("   create signal   JNI p50 %8.1f us%n", p50(w));
    System.out.printf("   my cases (50)   JNI p50 %8.1f us%n", p50(r));
    if (Eropaf.liveObjectCount() != 0) {
      throw new IllegalStateException("native objects left: " + Eropaf.liveObjectCount());
    }
  }
}
