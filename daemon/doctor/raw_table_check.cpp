// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/raw_table_check.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "common/files.h"
#include "common/strings.h"
#include "daemon/docker/docker_api.h"
#include "daemon/doctor/storage_check.h"
#include "rules/choice/backend_choice.h"

namespace dind::doctor {
namespace {

const char kRawFix[] =
    "load iptable_raw on the node (modprobe iptable_raw from a node DaemonSet, or "
    "/etc/modules-load.d), or run dockerd with the nftables backend (dind-netcfg --backend nft, "
    "or daemon.json \"firewall-backend\": \"nftables\"), which does not need it, or, insecure, "
    "set DOCKER_INSECURE_NO_IPTABLES_RAW=1 in dockerd's environment (28.0.2 and later)";

const char kWithheldFix[] =
    "take iptable_raw out of module_blacklist= on the node's kernel command line (then reboot) "
    "and any `install iptable_raw` line out of the node's modprobe.d, then load iptable_raw on "
    "the node (modprobe iptable_raw); or run dockerd with the nftables backend (dind-netcfg "
    "--backend nft, or daemon.json \"firewall-backend\": \"nftables\"), which does not need it; "
    "or, insecure, set DOCKER_INSECURE_NO_IPTABLES_RAW=1 in dockerd's environment (28.0.2 and "
    "later)";

// modprobe treats '-' and '_' in module names alike.
std::string ModprobeName(std::string_view name) {
  std::string normal(name);
  std::replace(normal.begin(), normal.end(), '-', '_');
  return normal;
}

std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (true) {
    at = text.find_first_not_of(" \t\n", at);
    if (at == std::string_view::npos) break;
    const std::size_t end = std::min(text.find_first_of(" \t\n", at), text.size());
    words.push_back(text.substr(at, end - at));
    at = end;
  }
  return words;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(separator, start), text.size());
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

void AddCmdlinePolicy(std::string_view cmdline, std::string_view module, ModuleLoadPolicy& policy) {
  for (const std::string_view word : Words(cmdline)) {
    // module_blacklist= is the kernel's own: it compares names exactly and refuses the module.
    // modprobe.blacklist= is kmod's, read as `blacklist` lines.
    for (const bool kernel : {true, false}) {
      const std::string_view key = kernel ? "module_blacklist=" : "modprobe.blacklist=";
      if (!word.starts_with(key)) continue;
      for (const std::string_view name : Split(word.substr(key.size()), ',')) {
        const bool same = kernel ? name == module : ModprobeName(name) == ModprobeName(module);
        if (!same) continue;
        (kernel ? policy.withheld_by : policy.blacklisted_by)
            .push_back(std::string(word) + " on /proc/cmdline");
      }
    }
  }
}

void AddModprobeConfPolicy(std::string_view text, std::string_view path, std::string_view module,
                           ModuleLoadPolicy& policy) {
  // Lines ending in a backslash continue on the next; '#' starts a comment line.
  std::string joined;
  for (const std::string_view raw_line : Split(text, '\n')) {
    std::string_view line = raw_line;
    if (line.ends_with('\\')) {
      joined += std::string(line.substr(0, line.size() - 1)) + " ";
      continue;
    }
    joined += std::string(line);
    const std::vector<std::string_view> words = Words(joined);
    if (words.size() >= 2 && !words[0].starts_with('#') &&
        ModprobeName(words[1]) == ModprobeName(module)) {
      if (words[0] == "blacklist") {
        policy.blacklisted_by.push_back("blacklist " + std::string(words[1]) + " in " +
                                        std::string(path));
      } else if (words[0] == "install") {
        std::string command;
        for (std::size_t i = 2; i < words.size(); ++i) {
          command += (i == 2 ? "" : " ") + std::string(words[i]);
        }
        // A command that runs modprobe or insmod still loads it (with something around it).
        if (command.find("modprobe") == std::string::npos &&
            command.find("insmod") == std::string::npos) {
          policy.withheld_by.push_back("install " + std::string(words[1]) + " " + command + " in " +
                                       std::string(path));
        }
      }
    }
    joined.clear();
  }
}

ModuleLoadPolicy ReadModuleLoadPolicy(const HostFiles& files, std::string_view module) {
  ModuleLoadPolicy policy;
  if (auto cmdline = files.Read("/proc/cmdline")) AddCmdlinePolicy(*cmdline, module, policy);
  std::set<std::string> seen;
  for (const char* dir : {"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                          "/usr/lib/modprobe.d", "/lib/modprobe.d"}) {
    auto names = files.List(dir);
    if (!names) continue;
    std::sort(names->begin(), names->end());
    for (const std::string& name : *names) {
      if (!name.ends_with(".conf") || !seen.insert(name).second) continue;
      const std::string path = std::string(dir) + "/" + name;
      if (auto text = files.Read(path)) AddModprobeConfPolicy(*text, path, module, policy);
    }
  }
  return policy;
}

IptablesFlavor GuessIptablesFlavor(const RawTableFacts& facts) {
  using netcfg::Availability;
  if (facts.kernel.nf_tables.available == Availability::kNo) {
    return {true, "the kernel lacks nf_tables (" + facts.kernel.nf_tables.evidence + ")"};
  }
  if (facts.kernel.ip_tables.available == Availability::kNo) {
    return {false, "the kernel lacks legacy ip_tables (" + facts.kernel.ip_tables.evidence + ")"};
  }
  if (facts.legacy_tables_in_use) {
    return {true, "legacy tables are already in use in this netns (/proc/net/ip_tables_names)"};
  }
  const bool legacy = rules::DefaultBackend(facts.kernel) == rules::BackendKind::kLegacy;
  return {legacy, "dind-netcfg's default backend for kernel " + facts.kernel.release +
                      " (doctor runs no traffic proof)"};
}

CheckResult CheckRawTable(const RawTableFacts& facts) {
  CheckResult result{.id = "iptables-raw"};
  const netcfg::FeatureFacts& raw = facts.kernel.iptable_raw;
  result.observed["iptable_raw"] = std::string(netcfg::AvailabilityName(raw.available));
  result.observed["iptable_raw_loaded"] = raw.loaded;
  result.observed["iptable_raw_evidence"] = raw.evidence;
  const ModuleLoadPolicy& policy = facts.raw_policy;
  result.observed["iptable_raw_withheld_by"] = policy.withheld_by;
  result.observed["iptable_raw_blacklisted_by"] = policy.blacklisted_by;
  std::string source = facts.kernel_source;
  if (facts.dockerd_version) {
    result.observed["dockerd_version"] = facts.dockerd_version->ToString();
    source += "; dockerd version from " + facts.version_source;
  }
  const std::string raw_words = "the legacy raw table: " + raw.evidence;
  // Loaded or built in: whatever dockerd's release and backend, its raw rules can go in.
  if (raw.loaded || raw.builtin) {
    result.status = CheckStatus::kOk;
    result.summary = raw_words;
    result.source = source;
    return result;
  }
  if (!facts.dockerd_version) {
    result.summary = raw_words +
                     "; dockerd's version is unknown, so whether it needs the table "
                     "(28.0 and later) is too";
    result.source = source;
    result.fix =
        "run doctor where dockerd runs or its binary is on PATH, or pass --docker-socket or "
        "--dockerd-version";
    return result;
  }
  const netcfg::DockerVersion& version = *facts.dockerd_version;
  const std::string dockerd = "dockerd " + version.ToString();
  if (!version.AtLeast(28, 0)) {
    result.status = CheckStatus::kOk;
    result.summary = dockerd + " writes no raw rules (from 28.0 it does): not needed; " + raw_words;
    result.source = source;
    return result;
  }
  // The backend: /info's word when dockerd answers (28.1 and later), else the iptables flavour
  // dind-netcfg would give dockerd.
  std::string backend;
  bool legacy = true;
  if (facts.firewall_driver) {
    backend = "firewall backend " + *facts.firewall_driver + " (" + facts.info_source +
              " FirewallBackend.Driver)";
    if (*facts.firewall_driver == "nftables") legacy = false;
  }
  if (!facts.firewall_driver || legacy) {
    const IptablesFlavor flavor = GuessIptablesFlavor(facts);
    legacy = flavor.legacy;
    backend += std::string(backend.empty() ? "" : ", ") + "iptables " +
               (flavor.legacy ? "legacy" : "nft") + " (" + flavor.why + ")";
  }
  result.observed["backend"] = backend;
  result.source = source + "; backend: " + backend;
  if (!legacy) {
    result.status = CheckStatus::kOk;
    result.summary = dockerd + " with " + backend +
                     " keeps its raw rules in nf_tables: the "
                     "legacy iptable_raw is not needed";
    return result;
  }
  if (facts.insecure_no_raw) {
    result.status = CheckStatus::kWarn;
    result.summary = dockerd + " runs with DOCKER_INSECURE_NO_IPTABLES_RAW set (" +
                     facts.info_source +
                     " Warnings): it skips its raw rules, so published ports "
                     "can be reached by direct routing; " +
                     raw_words;
    result.fix =
        "load iptable_raw on the node, or use the nftables backend, and unset "
        "DOCKER_INSECURE_NO_IPTABLES_RAW";
    return result;
  }
  const std::string breaks =
      version.AtLeast(28, 2)
          ? "dockerd starts, but every container on a bridge network fails to start (\"Unable "
            "to enable DIRECT ACCESS FILTERING - DROP rule ... can't initialize iptables table "
            "`raw'\")"
          : "dockerd starts, but every container with a published port (-p) fails to start "
            "(its raw rules cannot be added)";
  if (!policy.withheld_by.empty()) {
    result.status = CheckStatus::kFail;
    result.summary = dockerd + " needs the legacy raw table; it is not loaded (" + raw.evidence +
                     ") and the node withholds iptable_raw from loading (" +
                     Join(policy.withheld_by, ", ") + "): " + breaks;
    result.fix = kWithheldFix;
    return result;
  }
  if (raw.available == netcfg::Availability::kYes) {
    // CONFIG_IP_NF_RAW=m, not loaded: legacy iptables asks the kernel for the table's module on
    // first use, which loads it when the node has the module file.
    result.status = CheckStatus::kWarn;
    result.summary = dockerd + " needs the legacy raw table; it is not loaded (" + raw.evidence +
                     "): the kernel loads it on first use if the node has the module file, "
                     "otherwise " +
                     breaks;
    if (!policy.blacklisted_by.empty()) {
      result.summary += "; " + Join(policy.blacklisted_by, ", ") +
                        " does not stop that load (a blacklist ignores the module's aliases "
                        "only; the kernel asks modprobe for it by name)";
    }
    result.fix = kRawFix;
    return result;
  }
  result.status = CheckStatus::kFail;
  result.summary =
      dockerd + " needs the legacy raw table, which is missing (" + raw.evidence + "): " + breaks;
  result.fix = kRawFix;
  return result;
}

netcfg::SystemFacts ReadRawTableKernelFiles(const HostFiles& files,
                                            const std::string& kernel_release) {
  netcfg::SystemFacts facts;
  facts.kernel_release = kernel_release;
  auto text_of = [&files](const std::string& path) -> std::optional<std::string> {
    auto text = files.Read(path);
    if (!text) return std::nullopt;
    return std::move(text).value();
  };
  if (auto config = ReadGzipFile(files.PathOf("/proc/config.gz"))) {
    facts.kernel_config = std::move(config).value();
    facts.kernel_config_source = "/proc/config.gz";
  } else if (auto boot = text_of("/boot/config-" + kernel_release)) {
    facts.kernel_config = std::move(boot);
    facts.kernel_config_source = "/boot/config-" + kernel_release;
  }
  facts.proc_modules = text_of("/proc/modules");
  facts.modules_builtin = text_of("/lib/modules/" + kernel_release + "/modules.builtin");
  facts.ip_tables_names = text_of("/proc/net/ip_tables_names");
  facts.ip_tables_names_present = facts.ip_tables_names.has_value();
  for (const char* module : {"nf_tables", "ip_tables", "iptable_raw"}) {
    if (files.Stat(std::string("/sys/module/") + module)) facts.sys_modules.emplace_back(module);
  }
  return facts;
}

std::vector<CheckResult> RawTableChecks(const DoctorContext& context) {
  RawTableFacts facts;
  struct utsname uts {};
  const std::string release = ::uname(&uts) == 0 ? uts.release : "";
  const netcfg::SystemFacts system = ReadRawTableKernelFiles(context.files, release);
  facts.kernel = netcfg::DetectKernel(system);
  facts.legacy_tables_in_use = system.ip_tables_names && system.ip_tables_names->find_first_not_of(
                                                             " \n") != std::string::npos;
  facts.raw_policy = ReadModuleLoadPolicy(context.files, "iptable_raw");
  facts.kernel_source =
      "/proc/net/ip_tables_names, /sys/module, /proc/modules, modules.builtin, /proc/cmdline, "
      "modprobe.d" +
      (system.kernel_config ? ", " + system.kernel_config_source : std::string()) + " (pid " +
      std::to_string(::getpid()) + ")";
  facts.info_source = InfoSource(context.docker_socket);
  if (const auto& body = DockerdInfoBody(context)) {
    if (auto info = docker::ParseInfo(*body, facts.info_source)) {
      facts.info_answered = true;
      facts.firewall_driver = info->firewall_driver;
      facts.insecure_no_raw =
          std::any_of(info->warnings.begin(), info->warnings.end(), [](const std::string& w) {
            return w.find("DOCKER_INSECURE_NO_IPTABLES_RAW") != std::string::npos;
          });
      facts.dockerd_version = netcfg::ParseDockerVersion(info->server_version);
      facts.version_source = facts.info_source + " ServerVersion";
    }
  }
  if (!facts.info_answered) {
    if (auto offline = DockerdVersionNotServed(context)) {
      facts.dockerd_version = offline->first;
      facts.version_source =
          offline->second + " (dockerd did not answer " + facts.info_source + ")";
    }
  }
  return {CheckRawTable(facts)};
}

}  // namespace dind::doctor
