// The one merge function devices and server share. Merging two states of the same record
// takes, field by field, the greater Version (ties broken by the value itself, so the result
// never depends on argument order); sets merge per element; content fixed at creation is
// taken from whichever state carries it. merge is commutative, associative and idempotent:
// any order, repetition or loss-and-retry of states converges.
// Thread-safety: pure functions.
#pragma once

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"

namespace eropaf {

/// Merges `from` into `into`. Both must describe the same record (same kind and id);
/// otherwise returns kInvalidArgument and leaves `into` unchanged.
Status mergeInto(Record& into, const Record& from);

void mergeInto(Signal& into, const Signal& from);
void mergeInto(Case& into, const Case& from);
void mergeInto(ContactMoment& into, const ContactMoment& from);
void mergeInto(Transition& into, const Transition& from);

/// The greatest field version in a record (its "last changed" version).
Version maxVersion(const Record& r);

/// Replaces every version written by `node` with an HLC above `above_hlc` by `to`. Used to
/// re-stamp a change whose versions a server refused as too far in the future.
/// Returns how many versions changed.
std::size_t restampVersions(Record& r, std::uint64_t node, std::uint64_t above_hlc, Version to);

}  // namespace eropaf
