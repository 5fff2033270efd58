// SPDX-License-Identifier: Apache-2.0
#include "netcfg/cgroups/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace dind::netcfg {

Error CgroupFsError(const std::string& what, int errnum) {
  if (errnum == EACCES || errnum == EPERM) {
    return Error::Permission(what, errnum,
                             "cgroups are changed as root with CAP_SYS_ADMIN: run the container "
                             "privileged");
  }
  if (errnum == EROFS) {
    return Error::Environment(what, errnum,
                              "the cgroup file system is mounted read-only: run the container "
                              "privileged, or mount it read-write");
  }
  return Error::Environment(what, errnum);
}

Result<std::string> LocalCgroupFs::ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CgroupFsError("reading " + path, errno);
  std::string content;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int saved = errno;
      ::close(fd);
      return CgroupFsError("reading " + path, saved);
    }
    if (got == 0) break;
    content.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return content;
}

Status LocalCgroupFs::WriteFile(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return CgroupFsError("writing '" + content + "' to " + path, errno);
  ssize_t written;
  do {
    written = ::write(fd, content.data(), content.size());
  } while (written < 0 && errno == EINTR);
  const int saved = errno;
  ::close(fd);
  if (written < 0) return CgroupFsError("writing '" + content + "' to " + path, saved);
  if (static_cast<std::size_t>(written) != content.size()) {
    return Error::Environment("writing '" + content + "' to " + path + ": only " +
                              std::to_string(written) + " bytes were taken");
  }
  return OkStatus();
}

Result<bool> LocalCgroupFs::MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) return false;
    return CgroupFsError("creating cgroup " + path + " (a file of that name is in the way)",
                         EEXIST);
  }
  return CgroupFsError("creating cgroup " + path, errno);
}

Status LocalCgroupFs::RemoveDir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) return CgroupFsError("removing cgroup " + path, errno);
  return OkStatus();
}

Result<std::vector<std::string>> LocalCgroupFs::ListSubdirs(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return CgroupFsError("listing cgroup " + path, errno);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat info {};
      is_dir = ::stat((path + "/" + name).c_str(), &info) == 0 && S_ISDIR(info.st_mode);
    }
    if (is_dir) names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

Status LocalCgroupFs::BindMount(const std::string& source, const std::string& target) {
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return CgroupFsError("bind-mounting " + source + " onto " + target, errno);
  }
  return OkStatus();
}

}  // namespace dind::netcfg
