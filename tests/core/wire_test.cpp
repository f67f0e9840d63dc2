// Proves that a record survives the wire: encodeRecord/decodeRecord give back exactly the record
// of each kind with every field set (and a delta with only some fields), that bytes which are
// not an eropaf.v1.Record, a Record without a kind, and enum numbers this build does not know
// are refused with kDecodeError instead of being guessed, and that the model's enum numbers
// mean the same as records.proto's.
#include "eropaf/wire.hpp"

#include <catch2/catch.hpp>
#include <cctype>
#include <string>

#include "core/sample_records.hpp"
#include "eropaf/v1/records.pb.h"
#include "wire/wire_mapping.hpp"

using eropaf::ErrorCode;

namespace {

template <class R>
R roundTrip(const R& in) {
  const std::string bytes = eropaf::encodeRecord(eropaf::Record(in));
  eropaf::Result<eropaf::Record> out = eropaf::decodeRecord(bytes);
  INFO(out.status().toString());
  REQUIRE(out.ok());
  REQUIRE(std::holds_alternative<R>(*out));
  return std::get<R>(*out);
}

eropaf::Status decodeMessage(const eropaf::v1::Record& msg) {
  return eropaf::decodeRecord(msg.SerializeAsString()).status();
}

}  // namespace

TEST_CASE("every record kind round-trips with every field set", "[unit][wire]") {
  using namespace eropaf::test;
  const eropaf::Signal s = sampleSignal();
  CHECK(roundTrip(s) == s);
  const eropaf::Case c = sampleCase();
  CHECK(roundTrip(c) == c);
  const eropaf::ContactMoment m = sampleMoment();
  CHECK(roundTrip(m) == m);
  const eropaf::Transition t = sampleTransition();
  CHECK(roundTrip(t) == t);
}

TEST_CASE("extreme values round-trip", "[unit][wire]") {
  using namespace eropaf::test;
  eropaf::Case c = sampleCase();
  c.created = {~std::uint64_t{0}, ~std::uint64_t{0}};
  c.opened_at_ms = INT64_MAX;
  c.first_contact_due_ms.set(INT64_MIN, {1, 0});
  c.title.set(std::string("met\0nul", 7), {0, 1});  // a version with only a node is still set
  c.state.set(eropaf::CaseState::kHeropend, {2, 2});
  c.priority.set(eropaf::Priority::kLaag, {3, 3});
  c.conflict.set(false, {4, 4});  // false with a version is a value, not "unset"
  c.categories.clear();
  for (int i = 0; i < 40; ++i) {
    c.categories["cat_" + std::to_string(i)] = {i % 2 == 0, {static_cast<std::uint64_t>(i + 1), 7}};
  }
  CHECK(roundTrip(c) == c);

  eropaf::Signal s = sampleSignal();
  s.content.text = "\xF0\x9F\x98\x80 emoji, \xE2\x82\xAC, en een \xC3\xA9";
  s.content.categories = {"b", "a", "b"};  // order and repeats are the sender's, kept as sent
  s.content.urgency = eropaf::Urgency::kAcuut;
  s.content.informed = eropaf::Informed::kNoRisk;
  s.triage_state.set(eropaf::TriageState::kAfgewezen, {9, 9});
  CHECK(roundTrip(s) == s);

  eropaf::Transition t = sampleTransition();
  t.from = eropaf::CaseState::kGeannuleerd;
  t.to = eropaf::CaseState::kHeropend;
  t.actor_role = eropaf::Role::kCoordinator;
  t.made_offline = false;
  t.outcome.set(eropaf::TransitionOutcome::kResolved, {5, 5});
  CHECK(roundTrip(t) == t);
}

TEST_CASE("deltas round-trip with the fields they leave alone still unset", "[unit][wire]") {
  using namespace eropaf::test;
  eropaf::Signal s;
  s.id = sampleSignal().id;
  s.triage_state.set(eropaf::TriageState::kGekoppeld, sampleVersion(7));
  const eropaf::Signal back = roundTrip(s);
  CHECK(back == s);
  CHECK(back.created.isZero());
  CHECK_FALSE(back.case_id.isSet());

  eropaf::Case c;
  c.id = sampleCase().id;
  c.categories["overlast"] = {true, sampleVersion(8)};
  CHECK(roundTrip(c) == c);

  eropaf::ContactMoment m;
  m.id = sampleMoment().id;
  m.deleted.set(true, sampleVersion(9));
  CHECK(roundTrip(m) == m);

  eropaf::Transition t;
  t.id = sampleTransition().id;
  t.outcome.set(eropaf::TransitionOutcome::kConflict, sampleVersion(10));
  CHECK(roundTrip(t) == t);
}

TEST_CASE("bytes that are not a Record are a decode error", "[unit][wire]") {
  SECTION("garbage") {
    for (const std::string& garbage :
         {std::string("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 11),  // endless varint tag
          std::string("\x0A\x10short", 7),  // field 1 claims 16 bytes, has 5
          std::string("\x0F", 1),           // wire type 7 does not exist
          std::string("\x00", 1),           // field number 0
          std::string("\x0C", 1),           // a group end without its start
          std::string("GET / HTTP/1.1\r\n\r\n")}) {
      INFO("bytes of size " << garbage.size());
      const eropaf::Result<eropaf::Record> r = eropaf::decodeRecord(garbage);
      CHECK(r.status().code() == ErrorCode::kDecodeError);
    }
  }
  SECTION("an empty Record has no kind") {
    CHECK(eropaf::decodeRecord("").status().code() == ErrorCode::kDecodeError);
    // A Record carrying only a field this build does not know (a future kind) has no kind
    // either: refused, not taken for some other record.
    CHECK(eropaf::decodeRecord(std::string("\x2A\x00", 2)).status().code() ==
          ErrorCode::kDecodeError);
  }
  SECTION("a truncated encoding") {
    const std::string bytes = eropaf::encodeRecord(eropaf::test::sampleCase());
    for (std::size_t cut = 1; cut < bytes.size(); cut += 7) {
      INFO("cut at " << cut << " of " << bytes.size());
      CHECK_FALSE(eropaf::decodeRecord(std::string_view(bytes).substr(0, cut)).ok());
    }
  }
}

TEST_CASE("unknown enum numbers are a decode error naming the field", "[unit][wire]") {
  namespace v1 = eropaf::v1;
  v1::Record signal;
  signal.mutable_signal()->set_id(eropaf::test::sampleSignal().id);
  signal.mutable_signal()->mutable_created()->set_hlc(1);
  v1::Record kase;
  kase.mutable_case_()->set_id(eropaf::test::sampleCase().id);
  v1::Record moment;
  moment.mutable_contact_moment()->set_id(eropaf::test::sampleMoment().id);
  moment.mutable_contact_moment()->mutable_created()->set_hlc(1);
  v1::Record transition;
  transition.mutable_transition()->set_id(eropaf::test::sampleTransition().id);
  transition.mutable_transition()->mutable_created()->set_hlc(1);
  for (const v1::Record* base : {&signal, &kase, &moment, &transition}) {
    REQUIRE(decodeMessage(*base).ok());
  }

  struct Field {
    const char* name;
    const v1::Record* base;
    int first_unknown;  // one past the last value records.proto defines
    void (*set)(v1::Record&, int);
  };
  const Field fields[] = {
      {"content.source_role", &signal, 5,
       [](v1::Record& r, int n) {
         r.mutable_signal()->mutable_content()->set_source_role(static_cast<v1::SourceRole>(n));
       }},
      {"content.urgency", &signal, 5,
       [](v1::Record& r, int n) {
         r.mutable_signal()->mutable_content()->set_urgency(static_cast<v1::Urgency>(n));
       }},
      {"content.informed", &signal, 4,
       [](v1::Record& r, int n) {
         r.mutable_signal()->mutable_content()->set_informed(static_cast<v1::Informed>(n));
       }},
      {"triage_state", &signal, 5,
       [](v1::Record& r, int n) { r.mutable_signal()->mutable_triage_state()->set_value(n); }},
      {"state", &kase, 11,
       [](v1::Record& r, int n) { r.mutable_case_()->mutable_state()->set_value(n); }},
      {"priority", &kase, 5,
       [](v1::Record& r, int n) { r.mutable_case_()->mutable_priority()->set_value(n); }},
      {"kind", &moment, 5,
       [](v1::Record& r, int n) {
         r.mutable_contact_moment()->set_kind(static_cast<v1::ContactKind>(n));
       }},
      {"outcome", &moment, 6,
       [](v1::Record& r, int n) {
         r.mutable_contact_moment()->set_outcome(static_cast<v1::ContactOutcome>(n));
       }},
      {"from", &transition, 11,
       [](v1::Record& r, int n) {
         r.mutable_transition()->set_from(static_cast<v1::CaseState>(n));
       }},
      {"to", &transition, 11,
       [](v1::Record& r, int n) { r.mutable_transition()->set_to(static_cast<v1::CaseState>(n)); }},
      {"actor_role", &transition, 5,
       [](v1::Record& r, int n) {
         r.mutable_transition()->set_actor_role(static_cast<v1::SourceRole>(n));
       }},
      {"outcome", &transition, 5,
       [](v1::Record& r, int n) { r.mutable_transition()->mutable_outcome()->set_value(n); }},
  };
  for (const Field& f : fields) {
    // The last known value decodes...
    v1::Record known = *f.base;
    f.set(known, f.first_unknown - 1);
    INFO(f.name);
    CHECK(decodeMessage(known).ok());
    // ...and anything past it, or negative, is refused and named.
    for (const int bad : {f.first_unknown, f.first_unknown + 1, 1000, -1, INT32_MIN}) {
      INFO(f.name << " = " << bad);
      v1::Record m = *f.base;
      f.set(m, bad);
      const eropaf::Status s = decodeMessage(m);
      CHECK(s.code() == ErrorCode::kDecodeError);
      CHECK(s.field() == f.name);
    }
  }
}

namespace {

std::string upper(std::string_view s) {
  std::string out;
  for (const char c : s)
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

// Every proto value <PREFIX>_<NAME> = n, apart from UNSPECIFIED, is the model value n, named
// toString(n) in upper case.
template <class E>
void expectSameEnum(const google::protobuf::EnumDescriptor* d, const std::string& prefix,
                    int count) {
  INFO(d->full_name());
  CHECK(d->value_count() == count + 1);
  for (int i = 0; i < d->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = d->value(i);
    INFO(v->name());
    if (v->number() == 0) {
      CHECK(v->name() == prefix + "UNSPECIFIED");
      continue;
    }
    CHECK(v->name() == prefix + upper(eropaf::toString(static_cast<E>(v->number()))));
  }
}

}  // namespace

TEST_CASE("model enums mean the same numbers as records.proto", "[unit][wire]") {
  namespace v1 = eropaf::v1;
  expectSameEnum<eropaf::Role>(v1::SourceRole_descriptor(), "SOURCE_ROLE_", 4);
  expectSameEnum<eropaf::Urgency>(v1::Urgency_descriptor(), "URGENCY_", 4);
  expectSameEnum<eropaf::TriageState>(v1::TriageState_descriptor(), "TRIAGE_STATE_", 4);
  expectSameEnum<eropaf::CaseState>(v1::CaseState_descriptor(), "CASE_STATE_", 10);
  expectSameEnum<eropaf::Priority>(v1::Priority_descriptor(), "PRIORITY_", 4);
  expectSameEnum<eropaf::ContactKind>(v1::ContactKind_descriptor(), "CONTACT_KIND_", 4);
  expectSameEnum<eropaf::ContactOutcome>(v1::ContactOutcome_descriptor(), "CONTACT_OUTCOME_", 5);
  expectSameEnum<eropaf::TransitionOutcome>(v1::TransitionOutcome_descriptor(),
                                            "TRANSITION_OUTCOME_", 4);
  // Informed's CLI names are short ("later", "risk"); check its numbers directly.
  CHECK(v1::INFORMED_YES == static_cast<int>(eropaf::Informed::kYes));
  CHECK(v1::INFORMED_NO_LATER == static_cast<int>(eropaf::Informed::kNoLater));
  CHECK(v1::INFORMED_NO_RISK == static_cast<int>(eropaf::Informed::kNoRisk));
  CHECK(v1::Informed_descriptor()->value_count() == 4);
}

TEST_CASE("wire: a closing transition's resolution code and a category's norms round-trip",
          "[unit][wire]") {
  eropaf::Transition t = eropaf::test::sampleTransition();
  t.from = eropaf::CaseState::kContactZoeken;
  t.to = eropaf::CaseState::kAfgesloten;
  t.resolution_code = "geen_contact_mogelijk";
  CHECK(roundTrip(t) == t);
  CHECK(roundTrip(t).resolution_code == "geen_contact_mogelijk");

  for (const eropaf::Category& c : eropaf::defaultCategories()) {
    INFO(c.code);
    eropaf::v1::Category msg;
    eropaf::wire::toProto(c, msg);
    // Through bytes, as a device receives it.
    eropaf::v1::Category parsed;
    REQUIRE(parsed.ParseFromString(msg.SerializeAsString()));
    eropaf::Result<eropaf::Category> back = eropaf::wire::fromProto(parsed);
    REQUIRE(back.ok());
    CHECK(back->code == c.code);
    CHECK(back->label == c.label);
    CHECK(back->default_priority == c.default_priority);
    CHECK(back->first_contact_days == c.first_contact_days);
    CHECK(back->sensitive == c.sensitive);
    CHECK(back->first_gesprek_days == c.first_gesprek_days);
    CHECK(back->working_days == c.working_days);
    CHECK(back->min_attempts == c.min_attempts);
  }
  // A category from a peer that predates the norms: the model's defaults, not zeros.
  eropaf::v1::Category old;
  old.set_code("schulden");
  old.set_label("Schulden");
  old.set_default_priority(eropaf::v1::PRIORITY_NORMAAL);
  old.set_first_contact_days(10);
  eropaf::Result<eropaf::Category> legacy = eropaf::wire::fromProto(old);
  REQUIRE(legacy.ok());
  CHECK(legacy->first_gesprek_days == 28);
  CHECK_FALSE(legacy->working_days);
  CHECK(legacy->min_attempts == eropaf::kDefaultMinAttempts);
  // Explicit zeros and false are values, kept as sent.
  eropaf::v1::Category zero = old;
  zero.set_first_gesprek_days(0);
  zero.set_working_days(false);
  zero.set_min_attempts(1);
  eropaf::Result<eropaf::Category> z = eropaf::wire::fromProto(zero);
  REQUIRE(z.ok());
  CHECK(z->first_gesprek_days == 0);
  CHECK(z->min_attempts == 1);
  // Out-of-range norms are refused naming the field.
  eropaf::v1::Category bad = old;
  bad.set_min_attempts(0);
  CHECK(eropaf::wire::fromProto(bad).status().field() == "min_attempts");
  bad = old;
  bad.set_first_gesprek_days(-1);
  CHECK(eropaf::wire::fromProto(bad).status().field() == "first_gesprek_days");
  bad = old;
  bad.set_first_contact_days(1000);
  CHECK(eropaf::wire::fromProto(bad).status().code() == ErrorCode::kInvalidArgument);
}
