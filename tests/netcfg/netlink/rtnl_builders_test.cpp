// SPDX-License-Identifier: Apache-2.0
// The libnl objects WiringExecutor sends for each wiring step (the probe's attachment and the
// proof's throwaway pair), built and read back without a kernel.
#include "netcfg/netlink/rtnl_builders.h"

#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <sys/socket.h>

#include <string>

namespace dind::netcfg {
namespace {

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}

std::string Text(const nl_addr* address) {
  char buffer[64];
  return nl_addr2str(address, buffer, sizeof(buffer));
}

TEST(BuildVethPairTest, HostEndStaysThePeerGoesToTheProbeNamespace) {
  auto link = BuildVethPair("dnc-probe0", "eth0", 42, 1450);
  ASSERT_TRUE(link);
  EXPECT_TRUE(rtnl_link_is_veth(link.get()));
  EXPECT_STREQ(rtnl_link_get_name(link.get()), "dnc-probe0");
  EXPECT_EQ(rtnl_link_get_mtu(link.get()), 1450u);
  EXPECT_EQ(rtnl_link_get_ns_fd(link.get()), 0);
  LibnlPtr<rtnl_link> peer(rtnl_link_veth_get_peer(link.get()));
  ASSERT_TRUE(peer);
  EXPECT_STREQ(rtnl_link_get_name(peer.get()), "eth0");
  EXPECT_EQ(rtnl_link_get_ns_fd(peer.get()), 42);
  EXPECT_EQ(rtnl_link_get_mtu(peer.get()), 1450u);

  nl_msg* raw = nullptr;
  ASSERT_EQ(rtnl_link_build_add_request(link.get(), NLM_F_CREATE | NLM_F_EXCL, &raw), 0);
  LibnlPtr<nl_msg> message(raw);
  EXPECT_EQ(nlmsg_hdr(message.get())->nlmsg_type, RTM_NEWLINK);
  EXPECT_TRUE(nlmsg_hdr(message.get())->nlmsg_flags & NLM_F_EXCL);
}

TEST(BuildVethPairTest, NamesBothEndsAndSendsThePeerToTheOtherNamespace) {
  auto link = BuildVethPair("dind-proof0", "dind-proof1", 42);
  ASSERT_TRUE(link);
  EXPECT_TRUE(rtnl_link_is_veth(link.get()));
  EXPECT_STREQ(rtnl_link_get_name(link.get()), "dind-proof0");
  LibnlPtr<rtnl_link> peer(rtnl_link_veth_get_peer(link.get()));
  ASSERT_TRUE(peer);
  EXPECT_STREQ(rtnl_link_get_name(peer.get()), "dind-proof1");
  EXPECT_EQ(rtnl_link_get_ns_fd(peer.get()), 42);
  EXPECT_EQ(rtnl_link_get_ns_fd(link.get()), 0);  // the pod's end stays where it is made

  // The request carries the peer's namespace fd (IFLA_NET_NS_FD nested in the peer info).
  nl_msg* raw = nullptr;
  ASSERT_EQ(rtnl_link_build_add_request(link.get(), NLM_F_CREATE | NLM_F_EXCL, &raw), 0);
  LibnlPtr<nl_msg> message(raw);
  EXPECT_EQ(nlmsg_hdr(message.get())->nlmsg_type, RTM_NEWLINK);
  EXPECT_TRUE(nlmsg_hdr(message.get())->nlmsg_flags & NLM_F_EXCL);
}

TEST(BuildVethPairTest, UnknownMtuIsLeftToTheKernel) {
  auto link = BuildVethPair("dnc-probe0", "eth0", 42, 0);
  ASSERT_TRUE(link);
  EXPECT_EQ(rtnl_link_get_mtu(link.get()), 0u);
}

TEST(BuildLinkUpTest, OnlyTheUpFlag) {
  auto change = BuildLinkUp();
  ASSERT_TRUE(change);
  EXPECT_EQ(rtnl_link_get_flags(change.get()), static_cast<unsigned>(IFF_UP));
  EXPECT_EQ(rtnl_link_get_master(change.get()), 0);
}

TEST(BuildEnslaveTest, OnlyTheMaster) {
  auto change = BuildEnslave(7);
  ASSERT_TRUE(change);
  EXPECT_EQ(rtnl_link_get_master(change.get()), 7);
  EXPECT_EQ(rtnl_link_get_flags(change.get()), 0u);
}

TEST(BuildAddressTest, ReservedAddressWithTheBridgePrefix) {
  auto address = BuildAddress(Ip("172.17.255.254"), 16, 2);
  ASSERT_TRUE(address.ok()) << address.error().Message();
  EXPECT_EQ(rtnl_addr_get_family(address->get()), AF_INET);
  EXPECT_EQ(rtnl_addr_get_ifindex(address->get()), 2);
  EXPECT_EQ(rtnl_addr_get_prefixlen(address->get()), 16);
  EXPECT_EQ(Text(rtnl_addr_get_local(address->get())), "172.17.255.254/16");
}

TEST(BuildAddressTest, AddressPrefixAndLinkIndex) {
  auto address = BuildAddress(Ip("192.0.2.1"), 30, 7);
  ASSERT_TRUE(address.ok()) << address.error().Message();
  EXPECT_EQ(rtnl_addr_get_family(address->get()), AF_INET);
  EXPECT_EQ(rtnl_addr_get_ifindex(address->get()), 7);
  EXPECT_EQ(rtnl_addr_get_prefixlen(address->get()), 30);
  EXPECT_EQ(rtnl_addr_get_scope(address->get()), RT_SCOPE_UNIVERSE);
  EXPECT_EQ(Text(rtnl_addr_get_local(address->get())), "192.0.2.1/30");
}

TEST(BuildAddressTest, HostAddressOnLoopbackIsGlobal) {
  auto address = BuildAddress(Ip("198.51.100.1"), 32, 1);
  ASSERT_TRUE(address.ok()) << address.error().Message();
  EXPECT_EQ(rtnl_addr_get_prefixlen(address->get()), 32);
  // Universe scope, so the masqueraded datagram may carry it off the host.
  EXPECT_EQ(rtnl_addr_get_scope(address->get()), RT_SCOPE_UNIVERSE);
  EXPECT_EQ(Text(rtnl_addr_get_local(address->get())), "198.51.100.1");
}

TEST(BuildRouteTest, DefaultRouteViaTheBridgeGatewayOutOfTheProbeLink) {
  auto route = BuildRoute(Cidr::Parse("0.0.0.0/0").value(), Ip("172.17.0.1"), 2);
  ASSERT_TRUE(route.ok()) << route.error().Message();
  EXPECT_EQ(rtnl_route_get_family(route->get()), AF_INET);
  EXPECT_EQ(rtnl_route_get_table(route->get()), static_cast<std::uint32_t>(RT_TABLE_MAIN));
  EXPECT_EQ(rtnl_route_get_type(route->get()), RTN_UNICAST);
  EXPECT_EQ(nl_addr_get_prefixlen(rtnl_route_get_dst(route->get())), 0u);
  ASSERT_EQ(rtnl_route_get_nnexthops(route->get()), 1);
  rtnl_nexthop* nexthop = rtnl_route_nexthop_n(route->get(), 0);
  EXPECT_EQ(Text(rtnl_route_nh_get_gateway(nexthop)), "172.17.0.1");
  EXPECT_EQ(rtnl_route_nh_get_ifindex(nexthop), 2);

  nl_msg* raw = nullptr;
  ASSERT_EQ(rtnl_route_build_add_request(route->get(), NLM_F_CREATE | NLM_F_EXCL, &raw), 0);
  LibnlPtr<nl_msg> message(raw);
  EXPECT_EQ(nlmsg_hdr(message.get())->nlmsg_type, RTM_NEWROUTE);
}

TEST(BuildRouteTest, UnicastInTheMainTableThroughTheGateway) {
  auto route = BuildRoute(Cidr::Parse("198.51.100.1/32").value(), Ip("192.0.2.1"));
  ASSERT_TRUE(route.ok()) << route.error().Message();
  EXPECT_EQ(rtnl_route_get_family(route->get()), AF_INET);
  EXPECT_EQ(rtnl_route_get_table(route->get()), static_cast<std::uint32_t>(RT_TABLE_MAIN));
  EXPECT_EQ(rtnl_route_get_type(route->get()), RTN_UNICAST);
  EXPECT_EQ(Text(rtnl_route_get_dst(route->get())), "198.51.100.1");
  EXPECT_EQ(nl_addr_get_prefixlen(rtnl_route_get_dst(route->get())), 32U);
  ASSERT_EQ(rtnl_route_get_nnexthops(route->get()), 1);
  EXPECT_EQ(Text(rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(route->get(), 0))), "192.0.2.1");
}

}  // namespace
}  // namespace dind::netcfg
