// Input validation shared by the device store, the server and the bindings. Every check
// answers with a Status that names the field and says what was wrong.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"

namespace eropaf {

/// Documented limits, in UTF-8 bytes.
constexpr std::size_t kMaxSignalTextBytes = 4000;  ///< a signal's free text
constexpr std::size_t kMaxNoteBytes = 8000;        ///< a contact moment's note
constexpr std::size_t kMaxReasonBytes = 2000;      ///< a transition reason, resolution text
constexpr std::size_t kMaxTitleBytes = 200;        ///< a case title
constexpr std::size_t kMaxShortBytes = 100;        ///< names, streets, cities, codes
constexpr std::size_t kMaxCategoriesPerRecord = 16;
/// History entries one case state may carry (a case reassigned daily for years stays under it).
constexpr std::size_t kMaxHistoryEntries = 2000;

/// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool isValidUtf8(std::string_view text) noexcept;

/// Checks one text field: valid UTF-8 (kInvalidUtf8), at most `max_bytes` (kTextTooLong),
/// and, when `required`, not blank (kRequiredFieldMissing). `field` names it in the error.
Status checkText(std::string_view field, std::string_view value, std::size_t max_bytes,
                 bool required);

/// Checks an address: postcode "1234AB" (a space is allowed), house number 1-5 digits,
/// optional addition, street and city within limits.
Status checkAddress(std::string_view field, const Address& address);

/// Checks category codes against the known ones: at least one when `required`, no unknown
/// code (kUnknownCategory), no more than kMaxCategoriesPerRecord.
Status checkCategories(std::string_view field, std::span<const std::string> codes,
                       std::span<const Category> known, bool required);

/// Checks the syntax of a record state from outside (network, binding, file): ids, enum
/// values in range, texts within limits and valid UTF-8, content complete when present.
/// It does not check permissions or categories against reference data.
Status validateRecord(const Record& record);

}  // namespace eropaf
