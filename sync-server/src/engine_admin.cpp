// The sync engine, enrollment and admin (functioneel beheer): device tokens (a one-time
// enrollment code becomes a device and its token; a token becomes a Principal), wijken,
// workers, enrollment codes, devices and their revocation, and the access log.
//
// Secrets are kept only as hashes: enrollment codes and device secrets are compared by hash,
// a token in constant time. Changes that alter what a device may see wake its long polls, so
// they re-authenticate before they answer.
#include <sodium.h>

#include <cctype>

#include "engine_impl.hpp"
#include "eropaf/id.hpp"
#include "eropaf/norms.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

std::string secretHash(std::string_view text) {
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return out;
}

}  // namespace

Result<Principal> Engine::authenticate(std::string_view token) {
  const Status bad(ErrorCode::kUnauthenticated, "the device token is missing or not valid");
  const auto dot = token.find('.');
  if (token.empty() || dot == std::string_view::npos || token.size() > 512) return bad;
  const std::string_view device_id = token.substr(0, dot);
  const std::string_view secret = token.substr(dot + 1);
  if (!isValidUuid(device_id)) return bad;
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  Result<std::optional<std::pair<DeviceInfo, std::string>>> dev = lease->s->device(device_id);
  if (!dev.ok()) return dev.status();
  const std::string presented = secretHash(secret);
  // Compare even for an unknown device, so timing does not tell which ids exist.
  const std::string stored = dev->has_value() ? (*dev)->second : std::string(32, '\0');
  const bool match = stored.size() == presented.size() &&
                     sodium_memcmp(stored.data(), presented.data(), presented.size()) == 0;
  if (!dev->has_value() || !match) return bad;
  if ((*dev)->first.revoked) {
    return Status(ErrorCode::kDeviceRevoked, "this device was revoked; its data must be wiped");
  }
  Result<std::optional<Worker>> worker = lease->s->worker((*dev)->first.worker_id);
  if (!worker.ok()) return worker.status();
  if (!worker->has_value() || !(*worker)->active) return bad;
  return Principal{std::string(device_id), std::move(**worker), (*dev)->first.served_seq,
                   (*dev)->first.served_hlc, (*dev)->first.first_served_seq};
}

static Status checkDeviceName(std::string_view name);  // at the end of this file

void Engine::enroll(const v1::EnrollRequest& request, EnrollDone done) {
  std::string code;
  for (const char c : request.code()) {
    if (c == '-' || c == ' ') continue;
    code.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (code.empty() || code.size() > 64) {
    done(Status(ErrorCode::kInvalidArgument, "the enrollment code is missing", "code"));
    return;
  }
  if (Status st = checkText("device_name", request.device_name(), kMaxShortBytes, false);
      !st.ok()) {
    done(st);
    return;
  }
  if (Status st = checkDeviceName(request.device_name()); !st.ok()) {
    done(st);
    return;
  }
  Impl* impl = impl_.get();
  {
    // A read-only look-up first, on a pooled reader: a wrong code costs no write transaction.
    Result<Impl::Lease> lease = impl->borrow();
    if (!lease.ok()) return done(lease.status());
    Result<std::optional<std::string>> known =
        lease->s->findEnrollmentCode(secretHash(code), impl->now());
    if (!known.ok()) return done(known.status());
    if (!known->has_value()) {
      return done(Status(ErrorCode::kUnauthenticated,
                         "the enrollment code is unknown, used or expired", "code"));
    }
  }
  auto resp = std::make_shared<v1::EnrollResponse>();
  auto name = std::make_shared<std::string>(request.device_name());
  auto shared_done = std::make_shared<EnrollDone>(std::move(done));
  const bool queued = impl->enqueue(Impl::Job{
      [impl, code, resp, name](StoreSession& s) -> Status {
        const std::int64_t now = impl->now();
        Result<std::optional<std::string>> worker_id = s.useEnrollmentCode(secretHash(code), now);
        if (!worker_id.ok()) return worker_id.status();
        Status bad(ErrorCode::kUnauthenticated, "the enrollment code is unknown, used or expired",
                   "code");
        if (!worker_id->has_value()) return bad;
        Result<std::optional<Worker>> worker = s.worker(**worker_id);
        if (!worker.ok()) return worker.status();
        if (!worker->has_value() || !(*worker)->active) return bad;
        unsigned char secret[32];
        randombytes_buf(secret, sizeof secret);
        char hex[2 * sizeof secret + 1];
        sodium_bin2hex(hex, sizeof hex, secret, sizeof secret);
        const std::string secret_hex(hex, 2 * sizeof secret);
        DeviceInfo d{newUuidV7(now), (*worker)->id, *name, false, now, now};
        EROPAF_RETURN_IF_ERROR(s.addDevice(d, secretHash(secret_hex)));
        resp->set_device_id(d.id);
        resp->set_token(d.id + "." + secret_hex);
        wire::toProto(**worker, *resp->mutable_worker());
        EROPAF_RETURN_IF_ERROR(impl->fillReference(s, **worker, *resp->mutable_reference()));
        return s.appendAccess({now, "enroll", "", "", (*worker)->id, "", d.id,
                               std::string(toString((*worker)->role)), ""});
      },
      [resp, shared_done](const Status& st) {
        if (st.ok()) {
          (*shared_done)(std::move(*resp));
        } else {
          (*shared_done)(st);
        }
      }});
  if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

Status Engine::addWijk(const Wijk& wijk) {
  if (!isValidWijkCode(wijk.code)) {
    return Status(ErrorCode::kInvalidArgument, "not a CBS wijk code like WK015301", "code");
  }
  EROPAF_RETURN_IF_ERROR(checkText("name", wijk.name, kMaxShortBytes, true));
  Impl* impl = impl_.get();
  Result<bool> r = impl->runBlocking<bool>([impl, wijk](StoreSession& s) -> Result<bool> {
    EROPAF_RETURN_IF_ERROR(s.putWijk(wijk));
    const std::uint64_t v = impl->ref_version.load() + 1;
    EROPAF_RETURN_IF_ERROR(s.setMeta("reference_version", std::to_string(v)));
    impl->ref_version = v;
    return true;
  });
  return r.status();
}

Status Engine::addWorker(const Worker& worker) {
  if (!isValidWorkerId(worker.id)) {
    return Status(ErrorCode::kInvalidArgument, "worker id must be 1-64 of a-z 0-9 . _ -", "id");
  }
  EROPAF_RETURN_IF_ERROR(checkText("name", worker.name, kMaxShortBytes, true));
  if (worker.role == Role::kUnspecified || static_cast<int>(worker.role) > 4) {
    return Status(ErrorCode::kInvalidArgument, "role is not a known role", "role");
  }
  Impl* impl = impl_.get();
  Result<bool> r = impl->runBlocking<bool>([impl, worker](StoreSession& s) -> Result<bool> {
    Result<std::vector<Wijk>> known = s.wijken();
    if (!known.ok()) return known.status();
    for (const auto& w : worker.wijken) {
      const bool found =
          std::any_of(known->begin(), known->end(), [&](const Wijk& k) { return k.code == w; });
      if (!found) {
        return Status(ErrorCode::kNotFound, "wijk " + w + " is unknown: add it first", "wijken");
      }
    }
    EROPAF_RETURN_IF_ERROR(s.putWorker(worker));
    const std::uint64_t v = impl->ref_version.load() + 1;
    EROPAF_RETURN_IF_ERROR(s.setMeta("reference_version", std::to_string(v)));
    impl->ref_version = v;
    return true;
  });
  if (r.ok()) impl->wakeWho({}, worker.id);  // a changed role or wijk applies at once
  return r.status();
}

Result<std::string> Engine::createEnrollmentCode(std::string_view worker_id) {
  static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";  // no 0/O, 1/I
  std::string code;
  for (int i = 0; i < 12; ++i) {
    if (i > 0 && i % 4 == 0) code.push_back('-');
    code.push_back(kAlphabet[randombytes_uniform(32)]);
  }
  std::string plain;
  for (char c : code) {
    if (c != '-') plain.push_back(c);
  }
  Impl* impl = impl_.get();
  const std::string id(worker_id);
  Result<bool> r = impl->runBlocking<bool>([impl, id, plain](StoreSession& s) -> Result<bool> {
    Result<std::optional<Worker>> w = s.worker(id);
    if (!w.ok()) return w.status();
    if (!w->has_value()) return Status(ErrorCode::kNotFound, "no worker " + id, "worker_id");
    EROPAF_RETURN_IF_ERROR(s.addEnrollmentCode(secretHash(plain), id,
                                               impl->now() + impl->opts.enrollment_code_ttl_ms));
    EROPAF_RETURN_IF_ERROR(
        s.appendAccess({impl->now(), "enrollment_code", "", "", "", id, "", "", ""}));
    return true;
  });
  if (!r.ok()) return r.status();
  return code;
}

Result<std::vector<DeviceInfo>> Engine::devices() {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  return lease->s->devices();
}

Status Engine::revokeDevice(std::string_view device_id) {
  Impl* impl = impl_.get();
  const std::string id(device_id);
  Result<bool> r = impl->runBlocking<bool>([impl, id](StoreSession& s) -> Result<bool> {
    EROPAF_RETURN_IF_ERROR(s.revokeDevice(id));
    EROPAF_RETURN_IF_ERROR(s.deleteConsoleSessions("", id));  // a console's sessions end at once
    EROPAF_RETURN_IF_ERROR(impl->bumpAdminVersion(s));
    EROPAF_RETURN_IF_ERROR(s.appendAccess({impl->now(), "revoke", "", "", "", "", id, "", ""}));
    return true;
  });
  if (r.ok()) impl->wakeWho(id, {});  // its waiting long polls re-authenticate: 403
  return r.status();
}

Result<std::vector<Worker>> Engine::workers() {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  return lease->s->workers();
}

Result<std::vector<Wijk>> Engine::wijken() {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  return lease->s->wijken();
}

Result<std::vector<AccessEntry>> Engine::accessLog(std::size_t limit) {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  return lease->s->accessLog(limit);
}

Result<std::vector<Category>> Engine::categories() {
  Result<Impl::Lease> lease = impl_->borrow();
  if (!lease.ok()) return lease.status();
  return lease->s->categories();
}

namespace {

bool isCategoryCode(std::string_view code) {
  if (code.empty() || code.size() > 64 || code[0] < 'a' || code[0] > 'z') return false;
  return std::all_of(code.begin(), code.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

Status Engine::setCategory(const Category& category) {
  if (!isCategoryCode(category.code)) {
    return Status(ErrorCode::kInvalidArgument,
                  "a category code is 1-64 of a-z 0-9 _, starting with a letter", "code");
  }
  EROPAF_RETURN_IF_ERROR(checkText("label", category.label, kMaxShortBytes, true));
  if (category.default_priority == Priority::kUnspecified ||
      !parsePriority(toString(category.default_priority))) {
    return Status(ErrorCode::kInvalidArgument, "priority is acuut, hoog, normaal or laag",
                  "priority");
  }
  EROPAF_RETURN_IF_ERROR(norms::checkNorms(category));
  Impl* impl = impl_.get();
  Result<bool> r = impl->runBlocking<bool>([impl, category](StoreSession& s) -> Result<bool> {
    EROPAF_RETURN_IF_ERROR(s.putCategory(category));
    EROPAF_RETURN_IF_ERROR(
        s.appendAccess({impl->now(), "set-category", "", "", "", "", "", "", ""}));
    const std::uint64_t v = impl->ref_version.load() + 1;
    EROPAF_RETURN_IF_ERROR(s.setMeta("reference_version", std::to_string(v)));
    impl->ref_version = v;
    // The open cases of this category follow the new norms at once (a tighter norm tightens).
    Result<std::vector<std::string>> affected = s.openCasesWithCategory(category.code);
    if (!affected.ok()) return affected.status();
    impl->norms_dirty.insert(affected->begin(), affected->end());
    EROPAF_RETURN_IF_ERROR(impl->flushNorms(s));
    return true;
  });
  return r.status();
}

Status Engine::deactivateWorker(std::string_view worker_id) {
  Impl* impl = impl_.get();
  const std::string id(worker_id);
  Result<std::vector<std::string>> r = impl->runBlocking<
      std::vector<std::string>>([impl, id](StoreSession& s) -> Result<std::vector<std::string>> {
    Result<std::optional<Worker>> w = s.worker(id);
    if (!w.ok()) return w.status();
    if (!w->has_value()) return Status(ErrorCode::kNotFound, "no worker " + id, "worker_id");
    Worker changed = **w;
    changed.active = false;
    EROPAF_RETURN_IF_ERROR(s.putWorker(changed));
    // A leaver's phones hold case content: they are revoked, so each wipes its data on its
    // next request (DESIGN.md "enroll / revoke").
    Result<std::vector<DeviceInfo>> devs = s.devices();
    if (!devs.ok()) return devs.status();
    std::vector<std::string> revoked;
    for (const DeviceInfo& d : *devs) {
      if (d.worker_id != id || d.revoked) continue;
      EROPAF_RETURN_IF_ERROR(s.revokeDevice(d.id));
      EROPAF_RETURN_IF_ERROR(s.appendAccess({impl->now(), "revoke", "", "", "", "", d.id, "", ""}));
      revoked.push_back(d.id);
    }
    EROPAF_RETURN_IF_ERROR(s.deleteConsoleSessions(id, ""));  // console sessions end at once
    EROPAF_RETURN_IF_ERROR(s.appendAccess({impl->now(), "deactivate", "", "", "", id, "", "", ""}));
    const std::uint64_t v = impl->ref_version.load() + 1;
    EROPAF_RETURN_IF_ERROR(s.setMeta("reference_version", std::to_string(v)));
    impl->ref_version = v;
    EROPAF_RETURN_IF_ERROR(impl->bumpAdminVersion(s));
    return revoked;
  });
  if (!r.ok()) return r.status();
  for (const std::string& d : *r) impl->wakeWho(d, {});
  impl->wakeWho({}, id);
  return {};
}

Result<std::vector<std::string>> Engine::reassignCases(std::string_view from, std::string_view to,
                                                       std::string_view wijk,
                                                       std::string_view reason) {
  if (from.empty()) return Status(ErrorCode::kRequiredFieldMissing, "--from is required", "from");
  if (to.empty()) return Status(ErrorCode::kRequiredFieldMissing, "--to is required", "to");
  if (from == to) {
    return Status(ErrorCode::kInvalidArgument, "--from and --to name the same worker", "to");
  }
  if (!wijk.empty() && !isValidWijkCode(wijk)) {
    return Status(ErrorCode::kInvalidArgument, "not a CBS wijk code like WK015301", "wijk");
  }
  EROPAF_RETURN_IF_ERROR(checkText("reason", reason, kMaxReasonBytes, true));
  Impl* impl = impl_.get();
  const std::string f(from), t(to), wk(wijk), why(reason);
  return impl->runBlocking<std::vector<std::string>>(
      [impl, f, t, wk, why](StoreSession& s) -> Result<std::vector<std::string>> {
        Result<std::optional<Worker>> leaver = s.worker(f);
        if (!leaver.ok()) return leaver.status();
        if (!leaver->has_value()) return Status(ErrorCode::kNotFound, "no worker " + f, "from");
        Result<std::optional<Worker>> taker = s.worker(t);
        if (!taker.ok()) return taker.status();
        Result<std::vector<Worker>> all = s.workers();
        if (!all.ok()) return all.status();
        // The leaver's open cases: rows they own, in sequence order.
        std::vector<Case> open;
        std::uint64_t after = 0;
        for (;;) {
          StoreSession::ScanFilter filter;
          filter.owner = f;
          Result<std::vector<StoredRecord>> rows = s.scanFor(after, 1000, filter);
          if (!rows.ok()) return rows.status();
          for (const StoredRecord& row : *rows) {
            after = std::max(after, row.seq);
            const auto* c = std::get_if<Case>(&row.record);
            if (c == nullptr || c->deleted.value || c->assignee.value != f) continue;
            if (!isOpenState(c->state.value)) continue;
            if (!wk.empty() && c->wijk.value != wk) continue;
            open.push_back(*c);
          }
          if (rows->size() < 1000) break;
        }
        // All or nothing: the taker must be valid for every wijk among them.
        std::set<std::string> wijken;
        for (const Case& c : open) wijken.insert(c.wijk.value);
        for (const std::string& x : wijken) {
          Status valid = permissions::mayAssign(t, taker->has_value() ? &**taker : nullptr, x);
          if (!valid.ok()) {
            const std::vector<Worker> ok = permissions::validAssignees(*all, x);
            std::string names;
            for (const Worker& w : ok) {
              if (w.id == f) continue;
              names += (names.empty() ? "" : ", ") + w.id + " (" + w.name + ")";
            }
            std::string refusal = t;
            refusal += " is not an active wijkcoach or coordinator of ";
            refusal += x;
            refusal += ", where ";
            refusal += f;
            refusal += " has open cases; nothing was moved. Valid for ";
            refusal += x;
            refusal += ": ";
            refusal += names.empty() ? std::string("nobody") : names;
            refusal += " (or limit it with --wijk)";
            return Status(ErrorCode::kFailedPrecondition, std::move(refusal), "to");
          }
        }
        // Another process (the running server) may have stamped versions since this engine
        // opened: the history and assignee versions come after them.
        impl->observeStoredHlc(s);
        std::vector<std::string> moved;
        for (Case& c : open) {
          const Record before(c);
          const Version v = impl->serverVersion();
          HistoryEntry e;
          e.id = newUuidV7(impl->now());
          e.version = v;
          e.actor_id = "admin";
          e.at_ms = impl->now();
          e.field = HistoryField::kAssignee;
          e.from = f;
          e.to = t;
          e.reason = why;
          c.history[e.id] = e;
          c.assignee.set(t, v);
          EROPAF_RETURN_IF_ERROR(impl->put(s, c, &before, nullptr));
          EROPAF_RETURN_IF_ERROR(s.appendAccess(
              {impl->now(), "reassign", c.id, impl->householdOf(c), "admin", "", "", "", ""}));
          moved.push_back(c.id);
        }
        EROPAF_RETURN_IF_ERROR(impl->flushNorms(s));
        // A running server's watcher wakes its long polls: the moved cases reach both coaches.
        if (!moved.empty()) EROPAF_RETURN_IF_ERROR(impl->bumpAdminVersion(s));
        return moved;
      });
}

// A device name reaches the admin's terminal (`admin devices`): no C0/C1 control characters
// or DEL, which could move the cursor, clear the screen or rewrite what the admin reads.
static Status checkDeviceName(std::string_view name) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool c1 = c == 0xC2 && i + 1 < name.size() &&
                    static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) {
      return Status(ErrorCode::kInvalidArgument, "device_name must not contain control characters",
                    "device_name");
    }
  }
  return {};
}

}  // namespace eropaf::server
