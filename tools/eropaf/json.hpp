// Minimal JSON writing for --json output: objects, arrays, strings (escaped), numbers and
// booleans, built as a value tree and printed compactly. UTF-8 passes through unchanged;
// control characters are escaped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace eropaf::cli {

class Json {
 public:
  using Object = std::vector<std::pair<std::string, Json>>;  // keeps insertion order
  using Array = std::vector<Json>;

  Json() : v_(nullptr) {}
  Json(std::nullptr_t) : v_(nullptr) {}                           // NOLINT
  Json(bool b) : v_(b) {}                                         // NOLINT
  Json(int n) : v_(static_cast<std::int64_t>(n)) {}               // NOLINT
  Json(std::int64_t n) : v_(n) {}                                 // NOLINT
  Json(std::uint64_t n) : v_(static_cast<std::int64_t>(n)) {}     // NOLINT
  Json(const char* s) : v_(std::string(s)) {}                     // NOLINT
  Json(std::string s) : v_(std::move(s)) {}                       // NOLINT
  Json(Object o) : v_(std::make_shared<Object>(std::move(o))) {}  // NOLINT
  Json(Array a) : v_(std::make_shared<Array>(std::move(a))) {}    // NOLINT

  std::string dump() const;

 private:
  std::variant<std::nullptr_t, bool, std::int64_t, std::string, std::shared_ptr<Object>,
               std::shared_ptr<Array>>
      v_;
};

std::string jsonEscape(const std::string& s);

}  // namespace eropaf::cli
