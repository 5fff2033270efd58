#include <sstream>

#include "netcfg/detect/decide.h"

namespace dind::netcfg {
namespace {

struct CgroupMount {
  std::string root;  // the hierarchy path mounted here (mountinfo field 4)
  std::string mount_point;
  std::string fstype;
};

// Mounts of cgroup filesystems at /sys/fs/cgroup or below, from /proc/self/mountinfo:
// "36 25 0:31 /kubepods/pod1 /sys/fs/cgroup/memory rw,… - cgroup cgroup rw,memory".
std::vector<CgroupMount> CgroupMounts(const std::string& mountinfo) {
  std::vector<CgroupMount> mounts;
  std::istringstream lines(mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    const auto separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream tail(line.substr(separator + 3));
    std::string fstype;
    tail >> fstype;
    if ((fstype == "cgroup" || fstype == "cgroup2") && mount_point.starts_with("/sys/fs/cgroup")) {
      mounts.push_back({root, mount_point, fstype});
    }
  }
  return mounts;
}

// This process's path in the hierarchy dockerd will use: the v2 line "0::/path", or for v1 the
// memory controller's line (the one kubelet limits, and the one the D2iQ write-up nests under).
std::optional<std::string> OwnCgroupPath(const std::string& proc_self_cgroup, bool v2) {
  std::istringstream lines(proc_self_cgroup);
  std::string line;
  std::optional<std::string> first_v1;
  while (std::getline(lines, line)) {
    const auto first_colon = line.find(':');
    const auto second_colon = line.find(':', first_colon + 1);
    if (first_colon == std::string::npos || second_colon == std::string::npos) continue;
    const std::string controllers = line.substr(first_colon + 1, second_colon - first_colon - 1);
    const std::string path = line.substr(second_colon + 1);
    if (v2 && controllers.empty()) return path;
    if (!v2 && !controllers.empty()) {
      std::istringstream names(controllers);
      std::string name;
      while (std::getline(names, name, ',')) {
        if (name == "memory") return path;
      }
      if (!first_v1) first_v1 = path;
    }
  }
  return first_v1;
}

}  // namespace

CgroupDecision DecideCgroupParent(const SystemFacts& facts) {
  CgroupDecision decision;
  if (!facts.proc_self_mountinfo || !facts.proc_self_cgroup) {
    decision.version = "unknown";
    decision.reason = "/proc/self/mountinfo or /proc/self/cgroup unreadable; cgroup-parent left "
                      "to dockerd's default";
    return decision;
  }
  const auto mounts = CgroupMounts(*facts.proc_self_mountinfo);
  const CgroupMount* unified = nullptr;
  const CgroupMount* memory = nullptr;
  for (const auto& mount : mounts) {
    if (mount.mount_point == "/sys/fs/cgroup" && mount.fstype == "cgroup2") unified = &mount;
    if (mount.fstype == "cgroup" && mount.mount_point.ends_with("memory")) memory = &mount;
  }
  const CgroupMount* hierarchy = unified != nullptr ? unified : memory;
  if (hierarchy == nullptr) {
    decision.version = "unknown";
    decision.reason = "no cgroup filesystem mounted at /sys/fs/cgroup; dockerd needs one "
                      "(mount it in the container) — cgroup-parent left unset";
    return decision;
  }
  decision.version = unified != nullptr ? "v2" : "v1";
  const auto own = OwnCgroupPath(*facts.proc_self_cgroup, unified != nullptr);
  decision.own_path = own.value_or("");
  if (!own) {
    decision.reason = "/proc/self/cgroup has no " + decision.version + " line; cgroup-parent "
                      "left to dockerd's default";
  } else if (*own == "/") {
    decision.reason = "this container has its own cgroup namespace, so dockerd's default "
                      "parent already nests containers under it";
  } else if (hierarchy->root == *own) {
    decision.reason = "this container's own cgroup is what is mounted at " +
                      hierarchy->mount_point + ", so dockerd's default parent nests under it";
  } else if (hierarchy->root == "/") {
    // The host's whole hierarchy is visible (hostPath mount, no cgroup namespace): without a
    // parent dockerd would create /docker beside the pod instead of inside it.
    decision.parent = *own;
    decision.reason = "the host's cgroup hierarchy is mounted without a cgroup namespace; nest "
                      "dockerd's containers under this container's cgroup " + *own;
  } else {
    decision.reason = "cgroup mount root " + hierarchy->root + " differs from this process's "
                      "cgroup " + *own + "; cgroup-parent left to dockerd's default";
  }
  return decision;
}

}  // namespace dind::netcfg
