// SPDX-License-Identifier: Apache-2.0
// doctor's storage checks (issue 29, item 1): the file system under dockerd's data-root, and the
// storage driver dockerd really chose. Pure checks over what was read (statfs values, daemon.json,
// the body of GET /info); StorageChecks reads them: daemon.json from --daemon-json, /info from
// --docker-socket, statfs through an FsStatReader (the seam tests replace).
//
// What the releases do (moby, read at the tags named; see /work/notes/issue29-research.md §4):
//  * graphdriver store (every release before 29, and 29 with earlier graphdriver state or an
//    explicit storage-driver): overlay2 test-mounts an overlay under the data-root; on an
//    overlayfs data-root that mount fails ("failed to mount overlay: invalid argument") and
//    dockerd falls through to vfs, which copies every layer in full.
//  * containerd image store (the default from docker-v29.0.0): containerd's overlayfs
//    snapshotter does no test mount, so on an overlayfs data-root dockerd starts and every pull
//    and run then fails at mount time (EINVAL); it is no quiet vfs fallback. Where overlayfs is
//    unavailable it falls back to `native`, which copies like vfs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "daemon/doctor/check.h"
#include "daemon/doctor/doctor_facts.h"
#include "netcfg/dockerd/dockerd_version.h"

namespace dind::doctor {

inline constexpr std::string_view kDefaultDataRoot = "/var/lib/docker";  // dockerd's default

// statfs(2) f_type values (linux/magic.h).
inline constexpr std::int64_t kOverlayfsMagic = 0x794C7630;
inline constexpr std::int64_t kTmpfsMagic = 0x01021994;
inline constexpr std::int64_t kRamfsMagic = 0x858458F6;

// Thresholds of storage-space (warn, never fail: a small disk works until it fills). 10 GiB is
// a handful of CI images with their build cache; the percentages catch a nearly full big disk.
inline constexpr std::uint64_t kMinFreeBytes = 10ULL << 30;
inline constexpr std::uint64_t kMinFreePercent = 10;
inline constexpr std::uint64_t kMinFreeInodesPercent = 5;

// "overlayfs", "tmpfs", "ext2/ext3/ext4", "xfs", ... or "0x<hex>" for others.
std::string FsTypeName(std::int64_t type);

// What statfs(2) said of the data-root, or of its nearest existing ancestor when the data-root
// does not exist yet (dockerd creates it on the file system of that ancestor).
struct FsStats {
  std::string statted_path;       // where statfs ran: the data-root or an ancestor
  int pid = 0;                    // the process that ran it: its mount namespace is the one seen
  std::int64_t type = 0;          // f_type
  std::uint64_t block_size = 0;   // f_frsize
  std::uint64_t blocks = 0;       // f_blocks
  std::uint64_t blocks_free = 0;  // f_bfree (with the root-reserved blocks)
  std::uint64_t blocks_available = 0;  // f_bavail (what dockerd, as root, may use is bfree)
  std::uint64_t files = 0;             // f_files; 0 when the file system has no inode limit
  std::uint64_t files_free = 0;        // f_ffree
};

// The seam: statfs of `path`, walking up to the nearest existing ancestor.
class FsStatReader {
 public:
  virtual ~FsStatReader() = default;
  virtual Result<FsStats> Stat(const std::string& path) = 0;
};

// statfs(2) in this process's mount namespace.
class SystemFsStatReader : public FsStatReader {
 public:
  Result<FsStats> Stat(const std::string& path) override;
};

// The storage fields of GET /info.
struct StorageInfo {
  std::string server_version;   // ServerVersion
  std::string docker_root_dir;  // DockerRootDir
  std::string driver;           // Driver: "overlay2", "vfs", "overlayfs", "native", ...
  std::vector<std::pair<std::string, std::string>> driver_status;  // DriverStatus pairs
  // DriverStatus has ["driver-type", "io.containerd.snapshotter.v1"]: the containerd image store.
  bool containerd_store = false;
  std::string backing_filesystem;  // DriverStatus "Backing Filesystem" (graphdriver store)
};
// kEnvironment when `json` is not an object; every field is optional.
Result<StorageInfo> ParseStorageInfo(std::string_view json, std::string_view source);

// Where the data-root comes from, first to say wins: /info DockerRootDir (the running dockerd),
// daemon.json "data-root", dockerd's default. A daemon.json that does not parse is an Error:
// dockerd refuses it too, so no data-root can be named.
struct DataRoot {
  std::string path;
  std::string source;  // "GET /info DockerRootDir", "\"data-root\" in F", "dockerd's default"
};
// `daemon_json`: the file's text, nullopt when it does not exist; `info`: nullopt when dockerd
// did not answer.
Result<DataRoot> ChooseDataRoot(const std::optional<std::string>& daemon_json,
                                std::string_view daemon_json_path,
                                const std::optional<StorageInfo>& info);

// Which image store dockerd uses or will use, for the words of the overlayfs failure.
enum class ImageStore { kGraphdriver, kContainerd, kUnknown };
struct StoreGuess {
  ImageStore store = ImageStore::kUnknown;
  std::string why;  // "GET /info DriverStatus driver-type", "dockerd 29.0.1's default", ...
};
// From /info when it answers; otherwise from dockerd's version and daemon.json: from 29.0 the
// containerd store is the default unless "storage-driver" is set, "features" has
// "containerd-snapshotter": false, or graphdriver state is already in the data-root
// (`prior_graphdriver`: a directory of a graphdriver such as overlay2/ or vfs/ there).
StoreGuess GuessImageStore(const std::optional<StorageInfo>& info,
                           const std::optional<netcfg::DockerVersion>& dockerd_version,
                           const std::optional<std::string>& daemon_json, bool prior_graphdriver);

// storage-fs: overlayfs -> fail (naming what the store in use does there); tmpfs/ramfs -> warn
// with the memory it takes; anything else -> ok. A statfs that failed -> unknown.
CheckResult CheckStorageFs(const Result<DataRoot>& data_root, const Result<FsStats>& stats,
                           const StoreGuess& store);
// storage-space: free bytes below kMinFreeBytes or kMinFreePercent, or free inodes below
// kMinFreeInodesPercent -> warn.
CheckResult CheckStorageSpace(const Result<DataRoot>& data_root, const Result<FsStats>& stats);
// storage-driver: from /info; vfs or native -> fail (every layer copied); a Backing Filesystem
// of overlayfs -> fail; dockerd not answering -> unknown.
CheckResult CheckStorageDriver(const Result<StorageInfo>& info, std::string_view info_source);

// "GET /info of unix:///var/run/docker.sock"
std::string InfoSource(std::string_view socket);

// The group: storage-fs, storage-space, storage-driver.
std::vector<CheckResult> StorageChecks(const DoctorContext& context);
// The same with the statfs seam given (tests).
std::vector<CheckResult> StorageChecksWith(const DoctorContext& context, FsStatReader& reader);

}  // namespace dind::doctor
