// The server child process and enrolled devices.
#include "integration/server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "store/store_fixture.hpp"

namespace eropaf::test {
namespace {

std::string roleName(Role r) { return std::string(toString(r)); }

}  // namespace

ServerProcess::ServerProcess() : ServerProcess(Options{}) {}

ServerProcess::ServerProcess(Options options)
    : options_(std::move(options)), dir_(makeTempDir("eropaf-server")) {
  start();
}

unsigned short ServerProcess::port() const {
  return static_cast<unsigned short>(std::stoi(url_.substr(url_.rfind(':') + 1)));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill9();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ServerProcess::start() {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe");
  const std::string data = (dir_ / "data").string();
  std::vector<std::string> args{EROPAF_SERVER_BIN, "--data",      data,
                                "--listen",        "127.0.0.1:0", "--quiet"};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    if (options_.nofile_limit != 0) {
      const rlimit lim{options_.nofile_limit, options_.nofile_limit};
      if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(126);
    }
    ::execv(EROPAF_SERVER_BIN, argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  const std::string prefix = "eropaf-server listening on ";
  while (std::chrono::steady_clock::now() < deadline) {
    char c;
    const ssize_t n = ::read(fds[0], &c, 1);
    if (n == 1) {
      if (c == '\n') {
        if (line.rfind(prefix, 0) == 0) break;
        line.clear();
      } else {
        line.push_back(c);
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ::close(fds[0]);
  if (line.rfind(prefix, 0) != 0) throw std::runtime_error("eropaf-server did not start");
  url_ = "http://" + line.substr(prefix.size());
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ServerProcess::AdminResult ServerProcess::admin(const std::vector<std::string>& args) const {
  std::string cmd =
      std::string(EROPAF_SERVER_BIN) + " admin --data '" + (dir_ / "data").string() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int rc = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

RemoteDevice::~RemoteDevice() {
  transport.reset();
  db.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void RemoteDevice::moveTo(const std::string& url) {
  auto st = db->syncState();
  if (!st.ok()) throw std::runtime_error(st.status().toString());
  st->server_url = url;
  if (!db->setSyncState(*st).ok()) throw std::runtime_error("setSyncState");
  sync::CurlOptions o;
  o.base_url = url;
  transport = std::move(sync::makeCurlTransport(o)).value();
}

Result<sync::SyncResult> RemoteDevice::sync() {
  static const std::atomic<bool> never{false};
  sync::SyncOptions o;
  o.backoff_base = std::chrono::milliseconds(20);
  o.backoff_cap = std::chrono::milliseconds(200);
  return sync::syncOnce(*db, *transport, o, never, {});
}

std::unique_ptr<RemoteDevice> enrollDevice(ServerProcess& server, const std::string& worker,
                                           Role role, const std::string& wijk) {
  server.admin({"add-wijk", wijk, "Wijk " + wijk});
  auto added = server.admin({"add-worker", "--id", worker, "--name", "Name " + worker, "--role",
                             roleName(role), "--wijk", wijk});
  if (added.exit_code != 0) throw std::runtime_error("add-worker " + worker);
  auto code = server.admin({"enroll-code", worker});
  if (code.exit_code != 0) throw std::runtime_error("enroll-code " + worker);
  auto d = std::make_unique<RemoteDevice>();
  d->dir = makeTempDir("eropaf-device");
  store::OpenOptions o;
  o.path = (d->dir / "device.db").string();
  o.key = testKey(static_cast<std::uint8_t>(worker.size()));
  d->db = std::move(store::Store::open(o)).value();
  sync::CurlOptions co;
  co.base_url = server.url();
  d->transport = std::move(sync::makeCurlTransport(co)).value();
  auto id = sync::enroll(*d->db, *d->transport, server.url(), code.out, "test " + worker);
  if (!id.ok()) throw std::runtime_error("enroll: " + id.status().toString());
  return d;
}

}  // namespace eropaf::test
