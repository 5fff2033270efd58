// SPDX-License-Identifier: Apache-2.0
// The checks `doctor` answers from /proc, /sys, /dev and /lib alone: conntrack use, the user
// namespace, and with --for kind what a KIND cluster nested in the pod needs. Each Check* is a
// pure function of what was read (a file's text, or the Error saying why not: ENOENT is
// "absent"); FileChecks reads through the context's HostFiles and calls them.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "daemon/doctor/check.h"
#include "daemon/doctor/doctor_facts.h"

namespace dind::doctor {

using FileText = Result<std::string>;

// conntrack use in this network namespace. nf_conntrack_count is per netns; nf_conntrack_max is
// the node's global limit (read-only outside the node's netns) that each netns's count is held
// against. warn at >= kConntrackWarnPercent, fail at >= kConntrackFailPercent; drops counted in
// /proc/net/stat/nf_conntrack (drop + early_drop, every CPU) warn.
inline constexpr std::uint64_t kConntrackWarnPercent = 75;
inline constexpr std::uint64_t kConntrackFailPercent = 90;
CheckResult CheckConntrack(const FileText& count, const FileText& max, const FileText& stat);
// The sum of the `drop` and `early_drop` columns of /proc/net/stat/nf_conntrack: a header line
// naming the columns, then one line of hex counters per CPU.
Result<std::uint64_t> SumConntrackDrops(std::string_view stat_text);

// /proc/self/uid_map: the initial user namespace maps "0 0 4294967295" (user_namespaces(7));
// like moby's userns.RunningInUserNS, only the first line decides, and an empty map is a
// user namespace.
struct UidMap {
  bool initial = false;
  std::vector<std::string> lines;  // "0 833617920 65536", spaces collapsed
};
Result<UidMap> ParseUidMap(std::string_view text);

// The user namespace and, inside one, which steps cannot work here: module loads, cgroup writes
// unless cpu, memory and pids are delegated (cgroup.controllers), legacy iptables tables the
// node has not loaded (ip_tables_names).
CheckResult CheckUserns(const FileText& uid_map, const FileText& cgroup_controllers,
                        const FileText& ip_tables_names);

// --for kind. KIND documents fs.inotify.max_user_watches 524288 and max_user_instances 512
// (site/content/docs/user/known-issues.md); both are the node's, not namespaced.
inline constexpr std::uint64_t kKindInotifyWatches = 524288;
inline constexpr std::uint64_t kKindInotifyInstances = 512;
CheckResult CheckKindInotify(const FileText& max_user_watches, const FileText& max_user_instances);
// The nested kubelet's OOM watcher opens /dev/kmsg and exits without it (kind#662; kind stopped
// faking it from /dev/console in 2022).
CheckResult CheckKindKmsg(const Result<struct stat>& kmsg);
// kind mounts /lib/modules read-only into its nodes; `kernel_release` is uname -r.
CheckResult CheckKindModules(const Result<std::vector<std::string>>& entries,
                             std::string_view kernel_release);
// cgroup v2, or v1 inside a cgroup namespace (kind's entrypoint test: the cpu controller's path
// in /proc/self/cgroup is "/"); v1 without one warns as kind does.
CheckResult CheckKindCgroupns(const FileText& cgroup_controllers, const FileText& self_cgroup);
// In a user namespace kind's entrypoint exits unless cpu, memory and pids are delegated.
CheckResult CheckKindCgroupDelegation(const FileText& uid_map, const FileText& cgroup_controllers);

// conntrack and userns, and the kind-* checks when context.for_kind.
std::vector<CheckResult> FileChecks(const DoctorContext& context);

}  // namespace dind::doctor
