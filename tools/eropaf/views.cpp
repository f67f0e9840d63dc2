// The CLI's views of records: times and dates as people read them, table cells, JSON.
#include <ctime>
#include <iostream>
#include <limits>
#include <map>

#include "cli.hpp"
#include "eropaf/id.hpp"

namespace eropaf::cli {

// --- time --------------------------------------------------------------------------------------

std::string formatTime(std::int64_t ms, bool with_time) {
  if (ms <= 0 || ms == std::numeric_limits<std::int64_t>::max()) return "-";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, with_time ? "%Y-%m-%d %H:%M" : "%Y-%m-%d", &tm);
  return buf;
}

/// "Thu 3 Dec" (local time), as the sync summary names a due day.
std::string formatDay(std::int64_t ms) {
  if (ms <= 0 || ms == std::numeric_limits<std::int64_t>::max()) return "-";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char day[8];
  char month[8];
  std::strftime(day, sizeof day, "%a", &tm);
  std::strftime(month, sizeof month, "%b", &tm);
  return std::string(day) + " " + std::to_string(tm.tm_mday) + " " + month;
}

std::optional<std::int64_t> parseTime(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M", &tm);
  if (end == nullptr || *end != '\0') {
    tm = {};
    end = strptime(s.c_str(), "%Y-%m-%d %H:%M", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
  }
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  if (t < 0) return std::nullopt;
  return static_cast<std::int64_t>(t) * 1000;
}

// Short ids in tables and messages are eropaf::shortId(): the random digits of the UUIDv7.

/// Characters, not bytes: labels and names may hold é or ë. (Wide characters are not counted
/// double; Dutch text has none.)
std::size_t displayWidth(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::string pad(std::string s, std::size_t width) {
  const std::size_t w = displayWidth(s);
  if (w < width) s.append(width - w, ' ');
  return s;
}

// --- JSON views of records -----------------------------------------------------------------

Json statusJson(const Status& st) {
  return Json::Object{{"code", std::string(errorCodeName(st.code()))},
                      {"message", st.message()},
                      {"field", st.field()}};
}

Json addressJson(const Address& a) {
  return Json::Object{{"postcode", a.postcode},
                      {"house_number", a.house_number},
                      {"addition", a.addition},
                      {"street", a.street},
                      {"city", a.city}};
}

Json stringsJson(const std::vector<std::string>& v) {
  Json::Array out;
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

Json signalJson(const Signal& s) { return signalFields(s); }

Json::Object signalFields(const Signal& s) {
  return Json::Object{{"id", s.id},
                      {"reporter_id", s.content.reporter_id},
                      {"source_role", std::string(toString(s.content.source_role))},
                      {"wijk", s.content.wijk},
                      {"address", addressJson(s.content.address)},
                      {"household_key", s.content.household_key},
                      {"categories", stringsJson(s.content.categories)},
                      {"urgency", std::string(toString(s.content.urgency))},
                      {"observed_at_ms", s.content.observed_at_ms},
                      {"text", s.content.text},
                      {"informed", std::string(toString(s.content.informed))},
                      {"case_id", s.case_id.value},
                      {"triage_state", std::string(toString(s.triage_state.value))},
                      {"duplicate_of", s.duplicate_of.value},
                      {"triage_reason", s.triage_reason.value}};
}

Json caseJson(const Case& c) {
  return Json::Object{
      {"id", c.id},
      {"opened_by", c.opened_by},
      {"opened_at_ms", c.opened_at_ms},
      {"wijk", c.wijk.value},
      {"household_key", c.household_key.value},
      {"address", addressJson(c.address.value)},
      {"title", c.title.value},
      {"categories", stringsJson(presentElements(c.categories))},
      {"state", std::string(toString(c.state.value))},
      {"assignee", c.assignee.value},
      {"priority", std::string(toString(c.priority.value))},
      {"priority_reason", c.priority_reason.value},
      {"first_contact_due_ms",
       c.first_contact_due_ms.isSet() ? Json(c.first_contact_due_ms.value) : Json(nullptr)},
      {"resolution_code", c.resolution_code.value},
      {"resolution_text", c.resolution_text.value},
      {"merged_into", c.merged_into.value},
      {"conflict", c.conflict.value}};
}

Json momentJson(const ContactMoment& m) {
  return Json::Object{{"id", m.id},
                      {"case_id", m.case_id},
                      {"author_id", m.author_id},
                      {"at_ms", m.at_ms},
                      {"kind", std::string(toString(m.kind))},
                      {"outcome", std::string(toString(m.outcome))},
                      {"note", m.note},
                      {"corrects_id", m.corrects_id}};
}

Json transitionJson(const Transition& t) {
  return Json::Object{{"id", t.id},
                      {"case_id", t.case_id},
                      {"from", std::string(toString(t.from))},
                      {"to", std::string(toString(t.to))},
                      {"actor_id", t.actor_id},
                      {"actor_role", std::string(toString(t.actor_role))},
                      {"at_ms", t.at_ms},
                      {"reason", t.reason},
                      {"made_offline", t.made_offline},
                      {"outcome", std::string(toString(t.outcome.value))}};
}

Json identityJson(const store::Identity& id) {
  return Json::Object{{"worker_id", id.worker_id},
                      {"name", id.name},
                      {"role", std::string(toString(id.role))},
                      {"wijken", stringsJson(id.wijken)},
                      {"device_id", id.device_id}};
}

// --- human views -----------------------------------------------------------------------------

namespace {
constexpr std::size_t kMaxLabelColumn = 40;
}  // namespace

/// A table cell of at most kMaxLabelColumn characters ("…" where it was cut).
std::string fit(std::string s) {
  if (displayWidth(s) <= kMaxLabelColumn) return s;
  std::size_t chars = 0;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == kMaxLabelColumn - 1) break;
  }
  return s.substr(0, i) + "\u2026";
}

/// The width of a column of category labels: the widest in the table, within bounds.
std::size_t labelColumn(const std::vector<std::string>& cells) {
  std::size_t w = 10;
  for (const auto& c : cells) w = std::max(w, displayWidth(c));
  return std::min(w, kMaxLabelColumn) + 2;
}

void printCases(const store::Store& store, const std::vector<Case>& cases, const std::string& empty,
                const Labels& labels) {
  if (cases.empty()) {
    std::cout << empty << "\n";
    return;
  }
  std::vector<std::string> cats;
  cats.reserve(cases.size());
  for (const Case& c : cases) cats.push_back(fit(labelList(presentElements(c.categories), labels)));
  const std::size_t cw = labelColumn(cats);
  std::cout << pad("ID", 10) << pad("PRIORITY", 10) << pad("FIRST CONTACT", 18) << pad("STATE", 16)
            << pad("ASSIGNEE", 14) << pad("CATEGORIES", cw) << "TITLE\n";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    // Priority and first-contact due as the norms derive them (an override wins for priority).
    Priority priority = c.priority.value;
    std::int64_t due = std::numeric_limits<std::int64_t>::max();
    if (auto n = store.caseNorms(c.id); n.ok() && n->has_value()) {
      priority = (*n)->norms.priority;
      if (!(*n)->contacts.first_attempt_ms) due = (*n)->norms.first_attempt_due_ms;
    }
    std::cout << pad(shortId(c.id), 10) << pad(std::string(toString(priority)), 10)
              << pad(formatTime(due), 18)
              << pad(std::string(toString(c.state.value)) + (c.conflict.value ? "!" : ""), 16)
              << pad(c.assignee.value.empty() ? "-" : c.assignee.value, 14) << pad(cats[i], cw)
              << (c.title.value.empty() ? "(details after pick-up)" : c.title.value) << "\n";
  }
}

void printSignals(const std::vector<Signal>& signals, const std::string& empty,
                  const Labels& labels, const std::map<std::string, std::string>& triage_shown) {
  if (signals.empty()) {
    std::cout << empty << "\n";
    return;
  }
  std::vector<std::string> cats;
  cats.reserve(signals.size());
  for (const Signal& s : signals) cats.push_back(fit(labelList(s.content.categories, labels)));
  const std::size_t cw = labelColumn(cats);
  std::cout << pad("ID", 10) << pad("OBSERVED", 18) << pad("TRIAGE", 11) << pad("URGENCY", 9)
            << pad("ADDRESS", 22) << pad("CATEGORIES", cw) << "TEXT\n";
  for (std::size_t i = 0; i < signals.size(); ++i) {
    const Signal& s = signals[i];
    const Address& a = s.content.address;
    std::string text = s.content.text;
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    std::cout << pad(shortId(s.id), 10) << pad(formatTime(s.content.observed_at_ms), 18)
              << pad(triage_shown.count(s.id) != 0 ? triage_shown.at(s.id)
                                                   : std::string(toString(s.triage_state.value)),
                     11)
              << pad(std::string(toString(s.content.urgency)), 9)
              << pad(a.postcode + " " + a.house_number + a.addition, 22) << pad(cats[i], cw) << text
              << "\n";
  }
}

}  // namespace eropaf::cli
