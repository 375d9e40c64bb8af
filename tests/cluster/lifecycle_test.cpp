// Lifecycle paths between the SDK and the master that frameworks lean on:
// a scheduler replaced by another, a registry that stops taking writes.
#include <atomic>

#include "master/registrar.hpp"
#include "tests/cluster/cluster_fixture.hpp"

namespace stoa::cluster {
namespace {

// Two live schedulers with one framework id: the one that was replaced is told
// so for good, and its driver stops instead of resubscribing and stealing the
// framework back (which used to go on for ever, every 3 heartbeats).
TEST_F(ClusterTest, ASupersededSchedulerStopsAndTheNewOneKeepsTheFramework) {
  Recorder first;
  FrameworkInfo info;
  info.failover_timeout_seconds = 60;
  sdk::SchedulerDriver& old_driver = StartDriver(&first, info);
  info.id = first.framework_id();
  ASSERT_FALSE(info.id.empty());

  Recorder second;
  sdk::SchedulerDriver& new_driver = StartDriver(&second, info);
  EXPECT_EQ(second.framework_id(), info.id);
  ASSERT_TRUE(WaitFor([&] { return old_driver.aborted(); }));
  EXPECT_FALSE(old_driver.subscribed());
  EXPECT_TRUE(new_driver.subscribed());
  // The old driver has stopped: Join returns at once.
  old_driver.Join();
  // The framework's offers (the old scheduler's were rescinded) go to the new one.
  EXPECT_TRUE(second.WaitForOffers(1));
  EXPECT_EQ(first.subscriptions(), 1);
}

// A scheduler that comes back with other roles is offered resources in its
// new roles, and the master records the change (it survives a restart).
TEST_F(ClusterTest, AResubscriptionWithNewRolesIsAllocatedAndRecordedUnderThem) {
  Recorder first;
  FrameworkInfo info;
  info.roles = {"web"};
  info.failover_timeout_seconds = 60;
  sdk::SchedulerDriver& driver = StartDriver(&first, info);
  ASSERT_TRUE(first.WaitForOffers(1));
  EXPECT_EQ(first.offers().front().role, "web");
  info.id = first.framework_id();
  driver.Stop(/*teardown=*/false);

  Recorder second;
  info.roles = {"batch"};
  StartDriver(&second, info);
  ASSERT_TRUE(second.WaitForOffers(1));
  for (const Offer& offer : second.offers()) EXPECT_EQ(offer.role, "batch");
  json framework = State()["frameworks"][0];
  EXPECT_EQ(framework["roles"], json::array({"batch"}));

  // The registry has the new roles: a master restarted on it knows them.
  drivers_.clear();
  master_.reset();
  auto storage = OpenLevelDbStorage(dir_.path() + "/master/registry");
  ASSERT_TRUE(storage.ok()) << storage.error();
  master::Registrar registrar(std::move(*storage));
  auto registry = registrar.Recover();
  ASSERT_TRUE(registry.ok()) << registry.error();
  EXPECT_EQ(registry->frameworks[info.id].roles, std::vector<std::string>{"batch"});
}

// Storage whose writes can be made to fail (a ZooKeeper or disk failure is
// not something a test can cause on demand).
class BreakableStorage : public Storage {
 public:
  explicit BreakableStorage(std::unique_ptr<Storage> real) : real_(std::move(real)) {}
  std::atomic<bool> broken{false};
  Result<std::optional<StoredValue>> Get(const std::string& key) override {
    return real_->Get(key);
  }
  Result<int64_t> Set(const std::string& key, const std::string& value,
                      int64_t expected_version) override {
    if (broken) return Status::Error("the disk is full");
    return real_->Set(key, value, expected_version);
  }
  Status Delete(const std::string& key, int64_t expected_version) override {
    if (broken) return Status::Error("the disk is full");
    return real_->Delete(key, expected_version);
  }
  Result<std::map<std::string, StoredValue>> Scan(const std::string& prefix) override {
    return real_->Scan(prefix);
  }

 private:
  std::unique_ptr<Storage> real_;
};

// A registry write that fails after the master acted on it in memory would
// leave memory and storage disagreeing: the master stops leading instead, and
// what a restart recovers is what storage holds.
TEST_F(ClusterTest, AFailedRegistryWriteMakesTheMasterStopLeading) {
  auto leveldb = OpenLevelDbStorage(dir_.path() + "/breakable");
  ASSERT_TRUE(leveldb.ok()) << leveldb.error();
  auto storage = std::make_unique<BreakableStorage>(std::move(*leveldb));
  BreakableStorage* breakable = storage.get();
  std::atomic<bool> fatal{false};
  std::string why;
  std::mutex mutex;
  master::MasterOptions options;
  options.bind_address = "inproc://breakable-master";
  options.http_port = 0;
  options.work_dir = dir_.path() + "/breakable-master";
  options.allocation_interval = 0.05;
  options.framework_heartbeat_interval = 0.2;
  options.on_fatal = [&](const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex);
    why = reason;
    fatal = true;
  };
  auto master = master::Master::Start(system_, options, std::move(storage));
  ASSERT_TRUE(master.ok()) << master.error();

  Recorder recorder;
  sdk::DriverOptions driver_options;
  driver_options.master = (*master)->address();
  driver_options.framework.name = "doomed";
  driver_options.resubscribe_interval = 0.2;
  sdk::SchedulerDriver driver(&recorder, driver_options);
  ASSERT_TRUE(driver.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return driver.subscribed(); }));
  FrameworkId id = recorder.framework_id();

  breakable->broken = true;
  driver.Stop(/*teardown=*/true);  // the master removes it, then cannot record that
  ASSERT_TRUE(WaitFor([&] { return fatal.load(); }));
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_NE(why.find("the disk is full"), std::string::npos) << why;
  }
  // It no longer serves: its state cannot be asked for, and /health says so.
  EXPECT_TRUE(
      WaitFor([&] { return (*master)->StateJson().find("did not answer") != std::string::npos; }));
  int status = 0;
  Result<std::string> health = HttpGet("127.0.0.1", (*master)->http_port(), "/health", &status);
  EXPECT_EQ(status, 503) << (health.ok() ? *health : health.error());
  master->reset();

  // A master recovering from that storage still has the framework.
  breakable = nullptr;
  auto reopened = OpenLevelDbStorage(dir_.path() + "/breakable");
  ASSERT_TRUE(reopened.ok()) << reopened.error();
  master::Registrar registrar(std::move(*reopened));
  auto registry = registrar.Recover();
  ASSERT_TRUE(registry.ok()) << registry.error();
  EXPECT_EQ(registry->frameworks.count(id), 1u);
}

}  // namespace
}  // namespace stoa::cluster
