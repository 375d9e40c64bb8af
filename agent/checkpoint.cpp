#include "agent/checkpoint.hpp"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "protocols/codec.hpp"

namespace stoa::agent {

namespace {
constexpr const char* kAgentId = "agent/id";
constexpr const char* kBootId = "agent/boot_id";
constexpr const char* kEpoch = "agent/epoch";
constexpr const char* kExecutors = "executors/";
constexpr const char* kTasks = "tasks/";
constexpr const char* kUnknownTasks = "unknown_tasks/";

std::string TaskKey(const TaskRecord& record) {
  return kTasks + record.task.framework_id + "/" + record.task.info.task_id;
}
}  // namespace

struct Checkpoint::Impl {
  std::unique_ptr<leveldb::DB> db;

  // Synced: the record is on disk before the agent acts on it (sends the
  // update on, acknowledges the executor). LevelDB appends to one log, so the
  // sync also makes every earlier write durable.
  Status Write(leveldb::WriteBatch& batch, const std::string& what) {
    leveldb::WriteOptions options;
    options.sync = true;
    leveldb::Status s = db->Write(options, &batch);
    return s.ok() ? Status::Ok()
                  : Status::Error("checkpoint write of '" + what + "' failed: " + s.ToString());
  }
  Status Put(const std::string& key, const std::string& value) {
    leveldb::WriteBatch batch;
    batch.Put(key, value);
    return Write(batch, key);
  }
  // Not synced unless asked: a delete lost in a host crash brings back a
  // finished record, which recovery finds finished and deletes again; the next
  // sync takes it.
  Status Delete(const std::string& key, bool sync = false) {
    leveldb::WriteOptions options;
    options.sync = sync;
    leveldb::Status s = db->Delete(options, key);
    return s.ok() ? Status::Ok()
                  : Status::Error("checkpoint delete of '" + key + "' failed: " + s.ToString());
  }
};

Checkpoint::Checkpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Checkpoint::~Checkpoint() = default;

Result<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& work_dir) {
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* db = nullptr;
  std::string path = work_dir + "/meta";
  // It holds the executors' secrets: the agent's user only.
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::Error("cannot create the agent's checkpoint directory '" + path +
                         "': " + std::strerror(errno));
  }
  if (chmod(path.c_str(), 0700) != 0) {
    return Status::Error("cannot restrict the agent's checkpoint directory '" + path +
                         "': " + std::strerror(errno));
  }
  leveldb::Status s = leveldb::DB::Open(options, path, &db);
  if (!s.ok()) {
    return Status::Error("cannot open the agent's checkpoint in '" + path + "': " + s.ToString() +
                         " (is another agent using this work directory?)");
  }
  auto impl = std::make_unique<Impl>();
  impl->db.reset(db);
  return std::unique_ptr<Checkpoint>(new Checkpoint(std::move(impl)));
}

Result<RecoveredState> Checkpoint::Recover() {
  RecoveredState state;
  std::unique_ptr<leveldb::Iterator> it(impl_->db->NewIterator(leveldb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string key = it->key().ToString();
    std::string_view value(it->value().data(), it->value().size());
    if (key == kAgentId) {
      state.agent_id = std::string(value);
    } else if (key == kBootId) {
      state.boot_id = std::string(value);
    } else if (key == kEpoch) {
      try {
        state.epoch = std::stoull(std::string(value));
      } catch (const std::exception&) {
        return Status::Error("checkpoint entry '" + key + "' is not a number");
      }
    } else if (key.rfind(kExecutors, 0) == 0) {
      auto record = DecodeExecutorRecord(value);
      if (!record.ok()) return Status::Error("checkpoint entry '" + key + "': " + record.error());
      state.executors.push_back(std::move(*record));
    } else if (key.rfind(kTasks, 0) == 0 || key.rfind(kUnknownTasks, 0) == 0) {
      auto record = DecodeTaskRecord(value);
      if (!record.ok()) return Status::Error("checkpoint entry '" + key + "': " + record.error());
      (key.rfind(kTasks, 0) == 0 ? state.tasks : state.unknown_tasks).push_back(std::move(*record));
    }
  }
  if (!it->status().ok())
    return Status::Error("cannot read the checkpoint: " + it->status().ToString());
  return state;
}

Status Checkpoint::SetAgentId(const AgentId& agent_id) {
  leveldb::WriteBatch batch;  // the id and its boot together
  batch.Put(kAgentId, agent_id);
  batch.Put(kBootId, BootId());
  return impl_->Write(batch, kAgentId);
}

Status Checkpoint::SetEpoch(uint64_t epoch) { return impl_->Put(kEpoch, std::to_string(epoch)); }

Status Checkpoint::PutExecutor(const ExecutorRecord& record, const std::vector<TaskRecord>& tasks) {
  leveldb::WriteBatch batch;
  std::string key = kExecutors + record.info.framework_id + "/" + record.info.executor_id;
  batch.Put(key, EncodeRecord(record));
  for (const auto& task : tasks) batch.Put(TaskKey(task), EncodeRecord(task));
  return impl_->Write(batch, key);
}

Status Checkpoint::RemoveExecutor(const FrameworkId& framework_id, const ExecutorId& executor_id) {
  return impl_->Delete(kExecutors + framework_id + "/" + executor_id);
}

Status Checkpoint::PutTask(const TaskRecord& record) {
  return impl_->Put(TaskKey(record), EncodeRecord(record));
}

Status Checkpoint::RemoveTask(const FrameworkId& framework_id, const TaskId& task_id) {
  return impl_->Delete(kTasks + framework_id + "/" + task_id);
}

Status Checkpoint::PutUnknownTask(const TaskRecord& record) {
  return impl_->Put(kUnknownTasks + record.task.framework_id + "/" + record.task.info.task_id,
                    EncodeRecord(record));
}

Status Checkpoint::RemoveUnknownTask(const FrameworkId& framework_id, const TaskId& task_id) {
  // Synced: this removal is what records the acknowledgement of its update.
  return impl_->Delete(kUnknownTasks + framework_id + "/" + task_id, /*sync=*/true);
}

std::string BootId() {
  // Tests stand in for a reboot, the one fault they cannot cause, with their own file.
  const char* path = std::getenv("STOA_BOOT_ID_FILE");
  std::ifstream in(path != nullptr ? path : "/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

bool IsExecutorProcess(int pid, const ExecutorId& executor_id) {
  if (pid <= 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  if (!in) return false;
  std::string environ((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string wanted = "STOA_EXECUTOR_ID=" + executor_id;
  size_t pos = 0;
  while ((pos = environ.find(wanted, pos)) != std::string::npos) {
    bool starts = pos == 0 || environ[pos - 1] == '\0';
    size_t end = pos + wanted.size();
    if (starts && (end == environ.size() || environ[end] == '\0')) return true;
    pos = end;
  }
  return false;
}

}  // namespace stoa::agent
