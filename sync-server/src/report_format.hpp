// The results report's outside forms: Amsterdam calendar days in (`--from`/`--to`, the
// console's ReportRequest), and the Report out as eropaf.v1.Report (console.proto), its JSON
// mapping, CSV (docs/console.md "Rapportage": one header, then one block of rows per section)
// and a readable table for the terminal. Only the report's own rows go out: aggregates, never
// an id, name, address or text.
// Thread-safety: pure functions over values; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine.hpp"
#include "eropaf/status.hpp"
#include "eropaf/v1/console.pb.h"

namespace eropaf::server {

/// The query for the Amsterdam days `from` up to and including `to` ("YYYY-MM-DD"): the
/// half-open period from 00:00 on `from` to 00:00 on the day after `to`, Amsterdam time.
/// kInvalidArgument naming "from" or "to" for a malformed or impossible date ("2026-02-30"),
/// "period" when `to` is before `from`.
Result<ReportQuery> reportQueryForDays(std::string_view from, std::string_view to,
                                       std::vector<std::string> wijken);

/// "YYYY-MM-DD", the Amsterdam date at `utc_ms`.
std::string amsterdamDay(std::int64_t utc_ms);

v1::Report toProto(const Report& report);
/// The report in protobuf's JSON mapping (one line).
std::string reportJson(const Report& report);
/// `section,key,label,value` with a header line; first the section "rapport" (van, tot_en_met,
/// wijken, peilmoment), then every row. Fields are quoted when they hold a comma, quote or
/// newline (RFC 4180).
std::string reportCsv(const Report& report);
/// A table for the terminal, one block per section with its Dutch title.
std::string reportText(const Report& report);

}  // namespace eropaf::server
