// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/storage_check.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "common/files.h"

namespace dind::doctor {
namespace {

using Json = nlohmann::json;

// "12.3 GiB", "512 MiB", "900 KiB"
std::string Bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%.0f %s", value, units[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  }
  return text;
}

std::string StatSource(const FsStats& stats) {
  return "statfs of " + stats.statted_path + " (pid " + std::to_string(stats.pid) + ")";
}

// The fix of a data-root dockerd cannot stack overlays on, or that lives in memory.
std::string DiskFix(const std::string& data_root) {
  return "mount a disk-backed volume at " + data_root +
         " in the dind container (volumes: - name: docker-data emptyDir: {} with volumeMounts: - "
         "name: docker-data mountPath: " +
         data_root + ", or a PVC)";
}

const Json* Member(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string StringMember(const Json& object, const char* key) {
  const Json* value = Member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

}  // namespace

std::string FsTypeName(std::int64_t type) {
  switch (type) {
    case kOverlayfsMagic:
      return "overlayfs";
    case kTmpfsMagic:
      return "tmpfs";
    case kRamfsMagic:
      return "ramfs";
    case 0xEF53:
      return "ext2/ext3/ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x2FC12FC1:
      return "zfs";
    case 0x6969:
      return "nfs";
    case 0x65735546:
      return "fuse";
    default:
      break;
  }
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(type));
  return text;
}

Result<FsStats> SystemFsStatReader::Stat(const std::string& path) {
  std::filesystem::path at(path);
  // dockerd creates a missing data-root (and its parents) on the file system of the nearest
  // ancestor that exists, so that is the one to judge.
  for (;;) {
    struct statfs info {};
    if (::statfs(at.c_str(), &info) == 0) {
      FsStats stats;
      stats.statted_path = at.string();
      stats.pid = static_cast<int>(::getpid());
      stats.type = static_cast<std::int64_t>(info.f_type);
      stats.block_size = static_cast<std::uint64_t>(info.f_frsize);
      stats.blocks = info.f_blocks;
      stats.blocks_free = info.f_bfree;
      stats.blocks_available = info.f_bavail;
      stats.files = info.f_files;
      stats.files_free = info.f_ffree;
      return stats;
    }
    if (errno != ENOENT || !at.has_parent_path() || at.parent_path() == at) {
      return Error::FromErrno("statfs " + at.string(),
                              "run doctor where dockerd's data-root is mounted (the dind "
                              "container), or pass --daemon-json naming its daemon.json");
    }
    at = at.parent_path();
  }
}

Result<StorageInfo> ParseStorageInfo(std::string_view json, std::string_view source) {
  const Json parsed = Json::parse(json.begin(), json.end(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Error::Environment(std::string(source) + " did not answer a JSON object",
                              "check that --docker-socket names dockerd's API socket");
  }
  StorageInfo info;
  info.server_version = StringMember(parsed, "ServerVersion");
  info.docker_root_dir = StringMember(parsed, "DockerRootDir");
  info.driver = StringMember(parsed, "Driver");
  if (const Json* status = Member(parsed, "DriverStatus"); status && status->is_array()) {
    for (const Json& pair : *status) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
        continue;
      }
      const auto key = pair[0].get<std::string>();
      const auto value = pair[1].get<std::string>();
      // daemon/containerd/service.go (29.0): [["driver-type", "io.containerd.snapshotter.v1"]]
      if (key == "driver-type" && value == "io.containerd.snapshotter.v1") {
        info.containerd_store = true;
      }
      if (key == "Backing Filesystem") info.backing_filesystem = value;
      info.driver_status.emplace_back(key, value);
    }
  }
  return info;
}

Result<DataRoot> ChooseDataRoot(const std::optional<std::string>& daemon_json,
                                std::string_view daemon_json_path,
                                const std::optional<StorageInfo>& info) {
  if (info && !info->docker_root_dir.empty()) {
    return DataRoot{info->docker_root_dir, "GET /info DockerRootDir"};
  }
  if (daemon_json) {
    const Json parsed = Json::parse(*daemon_json, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return Error::BadInput(std::string(daemon_json_path) + " is not a JSON object",
                             "fix it: dockerd refuses to start with it too");
    }
    if (const Json* root = Member(parsed, "data-root")) {
      if (!root->is_string() || root->get<std::string>().empty()) {
        return Error::BadInput(
            std::string(daemon_json_path) + ": \"data-root\" is not a non-empty string",
            "give it a path, e.g. \"/var/lib/docker\"");
      }
      return DataRoot{root->get<std::string>(),
                      "\"data-root\" in " + std::string(daemon_json_path)};
    }
  }
  // The --data-root flag on dockerd's command line is not seen here; /info names it when
  // dockerd runs.
  return DataRoot{std::string(kDefaultDataRoot),
                  "dockerd's default (no \"data-root\" in " + std::string(daemon_json_path) + ")"};
}

StoreGuess GuessImageStore(const std::optional<StorageInfo>& info,
                           const std::optional<netcfg::DockerVersion>& dockerd_version,
                           const std::optional<std::string>& daemon_json, bool prior_graphdriver) {
  if (info && !info->driver.empty()) {
    return info->containerd_store
               ? StoreGuess{ImageStore::kContainerd, "GET /info DriverStatus driver-type"}
               : StoreGuess{ImageStore::kGraphdriver, "GET /info Driver " + info->driver};
  }
  std::optional<bool> snapshotter;  // features.containerd-snapshotter
  bool storage_driver = false;
  if (daemon_json) {
    const Json parsed = Json::parse(*daemon_json, nullptr, false);
    if (parsed.is_object()) {
      storage_driver = Member(parsed, "storage-driver") != nullptr;
      if (const Json* features = Member(parsed, "features"); features && features->is_object()) {
        if (const Json* flag = Member(*features, "containerd-snapshotter");
            flag && flag->is_boolean()) {
          snapshotter = flag->get<bool>();
        }
      }
    }
  }
  if (snapshotter && !*snapshotter) {
    return {ImageStore::kGraphdriver, "daemon.json features.containerd-snapshotter false"};
  }
  if (storage_driver) return {ImageStore::kGraphdriver, "daemon.json \"storage-driver\""};
  if (snapshotter && *snapshotter) {
    return {ImageStore::kContainerd, "daemon.json features.containerd-snapshotter true"};
  }
  if (!dockerd_version) return {ImageStore::kUnknown, "dockerd's version is unknown"};
  const std::string version = "dockerd " + dockerd_version->ToString();
  // daemon/image_store_choice.go @ docker-v29.0.0: containerd-by-default, graphdriver-prior.
  if (!dockerd_version->AtLeast(29, 0)) return {ImageStore::kGraphdriver, version + "'s default"};
  if (prior_graphdriver) {
    return {ImageStore::kGraphdriver, version + " keeps the graphdriver state in the data-root"};
  }
  return {ImageStore::kContainerd, version + "'s default"};
}

CheckResult CheckStorageFs(const Result<DataRoot>& data_root, const Result<FsStats>& stats,
                           const StoreGuess& store) {
  CheckResult result{.id = "storage-fs"};
  if (!data_root) {
    result.summary = "dockerd's data-root is unknown: " + data_root.error().Message();
    result.source = "daemon.json";
    result.fix = data_root.error().hint;
    return result;
  }
  const std::string& root = data_root->path;
  result.observed["data_root"] = root;
  result.observed["data_root_from"] = data_root->source;
  if (!stats) {
    result.summary = "the file system under data-root " + root +
                     " could not be read: " + stats.error().Message();
    result.source = "statfs of " + root + " (pid " + std::to_string(::getpid()) + ")";
    result.fix = stats.error().hint;
    return result;
  }
  const std::string fs = FsTypeName(stats->type);
  result.source = StatSource(*stats) + "; data-root from " + data_root->source;
  result.observed["statted_path"] = stats->statted_path;
  result.observed["fs_type"] = fs;
  result.observed["image_store"] = store.store == ImageStore::kContainerd    ? "containerd"
                                   : store.store == ImageStore::kGraphdriver ? "graphdriver"
                                                                             : "unknown";
  const std::string where =
      "data-root " + root +
      (stats->statted_path == root ? std::string()
                                   : " (not there yet; its ancestor " + stats->statted_path + ")") +
      " is on " + fs;
  if (stats->type == kOverlayfsMagic) {
    result.status = CheckStatus::kFail;
    const std::string graph =
        "the graphdriver store's overlay2 cannot mount overlays on overlayfs and dockerd falls "
        "back to vfs, copying every image layer in full (slow builds, the node's disk fills)";
    const std::string containerd =
        "Docker 29's containerd store starts, but every pull and run then fails at mount time "
        "(invalid argument): overlay on overlay is refused";
    switch (store.store) {
      case ImageStore::kGraphdriver:
        result.summary = where + ": " + graph + " (" + store.why + ")";
        break;
      case ImageStore::kContainerd:
        result.summary = where + ": " + containerd + " (" + store.why + ")";
        break;
      case ImageStore::kUnknown:
        result.summary = where + ": " + graph + "; " + containerd;
        break;
    }
    result.fix = DiskFix(root);
    return result;
  }
  if (stats->type == kTmpfsMagic || stats->type == kRamfsMagic) {
    const std::uint64_t size = stats->blocks * stats->block_size;
    const std::uint64_t used = (stats->blocks - stats->blocks_free) * stats->block_size;
    result.status = CheckStatus::kWarn;
    result.summary = where +
                     ": images, layers and containers' writes live in memory and count "
                     "against the pod's memory limit (" +
                     Bytes(used) + " used now" +
                     (size > 0 ? ", up to the mount's size " + Bytes(size) : std::string()) + ")";
    result.observed["used_bytes"] = used;
    result.observed["size_bytes"] = size;
    result.fix = DiskFix(root) + " instead of an emptyDir with medium: Memory";
    return result;
  }
  result.status = CheckStatus::kOk;
  result.summary = where;
  return result;
}

CheckResult CheckStorageSpace(const Result<DataRoot>& data_root, const Result<FsStats>& stats) {
  CheckResult result{.id = "storage-space"};
  if (!data_root || !stats) {
    result.summary = "free space under the data-root could not be read: " +
                     (!data_root ? data_root.error().Message() : stats.error().Message());
    result.source = !data_root ? "daemon.json" : "statfs of " + data_root->path;
    return result;
  }
  result.source = StatSource(*stats);
  // dockerd runs as root: the blocks reserved for root are its too.
  const std::uint64_t size = stats->blocks * stats->block_size;
  const std::uint64_t free_bytes = stats->blocks_free * stats->block_size;
  result.observed["free_bytes"] = free_bytes;
  result.observed["size_bytes"] = size;
  result.observed["files"] = stats->files;
  result.observed["files_free"] = stats->files_free;
  std::vector<std::string> low;
  if (free_bytes < kMinFreeBytes || free_bytes * 100 < size * kMinFreePercent) {
    low.push_back(Bytes(free_bytes) + " free of " + Bytes(size) + " (below " +
                  Bytes(kMinFreeBytes) + " or " + std::to_string(kMinFreePercent) + " %)");
  }
  // f_files 0: no inode limit (btrfs and others report none).
  if (stats->files > 0 && stats->files_free * 100 < stats->files * kMinFreeInodesPercent) {
    low.push_back(std::to_string(stats->files_free) + " inodes free of " +
                  std::to_string(stats->files) + " (below " +
                  std::to_string(kMinFreeInodesPercent) + " %)");
  }
  if (low.empty()) {
    result.status = CheckStatus::kOk;
    result.summary = Bytes(free_bytes) + " free of " + Bytes(size) + ", " +
                     (stats->files > 0 ? std::to_string(stats->files_free) + " inodes free"
                                       : std::string("no inode limit")) +
                     " under data-root " + data_root->path;
    return result;
  }
  result.status = CheckStatus::kWarn;
  result.summary = "little room under data-root " + data_root->path + ": " + low.front() +
                   (low.size() > 1 ? "; " + low.back() : std::string());
  result.fix =
      "give the data-root's volume more room (a larger PVC or node disk), or prune "
      "images and build cache regularly (docker system prune)";
  return result;
}

CheckResult CheckStorageDriver(const Result<StorageInfo>& info, std::string_view info_source) {
  CheckResult result{.id = "storage-driver", .source = std::string(info_source)};
  if (!info) {
    result.summary = "dockerd did not answer, so the storage driver it chose is not known: " +
                     info.error().Message();
    result.fix = "run doctor again once dockerd runs, or pass --docker-socket";
    return result;
  }
  if (info->driver.empty()) {
    result.summary = "GET /info names no storage Driver";
    return result;
  }
  const std::string store = info->containerd_store ? "containerd image store" : "graphdriver store";
  result.observed["driver"] = info->driver;
  result.observed["image_store"] = info->containerd_store ? "containerd" : "graphdriver";
  if (!info->backing_filesystem.empty()) {
    result.observed["backing_filesystem"] = info->backing_filesystem;
  }
  if (!info->server_version.empty()) result.source += " (dockerd " + info->server_version + ")";
  const std::string root =
      info->docker_root_dir.empty() ? std::string(kDefaultDataRoot) : info->docker_root_dir;
  const std::string uses = "dockerd uses " + info->driver + " (" + store + ")";
  // vfs (graphdriver) and native (containerd's snapshotter) copy each layer in full: what
  // dockerd falls back to when overlay cannot be mounted under the data-root.
  if (info->driver == "vfs" || info->driver == "native") {
    result.status = CheckStatus::kFail;
    result.summary = uses +
                     ": every image layer is copied in full, so pulls and builds are slow "
                     "and the disk fills";
    result.fix = DiskFix(root) + ", then start dockerd on it afresh so that it picks overlay";
    return result;
  }
  if (info->backing_filesystem == "overlayfs") {
    result.status = CheckStatus::kFail;
    result.summary = uses + " on a Backing Filesystem of overlayfs: overlay on overlay";
    result.fix = DiskFix(root);
    return result;
  }
  result.status = CheckStatus::kOk;
  result.summary =
      uses + (info->backing_filesystem.empty() ? std::string() : " on " + info->backing_filesystem);
  return result;
}

std::string InfoSource(std::string_view socket) {
  return "GET /info of unix://" + std::string(socket);
}

std::vector<CheckResult> StorageChecksWith(const DoctorContext& context, FsStatReader& reader) {
  std::optional<std::string> daemon_json;
  if (auto text = ReadFile(context.daemon_json)) {
    daemon_json = std::move(text).value();
  }
  const std::string info_source = InfoSource(context.docker_socket);
  Result<StorageInfo> info = Error::Environment("not asked");
  if (const auto& body = DockerdInfoBody(context)) {
    info = ParseStorageInfo(*body, info_source);
  } else {
    info = body.error();
  }
  const std::optional<StorageInfo> answered =
      info ? std::optional<StorageInfo>(*info) : std::nullopt;
  const Result<DataRoot> data_root = ChooseDataRoot(daemon_json, context.daemon_json, answered);
  Result<FsStats> stats = Error::Environment("no data-root to look at");
  bool prior_graphdriver = false;
  if (data_root) {
    // The data-root's file system as dockerd's mount namespace has it (FactsProcess).
    stats = reader.Stat(context.process.RootPath(data_root->path));
    // Said as dockerd's paths: the source adds whose root they were read through.
    const std::string prefix = context.process.RootPath("");
    if (stats && !prefix.empty() && stats->statted_path.starts_with(prefix)) {
      std::string inside = stats->statted_path.substr(prefix.size());
      stats->statted_path = inside.empty() ? std::string(1, '/') : std::move(inside);
    }
    // graphdriver.HasPriorDriver: a directory of a graphdriver in the data-root.
    for (const char* driver : {"overlay2", "fuse-overlayfs", "btrfs", "zfs", "vfs"}) {
      struct stat status {};
      const std::string dir = context.process.RootPath(data_root->path) + "/" + driver;
      if (::stat(dir.c_str(), &status) == 0 && S_ISDIR(status.st_mode)) prior_graphdriver = true;
    }
  }
  std::optional<netcfg::DockerVersion> version;
  if (answered) version = netcfg::ParseDockerVersion(answered->server_version);
  if (!version && !answered) {
    if (auto offline = DockerdVersionNotServed(context)) version = offline->first;
  }
  const StoreGuess store = GuessImageStore(answered, version, daemon_json, prior_graphdriver);
  std::vector<CheckResult> results = {CheckStorageFs(data_root, stats, store),
                                      CheckStorageSpace(data_root, stats),
                                      CheckStorageDriver(info, info_source)};
  if (context.process.pid != 0) {
    const std::string prefix_of_root = context.process.RootPath("");
    for (auto& result : results) {
      if (result.id != "storage-driver") {
        result.source += "; the data-root as " + context.process.Describe() + " sees it, through " +
                         prefix_of_root + " (" + context.process.chosen_by + ")";
      }
    }
  }
  return results;
}

std::vector<CheckResult> StorageChecks(const DoctorContext& context) {
  SystemFsStatReader reader;
  return StorageChecksWith(context, reader);
}

}  // namespace dind::doctor
