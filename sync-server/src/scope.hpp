// Who sees what (DESIGN.md "Who sees what"), as pure functions over records and workers.
//
// Audiences name the groups a record is visible to:
//   "w:<worker>"  that worker (a case's assignee, a signal's reporter)
//   "c:<wijk>"    the coordinators of a wijk (everything of the wijk, whole)
//   "q:<wijk>"    the wijkcoaches of a wijk (open unassigned cases, without personal detail)
// When a write changes a record's audiences, the engine logs the difference as scope changes,
// so a pull can send a record that entered a principal's scope whole, with its children, and
// an eviction for one that left it — and nothing, not even an id, to anyone else.
#pragma once

#include <string>
#include <vector>

#include "eropaf/model.hpp"
#include "server_store.hpp"

namespace eropaf::server {

enum class View { kNone, kRedacted, kFull };

/// The audiences a worker belongs to.
std::vector<std::string> audiencesOf(const Worker& worker);
/// The audiences of a case or signal state (sorted, unique). Children have none of their own.
std::vector<std::string> audiencesOf(const Record& record, const Case* linked_case);

/// What `worker` may see of a record. Children (contact moments, transitions) and signals
/// linked to a case need that case as `parent` (nullptr when none).
View viewOf(const Worker& worker, const Record& record, const Case* parent);

/// The record as `view` allows: redacted cases lose address, household key, title and
/// resolution text; a reporter's redacted signal loses its triage links (only the state stays).
Record redact(const Record& record);

/// Who holds a case for scope purposes. A case merged into another and closed (merged_into =
/// target.id, not in an open state) is held by its target's assignee: whoever holds the target
/// whole holds what was merged into it, with its contact moments, and a reassigned target takes
/// its merged cases along. Any other case (open, reopened, or a null or unrelated target) keeps
/// its own assignee. The engine stamps this value into a merged case whenever it or its target
/// is written.
const std::string& holderOf(const Case& c, const Case* target);

/// Plain index columns for storage. A merged case's parent is the case it was merged into, so
/// the target's children include what was merged into it.
RecordIndex indexOf(const Record& record, const Case* parent);

}  // namespace eropaf::server
