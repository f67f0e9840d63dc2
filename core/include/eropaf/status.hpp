// Status and Result<T>: how every expected failure in eropaf is returned.
//
// A Status is ok, or an ErrorCode with an English message and, when the failure is about one
// input field, that field's dotted path ("address.postcode"). Result<T> is a T or a non-ok
// Status. Both are [[nodiscard]]. "Not found" for a lookup is std::optional, not an error.
// Thread-safety: value types; distinct objects may be used from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace eropaf {

enum class ErrorCode : std::int32_t {
// NOLINTNEXTLINE(bugprone-macro-parentheses): `name` is an enumerator being declared
#define EROPAF_ERROR_CODE(name, number, wire) name = number,
#include "eropaf/error_codes.def"
#undef EROPAF_ERROR_CODE
};

/// The stable wire name of a code ("INVALID_ARGUMENT"); "UNKNOWN" for a number not in the list.
std::string_view errorCodeName(ErrorCode code) noexcept;
/// The code for a wire number; nullopt when the number is not a known code.
std::optional<ErrorCode> errorCodeFromNumber(std::int64_t number) noexcept;

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status okStatus() { return {}; }

  bool ok() const noexcept { return code_ == ErrorCode::kOk; }
  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& field() const noexcept { return field_; }
  /// "TEXT_TOO_LONG: text is 5000 bytes, the limit is 4000 (field text)".
  std::string toString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string field_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) {
      v_ = Status(ErrorCode::kInternal, "Result constructed from an ok Status without a value");
    }
  }

  bool ok() const noexcept { return std::holds_alternative<T>(v_); }
  explicit operator bool() const noexcept { return ok(); }

  /// The error; an ok Status when this holds a value.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  /// On a temporary the value is moved out by value, so `for (auto& x : *store.list())` and
  /// `auto v = f().value()` never refer into a Result that is already gone.
  T value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace eropaf

#define EROPAF_DETAIL_CONCAT2(a, b) a##b
#define EROPAF_DETAIL_CONCAT(a, b) EROPAF_DETAIL_CONCAT2(a, b)

/// Returns the Status of `expr` from the enclosing function when it is not ok. The local's name
/// carries the line number so a nested use (inside a lambda in `expr`) does not shadow it.
#define EROPAF_RETURN_IF_ERROR(expr) \
  EROPAF_DETAIL_RETURN_IF_ERROR(EROPAF_DETAIL_CONCAT(eropaf_status_, __LINE__), expr)
#define EROPAF_DETAIL_RETURN_IF_ERROR(var, expr)                                         \
  do {                                                                                   \
    ::eropaf::Status var = (expr);                                                       \
    if (!var.ok()) return var; /* NOLINT(bugprone-macro-parentheses): a declared name */ \
  } while (false)
