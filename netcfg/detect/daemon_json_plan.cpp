// SPDX-License-Identifier: Apache-2.0
#include "netcfg/detect/daemon_json_plan.h"

namespace dind::netcfg {
namespace {

constexpr const char* kBridgeMtuOption = "com.docker.network.driver.mtu";

}  // namespace

std::vector<KeyUpdate> PlanDaemonJson(const DetectionReport& report) {
  std::vector<KeyUpdate> updates;
  updates.push_back({{"mtu"}, OrderedJson(report.mtu.docker)});
  // dockerd < 24.0 ignores the key (and refuses it beside --bridge), so it is removed for them.
  updates.push_back({{"default-network-opts", "bridge", kBridgeMtuOption},
                     report.dockerd.supports_default_network_opts
                         ? std::optional(OrderedJson(std::to_string(report.mtu.docker)))
                         : std::nullopt});
  updates.push_back({{"bip"}, OrderedJson(report.pools.bip)});
  updates.push_back({{"fixed-cidr"}, OrderedJson(report.pools.fixed_cidr.ToString())});
  OrderedJson pools = OrderedJson::array();
  for (const auto& pool : report.pools.default_address_pools) {
    pools.push_back({{"base", pool.base.ToString()}, {"size", pool.size}});
  }
  if (report.ipv6.pool) {
    pools.push_back(
        {{"base", report.ipv6.pool->base.ToString()}, {"size", report.ipv6.pool->size}});
  }
  updates.push_back({{"default-address-pools"}, pools});
  // "dns" is owned only when --dns decided servers (a list, or auto replacing dockerd's public
  // fallback): off, and auto with nothing to write, leave a user's own "dns" alone.
  if (report.dns.servers) updates.push_back({{"dns"}, OrderedJson(*report.dns.servers)});
  // The IPv6 keys are owned only when IPv6 is given: a user's own "ipv6" is kept otherwise.
  if (report.ipv6.enabled) {
    updates.push_back({{"ipv6"}, OrderedJson(true)});
    updates.push_back({{"fixed-cidr-v6"}, OrderedJson(report.ipv6.fixed_cidr_v6->ToString())});
    updates.push_back({{"ip6tables"}, OrderedJson(true)});
    if (report.ipv6.experimental) updates.push_back({{"experimental"}, OrderedJson(true)});
  }
  // cgroup-parent is only owned when detection decided one: a user's own choice is kept.
  if (report.cgroup.parent) {
    updates.push_back({{"cgroup-parent"}, OrderedJson(*report.cgroup.parent)});
  }
  // Owned only when --min-api-version is given. dockerd <= 28 refuses to start with the key
  // (it arrived in docker-v29.0.0), so for them it is removed rather than written.
  if (report.dockerd.min_api_version) {
    updates.push_back({{"min-api-version"},
                       report.dockerd.supports_min_api_version
                           ? std::optional(OrderedJson(report.dockerd.min_api_version->ToString()))
                           : std::nullopt});
  }
  return updates;
}

}  // namespace dind::netcfg
