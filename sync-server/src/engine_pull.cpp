// The sync engine, pull.
//
// Pull: a page of records changed since the cursor, each shown as the principal may see it
// (scope.hpp). Scope changes since the cursor turn into whole records with children (entered)
// or evictions (left). Nothing about a record outside the principal's scope is sent.
//
// Also here: the sealed cursors (a device can neither read nor choose one) and the reference
// data (wijken, categories, colleagues) built once per reference version and set of wijken.
#include <sodium.h>

#include <cstring>

#include "engine_impl.hpp"
#include "eropaf/resolution.hpp"
#include "scope.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::server {
namespace {

using detail::Cursor;
using detail::inWijk;

constexpr std::uint32_t kDefaultPage = 500;

std::string hashHex(std::string_view text) {
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                     nullptr, 0);
  char hex[2 * sizeof h + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string(hex, 2 * sizeof h);
}

// The scope fingerprint a cursor carries: a change of role or wijken invalidates cursors.
std::string scopeFingerprint(const Worker& w) {
  std::vector<std::string> wijken = w.wijken;
  std::sort(wijken.begin(), wijken.end());
  std::string s =
      w.id + "|" + std::to_string(static_cast<int>(w.role)) + "|" + (w.active ? "1" : "0");
  for (const auto& x : wijken) s += "|" + x;
  return hashHex(s).substr(0, 12);
}

// The cursor's plain form "<seq>.<scope>.<reference version>.<complete 0|1>"; on the wire it is
// sealed (see Impl::sealCursor), so a device can neither read nor choose it. A cursor sealed
// before the last part existed reads as not complete.
Cursor parseCursorText(std::string_view text) {
  Cursor c;
  const auto p1 = text.find('.');
  const auto p2 = p1 == std::string_view::npos ? p1 : text.find('.', p1 + 1);
  if (p2 == std::string_view::npos) return c;
  const auto p3 = text.find('.', p2 + 1);
  try {
    c.seq = std::stoull(std::string(text.substr(0, p1)));
    c.scope = std::string(text.substr(p1 + 1, p2 - p1 - 1));
    c.ref = std::stoull(std::string(text.substr(p2 + 1, p3 - p2 - 1)));
  } catch (...) {
    return Cursor{};
  }
  c.complete = p3 != std::string_view::npos && text.substr(p3 + 1) == "1";
  c.valid = true;
  return c;
}

std::string cursorText(std::uint64_t seq, const std::string& scope, std::uint64_t ref,
                       bool complete) {
  return std::to_string(seq) + "." + scope + "." + std::to_string(ref) + "." +
         (complete ? "1" : "0");
}

}  // namespace

std::string Engine::Impl::sealCursor(std::uint64_t seq, const std::string& scope, std::uint64_t ref,
                                     bool complete) const {
  const std::string plain = cursorText(seq, scope, ref, complete);
  const std::string box = aeadSeal(cursor_key, "", plain);
  const auto* out = reinterpret_cast<const unsigned char*>(box.data());
  std::string b64(sodium_base64_ENCODED_LEN(box.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(b64.data(), b64.size(), out, box.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(std::strlen(b64.c_str()));
  return "c2." + b64;
}

std::string aeadSeal(const std::string& key, std::string_view ad, std::string_view plain) {
  std::string box(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plain.size() +
                      crypto_aead_xchacha20poly1305_ietf_ABYTES,
                  '\0');
  auto* out = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(out, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &len,
      reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, out,
      reinterpret_cast<const unsigned char*>(key.data()));
  return box;
}

std::optional<std::string> aeadOpen(const std::string& key, std::string_view ad,
                                    std::string_view box) {
  constexpr std::size_t kOverhead =
      crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (box.size() < kOverhead) return std::nullopt;
  std::string plain(box.size() - kOverhead, '\0');
  unsigned long long len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(box.data());
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &len, nullptr,
          in + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
          box.size() - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), in,
          reinterpret_cast<const unsigned char*>(key.data())) != 0) {
    return std::nullopt;
  }
  plain.resize(static_cast<std::size_t>(len));
  return plain;
}

Cursor Engine::Impl::openCursor(std::string_view text) const {
  if (text.substr(0, 3) != "c2." || text.size() > 512) return {};
  text.remove_prefix(3);
  std::string box(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), text.data(),
                        text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      len < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return {};
  }
  box.resize(len);
  const std::optional<std::string> plain = aeadOpen(cursor_key, "", box);
  if (!plain) return {};
  return parseCursorText(*plain);
}

Status Engine::Impl::fillReference(StoreSession& s, const Worker& w, v1::ReferenceData& ref) {
  Result<std::uint64_t> fresh = freshRefVersion(s);
  if (!fresh.ok()) return fresh.status();
  std::lock_guard lock(ref_mu);
  const std::uint64_t version = *fresh;
  if (ref_built_for != version) {
    Result<std::vector<Worker>> workers = s.workers();
    if (!workers.ok()) return workers.status();
    Result<std::vector<Wijk>> wijken = s.wijken();
    if (!wijken.ok()) return wijken.status();
    Result<std::vector<Category>> cats = s.categories();
    if (!cats.ok()) return cats.status();
    ref_workers = std::move(workers).value();
    ref_common.Clear();
    for (const Wijk& x : *wijken) {
      v1::Wijk* out = ref_common.add_wijken();
      out->set_code(x.code);
      out->set_name(x.name);
    }
    for (const Category& c : *cats) wire::toProto(c, *ref_common.add_categories());
    for (const ResolutionCode& r : resolutionCodes()) {
      v1::ResolutionCode* out = ref_common.add_resolution_codes();
      out->set_code(std::string(r.code));
      out->set_label(std::string(r.label));
      out->set_by_hand(r.by_hand);
    }
    ref_by_wijken.clear();
    ref_built_for = version;
  }
  std::vector<std::string> key_parts = w.wijken;
  std::sort(key_parts.begin(), key_parts.end());
  std::string key;
  for (const auto& k : key_parts) key += k + ",";
  auto it = ref_by_wijken.find(key);
  if (it == ref_by_wijken.end()) {
    v1::ReferenceData built = ref_common;
    // Colleagues of the same wijken, by name and role: whom to assign, who did what.
    for (const Worker& other : ref_workers) {
      const bool shared = std::any_of(other.wijken.begin(), other.wijken.end(),
                                      [&](const std::string& x) { return inWijk(w, x); });
      if (shared) wire::toProto(other, *built.add_workers());
    }
    it = ref_by_wijken.emplace(key, std::move(built)).first;
  }
  ref = it->second;
  const bool has_self = std::any_of(ref.workers().begin(), ref.workers().end(),
                                    [&](const v1::Worker& x) { return x.id() == w.id; });
  if (!has_self) wire::toProto(w, *ref.add_workers());
  return {};
}

Result<Engine::Impl::Page> Engine::Impl::buildPage(const Principal& p, const v1::PullRequest& req) {
  ++c_pulls;
  Page page;
  v1::PullResponse& resp = page.resp;
  const Worker& w = p.worker;
  const std::string scope = scopeFingerprint(w);
  Cursor cursor = openCursor(req.cursor());
  const bool reset = !req.cursor().empty() && (!cursor.valid || cursor.scope != scope);
  const std::uint64_t after = reset ? 0 : cursor.seq;
  const bool holds_all = !req.cursor().empty() && !reset && cursor.complete;
  const std::uint32_t want = req.max_records() == 0 ? kDefaultPage : req.max_records();
  const std::size_t limit = std::clamp<std::uint32_t>(want, 1, opts.max_page_records);

  Result<Lease> lease = borrow();
  if (!lease.ok()) return lease.status();
  StoreSession& s = *lease->s;
  EROPAF_RETURN_IF_ERROR(s.begin(false));
  // The reference version as this snapshot has it: another process (`eropaf-server admin`) may
  // have changed the reference data since the watcher last looked, and a page must not carry,
  // or claim to be current with, reference data older than the records beside it.
  Result<std::uint64_t> fresh_ref = freshRefVersion(s);
  if (!fresh_ref.ok()) return fresh_ref.status();
  const std::uint64_t ref_now = *fresh_ref;
  EndRead end_read{s};

  // Candidates through the index columns; scope.hpp then decides exactly. The snapshot's
  // last sequence bounds the page when fewer rows match than the limit.
  StoreSession::ScanFilter filter;
  filter.owner = w.id;
  if (w.role == Role::kCoordinator) {
    filter.wijken = w.wijken;
  } else if (w.role == Role::kWijkcoach) {
    filter.wijken = w.wijken;
    filter.wijk_cases_only = true;
    filter.children_of_owned_cases = true;
  }
  Result<std::uint64_t> snapshot_last = s.lastSeq();
  if (!snapshot_last.ok()) return snapshot_last.status();
  Result<std::vector<StoredRecord>> rows = s.scanFor(after, limit, filter);
  if (!rows.ok()) return rows.status();
  const bool full_page = rows->size() == limit;
  const std::uint64_t upto = full_page ? rows->back().seq : std::max(after, *snapshot_last);
  const std::vector<std::string> mine = audiencesOf(w);
  Result<std::vector<ScopeChange>> changes = s.scopeChanges(after, upto, mine);
  if (!changes.ok()) return changes.status();
  std::map<std::string, std::optional<Case>> case_cache;
  auto caseById = [&](const std::string& id) -> Result<const Case*> {
    if (id.empty()) return static_cast<const Case*>(nullptr);
    auto it = case_cache.find(id);
    if (it == case_cache.end()) {
      Result<std::optional<Case>> c = loadCase(s, id);
      if (!c.ok()) return c.status();
      it = case_cache.emplace(id, std::move(c).value()).first;
    }
    return it->second ? &*it->second : nullptr;
  };
  auto parentOf = [&](const Record& r) -> Result<const Case*> {
    if (const auto* sig = std::get_if<Signal>(&r)) return caseById(sig->case_id.value);
    if (const auto* m = std::get_if<ContactMoment>(&r)) return caseById(m->case_id);
    if (const auto* t = std::get_if<Transition>(&r)) return caseById(t->case_id);
    return static_cast<const Case*>(nullptr);
  };
  // Link ids are sent only when the principal sees what they point at — a case whole: a
  // case that enters their scope whole comes with its linked signals, so a link stripped
  // before is sent then (a redacted queue case never brings its signals along).
  auto seesCase = [&](const std::string& id) -> Result<bool> {
    Result<const Case*> c = caseById(id);
    if (!c.ok()) return c.status();
    return *c != nullptr && viewOf(w, **c, nullptr) == View::kFull;
  };
  auto seesSignal = [&](const std::string& id) -> Result<bool> {
    Result<std::optional<StoredRecord>> r = s.getRecord(id);
    if (!r.ok()) return r.status();
    if (!r->has_value() || !std::holds_alternative<Signal>((*r)->record)) return false;
    Result<const Case*> parent = parentOf((*r)->record);
    if (!parent.ok()) return parent.status();
    return viewOf(w, (*r)->record, *parent) != View::kNone;
  };
  auto stripLinks = [&](Record& r) -> Status {
    if (auto* sig = std::get_if<Signal>(&r)) {
      if (!sig->case_id.value.empty()) {
        Result<bool> ok = seesCase(sig->case_id.value);
        if (!ok.ok()) return ok.status();
        if (!*ok) sig->case_id = {};
      }
      if (!sig->duplicate_of.value.empty()) {
        Result<bool> ok = seesSignal(sig->duplicate_of.value);
        if (!ok.ok()) return ok.status();
        if (!*ok) sig->duplicate_of = {};
      }
    } else if (auto* c = std::get_if<Case>(&r); c && !c->merged_into.value.empty()) {
      Result<bool> ok = seesCase(c->merged_into.value);
      if (!ok.ok()) return ok.status();
      if (!*ok) c->merged_into = {};
    }
    return {};
  };
  std::set<std::string> sent, evicted;
  auto send = [&](const Record& r, View view) -> Status {
    if (!sent.insert(recordId(r)).second) return {};
    Record out = view == View::kRedacted ? redact(r) : r;
    // Why a signal was rejected may name others: coordinators only, also for a reporting coach.
    if (auto* sig = std::get_if<Signal>(&out); sig && w.role != Role::kCoordinator) {
      sig->triage_reason = {};
    }
    EROPAF_RETURN_IF_ERROR(stripLinks(out));
    wire::toProto(out, *resp.add_records());
    ++c_sent;
    if (view == View::kFull) {
      page.reads.push_back({now(), "pull:" + std::string(toString(recordKind(r))), recordId(r),
                            householdOf(r), w.id, "", p.device_id, std::string(toString(w.role)),
                            ""});
    }
    return {};
  };
  // The device's own push, stored exactly as it sent it: it holds it already, unless it
  // dropped its records for a reset and has not caught up since (then `holds_all` is false).
  // Any write by someone else, and every change of who sees a case, rewrites the row and
  // clears the mark; so a record marked as this device's has never left the device.
  auto isEcho = [&](const StoredRecord& row) {
    return holds_all && row.echo_device == p.device_id;
  };
  // A case entering whole brings its children. When the case itself is this device's own
  // push, the device has held it since it made it, and with it its own children.
  auto sendWithChildren = [&](const Case& c, bool case_is_echo) -> Status {
    Result<std::vector<StoredRecord>> kids = s.children(c.id);
    if (!kids.ok()) return kids.status();
    for (const StoredRecord& k : *kids) {
      if (case_is_echo && isEcho(k)) continue;
      const View kv = viewOf(w, k.record, &c);
      if (kv != View::kNone) EROPAF_RETURN_IF_ERROR(send(k.record, kv));
    }
    return {};
  };

  // Scope changes in this page's range, judged by each record's CURRENT state (its row may
  // sit on a later page): left → eviction (then the redacted view, if any); entered whole →
  // the record with its children.
  // A record that left in this range and came back after it is, by the scope history at the
  // page's end (what the next cursor knows), not held: it is treated as gone for this page and
  // comes back whole with its re-entry on a later page (`deferred`: also its rows and its
  // children's below).
  std::set<std::string> scoped, deferred;
  for (const ScopeChange& c : *changes) scoped.insert(c.record_id);
  for (const std::string& id : scoped) {
    Result<std::optional<StoredRecord>> cur = s.getRecord(id);
    if (!cur.ok()) return cur.status();
    if (!cur->has_value()) continue;
    const Record& r = (*cur)->record;
    Result<const Case*> parent = parentOf(r);
    if (!parent.ok()) return parent.status();
    View view = viewOf(w, r, *parent);
    bool left = false, entered_full = false;
    for (const ScopeChange& c : *changes) {
      if (c.record_id != id) continue;
      left = left || !c.entered;
      entered_full = entered_full || (c.entered && c.audience[0] != 'q');
    }
    if (left && view != View::kNone) {
      Result<bool> held_at_end = s.heldAt(id, mine, upto);
      if (!held_at_end.ok()) return held_at_end.status();
      if (!*held_at_end) {
        view = View::kNone;
        deferred.insert(id);
      }
    }
    if (left && view != View::kFull && !evicted.count(id)) {
      // Evict only what the device held at its cursor: never name a record it was not sent.
      Result<bool> held = after == 0 ? Result<bool>(false) : s.heldAt(id, mine, after);
      if (!held.ok()) return held.status();
      if (*held) {
        evicted.insert(id);
        resp.add_evictions()->set_record_id(id);
      }
    }
    if (view == View::kNone) continue;
    const bool echo = isEcho(**cur);
    if (echo) {
      sent.insert(id);
    } else {
      EROPAF_RETURN_IF_ERROR(send(r, view));
    }
    if (const auto* c = std::get_if<Case>(&r); c && view == View::kFull && entered_full) {
      EROPAF_RETURN_IF_ERROR(sendWithChildren(*c, echo));
    }
  }
  for (const StoredRecord& row : *rows) {
    const Record& r = row.record;
    if (sent.count(recordId(r)) != 0 || deferred.count(recordId(r)) != 0 || isEcho(row)) continue;
    Result<const Case*> parent = parentOf(r);
    if (!parent.ok()) return parent.status();
    if (*parent != nullptr && deferred.count((*parent)->id) != 0) continue;  // with its case
    const View view = viewOf(w, r, *parent);
    if (view != View::kNone) EROPAF_RETURN_IF_ERROR(send(r, view));
  }
  page.upto = upto;
  resp.set_next_cursor(sealCursor(upto, scope, ref_now, holds_all || !full_page));
  resp.set_more(full_page);
  resp.set_reset(reset);
  if (req.cursor().empty() || reset || cursor.ref != ref_now) {
    EROPAF_RETURN_IF_ERROR(fillReference(s, w, *resp.mutable_reference()));
  }
  wire::toProto(serverVersion(), *resp.mutable_server_version());
  return page;
}

void Engine::Impl::pull(const Principal& p, const v1::PullRequest& req, PullDone done) {
  Result<Page> built = buildPage(p, req);
  if (!built.ok()) return done(built.status());
  auto page = std::make_shared<Page>(std::move(built).value());
  // Nothing read in full (an empty page, evictions, redacted records): nothing to log, and
  // the served marks may lag (they only bound how old a change may claim to be).
  // A device's first non-empty page is always marked: where its queue history starts.
  const v1::PullResponse& r = page->resp;
  const bool first_page =
      p.first_served_seq == 0 && (r.records_size() > 0 || r.evictions_size() > 0 || r.reset());
  if (page->reads.empty() && !first_page) return done(std::move(page->resp));
  auto shared_done = std::make_shared<PullDone>(std::move(done));
  const std::string device = p.device_id;
  // The served marks bound how old a change may claim to be (30 days): raising them once an
  // hour is enough, and spares the writer an UPDATE per pull.
  const bool mark =
      first_page || page->resp.server_version().hlc() > p.served_hlc + hlcPack(3600LL * 1000, 0);
  const bool queued =
      enqueue(Job{[page, device, mark](StoreSession& s) -> Status {
                    // Revoked while the page was built: it does not leave (the pull answers 403).
                    Result<std::optional<std::pair<DeviceInfo, std::string>>> dev =
                        s.device(device);
                    if (!dev.ok()) return dev.status();
                    if (!dev->has_value() || (*dev)->first.revoked) {
                      return Status(ErrorCode::kDeviceRevoked,
                                    "this device was revoked; its data must be wiped");
                    }
                    for (const AccessEntry& e : page->reads)
                      EROPAF_RETURN_IF_ERROR(s.appendAccess(e));
                    if (!mark) return {};
                    return s.markServed(device, page->upto, page->resp.server_version().hlc());
                  },
                  [page, shared_done](const Status& st) {
                    if (st.ok()) {
                      (*shared_done)(std::move(page->resp));
                    } else {
                      (*shared_done)(st);
                    }
                  }});
  if (!queued) (*shared_done)(Status(ErrorCode::kUnavailable, "the server is stopping"));
}

}  // namespace eropaf::server
