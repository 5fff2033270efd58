// SPDX-License-Identifier: Apache-2.0
// The TCP and DNS probes against servers on loopback, and the path-MTU probe against a
// simulated path: the probes' own logic, without root and without the probe namespace.
#include "daemon/egress/socket_probes.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <optional>

#include "daemon/egress/mtu_probe.h"

namespace dind::egress {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr const char* kFrom = "from the docker bridge (probe 172.17.255.254)";

ScopedFd Socket(int type, int domain = AF_INET) {
  return ScopedFd(::socket(domain, type | SOCK_CLOEXEC, 0));
}

// Runs `probe` to its report.
std::optional<ProbeReport> RunProbe(asio::io_context& io, const std::shared_ptr<Probe>& probe) {
  std::optional<ProbeReport> report;
  bool inside_start = true;
  probe->Start([&](ProbeReport r) {
    EXPECT_FALSE(inside_start) << "done must not run inside Start";
    report = std::move(r);
    io.stop();
  });
  inside_start = false;
  io.run_for(std::chrono::seconds(10));
  return report;
}

TEST(TcpConnectProbeTest, PassesWhenTheHandshakeCompletes) {
  asio::io_context io;
  asio::ip::tcp::acceptor listener(io, {asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = listener.local_endpoint().port();
  auto probe = std::make_shared<TcpConnectProbe>(io, Socket(SOCK_STREAM | SOCK_NONBLOCK),
                                                 "127.0.0.1", port, kFrom, milliseconds(2000));
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kPassed);
  EXPECT_EQ(report->detail, "TCP connect to 127.0.0.1:" + std::to_string(port) +
                                " from the docker bridge (probe 172.17.255.254) succeeded");
  EXPECT_EQ(report->family, Family::kIPv4);
}

TEST(TcpConnectProbeTest, OverIpv6) {
  asio::io_context io;
  asio::ip::tcp::acceptor listener(io, {asio::ip::make_address("::1"), 0});
  const std::uint16_t port = listener.local_endpoint().port();
  auto probe = std::make_shared<TcpConnectProbe>(
      io, Socket(SOCK_STREAM | SOCK_NONBLOCK, AF_INET6), "::1", port,
      "from the docker bridge (probe fd00:db8:1::ffff)", milliseconds(2000));
  EXPECT_EQ(probe->Description(), "TCP connect to [::1]:" + std::to_string(port) +
                                      " from the docker bridge (probe fd00:db8:1::ffff)");
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kPassed) << report->detail;
  EXPECT_EQ(report->family, Family::kIPv6);

  // Refused over IPv6 says so as over IPv4, and the report keeps its family.
  asio::io_context io2;
  std::uint16_t closed_port = 0;
  {
    asio::ip::tcp::acceptor closed(io2, {asio::ip::make_address("::1"), 0});
    closed_port = closed.local_endpoint().port();
  }
  auto refused =
      std::make_shared<TcpConnectProbe>(io2, Socket(SOCK_STREAM | SOCK_NONBLOCK, AF_INET6), "::1",
                                        closed_port, kFrom, milliseconds(2000));
  const auto failed = RunProbe(io2, refused);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->outcome, Outcome::kFailed);
  EXPECT_THAT(failed->detail, HasSubstr("failed: Connection refused"));
  EXPECT_EQ(failed->family, Family::kIPv6);
}

TEST(TcpConnectProbeTest, RefusedSaysNothingListens) {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    asio::ip::tcp::acceptor closed(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = closed.local_endpoint().port();
  }
  auto probe = std::make_shared<TcpConnectProbe>(io, Socket(SOCK_STREAM | SOCK_NONBLOCK),
                                                 "127.0.0.1", port, kFrom, milliseconds(2000));
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kFailed);
  EXPECT_THAT(report->detail, HasSubstr("TCP connect to 127.0.0.1:" + std::to_string(port) +
                                        " from the docker bridge (probe 172.17.255.254) failed: "
                                        "Connection refused"));
  EXPECT_THAT(report->detail, HasSubstr("nothing listens on that port"));
}

TEST(TcpConnectProbeTest, HostNamesAreResolvedFirst) {
  asio::io_context io;
  asio::ip::tcp::acceptor listener(io, {asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = listener.local_endpoint().port();
  auto probe = std::make_shared<TcpConnectProbe>(io, Socket(SOCK_STREAM | SOCK_NONBLOCK),
                                                 "localhost", port, kFrom, milliseconds(2000));
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kPassed) << report->detail;
}

TEST(TcpConnectProbeTest, UnresolvableNameIsAFailureNamingIt) {
  asio::io_context io;
  auto probe =
      std::make_shared<TcpConnectProbe>(io, Socket(SOCK_STREAM | SOCK_NONBLOCK),
                                        "no-such-host.invalid", 443, kFrom, milliseconds(2000));
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kFailed);
  EXPECT_THAT(report->detail,
              HasSubstr("resolving no-such-host.invalid in the daemon's namespace"));
}

TEST(TcpConnectProbeTest, CancelledProbeNeverReports) {
  asio::io_context io;
  asio::ip::tcp::acceptor listener(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto probe = std::make_shared<TcpConnectProbe>(io, Socket(SOCK_STREAM | SOCK_NONBLOCK),
                                                 "127.0.0.1", listener.local_endpoint().port(),
                                                 kFrom, milliseconds(2000));
  bool reported = false;
  probe->Start([&](ProbeReport) { reported = true; });
  probe->Cancel();
  probe->Cancel();
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(reported);
}

// A nameserver on loopback: answers each query with NXDOMAIN, first sending `decoys` replies
// with a wrong ID that the probe must ignore.
class LoopbackNameserver {
 public:
  LoopbackNameserver(asio::io_context& io, int decoys, const char* address = "127.0.0.1")
      : socket_(io, {asio::ip::make_address(address), 0}), decoys_(decoys) {
    Serve();
  }
  asio::ip::udp::endpoint endpoint() const { return socket_.local_endpoint(); }
  int queries = 0;

 private:
  void Serve() {
    socket_.async_receive_from(asio::buffer(buffer_), peer_,
                               [this](const boost::system::error_code& error, std::size_t n) {
                                 if (error) return;
                                 ++queries;
                                 std::vector<std::uint8_t> reply(buffer_.begin(),
                                                                 buffer_.begin() + n);
                                 reply[2] |= 0x80;
                                 reply[3] = 0x83;  // RA, NXDOMAIN
                                 for (int i = 0; i < decoys_; ++i) {
                                   std::vector<std::uint8_t> decoy = reply;
                                   decoy[1] ^= 0xff;
                                   socket_.send_to(asio::buffer(decoy), peer_);
                                 }
                                 socket_.send_to(asio::buffer(reply), peer_);
                                 Serve();
                               });
  }

  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint peer_;
  std::array<std::uint8_t, 512> buffer_{};
  int decoys_;
};

TEST(DnsProbeTest, NxDomainProvesTheNameserverWasReached) {
  asio::io_context io;
  LoopbackNameserver nameserver(io, 2);
  auto probe =
      std::make_shared<DnsProbe>(io, Socket(SOCK_DGRAM | SOCK_NONBLOCK), nameserver.endpoint(),
                                 DnsQuestion{"kubernetes.default.svc.cluster.local.", kDnsTypeA},
                                 0x4242, kFrom, milliseconds(2000));
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kPassed) << report->detail;
  EXPECT_EQ(report->detail,
            "DNS query to 127.0.0.1:" + std::to_string(nameserver.endpoint().port()) +
                " from the docker bridge (probe 172.17.255.254) answered NXDOMAIN for "
                "kubernetes.default.svc.cluster.local.");
  EXPECT_EQ(nameserver.queries, 1);
}

TEST(DnsProbeTest, OverIpv6) {
  asio::io_context io;
  LoopbackNameserver nameserver(io, 1, "::1");
  auto probe = std::make_shared<DnsProbe>(
      io, Socket(SOCK_DGRAM | SOCK_NONBLOCK, AF_INET6), nameserver.endpoint(),
      DnsQuestion{"kubernetes.default.svc.cluster.local.", kDnsTypeA}, 0x4242,
      "from the docker bridge (probe fd00:db8:1::ffff)", milliseconds(2000));
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kPassed) << report->detail;
  EXPECT_EQ(report->family, Family::kIPv6);
  EXPECT_THAT(report->detail,
              HasSubstr("DNS query to [::1]:" + std::to_string(nameserver.endpoint().port()) +
                        " from the docker bridge (probe fd00:db8:1::ffff) "
                        "answered NXDOMAIN"));
}

TEST(DnsProbeTest, PortUnreachableIsAFailure) {
  asio::io_context io;
  asio::ip::udp::endpoint closed;
  {
    asio::ip::udp::socket gone(io, {asio::ip::make_address("127.0.0.1"), 0});
    closed = gone.local_endpoint();
  }
  auto probe =
      std::make_shared<DnsProbe>(io, Socket(SOCK_DGRAM | SOCK_NONBLOCK), closed,
                                 DnsQuestion{".", kDnsTypeNs}, 1, kFrom, milliseconds(2000));
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kFailed);
  EXPECT_THAT(report->detail, HasSubstr("failed: Connection refused"));
}

TEST(DnsProbeTest, BadQuestionIsAFailureNotACrash) {
  asio::io_context io;
  auto probe =
      std::make_shared<DnsProbe>(io, Socket(SOCK_DGRAM | SOCK_NONBLOCK),
                                 asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 53),
                                 DnsQuestion{"a..b", kDnsTypeA}, 1, kFrom, milliseconds(2000));
  const auto report = RunProbe(io, probe);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kFailed);
  EXPECT_THAT(report->detail, HasSubstr("is not a DNS name"));
}

// A path with an MTU: larger echoes are lost, or answered by "fragmentation needed".
class SimulatedEchoSender final : public EchoSender {
 public:
  SimulatedEchoSender(asio::io_context& io, Mtu mtu, bool reports, bool answers = true)
      : io_(io), mtu_(mtu), reports_(reports), answers_(answers) {}
  void Send(Mtu size, std::function<void(EchoResult)> done) override {
    sizes.push_back(size);
    EchoResult result{EchoResult::Kind::kLost, 0};
    if (answers_ && size <= mtu_) result = {EchoResult::Kind::kReplied, 0};
    if (answers_ && size > mtu_ && reports_) {
      result = {EchoResult::Kind::kFragmentationNeeded, mtu_};
    }
    asio::post(io_, [this, done, result] {
      if (!cancelled) done(result);
    });
  }
  void Cancel() override { cancelled = true; }
  std::vector<Mtu> sizes;
  bool cancelled = false;

 private:
  asio::io_context& io_;
  Mtu mtu_;
  bool reports_;
  bool answers_;
};

std::optional<ProbeReport> RunMtuProbe(Mtu path_mtu, bool reports, bool answers = true,
                                       const char* target = "10.0.0.5", Mtu floor = 576) {
  asio::io_context io;
  auto sender = std::make_shared<SimulatedEchoSender>(io, path_mtu, reports, answers);
  auto probe = std::make_shared<PathMtuProbe>(io, sender, MtuSearchConfig{1500, floor, 2}, target,
                                              kFrom, milliseconds(500));
  EXPECT_GE(probe->Timeout(), milliseconds(500) * 20);
  auto report = RunProbe(io, probe);
  EXPECT_TRUE(sender->cancelled) << "the sender's socket is released when the probe ends";
  return report;
}

TEST(PathMtuProbeTest, FullSizePasses) {
  const auto report = RunMtuProbe(1500, false);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kPassed);
  EXPECT_EQ(report->path_mtu, 1500u);
}

TEST(PathMtuProbeTest, BlackHoleFailsWithTheMeasuredPathMtu) {
  const auto report = RunMtuProbe(1400, false);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kFailed);
  EXPECT_EQ(report->path_mtu, 1400u);
  EXPECT_THAT(report->detail, HasSubstr("ICMP echo to 10.0.0.5 from the docker bridge (probe "
                                        "172.17.255.254): MTU black hole"));
}

TEST(PathMtuProbeTest, Ipv6BlackHoleSpeaksIcmpv6AndSaysItsFamily) {
  const auto report = RunMtuProbe(1400, false, true, "2001:db8::5", kIpv6MtuFloor);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kFailed);
  EXPECT_EQ(report->path_mtu, 1400u);
  EXPECT_EQ(report->family, Family::kIPv6);
  EXPECT_THAT(report->detail, HasSubstr("ICMPv6 echo to 2001:db8::5 from the docker bridge"));
  EXPECT_THAT(report->detail, HasSubstr("without an ICMPv6 Packet Too Big"));
  EXPECT_EQ(RunMtuProbe(1500, false)->family, Family::kIPv4);
}

TEST(PathMtuProbeTest, WorkingDiscoveryPassesWithTheLowerMtu) {
  const auto report = RunMtuProbe(1400, true);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kPassed);
  EXPECT_EQ(report->path_mtu, 1400u);
}

TEST(PathMtuProbeTest, SilentTargetIsInconclusive) {
  const auto report = RunMtuProbe(1500, false, false);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, Outcome::kInconclusive);
  EXPECT_EQ(report->path_mtu, std::nullopt);
}

TEST(PathMtuProbeTest, CancelStopsTheSearch) {
  asio::io_context io;
  auto sender = std::make_shared<SimulatedEchoSender>(io, 1400, false);
  auto probe = std::make_shared<PathMtuProbe>(io, sender, MtuSearchConfig{1500, 576, 2}, "10.0.0.5",
                                              kFrom, milliseconds(500));
  bool reported = false;
  probe->Start([&](ProbeReport) { reported = true; });
  io.run_one();  // the first echo goes out
  probe->Cancel();
  io.run_for(milliseconds(100));
  EXPECT_FALSE(reported);
  EXPECT_TRUE(sender->cancelled);
  EXPECT_LE(sender->sizes.size(), 2u);
}

}  // namespace
}  // namespace dind::egress
