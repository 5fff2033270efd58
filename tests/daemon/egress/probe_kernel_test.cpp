// SPDX-License-Identifier: Apache-2.0
// The egress probe against the real kernel, in namespaces this test builds:
//
//   [pod: docker0 172.17.0.1/16, masquerade out eth0]
//        eth0 10.231.1.2 ──(1500)── to-pod 10.231.1.1 [router] to-server 10.231.2.1
//                                                  ──(1500, or 1400 for the PMTU cases)──
//                                                          eth0 10.231.2.2 [server]
//
// The probe namespace attaches to docker0 in "pod"; the server answers TCP on 8443, DNS on 53
// and ping. The machine's own namespace is never touched: the attachment is given the pod
// namespace explicitly.
//
// The IPv6 tests (Ipv6ProbeKernelTest) give the same namespaces IPv6 too, with documentation
// and ULA prefixes, as dockerd with "ipv6": true and dind-netcfg's NAT66 would:
//
//   [pod: docker0 fd00:db8:1::1/64, NAT66 out eth0]
//        eth0 2001:db8:231:1::2 ── to-pod 2001:db8:231:1::1 [router] to-server 2001:db8:231:2::1
//                                                       ── eth0 2001:db8:231:2::2 [server]
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "daemon/egress/attach_kernel.h"
#include "daemon/egress/netns_thread.h"
#include "daemon/egress/probe_attachment.h"
#include "daemon/egress/probe_factory.h"
#include "daemon/egress/prober.h"
#include "tests/support/netns.h"

namespace dind::egress {
namespace {

namespace asio = boost::asio;
using ::dind::testing::MustRun;
using ::dind::testing::RunShell;
using ::dind::testing::ScopedNetns;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr const char* kServer = "10.231.2.2";
constexpr const char* kServer6 = "2001:db8:231:2::2";
constexpr const char* kProbe6 = "fd00:db8:1:0:ffff:ffff:ffff:ffff";
constexpr std::uint16_t kTcpPort = 8443;
constexpr std::uint16_t kDnsPort = 53;

// A socket of the server namespace bound to kServer:port.
ScopedFd ServerSocket(int netns_fd, int type, std::uint16_t port) {
  auto fd = OpenSocketIn(netns_fd, AF_INET, type, 0);
  EXPECT_TRUE(fd.ok()) << fd.error().Message();
  if (!fd.ok()) return ScopedFd();
  const int on = 1;
  ::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, kServer, &address.sin_addr);
  EXPECT_EQ(::bind(fd->get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  return std::move(*fd);
}

// The same for kServer6.
ScopedFd ServerSocket6(int netns_fd, int type, std::uint16_t port) {
  auto fd = OpenSocketIn(netns_fd, AF_INET6, type, 0);
  EXPECT_TRUE(fd.ok()) << fd.error().Message();
  if (!fd.ok()) return ScopedFd();
  const int on = 1;
  ::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(port);
  ::inet_pton(AF_INET6, kServer6, &address.sin6_addr);
  EXPECT_EQ(::bind(fd->get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  return std::move(*fd);
}

// Answers every DNS query with NXDOMAIN, on the test's io_context.
class Nameserver {
 public:
  Nameserver(asio::io_context& io, ScopedFd fd, asio::ip::udp protocol = asio::ip::udp::v4())
      : socket_(io) {
    socket_.assign(protocol, fd.release());
    Serve();
  }
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
                                 reply[3] = 0x83;
                                 boost::system::error_code ignored;
                                 socket_.send_to(asio::buffer(reply), peer_, 0, ignored);
                                 Serve();
                               });
  }
  asio::ip::udp::socket socket_;
  asio::ip::udp::endpoint peer_;
  std::array<std::uint8_t, 512> buffer_{};
};

// Ensure(), repeated while the new port settles (the kernel brings a veth's carrier up
// asynchronously), as the Prober does.
AttachStatus EnsureSettled(Attachment& attachment) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  AttachStatus status = attachment.Ensure();
  while (status.state == AttachStatus::State::kSettling &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
    status = attachment.Ensure();
  }
  return status;
}

class ProbeKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DIND_REQUIRE_NETNS();
    host_links_before_ = MustRun("ip -o link show | awk -F': ' '{print $2}' | sort");
    pod_ = std::make_unique<ScopedNetns>("dnc-probe-pod");
    router_ = std::make_unique<ScopedNetns>("dnc-probe-router");
    server_ = std::make_unique<ScopedNetns>("dnc-probe-server");

    pod_->MustExec(
        "ip link add docker0 type bridge && ip addr add 172.17.0.1/16 dev docker0 && "
        "ip link set docker0 up");
    MustRun("ip -n " + pod_->name() + " link add eth0 type veth peer name to-pod netns " +
            router_->name());
    MustRun("ip -n " + router_->name() + " link add to-server type veth peer name eth0 netns " +
            server_->name());
    pod_->MustExec(
        "ip addr add 10.231.1.2/24 dev eth0 && ip link set eth0 up && "
        "ip route add default via 10.231.1.1 && sysctl -qw net.ipv4.ip_forward=1");
    router_->MustExec(
        "ip addr add 10.231.1.1/24 dev to-pod && ip link set to-pod up && "
        "ip addr add 10.231.2.1/24 dev to-server && ip link set to-server up && "
        "sysctl -qw net.ipv4.ip_forward=1");
    server_->MustExec(
        "ip addr add 10.231.2.2/24 dev eth0 && ip link set eth0 up && "
        "ip route add default via 10.231.2.1");
    // What dockerd installs for the bridge network: nested containers leave masqueraded.
    pod_->MustExec(
        "nft add table ip nat && "
        "nft add chain ip nat post '{ type nat hook postrouting priority 100; }' && "
        "nft add rule ip nat post ip saddr 172.17.0.0/16 oifname eth0 masquerade");

    auto pod_fd = OpenNetns(pod_->path());
    ASSERT_TRUE(pod_fd.ok()) << pod_fd.error().Message();
    pod_fd_ = std::move(*pod_fd);
    auto server_fd = OpenNetns(server_->path());
    ASSERT_TRUE(server_fd.ok()) << server_fd.error().Message();
    server_fd_ = std::move(*server_fd);
  }

  void TearDown() override {
    if (!::dind::testing::CanCreateNamespaces()) return;
    // The machine's own namespace is as it was: no probe port, no new links.
    EXPECT_EQ(MustRun("ip -o link show | awk -F': ' '{print $2}' | sort"), host_links_before_);
  }

  std::unique_ptr<ProbeAttachment> MakeAttachment() {
    return std::make_unique<ProbeAttachment>(std::make_unique<NetlinkAttachKernel>(pod_fd_.get()),
                                             "docker0");
  }

  void StartTcpServer() {
    listener_ = ServerSocket(server_fd_.get(), SOCK_STREAM | SOCK_NONBLOCK, kTcpPort);
    ASSERT_EQ(::listen(listener_.get(), 16), 0);
  }
  void StartNameserver() {
    nameserver_ = std::make_unique<Nameserver>(
        io_, ServerSocket(server_fd_.get(), SOCK_DGRAM | SOCK_NONBLOCK, kDnsPort));
  }

  // Runs one round of `targets` from `attachment` and returns its status.
  ProberStatus RunRound(Attachment& attachment, const std::vector<ProbeTarget>& targets,
                        ProbeSettings settings = {}) {
    NamespaceProbeFactory factory(io_, settings);
    std::optional<ProberStatus> round;
    ProberConfig config;
    config.interval = std::chrono::hours(1);
    Prober prober(io_, config, targets, attachment, factory, [&](const ProberStatus& status) {
      round = status;
      io_.stop();
    });
    prober.Start();
    io_.restart();
    io_.run_for(std::chrono::seconds(60));
    prober.Stop();
    EXPECT_TRUE(round.has_value()) << "no round finished within 60 s";
    return round.value_or(ProberStatus{});
  }

  // The text of `command` run inside the probe namespace of `vantage`.
  std::string InProbeNamespace(const Vantage& vantage, const std::string& command) {
    return MustRun("nsenter --net=/proc/" + std::to_string(::getpid()) + "/fd/" +
                   std::to_string(vantage.netns->get()) + " " + command);
  }

  std::string PodLinks() {
    return pod_->MustExec("ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort");
  }

  // Router link to the server at `mtu` on both ends; the router's ICMP "fragmentation needed"
  // dropped when `black_hole`, counted either way.
  void NarrowPath(Mtu mtu, bool black_hole) {
    router_->MustExec("ip link set to-server mtu " + std::to_string(mtu));
    server_->MustExec("ip link set eth0 mtu " + std::to_string(mtu));
    router_->MustExec(
        "nft add table inet pmtu && "
        "nft add chain inet pmtu out '{ type filter hook output priority 0; }' && "
        "nft add rule inet pmtu out icmp type destination-unreachable icmp code frag-needed "
        "counter " +
        std::string(black_hole ? "drop" : "accept"));
  }
  int FragNeededSentByRouter() {
    const std::string ruleset = router_->MustExec("nft list chain inet pmtu out");
    const auto at = ruleset.find("packets ");
    if (at == std::string::npos) return -1;
    return std::stoi(ruleset.substr(at + 8));
  }

  // IPv6 on every link of the test, docker0 included, and NAT66 in the pod (see the top).
  // Addresses without DAD, so they are usable at once.
  void AddIpv6() {
    pod_->MustExec(
        "ip addr add fd00:db8:1::1/64 dev docker0 nodad && "
        "ip addr add 2001:db8:231:1::2/64 dev eth0 nodad && "
        "ip -6 route add default via 2001:db8:231:1::1 && "
        "sysctl -qw net.ipv6.conf.all.forwarding=1");
    router_->MustExec(
        "ip addr add 2001:db8:231:1::1/64 dev to-pod nodad && "
        "ip addr add 2001:db8:231:2::1/64 dev to-server nodad && "
        "sysctl -qw net.ipv6.conf.all.forwarding=1");
    server_->MustExec(
        "ip addr add 2001:db8:231:2::2/64 dev eth0 nodad && "
        "ip -6 route add default via 2001:db8:231:2::1");
    pod_->MustExec(
        "nft add table ip6 nat && "
        "nft add chain ip6 nat post '{ type nat hook postrouting priority 100; }' && "
        "nft add rule ip6 nat post ip6 saddr fd00:db8:1::/64 oifname eth0 masquerade");
    // The links' own link-local addresses run DAD for about a second; until then neighbour
    // discovery between pod, router and server stalls packets for seconds. A real pod's
    // network has long settled; only the probe's new port is fresh, as it is here.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string tentative;
      for (const auto* netns : {pod_.get(), router_.get(), server_.get()}) {
        tentative += netns->MustExec("ip -6 addr show tentative");
      }
      if (tentative.empty()) return;
      std::this_thread::sleep_for(milliseconds(50));
    }
    ADD_FAILURE() << "IPv6 addresses still tentative after 5 s";
  }
  void StartTcpServer6() {
    listener6_ = ServerSocket6(server_fd_.get(), SOCK_STREAM | SOCK_NONBLOCK, kTcpPort);
    ASSERT_EQ(::listen(listener6_.get(), 16), 0);
  }
  void StartNameserver6() {
    nameserver6_ = std::make_unique<Nameserver>(
        io_, ServerSocket6(server_fd_.get(), SOCK_DGRAM | SOCK_NONBLOCK, kDnsPort),
        asio::ip::udp::v6());
  }
  // The IPv6 counterpart of NarrowPath: the router's link to the server at `mtu`, and its
  // ICMPv6 Packet Too Big dropped inside the router namespace when `black_hole`, counted either
  // way.
  void NarrowPath6(Mtu mtu, bool black_hole) {
    router_->MustExec("ip link set to-server mtu " + std::to_string(mtu));
    server_->MustExec("ip link set eth0 mtu " + std::to_string(mtu));
    router_->MustExec(
        "nft add table ip6 pmtu6 && "
        "nft add chain ip6 pmtu6 out '{ type filter hook output priority 0; }' && "
        "nft add rule ip6 pmtu6 out icmpv6 type packet-too-big counter " +
        std::string(black_hole ? "drop" : "accept"));
  }
  int PacketTooBigSentByRouter() {
    const std::string ruleset = router_->MustExec("nft list chain ip6 pmtu6 out");
    const auto at = ruleset.find("packets ");
    if (at == std::string::npos) return -1;
    return std::stoi(ruleset.substr(at + 8));
  }

  asio::io_context io_;
  std::unique_ptr<ScopedNetns> pod_, router_, server_;
  ScopedFd pod_fd_, server_fd_, listener_, listener6_;
  std::unique_ptr<Nameserver> nameserver6_;
  std::unique_ptr<Nameserver> nameserver_;
  std::string host_links_before_;
};

const ProbeTarget kTcpTarget{ProbeKind::kTcpConnect, kServer, kTcpPort, "test"};
const ProbeTarget kDnsTarget{ProbeKind::kDnsUdp, kServer, kDnsPort, "test"};
const ProbeTarget kMtuTarget{ProbeKind::kPathMtu, kServer, 0, "test"};

TEST_F(ProbeKernelTest, AttachesToTheBridgeWhereNestedContainersStand) {
  auto attachment = MakeAttachment();
  const AttachStatus status = EnsureSettled(*attachment);
  ASSERT_EQ(status.state, AttachStatus::State::kAttached) << status.reason;
  ASSERT_TRUE(status.vantage);
  EXPECT_EQ(status.vantage->address.ToString(), "172.17.255.254");
  EXPECT_EQ(status.vantage->suggested_fixed_cidr.ToString(), "172.17.0.0/17");

  const std::string port = pod_->MustExec("ip -o link show dnc-probe0");
  EXPECT_THAT(port, HasSubstr("master docker0"));
  EXPECT_THAT(port, HasSubstr("mtu 1500"));
  EXPECT_THAT(port, HasSubstr("state UP"));

  EXPECT_THAT(InProbeNamespace(*status.vantage, "ip -o -4 addr show dev eth0"),
              HasSubstr("inet 172.17.255.254/16"));
  EXPECT_THAT(InProbeNamespace(*status.vantage, "ip -4 route show default"),
              HasSubstr("default via 172.17.0.1 dev eth0"));
  EXPECT_THAT(InProbeNamespace(*status.vantage, "ip -o link show lo"), HasSubstr("UP"));
  // Its gateway answers over the bridge, as it does for a container.
  InProbeNamespace(*status.vantage, "/bin/busybox ping -c 1 -W 2 172.17.0.1");

  // Ensure again: nothing to do, the same attachment.
  const AttachStatus again = EnsureSettled(*attachment);
  ASSERT_EQ(again.state, AttachStatus::State::kAttached);
  EXPECT_EQ(again.vantage->netns, status.vantage->netns);
}

TEST_F(ProbeKernelTest, FollowsTheBridgeMtu) {
  pod_->MustExec("ip link set docker0 mtu 1400");
  auto attachment = MakeAttachment();
  const AttachStatus status = EnsureSettled(*attachment);
  ASSERT_EQ(status.state, AttachStatus::State::kAttached) << status.reason;
  EXPECT_THAT(pod_->MustExec("ip -o link show dnc-probe0"), HasSubstr("mtu 1400"));
  EXPECT_THAT(InProbeNamespace(*status.vantage, "ip -o link show eth0"), HasSubstr("mtu 1400"));
  EXPECT_THAT(pod_->MustExec("ip -o link show docker0"), HasSubstr("mtu 1400"));
}

TEST_F(ProbeKernelTest, TcpAndDnsPassThroughThePodsMasquerade) {
  StartTcpServer();
  StartNameserver();
  auto attachment = MakeAttachment();
  const ProberStatus round = RunRound(*attachment, {kTcpTarget, kDnsTarget});
  ASSERT_EQ(round.attachment, AttachStatus::State::kAttached) << round.attachment_reason;
  ASSERT_EQ(round.results.size(), 2u);
  EXPECT_EQ(round.results[0].outcome, Outcome::kPassed) << round.results[0].detail;
  EXPECT_EQ(round.results[0].detail,
            "TCP connect to 10.231.2.2:8443 from the docker bridge (probe 172.17.255.254) "
            "succeeded");
  EXPECT_EQ(round.results[1].outcome, Outcome::kPassed) << round.results[1].detail;
  EXPECT_THAT(round.results[1].detail, HasSubstr("answered NXDOMAIN"));
  EXPECT_EQ(nameserver_->queries, 1);
  EXPECT_EQ(EgressNotReadyReason(round), std::nullopt);

  // The connection arrived from the pod's uplink address: it took the containers' NAT path.
  sockaddr_in peer{};
  socklen_t length = sizeof(peer);
  ScopedFd accepted(::accept(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &length));
  ASSERT_TRUE(accepted.valid()) << std::strerror(errno);
  char from[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &peer.sin_addr, from, sizeof(from));
  EXPECT_STREQ(from, "10.231.1.2");
}

TEST_F(ProbeKernelTest, ServerDownFailsWithAClearMessage) {
  auto attachment = MakeAttachment();
  // Nothing listens: the server's kernel refuses both.
  const ProberStatus refused = RunRound(*attachment, {kTcpTarget, kDnsTarget});
  ASSERT_EQ(refused.results.size(), 2u);
  EXPECT_EQ(refused.results[0].outcome, Outcome::kFailed);
  EXPECT_THAT(refused.results[0].detail,
              HasSubstr("TCP connect to 10.231.2.2:8443 from the docker bridge (probe "
                        "172.17.255.254) failed: Connection refused"));
  EXPECT_EQ(refused.results[1].outcome, Outcome::kFailed);
  EXPECT_THAT(refused.results[1].detail,
              HasSubstr("DNS query to 10.231.2.2:53 from the docker bridge (probe "
                        "172.17.255.254) failed: Connection refused"));
  EXPECT_THAT(EgressNotReadyReason(refused),
              ::testing::Optional(HasSubstr("(and 1 more failing)")));

  // The server silently drops: the probe times out and says after how long.
  server_->MustExec(
      "nft add table inet srvfilter && "
      "nft add chain inet srvfilter in '{ type filter hook input priority 0; }' && "
      "nft add rule inet srvfilter in tcp dport 8443 drop");
  ProbeSettings quick;
  quick.timeout = milliseconds(500);
  const ProberStatus silent = RunRound(*attachment, {kTcpTarget}, quick);
  ASSERT_EQ(silent.results.size(), 1u);
  EXPECT_EQ(silent.results[0].outcome, Outcome::kFailed);
  EXPECT_THAT(silent.results[0].detail,
              HasSubstr("TCP connect to 10.231.2.2:8443 from the docker bridge (probe "
                        "172.17.255.254) timed out after 500ms; no answer to the handshake"));
}

TEST_F(ProbeKernelTest, NoBridgeYetThenBridgeDeletedAndMadeAgain) {
  pod_->MustExec("ip link del docker0");
  StartTcpServer();
  auto attachment = MakeAttachment();

  const ProberStatus early = RunRound(*attachment, {kTcpTarget});
  EXPECT_EQ(early.attachment, AttachStatus::State::kNoBridge);
  EXPECT_EQ(EgressNotReadyReason(early), "no docker bridge docker0 yet: dockerd still starting?");

  pod_->MustExec(
      "ip link add docker0 type bridge && ip addr add 172.17.0.1/16 dev docker0 && "
      "ip link set docker0 up");
  const ProberStatus first = RunRound(*attachment, {kTcpTarget});
  ASSERT_EQ(first.attachment, AttachStatus::State::kAttached) << first.attachment_reason;
  EXPECT_EQ(first.results.at(0).outcome, Outcome::kPassed) << first.results.at(0).detail;
  const int first_index = first.vantage->bridge.index;

  // dockerd restarted: the bridge is deleted (its ports are released) and made again.
  pod_->MustExec("ip link del docker0");
  const AttachStatus gone = EnsureSettled(*attachment);
  EXPECT_EQ(gone.state, AttachStatus::State::kNoBridge);
  EXPECT_EQ(pod_->Exec("ip link show dnc-probe0").exit_code, 1) << "detached: the port is gone";

  pod_->MustExec(
      "ip link add docker0 type bridge && ip addr add 172.17.0.1/16 dev docker0 && "
      "ip link set docker0 up");
  const ProberStatus again = RunRound(*attachment, {kTcpTarget});
  ASSERT_EQ(again.attachment, AttachStatus::State::kAttached) << again.attachment_reason;
  EXPECT_NE(again.vantage->bridge.index, first_index);
  EXPECT_EQ(again.results.at(0).outcome, Outcome::kPassed) << again.results.at(0).detail;
  EXPECT_THAT(pod_->MustExec("ip -o link show dnc-probe0"), HasSubstr("master docker0"));
}

TEST_F(ProbeKernelTest, BridgeRemadeBetweenTwoLooksIsReattached) {
  StartTcpServer();
  auto attachment = MakeAttachment();
  ASSERT_EQ(EnsureSettled(*attachment).state, AttachStatus::State::kAttached);
  pod_->MustExec(
      "ip link del docker0 && ip link add docker0 type bridge && "
      "ip addr add 172.17.0.1/16 dev docker0 && ip link set docker0 up");
  const ProberStatus round = RunRound(*attachment, {kTcpTarget});
  ASSERT_EQ(round.attachment, AttachStatus::State::kAttached) << round.attachment_reason;
  EXPECT_EQ(round.results.at(0).outcome, Outcome::kPassed) << round.results.at(0).detail;
  EXPECT_THAT(pod_->MustExec("ip -o link show dnc-probe0"), HasSubstr("master docker0"));
}

// The namespace inode of `fd`, to look for references to it after it should be gone.
ino_t InodeOf(int fd) {
  struct stat status {};
  EXPECT_EQ(::fstat(fd, &status), 0);
  return status.st_ino;
}

// Whether any descriptor or namespace link of any process refers to net:[inode].
bool NamespaceReferenced(ino_t inode) {
  const std::string wanted = "net:[" + std::to_string(inode) + "]";
  std::error_code error;
  for (const auto& process : std::filesystem::directory_iterator("/proc", error)) {
    const std::string pid = process.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ignored;
    if (std::filesystem::read_symlink(process.path() / "ns/net", ignored).string() == wanted) {
      return true;
    }
    for (const auto& fd : std::filesystem::directory_iterator(process.path() / "fd", ignored)) {
      if (std::filesystem::read_symlink(fd.path(), ignored).string() == wanted) return true;
    }
  }
  return false;
}

TEST_F(ProbeKernelTest, DetachLeavesNothing) {
  const std::string links_before = PodLinks();
  StartTcpServer();
  auto attachment = MakeAttachment();
  ino_t probe_netns = 0;
  {
    const AttachStatus status = EnsureSettled(*attachment);
    ASSERT_EQ(status.state, AttachStatus::State::kAttached) << status.reason;
    probe_netns = InodeOf(status.vantage->netns->get());
    EXPECT_TRUE(NamespaceReferenced(probe_netns));
    // A round opens and closes its sockets in the namespace.
    EXPECT_EQ(RunRound(*attachment, {kTcpTarget}).results.at(0).outcome, Outcome::kPassed);
  }
  ASSERT_TRUE(attachment->Detach().ok());
  EXPECT_EQ(PodLinks(), links_before) << "the probe's veth is gone from the pod";
  EXPECT_FALSE(NamespaceReferenced(probe_netns)) << "nothing holds the probe namespace";

  // The destructor detaches as well.
  ASSERT_EQ(EnsureSettled(*attachment).state, AttachStatus::State::kAttached);
  attachment.reset();
  EXPECT_EQ(PodLinks(), links_before);
}

TEST_F(ProbeKernelTest, PathMtuPassesOnAFullSizePath) {
  auto attachment = MakeAttachment();
  ProbeSettings settings;
  settings.echo_timeout = milliseconds(300);
  const ProberStatus round = RunRound(*attachment, {kMtuTarget}, settings);
  ASSERT_EQ(round.results.size(), 1u);
  EXPECT_EQ(round.results[0].outcome, Outcome::kPassed) << round.results[0].detail;
  EXPECT_EQ(round.results[0].path_mtu, 1500u);
  EXPECT_THAT(round.results[0].detail, HasSubstr("1500-byte packets with DF set get through"));
}

TEST_F(ProbeKernelTest, PathMtuBlackHoleIsReportedWithTheMeasuredMtu) {
  NarrowPath(1400, /*black_hole=*/true);
  auto attachment = MakeAttachment();
  ProbeSettings settings;
  settings.echo_timeout = milliseconds(300);
  const ProberStatus round = RunRound(*attachment, {kMtuTarget}, settings);
  ASSERT_EQ(round.results.size(), 1u);
  const TargetResult& result = round.results[0];
  EXPECT_EQ(result.outcome, Outcome::kFailed) << result.detail;
  EXPECT_EQ(result.path_mtu, 1400u) << result.detail;
  EXPECT_THAT(result.detail,
              HasSubstr("ICMP echo to 10.231.2.2 from the docker bridge (probe 172.17.255.254): "
                        "MTU black hole: 1500-byte packets with DF set vanish"));
  EXPECT_THAT(result.detail, HasSubstr("the largest that gets through is 1400 bytes"));
  EXPECT_GT(FragNeededSentByRouter(), 0) << "the router did try to report the MTU";
  EXPECT_THAT(EgressNotReadyReason(round), ::testing::Optional(HasSubstr("MTU black hole")));
}

TEST_F(ProbeKernelTest, PathMtuBelowDockerMtuPassesWhenRoutersReportIt) {
  NarrowPath(1400, /*black_hole=*/false);
  auto attachment = MakeAttachment();
  ProbeSettings settings;
  settings.echo_timeout = milliseconds(300);
  const ProberStatus round = RunRound(*attachment, {kMtuTarget}, settings);
  ASSERT_EQ(round.results.size(), 1u);
  const TargetResult& result = round.results[0];
  EXPECT_EQ(result.outcome, Outcome::kPassed) << result.detail;
  EXPECT_EQ(result.path_mtu, 1400u) << result.detail;
  EXPECT_THAT(result.detail, HasSubstr("routers report it"));
  EXPECT_GT(FragNeededSentByRouter(), 0);
}

TEST_F(ProbeKernelTest, SilentTargetLeavesTheMtuUnmeasuredWithoutFailing) {
  server_->MustExec("sysctl -qw net.ipv4.icmp_echo_ignore_all=1");
  auto attachment = MakeAttachment();
  ProbeSettings settings;
  settings.echo_timeout = milliseconds(200);
  const ProberStatus round = RunRound(*attachment, {kMtuTarget}, settings);
  ASSERT_EQ(round.results.size(), 1u);
  EXPECT_EQ(round.results[0].outcome, Outcome::kInconclusive) << round.results[0].detail;
  EXPECT_THAT(round.results[0].detail, HasSubstr("--probe-mtu-target"));
  EXPECT_EQ(EgressNotReadyReason(round), std::nullopt);
}

// ---- IPv6 ---------------------------------------------------------------------------------------

const ProbeTarget kTcpTarget6{ProbeKind::kTcpConnect, kServer6, kTcpPort, "test"};
const ProbeTarget kDnsTarget6{ProbeKind::kDnsUdp, kServer6, kDnsPort, "test"};
const ProbeTarget kMtuTarget6{ProbeKind::kPathMtu, kServer6, 0, "test"};

class Ipv6ProbeKernelTest : public ProbeKernelTest {
 protected:
  void SetUp() override {
    ProbeKernelTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    AddIpv6();
  }
};

TEST_F(Ipv6ProbeKernelTest, DualStackBridgeGivesTheProbeAnIpv6AddressUsableAtOnce) {
  auto attachment = MakeAttachment();
  const AttachStatus status = EnsureSettled(*attachment);
  ASSERT_EQ(status.state, AttachStatus::State::kAttached) << status.reason;
  ASSERT_TRUE(status.vantage && status.vantage->address_v6);
  EXPECT_EQ(status.vantage->address_v6->ToString(), kProbe6);
  EXPECT_EQ(status.vantage->address.ToString(), "172.17.255.254") << "IPv4 as before";

  const std::string address =
      InProbeNamespace(*status.vantage, "ip -o -6 addr show dev eth0 scope global");
  EXPECT_THAT(address, HasSubstr("inet6 " + std::string(kProbe6) + "/64"));
  EXPECT_THAT(address, ::testing::Not(HasSubstr("tentative")));
  EXPECT_THAT(InProbeNamespace(*status.vantage, "ip -6 route show default"),
              HasSubstr("default via fd00:db8:1::1 dev eth0"));
  EXPECT_THAT(InProbeNamespace(*status.vantage, "ip -4 route show default"),
              HasSubstr("default via 172.17.0.1 dev eth0"));
  // Its IPv6 gateway answers over the bridge.
  InProbeNamespace(*status.vantage, "/bin/busybox ping -6 -c 1 -W 2 fd00:db8:1::1");
}

TEST_F(Ipv6ProbeKernelTest, TcpAndDnsOverIpv6PassThroughThePodsNat66) {
  StartTcpServer();
  StartTcpServer6();
  StartNameserver6();
  auto attachment = MakeAttachment();
  const ProberStatus round = RunRound(*attachment, {kTcpTarget, kTcpTarget6, kDnsTarget6});
  ASSERT_EQ(round.attachment, AttachStatus::State::kAttached) << round.attachment_reason;
  ASSERT_EQ(round.results.size(), 3u);
  EXPECT_EQ(round.results[0].outcome, Outcome::kPassed) << round.results[0].detail;
  EXPECT_EQ(round.results[0].family, Family::kIPv4);
  EXPECT_EQ(round.results[1].outcome, Outcome::kPassed) << round.results[1].detail;
  EXPECT_EQ(round.results[1].family, Family::kIPv6);
  EXPECT_EQ(round.results[1].detail,
            "TCP connect to [2001:db8:231:2::2]:8443 from the docker bridge (probe " +
                std::string(kProbe6) + ") succeeded");
  EXPECT_EQ(round.results[2].outcome, Outcome::kPassed) << round.results[2].detail;
  EXPECT_EQ(round.results[2].family, Family::kIPv6);
  EXPECT_THAT(round.results[2].detail, HasSubstr("DNS query to [2001:db8:231:2::2]:53"));
  EXPECT_THAT(round.results[2].detail, HasSubstr("answered NXDOMAIN"));
  EXPECT_EQ(nameserver6_->queries, 1);
  EXPECT_EQ(EgressNotReadyReason(round, Family::kIPv6), std::nullopt);
  EXPECT_EQ(EgressNotReadyReason(round, Family::kIPv4), std::nullopt);

  // The IPv6 connection arrived from the pod's uplink address: it took the NAT66 path.
  sockaddr_in6 peer{};
  socklen_t length = sizeof(peer);
  ScopedFd accepted(::accept(listener6_.get(), reinterpret_cast<sockaddr*>(&peer), &length));
  ASSERT_TRUE(accepted.valid()) << std::strerror(errno);
  char from[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, &peer.sin6_addr, from, sizeof(from));
  EXPECT_STREQ(from, "2001:db8:231:1::2");
}

TEST_F(Ipv6ProbeKernelTest, Ipv6ServerDownFailsWithAClearMessage) {
  auto attachment = MakeAttachment();
  const ProberStatus refused = RunRound(*attachment, {kTcpTarget6});
  ASSERT_EQ(refused.results.size(), 1u);
  EXPECT_EQ(refused.results[0].outcome, Outcome::kFailed);
  EXPECT_THAT(refused.results[0].detail,
              HasSubstr("TCP connect to [2001:db8:231:2::2]:8443 from the docker bridge (probe " +
                        std::string(kProbe6) + ") failed: Connection refused"));
  EXPECT_THAT(EgressNotReadyReason(refused, Family::kIPv6),
              ::testing::Optional(HasSubstr("Connection refused")));
}

TEST_F(Ipv6ProbeKernelTest, Ipv6PathMtuPassesOnAFullSizePath) {
  auto attachment = MakeAttachment();
  ProbeSettings settings;
  settings.echo_timeout = milliseconds(300);
  const ProberStatus round = RunRound(*attachment, {kMtuTarget6}, settings);
  ASSERT_EQ(round.results.size(), 1u);
  EXPECT_EQ(round.results[0].outcome, Outcome::kPassed) << round.results[0].detail;
  EXPECT_EQ(round.results[0].path_mtu, 1500u);
  EXPECT_EQ(round.results[0].family, Family::kIPv6);
  EXPECT_THAT(round.results[0].detail, HasSubstr("1500-byte IPv6 packets get through"));
}

TEST_F(Ipv6ProbeKernelTest, Ipv6PathMtuBlackHoleIsReportedWithTheMeasuredMtu) {
  NarrowPath6(1400, /*black_hole=*/true);
  auto attachment = MakeAttachment();
  ProbeSettings settings;
  settings.echo_timeout = milliseconds(300);
  const ProberStatus round = RunRound(*attachment, {kMtuTarget6}, settings);
  ASSERT_EQ(round.results.size(), 1u);
  const TargetResult& result = round.results[0];
  EXPECT_EQ(result.outcome, Outcome::kFailed) << result.detail;
  EXPECT_EQ(result.path_mtu, 1400u) << result.detail;
  EXPECT_EQ(result.family, Family::kIPv6);
  EXPECT_THAT(result.detail,
              HasSubstr("ICMPv6 echo to 2001:db8:231:2::2 from the docker bridge (probe " +
                        std::string(kProbe6) +
                        "): MTU black hole: 1500-byte IPv6 packets vanish without an ICMPv6 "
                        "Packet Too Big"));
  EXPECT_THAT(result.detail, HasSubstr("the largest that gets through is 1400 bytes"));
  EXPECT_GT(PacketTooBigSentByRouter(), 0) << "the router did try to report the MTU";
  EXPECT_THAT(EgressNotReadyReason(round, Family::kIPv6),
              ::testing::Optional(HasSubstr("MTU black hole")));
}

TEST_F(Ipv6ProbeKernelTest, Ipv6PathMtuBelowDockerMtuPassesWhenRoutersReportIt) {
  NarrowPath6(1400, /*black_hole=*/false);
  auto attachment = MakeAttachment();
  ProbeSettings settings;
  settings.echo_timeout = milliseconds(300);
  const ProberStatus round = RunRound(*attachment, {kMtuTarget6}, settings);
  ASSERT_EQ(round.results.size(), 1u);
  const TargetResult& result = round.results[0];
  EXPECT_EQ(result.outcome, Outcome::kPassed) << result.detail;
  EXPECT_EQ(result.path_mtu, 1400u) << result.detail;
  EXPECT_THAT(result.detail, HasSubstr("routers report it (ICMPv6 Packet Too Big arrives)"));
  EXPECT_GT(PacketTooBigSentByRouter(), 0);
}

TEST_F(ProbeKernelTest, Ipv6TargetFromAnIpv4OnlyBridgeSaysHowToGiveNestedNetworksIpv6) {
  auto attachment = MakeAttachment();
  const ProberStatus round = RunRound(*attachment, {kTcpTarget6, kMtuTarget6});
  ASSERT_EQ(round.attachment, AttachStatus::State::kAttached) << round.attachment_reason;
  ASSERT_FALSE(round.vantage->address_v6);
  ASSERT_EQ(round.results.size(), 2u);
  for (const TargetResult& result : round.results) {
    EXPECT_EQ(result.outcome, Outcome::kFailed) << result.detail;
    EXPECT_EQ(result.family, Family::kIPv6);
    EXPECT_THAT(result.detail, HasSubstr("docker bridge docker0 has no IPv6 address"));
    EXPECT_THAT(result.detail, HasSubstr("dind-netcfg init --ipv6 on"));
  }
}

}  // namespace
}  // namespace dind::egress
