// SPDX-License-Identifier: Apache-2.0
#include "netcfg/netlink/rtnl_builders.h"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <sys/socket.h>

#include <cerrno>

#include "netcfg/netlink/rtnl_convert.h"

namespace dind::netcfg {

LibnlPtr<rtnl_link> BuildVethPair(const std::string& name, const std::string& peer_name,
                                  int peer_netns_fd, Mtu mtu) {
  LibnlPtr<rtnl_link> link(rtnl_link_veth_alloc());
  if (!link) return link;
  rtnl_link_set_name(link.get(), name.c_str());
  // get_peer takes a reference of its own; the peer itself is freed with the link.
  LibnlPtr<rtnl_link> peer(rtnl_link_veth_get_peer(link.get()));
  rtnl_link_set_name(peer.get(), peer_name.c_str());
  rtnl_link_set_ns_fd(peer.get(), peer_netns_fd);
  if (mtu != 0) {
    rtnl_link_set_mtu(link.get(), mtu);
    rtnl_link_set_mtu(peer.get(), mtu);
  }
  return link;
}

LibnlPtr<rtnl_link> BuildLinkUp() {
  LibnlPtr<rtnl_link> change(rtnl_link_alloc());
  if (change) rtnl_link_set_flags(change.get(), IFF_UP);
  return change;
}

LibnlPtr<rtnl_link> BuildEnslave(int bridge_index) {
  LibnlPtr<rtnl_link> change(rtnl_link_alloc());
  if (change) rtnl_link_set_master(change.get(), bridge_index);
  return change;
}

Result<LibnlPtr<nl_addr>> BuildNlAddress(const IpAddress& address, int prefix_length) {
  const int family = address.is_v4() ? AF_INET : AF_INET6;
  LibnlPtr<nl_addr> built(nl_addr_build(family, address.bytes().data(), address.is_v4() ? 4 : 16));
  if (!built) return Error::Environment("building a libnl address", ENOMEM);
  nl_addr_set_prefixlen(built.get(), prefix_length);
  return built;
}

Result<LibnlPtr<rtnl_addr>> BuildAddress(const IpAddress& address, int prefix_length, int ifindex) {
  LibnlPtr<rtnl_addr> built(rtnl_addr_alloc());
  if (!built) return Error::Environment("building a libnl address object", ENOMEM);
  auto local = BuildNlAddress(address, prefix_length);
  if (!local) return local.error();
  rtnl_addr_set_ifindex(built.get(), ifindex);
  rtnl_addr_set_family(built.get(), address.is_v4() ? AF_INET : AF_INET6);
  if (const int error = rtnl_addr_set_local(built.get(), local->get()); error < 0) {
    return RtnlError("building the address " + address.ToString(), error);
  }
  rtnl_addr_set_prefixlen(built.get(), prefix_length);
  rtnl_addr_set_scope(built.get(), RT_SCOPE_UNIVERSE);
  return built;
}

Result<LibnlPtr<rtnl_route>> BuildRoute(const Cidr& destination, const IpAddress& gateway,
                                        std::optional<int> ifindex) {
  LibnlPtr<rtnl_route> route(rtnl_route_alloc());
  if (!route) return Error::Environment("building a libnl route object", ENOMEM);
  auto to = BuildNlAddress(destination.network(), destination.prefix_length());
  if (!to) return to.error();
  auto via = BuildNlAddress(gateway, gateway.max_prefix());
  if (!via) return via.error();

  rtnl_route_set_family(route.get(), gateway.is_v4() ? AF_INET : AF_INET6);
  if (const int error = rtnl_route_set_dst(route.get(), to->get()); error < 0) {
    return RtnlError(
        "building the route to " + destination.ToString() + " via " + gateway.ToString(), error);
  }
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_nexthop* nexthop = rtnl_route_nh_alloc();
  if (nexthop == nullptr) return Error::Environment("building a libnl next hop", ENOMEM);
  rtnl_route_nh_set_gateway(nexthop, via->get());
  if (ifindex) rtnl_route_nh_set_ifindex(nexthop, *ifindex);
  rtnl_route_add_nexthop(route.get(), nexthop);  // the route owns it from here
  return route;
}

}  // namespace dind::netcfg
