// Input validation: UTF-8, text limits, addresses, categories and whole record states.
#include "eropaf/validate.hpp"

#include <algorithm>

#include "eropaf/id.hpp"
#include "eropaf/resolution.hpp"

namespace eropaf {
namespace {

bool isBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

std::string join(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty()) out.push_back('.');
  out += b;
  return out;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool isCategoryCode(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || c == '_' || isDigit(c); });
}

template <class E>
bool inRange(E v, E lo, E hi) {
  return v >= lo && v <= hi;
}

Status badEnum(const std::string& field, std::int64_t value) {
  return Status(ErrorCode::kInvalidArgument,
                "value " + std::to_string(value) + " is not a known " + field, field);
}

/// A resolution code a stored record carries: empty, or one of the list (resolution.hpp).
/// Whether a worker may choose it is the state table's question, not the record's.
Status checkStoredResolution(std::string_view code) {
  if (code.empty() || isResolutionCode(code)) return {};
  return Status(ErrorCode::kInvalidArgument, "resolution_code is not a known resolution code",
                "resolution_code");
}

Status checkId(const std::string& field, std::string_view id, bool required) {
  if (id.empty()) {
    return required ? Status(ErrorCode::kRequiredFieldMissing, field + " is required", field)
                    : Status();
  }
  if (!isValidUuid(id)) {
    return Status(ErrorCode::kInvalidArgument, field + " is not a lower-case UUID", field);
  }
  return {};
}

Status checkWorker(const std::string& field, std::string_view id, bool required) {
  if (id.empty()) {
    return required ? Status(ErrorCode::kRequiredFieldMissing, field + " is required", field)
                    : Status();
  }
  if (!isValidWorkerId(id)) {
    return Status(ErrorCode::kInvalidArgument,
                  field + " is not a worker id (1-64 of a-z 0-9 . _ -)", field);
  }
  return {};
}

Status checkWijk(const std::string& field, std::string_view code) {
  if (code.empty()) return Status(ErrorCode::kRequiredFieldMissing, field + " is required", field);
  if (!isValidWijkCode(code)) {
    return Status(ErrorCode::kInvalidArgument,
                  field + " '" + std::string(code) + "' is not a CBS wijk code like WK015301",
                  field);
  }
  return {};
}

Status checkCodes(const std::string& field, const std::vector<std::string>& codes) {
  if (codes.size() > kMaxCategoriesPerRecord) {
    return Status(ErrorCode::kInvalidArgument,
                  "at most " + std::to_string(kMaxCategoriesPerRecord) + " categories", field);
  }
  for (const auto& c : codes) {
    if (!isCategoryCode(c)) {
      return Status(ErrorCode::kInvalidArgument, "'" + c + "' is not a category code", field);
    }
  }
  return {};
}

Status checkPositiveTime(const std::string& field, std::int64_t ms) {
  if (ms <= 0) return Status(ErrorCode::kRequiredFieldMissing, field + " is required", field);
  return {};
}

Status validate(const Signal& s) {
  EROPAF_RETURN_IF_ERROR(checkId("id", s.id, true));
  if (!s.created.isZero()) {
    const SignalContent& c = s.content;
    EROPAF_RETURN_IF_ERROR(checkWorker("content.reporter_id", c.reporter_id, true));
    if (!inRange(c.source_role, Role::kZorgmedewerker, Role::kAdmin)) {
      return badEnum("content.source_role", static_cast<std::int64_t>(c.source_role));
    }
    EROPAF_RETURN_IF_ERROR(checkWijk("content.wijk", c.wijk));
    EROPAF_RETURN_IF_ERROR(checkAddress("content.address", c.address));
    if (c.household_key != householdKey(c.address)) {
      return Status(ErrorCode::kInvalidArgument, "content.household_key does not match the address",
                    "content.household_key");
    }
    if (c.categories.empty()) {
      return Status(ErrorCode::kRequiredFieldMissing, "at least one category is required",
                    "content.categories");
    }
    EROPAF_RETURN_IF_ERROR(checkCodes("content.categories", c.categories));
    if (!inRange(c.urgency, Urgency::kLaag, Urgency::kAcuut)) {
      return badEnum("content.urgency", static_cast<std::int64_t>(c.urgency));
    }
    EROPAF_RETURN_IF_ERROR(checkPositiveTime("content.observed_at_ms", c.observed_at_ms));
    EROPAF_RETURN_IF_ERROR(checkText("content.text", c.text, kMaxSignalTextBytes, true));
    if (!inRange(c.informed, Informed::kYes, Informed::kNoRisk)) {
      return badEnum("content.informed", static_cast<std::int64_t>(c.informed));
    }
  }
  if (s.case_id.isSet()) EROPAF_RETURN_IF_ERROR(checkId("case_id", s.case_id.value, false));
  if (s.triage_state.isSet() &&
      !inRange(s.triage_state.value, TriageState::kNieuw, TriageState::kAfgewezen)) {
    return badEnum("triage_state", static_cast<std::int64_t>(s.triage_state.value));
  }
  if (s.duplicate_of.isSet()) {
    EROPAF_RETURN_IF_ERROR(checkId("duplicate_of", s.duplicate_of.value, false));
  }
  if (s.triage_reason.isSet()) {
    EROPAF_RETURN_IF_ERROR(
        checkText("triage_reason", s.triage_reason.value, kMaxReasonBytes, false));
  }
  return {};
}

namespace {

Status checkHistory(const CaseHistory& history) {
  if (history.size() > kMaxHistoryEntries) {
    return Status(ErrorCode::kInvalidArgument,
                  "more than " + std::to_string(kMaxHistoryEntries) + " history entries",
                  "history");
  }
  for (const auto& [id, e] : history) {
    EROPAF_RETURN_IF_ERROR(checkId("history.id", e.id, true));
    if (e.version.isZero()) {
      return Status(ErrorCode::kInvalidArgument, "a history entry needs a version",
                    "history.version");
    }
    EROPAF_RETURN_IF_ERROR(checkWorker("history.actor_id", e.actor_id, true));
    EROPAF_RETURN_IF_ERROR(checkPositiveTime("history.at_ms", e.at_ms));
    if (e.field == HistoryField::kAssignee) {
      EROPAF_RETURN_IF_ERROR(checkWorker("history.from", e.from, false));
      EROPAF_RETURN_IF_ERROR(checkWorker("history.to", e.to, false));
    } else if (e.field == HistoryField::kPriority) {
      for (const std::string* p : {&e.from, &e.to}) {
        if (!p->empty() && !parsePriority(*p)) {
          return Status(ErrorCode::kInvalidArgument, "'" + *p + "' is not a priority",
                        p == &e.from ? "history.from" : "history.to");
        }
      }
    } else {
      return badEnum("history.field", static_cast<std::int64_t>(e.field));
    }
    EROPAF_RETURN_IF_ERROR(checkText("history.reason", e.reason, kMaxReasonBytes, false));
  }
  return {};
}

}  // namespace

Status validate(const Case& c) {
  EROPAF_RETURN_IF_ERROR(checkId("id", c.id, true));
  if (!c.created.isZero()) {
    EROPAF_RETURN_IF_ERROR(checkWorker("opened_by", c.opened_by, true));
    EROPAF_RETURN_IF_ERROR(checkPositiveTime("opened_at_ms", c.opened_at_ms));
  }
  if (c.wijk.isSet()) EROPAF_RETURN_IF_ERROR(checkWijk("wijk", c.wijk.value));
  if (c.household_key.isSet()) {
    EROPAF_RETURN_IF_ERROR(checkText("household_key", c.household_key.value, kMaxShortBytes, true));
  }
  if (c.address.isSet()) EROPAF_RETURN_IF_ERROR(checkAddress("address", c.address.value));
  if (c.title.isSet())
    EROPAF_RETURN_IF_ERROR(checkText("title", c.title.value, kMaxTitleBytes, false));
  if (c.categories.size() > 4 * kMaxCategoriesPerRecord) {
    return Status(ErrorCode::kInvalidArgument, "too many category entries", "categories");
  }
  for (const auto& [code, entry] : c.categories) {
    if (!isCategoryCode(code)) {
      return Status(ErrorCode::kInvalidArgument, "'" + code + "' is not a category code",
                    "categories");
    }
  }
  if (c.state.isSet() && !inRange(c.state.value, CaseState::kNieuw, CaseState::kHeropend)) {
    return badEnum("state", static_cast<std::int64_t>(c.state.value));
  }
  if (c.assignee.isSet()) EROPAF_RETURN_IF_ERROR(checkWorker("assignee", c.assignee.value, false));
  if (c.priority.isSet() && !inRange(c.priority.value, Priority::kAcuut, Priority::kLaag)) {
    return badEnum("priority", static_cast<std::int64_t>(c.priority.value));
  }
  if (c.first_contact_due_ms.isSet() && c.first_contact_due_ms.value < 0) {
    return Status(ErrorCode::kInvalidArgument, "first_contact_due_ms is negative",
                  "first_contact_due_ms");
  }
  if (c.resolution_code.isSet())
    EROPAF_RETURN_IF_ERROR(checkStoredResolution(c.resolution_code.value));
  if (c.resolution_text.isSet()) {
    EROPAF_RETURN_IF_ERROR(
        checkText("resolution_text", c.resolution_text.value, kMaxReasonBytes, false));
  }
  if (c.merged_into.isSet())
    EROPAF_RETURN_IF_ERROR(checkId("merged_into", c.merged_into.value, false));
  if (c.priority_reason.isSet()) {
    EROPAF_RETURN_IF_ERROR(
        checkText("priority_reason", c.priority_reason.value, kMaxReasonBytes, false));
  }
  return checkHistory(c.history);
}

Status validate(const ContactMoment& m) {
  EROPAF_RETURN_IF_ERROR(checkId("id", m.id, true));
  if (m.created.isZero()) return {};
  EROPAF_RETURN_IF_ERROR(checkId("case_id", m.case_id, true));
  EROPAF_RETURN_IF_ERROR(checkWorker("author_id", m.author_id, true));
  EROPAF_RETURN_IF_ERROR(checkPositiveTime("at_ms", m.at_ms));
  if (!inRange(m.kind, ContactKind::kHuisbezoek, ContactKind::kOverleg)) {
    return badEnum("kind", static_cast<std::int64_t>(m.kind));
  }
  if (!inRange(m.outcome, ContactOutcome::kGesprek, ContactOutcome::kDoorverwezen)) {
    return badEnum("outcome", static_cast<std::int64_t>(m.outcome));
  }
  EROPAF_RETURN_IF_ERROR(checkText("note", m.note, kMaxNoteBytes, false));
  return checkId("corrects_id", m.corrects_id, false);
}

Status validate(const Transition& t) {
  EROPAF_RETURN_IF_ERROR(checkId("id", t.id, true));
  if (t.outcome.isSet() &&
      !inRange(t.outcome.value, TransitionOutcome::kPending, TransitionOutcome::kResolved)) {
    return badEnum("outcome", static_cast<std::int64_t>(t.outcome.value));
  }
  if (t.created.isZero()) return {};
  EROPAF_RETURN_IF_ERROR(checkId("case_id", t.case_id, true));
  if (!inRange(t.from, CaseState::kNieuw, CaseState::kHeropend)) {
    return badEnum("from", static_cast<std::int64_t>(t.from));
  }
  if (!inRange(t.to, CaseState::kNieuw, CaseState::kHeropend)) {
    return badEnum("to", static_cast<std::int64_t>(t.to));
  }
  EROPAF_RETURN_IF_ERROR(checkWorker("actor_id", t.actor_id, true));
  if (!inRange(t.actor_role, Role::kZorgmedewerker, Role::kAdmin)) {
    return badEnum("actor_role", static_cast<std::int64_t>(t.actor_role));
  }
  EROPAF_RETURN_IF_ERROR(checkPositiveTime("at_ms", t.at_ms));
  EROPAF_RETURN_IF_ERROR(checkText("reason", t.reason, kMaxReasonBytes, false));
  return checkStoredResolution(t.resolution_code);
}

}  // namespace

bool isValidUtf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07u, min = 0x10000;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

Status checkText(std::string_view field, std::string_view value, std::size_t max_bytes,
                 bool required) {
  const std::string f(field);
  if (!isValidUtf8(value)) {
    return Status(ErrorCode::kInvalidUtf8, f + " is not valid UTF-8", f);
  }
  if (value.size() > max_bytes) {
    return Status(ErrorCode::kTextTooLong,
                  f + " is " + std::to_string(value.size()) + " bytes; the limit is " +
                      std::to_string(max_bytes),
                  f);
  }
  if (required && isBlank(value)) {
    return Status(ErrorCode::kRequiredFieldMissing, f + " is required", f);
  }
  return {};
}

Status checkAddress(std::string_view field, const Address& a) {
  const std::string f(field);
  const std::string pc_field = join(f, "postcode");
  const std::string& pc = a.postcode;
  if (pc.empty()) return Status(ErrorCode::kRequiredFieldMissing, "postcode is required", pc_field);
  // "1234AB" or "1234 AB", letters in either case; the first digit is never 0.
  const bool spaced = pc.size() == 7 && pc[4] == ' ';
  const bool ok = (pc.size() == 6 || spaced) && pc[0] >= '1' && pc[0] <= '9' && isDigit(pc[1]) &&
                  isDigit(pc[2]) && isDigit(pc[3]) && isAlpha(pc[spaced ? 5 : 4]) &&
                  isAlpha(pc[spaced ? 6 : 5]);
  if (!ok) {
    return Status(ErrorCode::kInvalidArgument,
                  "postcode '" + (isValidUtf8(pc) ? pc : std::string("?")) +
                      "' is not a Dutch postcode like 1234AB",
                  pc_field);
  }
  const std::string nr_field = join(f, "house_number");
  const std::string& nr = a.house_number;
  if (nr.empty()) {
    return Status(ErrorCode::kRequiredFieldMissing, "house number is required", nr_field);
  }
  if (nr.size() > 5 || nr[0] == '0' || !std::all_of(nr.begin(), nr.end(), isDigit)) {
    return Status(ErrorCode::kInvalidArgument, "house number must be 1 to 5 digits", nr_field);
  }
  const std::string add_field = join(f, "addition");
  if (a.addition.size() > 10 || !std::all_of(a.addition.begin(), a.addition.end(), [](char c) {
        return isAlpha(c) || isDigit(c) || c == '-' || c == ' ';
      })) {
    return Status(ErrorCode::kInvalidArgument,
                  "house number addition must be at most 10 letters or digits", add_field);
  }
  EROPAF_RETURN_IF_ERROR(checkText(join(f, "street"), a.street, kMaxShortBytes, false));
  return checkText(join(f, "city"), a.city, kMaxShortBytes, false);
}

Status checkCategories(std::string_view field, std::span<const std::string> codes,
                       std::span<const Category> known, bool required) {
  const std::string f(field);
  if (codes.empty()) {
    return required
               ? Status(ErrorCode::kRequiredFieldMissing, "at least one category is required", f)
               : Status();
  }
  if (codes.size() > kMaxCategoriesPerRecord) {
    return Status(ErrorCode::kInvalidArgument,
                  "at most " + std::to_string(kMaxCategoriesPerRecord) + " categories", f);
  }
  for (const std::string& code : codes) {
    const bool found =
        std::any_of(known.begin(), known.end(), [&](const Category& c) { return c.code == code; });
    if (!found) {
      const std::string shown = isValidUtf8(code) && code.size() <= 64 ? code : "?";
      return Status(ErrorCode::kUnknownCategory, "unknown category '" + shown + "'", f);
    }
  }
  return {};
}

Status validateRecord(const Record& record) {
  return std::visit([](const auto& r) { return validate(r); }, record);
}

}  // namespace eropaf
