// Several instances of a framework on ZooKeeper (--zk=zk://HOST:PORT/PATH),
// one of which leads: a session, the framework's state under PATH/state
// behind a fenced storage that only the leader can use, an election under
// PATH/leader whose znodes hold each instance's HOST:PORT, a detector that
// follows who leads (and tells the API's LeaderGate), and a thread that waits
// to be elected, opens the state and calls `lead`. An instance whose session
// is lost ends through on_fatal (a leader as soon as it cannot be sure it
// still leads), so that two leaders never act at once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/http_server.hpp"
#include "common/status.hpp"
#include "common/storage.hpp"
#include "frameworks/sdk/leader_gate.hpp"

namespace stoa::sdk {

struct ElectionOptions {
  std::string zk;  // zk://HOST:PORT[,HOST:PORT]/PATH
  double session_timeout = 10;
  std::string component = "framework";  // its logger's
  // Told who leads (the detector's HOST:PORT, empty while nobody leads),
  // this instance's own address (Join), and whether it serves as the leader:
  // once `lead` has succeeded, until it steps down. REQUIRES: outlives the
  // election.
  LeaderGate* gate = nullptr;
  // Once elected, with the state open: takes over (recovers, subscribes,
  // starts the threads that act). Runs on the election's thread; a failure
  // ends this instance through on_fatal.
  std::function<Status()> lead;
  // This instance may no longer lead or stand by: production exits.
  std::function<void(const std::string& why)> on_fatal;
};

class Election {
 public:
  // Parses the URL and opens the session. Nothing is joined yet.
  // REQUIRES: `gate`, `lead` and `on_fatal` are set.
  static Result<std::unique_ptr<Election>> Connect(ElectionOptions options);
  // Stops waiting, leaves the election, closes the session (which hands the
  // lead on at once). REQUIRES: the store given TakeStorage() is still there.
  ~Election();
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;

  // The state's storage for the framework's store: it refuses every call
  // until this instance is elected, and again once it steps down.
  // REQUIRES: called once; the store outlives the election.
  std::unique_ptr<Storage> TakeStorage();

  // Joins the election with `self` (HOST:PORT of this instance's API, where
  // the gate sends the others' requests) as its data, follows the leader and
  // waits, on a thread of its own, to be elected.
  Status Join(const std::string& self);

  // Whether this instance still leads, as ZooKeeper says now (a round trip,
  // so it blocks up to the session's timeout): it was elected and has not
  // stepped down, and its session, and so its znode, is alive. For the
  // driver's may_subscribe.
  bool ConfirmLeading();

  // Stops waiting to be elected; once it returns, `lead` neither runs nor
  // will. Call it before stopping what `lead` started.
  void Stop();
  // Stops leading: the gate no longer serves, the storage refuses from now on.
  void StepDown();
  // Steps down and leaves the election at once (its znode goes), so that
  // another instance is elected now rather than after the session's timeout.
  void Abdicate();

  const std::string& znode() const;

 private:
  struct Impl;
  explicit Election(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A framework process's start, once its API's routes are on `http`: without
// an election (no --zk) it leads at once (`lead`) and then serves; with one it
// serves as a standby and joins the election as hostname:port (the election
// calls `lead` once elected). `api` names what it serves, for the log.
struct ServeOptions {
  std::string ip;
  int port = 0;
  std::string hostname;
  std::string master;
  std::string api;        // e.g. "Marathon's API"
  std::string component;  // its logger's
};
Status LeadOrStandBy(Election* election, HttpServer& http, const ServeOptions& options,
                     const std::function<Status()>& lead);

}  // namespace stoa::sdk
