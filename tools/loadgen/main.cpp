// eropaf-loadgen: N simulated devices against a running eropaf-server over loopback, with one
// keep-alive connection each. Devices are enrolled through the server's own admin path (the
// server's database, on this machine) and then speak only HTTP.
//
// Modes:
//   sync        each device syncs (push C new signals, then pull) R times per second
//   throughput  devices push batches of C as fast as the server answers; changes/s
//   initial     seed N records, then time a fresh device's full pull; bytes per record
//   latency     device A pushes while device B waits in a long poll; push-to-pull delay
// Prints a human summary and one JSON line (prefix "json: ").
// clang-format off
#include <utility>  // before Asio: boost 1.74 awaitable.hpp uses std::exchange without it
// clang-format on
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine.hpp"
#include "eropaf/clock.hpp"
#include "eropaf/id.hpp"
#include "eropaf/model.hpp"
#include "eropaf/v1/sync.pb.h"
#include "wire/wire_mapping.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string mode = "sync";
  std::string host = "127.0.0.1";
  std::string port = "7700";
  std::string data;  // the server's data dir (for enrolling the simulated workers)
  int devices = 100;
  int changes = 10;
  double rate = 1.0;      // syncs per second per device (sync mode)
  double seconds = 10;    // how long sync/throughput modes run
  int records = 100'000;  // initial mode
  int samples = 200;      // latency mode
  int threads = 2;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "eropaf-loadgen: " << why << "\n"
            << "usage: eropaf-loadgen --data DIR [--server HOST:PORT] [--mode "
               "sync|throughput|initial|latency]\n"
               "       [--devices N] [--changes C] [--rate R] [--seconds S] [--records N]\n"
               "       [--samples N] [--threads N]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--mode") {
        o.mode = next();
      } else if (a == "--server") {
        const std::string v = next();
        const auto colon = v.rfind(':');
        if (colon == std::string::npos) usage("--server takes HOST:PORT");
        o.host = v.substr(0, colon);
        o.port = v.substr(colon + 1);
      } else if (a == "--data") {
        o.data = next();
      } else if (a == "--devices") {
        o.devices = std::stoi(next());
      } else if (a == "--changes") {
        o.changes = std::stoi(next());
      } else if (a == "--rate") {
        o.rate = std::stod(next());
      } else if (a == "--seconds") {
        o.seconds = std::stod(next());
      } else if (a == "--records") {
        o.records = std::stoi(next());
      } else if (a == "--samples") {
        o.samples = std::stoi(next());
      } else if (a == "--threads") {
        o.threads = std::stoi(next());
      } else {
        usage("unknown flag " + a);
      }
    } catch (const std::exception&) {
      usage("bad value for " + a);
    }
  }
  if (o.data.empty()) usage("--data DIR (the server's data directory) is required");
  if (o.devices < 1 || o.changes < 0 || o.rate <= 0 || o.seconds <= 0 || o.threads < 1) {
    usage("numbers must be positive");
  }
  return o;
}

struct Stats {
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::uint64_t changes = 0;
  std::uint64_t errors = 0;
  std::uint64_t requests = 0;
  void add(double ms, std::uint64_t n) {
    std::lock_guard lock(mu);
    latencies_ms.push_back(ms);
    changes += n;
    ++requests;
  }
  void error() {
    std::lock_guard lock(mu);
    ++errors;
  }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  return v[i];
}

/// One simulated device: its token, its own HLC and node, one keep-alive connection.
struct Device {
  std::string worker_id;
  std::string device_id;
  std::string token;
  std::string cursor;
  std::uint64_t node = 0;
  std::uint64_t last_hlc = 0;
  std::mt19937_64 rng;

  eropaf::Version version() {
    eropaf::SystemClock clock;
    eropaf::Hlc hlc(clock, last_hlc);
    last_hlc = hlc.tick();
    return {last_hlc, node};
  }

  void addSignal(eropaf::v1::PushRequest& req, const std::string& wijk) {
    eropaf::Signal s;
    const std::int64_t now = eropaf::SystemClock().nowMs();
    s.id = eropaf::newUuidV7(now);
    s.created = version();
    s.content.reporter_id = worker_id;
    s.content.source_role = eropaf::Role::kWijkcoach;
    s.content.wijk = wijk;
    s.content.address = {"1234AB", std::to_string(1 + rng() % 400), "", "Teststraat", "Utrecht"};
    s.content.household_key = eropaf::householdKey(s.content.address);
    s.content.categories = {"vereenzaming"};
    s.content.urgency = eropaf::Urgency::kNormaal;
    s.content.observed_at_ms = now;
    s.content.text = "loadgen signal: post stapelt zich op, buren ongerust";
    s.content.informed = eropaf::Informed::kNoLater;
    s.triage_state.set(eropaf::TriageState::kNieuw, s.created);
    eropaf::v1::Change* c = req.add_changes();
    c->set_change_id(eropaf::newUuidV7(now));
    eropaf::wire::toProto(eropaf::Record(s), *c->mutable_record());
  }
};

class Connection {
 public:
  Connection(asio::any_io_executor ex, const Options& o) : stream_(ex), opts_(o) {}

  awaitable<void> connect() {
    asio::ip::tcp::resolver resolver(stream_.get_executor());
    auto results = co_await resolver.async_resolve(opts_.host, opts_.port, use_awaitable);
    co_await stream_.async_connect(results, use_awaitable);
    stream_.socket().set_option(asio::ip::tcp::no_delay(true));
  }

  /// POSTs a protobuf body; returns the status and the response body.
  awaitable<std::pair<unsigned, std::string>> post(const std::string& target, std::string body,
                                                   const std::string& token) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, opts_.host);
    req.set(http::field::content_type, "application/x-protobuf");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    stream_.expires_after(std::chrono::seconds(60));
    co_await http::async_write(stream_, req, use_awaitable);
    http::response_parser<http::string_body> parser;
    parser.body_limit(512 * 1024 * 1024);
    co_await http::async_read(stream_, buffer_, parser, use_awaitable);
    auto res = parser.release();
    bytes_in_ += res.body().size();
    co_return std::make_pair(res.result_int(), std::move(res.body()));
  }

  std::uint64_t bytesIn() const { return bytes_in_; }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const Options& opts_;
  std::uint64_t bytes_in_ = 0;
};

// Enrolls the simulated workers: admin steps on the server's database, then /v1/enroll over
// HTTP like a phone.
std::vector<Device> enrollDevices(const Options& o, int count, eropaf::Role role,
                                  const std::string& prefix, const std::string& wijk) {
  eropaf::server::EngineOptions eo;
  eo.database_path = o.data + "/server.db";
  auto engine = eropaf::server::Engine::open(eo);
  if (!engine.ok()) {
    std::cerr << "eropaf-loadgen: cannot open " << eo.database_path << ": "
              << engine.status().toString() << "\n";
    std::exit(1);
  }
  if (auto st = (*engine)->addWijk({wijk, "Loadgen " + wijk}); !st.ok()) {
    std::cerr << "eropaf-loadgen: " << st.toString() << "\n";
    std::exit(1);
  }
  std::vector<std::string> codes;
  std::vector<Device> devices(static_cast<std::size_t>(count));
  std::string lower = prefix;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (int i = 0; i < count; ++i) {
    Device& d = devices[static_cast<std::size_t>(i)];
    d.worker_id = lower + std::to_string(i);
    d.rng.seed(static_cast<std::uint64_t>(i) * 7919 + 1);
    d.node = d.rng();
    if (auto st = (*engine)->addWorker({d.worker_id, "Load " + d.worker_id, role, {wijk}, true});
        !st.ok()) {
      std::cerr << "eropaf-loadgen: " << st.toString() << "\n";
      std::exit(1);
    }
    codes.push_back(*(*engine)->createEnrollmentCode(d.worker_id));
  }
  (*engine)->stop();
  asio::io_context ioc;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        Connection c(co_await asio::this_coro::executor, o);
        co_await c.connect();
        for (std::size_t i = 0; i < devices.size(); ++i) {
          eropaf::v1::EnrollRequest req;
          req.set_code(codes[i]);
          req.set_device_name("loadgen");
          auto [status, body] = co_await c.post("/v1/enroll", req.SerializeAsString(), "");
          eropaf::v1::EnrollResponse resp;
          if (status != 200 || !resp.ParseFromString(body)) {
            std::cerr << "eropaf-loadgen: enroll failed with HTTP " << status << "\n";
            std::exit(1);
          }
          devices[i].device_id = resp.device_id();
          devices[i].token = resp.token();
        }
      },
      asio::detached);
  ioc.run();
  return devices;
}

std::string runId() {
  std::random_device rd;
  const char* hex = "0123456789";
  std::string s;
  for (int i = 0; i < 6; ++i) s.push_back(hex[rd() % 10]);
  return "WK" + s;
}

void report(const std::string& mode, Stats& st, double seconds, const std::string& extra_json,
            const std::string& extra_text) {
  const double p50 = percentile(st.latencies_ms, 50);
  const double p99 = percentile(st.latencies_ms, 99);
  const double max = st.latencies_ms.empty()
                         ? 0
                         : *std::max_element(st.latencies_ms.begin(), st.latencies_ms.end());
  const double cps = static_cast<double>(st.changes) / seconds;
  std::printf(
      "%s: %llu requests, %llu changes in %.2f s = %.0f changes/s; latency p50 %.2f ms, "
      "p99 %.2f ms, max %.2f ms; errors %llu%s\n",
      mode.c_str(), static_cast<unsigned long long>(st.requests),
      static_cast<unsigned long long>(st.changes), seconds, cps, p50, p99, max,
      static_cast<unsigned long long>(st.errors), extra_text.c_str());
  std::printf(
      "json: {\"mode\":\"%s\",\"requests\":%llu,\"changes\":%llu,\"seconds\":%.3f,"
      "\"changes_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
      "\"errors\":%llu%s}\n",
      mode.c_str(), static_cast<unsigned long long>(st.requests),
      static_cast<unsigned long long>(st.changes), seconds, cps, p50, p99, max,
      static_cast<unsigned long long>(st.errors), extra_json.c_str());
}

void runIo(asio::io_context& ioc, int threads) {
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
}

int modeSync(const Options& o, bool throughput) {
  const std::string wijk = runId();
  auto devices = enrollDevices(o, o.devices, eropaf::Role::kWijkcoach, "lg-" + wijk + "-", wijk);
  Stats st;
  asio::io_context ioc;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (auto& dev : devices) {
    asio::co_spawn(
        ioc,
        [&, d = &dev]() -> awaitable<void> {
          auto ex = co_await asio::this_coro::executor;
          Connection c(ex, o);
          try {
            co_await c.connect();
          } catch (const std::exception&) {
            st.error();
            co_return;
          }
          asio::steady_timer timer(ex);
          const auto period = std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(1.0 / o.rate));
          // Spread the devices' first syncs over one period.
          auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         period * (static_cast<double>(d->rng() % 1000) / 1000.0));
          while (Clock::now() < end) {
            if (!throughput) {
              timer.expires_at(next);
              co_await timer.async_wait(use_awaitable);
              next += period;
              if (Clock::now() >= end) break;
            }
            eropaf::v1::PushRequest push;
            push.set_device_id(d->device_id);
            for (int i = 0; i < o.changes; ++i) d->addSignal(push, wijk);
            const auto t0 = Clock::now();
            try {
              auto [status, body] = co_await c.post("/v1/push", push.SerializeAsString(), d->token);
              eropaf::v1::PushResponse resp;
              bool ok = status == 200 && resp.ParseFromString(body);
              for (const auto& r : resp.results()) ok = ok && r.accepted();
              if (!throughput && ok) {
                eropaf::v1::PullRequest pull;
                pull.set_cursor(d->cursor);
                auto [pstatus, pbody] =
                    co_await c.post("/v1/pull", pull.SerializeAsString(), d->token);
                eropaf::v1::PullResponse presp;
                ok = pstatus == 200 && presp.ParseFromString(pbody);
                if (ok) d->cursor = presp.next_cursor();
              }
              const double ms =
                  std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
              if (ok) {
                st.add(ms, static_cast<std::uint64_t>(o.changes));
              } else {
                st.error();
              }
            } catch (const std::exception&) {
              st.error();
              co_return;
            }
          }
        },
        asio::detached);
  }
  runIo(ioc, o.threads);
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  report(throughput ? "throughput" : "sync", st, secs,
         ",\"devices\":" + std::to_string(o.devices) +
             ",\"changes_per_sync\":" + std::to_string(o.changes),
         " (" + std::to_string(o.devices) + " devices)");
  return st.errors == 0 ? 0 : 1;
}

int modeInitial(const Options& o) {
  const std::string wijk = runId();
  // One coach seeds the records; a coordinator of the same wijk then pulls everything fresh.
  auto seeders = enrollDevices(o, 1, eropaf::Role::kWijkcoach, "seed-" + wijk + "-", wijk);
  auto readers = enrollDevices(o, 1, eropaf::Role::kCoordinator, "read-" + wijk + "-", wijk);
  Stats seed_stats;
  Stats pull_stats;
  std::uint64_t bytes = 0;
  std::uint64_t pulled = 0;
  double pull_secs = 0;
  asio::io_context ioc;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Connection c(ex, o);
        co_await c.connect();
        Device& s = seeders[0];
        for (int done = 0; done < o.records;) {
          eropaf::v1::PushRequest push;
          push.set_device_id(s.device_id);
          const int n = std::min(1000, o.records - done);
          for (int i = 0; i < n; ++i) s.addSignal(push, wijk);
          const auto t0 = Clock::now();
          auto [status, body] = co_await c.post("/v1/push", push.SerializeAsString(), s.token);
          if (status != 200) {
            seed_stats.error();
            co_return;
          }
          seed_stats.add(std::chrono::duration<double, std::milli>(Clock::now() - t0).count(),
                         static_cast<std::uint64_t>(n));
          done += n;
        }
        Connection fresh(ex, o);
        const auto t0 = Clock::now();
        co_await fresh.connect();
        Device& r = readers[0];
        for (;;) {
          eropaf::v1::PullRequest pull;
          pull.set_cursor(r.cursor);
          pull.set_max_records(1000);
          const auto p0 = Clock::now();
          auto [status, body] = co_await fresh.post("/v1/pull", pull.SerializeAsString(), r.token);
          eropaf::v1::PullResponse resp;
          if (status != 200 || !resp.ParseFromString(body)) {
            pull_stats.error();
            co_return;
          }
          pull_stats.add(std::chrono::duration<double, std::milli>(Clock::now() - p0).count(),
                         static_cast<std::uint64_t>(resp.records_size()));
          pulled += static_cast<std::uint64_t>(resp.records_size());
          r.cursor = resp.next_cursor();
          if (!resp.more()) break;
        }
        pull_secs = std::chrono::duration<double>(Clock::now() - t0).count();
        bytes = fresh.bytesIn();
      },
      asio::detached);
  runIo(ioc, 1);
  const double per_record =
      pulled == 0 ? 0 : static_cast<double>(bytes) / static_cast<double>(pulled);
  std::printf(
      "initial: seeded %d records; a fresh device pulled %llu records in %.2f s "
      "(%llu bytes, %.0f bytes/record); errors %llu\n",
      o.records, static_cast<unsigned long long>(pulled), pull_secs,
      static_cast<unsigned long long>(bytes), per_record,
      static_cast<unsigned long long>(seed_stats.errors + pull_stats.errors));
  std::printf(
      "json: {\"mode\":\"initial\",\"records\":%d,\"pulled\":%llu,\"seconds\":%.3f,"
      "\"bytes\":%llu,\"bytes_per_record\":%.1f,\"errors\":%llu}\n",
      o.records, static_cast<unsigned long long>(pulled), pull_secs,
      static_cast<unsigned long long>(bytes), per_record,
      static_cast<unsigned long long>(seed_stats.errors + pull_stats.errors));
  return seed_stats.errors + pull_stats.errors == 0 &&
                 pulled >= static_cast<std::uint64_t>(o.records)
             ? 0
             : 1;
}

int modeLatency(const Options& o) {
  const std::string wijk = runId();
  auto writers = enrollDevices(o, 1, eropaf::Role::kWijkcoach, "a-" + wijk + "-", wijk);
  auto readers = enrollDevices(o, 1, eropaf::Role::kCoordinator, "b-" + wijk + "-", wijk);
  Stats st;
  asio::io_context ioc;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        Connection a(ex, o);
        Connection b(ex, o);
        co_await a.connect();
        co_await b.connect();
        Device& da = writers[0];
        Device& db = readers[0];
        // Catch up first so B's cursor is current.
        for (;;) {
          eropaf::v1::PullRequest pull;
          pull.set_cursor(db.cursor);
          auto [status, body] = co_await b.post("/v1/pull", pull.SerializeAsString(), db.token);
          eropaf::v1::PullResponse resp;
          if (status != 200 || !resp.ParseFromString(body)) co_return;
          db.cursor = resp.next_cursor();
          if (!resp.more()) break;
        }
        asio::steady_timer timer(ex);
        for (int i = 0; i < o.samples; ++i) {
          std::atomic<bool> got{false};
          Clock::time_point sent{};
          // B waits in a long poll; A pushes shortly after.
          asio::co_spawn(
              ex,
              [&]() -> awaitable<void> {
                timer.expires_after(std::chrono::milliseconds(20));
                co_await timer.async_wait(use_awaitable);
                eropaf::v1::PushRequest push;
                push.set_device_id(da.device_id);
                da.addSignal(push, wijk);
                sent = Clock::now();
                co_await a.post("/v1/push", push.SerializeAsString(), da.token);
              },
              asio::detached);
          for (;;) {
            eropaf::v1::PullRequest pull;
            pull.set_cursor(db.cursor);
            pull.set_wait_ms(5000);
            auto [status, body] = co_await b.post("/v1/pull", pull.SerializeAsString(), db.token);
            eropaf::v1::PullResponse resp;
            if (status != 200 || !resp.ParseFromString(body)) {
              st.error();
              co_return;
            }
            db.cursor = resp.next_cursor();
            if (resp.records_size() > 0) {
              st.add(std::chrono::duration<double, std::milli>(Clock::now() - sent).count(), 1);
              got = true;
              break;
            }
          }
        }
      },
      asio::detached);
  runIo(ioc, 1);
  report("latency", st, 1.0, "", " (push by A to B's waiting pull)");
  return st.errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    if (o.mode == "sync") return modeSync(o, false);
    if (o.mode == "throughput") return modeSync(o, true);
    if (o.mode == "initial") return modeInitial(o);
    if (o.mode == "latency") return modeLatency(o);
  } catch (const std::exception& e) {
    std::cerr << "eropaf-loadgen: " << e.what() << "\n";
    return 1;
  }
  usage("unknown mode " + o.mode);
}
