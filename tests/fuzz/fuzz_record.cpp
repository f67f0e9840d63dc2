// Fuzz target: arbitrary bytes as an eropaf.v1.Record — decode, validate, merge with itself
// and re-encode. Must never crash, hang or leak; a decoded record must merge idempotently.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eropaf/merge.hpp"
#include "eropaf/validate.hpp"
#include "eropaf/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  eropaf::Result<eropaf::Record> r = eropaf::decodeRecord(bytes);
  if (!r.ok()) return 0;
  static_cast<void>(eropaf::validateRecord(*r));
  eropaf::Record copy = *r;
  if (!eropaf::mergeInto(copy, *r).ok() || !(copy == *r)) __builtin_trap();  // idempotence
  const std::string again = eropaf::encodeRecord(copy);
  if (!eropaf::decodeRecord(again).ok()) __builtin_trap();  // what we write, we read
  return 0;
}
