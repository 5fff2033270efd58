// SPDX-License-Identifier: Apache-2.0
// --dns auto|off|IP,... of `init`, `run` and `entrypoint`: what daemon.json "dns" becomes.
//   off (the default)  the key is left as it is: dockerd copies the pod's nameservers.
//   IP,...             those servers, for every nested container (and as the embedded DNS's
//                      upstreams, queried from the container's namespace).
//   auto               a server only where the default bridge would otherwise get dockerd's
//                      public fallback (every pod nameserver is loopback) and the pod has one
//                      the bridge can use: systemd-resolved's upstream file, or the cluster DNS
//                      service ($KUBE_DNS_SERVICE_HOST). Otherwise nothing is written.
// auto is not the default: the plan cannot see a "dns" the user put in daemon.json, and auto
// would replace it; and whether 8.8.8.8 answers from the bridge is only known to the prober.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "netcfg/dns/container_dns.h"

namespace dind::netcfg {

enum class DnsFlagMode { kOff, kAuto, kServers };

struct DnsFlag {
  DnsFlagMode mode = DnsFlagMode::kOff;
  std::vector<std::string> servers;  // kServers: IPv4/IPv6 addresses, in the order given
};

// `text` is "off", "auto" or a comma-separated list of IP addresses. kBadInput naming `flag`
// ("--dns (DIND_NETCFG_DNS)") otherwise.
Result<DnsFlag> ParseDnsFlag(std::string_view text, std::string_view flag = "--dns");

// What auto looks at besides the pod's resolv.conf.
struct DnsPlanInputs {
  DockerVersion dockerd;
  PodResolvConf pod;
  bool ipv6 = false;                         // the default bridge gets IPv6
  std::optional<std::string> kube_dns_host;  // $KUBE_DNS_SERVICE_HOST
};

struct DnsDecision {
  DnsFlagMode mode = DnsFlagMode::kOff;
  // daemon.json "dns" to write; nullopt leaves the key alone.
  std::optional<std::vector<std::string>> servers;
  std::string reason;
  // auto found the default bridge falling back to public resolvers and nothing to write instead.
  bool unresolved_fallback = false;
};

DnsDecision DecideDns(const DnsFlag& flag, const DnsPlanInputs& inputs);

std::string_view DnsFlagModeName(DnsFlagMode mode);

}  // namespace dind::netcfg
