// Id resolution, category labels and colleagues for the CLI (see lookup.hpp).
#include "lookup.hpp"

#include <algorithm>
#include <ctime>

#include "eropaf/id.hpp"
#include "eropaf/permissions.hpp"

namespace eropaf::cli {
namespace {

/// How many candidates an ambiguous prefix lists; one more is fetched to know there are more.
constexpr std::size_t kMaxCandidates = 10;

std::string day(std::int64_t ms) {
  if (ms <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string_view noun(RecordKind kind) {
  switch (kind) {
    case RecordKind::kSignal:
      return "signal";
    case RecordKind::kCase:
      return "case";
    case RecordKind::kContactMoment:
      return "contact moment";
    case RecordKind::kTransition:
      return "transition";
  }
  return "record";
}

/// One line about a candidate: what it is, so the person can tell which they meant. A read
/// that fails or finds nothing still lists the id: the list is never shorter than the match.
std::string describe(const store::Store& store, RecordKind kind, const std::string& id,
                     std::string_view case_id, const Labels& labels) {
  std::string what;
  if (kind == RecordKind::kCase) {
    auto c = store.getCase(id);
    if (c.ok() && c->has_value()) {
      const Case& x = **c;
      what = std::string(toString(x.state.value)) + "  " +
             (x.title.value.empty() ? "(details after pick-up)" : x.title.value);
    }
  } else if (kind == RecordKind::kSignal) {
    auto s = store.signal(id);
    if (s.ok() && s->has_value()) {
      const Signal& x = **s;
      what = day(x.content.observed_at_ms) + "  " + std::string(toString(x.content.urgency)) +
             "  " + labelList(x.content.categories, labels);
    }
  } else if (kind == RecordKind::kContactMoment && !case_id.empty()) {
    auto ms = store.contactMoments(case_id);
    if (ms.ok()) {
      for (const ContactMoment& m : *ms) {
        if (m.id != id) continue;
        what = day(m.at_ms) + "  " + std::string(toString(m.kind)) + "  " +
               std::string(toString(m.outcome));
      }
    }
  }
  std::string line = "  " + shortId(id) + "  ";
  if (!what.empty()) line += what + "  ";
  return line + "(" + id + ")";
}

}  // namespace

Result<std::string> resolveId(const store::Store& store, RecordKind kind, std::string_view flag,
                              std::string_view text, std::string_view case_id) {
  // A whole id is what the store's own calls take; they answer an unknown one themselves.
  if (isValidUuid(text)) return std::string(text);
  const std::string field(flag.substr(flag.rfind('-') + 1));
  auto found = store.matchIds(kind, text, kMaxCandidates + 1);
  if (!found.ok()) {
    if (found.status().field() != "prefix") return found.status();
    return Status(ErrorCode::kInvalidArgument,
                  std::string(flag) + " '" + std::string(text) +
                      "' is not an id: give the id, or its first digits, or the short id a "
                      "table shows (hex digits 0-9 a-f)",
                  field);
  }
  if (found->empty()) {
    return Status(ErrorCode::kNotFound,
                  "no such " + std::string(noun(kind)) +
                      ": none on this device has an id or "
                      "short id starting with '" +
                      std::string(text) + "'",
                  field);
  }
  if (found->size() == 1) return found->front();
  const Labels labels = categoryLabels(store);
  std::string message = std::string(flag) + " '" + std::string(text) +
                        "' is ambiguous: " + (found->size() > kMaxCandidates ? "more than " : "") +
                        std::to_string(std::min(found->size(), kMaxCandidates)) + " " +
                        std::string(noun(kind)) + "s match; give more digits:";
  for (std::size_t i = 0; i < found->size() && i < kMaxCandidates; ++i) {
    message += "\n" + describe(store, kind, (*found)[i], case_id, labels);
  }
  return Status(ErrorCode::kInvalidArgument, message);
}

Labels categoryLabels(const store::Store& store) {
  Labels out;
  for (const Category& c : store.categories()) {
    if (!c.label.empty()) out.emplace(c.code, c.label);
  }
  return out;
}

std::string labelList(const std::vector<std::string>& codes, const Labels& labels) {
  std::string out;
  for (const std::string& code : codes) {
    const auto it = labels.find(code);
    out += (out.empty() ? "" : ", ") + (it == labels.end() ? code : it->second);
  }
  return out;
}

Status withValidAssignees(const Status& refusal, std::string_view to, std::string_view wijk,
                          const std::vector<Worker>& workers, bool known) {
  return Status(
      refusal.code(),
      std::string(to) +
          (known ? " cannot take this case: "
                 : " is not a colleague this device knows (sync if they joined today): ") +
          refusal.message() + "." + permissions::validAssigneesSentence(workers, wijk),
      refusal.field());
}

}  // namespace eropaf::cli
