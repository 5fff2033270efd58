// SPDX-License-Identifier: Apache-2.0
#include "netcfg/netlink/rtnl_convert.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/route/link/geneve.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/nexthop.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "netcfg/netlink/libnl_ptr.h"

namespace dind::netcfg {
namespace {

std::optional<Family> FamilyOf(int address_family) {
  switch (address_family) {
    case AF_INET:
      return Family::kIPv4;
    case AF_INET6:
      return Family::kIPv6;
    default:
      return std::nullopt;
  }
}

std::optional<Family> FamilyOf(const nl_addr* address) {
  const auto ip = IpFromNlAddr(address);
  if (!ip) return std::nullopt;
  return ip->family();
}

// libnl's vxlan/geneve getters hand out a new reference, or fail when the attribute is unset.
template <typename Getter>
std::optional<Family> FamilyFromGetter(rtnl_link* link, Getter getter) {
  nl_addr* raw = nullptr;
  if (getter(link, &raw) < 0 || raw == nullptr) return std::nullopt;
  LibnlPtr<nl_addr> address(raw);
  return FamilyOf(address.get());
}

// IFLA_LINK, or for vxlan (which does not report IFLA_LINK) IFLA_VXLAN_LINK.
int LowerIndex(rtnl_link* link) {
  if (const int index = rtnl_link_get_link(link); index != 0) return index;
  std::uint32_t vxlan_lower = 0;
  if (rtnl_link_is_vxlan(link) && rtnl_link_vxlan_get_link(link, &vxlan_lower) == 0) {
    return static_cast<int>(vxlan_lower);
  }
  return 0;
}

std::optional<Family> TunnelUnderlayFamily(rtnl_link* link) {
  // The kind checks guard the getters: libnl reports calling them on another kind as an
  // application bug.
  if (rtnl_link_is_vxlan(link)) {
    if (auto family = FamilyFromGetter(link, rtnl_link_vxlan_get_group)) return family;
    return FamilyFromGetter(link, rtnl_link_vxlan_get_local);
  }
  if (rtnl_link_is_geneve(link)) {
    return FamilyFromGetter(link, rtnl_link_geneve_get_remote);
  }
  return std::nullopt;
}

// libnl folds errno into its own codes; map back the ones an operator can act on.
int ErrnoFromNlError(int nl_error) {
  switch (nl_error < 0 ? -nl_error : nl_error) {
    case NLE_INTR:
    case NLE_DUMP_INTR:
      return EINTR;
    case NLE_BAD_SOCK:
      return EBADF;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    case NLE_PROTO_MISMATCH:
      return EPROTONOSUPPORT;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_PERM:
      return EPERM;
    case NLE_NODEV:
      return ENODEV;
    default:
      return 0;
  }
}

}  // namespace

std::optional<IpAddress> IpFromNlAddr(const nl_addr* address) {
  if (address == nullptr) return std::nullopt;
  const auto family = FamilyOf(nl_addr_get_family(address));
  if (!family) return std::nullopt;
  const unsigned expected_length = *family == Family::kIPv4 ? 4 : 16;
  if (nl_addr_get_len(address) != expected_length) return std::nullopt;
  return IpAddress::FromBytes(*family, nl_addr_get_binary_addr(address));
}

LinkInfo LinkFromRtnl(rtnl_link* link) {
  LinkInfo info;
  info.index = rtnl_link_get_ifindex(link);
  if (const char* name = rtnl_link_get_name(link)) info.name = name;
  if (const char* kind = rtnl_link_get_type(link)) info.kind = kind;
  info.mtu = rtnl_link_get_mtu(link);
  info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
  info.master_index = rtnl_link_get_master(link);
  // With IFLA_LINK_NETNSID set, the lower index belongs to another namespace (a pod's veth
  // points at its host-side peer); taken as ours it would name an unrelated local device.
  std::int32_t link_netnsid = 0;
  if (rtnl_link_get_link_netnsid(link, &link_netnsid) < 0) info.lower_index = LowerIndex(link);
  info.underlay_family = TunnelUnderlayFamily(link);
  return info;
}

std::optional<AddressInfo> AddressFromRtnl(rtnl_addr* address) {
  auto local = IpFromNlAddr(rtnl_addr_get_local(address));
  if (!local) return std::nullopt;
  AddressInfo info;
  info.link_index = rtnl_addr_get_ifindex(address);
  info.address = *local;
  info.prefix_length = rtnl_addr_get_prefixlen(address);
  // ifa_prefixlen is a byte: the kernel never sends more than the family's bits, so a longer
  // one is a malformed message, not an address to build networks from.
  if (info.prefix_length > local->max_prefix()) return std::nullopt;
  return info;
}

std::optional<RouteInfo> RouteFromRtnl(rtnl_route* route) {
  if (rtnl_route_get_type(route) != RTN_UNICAST) return std::nullopt;
  const auto family = FamilyOf(rtnl_route_get_family(route));
  if (!family) return std::nullopt;

  RouteInfo info;
  info.family = *family;
  // libnl represents a missing RTA_DST (the default route) as an empty address.
  const nl_addr* destination = rtnl_route_get_dst(route);
  if (auto network = IpFromNlAddr(destination); network && network->family() == *family) {
    // rtm_dst_len is a byte; longer than the family's bits only in a malformed message.
    const int prefix_length = static_cast<int>(nl_addr_get_prefixlen(destination));
    if (prefix_length > network->max_prefix()) return std::nullopt;
    info.destination = Cidr::Of(*network, prefix_length);
  } else {
    static constexpr std::uint8_t kUnspecified[16] = {};
    info.destination = Cidr::Of(IpAddress::FromBytes(*family, kUnspecified), 0);
  }
  if (rtnl_nexthop* nexthop = rtnl_route_nexthop_n(route, 0)) {
    info.gateway = IpFromNlAddr(rtnl_route_nh_get_gateway(nexthop));
    // RFC 5549: an IPv4 route through an IPv6 gateway arrives as RTA_VIA.
    if (!info.gateway) info.gateway = IpFromNlAddr(rtnl_route_nh_get_via(nexthop));
    info.out_link_index = rtnl_route_nh_get_ifindex(nexthop);
  }
  info.table = rtnl_route_get_table(route);
  info.priority = rtnl_route_get_priority(route);
  std::uint32_t mtu = 0;
  if (rtnl_route_get_metric(route, RTAX_MTU, &mtu) == 0) info.mtu = mtu;
  return info;
}

Error RtnlError(std::string_view what, int nl_error) {
  return Error::Environment(std::string(what) + " (libnl: " + nl_geterror(nl_error) + ")",
                            ErrnoFromNlError(nl_error),
                            "check that this process may open NETLINK_ROUTE sockets; a seccomp "
                            "profile or sandbox that blocks netlink must allow it");
}

}  // namespace dind::netcfg
