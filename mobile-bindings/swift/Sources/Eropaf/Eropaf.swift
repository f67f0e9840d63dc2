// The Swift wrapper over the C ABI (eropaf.h): classes that own handles, errors as a Swift
// `Error`, and messages as swift-protobuf types generated from eropaf's proto/ (Eropaf_V1_*).
//
// Thread-safety: as eropaf.h says. An EropafStore may be used from several threads; an
// EropafSync calls its listener on its own background thread (hop to the main actor yourself).
// Not compiled in eropaf's CI (no Swift toolchain there): see docs/bindings.md.
import CEropaf
import Foundation
import SwiftProtobuf

/// Every failure of an eropaf call: where it came from, the code (one list shared with C++, the
/// C ABI and the wire), an English message and, for bad input, the field ("address.postcode").
public struct EropafError: Error, CustomStringConvertible {
  public enum Domain: Int32 { case none = 0, abi = 1, store = 2, sync = 3 }
  public let domain: Domain
  public let code: Eropaf_V1_ErrorCode
  public let message: String
  public let field: String?

  init(_ e: inout eropaf_error) {
    domain = Domain(rawValue: e.domain) ?? .abi
    code = Eropaf_V1_ErrorCode(rawValue: Int(e.code)) ?? .internal
    message = e.message.map { String(cString: $0) } ?? "error"
    field = e.field.map { String(cString: $0) }
    eropaf_error_clear(&e)
  }

  /// A copy of an error the library lends to a callback (it frees the original itself).
  init(borrowing e: eropaf_error) {
    domain = Domain(rawValue: e.domain) ?? .abi
    code = Eropaf_V1_ErrorCode(rawValue: Int(e.code)) ?? .internal
    message = e.message.map { String(cString: $0) } ?? "error"
    field = e.field.map { String(cString: $0) }
  }

  init(_ code: Eropaf_V1_ErrorCode, _ message: String) {
    domain = .abi
    self.code = code
    self.message = message
    field = nil
  }

  public var description: String { "\(code) (\(domain)): \(message)" }
}

/// Calls a C function that fills an eropaf_buffer; returns its bytes (nil for "not found").
private func call(_ body: (UnsafeMutablePointer<eropaf_buffer>, UnsafeMutablePointer<eropaf_error>) -> Bool)
  throws -> Data?
{
  var buffer = eropaf_buffer(data: nil, size: 0)
  var error = eropaf_error(domain: 0, code: 0, message: nil, field: nil)
  guard body(&buffer, &error) else { throw EropafError(&error) }
  defer { eropaf_buffer_free(&buffer) }
  guard let data = buffer.data else { return nil }
  return Data(bytes: data, count: buffer.size)
}

/// Calls a C function that only succeeds or fails.
private func check(_ body: (UnsafeMutablePointer<eropaf_error>) -> Bool) throws {
  var error = eropaf_error(domain: 0, code: 0, message: nil, field: nil)
  guard body(&error) else { throw EropafError(&error) }
}

private func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ data: Data?) throws -> M {
  guard let data = data else { throw EropafError(.notFound, "no \(M.protoMessageName)") }
  return try M(serializedData: data)
}

/// Passes a message's bytes to C, borrowed for the call.
private func withBytes<R>(_ m: SwiftProtobuf.Message, _ body: (UnsafePointer<UInt8>?, Int) throws -> R)
  throws -> R
{
  let data: Data = try m.serializedData()
  return try data.withUnsafeBytes { raw in
    try body(raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
  }
}

/// Passes a string as UTF-8 bytes (pointer + length), borrowed for the call.
private func withUTF8<R>(_ s: String, _ body: (UnsafePointer<CChar>?, Int) throws -> R) rethrows -> R {
  var copy = s
  return try copy.withUTF8 { buf in
    try buf.withMemoryRebound(to: CChar.self) { try body($0.baseAddress, $0.count) }
  }
}

/// One worker's encrypted device store, usable fully offline.
public final class EropafStore {
  let handle: OpaquePointer

  /// Opens (creating when missing) the store with the 32-byte key from the Keychain.
  public init(path: String, key: Data) throws {
    var error = eropaf_error(domain: 0, code: 0, message: nil, field: nil)
    let h: OpaquePointer? = withUTF8(path) { p, n in
      key.withUnsafeBytes { k in
        eropaf_store_open(p, n, k.bindMemory(to: UInt8.self).baseAddress, k.count, &error)
      }
    }
    guard let opened = h else { throw EropafError(&error) }
    handle = opened
  }

  deinit { eropaf_store_release(handle) }

  public func identity() throws -> Eropaf_V1_Identity? {
    guard let d = try call({ eropaf_store_identity(handle, $0, $1) }) else { return nil }
    return try Eropaf_V1_Identity(serializedData: d)
  }

  public func enroll(_ request: Eropaf_V1_EnrollDeviceRequest) throws -> Eropaf_V1_Identity {
    try decode(Eropaf_V1_Identity.self, try withBytes(request) { p, n in
      try call { eropaf_enroll(handle, p, n, $0, $1) }
    })
  }

  public func createSignal(_ request: Eropaf_V1_NewSignalRequest) throws -> Eropaf_V1_Signal {
    try decode(Eropaf_V1_Signal.self, try withBytes(request) { p, n in
      try call { eropaf_store_create_signal(handle, p, n, $0, $1) }
    })
  }

  public func openCase(_ request: Eropaf_V1_NewCaseRequest) throws -> Eropaf_V1_Case {
    try decode(Eropaf_V1_Case.self, try withBytes(request) { p, n in
      try call { eropaf_store_open_case(handle, p, n, $0, $1) }
    })
  }

  public func linkSignal(_ signalID: String, to caseID: String) throws {
    try withUTF8(signalID) { s, sn in
      try withUTF8(caseID) { c, cn in try check { eropaf_store_link_signal(handle, s, sn, c, cn, $0) } }
    }
  }

  public func assignCase(_ caseID: String, to workerID: String) throws {
    try withUTF8(caseID) { c, cn in
      try withUTF8(workerID) { w, wn in try check { eropaf_store_assign_case(handle, c, cn, w, wn, $0) } }
    }
  }

  /// Assigns or reassigns a case with a reason kept in its history. An assignee who cannot take
  /// the case throws `.failedPrecondition` with field "assignee", naming the valid colleagues.
  public func assignCase(_ caseID: String, to workerID: String, reason: String) throws {
    try withUTF8(caseID) { c, cn in
      try withUTF8(workerID) { w, wn in
        try withUTF8(reason) { r, rn in
          try check { eropaf_store_assign_case_with_reason(handle, c, cn, w, wn, r, rn, $0) }
        }
      }
    }
  }

  /// Links with options: a signal of another household needs `force` and a `reason`.
  public func linkSignal(_ request: Eropaf_V1_LinkSignalRequest) throws {
    try withBytes(request) { p, n in
      try check { eropaf_store_link_signal_with_options(handle, p, n, $0) }
    }
  }

  /// Coordinator: rejects a signal (afgewezen); the reporter never sees the reason.
  public func rejectSignal(_ signalID: String, reason: String) throws {
    try withUTF8(signalID) { s, sn in
      try withUTF8(reason) { r, rn in try check { eropaf_store_reject_signal(handle, s, sn, r, rn, $0) } }
    }
  }

  /// Coordinator: marks a signal a duplicate of another.
  public func markDuplicate(_ signalID: String, of originalID: String) throws {
    try withUTF8(signalID) { s, sn in
      try withUTF8(originalID) { o, on in try check { eropaf_store_mark_duplicate(handle, s, sn, o, on, $0) } }
    }
  }

  /// Coordinator: merges a case into another; returns the target.
  public func mergeCase(_ caseID: String, into intoID: String, reason: String) throws -> Eropaf_V1_Case {
    try decode(Eropaf_V1_Case.self, try withUTF8(caseID) { c, cn in
      try withUTF8(intoID) { i, iN in
        try withUTF8(reason) { r, rn in
          try call { eropaf_store_merge_case(handle, c, cn, i, iN, r, rn, $0, $1) }
        }
      }
    })
  }

  /// Reporter: re-files a signal the server refused, in another wijk.
  public func refileSignal(_ signalID: String, wijk: String) throws -> Eropaf_V1_Signal {
    try decode(Eropaf_V1_Signal.self, try withUTF8(signalID) { s, sn in
      try withUTF8(wijk) { w, wn in try call { eropaf_store_refile_signal(handle, s, sn, w, wn, $0, $1) } }
    })
  }

  public func pickUpCase(_ caseID: String) throws {
    try withUTF8(caseID) { c, n in try check { eropaf_store_pick_up_case(handle, c, n, $0) } }
  }

  public func addContactMoment(_ request: Eropaf_V1_NewContactMomentRequest) throws
    -> Eropaf_V1_ContactMoment
  {
    try decode(Eropaf_V1_ContactMoment.self, try withBytes(request) { p, n in
      try call { eropaf_store_add_contact_moment(handle, p, n, $0, $1) }
    })
  }

  /// Throws `.transitionNotAllowed` / `.reasonRequired` when the state table says no.
  public func moveCase(_ request: Eropaf_V1_MoveCaseRequest) throws -> Eropaf_V1_Transition {
    try decode(Eropaf_V1_Transition.self, try withBytes(request) { p, n in
      try call { eropaf_store_move_case(handle, p, n, $0, $1) }
    })
  }

  /// The case's contact moments plus those of every case merged into it, oldest first.
  public func caseMoments(_ caseID: String) throws -> [Eropaf_V1_ContactMoment] {
    try decode(Eropaf_V1_ContactMomentList.self, try withUTF8(caseID) { c, n in
      try call { eropaf_store_case_moments(handle, c, n, $0, $1) }
    }).contactMoments
  }

  /// The signals linked to a case, oldest first.
  public func caseSignals(_ caseID: String) throws -> [Eropaf_V1_Signal] {
    try decode(Eropaf_V1_SignalList.self, try withUTF8(caseID) { c, n in
      try call { eropaf_store_case_signals(handle, c, n, $0, $1) }
    }).signals
  }

  /// The refused change of a record ("geweigerd", with why); nil when it has none.
  public func refusal(_ recordID: String) throws -> Eropaf_V1_OutboxEntry? {
    guard let d = try withUTF8(recordID, { r, n in try call { eropaf_store_refusal(handle, r, n, $0, $1) } })
    else { return nil }
    return try Eropaf_V1_OutboxEntry(serializedData: d)
  }

  /// The norms of one case; nil when this device does not hold it.
  public func caseNorms(_ caseID: String) throws -> Eropaf_V1_OverviewRow? {
    guard let d = try withUTF8(caseID, { c, n in try call { eropaf_store_case_norms(handle, c, n, $0, $1) } })
    else { return nil }
    return try Eropaf_V1_OverviewRow(serializedData: d)
  }

  /// Coordinator: every open case of her wijken, overdue first.
  public func overview(_ query: Eropaf_V1_OverviewQuery = .init()) throws -> Eropaf_V1_Overview {
    try decode(Eropaf_V1_Overview.self, try withBytes(query) { p, n in
      try call { eropaf_store_overview(handle, p, n, $0, $1) }
    })
  }

  /// Others of a signal's household: open cases and signals of the last 12 weeks.
  public func duplicateHint(_ signalID: String) throws -> Eropaf_V1_DuplicateHint {
    try decode(Eropaf_V1_DuplicateHint.self, try withUTF8(signalID) { s, n in
      try call { eropaf_store_duplicate_hint(handle, s, n, $0, $1) }
    })
  }

  /// The same for an address, before a signal or case exists.
  public func householdHint(at address: Eropaf_V1_Address) throws -> Eropaf_V1_DuplicateHint {
    try decode(Eropaf_V1_DuplicateHint.self, try withBytes(address) { p, n in
      try call { eropaf_store_household_hint(handle, p, n, $0, $1) }
    })
  }

  /// The cached reference wijken; empty before the first reference data arrived.
  public func wijken() throws -> [Eropaf_V1_Wijk] {
    try decode(Eropaf_V1_WijkList.self, try call { eropaf_store_wijken(handle, $0, $1) }).wijken
  }

  public func myCases(limit: UInt32 = 0) throws -> [Eropaf_V1_Case] {
    try decode(Eropaf_V1_CaseList.self, try call { eropaf_store_my_cases(handle, limit, $0, $1) }).cases
  }

  public func wijkQueue(_ wijk: String, limit: UInt32 = 0) throws -> [Eropaf_V1_Case] {
    try decode(Eropaf_V1_CaseList.self, try withUTF8(wijk) { w, n in
      try call { eropaf_store_wijk_queue(handle, w, n, limit, $0, $1) }
    }).cases
  }

  public func household(at address: Eropaf_V1_Address) throws -> Eropaf_V1_Household {
    try decode(Eropaf_V1_Household.self, try withBytes(address) { p, n in
      try call { eropaf_store_household(handle, p, n, $0, $1) }
    })
  }

  public func outbox(limit: UInt32 = 0) throws -> [Eropaf_V1_OutboxEntry] {
    try decode(Eropaf_V1_Outbox.self, try call { eropaf_store_outbox(handle, limit, $0, $1) }).entries
  }
}

/// Hears a sync, on the sync client's background thread.
public protocol EropafSyncListener: AnyObject {
  func syncProgress(_ progress: Eropaf_V1_SyncProgress)
  func syncDone(_ result: Result<Eropaf_V1_SyncResult, EropafError>)
}

/// The sync client of an enrolled store; owns one background thread.
public final class EropafSync {
  private let handle: OpaquePointer

  public init(store: EropafStore, config: Eropaf_V1_SyncConfig = .init()) throws {
    var error = eropaf_error(domain: 0, code: 0, message: nil, field: nil)
    let h = try withBytes(config) { p, n in eropaf_sync_new(store.handle, p, n, &error) }
    guard let made = h else { throw EropafError(&error) }
    handle = made
  }

  /// Cancels a sync in progress and waits for the thread: no listener call after this.
  deinit { eropaf_sync_release(handle) }

  /// Queues one full sync. The listener is retained until its last callback.
  public func syncNow(_ listener: EropafSyncListener) throws {
    let ctx = Unmanaged.passRetained(listener as AnyObject).toOpaque()
    var error = eropaf_error(domain: 0, code: 0, message: nil, field: nil)
    let progress: eropaf_sync_progress_fn = { ctx, bytes, n in
      guard let ctx = ctx, let bytes = bytes else { return }
      let l = Unmanaged<AnyObject>.fromOpaque(ctx).takeUnretainedValue() as! EropafSyncListener
      if let p = try? Eropaf_V1_SyncProgress(serializedData: Data(bytes: bytes, count: n)) {
        l.syncProgress(p)
      }
    }
    let done: eropaf_sync_done_fn = { ctx, bytes, n, err in
      guard let ctx = ctx else { return }
      let l = Unmanaged<AnyObject>.fromOpaque(ctx).takeUnretainedValue() as! EropafSyncListener
      if let bytes = bytes, let r = try? Eropaf_V1_SyncResult(serializedData: Data(bytes: bytes, count: n)) {
        l.syncDone(.success(r))
      } else if let e = err?.pointee {
        l.syncDone(.failure(EropafError(borrowing: e)))
      }
    }
    let free: @convention(c) (UnsafeMutableRawPointer?) -> Void = { ctx in
      if let ctx = ctx { Unmanaged<AnyObject>.fromOpaque(ctx).release() }
    }
    guard eropaf_sync_run(handle, progress, done, ctx, free, &error) else {
      Unmanaged<AnyObject>.fromOpaque(ctx).release()  // on failure the caller still owns ctx
      throw EropafError(&error)
    }
  }

  /// Runs one full sync and waits. Not from a listener callback.
  public func syncBlocking() throws -> Eropaf_V1_SyncResult {
    try decode(Eropaf_V1_SyncResult.self, try call { eropaf_sync_run_blocking(handle, $0, $1) })
  }

  public func notifyLocalChange() { eropaf_sync_notify_local_change(handle) }
  public func cancel() { eropaf_sync_cancel(handle) }
}
