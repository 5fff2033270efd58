// SPDX-License-Identifier: Apache-2.0
#include "netcfg/dns/dns_flag.h"

#include "common/cidr.h"
#include "common/strings.h"

namespace dind::netcfg {
namespace {

// The nameservers of `text` a container on the bridge can query itself: not loopback, not
// link-local or zoned, IPv6 only with IPv6.
std::vector<std::string> BridgeUsable(const std::vector<std::string>& nameservers, bool ipv6) {
  std::vector<std::string> usable;
  for (const auto& server : nameservers) {
    if (server.find('%') != std::string::npos || IsLoopbackNameserver(server)) continue;
    const auto address = IpAddress::Parse(server);
    if (!address || address->is_ipv6_link_local()) continue;
    if (!address->is_v4() && !ipv6) continue;
    usable.push_back(server);
  }
  return usable;
}

}  // namespace

std::string_view DnsFlagModeName(DnsFlagMode mode) {
  switch (mode) {
    case DnsFlagMode::kOff:
      return "off";
    case DnsFlagMode::kAuto:
      return "auto";
    case DnsFlagMode::kServers:
      return "servers";
  }
  return "?";
}

Result<DnsFlag> ParseDnsFlag(std::string_view text, std::string_view flag) {
  if (text == "off") return DnsFlag{DnsFlagMode::kOff, {}};
  if (text == "auto") return DnsFlag{DnsFlagMode::kAuto, {}};
  const std::string hint =
      "give auto, off, or nameserver addresses separated by commas, like --dns 10.96.0.10,1.1.1.1";
  DnsFlag parsed{DnsFlagMode::kServers, {}};
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma - start);
    if (item.empty()) {
      return Error::BadInput(std::string(flag) + " '" + std::string(text) + "' has an empty entry",
                             hint);
    }
    const auto address = IpAddress::Parse(item);
    // dockerd takes the list through net.ParseIP: no zones, no prefixes, no names.
    if (!address || item.find('/') != std::string_view::npos) {
      return Error::BadInput(std::string(flag) + " '" + std::string(text) + "': '" +
                                 std::string(item) + "' is not an IP address",
                             hint);
    }
    parsed.servers.push_back(address->ToString());
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parsed;
}

DnsDecision DecideDns(const DnsFlag& flag, const DnsPlanInputs& inputs) {
  DnsDecision decision;
  decision.mode = flag.mode;
  if (flag.mode == DnsFlagMode::kOff) {
    decision.reason = "--dns off: daemon.json dns is left as it is";
    return decision;
  }
  if (flag.mode == DnsFlagMode::kServers) {
    decision.servers = flag.servers;
    decision.reason = "--dns " + Join(flag.servers, ",") +
                      ": every nested container queries these itself, from its own namespace";
    return decision;
  }
  const DnsModelInput model{inputs.dockerd, inputs.pod, inputs.ipv6, {}};
  const ContainerDns bridge = ModelContainerDns(model, DnsNetworkKind::kDefaultBridge);
  if (!bridge.public_fallback) {
    decision.reason = "--dns auto: dockerd " + inputs.dockerd.ToString() +
                      " gives the default bridge the pod's nameservers (" +
                      Join(bridge.file.nameservers, ", ") + " from " + bridge.source +
                      "), nothing to write";
    return decision;
  }
  const std::string fallback = "every nameserver of " + bridge.source +
                               " is loopback (or missing), so dockerd " +
                               inputs.dockerd.ToString() + " would give the default bridge " +
                               Join(bridge.file.nameservers, ", ");
  if (inputs.pod.systemd) {
    const auto usable =
        BridgeUsable(ParseResolvConf(*inputs.pod.systemd, DnsReleaseOf(inputs.dockerd)).nameservers,
                     inputs.ipv6);
    if (!usable.empty()) {
      decision.servers = usable;
      decision.reason = "--dns auto: " + fallback + "; writing systemd-resolved's upstreams " +
                        Join(usable, ", ") + " (" + std::string(kSystemdResolvConf) + ")";
      return decision;
    }
  }
  if (inputs.kube_dns_host) {
    const auto usable = BridgeUsable({*inputs.kube_dns_host}, inputs.ipv6);
    if (!usable.empty()) {
      decision.servers = usable;
      decision.reason = "--dns auto: " + fallback + "; writing the cluster DNS service " +
                        usable[0] + " ($KUBE_DNS_SERVICE_HOST)";
      return decision;
    }
  }
  decision.unresolved_fallback = true;
  decision.reason = "--dns auto: " + fallback +
                    ", and the pod has no nameserver the bridge can use (" +
                    std::string(kSystemdResolvConf) +
                    " and $KUBE_DNS_SERVICE_HOST give none); nothing written: pass --dns with "
                    "the cluster DNS service's IP";
  return decision;
}

}  // namespace dind::netcfg
