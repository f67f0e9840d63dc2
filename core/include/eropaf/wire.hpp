// Records as bytes of the proto/ contract (eropaf.v1.Record), without exposing generated code.
// Used by the store (its on-disk record encoding), the C ABI and tools.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"

namespace eropaf {

/// Serialises a record as an eropaf.v1.Record message.
std::string encodeRecord(const Record& record);

/// Parses an eropaf.v1.Record. kDecodeError for bytes that are not a Record or a Record with
/// no kind; enum numbers are checked (unknown values are kDecodeError naming the field).
Result<Record> decodeRecord(std::string_view bytes);

}  // namespace eropaf
