// Names of the model's enums, household keys, record helpers and the default categories.
#include "eropaf/model.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace eropaf {
namespace {

template <class E, std::size_t N>
std::string_view nameOf(const std::array<std::pair<E, std::string_view>, N>& table, E v) {
  for (const auto& [e, name] : table) {
    if (e == v) return name;
  }
  return "unspecified";
}

template <class E, std::size_t N>
std::optional<E> parseName(const std::array<std::pair<E, std::string_view>, N>& table,
                           std::string_view s) {
  for (const auto& [e, name] : table) {
    if (name == s) return e;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<Role, std::string_view>, 4> kRoles{{
    {Role::kZorgmedewerker, "zorgmedewerker"},
    {Role::kWijkcoach, "wijkcoach"},
    {Role::kCoordinator, "coordinator"},
    {Role::kAdmin, "admin"},
}};
constexpr std::array<std::pair<Urgency, std::string_view>, 4> kUrgencies{{
    {Urgency::kLaag, "laag"},
    {Urgency::kNormaal, "normaal"},
    {Urgency::kHoog, "hoog"},
    {Urgency::kAcuut, "acuut"},
}};
constexpr std::array<std::pair<Informed, std::string_view>, 3> kInformed{{
    {Informed::kYes, "yes"},
    {Informed::kNoLater, "later"},
    {Informed::kNoRisk, "risk"},
}};
constexpr std::array<std::pair<TriageState, std::string_view>, 4> kTriage{{
    {TriageState::kNieuw, "nieuw"},
    {TriageState::kGekoppeld, "gekoppeld"},
    {TriageState::kDuplicaat, "duplicaat"},
    {TriageState::kAfgewezen, "afgewezen"},
}};
constexpr std::array<std::pair<CaseState, std::string_view>, 10> kCaseStates{{
    {CaseState::kNieuw, "nieuw"},
    {CaseState::kToegewezen, "toegewezen"},
    {CaseState::kContactZoeken, "contact_zoeken"},
    {CaseState::kInBehandeling, "in_behandeling"},
    {CaseState::kWacht, "wacht"},
    {CaseState::kDoorverwezen, "doorverwezen"},
    {CaseState::kNazorg, "nazorg"},
    {CaseState::kAfgesloten, "afgesloten"},
    {CaseState::kGeannuleerd, "geannuleerd"},
    {CaseState::kHeropend, "heropend"},
}};
constexpr std::array<std::pair<Priority, std::string_view>, 4> kPriorities{{
    {Priority::kAcuut, "acuut"},
    {Priority::kHoog, "hoog"},
    {Priority::kNormaal, "normaal"},
    {Priority::kLaag, "laag"},
}};
constexpr std::array<std::pair<ContactKind, std::string_view>, 4> kKinds{{
    {ContactKind::kHuisbezoek, "huisbezoek"},
    {ContactKind::kTelefoon, "telefoon"},
    {ContactKind::kBericht, "bericht"},
    {ContactKind::kOverleg, "overleg"},
}};
constexpr std::array<std::pair<ContactOutcome, std::string_view>, 5> kOutcomes{{
    {ContactOutcome::kGesprek, "gesprek"},
    {ContactOutcome::kNietThuis, "niet_thuis"},
    {ContactOutcome::kDeurNietGeopend, "deur_niet_geopend"},
    {ContactOutcome::kWeigertContact, "weigert_contact"},
    {ContactOutcome::kDoorverwezen, "doorverwezen"},
}};
constexpr std::array<std::pair<TransitionOutcome, std::string_view>, 4> kTransitionOutcomes{{
    {TransitionOutcome::kPending, "pending"},
    {TransitionOutcome::kApplied, "applied"},
    {TransitionOutcome::kConflict, "conflict"},
    {TransitionOutcome::kResolved, "resolved"},
}};
constexpr std::array<std::pair<HistoryField, std::string_view>, 2> kHistoryFields{{
    {HistoryField::kAssignee, "assignee"},
    {HistoryField::kPriority, "priority"},
}};

}  // namespace

std::string_view toString(Role v) noexcept { return nameOf(kRoles, v); }
std::string_view toString(Urgency v) noexcept { return nameOf(kUrgencies, v); }
std::string_view toString(Informed v) noexcept { return nameOf(kInformed, v); }
std::string_view toString(TriageState v) noexcept { return nameOf(kTriage, v); }
std::string_view toString(CaseState v) noexcept { return nameOf(kCaseStates, v); }
std::string_view toString(Priority v) noexcept { return nameOf(kPriorities, v); }
std::string_view toString(ContactKind v) noexcept { return nameOf(kKinds, v); }
std::string_view toString(ContactOutcome v) noexcept { return nameOf(kOutcomes, v); }
std::string_view toString(TransitionOutcome v) noexcept { return nameOf(kTransitionOutcomes, v); }
std::string_view toString(HistoryField v) noexcept { return nameOf(kHistoryFields, v); }
std::optional<Role> parseRole(std::string_view s) noexcept { return parseName(kRoles, s); }
std::optional<Urgency> parseUrgency(std::string_view s) noexcept {
  return parseName(kUrgencies, s);
}
std::optional<Informed> parseInformed(std::string_view s) noexcept {
  return parseName(kInformed, s);
}
std::optional<CaseState> parseCaseState(std::string_view s) noexcept {
  return parseName(kCaseStates, s);
}
std::optional<Priority> parsePriority(std::string_view s) noexcept {
  return parseName(kPriorities, s);
}
std::optional<ContactKind> parseContactKind(std::string_view s) noexcept {
  return parseName(kKinds, s);
}
std::optional<ContactOutcome> parseContactOutcome(std::string_view s) noexcept {
  return parseName(kOutcomes, s);
}

std::vector<std::string> presentElements(const LwwSet& set) {
  std::vector<std::string> out;
  for (const auto& [value, entry] : set) {
    if (entry.present) out.push_back(value);
  }
  return out;
}

std::string householdKey(const Address& address) {
  std::string key;
  for (const char c : address.postcode) {
    if (c != ' ') key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  key.push_back('|');
  for (const char c : address.house_number) {
    if (c != ' ') key.push_back(c);
  }
  key.push_back('|');
  for (const char c : address.addition) {
    if (c != ' ' && c != '-') {
      key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return key;
}

RecordKind recordKind(const Record& r) noexcept { return static_cast<RecordKind>(r.index() + 1); }

const std::string& recordId(const Record& r) noexcept {
  // get_if, not visit: visit may throw (a variant left valueless), and this is noexcept.
  if (const auto* s = std::get_if<Signal>(&r)) return s->id;
  if (const auto* c = std::get_if<Case>(&r)) return c->id;
  if (const auto* m = std::get_if<ContactMoment>(&r)) return m->id;
  if (const auto* t = std::get_if<Transition>(&r)) return t->id;
  static const std::string kNone;
  return kNone;
}

std::string_view toString(RecordKind k) noexcept {
  switch (k) {
    case RecordKind::kSignal:
      return "signal";
    case RecordKind::kCase:
      return "case";
    case RecordKind::kContactMoment:
      return "contact_moment";
    case RecordKind::kTransition:
      return "transition";
  }
  return "unknown";
}

const std::vector<Category>& defaultCategories() {
  // Norms (docs/triage.md "Default categories"): DESIGN.md names eviction threat at 2 days;
  // we read that as 2 working days, as the example does (a Friday-evening intake is due
  // Tuesday), because the bailiff and the housing corporation work office days too. Domestic
  // violence counts calendar days: safety does not wait for Monday. The rest are office days,
  // first gesprek twice the first-attempt norm. N is 5 where a closed door is the very signal
  // (domestic violence, self-neglect: Eropaf keeps trying), 3 otherwise. Sensitive marks health
  // and safety information.
  // code, label, default priority, first attempt days, sensitive, first gesprek days,
  // working days, min attempts
  static const std::vector<Category> kDefaults{
      {"schulden", "Schulden", Priority::kNormaal, 10, false, 20, true, 3},
      {"vereenzaming", "Vereenzaming", Priority::kNormaal, 14, false, 28, true, 3},
      {"overlast", "Overlast", Priority::kNormaal, 10, false, 20, true, 3},
      {"verwaarlozing", "Verwaarlozing", Priority::kHoog, 5, true, 10, true, 5},
      {"verslaving", "Verslaving", Priority::kHoog, 7, true, 14, true, 3},
      {"huiselijk_geweld", "Huiselijk geweld", Priority::kAcuut, 1, true, 2, false, 5},
      {"dreigende_huisuitzetting", "Dreigende huisuitzetting", Priority::kAcuut, 2, false, 5, true,
       3},
      {"schoolverzuim", "Schoolverzuim", Priority::kNormaal, 10, false, 20, true, 3},
      {"psychische_problemen", "Psychische problemen", Priority::kHoog, 5, true, 10, true, 3},
      {"mantelzorg_overbelast", "Overbelaste mantelzorg", Priority::kNormaal, 10, true, 20, true,
       3},
      {"overig", "Overig", Priority::kLaag, 14, false, 28, true, 3},
  };
  return kDefaults;
}

}  // namespace eropaf
