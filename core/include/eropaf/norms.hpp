// Norms: how fast a case must be worked. ONE pure function (deriveNorms) derives a case's
// priority and its two due dates from its contributions; device store and server both call it
// with facts they hold, so they agree. Around it: the Amsterdam calendar the norms count in,
// which contact moments count, and the norm status of each clock at an injected "now".
//
// Promises (docs/triage.md says the same for users):
// - Two clocks per case: **first attempt** (the first contact moment of any outcome, including
//   niet_thuis and deur_niet_geopend) and **first gesprek** (the first with outcome gesprek).
//   Only moments that try to reach the household count: huisbezoek, telefoon and bericht; an
//   overleg (with a partner, about the household) does not. Deleted moments do not count, nor
//   a moment another moment corrects (corrects_id): the correction counts in its place.
// - Contributions: each category of the case and each linked signal's urgency, each with the
//   time it arrived (category added / signal linked, never before the case was opened). Each
//   has a norm; its due date is the END of the Amsterdam day (23:59:59.999 local) of the Nth
//   day after the day of arrival, the arrival day itself not counted, counting working days or
//   calendar days as the norm says. N = 0 means the end of the arrival day.
// - Tighten, never loosen: priority is the most urgent of all contributions, each due date the
//   earliest over all contributions. Adding a contribution can only keep or tighten the result.
//   Removing one (a coordinator takes a wrong category off) removes what it contributed.
// - A gesprek is also an attempt, so each contribution's first-attempt due is never later than
//   its first-gesprek due.
// - A coordinator's priority override (CaseNorms::priority) wins for priority ONLY: the due dates
//   keep following the contributions. A norm is a promise to the household; lowering a case's
//   place in the queue does not move it, and raising it does not invent a deadline.
// - Met / open / missed per clock: met when the first counting moment is at or before due,
//   open while there is none and now <= due, missed when there is none and now > due, or the
//   first came after due. Missed stays missed: a late contact does not make it met.
// - Pure: no clock read, no I/O, no global state. Times are Unix milliseconds (UTC); a day is
//   an Amsterdam local date, with the EU summer-time rule computed here (no tz database).
// Thread-safety: pure functions over values; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eropaf/model.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/status.hpp"

namespace eropaf::norms {

/// A civil date (Amsterdam local date wherever a time is turned into a day).
using Date = std::chrono::year_month_day;

/// "No due date" (a case with no contribution): later than every time, so it sorts last and
/// is never missed. The device store's index uses the same value.
inline constexpr std::int64_t kNoDue = std::numeric_limits<std::int64_t>::max();

/// Bounds checkNorms() enforces on a category's norms.
inline constexpr std::int32_t kMaxNormDays = 365;
inline constexpr std::int32_t kMaxMinAttempts = 20;

// --- Amsterdam local time ------------------------------------------------------------------

/// Whether summer time (CEST, UTC+2) is in force at `utc_ms`: from the last Sunday of March
/// 01:00 UTC up to (not including) the last Sunday of October 01:00 UTC. CET (UTC+1) otherwise.
bool isSummerTime(std::int64_t utc_ms) noexcept;

/// Amsterdam's offset from UTC at `utc_ms`: 3,600,000 (CET) or 7,200,000 (CEST).
std::int64_t amsterdamOffsetMs(std::int64_t utc_ms) noexcept;

/// The Amsterdam local date at `utc_ms`.
Date amsterdamDate(std::int64_t utc_ms) noexcept;

/// The UTC instant of 00:00:00.000 Amsterdam time on `d`.
std::int64_t startOfDayMs(Date d) noexcept;

/// The UTC instant of 23:59:59.999 Amsterdam time on `d` (one millisecond before the next day).
std::int64_t endOfDayMs(Date d) noexcept;

// --- Calendar ------------------------------------------------------------------------------

/// Easter Sunday of year `y` in the Gregorian calendar (the anonymous Gregorian computus).
Date easterSunday(std::chrono::year y) noexcept;

/// The Dutch name of the public holiday on `d`, or nullopt. The list (docs/triage.md):
/// Nieuwjaarsdag, Eerste en Tweede Paasdag, Koningsdag (27 April; 26 April when the 27th is a
/// Sunday), Bevrijdingsdag (5 May: every year, or only in lustrum years — years divisible by
/// 5 — when `liberation_day_every_year` is false), Hemelvaartsdag, Eerste en Tweede
/// Pinksterdag, Eerste en Tweede Kerstdag. Goede Vrijdag is not in it: it is no general day off
/// in the Netherlands (a municipality that closes adds it to Calendar::extra_closed).
std::optional<std::string_view> dutchHoliday(Date d,
                                             bool liberation_day_every_year = true) noexcept;

/// Which days are working days: Monday to Friday, minus Dutch public holidays, minus a
/// municipality's own closed dates. A small value type the caller configures; the default is
/// the national list with Bevrijdingsdag every year.
struct Calendar {
  /// A municipality's own closed dates (a collective day off, Goede Vrijdag where it closes).
  std::vector<Date> extra_closed;
  /// Bevrijdingsdag as a day off every year (true) or only in lustrum years (false).
  bool liberation_day_every_year = true;

  bool isWorkingDay(Date d) const;
};

/// The date `days` days after `from` (`from` itself not counted), counting only working days
/// of `cal` when `working_days`. `days` <= 0 gives `from`.
Date addDays(Date from, std::int32_t days, bool working_days, const Calendar& cal);

/// The due instant of a norm of `days` (working) days for something that arrived at
/// `arrival_ms`: endOfDayMs(addDays(amsterdamDate(arrival_ms), days, working_days, cal)).
std::int64_t dueMs(std::int64_t arrival_ms, std::int32_t days, bool working_days,
                   const Calendar& cal);

// --- Norms and contributions ---------------------------------------------------------------

/// What one contribution asks for.
struct Norm {
  Priority priority = Priority::kNormaal;
  std::int32_t first_attempt_days = 14;
  std::int32_t first_gesprek_days = 28;
  bool working_days = false;
};

/// A category's norm: its default priority, first_contact_days (first attempt),
/// first_gesprek_days and working_days.
Norm categoryNorm(const Category& c) noexcept;

/// A linked signal's norm by its urgency (docs/triage.md): acuut → priority acuut, first
/// attempt within 1 calendar day, first gesprek within 2; hoog → hoog, 3 and 5 working days;
/// normaal → normaal, 10 and 20 working days; laag → laag, 20 and 40 working days.
/// nullopt for kUnspecified (or a number outside the enum): it contributes nothing.
std::optional<Norm> urgencyNorm(Urgency u) noexcept;

/// How urgent a priority is: acuut 4, hoog 3, normaal 2, laag 1, unspecified (or unknown) 0.
int urgencyRank(Priority p) noexcept;

/// The more urgent of two priorities (kUnspecified is the least urgent).
Priority stricter(Priority a, Priority b) noexcept;

/// Checks a category's norms (reference data from the admin or the wire): first_contact_days
/// and first_gesprek_days within 0..kMaxNormDays, min_attempts within 1..kMaxMinAttempts, a
/// default priority in the enum. kInvalidArgument naming the field otherwise.
Status checkNorms(const Category& c);

/// A category of the case and when it arrived.
struct CategoryArrival {
  std::string code;
  std::int64_t at_ms = 0;
};

/// A linked signal's urgency and when the signal was linked (or the case opened).
struct UrgencyArrival {
  Urgency urgency = Urgency::kUnspecified;
  std::int64_t at_ms = 0;
};

/// Everything deriveNorms() judges a case on.
struct NormInputs {
  std::vector<CategoryArrival> categories;
  std::vector<UrgencyArrival> signals;
  /// A coordinator's override (written with a reason where the override is stored): wins for
  /// priority only.
  std::optional<Priority> priority_override;
};

/// A case's derived norms.
struct CaseNorms {
  /// The priority to show and sort by: the override when there is one, else derived_priority.
  Priority priority = Priority::kUnspecified;
  /// The most urgent over all contributions; kUnspecified when there is none.
  Priority derived_priority = Priority::kUnspecified;
  std::int64_t first_attempt_due_ms = kNoDue;
  std::int64_t first_gesprek_due_ms = kNoDue;
  /// Category codes of the inputs that `table` does not know (renamed or removed reference
  /// data). They are not dropped: each is judged by the norm of a default-constructed Category
  /// (normaal, 14 and 28 calendar days), and listed here so the caller can say so.
  std::vector<std::string> unknown_categories;
};

/// THE norm function: priority and due dates of a case from its contributions, judged by the
/// category table `table` (the reference data) and the calendar `cal`. Pure and total: any
/// input gives an answer (negative days count as 0).
CaseNorms deriveNorms(const NormInputs& in, std::span<const Category> table, const Calendar& cal);

/// The inputs of a stored case: each present category, arrived at its set element's version
/// time; each signal of `signals` linked to it (case_id is the case's id, not deleted, not
/// afgewezen) with its urgency, arrived at its case_id version time; neither before the case's
/// opened_at_ms. Version times are HLC wall times (clock.hpp), bounded by the server's skew
/// check. `signals` may hold others: they are skipped.
NormInputs normInputs(const Case& c, std::span<const Signal> signals,
                      std::optional<Priority> priority_override = std::nullopt);

// --- Contact moments -----------------------------------------------------------------------

/// True for a moment that tries to reach the household: huisbezoek, telefoon, bericht.
bool isAttempt(const ContactMoment& m) noexcept;

/// The moments of `moments` that count: attempts, not deleted, and not corrected by another
/// non-deleted moment of `moments` (its corrects_id names them; its own kind does not matter:
/// a correction to "it was an overleg" takes the attempt away). A deleted correction corrects
/// nothing. Order kept.
std::vector<ContactMoment> countingMoments(std::span<const ContactMoment> moments);

/// The first times of each clock over the counting moments of one case.
struct FirstContacts {
  std::optional<std::int64_t> first_attempt_ms;
  std::optional<std::int64_t> first_gesprek_ms;
};
FirstContacts firstContacts(std::span<const ContactMoment> moments);

/// What the overview sorts and counts by, from a case's norms and first contacts, the same on
/// device and server: a clock met late (`missed`), and the earliest due date of a clock with no
/// contact yet (`open_due_ms`, kNoDue when both clocks have one). Overdue at `now` is
/// `missed || open_due_ms < now`.
struct OverdueFacts {
  bool missed = false;
  std::int64_t open_due_ms = kNoDue;
};
OverdueFacts overdueFacts(const CaseNorms& n, const FirstContacts& fc) noexcept;

/// How many different Amsterdam dates carry a counting moment.
std::int32_t attemptDays(std::span<const ContactMoment> moments);

/// N for a case: the strictest (largest) min_attempts over its present categories in `table`
/// (kDefaultMinAttempts for a code `table` does not know); kDefaultMinAttempts with none.
std::int32_t minAttempts(const Case& c, std::span<const Category> table);

/// The facts checkGuard() (state_table.hpp) judges a case on, from the judge's own stored
/// contact moments of the case and its own category table.
GuardFacts guardFacts(const Case& c, std::span<const ContactMoment> stored_moments,
                      std::span<const Category> table);

// --- Norm status ---------------------------------------------------------------------------

enum class NormState : std::int32_t { kOpen = 1, kMet = 2, kMissed = 3 };

/// "open", "gehaald", "te_laat".
std::string_view toString(NormState s) noexcept;

/// One clock of one case at `now`.
struct ClockStatus {
  NormState state = NormState::kOpen;
  /// Missed: whole Amsterdam days from the due day to the day of the late contact (or of now
  /// while there is none), at least 1 ("TE LAAT 3 d"). 0 otherwise.
  std::int32_t days_late = 0;
  std::int64_t due_ms = kNoDue;
};

/// The status of one clock with due `due_ms`, first counting moment `first_ms` (nullopt:
/// none yet) at the injected time `now_ms`.
ClockStatus clockStatus(std::int64_t due_ms, std::optional<std::int64_t> first_ms,
                        std::int64_t now_ms);

/// Both clocks of one case.
struct NormStatus {
  ClockStatus first_attempt;
  ClockStatus first_gesprek;
};
NormStatus normStatus(const CaseNorms& norms, const FirstContacts& contacts, std::int64_t now_ms);

}  // namespace eropaf::norms
