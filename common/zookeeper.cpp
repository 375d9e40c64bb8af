#include "common/zookeeper.hpp"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/logging.hpp"

namespace stoa {

Result<ZooKeeperUrl> ParseZooKeeperUrl(const std::string& url) {
  const std::string scheme = "zk://";
  if (url.rfind(scheme, 0) != 0) {
    return Status::Error("'" + url +
                         "' is not a ZooKeeper URL: write zk://HOST:PORT[,HOST:PORT]/PATH");
  }
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size()) {
    return Status::Error("'" + url + "' needs servers and a path: zk://HOST:PORT[,HOST:PORT]/PATH");
  }
  ZooKeeperUrl parsed{rest.substr(0, slash), rest.substr(slash)};
  while (parsed.path.size() > 1 && parsed.path.back() == '/') parsed.path.pop_back();
  return parsed;
}

namespace {

ZkCode Classify(int rc) {
  switch (rc) {
    case ZOK:
      return ZkCode::kOk;
    case ZNONODE:
      return ZkCode::kNoNode;
    case ZNODEEXISTS:
      return ZkCode::kNodeExists;
    case ZBADVERSION:
      return ZkCode::kBadVersion;
    case ZNOTEMPTY:
      return ZkCode::kNotEmpty;
    default:
      return ZkCode::kOther;
  }
}

Status Failed(const std::string& what, const std::string& path, int rc) {
  return Status::Error("ZooKeeper " + what + " '" + path + "' failed: " + zerror(rc));
}

// Asynchronous reads with a bounded number in flight. Completions run on the
// client's completion thread and hand their result to Finish; Run returns only
// once every read it issued has completed, so the contexts it lent the client
// outlive them. A read of a missing znode leaves its result empty.
template <typename T>
class ReadPipeline {
 public:
  struct Request {
    ReadPipeline* pipeline;
    size_t index;
  };

  explicit ReadPipeline(size_t count) : results_(count) {
    requests_.reserve(count);
    for (size_t i = 0; i < count; ++i) requests_.push_back({this, i});
  }

  // `issue(request)` starts one read with `&request` as its completion data
  // and returns the client's code. Returns ZOK or the first failure.
  template <typename Issue>
  int Run(size_t window, Issue issue) {
    window = std::max<size_t>(window, 1);
    std::unique_lock<std::mutex> lock(mutex_);
    for (const Request& request : requests_) {
      room_.wait(lock, [&] { return in_flight_ < window || rc_ != ZOK; });
      if (rc_ != ZOK) break;
      ++in_flight_;
      lock.unlock();
      int rc = issue(request);
      lock.lock();
      if (rc != ZOK) {  // never queued: no completion will come for it
        --in_flight_;
        Fail(request.index, rc);
      }
    }
    room_.wait(lock, [&] { return in_flight_ == 0; });
    return rc_;
  }

  size_t failed_index() const { return failed_index_; }
  std::vector<std::optional<T>> TakeResults() { return std::move(results_); }

  // From a completion: `store(slot)` fills the read's result when it succeeded.
  template <typename Store>
  static void Finish(const void* data, int rc, Store store) {
    const auto* request = static_cast<const Request*>(data);
    ReadPipeline* pipeline = request->pipeline;
    std::lock_guard<std::mutex> lock(pipeline->mutex_);
    if (rc == ZOK) {
      store(pipeline->results_[request->index]);
    } else if (rc != ZNONODE) {
      pipeline->Fail(request->index, rc);
    }
    --pipeline->in_flight_;
    pipeline->room_.notify_all();
  }

 private:
  void Fail(size_t index, int rc) {  // REQUIRES: mutex_ held
    if (rc_ != ZOK) return;
    rc_ = rc;
    failed_index_ = index;
  }

  std::vector<Request> requests_;
  std::vector<std::optional<T>> results_;
  std::mutex mutex_;
  std::condition_variable room_;
  size_t in_flight_ = 0;
  int rc_ = ZOK;
  size_t failed_index_ = 0;
};

using NodePipeline = ReadPipeline<ZooKeeper::Node>;
using ChildrenPipeline = ReadPipeline<std::vector<std::string>>;

void OnNode(int rc, const char* value, int value_len, const struct Stat* stat, const void* data) {
  NodePipeline::Finish(data, rc, [&](std::optional<ZooKeeper::Node>& slot) {
    slot.emplace();
    if (value != nullptr && value_len > 0) slot->data.assign(value, static_cast<size_t>(value_len));
    slot->version = stat->version;
    slot->children = stat->numChildren;
  });
}

void OnChildren(int rc, const struct String_vector* strings, const void* data) {
  ChildrenPipeline::Finish(data, rc, [&](std::optional<std::vector<std::string>>& slot) {
    slot.emplace();
    for (int i = 0; strings != nullptr && i < strings->count; ++i) {
      slot->emplace_back(strings->data[i]);
    }
  });
}

}  // namespace

struct ZooKeeper::Impl {
  zhandle_t* handle = nullptr;
  std::mutex mutex;
  std::condition_variable changed;
  bool connected = false;
  bool stopping = false;
  std::atomic<bool> is_expired{false};
  ExpiredCallback on_expired;
  ExpiredCallback on_suspended;
  bool suspended_reported = false;  // for the current disconnection
  double session_timeout = 10;
  std::chrono::steady_clock::time_point disconnected_since;
  std::thread watchdog;

  // The session's own thread: it reports a suspension and the expiry, each
  // callback with no lock held and off the client's event thread, so that a
  // callback may call back into the session and a slow one stalls no event.
  //
  // The client only hears that its session expired once it reaches a server
  // again, and it notices a lost connection only about 2/3 of the session
  // timeout after it last heard the server, when the server may expire the
  // session a third of the timeout later. So a connection lost for a third of
  // the negotiated timeout means the session may be gone: `on_suspended` lets a
  // leader step down before a new one can be elected. Everyone else waits for
  // the real expiry, which the client reports once it reaches a server again.
  void Watch() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (is_expired) {
        lock.unlock();
        if (on_expired) on_expired();
        return;
      }
      int negotiated_ms = zoo_recv_timeout(handle);
      double timeout = negotiated_ms > 0 ? negotiated_ms / 1000.0 : session_timeout;
      if (!connected && !suspended_reported &&
          std::chrono::steady_clock::now() - disconnected_since >
              std::chrono::duration<double>(timeout / 3)) {
        suspended_reported = true;
        lock.unlock();
        if (on_suspended) on_suspended();
        lock.lock();
        continue;
      }
      changed.wait_for(lock, std::chrono::milliseconds(50));
    }
  }

  static void SessionWatcher(zhandle_t*, int type, int state, const char*, void* context) {
    auto* impl = static_cast<Impl*>(context);
    if (type != ZOO_SESSION_EVENT) return;
    std::lock_guard<std::mutex> lock(impl->mutex);
    if (state == ZOO_CONNECTED_STATE) {
      impl->connected = true;
      impl->suspended_reported = false;
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
      impl->is_expired = true;
      impl->connected = false;
    } else if (impl->connected) {
      impl->connected = false;
      impl->disconnected_since = std::chrono::steady_clock::now();
    }
    impl->changed.notify_all();
  }
};

// Holds a one-shot children watch; deleted when it fires.
struct ChildWatch {
  std::function<void()> callback;
  static void Fire(zhandle_t*, int type, int state, const char*, void* context) {
    // Session events (a connection drop, a reconnect) reach every watcher
    // without consuming the watch: only a node event fires it, once. An
    // expired session drops every watch: this one fires then too (its owner
    // must look again, on a new session) and is freed.
    if (type == ZOO_SESSION_EVENT && state != ZOO_EXPIRED_SESSION_STATE) return;
    auto* watch = static_cast<ChildWatch*>(context);
    watch->callback();
    delete watch;
  }
};

ZooKeeper::ZooKeeper(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ZooKeeper::~ZooKeeper() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->changed.notify_all();
  if (impl_->watchdog.joinable()) impl_->watchdog.join();
  if (impl_->handle != nullptr) zookeeper_close(impl_->handle);
}

Result<std::unique_ptr<ZooKeeper>> ZooKeeper::Connect(const std::string& servers,
                                                      double session_timeout_seconds,
                                                      ExpiredCallback on_expired,
                                                      ExpiredCallback on_suspended) {
  static std::once_flag quiet;
  std::call_once(quiet, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR); });
  auto impl = std::make_unique<Impl>();
  impl->on_expired = std::move(on_expired);
  impl->on_suspended = std::move(on_suspended);
  int timeout_ms = static_cast<int>(session_timeout_seconds * 1000);
  impl->handle =
      zookeeper_init(servers.c_str(), &Impl::SessionWatcher, timeout_ms, nullptr, impl.get(), 0);
  if (impl->handle == nullptr) {
    return Status::Error("cannot start a ZooKeeper session with '" + servers +
                         "': " + std::strerror(errno));
  }
  std::unique_lock<std::mutex> lock(impl->mutex);
  if (!impl->changed.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                              [&] { return impl->connected || impl->is_expired.load(); }) ||
      !impl->connected) {
    lock.unlock();
    zookeeper_close(impl->handle);
    impl->handle = nullptr;
    return Status::Error("no ZooKeeper server at '" + servers + "' answered within " +
                         std::to_string(timeout_ms) + " ms");
  }
  lock.unlock();
  impl->session_timeout = session_timeout_seconds;
  Impl* raw = impl.get();
  impl->watchdog = std::thread([raw] { raw->Watch(); });
  return std::unique_ptr<ZooKeeper>(new ZooKeeper(std::move(impl)));
}

Result<std::string> ZooKeeper::Create(const std::string& path, const std::string& data,
                                      bool ephemeral, bool sequential, ZkCode* code) {
  int flags = (ephemeral ? ZOO_EPHEMERAL : 0) | (sequential ? ZOO_SEQUENCE : 0);
  char created[1024] = {0};
  int rc = zoo_create(impl_->handle, path.c_str(), data.data(), static_cast<int>(data.size()),
                      &ZOO_OPEN_ACL_UNSAFE, flags, created, sizeof(created) - 1);
  if (code != nullptr) *code = Classify(rc);
  if (rc != ZOK) return Failed("create", path, rc);
  return std::string(created);
}

Status ZooKeeper::CreatePath(const std::string& path) {
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    ZkCode code;
    auto created = Create(prefix, "", false, false, &code);
    if (!created.ok() && code != ZkCode::kNodeExists) return created.status();
  }
  return Status::Ok();
}

Result<std::optional<std::pair<std::string, int32_t>>> ZooKeeper::Get(const std::string& path) {
  // Registry entries are small; retry with a larger buffer when one is not.
  int size = 64 * 1024;
  while (true) {
    std::string buffer(static_cast<size_t>(size), '\0');
    int length = size;
    struct Stat stat {};
    int rc = zoo_get(impl_->handle, path.c_str(), 0, buffer.data(), &length, &stat);
    if (rc == ZNONODE) return std::optional<std::pair<std::string, int32_t>>();
    if (rc != ZOK) return Failed("get", path, rc);
    if (stat.dataLength > size) {
      size = stat.dataLength;
      continue;
    }
    buffer.resize(length < 0 ? 0 : static_cast<size_t>(length));
    return std::optional<std::pair<std::string, int32_t>>({buffer, stat.version});
  }
}

Status ZooKeeper::Set(const std::string& path, const std::string& data, int32_t version,
                      ZkCode* code) {
  int rc =
      zoo_set(impl_->handle, path.c_str(), data.data(), static_cast<int>(data.size()), version);
  if (code != nullptr) *code = Classify(rc);
  return rc == ZOK ? Status::Ok() : Failed("set", path, rc);
}

Status ZooKeeper::Delete(const std::string& path, int32_t version, ZkCode* code) {
  int rc = zoo_delete(impl_->handle, path.c_str(), version);
  if (code != nullptr) *code = Classify(rc);
  return rc == ZOK ? Status::Ok() : Failed("delete", path, rc);
}

Result<std::vector<std::string>> ZooKeeper::Children(const std::string& path,
                                                     std::function<void()> watch) {
  struct String_vector children {};
  int rc;
  if (watch) {
    auto* holder = new ChildWatch{std::move(watch)};
    rc = zoo_wget_children(impl_->handle, path.c_str(), &ChildWatch::Fire, holder, &children);
    if (rc != ZOK) delete holder;
  } else {
    rc = zoo_get_children(impl_->handle, path.c_str(), 0, &children);
  }
  if (rc != ZOK) return Failed("list", path, rc);
  std::vector<std::string> names;
  for (int i = 0; i < children.count; ++i) names.emplace_back(children.data[i]);
  deallocate_String_vector(&children);
  return names;
}

Result<std::vector<std::optional<ZooKeeper::Node>>> ZooKeeper::GetMany(
    const std::vector<std::string>& paths, size_t window) {
  NodePipeline pipeline(paths.size());
  int rc = pipeline.Run(window, [&](const NodePipeline::Request& request) {
    return zoo_aget(impl_->handle, paths[request.index].c_str(), 0, &OnNode, &request);
  });
  if (rc != ZOK) return Failed("get", paths[pipeline.failed_index()], rc);
  return pipeline.TakeResults();
}

Result<std::vector<std::optional<std::vector<std::string>>>> ZooKeeper::ChildrenMany(
    const std::vector<std::string>& paths, size_t window) {
  ChildrenPipeline pipeline(paths.size());
  int rc = pipeline.Run(window, [&](const ChildrenPipeline::Request& request) {
    return zoo_aget_children(impl_->handle, paths[request.index].c_str(), 0, &OnChildren, &request);
  });
  if (rc != ZOK) return Failed("list", paths[pipeline.failed_index()], rc);
  return pipeline.TakeResults();
}

bool ZooKeeper::expired() const { return impl_->is_expired.load(); }

}  // namespace stoa
