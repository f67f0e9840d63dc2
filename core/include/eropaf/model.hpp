// The eropaf record model: signals, cases, contact moments, transitions and reference data,
// with the per-field versions that make merging a state-based CRDT (see merge.hpp).
//
// Enum numbers equal the proto/ enums, so a record maps to the wire without tables. Every
// mutable field is an Lww<T>: its value and the Version of the write that set it. A zero
// Version means "this state says nothing about the field" (a delta that leaves it alone).
// Thread-safety: plain value types.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace eropaf {

/// The version of one field: HLC value, then writing node as tie-break. Ordered.
struct Version {
  std::uint64_t hlc = 0;
  std::uint64_t node = 0;

  bool isZero() const noexcept { return hlc == 0 && node == 0; }
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Version&) const = default;
};

/// A last-writer-wins register.
template <class T>
struct Lww {
  T value{};
  Version version;

  bool isSet() const noexcept { return !version.isZero(); }
  /// Writes `v` with version `ver`.
  void set(T v, Version ver) {
    value = std::move(v);
    version = ver;
  }
  auto operator<=>(const Lww&) const = default;
};

/// One element of a per-element LWW set.
struct SetEntry {
  bool present = false;
  Version version;
  auto operator<=>(const SetEntry&) const = default;
};

/// A per-element last-writer-wins set: adding and removing one element never touches another,
/// so two workers who each add one both keep theirs.
using LwwSet = std::map<std::string, SetEntry>;

/// The elements of `set` that are present, in order.
std::vector<std::string> presentElements(const LwwSet& set);

enum class Role : std::int32_t {
  kUnspecified = 0,
  kZorgmedewerker = 1,
  kWijkcoach = 2,
  kCoordinator = 3,
  kAdmin = 4,
};

enum class Urgency : std::int32_t {
  kUnspecified = 0,
  kLaag = 1,
  kNormaal = 2,
  kHoog = 3,
  kAcuut = 4
};

enum class Informed : std::int32_t { kUnspecified = 0, kYes = 1, kNoLater = 2, kNoRisk = 3 };

enum class TriageState : std::int32_t {
  kUnspecified = 0,
  kNieuw = 1,
  kGekoppeld = 2,
  kDuplicaat = 3,
  kAfgewezen = 4,
};

enum class CaseState : std::int32_t {
  kUnspecified = 0,
  kNieuw = 1,
  kToegewezen = 2,
  kContactZoeken = 3,
  kInBehandeling = 4,
  kWacht = 5,
  kDoorverwezen = 6,
  kNazorg = 7,
  kAfgesloten = 8,
  kGeannuleerd = 9,
  kHeropend = 10,
};

enum class Priority : std::int32_t {
  kUnspecified = 0,
  kAcuut = 1,
  kHoog = 2,
  kNormaal = 3,
  kLaag = 4
};

enum class ContactKind : std::int32_t {
  kUnspecified = 0,
  kHuisbezoek = 1,
  kTelefoon = 2,
  kBericht = 3,
  kOverleg = 4,
};

enum class ContactOutcome : std::int32_t {
  kUnspecified = 0,
  kGesprek = 1,
  kNietThuis = 2,
  kDeurNietGeopend = 3,
  kWeigertContact = 4,
  kDoorverwezen = 5,
};

enum class TransitionOutcome : std::int32_t {
  kUnspecified = 0,
  kPending = 1,
  kApplied = 2,
  kConflict = 3,
  kResolved = 4,
};

/// Stable lower-case names ("wijkcoach", "contact_zoeken", "niet_thuis") used by the CLI, JSON
/// output and messages; parse* returns nullopt for an unknown name or kUnspecified.
std::string_view toString(Role v) noexcept;
std::string_view toString(Urgency v) noexcept;
std::string_view toString(Informed v) noexcept;
std::string_view toString(TriageState v) noexcept;
std::string_view toString(CaseState v) noexcept;
std::string_view toString(Priority v) noexcept;
std::string_view toString(ContactKind v) noexcept;
std::string_view toString(ContactOutcome v) noexcept;
std::string_view toString(TransitionOutcome v) noexcept;
std::optional<Role> parseRole(std::string_view s) noexcept;
std::optional<Urgency> parseUrgency(std::string_view s) noexcept;
std::optional<Informed> parseInformed(std::string_view s) noexcept;
std::optional<CaseState> parseCaseState(std::string_view s) noexcept;
std::optional<Priority> parsePriority(std::string_view s) noexcept;
std::optional<ContactKind> parseContactKind(std::string_view s) noexcept;
std::optional<ContactOutcome> parseContactOutcome(std::string_view s) noexcept;

struct Address {
  std::string postcode;      ///< "1234AB" (normalised: upper case, no space)
  std::string house_number;  ///< "12"
  std::string addition;      ///< "A", "bis"; may be empty
  std::string street;
  std::string city;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Address&) const = default;
};

/// The household key for an address: "1234AB|12|a" (postcode upper case without spaces,
/// number, addition lower case). Signals and cases of one household share it.
std::string householdKey(const Address& address);

/// What one source saw at one address. Fixed once created.
struct SignalContent {
  std::string reporter_id;
  Role source_role = Role::kUnspecified;
  std::string wijk;
  Address address;
  std::string household_key;
  std::vector<std::string> categories;
  Urgency urgency = Urgency::kUnspecified;
  std::int64_t observed_at_ms = 0;
  std::string text;
  Informed informed = Informed::kUnspecified;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const SignalContent&) const = default;
};

struct Signal {
  std::string id;
  Version created;  ///< version of `content`; zero in a triage-only delta
  SignalContent content;
  Lww<std::string> case_id;
  Lww<TriageState> triage_state;
  Lww<std::string> duplicate_of;
  Lww<bool> deleted;
  /// Triage: why a coordinator rejected the signal (or marked it a duplicate). Coordinators
  /// only: the server never sends it to the reporter or a coach (it may name others).
  Lww<std::string> triage_reason;
  bool operator==(const Signal&) const = default;
};

/// What a case history entry records a change of.
enum class HistoryField : std::int32_t { kUnspecified = 0, kAssignee = 1, kPriority = 2 };

std::string_view toString(HistoryField v) noexcept;

/// One entry of a case's history: who changed its assignee or priority, when, from what to
/// what and why. Immutable once written; a case's entries form a grow-only set keyed by id, so
/// every replica ends with every entry. `from`/`to` are worker ids (assignee) or priority
/// names ("acuut"); empty means none (the queue, no override).
struct HistoryEntry {
  std::string id;   ///< UUIDv7 made by the writer
  Version version;  ///< the version of the write that made it (restamped with it)
  std::string actor_id;
  std::int64_t at_ms = 0;
  HistoryField field = HistoryField::kUnspecified;
  std::string from;
  std::string to;
  std::string reason;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const HistoryEntry&) const = default;
};

/// A case's history by entry id.
using CaseHistory = std::map<std::string, HistoryEntry>;

struct Case {
  std::string id;
  Version created;  ///< version of opened_by/opened_at_ms
  std::string opened_by;
  std::int64_t opened_at_ms = 0;
  Lww<std::string> wijk;
  Lww<std::string> household_key;
  Lww<Address> address;
  Lww<std::string> title;
  LwwSet categories;
  Lww<CaseState> state;
  Lww<std::string> assignee;
  Lww<Priority> priority;
  /// Deprecated: no longer written by the device store (due dates are derived, norms.hpp) and
  /// read nowhere for norms; kept on the wire for older peers.
  Lww<std::int64_t> first_contact_due_ms;
  Lww<std::string> resolution_code;
  Lww<std::string> resolution_text;
  Lww<std::string> merged_into;
  Lww<bool> conflict;
  Lww<bool> deleted;
  /// Why a coordinator set `priority`. A priority WITH a reason is a coordinator's override
  /// (norms.hpp: it wins for priority only); a priority without one (older data) is not, and
  /// the derived priority stands.
  Lww<std::string> priority_reason;
  /// Assignee and priority changes, grow-only (HistoryEntry).
  CaseHistory history;
  bool operator==(const Case&) const = default;
};

/// One visit, call or attempt. Append-only: a correction is a new moment with corrects_id.
struct ContactMoment {
  std::string id;
  Version created;
  std::string case_id;
  std::string author_id;
  std::int64_t at_ms = 0;
  ContactKind kind = ContactKind::kUnspecified;
  ContactOutcome outcome = ContactOutcome::kUnspecified;
  std::string note;
  std::string corrects_id;
  Lww<bool> deleted;
  bool operator==(const ContactMoment&) const = default;
};

/// One state change of a case. Append-only; `outcome` is set by the server's check.
struct Transition {
  std::string id;
  Version created;
  std::string case_id;
  CaseState from = CaseState::kUnspecified;
  CaseState to = CaseState::kUnspecified;
  std::string actor_id;
  Role actor_role = Role::kUnspecified;
  std::int64_t at_ms = 0;
  std::string reason;
  bool made_offline = false;
  Lww<TransitionOutcome> outcome;
  Lww<bool> deleted;
  /// The resolution code a move to afgesloten closes with (resolution.hpp); empty otherwise.
  /// Part of the fixed body, like `reason`.
  std::string resolution_code;
  bool operator==(const Transition&) const = default;
};

/// Any one record state (whole, or a delta of some fields).
using Record = std::variant<Signal, Case, ContactMoment, Transition>;

enum class RecordKind : std::int32_t {
  kSignal = 1,
  kCase = 2,
  kContactMoment = 3,
  kTransition = 4
};

RecordKind recordKind(const Record& r) noexcept;
const std::string& recordId(const Record& r) noexcept;
std::string_view toString(RecordKind k) noexcept;

struct Worker {
  std::string id;
  std::string name;
  Role role = Role::kUnspecified;
  std::vector<std::string> wijken;
  bool active = true;
};

struct Wijk {
  std::string code;
  std::string name;
};

/// N when nothing says otherwise: contact attempts on this many different days before
/// `geen_contact_mogelijk` may close a case.
inline constexpr std::int32_t kDefaultMinAttempts = 3;

/// A category with its norms (norms.hpp derives a case's priority and due dates from them).
/// Fields after `sensitive` were added later: a brace initialiser that stops at `sensitive`
/// gets the defaults below, which keep the older meaning (calendar days).
struct Category {
  std::string code;
  std::string label;
  Priority default_priority = Priority::kNormaal;
  /// The first-attempt norm: days from arrival to the first contact moment of any outcome.
  std::int32_t first_contact_days = 14;
  bool sensitive = false;
  /// The first-gesprek norm: days from arrival to the first contact moment with outcome gesprek.
  std::int32_t first_gesprek_days = 28;
  /// Whether both norms count working days (Monday–Friday minus holidays, norms.hpp's
  /// Calendar) rather than calendar days.
  bool working_days = false;
  /// N: contact attempts on N different days before `geen_contact_mogelijk` may close a case.
  std::int32_t min_attempts = kDefaultMinAttempts;
};

/// DESIGN.md's default categories with their priorities, norms and sensitivity (the values and
/// where they come from: docs/triage.md).
const std::vector<Category>& defaultCategories();

}  // namespace eropaf
