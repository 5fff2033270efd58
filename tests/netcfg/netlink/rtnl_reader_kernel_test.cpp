// SPDX-License-Identifier: Apache-2.0
// RtnlReader against the kernel: each test builds its own namespaces (deleted on exit, also on
// failure), reads them from inside with EnterNetns, and checks what came back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>

#include "netcfg/netlink/rtnl_reader.h"
#include "netcfg/netlink/rtnl_watcher.h"
#include "tests/support/netns.h"

namespace dind::netcfg {
namespace {

using ::dind::testing::EnterNetns;
using ::dind::testing::ScopedNetns;
using ::testing::IsEmpty;
using ::testing::Optional;

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}
Cidr Net(const char* text) {
  return Cidr::Parse(text).value();
}

NetworkSnapshot ReadInside(const ScopedNetns& netns) {
  EnterNetns inside(netns);
  RtnlReader reader;
  auto snapshot = reader.ReadSnapshot();
  EXPECT_TRUE(snapshot.ok()) << snapshot.error().Message();
  return snapshot.ok() ? std::move(snapshot).value() : NetworkSnapshot{};
}

const RouteInfo* FindRoute(const NetworkSnapshot& snapshot, const Cidr& destination,
                           std::uint32_t table) {
  for (const auto& route : snapshot.routes) {
    if (route.destination == destination && route.table == table) return &route;
  }
  return nullptr;
}

bool HasAddress(const NetworkSnapshot& snapshot, int link_index, const char* cidr) {
  const Cidr network = Net(cidr);
  const IpAddress address = Ip(std::string(cidr).substr(0, std::string(cidr).find('/')).c_str());
  for (const auto& info : snapshot.addresses) {
    if (info.link_index == link_index && info.address == address &&
        info.prefix_length == network.prefix_length()) {
      return true;
    }
  }
  return false;
}

class VethUplinkTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { DIND_REQUIRE_NETNS(); }
};

// A pod's view: eth0 is a veth whose peer lives in the node's namespace, with IPv4 and IPv6
// default routes through the peer.
TEST_P(VethUplinkTest, ReadsLinkAddressesAndRoutesOfThePod) {
  const std::string mtu = std::to_string(GetParam());
  ScopedNetns pod("nl-pod");
  ScopedNetns node("nl-node");
  pod.MustExec("ip link add eth0 mtu " + mtu + " type veth peer name host0 mtu " + mtu + " netns " +
               node.name());
  node.MustExec(
      "ip link set host0 up && ip addr add 10.20.0.1/24 dev host0 && "
      "ip -6 addr add fd00:20::1/64 dev host0 nodad");
  pod.MustExec(
      "ip link set eth0 up && ip addr add 10.20.0.2/24 dev eth0 && "
      "ip -6 addr add fd00:20::2/64 dev eth0 nodad && "
      "ip route add default via 10.20.0.1 && "
      "ip -6 route add default via fd00:20::1 metric 512 && "
      "ip route add 10.99.0.0/16 via 10.20.0.1 table 100 metric 7 mtu 1400");

  const NetworkSnapshot snapshot = ReadInside(pod);

  // Only the pod's own links: the read happened in the thread's namespace.
  ASSERT_EQ(snapshot.links.size(), 2u);
  const LinkInfo* eth0 = snapshot.FindLink("eth0");
  ASSERT_NE(eth0, nullptr);
  EXPECT_EQ(eth0->kind, "veth");
  EXPECT_EQ(eth0->mtu, static_cast<Mtu>(GetParam()));
  EXPECT_TRUE(eth0->up);
  EXPECT_EQ(eth0->master_index, 0);
  EXPECT_EQ(eth0->lower_index, 0) << "the peer's index belongs to the node namespace";
  const LinkInfo* lo = snapshot.FindLink("lo");
  ASSERT_NE(lo, nullptr);
  EXPECT_EQ(lo->kind, "");
  EXPECT_TRUE(lo->up);

  EXPECT_TRUE(HasAddress(snapshot, eth0->index, "10.20.0.2/24"));
  EXPECT_TRUE(HasAddress(snapshot, eth0->index, "fd00:20::2/64"));
  EXPECT_TRUE(HasAddress(snapshot, lo->index, "127.0.0.1/8"));

  const RouteInfo* default4 = FindRoute(snapshot, Net("0.0.0.0/0"), 254);
  ASSERT_NE(default4, nullptr);
  EXPECT_EQ(default4->family, Family::kIPv4);
  EXPECT_TRUE(default4->is_default());
  EXPECT_THAT(default4->gateway, Optional(Ip("10.20.0.1")));
  EXPECT_EQ(default4->out_link_index, eth0->index);
  EXPECT_EQ(default4->mtu, 0u);

  const RouteInfo* default6 = FindRoute(snapshot, Net("::/0"), 254);
  ASSERT_NE(default6, nullptr);
  EXPECT_EQ(default6->family, Family::kIPv6);
  EXPECT_THAT(default6->gateway, Optional(Ip("fd00:20::1")));
  EXPECT_EQ(default6->out_link_index, eth0->index);
  EXPECT_EQ(default6->priority, 512u);

  const RouteInfo* connected = FindRoute(snapshot, Net("10.20.0.0/24"), 254);
  ASSERT_NE(connected, nullptr);
  EXPECT_EQ(connected->gateway, std::nullopt);
  EXPECT_EQ(connected->out_link_index, eth0->index);

  const RouteInfo* other_table = FindRoute(snapshot, Net("10.99.0.0/16"), 100);
  ASSERT_NE(other_table, nullptr);
  EXPECT_THAT(other_table->gateway, Optional(Ip("10.20.0.1")));
  EXPECT_EQ(other_table->priority, 7u);
  EXPECT_EQ(other_table->mtu, 1400u);

  // The local table holds only local, broadcast and multicast routes: all left out.
  for (const auto& route : snapshot.routes) {
    EXPECT_NE(route.table, 255u) << route.destination.ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(PodMtus, VethUplinkTest, ::testing::Values(1500, 1480, 1450, 1410));

class RtnlReaderKernelTest : public ::testing::Test {
 protected:
  void SetUp() override { DIND_REQUIRE_NETNS(); }
};

TEST_F(RtnlReaderKernelTest, VxlanUnderlayFamilyAndLowerDevice) {
  ScopedNetns netns("nl-vxlan");
  netns.MustExec(
      "ip link add ul0 type veth peer name ul1 && ip link set ul0 up && ip link set ul1 up && "
      "ip addr add 10.30.0.1/24 dev ul0 && ip -6 addr add fd00:30::1/64 dev ul0 nodad && "
      "ip link add vx4 mtu 1450 type vxlan id 42 local 10.30.0.1 remote 10.30.0.2 "
      "dstport 4789 dev ul0 && "
      "ip link add vx6 mtu 1430 type vxlan id 43 local fd00:30::1 remote fd00:30::2 "
      "dstport 4790 dev ul0 && "
      "ip link add vxmc type vxlan id 44 group 239.1.1.1 dstport 4791 dev ul0 && "
      "ip link add vxmd type vxlan external dstport 4792 && "
      "ip link set vx4 up && ip link set vx6 up");

  const NetworkSnapshot snapshot = ReadInside(netns);
  const LinkInfo* ul0 = snapshot.FindLink("ul0");
  ASSERT_NE(ul0, nullptr);

  const LinkInfo* vx4 = snapshot.FindLink("vx4");
  ASSERT_NE(vx4, nullptr);
  EXPECT_EQ(vx4->kind, "vxlan");
  EXPECT_EQ(vx4->mtu, 1450u);
  EXPECT_TRUE(vx4->up);
  EXPECT_EQ(vx4->lower_index, ul0->index);
  EXPECT_THAT(vx4->underlay_family, Optional(Family::kIPv4));

  const LinkInfo* vx6 = snapshot.FindLink("vx6");
  ASSERT_NE(vx6, nullptr);
  EXPECT_EQ(vx6->kind, "vxlan");
  EXPECT_EQ(vx6->mtu, 1430u);
  EXPECT_EQ(vx6->lower_index, ul0->index);
  EXPECT_THAT(vx6->underlay_family, Optional(Family::kIPv6));

  const LinkInfo* multicast = snapshot.FindLink("vxmc");
  ASSERT_NE(multicast, nullptr);
  EXPECT_FALSE(multicast->up);
  EXPECT_THAT(multicast->underlay_family, Optional(Family::kIPv4));

  const LinkInfo* metadata = snapshot.FindLink("vxmd");
  ASSERT_NE(metadata, nullptr);
  EXPECT_EQ(metadata->kind, "vxlan");
  EXPECT_EQ(metadata->lower_index, 0);
  EXPECT_EQ(metadata->underlay_family, std::nullopt);
}

TEST_F(RtnlReaderKernelTest, BridgeWithAPort) {
  ScopedNetns netns("nl-bridge");
  netns.MustExec(
      "ip link add br0 mtu 1400 type bridge && ip link add p0 type veth peer name p1 && "
      "ip link set p0 master br0 && ip link set p0 up && ip link set p1 up && "
      "ip link set br0 up && ip addr add 10.40.0.1/24 dev br0");

  const NetworkSnapshot snapshot = ReadInside(netns);
  const LinkInfo* br0 = snapshot.FindLink("br0");
  const LinkInfo* p0 = snapshot.FindLink("p0");
  const LinkInfo* p1 = snapshot.FindLink("p1");
  ASSERT_NE(br0, nullptr);
  ASSERT_NE(p0, nullptr);
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(br0->kind, "bridge");
  EXPECT_EQ(br0->master_index, 0);
  EXPECT_EQ(p0->kind, "veth");
  EXPECT_EQ(p0->master_index, br0->index);
  EXPECT_EQ(p1->master_index, 0);
  // A veth reports its peer in IFLA_LINK; in the same namespace the index is meaningful.
  EXPECT_EQ(p0->lower_index, p1->index);
  EXPECT_EQ(p1->lower_index, p0->index);

  EXPECT_TRUE(HasAddress(snapshot, br0->index, "10.40.0.1/24"));
  const RouteInfo* connected = FindRoute(snapshot, Net("10.40.0.0/24"), 254);
  ASSERT_NE(connected, nullptr);
  EXPECT_EQ(connected->out_link_index, br0->index);
  EXPECT_EQ(connected->gateway, std::nullopt);
}

TEST_F(RtnlReaderKernelTest, FreshNamespaceHasLoopbackAndNoUnicastRoutes) {
  ScopedNetns netns("nl-empty");
  const NetworkSnapshot snapshot = ReadInside(netns);
  ASSERT_EQ(snapshot.links.size(), 1u);
  const LinkInfo& lo = snapshot.links[0];
  EXPECT_EQ(lo.name, "lo");
  EXPECT_TRUE(HasAddress(snapshot, lo.index, "127.0.0.1/8"));
  EXPECT_TRUE(HasAddress(snapshot, lo.index, "::1/128"));
  // 127.0.0.0/8 and ::1 are local routes in the local table, so none are unicast.
  std::vector<std::string> destinations;
  for (const auto& route : snapshot.routes) destinations.push_back(route.destination.ToString());
  EXPECT_THAT(destinations, IsEmpty());
}

// The watcher hears what happens in its own namespace, and only there.
TEST_F(RtnlReaderKernelTest, WatcherHearsLinkMtuAndAddressChanges) {
  ScopedNetns netns("nl-watch");
  ScopedNetns elsewhere("nl-quiet");
  std::optional<RtnlWatcher> watcher;
  {
    EnterNetns inside(netns);
    auto opened = RtnlWatcher::Open();
    ASSERT_TRUE(opened.ok()) << opened.error().Message();
    watcher.emplace(std::move(opened).value());
  }
  auto drained = watcher->Drain();
  ASSERT_TRUE(drained.ok());
  EXPECT_EQ(*drained, 0) << "nothing has changed yet";

  elsewhere.MustExec("ip link add docker0 type bridge");
  EXPECT_EQ(watcher->Drain().value(), 0) << "another namespace's bridge must not be heard";

  netns.MustExec("ip link add docker0 type bridge && ip addr add 172.17.0.1/16 dev docker0");
  EXPECT_GE(watcher->Drain().value(), 2) << "a new link and its address";
  netns.MustExec("ip link set docker0 mtu 1400");
  EXPECT_GE(watcher->Drain().value(), 1) << "an MTU change";
  EXPECT_EQ(watcher->Drain().value(), 0) << "drained";
}

}  // namespace
}  // namespace dind::netcfg
