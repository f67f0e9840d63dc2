// Admin commands over the engine. Names and ids in the output come from devices (a device
// name is chosen at enrollment): text output shows control characters escaped, JSON output
// escapes them as JSON does, so nothing reaches the admin's terminal raw.
#include "admin.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "engine.hpp"
#include "eropaf/model.hpp"
#include "report_format.hpp"

namespace eropaf::server {
namespace {

/// A JSON string.
std::string esc(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      o.push_back('\\');
      o.push_back(c);
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(u));
      o += buf;
    } else {
      o.push_back(c);
    }
  }
  return o + "\"";
}

/// Text for the terminal: C0 controls, DEL and C1 controls (U+0080..U+009F) as visible
/// escapes (\x1b, \u009b), so a name cannot clear the screen or rewrite a line.
std::string shown(const std::string& s) {
  std::string o;
  char buf[8];
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    const auto next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    if (u == 0xC2 && next >= 0x80 && next <= 0x9F) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(next));
      o += buf;
      ++i;
    } else if (u < 0x20 || u == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(u));
      o += buf;
    } else {
      o.push_back(s[i]);
    }
  }
  return o;
}

int refused(const Status& st, bool json) {
  std::cerr << "eropaf-server admin: " << shown(st.toString()) << "\n";
  if (json) {
    std::cout << "{\"error\":{\"code\":" << esc(std::string(errorCodeName(st.code())))
              << ",\"message\":" << esc(st.message()) << "}}\n";
  }
  switch (st.code()) {
    case ErrorCode::kIoError:
    case ErrorCode::kStorageCorrupt:
    case ErrorCode::kStorageFull:
    case ErrorCode::kStorageBusy:
    case ErrorCode::kUnsupported:
    case ErrorCode::kInternal:
      return 3;
    default:
      return 1;
  }
}

int usage(const std::string& why) {
  std::cerr << "eropaf-server admin: " << why << " (see eropaf-server --help)\n";
  return 2;
}

}  // namespace

int runAdmin(const Config& config, const std::vector<std::string>& args, bool json) {
  if (args.empty()) return usage("which admin command?");
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  EngineOptions eo;
  eo.database_path = config.databasePath();
  auto engine = Engine::open(eo);
  if (!engine.ok()) return refused(engine.status(), json);
  Engine& e = **engine;
  const std::string& cmd = args[0];
  auto flagValues = [&](const std::string& flag) {
    std::vector<std::string> out;
    for (std::size_t i = 1; i + 1 < args.size(); ++i) {
      if (args[i] == flag) out.push_back(args[i + 1]);
    }
    return out;
  };
  if (cmd == "add-wijk") {
    if (args.size() != 3) return usage("add-wijk CODE NAME");
    if (Status st = e.addWijk({args[1], args[2]}); !st.ok()) return refused(st, json);
    std::cout << (json ? "{\"ok\":true}" : "wijk " + args[1] + " added") << "\n";
    return 0;
  }
  if (cmd == "add-worker") {
    auto id = flagValues("--id");
    auto name = flagValues("--name");
    auto role = flagValues("--role");
    if (id.size() != 1 || name.size() != 1 || role.size() != 1) {
      return usage("add-worker --id ID --name NAME --role ROLE --wijk CODE...");
    }
    auto r = parseRole(role[0]);
    if (!r) return usage("--role is zorgmedewerker, wijkcoach, coordinator or admin");
    Worker w{id[0], name[0], *r, flagValues("--wijk"), true};
    if (Status st = e.addWorker(w); !st.ok()) return refused(st, json);
    std::cout << (json ? "{\"ok\":true}" : "worker " + w.id + " added") << "\n";
    return 0;
  }
  if (cmd == "enroll-code") {
    if (args.size() != 2) return usage("enroll-code WORKER_ID");
    auto code = e.createEnrollmentCode(args[1]);
    if (!code.ok()) return refused(code.status(), json);
    std::cout << (json ? "{\"code\":" + esc(*code) + "}" : *code) << "\n";
    return 0;
  }
  if (cmd == "unlock-console") {
    if (args.size() != 2) return usage("unlock-console WORKER_ID");
    if (Status st = e.unlockConsole(args[1]); !st.ok()) return refused(st, json);
    std::cout << (json ? "{\"ok\":true}" : "console login of " + args[1] + " unlocked") << "\n";
    return 0;
  }
  if (cmd == "revoke") {
    if (args.size() != 2) return usage("revoke DEVICE_ID");
    if (Status st = e.revokeDevice(args[1]); !st.ok()) return refused(st, json);
    std::cout << (json ? "{\"ok\":true}" : "device " + args[1] + " revoked") << "\n";
    return 0;
  }
  if (cmd == "workers") {
    auto ws = e.workers();
    if (!ws.ok()) return refused(ws.status(), json);
    if (json) std::cout << "[";
    bool first = true;
    for (const Worker& w : *ws) {
      std::string wijken;
      for (const auto& x : w.wijken) wijken += (wijken.empty() ? "" : ",") + x;
      if (json) {
        std::cout << (first ? "" : ",") << "{\"id\":" << esc(w.id) << ",\"name\":" << esc(w.name)
                  << ",\"role\":" << esc(std::string(toString(w.role)))
                  << ",\"wijken\":" << esc(wijken) << "}";
      } else {
        std::cout << shown(w.id) << "\t" << toString(w.role) << "\t" << shown(wijken) << "\t"
                  << shown(w.name) << "\n";
      }
      first = false;
    }
    if (json) std::cout << "]\n";
    return 0;
  }
  if (cmd == "devices") {
    auto ds = e.devices();
    if (!ds.ok()) return refused(ds.status(), json);
    if (json) std::cout << "[";
    bool first = true;
    for (const DeviceInfo& d : *ds) {
      if (json) {
        std::cout << (first ? "" : ",") << "{\"id\":" << esc(d.id)
                  << ",\"worker_id\":" << esc(d.worker_id) << ",\"name\":" << esc(d.name)
                  << ",\"revoked\":" << (d.revoked ? "true" : "false")
                  << ",\"last_seen_ms\":" << d.last_seen_ms << "}";
      } else {
        std::cout << shown(d.id) << "\t" << shown(d.worker_id) << "\t"
                  << (d.revoked ? "REVOKED" : "active") << "\t" << shown(d.name) << "\n";
      }
      first = false;
    }
    if (json) std::cout << "]\n";
    return 0;
  }
  if (cmd == "set-category") {
    // set-category CODE [--label L] [--priority P] [--first-contact-days N] [--working-days
    // yes|no] [--sensitive yes|no] [--first-gesprek-days N] [--min-attempts N]: creates (label,
    // priority and first-contact days required) or updates (only the flags given change).
    if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
      return usage(
          "set-category CODE --label L --priority P --first-contact-days N --working-days yes|no "
          "--sensitive yes|no [--first-gesprek-days N] [--min-attempts N]");
    }
    static const std::vector<std::string> kFlags = {
        "--label",     "--priority",           "--first-contact-days", "--working-days",
        "--sensitive", "--first-gesprek-days", "--min-attempts"};
    for (std::size_t i = 2; i < args.size(); i += 2) {
      if (std::find(kFlags.begin(), kFlags.end(), args[i]) == kFlags.end()) {
        return usage("set-category: unknown flag '" + shown(args[i]) + "'");
      }
      if (i + 1 >= args.size()) return usage("set-category: " + args[i] + " needs a value");
    }
    auto one = [&](const std::string& flag) -> std::optional<std::string> {
      auto v = flagValues(flag);
      if (v.empty()) return std::nullopt;
      return v.back();
    };
    auto cats = e.categories();
    if (!cats.ok()) return refused(cats.status(), json);
    Category c;
    const auto found = std::find_if(cats->begin(), cats->end(),
                                    [&](const Category& k) { return k.code == args[1]; });
    const bool exists = found != cats->end();
    if (exists) {
      c = *found;
    } else {
      c.code = args[1];
      for (const char* need : {"--label", "--priority", "--first-contact-days"}) {
        if (!one(need)) {
          return refused(Status(ErrorCode::kRequiredFieldMissing,
                                std::string("a new category needs ") + need, need + 2),
                         json);
        }
      }
    }
    auto number = [&](const std::string& flag, std::int32_t& out) -> Status {
      auto v = one(flag);
      if (!v) return {};
      std::int32_t n = 0;
      const auto [end, err] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (err != std::errc() || end != v->data() + v->size()) {
        return Status(ErrorCode::kInvalidArgument,
                      flag + " is a whole number of days, not '" + shown(*v) + "'", flag.substr(2));
      }
      out = n;
      return {};
    };
    auto yesNo = [&](const std::string& flag, bool& out) -> Status {
      auto v = one(flag);
      if (!v) return {};
      if (*v != "yes" && *v != "no") {
        return Status(ErrorCode::kInvalidArgument, flag + " is yes or no, not '" + shown(*v) + "'",
                      flag.substr(2));
      }
      out = *v == "yes";
      return {};
    };
    if (auto l = one("--label")) c.label = *l;
    if (auto p = one("--priority")) {
      auto parsed = parsePriority(*p);
      if (!parsed || *parsed == Priority::kUnspecified) {
        return refused(Status(ErrorCode::kInvalidArgument,
                              "--priority is acuut, hoog, normaal or laag, not '" + shown(*p) + "'",
                              "priority"),
                       json);
      }
      c.default_priority = *parsed;
    }
    const std::int32_t old_first = c.first_contact_days;
    for (const Status& st :
         {number("--first-contact-days", c.first_contact_days),
          number("--first-gesprek-days", c.first_gesprek_days),
          number("--min-attempts", c.min_attempts), yesNo("--working-days", c.working_days),
          yesNo("--sensitive", c.sensitive)}) {
      if (!st.ok()) return refused(st, json);
    }
    // A new category (or a changed first-attempt norm without its own first-gesprek norm)
    // takes twice the first-attempt days, as the defaults do (docs/triage.md).
    if (!one("--first-gesprek-days") && (!exists || c.first_contact_days != old_first)) {
      c.first_gesprek_days = std::max(c.first_contact_days, 2 * c.first_contact_days);
    }
    if (Status st = e.setCategory(c); !st.ok()) return refused(st, json);
    std::cout << (json ? std::string("{\"ok\":true}")
                       : "category " + c.code + (exists ? " updated" : " added"))
              << "\n";
    return 0;
  }
  if (cmd == "deactivate") {
    if (args.size() != 2) return usage("deactivate WORKER_ID");
    if (Status st = e.deactivateWorker(args[1]); !st.ok()) return refused(st, json);
    std::cout << (json ? std::string("{\"ok\":true}")
                       : "worker " + args[1] +
                             " deactivated; their devices are revoked. Move their open cases "
                             "with: eropaf-server admin reassign --from " +
                             args[1] + " --to WORKER")
              << "\n";
    return 0;
  }
  if (cmd == "reassign") {
    auto from = flagValues("--from");
    auto to = flagValues("--to");
    auto wijk = flagValues("--wijk");
    auto reason = flagValues("--reason");
    if (from.size() != 1 || to.size() != 1 || wijk.size() > 1 || reason.size() > 1) {
      return usage("reassign --from WORKER --to WORKER [--wijk WK] [--reason TEXT]");
    }
    const std::string why =
        reason.empty() ? "caseload of " + from[0] + " moved by the admin" : reason[0];
    auto moved = e.reassignCases(from[0], to[0], wijk.empty() ? "" : wijk[0], why);
    if (!moved.ok()) return refused(moved.status(), json);
    if (json) {
      std::cout << "{\"moved\":[";
      for (std::size_t i = 0; i < moved->size(); ++i) {
        std::cout << (i == 0 ? "" : ",") << esc((*moved)[i]);
      }
      std::cout << "]}\n";
    } else {
      std::cout << moved->size() << " open case(s) moved from " << shown(from[0]) << " to "
                << shown(to[0]) << "\n";
    }
    return 0;
  }
  if (cmd == "report") {
    // report --from YYYY-MM-DD --to YYYY-MM-DD [--wijk WK]... [--csv] (--json: main.cpp)
    const char* kUsage = "report --from YYYY-MM-DD --to YYYY-MM-DD [--wijk WK]... [--json|--csv]";
    bool csv = false;
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--csv") {
        csv = true;
      } else if ((args[i] == "--from" || args[i] == "--to" || args[i] == "--wijk") &&
                 i + 1 < args.size()) {
        ++i;
      } else {
        return usage("unknown report argument '" + shown(args[i]) + "': " + kUsage);
      }
    }
    auto from = flagValues("--from");
    auto to = flagValues("--to");
    if (from.size() != 1 || to.size() != 1) return usage(kUsage);
    if (csv && json) return usage("--json or --csv, not both");
    auto query = reportQueryForDays(from[0], to[0], flagValues("--wijk"));
    if (!query.ok()) return refused(query.status(), json);
    auto rep = e.report(*query);
    if (!rep.ok()) return refused(rep.status(), json);
    if (json) {
      std::cout << reportJson(*rep) << "\n";
    } else if (csv) {
      std::cout << reportCsv(*rep);
    } else {
      std::cout << reportText(*rep);
    }
    return 0;
  }
  if (cmd == "access-log") {
    std::size_t limit = 100;
    if (auto l = flagValues("--limit"); !l.empty()) limit = std::stoul(l[0]);
    auto log = e.accessLog(limit);
    if (!log.ok()) return refused(log.status(), json);
    for (const AccessEntry& a : *log) {
      std::cout << a.at_ms << "\t" << shown(a.action) << "\t" << shown(a.worker_id) << "\t"
                << shown(a.device_id) << "\t" << shown(a.record_id) << "\n";
    }
    return 0;
  }
  return usage("unknown admin command '" + cmd + "'");
}

}  // namespace eropaf::server
