// SPDX-License-Identifier: Apache-2.0
// Conversions from libnl objects, fed with objects built in memory and with objects libnl
// parsed back from rtnetlink messages it built: the parse path is the one the kernel's dump
// replies take. No root and no kernel involved.
#include "netcfg/netlink/rtnl_convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/route/link/geneve.h>
#include <netlink/route/link/ipip.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/nexthop.h>
#include <sys/socket.h>

#include <cerrno>

#include "netcfg/netlink/libnl_ptr.h"

namespace dind::netcfg {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

LibnlPtr<nl_addr> Addr(const char* text) {
  nl_addr* address = nullptr;
  EXPECT_EQ(nl_addr_parse(text, AF_UNSPEC, &address), 0) << text;
  return LibnlPtr<nl_addr>(address);
}

LibnlPtr<nl_addr> Addr(const char* text, int family) {
  nl_addr* address = nullptr;
  EXPECT_EQ(nl_addr_parse(text, family, &address), 0) << text;
  return LibnlPtr<nl_addr>(address);
}

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}
Cidr Net(const char* text) {
  return Cidr::Parse(text).value();
}

// Parses an rtnetlink message the way libnl parses the kernel's dump replies.
LibnlPtr<nl_object> ParseBack(nl_msg* message) {
  nlmsg_set_proto(message, NETLINK_ROUTE);
  nl_object* parsed = nullptr;
  const int error = nl_msg_parse(
      message,
      [](nl_object* object, void* out) {
        nl_object_get(object);
        *static_cast<nl_object**>(out) = object;
      },
      &parsed);
  EXPECT_EQ(error, 0) << nl_geterror(error);
  return LibnlPtr<nl_object>(parsed);
}

LibnlPtr<nl_object> LinkRoundTrip(rtnl_link* link) {
  nl_msg* raw = nullptr;
  const int error = rtnl_link_build_add_request(link, NLM_F_CREATE, &raw);
  EXPECT_EQ(error, 0) << nl_geterror(error);
  LibnlPtr<nl_msg> message(raw);
  return message ? ParseBack(message.get()) : nullptr;
}

rtnl_link* AsLink(const LibnlPtr<nl_object>& object) {
  return reinterpret_cast<rtnl_link*>(object.get());
}

LibnlPtr<rtnl_link> NewLink(int index, const char* name, const char* kind, std::uint32_t mtu) {
  LibnlPtr<rtnl_link> link(rtnl_link_alloc());
  rtnl_link_set_ifindex(link.get(), index);
  rtnl_link_set_name(link.get(), name);
  if (kind != nullptr) {
    EXPECT_EQ(rtnl_link_set_type(link.get(), kind), 0) << kind;
  }
  rtnl_link_set_mtu(link.get(), mtu);
  return link;
}

TEST(LinkFromRtnl, CopiesIndexNameKindMtuStateAndMaster) {
  auto link = NewLink(4, "eth0", "veth", 1450);
  rtnl_link_set_flags(link.get(), IFF_UP);
  rtnl_link_set_master(link.get(), 9);

  const LinkInfo info = LinkFromRtnl(link.get());
  EXPECT_EQ(info.index, 4);
  EXPECT_EQ(info.name, "eth0");
  EXPECT_EQ(info.kind, "veth");
  EXPECT_EQ(info.mtu, 1450u);
  EXPECT_TRUE(info.up);
  EXPECT_EQ(info.master_index, 9);
  EXPECT_EQ(info.lower_index, 0);
  EXPECT_EQ(info.underlay_family, std::nullopt);
}

TEST(LinkFromRtnl, LinkWithoutKindOrUpFlag) {
  auto link = NewLink(1, "lo", nullptr, 65536);
  rtnl_link_set_flags(link.get(), IFF_LOOPBACK);

  const LinkInfo info = LinkFromRtnl(link.get());
  EXPECT_EQ(info.kind, "");
  EXPECT_FALSE(info.up);
  EXPECT_EQ(info.mtu, 65536u);
}

TEST(LinkFromRtnl, KeepsKindLibnlHasNoModuleFor) {
  auto link = NewLink(7, "wg0", "wireguard", 1420);
  const LinkInfo info = LinkFromRtnl(link.get());
  EXPECT_EQ(info.kind, "wireguard");
  EXPECT_EQ(info.underlay_family, std::nullopt);
}

TEST(LinkFromRtnl, UnknownKindSurvivesTheMessageParser) {
  auto link = NewLink(7, "wg0", "wireguard", 1420);
  rtnl_link_set_flags(link.get(), IFF_UP);
  auto parsed = LinkRoundTrip(link.get());
  ASSERT_NE(parsed, nullptr);

  const LinkInfo info = LinkFromRtnl(AsLink(parsed));
  EXPECT_EQ(info.index, 7);
  EXPECT_EQ(info.name, "wg0");
  EXPECT_EQ(info.kind, "wireguard");
  EXPECT_EQ(info.mtu, 1420u);
  EXPECT_TRUE(info.up);
}

TEST(LinkFromRtnl, IpipTunnelOverItsLowerDevice) {
  // The kernel here has no ipip module, so this kind is only covered here.
  auto link = NewLink(12, "tunl1", "ipip", 1480);
  rtnl_link_set_link(link.get(), 2);
  ASSERT_EQ(rtnl_link_ipip_set_local(link.get(), htonl(0x0a000001)), 0);
  ASSERT_EQ(rtnl_link_ipip_set_remote(link.get(), htonl(0x0a000002)), 0);
  auto parsed = LinkRoundTrip(link.get());
  ASSERT_NE(parsed, nullptr);

  for (rtnl_link* candidate : {link.get(), AsLink(parsed)}) {
    const LinkInfo info = LinkFromRtnl(candidate);
    EXPECT_EQ(info.kind, "ipip");
    EXPECT_EQ(info.name, "tunl1");
    EXPECT_EQ(info.mtu, 1480u);
    EXPECT_EQ(info.lower_index, 2);
    // ipip's underlay is implied by its kind; only vxlan and geneve say it per device.
    EXPECT_EQ(info.underlay_family, std::nullopt);
  }
}

TEST(LinkFromRtnl, LowerIndexFromAnotherNamespaceIsDropped) {
  auto link = NewLink(3, "eth0", "veth", 1500);
  rtnl_link_set_link(link.get(), 42);
  ASSERT_EQ(rtnl_link_set_link_netnsid(link.get(), 0), 0);
  EXPECT_EQ(LinkFromRtnl(link.get()).lower_index, 0);

  // Without a kind: libnl 3.7 crashes parsing back the empty veth peer its own builder writes
  // (the kernel's dumps carry no peer, so the reader never meets that).
  auto kindless = NewLink(3, "eth0", nullptr, 1500);
  rtnl_link_set_link(kindless.get(), 42);
  ASSERT_EQ(rtnl_link_set_link_netnsid(kindless.get(), 0), 0);
  auto parsed = LinkRoundTrip(kindless.get());
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(LinkFromRtnl(AsLink(parsed)).lower_index, 0);
}

TEST(LinkFromRtnl, LowerIndexInTheSameNamespaceIsKept) {
  auto link = NewLink(13, "eth0.10", "vlan", 1500);
  rtnl_link_set_link(link.get(), 3);
  auto parsed = LinkRoundTrip(link.get());
  ASSERT_NE(parsed, nullptr);
  for (rtnl_link* candidate : {link.get(), AsLink(parsed)}) {
    EXPECT_EQ(LinkFromRtnl(candidate).lower_index, 3);
  }
}

TEST(LinkFromRtnl, VxlanWithIpv6Underlay) {
  auto link = NewLink(5, "vxlan6", "vxlan", 1430);
  rtnl_link_set_link(link.get(), 2);
  ASSERT_EQ(rtnl_link_vxlan_set_id(link.get(), 42), 0);
  ASSERT_EQ(rtnl_link_vxlan_set_local(link.get(), Addr("fd00::1").get()), 0);
  ASSERT_EQ(rtnl_link_vxlan_set_group(link.get(), Addr("fd00::2").get()), 0);
  auto parsed = LinkRoundTrip(link.get());
  ASSERT_NE(parsed, nullptr);

  for (rtnl_link* candidate : {link.get(), AsLink(parsed)}) {
    const LinkInfo info = LinkFromRtnl(candidate);
    EXPECT_EQ(info.kind, "vxlan");
    EXPECT_EQ(info.mtu, 1430u);
    EXPECT_EQ(info.lower_index, 2);
    EXPECT_THAT(info.underlay_family, Optional(Family::kIPv6));
  }
}

TEST(LinkFromRtnl, VxlanLowerDeviceFromItsOwnLinkAttribute) {
  // The kernel reports a vxlan's `dev` only as IFLA_VXLAN_LINK, never as IFLA_LINK.
  auto link = NewLink(5, "vx4", "vxlan", 1450);
  ASSERT_EQ(rtnl_link_vxlan_set_link(link.get(), 2), 0);
  ASSERT_EQ(rtnl_link_get_link(link.get()), 0);
  auto parsed = LinkRoundTrip(link.get());
  ASSERT_NE(parsed, nullptr);
  for (rtnl_link* candidate : {link.get(), AsLink(parsed)}) {
    EXPECT_EQ(LinkFromRtnl(candidate).lower_index, 2);
  }

  ASSERT_EQ(rtnl_link_set_link_netnsid(link.get(), 1), 0);
  EXPECT_EQ(LinkFromRtnl(link.get()).lower_index, 0) << "the underlay device is in namespace 1";
}

TEST(LinkFromRtnl, VxlanWithOnlyAnIpv4LocalAddress) {
  auto link = NewLink(6, "flannel.1", "vxlan", 1450);
  ASSERT_EQ(rtnl_link_vxlan_set_local(link.get(), Addr("192.168.1.10").get()), 0);
  auto parsed = LinkRoundTrip(link.get());
  ASSERT_NE(parsed, nullptr);

  EXPECT_THAT(LinkFromRtnl(link.get()).underlay_family, Optional(Family::kIPv4));
  EXPECT_THAT(LinkFromRtnl(AsLink(parsed)).underlay_family, Optional(Family::kIPv4));
}

TEST(LinkFromRtnl, VxlanWithoutAddressesHasNoKnownUnderlay) {
  // Metadata-mode vxlan (Cilium) names no local or remote address.
  auto link = NewLink(8, "cilium_vxlan", "vxlan", 1500);
  EXPECT_EQ(LinkFromRtnl(link.get()).underlay_family, std::nullopt);
}

TEST(LinkFromRtnl, GeneveUnderlayFromItsRemote) {
  auto link = NewLink(9, "genev0", "geneve", 1400);
  ASSERT_EQ(rtnl_link_geneve_set_remote(link.get(), Addr("fd00::9").get()), 0);
  auto parsed = LinkRoundTrip(link.get());
  ASSERT_NE(parsed, nullptr);

  for (rtnl_link* candidate : {link.get(), AsLink(parsed)}) {
    const LinkInfo info = LinkFromRtnl(candidate);
    EXPECT_EQ(info.kind, "geneve");
    EXPECT_THAT(info.underlay_family, Optional(Family::kIPv6));
  }
}

LibnlPtr<rtnl_addr> NewAddress(int link_index, const char* local) {
  LibnlPtr<rtnl_addr> address(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(address.get(), link_index);
  auto parsed = Addr(local);
  EXPECT_EQ(rtnl_addr_set_local(address.get(), parsed.get()), 0) << local;
  rtnl_addr_set_prefixlen(address.get(), static_cast<int>(nl_addr_get_prefixlen(parsed.get())));
  return address;
}

LibnlPtr<nl_object> AddressRoundTrip(rtnl_addr* address) {
  nl_msg* raw = nullptr;
  const int error = rtnl_addr_build_add_request(address, NLM_F_CREATE, &raw);
  EXPECT_EQ(error, 0) << nl_geterror(error);
  LibnlPtr<nl_msg> message(raw);
  return message ? ParseBack(message.get()) : nullptr;
}

TEST(AddressFromRtnl, Ipv4AndIpv6AddressesWithPrefix) {
  struct Case {
    const char* local;
    const char* address;
    int prefix;
  };
  for (const Case& c :
       {Case{"10.20.0.2/24", "10.20.0.2", 24}, Case{"fd00:20::2/64", "fd00:20::2", 64}}) {
    auto address = NewAddress(3, c.local);
    auto parsed = AddressRoundTrip(address.get());
    ASSERT_NE(parsed, nullptr);
    for (rtnl_addr* candidate : {address.get(), reinterpret_cast<rtnl_addr*>(parsed.get())}) {
      auto info = AddressFromRtnl(candidate);
      ASSERT_TRUE(info) << c.local;
      EXPECT_EQ(info->link_index, 3);
      EXPECT_EQ(info->address, Ip(c.address));
      EXPECT_EQ(info->prefix_length, c.prefix);
      EXPECT_EQ(info->network(), Net(c.local));
    }
  }
}

TEST(AddressFromRtnl, NoLocalAddressIsSkipped) {
  LibnlPtr<rtnl_addr> address(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(address.get(), 3);
  EXPECT_EQ(AddressFromRtnl(address.get()), std::nullopt);
}

struct RouteSpec {
  int family = AF_INET;
  const char* destination = "default";
  const char* gateway = nullptr;
  int out_link = 0;
  std::uint32_t table = RT_TABLE_MAIN;
  std::uint32_t priority = 0;
  std::uint32_t mtu = 0;
  std::uint8_t type = RTN_UNICAST;
};

LibnlPtr<rtnl_route> NewRoute(const RouteSpec& spec) {
  LibnlPtr<rtnl_route> route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), static_cast<std::uint8_t>(spec.family));
  EXPECT_EQ(rtnl_route_set_dst(route.get(), Addr(spec.destination, spec.family).get()), 0);
  rtnl_route_set_table(route.get(), spec.table);
  rtnl_route_set_priority(route.get(), spec.priority);
  rtnl_route_set_type(route.get(), spec.type);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  rtnl_route_set_scope(route.get(), spec.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  if (spec.mtu != 0) {
    EXPECT_EQ(rtnl_route_set_metric(route.get(), RTAX_MTU, spec.mtu), 0);
  }
  if (spec.out_link != 0 || spec.gateway != nullptr) {
    rtnl_nexthop* nexthop = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nexthop, spec.out_link);
    if (spec.gateway != nullptr) rtnl_route_nh_set_gateway(nexthop, Addr(spec.gateway).get());
    rtnl_route_add_nexthop(route.get(), nexthop);  // the route owns it from here
  }
  return route;
}

LibnlPtr<nl_object> RouteRoundTrip(rtnl_route* route) {
  nl_msg* raw = nullptr;
  const int error = rtnl_route_build_add_request(route, NLM_F_CREATE, &raw);
  EXPECT_EQ(error, 0) << nl_geterror(error);
  LibnlPtr<nl_msg> message(raw);
  return message ? ParseBack(message.get()) : nullptr;
}

// The route itself and its parsed-back twin, both converted.
std::vector<std::optional<RouteInfo>> ConvertBothWays(const RouteSpec& spec) {
  auto route = NewRoute(spec);
  auto parsed = RouteRoundTrip(route.get());
  std::vector<std::optional<RouteInfo>> converted{RouteFromRtnl(route.get())};
  if (parsed) converted.push_back(RouteFromRtnl(reinterpret_cast<rtnl_route*>(parsed.get())));
  EXPECT_EQ(converted.size(), 2u);
  return converted;
}

TEST(RouteFromRtnl, Ipv4DefaultRouteThroughAGateway) {
  for (const auto& info :
       ConvertBothWays({.gateway = "10.20.0.1", .out_link = 3, .priority = 100, .mtu = 1400})) {
    ASSERT_TRUE(info);
    EXPECT_EQ(info->family, Family::kIPv4);
    EXPECT_TRUE(info->is_default());
    EXPECT_EQ(info->destination, Net("0.0.0.0/0"));
    EXPECT_THAT(info->gateway, Optional(Ip("10.20.0.1")));
    EXPECT_EQ(info->out_link_index, 3);
    EXPECT_EQ(info->table, 254u);
    EXPECT_EQ(info->priority, 100u);
    EXPECT_EQ(info->mtu, 1400u);
  }
}

TEST(RouteFromRtnl, Ipv6DefaultRoute) {
  for (const auto& info : ConvertBothWays(
           {.family = AF_INET6, .gateway = "fd00:20::1", .out_link = 3, .priority = 1024})) {
    ASSERT_TRUE(info);
    EXPECT_EQ(info->family, Family::kIPv6);
    EXPECT_EQ(info->destination, Net("::/0"));
    EXPECT_THAT(info->gateway, Optional(Ip("fd00:20::1")));
    EXPECT_EQ(info->priority, 1024u);
    EXPECT_EQ(info->mtu, 0u);
  }
}

TEST(RouteFromRtnl, ConnectedPrefixInAnotherTable) {
  for (const auto& info :
       ConvertBothWays({.destination = "10.96.0.0/12", .out_link = 5, .table = 100})) {
    ASSERT_TRUE(info);
    EXPECT_FALSE(info->is_default());
    EXPECT_EQ(info->destination, Net("10.96.0.0/12"));
    EXPECT_EQ(info->gateway, std::nullopt);
    EXPECT_EQ(info->out_link_index, 5);
    EXPECT_EQ(info->table, 100u);
  }
}

TEST(RouteFromRtnl, GatewayAndLinkOfTheFirstNexthop) {
  auto route = NewRoute({.destination = "10.50.0.0/16"});
  for (const auto& [gateway, out_link] : {std::pair{"10.0.0.1", 7}, std::pair{"10.0.1.1", 8}}) {
    rtnl_nexthop* nexthop = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nexthop, out_link);
    rtnl_route_nh_set_gateway(nexthop, Addr(gateway).get());
    rtnl_route_add_nexthop(route.get(), nexthop);
  }
  auto parsed = RouteRoundTrip(route.get());
  ASSERT_NE(parsed, nullptr);
  for (rtnl_route* candidate : {route.get(), reinterpret_cast<rtnl_route*>(parsed.get())}) {
    auto info = RouteFromRtnl(candidate);
    ASSERT_TRUE(info);
    EXPECT_THAT(info->gateway, Optional(Ip("10.0.0.1")));
    EXPECT_EQ(info->out_link_index, 7);
  }
}

TEST(RouteFromRtnl, Ipv4RouteThroughAnIpv6Gateway) {
  auto route = NewRoute({});
  rtnl_nexthop* nexthop = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nexthop, 2);
  ASSERT_EQ(rtnl_route_nh_set_via(nexthop, Addr("fe80::1").get()), 0);
  rtnl_route_add_nexthop(route.get(), nexthop);

  auto info = RouteFromRtnl(route.get());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->family, Family::kIPv4);
  EXPECT_THAT(info->gateway, Optional(Ip("fe80::1")));
  EXPECT_EQ(info->out_link_index, 2);
}

TEST(RouteFromRtnl, SkipsRoutesThatAreNotUnicast) {
  for (std::uint8_t type :
       {RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST, RTN_BLACKHOLE, RTN_UNREACHABLE}) {
    auto route = NewRoute(
        {.destination = "10.20.0.2/32", .out_link = 3, .table = RT_TABLE_LOCAL, .type = type});
    EXPECT_EQ(RouteFromRtnl(route.get()), std::nullopt) << "type " << int{type};
  }
}

TEST(RtnlError, CarriesLibnlTextAndTheErrnoBehindIt) {
  const Error error = RtnlError("reading links through rtnetlink", -NLE_PERM);
  EXPECT_EQ(error.kind, ErrorKind::kEnvironment);
  EXPECT_EQ(error.errnum, EPERM);
  EXPECT_THAT(error.what, HasSubstr("reading links through rtnetlink"));
  EXPECT_THAT(error.what, HasSubstr(nl_geterror(-NLE_PERM)));
  EXPECT_FALSE(error.hint.empty());
}

TEST(RtnlError, LibnlOnlyFailuresHaveNoErrno) {
  const Error error = RtnlError("reading routes through rtnetlink", -NLE_PARSE_ERR);
  EXPECT_EQ(error.kind, ErrorKind::kEnvironment);
  EXPECT_EQ(error.errnum, 0);
  EXPECT_THAT(error.Message(), HasSubstr(nl_geterror(-NLE_PARSE_ERR)));
}

}  // namespace
}  // namespace dind::netcfg
