// Proves that error_codes.def is the one source of truth for error codes: every C++ code has
// the same name (ERROR_CODE_<wire>) and number in the wire enum eropaf.v1.ErrorCode, the wire
// enum has no value the .def lacks, the name/number lookups agree with the list, and
// Status::toString renders code, message and field the way logs and the CLI show them.
#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "eropaf/status.hpp"
#include "eropaf/v1/common.pb.h"

namespace {

struct DefEntry {
  eropaf::ErrorCode code;
  std::int64_t number;
  std::string_view wire;
  std::string_view cpp_name;
};

// The .def expanded independently of status.cpp, so a wrong table there cannot hide here.
const std::vector<DefEntry>& defEntries() {
  static const std::vector<DefEntry> kEntries{
#define EROPAF_ERROR_CODE(name, number, wire) {eropaf::ErrorCode::name, number, #wire, #name},
#include "eropaf/error_codes.def"
#undef EROPAF_ERROR_CODE
  };
  return kEntries;
}

}  // namespace

TEST_CASE("every error_codes.def entry has the same name and number on the wire",
          "[unit][errors]") {
  const google::protobuf::EnumDescriptor* wire = eropaf::v1::ErrorCode_descriptor();
  REQUIRE(wire != nullptr);
  REQUIRE_FALSE(defEntries().empty());
  for (const DefEntry& e : defEntries()) {
    INFO("def entry " << e.cpp_name << " = " << e.number << " (" << e.wire << ")");
    CHECK(static_cast<std::int64_t>(e.code) == e.number);
    const std::string wire_name = "ERROR_CODE_" + std::string(e.wire);
    const google::protobuf::EnumValueDescriptor* value = wire->FindValueByName(wire_name);
    REQUIRE(value != nullptr);
    CHECK(value->number() == e.number);
  }
}

TEST_CASE("the wire enum has no value that error_codes.def lacks", "[unit][errors]") {
  const google::protobuf::EnumDescriptor* wire = eropaf::v1::ErrorCode_descriptor();
  REQUIRE(wire != nullptr);
  CHECK(wire->value_count() == static_cast<int>(defEntries().size()));
  for (int i = 0; i < wire->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = wire->value(i);
    INFO("wire value " << value->name() << " = " << value->number());
    bool found = false;
    for (const DefEntry& e : defEntries()) {
      if (e.number == value->number()) {
        found = true;
        CHECK(value->name() == "ERROR_CODE_" + std::string(e.wire));
      }
    }
    CHECK(found);
  }
}

TEST_CASE("error_codes.def numbers and names are unique", "[unit][errors]") {
  std::set<std::int64_t> numbers;
  std::set<std::string_view> wires;
  for (const DefEntry& e : defEntries()) {
    INFO(e.cpp_name);
    CHECK(numbers.insert(e.number).second);
    CHECK(wires.insert(e.wire).second);
  }
  // kOk is zero: a default Status is ok, and the proto3 default of the wire enum means OK.
  CHECK(static_cast<std::int32_t>(eropaf::ErrorCode::kOk) == 0);
}

TEST_CASE("errorCodeName and errorCodeFromNumber follow the list", "[unit][errors]") {
  for (const DefEntry& e : defEntries()) {
    INFO(e.cpp_name);
    CHECK(eropaf::errorCodeName(e.code) == e.wire);
    const std::optional<eropaf::ErrorCode> back = eropaf::errorCodeFromNumber(e.number);
    REQUIRE(back.has_value());
    CHECK(*back == e.code);
  }
  CHECK(eropaf::errorCodeName(eropaf::ErrorCode::kTextTooLong) == "TEXT_TOO_LONG");
  CHECK(eropaf::errorCodeName(static_cast<eropaf::ErrorCode>(9999)) == "UNKNOWN");
  CHECK(eropaf::errorCodeName(static_cast<eropaf::ErrorCode>(-1)) == "UNKNOWN");

  CHECK_FALSE(eropaf::errorCodeFromNumber(-1).has_value());
  CHECK_FALSE(
      eropaf::errorCodeFromNumber(static_cast<std::int64_t>(defEntries().size())).has_value());
  CHECK_FALSE(eropaf::errorCodeFromNumber(9999).has_value());
  // A number that only matches a code after truncation to 32 bits is not that code.
  CHECK_FALSE(eropaf::errorCodeFromNumber((std::int64_t{1} << 32) + 1).has_value());
  CHECK_FALSE(eropaf::errorCodeFromNumber(INT64_MIN).has_value());
}

TEST_CASE("Status::toString renders code, message and field", "[unit][errors]") {
  SECTION("ok") {
    const eropaf::Status ok;
    CHECK(ok.ok());
    CHECK(ok.code() == eropaf::ErrorCode::kOk);
    CHECK(ok.toString() == "OK");
    CHECK(eropaf::Status::okStatus().ok());
  }
  SECTION("with a field") {
    const eropaf::Status s(eropaf::ErrorCode::kTextTooLong, "text is 5000 bytes, the limit is 4000",
                           "text");
    CHECK_FALSE(s.ok());
    CHECK(s.code() == eropaf::ErrorCode::kTextTooLong);
    CHECK(s.message() == "text is 5000 bytes, the limit is 4000");
    CHECK(s.field() == "text");
    CHECK(s.toString() == "TEXT_TOO_LONG: text is 5000 bytes, the limit is 4000 (field text)");
  }
  SECTION("without a field") {
    const eropaf::Status s(eropaf::ErrorCode::kNetwork, "connection refused");
    CHECK(s.field().empty());
    CHECK(s.toString() == "NETWORK: connection refused");
  }
}

TEST_CASE("Result holds a value or a non-ok Status", "[unit][errors]") {
  const eropaf::Result<int> value(42);
  CHECK(value.ok());
  CHECK(*value == 42);
  CHECK(value.status().ok());

  const eropaf::Result<int> error(eropaf::Status(eropaf::ErrorCode::kNotFound, "no such case"));
  CHECK_FALSE(error.ok());
  CHECK(error.status().code() == eropaf::ErrorCode::kNotFound);

  // An ok Status without a value would be a value-less success: it becomes kInternal.
  const eropaf::Result<int> misuse{eropaf::Status()};
  CHECK_FALSE(misuse.ok());
  CHECK(misuse.status().code() == eropaf::ErrorCode::kInternal);
}
