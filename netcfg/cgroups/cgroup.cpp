// SPDX-License-Identifier: Apache-2.0
#include "netcfg/cgroups/cgroup.h"

#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace dind::netcfg {
namespace {

struct CgroupMount {
  std::string device;  // "0:31": one per hierarchy (mountinfo field 3)
  std::string root;    // the hierarchy path mounted here (mountinfo field 4)
  std::string mount_point;
  std::string mount_options;  // per mount: "ro,nosuid,…" (field 6)
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
// Only the visible ones: a mount covered by another at the same place (a tmpfs mounted over
// /sys/fs/cgroup, whose parent is the one it covers) hides it and every mount below it.
std::vector<CgroupMount> CgroupMounts(const std::string& mountinfo) {
  struct Line {
    std::string id, parent, mount_point;
    std::optional<CgroupMount> cgroup;
  };
  std::vector<Line> all;
  std::istringstream lines(mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point, mount_options;
    fields >> id >> parent >> device >> root >> mount_point >> mount_options;
    const auto separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream tail(line.substr(separator + 3));
    std::string fstype, source, super_options;
    tail >> fstype >> source >> super_options;
    Line entry{id, parent, mount_point, std::nullopt};
    if ((fstype == "cgroup" || fstype == "cgroup2") && mount_point.starts_with("/sys/fs/cgroup")) {
      entry.cgroup = CgroupMount{device, root, mount_point, mount_options, fstype, super_options};
    }
    all.push_back(std::move(entry));
  }
  std::map<std::string, const Line*> by_id;
  std::set<std::string> covered;
  for (const auto& entry : all) by_id[entry.id] = &entry;
  for (const auto& entry : all) {
    auto parent = by_id.find(entry.parent);
    if (parent != by_id.end() && parent->second->mount_point == entry.mount_point) {
      covered.insert(entry.parent);
    }
  }
  // Hidden: covered itself, or below a covered mount that it does not cover itself.
  const auto hidden = [&](const Line& entry) {
    if (covered.count(entry.id) != 0) return true;
    const Line* at = &entry;
    for (std::size_t depth = 0; depth <= all.size(); ++depth) {
      auto parent = by_id.find(at->parent);
      if (parent == by_id.end() || parent->second == at) return false;
      if (parent->second->mount_point != at->mount_point && covered.count(at->parent) != 0) {
        return true;
      }
      at = parent->second;
    }
    return false;
  };
  std::vector<CgroupMount> mounts;
  for (const auto& entry : all) {
    if (entry.cgroup && !hidden(entry)) mounts.push_back(*entry.cgroup);
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

struct Hierarchies {
  const CgroupMount* unified = nullptr;  // cgroup2 at /sys/fs/cgroup
  const CgroupMount* memory = nullptr;   // the v1 memory controller's
};

// The first mount of a hierarchy is the one runc uses; later ones are bind mounts below it.
Hierarchies FindHierarchies(const std::vector<CgroupMount>& mounts) {
  Hierarchies found;
  for (const auto& mount : mounts) {
    if (!found.unified && mount.mount_point == "/sys/fs/cgroup" && mount.fstype == "cgroup2") {
      found.unified = &mount;
    }
    if (!found.memory && mount.fstype == "cgroup" && HasOption(mount.super_options, "memory")) {
      found.memory = &mount;
    }
  }
  return found;
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
  const auto [unified, memory] = FindHierarchies(mounts);
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

std::string DescribeReadFrom(const SystemFacts& facts, std::string_view reader) {
  std::string text = facts.self_pid > 0 ? "/proc/self of pid " + std::to_string(facts.self_pid)
                                        : std::string("/proc/self");
  if (!reader.empty()) {
    text += ", ";
    text += reader;
  }
  return text;
}

std::optional<std::string> CheckCgroupParentValue(const std::string& value) {
  if (value.empty()) return "is empty";
  if (value.front() != '/') return "is not an absolute path";
  if (value.size() > 4096) return "is longer than a path may be";
  for (const char c : value) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return "contains a blank or a control character";
    }
  }
  std::istringstream components(value);
  std::string component;
  while (std::getline(components, component, '/')) {
    if (component == "..") return "has a '..' component";
    if (component == ".") return "has a '.' component";
  }
  return std::nullopt;
}

const char* CgroupNestingModeName(CgroupNestingMode mode) {
  switch (mode) {
    case CgroupNestingMode::kNothing:
      return "nothing";
    case CgroupNestingMode::kV2Split:
      return "v2-split";
    case CgroupNestingMode::kV1HostHierarchy:
      return "v1-host-hierarchy";
    case CgroupNestingMode::kV1OwnRootBindMounts:
      return "v1-own-root-bind-mounts";
  }
  return "nothing";
}

namespace {

bool IsReadOnly(const CgroupMount& mount) {
  return HasOption(mount.mount_options, "ro") || HasOption(mount.super_options, "ro");
}

// "/a/b" + "/c" without doubling the slash of a root path.
std::string JoinPath(const std::string& base, const std::string& below) {
  if (below.empty() || below == "/") return base;
  if (base == "/") return below;
  return base + below;
}

std::string ParentOf(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

struct V1Line {
  std::string controllers;  // "cpu,cpuacct", "name=systemd"
  std::string path;
};

std::vector<V1Line> V1Lines(const std::string& proc_self_cgroup) {
  std::vector<V1Line> lines;
  std::istringstream input(proc_self_cgroup);
  std::string line;
  while (std::getline(input, line)) {
    const auto first_colon = line.find(':');
    const auto second_colon = line.find(':', first_colon + 1);
    if (first_colon == std::string::npos || second_colon == std::string::npos) continue;
    std::string controllers = line.substr(first_colon + 1, second_colon - first_colon - 1);
    if (controllers.empty()) continue;
    lines.push_back({std::move(controllers), line.substr(second_colon + 1)});
  }
  return lines;
}

// The first v1 mount carrying every controller of `controllers`.
const CgroupMount* V1MountOf(const std::vector<CgroupMount>& mounts,
                             const std::string& controllers) {
  for (const auto& mount : mounts) {
    if (mount.fstype != "cgroup") continue;
    std::istringstream names(controllers);
    std::string name;
    bool all = true;
    while (std::getline(names, name, ',')) {
      if (!HasOption(mount.super_options, name)) all = false;
    }
    if (all) return &mount;
  }
  return nullptr;
}

// The first mount of every v1 hierarchy (one per device), read-write ones only.
std::vector<const CgroupMount*> WritableV1Hierarchies(const std::vector<CgroupMount>& mounts) {
  std::vector<const CgroupMount*> first;
  for (const auto& mount : mounts) {
    if (mount.fstype != "cgroup" || IsReadOnly(mount)) continue;
    bool seen = false;
    for (const auto* other : first) seen = seen || other->device == mount.device;
    if (!seen) first.push_back(&mount);
  }
  return first;
}

bool IsMountPoint(const std::vector<CgroupMount>& mounts, const std::string& path) {
  for (const auto& mount : mounts) {
    if (mount.mount_point == path) return true;
  }
  return false;
}

constexpr char kReadOnlyHint[] =
    "dockerd needs it writable: run the container privileged (or mount the cgroup file system "
    "read-write)";

void PlanV2(const CgroupMount& mount, const std::string& own, CgroupNestingPlan& plan) {
  const std::string where = "the cgroup2 file system at " + mount.mount_point;
  if (IsReadOnly(mount)) {
    plan.reason = where +
                  " is mounted read-only (ro): no cgroup can be created or process moved, so "
                  "nothing is done and dockerd keeps its default; " +
                  kReadOnlyHint;
    return;
  }
  const auto below = BelowMountRoot(own, mount.root);
  if (!below) {
    plan.reason = where + " shows " + mount.root +
                  ", which does not contain this process's cgroup " + own +
                  " (mounted from outside its cgroup namespace?): nothing is done; mount the "
                  "cgroup file system from inside the container";
    return;
  }
  if (IsHostSessionOrService(own)) {
    plan.reason = "this process's cgroup " + own +
                  " is a systemd session or service on the host, not a container's: nothing is "
                  "done; run the entrypoint as PID 1 of the container that runs dockerd";
    return;
  }
  // A second run in the same container finds itself in the init cgroup the first one made.
  std::string container = *below;
  bool again = false;
  if (container == "/init" || container.ends_with("/init")) {
    container = ParentOf(container);
    again = true;
  }
  const std::string own_dir = JoinPath(mount.mount_point, container);
  const std::string init = JoinPath(own_dir, "/init");
  const std::string dind = JoinPath(own_dir, "/dind");
  plan.mode = CgroupNestingMode::kV2Split;
  plan.reason =
      container == "/"
          ? where +
                " is the root of this container's cgroup namespace: split it into init (this "
                "container's processes) and dind (dockerd's containers), as moby's hack/dind does"
          : where + " shows this container's cgroup " + container + ": split it into " +
                JoinPath(container, "/init") + " (this container's processes) and " +
                JoinPath(container, "/dind") +
                " (dockerd's containers), as Kubernetes test-infra's runner.sh does";
  if (again) {
    plan.reason += "; this process already sits in " + own +
                   ", the init cgroup of an earlier run, so that split is used again";
  }
  plan.create = {{init,
                  "this container's processes move here: a v2 cgroup that holds processes cannot "
                  "give controllers to its children"},
                 {dind, "dockerd's containers are created below it (cgroup-parent)"}};
  plan.move = CgroupMoveStep{own_dir, init,
                             "every process of this container (PID 1 and whatever `docker exec` "
                             "started) leaves " +
                                 own_dir + " so its cgroup.subtree_control can be written"};
  plan.enable_controllers_in = {own_dir, dind};
  plan.controllers_reason =
      "every controller in cgroup.controllers is enabled in cgroup.subtree_control of " + own_dir +
      " and of " + dind + ", so dockerd's containers can be limited";
  plan.cgroup_parent = JoinPath(container == "/" ? std::string() : container, "/dind");
  plan.cgroup_parent_reason = "dockerd's containers go below " + dind + " (cgroup-parent " +
                              *plan.cgroup_parent + "), nested in this container's cgroup";
  plan.cleanup_below = {dind};
}

void PlanV1(const std::vector<CgroupMount>& mounts, const CgroupMount& memory,
            const CgroupDecision& decision, const std::string& proc_self_cgroup,
            CgroupNestingPlan& plan) {
  const std::string& own = decision.own_path;
  if (IsReadOnly(memory)) {
    plan.reason = "the v1 memory hierarchy at " + memory.mount_point +
                  " is mounted read-only (ro): nothing can be created or mounted there, so "
                  "nothing is done and dockerd keeps its default; " +
                  kReadOnlyHint;
    return;
  }
  const auto hierarchies = WritableV1Hierarchies(mounts);
  if (decision.parent) {
    plan.mode = CgroupNestingMode::kV1HostHierarchy;
    plan.reason = "cgroup v1 showing more than this container (" + memory.mount_point + " shows " +
                  memory.root + "): cgroup-parent is this container's own cgroup " +
                  *decision.parent + ", as the D2iQ write-up says; nothing to create";
    plan.cgroup_parent = decision.parent;
    plan.cgroup_parent_reason = decision.reason;
    for (const auto* mount : hierarchies) {
      plan.cleanup_below.push_back(JoinPath(mount->mount_point, *decision.parent));
    }
    return;
  }
  const auto below = BelowMountRoot(own, memory.root);
  if (!below || *below != "/" || own == "/") {
    plan.reason = "nothing to do: " + decision.reason;
    return;
  }
  // This container's cgroup is the root of what is mounted, while /proc/self/cgroup shows the
  // host path: cadvisor and kubelet inside (KIND) look for that path and do not find it.
  plan.mode = CgroupNestingMode::kV1OwnRootBindMounts;
  std::vector<std::string> already;
  std::vector<std::string> skipped;
  for (const auto& line : V1Lines(proc_self_cgroup)) {
    const CgroupMount* mount = V1MountOf(mounts, line.controllers);
    if (mount == nullptr || line.path == "/") continue;
    if (IsReadOnly(*mount)) {
      skipped.push_back(line.controllers + " (read-only)");
      continue;
    }
    if (mount->root != line.path) {
      if (mount->root != "/")
        skipped.push_back(line.controllers + " (mount shows " + mount->root + ")");
      continue;
    }
    const std::string target = JoinPath(mount->mount_point, line.path);
    if (IsMountPoint(mounts, target)) {
      already.push_back(target);
      continue;
    }
    std::string path = mount->mount_point;
    std::istringstream components(line.path);
    std::string component;
    while (std::getline(components, component, '/')) {
      if (component.empty()) continue;
      path += "/" + component;
      plan.create.push_back({path, "on the way to " + target + ", the bind mount's target"});
    }
    plan.bind_mounts.push_back({line.controllers, mount->mount_point, target,
                                "/proc/self/cgroup says " + line.controllers + " is " + line.path +
                                    ", which " + mount->mount_point +
                                    " shows as its root: bind it onto " + target +
                                    " so that path exists inside"});
  }
  plan.reason = "cgroup v1 with this container's own cgroup " + own +
                " mounted as the root of each hierarchy while /proc/self/cgroup shows the host "
                "path: the D2iQ write-up's cgroups-mounts workaround makes that path exist "
                "inside (a bind mount of each subsystem's root), so cadvisor and kubelet inside "
                "(KIND) find their cgroup";
  if (plan.bind_mounts.empty() && !already.empty()) {
    plan.reason += "; every bind mount is in place already (an earlier run): nothing to do";
  } else if (!already.empty()) {
    plan.reason += "; " + std::to_string(already.size()) + " in place already";
  }
  if (!skipped.empty()) {
    plan.reason += "; left alone:";
    for (const auto& name : skipped) plan.reason += " " + name;
  }
  plan.cgroup_parent_reason =
      "dockerd's default /docker is below this container's cgroup "
      "already: cgroup-parent not needed, not written";
  for (const auto* mount : hierarchies) {
    plan.cleanup_below.push_back(JoinPath(mount->mount_point, "/docker"));
  }
}

// Why a process that does not run dockerd writes no cgroup-parent.
std::string NotDockerdsContainer(const std::string& reader) {
  const std::string sets_it = "the entrypoint command, or --cgroup-parent, sets it";
  if (reader.ends_with("init")) {
    return "init runs in its own container, whose cgroup is gone once it exits; " + sets_it;
  }
  if (reader.ends_with("run")) {
    return "the sidecar (run) runs in its own container, not in the one that runs dockerd, so "
           "its cgroup is not where dockerd's containers belong; " +
           sets_it;
  }
  if (reader.ends_with("detect")) {
    return "detect, like init, runs outside the container that runs dockerd as far as it can "
           "tell; " +
           sets_it;
  }
  return (reader.empty() ? std::string("this process") : reader) +
         " does not run dockerd, so its cgroup is not where dockerd's containers belong; " +
         sets_it;
}

}  // namespace

CgroupNestingPlan PlanCgroupNesting(const SystemFacts& facts, std::string_view reader) {
  CgroupNestingPlan plan;
  plan.read_from = DescribeReadFrom(facts, reader);
  const CgroupDecision decision = DecideCgroupParent(facts);
  plan.version = decision.version;
  plan.own_path = decision.own_path;
  plan.cgroup_parent_reason = "no nesting: dockerd keeps its default";
  if (decision.version == "unknown" || decision.own_path.empty()) {
    plan.reason = "nothing to do: " + decision.reason;
    return plan;
  }
  const auto mounts = CgroupMounts(*facts.proc_self_mountinfo);
  const auto [unified, memory] = FindHierarchies(mounts);
  if (unified != nullptr) {
    PlanV2(*unified, decision.own_path, plan);
  } else {
    PlanV1(mounts, *memory, decision, *facts.proc_self_cgroup, plan);
  }
  return plan;
}

CgroupDecision ChooseCgroupParent(CgroupDecision detected, const CgroupNestingPlan& plan,
                                  const CgroupParentOptions& options) {
  CgroupDecision decision = std::move(detected);
  decision.read_from = plan.read_from;
  if (options.explicit_parent) {
    decision.reason = "--cgroup-parent (DIND_NETCFG_CGROUP_PARENT) gives " +
                      *options.explicit_parent + ", written as given (detection, read from " +
                      plan.read_from + ": " + decision.reason + ")";
    decision.parent = options.explicit_parent;
    decision.parent_source = "flag";
  } else if (options.runs_dockerd) {
    decision.parent = plan.cgroup_parent;
    decision.parent_source = plan.cgroup_parent ? "detected" : "none";
    decision.reason = std::string(CgroupNestingModeName(plan.mode)) + ": " +
                      plan.cgroup_parent_reason + " (" + plan.reason + ")";
  } else {
    decision.reason = NotDockerdsContainer(options.reader) +
                      "; cgroup-parent not written (detection, read from " + plan.read_from + ": " +
                      decision.reason + ")";
    decision.parent.reset();
    decision.parent_source = "none";
  }
  return decision;
}

}  // namespace dind::netcfg
