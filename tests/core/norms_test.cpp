// Proves the norm function and its calendar (core/include/eropaf/norms.hpp): Amsterdam local
// time with the EU summer-time rule, Easter and the Dutch public holidays, due dates at the end
// of the Nth (working) day after arrival — the Friday-evening example, Koningsdag,
// Easter Monday, Christmas, a DST week, calendar days over a weekend — priority and due dates
// as the strictest over categories × urgencies in any link order, tighten-never-loosen as a
// property over seeded random link sequences, which contact moments count, and met / open /
// missed at an injected "now". Expected dates are written out by hand from a calendar, not
// computed by the code under test.
#include "eropaf/norms.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "eropaf/clock.hpp"

namespace {

using namespace std::chrono;
using eropaf::Category;
using eropaf::ContactKind;
using eropaf::ContactMoment;
using eropaf::ContactOutcome;
using eropaf::Priority;
using eropaf::Urgency;
using eropaf::norms::Calendar;
using eropaf::norms::Date;
using eropaf::norms::NormState;

constexpr std::int64_t kHour = 3'600'000;

/// Unix milliseconds of a UTC wall time.
std::int64_t utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  const sys_days on{year{y} / month{mo} / day{d}};
  return static_cast<std::int64_t>(on.time_since_epoch().count()) * 86'400'000 +
         std::int64_t{h} * kHour + std::int64_t{mi} * 60'000 + std::int64_t{s} * 1000 + ms;
}

Date date(int y, unsigned m, unsigned d) { return Date{year{y}, month{m}, day{d}}; }

std::string show(Date d) {
  return std::to_string(static_cast<int>(d.year())) + "-" +
         std::to_string(static_cast<unsigned>(d.month())) + "-" +
         std::to_string(static_cast<unsigned>(d.day()));
}

const Category& category(const std::string& code) {
  for (const Category& c : eropaf::defaultCategories()) {
    if (c.code == code) return c;
  }
  FAIL("no default category " << code);
  return eropaf::defaultCategories().front();  // not reached: FAIL ends the test
}

ContactMoment moment(const std::string& id, std::int64_t at_ms,
                     ContactOutcome outcome = ContactOutcome::kNietThuis,
                     ContactKind kind = ContactKind::kHuisbezoek,
                     const std::string& case_id = "case-1") {
  ContactMoment m;
  m.id = id;
  m.created = {1, 1};
  m.case_id = case_id;
  m.author_id = "wc-anna";
  m.at_ms = at_ms;
  m.kind = kind;
  m.outcome = outcome;
  return m;
}

}  // namespace

TEST_CASE("norms: Amsterdam time follows the EU summer-time rule", "[unit][norms]") {
  using eropaf::norms::amsterdamOffsetMs;
  struct Row {
    std::int64_t utc_ms;
    std::int64_t offset;
  };
  const Row rows[] = {
      // 2024: summer time from Sun 31 March 01:00 UTC to Sun 27 October 01:00 UTC.
      {utc(2024, 1, 15, 12), 1 * kHour},
      {utc(2024, 3, 31, 0, 59, 59, 999), 1 * kHour},
      {utc(2024, 3, 31, 1), 2 * kHour},
      {utc(2024, 7, 1), 2 * kHour},
      {utc(2024, 10, 27, 0, 59, 59, 999), 2 * kHour},
      {utc(2024, 10, 27, 1), 1 * kHour},
      // 2025: 30 March and 26 October; the last Sunday, not the last weekend day.
      {utc(2025, 3, 29, 12), 1 * kHour},
      {utc(2025, 3, 30, 1), 2 * kHour},
      {utc(2025, 10, 26, 0, 30), 2 * kHour},
      {utc(2025, 10, 26, 1), 1 * kHour},
      // 2026: 29 March and 25 October.
      {utc(2026, 3, 29, 0, 59), 1 * kHour},
      {utc(2026, 3, 29, 1), 2 * kHour},
      {utc(2026, 10, 25, 1), 1 * kHour},
      {utc(1970, 1, 1), 1 * kHour},
  };
  for (const Row& r : rows) {
    INFO(r.utc_ms);
    CHECK(amsterdamOffsetMs(r.utc_ms) == r.offset);
    CHECK(eropaf::norms::isSummerTime(r.utc_ms) == (r.offset == 2 * kHour));
  }
  // Local dates: 23:30 UTC in winter is already the next day in Amsterdam.
  using eropaf::norms::amsterdamDate;
  CHECK(amsterdamDate(utc(2024, 11, 15, 22, 59, 59, 999)) == date(2024, 11, 15));
  CHECK(amsterdamDate(utc(2024, 11, 15, 23)) == date(2024, 11, 16));
  CHECK(amsterdamDate(utc(2024, 6, 14, 21, 59, 59, 999)) == date(2024, 6, 14));
  CHECK(amsterdamDate(utc(2024, 6, 14, 22)) == date(2024, 6, 15));
  CHECK(amsterdamDate(utc(1969, 12, 31, 22, 30)) == date(1969, 12, 31));
  CHECK(amsterdamDate(utc(1969, 12, 31, 23, 30)) == date(1970, 1, 1));
  // Start and end of a local day, also on the short and the long day.
  using eropaf::norms::endOfDayMs;
  using eropaf::norms::startOfDayMs;
  CHECK(startOfDayMs(date(2024, 11, 19)) == utc(2024, 11, 18, 23));
  CHECK(endOfDayMs(date(2024, 11, 19)) == utc(2024, 11, 19, 22, 59, 59, 999));
  CHECK(endOfDayMs(date(2024, 6, 18)) == utc(2024, 6, 18, 21, 59, 59, 999));
  CHECK(startOfDayMs(date(2024, 3, 31)) == utc(2024, 3, 30, 23));  // 23 hours long
  CHECK(endOfDayMs(date(2024, 3, 31)) == utc(2024, 3, 31, 21, 59, 59, 999));
  CHECK(startOfDayMs(date(2024, 10, 27)) == utc(2024, 10, 26, 22));  // 25 hours long
  CHECK(endOfDayMs(date(2024, 10, 27)) == utc(2024, 10, 27, 22, 59, 59, 999));
  // Extreme inputs are answered, not undefined.
  CHECK(amsterdamDate(INT64_MAX).ok());
  CHECK(amsterdamDate(INT64_MIN).year() < year{0});
}

TEST_CASE("norms: Easter by the Gregorian computus and the Dutch public holidays",
          "[unit][norms]") {
  using eropaf::norms::dutchHoliday;
  using eropaf::norms::easterSunday;
  const std::map<int, Date> easter{
      {1818, date(1818, 3, 22)}, {1943, date(1943, 4, 25)}, {2000, date(2000, 4, 23)},
      {2019, date(2019, 4, 21)}, {2024, date(2024, 3, 31)}, {2025, date(2025, 4, 20)},
      {2026, date(2026, 4, 5)},  {2027, date(2027, 3, 28)}, {2038, date(2038, 4, 25)},
      {2285, date(2285, 3, 22)},
  };
  for (const auto& [y, d] : easter) {
    INFO(y);
    CHECK(easterSunday(year{y}) == d);
  }
  // Every holiday of 2025, by walking the whole year: exactly these and nothing else.
  const std::map<std::string, std::string> want2025{
      {"2025-1-1", "Nieuwjaarsdag"},      {"2025-4-20", "Eerste Paasdag"},
      {"2025-4-21", "Tweede Paasdag"},    {"2025-4-26", "Koningsdag"},  // the 27th is a Sunday
      {"2025-5-5", "Bevrijdingsdag"},     {"2025-5-29", "Hemelvaartsdag"},
      {"2025-6-8", "Eerste Pinksterdag"}, {"2025-6-9", "Tweede Pinksterdag"},
      {"2025-12-25", "Eerste Kerstdag"},  {"2025-12-26", "Tweede Kerstdag"},
  };
  std::map<std::string, std::string> got;
  for (sys_days d{date(2025, 1, 1)}; d <= sys_days{date(2025, 12, 31)}; d += days{1}) {
    if (auto name = dutchHoliday(Date{d})) got[show(Date{d})] = std::string(*name);
  }
  CHECK(got == want2025);
  // Goede Vrijdag is no general day off.
  CHECK_FALSE(dutchHoliday(date(2025, 4, 18)));
  // Koningsdag: the 27th, or the 26th when the 27th is a Sunday (2014, 2025).
  CHECK(dutchHoliday(date(2024, 4, 27)) == "Koningsdag");
  CHECK_FALSE(dutchHoliday(date(2024, 4, 26)));
  CHECK(dutchHoliday(date(2014, 4, 26)) == "Koningsdag");
  CHECK_FALSE(dutchHoliday(date(2014, 4, 27)));
  CHECK_FALSE(dutchHoliday(date(2025, 4, 27)));
  // Bevrijdingsdag every year by default; only in lustrum years when so configured.
  CHECK(dutchHoliday(date(2026, 5, 5)) == "Bevrijdingsdag");
  CHECK_FALSE(dutchHoliday(date(2026, 5, 5), false));
  CHECK(dutchHoliday(date(2030, 5, 5), false) == "Bevrijdingsdag");
  // Moving feasts of another year.
  CHECK(dutchHoliday(date(2024, 4, 1)) == "Tweede Paasdag");
  CHECK(dutchHoliday(date(2024, 5, 9)) == "Hemelvaartsdag");
  CHECK(dutchHoliday(date(2024, 5, 20)) == "Tweede Pinksterdag");
  CHECK_FALSE(dutchHoliday(Date{year{2025}, month{2}, day{30}}));  // not a date
}

TEST_CASE("norms: working days are Monday to Friday minus holidays and the municipality's own",
          "[unit][norms]") {
  Calendar cal;
  CHECK(cal.isWorkingDay(date(2025, 4, 17)));        // Thursday
  CHECK(cal.isWorkingDay(date(2025, 4, 18)));        // Goede Vrijdag: open
  CHECK_FALSE(cal.isWorkingDay(date(2025, 4, 19)));  // Saturday
  CHECK_FALSE(cal.isWorkingDay(date(2025, 4, 20)));  // Sunday
  CHECK_FALSE(cal.isWorkingDay(date(2025, 4, 21)));  // Tweede Paasdag
  CHECK_FALSE(cal.isWorkingDay(date(2026, 5, 5)));   // Bevrijdingsdag, a Tuesday
  Calendar own;
  own.extra_closed = {date(2025, 4, 18), date(2025, 12, 24)};
  own.liberation_day_every_year = false;
  CHECK_FALSE(own.isWorkingDay(date(2025, 4, 18)));
  CHECK_FALSE(own.isWorkingDay(date(2025, 12, 24)));
  CHECK(own.isWorkingDay(date(2026, 5, 5)));
  CHECK_FALSE(own.isWorkingDay(date(2025, 5, 5)));  // 2025 is a lustrum year
}

TEST_CASE("norms: due is the end of the Nth working or calendar day after the arrival day",
          "[unit][norms]") {
  using eropaf::norms::dueMs;
  Calendar national;
  Calendar goede_vrijdag_closed;
  goede_vrijdag_closed.extra_closed = {date(2025, 4, 18)};
  Calendar lustrum_only;
  lustrum_only.liberation_day_every_year = false;
  struct Row {
    const char* what;
    std::int64_t arrival;
    std::int32_t days;
    bool working;
    const Calendar* cal;
    Date due_day;  // 23:59:59.999 Amsterdam time on this day
  };
  const Row rows[] = {
      {"Friday-evening intake, 2 working days: Monday 1, Tuesday 2", utc(2024, 11, 15, 18, 30), 2,
       true, &national, date(2024, 11, 19)},
      {"Friday 23:30 local, 1 working day", utc(2024, 6, 14, 21, 30), 1, true, &national,
       date(2024, 6, 17)},
      {"Thursday 23:30 local, 1 working day", utc(2024, 6, 13, 21, 30), 1, true, &national,
       date(2024, 6, 14)},
      {"Thursday 22:30 UTC is Friday 00:30 local", utc(2024, 6, 13, 22, 30), 1, true, &national,
       date(2024, 6, 17)},
      {"Saturday arrival counts from Monday", utc(2024, 11, 16, 10), 1, true, &national,
       date(2024, 11, 18)},
      {"Koningsdag (Thursday 27 April 2023) is skipped", utc(2023, 4, 26, 9), 2, true, &national,
       date(2023, 5, 1)},
      {"Easter Monday skipped, Goede Vrijdag worked", utc(2025, 4, 17, 9), 2, true, &national,
       date(2025, 4, 22)},
      {"a municipality closed on Goede Vrijdag", utc(2025, 4, 17, 9), 2, true,
       &goede_vrijdag_closed, date(2025, 4, 23)},
      {"Christmas 2025: Wednesday 1, Monday 2", utc(2025, 12, 23, 9), 2, true, &national,
       date(2025, 12, 29)},
      {"Christmas 2024: three working days from Monday 23rd", utc(2024, 12, 23, 9), 3, true,
       &national, date(2024, 12, 30)},
      {"Nieuwjaarsdag skipped", utc(2025, 12, 31, 9), 1, true, &national, date(2026, 1, 2)},
      {"Hemelvaartsdag skipped", utc(2025, 5, 28, 9), 1, true, &national, date(2025, 5, 30)},
      {"Tweede Pinksterdag skipped", utc(2025, 6, 6, 9), 1, true, &national, date(2025, 6, 10)},
      {"Bevrijdingsdag 2026 every year", utc(2026, 5, 4, 9), 1, true, &national, date(2026, 5, 6)},
      {"Bevrijdingsdag 2026 lustrum only", utc(2026, 5, 4, 9), 1, true, &lustrum_only,
       date(2026, 5, 5)},
      {"DST week: Friday before summer time and Easter Monday 2024", utc(2024, 3, 29, 19), 2, true,
       &national, date(2024, 4, 3)},
      {"DST week: Friday before winter time", utc(2024, 10, 25, 16), 2, true, &national,
       date(2024, 10, 29)},
      {"calendar day over the switch to winter time", utc(2024, 10, 26, 10), 1, false, &national,
       date(2024, 10, 27)},
      {"calendar days over a weekend: Friday evening + 1", utc(2024, 11, 15, 18, 30), 1, false,
       &national, date(2024, 11, 16)},
      {"calendar days over a weekend: Friday evening + 2", utc(2024, 11, 15, 18, 30), 2, false,
       &national, date(2024, 11, 17)},
      {"calendar days ignore Christmas", utc(2025, 12, 24, 9), 1, false, &national,
       date(2025, 12, 25)},
      {"0 days: the end of the arrival day", utc(2024, 11, 16, 10), 0, true, &national,
       date(2024, 11, 16)},
      {"negative days count as 0", utc(2024, 11, 16, 10), -5, false, &national, date(2024, 11, 16)},
      {"arrival at 23:59:59.999 local is that day", utc(2024, 11, 15, 22, 59, 59, 999), 1, true,
       &national, date(2024, 11, 18)},
      {"arrival at 00:00 local Saturday is Saturday", utc(2024, 11, 15, 23), 1, false, &national,
       date(2024, 11, 17)},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    const std::int64_t due = dueMs(r.arrival, r.days, r.working, *r.cal);
    CHECK(show(eropaf::norms::amsterdamDate(due)) == show(r.due_day));
    CHECK(due == eropaf::norms::endOfDayMs(r.due_day));
    // One millisecond later is the next day.
    CHECK(eropaf::norms::amsterdamDate(due + 1) == Date{sys_days{r.due_day} + days{1}});
  }
  // The example to the millisecond: Tuesday 19 November 2024 23:59:59.999 CET.
  CHECK(dueMs(utc(2024, 11, 15, 18, 30), 2, true, national) == utc(2024, 11, 19, 22, 59, 59, 999));
  // ... and in summer time (CEST): Tuesday 18 June 2024 23:59:59.999 is 21:59:59.999 UTC.
  CHECK(dueMs(utc(2024, 6, 14, 17, 30), 2, true, national) == utc(2024, 6, 18, 21, 59, 59, 999));
}

TEST_CASE("norms: default categories carry sane norms and DESIGN's eviction norm",
          "[unit][norms]") {
  for (const Category& c : eropaf::defaultCategories()) {
    INFO(c.code);
    CHECK(eropaf::norms::checkNorms(c).ok());
    CHECK(c.first_gesprek_days >= c.first_contact_days);
  }
  const Category& eviction = category("dreigende_huisuitzetting");
  CHECK(eviction.first_contact_days == 2);
  CHECK(eviction.working_days);
  CHECK(eviction.default_priority == Priority::kAcuut);
  CHECK_FALSE(category("huiselijk_geweld").working_days);  // safety does not wait for Monday
  CHECK(category("huiselijk_geweld").min_attempts == 5);
  CHECK(category("schulden").min_attempts == eropaf::kDefaultMinAttempts);
  // An older aggregate initialiser keeps compiling and gets the defaults.
  const Category old{"x", "X", Priority::kHoog, 3, false};
  CHECK(old.first_gesprek_days == 28);
  CHECK_FALSE(old.working_days);
  CHECK(old.min_attempts == 3);
  // Out-of-range norms are refused naming the field.
  struct Bad {
    Category c;
    const char* field;
  };
  const Bad bad[] = {
      {{"x", "X", Priority::kHoog, -1, false}, "first_contact_days"},
      {{"x", "X", Priority::kHoog, 366, false}, "first_contact_days"},
      {{"x", "X", Priority::kHoog, 3, false, -2}, "first_gesprek_days"},
      {{"x", "X", Priority::kHoog, 3, false, 400}, "first_gesprek_days"},
      {{"x", "X", Priority::kHoog, 3, false, 6, true, 0}, "min_attempts"},
      {{"x", "X", Priority::kHoog, 3, false, 6, true, 21}, "min_attempts"},
      {{"x", "X", Priority::kUnspecified, 3, false}, "default_priority"},
  };
  for (const Bad& b : bad) {
    INFO(b.field);
    const eropaf::Status st = eropaf::norms::checkNorms(b.c);
    CHECK(st.code() == eropaf::ErrorCode::kInvalidArgument);
    CHECK(st.field() == b.field);
  }
}

TEST_CASE("norms: urgency maps to a priority and a norm", "[unit][norms]") {
  using eropaf::norms::urgencyNorm;
  struct Row {
    Urgency u;
    Priority p;
    std::int32_t attempt;
    std::int32_t gesprek;
    bool working;
  };
  const Row rows[] = {
      {Urgency::kAcuut, Priority::kAcuut, 1, 2, false},
      {Urgency::kHoog, Priority::kHoog, 3, 5, true},
      {Urgency::kNormaal, Priority::kNormaal, 10, 20, true},
      {Urgency::kLaag, Priority::kLaag, 20, 40, true},
  };
  for (const Row& r : rows) {
    INFO(eropaf::toString(r.u));
    const auto n = urgencyNorm(r.u);
    REQUIRE(n);
    CHECK(n->priority == r.p);
    CHECK(n->first_attempt_days == r.attempt);
    CHECK(n->first_gesprek_days == r.gesprek);
    CHECK(n->working_days == r.working);
  }
  CHECK_FALSE(urgencyNorm(Urgency::kUnspecified));
  CHECK_FALSE(urgencyNorm(static_cast<Urgency>(9)));
  CHECK(eropaf::norms::stricter(Priority::kLaag, Priority::kAcuut) == Priority::kAcuut);
  CHECK(eropaf::norms::stricter(Priority::kHoog, Priority::kNormaal) == Priority::kHoog);
  CHECK(eropaf::norms::stricter(Priority::kUnspecified, Priority::kLaag) == Priority::kLaag);
}

TEST_CASE("norms: priority and due dates over categories x urgencies x link order x holidays",
          "[unit][norms]") {
  using eropaf::norms::deriveNorms;
  using eropaf::norms::dueMs;
  using eropaf::norms::NormInputs;
  const auto& table = eropaf::defaultCategories();
  const Calendar cal;
  // The priority each urgency asks for, written out apart from the module's table.
  const std::map<Urgency, Priority> urgency_priority{{Urgency::kLaag, Priority::kLaag},
                                                     {Urgency::kNormaal, Priority::kNormaal},
                                                     {Urgency::kHoog, Priority::kHoog},
                                                     {Urgency::kAcuut, Priority::kAcuut}};
  const std::map<Priority, int> rank{
      {Priority::kLaag, 1}, {Priority::kNormaal, 2}, {Priority::kHoog, 3}, {Priority::kAcuut, 4}};
  // Arrival pairs (case opened with the category, then the signal linked) around the days that
  // matter: a Friday evening, Koningsdag, Easter, Christmas, the DST weeks.
  const std::pair<std::int64_t, std::int64_t> arrivals[] = {
      {utc(2024, 11, 15, 18, 30), utc(2024, 11, 16, 9)},
      {utc(2023, 4, 26, 9), utc(2023, 4, 27, 15)},
      {utc(2025, 4, 17, 9), utc(2025, 4, 21, 11)},
      {utc(2025, 12, 23, 9), utc(2025, 12, 24, 16)},
      {utc(2024, 3, 29, 19), utc(2024, 3, 31, 8)},
      {utc(2024, 10, 25, 16), utc(2024, 10, 27, 12)},
  };
  int checked = 0;
  for (const Category& cat : table) {
    for (const auto& [urgency, sig_priority] : urgency_priority) {
      for (const auto& [opened, linked] : arrivals) {
        const auto sig = eropaf::norms::urgencyNorm(urgency);
        REQUIRE(sig);
        const Priority want_priority = rank.at(cat.default_priority) >= rank.at(sig_priority)
                                           ? cat.default_priority
                                           : sig_priority;
        const std::int64_t cat_gesprek =
            dueMs(opened, cat.first_gesprek_days, cat.working_days, cal);
        const std::int64_t sig_gesprek =
            dueMs(linked, sig->first_gesprek_days, sig->working_days, cal);
        const std::int64_t want_attempt =
            std::min(dueMs(opened, cat.first_contact_days, cat.working_days, cal),
                     dueMs(linked, sig->first_attempt_days, sig->working_days, cal));
        const std::int64_t want_gesprek = std::min(cat_gesprek, sig_gesprek);
        // Both link orders: category first, or the signal listed first.
        NormInputs a;
        a.categories = {{cat.code, opened}};
        a.signals = {{urgency, linked}};
        NormInputs b = a;
        b.categories.insert(b.categories.begin(), {"overig", opened});
        b.categories.push_back({cat.code, linked + 5 * kHour});  // the same category again, later
        for (const NormInputs* in : {&a, &b}) {
          INFO(cat.code << " " << eropaf::toString(urgency) << " opened " << opened);
          const auto n = deriveNorms(*in, table, cal);
          CHECK(n.priority == want_priority);
          CHECK(n.derived_priority == want_priority);
          CHECK(n.first_attempt_due_ms == want_attempt);
          CHECK(n.first_gesprek_due_ms == want_gesprek);
          CHECK(n.unknown_categories.empty());
          ++checked;
        }
        // Order does not matter: reversed inputs, same answer.
        NormInputs r = b;
        std::reverse(r.categories.begin(), r.categories.end());
        const auto nb = deriveNorms(b, table, cal);
        const auto nr = deriveNorms(r, table, cal);
        CHECK(nr.first_attempt_due_ms == nb.first_attempt_due_ms);
        CHECK(nr.first_gesprek_due_ms == nb.first_gesprek_due_ms);
        CHECK(nr.priority == nb.priority);
      }
    }
  }
  CHECK(checked == 11 * 4 * 6 * 2);

  // End to end, by hand: an eviction threat opened Friday evening is due Tuesday; an acuut
  // signal linked Saturday morning makes it acuut and due Sunday 23:59:59.999.
  NormInputs eviction;
  eviction.categories = {{"dreigende_huisuitzetting", utc(2024, 11, 15, 18, 30)}};
  auto n = deriveNorms(eviction, table, cal);
  CHECK(n.priority == Priority::kAcuut);
  CHECK(n.first_attempt_due_ms == utc(2024, 11, 19, 22, 59, 59, 999));
  CHECK(n.first_gesprek_due_ms == utc(2024, 11, 22, 22, 59, 59, 999));  // 5 working days: Fri
  NormInputs debts;
  debts.categories = {{"schulden", utc(2024, 11, 15, 18, 30)}};
  n = deriveNorms(debts, table, cal);
  CHECK(n.priority == Priority::kNormaal);
  CHECK(n.first_attempt_due_ms == utc(2024, 11, 29, 22, 59, 59, 999));  // 10 working days
  debts.signals = {{Urgency::kAcuut, utc(2024, 11, 16, 9)}};
  n = deriveNorms(debts, table, cal);
  CHECK(n.priority == Priority::kAcuut);
  CHECK(n.first_attempt_due_ms == utc(2024, 11, 17, 22, 59, 59, 999));
  CHECK(n.first_gesprek_due_ms == utc(2024, 11, 18, 22, 59, 59, 999));
  // The override wins for priority only.
  debts.priority_override = Priority::kLaag;
  const auto overridden = deriveNorms(debts, table, cal);
  CHECK(overridden.priority == Priority::kLaag);
  CHECK(overridden.derived_priority == Priority::kAcuut);
  CHECK(overridden.first_attempt_due_ms == n.first_attempt_due_ms);
  CHECK(overridden.first_gesprek_due_ms == n.first_gesprek_due_ms);
  debts.priority_override = static_cast<Priority>(17);  // not a priority: no override
  CHECK(deriveNorms(debts, table, cal).priority == Priority::kAcuut);
  // No contribution: nothing to derive.
  const auto empty = deriveNorms({}, table, cal);
  CHECK(empty.priority == Priority::kUnspecified);
  CHECK(empty.first_attempt_due_ms == eropaf::norms::kNoDue);
  CHECK(empty.first_gesprek_due_ms == eropaf::norms::kNoDue);
  // An unknown category is judged by the default norm and named, never dropped.
  NormInputs renamed;
  renamed.categories = {{"oude_code", utc(2024, 11, 15, 18, 30)}, {"oude_code", utc(2024, 11, 16)}};
  const auto u = deriveNorms(renamed, table, cal);
  CHECK(u.unknown_categories == std::vector<std::string>{"oude_code"});
  CHECK(u.priority == Priority::kNormaal);
  CHECK(u.first_attempt_due_ms == utc(2024, 11, 29, 22, 59, 59, 999));  // 14 calendar days
  // A gesprek is an attempt: a category whose gesprek norm is shorter clamps the attempt.
  const std::vector<Category> odd{{"odd", "Odd", Priority::kHoog, 10, false, 2, false, 3}};
  NormInputs o;
  o.categories = {{"odd", utc(2024, 11, 15, 18, 30)}};
  const auto on = deriveNorms(o, odd, cal);
  CHECK(on.first_attempt_due_ms == on.first_gesprek_due_ms);
  CHECK(on.first_gesprek_due_ms == utc(2024, 11, 17, 22, 59, 59, 999));
}

TEST_CASE("norms: a case's inputs come from its stored categories and linked signals",
          "[unit][norms]") {
  eropaf::Case c;
  c.id = "case-1";
  c.opened_at_ms = utc(2024, 11, 15, 18, 30);
  c.categories["schulden"] = {true, {eropaf::hlcPack(c.opened_at_ms, 0), 1}};
  c.categories["overlast"] = {false, {eropaf::hlcPack(c.opened_at_ms, 0), 1}};  // removed
  // Added later (its version time), and one whose version predates the opening.
  c.categories["verslaving"] = {true, {eropaf::hlcPack(utc(2024, 11, 20, 10), 3), 1}};
  c.categories["overig"] = {true, {eropaf::hlcPack(utc(2024, 11, 1), 0), 1}};
  auto signal = [&](const std::string& id, const std::string& case_id, Urgency u,
                    std::int64_t linked_ms) {
    eropaf::Signal s;
    s.id = id;
    s.content.urgency = u;
    s.case_id.set(case_id, {eropaf::hlcPack(linked_ms, 0), 2});
    return s;
  };
  std::vector<eropaf::Signal> signals{
      signal("s1", "case-1", Urgency::kAcuut, utc(2024, 11, 16, 9)),
      signal("s2", "case-2", Urgency::kAcuut, utc(2024, 11, 16, 9)),  // another case
      signal("s3", "case-1", Urgency::kHoog, utc(2024, 11, 18, 9)),
      signal("s4", "case-1", Urgency::kAcuut, utc(2024, 11, 17, 9)),
      signal("s5", "case-1", Urgency::kAcuut, utc(2024, 11, 17, 9)),
  };
  signals[3].deleted.set(true, {5, 5});
  signals[4].triage_state.set(eropaf::TriageState::kAfgewezen, {5, 5});
  const auto in = eropaf::norms::normInputs(c, signals, Priority::kHoog);
  REQUIRE(in.categories.size() == 3);
  std::map<std::string, std::int64_t> at;
  for (const auto& a : in.categories) at[a.code] = a.at_ms;
  CHECK(at.at("schulden") == c.opened_at_ms);
  CHECK(at.at("verslaving") == utc(2024, 11, 20, 10));
  CHECK(at.at("overig") == c.opened_at_ms);  // never before the case was opened
  REQUIRE(in.signals.size() == 2);
  CHECK(in.signals[0].urgency == Urgency::kAcuut);
  CHECK(in.signals[0].at_ms == utc(2024, 11, 16, 9));
  CHECK(in.signals[1].urgency == Urgency::kHoog);
  CHECK(in.priority_override == Priority::kHoog);
}

TEST_CASE("norms: tighten, never loosen, over random link sequences", "[unit][norms][property]") {
  using eropaf::norms::deriveNorms;
  using eropaf::norms::NormInputs;
  using eropaf::norms::urgencyRank;
  std::mt19937_64 rng(20241115);
  const auto& table = eropaf::defaultCategories();
  const Urgency urgencies[] = {Urgency::kLaag, Urgency::kNormaal, Urgency::kHoog, Urgency::kAcuut};
  const Priority priorities[] = {Priority::kAcuut, Priority::kHoog, Priority::kNormaal,
                                 Priority::kLaag};
  const std::int64_t from = utc(2023, 12, 1);
  const std::int64_t span_ms = utc(2026, 12, 31) - from;
  int steps = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    Calendar cal;
    cal.liberation_day_every_year = rng() % 2 == 0;
    for (std::uint64_t k = rng() % 4; k > 0; --k) {
      cal.extra_closed.push_back(eropaf::norms::amsterdamDate(
          from + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span_ms))));
    }
    NormInputs in;
    if (rng() % 3 == 0) in.priority_override = priorities[rng() % 4];
    const std::int64_t opened =
        from + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span_ms));
    std::int64_t t = opened;
    auto prev = deriveNorms(in, table, cal);
    const int length = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < length; ++i) {
      // Links mostly come later, but a backdated or much later arrival must hold the law too.
      t += static_cast<std::int64_t>(rng() % (10 * 86'400'000ULL));
      const std::int64_t at = rng() % 8 == 0 ? opened : t;
      const std::uint64_t pick = rng() % (table.size() + 6);
      if (pick < table.size()) {
        in.categories.push_back({table[pick].code, at});
      } else if (pick == table.size()) {
        in.categories.push_back({"onbekend_" + std::to_string(rng() % 3), at});
      } else {
        in.signals.push_back({urgencies[rng() % 4], at});
      }
      const auto next = deriveNorms(in, table, cal);
      INFO("iteration " << iteration << " step " << i);
      CHECK(urgencyRank(next.derived_priority) >= urgencyRank(prev.derived_priority));
      CHECK(next.first_attempt_due_ms <= prev.first_attempt_due_ms);
      CHECK(next.first_gesprek_due_ms <= prev.first_gesprek_due_ms);
      CHECK(next.first_attempt_due_ms <= next.first_gesprek_due_ms);
      CHECK(next.priority == in.priority_override.value_or(next.derived_priority));
      // Every due date is the last millisecond of an Amsterdam day.
      CHECK(eropaf::norms::amsterdamDate(next.first_attempt_due_ms) !=
            eropaf::norms::amsterdamDate(next.first_attempt_due_ms + 1));
      prev = next;
      ++steps;
    }
  }
  CHECK(steps > 15000);
}

TEST_CASE("norms: superseded, deleted and partner moments do not count", "[unit][norms]") {
  using eropaf::norms::attemptDays;
  using eropaf::norms::countingMoments;
  using eropaf::norms::firstContacts;
  const std::int64_t mon = utc(2024, 11, 18, 9);
  const std::int64_t kDay = 86'400'000;
  std::vector<ContactMoment> ms{
      moment("a", mon),                                                              // Monday
      moment("b", mon + kDay, ContactOutcome::kDeurNietGeopend),                     // Tuesday
      moment("c", mon + 2 * kDay, ContactOutcome::kGesprek, ContactKind::kOverleg),  // partner
      moment("d", mon + 3 * kDay, ContactOutcome::kGesprek, ContactKind::kTelefoon),
  };
  auto ids = [](const std::vector<ContactMoment>& v) {
    std::vector<std::string> out;
    out.reserve(v.size());
    for (const auto& m : v) out.push_back(m.id);
    return out;
  };
  CHECK(ids(countingMoments(ms)) == std::vector<std::string>{"a", "b", "d"});
  auto fc = firstContacts(ms);
  CHECK(fc.first_attempt_ms == mon);
  CHECK(fc.first_gesprek_ms == mon + 3 * kDay);  // the overleg gesprek is not with the household
  CHECK(attemptDays(ms) == 3);
  // A correction of the first moment to a later time: the correction counts in its place.
  ms.push_back(moment("a2", mon + 4 * kDay));
  ms.back().corrects_id = "a";
  CHECK(ids(countingMoments(ms)) == std::vector<std::string>{"b", "d", "a2"});
  fc = firstContacts(ms);
  CHECK(fc.first_attempt_ms == mon + kDay);
  CHECK(attemptDays(ms) == 3);  // Tue, Thu, Fri
  // A correction corrected again: only the last counts.
  ms.push_back(moment("a3", mon + 5 * kDay, ContactOutcome::kGesprek));
  ms.back().corrects_id = "a2";
  CHECK(ids(countingMoments(ms)) == std::vector<std::string>{"b", "d", "a3"});
  CHECK(firstContacts(ms).first_gesprek_ms == mon + 3 * kDay);
  // Deleting the last correction brings back what it corrected.
  ms.back().deleted.set(true, {9, 9});
  CHECK(ids(countingMoments(ms)) == std::vector<std::string>{"b", "d", "a2"});
  // A deleted moment does not count.
  ms[1].deleted.set(true, {9, 9});
  CHECK(ids(countingMoments(ms)) == std::vector<std::string>{"d", "a2"});
  CHECK(firstContacts(ms).first_attempt_ms == mon + 3 * kDay);
  // A correction saying "it was an overleg" takes the attempt away.
  ms.push_back(moment("d2", mon + 3 * kDay, ContactOutcome::kGesprek, ContactKind::kOverleg));
  ms.back().corrects_id = "d";
  CHECK(ids(countingMoments(ms)) == std::vector<std::string>{"a2"});
  CHECK_FALSE(firstContacts(ms).first_gesprek_ms);
  // A moment that names itself corrects nothing.
  std::vector<ContactMoment> self{moment("s", mon)};
  self[0].corrects_id = "s";
  CHECK(countingMoments(self).size() == 1);
  CHECK_FALSE(firstContacts({}).first_attempt_ms);
}

TEST_CASE("norms: attempt days are Amsterdam dates, and N is the strictest category's",
          "[unit][norms]") {
  using eropaf::norms::attemptDays;
  // 22:30 and 23:30 UTC in November are 23:30 and 00:30 in Amsterdam: two days.
  CHECK(attemptDays(std::vector<ContactMoment>{moment("a", utc(2024, 11, 18, 22, 30)),
                                               moment("b", utc(2024, 11, 18, 23, 30))}) == 2);
  // 00:30 and 23:30 local on one day (23:30 and 22:30 UTC of two UTC dates): one day.
  CHECK(attemptDays(std::vector<ContactMoment>{moment("a", utc(2024, 11, 17, 23, 30)),
                                               moment("b", utc(2024, 11, 18, 22, 30))}) == 1);
  CHECK(attemptDays(std::vector<ContactMoment>{}) == 0);

  const auto& table = eropaf::defaultCategories();
  eropaf::Case c;
  c.id = "case-1";
  CHECK(eropaf::norms::minAttempts(c, table) == 3);  // no category
  c.categories["schulden"] = {true, {1, 1}};
  CHECK(eropaf::norms::minAttempts(c, table) == 3);
  c.categories["huiselijk_geweld"] = {true, {1, 1}};
  CHECK(eropaf::norms::minAttempts(c, table) == 5);
  c.categories["huiselijk_geweld"] = {false, {2, 1}};  // removed
  CHECK(eropaf::norms::minAttempts(c, table) == 3);
  c.categories["onbekend"] = {true, {1, 1}};
  CHECK(eropaf::norms::minAttempts(c, table) == 3);
  const std::vector<Category> strict{{"schulden", "S", Priority::kNormaal, 10, false, 20, true, 7}};
  CHECK(eropaf::norms::minAttempts(c, strict) == 7);

  // The guard's facts: only the case's own moments.
  const std::vector<ContactMoment> stored{
      moment("a", utc(2024, 11, 18, 9)),
      moment("b", utc(2024, 11, 19, 9)),
      moment("x", utc(2024, 11, 20, 9), ContactOutcome::kNietThuis, ContactKind::kHuisbezoek,
             "case-2"),
  };
  const eropaf::GuardFacts f = eropaf::norms::guardFacts(c, stored, table);
  CHECK(f.attempt_days == 2);
  CHECK(f.min_attempts == 3);
}

TEST_CASE("norms: met, open and missed with an injected clock", "[unit][norms]") {
  using eropaf::norms::clockStatus;
  const std::int64_t due = utc(2024, 11, 19, 22, 59, 59, 999);  // Tuesday 23:59:59.999
  struct Row {
    const char* what;
    std::optional<std::int64_t> first;
    std::int64_t now;
    NormState state;
    std::int32_t days_late;
  };
  const Row rows[] = {
      {"no contact, before due", std::nullopt, utc(2024, 11, 19, 11), NormState::kOpen, 0},
      {"no contact, at due exactly", std::nullopt, due, NormState::kOpen, 0},
      {"no contact, 1 ms after due", std::nullopt, due + 1, NormState::kMissed, 1},
      {"no contact, Friday morning: TE LAAT 3 d", std::nullopt, utc(2024, 11, 22, 9),
       NormState::kMissed, 3},
      {"contact Monday", utc(2024, 11, 18, 10), utc(2025, 1, 1), NormState::kMet, 0},
      {"contact at due exactly", due, utc(2024, 11, 20), NormState::kMet, 0},
      {"contact Thursday: missed, 2 days late", utc(2024, 11, 21, 10), utc(2024, 11, 21, 11),
       NormState::kMissed, 2},
      {"missed stays missed a month on", utc(2024, 11, 21, 10), utc(2024, 12, 21),
       NormState::kMissed, 2},
      {"a late contact seen before it happened", utc(2024, 11, 21, 10), utc(2024, 11, 19),
       NormState::kMissed, 2},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    const auto s = clockStatus(due, r.first, r.now);
    CHECK(s.state == r.state);
    CHECK(s.days_late == r.days_late);
    CHECK(s.due_ms == due);
  }
  // No norm: open until contact, never missed.
  CHECK(clockStatus(eropaf::norms::kNoDue, std::nullopt, INT64_MAX).state == NormState::kOpen);
  CHECK(clockStatus(eropaf::norms::kNoDue, utc(2024, 1, 1), 0).state == NormState::kMet);
  CHECK(eropaf::norms::toString(NormState::kMet) == "gehaald");
  CHECK(eropaf::norms::toString(NormState::kMissed) == "te_laat");
  CHECK(eropaf::norms::toString(NormState::kOpen) == "open");

  // Both clocks of one case from its moments: a niet_thuis meets the attempt clock only.
  eropaf::norms::NormInputs in;
  in.categories = {{"dreigende_huisuitzetting", utc(2024, 11, 15, 18, 30)}};
  const auto norms = eropaf::norms::deriveNorms(in, eropaf::defaultCategories(), Calendar{});
  std::vector<ContactMoment> ms{moment("a", utc(2024, 11, 18, 10))};
  auto st = eropaf::norms::normStatus(norms, eropaf::norms::firstContacts(ms),
                                      utc(2024, 11, 25, 10));  // the next Monday
  CHECK(st.first_attempt.state == NormState::kMet);
  CHECK(st.first_gesprek.state == NormState::kMissed);  // due Friday 22nd
  CHECK(st.first_gesprek.days_late == 3);
  // A superseded niet_thuis does not meet the clock; its late correction misses it.
  ms.push_back(moment("a2", utc(2024, 11, 20, 10)));
  ms.back().corrects_id = "a";
  st = eropaf::norms::normStatus(norms, eropaf::norms::firstContacts(ms), utc(2024, 11, 20, 11));
  CHECK(st.first_attempt.state == NormState::kMissed);
  CHECK(st.first_attempt.days_late == 1);
  CHECK(st.first_gesprek.state == NormState::kOpen);
}

TEST_CASE("norms: overdue facts, one rule for device and server", "[unit][norms]") {
  using eropaf::norms::CaseNorms;
  using eropaf::norms::FirstContacts;
  using eropaf::norms::kNoDue;
  using eropaf::norms::overdueFacts;
  CaseNorms n;
  n.first_attempt_due_ms = 1'000;
  n.first_gesprek_due_ms = 5'000;
  // No contact yet: the earlier open due date counts, nothing was missed.
  auto f = overdueFacts(n, FirstContacts{});
  CHECK_FALSE(f.missed);
  CHECK(f.open_due_ms == 1'000);
  // An attempt on time: only the gesprek clock is open.
  f = overdueFacts(n, FirstContacts{900, std::nullopt});
  CHECK_FALSE(f.missed);
  CHECK(f.open_due_ms == 5'000);
  // An attempt late stays missed, even once the gesprek is on time.
  f = overdueFacts(n, FirstContacts{1'001, 4'000});
  CHECK(f.missed);
  CHECK(f.open_due_ms == kNoDue);
  // Both on time: met, nothing open.
  f = overdueFacts(n, FirstContacts{1'000, 5'000});
  CHECK_FALSE(f.missed);
  CHECK(f.open_due_ms == kNoDue);
  // A gesprek late.
  CHECK(overdueFacts(n, FirstContacts{10, 5'001}).missed);
}
