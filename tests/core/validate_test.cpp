// Proves the input checks every byte from outside goes through (device store, server,
// bindings): UTF-8 is well-formed (no overlongs, surrogates, code points past U+10FFFF or cut
// sequences), texts stay within their byte limits and required ones are not blank, Dutch
// addresses and category codes are what they claim, and validateRecord refuses a record of any
// kind with one bad field, naming that field, while accepting the complete sample record.
#include "eropaf/validate.hpp"

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample_records.hpp"

using eropaf::ErrorCode;

namespace {

std::string_view bytes(const char* s, std::size_t n) { return {s, n}; }

}  // namespace

TEST_CASE("isValidUtf8 accepts well-formed text", "[unit][validate]") {
  CHECK(eropaf::isValidUtf8(""));
  CHECK(eropaf::isValidUtf8("Dorpsstraat 12"));
  CHECK(eropaf::isValidUtf8(bytes("a\0b", 3)));               // NUL is a code point
  CHECK(eropaf::isValidUtf8("\x7F"));                         // U+007F, last 1-byte
  CHECK(eropaf::isValidUtf8("\xC2\x80"));                     // U+0080, first 2-byte
  CHECK(eropaf::isValidUtf8("caf\xC3\xA9"));                  // é
  CHECK(eropaf::isValidUtf8("\xDF\xBF"));                     // U+07FF
  CHECK(eropaf::isValidUtf8("\xE0\xA0\x80"));                 // U+0800, first 3-byte
  CHECK(eropaf::isValidUtf8("\xE2\x82\xAC"));                 // €
  CHECK(eropaf::isValidUtf8("\xED\x9F\xBF"));                 // U+D7FF, just below surrogates
  CHECK(eropaf::isValidUtf8("\xEE\x80\x80"));                 // U+E000, just above surrogates
  CHECK(eropaf::isValidUtf8("\xEF\xBF\xBF"));                 // U+FFFF
  CHECK(eropaf::isValidUtf8("\xF0\x90\x80\x80"));             // U+10000, first 4-byte
  CHECK(eropaf::isValidUtf8("\xF0\x9F\x98\x80"));             // 😀
  CHECK(eropaf::isValidUtf8("hulp \xF0\x9F\x8F\xA0 nodig"));  // 🏠 between ASCII
  CHECK(eropaf::isValidUtf8("\xF4\x8F\xBF\xBF"));             // U+10FFFF, the last code point
}

TEST_CASE("isValidUtf8 refuses malformed text", "[unit][validate]") {
  SECTION("overlong encodings") {
    CHECK_FALSE(eropaf::isValidUtf8("\xC0\x80"));  // NUL in two bytes
    CHECK_FALSE(eropaf::isValidUtf8("\xC0\xAF"));  // '/' in two bytes
    CHECK_FALSE(eropaf::isValidUtf8("\xC1\xBF"));
    CHECK_FALSE(eropaf::isValidUtf8("\xE0\x80\xAF"));      // '/' in three bytes
    CHECK_FALSE(eropaf::isValidUtf8("\xE0\x9F\xBF"));      // U+07FF in three bytes
    CHECK_FALSE(eropaf::isValidUtf8("\xF0\x80\x80\xAF"));  // '/' in four bytes
    CHECK_FALSE(eropaf::isValidUtf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in four bytes
  }
  SECTION("UTF-16 surrogates") {
    CHECK_FALSE(eropaf::isValidUtf8("\xED\xA0\x80"));              // U+D800
    CHECK_FALSE(eropaf::isValidUtf8("\xED\xAF\xBF"));              // U+DBFF
    CHECK_FALSE(eropaf::isValidUtf8("\xED\xB0\x80"));              // U+DC00
    CHECK_FALSE(eropaf::isValidUtf8("\xED\xBF\xBF"));              // U+DFFF
    CHECK_FALSE(eropaf::isValidUtf8("\xED\xA0\xBD\xED\xB8\x80"));  // CESU-8 pair for 😀
  }
  SECTION("beyond U+10FFFF") {
    CHECK_FALSE(eropaf::isValidUtf8("\xF4\x90\x80\x80"));  // U+110000
    CHECK_FALSE(eropaf::isValidUtf8("\xF5\x80\x80\x80"));
    CHECK_FALSE(eropaf::isValidUtf8("\xF7\xBF\xBF\xBF"));
    CHECK_FALSE(eropaf::isValidUtf8("\xF8\x88\x80\x80\x80"));      // old 5-byte form
    CHECK_FALSE(eropaf::isValidUtf8("\xFC\x84\x80\x80\x80\x80"));  // old 6-byte form
    CHECK_FALSE(eropaf::isValidUtf8("\xFE"));
    CHECK_FALSE(eropaf::isValidUtf8("\xFF"));
  }
  SECTION("truncated sequences") {
    CHECK_FALSE(eropaf::isValidUtf8("\xC3"));
    CHECK_FALSE(eropaf::isValidUtf8("\xE2\x82"));
    CHECK_FALSE(eropaf::isValidUtf8("\xF0\x9F\x98"));
    CHECK_FALSE(eropaf::isValidUtf8("emoji aan het eind \xF0\x9F\x98"));
    CHECK_FALSE(eropaf::isValidUtf8("\xF0\x9F\x98 en verder"));  // cut in the middle
    CHECK_FALSE(eropaf::isValidUtf8("\xE2\x28\xA1"));            // second byte not continuation
    CHECK_FALSE(eropaf::isValidUtf8(bytes("\xC3\0", 2)));
  }
  SECTION("stray continuation bytes") {
    CHECK_FALSE(eropaf::isValidUtf8("\x80"));
    CHECK_FALSE(eropaf::isValidUtf8("\xBF"));
    CHECK_FALSE(eropaf::isValidUtf8("caf\xC3\xA9\xA9"));
    CHECK_FALSE(eropaf::isValidUtf8("caf\xE9"));  // Latin-1 é
  }
}

TEST_CASE("checkText enforces the byte limit, exactly", "[unit][validate]") {
  const std::size_t limit = eropaf::kMaxSignalTextBytes;
  CHECK(eropaf::checkText("text", std::string(limit, 'a'), limit, true).ok());

  const eropaf::Status over = eropaf::checkText("text", std::string(limit + 1, 'a'), limit, true);
  CHECK(over.code() == ErrorCode::kTextTooLong);
  CHECK(over.field() == "text");
  CHECK_THAT(over.message(), Catch::Contains("text"));

  // The limit is in bytes, not characters: 2000 é's are 4000 bytes.
  std::string accents;
  for (std::size_t i = 0; i < limit / 2; ++i) accents += "\xC3\xA9";
  CHECK(eropaf::checkText("text", accents, limit, true).ok());
  CHECK(eropaf::checkText("text", accents + "a", limit, true).code() == ErrorCode::kTextTooLong);
  // An emoji that would cross the limit is refused whole.
  CHECK(eropaf::checkText("text", std::string(limit - 1, 'a') + "\xF0\x9F\x98\x80", limit, true)
            .code() == ErrorCode::kTextTooLong);

  // Each documented limit, at and one over, for the field names the records use.
  struct Limit {
    const char* field;
    std::size_t max;
  };
  for (const Limit l :
       {Limit{"note", eropaf::kMaxNoteBytes}, Limit{"reason", eropaf::kMaxReasonBytes},
        Limit{"title", eropaf::kMaxTitleBytes}, Limit{"address.street", eropaf::kMaxShortBytes}}) {
    INFO(l.field);
    CHECK(eropaf::checkText(l.field, std::string(l.max, 'x'), l.max, false).ok());
    const eropaf::Status s = eropaf::checkText(l.field, std::string(l.max + 1, 'x'), l.max, false);
    CHECK(s.code() == ErrorCode::kTextTooLong);
    CHECK(s.field() == l.field);
  }
}

TEST_CASE("checkText: required means not blank, invalid UTF-8 is refused", "[unit][validate]") {
  for (const char* blank : {"", " ", "   ", "\t", "\n", " \r\n\t "}) {
    INFO("'" << blank << "'");
    const eropaf::Status s = eropaf::checkText("content.text", blank, 100, true);
    CHECK(s.code() == ErrorCode::kRequiredFieldMissing);
    CHECK(s.field() == "content.text");
    CHECK(eropaf::checkText("content.text", blank, 100, false).ok());
  }
  CHECK(eropaf::checkText("content.text", " a ", 100, true).ok());

  const eropaf::Status bad = eropaf::checkText("note", "caf\xE9", 100, false);
  CHECK(bad.code() == ErrorCode::kInvalidUtf8);
  CHECK(bad.field() == "note");
  CHECK(eropaf::checkText("note", "\xED\xA0\x80", 100, true).code() == ErrorCode::kInvalidUtf8);
}

TEST_CASE("checkAddress accepts Dutch addresses", "[unit][validate]") {
  eropaf::Address a = eropaf::test::sampleAddress();
  CHECK(eropaf::checkAddress("address", a).ok());

  // Documented in validate.cpp: "1234AB" or "1234 AB", letters in either case.
  for (const char* pc : {"1234AB", "1234 AB", "1234ab", "1234 ab", "9999ZZ", "1000AA"}) {
    INFO(pc);
    a.postcode = pc;
    CHECK(eropaf::checkAddress("address", a).ok());
  }
  a = eropaf::test::sampleAddress();
  for (const char* nr : {"1", "12", "99999"}) {
    INFO(nr);
    a.house_number = nr;
    CHECK(eropaf::checkAddress("address", a).ok());
  }
  a = eropaf::test::sampleAddress();
  for (const char* add : {"", "A", "bis", "2hg", "III", "1-2"}) {
    INFO(add);
    a.addition = add;
    CHECK(eropaf::checkAddress("address", a).ok());
  }
  a = eropaf::test::sampleAddress();
  a.street.clear();
  a.city.clear();
  CHECK(eropaf::checkAddress("address", a).ok());  // street and city are optional
  a.street =
      "Cort van der Lindenstra\xC3\x9F"
      "e";
  CHECK(eropaf::checkAddress("address", a).ok());
}

TEST_CASE("checkAddress refuses bad addresses and names the part", "[unit][validate]") {
  const eropaf::Address good = eropaf::test::sampleAddress();

  SECTION("missing postcode") {
    eropaf::Address a = good;
    a.postcode.clear();
    const eropaf::Status s = eropaf::checkAddress("address", a);
    CHECK(s.code() == ErrorCode::kRequiredFieldMissing);
    CHECK(s.field() == "address.postcode");
  }
  SECTION("malformed postcodes") {
    for (const char* pc : {"0123AB", "123AB", "12345AB", "1234A", "1234ABC", "1234  AB", "AB1234",
                           "1234-AB", " 1234AB", "1234AB ", "12 34AB", "1234A1", "ABCDEF",
                           // One literal in two parts: the hex escape ends before the B.
                           "1234\xC3\x84"  // NOLINT(bugprone-suspicious-missing-comma)
                           "B",
                           "1234\tAB"}) {
      INFO("'" << pc << "'");
      eropaf::Address a = good;
      a.postcode = pc;
      const eropaf::Status s = eropaf::checkAddress("address", a);
      CHECK(s.code() == ErrorCode::kInvalidArgument);
      CHECK(s.field() == "address.postcode");
    }
  }
  SECTION("house number") {
    eropaf::Address a = good;
    a.house_number.clear();
    eropaf::Status s = eropaf::checkAddress("address", a);
    CHECK(s.code() == ErrorCode::kRequiredFieldMissing);
    CHECK(s.field() == "address.house_number");
    for (const char* nr : {"0", "012", "123456", "12a", "12 ", "-1", "1.5", "twaalf"}) {
      INFO("'" << nr << "'");
      a.house_number = nr;
      s = eropaf::checkAddress("address", a);
      CHECK(s.code() == ErrorCode::kInvalidArgument);
      CHECK(s.field() == "address.house_number");
    }
  }
  SECTION("addition") {
    eropaf::Address a = good;
    for (const char* add : {"<script>", "a/b", "12345678901", "\xC3\xA9"}) {
      INFO("'" << add << "'");
      a.addition = add;
      const eropaf::Status s = eropaf::checkAddress("address", a);
      CHECK(s.code() == ErrorCode::kInvalidArgument);
      CHECK(s.field() == "address.addition");
    }
  }
  SECTION("street and city") {
    eropaf::Address a = good;
    a.street = std::string(eropaf::kMaxShortBytes + 1, 's');
    eropaf::Status s = eropaf::checkAddress("content.address", a);
    CHECK(s.code() == ErrorCode::kTextTooLong);
    CHECK(s.field() == "content.address.street");
    a = good;
    a.city = "Utr\xC3";
    s = eropaf::checkAddress("content.address", a);
    CHECK(s.code() == ErrorCode::kInvalidUtf8);
    CHECK(s.field() == "content.address.city");
  }
}

TEST_CASE("checkCategories checks codes against the known ones", "[unit][validate]") {
  const auto& known = eropaf::defaultCategories();
  using Codes = std::vector<std::string>;

  CHECK(eropaf::checkCategories("categories", Codes{"schulden"}, known, true).ok());
  CHECK(eropaf::checkCategories("categories", Codes{"schulden", "overlast"}, known, true).ok());

  SECTION("empty when required") {
    const eropaf::Status s = eropaf::checkCategories("categories", Codes{}, known, true);
    CHECK(s.code() == ErrorCode::kRequiredFieldMissing);
    CHECK(s.field() == "categories");
    CHECK(eropaf::checkCategories("categories", Codes{}, known, false).ok());
  }
  SECTION("unknown code, named in the message") {
    for (const Codes& codes : {Codes{"bestaat_niet"}, Codes{"schulden", "bestaat_niet"}}) {
      const eropaf::Status s = eropaf::checkCategories("content.categories", codes, known, true);
      CHECK(s.code() == ErrorCode::kUnknownCategory);
      CHECK(s.field() == "content.categories");
      CHECK_THAT(s.message(), Catch::Contains("bestaat_niet"));
    }
    // Codes are exact: no case folding, no trimming.
    CHECK(eropaf::checkCategories("c", Codes{"Schulden"}, known, true).code() ==
          ErrorCode::kUnknownCategory);
    CHECK(eropaf::checkCategories("c", Codes{"schulden "}, known, true).code() ==
          ErrorCode::kUnknownCategory);
    CHECK(eropaf::checkCategories("c", Codes{""}, known, true).code() ==
          ErrorCode::kUnknownCategory);
    // Nothing is known when the reference data is empty.
    CHECK(eropaf::checkCategories("c", Codes{"schulden"}, {}, true).code() ==
          ErrorCode::kUnknownCategory);
  }
  SECTION("at most kMaxCategoriesPerRecord") {
    std::vector<eropaf::Category> many;
    Codes codes;
    for (std::size_t i = 0; i <= eropaf::kMaxCategoriesPerRecord; ++i) {
      many.push_back({"cat_" + std::to_string(i), "Cat", eropaf::Priority::kNormaal, 14, false});
      codes.push_back("cat_" + std::to_string(i));
    }
    const Codes at_limit(codes.begin(), codes.end() - 1);
    CHECK(eropaf::checkCategories("c", at_limit, many, true).ok());
    CHECK_FALSE(eropaf::checkCategories("c", codes, many, true).ok());
  }
}

TEST_CASE("the default categories are DESIGN.md's eleven, each with a norm", "[unit][validate]") {
  const auto& defaults = eropaf::defaultCategories();
  const std::vector<std::string> expected{"schulden",
                                          "vereenzaming",
                                          "overlast",
                                          "verwaarlozing",
                                          "verslaving",
                                          "huiselijk_geweld",
                                          "dreigende_huisuitzetting",
                                          "schoolverzuim",
                                          "psychische_problemen",
                                          "mantelzorg_overbelast",
                                          "overig"};
  REQUIRE(defaults.size() == expected.size());
  for (const std::string& code : expected) {
    INFO(code);
    CHECK(eropaf::checkCategories("c", std::vector<std::string>{code}, defaults, true).ok());
  }
  for (const eropaf::Category& c : defaults) {
    INFO(c.code);
    CHECK_FALSE(c.label.empty());
    CHECK(c.first_contact_days > 0);
    CHECK(c.default_priority != eropaf::Priority::kUnspecified);
    if (c.code == "dreigende_huisuitzetting") CHECK(c.first_contact_days == 2);  // DESIGN.md
  }
}

namespace {

// Applies `breakIt` to a copy of `good` and checks validateRecord's answer.
template <class R>
void expectRefused(const R& good, const std::function<void(R&)>& breakIt, ErrorCode code,
                   const std::string& field) {
  R bad = good;
  breakIt(bad);
  const eropaf::Status s = eropaf::validateRecord(eropaf::Record(bad));
  INFO(s.toString());
  CHECK(s.code() == code);
  CHECK(s.field() == field);
}

}  // namespace

TEST_CASE("validateRecord accepts complete records and id-only deltas", "[unit][validate]") {
  using namespace eropaf::test;
  CHECK(eropaf::validateRecord(sampleSignal()).ok());
  CHECK(eropaf::validateRecord(sampleCase()).ok());
  CHECK(eropaf::validateRecord(sampleMoment()).ok());
  CHECK(eropaf::validateRecord(sampleTransition()).ok());

  // A delta carries the id and only the fields it changes.
  eropaf::Signal triage;
  triage.id = sampleSignal().id;
  triage.triage_state.set(eropaf::TriageState::kAfgewezen, sampleVersion(9));
  CHECK(eropaf::validateRecord(triage).ok());
  eropaf::Case assign;
  assign.id = sampleCase().id;
  assign.assignee.set("wc.bakker", sampleVersion(9));
  CHECK(eropaf::validateRecord(assign).ok());
  eropaf::ContactMoment tomb;
  tomb.id = sampleMoment().id;
  tomb.deleted.set(true, sampleVersion(9));
  CHECK(eropaf::validateRecord(tomb).ok());
  eropaf::Transition outcome;
  outcome.id = sampleTransition().id;
  outcome.outcome.set(eropaf::TransitionOutcome::kConflict, sampleVersion(9));
  CHECK(eropaf::validateRecord(outcome).ok());
}

TEST_CASE("validateRecord refuses a signal with one bad field", "[unit][validate]") {
  using S = eropaf::Signal;
  const S good = eropaf::test::sampleSignal();
  const auto inv = ErrorCode::kInvalidArgument;
  expectRefused<S>(
      good, [](S& s) { s.id = "0199A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B"; }, inv, "id");
  expectRefused<S>(
      good, [](S& s) { s.id = "signal-1"; }, inv, "id");
  expectRefused<S>(
      good, [](S& s) { s.id.clear(); }, ErrorCode::kRequiredFieldMissing, "id");
  expectRefused<S>(
      good, [](S& s) { s.content.reporter_id = "Jan Jansen"; }, inv, "content.reporter_id");
  expectRefused<S>(
      good, [](S& s) { s.content.source_role = eropaf::Role::kUnspecified; }, inv,
      "content.source_role");
  expectRefused<S>(
      good, [](S& s) { s.content.source_role = static_cast<eropaf::Role>(5); }, inv,
      "content.source_role");
  expectRefused<S>(
      good, [](S& s) { s.content.wijk = "WK15301"; }, inv, "content.wijk");
  expectRefused<S>(
      good, [](S& s) { s.content.address.postcode = "123AB"; }, inv, "content.address.postcode");
  expectRefused<S>(
      good, [](S& s) { s.content.household_key = "9999ZZ|1|"; }, inv, "content.household_key");
  expectRefused<S>(
      good, [](S& s) { s.content.categories.clear(); }, ErrorCode::kRequiredFieldMissing,
      "content.categories");
  expectRefused<S>(
      good, [](S& s) { s.content.categories = {"Geen Code"}; }, inv, "content.categories");
  expectRefused<S>(
      good, [](S& s) { s.content.urgency = static_cast<eropaf::Urgency>(5); }, inv,
      "content.urgency");
  expectRefused<S>(
      good, [](S& s) { s.content.urgency = static_cast<eropaf::Urgency>(-1); }, inv,
      "content.urgency");
  expectRefused<S>(
      good, [](S& s) { s.content.observed_at_ms = 0; }, ErrorCode::kRequiredFieldMissing,
      "content.observed_at_ms");
  expectRefused<S>(
      good, [](S& s) { s.content.text = "post \xC0\xAF"; }, ErrorCode::kInvalidUtf8,
      "content.text");
  expectRefused<S>(
      good, [](S& s) { s.content.text.assign(eropaf::kMaxSignalTextBytes + 1, 'x'); },
      ErrorCode::kTextTooLong, "content.text");
  expectRefused<S>(
      good, [](S& s) { s.content.informed = static_cast<eropaf::Informed>(4); }, inv,
      "content.informed");
  expectRefused<S>(
      good, [](S& s) { s.case_id.value = "CASE"; }, inv, "case_id");
  expectRefused<S>(
      good, [](S& s) { s.triage_state.value = static_cast<eropaf::TriageState>(5); }, inv,
      "triage_state");
  expectRefused<S>(
      good, [](S& s) { s.duplicate_of.value = "x"; }, inv, "duplicate_of");
}

TEST_CASE("validateRecord refuses a case with one bad field", "[unit][validate]") {
  using C = eropaf::Case;
  const C good = eropaf::test::sampleCase();
  const auto inv = ErrorCode::kInvalidArgument;
  expectRefused<C>(
      good, [](C& c) { c.id += "0"; }, inv, "id");
  expectRefused<C>(
      good, [](C& c) { c.opened_by = "-coord"; }, inv, "opened_by");
  expectRefused<C>(
      good, [](C& c) { c.wijk.value = "wk015301"; }, inv, "wijk");
  expectRefused<C>(
      good, [](C& c) { c.address.value.house_number = "0"; }, inv, "address.house_number");
  expectRefused<C>(
      good, [](C& c) { c.title.value = "\xED\xA0\x80"; }, ErrorCode::kInvalidUtf8, "title");
  expectRefused<C>(
      good, [](C& c) { c.title.value.assign(eropaf::kMaxTitleBytes + 1, 't'); },
      ErrorCode::kTextTooLong, "title");
  expectRefused<C>(
      good,
      [](C& c) {
        c.categories["Geen Code"] = {true, {1, 1}};
      },
      inv, "categories");
  expectRefused<C>(
      good, [](C& c) { c.state.value = static_cast<eropaf::CaseState>(11); }, inv, "state");
  expectRefused<C>(
      good, [](C& c) { c.state.value = eropaf::CaseState::kUnspecified; }, inv, "state");
  expectRefused<C>(
      good, [](C& c) { c.assignee.value = "WC.Bakker"; }, inv, "assignee");
  expectRefused<C>(
      good, [](C& c) { c.priority.value = static_cast<eropaf::Priority>(5); }, inv, "priority");
  expectRefused<C>(
      good, [](C& c) { c.resolution_text.value = "klaar\xFF"; }, ErrorCode::kInvalidUtf8,
      "resolution_text");
  expectRefused<C>(
      good, [](C& c) { c.merged_into.value = "other-case"; }, inv, "merged_into");
}

TEST_CASE("validateRecord refuses a contact moment with one bad field", "[unit][validate]") {
  using M = eropaf::ContactMoment;
  const M good = eropaf::test::sampleMoment();
  const auto inv = ErrorCode::kInvalidArgument;
  expectRefused<M>(
      good, [](M& m) { m.id = "0199a1b2-c3d4-7e5f-8a6b-00000000001g"; }, inv, "id");
  expectRefused<M>(
      good, [](M& m) { m.case_id.clear(); }, ErrorCode::kRequiredFieldMissing, "case_id");
  expectRefused<M>(
      good, [](M& m) { m.author_id = "wc bakker"; }, inv, "author_id");
  expectRefused<M>(
      good, [](M& m) { m.at_ms = 0; }, ErrorCode::kRequiredFieldMissing, "at_ms");
  M before_epoch = good;
  before_epoch.at_ms = -1;
  CHECK_FALSE(eropaf::validateRecord(before_epoch).ok());
  expectRefused<M>(
      good, [](M& m) { m.kind = eropaf::ContactKind::kUnspecified; }, inv, "kind");
  expectRefused<M>(
      good, [](M& m) { m.kind = static_cast<eropaf::ContactKind>(5); }, inv, "kind");
  expectRefused<M>(
      good, [](M& m) { m.outcome = static_cast<eropaf::ContactOutcome>(6); }, inv, "outcome");
  expectRefused<M>(
      good, [](M& m) { m.note = "niet thuis \xE2\x82"; }, ErrorCode::kInvalidUtf8, "note");
  expectRefused<M>(
      good, [](M& m) { m.note.assign(eropaf::kMaxNoteBytes + 1, 'n'); }, ErrorCode::kTextTooLong,
      "note");
  expectRefused<M>(
      good, [](M& m) { m.corrects_id = "earlier"; }, inv, "corrects_id");
  // A note may be empty ("niet thuis" says it all).
  M empty_note = good;
  empty_note.note.clear();
  CHECK(eropaf::validateRecord(empty_note).ok());
}

TEST_CASE("validateRecord refuses a transition with one bad field", "[unit][validate]") {
  using T = eropaf::Transition;
  const T good = eropaf::test::sampleTransition();
  const auto inv = ErrorCode::kInvalidArgument;
  expectRefused<T>(
      good, [](T& t) { t.id = "{" + t.id + "}"; }, inv, "id");
  expectRefused<T>(
      good, [](T& t) { t.case_id = "c"; }, inv, "case_id");
  expectRefused<T>(
      good, [](T& t) { t.from = eropaf::CaseState::kUnspecified; }, inv, "from");
  expectRefused<T>(
      good, [](T& t) { t.to = static_cast<eropaf::CaseState>(11); }, inv, "to");
  expectRefused<T>(
      good, [](T& t) { t.actor_id.clear(); }, ErrorCode::kRequiredFieldMissing, "actor_id");
  expectRefused<T>(
      good, [](T& t) { t.actor_role = static_cast<eropaf::Role>(-3); }, inv, "actor_role");
  expectRefused<T>(
      good, [](T& t) { t.at_ms = 0; }, ErrorCode::kRequiredFieldMissing, "at_ms");
  expectRefused<T>(
      good, [](T& t) { t.reason = "\xF4\x90\x80\x80"; }, ErrorCode::kInvalidUtf8, "reason");
  expectRefused<T>(
      good, [](T& t) { t.reason.assign(eropaf::kMaxReasonBytes + 1, 'r'); },
      ErrorCode::kTextTooLong, "reason");
  expectRefused<T>(
      good, [](T& t) { t.outcome.value = static_cast<eropaf::TransitionOutcome>(5); }, inv,
      "outcome");
}
