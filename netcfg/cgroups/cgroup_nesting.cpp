// SPDX-License-Identifier: Apache-2.0
#include "netcfg/cgroups/cgroup_nesting.h"

#include <algorithm>
#include <cerrno>
#include <map>
#include <sstream>

#include "common/strings.h"

namespace dind::netcfg {
namespace {

bool IsRefusal(const Error& error) {
  return error.errnum == EACCES || error.errnum == EPERM || error.errnum == EROFS;
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream input(text);
  std::vector<std::string> words;
  std::string word;
  while (input >> word) words.push_back(word);
  return words;
}

// "+cpu +memory": the words cgroup.subtree_control takes.
std::vector<std::string> Prefixed(const std::string& prefix, std::vector<std::string> words) {
  for (auto& word : words) word.insert(0, prefix);
  return words;
}

Result<std::vector<std::string>> ReadPids(CgroupFs& fs, const std::string& cgroup) {
  auto procs = fs.ReadFile(cgroup + "/cgroup.procs");
  if (!procs) return procs.error();
  return Words(*procs);
}

// Undoes what this run created, deepest first, when nesting goes on without.
void RemoveCreated(const std::vector<std::string>& created, CgroupFs& fs,
                   CgroupNestingReport& report) {
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    if (auto removed = fs.RemoveDir(*it); removed) {
      report.evidence.push_back("removed " + *it + " again");
    } else {
      report.warnings.push_back("could not remove " + *it + " again: " + removed.error().Message());
    }
  }
}

CgroupNestingReport GoOnWithout(CgroupNestingReport report, const Error& refusal, CgroupFs& fs) {
  report.warnings.push_back(refusal.Message() +
                            ": not permitted here, so nesting goes on without it and dockerd "
                            "keeps its default cgroups");
  const auto created = report.created;
  RemoveCreated(created, fs, report);
  report.created.clear();
  report.done = false;
  report.cgroup_parent.reset();
  report.cgroup_parent_reason =
      "nesting was not permitted here: cgroup-parent not written, dockerd keeps its default";
  report.cleanup_below.clear();
  return report;
}

// cgroup.procs shows 0 for a process that is not in the reader's PID namespace. Writing "0"
// would move the writer itself, so such a process can never be moved from here: it is named at
// once instead of being retried as if new processes kept appearing.
Error OutsidePidNamespace(const CgroupMoveStep& move, const std::vector<std::string>& pids,
                          int moved) {
  const auto outside = std::count(pids.begin(), pids.end(), "0");
  return Error::Environment(
      "moving this container's processes from " + move.from + " to " + move.to + ": " + move.from +
          "/cgroup.procs lists pid 0" +
          (outside == 1 ? std::string() : " " + std::to_string(outside) + " times") +
          ": a process outside this PID namespace shares this container's cgroup (the parent "
          "that made the PID namespace and stayed, such as `unshare --fork`; a process the node "
          "put here with nsenter or cgexec; a sidecar sharing the cgroup) and cannot be moved "
          "from here; " +
          (moved == 0 ? std::string("nothing was moved")
                      : std::to_string(moved) + " process" + (moved == 1 ? " was" : "es were") +
                            " moved before it appeared"),
      "start the container so that only its own processes are in its cgroup (docker, runc and "
      "Kubernetes do), or pass --cgroup-parent PATH naming a cgroup outside this container's for "
      "dockerd's containers; until then dockerd keeps that or its default cgroup-parent");
}

// Moves every process of `from` into `to`, round after round while new ones appear.
// `moved` counts the processes moved, on an error too. A refusal (EACCES/EPERM/EROFS on the
// first move) comes back as it is; a pid 0 at once, before anything more is moved.
Status MoveAll(CgroupFs& fs, const CgroupMoveStep& move, int rounds, std::string& evidence,
               int& moved) {
  moved = 0;
  std::map<std::string, std::string> last_error;  // pid -> why its last move failed
  for (int round = 1; round <= rounds; ++round) {
    auto pids = ReadPids(fs, move.from);
    if (!pids) return pids.error().Wrap("moving this container's processes");
    if (pids->empty()) {
      evidence = "moved " + std::to_string(moved) + " process" + (moved == 1 ? "" : "es") +
                 " from " + move.from + " to " + move.to + " (" + std::to_string(round) +
                 (round == 1 ? " round" : " rounds") + "; " + move.reason + ")";
      return OkStatus();
    }
    if (std::find(pids->begin(), pids->end(), "0") != pids->end()) {
      return OutsidePidNamespace(move, *pids, moved);
    }
    for (const auto& pid : *pids) {
      auto written = fs.WriteFile(move.to + "/cgroup.procs", pid);
      if (written) {
        ++moved;
        last_error.erase(pid);
        continue;
      }
      const Error& error = written.error();
      if (error.errnum == ESRCH) continue;  // it ended meanwhile
      if (IsRefusal(error) && moved == 0) return error;
      last_error[pid] = error.Message();
    }
  }
  auto left = ReadPids(fs, move.from);
  if (!left) return left.error().Wrap("moving this container's processes");
  if (left->empty()) {
    evidence = "moved " + std::to_string(moved) + " processes from " + move.from + " to " +
               move.to + " (" + std::to_string(rounds) + " rounds; " + move.reason + ")";
    return OkStatus();
  }
  if (std::find(left->begin(), left->end(), "0") != left->end()) {
    return OutsidePidNamespace(move, *left, moved);
  }
  std::string why;
  for (const auto& pid : *left) {
    if (auto it = last_error.find(pid); it != last_error.end()) {
      why += "; pid " + pid + ": " + it->second;
    }
  }
  return Error::Environment(
      "moving this container's processes from " + move.from + " to " + move.to + ": pid" +
          (left->size() == 1 ? " " : "s ") + Join(*left, " ") + " still in it after " +
          std::to_string(rounds) + " rounds" +
          (why.empty() ? std::string(" (new processes kept appearing)") : why),
      "something keeps starting processes in this container (a `docker exec` loop?) or they "
      "cannot move; start the entrypoint before anything is exec'd into the container, or "
      "pass --cgroup-parent and leave this container's cgroup as it is");
}

// Enables every controller of dir/cgroup.controllers in dir/cgroup.subtree_control.
void EnableControllers(CgroupFs& fs, const std::string& dir, CgroupNestingReport& report) {
  auto available = fs.ReadFile(dir + "/cgroup.controllers");
  if (!available) {
    report.warnings.push_back("controllers not enabled in " + dir + ": " +
                              available.error().Message());
    report.done = false;
    return;
  }
  const auto controllers = Words(*available);
  if (controllers.empty()) {
    report.evidence.push_back(dir + "/cgroup.controllers lists no controllers: none to enable");
    return;
  }
  std::vector<std::string> enabled_before;
  if (auto subtree = fs.ReadFile(dir + "/cgroup.subtree_control")) {
    enabled_before = Words(*subtree);
  }
  std::vector<std::string> enabled, already;
  for (const auto& controller : controllers) {
    if (std::find(enabled_before.begin(), enabled_before.end(), controller) !=
        enabled_before.end()) {
      already.push_back(controller);
      continue;
    }
    auto written = fs.WriteFile(dir + "/cgroup.subtree_control", "+" + controller);
    if (written) {
      enabled.push_back(controller);
    } else {
      report.warnings.push_back("controller " + controller + " not enabled in " + dir +
                                "/cgroup.subtree_control: " + written.error().Message() +
                                "; dockerd's containers get no " + controller + " limits");
      report.done = false;
    }
  }
  std::string line = dir + "/cgroup.subtree_control:";
  if (!enabled.empty()) line += " enabled " + Join(Prefixed("+", enabled), " ");
  if (!enabled.empty() && !already.empty()) line += ",";
  if (!already.empty()) line += " already enabled " + Join(already, " ");
  if (enabled.empty() && already.empty()) line += " nothing enabled";
  report.evidence.push_back(line);
}

// Depth first below `path`; true when `path` itself is gone.
bool RemoveTree(CgroupFs& fs, const std::string& path, CleanupReport& report) {
  auto children = fs.ListSubdirs(path);
  if (!children) {
    if (children.error().errnum == ENOENT) return true;
    report.kept.push_back(path + ": " + children.error().Message());
    return false;
  }
  bool children_gone = true;
  for (const auto& name : *children) {
    children_gone = RemoveTree(fs, path + "/" + name, report) && children_gone;
  }
  auto removed = fs.RemoveDir(path);
  if (removed) {
    report.removed.push_back(path);
    return true;
  }
  const Error& error = removed.error();
  if (error.errnum == ENOENT) return true;
  if (error.errnum == EBUSY) {
    auto pids = ReadPids(fs, path);
    if (pids && !pids->empty()) {
      report.kept.push_back(path + ": still holds process" + (pids->size() == 1 ? " " : "es ") +
                            Join(*pids, " "));
    } else if (!children_gone) {
      report.kept.push_back(path + ": a cgroup below it was kept");
    } else {
      report.kept.push_back(path + ": " + error.Message());
    }
    return false;
  }
  report.kept.push_back(path + ": " + error.Message());
  return false;
}

OrderedJson Strings(const std::vector<std::string>& values) {
  OrderedJson json = OrderedJson::array();
  for (const auto& value : values) json.push_back(value);
  return json;
}

OrderedJson OptionalText(const std::optional<std::string>& value) {
  return value ? OrderedJson(*value) : OrderedJson(nullptr);
}

}  // namespace

Result<CgroupNestingReport> ApplyCgroupNesting(const CgroupNestingPlan& plan, CgroupFs& fs,
                                               int move_rounds) {
  CgroupNestingReport report;
  report.mode = plan.mode;
  report.read_from = plan.read_from;
  report.cgroup_parent = plan.cgroup_parent;
  report.cgroup_parent_reason = plan.cgroup_parent_reason;
  report.cleanup_below = plan.cleanup_below;
  report.done = true;
  if (plan.mode == CgroupNestingMode::kNothing) {
    report.evidence.push_back("nothing done: " + plan.reason);
    return report;
  }
  if (plan.mode == CgroupNestingMode::kV1HostHierarchy) {
    report.evidence.push_back("nothing to create: " + plan.reason);
  }

  for (const auto& dir : plan.create) {
    auto made = fs.MakeDir(dir.path);
    if (!made) {
      if (IsRefusal(made.error())) return GoOnWithout(std::move(report), made.error(), fs);
      Error error = made.error().Wrap("nesting cgroups");
      return error;
    }
    if (*made) {
      report.created.push_back(dir.path);
      report.evidence.push_back("created " + dir.path + " (" + dir.reason + ")");
    } else {
      report.evidence.push_back(dir.path + " exists already");
    }
  }

  if (plan.move) {
    std::string evidence;
    int moved = 0;
    if (Status all = MoveAll(fs, *plan.move, move_rounds, evidence, moved); !all) {
      if (IsRefusal(all.error())) return GoOnWithout(std::move(report), all.error(), fs);
      // Nothing moved: the container's cgroup is as it was, so what this run made goes too.
      if (moved == 0) RemoveCreated(report.created, fs, report);
      return all.error();
    }
    report.evidence.push_back(evidence);
  }

  for (const auto& dir : plan.enable_controllers_in) EnableControllers(fs, dir, report);

  for (const auto& bind : plan.bind_mounts) {
    auto mounted = fs.BindMount(bind.source, bind.target);
    if (mounted) {
      report.evidence.push_back("bind-mounted " + bind.source + " onto " + bind.target + " (" +
                                bind.subsystem + ")");
    } else {
      report.warnings.push_back(mounted.error().Message() + ": " + bind.target +
                                " does not show this container's " + bind.subsystem +
                                " cgroup, so cadvisor/kubelet inside may not find it");
      report.done = false;
    }
  }
  if (plan.mode == CgroupNestingMode::kV1OwnRootBindMounts && plan.bind_mounts.empty()) {
    report.evidence.push_back("no bind mount needed: " + plan.reason);
  }
  return report;
}

Result<CleanupReport> RemoveEmptyCgroupsBelow(const std::string& parent, CgroupFs& fs) {
  CleanupReport report;
  report.parent = parent;
  auto children = fs.ListSubdirs(parent);
  if (!children) {
    if (children.error().errnum == ENOENT) return report;
    return children.error().Wrap("removing the cgroups left below " + parent);
  }
  for (const auto& name : *children) RemoveTree(fs, parent + "/" + name, report);
  return report;
}

OrderedJson CgroupNestingPlanToJson(const CgroupNestingPlan& plan) {
  OrderedJson create = OrderedJson::array();
  for (const auto& dir : plan.create)
    create.push_back({{"path", dir.path}, {"reason", dir.reason}});
  OrderedJson binds = OrderedJson::array();
  for (const auto& bind : plan.bind_mounts) {
    binds.push_back({{"subsystem", bind.subsystem},
                     {"source", bind.source},
                     {"target", bind.target},
                     {"reason", bind.reason}});
  }
  OrderedJson move = nullptr;
  if (plan.move) {
    move = {{"from", plan.move->from}, {"to", plan.move->to}, {"reason", plan.move->reason}};
  }
  return {{"mode", CgroupNestingModeName(plan.mode)},
          {"reason", plan.reason},
          {"read_from", plan.read_from},
          {"create", create},
          {"move", move},
          {"enable_controllers_in", Strings(plan.enable_controllers_in)},
          {"bind_mounts", binds},
          {"cgroup_parent", OptionalText(plan.cgroup_parent)},
          {"cgroup_parent_reason", plan.cgroup_parent_reason},
          {"cleanup_below", Strings(plan.cleanup_below)}};
}

OrderedJson CgroupNestingReportToJson(const CgroupNestingReport& report) {
  return {{"mode", CgroupNestingModeName(report.mode)},
          {"done", report.done},
          {"evidence", Strings(report.evidence)},
          {"warnings", Strings(report.warnings)},
          {"cgroup_parent", OptionalText(report.cgroup_parent)},
          {"cgroup_parent_reason", report.cgroup_parent_reason},
          {"created", Strings(report.created)},
          {"cleanup_below", Strings(report.cleanup_below)},
          {"read_from", report.read_from}};
}

OrderedJson CleanupReportToJson(const CleanupReport& report) {
  return {{"parent", report.parent},
          {"removed", Strings(report.removed)},
          {"kept", Strings(report.kept)}};
}

}  // namespace dind::netcfg
