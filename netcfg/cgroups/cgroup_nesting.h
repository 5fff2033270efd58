// SPDX-License-Identifier: Apache-2.0
// Carrying out a CgroupNestingPlan (cgroup.h) through a CgroupFs (cgroup_fs.h), and removing
// what dockerd's containers left below cgroup-parent once dockerd has ended. The entrypoint
// calls these as PID 1 of the container that runs dockerd:
//
//   auto plan = report.cgroup_nesting;                    // or PlanCgroupNesting(facts, …)
//   auto applied = ApplyCgroupNesting(plan, fs);          // before dockerd starts
//   RecordAppliedNesting(report, *applied, options.cgroup);  // detector.h: cgroup-parent
//   …dockerd and the command run and end…
//   for (const auto& dir : applied->cleanup_below) RemoveEmptyCgroupsBelow(dir, fs);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "netcfg/cgroups/cgroup.h"
#include "netcfg/cgroups/cgroup_fs.h"
#include "netcfg/daemon_json/daemon_json.h"

namespace dind::netcfg {

// Rounds of "move every process of the cgroup" before giving up: `docker exec` can start a
// process in it while the others move.
inline constexpr int kCgroupMoveRounds = 10;

struct CgroupNestingReport {
  CgroupNestingMode mode = CgroupNestingMode::kNothing;
  // The plan holds now (done by this run, found done, or nothing to do). False when part of
  // it was refused (then `warnings` says what) and nesting went on without it.
  bool done = false;
  std::vector<std::string> evidence;         // what was done or found, one line each
  std::vector<std::string> warnings;         // what could not be done and what that means
  std::optional<std::string> cgroup_parent;  // to write into daemon.json; nullopt: none
  std::string cgroup_parent_reason;
  std::vector<std::string> created;        // directories this run made, parents first
  std::vector<std::string> cleanup_below;  // where dockerd's containers' cgroups land
  std::string read_from;                   // whose /proc/self the plan was made from
};

// Creates the plan's directories, moves every process of this container's cgroup (retried up
// to `move_rounds` times while new ones appear), enables the available controllers, and makes
// the bind mounts. Read-only or not permitted (EROFS, EACCES, EPERM): said in `warnings`, what
// this run created is removed again, and it goes on without nesting (no cgroup-parent). An
// Error for anything else, and when processes would not move: it names their pids. A pid 0 in
// cgroup.procs (a process outside this PID namespace, which cannot be moved from here) is an
// Error at once, before anything more moves; when nothing moved, what this run made is removed.
Result<CgroupNestingReport> ApplyCgroupNesting(const CgroupNestingPlan& plan, CgroupFs& fs,
                                               int move_rounds = kCgroupMoveRounds);

struct CleanupReport {
  std::string parent;
  std::vector<std::string> removed;  // deepest first
  std::vector<std::string> kept;     // "<path>: still holds processes 12 40", and why
};

// Removes every empty cgroup below `parent`, depth first (never `parent` itself). A cgroup that
// still has processes is kept and named with them, and so are its ancestors. A missing
// `parent` is nothing to do. An Error only when `parent` cannot be listed.
Result<CleanupReport> RemoveEmptyCgroupsBelow(const std::string& parent, CgroupFs& fs);

OrderedJson CgroupNestingPlanToJson(const CgroupNestingPlan& plan);
OrderedJson CgroupNestingReportToJson(const CgroupNestingReport& report);
OrderedJson CleanupReportToJson(const CleanupReport& report);

}  // namespace dind::netcfg
