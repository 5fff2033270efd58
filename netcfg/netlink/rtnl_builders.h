// SPDX-License-Identifier: Apache-2.0
// rtnetlink changes as libnl objects, built apart from sending them so unit tests read them back
// without root. WiringExecutor sends them; nothing outside netcfg/netlink needs libnl for it.
#pragma once

#include <netlink/addr.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/cidr.h"
#include "common/mtu.h"
#include "common/result.h"
#include "netcfg/netlink/libnl_ptr.h"

namespace dind::netcfg {

// A veth pair `name` <-> `peer_name`, the peer made inside the namespace behind `peer_netns_fd`;
// `mtu` 0 keeps the kernel's default.
LibnlPtr<rtnl_link> BuildVethPair(const std::string& name, const std::string& peer_name,
                                  int peer_netns_fd, Mtu mtu = 0);
// The change that sets a link up.
LibnlPtr<rtnl_link> BuildLinkUp();
// The change that makes a link a port of the bridge with index `bridge_index`.
LibnlPtr<rtnl_link> BuildEnslave(int bridge_index);
Result<LibnlPtr<nl_addr>> BuildNlAddress(const IpAddress& address, int prefix_length);
// `address`/`prefix_length` on the link with index `ifindex`.
Result<LibnlPtr<rtnl_addr>> BuildAddress(const IpAddress& address, int prefix_length, int ifindex);
// A static route to `destination` via `gateway`, through link `ifindex` when given.
Result<LibnlPtr<rtnl_route>> BuildRoute(const Cidr& destination, const IpAddress& gateway,
                                        std::optional<int> ifindex = std::nullopt);

}  // namespace dind::netcfg
