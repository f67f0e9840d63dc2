// The resolution code list (resolution.hpp). Codes are stable: a code is never renamed or
// reused, because closed cases keep it for their whole retention period.
#include "eropaf/resolution.hpp"

#include <array>
#include <string>

namespace eropaf {
namespace {

constexpr std::array<ResolutionCode, 8> kCodes{{
    {"opgelost", "Opgelost", true},
    {"overgedragen", "Overgedragen", true},
    {"hulp_geweigerd", "Hulp geweigerd", true},
    {kResolutionGeenContactMogelijk, "Geen contact mogelijk", true},
    {"geen_hulpvraag", "Geen hulpvraag", true},
    {"verhuisd", "Verhuisd", true},
    {"overleden", "Overleden", true},
    {kResolutionSamengevoegd, "Samengevoegd", false},
}};

std::string byHandList() {
  std::string out;
  for (const ResolutionCode& c : kCodes) {
    if (!c.by_hand) continue;
    if (!out.empty()) out += ", ";
    out += c.code;
  }
  return out;
}

}  // namespace

std::span<const ResolutionCode> resolutionCodes() noexcept { return kCodes; }

const ResolutionCode* findResolutionCode(std::string_view code) noexcept {
  for (const ResolutionCode& c : kCodes) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

bool isResolutionCode(std::string_view code) noexcept {
  return findResolutionCode(code) != nullptr;
}

Status checkResolutionCode(std::string_view code) {
  if (code.empty()) {
    return Status(ErrorCode::kRequiredFieldMissing,
                  "closing a case needs a resolution code: one of " + byHandList(),
                  "resolution_code");
  }
  const ResolutionCode* c = findResolutionCode(code);
  if (c == nullptr) {
    // The code itself is not echoed: it may be anything a client sent.
    return Status(ErrorCode::kInvalidArgument,
                  "unknown resolution code; use one of " + byHandList(), "resolution_code");
  }
  if (!c->by_hand) {
    return Status(ErrorCode::kInvalidArgument,
                  "resolution code " + std::string(c->code) +
                      " is set only by merging cases; use one of " + byHandList(),
                  "resolution_code");
  }
  return {};
}

}  // namespace eropaf
