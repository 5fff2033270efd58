// SPDX-License-Identifier: Apache-2.0
// SystemFacts: everything detection reads from the system, as plain values and nothing else.
// GatherFacts (gather_facts.h) fills it from the running system; the decisions (network_path.h,
// kernel.h, pools.h here, netcfg/cgroups/cgroup.h) are pure functions of it, so every decision
// is unit-tested with injected facts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netcfg/netlink/snapshot.h"

namespace dind::netcfg {

struct DockerdVersionText {
  std::string text;       // "20.10.24+dfsg1", or "Docker version 20.10.24+dfsg1, build 5d6db84"
  std::string read_from;  // "Go build info of /usr/sbin/dockerd", "/usr/sbin/dockerd --version"
  // GET /version's ApiVersion ("1.51"), the highest API version the running dockerd serves;
  // "" when the version was read from the binary, which does not say.
  std::string max_api_version;
};

// Text of the files detection reads; nullopt when a file is absent or unreadable.
struct SystemFacts {
  NetworkSnapshot network;
  std::string kernel_release;                  // uname -r
  std::optional<std::string> kernel_config;    // /proc/config.gz or /boot/config-<release>
  std::string kernel_config_source;            // which of the two
  std::optional<std::string> proc_modules;     // /proc/modules
  std::optional<std::string> modules_builtin;  // /lib/modules/<release>/modules.builtin
  bool ip_tables_names_present = false;        // /proc/net/ip_tables_names exists
  std::optional<std::string> ip_tables_names;  // its text: the tables registered in this netns
  std::vector<std::string> sys_modules;        // names under /sys/module we care about
  std::optional<std::string> proc_self_cgroup;
  std::optional<std::string> proc_self_mountinfo;
  int self_pid = 0;  // getpid() of the process whose /proc/self was read; 0 when injected
  std::optional<std::string> resolv_conf;
  std::optional<std::string> kubernetes_service_host;  // $KUBERNETES_SERVICE_HOST
  std::optional<std::string> calico_mtu_file;          // content of Calico's MTU file, when mounted
  std::string calico_mtu_path;
  std::optional<std::string> cni_config;  // content of the CNI config (file, or first in a dir)
  std::string cni_config_path;
  // systemd-resolved's upstream file (dockerd's source for the default bridge when resolv_conf's
  // only nameserver is its stub 127.0.0.53) and $KUBE_DNS_SERVICE_HOST: where --dns auto looks
  // for a nameserver the docker bridge can use.
  std::optional<std::string> systemd_resolv_conf;
  std::optional<std::string> kube_dns_service_host;
  // dockerd's version as its binary states it: read from its Go build information or printed by
  // `dockerd --version` (gather_facts.h says which is tried first); nullopt when neither worked.
  std::optional<DockerdVersionText> dockerd_version;
};

}  // namespace dind::netcfg
