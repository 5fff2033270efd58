// SPDX-License-Identifier: Apache-2.0
// WiringExecutor against the kernel: a plan like the probe's attachment wires two namespaces the
// test makes (and deletes, also on failure); `ip` and a ping check what the kernel made of it.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "netcfg/netlink/wiring_executor.h"
#include "tests/support/netns.h"

namespace dind::netcfg {
namespace {

using ::dind::testing::EnterNetns;
using ::dind::testing::ScopedNetns;
using std::chrono::milliseconds;
using ::testing::AllOf;
using ::testing::HasSubstr;

IpAddress Ip(const char* text) {
  return IpAddress::Parse(text).value();
}

class WiringExecutorKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DIND_REQUIRE_NETNS();
    pod_.emplace("wire-pod");
    peer_.emplace("wire-peer");
    pod_->MustExec(
        "ip link add br0 type bridge && ip addr add 10.30.0.1/24 dev br0 && ip link set br0 up");
    peer_fd_ = ScopedFd(::open(peer_->path().c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(peer_fd_.valid());
    AddSocket(NetnsSide::kPod, *pod_, -1);
    AddSocket(NetnsSide::kProbe, *peer_, peer_fd_.get());
  }

  void AddSocket(NetnsSide side, const ScopedNetns& netns, int netns_fd) {
    Result<ScopedFd> socket = [&] {
      EnterNetns inside(netns);
      return OpenRtnlSocket();
    }();
    ASSERT_TRUE(socket.ok()) << socket.error().Message();
    const Status added = executor_.AddNamespace(side, std::move(*socket), netns_fd);
    ASSERT_TRUE(added.ok()) << added.error().Message();
  }

  int BridgeIndex() {
    auto bridge = executor_.FindLink(NetnsSide::kPod, "br0");
    EXPECT_TRUE(bridge.ok() && *bridge);
    return bridge.ok() && *bridge ? (*bridge)->index : 0;
  }

  WiringPlan Attachment() {
    return {
        CreateVethPair{NetnsSide::kPod, "port0", "eth0", NetnsSide::kProbe, 1400},
        SetLinkUp{NetnsSide::kProbe, "lo"},
        SetLinkUp{NetnsSide::kProbe, "eth0"},
        AddAddress{NetnsSide::kProbe, "eth0", Ip("10.30.0.254"), 24},
        AddRoute{NetnsSide::kProbe, Cidr::Parse("0.0.0.0/0").value(), Ip("10.30.0.1"), "eth0"},
        AddRoute{NetnsSide::kProbe, Cidr::Parse("198.51.100.0/24").value(), Ip("10.30.0.1"), ""},
        EnslaveToBridge{NetnsSide::kPod, "port0", "br0", BridgeIndex()},
        SetLinkUp{NetnsSide::kPod, "port0"},
        AwaitOperUp{NetnsSide::kPod, "port0", milliseconds(2000)},
        AwaitOperUp{NetnsSide::kProbe, "eth0", milliseconds(2000)},
    };
  }

  // A UDP datagram sent from the peer namespace to the bridge's address arrives there.
  bool DatagramArrives() {
    sockaddr_in bridge{};
    bridge.sin_family = AF_INET;
    bridge.sin_port = htons(40405);
    std::memcpy(&bridge.sin_addr, Ip("10.30.0.1").bytes().data(), 4);
    ScopedFd receiver = [&] {
      EnterNetns inside(*pod_);
      return ScopedFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    }();
    if (::bind(receiver.get(), reinterpret_cast<const sockaddr*>(&bridge), sizeof(bridge)) != 0) {
      return false;
    }
    ScopedFd sender = [&] {
      EnterNetns inside(*peer_);
      return ScopedFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    }();
    if (::sendto(sender.get(), "wired", 5, 0, reinterpret_cast<const sockaddr*>(&bridge),
                 sizeof(bridge)) != 5) {
      return false;
    }
    pollfd readable{receiver.get(), POLLIN, 0};
    return ::poll(&readable, 1, 2000) == 1;
  }

  std::optional<ScopedNetns> pod_;
  std::optional<ScopedNetns> peer_;
  ScopedFd peer_fd_;
  WiringExecutor executor_{WiringHints{"grant CAP_NET_ADMIN", ""}};
};

TEST_F(WiringExecutorKernelTest, AttachesAPeerNamespaceToABridgeThatPassesTraffic) {
  const Status done = executor_.Execute(Attachment());
  ASSERT_TRUE(done.ok()) << done.error().Message();

  EXPECT_THAT(pod_->MustExec("ip -o link show port0"), HasSubstr("master br0"));
  EXPECT_THAT(pod_->MustExec("ip -o link show port0"), HasSubstr("mtu 1400"));
  EXPECT_THAT(peer_->MustExec("ip -o addr show dev eth0"), HasSubstr("10.30.0.254/24"));
  EXPECT_THAT(peer_->MustExec("ip route show default"), HasSubstr("via 10.30.0.1 dev eth0"));
  EXPECT_THAT(peer_->MustExec("ip route show 198.51.100.0/24"), HasSubstr("via 10.30.0.1"));
  EXPECT_TRUE(DatagramArrives()) << "a datagram from the peer reaches the bridge's address";

  auto up = executor_.IsOperUp(NetnsSide::kProbe, "eth0");
  ASSERT_TRUE(up.ok()) << up.error().Message();
  EXPECT_TRUE(*up);
  auto link = executor_.FindLink(NetnsSide::kProbe, "eth0");
  ASSERT_TRUE(link.ok() && *link);
  EXPECT_EQ((*link)->mtu, 1400u);
  auto addresses = executor_.ReadAddresses(NetnsSide::kProbe);
  ASSERT_TRUE(addresses.ok()) << addresses.error().Message();
  bool found = false;
  for (const AddressInfo& address : *addresses) {
    found |= address.link_index == (*link)->index && address.address == Ip("10.30.0.254");
  }
  EXPECT_TRUE(found);
}

// The probe's IPv6 half: an address usable at once (no DAD) and a default route via the
// bridge's IPv6 address, added, like the IPv4 ones, before the port has a carrier.
TEST_F(WiringExecutorKernelTest, Ipv6AddressWithoutDadAndIpv6DefaultRoute) {
  pod_->MustExec("ip addr add fd00:db8:30::1/64 dev br0 nodad");
  WiringPlan plan = {
      CreateVethPair{NetnsSide::kPod, "port0", "eth0", NetnsSide::kProbe, 1400},
      SetLinkUp{NetnsSide::kProbe, "lo"},
      SetLinkUp{NetnsSide::kProbe, "eth0"},
      AddAddress{NetnsSide::kProbe, "eth0", Ip("10.30.0.254"), 24},
      AddRoute{NetnsSide::kProbe, Cidr::Parse("0.0.0.0/0").value(), Ip("10.30.0.1"), "eth0"},
      AddAddress{NetnsSide::kProbe, "eth0", Ip("fd00:db8:30::fffe"), 64, /*no_dad=*/true},
      AddRoute{NetnsSide::kProbe, Cidr::Parse("::/0").value(), Ip("fd00:db8:30::1"), "eth0"},
      EnslaveToBridge{NetnsSide::kPod, "port0", "br0", BridgeIndex()},
      SetLinkUp{NetnsSide::kPod, "port0"},
      AwaitOperUp{NetnsSide::kPod, "port0", milliseconds(2000)},
      AwaitOperUp{NetnsSide::kProbe, "eth0", milliseconds(2000)},
  };
  const Status done = executor_.Execute(plan);
  ASSERT_TRUE(done.ok()) << done.error().Message();

  const std::string address = peer_->MustExec("ip -o -6 addr show dev eth0 scope global");
  EXPECT_THAT(address, HasSubstr("fd00:db8:30::fffe/64"));
  EXPECT_THAT(address, HasSubstr("nodad"));
  EXPECT_THAT(address, ::testing::Not(HasSubstr("tentative")));
  EXPECT_THAT(peer_->MustExec("ip -6 route show default"),
              HasSubstr("via fd00:db8:30::1 dev eth0"));
  // Usable at once: the bridge's address answers right away, from the reserved address.
  EXPECT_THAT(peer_->MustExec("/bin/busybox ping -6 -c 1 -W 2 -I fd00:db8:30::fffe fd00:db8:30::1"),
              HasSubstr("1 packets received"));

  // Without the flag the kernel runs DAD first: the address starts out tentative.
  ASSERT_TRUE(
      executor_.Execute(AddAddress{NetnsSide::kProbe, "eth0", Ip("fd00:db8:30::fffd"), 64}).ok());
  EXPECT_THAT(peer_->MustExec("ip -o -6 addr show dev eth0 to fd00:db8:30::fffd"),
              HasSubstr("tentative"));
}

TEST_F(WiringExecutorKernelTest, AFailedStepIsNamedAndDeletingIsIdempotent) {
  ASSERT_TRUE(executor_.Execute(Attachment()).ok());
  const Status again =
      executor_.Execute(CreateVethPair{NetnsSide::kPod, "port0", "eth0", NetnsSide::kProbe, 0});
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().Message(),
              HasSubstr("pod: create veth port0 with peer eth0 in the probe namespace"));

  const Status missing = executor_.Execute(SetLinkUp{NetnsSide::kProbe, "nosuch0"});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().Message(),
              HasSubstr("probe: set nosuch0 up: the link does not exist"));

  ASSERT_TRUE(executor_.DeleteLink(NetnsSide::kPod, "port0").ok());
  auto gone = executor_.FindLink(NetnsSide::kProbe, "eth0");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone) << "the peer goes with its veth";
  EXPECT_TRUE(executor_.DeleteLink(NetnsSide::kPod, "port0").ok()) << "absent is fine";
  EXPECT_FALSE(executor_.IsOperUp(NetnsSide::kPod, "port0").ok());
}

// A slow node, made on purpose: a veth whose peer another thread brings up only later. The
// wait is woken by the kernel's link event, measures what it waited, and leaves the socket in
// step for the next libnl request.
TEST_F(WiringExecutorKernelTest, ALinkThatComesUpLateIsAwaitedAndTheWaitMeasured) {
  pod_->MustExec("ip link add late0 type veth peer name late1 && ip link set late0 up");
  ASSERT_THAT(pod_->MustExec("ip -o link show late0"), HasSubstr("LOWERLAYERDOWN"));
  constexpr milliseconds kDelay{400};
  const auto start = std::chrono::steady_clock::now();
  std::thread peer([&] {
    std::this_thread::sleep_for(kDelay);
    pod_->MustExec("ip link set late1 up");
  });
  auto waited = executor_.AwaitOperUp(NetnsSide::kPod, "late0", kLinkUpDeadline);
  const auto took = std::chrono::steady_clock::now() - start;
  peer.join();
  ASSERT_TRUE(waited.ok()) << waited.error().Message();
  std::cout << "late0 awaited: " << waited->count() << " ms (peer up after " << kDelay.count()
            << " ms)\n";
  EXPECT_GE(*waited, kDelay);
  EXPECT_LT(*waited, kDelay + milliseconds(3000)) << "woken by the event, not the deadline";
  EXPECT_LE(*waited, std::chrono::duration_cast<milliseconds>(took));
  ASSERT_EQ(executor_.link_waits().size(), 1u);
  EXPECT_EQ(executor_.link_waits()[0].link, "late0");
  EXPECT_EQ(executor_.link_waits()[0].waited, *waited);

  // Up already: answered by the query, at once.
  auto again = executor_.AwaitOperUp(NetnsSide::kPod, "late0", kLinkUpDeadline);
  ASSERT_TRUE(again.ok()) << again.error().Message();
  EXPECT_LT(*again, milliseconds(1000));
  // The notifications the wait subscribed to are gone from the socket: libnl's next request
  // on it gets its own answer.
  auto link = executor_.FindLink(NetnsSide::kPod, "late1");
  ASSERT_TRUE(link.ok()) << link.error().Message();
  ASSERT_TRUE(*link);
  EXPECT_TRUE((*link)->up);
}

TEST_F(WiringExecutorKernelTest, ALinkThatNeverComesUpFailsAtTheDeadlineSayingHowLongItWaited) {
  pod_->MustExec("ip link add late0 type veth peer name late1 && ip link set late0 up");
  auto waited = executor_.Execute(AwaitOperUp{NetnsSide::kPod, "late0", milliseconds(300)});
  ASSERT_FALSE(waited.ok());
  EXPECT_THAT(waited.error().Message(),
              AllOf(HasSubstr("pod: late0 is still not up "), HasSubstr(" ms after it was set up"),
                    HasSubstr("deadline of 300 ms"),
                    HasSubstr("last state reported: lowerlayerdown (flags up, no carrier)")));
  EXPECT_THAT(waited.error().hint, HasSubstr("dmesg"));
  EXPECT_TRUE(executor_.link_waits().empty());

  // Deleted while it is awaited: said at once, not at the deadline.
  std::thread remover([&] {
    std::this_thread::sleep_for(milliseconds(200));
    pod_->MustExec("ip link del late0");
  });
  const auto start = std::chrono::steady_clock::now();
  auto gone = executor_.AwaitOperUp(NetnsSide::kPod, "late0", kLinkUpDeadline);
  const auto took = std::chrono::steady_clock::now() - start;
  remover.join();
  ASSERT_FALSE(gone.ok());
  EXPECT_THAT(gone.error().Message(), HasSubstr("pod: link late0 is gone"));
  EXPECT_LT(took, std::chrono::seconds(5));

  auto missing = executor_.AwaitOperUp(NetnsSide::kPod, "nosuch0", kLinkUpDeadline);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().Message(), HasSubstr("pod: link nosuch0 is gone"));
}

TEST_F(WiringExecutorKernelTest, ASideWithoutASocketIsAnErrorNotACrash) {
  const Status status = executor_.Execute(SetLinkUp{NetnsSide::kOutside, "lo"});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().Message(), HasSubstr("no rtnetlink socket for the outside namespace"));
}

}  // namespace
}  // namespace dind::netcfg
