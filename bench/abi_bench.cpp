// eropaf-bench-abi: what the C ABI costs on top of calling core directly, for the two calls a
// phone makes most: create a signal (a durable write) and list my cases (a read of 50 cases).
//
// Each call is timed three ways on its own store file with the same data:
//   core      eropaf::store::Store directly (C++ structs in and out)
//   C ABI     eropaf_store_* with the request encoded and the result decoded as protobuf, as a
//             binding does
// and the overhead is the difference of the medians. The JNI figure comes from
// bench/java/nl/eropaf/BindingBench.java (run by `eropaf-bench-jni`, see bench/CMakeLists.txt).
//
// Usage: eropaf-bench-abi [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "eropaf.h"
#include "eropaf/store.hpp"
#include "eropaf/v1/device.pb.h"

namespace {

using Steady = std::chrono::steady_clock;
using namespace eropaf;

double micros(Steady::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Stats {
  double p50, mean;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  return {v[v.size() / 2], sum / static_cast<double>(v.size())};
}

store::Key key() {
  store::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i * 7);
  return k;
}

/// A store whose worker (wijkcoach wc-b) has `cases` open cases assigned to them.
void prepare(const std::string& path, int cases) {
  store::OpenOptions o;
  o.path = path;
  o.key = key();
  auto db = std::move(store::Store::open(o)).value();
  (void)db->setIdentity({"co-b", "Coordinator", Role::kCoordinator, {"WK015301"}, ""});
  for (int i = 0; i < cases; ++i) {
    store::NewCase c;
    c.wijk = "WK015301";
    c.address = {"1234AB", std::to_string(i + 1), "", "Dorpsstraat", "Utrecht"};
    c.title = "Casus " + std::to_string(i);
    c.categories = {i % 2 ? "schulden" : "vereenzaming"};
    auto made = db->openCase(c);
    if (made.ok()) (void)db->assignCase(made->id, "wc-b");
  }
  (void)db->setIdentity({"wc-b", "Coach", Role::kWijkcoach, {"WK015301"}, ""});
}

store::NewSignal signalRequest() {
  store::NewSignal s;
  s.wijk = "WK015301";
  s.address = {"1234AB", "12", "", "", ""};
  s.categories = {"schulden"};
  s.urgency = Urgency::kHoog;
  s.text = "Brieven van de deurwaarder op de mat";
  s.informed = Informed::kYes;
  return s;
}

v1::NewSignalRequest signalMessage() {
  v1::NewSignalRequest m;
  m.set_wijk("WK015301");
  m.mutable_address()->set_postcode("1234AB");
  m.mutable_address()->set_house_number("12");
  m.add_categories("schulden");
  m.set_urgency(v1::URGENCY_HOOG);
  m.set_text("Brieven van de deurwaarder op de mat");
  m.set_informed(v1::INFORMED_YES);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int writes = quick ? 20 : 1000;
  const int reads = quick ? 50 : 5000;
  const int cases = 50;
  const auto dir =
      std::filesystem::temp_directory_path() / ("eropaf-bench-abi-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string core_path = (dir / "core.db").string();
  const std::string abi_path = (dir / "abi.db").string();
  prepare(core_path, cases);
  prepare(abi_path, cases);

  std::vector<double> core_write, core_read, abi_write, abi_read;
  {
    store::OpenOptions o;
    o.path = core_path;
    o.key = key();
    auto db = std::move(store::Store::open(o)).value();
    const auto req = signalRequest();
    for (int i = 0; i < writes; ++i) {
      const auto t = Steady::now();
      auto s = db->createSignal(req);
      core_write.push_back(micros(Steady::now() - t));
      if (!s.ok()) return 1;
    }
    for (int i = 0; i < reads; ++i) {
      const auto t = Steady::now();
      auto l = db->myCases();
      core_read.push_back(micros(Steady::now() - t));
      if (!l.ok() || l->size() != cases) return 1;
    }
  }
  {
    const auto k = key();
    eropaf_error e = EROPAF_ERROR_INIT;
    eropaf_store_t* s = eropaf_store_open(abi_path.data(), abi_path.size(), k.data(), k.size(), &e);
    if (s == nullptr) return 1;
    const auto msg = signalMessage();
    for (int i = 0; i < writes; ++i) {
      const auto t = Steady::now();
      const std::string bytes = msg.SerializeAsString();
      eropaf_buffer b{nullptr, 0};
      if (!eropaf_store_create_signal(s, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                      bytes.size(), &b, &e)) {
        return 1;
      }
      v1::Signal out;
      out.ParseFromArray(b.data, static_cast<int>(b.size));
      eropaf_buffer_free(&b);
      abi_write.push_back(micros(Steady::now() - t));
    }
    for (int i = 0; i < reads; ++i) {
      const auto t = Steady::now();
      eropaf_buffer b{nullptr, 0};
      if (!eropaf_store_my_cases(s, 0, &b, &e)) return 1;
      v1::CaseList out;
      out.ParseFromArray(b.data, static_cast<int>(b.size));
      eropaf_buffer_free(&b);
      abi_read.push_back(micros(Steady::now() - t));
      if (out.cases_size() != cases) return 1;
    }
    eropaf_store_release(s);
  }
  std::filesystem::remove_all(dir);

  const Stats cw = stats(core_write), aw = stats(abi_write);
  const Stats cr = stats(core_read), ar = stats(abi_read);
  std::printf("eropaf-bench-abi (%d writes, %d reads of %d cases)\n", writes, reads, cases);
  std::printf("   create signal   core p50 %8.1f us   C ABI p50 %8.1f us   overhead %+7.1f us\n",
              cw.p50, aw.p50, aw.p50 - cw.p50);
  std::printf("   my cases (50)   core p50 %8.1f us   C ABI p50 %8.1f us   overhead %+7.1f us\n",
              cr.p50, ar.p50, ar.p50 - cr.p50);
  std::printf(
      "json: {\"create_core_p50_us\":%.1f,\"create_abi_p50_us\":%.1f,"
      "\"list_core_p50_us\":%.1f,\"list_abi_p50_us\":%.1f}\n",
      cw.p50, aw.p50, cr.p50, ar.p50);
  return 0;
}
