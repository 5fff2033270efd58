// SPDX-License-Identifier: Apache-2.0
// Builders for injected detection inputs, and a look-up in what a detection sets in daemon.json.
#pragma once

#include <string>
#include <vector>

#include "common/mtu.h"
#include "netcfg/daemon_json/daemon_json.h"
#include "netcfg/detect/facts.h"

namespace dind::netcfg::testing {

inline LinkInfo Link(int index, std::string name, std::string kind, Mtu mtu) {
  LinkInfo link;
  link.index = index;
  link.name = std::move(name);
  link.kind = std::move(kind);
  link.mtu = mtu;
  link.up = true;
  return link;
}

inline AddressInfo Address(int link_index, const std::string& cidr_with_host) {
  const auto slash = cidr_with_host.find('/');
  return AddressInfo{link_index, *IpAddress::Parse(cidr_with_host.substr(0, slash)),
                     std::stoi(cidr_with_host.substr(slash + 1))};
}

inline RouteInfo Route(const std::string& destination, int out_link_index,
                       std::optional<std::string> gateway = std::nullopt,
                       std::uint32_t table = 254) {
  RouteInfo route;
  route.destination = *Cidr::Parse(destination);
  route.family = route.destination.family();
  route.out_link_index = out_link_index;
  if (gateway) route.gateway = *IpAddress::Parse(*gateway);
  route.table = table;
  return route;
}

// A typical pod: lo, eth0 (veth) with 10.244.1.5/24 and a default route via 10.244.1.1.
inline SystemFacts PodFacts(Mtu eth0_mtu = 1500) {
  SystemFacts facts;
  facts.network.links = {Link(1, "lo", "", 65536), Link(2, "eth0", "veth", eth0_mtu)};
  facts.network.addresses = {Address(1, "127.0.0.1/8"), Address(2, "10.244.1.5/24")};
  facts.network.routes = {Route("0.0.0.0/0", 2, "10.244.1.1"), Route("10.244.1.0/24", 2)};
  facts.kernel_release = "6.1.0-13-amd64";
  return facts;
}

// PodFacts with IPv6 too: 2001:db8:1::5/64 on eth0 and a default route via fe80::1.
inline SystemFacts DualStackPodFacts(Mtu eth0_mtu = 1500) {
  SystemFacts facts = PodFacts(eth0_mtu);
  facts.network.addresses.push_back(Address(2, "2001:db8:1::5/64"));
  facts.network.addresses.push_back(Address(2, "fe80::5/64"));
  facts.network.routes.push_back(Route("::/0", 2, "fe80::1"));
  facts.network.routes.push_back(Route("2001:db8:1::/64", 2));
  return facts;
}

// An IPv6-only pod: eth0 with 2001:db8:1::5/64 and only an IPv6 default route.
inline SystemFacts Ipv6OnlyPodFacts(Mtu eth0_mtu = 1500) {
  SystemFacts facts = PodFacts(eth0_mtu);
  facts.network.addresses = {Address(1, "127.0.0.1/8"), Address(1, "::1/128"),
                             Address(2, "2001:db8:1::5/64"), Address(2, "fe80::5/64")};
  facts.network.routes = {Route("::/0", 2, "fe80::1"), Route("2001:db8:1::/64", 2)};
  return facts;
}

// The update of daemon.json's top-level key `key`; nullptr when the plan has none.
inline const KeyUpdate* FindUpdate(const std::vector<KeyUpdate>& updates, const std::string& key) {
  for (const auto& update : updates) {
    if (update.path.front() == key) return &update;
  }
  return nullptr;
}

}  // namespace dind::netcfg::testing
