// SPDX-License-Identifier: Apache-2.0
// doctor's iptables-raw check (issue 29, item 2): dockerd >= 28.0 writes rules to the legacy
// iptables `raw` table (moby#49557), which needs the node's iptable_raw module when dockerd's
// iptables is the legacy one. What the releases do (moby; /work/notes/issue29-research.md §2):
//  * < 28.0: no raw rules; the table is not needed.
//  * 28.0.x-28.1.x: raw rules per published port: dockerd starts, `docker run -p` fails.
//  * >= 28.2.0: a per-endpoint DIRECT ACCESS FILTERING rule: dockerd starts, and every container
//    on a NAT bridge network fails to start ("Unable to enable DIRECT ACCESS FILTERING - DROP
//    rule ... can't initialize iptables table `raw'").
//  * >= 28.0.2: DOCKER_INSECURE_NO_IPTABLES_RAW=1 in dockerd's environment skips the raw rules
//    (insecure; /info Warnings then say so).
//  * The nftables firewall backend and iptables-nft need nf_tables, not iptable_raw.
// A module that is not loaded is loaded on first use: the kernel runs `modprobe -q -- iptable_raw`
// (request_module, by name, without -b). What withholds it from that load (ModuleLoadPolicy):
//  * module_blacklist=iptable_raw on the kernel command line: the kernel refuses the module
//    ("Module iptable_raw is blacklisted"), whoever loads it;
//  * `install iptable_raw /bin/false` (any command that runs no modprobe/insmod) in modprobe.d:
//    modprobe runs that command instead of loading the module.
// `blacklist iptable_raw` (and modprobe.blacklist= on the command line) does not: modprobe(8)
// applies blacklists to aliases only, to names only with -b, which the kernel does not pass.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/doctor/check.h"
#include "daemon/doctor/doctor_facts.h"
#include "netcfg/detect/facts.h"
#include "netcfg/detect/kernel.h"
#include "netcfg/dockerd/dockerd_version.h"

namespace dind::doctor {

// What the node's module loader does with one module, from /proc/cmdline and modprobe.d.
struct ModuleLoadPolicy {
  // Each place that keeps the module from loading: "module_blacklist= on /proc/cmdline",
  // "install iptable_raw /bin/false in /etc/modprobe.d/no-raw.conf". Empty: nothing does.
  std::vector<std::string> withheld_by;
  // Each `blacklist` of it (aliases only: a load by name still works).
  std::vector<std::string> blacklisted_by;
};

// Adds what the kernel command line says of `module` (module_blacklist=, modprobe.blacklist=;
// '-' and '_' alike in names, as the kernel and modprobe treat them).
void AddCmdlinePolicy(std::string_view cmdline, std::string_view module, ModuleLoadPolicy& policy);
// Adds the `install` and `blacklist` lines for `module` of one modprobe.d file named `path`.
void AddModprobeConfPolicy(std::string_view text, std::string_view path, std::string_view module,
                           ModuleLoadPolicy& policy);
// /proc/cmdline and the *.conf files of /etc/modprobe.d, /run/modprobe.d,
// /usr/local/lib/modprobe.d, /usr/lib/modprobe.d and /lib/modprobe.d (a name in an earlier
// directory hides the same name in later ones, as modprobe reads them), through `files`.
ModuleLoadPolicy ReadModuleLoadPolicy(const HostFiles& files, std::string_view module);

struct RawTableFacts {
  std::optional<netcfg::DockerVersion> dockerd_version;
  std::string version_source;  // "GET /info of unix://…", "Go build info of /usr/bin/dockerd"
  bool info_answered = false;
  std::string info_source;
  // /info FirewallBackend.Driver (from 28.1): "iptables", "iptables+firewalld", "nftables".
  std::optional<std::string> firewall_driver;
  // /info Warnings name DOCKER_INSECURE_NO_IPTABLES_RAW: dockerd skips its raw rules.
  bool insecure_no_raw = false;
  netcfg::KernelFacts kernel;         // nf_tables, ip_tables and iptable_raw
  bool legacy_tables_in_use = false;  // /proc/net/ip_tables_names lists a table
  std::string kernel_source;          // "/proc/net/ip_tables_names, /sys/module, … read by pid N"
  ModuleLoadPolicy raw_policy;        // what the node's loader does with iptable_raw
};

// Which iptables dockerd's rules go through when its driver is "iptables": dind-netcfg puts
// the backend it chose first in dockerd's PATH (entrypoint/dockerd_iptables.h). doctor proves
// nothing by traffic, so it follows the steps of rules/choice that need no proof: a kernel that
// lacks one of the two, then the legacy tables already registered in this netns (docker:dind's
// entrypoint picks legacy the same way), then dind-netcfg's default for the kernel.
struct IptablesFlavor {
  bool legacy = false;
  std::string why;
};
IptablesFlavor GuessIptablesFlavor(const RawTableFacts& facts);

CheckResult CheckRawTable(const RawTableFacts& facts);

// The kernel's files through `files` (its root is "" in the pod): ip_tables_names, /sys/module,
// /proc/modules, modules.builtin, the kernel config; `kernel_release` is uname -r.
netcfg::SystemFacts ReadRawTableKernelFiles(const HostFiles& files,
                                            const std::string& kernel_release);

// The group: iptables-raw.
std::vector<CheckResult> RawTableChecks(const DoctorContext& context);

}  // namespace dind::doctor
