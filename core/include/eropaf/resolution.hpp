// Resolution codes: why a case was closed. One list in core, so device, server and every
// binding accept and show the same codes; a closing move (→ afgesloten) carries one
// (Transition::resolution_code, checked by checkTransition() in state_table.hpp) and the case
// keeps it (Case::resolution_code). The free-text part of a resolution is the move's reason
// (Case::resolution_text).
//
// `samengevoegd` is not chosen by hand: only merging a case into another (the merge verb) sets
// it, so "closed as merged" always means there is a case it was merged into (merged_into).
// Thread-safety: immutable data; any thread.
#pragma once

#include <span>
#include <string_view>

#include "eropaf/status.hpp"

namespace eropaf {

struct ResolutionCode {
  std::string_view code;   ///< stable code, used on the wire and the CLI: "opgelost"
  std::string_view label;  ///< Dutch label shown to users: "Opgelost"
  bool by_hand;            ///< a worker may choose it when closing (false: set by merge only)
};

inline constexpr std::string_view kResolutionGeenContactMogelijk = "geen_contact_mogelijk";
inline constexpr std::string_view kResolutionSamengevoegd = "samengevoegd";

/// Every resolution code, in the order a list shows them.
std::span<const ResolutionCode> resolutionCodes() noexcept;

/// The entry for `code`, or nullptr when there is none (codes are case-sensitive).
const ResolutionCode* findResolutionCode(std::string_view code) noexcept;

/// True for any code in the list (also `samengevoegd`): what a stored record may carry.
bool isResolutionCode(std::string_view code) noexcept;

/// Checks a code a worker chose to close a case with by hand. Ok for a listed code with
/// by_hand; kRequiredFieldMissing when empty; kInvalidArgument for an unknown code (the
/// message lists the valid ones) or for `samengevoegd` (set only by merging). Field
/// "resolution_code".
Status checkResolutionCode(std::string_view code);

}  // namespace eropaf
