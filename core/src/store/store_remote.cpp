// The device store, sync: what the sync client applies from the server (applyRemote merges
// server records; evict drops what left the principal's scope), what it learns about its own
// changes (acknowledge, markRefused, restampChange), its sync state and reference data, and
// the reset and wipe paths (dropRecords, wipe).
//
// Every change here is atomic (one transaction, or a single statement): a page or an answer
// is applied whole or not at all.
#include <optional>

#include "eropaf/merge.hpp"
#include "eropaf/state_table.hpp"
#include "eropaf/validate.hpp"
#include "eropaf/wire.hpp"
#include "store/store_impl.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::store {

std::string Store::Impl::indexKey(const Record& r) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Signal>) {
          return x.content.reporter_id + '\x1f' + x.content.wijk + '\x1f' +
                 x.content.household_key + '\x1f' + std::to_string(x.content.observed_at_ms) +
                 '\x1f' + std::to_string(static_cast<int>(x.triage_state.value)) + '\x1f' +
                 x.case_id.value + '\x1f' + std::to_string(x.deleted.value) + '\x1f' +
                 std::to_string(x.case_id.version.hlc);
        } else if constexpr (std::is_same_v<T, Case>) {
          // Everything the index columns show, and every norm input (the norm columns are
          // derived from v3): categories with their versions, the override, the opening.
          std::string cats;
          for (const auto& [code, e] : x.categories) {
            cats +=
                code + ':' + std::to_string(e.present) + ':' + std::to_string(e.version.hlc) + ',';
          }
          return cats + '\x1f' + std::to_string(x.opened_at_ms) + '\x1f' + x.priority_reason.value +
                 '\x1f' + x.wijk.value + '\x1f' + x.household_key.value + '\x1f' +
                 std::to_string(static_cast<int>(x.state.value)) + '\x1f' + x.assignee.value +
                 '\x1f' + std::to_string(static_cast<int>(x.priority.value)) + '\x1f' +
                 std::to_string(x.first_contact_due_ms.value) + '\x1f' +
                 std::to_string(x.first_contact_due_ms.isSet()) + '\x1f' +
                 std::to_string(x.conflict.value) + '\x1f' + std::to_string(x.deleted.value) +
                 '\x1f' + x.merged_into.value;
        } else if constexpr (std::is_same_v<T, ContactMoment>) {
          return x.case_id + '\x1f' + std::to_string(x.at_ms) + '\x1f' +
                 std::to_string(x.deleted.value);
        } else {
          return x.case_id + '\x1f' + std::to_string(x.at_ms);
        }
      },
      r);
}

Status Store::Impl::writeBody(const Record& full) {
  const std::string& id = recordId(full);
  // indexKey() covers every norm input (a case's categories, override and opening; a link's
  // version; a moment's deletion), so a body-only rewrite never changes the norm columns.
  Stmt& s = update_body[static_cast<int>(recordKind(full)) - 1];
  return s.bindBlob(1, cipher->seal(encodeRecord(full), id)).bind(2, id).run();
}

// --- sync ------------------------------------------------------------------------------------

namespace {

/// What applying `after` over `before` (nullptr: new here) did to `me`'s own work, if anything.
std::optional<ApplyNotice> noticeOf(const Record* before, const Record& after,
                                    std::string_view me) {
  if (me.empty()) return std::nullopt;
  if (const auto* c = std::get_if<Case>(&after)) {
    const auto* old = before != nullptr ? std::get_if<Case>(before) : nullptr;
    if (c->assignee.value == me && !c->deleted.value && isOpenState(c->state.value) &&
        (old == nullptr || old->assignee.value != me)) {
      return ApplyNotice{ApplyNotice::Kind::kAssignedToMe, c->id, c->id};
    }
  } else if (const auto* t = std::get_if<Transition>(&after)) {
    const auto* old = before != nullptr ? std::get_if<Transition>(before) : nullptr;
    if (t->actor_id == me && t->outcome.value == TransitionOutcome::kConflict &&
        (old == nullptr || old->outcome.value != TransitionOutcome::kConflict)) {
      const bool pick_up = t->to == CaseState::kToegewezen &&
                           (t->from == CaseState::kNieuw || t->from == CaseState::kHeropend);
      return ApplyNotice{
          pick_up ? ApplyNotice::Kind::kPickUpLost : ApplyNotice::Kind::kMoveConflict, t->case_id,
          t->id, t->from, t->to};
    }
  }
  return std::nullopt;
}

}  // namespace

Result<ApplyStats> Store::applyRemote(std::span<const Record> records, std::uint64_t server_hlc) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  // How far the server's clock runs ahead of this device's: versions are judged by the
  // server's clock (what it accepted, bounded tighter than a device's skew, is fine here).
  if (server_hlc != 0) {
    s.server_ahead_ms = std::max<std::int64_t>(0, hlcMillis(server_hlc) - s.clock->nowMs());
  }
  const std::int64_t ahead = s.server_ahead_ms;
  ApplyStats stats;
  std::vector<const Record*> good;
  good.reserve(records.size());
  std::uint64_t newest = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    Status valid = validateRecord(records[i]);
    const std::uint64_t v = maxVersion(records[i]).hlc;
    if (valid.ok() && s.hlc.tooFarAhead(v, ahead)) valid = s.hlc.receive(v, ahead);
    if (!valid.ok()) {
      // One bad state never fails the page: it is skipped, counted and reported.
      if (stats.skipped++ == 0) {
        stats.first_skip = Status(
            valid.code(),
            "record " + std::to_string(i) + " (" + recordId(records[i]) + "): " + valid.message(),
            valid.field());
      }
      continue;
    }
    newest = std::max(newest, v);
    good.push_back(&records[i]);
  }
  // Remote states can be fetched again, so their commit need not wait for fsync: the sync
  // client stores the cursor only afterwards, in a synchronous=FULL commit, and syncing the WAL
  // for that commit makes every earlier frame durable too (the WAL is append-only). A crash in
  // between loses the batch and its cursor together, and the next pull brings both again.
  EROPAF_RETURN_IF_ERROR(s.db->exec("PRAGMA synchronous=NORMAL"));
  const std::string me = s.identity ? s.identity->worker_id : std::string();
  Status st = s.inTransaction([&]() -> Status {
    for (const Record* rp : good) {
      const Record& r = *rp;
      Result<std::optional<Record>> existing = s.load(recordKind(r), recordId(r));
      if (!existing.ok()) return existing.status();
      if (!existing->has_value()) {
        EROPAF_RETURN_IF_ERROR(s.write(r, true));
        ++stats.inserted;
        if (auto n = noticeOf(nullptr, r, me)) stats.notices.push_back(std::move(*n));
        continue;
      }
      Record merged = **existing;
      EROPAF_RETURN_IF_ERROR(mergeInto(merged, r));
      if (merged == **existing) {
        ++stats.unchanged;
        continue;
      }
      if (auto n = noticeOf(&**existing, merged, me)) stats.notices.push_back(std::move(*n));
      if (s.indexKey(merged) == s.indexKey(**existing)) {
        EROPAF_RETURN_IF_ERROR(s.writeBody(merged));
      } else {
        EROPAF_RETURN_IF_ERROR(s.write(merged));
      }
      ++stats.updated;
    }
    return s.hlc.receive(newest, ahead);
  });
  // Back to full durability for everything the worker writes (see above).
  const Status restore = s.db->exec("PRAGMA synchronous=FULL");
  if (!st.ok()) return st;
  EROPAF_RETURN_IF_ERROR(restore);
  return stats;
}

Status Store::acknowledge(std::span<const std::string> change_ids) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  return s.inTransaction([&]() -> Status {
    Result<Stmt> del = s.db->prepare("DELETE FROM outbox WHERE change_id = ?");
    if (!del.ok()) return del.status();
    for (const auto& id : change_ids) EROPAF_RETURN_IF_ERROR(del->bind(1, id).run());
    return {};
  });
}

Status Store::markRefused(std::string_view change_id, const Status& reason) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<Stmt> upd = s.db->prepare(
      "UPDATE outbox SET status = 2, error_code = ?, error_message = ?, error_field = ? "
      "WHERE change_id = ?");
  if (!upd.ok()) return upd.status();
  EROPAF_RETURN_IF_ERROR(upd->bind(1, static_cast<std::int64_t>(reason.code()))
                             .bind(2, reason.message())
                             .bind(3, reason.field())
                             .bind(4, change_id)
                             .run());
  if (sqlite3_changes(s.db->handle()) == 0) return notFound("outbox change", change_id);
  return {};
}

Status Store::evict(std::string_view record_id) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  // Pending outbox rows stay: they are this worker's own unsent work (nothing is lost); the
  // server answers them.
  const std::string me = s.identity ? s.identity->worker_id : std::string();
  return s.inTransaction([&]() -> Status {
    if (s.schema >= 3) {
      // The case a removed signal or moment counted for, and the case a removed case was
      // merged into, get their norms recomputed without it.
      Result<Stmt> touched = s.db->prepare(
          "SELECT case_id FROM signals WHERE id = ?1 UNION SELECT case_id FROM contact_moments "
          "WHERE id = ?1 UNION SELECT merged_into FROM cases WHERE id = ?1");
      if (!touched.ok()) return touched.status();
      touched->bind(1, record_id);
      for (;;) {
        Result<bool> row = touched->step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        s.markDirty(touched->text(0));
      }
    }
    for (const char* sql :
         {"DELETE FROM signals WHERE id = ?1 OR (case_id = ?1 AND reporter_id != ?2)",
          "DELETE FROM cases WHERE id = ?1",
          "DELETE FROM contact_moments WHERE id = ?1 OR case_id = ?1",
          "DELETE FROM transitions WHERE id = ?1 OR case_id = ?1"}) {
      Result<Stmt> del = s.db->prepare(sql);
      if (!del.ok()) return del.status();
      del->bind(1, record_id);
      if (std::string_view(sql).find("?2") != std::string_view::npos) del->bind(2, me);
      EROPAF_RETURN_IF_ERROR(del->run());
    }
    return {};
  });
}

Status Store::restampChange(std::string_view change_id, std::uint64_t server_hlc) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<Stmt> q =
      s.db->prepare("SELECT kind, record_id, summary, delta FROM outbox WHERE change_id = ?");
  if (!q.ok()) return q.status();
  q->bind(1, change_id);
  Result<bool> row = q->step();
  if (!row.ok()) return row.status();
  if (!*row) return notFound("outbox change", change_id);
  const auto kind = static_cast<RecordKind>(q->int64(0));
  const std::string record_id = q->text(1);
  const std::string summary = q->text(2);
  Result<Record> delta = s.openDelta(std::string(change_id), q->blob(3));
  if (!delta.ok()) return delta.status();
  // Versions above this bound are the ones the server refuses.
  const std::uint64_t bound = hlcPack(hlcMillis(server_hlc) + s.hlc.maxSkewMs(), 0xFFFF);
  if (s.hlc.last() > server_hlc) s.hlc.resetTo(server_hlc);
  const Version fresh = s.nextVersion();
  restampVersions(*delta, s.node, bound, fresh);
  Result<std::optional<Record>> local = s.load(kind, record_id);
  if (!local.ok()) return local.status();
  return s.inTransaction([&]() -> Status {
    if (local->has_value()) {
      restampVersions(**local, s.node, bound, fresh);
      EROPAF_RETURN_IF_ERROR(s.write(**local));
    }
    Result<Stmt> del = s.db->prepare("DELETE FROM outbox WHERE change_id = ?");
    if (!del.ok()) return del.status();
    EROPAF_RETURN_IF_ERROR(del->bind(1, change_id).run());
    return s.enqueue(*delta, summary);
  });
}

Status Store::observeRemoteVersion(std::uint64_t hlc) {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  if (hlcMillis(hlc) > kHlcMaxMillis - s.hlc.maxSkewMs()) {
    return Status(ErrorCode::kClockSkew, "the server's clock is out of range");
  }
  s.server_ahead_ms = std::max<std::int64_t>(0, hlcMillis(hlc) - s.clock->nowMs());
  EROPAF_RETURN_IF_ERROR(s.hlc.receive(hlc, s.server_ahead_ms));
  return s.inTransaction([]() -> Status { return {}; });
}

Result<SyncState> Store::syncState() const {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Result<std::optional<std::string>> raw = s.getMeta("sync_state");
  if (!raw.ok()) return raw.status();
  SyncState st;
  if (!raw->has_value()) return st;
  Result<std::string> plain = s.cipher->open(**raw, "sync_state");
  if (!plain.ok()) return plain.status();
  // Four length-prefixed fields: url, token, cursor, last_sync_ms.
  std::string_view in = *plain;
  auto take = [&](std::string& out) -> bool {
    if (in.size() < 4) return false;
    std::uint32_t n = 0;
    std::memcpy(&n, in.data(), 4);
    in.remove_prefix(4);
    if (in.size() < n) return false;
    out.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
  };
  std::string last;
  if (!take(st.server_url) || !take(st.token) || !take(st.cursor) || !take(last) ||
      last.size() != sizeof st.last_sync_ms) {
    return Status(ErrorCode::kStorageCorrupt, "stored sync state does not decode");
  }
  std::memcpy(&st.last_sync_ms, last.data(), sizeof st.last_sync_ms);
  return st;
}

Status Store::setSyncState(const SyncState& state) {
  std::string plain;
  auto put = [&](std::string_view v) {
    const auto n = static_cast<std::uint32_t>(v.size());
    plain.append(reinterpret_cast<const char*>(&n), 4);
    plain.append(v);
  };
  put(state.server_url);
  put(state.token);
  put(state.cursor);
  put(std::string_view(reinterpret_cast<const char*>(&state.last_sync_ms),
                       sizeof state.last_sync_ms));
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  return s.inTransaction(
      [&]() -> Status { return s.putMeta("sync_state", s.cipher->seal(plain, "sync_state")); });
}

Status Store::setReference(std::span<const Worker> workers, std::span<const Wijk> wijken) {
  v1::ReferenceData ref;
  for (const Worker& w : workers) wire::toProto(w, *ref.add_workers());
  for (const Wijk& w : wijken) {
    v1::Wijk* out = ref.add_wijken();
    out->set_code(w.code);
    out->set_name(w.name);
  }
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  s.wijken_cache.reset();
  return s.inTransaction([&]() -> Status {
    return s.putMeta("reference", s.cipher->seal(ref.SerializeAsString(), "reference"));
  });
}

Result<std::vector<Worker>> Store::workers() const {
  std::lock_guard lock(impl_->mu);
  return impl_->loadWorkers();
}

Status Store::dropRecords() {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  return s.inTransaction([&]() -> Status {
    for (const char* sql : {"DELETE FROM signals", "DELETE FROM cases",
                            "DELETE FROM contact_moments", "DELETE FROM transitions"}) {
      EROPAF_RETURN_IF_ERROR(s.db->exec(sql));
    }
    return {};
  });
}

Status Store::wipe() {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  Status st = s.inTransaction([&]() -> Status {
    for (const char* sql :
         {"DELETE FROM signals", "DELETE FROM cases", "DELETE FROM contact_moments",
          "DELETE FROM transitions", "DELETE FROM outbox",
          "DELETE FROM meta WHERE key IN ('identity', 'sync_state', 'reference')"}) {
      EROPAF_RETURN_IF_ERROR(s.db->exec(sql));
    }
    if (s.schema >= 2) EROPAF_RETURN_IF_ERROR(s.db->exec("DELETE FROM access_log"));
    return {};
  });
  EROPAF_RETURN_IF_ERROR(st);
  s.identity.reset();
  // secure_delete is on, so freed pages are zeroed; a checkpoint moves that into the file.
  return s.db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace eropaf::store
