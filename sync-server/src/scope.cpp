// Scope rules. Deliberately small and table-like: this is the code an auditor reads.
#include "scope.hpp"

#include <algorithm>

#include "eropaf/state_table.hpp"

namespace eropaf::server {
namespace {

bool inWijk(const Worker& w, const std::string& wijk) {
  return std::find(w.wijken.begin(), w.wijken.end(), wijk) != w.wijken.end();
}

View caseView(const Worker& w, const Case& c) {
  switch (w.role) {
    case Role::kCoordinator:
      return inWijk(w, c.wijk.value) ? View::kFull : View::kNone;
    case Role::kWijkcoach:
      if (c.assignee.value == w.id) return View::kFull;
      if (c.assignee.value.empty() && isOpenState(c.state.value) && !c.deleted.value &&
          inWijk(w, c.wijk.value)) {
        return View::kRedacted;
      }
      return View::kNone;
    default:
      return View::kNone;
  }
}

}  // namespace

std::vector<std::string> audiencesOf(const Worker& worker) {
  std::vector<std::string> out{"w:" + worker.id};
  for (const auto& wijk : worker.wijken) {
    if (worker.role == Role::kCoordinator) out.push_back("c:" + wijk);
    if (worker.role == Role::kWijkcoach) out.push_back("q:" + wijk);
  }
  return out;
}

std::vector<std::string> audiencesOf(const Record& record, const Case* linked_case) {
  std::vector<std::string> out;
  if (const auto* c = std::get_if<Case>(&record)) {
    out.push_back("c:" + c->wijk.value);
    if (!c->assignee.value.empty()) out.push_back("w:" + c->assignee.value);
    if (c->assignee.value.empty() && isOpenState(c->state.value) && !c->deleted.value) {
      out.push_back("q:" + c->wijk.value);
    }
  } else if (const auto* s = std::get_if<Signal>(&record)) {
    out.push_back("c:" + s->content.wijk);
    out.push_back("w:" + s->content.reporter_id);
    if (linked_case != nullptr && !linked_case->assignee.value.empty()) {
      out.push_back("w:" + linked_case->assignee.value);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

View viewOf(const Worker& w, const Record& record, const Case* parent) {
  if (w.role == Role::kAdmin || !w.active) return View::kNone;  // admins never read content
  return std::visit(
      [&](const auto& r) -> View {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, Case>) {
          return caseView(w, r);
        } else if constexpr (std::is_same_v<T, Signal>) {
          if (w.role == Role::kCoordinator && inWijk(w, r.content.wijk)) return View::kFull;
          if (parent != nullptr && w.role == Role::kWijkcoach && parent->assignee.value == w.id) {
            return View::kFull;
          }
          if (r.content.reporter_id == w.id) {
            return w.role == Role::kZorgmedewerker ? View::kRedacted : View::kFull;
          }
          return View::kNone;
        } else {
          // Contact moments and transitions: whole when their case is seen whole.
          return parent != nullptr && caseView(w, *parent) == View::kFull ? View::kFull
                                                                          : View::kNone;
        }
      },
      record);
}

Record redact(const Record& record) {
  Record out = record;
  if (auto* c = std::get_if<Case>(&out)) {
    c->household_key = {};
    c->address = {};
    c->title = {};
    c->resolution_text = {};
    c->resolution_code = {};
    c->merged_into = {};
    c->priority_reason = {};
    c->history.clear();
  } else if (auto* s = std::get_if<Signal>(&out)) {
    s->case_id = {};
    s->duplicate_of = {};
    s->triage_reason = {};
  }
  return out;
}

const std::string& holderOf(const Case& c, const Case* target) {
  // Closed as merged; a coordinator who reopens it makes it a case of its own again.
  if (target != nullptr && !c.merged_into.value.empty() && c.merged_into.value == target->id &&
      !isOpenState(c.state.value)) {
    return target->assignee.value;
  }
  return c.assignee.value;
}

RecordIndex indexOf(const Record& record, const Case* parent) {
  RecordIndex idx;
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, Case>) {
          idx.wijk = r.wijk.value;
          idx.owner = r.assignee.value;
          idx.parent = r.merged_into.value;
        } else if constexpr (std::is_same_v<T, Signal>) {
          idx.wijk = r.content.wijk;
          idx.owner = r.content.reporter_id;
          idx.parent = r.case_id.value;
        } else {
          idx.parent = r.case_id;
          if (parent != nullptr) idx.wijk = parent->wijk.value;
        }
      },
      record);
  return idx;
}

}  // namespace eropaf::server
