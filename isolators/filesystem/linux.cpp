// filesystem/linux: a task's root filesystem and volumes. The root is a local
// directory or a tarball (unpacked once into the image cache, see
// image_cache.hpp, when the container is provisioned); the container
// gets a writable layer on top of it (overlayfs where the work directory allows
// it, a copy otherwise), with its sandbox at /mnt/sandbox, fresh /proc, /dev
// and /sys, and its host-path volumes. Everything is mounted inside the
// container's mount namespace, so it goes away with the container; every step
// inside the image or the sandbox is resolved beneath it (symlinks in an image
// stay in the image). The executor pivots each task into STOA_ROOTFS.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "isolators/filesystem/image_cache.hpp"
#include "isolators/isolator.hpp"

namespace stoa::isolators {
namespace {

namespace fs = std::filesystem;

constexpr long kOverlayfsMagic = 0x794c7630;
constexpr const char* kSandboxInRoot = "/mnt/sandbox";

bool KernelHasOverlay() {
  std::ifstream in("/proc/filesystems");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() >= 7 && line.compare(line.size() - 7, 7, "overlay") == 0) return true;
  }
  return false;
}

// "a/b/../c" and absolute paths that leave their root are refused.
Status CheckContainerPath(const std::string& path, bool absolute) {
  if (path.empty()) return Status::Error("a volume needs a container path");
  if (absolute != (path[0] == '/')) {
    return Status::Error("volume container path '" + path + "' must be " +
                         (absolute ? "absolute (the task has a root filesystem)"
                                   : "relative to the sandbox (the task has no root filesystem)"));
  }
  for (const auto& part : fs::path(path)) {
    if (part == "..") return Status::Error("volume container path '" + path + "' contains '..'");
  }
  return Status::Ok();
}

MountStep Step(MountStep::Kind kind, std::string target) {
  MountStep step;
  step.kind = kind;
  step.target = std::move(target);
  return step;
}

MountStep MountOf(std::string source, std::string target, std::string type, unsigned long flags,
                  std::string data = "") {
  MountStep step = Step(MountStep::Kind::kMount, std::move(target));
  step.source = std::move(source);
  step.type = std::move(type);
  step.flags = flags;
  step.data = std::move(data);
  return step;
}

// `step`, resolved beneath `root` (an image or a sandbox): a symlink in it
// cannot lead the step out onto the host.
MountStep Beneath(std::string root, MountStep step) {
  step.root = std::move(root);
  return step;
}

// Steps that create every missing directory of `relative` under `root`.
void MakeDirectories(const std::string& root, const std::string& relative,
                     std::vector<MountStep>* steps) {
  std::string path = root;
  for (const auto& part : fs::path(relative)) {
    if (part.empty() || part == "/" || part == ".") continue;
    path += "/" + part.string();
    steps->push_back(Beneath(root, Step(MountStep::Kind::kMakeDirectory, path)));
  }
}

class LinuxFilesystemIsolator : public Isolator {
 public:
  static Result<std::unique_ptr<Isolator>> Create(const IsolatorOptions& options) {
    if (geteuid() != 0) {
      return Status::Error("filesystem/linux: needs root (mounts and pivot_root); use posix");
    }
    return std::unique_ptr<Isolator>(new LinuxFilesystemIsolator(options));
  }

  Status Recover(const std::vector<ContainerState>& known,
                 const std::vector<ContainerId>& orphans) override {
    for (const auto& state : known) {
      std::ifstream in(LayerDir(state.container_id) + "/" + kImageFile);
      std::string image;
      if (std::getline(in, image) && cache_.Contains(image)) cache_.Hold(state.container_id, image);
    }
    for (const auto& id : orphans) {
      if (Status s = Cleanup(id); !s.ok()) return s;
    }
    return Status::Ok();
  }

  // A tarball not unpacked yet is the slow part of a launch: it is unpacked
  // here, off the launch path, and held for the container.
  bool NeedsProvisioning(const ContainerConfig& config) override {
    const std::string& rootfs = config.container.rootfs;
    return IsTarball(rootfs) && !cache_.Has(rootfs);
  }

  Status Provision(const ContainerConfig& config) override {
    if (!IsTarball(config.container.rootfs)) return Status::Ok();
    return cache_.Acquire(config.container.rootfs, config.container_id).status();
  }

  Result<LaunchInfo> Prepare(const ContainerConfig& config) override {
    const ContainerInfo& container = config.container;
    LaunchInfo info;
    if (container.rootfs.empty() && container.volumes.empty()) return info;
    info.clone_flags = CLONE_NEWNS;
    std::string root;
    if (!container.rootfs.empty()) {
      Result<std::string> prepared = PrepareRoot(config, &info.mounts);
      if (!prepared.ok()) return prepared.status();
      root = *prepared;
      info.environment.emplace_back("STOA_ROOTFS", root);
      info.environment.emplace_back("STOA_ROOTFS_SANDBOX", kSandboxInRoot);
    }
    for (const Volume& volume : container.volumes) {
      if (Status s = CheckContainerPath(volume.container_path, !root.empty()); !s.ok()) return s;
      struct stat st {};
      if (volume.host_path.empty() || volume.host_path[0] != '/' ||
          stat(volume.host_path.c_str(), &st) != 0) {
        return Status::Error("volume host path '" + volume.host_path +
                             "' is not an existing absolute path on the agent");
      }
      std::string base = root.empty() ? config.sandbox : root;
      fs::path target_relative = fs::path(volume.container_path).relative_path();
      std::string target = base + "/" + target_relative.string();
      if (S_ISDIR(st.st_mode)) {
        MakeDirectories(base, target_relative.string(), &info.mounts);
      } else {
        MakeDirectories(base, target_relative.parent_path().string(), &info.mounts);
        info.mounts.push_back(Beneath(base, Step(MountStep::Kind::kMakeFile, target)));
      }
      info.mounts.push_back(
          Beneath(base, MountOf(volume.host_path, target, "",
                                MS_BIND | MS_REC | (volume.read_only ? MS_RDONLY : 0))));
    }
    return info;
  }

  Status Isolate(const ContainerId&, pid_t) override { return Status::Ok(); }
  std::optional<WatchFd> Watch(const ContainerId&) override { return std::nullopt; }
  std::optional<Limitation> CheckLimitation(const ContainerId&) override { return std::nullopt; }
  Status Update(const ContainerId&, const Resources&) override { return Status::Ok(); }
  Result<ResourceStatistics> Usage(const ContainerId&) override { return ResourceStatistics{}; }

  Status Cleanup(const ContainerId& container_id) override {
    std::error_code error;
    std::string dir = LayerDir(container_id);
    fs::remove_all(dir, error);
    if (error) return Status::Error("cannot remove '" + dir + "': " + error.message());
    cache_.Release(container_id);
    return Status::Ok();
  }

 private:
  explicit LinuxFilesystemIsolator(IsolatorOptions options)
      : options_(std::move(options)),
        overlay_(KernelHasOverlay()),
        cache_(options_.image_cache_dir.empty() ? options_.work_dir + "/images"
                                                : options_.image_cache_dir,
               options_.image_cache_keep) {}

  std::string LayerDir(const ContainerId& id) const {
    return options_.work_dir + "/containers/" + id + "/rootfs";
  }

  static constexpr const char* kImageFile = "image";  // in the layer dir: the image it uses

  // A tarball (a regular file) to take from the image cache.
  static bool IsTarball(const std::string& rootfs) {
    struct stat st {};
    return !rootfs.empty() && rootfs[0] == '/' && stat(rootfs.c_str(), &st) == 0 &&
           S_ISREG(st.st_mode);
  }

  // The read-only base: the directory itself, or the tarball unpacked in the
  // cache, which `id` then holds (so that no eviction removes it).
  Result<std::string> BaseOf(const std::string& rootfs, const ContainerId& id) {
    if (rootfs[0] != '/') {
      return Status::Error("root filesystem '" + rootfs + "' is not an absolute path");
    }
    struct stat st {};
    if (stat(rootfs.c_str(), &st) != 0) {
      return Status::Error("root filesystem '" + rootfs + "' does not exist on the agent");
    }
    if (S_ISDIR(st.st_mode)) return rootfs;
    return cache_.Acquire(rootfs, id);
  }

  // Makes the writable layer and the steps that mount the root; returns the
  // root's host path (the mount point in the container's mount namespace).
  Result<std::string> PrepareRoot(const ContainerConfig& config, std::vector<MountStep>* steps) {
    Result<std::string> base = BaseOf(config.container.rootfs, config.container_id);
    if (!base.ok()) return base.status();
    std::string dir = LayerDir(config.container_id);
    std::string root = dir + "/merged";
    std::error_code error;
    fs::create_directories(root, error);
    if (error) return Status::Error("cannot create '" + root + "': " + error.message());
    if (cache_.Contains(*base)) std::ofstream(dir + "/" + kImageFile) << *base << "\n";
    struct statfs layer_fs {};
    bool overlay = overlay_ && statfs(dir.c_str(), &layer_fs) == 0 &&
                   static_cast<long>(layer_fs.f_type) != kOverlayfsMagic &&
                   base->find_first_of(",:") == std::string::npos &&
                   dir.find_first_of(",:") == std::string::npos;
    if (overlay) {
      fs::create_directories(dir + "/upper", error);
      fs::create_directories(dir + "/work", error);
      if (error)
        return Status::Error("cannot create the layer in '" + dir + "': " + error.message());
      steps->push_back(
          MountOf("overlay", root, "overlay", 0,
                  "lowerdir=" + *base + ",upperdir=" + dir + "/upper,workdir=" + dir + "/work"));
    } else {
      fs::copy(*base, root,
               fs::copy_options::recursive | fs::copy_options::copy_symlinks |
                   fs::copy_options::overwrite_existing,
               error);
      if (error) {
        return Status::Error("cannot copy root filesystem '" + *base + "' to '" + root +
                             "': " + error.message());
      }
      steps->push_back(MountOf(root, root, "", MS_BIND | MS_REC));  // pivot_root needs a mount
    }
    MakeDirectories(root, kSandboxInRoot, steps);
    steps->push_back(
        Beneath(root, MountOf(config.sandbox, root + kSandboxInRoot, "", MS_BIND | MS_REC)));
    MakeDirectories(root, "proc", steps);
    steps->push_back(
        Beneath(root, MountOf("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)));
    MakeDirectories(root, "sys", steps);
    steps->push_back(Beneath(root, MountOf("sysfs", root + "/sys", "sysfs",
                                           MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)));
    MakeDirectories(root, "dev", steps);
    steps->push_back(
        Beneath(root, MountOf("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "mode=755,size=1m")));
    struct Device {
      const char* name;
      unsigned major, minor;
    };
    for (const Device& d : {Device{"null", 1, 3}, Device{"zero", 1, 5}, Device{"full", 1, 7},
                            Device{"random", 1, 8}, Device{"urandom", 1, 9}, Device{"tty", 5, 0}}) {
      MountStep node = Step(MountStep::Kind::kMakeDevice, root + "/dev/" + d.name);
      node.mode = S_IFCHR | 0666;
      node.device = makedev(d.major, d.minor);
      steps->push_back(Beneath(root, node));
    }
    for (const auto& [name, target] :
         {std::pair{"fd", "/proc/self/fd"}, std::pair{"stdin", "/proc/self/fd/0"},
          std::pair{"stdout", "/proc/self/fd/1"}, std::pair{"stderr", "/proc/self/fd/2"}}) {
      MountStep link = Step(MountStep::Kind::kSymlink, root + "/dev/" + name);
      link.source = target;
      steps->push_back(Beneath(root, link));
    }
    MakeDirectories(root, "dev/shm", steps);
    steps->push_back(Beneath(
        root, MountOf("shm", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")));
    return root;
  }

  IsolatorOptions options_;
  bool overlay_;
  ImageCache cache_;
};

const RegisterIsolator kRegistered("filesystem/linux", &LinuxFilesystemIsolator::Create);

}  // namespace
}  // namespace stoa::isolators
