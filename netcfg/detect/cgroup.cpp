// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/cgroup.h"

#include <sstream>
#include <vector>

namespace dind::netcfg {
namespace {

struct CgroupMount {
  std::string root;  // the hierarchy path mounted here (mountinfo field 4)
  std::string mount_point;
  std::string fstype;
  std::string super_options;  // "rw,memory": names the v1 controllers
};

bool HasOption(const std::string& options, const std::string& wanted) {
  std::istringstream names(options);
  std::string name;
  while (std::getline(names, name, ',')) {
    if (name == wanted) return true;
  }
  return false;
}

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
    std::string fstype, source, super_options;
    tail >> fstype >> source >> super_options;
    if ((fstype == "cgroup" || fstype == "cgroup2") && mount_point.starts_with("/sys/fs/cgroup")) {
      mounts.push_back({root, mount_point, fstype, super_options});
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

// Where this process's cgroup sits below the hierarchy path a mount shows: "/" when the mount
// is this cgroup itself, nullopt when the mount does not contain it (a mount from outside a
// cgroup namespace shows "/.." and the like).
std::optional<std::string> BelowMountRoot(const std::string& own, const std::string& root) {
  if (root == "/") return own;
  if (own == root) return std::string("/");
  if (own.starts_with(root + "/")) return own.substr(root.size());
  return std::nullopt;
}

// systemd's host units: /user.slice/user-0.slice/session-3.scope, /system.slice/ssh.service.
// Containers under systemd get scopes named after their runtime there too
// (/system.slice/docker-<id>.scope), and those are containers, not the host.
bool IsHostSessionOrService(const std::string& path) {
  std::istringstream components(path);
  std::string component;
  std::vector<std::string> names;
  while (std::getline(components, component, '/')) {
    if (!component.empty()) names.push_back(component);
  }
  if (names.empty()) return false;
  if (names.front() != "user.slice" && names.front() != "system.slice" &&
      names.front() != "init.scope") {
    return false;
  }
  for (const auto& name : names) {
    for (const char* runtime : {"docker-", "cri-containerd-", "crio-", "libpod-"}) {
      if (name.starts_with(runtime) && name.ends_with(".scope")) return false;
    }
  }
  return true;
}

constexpr char kNotWritten[] = "cgroup-parent not written, dockerd keeps its default /docker";

}  // namespace

CgroupDecision DecideCgroupParent(const SystemFacts& facts) {
  CgroupDecision decision;
  decision.version = "unknown";
  if (!facts.proc_self_mountinfo || !facts.proc_self_cgroup) {
    decision.reason =
        "/proc/self/mountinfo or /proc/self/cgroup is unreadable, so this container's cgroup is "
        "unknown: " +
        std::string(kNotWritten);
    return decision;
  }
  const auto mounts = CgroupMounts(*facts.proc_self_mountinfo);
  const CgroupMount* unified = nullptr;
  const CgroupMount* memory = nullptr;
  // The first mount of a hierarchy is the one runc uses; later ones are bind mounts below it.
  for (const auto& mount : mounts) {
    if (!unified && mount.mount_point == "/sys/fs/cgroup" && mount.fstype == "cgroup2") {
      unified = &mount;
    }
    if (!memory && mount.fstype == "cgroup" && HasOption(mount.super_options, "memory")) {
      memory = &mount;
    }
  }
  const CgroupMount* hierarchy = unified != nullptr ? unified : memory;
  if (hierarchy == nullptr) {
    decision.reason =
        "no cgroup filesystem (cgroup2 at /sys/fs/cgroup, or the v1 memory controller below it) "
        "is mounted, and dockerd needs one — mount it in the container; " +
        std::string(kNotWritten);
    return decision;
  }
  decision.version = unified != nullptr ? "v2" : "v1";
  const std::string where = "the cgroup filesystem at " + hierarchy->mount_point;
  const auto own = OwnCgroupPath(*facts.proc_self_cgroup, unified != nullptr);
  if (!own) {
    decision.reason = "/proc/self/cgroup has no " + decision.version +
                      (unified != nullptr ? " (0::) line" : " memory line") +
                      ", so this container's cgroup is unknown: " + kNotWritten;
    return decision;
  }
  decision.own_path = *own;

  // runc places dockerd's absolute cgroup paths below the mount point, i.e. below the hierarchy
  // path the mount shows; the parent that nests under this container is its cgroup relative to
  // that (the D2iQ write-up: nested containers belong under the pod's cgroup, not beside it).
  const auto below = BelowMountRoot(*own, hierarchy->root);
  if (!below) {
    decision.reason = where + " shows " + hierarchy->root +
                      ", which does not contain this process's cgroup " + *own +
                      " (mounted from outside its cgroup namespace?), so where dockerd's "
                      "containers would land cannot be told: " +
                      kNotWritten +
                      "; mount the cgroup filesystem from inside the container, or set "
                      "cgroup-parent yourself";
  } else if (*below == "/") {
    decision.reason = *own == "/"
                          ? "this process sits at the root of the cgroup hierarchy it sees (a "
                            "cgroup namespace, or the host itself), so dockerd's default /docker "
                            "already nests under it: cgroup-parent not needed, not written"
                          : where + " is this container's own cgroup " + *own +
                                ", so dockerd's default /docker already nests under it: "
                                "cgroup-parent not needed, not written";
  } else if (IsHostSessionOrService(*own)) {
    decision.reason = "this process's cgroup " + *own +
                      " is a systemd session or service on the host, not a container's: "
                      "nesting dockerd's containers there would tie them to a unit systemd "
                      "manages, so " +
                      kNotWritten + "; run init inside the container that will run dockerd";
  } else {
    decision.parent = *below;
    decision.reason = where + " shows " +
                      (hierarchy->root == "/" ? std::string("the host's whole hierarchy (no "
                                                            "cgroup namespace)")
                                              : hierarchy->root + ", above this container") +
                      ": without a parent dockerd would create /docker beside the pod; nest "
                      "its containers under this container's cgroup " +
                      *below;
  }
  return decision;
}

}  // namespace dind::netcfg
