// Proves the merge promises of DESIGN.md "Merging: nothing a worker wrote is lost" on generated
// inputs. For random states of one record (random subsets of fields set, versions from a small
// range so ties happen, equal versions with different values, category sets with present and
// absent elements) mergeInto is commutative, associative and idempotent, never lowers a field's
// version, and only ever keeps a value one of its inputs carried. Sets merge per element. And
// replicas that append contact moments and transitions and edit one case concurrently, then
// exchange stale snapshots in random order with repeats, drops and late retries, all end
// identical, holding every moment and transition ever created and the last write of every field.
//
// Seeded: the seed is printed on failure; rerun with `--rng-seed <seed>` to replay it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "eropaf/clock.hpp"
#include "eropaf/merge.hpp"
#include "eropaf/model.hpp"

namespace {

using eropaf::Address;
using eropaf::Case;
using eropaf::CaseState;
using eropaf::ContactMoment;
using eropaf::Lww;
using eropaf::LwwSet;
using eropaf::Record;
using eropaf::SetEntry;
using eropaf::Signal;
using eropaf::Transition;
using eropaf::Version;

// --- seed ----------------------------------------------------------------------------------

constexpr std::uint64_t kDefaultSeed = 20260921;

// Catch's --rng-seed when given, else a fixed seed so the default suite is reproducible.
std::uint64_t baseSeed() {
  const unsigned int catch_seed = Catch::rngSeed();
  return catch_seed != 0 ? catch_seed : kDefaultSeed;
}

// --- printing, only on failure ----------------------------------------------------------------

std::ostream& operator<<(std::ostream& os, const Version& v) {
  return os << v.hlc << '.' << v.node;
}

std::string str(const Version& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

template <class T>
void put(std::ostream& os, const char* name, const Lww<T>& f) {
  if (!f.isSet() && f.value == T{}) return;
  os << ' ' << name << '=';
  if constexpr (std::is_enum_v<T>) {
    os << static_cast<int>(f.value);
  } else if constexpr (std::is_same_v<T, Address>) {
    os << f.value.postcode << '/' << f.value.house_number;
  } else if constexpr (std::is_same_v<T, bool>) {
    os << (f.value ? "true" : "false");
  } else {
    os << '"' << f.value << '"';
  }
  os << '@' << f.version;
}

void putSet(std::ostream& os, const LwwSet& set) {
  os << " categories={";
  for (const auto& [code, e] : set)
    os << code << (e.present ? "+" : "-") << '@' << e.version << ' ';
  os << '}';
}

std::string describe(const Signal& s) {
  std::ostringstream os;
  os << "Signal created=" << s.created << " reporter=" << s.content.reporter_id << " text=\""
     << s.content.text << '"';
  put(os, "case_id", s.case_id);
  put(os, "triage_state", s.triage_state);
  put(os, "duplicate_of", s.duplicate_of);
  put(os, "deleted", s.deleted);
  put(os, "triage_reason", s.triage_reason);
  return os.str();
}

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "Case created=" << c.created << " opened_by=" << c.opened_by << " at=" << c.opened_at_ms;
  put(os, "wijk", c.wijk);
  put(os, "household_key", c.household_key);
  put(os, "address", c.address);
  put(os, "title", c.title);
  putSet(os, c.categories);
  put(os, "state", c.state);
  put(os, "assignee", c.assignee);
  put(os, "priority", c.priority);
  put(os, "first_contact_due_ms", c.first_contact_due_ms);
  put(os, "resolution_code", c.resolution_code);
  put(os, "resolution_text", c.resolution_text);
  put(os, "merged_into", c.merged_into);
  put(os, "conflict", c.conflict);
  put(os, "deleted", c.deleted);
  put(os, "priority_reason", c.priority_reason);
  os << " history={";
  for (const auto& [id, e] : c.history) os << id << ':' << e.to << '@' << e.version << ' ';
  os << '}';
  return os.str();
}

std::string describe(const ContactMoment& m) {
  std::ostringstream os;
  os << "ContactMoment id=" << m.id << " created=" << m.created << " author=" << m.author_id
     << " kind=" << static_cast<int>(m.kind) << " outcome=" << static_cast<int>(m.outcome)
     << " note=\"" << m.note << '"';
  put(os, "deleted", m.deleted);
  return os.str();
}

std::string describe(const Transition& t) {
  std::ostringstream os;
  os << "Transition id=" << t.id << " created=" << t.created << ' ' << static_cast<int>(t.from)
     << "->" << static_cast<int>(t.to) << " actor=" << t.actor_id << " reason=\"" << t.reason
     << '"';
  put(os, "outcome", t.outcome);
  put(os, "deleted", t.deleted);
  return os.str();
}

std::string describe(const Record& r) {
  return std::visit([](const auto& x) { return describe(x); }, r);
}

// --- generator -------------------------------------------------------------------------------

// Random states of the SAME record. Versions come from 3 HLC values x 2 nodes, and values from
// pools of two or three, so equal versions with equal and with different values are common.
class Gen {
 public:
  explicit Gen(std::uint64_t seed) : rng_(seed) {}

  std::mt19937_64& rng() { return rng_; }

  std::size_t index(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng_); }

  Version version() {
    return {std::uniform_int_distribution<std::uint64_t>(1, 3)(rng_),
            std::uniform_int_distribution<std::uint64_t>(1, 2)(rng_)};
  }

  template <class T>
  T pick(const std::vector<T>& pool) {
    return pool[index(pool.size())];
  }

  // Unset (default value, zero version) or one of `pool` under a random version.
  template <class T>
  Lww<T> lww(const std::vector<T>& pool) {
    Lww<T> f;
    if (coin(0.6)) f.set(pick(pool), version());
    return f;
  }

  LwwSet categories() {
    static const std::vector<std::string> kCodes{"schulden", "overlast", "vereenzaming", "overig"};
    LwwSet set;
    for (const std::string& code : kCodes) {
      if (coin()) set[code] = SetEntry{coin(), version()};
    }
    return set;
  }

  Signal signal() {
    static const std::vector<eropaf::SignalContent> kContents = [] {
      eropaf::SignalContent a;
      a.reporter_id = "zm.jansen";
      a.source_role = eropaf::Role::kZorgmedewerker;
      a.wijk = "WK015301";
      a.address = {"1234AB", "12", "", "Dorpsstraat", "Utrecht"};
      a.household_key = eropaf::householdKey(a.address);
      a.categories = {"vereenzaming"};
      a.urgency = eropaf::Urgency::kNormaal;
      a.observed_at_ms = 1'790'000'000'000;
      a.text = "post stapelt op";
      a.informed = eropaf::Informed::kNoLater;
      eropaf::SignalContent b = a;
      b.text = "post stapelt op (andere tekst)";
      eropaf::SignalContent c = a;
      c.categories = {"schulden", "vereenzaming"};
      return std::vector<eropaf::SignalContent>{a, b, c};
    }();
    Signal s;
    s.id = "0199a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
    if (coin(0.6)) {
      s.created = version();
      s.content = pick(kContents);
    }
    s.case_id = lww<std::string>({"case-1", "case-2", ""});
    s.triage_state = lww<eropaf::TriageState>(
        {eropaf::TriageState::kNieuw, eropaf::TriageState::kGekoppeld,
         eropaf::TriageState::kDuplicaat, eropaf::TriageState::kAfgewezen});
    s.duplicate_of = lww<std::string>({"signal-0", "signal-9"});
    s.deleted = lww<bool>({true, false});
    s.triage_reason = lww<std::string>({"al bekend", ""});
    return s;
  }

  Case kase() {
    Case c;
    c.id = "0199a1b2-c3d4-7e5f-8a6b-000000000001";
    if (coin(0.6)) {
      c.created = version();
      c.opened_by = coin() ? "coord.a" : "coord.b";
      c.opened_at_ms = coin() ? 1000 : 2000;
    }
    c.wijk = lww<std::string>({"WK015301", "WK015302"});
    c.household_key = lww<std::string>({"1234AB|12|", "1234AB|12|a"});
    c.address = lww<Address>({Address{"1234AB", "12", "", "Dorpsstraat", "Utrecht"},
                              Address{"1234AB", "12", "a", "Dorpsstraat", "Utrecht"}});
    c.title = lww<std::string>({"mevrouw alleen", "post stapelt op", ""});
    c.categories = categories();
    c.state = lww<CaseState>({CaseState::kToegewezen, CaseState::kInBehandeling, CaseState::kWacht,
                              CaseState::kAfgesloten});
    c.assignee = lww<std::string>({"wc.a", "wc.b", ""});
    c.priority = lww<eropaf::Priority>({eropaf::Priority::kAcuut, eropaf::Priority::kLaag});
    c.first_contact_due_ms = lww<std::int64_t>({0, 5, -5});
    c.resolution_code = lww<std::string>({"opgelost", "verhuisd"});
    c.resolution_text = lww<std::string>({"klaar", "naar schuldhulp"});
    c.merged_into = lww<std::string>({"", "case-9"});
    c.conflict = lww<bool>({true, false});
    c.deleted = lww<bool>({true, false});
    c.priority_reason = lww<std::string>({"uitzetting", ""});
    for (const char* id : {"h-1", "h-2", "h-3"}) {
      if (!coin(0.4)) continue;
      eropaf::HistoryEntry e;
      e.id = id;
      e.version = version();
      e.actor_id = "coord.a";
      e.at_ms = 1000;
      e.field = eropaf::HistoryField::kAssignee;
      e.to = coin() ? "wc.a" : "wc.b";  // a forged twin of an id: the merge still agrees
      c.history[id] = e;
    }
    return c;
  }

  ContactMoment moment() {
    ContactMoment m;
    m.id = "0199a1b2-c3d4-7e5f-8a6b-000000000010";
    if (coin(0.6)) {
      m.created = version();
      m.case_id = "case-1";
      m.author_id = coin() ? "wc.a" : "wc.b";
      m.at_ms = 1000;
      m.kind = coin() ? eropaf::ContactKind::kHuisbezoek : eropaf::ContactKind::kTelefoon;
      m.outcome = coin() ? eropaf::ContactOutcome::kNietThuis : eropaf::ContactOutcome::kGesprek;
      m.note = coin() ? "niet thuis" : "";
      m.corrects_id = coin() ? "" : "moment-0";
    }
    m.deleted = lww<bool>({true, false});
    return m;
  }

  Transition transition() {
    Transition t;
    t.id = "0199a1b2-c3d4-7e5f-8a6b-000000000020";
    if (coin(0.6)) {
      t.created = version();
      t.case_id = "case-1";
      t.from = CaseState::kInBehandeling;
      t.to = coin() ? CaseState::kWacht : CaseState::kNazorg;
      t.actor_id = coin() ? "wc.a" : "wc.b";
      t.actor_role = eropaf::Role::kWijkcoach;
      t.at_ms = 1000;
      t.reason = coin() ? "wacht op intake" : "";
      t.made_offline = coin();
    }
    t.outcome = lww<eropaf::TransitionOutcome>({eropaf::TransitionOutcome::kPending,
                                                eropaf::TransitionOutcome::kApplied,
                                                eropaf::TransitionOutcome::kConflict});
    t.deleted = lww<bool>({true, false});
    return t;
  }

  template <class R>
  R make() {
    if constexpr (std::is_same_v<R, Signal>) {
      return signal();
    } else if constexpr (std::is_same_v<R, Case>) {
      return kase();
    } else if constexpr (std::is_same_v<R, ContactMoment>) {
      return moment();
    } else {
      static_assert(std::is_same_v<R, Transition>);
      return transition();
    }
  }

 private:
  std::mt19937_64 rng_;
};

// --- per-field checks ------------------------------------------------------------------------

template <class R>
R merged(R a, const R& b) {
  eropaf::mergeInto(a, b);
  return a;
}

// The name of the first field of `m` that is not exactly a's or b's (value and version), or
// whose version is not the greater of a's and b's; empty when every field is one of the inputs
// and carries the greatest version.
#define EROPAF_CHECK_FIELD(name)                                                      \
  do {                                                                                \
    if (!(m.name == a.name || m.name == b.name)) return #name " is in neither input"; \
    if (m.name.version != std::max(a.name.version, b.name.version))                   \
      return #name " lost its greatest version";                                      \
  } while (false)

template <class R, class Content>
std::string checkContent(const R& m, const R& a, const R& b, Content content) {
  const bool from_a = m.created == a.created && content(m) == content(a);
  const bool from_b = m.created == b.created && content(m) == content(b);
  if (!from_a && !from_b) return "content is in neither input";
  if (m.created != std::max(a.created, b.created)) return "content lost its greatest version";
  return {};
}

std::string checkSet(const LwwSet& m, const LwwSet& a, const LwwSet& b) {
  LwwSet all = a;
  all.insert(b.begin(), b.end());
  if (m.size() != all.size()) return "categories gained or lost an element";
  for (const auto& [code, unused] : all) {
    const auto in_m = m.find(code);
    if (in_m == m.end()) return "categories lost " + code;
    const auto in_a = a.find(code);
    const auto in_b = b.find(code);
    const bool from_a = in_a != a.end() && in_a->second == in_m->second;
    const bool from_b = in_b != b.end() && in_b->second == in_m->second;
    if (!from_a && !from_b) return "categories[" + code + "] is in neither input";
    const Version va = in_a != a.end() ? in_a->second.version : Version{};
    const Version vb = in_b != b.end() ? in_b->second.version : Version{};
    if (in_m->second.version != std::max(va, vb)) {
      return "categories[" + code + "] lost its greatest version";
    }
  }
  return {};
}

std::string checkFields(const Signal& m, const Signal& a, const Signal& b) {
  if (m.id != a.id) return "id changed";
  std::string bad = checkContent(m, a, b, [](const Signal& s) { return s.content; });
  if (!bad.empty()) return bad;
  EROPAF_CHECK_FIELD(case_id);
  EROPAF_CHECK_FIELD(triage_state);
  EROPAF_CHECK_FIELD(duplicate_of);
  EROPAF_CHECK_FIELD(deleted);
  EROPAF_CHECK_FIELD(triage_reason);
  return {};
}

std::string checkFields(const Case& m, const Case& a, const Case& b) {
  if (m.id != a.id) return "id changed";
  std::string bad = checkContent(
      m, a, b, [](const Case& c) { return std::make_pair(c.opened_by, c.opened_at_ms); });
  if (!bad.empty()) return bad;
  bad = checkSet(m.categories, a.categories, b.categories);
  if (!bad.empty()) return bad;
  EROPAF_CHECK_FIELD(wijk);
  EROPAF_CHECK_FIELD(household_key);
  EROPAF_CHECK_FIELD(address);
  EROPAF_CHECK_FIELD(title);
  EROPAF_CHECK_FIELD(state);
  EROPAF_CHECK_FIELD(assignee);
  EROPAF_CHECK_FIELD(priority);
  EROPAF_CHECK_FIELD(first_contact_due_ms);
  EROPAF_CHECK_FIELD(resolution_code);
  EROPAF_CHECK_FIELD(resolution_text);
  EROPAF_CHECK_FIELD(merged_into);
  EROPAF_CHECK_FIELD(conflict);
  EROPAF_CHECK_FIELD(deleted);
  EROPAF_CHECK_FIELD(priority_reason);
  for (const auto* side : {&a.history, &b.history}) {
    for (const auto& [id, e] : *side) {
      auto it = m.history.find(id);
      if (it == m.history.end()) return "history entry " + id + " lost";
      if (it->second < e) return "history entry " + id + " lost its greatest state";
    }
  }
  if (m.history.size() > a.history.size() + b.history.size()) return "history grew entries";
  return {};
}

std::string checkFields(const ContactMoment& m, const ContactMoment& a, const ContactMoment& b) {
  if (m.id != a.id) return "id changed";
  std::string bad = checkContent(m, a, b, [](const ContactMoment& x) {
    return std::make_tuple(x.case_id, x.author_id, x.at_ms, x.kind, x.outcome, x.note,
                           x.corrects_id);
  });
  if (!bad.empty()) return bad;
  EROPAF_CHECK_FIELD(deleted);
  return {};
}

std::string checkFields(const Transition& m, const Transition& a, const Transition& b) {
  if (m.id != a.id) return "id changed";
  std::string bad = checkContent(m, a, b, [](const Transition& x) {
    return std::make_tuple(x.case_id, x.from, x.to, x.actor_id, x.actor_role, x.at_ms, x.reason,
                           x.made_offline);
  });
  if (!bad.empty()) return bad;
  EROPAF_CHECK_FIELD(outcome);
  EROPAF_CHECK_FIELD(deleted);
  return {};
}

#undef EROPAF_CHECK_FIELD

// --- the laws --------------------------------------------------------------------------------

template <class R>
void checkMergeLaws(std::uint64_t seed, int iterations) {
  INFO("seed " << seed << " (rerun with --rng-seed " << seed << ")");
  Gen gen(seed ^ (0x9E3779B97F4A7C15ull * (Record(R{}).index() + 1)));
  int ties_with_different_values = 0;
  for (int i = 0; i < iterations; ++i) {
    const R a = gen.make<R>();
    const R b = gen.make<R>();
    const R c = gen.make<R>();
    const auto fail = [&](const std::string& law) {
      FAIL("iteration " << i << ": " << law << "\n  a: " << describe(a) << "\n  b: " << describe(b)
                        << "\n  c: " << describe(c));
    };
    const R ab = merged(a, b);
    const R ba = merged(b, a);
    if (!(ab == ba)) {
      fail("not commutative\n  a+b: " + describe(ab) + "\n  b+a: " + describe(ba));
    }
    const R ab_c = merged(ab, c);
    const R a_bc = merged(a, merged(b, c));
    if (!(ab_c == a_bc)) {
      fail("not associative\n  (a+b)+c: " + describe(ab_c) + "\n  a+(b+c): " + describe(a_bc));
    }
    if (!(merged(a, a) == a)) fail("a+a != a: " + describe(merged(a, a)));
    if (!(merged(ab, b) == ab)) fail("(a+b)+b != a+b: " + describe(merged(ab, b)));
    if (!(merged(ab, a) == ab)) fail("(a+b)+a != a+b: " + describe(merged(ab, a)));
    const std::string bad = checkFields(ab, a, b);
    if (!bad.empty()) fail(bad + "\n  a+b: " + describe(ab));
    if (eropaf::maxVersion(Record(ab)) !=
        std::max(eropaf::maxVersion(Record(a)), eropaf::maxVersion(Record(b)))) {
      fail("maxVersion(a+b) is not the greater of maxVersion(a), maxVersion(b)");
    }
    // The generic Record overload answers the same as the typed one.
    Record rec_ab{a};
    const eropaf::Status s = eropaf::mergeInto(rec_ab, Record{b});
    if (!s.ok()) fail("Record mergeInto refused: " + s.toString());
    if (!(std::get<R>(rec_ab) == ab)) fail("Record mergeInto differs from the typed one");

    if (a.created == b.created && !(a == b)) ++ties_with_different_values;
  }
  // The generator must actually produce the hard cases, or the laws above prove little.
  CHECK(ties_with_different_values > iterations / 20);
}

constexpr int kDefaultIterations = 5'000;
constexpr int kSlowIterations = 200'000;

}  // namespace

TEST_CASE("merge laws hold for signals", "[property][merge]") {
  checkMergeLaws<Signal>(baseSeed(), kDefaultIterations);
}
TEST_CASE("merge laws hold for cases", "[property][merge]") {
  checkMergeLaws<Case>(baseSeed(), kDefaultIterations);
}
TEST_CASE("merge laws hold for contact moments", "[property][merge]") {
  checkMergeLaws<ContactMoment>(baseSeed(), kDefaultIterations);
}
TEST_CASE("merge laws hold for transitions", "[property][merge]") {
  checkMergeLaws<Transition>(baseSeed(), kDefaultIterations);
}

TEST_CASE("merge laws hold over 200,000 generated triples per record kind",
          "[property][merge][.slow]") {
  const std::uint64_t seed = baseSeed();
  checkMergeLaws<Signal>(seed, kSlowIterations);
  checkMergeLaws<Case>(seed, kSlowIterations);
  checkMergeLaws<ContactMoment>(seed, kSlowIterations);
  checkMergeLaws<Transition>(seed, kSlowIterations);
}

TEST_CASE("two workers who each add a category both keep theirs", "[property][merge]") {
  Case base;
  base.id = "0199a1b2-c3d4-7e5f-8a6b-000000000001";
  base.categories["overig"] = {true, {1, 1}};

  // Concurrent writes: the same HLC value on two devices, and different values.
  for (const auto& [va, vb] :
       {std::pair<Version, Version>{{5, 1}, {5, 2}}, std::pair<Version, Version>{{7, 2}, {6, 1}},
        std::pair<Version, Version>{{6, 1}, {7, 2}}}) {
    INFO("versions " << str(va) << " and " << str(vb));
    Case a = base;
    a.categories["schulden"] = {true, va};
    Case b = base;
    b.categories["overlast"] = {true, vb};
    b.categories["overig"] = {false, vb};  // b also removes one a did not touch

    for (const Case& m : {merged(a, b), merged(b, a)}) {
      CHECK(eropaf::presentElements(m.categories) ==
            std::vector<std::string>{"overlast", "schulden"});
      CHECK(m.categories.at("schulden").version == va);
      CHECK(m.categories.at("overlast").version == vb);
      // The removal survives as a tombstone, so a stale "present" cannot bring it back.
      CHECK_FALSE(m.categories.at("overig").present);
      CHECK(merged(m, base) == m);
    }
  }
}

TEST_CASE("mergeInto refuses states of different records and changes nothing",
          "[property][merge]") {
  Gen gen(baseSeed());
  const Case c = gen.kase();
  Case other = gen.kase();
  other.id = "0199a1b2-c3d4-7e5f-8a6b-0000000000ff";
  Record into{c};
  CHECK(eropaf::mergeInto(into, Record{other}).code() == eropaf::ErrorCode::kInvalidArgument);
  CHECK(std::get<Case>(into) == c);

  ContactMoment m;
  m.id = c.id;  // same id, different kind
  m.created = {9, 9};
  CHECK(eropaf::mergeInto(into, Record{m}).code() == eropaf::ErrorCode::kInvalidArgument);
  CHECK(std::get<Case>(into) == c);
}

// --- replicas exchanging append-only children --------------------------------------------------

namespace {

constexpr const char* kCaseId = "0199a1b2-c3d4-7e5f-8a6b-000000000001";

using Store = std::map<std::string, Record>;

void mergeRecord(Store& store, const Record& r) {
  auto [it, inserted] = store.try_emplace(eropaf::recordId(r), r);
  if (inserted) return;
  const eropaf::Status s = eropaf::mergeInto(it->second, r);
  if (!s.ok()) FAIL("merge refused: " << s.toString());
}

struct Replica {
  Replica(std::uint64_t n, std::int64_t start_ms) : node(n), clock(start_ms), hlc(clock) {}
  std::uint64_t node;
  eropaf::ManualClock clock;
  eropaf::Hlc hlc;
  Store store;
  int made = 0;

  Version tick() { return {hlc.tick(), node}; }
};

struct Message {
  std::size_t to;
  std::vector<Record> records;  // snapshots: stale by the time a retry delivers them
};

// The last write of every field, kept from the writes themselves (versions are unique: each
// comes from one node's HLC), to compare the converged replicas with.
struct Oracle {
  template <class T>
  struct Last {
    Version version;
    T value{};
    void write(const T& v, Version ver) {
      if (version < ver) {
        version = ver;
        value = v;
      }
    }
  };
  std::map<std::string, ContactMoment> moments;   // as created
  std::map<std::string, Transition> transitions;  // as created
  std::map<std::string, Last<bool>> deleted;      // per child id
  std::map<std::string, Last<eropaf::TransitionOutcome>> outcomes;
  Last<CaseState> state;
  Last<std::string> assignee;
  Last<std::string> title;
  std::map<std::string, Last<bool>> categories;
};

// One simulated run: `replicas` devices (plus their shared case), `steps` random actions.
void runReplicaScenario(std::uint64_t seed, int replicas_n, int steps) {
  INFO("scenario seed " << seed);
  Gen gen(seed);
  std::int64_t now = 1'790'000'000'000;
  std::vector<std::unique_ptr<Replica>> replicas;
  replicas.reserve(static_cast<std::size_t>(replicas_n));
  for (int i = 0; i < replicas_n; ++i) {
    replicas.push_back(std::make_unique<Replica>(static_cast<std::uint64_t>(i + 1),
                                                 now + static_cast<std::int64_t>(gen.index(2000))));
  }
  Oracle oracle;

  // Replica 0 opened the case; the others only know its id (a delta-only case until synced).
  {
    Case c;
    c.id = kCaseId;
    c.created = replicas[0]->tick();
    c.opened_by = "coord.a";
    c.opened_at_ms = now;
    c.state.set(CaseState::kNieuw, c.created);
    oracle.state.write(CaseState::kNieuw, c.created);
    replicas[0]->store.emplace(c.id, c);
  }

  std::vector<Message> pending;  // dropped (or duplicated) deliveries, retried later
  std::size_t delivered = 0;

  const auto deliver = [&](const Message& msg) {
    Replica& r = *replicas[msg.to];
    for (const Record& rec : msg.records) {
      const eropaf::Status s = r.hlc.receive(eropaf::maxVersion(rec).hlc);
      if (!s.ok()) FAIL("receive refused: " << s.toString());
      mergeRecord(r.store, rec);
    }
    ++delivered;
  };

  const auto caseDelta = [&](Replica& r) -> Case& {
    auto [it, inserted] = r.store.try_emplace(kCaseId, Case{});
    Case& c = std::get<Case>(it->second);
    c.id = kCaseId;
    return c;
  };

  const auto localWrite = [&](Replica& r) {
    const std::string who = "r" + std::to_string(r.node);
    switch (gen.index(7)) {
      case 0:
      case 1: {  // a contact moment at the door
        ContactMoment m;
        m.id = "moment-" + who + "-" + std::to_string(r.made++);
        m.created = r.tick();
        m.case_id = kCaseId;
        m.author_id = "wc." + who;
        m.at_ms = r.clock.nowMs();
        m.kind = eropaf::ContactKind::kHuisbezoek;
        m.outcome = gen.coin() ? eropaf::ContactOutcome::kNietThuis
                               : eropaf::ContactOutcome::kDeurNietGeopend;
        m.note = "bezoek " + m.id;
        oracle.moments.emplace(m.id, m);
        r.store.emplace(m.id, m);
        break;
      }
      case 2: {  // a transition made offline
        Transition t;
        t.id = "transition-" + who + "-" + std::to_string(r.made++);
        t.created = r.tick();
        t.case_id = kCaseId;
        t.from = CaseState::kInBehandeling;
        t.to = gen.coin() ? CaseState::kWacht : CaseState::kNazorg;
        t.actor_id = "wc." + who;
        t.actor_role = eropaf::Role::kWijkcoach;
        t.at_ms = r.clock.nowMs();
        t.reason = "reden van " + who;
        t.made_offline = true;
        t.outcome.set(eropaf::TransitionOutcome::kPending, t.created);
        oracle.transitions.emplace(t.id, t);
        oracle.outcomes[t.id].write(eropaf::TransitionOutcome::kPending, t.created);
        r.store.emplace(t.id, t);
        break;
      }
      case 3: {  // edit the case: state, assignee or title
        Case& c = caseDelta(r);
        const Version v = r.tick();
        switch (gen.index(3)) {
          case 0: {
            const CaseState s = gen.pick(std::vector<CaseState>{
                CaseState::kToegewezen, CaseState::kInBehandeling, CaseState::kWacht});
            c.state.set(s, v);
            oracle.state.write(s, v);
            break;
          }
          case 1:
            c.assignee.set("wc." + who, v);
            oracle.assignee.write("wc." + who, v);
            break;
          default:
            c.title.set("titel van " + who, v);
            oracle.title.write("titel van " + who, v);
            break;
        }
        break;
      }
      case 4: {  // add or remove a category
        Case& c = caseDelta(r);
        const std::string code =
            gen.pick(std::vector<std::string>{"schulden", "overlast", "vereenzaming", who});
        const bool present = gen.coin(0.7);
        const Version v = r.tick();
        c.categories[code] = SetEntry{present, v};
        oracle.categories[code].write(present, v);
        break;
      }
      default: {  // tombstone a child, or (as the server) decide a transition's outcome
        std::vector<std::string> children;
        for (const auto& [id, rec] : r.store) {
          if (id != kCaseId) children.push_back(id);
        }
        if (children.empty()) break;
        const std::string id = gen.pick(children);
        const Version v = r.tick();
        Record& rec = r.store.at(id);
        if (auto* t = std::get_if<Transition>(&rec); t != nullptr && gen.coin()) {
          const auto o = gen.coin() ? eropaf::TransitionOutcome::kApplied
                                    : eropaf::TransitionOutcome::kConflict;
          t->outcome.set(o, v);
          oracle.outcomes[id].write(o, v);
        } else {
          std::visit([&](auto& x) { x.deleted.set(true, v); }, rec);
          oracle.deleted[id].write(true, v);
        }
        break;
      }
    }
  };

  const auto snapshot = [&](std::size_t from, std::size_t to, bool whole) {
    Message msg{to, {}};
    for (const auto& [id, rec] : replicas[from]->store) {
      if (whole || gen.coin(0.6)) msg.records.push_back(rec);
    }
    std::shuffle(msg.records.begin(), msg.records.end(), gen.rng());
    return msg;
  };

  for (int step = 0; step < steps; ++step) {
    now += static_cast<std::int64_t>(gen.index(3));  // often the same millisecond
    for (auto& r : replicas) {
      if (gen.coin(0.8)) r->clock.set(now + static_cast<std::int64_t>(gen.index(2000)) - 1000);
    }
    const std::size_t action = gen.index(10);
    if (action < 5) {
      localWrite(*replicas[gen.index(replicas.size())]);
    } else if (action < 9) {
      const std::size_t from = gen.index(replicas.size());
      const std::size_t to = (from + 1 + gen.index(replicas.size() - 1)) % replicas.size();
      const Message msg = snapshot(from, to, gen.coin(0.3));
      const std::size_t fate = gen.index(4);
      if (fate == 0) {
        pending.push_back(msg);  // lost now, retried later
      } else {
        deliver(msg);
        if (fate == 1) pending.push_back(msg);  // delivered, and again later
      }
    } else if (!pending.empty()) {
      const std::size_t i = gen.index(pending.size());
      deliver(pending[i]);
      if (gen.coin(0.7)) pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  // Every retry eventually gets through, in random order, some twice.
  std::shuffle(pending.begin(), pending.end(), gen.rng());
  for (const Message& msg : pending) {
    deliver(msg);
    if (gen.coin(0.2)) deliver(msg);
  }
  // Then each replica syncs its whole state to every other, in random order.
  std::vector<std::pair<std::size_t, std::size_t>> links;
  for (std::size_t f = 0; f < replicas.size(); ++f) {
    for (std::size_t t = 0; t < replicas.size(); ++t) {
      if (f != t) links.emplace_back(f, t);
    }
  }
  std::shuffle(links.begin(), links.end(), gen.rng());
  for (const auto& [f, t] : links) deliver(snapshot(f, t, true));

  // Every replica is identical...
  for (std::size_t i = 1; i < replicas.size(); ++i) {
    const Store& first = replicas[0]->store;
    const Store& other = replicas[i]->store;
    if (first.size() != other.size()) {
      FAIL("replica " << i + 1 << " holds " << other.size() << " records, replica 1 holds "
                      << first.size());
    }
    for (const auto& [id, rec] : first) {
      const auto it = other.find(id);
      if (it == other.end()) FAIL("replica " << i + 1 << " lacks " << describe(rec));
      if (!(it->second == rec)) {
        FAIL("replicas 1 and " << i + 1 << " differ:\n  " << describe(rec) << "\n  "
                               << describe(it->second));
      }
    }
  }
  // ...and holds every moment and transition ever created, content intact, with the last
  // write of every field.
  const Store& store = replicas[0]->store;
  const std::size_t children = oracle.moments.size() + oracle.transitions.size();
  if (store.size() != children + 1) {
    FAIL("replicas hold " << store.size() << " records; " << children + 1 << " were created");
  }
  const auto lastDeleted = [&](const std::string& id) {
    const auto it = oracle.deleted.find(id);
    return it == oracle.deleted.end() ? Lww<bool>{} : Lww<bool>{true, it->second.version};
  };
  for (const auto& [id, created] : oracle.moments) {
    const auto it = store.find(id);
    if (it == store.end()) FAIL("moment lost: " << describe(created));
    ContactMoment expected = created;
    expected.deleted = lastDeleted(id);
    if (!(std::get<ContactMoment>(it->second) == expected)) {
      FAIL("moment changed:\n  expected " << describe(expected) << "\n  found    "
                                          << describe(it->second));
    }
  }
  for (const auto& [id, created] : oracle.transitions) {
    const auto it = store.find(id);
    if (it == store.end()) FAIL("transition lost: " << describe(created));
    Transition expected = created;
    expected.deleted = lastDeleted(id);
    expected.outcome = {oracle.outcomes.at(id).value, oracle.outcomes.at(id).version};
    if (!(std::get<Transition>(it->second) == expected)) {
      FAIL("transition changed:\n  expected " << describe(expected) << "\n  found    "
                                              << describe(it->second));
    }
  }
  const Case& c = std::get<Case>(store.at(kCaseId));
  INFO(describe(c));
  CHECK(c.opened_by == "coord.a");
  CHECK(c.state.value == oracle.state.value);
  CHECK(c.state.version == oracle.state.version);
  CHECK(c.assignee.value == oracle.assignee.value);
  CHECK(c.assignee.version == oracle.assignee.version);
  CHECK(c.title.value == oracle.title.value);
  CHECK(c.title.version == oracle.title.version);
  REQUIRE(c.categories.size() == oracle.categories.size());
  for (const auto& [code, last] : oracle.categories) {
    INFO(code);
    CHECK(c.categories.at(code) == SetEntry{last.value, last.version});
  }
  // The run exercised what it claims to.
  CHECK(delivered > static_cast<std::size_t>(steps) / 3);
}

}  // namespace

TEST_CASE("replicas exchanging stale, repeated and late states converge and lose no moment",
          "[property][merge]") {
  const std::uint64_t seed = baseSeed();
  INFO("seed " << seed << " (rerun with --rng-seed " << seed << ")");
  std::mt19937_64 seeds(seed);
  for (int scenario = 0; scenario < 60; ++scenario) {
    const int replicas = 2 + scenario % 4;
    runReplicaScenario(seeds(), replicas, 150);
  }
}

TEST_CASE("replicas converge over many long scenarios", "[property][merge][.slow]") {
  const std::uint64_t seed = baseSeed();
  INFO("seed " << seed << " (rerun with --rng-seed " << seed << ")");
  std::mt19937_64 seeds(seed);
  for (int scenario = 0; scenario < 2'000; ++scenario) {
    runReplicaScenario(seeds(), 2 + scenario % 6, 600);
  }
}
