// The device store's numbered schema migrations. Migration N takes a store from version N-1 to
// N in one transaction, recorded in schema_version. Released migrations are never edited: a
// change is a new migration, and tests open golden databases of every earlier version.
#pragma once

#include "eropaf/status.hpp"
#include "store/sqlite.hpp"

namespace eropaf::store::detail {

constexpr int kSchemaVersion = 4;

/// The version of an open database (0 for an empty file).
Result<int> schemaVersionOf(Db& db);

/// Migrates from the current version up to `target` (≤ kSchemaVersion). kUnsupported when the
/// file is newer than this build.
Status migrate(Db& db, int target, std::int64_t now_ms);

}  // namespace eropaf::store::detail
