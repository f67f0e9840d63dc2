// Admin commands over the engine. Names and ids in the output come from devices (a device
// name is chosen at enrollment): text output shows control characters escaped, JSON output
// escapes them as JSON does, so nothing reaches the admin's terminal raw.
#include "admin.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "engine.hpp"

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
