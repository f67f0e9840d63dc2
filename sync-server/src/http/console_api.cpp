#include "http/console_api.hpp"

#include <atomic>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "eropaf/resolution.hpp"
#include "eropaf/v1/console.pb.h"
#include "report_format.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

using Done = std::function<void(Response)>;

/// How long a console long poll waits before it answers "nothing new".
constexpr std::chrono::milliseconds kEventsWait{25'000};

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecoded(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 &&
               hexValue(in[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

/// The value of `name` in the target's query string; nullopt when absent.
std::optional<std::string> param(std::string_view target, std::string_view name) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (percentDecoded(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : percentDecoded(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return std::nullopt;
}

/// The path below `prefix` ("/v1/console/cases/ID" → "ID"), without the query.
std::string tail(std::string_view target, std::string_view prefix) {
  std::string_view path = target.substr(0, target.find('?'));
  return path.size() > prefix.size() ? percentDecoded(path.substr(prefix.size())) : std::string();
}

Response json(const google::protobuf::Message& m) {
  Response r{200, "application/json", encodeBody(m, true)};
  ConsoleRoutes::addSecurityHeaders(r, true);
  return r;
}

Response failed(const Status& st) {
  Response r = Router::error(httpStatusFor(st.code()), st, true);
  ConsoleRoutes::addSecurityHeaders(r, true);
  return r;
}

template <typename T>
Response answer(const Result<T>& r) {
  return r.ok() ? json(*r) : failed(r.status());
}

Response answer(const Status& st) { return st.ok() ? json(v1::Done{}) : failed(st); }

/// Decodes the request's JSON body into `m`; false (and the 400 sent) when it is not one.
bool body(const Request& req, google::protobuf::Message& m, const Done& done) {
  Status st = decodeBody(req.body, bodyFormatOf(req.content_type) != BodyFormat::kProtobuf, m);
  if (st.ok()) return true;
  done(failed(st));
  return false;
}

Result<store::OverviewQuery> overviewQuery(const Request& req) {
  store::OverviewQuery q;
  if (auto w = param(req.target, "wijk"); w && !w->empty()) q.wijken.push_back(*w);
  if (auto c = param(req.target, "coach"); c && !c->empty()) q.assignee = *c == "-" ? "" : *c;
  if (auto s = param(req.target, "state"); s && !s->empty()) {
    v1::CaseState state{};
    if (!v1::CaseState_Parse(*s, &state)) {
      return Status(ErrorCode::kInvalidArgument, "unknown case state " + *s, "state");
    }
    q.state = static_cast<CaseState>(state);
  }
  if (auto c = param(req.target, "category")) q.category = *c;
  q.overdue_only = param(req.target, "overdue").value_or("") == "1";
  q.limit = 200;
  if (auto l = param(req.target, "limit"); l && !l->empty()) {
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
    if (ec != std::errc() || end != l->data() + l->size() || n == 0 || n > 1000) {
      return Status(ErrorCode::kInvalidArgument, "limit must be 1 to 1000", "limit");
    }
    q.limit = n;
  }
  return q;
}

Result<ReportQuery> reportQuery(const Request& req) {
  std::vector<std::string> wijken;
  if (auto w = param(req.target, "wijk"); w && !w->empty()) wijken.push_back(*w);
  return reportQueryForDays(param(req.target, "from").value_or(""),
                            param(req.target, "to").value_or(""), wijken);
}

/// A long poll: answers once, when the engine wakes the waiter or at the deadline.
void events(Engine& engine, const Scheduler& schedule, const ConsoleSession& session,
            const Request& req, Done done) {
  std::uint64_t after = 0;
  const std::string a = param(req.target, "after").value_or("0");
  const auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), after);
  if (ec != std::errc() || end != a.data() + a.size()) {
    return done(failed(Status(ErrorCode::kInvalidArgument, "after must be a number", "after")));
  }
  struct Poll {
    std::atomic<bool> answered{false};
    std::atomic<std::uint64_t> ticket{0};
    Done done;
  };
  auto poll = std::make_shared<Poll>();
  poll->done = std::move(done);
  auto finish = [&engine, poll](bool changed) {
    if (poll->answered.exchange(true)) return;
    v1::EventsResponse r;
    r.set_seq(engine.lastSeq());
    r.set_changed(changed);
    poll->done(json(r));
  };
  poll->ticket =
      engine.waitForChange(after, session.principal, [finish](bool changed) { finish(changed); });
  schedule(kEventsWait, [&engine, poll, finish] {
    if (poll->answered.load()) return;
    engine.cancelWait(poll->ticket.load());
    finish(false);
  });
}

}  // namespace

void addConsoleApi(ConsoleRoutes& routes, Engine& engine, const Scheduler& schedule) {
  const std::string p(ConsoleRoutes::kPrefix);
  using A = ConsoleAccess;
  Engine* e = &engine;

  // --- the coordinator's pages ---------------------------------------------------------------
  routes.add("GET", p + "reference", A::kAnyConsoleRole,
             [e](const ConsoleSession& s, const Request&, const Done& done) {
               Result<v1::ReferenceData> r = e->consoleReference(s.principal);
               if (r.ok()) {
                 r->clear_resolution_codes();
                 for (const ResolutionCode& c : resolutionCodes()) {
                   v1::ResolutionCode& rc = *r->add_resolution_codes();
                   rc.set_code(std::string(c.code));
                   rc.set_label(std::string(c.label));
                   rc.set_by_hand(c.by_hand);
                 }
               }
               done(answer(r));
             });
  routes.add("GET", p + "queue", A::kCoordinator,
             [e](const ConsoleSession& s, const Request& req, const Done& done) {
               done(answer(e->consoleQueue(s.principal, param(req.target, "wijk").value_or(""),
                                           RequestContext{req.peer})));
             });
  routes.add("GET", p + "overview", A::kCoordinator,
             [e](const ConsoleSession& s, const Request& req, const Done& done) {
               Result<store::OverviewQuery> q = overviewQuery(req);
               if (!q.ok()) return done(failed(q.status()));
               done(answer(e->consoleOverview(s.principal, *q)));
             });
  routes.add("GET", p + "cases/", A::kCoordinator,
             [e, p](const ConsoleSession& s, const Request& req, const Done& done) {
               done(answer(e->consoleCase(s.principal, tail(req.target, p + "cases/"),
                                          RequestContext{req.peer})));
             });
  routes.add("GET", p + "conflicts", A::kCoordinator,
             [e](const ConsoleSession& s, const Request& req, const Done& done) {
               done(answer(e->consoleConflicts(s.principal, RequestContext{req.peer})));
             });
  routes.add("POST", p + "act", A::kCoordinator,
             [e](const ConsoleSession& s, const Request& req, const Done& done) {
               v1::ConsoleAction action;
               if (!body(req, action, done)) return;
               e->consoleAct(s.principal, action, RequestContext{req.peer},
                             [done](const Result<v1::ActionResult>& r) { done(answer(r)); });
             });
  routes.add("GET", p + "events", A::kCoordinator,
             [e, schedule](const ConsoleSession& s, const Request& req, const Done& done) {
               events(*e, schedule, s, req, done);
             });
  routes.add("GET", p + "report", A::kCoordinator,
             [e](const ConsoleSession& s, const Request& req, const Done& done) {
               Result<ReportQuery> q = reportQuery(req);
               if (!q.ok()) return done(failed(q.status()));
               Result<Report> r = e->report(s.principal, *q);
               if (!r.ok()) return done(failed(r.status()));
               const bool csv = req.target.starts_with("/v1/console/report.csv");
               if (!csv) return done(json(toProto(*r)));
               Response out{200, "text/csv; charset=utf-8", reportCsv(*r)};
               out.headers.emplace_back("Content-Disposition",
                                        "attachment; filename=\"rapportage.csv\"");
               ConsoleRoutes::addSecurityHeaders(out, true);
               done(std::move(out));
             });

  // --- beheer (admins: no case content) ----------------------------------------------------
  routes.add("GET", p + "admin/workers", A::kAdmin,
             [e](const ConsoleSession&, const Request&, const Done& done) {
               Result<std::vector<Worker>> ws = e->workers();
               if (!ws.ok()) return done(failed(ws.status()));
               v1::WorkersResponse out;
               for (const Worker& w : *ws) wire::toProto(w, *out.add_workers());
               done(json(out));
             });
  routes.add("POST", p + "admin/workers", A::kAdmin,
             [e](const ConsoleSession&, const Request& req, const Done& done) {
               v1::WorkerRequest m;
               if (!body(req, m, done)) return;
               Result<Worker> w = wire::fromProto(m.worker());
               done(w.ok() ? answer(e->addWorker(*w)) : failed(w.status()));
             });
  routes.add("POST", p + "admin/deactivate", A::kAdmin,
             [e](const ConsoleSession&, const Request& req, const Done& done) {
               v1::WorkerIdRequest m;
               if (!body(req, m, done)) return;
               done(answer(e->deactivateWorker(m.worker_id())));
             });
  routes.add("POST", p + "admin/unlock", A::kAdmin,
             [e](const ConsoleSession&, const Request& req, const Done& done) {
               v1::WorkerIdRequest m;
               if (!body(req, m, done)) return;
               done(answer(e->unlockConsole(m.worker_id())));
             });
  routes.add("POST", p + "admin/enroll-code", A::kAdmin,
             [e](const ConsoleSession&, const Request& req, const Done& done) {
               v1::WorkerIdRequest m;
               if (!body(req, m, done)) return;
               Result<std::string> code = e->createEnrollmentCode(m.worker_id());
               if (!code.ok()) return done(failed(code.status()));
               v1::EnrollmentCodeResponse out;
               out.set_worker_id(m.worker_id());
               out.set_code(*code);
               done(json(out));
             });
  routes.add("POST", p + "admin/reassign", A::kAdmin,
             [e](const ConsoleSession&, const Request& req, const Done& done) {
               v1::ReassignRequest m;
               if (!body(req, m, done)) return;
               Result<std::vector<std::string>> moved =
                   e->reassignCases(m.from(), m.to(), m.wijk(), m.reason());
               if (!moved.ok()) return done(failed(moved.status()));
               v1::ReassignResponse out;
               out.set_moved(static_cast<std::uint32_t>(moved->size()));
               done(json(out));
             });
  routes.add("GET", p + "admin/devices", A::kAdmin,
             [e](const ConsoleSession&, const Request&, const Done& done) {
               Result<std::vector<DeviceInfo>> ds = e->devices();
               if (!ds.ok()) return done(failed(ds.status()));
               v1::DevicesResponse out;
               for (const DeviceInfo& d : *ds) {
                 v1::DeviceRow& row = *out.add_devices();
                 row.set_id(d.id);
                 row.set_worker_id(d.worker_id);
                 row.set_name(d.name);
                 row.set_revoked(d.revoked);
                 row.set_created_ms(d.created_ms);
                 row.set_last_seen_ms(d.last_seen_ms);
               }
               done(json(out));
             });
  routes.add("POST", p + "admin/revoke", A::kAdmin,
             [e](const ConsoleSession&, const Request& req, const Done& done) {
               v1::RevokeRequest m;
               if (!body(req, m, done)) return;
               done(answer(e->revokeDevice(m.device_id())));
             });
  routes.add("GET", p + "admin/categories", A::kAdmin,
             [e](const ConsoleSession&, const Request&, const Done& done) {
               Result<std::vector<Category>> cs = e->categories();
               if (!cs.ok()) return done(failed(cs.status()));
               v1::CategoriesResponse out;
               for (const Category& c : *cs) wire::toProto(c, *out.add_categories());
               done(json(out));
             });
  routes.add("POST", p + "admin/categories", A::kAdmin,
             [e](const ConsoleSession&, const Request& req, const Done& done) {
               v1::CategoryRequest m;
               if (!body(req, m, done)) return;
               Result<Category> c = wire::fromProto(m.category());
               done(c.ok() ? answer(e->setCategory(*c)) : failed(c.status()));
             });
  routes.add("GET", p + "admin/wijken", A::kAdmin,
             [e](const ConsoleSession&, const Request&, const Done& done) {
               Result<std::vector<Wijk>> ws = e->wijken();
               if (!ws.ok()) return done(failed(ws.status()));
               v1::WijkenResponse out;
               for (const Wijk& w : *ws) {
                 v1::Wijk& row = *out.add_wijken();
                 row.set_code(w.code);
                 row.set_name(w.name);
               }
               done(json(out));
             });
  routes.add("POST", p + "admin/wijken", A::kAdmin,
             [e](const ConsoleSession&, const Request& req, const Done& done) {
               v1::WijkRequest m;
               if (!body(req, m, done)) return;
               done(answer(e->addWijk(Wijk{m.wijk().code(), m.wijk().name()})));
             });
}

}  // namespace eropaf::server
