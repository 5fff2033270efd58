// SPDX-License-Identifier: Apache-2.0
#include "rules/legacy/xtables_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <thread>
#include <vector>

#include "common/files.h"

namespace dind::rules::legacy {
namespace {

std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> words;
  while (!line.empty()) {
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const auto end = line.find_first_of(" \t");
    words.push_back(line.substr(0, end));
    if (end == std::string_view::npos) break;
    line.remove_prefix(end);
  }
  return words;
}

template <typename Number>
std::optional<Number> ParseNumber(std::string_view text, int base) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string HolderDescription(const std::string& path) {
  const auto holder = FindFlockHolderOf(path);
  if (!holder) return "its holder is not visible in /proc/locks (another PID namespace?)";
  std::string description = "held by PID " + std::to_string(*holder);
  auto comm = ReadFile("/proc/" + std::to_string(*holder) + "/comm");
  if (comm.ok() && !comm->empty()) {
    if (comm->back() == '\n') comm->pop_back();
    description += " (" + *comm + ")";
  }
  return description;
}

// "10 s" for the default bound, "300 ms" for the short ones of tests.
std::string FormatWait(std::chrono::milliseconds wait) {
  if (wait.count() > 0 && wait.count() % 1000 == 0)
    return std::to_string(wait.count() / 1000) + " s";
  return std::to_string(wait.count()) + " ms";
}

}  // namespace

std::string XtablesLock::DefaultPath() {
  const char* from_env = std::getenv("XTABLES_LOCKFILE");
  if (from_env != nullptr && from_env[0] != '\0') return from_env;
  return std::string(kDefaultXtablesLockPath);
}

Result<XtablesLock> XtablesLock::Acquire(const std::string& path, std::chrono::milliseconds wait) {
  // Same mode as iptables, so a lock file we create does not lock iptables out.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    const std::string what = "opening the xtables lock " + path;
    if (err == EACCES || err == EPERM || err == EROFS) {
      return Error::Permission(what, err,
                               "run as root, or point XTABLES_LOCKFILE at a writable file that "
                               "every iptables user of this namespace shares");
    }
    return Error::Environment(what, err, "make sure its directory exists");
  }
  XtablesLock lock(fd);

  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return Error::FromErrno("locking the xtables lock " + path);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    // Short polls: iptables holds the lock for milliseconds, and a blocked waiter that wakes
    // late makes every CI job slower.
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(10));
  }
  // The bound is the caller's (--xtables-wait); the holder is what to act on.
  return Error::Environment(
      "waited " + FormatWait(wait) + " for the xtables lock " + path + "; " +
          HolderDescription(path),
      0,
      "another iptables user (iptables, dockerd, kube-proxy, a CI script) keeps the lock; let it "
      "finish or stop it, then retry");
}

XtablesLock::XtablesLock(XtablesLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

XtablesLock& XtablesLock::operator=(XtablesLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

XtablesLock::~XtablesLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<pid_t> FindFlockHolder(std::string_view proc_locks, unsigned device_major,
                                     unsigned device_minor, std::uint64_t inode) {
  // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; waiters read "1: -> FLOCK ...".
  while (!proc_locks.empty()) {
    const auto end = proc_locks.find('\n');
    const auto words = SplitWords(proc_locks.substr(0, end));
    proc_locks.remove_prefix(end == std::string_view::npos ? proc_locks.size() : end + 1);
    if (words.size() < 6 || words[1] != "FLOCK") continue;
    const auto pid = ParseNumber<pid_t>(words[4], 10);
    const std::string_view id = words[5];
    const auto first_colon = id.find(':');
    const auto second_colon = id.find(':', first_colon + 1);
    if (!pid || *pid <= 0 || first_colon == std::string_view::npos ||
        second_colon == std::string_view::npos) {
      continue;
    }
    const auto major = ParseNumber<unsigned>(id.substr(0, first_colon), 16);
    const auto minor =
        ParseNumber<unsigned>(id.substr(first_colon + 1, second_colon - first_colon - 1), 16);
    const auto file_inode = ParseNumber<std::uint64_t>(id.substr(second_colon + 1), 10);
    if (major == device_major && minor == device_minor && file_inode == inode) return pid;
  }
  return std::nullopt;
}

std::optional<pid_t> FindFlockHolderOf(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  auto locks = ReadFile("/proc/locks");
  if (!locks.ok()) return std::nullopt;
  return FindFlockHolder(*locks, major(info.st_dev), minor(info.st_dev),
                         static_cast<std::uint64_t>(info.st_ino));
}

}  // namespace dind::rules::legacy
