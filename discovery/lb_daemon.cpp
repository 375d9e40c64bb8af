#include "discovery/lb_daemon.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/http_server.hpp"
#include "common/logging.hpp"
#include "discovery/endpoints_follower.hpp"
#include "discovery/haproxy_config.hpp"

namespace stoa::discovery {

using json = nlohmann::json;
namespace fs = std::filesystem;

Result<std::string> HaproxyCommand(const std::string& socket_path,
                                   const std::vector<std::string>& commands) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    close(fd);
    return Status::Error("socket path too long: " + socket_path);
  }
  std::strcpy(address.sun_path, socket_path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return Status::Error("cannot reach HAProxy's runtime API at " + socket_path + ": " + why);
  }
  std::string text;
  for (const auto& command : commands) text += (text.empty() ? "" : ";") + command;
  text += "\n";
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
    close(fd);
    return Status::Error("cannot send to HAProxy's runtime API at " + socket_path);
  }
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) answer.append(buffer, n);
  close(fd);
  return answer;
}

namespace {

// Whether the runtime API's answer to one `set server` is a success: nothing,
// or the note that the address changed (or needed no change).
bool RuntimeOk(const std::string& answer) {
  size_t start = answer.find_first_not_of(" \n");
  if (start == std::string::npos) return true;
  return answer.compare(start, 10, "IP changed") == 0 ||
         answer.find("no need to change") != std::string::npos;
}

}  // namespace

struct LbDaemon::Impl {
  ~Impl() {
    http.Stop();       // /metrics reads the follower
    follower.reset();  // no Apply after this
    if (haproxy > 0) {
      kill(haproxy, SIGTERM);  // the master stops its workers
      waitpid(haproxy, nullptr, 0);
    }
  }

  LbOptions options;
  LbConfigOptions config;
  std::string config_path;
  pid_t haproxy = -1;
  std::unique_ptr<EndpointsFollower> follower;
  HttpServer http;
  std::mutex mutex;
  std::vector<LbBackend> running;  // what HAProxy has now
  uint64_t reloads = 0, runtime_updates = 0, failures = 0;
  bool state_unknown = false;  // HAProxy may hold other servers than `running`: reload
  std::string last_error;

  // "Pid: N" of the worker the runtime API reaches, or 0.
  int WorkerPid() {
    auto info = HaproxyCommand(config.socket_path, {"show info"});
    if (!info.ok()) return 0;
    size_t at = info->find("\nPid: ");
    return at == std::string::npos ? 0 : std::atoi(info->c_str() + at + 6);
  }

  bool WaitForWorker(int not_pid) {
    for (int i = 0; i < 500; ++i) {
      int pid = WorkerPid();
      if (pid != 0 && pid != not_pid) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  Status WriteChecked(const std::vector<LbBackend>& backends) {
    std::string candidate = config_path + ".new";
    {
      std::ofstream out(candidate, std::ios::trunc);
      out << RenderConfig(backends, config);
      if (!out) return Status::Error("cannot write " + candidate);
    }
    std::string command =
        fmt::format("'{}' -c -q -f '{}' > '{}.check' 2>&1", options.haproxy, candidate, candidate);
    if (std::system(command.c_str()) != 0) {
      std::ifstream in(candidate + ".check");
      std::string why((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      return Status::Error("haproxy -c refused the config (kept the running one): " + why);
    }
    std::error_code ec;
    fs::rename(candidate, config_path, ec);
    if (ec) return Status::Error("cannot replace " + config_path + ": " + ec.message());
    return Status::Ok();
  }

  Status StartHaproxy() {
    std::string log = options.work_dir + "/haproxy.log";
    pid_t pid = fork();
    if (pid < 0) return Status::Error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execl(options.haproxy.c_str(), options.haproxy.c_str(), "-W", "-db", "-f",
            config_path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    haproxy = pid;
    if (!WaitForWorker(0)) {
      return Status::Error("HAProxy did not start (its log: " + log + ")");
    }
    return Status::Ok();
  }

  // Moves slots of `wanted` (of the same shape as running) through the
  // runtime API; false (and `*refused` says why) when HAProxy refused one.
  bool MoveServers(std::vector<LbBackend> wanted, std::string* refused) {
    std::vector<std::string> commands = RuntimeCommands(running, wanted);
    for (const auto& command : commands) {
      auto answer = HaproxyCommand(config.socket_path, {command});
      if (!answer.ok() || !RuntimeOk(*answer)) {
        *refused = command + ": " + (answer.ok() ? *answer : answer.error());
        return false;
      }
    }
    if (!commands.empty()) {
      runtime_updates++;
      Logger("lb")->info("{} runtime command(s) applied", commands.size());
    }
    running = std::move(wanted);
    return true;
  }

  // Moves HAProxy to the endpoints in `apps`; false when some of it could not
  // be done (the follower then tries again). REQUIRES: mutex held.
  bool Apply(const json& apps) {
    std::vector<LbBackend> wanted = PlanBackends(apps, config, ResolveIpv4, running);
    std::string refused;
    if (SameShape(running, wanted)) {
      if (!state_unknown && MoveServers(wanted, &refused)) return true;
      if (!refused.empty()) {
        Logger("lb")->warn("the runtime API refused an update ({}); reloading", refused);
      }
    }
    Status reloaded = WriteChecked(wanted);
    if (reloaded.ok()) {
      int before = WorkerPid();
      kill(haproxy, SIGUSR2);
      if (before == 0 || !WaitForWorker(before)) {
        reloaded = Status::Error("HAProxy did not come back from a reload (see " +
                                 options.work_dir + "/haproxy.log)");
      }
    }
    if (reloaded.ok()) {
      running = std::move(wanted);
      state_unknown = false;
      reloads++;
      Logger("lb")->info("reloaded HAProxy: {} backend(s)", running.size());
      return true;
    }
    failures++;
    last_error = reloaded.message();
    Logger("lb")->error("{}", last_error);
    // The backends whose shape did not change still follow their instances.
    std::vector<LbBackend> kept = running;
    for (auto& backend : kept) {
      for (const auto& next : wanted) {
        if (next.name == backend.name && SameShape({backend}, {next})) backend = next;
      }
    }
    if (!state_unknown && !MoveServers(kept, &refused)) state_unknown = true;
    return false;
  }

  std::string Metrics() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help, double value) {
      out +=
          fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    metric("stoa_lb_reloads_total", "counter", "HAProxy reloads (a new frontend or more slots).",
           reloads);
    metric("stoa_lb_runtime_updates_total", "counter",
           "Server changes made through HAProxy's runtime API, without a reload.", runtime_updates);
    metric("stoa_lb_failures_total", "counter", "Configs refused and reloads that failed.",
           failures);
    size_t servers = 0;
    for (const auto& backend : running) {
      for (const auto& server : backend.servers) servers += server.ip.empty() ? 0 : 1;
    }
    metric("stoa_lb_backends", "gauge", "Backends HAProxy has.", running.size());
    metric("stoa_lb_servers", "gauge", "Servers up in HAProxy's backends.", servers);
    if (follower) out += follower->Metrics("stoa_lb");
    return out;
  }

  // Each frontend's rate over the last second, from HAProxy's `show stat`:
  // HTTP requests for http mode, sessions for tcp.
  std::map<std::string, double> Rates() {
    std::map<std::string, double> rates;
    auto csv = HaproxyCommand(config.socket_path, {"show stat -1 1 -1"});
    if (!csv.ok()) return rates;
    std::istringstream lines(*csv);
    std::string line;
    std::vector<std::string> header;
    auto split = [](const std::string& text) {
      std::vector<std::string> fields;
      std::istringstream in(text);
      std::string field;
      while (std::getline(in, field, ',')) fields.push_back(field);
      return fields;
    };
    while (std::getline(lines, line)) {
      if (line.rfind("# ", 0) == 0) {
        header = split(line.substr(2));
        continue;
      }
      std::vector<std::string> fields = split(line);
      auto column = [&](const std::string& name) -> std::string {
        auto at = std::find(header.begin(), header.end(), name);
        size_t index = static_cast<size_t>(at - header.begin());
        return at == header.end() || index >= fields.size() ? "" : fields[index];
      };
      if (fields.size() < 2 || fields[1] != "FRONTEND") continue;
      std::string rate = column("req_rate");
      if (rate.empty()) rate = column("rate");
      rates[fields[0]] = rate.empty() ? 0 : std::atof(rate.c_str());
    }
    return rates;
  }

  std::string Backends() {
    std::map<std::string, double> rates = Rates();
    std::lock_guard<std::mutex> lock(mutex);
    json out = json::array();
    for (const auto& backend : running) {
      json servers = json::array();
      for (size_t i = 0; i < backend.servers.size(); ++i) {
        const LbServer& server = backend.servers[i];
        if (server.ip.empty()) continue;
        servers.push_back({{"slot", "s" + std::to_string(i)},
                           {"address", server.ip + ":" + std::to_string(server.port)},
                           {"taskId", server.task_id}});
      }
      out.push_back({{"name", backend.name},
                     {"appId", backend.app_id},
                     {"servicePort", backend.service_port},
                     {"mode", backend.mode},
                     {"vhost", backend.vhost},
                     {"slots", backend.slots},
                     {"requestRate", rates.count(backend.name) ? rates[backend.name] : 0.0},
                     {"servers", servers}});
    }
    return json{{"backends", out}, {"lastError", last_error}}.dump();
  }
};

LbDaemon::LbDaemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LbDaemon::~LbDaemon() = default;

int LbDaemon::admin_port() const { return impl_->http.port(); }

Result<std::unique_ptr<LbDaemon>> LbDaemon::Start(const LbOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto service = ParseServiceUrl(options.service);
  if (!service.ok()) return Status::Error("--service: " + service.error());
  if (options.work_dir.empty()) return Status::Error("--work_dir is required");
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec)
    return Status::Error("--work_dir: cannot create " + options.work_dir + ": " + ec.message());
  if (access(options.haproxy.c_str(), X_OK) != 0) {
    return Status::Error("--haproxy: " + options.haproxy +
                         " is not an executable (Debian's package: haproxy)");
  }
  impl->config.bind_ip = options.bind_ip;
  impl->config.http_port = options.http_port;
  impl->config.group = options.group;
  impl->config.socket_path = fs::absolute(options.work_dir).string() + "/haproxy.sock";
  impl->config_path = options.work_dir + "/haproxy.cfg";
  Impl* raw = impl.get();
  if (Status s = raw->WriteChecked({}); !s.ok()) return s;
  if (Status s = raw->StartHaproxy(); !s.ok()) return s;
  raw->http.Route("GET", "/metrics", [raw](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = raw->Metrics();
    return response;
  });
  raw->http.Route("GET", "/v1/backends", [raw](const HttpRequest&) {
    HttpResponse response;
    response.body = raw->Backends();
    return response;
  });
  if (Status s = raw->http.Start(options.admin_ip, options.admin_port); !s.ok()) return s;
  FollowerOptions follow = *service;
  follow.resync_seconds = options.resync_seconds;
  auto follower = std::make_unique<EndpointsFollower>(follow, [raw](const json& apps) {
    std::lock_guard<std::mutex> lock(raw->mutex);
    return raw->Apply(apps);
  });
  {
    std::lock_guard<std::mutex> lock(raw->mutex);  // /metrics may be reading
    raw->follower = std::move(follower);
  }
  raw->follower->Start();
  Logger("lb")->info("HAProxy {} runs with {} (group {}); endpoints from {}:{}; admin on {}:{}",
                     raw->haproxy, raw->config_path, options.group, follow.host, follow.port,
                     options.admin_ip, raw->http.port());
  return std::unique_ptr<LbDaemon>(new LbDaemon(std::move(impl)));
}

}  // namespace stoa::discovery
