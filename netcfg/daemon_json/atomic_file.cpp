// SPDX-License-Identifier: Apache-2.0
#include "netcfg/daemon_json/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/scoped_fd.h"

namespace dind::netcfg {
namespace {

// A daemon.json is a few kilobytes; anything this large is the wrong file.
constexpr off_t kMaxDaemonJsonBytes = 4 * 1024 * 1024;
constexpr mode_t kNewFileMode = 0644;
constexpr int kMaxSymlinkHops = 40;  // the kernel's own limit
// mkostemp's suffix, and how often a temporary file a concurrent cleanup took is made anew.
constexpr std::string_view kTemporarySuffix = ".tmp-XXXXXX";
constexpr int kTemporaryAttempts = 3;

std::string DirName(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string OctalMode(mode_t mode) {
  std::array<char, 8> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return buffer.data();
}

// What the operator can do about `errnum` while writing into `dir`.
std::string WriteHint(int errnum, const std::string& dir) {
  switch (errnum) {
    case ENOSPC:
    case EDQUOT:
      return "free space (or inodes, or quota) on the file system holding " + dir;
    case EROFS:
      return "mount " + dir +
             " read-write (a Kubernetes ConfigMap or Secret volume is always read-only: mount an "
             "emptyDir or hostPath there instead)";
    case EACCES:
    case EPERM:
      return "run dind-netcfg as root, or give it write access to " + dir;
    case ENOENT:
      return "create the directory " + dir + " first (mkdir -p) or choose another daemon.json path";
    case ENOTDIR:
      return "a component of " + dir + " is not a directory; fix the daemon.json path";
    case EMFILE:
    case ENFILE:
      return "raise the open-file limit (ulimit -n)";
    case EFBIG:
      return "raise the file-size limit (ulimit -f)";
    case EIO:
      return "the storage reported an I/O error; check dmesg";
    default:
      return "make sure " + dir + " is a writable directory";
  }
}

Error WriteError(std::string what, int errnum, const std::string& dir) {
  if (errnum == EACCES || errnum == EPERM) {
    return Error::Permission(std::move(what), errnum, WriteHint(errnum, dir));
  }
  return Error::Environment(std::move(what), errnum, WriteHint(errnum, dir));
}

std::string ReadHint(int errnum, const std::string& path) {
  switch (errnum) {
    case EACCES:
    case EPERM:
      return "run dind-netcfg as root, or make " + path + " readable";
    case EISDIR:
      return path + " is a directory; remove it or choose another daemon.json path";
    case ENOTDIR:
      return "a component of " + path + " is not a directory; fix the daemon.json path";
    case ELOOP:
      return "fix the symbolic link loop at " + path;
    default:
      return "check that " + path + " is a readable file";
  }
}

Error ReadError(int errnum, const std::string& path) {
  std::string what = "reading " + path;
  if (errnum == EACCES || errnum == EPERM) {
    return Error::Permission(std::move(what), errnum, ReadHint(errnum, path));
  }
  return Error::Environment(std::move(what), errnum, ReadHint(errnum, path));
}

// The temporary file is unlinked unless Commit() says it was renamed into place. A second
// descriptor holds a flock on it until then: it tells RemoveStaleTemporaries that a live writer
// owns the file (the writing descriptor is closed before the rename, to see close()'s errors).
class TemporaryFile {
 public:
  TemporaryFile(int fd, int lock_fd, std::string path)
      : fd_(fd), lock_fd_(lock_fd), path_(std::move(path)) {}
  ~TemporaryFile() {
    if (!committed_) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ScopedFd& fd() { return fd_; }
  const std::string& path() const { return path_; }
  void Commit() { committed_ = true; }

 private:
  ScopedFd fd_;
  ScopedFd lock_fd_;
  std::string path_;
  bool committed_ = false;
};

bool IsTemporaryNameOf(std::string_view entry, std::string_view prefix) {
  constexpr std::string_view kFixedPart = ".tmp-";  // kTemporarySuffix without the X's
  return entry.size() == prefix.size() + kTemporarySuffix.size() &&
         entry.substr(0, prefix.size()) == prefix &&
         entry.substr(prefix.size(), kFixedPart.size()) == kFixedPart;
}

// Creates `dir/.<base>.tmp-XXXXXX` and locks it. A concurrent RemoveStaleTemporaries may take a
// file in the moment between creating and locking it; then a new one is made.
Result<std::unique_ptr<TemporaryFile>> CreateTemporary(const std::string& dir,
                                                       const std::string& base) {
  int last_errno = EAGAIN;
  for (int attempt = 0; attempt < kTemporaryAttempts; ++attempt) {
    std::string name = dir + "/." + base + std::string(kTemporarySuffix);
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) return Error::FromErrno("");
    // Read-write: NFS emulates flock with POSIX locks, and an exclusive one needs write access.
    const int lock_fd = ::open(name.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (lock_fd < 0) {
      last_errno = errno;
      ::close(fd);
      if (last_errno == ENOENT) continue;  // taken by a cleanup already
      ::unlink(name.c_str());
      return Error::Environment("", last_errno);
    }
    auto temporary = std::make_unique<TemporaryFile>(fd, lock_fd, name);
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      // No flock on this file system: the cleanup cannot lock either, so it removes nothing.
      if (errno != EWOULDBLOCK) return temporary;
      last_errno = EAGAIN;  // a cleanup holds it and removes it: try anew
      continue;
    }
    struct stat status {};
    if (::fstat(lock_fd, &status) == 0 && status.st_nlink == 0) {
      last_errno = EAGAIN;  // a cleanup removed it before we locked it: try anew
      continue;
    }
    return temporary;
  }
  return Error::Environment("", last_errno);
}

// Removes the temporary files of writes that were killed before their rename (kill -9, OOM,
// power loss). A file whose flock is free has no live writer; a locked one is left alone.
// Best effort: a leftover that cannot be removed costs disk space, not correctness.
void RemoveStaleTemporaries(const std::string& dir, const std::string& base) {
  DIR* directory = ::opendir(dir.c_str());
  if (directory == nullptr) return;
  const std::string prefix = "." + base;
  while (const dirent* entry = ::readdir(directory)) {
    if (!IsTemporaryNameOf(entry->d_name, prefix)) continue;
    const std::string path = dir + "/" + entry->d_name;
    ScopedFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    struct stat opened {};
    if (fd.get() < 0 || ::fstat(fd.get(), &opened) != 0 || !S_ISREG(opened.st_mode)) continue;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a live writer's
    // Still the same file under that name (not renamed into place and replaced meanwhile)?
    struct stat named {};
    if (::lstat(path.c_str(), &named) != 0 || named.st_ino != opened.st_ino ||
        named.st_dev != opened.st_dev) {
      continue;
    }
    ::unlink(path.c_str());
  }
  ::closedir(directory);
}

// Follows `path` through symbolic links to the file that is really written. A dangling link
// resolves to the missing target, which is then created.
Result<std::string> ResolveSymlinks(const std::string& path) {
  std::string current = path;
  for (int hop = 0; hop < kMaxSymlinkHops; ++hop) {
    struct stat status {};
    if (::lstat(current.c_str(), &status) != 0) {
      if (errno == ENOENT) return current;
      return WriteError("looking up " + current, errno, DirName(current));
    }
    if (!S_ISLNK(status.st_mode)) return current;
    std::vector<char> target(static_cast<std::size_t>(status.st_size > 0 ? status.st_size : 255) +
                             1);
    const ssize_t length = ::readlink(current.c_str(), target.data(), target.size());
    if (length < 0)
      return WriteError("reading the symbolic link " + current, errno, DirName(current));
    if (static_cast<std::size_t>(length) >= target.size()) {
      continue;  // the link changed under us: look at it again
    }
    const std::string link(target.data(), static_cast<std::size_t>(length));
    current = link.front() == '/' ? link : DirName(current) + "/" + link;
  }
  return Error::Environment("resolving " + path, ELOOP,
                            "fix the symbolic link loop (more than 40 links to follow)");
}

Status WriteAll(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t written = ::write(fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return Error::FromErrno("");
    }
    if (written == 0) return Error::Environment("", EIO);  // no progress and no errno: give up
    content.remove_prefix(static_cast<std::size_t>(written));
  }
  return OkStatus();
}

}  // namespace

Result<std::optional<std::string>> ReadDaemonJson(const std::string& path) {
  // O_NONBLOCK: a FIFO at the path must not hang the daemon; it is refused below.
  const int raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (raw_fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return ReadError(errno, path);
  }
  ScopedFd fd(raw_fd);
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) return ReadError(errno, path);
  if (S_ISDIR(status.st_mode)) return ReadError(EISDIR, path);
  if (!S_ISREG(status.st_mode)) {
    return Error::BadInput("reading " + path + ": not a regular file",
                           "point dind-netcfg at a regular daemon.json file");
  }
  if (status.st_size > kMaxDaemonJsonBytes) {
    return Error::BadInput("reading " + path + ": " + std::to_string(status.st_size) +
                               " bytes is far too large for a daemon.json",
                           "check that the daemon.json path names the right file");
  }
  std::string content;
  std::array<char, 8192> buffer;
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ReadError(errno, path);
    }
    if (n == 0) break;
    content.append(buffer.data(), static_cast<std::size_t>(n));
    if (static_cast<off_t>(content.size()) > kMaxDaemonJsonBytes) {
      return Error::BadInput("reading " + path + ": it grew past " +
                                 std::to_string(kMaxDaemonJsonBytes) + " bytes while being read",
                             "check that the daemon.json path names the right file");
    }
  }
  return std::optional<std::string>(std::move(content));
}

Status WriteFileAtomically(const std::string& path, std::string_view content,
                           Durability durability) {
  const bool flush = durability == Durability::kSurvivesPowerLoss;
  if (path.empty() || path.back() == '/') {
    return Error::BadInput("writing \"" + path + "\": not a file path",
                           "pass the path of the file to write, e.g. /etc/docker/daemon.json");
  }
  auto resolved = ResolveSymlinks(path);
  if (!resolved.ok()) return resolved.error().Wrap("writing " + path);
  const std::string& target = *resolved;
  const std::string dir = DirName(target);
  // Every message names the path the user gave, and the real file when a link led elsewhere.
  const std::string shown = target == path ? path : path + " (symbolic link to " + target + ")";

  struct stat existing {};
  bool exists = true;
  if (::stat(target.c_str(), &existing) != 0) {
    if (errno != ENOENT) return WriteError("looking up " + shown, errno, dir);
    exists = false;
  } else if (S_ISDIR(existing.st_mode)) {
    return Error::Environment("replacing " + shown, EISDIR,
                              "remove the directory or choose another daemon.json path");
  } else if (!S_ISREG(existing.st_mode)) {
    return Error::BadInput("replacing " + shown + ": not a regular file",
                           "remove it or choose another daemon.json path");
  }
  const mode_t mode = exists ? (existing.st_mode & 07777) : kNewFileMode;

  // Before making our own: a write killed right after would otherwise leave two behind.
  RemoveStaleTemporaries(dir, BaseName(target));
  auto created_temporary = CreateTemporary(dir, BaseName(target));
  if (!created_temporary) {
    return WriteError("creating a temporary file in " + dir + " to replace " + shown,
                      created_temporary.error().errnum, dir);
  }
  TemporaryFile& temporary = **created_temporary;
  const int fd = temporary.fd().get();

  if (auto written = WriteAll(fd, content); !written.ok()) {
    return WriteError("writing " + temporary.path() + " to replace " + shown,
                      written.error().errnum, dir);
  }
  if (exists) {
    struct stat created {};
    if (::fstat(fd, &created) != 0) {
      return WriteError("looking up " + temporary.path(), errno, dir);
    }
    // Before fchmod: changing the owner clears set-id bits.
    if ((created.st_uid != existing.st_uid || created.st_gid != existing.st_gid) &&
        ::fchown(fd, existing.st_uid, existing.st_gid) != 0) {
      return WriteError("giving " + temporary.path() + " the owner of " + shown + " (" +
                            std::to_string(existing.st_uid) + ":" +
                            std::to_string(existing.st_gid) + ")",
                        errno, dir);
    }
  }
  if (::fchmod(fd, mode) != 0) {
    return WriteError("setting mode " + OctalMode(mode) + " on " + temporary.path(), errno, dir);
  }
  if (flush && ::fsync(fd) != 0) {
    return WriteError("flushing " + temporary.path() + " to disk", errno, dir);
  }
  if (temporary.fd().Close() != 0) {
    return WriteError("closing " + temporary.path(), errno, dir);
  }
  if (::rename(temporary.path().c_str(), target.c_str()) != 0) {
    return WriteError("renaming " + temporary.path() + " over " + shown, errno, dir);
  }
  temporary.Commit();
  if (!flush) return OkStatus();

  // Without this the rename itself may be lost on power failure.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return WriteError(shown + " was replaced, but opening " + dir + " to flush it failed", errno,
                      dir);
  }
  ScopedFd directory(dir_fd);
  // Some file systems (FUSE, some network mounts) cannot fsync a directory: nothing to flush.
  if (::fsync(directory.get()) != 0 && errno != EINVAL && errno != ENOTSUP) {
    return WriteError(shown + " was replaced, but flushing " + dir + " to disk failed", errno, dir);
  }
  return OkStatus();
}

}  // namespace dind::netcfg
