// The field-by-field merge shared by devices and the server.
//
// Why it converges: every rule below picks, per field, the maximum under one total order
// (version first, then the value itself). A maximum is commutative, associative and
// idempotent, so whole-record merge is too. Comparing values on equal versions matters: two
// nodes that (against all odds) wrote different values under the same version still agree.
#include "eropaf/merge.hpp"

#include <tuple>

namespace eropaf {
namespace {

template <class T>
void mergeField(Lww<T>& into, const Lww<T>& from) {
  if (from.version > into.version || (from.version == into.version && into.value < from.value)) {
    into = from;
  }
}

void mergeSet(LwwSet& into, const LwwSet& from) {
  for (const auto& [value, entry] : from) {
    auto [it, inserted] = into.try_emplace(value, entry);
    if (inserted) continue;
    SetEntry& mine = it->second;
    if (entry.version > mine.version ||
        (entry.version == mine.version && entry.present && !mine.present)) {
      mine = entry;
    }
  }
}

// A grow-only set of immutable entries: the union; the same id twice (which only a forged
// state makes differ) keeps the greater entry, so every order agrees.
void mergeHistory(CaseHistory& into, const CaseHistory& from) {
  for (const auto& [id, entry] : from) {
    auto [it, inserted] = into.try_emplace(id, entry);
    if (!inserted && it->second < entry) it->second = entry;
  }
}

// Content fixed at creation: the state with the greater `created` carries it (a delta without
// content has created zero and never wins). `tie` gives the content as a comparable tuple.
template <class R, class Tie>
void mergeContent(R& into, const R& from, Tie tie) {
  if (from.created > into.created || (from.created == into.created && tie(into) < tie(from))) {
    into.created = from.created;
    tie(into) = tie(from);
  }
}

void maxOf(Version& acc, const Version& v) {
  if (acc < v) acc = v;
}

}  // namespace

void mergeInto(Signal& into, const Signal& from) {
  mergeContent(into, from, [](auto& s) { return std::tie(s.content); });
  mergeField(into.case_id, from.case_id);
  mergeField(into.triage_state, from.triage_state);
  mergeField(into.duplicate_of, from.duplicate_of);
  mergeField(into.deleted, from.deleted);
  mergeField(into.triage_reason, from.triage_reason);
}

void mergeInto(Case& into, const Case& from) {
  mergeContent(into, from, [](auto& c) { return std::tie(c.opened_by, c.opened_at_ms); });
  mergeField(into.wijk, from.wijk);
  mergeField(into.household_key, from.household_key);
  mergeField(into.address, from.address);
  mergeField(into.title, from.title);
  mergeSet(into.categories, from.categories);
  mergeField(into.state, from.state);
  mergeField(into.assignee, from.assignee);
  mergeField(into.priority, from.priority);
  mergeField(into.first_contact_due_ms, from.first_contact_due_ms);
  mergeField(into.resolution_code, from.resolution_code);
  mergeField(into.resolution_text, from.resolution_text);
  mergeField(into.merged_into, from.merged_into);
  mergeField(into.conflict, from.conflict);
  mergeField(into.deleted, from.deleted);
  mergeField(into.priority_reason, from.priority_reason);
  mergeHistory(into.history, from.history);
}

void mergeInto(ContactMoment& into, const ContactMoment& from) {
  mergeContent(into, from, [](auto& m) {
    return std::tie(m.case_id, m.author_id, m.at_ms, m.kind, m.outcome, m.note, m.corrects_id);
  });
  mergeField(into.deleted, from.deleted);
}

void mergeInto(Transition& into, const Transition& from) {
  mergeContent(into, from, [](auto& t) {
    return std::tie(t.case_id, t.from, t.to, t.actor_id, t.actor_role, t.at_ms, t.reason,
                    t.made_offline, t.resolution_code);
  });
  mergeField(into.outcome, from.outcome);
  mergeField(into.deleted, from.deleted);
}

Status mergeInto(Record& into, const Record& from) {
  if (into.index() != from.index()) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot merge a " + std::string(toString(recordKind(from))) + " into a " +
                      std::string(toString(recordKind(into))));
  }
  if (recordId(into) != recordId(from)) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot merge record " + recordId(from) + " into record " + recordId(into));
  }
  std::visit(
      [&](auto& mine) {
        using T = std::decay_t<decltype(mine)>;
        mergeInto(mine, std::get<T>(from));
      },
      into);
  return {};
}

namespace {

// Calls f(v) for every version v in a record (const or not).
template <class R, class F>
void forEachVersion(R& r, F&& f) {
  std::visit(
      [&](auto& rec) {
        using T = std::decay_t<decltype(rec)>;
        f(rec.created);
        f(rec.deleted.version);
        if constexpr (std::is_same_v<T, Signal>) {
          f(rec.case_id.version);
          f(rec.triage_state.version);
          f(rec.duplicate_of.version);
          f(rec.triage_reason.version);
        } else if constexpr (std::is_same_v<T, Case>) {
          for (auto* v :
               {&rec.wijk.version, &rec.household_key.version, &rec.address.version,
                &rec.title.version, &rec.state.version, &rec.assignee.version,
                &rec.priority.version, &rec.first_contact_due_ms.version,
                &rec.resolution_code.version, &rec.resolution_text.version,
                &rec.merged_into.version, &rec.conflict.version, &rec.priority_reason.version}) {
            f(*v);
          }
          for (auto& [value, entry] : rec.categories) f(entry.version);
          for (auto& [id, entry] : rec.history) f(entry.version);
        } else if constexpr (std::is_same_v<T, Transition>) {
          f(rec.outcome.version);
        }
      },
      r);
}

}  // namespace

Version maxVersion(const Record& r) {
  Version max;
  forEachVersion(r, [&](const Version& v) { maxOf(max, v); });
  return max;
}

std::size_t restampVersions(Record& r, std::uint64_t node, std::uint64_t above_hlc, Version to) {
  std::size_t n = 0;
  forEachVersion(r, [&](Version& v) {
    if (!v.isZero() && v.node == node && v.hlc > above_hlc) {
      v = to;
      ++n;
    }
  });
  return n;
}

}  // namespace eropaf
