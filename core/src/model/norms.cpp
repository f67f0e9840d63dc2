// The norm function and its calendar (norms.hpp). Everything here is arithmetic on civil dates
// (std::chrono's year_month_day, weekday, sys_days): no tz database, no Boost, so it builds for
// Android and iOS and answers the same on every device and the server.
#include "eropaf/norms.hpp"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "eropaf/clock.hpp"

namespace eropaf::norms {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 86'400'000;
// Inputs outside about ±8,000 years are clamped, so no arithmetic below can overflow.
constexpr std::int64_t kMaxAbsMs = 253'402'300'800'000;  // 10000-01-01T00:00Z

std::int64_t clampMs(std::int64_t ms) { return std::clamp(ms, -kMaxAbsMs, kMaxAbsMs); }

std::int64_t dayStartUtcMs(sys_days d) {
  return static_cast<std::int64_t>(d.time_since_epoch().count()) * kDayMs;
}

sys_days utcDay(std::int64_t ms) {
  // Floor division, so times before 1970 fall on the right day too.
  std::int64_t q = ms / kDayMs;
  if (ms % kDayMs < 0) --q;
  return sys_days{days{q}};
}

/// 01:00 UTC on the last Sunday of `m` in `y`: when EU summer time starts (March) or ends.
std::int64_t switchMs(std::chrono::year y, std::chrono::month m) {
  const sys_days last_sunday{y / m / std::chrono::Sunday[std::chrono::last]};
  return dayStartUtcMs(last_sunday) + kHourMs;
}

std::int32_t clampDays(std::int32_t n) { return std::clamp(n, std::int32_t{0}, kMaxNormDays); }

}  // namespace

// --- Amsterdam local time ------------------------------------------------------------------

bool isSummerTime(std::int64_t utc_ms) noexcept {
  const std::int64_t t = clampMs(utc_ms);
  const std::chrono::year y = Date{utcDay(t)}.year();
  return t >= switchMs(y, std::chrono::March) && t < switchMs(y, std::chrono::October);
}

std::int64_t amsterdamOffsetMs(std::int64_t utc_ms) noexcept {
  return isSummerTime(utc_ms) ? 2 * kHourMs : kHourMs;
}

Date amsterdamDate(std::int64_t utc_ms) noexcept {
  const std::int64_t t = clampMs(utc_ms);
  return Date{utcDay(t + amsterdamOffsetMs(t))};
}

std::int64_t startOfDayMs(Date d) noexcept {
  // Local midnight is never inside a switch (those are at 02:00/03:00 local), so exactly one of
  // the two offsets is in force at the instant it names.
  const std::int64_t local = dayStartUtcMs(sys_days{d});
  const std::int64_t as_cet = local - kHourMs;
  return isSummerTime(as_cet) ? local - 2 * kHourMs : as_cet;
}

std::int64_t endOfDayMs(Date d) noexcept { return startOfDayMs(Date{sys_days{d} + days{1}}) - 1; }

// --- Calendar ------------------------------------------------------------------------------

Date easterSunday(std::chrono::year y) noexcept {
  // Anonymous Gregorian algorithm (Meeus/Jones/Butcher), valid for every Gregorian year.
  const int year = static_cast<int>(y);
  const int a = year % 19;
  const int b = year / 100;
  const int c = year % 100;
  const int d = b / 4;
  const int e = b % 4;
  const int f = (b + 8) / 25;
  const int g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4;
  const int k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = ((h + l - 7 * m + 114) % 31) + 1;
  return Date{y, std::chrono::month{static_cast<unsigned>(month)},
              std::chrono::day{static_cast<unsigned>(day)}};
}

std::optional<std::string_view> dutchHoliday(Date d, bool liberation_day_every_year) noexcept {
  if (!d.ok()) return std::nullopt;
  using std::chrono::April;
  using std::chrono::December;
  using std::chrono::January;
  using std::chrono::May;
  const std::chrono::month m = d.month();
  const unsigned day = static_cast<unsigned>(d.day());
  if (m == January && day == 1) return "Nieuwjaarsdag";
  if (m == December && day == 25) return "Eerste Kerstdag";
  if (m == December && day == 26) return "Tweede Kerstdag";
  if (m == April && (day == 26 || day == 27)) {
    // Koningsdag is 27 April, or the Saturday before when the 27th is a Sunday.
    const Date the_27th{d.year(), April, std::chrono::day{27}};
    const bool sunday = std::chrono::weekday{sys_days{the_27th}} == std::chrono::Sunday;
    if ((day == 27 && !sunday) || (day == 26 && sunday)) return "Koningsdag";
  }
  if (m == May && day == 5 && (liberation_day_every_year || static_cast<int>(d.year()) % 5 == 0)) {
    return "Bevrijdingsdag";
  }
  // The feasts that follow Easter fall between 22 March and 14 June: most days need no Easter.
  if (m < std::chrono::March || m > std::chrono::June) return std::nullopt;
  const sys_days easter{easterSunday(d.year())};
  const auto offset = (sys_days{d} - easter).count();
  switch (offset) {
    case 0:
      return "Eerste Paasdag";
    case 1:
      return "Tweede Paasdag";
    case 39:
      return "Hemelvaartsdag";
    case 49:
      return "Eerste Pinksterdag";
    case 50:
      return "Tweede Pinksterdag";
    default:
      return std::nullopt;
  }
}

bool Calendar::isWorkingDay(Date d) const {
  const std::chrono::weekday wd{sys_days{d}};
  if (wd == std::chrono::Saturday || wd == std::chrono::Sunday) return false;
  if (dutchHoliday(d, liberation_day_every_year)) return false;
  return std::find(extra_closed.begin(), extra_closed.end(), d) == extra_closed.end();
}

Date addDays(Date from, std::int32_t n, bool working_days, const Calendar& cal) {
  const std::int32_t want = clampDays(n);
  if (!working_days) return Date{sys_days{from} + days{want}};
  sys_days d{from};
  for (std::int32_t counted = 0; counted < want;) {
    d += days{1};
    if (cal.isWorkingDay(Date{d})) ++counted;
  }
  return Date{d};
}

std::int64_t dueMs(std::int64_t arrival_ms, std::int32_t n, bool working_days,
                   const Calendar& cal) {
  return endOfDayMs(addDays(amsterdamDate(arrival_ms), n, working_days, cal));
}

// --- Norms and contributions ---------------------------------------------------------------

Norm categoryNorm(const Category& c) noexcept {
  return {c.default_priority, c.first_contact_days, c.first_gesprek_days, c.working_days};
}

std::optional<Norm> urgencyNorm(Urgency u) noexcept {
  // The reporter's urgency tightens what the categories ask: acuut is the next day whatever
  // day it is (a weekend does not wait); the others follow office days.
  switch (u) {
    case Urgency::kAcuut:
      return Norm{Priority::kAcuut, 1, 2, false};
    case Urgency::kHoog:
      return Norm{Priority::kHoog, 3, 5, true};
    case Urgency::kNormaal:
      return Norm{Priority::kNormaal, 10, 20, true};
    case Urgency::kLaag:
      return Norm{Priority::kLaag, 20, 40, true};
    case Urgency::kUnspecified:
      break;
  }
  return std::nullopt;
}

int urgencyRank(Priority p) noexcept {
  switch (p) {
    case Priority::kAcuut:
      return 4;
    case Priority::kHoog:
      return 3;
    case Priority::kNormaal:
      return 2;
    case Priority::kLaag:
      return 1;
    case Priority::kUnspecified:
      break;
  }
  return 0;
}

Priority stricter(Priority a, Priority b) noexcept {
  return urgencyRank(b) > urgencyRank(a) ? b : a;
}

Status checkNorms(const Category& c) {
  const auto days_ok = [](std::int32_t n) { return n >= 0 && n <= kMaxNormDays; };
  const std::string range = "0 to " + std::to_string(kMaxNormDays) + " days";
  if (!days_ok(c.first_contact_days)) {
    return Status(ErrorCode::kInvalidArgument,
                  "category " + c.code + ": first_contact_days must be " + range,
                  "first_contact_days");
  }
  if (!days_ok(c.first_gesprek_days)) {
    return Status(ErrorCode::kInvalidArgument,
                  "category " + c.code + ": first_gesprek_days must be " + range,
                  "first_gesprek_days");
  }
  if (c.min_attempts < 1 || c.min_attempts > kMaxMinAttempts) {
    return Status(
        ErrorCode::kInvalidArgument,
        "category " + c.code + ": min_attempts must be 1 to " + std::to_string(kMaxMinAttempts),
        "min_attempts");
  }
  if (urgencyRank(c.default_priority) == 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "category " + c.code + ": default_priority must be acuut, hoog, normaal or laag",
                  "default_priority");
  }
  return {};
}

CaseNorms deriveNorms(const NormInputs& in, std::span<const Category> table, const Calendar& cal) {
  CaseNorms out;
  const auto contribute = [&](const Norm& n, std::int64_t at_ms) {
    out.derived_priority = stricter(out.derived_priority, n.priority);
    const std::int64_t gesprek = dueMs(at_ms, n.first_gesprek_days, n.working_days, cal);
    // A gesprek is an attempt too: the attempt is due no later than the gesprek.
    const std::int64_t attempt =
        std::min(dueMs(at_ms, n.first_attempt_days, n.working_days, cal), gesprek);
    out.first_attempt_due_ms = std::min(out.first_attempt_due_ms, attempt);
    out.first_gesprek_due_ms = std::min(out.first_gesprek_due_ms, gesprek);
  };
  for (const CategoryArrival& a : in.categories) {
    const auto it = std::find_if(table.begin(), table.end(),
                                 [&](const Category& c) { return c.code == a.code; });
    if (it == table.end()) {
      if (std::find(out.unknown_categories.begin(), out.unknown_categories.end(), a.code) ==
          out.unknown_categories.end()) {
        out.unknown_categories.push_back(a.code);
      }
      contribute(categoryNorm(Category{}), a.at_ms);
    } else {
      contribute(categoryNorm(*it), a.at_ms);
    }
  }
  for (const UrgencyArrival& a : in.signals) {
    if (const std::optional<Norm> n = urgencyNorm(a.urgency)) contribute(*n, a.at_ms);
  }
  // An override outside the enum is no override: the derived priority stands.
  out.priority = in.priority_override && urgencyRank(*in.priority_override) > 0
                     ? *in.priority_override
                     : out.derived_priority;
  return out;
}

NormInputs normInputs(const Case& c, std::span<const Signal> signals,
                      std::optional<Priority> priority_override) {
  NormInputs in;
  in.priority_override = priority_override;
  const auto arrived = [&](const Version& v) { return std::max(c.opened_at_ms, hlcMillis(v.hlc)); };
  for (const auto& [code, entry] : c.categories) {
    if (entry.present) in.categories.push_back({code, arrived(entry.version)});
  }
  for (const Signal& s : signals) {
    if (c.id.empty() || s.case_id.value != c.id || s.deleted.value ||
        s.triage_state.value == TriageState::kAfgewezen) {
      continue;
    }
    in.signals.push_back({s.content.urgency, arrived(s.case_id.version)});
  }
  return in;
}

// --- Contact moments -----------------------------------------------------------------------

bool isAttempt(const ContactMoment& m) noexcept {
  return m.kind == ContactKind::kHuisbezoek || m.kind == ContactKind::kTelefoon ||
         m.kind == ContactKind::kBericht;
}

std::vector<ContactMoment> countingMoments(std::span<const ContactMoment> moments) {
  std::unordered_set<std::string> corrected;
  for (const ContactMoment& m : moments) {
    if (!m.deleted.value && !m.corrects_id.empty() && m.corrects_id != m.id) {
      corrected.insert(m.corrects_id);
    }
  }
  std::vector<ContactMoment> out;
  for (const ContactMoment& m : moments) {
    if (isAttempt(m) && !m.deleted.value && corrected.count(m.id) == 0) out.push_back(m);
  }
  return out;
}

FirstContacts firstContacts(std::span<const ContactMoment> moments) {
  FirstContacts out;
  for (const ContactMoment& m : countingMoments(moments)) {
    if (!out.first_attempt_ms || m.at_ms < *out.first_attempt_ms) out.first_attempt_ms = m.at_ms;
    if (m.outcome == ContactOutcome::kGesprek &&
        (!out.first_gesprek_ms || m.at_ms < *out.first_gesprek_ms)) {
      out.first_gesprek_ms = m.at_ms;
    }
  }
  return out;
}

OverdueFacts overdueFacts(const CaseNorms& n, const FirstContacts& fc) noexcept {
  OverdueFacts out;
  out.missed = (fc.first_attempt_ms && *fc.first_attempt_ms > n.first_attempt_due_ms) ||
               (fc.first_gesprek_ms && *fc.first_gesprek_ms > n.first_gesprek_due_ms);
  out.open_due_ms = std::min(fc.first_attempt_ms ? kNoDue : n.first_attempt_due_ms,
                             fc.first_gesprek_ms ? kNoDue : n.first_gesprek_due_ms);
  return out;
}

std::int32_t attemptDays(std::span<const ContactMoment> moments) {
  std::set<sys_days> dates;
  for (const ContactMoment& m : countingMoments(moments)) {
    dates.insert(sys_days{amsterdamDate(m.at_ms)});
  }
  return static_cast<std::int32_t>(dates.size());
}

std::int32_t minAttempts(const Case& c, std::span<const Category> table) {
  std::int32_t n = 0;
  for (const auto& element : c.categories) {
    if (!element.second.present) continue;
    const std::string& code = element.first;
    const auto it = std::find_if(table.begin(), table.end(),
                                 [&](const Category& cat) { return cat.code == code; });
    n = std::max(n, it == table.end() ? kDefaultMinAttempts : it->min_attempts);
  }
  return n == 0 ? kDefaultMinAttempts : std::max(n, std::int32_t{1});
}

GuardFacts guardFacts(const Case& c, std::span<const ContactMoment> stored_moments,
                      std::span<const Category> table) {
  std::vector<ContactMoment> own;
  for (const ContactMoment& m : stored_moments) {
    if (m.case_id == c.id) own.push_back(m);
  }
  return {attemptDays(own), minAttempts(c, table)};
}

// --- Norm status ---------------------------------------------------------------------------

std::string_view toString(NormState s) noexcept {
  switch (s) {
    case NormState::kOpen:
      return "open";
    case NormState::kMet:
      return "gehaald";
    case NormState::kMissed:
      return "te_laat";
  }
  return "unknown";
}

namespace {

std::int32_t daysLate(std::int64_t due_ms, std::int64_t late_ms) {
  const auto n = (sys_days{amsterdamDate(late_ms)} - sys_days{amsterdamDate(due_ms)}).count();
  // At least 1 (a due instant not at the end of a day may be missed on its own date); at most
  // a century, so the int32 never wraps.
  constexpr decltype(n) kMaxLate = 36'500;
  return static_cast<std::int32_t>(std::clamp<decltype(n)>(n, 1, kMaxLate));
}

}  // namespace

ClockStatus clockStatus(std::int64_t due_ms, std::optional<std::int64_t> first_ms,
                        std::int64_t now_ms) {
  ClockStatus s;
  s.due_ms = due_ms;
  if (first_ms) {
    if (*first_ms <= due_ms) {
      s.state = NormState::kMet;
    } else {
      s.state = NormState::kMissed;
      s.days_late = daysLate(due_ms, *first_ms);
    }
  } else if (now_ms > due_ms) {
    s.state = NormState::kMissed;
    s.days_late = daysLate(due_ms, now_ms);
  }
  return s;
}

NormStatus normStatus(const CaseNorms& norms, const FirstContacts& contacts, std::int64_t now_ms) {
  return {clockStatus(norms.first_attempt_due_ms, contacts.first_attempt_ms, now_ms),
          clockStatus(norms.first_gesprek_due_ms, contacts.first_gesprek_ms, now_ms)};
}

}  // namespace eropaf::norms
