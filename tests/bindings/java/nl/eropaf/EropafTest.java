package nl.eropaf;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import nl.eropaf.proto.v1.Address;
import nl.eropaf.proto.v1.Case;
import nl.eropaf.proto.v1.CaseState;
import nl.eropaf.proto.v1.ContactOutcome;
import nl.eropaf.proto.v1.EnrollDeviceRequest;
import nl.eropaf.proto.v1.ErrorCode;
import nl.eropaf.proto.v1.Household;
import nl.eropaf.proto.v1.Identity;
import nl.eropaf.proto.v1.Informed;
import nl.eropaf.proto.v1.MoveCaseRequest;
import nl.eropaf.proto.v1.NewCaseRequest;
import nl.eropaf.proto.v1.NewContactMomentRequest;
import nl.eropaf.proto.v1.NewSignalRequest;
import nl.eropaf.proto.v1.Signal;
import nl.eropaf.proto.v1.SourceRole;
import nl.eropaf.proto.v1.SyncConfig;
import nl.eropaf.proto.v1.SyncProgress;
import nl.eropaf.proto.v1.SyncResult;
import nl.eropaf.proto.v1.Urgency;
import org.junit.After;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The Android binding on the JVM: the Java classes over liberopaf_jni.so over the C ABI, with
 * the real eropaf-server on loopback (started by with_server.sh, which exports its URL and
 * one-time enrollment codes).
 */
public class EropafTest {
  @Rule public TemporaryFolder tmp = new TemporaryFolder();

  private static final String WIJK = "WK015301";

  private static byte[] key(int seed) {
    byte[] k = new byte[32];
    for (int i = 0; i < k.length; i++) {
      k[i] = (byte) (seed + i);
    }
    return k;
  }

  private static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      throw new IllegalStateException(name + " is not set: run through with_server.sh");
    }
    return v;
  }

  private EropafStore open(String name, int seed) throws Exception {
    return EropafStore.open(new File(tmp.getRoot(), name + ".db").getPath(), key(seed));
  }

  private static Address address(String number) {
    return Address.newBuilder().setPostcode("1234AB").setHouseNumber(number).build();
  }

  private static NewSignalRequest signal(String text) {
    return NewSignalRequest.newBuilder()
        .setWijk(WIJK)
        .setAddress(address("12"))
        .addCategories("schulden")
        .setUrgency(Urgency.URGENCY_HOOG)
        .setText(text)
        .setInformed(Informed.INFORMED_YES)
        .build();
  }

  private static SyncConfig config() {
    return SyncConfig.newBuilder().setBackoffBaseMs(20).setBackoffCapMs(200).build();
  }

  private static void expect(ErrorCode code, String field, Runnable r) {
    try {
      r.run();
      fail("expected " + code);
    } catch (EropafException e) {
      assertEquals(e.toString(), code, e.getCode());
      if (field != null) {
        assertEquals(field, e.getField());
      }
      assertFalse(e.getMessage().isEmpty());
    }
  }

  @After
  public void noNativeObjectsLeft() {
    assertEquals("native objects still alive", 0, Eropaf.liveObjectCount());
  }

  @Test
  public void openCreateListAndClose() throws Exception {
    assertEquals("0.1.0", Eropaf.version());
    EropafStore store = open("coordinator", 1);
    assertNull(store.identity());
    store.setIdentity(Identity.newBuilder().setWorkerId("co-x").setName("Coordinator")
        .setRole(SourceRole.SOURCE_ROLE_COORDINATOR).addWijken(WIJK).build());
    assertEquals("co-x", store.identity().getWorkerId());

    Signal s = store.createSignal(signal("Brieven van de deurwaarder"));
    assertEquals(36, s.getId().length());
    assertEquals("Brieven van de deurwaarder", s.getContent().getText());
    assertEquals(1, store.mySignals(0).size());
    assertEquals(1, store.untriagedSignals(WIJK, 0).size());

    Case c = store.openCase(NewCaseRequest.newBuilder().setWijk(WIJK).setAddress(address("12"))
        .setTitle("Schulden").addCategories("schulden").addSignalIds(s.getId()).build());
    assertEquals(0, store.untriagedSignals(WIJK, 0).size());
    assertEquals(1, store.wijkQueue(WIJK, 0).size());
    assertEquals(c.getId(), store.getCase(c.getId()).getId());
    assertNull(store.getCase("no-such-case"));
    assertNotNull(store.getSignal(s.getId()));
    store.assignCase(c.getId(), "wc-1");
    assertEquals(0, store.wijkQueue(WIJK, 0).size());
    store.moveCase(MoveCaseRequest.newBuilder().setCaseId(c.getId())
        .setTo(CaseState.CASE_STATE_CONTACT_ZOEKEN).build());
    store.addContactMoment(NewContactMomentRequest.newBuilder().setCaseId(c.getId())
        .setOutcome(ContactOutcome.CONTACT_OUTCOME_DEUR_NIET_GEOPEND).setNote("Twee keer gebeld")
        .build());
    assertEquals(1, store.contactMoments(c.getId()).size());

    Household h = store.household(address("12"));
    assertEquals(1, h.getSignalsCount());
    assertEquals(1, h.getCasesCount());
    assertEquals(1, h.getContactMomentsCount());
    assertEquals(2, h.getTransitionsCount());
    assertTrue(store.conflictCases(0).isEmpty());
    assertTrue(store.myCases(0).isEmpty()); // assigned to wc-1
    assertEquals(store.outboxSize(), store.outbox(0).size());
    assertEquals(2, store.outbox(2).size());

    store.close();
    store.close(); // idempotent
    expect(ErrorCode.ERROR_CODE_FAILED_PRECONDITION, null, () -> store.myCases(0));
  }

  @Test
  public void refusalsBecomeExceptionsWithTheRightCode() throws Exception {
    expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, "key",
        () -> EropafStore.open(new File(tmp.getRoot(), "k.db").getPath(), new byte[16]));
    try (EropafStore store = open("coach", 2)) {
      store.setIdentity(Identity.newBuilder().setWorkerId("co-y").setName("Coordinator Y")
          .setRole(SourceRole.SOURCE_ROLE_COORDINATOR).addWijken(WIJK).build());
      Case c = store.openCase(NewCaseRequest.newBuilder().setWijk(WIJK).setAddress(address("3"))
          .setTitle("Overlast").addCategories("overlast").build());
      // No such transition in the state table: nieuw → afgesloten.
      expect(ErrorCode.ERROR_CODE_TRANSITION_NOT_ALLOWED, "to",
          () -> store.moveCase(MoveCaseRequest.newBuilder().setCaseId(c.getId())
              .setTo(CaseState.CASE_STATE_AFGESLOTEN).setReason("klaar").setOnline(true).build()));
      // Validation: no category, unknown category, no informed-status.
      expect(ErrorCode.ERROR_CODE_UNKNOWN_CATEGORY, null,
          () -> store.createSignal(signal("x").toBuilder().clearCategories()
              .addCategories("onbekend").build()));
      expect(ErrorCode.ERROR_CODE_REQUIRED_FIELD_MISSING, "informed",
          () -> store.createSignal(signal("x").toBuilder().clearInformed().build()));
      // An enum number this build does not know.
      expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, "urgency",
          () -> store.createSignal(signal("x").toBuilder().setUrgencyValue(77).build()));
      expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, "priority",
          () -> store.setPriorityValue(c.getId(), 99, "te hoog"));
      expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, "limit", () -> store.myCases(-1));
      expect(ErrorCode.ERROR_CODE_FAILED_PRECONDITION, null,
          () -> store.resolveConflict(c.getId(), null, "niet in conflict"));
      // Not enrolled: no sync client.
      expect(ErrorCode.ERROR_CODE_FAILED_PRECONDITION, null,
          () -> EropafSync.create(store, config()));
      // Nothing refused was written.
      assertEquals(0, store.mySignals(0).size());
    }
  }

  @Test
  public void enrollWithAWrongCodeIsUnauthenticated() throws Exception {
    try (EropafStore store = open("wrong-code", 3)) {
      EropafException e = null;
      try {
        store.enroll(EnrollDeviceRequest.newBuilder()
            .setConfig(SyncConfig.newBuilder().setServerUrl(env("EROPAF_TEST_URL")))
            .setCode("not-a-code").setDeviceName("junit").build());
      } catch (EropafException x) {
        e = x;
      }
      assertNotNull(e);
      assertEquals(ErrorCode.ERROR_CODE_UNAUTHENTICATED, e.getCode());
      assertEquals(EropafException.Domain.SYNC, e.getDomain());
    }
  }

  /** Collects what a listener hears. */
  private static final class Recorder implements SyncListener {
    final List<SyncResult> results = Collections.synchronizedList(new ArrayList<>());
    final List<EropafException> errors = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger progress = new AtomicInteger();
    final CountDownLatch latch;

    Recorder(int expected) {
      latch = new CountDownLatch(expected);
    }

    @Override
    public void onProgress(SyncProgress p) {
      progress.incrementAndGet();
    }

    @Override
    public void onDone(SyncResult r) {
      results.add(r);
      latch.countDown();
    }

    @Override
    public void onError(EropafException e) {
      errors.add(e);
      latch.countDown();
    }
  }

  @Test
  public void backgroundSyncWhileTheTestThreadWrites() throws Exception {
    final int signals = 200;
    final int syncs = 10;
    try (EropafStore phone = open("phone", 4); EropafStore desk = open("desk", 5)) {
      Identity me = phone.enroll(EnrollDeviceRequest.newBuilder()
          .setConfig(SyncConfig.newBuilder().setServerUrl(env("EROPAF_TEST_URL")))
          .setCode(env("EROPAF_TEST_CODE_CO1")).setDeviceName("junit phone").build());
      assertEquals("co-1", me.getWorkerId());
      Recorder recorder = new Recorder(syncs);
      try (EropafSync sync = EropafSync.create(phone, config())) {
        for (int i = 0; i < signals; i++) {
          phone.createSignal(signal("signaal " + i));
          if (i % (signals / syncs) == 0) {
            sync.syncNow(recorder); // runs in the background while this thread keeps writing
          }
        }
        assertTrue("background syncs did not end", recorder.latch.await(60, TimeUnit.SECONDS));
        assertTrue(recorder.errors.toString(), recorder.errors.isEmpty());
        assertTrue(recorder.progress.get() > 0);
        SyncResult last = sync.syncBlocking();
        long pushed = last.getPushed();
        for (SyncResult r : recorder.results) {
          pushed += r.getPushed();
        }
        assertEquals(signals, pushed);
        assertEquals(0, phone.outboxSize());
      }

      // A second coordinator device of the same wijk receives every signal.
      desk.enroll(EnrollDeviceRequest.newBuilder()
          .setConfig(SyncConfig.newBuilder().setServerUrl(env("EROPAF_TEST_URL")))
          .setCode(env("EROPAF_TEST_CODE_CO2")).setDeviceName("junit desk").build());
      try (EropafSync sync = EropafSync.create(desk, config())) {
        SyncResult r = sync.syncBlocking();
        assertEquals(signals, r.getPulled());
      }
      assertEquals(signals, desk.untriagedSignals(WIJK, 0).size());
    }
  }
}
