// SPDX-License-Identifier: Apache-2.0
// Pure conversions from libnl's rtnetlink objects to the snapshot's plain values. They only read
// the objects handed to them, so unit tests feed them objects built in memory, without root.
#pragma once

#include <optional>
#include <string_view>

#include "common/cidr.h"
#include "common/result.h"
#include "netcfg/netlink/snapshot.h"

struct nl_addr;
struct rtnl_link;
struct rtnl_addr;
struct rtnl_route;

namespace dind::netcfg {

// nullopt for families other than IPv4/IPv6 and for empty or truncated addresses.
std::optional<IpAddress> IpFromNlAddr(const nl_addr* address);

// Takes the kind verbatim from IFLA_INFO_KIND, so kinds libnl has no module for ("wireguard")
// come through as well. For vxlan and geneve the underlay family comes from the remote/group
// address, else the local one. lower_index is IFLA_LINK (IFLA_VXLAN_LINK for vxlan, which
// reports no IFLA_LINK), and 0 when IFLA_LINK_NETNSID says it indexes another namespace.
LinkInfo LinkFromRtnl(rtnl_link* link);

// nullopt when the object carries no IPv4/IPv6 local address.
std::optional<AddressInfo> AddressFromRtnl(rtnl_addr* address);

// nullopt for routes detection ignores: not unicast (local, broadcast, multicast, blackhole …)
// or not IPv4/IPv6.
std::optional<RouteInfo> RouteFromRtnl(rtnl_route* route);

// An Environment error for a failed libnl call: `what` plus libnl's text for `nl_error` (a
// negative NLE_* code), with the errno it stands for when there is one.
Error RtnlError(std::string_view what, int nl_error);

}  // namespace dind::netcfg
