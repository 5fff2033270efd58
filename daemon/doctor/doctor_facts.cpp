// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/doctor_facts.h"

#include <dirent.h>

#include <cerrno>
#include <memory>

#include "common/files.h"

namespace dind::doctor {

std::string HostFiles::PathOf(std::string_view absolute) const {
  return root_ + std::string(absolute);
}

Result<std::string> HostFiles::Read(std::string_view absolute) const {
  return ReadFile(PathOf(absolute));
}

Result<struct stat> HostFiles::Stat(std::string_view absolute) const {
  const std::string path = PathOf(absolute);
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return Error::FromErrno("stat " + path);
  return status;
}

Result<std::vector<std::string>> HostFiles::List(std::string_view absolute) const {
  const std::string path = PathOf(absolute);
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), &::closedir);
  if (!dir) return Error::FromErrno("listing " + path);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return Error::FromErrno("listing " + path);
  return names;
}

}  // namespace dind::doctor
