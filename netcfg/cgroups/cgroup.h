// SPDX-License-Identifier: Apache-2.0
// This container's cgroup, decided from /proc/self/cgroup and mountinfo in SystemFacts:
//  * DecideCgroupParent: the cgroup version and the cgroup-parent that would nest dockerd's
//    containers under the cgroup of the process that read the facts;
//  * ChooseCgroupParent: whether that parent is written, which depends on whose container the
//    process runs in (init and the sidecar run in their own, not in dockerd's);
//  * PlanCgroupNesting: what the entrypoint (PID 1 of the container that runs dockerd) does to
//    its own cgroup before dockerd starts, as plain values (cgroup_nesting.h executes it).
// All three are pure functions of the facts: a decision about a container's cgroup is only
// right in that container, so every result says which process the facts were read from.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netcfg/detect/facts.h"

namespace dind::netcfg {

struct CgroupDecision {
  std::string version;                // "v1", "v2" or "unknown"
  std::string own_path;               // this process's cgroup as /proc/self/cgroup shows it
  std::optional<std::string> parent;  // cgroup-parent for dockerd, when one is written
  std::string reason;                 // why, and when no parent is written, why not
  // Where `parent` comes from: "detected" (DecideCgroupParent, or the entrypoint's nesting),
  // "flag" (--cgroup-parent) or "none".
  std::string parent_source = "none";
  std::string read_from;  // "/proc/self of pid 1, the entrypoint"
};

// Nests dockerd's containers under this container's cgroup (per the D2iQ write-up) when the
// mounted hierarchy shows more than this container; writes nothing when dockerd's default
// already nests (a cgroup namespace, or this cgroup mounted as the root), and nothing when the
// process looks like a host session or service rather than a container.
CgroupDecision DecideCgroupParent(const SystemFacts& facts);

// Who reads the facts, and what it may write as cgroup-parent.
struct CgroupParentOptions {
  // --cgroup-parent: written as given, whatever detection found.
  std::optional<std::string> explicit_parent;
  // The process runs in the container that will run dockerd (the entrypoint, which starts
  // dockerd itself). Only then is this container's own cgroup a parent for dockerd's.
  bool runs_dockerd = false;
  // The command reading the facts, for the report: "init", "run", "detect", "the entrypoint".
  std::string reader;
};

// "/proc/self of pid 42, dind-netcfg init"
std::string DescribeReadFrom(const SystemFacts& facts, std::string_view reader);

// --cgroup-parent's value: absolute, no "." or ".." component, no blanks or control characters.
// nullopt when it is good, else what is wrong with it.
std::optional<std::string> CheckCgroupParentValue(const std::string& value);

// -------------------------------------------------------------------------------------------
// The entrypoint's nesting plan.

enum class CgroupNestingMode {
  kNothing,              // nothing to do here (or nothing possible): said why
  kV2Split,              // cgroup v2: <own>/init for this container's processes, <own>/dind
  kV1HostHierarchy,      // cgroup v1 showing the host's hierarchy: cgroup-parent is <own>
  kV1OwnRootBindMounts,  // cgroup v1 with <own> mounted as the root: make <own> exist inside
};

// "nothing", "v2-split", "v1-host-hierarchy", "v1-own-root-bind-mounts"
const char* CgroupNestingModeName(CgroupNestingMode mode);

struct CgroupDirStep {
  std::string path;  // a directory in this mount namespace: /sys/fs/cgroup/init
  std::string reason;
};

struct CgroupMoveStep {
  std::string from;  // cgroup directory whose every process moves…
  std::string to;    // …into this one (cgroup.procs of each)
  std::string reason;
};

struct CgroupBindMount {
  std::string subsystem;  // "memory", "cpu,cpuacct", "name=systemd"
  std::string source;     // the subsystem's mount point: this container's cgroup
  std::string target;     // <mount point><host path>, so the host path exists inside
  std::string reason;
};

struct CgroupNestingPlan {
  std::string version;   // "v1", "v2" or "unknown"
  std::string own_path;  // this container's cgroup as /proc/self/cgroup shows it
  CgroupNestingMode mode = CgroupNestingMode::kNothing;
  std::string reason;                 // one line: why this mode, or why nothing is done
  std::string read_from;              // which process's /proc/self the facts came from
  std::vector<CgroupDirStep> create;  // made in this order (parents first); existing ones are fine
  std::optional<CgroupMoveStep> move;
  // Directories whose cgroup.subtree_control gets every controller their cgroup.controllers
  // lists (read when the plan runs), in this order.
  std::vector<std::string> enable_controllers_in;
  std::string controllers_reason;
  std::vector<CgroupBindMount> bind_mounts;
  std::optional<std::string> cgroup_parent;  // for daemon.json; nullopt: dockerd's default
  std::string cgroup_parent_reason;
  // Where dockerd's containers' cgroups land (one per mounted hierarchy): what is left below
  // these after dockerd ends is removed (RemoveEmptyCgroupsBelow).
  std::vector<std::string> cleanup_below;
};

// The plan for the container whose /proc/self the facts were read from. `reader` names that
// process for the report ("the entrypoint").
CgroupNestingPlan PlanCgroupNesting(const SystemFacts& facts, std::string_view reader);

// What is written as cgroup-parent, given the detected decision, the nesting plan and who reads
// the facts: --cgroup-parent when given; the plan's parent when this process runs dockerd;
// otherwise none, with the reason (init's and the sidecar's cgroups are not dockerd's).
CgroupDecision ChooseCgroupParent(CgroupDecision detected, const CgroupNestingPlan& plan,
                                  const CgroupParentOptions& options);

}  // namespace dind::netcfg
