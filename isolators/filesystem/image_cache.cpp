#include "isolators/filesystem/image_cache.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>

extern char** environ;

namespace stoa::isolators {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStaging = ".unpacking-";
constexpr const char* kEvicted = ".evicting-";

}  // namespace

ImageCache::ImageCache(std::string dir, size_t keep) : dir_(std::move(dir)), keep_(keep) {}

Result<std::string> ImageCache::PathFor(const std::string& tarball) const {
  struct stat st {};
  if (stat(tarball.c_str(), &st) != 0) {
    return Status::Error("root filesystem '" + tarball + "' does not exist on the agent");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::Error("root filesystem '" + tarball + "' is neither a directory nor a tarball");
  }
  std::string key = std::to_string(std::hash<std::string>{}(
      tarball + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
      std::to_string(st.st_mtim.tv_nsec)));
  return dir_ + "/" + key;
}

bool ImageCache::Has(const std::string& tarball) const {
  Result<std::string> path = PathFor(tarball);
  if (!path.ok()) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  std::error_code error;
  return unpacking_.count(*path) == 0 && fs::is_directory(*path, error);
}

bool ImageCache::Contains(const std::string& path) const { return path.rfind(dir_ + "/", 0) == 0; }

Result<std::string> ImageCache::Acquire(const std::string& tarball,
                                        const ContainerId& container_id) {
  Result<std::string> image = PathFor(tarball);
  if (!image.ok()) return image;
  std::unique_lock<std::mutex> lock(mutex_);
  if (auto held = image_of_.find(container_id); held != image_of_.end() && held->second == *image) {
    return *image;  // provisioned before it was prepared
  }
  while (true) {
    std::error_code error;
    if (unpacking_.count(*image) == 0 && fs::is_directory(*image, error)) {
      HoldLocked(container_id, *image);
      return *image;
    }
    auto running = unpacking_.find(*image);
    if (running == unpacking_.end()) break;  // nobody unpacks it: this caller does
    std::shared_ptr<Unpacking> unpack = running->second;
    unpacked_.wait(lock, [&] { return unpack->done; });
    if (!unpack->result.ok()) return unpack->result;
  }
  auto unpack = std::make_shared<Unpacking>();
  unpacking_[*image] = unpack;
  lock.unlock();
  Status result = Unpack(tarball, *image);
  lock.lock();
  unpack->done = true;
  unpack->result = result;
  unpacking_.erase(*image);
  unpacked_.notify_all();
  if (!result.ok()) return result;
  HoldLocked(container_id, *image);
  return *image;
}

Status ImageCache::Unpack(const std::string& tarball, const std::string& target) const {
  std::error_code error;
  fs::create_directories(dir_, error);
  std::string staging = target + kStaging + NewUuid();
  fs::create_directories(staging, error);
  if (error) return Status::Error("cannot create '" + staging + "': " + error.message());
  std::vector<std::string> args = {
      "tar",         "--extract", "--preserve-permissions", "--numeric-owner", "--file", tarball,
      "--directory", staging};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, "tar", nullptr, nullptr, argv.data(), environ);
  int status = 0;
  if (spawned == 0) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (spawned != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fs::remove_all(staging, error);
    return Status::Error("cannot unpack root filesystem '" + tarball + "' with tar" +
                         (spawned != 0 ? ": " + ErrnoText(spawned) : " (is it a tarball?)"));
  }
  fs::rename(staging, target, error);
  if (error) {
    fs::remove_all(staging, error);
    if (!fs::is_directory(target)) {
      return Status::Error("cannot move the unpacked root filesystem to '" + target + "'");
    }
  }
  return Status::Ok();
}

void ImageCache::Hold(const ContainerId& container_id, const std::string& image) {
  std::lock_guard<std::mutex> lock(mutex_);
  HoldLocked(container_id, image);
}

void ImageCache::HoldLocked(const ContainerId& container_id, const std::string& image) {
  auto [held, added] = image_of_.emplace(container_id, image);
  if (!added && held->second != image) {  // the tarball changed since it was provisioned
    if (--holders_[held->second] <= 0) holders_.erase(held->second);
    held->second = image;
    added = true;
  }
  if (added) ++holders_[image];
  utimensat(AT_FDCWD, image.c_str(), nullptr, 0);  // most recently used: now
}

void ImageCache::Release(const ContainerId& container_id) {
  std::vector<std::string> evicted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = image_of_.find(container_id);
    if (it == image_of_.end()) return;
    if (--holders_[it->second] <= 0) holders_.erase(it->second);
    image_of_.erase(it);
    evicted = TakeEvictedLocked();
  }
  std::error_code error;
  for (const auto& path : evicted) fs::remove_all(path, error);
}

std::vector<std::string> ImageCache::TakeEvictedLocked() {
  std::vector<std::pair<fs::file_time_type, fs::path>> unused;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir_, error)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_directory(error) || entry.is_symlink(error) ||
        name.find(kStaging) != std::string::npos || name.find(kEvicted) != std::string::npos ||
        holders_.count(entry.path().string()) > 0 || unpacking_.count(entry.path().string()) > 0) {
      continue;
    }
    unused.emplace_back(entry.last_write_time(error), entry.path());
  }
  std::vector<std::string> evicted;
  if (unused.size() <= keep_) return evicted;
  std::sort(unused.begin(), unused.end(), std::greater<>());  // most recent first
  for (size_t i = keep_; i < unused.size(); ++i) {
    // Out of the way at once (no one acquires it now); deleted without the lock.
    std::string moved = unused[i].second.string() + kEvicted + NewUuid();
    fs::rename(unused[i].second, moved, error);
    if (!error) evicted.push_back(moved);
  }
  return evicted;
}

}  // namespace stoa::isolators
