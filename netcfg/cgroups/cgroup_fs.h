// SPDX-License-Identifier: Apache-2.0
// The few things the entrypoint does to cgroup file systems, as domain verbs: the nesting
// executor (cgroup_nesting.h) goes through this, so it is tested against an in-memory fake
// (tests/mocks/fake_cgroup_fs.h) and on the machine's real hierarchies (LocalCgroupFs).
// Every failure is an Error with the errno and the path; EACCES/EPERM are kPermission.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace dind::netcfg {

class CgroupFs {
 public:
  virtual ~CgroupFs() = default;
  // A whole cgroup file (cgroup.procs, cgroup.controllers, cgroup.subtree_control).
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // One write(2) of `content` into an existing cgroup file: the kernel acts on each write, so
  // "+memory" or a pid is one call.
  virtual Status WriteFile(const std::string& path, const std::string& content) = 0;
  // mkdir: true when it was made, false when it was there already.
  virtual Result<bool> MakeDir(const std::string& path) = 0;
  // rmdir of a cgroup: EBUSY while it has processes or children.
  virtual Status RemoveDir(const std::string& path) = 0;
  // Names (not paths) of the directories directly below `path`.
  virtual Result<std::vector<std::string>> ListSubdirs(const std::string& path) = 0;
  // mount --bind source target (not recursive).
  virtual Status BindMount(const std::string& source, const std::string& target) = 0;
};

// The real file system of this mount namespace.
class LocalCgroupFs final : public CgroupFs {
 public:
  Result<std::string> ReadFile(const std::string& path) override;
  Status WriteFile(const std::string& path, const std::string& content) override;
  Result<bool> MakeDir(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;
  Result<std::vector<std::string>> ListSubdirs(const std::string& path) override;
  Status BindMount(const std::string& source, const std::string& target) override;
};

// The Error for a failed cgroup operation: kPermission for EACCES/EPERM, with a hint.
Error CgroupFsError(const std::string& what, int errnum);

}  // namespace dind::netcfg
