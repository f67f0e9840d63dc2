// A thin RAII layer over the SQLite C API for the device store: a connection, prepared
// statements, and the mapping from SQLite result codes to eropaf error codes.
// Thread-safety: none; the store serialises access.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "eropaf/status.hpp"

namespace eropaf::store::detail {

/// kStorageBusy for BUSY/LOCKED, kStorageFull for FULL, kStorageCorrupt for CORRUPT/NOTADB,
/// kIoError for IOERR/CANTOPEN/READONLY, kInternal otherwise; the message names `what`.
Status sqliteStatus(int rc, sqlite3* db, std::string_view what);

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt();
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are 1-based, as in SQLite. Text and blobs are copied (SQLITE_TRANSIENT) unless
  // bound with the *Static variants, which must outlive the next step()/reset().
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, std::string_view text);
  Stmt& bindBlob(int i, std::string_view blob);
  Stmt& bindNull(int i);

  /// true: a row is ready; false: done. Errors come back as a Status.
  Result<bool> step();
  /// Runs a statement that returns no rows, then resets it.
  Status run();
  void reset();

  std::int64_t int64(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  bool isNull(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> open(const std::string& path, const std::string& vfs = {});
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status exec(std::string_view sql);
  Result<Stmt> prepare(std::string_view sql);
  sqlite3* handle() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  ~Transaction();
  Status begin();
  Status commit();

 private:
  Db& db_;
  bool open_ = false;
};

}  // namespace eropaf::store::detail
