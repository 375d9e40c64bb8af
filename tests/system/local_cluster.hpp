// A master and agents as real processes on loopback, started exactly as an
// operator starts them (with short timeouts, for tests), their logs and work
// directories under one temporary directory. System-test fixtures derive from
// it next to ::testing::Test.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_util.hpp"

namespace stoa::testing {

class LocalCluster {
 protected:
  LocalCluster();

  // `stoa master` on free ports (master_, master_http_).
  void StartMaster();
  // `stoa agent` with its work dir and log named `name`; `extra` flags come
  // last, so they override the defaults (--resources, --hostname, ...).
  Process& StartAgent(const std::string& name, const std::vector<std::string>& extra = {});

  // The master's /state (an empty object when it does not answer).
  nlohmann::json State() const;
  int ActiveAgents() const;
  // Every task the master knows, active or completed, by id.
  std::map<std::string, nlohmann::json> MasterTasks() const;

  // The whole of a file (empty when it cannot be read), and a process's log.
  static std::string Read(const std::string& path) { return ReadFile(path); }
  std::string Log(const std::string& name) const { return Read(dir_.path() + "/" + name + ".log"); }

  // Declared in this order so that the processes go first, then their
  // directories, then their cgroups.
  CgroupRoot cgroups_;
  TempDir dir_;
  std::string bin_;
  int master_port_ = 0;
  int master_http_ = 0;
  std::string master_;  // 127.0.0.1:PORT
  std::vector<std::unique_ptr<Process>> processes_;
};

}  // namespace stoa::testing
