// What the CLI looks up in the device store to turn what people type into ids, and ids and codes
// into what people read: record ids from a prefix, category labels, colleagues.
//
// Promises:
// - An id flag names exactly one record or the command stops: a full id passes as given (the
//   store answers for it), a prefix of the id or of its short form (eropaf::shortId) resolves
//   through Store::matchIds, an ambiguous prefix is refused with every candidate listed (short
//   id, what it is, full id), an unknown one with "no such ...". Nothing is guessed.
// - Labels and names fall back to the code or id when the reference data does not know it.
// - Who may be assigned is the permissions module's answer (permissions::mayAssign), never a rule
//   of its own.
// Thread-safety: functions over a Store, which serialises its own calls.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"
#include "eropaf/store.hpp"

namespace eropaf::cli {

/// The full id of the one record of `kind` that `text` (given with `flag`) names on this
/// device. kInvalidArgument when `text` cannot be an id or prefix, kNotFound ("no such case")
/// when nothing matches, kInvalidArgument listing the candidates when several do; a storage
/// error as it came. `case_id` (optional) is the case a contact moment belongs to, used only
/// to describe candidates.
Result<std::string> resolveId(const store::Store& store, RecordKind kind, std::string_view flag,
                              std::string_view text, std::string_view case_id = {});

/// Category code → label, from the categories the store holds.
using Labels = std::map<std::string, std::string, std::less<>>;
Labels categoryLabels(const store::Store& store);
/// The labels of `codes`, joined with ", "; a code without a label shows as itself.
std::string labelList(const std::vector<std::string>& codes, const Labels& labels);

/// `refusal` (why `to` cannot take a case of `wijk`) with the colleagues who can, for a
/// message a coordinator can act on; `known`: whether `workers` holds `to` at all. Keeps the
/// refusal's code and field.
Status withValidAssignees(const Status& refusal, std::string_view to, std::string_view wijk,
                          const std::vector<Worker>& workers, bool known);

}  // namespace eropaf::cli
