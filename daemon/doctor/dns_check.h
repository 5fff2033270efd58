// SPDX-License-Identifier: Apache-2.0
// DNS of nested containers (issue 29 item 4), from the pod's resolv.conf as dockerd reads it
// (netcfg/dns/container_dns.h models what each release makes of it):
//   dns-resolv-conf  the resolv.conf nested containers get on the default bridge and on a
//                    user-defined network (127.0.0.11 and where it forwards); fail for dockerd
//                    >= 28 when user networks have no upstream at all (no fallback there)
//   dns-fallback     dockerd's public fallback (8.8.8.8, 8.8.4.4): warn when it happens, fail
//                    when the sidecar's egress prober found it unreachable from the docker
//                    bridge (run/entrypoint probe the servers this check names in observed
//                    "servers"); doctor alone cannot probe, so it says "not verified" and how
//   dns-ndots        search x ndots as queries per external name through the masquerade
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/doctor/check.h"
#include "daemon/doctor/doctor_facts.h"
#include "netcfg/dns/container_dns.h"

namespace dind::doctor {

inline constexpr const char* kDnsResolvConfCheckId = "dns-resolv-conf";
inline constexpr const char* kDnsFallbackCheckId = "dns-fallback";
inline constexpr const char* kDnsNdotsCheckId = "dns-ndots";

struct DnsFacts {
  netcfg::PodResolvConf pod;
  // Whose resolv.conf it is: "doctor pid 4321", "dockerd pid 77 (the only dockerd visible)".
  std::string pod_reader = FactsProcess{}.Describe();
  // Why /etc/resolv.conf (or the systemd file) could not be read, other than being absent.
  std::optional<std::string> unreadable;
  // The dockerd version the model runs for, and how it was learnt ("GET /version of ...",
  // "Go build info of /usr/bin/dockerd"); nullopt: unknown, modelled as the newest release line.
  std::optional<netcfg::DockerVersion> dockerd;
  std::string dockerd_source;
  // daemon.json's dns / dns-search / dns-opts and ipv6, as they apply to every container.
  netcfg::DnsOverrides overrides;
  bool ipv6 = false;
  std::string daemon_json_source;  // "/etc/docker/daemon.json", "... (absent)", or why unread
  // Whether the fallback servers answered from the docker bridge, when the egress prober ran a
  // DNS probe against them; nullopt: not probed.
  std::optional<bool> fallback_reachable;
  // The probes it was judged from (FallbackReachable), for the summary and observed "probed".
  std::vector<FallbackProbe> fallback_probes;
};

// True when any fallback server answered, false when every one probed failed, nullopt when
// none was probed.
std::optional<bool> FallbackReachable(const std::vector<FallbackProbe>& probes);

// The public fallback servers dns-fallback found dockerd will use (its observed "servers":
// those in the default bridge's file or behind 127.0.0.11), from a round's results; empty when
// there is no fallback, or no dns-fallback result.
std::vector<std::string> DnsFallbackServers(const std::vector<CheckResult>& results);

// Pure: the three results, in the order of the header.
std::vector<CheckResult> CheckDns(const DnsFacts& facts);

// Reads the facts: the files through context.files, daemon.json at context.daemon_json, the
// version from GET /version of context.docker_socket, else dockerd's binary on PATH; whether the
// fallback answers from context.dns_fallback_probes.
DnsFacts ReadDnsFacts(const DoctorContext& context);

// The group doctor runs: ReadDnsFacts, then CheckDns.
std::vector<CheckResult> DnsChecks(const DoctorContext& context);

}  // namespace dind::doctor
