// The image cache of filesystem/linux: root filesystem tarballs, each version
// (path, size, modification time) unpacked once into a directory of its own
// and shared by the containers that use it. An unpack holds no lock: other
// images are acquired meanwhile, and a container of the same tarball waits for
// that one unpack instead of starting another. Of the images no container
// holds, the `keep` most recently used stay; the rest are deleted.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.hpp"
#include "common/status.hpp"

namespace stoa::isolators {

class ImageCache {
 public:
  ImageCache(std::string dir, size_t keep);

  // The directory the current version of `tarball` unpacks to. An error when
  // `tarball` is not a regular file.
  Result<std::string> PathFor(const std::string& tarball) const;
  // True when the current version of `tarball` is unpacked (not being unpacked).
  bool Has(const std::string& tarball) const;
  // True when `path` is a directory of this cache.
  bool Contains(const std::string& path) const;

  // The unpacked directory of `tarball`, held for `container_id` until
  // Release. Unpacks it first unless it is there; if another caller is
  // unpacking it, waits for that unpack (and shares its error).
  Result<std::string> Acquire(const std::string& tarball, const ContainerId& container_id);
  // Marks `image`, a directory of this cache, as held by `container_id`
  // (after an agent restart).
  void Hold(const ContainerId& container_id, const std::string& image);
  // Lets go of what `container_id` holds, then deletes unused images beyond `keep`.
  void Release(const ContainerId& container_id);

 private:
  struct Unpacking {
    bool done = false;
    Status result;
  };

  // Unpacks `tarball` into `target` through a staging directory, with tar.
  Status Unpack(const std::string& tarball, const std::string& target) const;
  void HoldLocked(const ContainerId& container_id, const std::string& image);  // REQUIRES: mutex_
  // Renames the unused images beyond `keep` out of the way; returns them, to
  // be deleted without the lock. REQUIRES: mutex_ held.
  std::vector<std::string> TakeEvictedLocked();

  std::string dir_;
  size_t keep_;
  mutable std::mutex mutex_;
  std::condition_variable unpacked_;
  std::map<std::string, std::shared_ptr<Unpacking>> unpacking_;  // image -> its unpack
  std::map<ContainerId, std::string> image_of_;                  // containers holding an image
  std::map<std::string, int> holders_;                           // image -> containers holding it
};

}  // namespace stoa::isolators
