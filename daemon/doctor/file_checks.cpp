// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/file_checks.h"

#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sstream>

#include "common/strings.h"

namespace dind::doctor {
namespace {

constexpr std::string_view kConntrackCount = "/proc/sys/net/netfilter/nf_conntrack_count";
constexpr std::string_view kConntrackMax = "/proc/sys/net/netfilter/nf_conntrack_max";
constexpr std::string_view kConntrackStat = "/proc/net/stat/nf_conntrack";
constexpr std::string_view kUidMap = "/proc/self/uid_map";
constexpr std::string_view kCgroupControllers = "/sys/fs/cgroup/cgroup.controllers";
constexpr std::string_view kIpTablesNames = "/proc/net/ip_tables_names";
constexpr std::string_view kInotifyWatches = "/proc/sys/fs/inotify/max_user_watches";
constexpr std::string_view kInotifyInstances = "/proc/sys/fs/inotify/max_user_instances";
constexpr std::string_view kSelfCgroup = "/proc/self/cgroup";
constexpr std::string_view kKmsg = "/dev/kmsg";
constexpr std::string_view kLibModules = "/lib/modules";

// The controllers a nested dockerd or kind node needs to write.
const std::vector<std::string> kNeededControllers = {"cpu", "memory", "pids"};
// The legacy tables dockerd programs (raw from 28.0 on).
const std::vector<std::string> kDockerLegacyTables = {"filter", "nat", "raw"};

bool Absent(const Error& error) {
  return error.errnum == ENOENT;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream stream{std::string(text)};
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  std::istringstream stream{std::string(text)};
  for (std::string line; std::getline(stream, line);) {
    if (!Words(line).empty()) lines.push_back(line);
  }
  return lines;
}

Result<std::uint64_t> ParseUnsigned(std::string_view text, std::string_view what, int base = 10) {
  const auto words = Words(text);
  std::uint64_t value = 0;
  if (words.size() == 1) {
    const std::string& word = words.front();
    const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value, base);
    if (error == std::errc() && end == word.data() + word.size()) return value;
  }
  return Error::Environment(
      std::string(what) + " holds '" + std::string(text.substr(0, 40)) + "', not a number",
      "report it: the kernel writes a single number there");
}

CheckResult Make(std::string id, CheckStatus status, std::string summary, std::string_view source,
                 std::string fix) {
  CheckResult result;
  result.id = std::move(id);
  result.status = status;
  result.summary = std::move(summary);
  result.source = std::string(source);
  result.fix = std::move(fix);
  return result;
}

CheckResult Unknown(std::string id, std::string summary, std::string_view source, std::string fix) {
  return Make(std::move(id), CheckStatus::kUnknown, std::move(summary), source, std::move(fix));
}

std::string ReadFailure(std::string_view path, const Error& error) {
  return "could not read " + std::string(path) + ": " + error.Message();
}

bool Contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

std::vector<std::string> Missing(const std::vector<std::string>& wanted,
                                 const std::vector<std::string>& present) {
  std::vector<std::string> missing;
  for (const auto& item : wanted) {
    if (!Contains(present, item)) missing.push_back(item);
  }
  return missing;
}

constexpr std::string_view kUsernsFix =
    "this pod runs with hostUsers: false; for DinD set hostUsers: true with privileged: true, or "
    "have the node preload iptable_raw, nf_tables and overlay and delegate cgroups (cgroup v2, "
    "containerd >= 2.0, runc >= 1.2)";

}  // namespace

Result<std::uint64_t> SumConntrackDrops(std::string_view stat_text) {
  const auto lines = Lines(stat_text);
  if (lines.empty()) return Error::Environment("/proc/net/stat/nf_conntrack is empty");
  const auto header = Words(lines.front());
  const auto column = [&](std::string_view name) -> std::ptrdiff_t {
    const auto found = std::find(header.begin(), header.end(), name);
    return found == header.end() ? -1 : found - header.begin();
  };
  const std::ptrdiff_t drop = column("drop");
  const std::ptrdiff_t early_drop = column("early_drop");
  if (drop < 0 || early_drop < 0) {
    return Error::Environment("/proc/net/stat/nf_conntrack names no drop and early_drop columns");
  }
  std::uint64_t sum = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto cells = Words(lines[i]);
    if (cells.size() != header.size()) {
      return Error::Environment("/proc/net/stat/nf_conntrack line " + std::to_string(i + 1) +
                                " has " + std::to_string(cells.size()) + " columns, the header " +
                                std::to_string(header.size()));
    }
    for (const std::ptrdiff_t index : {drop, early_drop}) {
      auto value = ParseUnsigned(cells[static_cast<std::size_t>(index)], kConntrackStat, 16);
      if (!value) return value.error();
      sum += *value;
    }
  }
  return sum;
}

CheckResult CheckConntrack(const FileText& count, const FileText& max, const FileText& stat) {
  const std::string source = std::string(kConntrackCount) + ", " + std::string(kConntrackMax) +
                             ", " + std::string(kConntrackStat);
  constexpr std::string_view kNodeFix =
      "raise net.netfilter.nf_conntrack_max on the node (sysctl, or kube-proxy's "
      "conntrack.maxPerCore): it is the node's global limit and read-only in the pod";
  if (!count) {
    if (Absent(count.error())) {
      return Unknown("conntrack", "nf_conntrack not loaded in this network namespace", source,
                     "nothing to do before docker's NAT runs here: dockerd loads nf_conntrack "
                     "with its NAT rules; run doctor again once dockerd has started");
    }
    return Unknown("conntrack", ReadFailure(kConntrackCount, count.error()), source,
                   "run doctor in the DinD container's network namespace with /proc mounted");
  }
  if (!max) {
    return Unknown("conntrack", ReadFailure(kConntrackMax, max.error()), source,
                   "run doctor in the DinD container's network namespace with /proc mounted");
  }
  auto entries = ParseUnsigned(*count, kConntrackCount);
  auto limit = ParseUnsigned(*max, kConntrackMax);
  if (!entries || !limit) {
    return Unknown("conntrack", (!entries ? entries.error() : limit.error()).Message(), source,
                   "report it with the two files' contents");
  }
  CheckResult result = Make("conntrack", CheckStatus::kOk, "", source, "");
  result.observed["count"] = *entries;
  result.observed["max"] = *limit;
  if (*limit == 0) {
    result.status = CheckStatus::kUnknown;
    result.summary = "nf_conntrack_max is 0: no limit to compare the count with";
    result.fix = "report it: the kernel sets nf_conntrack_max from memory at boot";
    return result;
  }
  const std::uint64_t percent = *entries * 100 / *limit;
  result.observed["percent"] = percent;
  result.summary = std::to_string(*entries) + " of " + std::to_string(*limit) +
                   " conntrack entries in this network namespace (" + std::to_string(percent) +
                   " %)";
  if (percent >= kConntrackFailPercent) {
    result.status = CheckStatus::kFail;
    result.summary += ": new connections are dropped when it is full";
    result.fix = std::string(kNodeFix);
  } else if (percent >= kConntrackWarnPercent) {
    result.status = CheckStatus::kWarn;
    result.fix = std::string(kNodeFix);
  }
  // Drops are counted since the netns was created: a table that was full once says so here.
  if (stat) {
    auto drops = SumConntrackDrops(*stat);
    if (drops) {
      result.observed["drops"] = *drops;
      if (*drops > 0) {
        result.summary += "; " + std::to_string(*drops) +
                          " packets dropped for a full table (drop + early_drop, every CPU)";
        if (result.status == CheckStatus::kOk) result.status = CheckStatus::kWarn;
        result.fix = std::string(kNodeFix);
      }
    } else {
      result.summary += "; drops unknown: " + drops.error().Message();
    }
  } else {
    result.summary += "; drops unknown: " + ReadFailure(kConntrackStat, stat.error());
  }
  return result;
}

Result<UidMap> ParseUidMap(std::string_view text) {
  UidMap map;
  for (const auto& line : Lines(text)) {
    const auto fields = Words(line);
    if (fields.size() != 3) {
      return Error::Environment("/proc/self/uid_map line '" + line + "' is not 3 numbers");
    }
    map.lines.push_back(Join(fields, " "));
  }
  map.initial = !map.lines.empty() && map.lines.front() == "0 0 4294967295";
  return map;
}

CheckResult CheckUserns(const FileText& uid_map, const FileText& cgroup_controllers,
                        const FileText& ip_tables_names) {
  const std::string source = std::string(kUidMap) + ", " + std::string(kCgroupControllers) + ", " +
                             std::string(kIpTablesNames);
  if (!uid_map) {
    return Unknown("userns", ReadFailure(kUidMap, uid_map.error()), source,
                   "run doctor with /proc mounted (Linux >= 3.5 has uid_map)");
  }
  auto map = ParseUidMap(*uid_map);
  if (!map) {
    return Unknown("userns", map.error().Message(), source, "report it with the file's content");
  }
  CheckResult result = Make("userns", CheckStatus::kOk, "", source, "");
  result.observed["uid_map"] = map->lines;
  result.observed["user_namespace"] = !map->initial;
  if (map->initial) {
    result.summary = "the node's user namespace (uid_map 0 0 4294967295)";
    result.source = std::string(kUidMap);
    return result;
  }
  result.status = CheckStatus::kWarn;
  std::vector<std::string> cannot = {"module loads (the node's modules only)"};
  if (cgroup_controllers) {
    const auto controllers = Words(*cgroup_controllers);
    const auto missing = Missing(kNeededControllers, controllers);
    result.observed["cgroup_controllers"] = controllers;
    result.observed["cgroup_controllers_missing"] = missing;
    if (!missing.empty()) {
      cannot.push_back("cgroup writes (" + Join(missing, ", ") + " not delegated)");
    }
  } else if (Absent(cgroup_controllers.error())) {
    cannot.push_back("cgroup writes (cgroup v1 cannot be delegated)");
  } else {
    cannot.push_back("cgroup writes unknown: " +
                     ReadFailure(kCgroupControllers, cgroup_controllers.error()));
  }
  // No ip_tables_names: the legacy ip_tables module is not loaded, so no legacy table is.
  const std::vector<std::string> loaded =
      ip_tables_names ? Words(*ip_tables_names) : std::vector<std::string>{};
  if (ip_tables_names || Absent(ip_tables_names.error())) {
    const auto missing = Missing(kDockerLegacyTables, loaded);
    result.observed["legacy_tables_loaded"] = loaded;
    result.observed["legacy_tables_missing"] = missing;
    if (!missing.empty()) {
      cannot.push_back("legacy iptables tables not loaded by the node (" + Join(missing, ", ") +
                       ")");
    }
  }
  result.summary = "a user namespace (uid_map " + Join(map->lines, "; ") +
                   "): cannot work here: " + Join(cannot, "; ");
  result.fix = std::string(kUsernsFix);
  return result;
}

CheckResult CheckKindInotify(const FileText& max_user_watches, const FileText& max_user_instances) {
  const std::string source = std::string(kInotifyWatches) + ", " + std::string(kInotifyInstances);
  const std::string fix =
      "raise fs.inotify.max_user_watches to 524288 and fs.inotify.max_user_instances to 512 on "
      "the node (node config or a privileged sysctl DaemonSet): they are not namespaced, so the "
      "pod cannot set them";
  for (const auto* read : {&max_user_watches, &max_user_instances}) {
    if (!*read) {
      const std::string_view path = read == &max_user_watches ? kInotifyWatches : kInotifyInstances;
      return Unknown("kind-inotify", ReadFailure(path, read->error()), source,
                     "run doctor with /proc mounted");
    }
  }
  auto watches = ParseUnsigned(*max_user_watches, kInotifyWatches);
  auto instances = ParseUnsigned(*max_user_instances, kInotifyInstances);
  if (!watches || !instances) {
    return Unknown("kind-inotify", (!watches ? watches.error() : instances.error()).Message(),
                   source, "report it with the two files' contents");
  }
  CheckResult result = Make("kind-inotify", CheckStatus::kOk, "", source, "");
  result.observed["max_user_watches"] = *watches;
  result.observed["max_user_instances"] = *instances;
  result.summary = "max_user_watches " + std::to_string(*watches) + ", max_user_instances " +
                   std::to_string(*instances);
  std::vector<std::string> low;
  if (*watches < kKindInotifyWatches) low.push_back("max_user_watches < 524288");
  if (*instances < kKindInotifyInstances) low.push_back("max_user_instances < 512");
  if (!low.empty()) {
    result.status = CheckStatus::kWarn;
    result.summary += " (" + Join(low, ", ") + ", what KIND documents: 'too many open files')";
    result.fix = fix;
  }
  return result;
}

CheckResult CheckKindKmsg(const Result<struct stat>& kmsg) {
  const std::string fix =
      "run the pod privileged (it then gets the node's /dev), or mount the node's /dev/kmsg as a "
      "hostPath volume of type CharDevice";
  CheckResult result =
      Make("kind-kmsg", CheckStatus::kFail, "", std::string("stat ") + std::string(kKmsg), fix);
  if (!kmsg) {
    if (!Absent(kmsg.error())) {
      return Unknown("kind-kmsg", "could not stat /dev/kmsg: " + kmsg.error().Message(),
                     result.source, fix);
    }
    result.summary = "/dev/kmsg is missing: the nested kubelet's OOM watcher cannot start";
    result.observed["exists"] = false;
    return result;
  }
  result.observed["exists"] = true;
  if (!S_ISCHR(kmsg->st_mode)) {
    result.summary = "/dev/kmsg is not a character device: the nested kubelet cannot read it";
    return result;
  }
  const std::string device =
      std::to_string(major(kmsg->st_rdev)) + ":" + std::to_string(minor(kmsg->st_rdev));
  result.observed["device"] = device;
  result.status = CheckStatus::kOk;
  result.summary = "/dev/kmsg is a character device (" + device + ")";
  result.fix.clear();
  return result;
}

CheckResult CheckKindModules(const Result<std::vector<std::string>>& entries,
                             std::string_view kernel_release) {
  const std::string fix =
      "mount the node's /lib/modules as a read-only hostPath volume at /lib/modules (kind mounts "
      "it into its nodes)";
  CheckResult result =
      Make("kind-modules", CheckStatus::kWarn, "", "listing " + std::string(kLibModules), fix);
  result.observed["kernel_release"] = std::string(kernel_release);
  if (!entries) {
    if (!Absent(entries.error())) {
      return Unknown("kind-modules", "could not list /lib/modules: " + entries.error().Message(),
                     result.source, fix);
    }
    result.summary = "/lib/modules is missing";
    return result;
  }
  std::vector<std::string> names = *entries;
  std::sort(names.begin(), names.end());
  result.observed["entries"] = names;
  if (names.empty()) {
    result.summary = "/lib/modules is empty";
  } else if (!Contains(names, std::string(kernel_release))) {
    result.summary = "/lib/modules has " + Join(names, ", ") + " but not the running kernel's " +
                     std::string(kernel_release);
  } else {
    result.status = CheckStatus::kOk;
    result.summary = "/lib/modules has the running kernel's " + std::string(kernel_release);
    result.fix.clear();
  }
  return result;
}

CheckResult CheckKindCgroupns(const FileText& cgroup_controllers, const FileText& self_cgroup) {
  const std::string fix =
      "run the pod on cgroup v2 nodes, or give it a private cgroup namespace (KIND: 'Please use "
      "cgroup v2, or cgroup v1 with cgroupns enabled')";
  CheckResult result =
      Make("kind-cgroupns", CheckStatus::kOk, "", std::string(kCgroupControllers), "");
  if (cgroup_controllers) {
    result.observed["cgroup"] = "v2";
    result.summary = "cgroup v2";
    return result;
  }
  if (!Absent(cgroup_controllers.error())) {
    return Unknown("kind-cgroupns", ReadFailure(kCgroupControllers, cgroup_controllers.error()),
                   result.source, "run doctor with /sys mounted");
  }
  result.source += ", " + std::string(kSelfCgroup);
  result.observed["cgroup"] = "v1";
  if (!self_cgroup) {
    return Unknown("kind-cgroupns", ReadFailure(kSelfCgroup, self_cgroup.error()), result.source,
                   "run doctor with /proc mounted");
  }
  // v1 lines: "4:cpu,cpuacct:/kubepods/pod…"; the cpu controller's path is "/" in a cgroupns.
  for (const auto& line : Lines(*self_cgroup)) {
    const auto first = line.find(':');
    const auto second = line.find(':', first == std::string::npos ? first : first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::vector<std::string> controllers;
    std::istringstream list(line.substr(first + 1, second - first - 1));
    for (std::string name; std::getline(list, name, ',');) controllers.push_back(name);
    if (!Contains(controllers, "cpu")) continue;
    const std::string path = line.substr(second + 1);
    result.observed["cpu_cgroup"] = path;
    if (path == "/") {
      result.summary = "cgroup v1 in a private cgroup namespace (cpu cgroup /)";
    } else {
      result.status = CheckStatus::kWarn;
      result.summary = "cgroup v1 without a cgroup namespace (cpu cgroup " + path + ")";
      result.fix = fix;
    }
    return result;
  }
  return Unknown("kind-cgroupns", "cgroup v1 but no cpu controller in /proc/self/cgroup",
                 result.source, fix);
}

CheckResult CheckKindCgroupDelegation(const FileText& uid_map, const FileText& cgroup_controllers) {
  const std::string source = std::string(kUidMap) + ", " + std::string(kCgroupControllers);
  const std::string fix =
      "delegate cpu, memory and pids to the pod's cgroup (cgroup v2 with containerd >= 2.0 and "
      "runc >= 1.2), or run the pod with hostUsers: true and privileged: true";
  if (!uid_map) {
    return Unknown("kind-cgroup-delegation", ReadFailure(kUidMap, uid_map.error()), source,
                   "run doctor with /proc mounted");
  }
  auto map = ParseUidMap(*uid_map);
  if (!map) return Unknown("kind-cgroup-delegation", map.error().Message(), source, fix);
  CheckResult result = Make("kind-cgroup-delegation", CheckStatus::kOk, "", source, "");
  if (map->initial) {
    result.summary = "not a user namespace: the node's root writes the cgroups";
    return result;
  }
  result.fix = fix;
  if (!cgroup_controllers) {
    if (!Absent(cgroup_controllers.error())) {
      return Unknown("kind-cgroup-delegation",
                     ReadFailure(kCgroupControllers, cgroup_controllers.error()), source, fix);
    }
    result.status = CheckStatus::kFail;
    result.summary =
        "a user namespace on cgroup v1: KIND's nodes exit ('controller needs to be "
        "delegated')";
    return result;
  }
  const auto controllers = Words(*cgroup_controllers);
  const auto missing = Missing(kNeededControllers, controllers);
  result.observed["cgroup_controllers"] = controllers;
  result.observed["missing"] = missing;
  if (missing.empty()) {
    result.summary = "cpu, memory and pids are delegated";
    result.fix.clear();
  } else {
    result.status = CheckStatus::kFail;
    result.summary = Join(missing, ", ") +
                     " not delegated: KIND's nodes exit ('controller needs "
                     "to be delegated')";
  }
  return result;
}

std::vector<CheckResult> FileChecks(const DoctorContext& context) {
  const HostFiles& files = context.files;
  // Facts of a container are read in it: the user namespace, cgroups, netfilter tables, devices
  // and modules of dockerd's process when doctor sees it (FactsProcess). The sysctls are the
  // kernel's (conntrack, inotify): any process reads the same.
  const FactsProcess& process = context.process;
  const auto proc = [&process](std::string_view absolute) {
    if (absolute.starts_with("/proc/self/")) return process.ProcPath(absolute.substr(11));
    if (absolute.starts_with("/proc/net/")) return process.ProcPath(absolute.substr(6));
    return process.RootPath(absolute);
  };
  const FileText uid_map = files.Read(proc(kUidMap));
  const FileText controllers = files.Read(proc(kCgroupControllers));
  std::vector<CheckResult> results;
  results.push_back(CheckConntrack(files.Read(kConntrackCount), files.Read(kConntrackMax),
                                   files.Read(kConntrackStat)));
  results.push_back(CheckUserns(uid_map, controllers, files.Read(proc(kIpTablesNames))));
  if (context.for_kind) {
    results.push_back(CheckKindInotify(files.Read(kInotifyWatches), files.Read(kInotifyInstances)));
    results.push_back(CheckKindKmsg(files.Stat(proc(kKmsg))));
    utsname uts{};
    const std::string release = ::uname(&uts) == 0 ? uts.release : "";
    results.push_back(CheckKindModules(files.List(proc(kLibModules)), release));
    results.push_back(CheckKindCgroupns(controllers, files.Read(proc(kSelfCgroup))));
    results.push_back(CheckKindCgroupDelegation(uid_map, controllers));
  }
  // The checks name the paths as the process sees them; say which process that is.
  const std::string doctor = " (read by " + FactsProcess{}.Describe() + ")";
  const std::string reader = process.pid == 0
                                 ? doctor
                                 : " (as " + process.Describe() + " sees them, through /proc/" +
                                       std::to_string(process.pid) + "; " + process.chosen_by + ")";
  for (auto& result : results) {
    const bool kernel_wide = result.id == "conntrack" || result.id == "kind-inotify";
    result.source += kernel_wide ? doctor : reader;
  }
  return results;
}

}  // namespace dind::doctor
