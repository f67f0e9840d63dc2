package nl.eropaf;

import static nl.eropaf.Messages.limit;
import static nl.eropaf.Messages.parse;
import static nl.eropaf.Messages.utf8;

import java.util.List;
import java.util.Objects;
import nl.eropaf.proto.v1.Address;
import nl.eropaf.proto.v1.Case;
import nl.eropaf.proto.v1.CaseList;
import nl.eropaf.proto.v1.CaseState;
import nl.eropaf.proto.v1.ContactMoment;
import nl.eropaf.proto.v1.ContactMomentList;
import nl.eropaf.proto.v1.DuplicateHint;
import nl.eropaf.proto.v1.EnrollDeviceRequest;
import nl.eropaf.proto.v1.Household;
import nl.eropaf.proto.v1.Identity;
import nl.eropaf.proto.v1.LinkSignalRequest;
import nl.eropaf.proto.v1.MoveCaseRequest;
import nl.eropaf.proto.v1.NewCaseRequest;
import nl.eropaf.proto.v1.NewContactMomentRequest;
import nl.eropaf.proto.v1.NewSignalRequest;
import nl.eropaf.proto.v1.Outbox;
import nl.eropaf.proto.v1.OutboxEntry;
import nl.eropaf.proto.v1.Overview;
import nl.eropaf.proto.v1.OverviewQuery;
import nl.eropaf.proto.v1.OverviewRow;
import nl.eropaf.proto.v1.Priority;
import nl.eropaf.proto.v1.Signal;
import nl.eropaf.proto.v1.SignalList;
import nl.eropaf.proto.v1.Transition;
import nl.eropaf.proto.v1.Wijk;
import nl.eropaf.proto.v1.WijkList;

/**
 * One worker's encrypted device store: signals, cases, contact moments and transitions, usable
 * fully offline. Every write is validated, durable when the call returns, and queued in the
 * outbox for the next sync. Failures throw {@link EropafException}.
 *
 * <p>Thread-safety: may be used from several threads at once (calls are serialised inside);
 * {@link #close()} waits for calls in progress and makes later calls fail.
 */
public final class EropafStore implements AutoCloseable {
  private final Handle handle;

  private EropafStore(long h) {
    handle = new Handle("store", h, NativeBridge::storeRelease);
  }

  /**
   * Opens (creating when missing) the store at {@code path} with the 32-byte key from the
   * platform key store. CRYPTO: the key is not the one the file was made with.
   */
  public static EropafStore open(String path, byte[] key) {
    Objects.requireNonNull(key, "key is null");
    return new EropafStore(NativeBridge.storeOpen(utf8(path, "path"), key));
  }

  /** Sets who works on this device, for a device that does not enroll (tests, demos). */
  public void setIdentity(Identity identity) {
    byte[] b = identity.toByteArray();
    handle.call(h -> {
      NativeBridge.setIdentity(h, b);
      return null;
    });
  }

  /** The identity, or null before enrollment. */
  public Identity identity() {
    return parse(Identity.parser(), handle.call(NativeBridge::identity));
  }

  /** Enrolls this device with a one-time code (one HTTP round trip on the calling thread). */
  public Identity enroll(EnrollDeviceRequest request) {
    byte[] b = request.toByteArray();
    return parse(Identity.parser(), handle.call(h -> NativeBridge.enroll(h, b)));
  }

  public Signal createSignal(NewSignalRequest request) {
    byte[] b = request.toByteArray();
    return parse(Signal.parser(), handle.call(h -> NativeBridge.createSignal(h, b)));
  }

  public Case openCase(NewCaseRequest request) {
    byte[] b = request.toByteArray();
    return parse(Case.parser(), handle.call(h -> NativeBridge.openCase(h, b)));
  }

  public void linkSignal(String signalId, String caseId) {
    byte[] s = utf8(signalId, "signalId");
    byte[] c = utf8(caseId, "caseId");
    handle.call(h -> {
      NativeBridge.linkSignal(h, s, c);
      return null;
    });
  }

  public void assignCase(String caseId, String workerId) {
    byte[] c = utf8(caseId, "caseId");
    byte[] w = utf8(workerId, "workerId");
    handle.call(h -> {
      NativeBridge.assignCase(h, c, w);
      return null;
    });
  }

  /**
   * Coordinator: assigns or reassigns a case, with a reason (may be empty) kept in the case's
   * history. An assignee who cannot take the case throws FAILED_PRECONDITION, field "assignee",
   * naming the valid colleagues.
   */
  public void assignCase(String caseId, String workerId, String reason) {
    byte[] c = utf8(caseId, "caseId");
    byte[] w = utf8(workerId, "workerId");
    byte[] r = utf8(reason, "reason");
    handle.call(h -> {
      NativeBridge.assignCaseWithReason(h, c, w, r);
      return null;
    });
  }

  /**
   * Links a signal to a case; a signal of another household only with {@code force} and a
   * reason (FAILED_PRECONDITION, field "signal_id", otherwise).
   */
  public void linkSignal(LinkSignalRequest request) {
    byte[] b = request.toByteArray();
    handle.call(h -> {
      NativeBridge.linkSignalWithOptions(h, b);
      return null;
    });
  }

  /** Coordinator: rejects a signal (afgewezen) with a reason the reporter never sees. */
  public void rejectSignal(String signalId, String reason) {
    byte[] s = utf8(signalId, "signalId");
    byte[] r = utf8(reason, "reason");
    handle.call(h -> {
      NativeBridge.rejectSignal(h, s, r);
      return null;
    });
  }

  /** Coordinator: marks a signal a duplicate of another; it follows the original's case. */
  public void markDuplicate(String signalId, String ofSignalId) {
    byte[] s = utf8(signalId, "signalId");
    byte[] o = utf8(ofSignalId, "ofSignalId");
    handle.call(h -> {
      NativeBridge.markDuplicate(h, s, o);
      return null;
    });
  }

  /**
   * Coordinator: merges case {@code caseId} into {@code intoId}; returns the target. The source
   * is closed as samengevoegd; its signals and contact moments follow.
   */
  public Case mergeCase(String caseId, String intoId, String reason) {
    byte[] c = utf8(caseId, "caseId");
    byte[] i = utf8(intoId, "intoId");
    byte[] r = utf8(reason, "reason");
    return parse(Case.parser(), handle.call(h -> NativeBridge.mergeCase(h, c, i, r)));
  }

  /**
   * Reporter: re-files a signal the server refused, in another wijk; it is queued again.
   * FAILED_PRECONDITION for a signal the server did not refuse.
   */
  public Signal refileSignal(String signalId, String wijk) {
    byte[] s = utf8(signalId, "signalId");
    byte[] w = utf8(wijk, "wijk");
    return parse(Signal.parser(), handle.call(h -> NativeBridge.refileSignal(h, s, w)));
  }

  public void pickUpCase(String caseId) {
    byte[] c = utf8(caseId, "caseId");
    handle.call(h -> {
      NativeBridge.pickUpCase(h, c);
      return null;
    });
  }

  /** Coordinator: overrides the priority, with a reason (required). */
  public void setPriority(String caseId, Priority priority, String reason) {
    setPriorityValue(
        caseId, priority == Priority.UNRECOGNIZED ? -1 : priority.getNumber(), reason);
  }

  /** As {@link #setPriority}, with the enum number (an unknown one is refused). */
  public void setPriorityValue(String caseId, int priority, String reason) {
    byte[] c = utf8(caseId, "caseId");
    byte[] r = utf8(reason, "reason");
    handle.call(h -> {
      NativeBridge.setPriority(h, c, priority, r);
      return null;
    });
  }

  public ContactMoment addContactMoment(NewContactMomentRequest request) {
    byte[] b = request.toByteArray();
    return parse(ContactMoment.parser(), handle.call(h -> NativeBridge.addContactMoment(h, b)));
  }

  /** TRANSITION_NOT_ALLOWED or REASON_REQUIRED when the state table says no for this role. */
  public Transition moveCase(MoveCaseRequest request) {
    byte[] b = request.toByteArray();
    return parse(Transition.parser(), handle.call(h -> NativeBridge.moveCase(h, b)));
  }

  /** Coordinator: takes a case off the conflict list, optionally moving it ({@code to} null). */
  public void resolveConflict(String caseId, CaseState to, String reason) {
    byte[] c = utf8(caseId, "caseId");
    byte[] r = utf8(reason, "reason");
    int state = to == null ? 0 : to.getNumber();
    handle.call(h -> {
      NativeBridge.resolveConflict(h, c, state, r);
      return null;
    });
  }

  /**
   * The signal, or null when this device does not hold it. A stored signal that cannot be read
   * (does not decrypt or decode, I/O failure) throws an EropafException of domain STORE.
   */
  public Signal getSignal(String id) {
    byte[] i = utf8(id, "id");
    return parse(Signal.parser(), handle.call(h -> NativeBridge.getSignal(h, i)));
  }

  /**
   * The case, or null when this device does not hold it. A stored case that cannot be read
   * throws an EropafException of domain STORE (CRYPTO, STORAGE_CORRUPT or IO_ERROR).
   */
  public Case getCase(String id) {
    byte[] i = utf8(id, "id");
    return parse(Case.parser(), handle.call(h -> NativeBridge.getCase(h, i)));
  }

  /**
   * Contact moments of a case, oldest first; empty when there are none. One that cannot be read
   * throws an EropafException of domain STORE.
   */
  public List<ContactMoment> contactMoments(String caseId) {
    byte[] c = utf8(caseId, "caseId");
    return parse(ContactMomentList.parser(), handle.call(h -> NativeBridge.contactMoments(h, c)))
        .getContactMomentsList();
  }

  /** The case's contact moments plus those of every case merged into it, oldest first. */
  public List<ContactMoment> caseMoments(String caseId) {
    byte[] c = utf8(caseId, "caseId");
    return parse(ContactMomentList.parser(), handle.call(h -> NativeBridge.caseMoments(h, c)))
        .getContactMomentsList();
  }

  /** The signals linked to a case, oldest first. */
  public List<Signal> caseSignals(String caseId) {
    byte[] c = utf8(caseId, "caseId");
    return parse(SignalList.parser(), handle.call(h -> NativeBridge.caseSignals(h, c)))
        .getSignalsList();
  }

  /** The refused change of a record ("geweigerd", with why), or null when it has none. */
  public OutboxEntry refusal(String recordId) {
    byte[] r = utf8(recordId, "recordId");
    return parse(OutboxEntry.parser(), handle.call(h -> NativeBridge.refusal(h, r)));
  }

  /** The norms of one case (both clocks, at the store clock), or null when not held here. */
  public OverviewRow caseNorms(String caseId) {
    byte[] c = utf8(caseId, "caseId");
    return parse(OverviewRow.parser(), handle.call(h -> NativeBridge.caseNorms(h, c)));
  }

  /**
   * Coordinator: every open case of her wijken, assigned or not, overdue first, then priority,
   * then due date. PERMISSION_DENIED for other roles.
   */
  public Overview overview(OverviewQuery query) {
    byte[] b = query.toByteArray();
    return parse(Overview.parser(), handle.call(h -> NativeBridge.overview(h, b)));
  }

  /** Others of a signal's household: open cases and signals of the last 12 weeks. */
  public DuplicateHint duplicateHint(String signalId) {
    byte[] s = utf8(signalId, "signalId");
    return parse(DuplicateHint.parser(), handle.call(h -> NativeBridge.duplicateHint(h, s)));
  }

  /** The same for an address, before a signal or case exists. */
  public DuplicateHint householdHint(Address address) {
    byte[] b = address.toByteArray();
    return parse(DuplicateHint.parser(), handle.call(h -> NativeBridge.householdHint(h, b)));
  }

  /** The cached reference wijken; empty before the first reference data arrived. */
  public List<Wijk> wijken() {
    return parse(WijkList.parser(), handle.call(NativeBridge::wijken)).getWijkenList();
  }

  /** Signals I reported, newest first; {@code limit} 0 means all. */
  public List<Signal> mySignals(int limit) {
    int l = limit(limit);
    return parse(SignalList.parser(), handle.call(h -> NativeBridge.mySignals(h, l)))
        .getSignalsList();
  }

  /** Open cases assigned to me, by priority then first-contact due date. */
  public List<Case> myCases(int limit) {
    int l = limit(limit);
    return parse(CaseList.parser(), handle.call(h -> NativeBridge.myCases(h, l))).getCasesList();
  }

  /** Open unassigned cases of a wijk, by priority then due date. */
  public List<Case> wijkQueue(String wijk, int limit) {
    byte[] w = utf8(wijk, "wijk");
    int l = limit(limit);
    return parse(CaseList.parser(), handle.call(h -> NativeBridge.wijkQueue(h, w, l)))
        .getCasesList();
  }

  /** Signals of a wijk not yet triaged, oldest first. */
  public List<Signal> untriagedSignals(String wijk, int limit) {
    byte[] w = utf8(wijk, "wijk");
    int l = limit(limit);
    return parse(SignalList.parser(), handle.call(h -> NativeBridge.untriagedSignals(h, w, l)))
        .getSignalsList();
  }

  public List<Case> conflictCases(int limit) {
    int l = limit(limit);
    return parse(CaseList.parser(), handle.call(h -> NativeBridge.conflictCases(h, l)))
        .getCasesList();
  }

  /** Everything this device knows about the household at an address. */
  public Household household(Address address) {
    byte[] b = address.toByteArray();
    return parse(Household.parser(), handle.call(h -> NativeBridge.household(h, b)));
  }

  /** Changes the server has not accepted yet, oldest first (refused ones say why). */
  public List<OutboxEntry> outbox(int limit) {
    int l = limit(limit);
    return parse(Outbox.parser(), handle.call(h -> NativeBridge.outbox(h, l))).getEntriesList();
  }

  public long outboxSize() {
    return handle.call(NativeBridge::outboxSize);
  }

  /** For EropafSync: runs a call with the native store handle held open. */
  <T> T withHandle(Handle.Call<T> call) {
    return handle.call(call);
  }

  /** Closes the store. Idempotent. An {@link EropafSync} made from it keeps working. */
  @Override
  public void close() {
    handle.close();
  }
}
