// Fuzz target: the server's request path. The first byte picks a route and a body format;
// the rest is the body, sent through the real Router and engine (a SQLite file in a temp
// directory) with a valid device token. Every answer must be a well-formed HTTP status with a
// body; nothing may crash or hang.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <future>
#include <string>

#include "engine.hpp"
#include "http/router.hpp"

namespace {

struct World {
  std::filesystem::path dir;
  std::unique_ptr<eropaf::server::Engine> engine;
  eropaf::server::Metrics metrics;
  std::unique_ptr<eropaf::server::Router> router;
  std::string token;

  World() {
    dir = std::filesystem::temp_directory_path() / ("eropaf-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    eropaf::server::EngineOptions o;
    o.database_path = (dir / "server.db").string();
    engine = std::move(eropaf::server::Engine::open(o)).value();
    static_cast<void>(engine->addWijk({"WK015301", "Fuzz"}));
    static_cast<void>(
        engine->addWorker({"co-fuzz", "Fuzz", eropaf::Role::kCoordinator, {"WK015301"}, true}));
    auto code = engine->createEnrollmentCode("co-fuzz");
    eropaf::v1::EnrollRequest req;
    req.set_code(*code);
    std::promise<std::string> p;
    engine->enroll(req, [&](eropaf::Result<eropaf::v1::EnrollResponse> r) {
      p.set_value(r.ok() ? r->token() : "");
    });
    token = p.get_future().get();
    // Long polls are answered at once here: the fuzzer must not wait.
    router = std::make_unique<eropaf::server::Router>(
        *engine, metrics, [](std::chrono::milliseconds, const std::function<void()>& fn) { fn(); });
  }
  ~World() {
    router.reset();
    engine.reset();
    std::filesystem::remove_all(dir);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  if (size == 0) return 0;
  static const char* kRoutes[] = {"/v1/push", "/v1/pull", "/v1/enroll", "/nope"};
  eropaf::server::Request req;
  req.method = "POST";
  req.target = kRoutes[data[0] & 3];
  req.content_type = (data[0] & 4) != 0 ? "application/json" : "application/x-protobuf";
  req.authorization = (data[0] & 8) != 0 ? "" : "Bearer " + world.token;
  req.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  std::promise<eropaf::server::Response> p;
  auto f = p.get_future();
  world.router->handle(std::move(req),
                       [&](eropaf::server::Response r) { p.set_value(std::move(r)); });
  const eropaf::server::Response res = f.get();
  if (res.status < 200 || res.status > 599 || res.content_type.empty()) __builtin_trap();
  return 0;
}
