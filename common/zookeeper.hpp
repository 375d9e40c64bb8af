// A ZooKeeper session (the C client, multi-threaded flavour) with blocking
// calls for the few operations Stoa needs, and pipelined batches of reads.
// Calls block the calling thread, so they belong in a helper actor or thread,
// never in a main actor's handler. Watch callbacks run on the client's event
// thread: hand their work elsewhere and never call back into ZooKeeper from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace stoa {

struct ZooKeeperUrl {
  std::string servers;  // host:port[,host:port...]
  std::string path;     // absolute, no trailing slash, e.g. /stoa
};

// Parses zk://host:port[,host:port]/path; errors say what is malformed.
Result<ZooKeeperUrl> ParseZooKeeperUrl(const std::string& url);

// The result codes callers need to tell apart.
enum class ZkCode { kOk, kNoNode, kNodeExists, kBadVersion, kNotEmpty, kOther };

class ZooKeeper {
 public:
  // `on_expired`: once the server has expired the session (it is gone for
  // good); `on_suspended`: when the connection has been down for a third of
  // the session timeout, after which the session may expire without this
  // client hearing of it in time. A leader steps down on the second; standbys
  // and detectors act only on the first. Both run on the session's own thread,
  // one at a time, with no lock held and off the client's event thread: they
  // may call back into the session (but must not destroy it).
  using ExpiredCallback = std::function<void()>;

  // Opens a session; waits up to the session timeout for it to be established.
  static Result<std::unique_ptr<ZooKeeper>> Connect(const std::string& servers,
                                                    double session_timeout_seconds,
                                                    ExpiredCallback on_expired = {},
                                                    ExpiredCallback on_suspended = {});
  ~ZooKeeper();
  ZooKeeper(const ZooKeeper&) = delete;
  ZooKeeper& operator=(const ZooKeeper&) = delete;

  // Creates `path` with `data`; returns the created path (with the sequence
  // number for sequential nodes). `code` (if given) receives the result kind.
  Result<std::string> Create(const std::string& path, const std::string& data, bool ephemeral,
                             bool sequential, ZkCode* code = nullptr);
  // Creates every missing persistent ancestor and `path` itself.
  Status CreatePath(const std::string& path);
  // The data and version of `path`, or nullopt when it does not exist.
  Result<std::optional<std::pair<std::string, int32_t>>> Get(const std::string& path);
  // Sets `path` if its version equals `version` (-1: any).
  Status Set(const std::string& path, const std::string& data, int32_t version,
             ZkCode* code = nullptr);
  Status Delete(const std::string& path, int32_t version, ZkCode* code = nullptr);
  // Children names of `path`. With `watch`, it is called once, on the client
  // thread, the next time the children change (or the session goes).
  Result<std::vector<std::string>> Children(const std::string& path,
                                            std::function<void()> watch = {});

  // Reads of many znodes at once, pipelined: up to `window` requests are in
  // flight, so N reads cost about N / window round trips instead of N. Each
  // result is in the order of `paths`, nullopt for a znode that does not exist.
  // Any other failure is the result, naming its path; no partial answer.
  struct Node {
    std::string data;
    int32_t version = 0;
    int32_t children = 0;  // how many children it has
  };
  static constexpr size_t kReadWindow = 256;
  Result<std::vector<std::optional<Node>>> GetMany(const std::vector<std::string>& paths,
                                                   size_t window = kReadWindow);
  Result<std::vector<std::optional<std::vector<std::string>>>> ChildrenMany(
      const std::vector<std::string>& paths, size_t window = kReadWindow);

  // The server expired the session: every call fails; make a new session.
  bool expired() const;

 private:
  struct Impl;
  explicit ZooKeeper(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stoa
