// SPDX-License-Identifier: Apache-2.0
// An in-memory cgroup v1/v2 tree for the nesting executor (netcfg/cgroups/cgroup_nesting.h).
// It keeps what the kernel enforces and the executor depends on: cgroup.procs moves a pid,
// cgroup.controllers of a child is its parent's subtree_control, subtree_control refuses a
// controller that is not available (EINVAL) and, below the root, a cgroup that holds processes
// (EBUSY), rmdir refuses a cgroup with children or processes (EBUSY). Faults are injected per
// operation and path, and a hook runs after every move to simulate `docker exec` racing it.
// A process outside the reader's PID namespace is listed as pid 0, and writing "0" to
// cgroup.procs moves the writer (SetSelf), as the kernel does.
#pragma once

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "netcfg/cgroups/cgroup_fs.h"

namespace dind::testing {

class FakeCgroupFs final : public netcfg::CgroupFs {
 public:
  enum class Op { kRead, kWrite, kMakeDir, kRemoveDir, kList, kBindMount };

  // A hierarchy root (a mount point) offering `controllers`.
  void AddRoot(const std::string& path, std::vector<std::string> controllers = {}) {
    nodes_[path].root = true;
    nodes_[path].controllers = std::move(controllers);
  }
  // A cgroup below an existing one (or a root), holding `pids`.
  void AddCgroup(const std::string& path, std::vector<int> pids = {}) {
    nodes_[path];
    for (int pid : pids) Place(pid, path);
  }
  void AddPid(const std::string& cgroup, int pid) { Place(pid, cgroup); }
  // A process of `cgroup` outside this PID namespace: cgroup.procs lists it as 0.
  void AddOutsidePid(const std::string& cgroup) { ++nodes_[cgroup].outside; }
  // The writing process: what "0" written to cgroup.procs moves.
  void SetSelf(int pid) { self_ = pid; }
  int writes_of_zero() const { return writes_of_zero_; }

  // Every call of `op` on `path` fails with `errnum` (`times` times, or always when < 0).
  void Fail(Op op, const std::string& path, int errnum, int times = -1) {
    faults_[{op, path}] = {errnum, times};
  }
  // Every mutation fails with EROFS, as on a read-only mount.
  void SetReadOnly(bool read_only) { read_only_ = read_only; }
  // A pid that refuses to move (EBUSY), like a process the kernel will not migrate.
  void Pin(int pid, int errnum = EBUSY) { pinned_[pid] = errnum; }
  // Runs after every successful move of a pid into a cgroup: (pid, target cgroup).
  void OnMove(std::function<void(int, const std::string&)> hook) { on_move_ = std::move(hook); }

  bool Exists(const std::string& path) const { return nodes_.count(path) != 0; }
  std::set<int> Pids(const std::string& cgroup) const {
    auto it = nodes_.find(cgroup);
    return it == nodes_.end() ? std::set<int>{} : it->second.pids;
  }
  std::set<std::string> SubtreeControl(const std::string& cgroup) const {
    auto it = nodes_.find(cgroup);
    return it == nodes_.end() ? std::set<std::string>{} : it->second.subtree;
  }
  const std::vector<std::pair<std::string, std::string>>& Mounts() const { return mounts_; }
  std::vector<std::string> Cgroups() const {
    std::vector<std::string> paths;
    for (const auto& [path, node] : nodes_) paths.push_back(path);
    return paths;
  }
  int calls(Op op) const {
    auto it = calls_.find(op);
    return it == calls_.end() ? 0 : it->second;
  }

  Result<std::string> ReadFile(const std::string& path) override {
    if (auto fault = Fault(Op::kRead, path)) return Err("reading " + path, fault);
    const auto [dir, file] = Split(path);
    auto it = nodes_.find(dir);
    if (it == nodes_.end()) return Err("reading " + path, ENOENT);
    std::string text;
    if (file == "cgroup.procs") {
      for (int pid : it->second.pids) text += std::to_string(pid) + "\n";
      for (int i = 0; i < it->second.outside; ++i) text += "0\n";
    } else if (file == "cgroup.controllers") {
      for (const auto& name : ControllersOf(dir)) text += (text.empty() ? "" : " ") + name;
      text += "\n";
    } else if (file == "cgroup.subtree_control") {
      for (const auto& name : it->second.subtree) text += (text.empty() ? "" : " ") + name;
      text += "\n";
    } else {
      return Err("reading " + path, ENOENT);
    }
    return text;
  }

  Status WriteFile(const std::string& path, const std::string& content) override {
    const std::string what = "writing '" + content + "' to " + path;
    if (auto fault = Fault(Op::kWrite, path)) return Err(what, fault);
    if (read_only_) return Err(what, EROFS);
    const auto [dir, file] = Split(path);
    auto it = nodes_.find(dir);
    if (it == nodes_.end()) return Err(what, ENOENT);
    if (file == "cgroup.procs") {
      int pid = std::stoi(content);
      if (pid == 0) {
        ++writes_of_zero_;
        pid = self_;
      }
      if (auto pin = pinned_.find(pid); pin != pinned_.end()) return Err(what, pin->second);
      if (where_.count(pid) == 0) return Err(what, ESRCH);
      Place(pid, dir);
      if (on_move_) on_move_(pid, dir);
      return OkStatus();
    }
    if (file == "cgroup.subtree_control") {
      const bool enable = content.front() == '+';
      const std::string name = content.substr(1);
      const auto available = ControllersOf(dir);
      if (std::find(available.begin(), available.end(), name) == available.end()) {
        return Err(what, EINVAL);
      }
      // No internal processes: only a root may hold processes and give controllers away.
      if (enable && !it->second.root && (!it->second.pids.empty() || it->second.outside > 0)) {
        return Err(what, EBUSY);
      }
      if (enable) {
        it->second.subtree.insert(name);
      } else {
        it->second.subtree.erase(name);
      }
      return OkStatus();
    }
    return Err(what, EACCES);
  }

  Result<bool> MakeDir(const std::string& path) override {
    ++calls_[Op::kMakeDir];
    if (auto fault = Fault(Op::kMakeDir, path)) return Err("creating cgroup " + path, fault);
    if (nodes_.count(path) != 0) return false;
    if (read_only_) return Err("creating cgroup " + path, EROFS);
    if (nodes_.count(Split(path).first) == 0) return Err("creating cgroup " + path, ENOENT);
    nodes_[path];
    return true;
  }

  Status RemoveDir(const std::string& path) override {
    ++calls_[Op::kRemoveDir];
    if (auto fault = Fault(Op::kRemoveDir, path)) return Err("removing cgroup " + path, fault);
    if (read_only_) return Err("removing cgroup " + path, EROFS);
    auto it = nodes_.find(path);
    if (it == nodes_.end()) return Err("removing cgroup " + path, ENOENT);
    if (!it->second.pids.empty() || it->second.outside > 0 || !Children(path).empty()) {
      return Err("removing cgroup " + path, EBUSY);
    }
    nodes_.erase(it);
    return OkStatus();
  }

  Result<std::vector<std::string>> ListSubdirs(const std::string& path) override {
    if (auto fault = Fault(Op::kList, path)) return Err("listing cgroup " + path, fault);
    if (nodes_.count(path) == 0) return Err("listing cgroup " + path, ENOENT);
    return Children(path);
  }

  Status BindMount(const std::string& source, const std::string& target) override {
    ++calls_[Op::kBindMount];
    const std::string what = "bind-mounting " + source + " onto " + target;
    if (auto fault = Fault(Op::kBindMount, target)) return Err(what, fault);
    if (nodes_.count(source) == 0 || nodes_.count(target) == 0) return Err(what, ENOENT);
    mounts_.emplace_back(source, target);
    return OkStatus();
  }

 private:
  struct Node {
    bool root = false;
    std::vector<std::string> controllers;  // a root's
    std::set<std::string> subtree;
    std::set<int> pids;
    int outside = 0;  // processes outside this PID namespace, listed as 0
  };

  static std::pair<std::string, std::string> Split(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return {"/", path.substr(slash + 1)};
    return {path.substr(0, slash), path.substr(slash + 1)};
  }
  static Error Err(const std::string& what, int errnum) {
    return netcfg::CgroupFsError(what, errnum);
  }

  int Fault(Op op, const std::string& path) {
    auto it = faults_.find({op, path});
    if (it == faults_.end() || it->second.second == 0) return 0;
    if (it->second.second > 0) --it->second.second;
    return it->second.first;
  }
  void Place(int pid, const std::string& cgroup) {
    if (auto it = where_.find(pid); it != where_.end()) nodes_[it->second].pids.erase(pid);
    where_[pid] = cgroup;
    nodes_[cgroup].pids.insert(pid);
  }
  std::vector<std::string> ControllersOf(const std::string& path) const {
    auto it = nodes_.find(path);
    if (it == nodes_.end()) return {};
    if (it->second.root) return it->second.controllers;
    auto parent = nodes_.find(Split(path).first);
    if (parent == nodes_.end()) return {};
    return {parent->second.subtree.begin(), parent->second.subtree.end()};
  }
  std::vector<std::string> Children(const std::string& path) const {
    std::vector<std::string> names;
    for (const auto& [child, node] : nodes_) {
      if (child != path && Split(child).first == path) names.push_back(Split(child).second);
    }
    return names;
  }

  std::map<std::string, Node> nodes_;
  std::map<int, std::string> where_;
  std::map<std::pair<Op, std::string>, std::pair<int, int>> faults_;
  std::map<int, int> pinned_;
  std::map<Op, int> calls_;
  std::function<void(int, const std::string&)> on_move_;
  std::vector<std::pair<std::string, std::string>> mounts_;
  bool read_only_ = false;
  int self_ = 1;
  int writes_of_zero_ = 0;
};

}  // namespace dind::testing
