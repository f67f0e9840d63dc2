// A device store in a fresh temp directory with a manual clock, for store tests.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "eropaf/store.hpp"

namespace eropaf::test {

/// The first column of every row `sql` gives on the SQLite file at `path`, read-only, as text
/// (migration tests look at what a schema really holds).
inline std::vector<std::string> sqlColumn(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  std::vector<std::string> out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      out.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "");
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

inline std::filesystem::path makeTempDir(const std::string& prefix) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline store::Key testKey(std::uint8_t seed = 1) {
  store::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i);
  return k;
}

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kStart = 1'790'000'000'000;  // 2026-09-21

struct StoreFixture {
  std::filesystem::path dir = makeTempDir("eropaf-store");
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kStart);
  std::unique_ptr<store::Store> db;

  StoreFixture() { reopen(); }
  ~StoreFixture() {
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::string path() const { return (dir / "device.db").string(); }

  void reopen(store::Key key = testKey()) {
    db.reset();
    store::OpenOptions o;
    o.path = path();
    o.key = key;
    o.clock = clock;
    auto r = store::Store::open(o);
    if (!r.ok()) throw std::runtime_error(r.status().toString());
    db = std::move(r).value();
  }

  void become(const std::string& worker, Role role,
              std::vector<std::string> wijken = {"WK015301"}) {
    store::Identity id;
    id.worker_id = worker;
    id.name = "Test " + worker;
    id.role = role;
    id.wijken = std::move(wijken);
    auto st = db->setIdentity(id);
    if (!st.ok()) throw std::runtime_error(st.toString());
  }
};

/// The value of a store read (an optional, a list, a count). A read error is not an answer a
/// test expects: it throws with the store's message, and the test fails with that message.
template <class T>
T readOk(Result<T> r) {
  if (!r.ok()) throw std::runtime_error("store read failed: " + r.status().toString());
  return std::move(r).value();
}

inline store::NewSignal aSignal(std::string text = "Post stapelt zich op, buren maken zich zorgen",
                                std::string postcode = "1234AB", std::string number = "12") {
  store::NewSignal s;
  s.wijk = "WK015301";
  s.address = {std::move(postcode), std::move(number), "", "Dorpsstraat", "Utrecht"};
  s.categories = {"vereenzaming"};
  s.urgency = Urgency::kNormaal;
  s.text = std::move(text);
  s.informed = Informed::kNoLater;
  return s;
}

inline store::NewCase aCase(std::string title = "Mevrouw alleen, post stapelt op",
                            std::vector<std::string> cats = {"vereenzaming"},
                            std::string postcode = "1234AB", std::string number = "12") {
  store::NewCase c;
  c.wijk = "WK015301";
  c.address = {std::move(postcode), std::move(number), "", "Dorpsstraat", "Utrecht"};
  c.title = std::move(title);
  c.categories = std::move(cats);
  // Tests open many cases at one address; the household check (a second open case needs
  // new_case) has its own tests in tests/store/triage_test.cpp.
  c.new_case = true;
  return c;
}

}  // namespace eropaf::test
