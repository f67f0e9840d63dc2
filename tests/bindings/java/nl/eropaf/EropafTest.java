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
import nl.eropaf.proto.v1.DuplicateHint;
import nl.eropaf.proto.v1.EnrollDeviceRequest;
import nl.eropaf.proto.v1.ErrorCode;
import nl.eropaf.proto.v1.Household;
import nl.eropaf.proto.v1.Identity;
import nl.eropaf.proto.v1.Informed;
import nl.eropaf.proto.v1.LinkSignalRequest;
import nl.eropaf.proto.v1.MoveCaseRequest;
import nl.eropaf.proto.v1.NewCaseRequest;
import nl.eropaf.proto.v1.NewContactMomentRequest;
import nl.eropaf.proto.v1.NewSignalRequest;
import nl.eropaf.proto.v1.NormState;
import nl.eropaf.proto.v1.OutboxEntry;
import nl.eropaf.proto.v1.OutboxStatus;
import nl.eropaf.proto.v1.Overview;
import nl.eropaf.proto.v1.OverviewQuery;
import nl.eropaf.proto.v1.OverviewRow;
import nl.eropaf.proto.v1.Priority;
import nl.eropaf.proto.v1.RecordKind;
import nl.eropaf.proto.v1.RefusedChange;
import nl.eropaf.proto.v1.Signal;
import nl.eropaf.proto.v1.TriageState;
import nl.eropaf.proto.v1.SourceRole;
import nl.eropaf.proto.v1.SyncConfig;
import nl.eropaf.proto.v1.SyncNotice;
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

  private static NewSignalRequest signalAt(String number, String text) {
    return signal(text).toBuilder().setAddress(address(number)).build();
  }

  private static TriageState triage(EropafStore store, String signalId) {
    return TriageState.forNumber((int) store.getSignal(signalId).getTriageState().getValue());
  }

  @Test
  public void triageVerbsOverviewAndHints() throws Exception {
    try (EropafStore store = open("triage", 6)) {
      store.setIdentity(Identity.newBuilder().setWorkerId("co-t").setName("Coordinator T")
          .setRole(SourceRole.SOURCE_ROLE_COORDINATOR).addWijken(WIJK).build());
      Signal s1 = store.createSignal(signalAt("20", "Huur niet betaald"));
      Signal s2 = store.createSignal(signalAt("20", "Tweede melder"));
      Signal other = store.createSignal(signalAt("22", "Ander huisnummer"));
      Signal junk = store.createSignal(signalAt("24", "Geen zorgsignaal"));
      Signal dup = store.createSignal(signalAt("20", "Derde melder"));

      DuplicateHint hint = store.duplicateHint(s1.getId());
      assertEquals(2, hint.getRecentSignals());
      assertEquals(0, hint.getOpenCaseIdsCount());
      assertEquals(3, store.householdHint(address("20")).getRecentSignals());
      expect(ErrorCode.ERROR_CODE_REQUIRED_FIELD_MISSING, "address.postcode",
          () -> store.householdHint(Address.newBuilder().setHouseNumber("20").build()));
      expect(ErrorCode.ERROR_CODE_NOT_FOUND, null,
          () -> store.duplicateHint("0190aaaa-0000-7000-8000-000000000000"));

      Case c1 = store.openCase(NewCaseRequest.newBuilder().setFromSignal(s1.getId()).build());
      assertEquals(WIJK, c1.getWijk().getValue());
      assertFalse(c1.getTitle().getValue().isEmpty());
      assertEquals(TriageState.TRIAGE_STATE_GEKOPPELD, triage(store, s1.getId()));
      NewCaseRequest second = NewCaseRequest.newBuilder().setFromSignal(s2.getId()).build();
      expect(ErrorCode.ERROR_CODE_ALREADY_EXISTS, "address", () -> store.openCase(second));
      Case c2 = store.openCase(second.toBuilder().setNewCase(true)
          .setPriority(Priority.PRIORITY_HOOG).setPriorityReason("twee melders").build());
      assertEquals(Priority.PRIORITY_HOOG.getNumber(), c2.getPriority().getValue());
      assertEquals(2, store.duplicateHint(dup.getId()).getOpenCaseIdsCount());

      LinkSignalRequest link =
          LinkSignalRequest.newBuilder().setSignalId(other.getId()).setCaseId(c1.getId()).build();
      expect(ErrorCode.ERROR_CODE_FAILED_PRECONDITION, "signal_id", () -> store.linkSignal(link));
      store.linkSignal(link.toBuilder().setForce(true).setReason("zelfde gezin").build());
      expect(ErrorCode.ERROR_CODE_REQUIRED_FIELD_MISSING, "case_id",
          () -> store.linkSignal(link.toBuilder().clearCaseId().build()));
      assertEquals(2, store.caseSignals(c1.getId()).size());

      expect(ErrorCode.ERROR_CODE_REASON_REQUIRED, "reason",
          () -> store.rejectSignal(junk.getId(), " "));
      store.rejectSignal(junk.getId(), "geen zorgsignaal");
      assertEquals(TriageState.TRIAGE_STATE_AFGEWEZEN, triage(store, junk.getId()));
      expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, null,
          () -> store.markDuplicate(dup.getId(), dup.getId()));
      store.markDuplicate(dup.getId(), s1.getId());
      assertEquals(TriageState.TRIAGE_STATE_DUPLICAAT, triage(store, dup.getId()));
      assertTrue(store.untriagedSignals(WIJK, 0).isEmpty());

      OverviewRow norms = store.caseNorms(c1.getId());
      assertEquals(c1.getId(), norms.getCase().getId());
      assertEquals(NormState.NORM_STATE_OPEN, norms.getFirstAttempt().getState());
      assertFalse(norms.getFirstAttempt().hasFirstMs());
      assertTrue(norms.getFirstAttempt().getDueMs() > System.currentTimeMillis());
      assertNull(store.caseNorms("no-such-case"));

      Overview now = store.overview(OverviewQuery.getDefaultInstance());
      assertEquals(2, now.getRowsCount());
      assertEquals(0, now.getOverdue());
      long later = System.currentTimeMillis() + 60L * 24 * 3600 * 1000;
      Overview late = store.overview(OverviewQuery.newBuilder().setNowMs(later).build());
      assertEquals(2, late.getOverdue());
      assertTrue(late.getRows(0).getOverdue());
      assertEquals(NormState.NORM_STATE_MISSED, late.getRows(0).getFirstAttempt().getState());
      assertEquals(1, store.overview(OverviewQuery.newBuilder().setLimit(1).build())
          .getRowsCount());
      assertEquals(2, store.overview(OverviewQuery.newBuilder().setAssignee("").build())
          .getRowsCount());
      expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, "state",
          () -> store.overview(OverviewQuery.newBuilder().setStateValue(99).build()));
      expect(ErrorCode.ERROR_CODE_PERMISSION_DENIED, "wijk",
          () -> store.overview(OverviewQuery.newBuilder().addWijken("WK036302").build()));

      store.assignCase(c1.getId(), "wc-1", "wijk van wc-1");
      Case assigned = store.getCase(c1.getId());
      assertEquals("wc-1", assigned.getAssignee().getValue());
      assertEquals(1, assigned.getHistoryCount());
      assertEquals("wijk van wc-1", assigned.getHistory(0).getReason());
      assertEquals(1, store.overview(OverviewQuery.newBuilder().setAssignee("").build())
          .getRowsCount());
      assertEquals(c1.getId(), store.overview(OverviewQuery.newBuilder().setAssignee("wc-1")
          .build()).getRows(0).getCase().getId());

      store.addContactMoment(NewContactMomentRequest.newBuilder().setCaseId(c2.getId())
          .setOutcome(ContactOutcome.CONTACT_OUTCOME_NIET_THUIS).build());
      expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, "into_id",
          () -> store.mergeCase(c1.getId(), c1.getId(), "x"));
      Case target = store.mergeCase(c2.getId(), c1.getId(), "zelfde huishouden");
      assertEquals(c1.getId(), target.getId());
      assertEquals(c1.getId(), store.getCase(c2.getId()).getMergedInto().getValue());
      assertEquals(0, store.contactMoments(c1.getId()).size());
      assertEquals(1, store.caseMoments(c1.getId()).size());
      assertEquals(4, store.caseSignals(c1.getId()).size());

      assertNull(store.refusal(s1.getId()));
      expect(ErrorCode.ERROR_CODE_FAILED_PRECONDITION, "signal_id",
          () -> store.refileSignal(s1.getId(), WIJK));
      assertTrue(store.wijken().isEmpty());
    }
    try (EropafStore coach = open("triage-coach", 7)) {
      coach.setIdentity(Identity.newBuilder().setWorkerId("wc-t").setName("Coach T")
          .setRole(SourceRole.SOURCE_ROLE_WIJKCOACH).addWijken(WIJK).build());
      Signal s = coach.createSignal(signalAt("30", "Gezien"));
      expect(ErrorCode.ERROR_CODE_PERMISSION_DENIED, null,
          () -> coach.overview(OverviewQuery.getDefaultInstance()));
      expect(ErrorCode.ERROR_CODE_PERMISSION_DENIED, null,
          () -> coach.rejectSignal(s.getId(), "niet nodig"));
    }
  }

  @Test
  public void syncReportsRefusalsAndNoticesAndRefileWorks() throws Exception {
    try (EropafStore co = open("triage-co", 8); EropafStore wc = open("triage-wc", 9)) {
      Identity me = co.enroll(EnrollDeviceRequest.newBuilder()
          .setConfig(SyncConfig.newBuilder().setServerUrl(env("EROPAF_TEST_URL")))
          .setCode(env("EROPAF_TEST_CODE_CO3")).setDeviceName("junit co-3").build());
      wc.enroll(EnrollDeviceRequest.newBuilder()
          .setConfig(SyncConfig.newBuilder().setServerUrl(env("EROPAF_TEST_URL")))
          .setCode(env("EROPAF_TEST_CODE_WC2")).setDeviceName("junit wc-2").build());
      try (EropafSync coSync = EropafSync.create(co, config());
          EropafSync wcSync = EropafSync.create(wc, config())) {
        coSync.syncBlocking();
        // The reference data: the wijk list, and a signal for another wijk refused here.
        assertEquals(1, co.wijken().size());
        assertEquals(WIJK, co.wijken().get(0).getCode());
        expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, "wijk",
            () -> co.createSignal(signalAt("40", "x").toBuilder().setWijk("WK099999").build()));

        // Assign: a zorgmedewerker refused here, wc-2 assigned and told by a notice.
        Signal s = co.createSignal(signalAt("42", "Post stapelt zich op"));
        Case c = co.openCase(NewCaseRequest.newBuilder().setFromSignal(s.getId()).build());
        expect(ErrorCode.ERROR_CODE_FAILED_PRECONDITION, "assignee",
            () -> co.assignCase(c.getId(), "zm-1", "typo"));
        co.assignCase(c.getId(), "wc-2", "eerste coach");
        assertEquals(0, coSync.syncBlocking().getRefused());
        SyncResult coach = wcSync.syncBlocking();
        boolean told = false;
        for (SyncNotice n : coach.getNoticesList()) {
          told |= n.getKind() == SyncNotice.Kind.KIND_ASSIGNED_TO_ME
              && n.getCaseId().equals(c.getId());
        }
        assertTrue(coach.getNoticesList().toString(), told);
        assertEquals(1, wc.myCases(0).size());

        // A worker the device was never told about: the server refuses the change.
        co.assignCase(c.getId(), "wc-nobody", "typo");
        SyncResult refusedAssign = coSync.syncBlocking();
        assertEquals(1, refusedAssign.getRefused());
        RefusedChange rc = refusedAssign.getRefusals(0);
        assertEquals(c.getId(), rc.getRecordId());
        assertEquals(RecordKind.RECORD_KIND_CASE, rc.getKind());
        assertFalse(rc.getReason().getMessage().isEmpty());
        OutboxEntry geweigerd = co.refusal(c.getId());
        assertEquals(OutboxStatus.OUTBOX_STATUS_REFUSED, geweigerd.getStatus());
        assertNull(co.refusal(s.getId()));

        // A signal written under a stale role is refused by the server; its reporter re-files.
        co.setIdentity(me.toBuilder().setRole(SourceRole.SOURCE_ROLE_ZORGMEDEWERKER).build());
        Signal stale = co.createSignal(signalAt("44", "Geweigerd door de server"));
        co.setIdentity(me);
        SyncResult refusedSignal = coSync.syncBlocking();
        assertEquals(1, refusedSignal.getRefused());
        assertEquals(stale.getId(), refusedSignal.getRefusals(0).getRecordId());
        assertEquals(RecordKind.RECORD_KIND_SIGNAL, refusedSignal.getRefusals(0).getKind());
        assertEquals(RecordKind.RECORD_KIND_SIGNAL, co.refusal(stale.getId()).getKind());
        expect(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, "wijk",
            () -> co.refileSignal(stale.getId(), "WK099999"));
        expect(ErrorCode.ERROR_CODE_FAILED_PRECONDITION, "signal_id",
            () -> co.refileSignal(s.getId(), WIJK));
        Signal refiled = co.refileSignal(stale.getId(), WIJK);
        assertEquals(stale.getId(), refiled.getId());
        assertEquals(WIJK, refiled.getContent().getWijk());
        assertNull(co.refusal(stale.getId()));
      }
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
