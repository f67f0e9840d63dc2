// Status rendering and the error-code name table (expanded from error_codes.def).
#include "eropaf/status.hpp"

namespace eropaf {

std::string_view errorCodeName(ErrorCode code) noexcept {
  switch (code) {
#define EROPAF_ERROR_CODE(name, number, wire) \
  case ErrorCode::name:                       \
    return #wire;
#include "eropaf/error_codes.def"
#undef EROPAF_ERROR_CODE
  }
  return "UNKNOWN";
}

std::optional<ErrorCode> errorCodeFromNumber(std::int64_t number) noexcept {
  switch (number) {
#define EROPAF_ERROR_CODE(name, num, wire) \
  case num:                                \
    return ErrorCode::name;
#include "eropaf/error_codes.def"
#undef EROPAF_ERROR_CODE
    default:
      return std::nullopt;
  }
}

std::string Status::toString() const {
  if (ok()) return "OK";
  std::string out(errorCodeName(code_));
  out += ": ";
  out += message_;
  if (!field_.empty()) {
    out += " (field ";
    out += field_;
    out += ")";
  }
  return out;
}

}  // namespace eropaf
