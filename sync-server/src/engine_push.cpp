// The sync engine, push: authorisation, merge and scope on the server side.
//
// Push: every change is decoded, validated, checked against the clock-skew bound, authorised
// for the principal (role, wijk, field, transition) and merged with core's merge function. All
// pushes queued while a commit runs are applied in the next transaction (group commit), each
// under its own savepoint, and answered only after COMMIT. Per-change results are remembered
// by change id, so a retried push is answered the same way and never applies twice.
//
// Transitions: checked against the shared state table for the actor's role, then against the
// server's current state. Legal from there: applied. Not legal: the transition is kept with
// outcome "conflict" and the case goes on the coordinator's conflict list. The case's state is
// re-stamped with a server version either way, so a device's optimistic state never wins.
//
// Here: what one push does inside the writer's transaction (put, the holds permissions.hpp
// decides on, apply*). The writer and its group commit are in engine.cpp.
#include <map>
#include <set>

#include "engine_impl.hpp"
#include "eropaf/id.hpp"
#include "eropaf/merge.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "scope.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

using detail::inWijk;
using detail::Verdict;
using permissions::Hold;
using permissions::Origin;

constexpr std::size_t kMaxChangesPerPush = 5000;
/// A change whose versions are this far below what its device was already served is refused.
constexpr std::int64_t kStaleVersionMarginMs = 30LL * 24 * 3600 * 1000;

Verdict refuse(ErrorCode code, std::string message, std::string field = {}) {
  return {Status(code, std::move(message), std::move(field))};
}

}  // namespace

Result<const std::vector<Category>*> Engine::Impl::knownCategories(StoreSession& s) {
  if (categories_version != ref_version.load()) {
    Result<std::vector<Category>> cats = s.categories();
    if (!cats.ok()) return cats.status();
    categories_cache = std::move(cats).value();
    categories_version = ref_version.load();
  }
  return &categories_cache;
}

Result<const std::vector<Wijk>*> Engine::Impl::knownWijken(StoreSession& s) {
  if (wijken_version != ref_version.load()) {
    Result<std::vector<Wijk>> wijken = s.wijken();
    if (!wijken.ok()) return wijken.status();
    wijken_cache = std::move(wijken).value();
    wijken_version = ref_version.load();
  }
  return &wijken_cache;
}

Result<Verdict> Engine::Impl::checkKnownWijk(StoreSession& s, const Worker& w,
                                             std::string_view field, std::string_view wijk) {
  Result<const std::vector<Wijk>*> known = knownWijken(s);
  if (!known.ok()) return known.status();
  const bool found = std::any_of((*known)->begin(), (*known)->end(),
                                 [&](const Wijk& k) { return k.code == wijk; });
  if (found) return Verdict{};
  // The principal's own wijken only: what they already know from their identity.
  std::string own;
  for (const auto& x : w.wijken) own += (own.empty() ? "" : ", ") + x;
  std::string shown_wijk =
      isValidWijkCode(wijk) ? std::string(wijk) : std::string("(not a CBS code)");
  return Verdict{Status(ErrorCode::kInvalidArgument,
                        "wijk " + shown_wijk + " is not a wijk of this server" +
                            (own.empty() ? std::string(".") : "; yours: " + own + ".") +
                            " Refile it with a known wijk (eropaf signal refile --wijk WK).",
                        std::string(field))};
}

Result<Verdict> Engine::Impl::assigneeRefusal(StoreSession& s, const Status& refused,
                                              std::string_view wijk) {
  Result<std::vector<Worker>> all = s.workers();
  if (!all.ok()) return all.status();
  const std::vector<Worker> valid = permissions::validAssignees(*all, wijk);
  std::string sentence;
  if (valid.empty()) {
    sentence = " No active wijkcoach or coordinator works in " + std::string(wijk) + ".";
  } else {
    sentence = permissions::validAssigneesSentence(valid, wijk);
  }
  return Verdict{Status(refused.code(), refused.message() + "." + sentence, refused.field())};
}

Status Engine::Impl::put(StoreSession& s, const Record& r, const Record* before, const Case* parent,
                         std::string_view echo_device) {
  RecordIndex index = indexOf(r, parent);
  index.echo_device = echo_device;
  Result<std::uint64_t> seq = s.putRecord(r, index);
  if (!seq.ok()) return seq.status();
  EROPAF_RETURN_IF_ERROR(noteNorms(s, r, before, parent));
  if (!std::holds_alternative<Case>(r) && !std::holds_alternative<Signal>(r)) {
    // A contact moment or transition is seen by whoever sees its case whole.
    if (parent != nullptr) {
      for (auto& a : audiencesOf(Record(*parent), nullptr)) job_touched.insert(std::move(a));
    }
    return {};
  }
  const Case* linked_before = nullptr;
  std::optional<Case> lb;
  if (before != nullptr) {
    if (const auto* sig = std::get_if<Signal>(before); sig && !sig->case_id.value.empty()) {
      Result<std::optional<StoredRecord>> c = s.getRecord(sig->case_id.value);
      if (c.ok() && c->has_value() && std::holds_alternative<Case>((*c)->record)) {
        lb = std::get<Case>((*c)->record);
        linked_before = &*lb;
      }
    }
  }
  std::vector<std::string> old_aud =
      before != nullptr ? audiencesOf(*before, linked_before) : std::vector<std::string>{};
  std::vector<std::string> new_aud = audiencesOf(r, parent);
  job_touched.insert(old_aud.begin(), old_aud.end());
  job_touched.insert(new_aud.begin(), new_aud.end());
  for (const auto& a : new_aud) {
    if (!std::binary_search(old_aud.begin(), old_aud.end(), a)) {
      EROPAF_RETURN_IF_ERROR(s.addScopeChange({*seq, recordId(r), a, true}));
    }
  }
  for (const auto& a : old_aud) {
    if (!std::binary_search(new_aud.begin(), new_aud.end(), a)) {
      EROPAF_RETURN_IF_ERROR(s.addScopeChange({*seq, recordId(r), a, false}));
    }
  }
  // A case's assignee is an audience of its linked signals too: their history follows, so
  // "who held this signal" stays a server fact even though the signals are not rewritten.
  const auto* now_case = std::get_if<Case>(&r);
  const auto* was_case = before != nullptr ? std::get_if<Case>(before) : nullptr;
  if (now_case != nullptr && was_case != nullptr &&
      now_case->assignee.value != was_case->assignee.value) {
    Result<std::vector<StoredRecord>> kids = s.children(now_case->id);
    if (!kids.ok()) return kids.status();
    for (const StoredRecord& k : *kids) {
      if (const auto* merged = std::get_if<Case>(&k.record)) {
        // A case merged into this one goes where it goes (and takes its own merged cases).
        const std::string& holder = holderOf(*merged, now_case);
        if (holder == merged->assignee.value) continue;
        Case follows = *merged;
        follows.assignee.set(holder, serverVersion());
        EROPAF_RETURN_IF_ERROR(put(s, follows, &k.record, nullptr));
        continue;
      }
      const auto* sig = std::get_if<Signal>(&k.record);
      if (sig == nullptr) continue;
      const std::string& reporter = sig->content.reporter_id;
      if (!was_case->assignee.value.empty() && was_case->assignee.value != reporter) {
        EROPAF_RETURN_IF_ERROR(
            s.addScopeChange({*seq, sig->id, "w:" + was_case->assignee.value, false}));
      }
      if (!now_case->assignee.value.empty() && now_case->assignee.value != reporter) {
        EROPAF_RETURN_IF_ERROR(
            s.addScopeChange({*seq, sig->id, "w:" + now_case->assignee.value, true}));
      }
    }
  }
  return {};
}

Result<std::optional<Case>> Engine::Impl::loadCase(StoreSession& s, const std::string& id) {
  if (id.empty()) return std::optional<Case>();
  Result<std::optional<StoredRecord>> r = s.getRecord(id);
  if (!r.ok()) return r.status();
  if (!r->has_value() || !std::holds_alternative<Case>((*r)->record)) {
    return std::optional<Case>();
  }
  return std::optional<Case>(std::get<Case>((*r)->record));
}

Status Engine::Impl::followMergeTarget(StoreSession& s, Case& c) {
  if (c.merged_into.value.empty()) return {};
  Result<std::optional<Case>> target = loadCase(s, c.merged_into.value);
  if (!target.ok()) return target.status();
  const std::string& holder = holderOf(c, target->has_value() ? &**target : nullptr);
  if (holder != c.assignee.value) c.assignee.set(std::string(holder), serverVersion());
  return {};
}

Result<Hold> Engine::Impl::caseHold(StoreSession& s, const Principal& p, const Case& c) {
  const Worker& w = p.worker;
  const Hold now_hold = permissions::caseHoldOnDevice(w, c);
  if (w.role != Role::kWijkcoach || now_hold != Hold::kWasAssigned) return now_hold;
  // Not theirs now. Offline work counts when the server's history shows they held it: as
  // assignee, or in their queue (they may have picked it up offline). A coach who never
  // held it gets the answer for an unknown id. ("Ever", not "when last served": work made
  // before an eviction may reach the server after it, and a note is never lost; what it can
  // do is bounded by permissions.hpp: a contact moment is kept, a move becomes a conflict.)
  const std::vector<std::string> self{"w:" + w.id};
  Result<bool> was_assigned = s.everHeld(c.id, self, 0);
  if (!was_assigned.ok()) return was_assigned.status();
  if (*was_assigned) return Hold::kWasAssigned;
  // In their queue while this device was syncing (from its first served page on): a case
  // that came and went before the device's first pull was never shown to it.
  const std::uint64_t first = p.first_served_seq;
  if (first == 0) return Hold::kNone;
  std::vector<std::string> queues;
  for (const auto& x : w.wijken) queues.push_back("q:" + x);
  Result<bool> queued_then = s.heldAt(c.id, queues, first);
  if (!queued_then.ok()) return queued_then.status();
  Result<bool> queued_since = *queued_then ? Result<bool>(true) : s.everHeld(c.id, queues, first);
  if (!queued_since.ok()) return queued_since.status();
  if (!*queued_since) return Hold::kNone;
  // Seen in their queue: did they pick it up (offline, and lost the race)? Then their work
  // on it is theirs to keep, as for a former assignee.
  Result<std::vector<StoredRecord>> kids = s.children(c.id);
  if (!kids.ok()) return kids.status();
  for (const StoredRecord& k : *kids) {
    const auto* t = std::get_if<Transition>(&k.record);
    if (t != nullptr && t->actor_id == w.id && t->to == CaseState::kToegewezen) {
      return Hold::kWasAssigned;
    }
  }
  return Hold::kWasQueued;
}

Result<Hold> Engine::Impl::caseHoldById(StoreSession& s, const Principal& p,
                                        const std::string& id) {
  Result<std::optional<Case>> c = loadCase(s, id);
  if (!c.ok()) return c.status();
  if (!c->has_value()) return Hold::kNone;
  return caseHold(s, p, **c);
}

Result<Hold> Engine::Impl::signalHold(StoreSession& s, const Principal& p, const Signal& sig) {
  Result<std::optional<Case>> linked = loadCase(s, sig.case_id.value);
  if (!linked.ok()) return linked.status();
  const Case* parent = linked->has_value() ? &**linked : nullptr;
  const Worker& w = p.worker;
  switch (viewOf(w, sig, parent)) {
    case View::kNone:
      return Hold::kNone;
    case View::kRedacted:
      return Hold::kOwn;
    case View::kFull:
      if (w.role == Role::kCoordinator && inWijk(w, sig.content.wijk)) return Hold::kFull;
      return sig.content.reporter_id == w.id ? Hold::kOwn : Hold::kReadOnly;
  }
  return Hold::kNone;
}

Result<Hold> Engine::Impl::signalHoldById(StoreSession& s, const Principal& p,
                                          const std::string& id) {
  if (id.empty()) return Hold::kNone;
  Result<std::optional<StoredRecord>> r = s.getRecord(id);
  if (!r.ok()) return r.status();
  if (!r->has_value()) return Hold::kNone;
  const auto* sig = std::get_if<Signal>(&(*r)->record);
  if (sig == nullptr) return Hold::kNone;
  return signalHold(s, p, *sig);
}

template <class T>
std::string_view Engine::Impl::echoOf(const Principal& p, const T& stored, const T& sent) {
  return stored == sent ? std::string_view(p.device_id) : std::string_view();
}

Result<Verdict> Engine::Impl::applySignal(StoreSession& s, const Principal& p, const Signal& in,
                                          const std::optional<Signal>& cur) {
  const Worker& w = p.worker;
  Result<Hold> link = caseHoldById(s, p, in.case_id.value);
  if (!link.ok()) return link.status();
  Result<Hold> dup = signalHoldById(s, p, in.duplicate_of.value);
  if (!dup.ok()) return dup.status();
  if (!cur) {
    if (in.created.isZero()) return Verdict{permissions::unknownRecord()};
    if (Status st = permissions::mayCreateSignal(w, in, *link, *dup); !st.ok()) {
      return Verdict{st};
    }
    Result<Verdict> wijk = checkKnownWijk(s, w, "content.wijk", in.content.wijk);
    if (!wijk.ok()) return wijk.status();
    if (!wijk->status.ok()) return *wijk;
    Result<const std::vector<Category>*> known = knownCategories(s);
    if (!known.ok()) return known.status();
    Status cats = checkCategories("content.categories", in.content.categories, **known, false);
    if (!cats.ok()) return Verdict{cats};
  } else {
    Result<Hold> hold = signalHold(s, p, *cur);
    if (!hold.ok()) return hold.status();
    Result<Hold> now_linked = caseHoldById(s, p, cur->case_id.value);
    if (!now_linked.ok()) return now_linked.status();
    if (Status st = permissions::mayWriteSignal(w, *hold, *cur, in, *link, *dup, *now_linked);
        !st.ok()) {
      return Verdict{st};
    }
  }
  Signal merged = cur.value_or(in);
  if (cur) mergeInto(merged, in);
  if (cur && merged == *cur) return Verdict{};  // nothing changes: nothing is stored
  Result<std::optional<Case>> linked = loadCase(s, merged.case_id.value);
  if (!linked.ok()) return linked.status();
  const Record before = cur ? Record(*cur) : Record(Signal{});
  EROPAF_RETURN_IF_ERROR(put(s, merged, cur ? &before : nullptr,
                             linked->has_value() ? &**linked : nullptr, echoOf(p, merged, in)));
  return Verdict{Status(), true};
}

Result<Verdict> Engine::Impl::applyCase(StoreSession& s, const Principal& p, Case in,
                                        const std::optional<Case>& cur) {
  const Worker& w = p.worker;
  if (!cur) {
    if (in.created.isZero()) return Verdict{permissions::unknownRecord()};
    // The wijk list is reference data every device gets: naming an unknown one tells nothing,
    // and says what to fix before "not yours" would.
    Result<Verdict> wijk = checkKnownWijk(s, w, "wijk", in.wijk.value);
    if (!wijk.ok()) return wijk.status();
    if (!wijk->status.ok()) return *wijk;
    if (Status st = permissions::mayCreateCase(w, in); !st.ok()) return Verdict{st};
  } else {
    Result<Hold> hold = caseHold(s, p, *cur);
    if (!hold.ok()) return hold.status();
    Result<Hold> merge_target = caseHoldById(s, p, in.merged_into.value);
    if (!merge_target.ok()) return merge_target.status();
    if (Status st = permissions::mayWriteCase(w, *hold, *cur, in, *merge_target); !st.ok()) {
      return Verdict{st};
    }
    // Creation facts are the stored ones (checked equal or absent above).
    in.created = {};
    in.opened_by.clear();
    in.opened_at_ms = 0;
  }
  std::vector<std::string> codes;
  for (const auto& [code, entry] : in.categories) {
    if (entry.present) codes.push_back(code);
  }
  Result<const std::vector<Category>*> known = knownCategories(s);
  if (!known.ok()) return known.status();
  Status cats = checkCategories("categories", codes, **known, false);
  if (!cats.ok()) return Verdict{cats};

  Case merged = cur.value_or(in);
  if (cur) mergeInto(merged, in);
  if (cur && merged == *cur) return Verdict{};  // nothing changes: nothing is stored
  if (cur && merged.wijk.value != cur->wijk.value) {
    Result<Verdict> wijk = checkKnownWijk(s, w, "wijk", merged.wijk.value);
    if (!wijk.ok()) return wijk.status();
    if (!wijk->status.ok()) return *wijk;
  }
  const bool assignee_changed =
      !cur || merged.assignee.value != cur->assignee.value || merged.wijk.value != cur->wijk.value;
  if (assignee_changed && !merged.assignee.value.empty()) {
    Result<std::optional<Worker>> a = s.worker(merged.assignee.value);
    if (!a.ok()) return a.status();
    Status valid = permissions::mayAssign(merged.assignee.value, a->has_value() ? &**a : nullptr,
                                          merged.wijk.value);
    if (!valid.ok()) {
      return assigneeRefusal(s, valid, merged.wijk.value);
    }
  }
  // Merged into another: held by the target's coach, whatever the delta said.
  EROPAF_RETURN_IF_ERROR(followMergeTarget(s, merged));
  // Clearing the conflict flag resolves the conflicting transitions.
  const bool resolved = cur && cur->conflict.value && !merged.conflict.value;
  const Record before = cur ? Record(*cur) : Record(Case{});
  EROPAF_RETURN_IF_ERROR(put(s, merged, cur ? &before : nullptr, nullptr, echoOf(p, merged, in)));
  if (resolved) {
    Result<std::vector<StoredRecord>> kids = s.children(merged.id);
    if (!kids.ok()) return kids.status();
    const Version v = serverVersion();
    for (StoredRecord& k : *kids) {
      auto* t = std::get_if<Transition>(&k.record);
      if (t == nullptr || t->outcome.value != TransitionOutcome::kConflict) continue;
      t->outcome.set(TransitionOutcome::kResolved, v);
      EROPAF_RETURN_IF_ERROR(put(s, *t, nullptr, &merged));
    }
  }
  return Verdict{Status(), true};
}

Result<Verdict> Engine::Impl::applyMoment(StoreSession& s, const Principal& p,
                                          const ContactMoment& in,
                                          const std::optional<ContactMoment>& cur) {
  if (!cur && in.created.isZero()) return Verdict{permissions::unknownRecord()};
  const std::string& case_id = cur ? cur->case_id : in.case_id;
  Result<std::optional<Case>> c = loadCase(s, case_id);
  if (!c.ok()) return c.status();
  Hold hold = Hold::kNone;
  if (c->has_value()) {
    Result<Hold> h = caseHold(s, p, **c);
    if (!h.ok()) return h.status();
    hold = *h;
  }
  if (!cur && hold == Hold::kQueued) {
    // In their queue again (cancelled or taken meanwhile, then reopened) while their moment
    // was on its way: if the server holds their pick-up or had them as assignee, it is the
    // offline work of a former holder, kept (nothing a worker wrote is lost).
    const std::vector<std::string> self{"w:" + p.worker.id};
    Result<bool> was_assigned = s.everHeld(case_id, self, 0);
    if (!was_assigned.ok()) return was_assigned.status();
    bool held = *was_assigned;
    Result<std::vector<StoredRecord>> kids =
        held ? Result<std::vector<StoredRecord>>(std::vector<StoredRecord>{}) : s.children(case_id);
    if (!kids.ok()) return kids.status();
    for (const StoredRecord& k : *kids) {
      const auto* t = std::get_if<Transition>(&k.record);
      held =
          held || (t != nullptr && t->actor_id == p.worker.id && t->to == CaseState::kToegewezen);
    }
    if (held) hold = Hold::kWasAssigned;
  }
  if (cur) {
    if (Status st = permissions::mayWriteMoment(p.worker, hold, *cur, in); !st.ok()) {
      return Verdict{st};
    }
  } else if (Status st = permissions::mayCreateMoment(p.worker, hold, in, Origin::kServer);
             !st.ok()) {
    return Verdict{st};
  } else if (!in.corrects_id.empty()) {
    // A correction names a moment of its own case (as the device checks): one answer for a
    // moment elsewhere and an unknown id, so the link is never an existence oracle.
    Result<std::optional<StoredRecord>> old = s.getRecord(in.corrects_id);
    if (!old.ok()) return old.status();
    const auto* m = old->has_value() ? std::get_if<ContactMoment>(&(*old)->record) : nullptr;
    if (m == nullptr || m->case_id != in.case_id) {
      return Verdict{permissions::refused(RecordKind::kContactMoment)};
    }
  }
  ContactMoment merged = cur.value_or(in);
  if (cur) mergeInto(merged, in);
  if (cur && merged == *cur) return Verdict{};  // nothing changes: nothing is stored
  EROPAF_RETURN_IF_ERROR(put(s, merged, nullptr, &**c, echoOf(p, merged, in)));
  return Verdict{Status(), true};
}

Result<Verdict> Engine::Impl::applyTransition(StoreSession& s, const Principal& p, Transition in,
                                              const std::optional<Transition>& cur) {
  if (!cur && in.created.isZero()) return Verdict{permissions::unknownRecord()};
  const std::string& case_id = cur ? cur->case_id : in.case_id;
  Result<std::optional<Case>> loaded = loadCase(s, case_id);
  if (!loaded.ok()) return loaded.status();
  Hold hold = Hold::kNone;
  if (loaded->has_value()) {
    Result<Hold> h = caseHold(s, p, **loaded);
    if (!h.ok()) return h.status();
    hold = *h;
  }
  if (cur) {
    // Known already: the same transition again changes nothing; anything else is an edit.
    if (!permissions::visible(hold)) return Verdict{permissions::unknownRecord()};
    Transition a = *cur;
    Transition b = in;
    a.outcome = b.outcome = {};
    a.deleted = b.deleted = {};
    if (in.created.isZero() || a != b)
      return Verdict{permissions::refused(RecordKind::kTransition)};
    return Verdict{};
  }
  in.outcome = {};  // server-owned
  Case c = loaded->has_value() ? **loaded : Case{};
  // A closing move's guard is judged on what this server stored for the case (its contact
  // moments, its category table), never on the pushed move; other moves read neither.
  std::vector<ContactMoment> stored_moments;
  std::span<const Category> categories;
  if (in.to == CaseState::kAfgesloten && loaded->has_value() && permissions::visible(hold)) {
    // Its own moments and those of every case merged into it (transitively: case_norms'
    // merged_into), as the device counts them: a merge keeps every attempt.
    Result<CaseFacts> facts = caseFacts(s, c.id);
    if (!facts.ok()) return facts.status();
    stored_moments = std::move(facts->moments);
    // guardFacts counts the case's own, as on the device (store_writes.cpp moveCase).
    for (ContactMoment& m : stored_moments) m.case_id = c.id;
    Result<const std::vector<Category>*> known = knownCategories(s);
    if (!known.ok()) return known.status();
    categories = **known;
  }
  const permissions::TransitionDecision d = permissions::decideTransition(
      p.worker, hold, c, in, Origin::kServer, stored_moments, categories);
  if (d.verdict == permissions::TransitionVerdict::kRefused) return Verdict{d.status};
  const bool applied = d.verdict == permissions::TransitionVerdict::kApplied;
  const Version v = serverVersion();
  in.outcome.set(applied ? TransitionOutcome::kApplied : TransitionOutcome::kConflict, v);
  const Record before(c);
  const bool closes = applied && d.next == CaseState::kAfgesloten && c.state.value != d.next;
  c.state.set(d.next, v);  // re-stamped either way: the server's state is the truth
  if (!applied) c.conflict.set(true, v);
  // The case keeps the code it was closed with (the state table checked it).
  if (closes) c.resolution_code.set(in.resolution_code, v);
  if (d.assign_actor) c.assignee.set(p.worker.id, v);
  EROPAF_RETURN_IF_ERROR(followMergeTarget(s, c));
  EROPAF_RETURN_IF_ERROR(put(s, c, &before, nullptr));
  EROPAF_RETURN_IF_ERROR(put(s, in, nullptr, &c));
  return Verdict{Status(), true, in.outcome.value};
}

Result<Verdict> Engine::Impl::applyChange(StoreSession& s, const Principal& p,
                                          const v1::Change& change) {
  Result<Record> decoded = wire::fromProto(change.record());
  if (!decoded.ok()) return Verdict{decoded.status()};
  Record incoming = std::move(decoded).value();
  if (Status v = validateRecord(incoming); !v.ok()) return Verdict{v};
  const Worker& w = p.worker;
  if (w.role == Role::kAdmin || w.role == Role::kUnspecified) {
    return refuse(ErrorCode::kPermissionDenied, "an admin does not write case content");
  }
  const std::uint64_t newest = maxVersion(incoming).hlc;
  {
    // Before applying: the server's own stamps (a transition's re-stamped state) must be
    // newer than every version this change carries.
    std::lock_guard lock(hlc_mu);
    if (hlc.tooFarAhead(newest)) return Verdict{hlc.receive(newest)};  // kClockSkew
    static_cast<void>(hlc.receive(newest));
  }
  // Far below what this device was already served: not work made since (its clock went
  // back, or the version was chosen to look old). Judged on the device's own served mark;
  // the margin is wide because offline work may wait for its push while a pull gets through.
  const std::uint64_t stale_margin = hlcPack(kStaleVersionMarginMs, 0);
  if (p.served_hlc > stale_margin && newest < p.served_hlc - stale_margin) {
    return refuse(ErrorCode::kFailedPrecondition,
                  "this change is older than what this device was already sent; its clock "
                  "went back",
                  "version");
  }
  Result<std::optional<StoredRecord>> existing = s.getRecord(recordId(incoming));
  if (!existing.ok()) return existing.status();
  if (existing->has_value() && (*existing)->record.index() != incoming.index()) {
    return Verdict{permissions::unknownRecord()};  // another kind: as unknown
  }
  auto cur = [&](auto tag) {
    using T = decltype(tag);
    return existing->has_value() ? std::optional<T>(std::get<T>((*existing)->record))
                                 : std::optional<T>();
  };
  Result<Verdict> r = std::visit(
      [&](auto& rec) -> Result<Verdict> {
        using T = std::decay_t<decltype(rec)>;
        if constexpr (std::is_same_v<T, Signal>) {
          return applySignal(s, p, rec, cur(Signal{}));
        } else if constexpr (std::is_same_v<T, Case>) {
          return applyCase(s, p, rec, cur(Case{}));
        } else if constexpr (std::is_same_v<T, ContactMoment>) {
          return applyMoment(s, p, rec, cur(ContactMoment{}));
        } else {
          return applyTransition(s, p, rec, cur(Transition{}));
        }
      },
      incoming);
  if (r.ok() && r->status.ok()) {
    // Only a write is logged as theirs: a refusal or an accepted no-op leaves no line.
    if (r->wrote) {
      // In the push's own transaction: the log line commits with the write, or neither does.
      EROPAF_RETURN_IF_ERROR(s.appendAccess(
          {now(), "push:" + std::string(toString(recordKind(incoming))), recordId(incoming),
           householdOf(incoming), w.id, "", p.device_id, std::string(toString(w.role)), ""}));
    }
  }
  return r;
}

Status Engine::Impl::applyPush(StoreSession& s, const Principal& authenticated,
                               const v1::PushRequest& req, v1::PushResponse& resp) {
  // What this device was served, read in the writer's transaction: the freshest server fact.
  Principal p = authenticated;
  Result<std::optional<std::pair<DeviceInfo, std::string>>> dev = s.device(p.device_id);
  if (!dev.ok()) return dev.status();
  if (dev->has_value()) {
    p.served_seq = (*dev)->first.served_seq;
    p.served_hlc = (*dev)->first.served_hlc;
    p.first_served_seq = (*dev)->first.first_served_seq;
  }
  for (const v1::Change& change : req.changes()) {
    v1::ChangeResult* out = resp.add_results();
    out->set_change_id(change.change_id());
    if (!isValidUuid(change.change_id())) {
      out->set_accepted(false);
      out->mutable_error()->set_code(v1::ERROR_CODE_INVALID_ARGUMENT);
      out->mutable_error()->set_message("change_id is not a lower-case UUID");
      out->mutable_error()->set_field("change_id");
      ++c_refused;
      continue;
    }
    Result<std::optional<AppliedChange>> prior = s.appliedChange(p.device_id, change.change_id());
    if (!prior.ok()) return prior.status();
    AppliedChange result;
    // The verdict on a transition this push stored (a repeat of an applied change says none).
    TransitionOutcome transition_outcome = TransitionOutcome::kUnspecified;
    if (prior->has_value()) {
      result = **prior;
    } else {
      Result<Verdict> r = applyChange(s, p, change);
      if (!r.ok()) return r.status();
      result.change_id = change.change_id();
      result.accepted = r->status.ok();
      result.error = r->status;
      transition_outcome = r->transition_outcome;
      // A clock-skew refusal is not remembered: the device re-stamps and may retry.
      if (r->status.code() != ErrorCode::kClockSkew) {
        EROPAF_RETURN_IF_ERROR(s.recordApplied(result, p.device_id));
      }
    }
    out->set_accepted(result.accepted);
    out->set_transition_outcome(static_cast<v1::TransitionOutcome>(transition_outcome));
    if (!result.accepted) {
      out->mutable_error()->set_code(static_cast<v1::ErrorCode>(result.error.code()));
      out->mutable_error()->set_message(result.error.message());
      out->mutable_error()->set_field(result.error.field());
      ++c_refused;
    } else {
      ++c_applied;
    }
  }
  EROPAF_RETURN_IF_ERROR(flushNorms(s));
  EROPAF_RETURN_IF_ERROR(s.touchDevice(p.device_id, now()));
  wire::toProto(serverVersion(), *resp.mutable_server_version());
  return {};
}

void Engine::push(Principal principal, v1::PushRequest request, PushDone done) {
  ++impl_->c_pushes;
  if (!request.device_id().empty() && request.device_id() != principal.device_id) {
    done(Status(ErrorCode::kPermissionDenied, "device_id is not the authenticated device",
                "device_id"));
    return;
  }
  if (static_cast<std::size_t>(request.changes_size()) > kMaxChangesPerPush) {
    done(Status(ErrorCode::kTooLarge,
                "at most " + std::to_string(kMaxChangesPerPush) + " changes per push", "changes"));
    return;
  }
  if (request.all_or_nothing()) {
    impl_->pushAllOrNothing(principal, std::move(request), std::move(done));
    return;
  }
  auto resp = std::make_shared<v1::PushResponse>();
  auto req = std::make_shared<v1::PushRequest>(std::move(request));
  auto who = std::make_shared<Principal>(std::move(principal));
  Impl* impl = impl_.get();
  auto shared_done = std::make_shared<PushDone>(std::move(done));
  const bool queued = impl->enqueue(Impl::Job{[impl, req, resp, who](StoreSession& s) {
                                                resp->Clear();
                                                return impl->applyPush(s, *who, *req, *resp);
                                              },
                                              [resp, shared_done](const Status& st) {
                                                if (st.ok()) {
                                                  (*shared_done)(std::move(*resp));
                                                } else {
                                                  (*shared_done)(st);
                                                }
                                              }});
  if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

}  // namespace eropaf::server
