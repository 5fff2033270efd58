// SPDX-License-Identifier: Apache-2.0
// What detection needs to know about a network namespace, as plain values. Filled from the
// kernel by RtnlReader (libnl) and built by hand in unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"

namespace dind::netcfg {

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "veth", "vxlan", "ipip", "wireguard", "bridge", "" …
  Mtu mtu = 0;
  bool up = false;
  int master_index = 0;  // IFLA_MASTER: the bridge a port belongs to, 0 when none
  int lower_index = 0;   // IFLA_LINK: the device a tunnel or vlan runs over, 0 when none
  // For tunnels that say so (vxlan, geneve: local/remote address): the underlay's family.
  std::optional<Family> underlay_family;
};

struct AddressInfo {
  int link_index = 0;
  IpAddress address;
  int prefix_length = 0;
  Cidr network() const { return Cidr::Of(address, prefix_length); }
};

struct RouteInfo {
  Family family = Family::kIPv4;
  Cidr destination;  // 0.0.0.0/0 or ::/0 for a default route
  std::optional<IpAddress> gateway;
  int out_link_index = 0;
  std::uint32_t table = 254;   // RT_TABLE_MAIN
  std::uint32_t priority = 0;  // metric
  Mtu mtu = 0;                 // RTAX_MTU; 0 when the route sets none
  bool is_default() const { return destination.prefix_length() == 0; }
};

struct NetworkSnapshot {
  std::vector<LinkInfo> links;
  std::vector<AddressInfo> addresses;
  std::vector<RouteInfo> routes;  // all tables, unicast routes only

  const LinkInfo* FindLink(int index) const;
  const LinkInfo* FindLink(const std::string& name) const;
};

// The kernel seam for detection: one verb, read the namespace the process is in.
class NetlinkReader {
 public:
  virtual ~NetlinkReader() = default;
  virtual Result<NetworkSnapshot> ReadSnapshot() = 0;
};

}  // namespace dind::netcfg
