// SPDX-License-Identifier: Apache-2.0
// `detect --json` and `init` run inside sandbox pods made of network namespaces: a pod whose
// eth0 is a veth with its peer in a node namespace and a default route through it, plus tunnels,
// routes and addresses per test. The binary runs under `nsenter --net=`, as in a real pod; every
// namespace is deleted when its test ends, also on failure.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"
#include "tests/daemon/run_cli.h"
#include "tests/mocks/temp_dir.h"
#include "tests/support/netns.h"

namespace dind::cli {
namespace {

using ::dind::testing::ReadTestFile;
using ::dind::testing::ScopedNetns;
using ::dind::testing::TempDir;
using ::dind::testing::WriteTestFile;
using ::testing::Contains;
using testing::Describe;
using testing::Environment;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessResult;
using Json = nlohmann::ordered_json;

constexpr const char* kPodAddress = "10.77.0.2";
constexpr const char* kNodeAddress = "10.77.0.1";

// A pod namespace whose eth0 (a veth of `mtu`) reaches a node namespace, with an IPv4 default
// route via the node. The files detection would read from the machine are replaced by ones in
// a scratch directory, so nothing but the namespace decides.
class SandboxPod {
 public:
  explicit SandboxPod(Mtu mtu) : pod_("cli-pod"), node_("cli-node") {
    const std::string m = std::to_string(mtu);
    pod_.MustExec("ip link add eth0 mtu " + m + " type veth peer name host0 mtu " + m + " netns " +
                  node_.name());
    node_.MustExec("ip link set host0 up && ip addr add " + std::string(kNodeAddress) +
                   "/24 dev host0 && ip -6 addr add fd00:77::1/64 dev host0 nodad");
    pod_.MustExec("ip link set eth0 up && ip addr add " + std::string(kPodAddress) +
                  "/24 dev eth0 && ip route add default via " + kNodeAddress);
    WriteTestFile(resolv_conf(), "", 0644);
  }

  const ScopedNetns& pod() const { return pod_; }
  const ScopedNetns& node() const { return node_; }
  std::string resolv_conf() const { return files_ / "resolv.conf"; }
  std::string daemon_json() const { return files_ / "daemon.json"; }

  // Another veth from the pod to the node, for second uplinks and extra addresses.
  void AddVeth(const std::string& name, Mtu mtu) const {
    const std::string m = std::to_string(mtu);
    pod_.MustExec("ip link add " + name + " mtu " + m + " type veth peer name n-" + name + " mtu " +
                  m + " netns " + node_.name() + " && ip link set " + name + " up");
    node_.MustExec("ip link set n-" + name + " up");
  }

  ProcessResult Run(std::vector<std::string> args, const Environment& env = {}) const {
    std::vector<std::string> argv{"nsenter", "--net=" + pod_.path(), DIND_NETCFG_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& [flag, path] :
         {std::pair<std::string, std::string>{"--calico-mtu-file", files_ / "absent"},
          {"--cni-config", files_ / "absent"},
          {"--resolv-conf", resolv_conf()}}) {
      argv.push_back(flag);
      argv.push_back(path);
    }
    return testing::RunProcess(argv, env);
  }

  // `detect --json` (dockerd version given, so no dockerd binary is needed); fails the test
  // unless it exits 0 with one JSON object.
  Json Detect(std::vector<std::string> args = {}, const Environment& env = {}) const {
    std::vector<std::string> full{"detect", "--json", "--dockerd-version", "24.0.0"};
    full.insert(full.end(), args.begin(), args.end());
    const ProcessResult result = Run(full, env);
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    Json json = Json::parse(result.out, nullptr, false);
    EXPECT_TRUE(json.is_object()) << Describe(result);
    return json.is_object() ? json : Json::object();
  }

  // `init --json` on daemon_json(); returns the report, the file is read by the caller.
  Json Init(const std::string& dockerd_version, std::vector<std::string> args = {}) const {
    std::vector<std::string> full{
        "init", "--json", "--daemon-json", daemon_json(), "--dockerd-version", dockerd_version};
    full.insert(full.end(), args.begin(), args.end());
    const ProcessResult result = Run(full);
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    Json json = Json::parse(result.out, nullptr, false);
    EXPECT_TRUE(json.is_object()) << Describe(result);
    return json.is_object() ? json : Json::object();
  }

 private:
  TempDir files_;
  ScopedNetns pod_;
  ScopedNetns node_;
};

class CliKernelTest : public ::testing::Test {
 protected:
  void SetUp() override { DIND_REQUIRE_NETNS(); }
};

std::vector<std::string> Strings(const Json& array) {
  std::vector<std::string> strings;
  for (const auto& element : array) strings.push_back(element.get<std::string>());
  return strings;
}

// "cidr (reason)" for every range the pools avoided.
std::vector<std::string> Avoided(const Json& report) {
  std::vector<std::string> avoided;
  for (const auto& range : report["pools"]["avoided"]) {
    avoided.push_back(range["cidr"].get<std::string>() + " (" + range["reason"].get<std::string>() +
                      ")");
  }
  return avoided;
}

// bip's network and every pool base overlap none of the avoided ranges.
void ExpectPoolsClearOfAvoided(const Json& report) {
  // Parsing clears host bits: bip "172.17.0.1/16" is the network 172.17.0.0/16.
  std::vector<Cidr> chosen{*Cidr::Parse(report["pools"]["bip"].get<std::string>())};
  for (const auto& pool : report["pools"]["default_address_pools"]) {
    chosen.push_back(*Cidr::Parse(pool["base"].get<std::string>()));
  }
  for (const auto& range : report["pools"]["avoided"]) {
    const Cidr avoided = *Cidr::Parse(range["cidr"].get<std::string>());
    for (const auto& network : chosen) {
      EXPECT_FALSE(network.Overlaps(avoided))
          << network.ToString() << " overlaps avoided " << avoided.ToString();
    }
  }
}

// ---- Uplinks of the MTUs CNIs use ----------------------------------------------------------

struct UplinkCase {
  Mtu mtu;
  const char* evidence;
  const char* kind;
  std::uint32_t overhead;
};

class VethUplinkTest : public ::testing::TestWithParam<UplinkCase> {
 protected:
  void SetUp() override { DIND_REQUIRE_NETNS(); }
};

TEST_P(VethUplinkTest, DetectReportsUplinkOverlayMtuAndPools) {
  const UplinkCase& c = GetParam();
  SandboxPod sandbox(c.mtu);
  const Json report = sandbox.Detect();

  const Json& uplink = report["uplink"]["ipv4"];
  EXPECT_EQ(uplink["interface"], "eth0");
  EXPECT_EQ(uplink["kind"], "veth");
  EXPECT_EQ(uplink["mtu"], c.mtu);
  EXPECT_EQ(uplink["route_mtu"], 0);
  EXPECT_EQ(uplink["gateway"], kNodeAddress);
  EXPECT_THAT(Strings(uplink["addresses"]), Contains(std::string(kPodAddress) + "/24"));
  EXPECT_TRUE(report["uplink"]["ipv6"].is_null());

  EXPECT_EQ(report["overlay"]["evidence"], c.evidence) << report["overlay"].dump();
  EXPECT_EQ(report["overlay"]["kind"], c.kind);
  EXPECT_EQ(report["overlay"]["overhead_bytes"], c.overhead);
  if (std::string(c.evidence) == "inference") {
    EXPECT_THAT(report["overlay"]["detail"].get<std::string>(),
                HasSubstr("inference, not evidence"));
  }

  EXPECT_EQ(report["mtu"]["uplink"], c.mtu);
  EXPECT_EQ(report["mtu"]["path_limit"], c.mtu);
  EXPECT_EQ(report["mtu"]["docker"], c.mtu);
  EXPECT_EQ(report["mtu"]["source"], "auto");

  EXPECT_THAT(Avoided(report), Contains("10.77.0.0/24 (address on eth0)"));
  EXPECT_EQ(report["pools"]["bip"], "172.17.0.1/16");
  ExpectPoolsClearOfAvoided(report);
}

TEST_P(VethUplinkTest, InitWritesTheUplinkMtuAndReserveLowersIt) {
  const UplinkCase& c = GetParam();
  SandboxPod sandbox(c.mtu);
  sandbox.Init("24.0.0");
  Json written = Json::parse(ReadTestFile(sandbox.daemon_json()));
  EXPECT_EQ(written["mtu"], c.mtu);
  EXPECT_EQ(written["default-network-opts"]["bridge"]["com.docker.network.driver.mtu"],
            std::to_string(c.mtu));

  const Json report = sandbox.Init("24.0.0", {"--reserve", "50"});
  written = Json::parse(ReadTestFile(sandbox.daemon_json()));
  EXPECT_EQ(report["mtu"]["docker"], c.mtu - 50);
  EXPECT_EQ(written["mtu"], c.mtu - 50);
}

INSTANTIATE_TEST_SUITE_P(Mtus, VethUplinkTest,
                         ::testing::Values(UplinkCase{1500, "none", "", 0},
                                           UplinkCase{1480, "inference", "ipip", 20},
                                           UplinkCase{1450, "inference", "vxlan", 50},
                                           UplinkCase{1410, "inference", "vxlan", 50}),
                         [](const auto& test) { return std::to_string(test.param.mtu); });

TEST_F(CliKernelTest, TextReportShowsTheUplink) {
  SandboxPod sandbox(1450);
  const ProcessResult result = sandbox.Run({"detect", "--dockerd-version", "24.0.0"});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out, HasSubstr("eth0 MTU 1450 via 10.77.0.1"));
  EXPECT_THAT(result.out, HasSubstr("docker MTU  1450"));
}

TEST_F(CliKernelTest, NoDefaultRouteIsAnEnvironmentFailureWithAHint) {
  SandboxPod sandbox(1500);
  sandbox.pod().MustExec("ip route del default");
  const ProcessResult result = sandbox.Run({"detect", "--dockerd-version", "24.0.0"});
  EXPECT_EQ(result.exit_code, 1) << Describe(result);
  EXPECT_THAT(result.err,
              HasSubstr("no IPv4 default route, and no IPv6 default route with a global address"));
  EXPECT_THAT(result.err, HasSubstr("network namespace"));
}

// ---- Tunnel devices are evidence -----------------------------------------------------------

TEST_F(CliKernelTest, VxlanDeviceOverIpv4IsEvidenceOf50Bytes) {
  SandboxPod sandbox(1500);
  sandbox.pod().MustExec(
      "ip link add vxlan0 type vxlan id 42 local 10.77.0.2 remote 10.77.0.1 dstport 4789 "
      "dev eth0 && ip link set vxlan0 up");
  const Json report = sandbox.Detect();
  EXPECT_EQ(report["overlay"]["evidence"], "tunnel-device");
  EXPECT_EQ(report["overlay"]["kind"], "vxlan");
  EXPECT_EQ(report["overlay"]["overhead_bytes"], 50);
  EXPECT_THAT(report["overlay"]["detail"].get<std::string>(), HasSubstr("vxlan0"));
  // The device is evidence of an overlay, not a limit on eth0's path.
  EXPECT_EQ(report["mtu"]["docker"], 1500);
}

TEST_F(CliKernelTest, VxlanDeviceOverIpv6IsEvidenceOf70Bytes) {
  SandboxPod sandbox(1500);
  sandbox.pod().MustExec(
      "ip -6 addr add fd00:77::2/64 dev eth0 nodad && "
      "ip link add vxlan6 type vxlan id 43 local fd00:77::2 remote fd00:77::1 dstport 4789 "
      "dev eth0 && ip link set vxlan6 up");
  const Json report = sandbox.Detect();
  EXPECT_EQ(report["overlay"]["evidence"], "tunnel-device");
  EXPECT_EQ(report["overlay"]["overhead_bytes"], 70) << report["overlay"].dump();
}

TEST_F(CliKernelTest, VxlanUplinkIsItsOwnEvidence) {
  SandboxPod sandbox(1500);
  sandbox.pod().MustExec(
      "ip link add vxlan0 type vxlan id 42 local 10.77.0.2 remote 10.77.0.1 dstport 4789 "
      "dev eth0 && ip link set vxlan0 up && ip addr add 10.88.0.2/24 dev vxlan0 && "
      "ip route replace default via 10.88.0.1 dev vxlan0");
  const Json report = sandbox.Detect();
  EXPECT_EQ(report["uplink"]["ipv4"]["interface"], "vxlan0");
  EXPECT_EQ(report["uplink"]["ipv4"]["kind"], "vxlan");
  EXPECT_EQ(report["uplink"]["ipv4"]["mtu"], 1450) << "the kernel sizes vxlan to eth0 - 50";
  EXPECT_EQ(report["overlay"]["evidence"], "tunnel-device");
  EXPECT_EQ(report["mtu"]["docker"], 1450);
}

TEST_F(CliKernelTest, TunnelThatIsDownIsNotEvidence) {
  SandboxPod sandbox(1500);
  sandbox.pod().MustExec(
      "ip link add vxlan0 type vxlan id 42 local 10.77.0.2 remote 10.77.0.1 dstport 4789 "
      "dev eth0");
  EXPECT_EQ(sandbox.Detect()["overlay"]["evidence"], "none");
}

// ---- IPv6 ----------------------------------------------------------------------------------

TEST_F(CliKernelTest, Ipv6DefaultRouteIsTheIpv6Uplink) {
  SandboxPod sandbox(1450);
  sandbox.pod().MustExec(
      "ip -6 addr add fd00:77::2/64 dev eth0 nodad && ip -6 route add default via fd00:77::1");
  const Json report = sandbox.Detect();
  const Json& uplink = report["uplink"]["ipv6"];
  ASSERT_TRUE(uplink.is_object()) << report["uplink"].dump();
  EXPECT_EQ(uplink["interface"], "eth0");
  EXPECT_EQ(uplink["mtu"], 1450);
  EXPECT_EQ(uplink["gateway"], "fd00:77::1");
  EXPECT_THAT(Strings(uplink["addresses"]), Contains("fd00:77::2/64"));
  EXPECT_THAT(Avoided(report), Contains("fd00:77::/64 (address on eth0)"));
  EXPECT_THAT(Strings(report["warnings"]), ::testing::Not(Contains(HasSubstr("IPv6 uplink"))));
}

TEST_F(CliKernelTest, NarrowerIpv6UplinkSetsTheDockerMtu) {
  SandboxPod sandbox(1500);
  sandbox.AddVeth("eth1", 1400);
  sandbox.node().MustExec("ip -6 addr add fd00:78::1/64 dev n-eth1 nodad");
  sandbox.pod().MustExec(
      "ip -6 addr add fd00:78::2/64 dev eth1 nodad && ip -6 route add default via fd00:78::1");
  const Json report = sandbox.Detect();
  EXPECT_EQ(report["uplink"]["ipv6"]["interface"], "eth1");
  EXPECT_EQ(report["families"], "dual-stack");
  // Nested traffic of either family must fit: the narrower uplink decides.
  EXPECT_EQ(report["mtu"]["docker"], 1400);
  EXPECT_THAT(report["mtu"]["reason"].get<std::string>(), HasSubstr("IPv6 uplink"));
}

// ---- A smaller MTU on the route --------------------------------------------------------------

TEST_F(CliKernelTest, DefaultRouteMtuCapsTheDockerMtu) {
  SandboxPod sandbox(1500);
  sandbox.pod().MustExec("ip route replace default via 10.77.0.1 mtu 1400");
  const Json report = sandbox.Detect();
  EXPECT_EQ(report["uplink"]["ipv4"]["mtu"], 1500);
  EXPECT_EQ(report["uplink"]["ipv4"]["route_mtu"], 1400);
  EXPECT_EQ(report["mtu"]["path_limit"], 1400);
  EXPECT_EQ(report["mtu"]["path_limit_source"], "default route's mtu metric");
  EXPECT_EQ(report["mtu"]["docker"], 1400);
  EXPECT_THAT(report["mtu"]["reason"].get<std::string>(), HasSubstr("capped at 1400"));

  // Forcing more than the route allows is taken, with a warning in the reason.
  const Json forced = sandbox.Detect({"--mtu", "1450"});
  EXPECT_EQ(forced["mtu"]["docker"], 1450);
  EXPECT_THAT(forced["mtu"]["reason"].get<std::string>(), HasSubstr("expect stalls"));
}

TEST_F(CliKernelTest, MtuAboveTheUplinkIsRefusedNamingTheUplink) {
  SandboxPod sandbox(1450);
  const ProcessResult result = sandbox.Run({"init", "--daemon-json", sandbox.daemon_json(), "--mtu",
                                            "1451", "--dockerd-version", "24.0.0"});
  EXPECT_EQ(result.exit_code, 2) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr("--mtu 1451"));
  EXPECT_THAT(result.err, HasSubstr("1450"));
  EXPECT_THAT(result.err, HasSubstr("eth0"));
}

// ---- Address pools -------------------------------------------------------------------------

TEST_F(CliKernelTest, RouteInto172_17ForcesBipElsewhere) {
  SandboxPod sandbox(1500);
  sandbox.pod().MustExec("ip route add 172.17.5.0/24 via 10.77.0.1");
  const Json report = sandbox.Detect();
  EXPECT_THAT(Avoided(report), Contains("172.17.5.0/24 (route via eth0)"));
  EXPECT_EQ(report["pools"]["bip"], "172.18.0.1/16");
  EXPECT_THAT(report["pools"]["reason"].get<std::string>(), HasSubstr("collides"));
  ExpectPoolsClearOfAvoided(report);

  sandbox.Init("24.0.0");
  EXPECT_EQ(Json::parse(ReadTestFile(sandbox.daemon_json()))["bip"], "172.18.0.1/16");
}

TEST_F(CliKernelTest, PoolsAvoidAddressesRoutesServiceNameserverAndFlags) {
  SandboxPod sandbox(1500);
  sandbox.AddVeth("eth1", 1500);
  sandbox.pod().MustExec(
      "ip route add 172.17.5.0/24 via 10.77.0.1 && "
      "ip addr add 172.19.3.4/24 dev eth1");
  WriteTestFile(sandbox.resolv_conf(), "search svc.cluster.local\nnameserver 172.21.0.10\n", 0644);
  const Json report =
      sandbox.Detect({"--avoid", "172.18.0.0/16"}, {{"KUBERNETES_SERVICE_HOST", "172.20.0.1"}});
  EXPECT_THAT(Avoided(report),
              ::testing::IsSupersetOf({"172.17.5.0/24 (route via eth0)", "172.18.0.0/16 (--avoid)",
                                       "172.19.3.0/24 (address on eth1)",
                                       "172.20.0.1/32 (KUBERNETES_SERVICE_HOST)",
                                       "172.21.0.10/32 (nameserver in resolv.conf)"}));
  EXPECT_EQ(report["pools"]["bip"], "172.22.0.1/16");
  ASSERT_EQ(report["pools"]["default_address_pools"].size(), 2u);
  EXPECT_EQ(report["pools"]["default_address_pools"][0]["base"], "172.23.0.0/16");
  EXPECT_EQ(report["pools"]["default_address_pools"][1]["base"], "172.24.0.0/16");
  ExpectPoolsClearOfAvoided(report);
}

// ---- init: keys per dockerd version, existing keys kept ------------------------------------

TEST_F(CliKernelTest, InitForDockerd24WritesEveryOwnedKeyAndKeepsForeignOnes) {
  SandboxPod sandbox(1450);
  WriteTestFile(sandbox.daemon_json(),
                "{\n  \"storage-driver\": \"vfs\",\n  \"mtu\": 1500,\n"
                "  \"registry-mirrors\": [\"https://mirror.example\"]\n}\n",
                0640);
  const Json report = sandbox.Init("24.0.0");
  const Json written = Json::parse(ReadTestFile(sandbox.daemon_json()));

  std::vector<std::string> keys;
  for (const auto& [key, value] : written.items()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::IsSupersetOf(
                        {"mtu", "bip", "default-address-pools", "default-network-opts"}));
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 3),
            (std::vector<std::string>{"storage-driver", "mtu", "registry-mirrors"}));
  EXPECT_EQ(written["storage-driver"], "vfs");
  EXPECT_EQ(written["registry-mirrors"], Json::parse(R"(["https://mirror.example"])"));
  EXPECT_EQ(written["mtu"], 1450);
  EXPECT_EQ(written["default-network-opts"]["bridge"]["com.docker.network.driver.mtu"], "1450");
  EXPECT_EQ(written["bip"], report["pools"]["bip"]);
  Json pools = Json::array();
  for (const auto& pool : report["pools"]["default_address_pools"]) pools.push_back(pool);
  EXPECT_EQ(written["default-address-pools"], pools);
  // cgroup-parent follows the report: written exactly when detection decided one.
  if (report["cgroup"]["parent"].is_null()) {
    EXPECT_FALSE(written.contains("cgroup-parent"));
  } else {
    EXPECT_EQ(written["cgroup-parent"], report["cgroup"]["parent"]);
  }
  EXPECT_EQ(::dind::testing::ModeOf(sandbox.daemon_json()), 0640u);
}

TEST_F(CliKernelTest, InitForDockerd20WritesNoKeyItWouldRefuse) {
  SandboxPod sandbox(1410);
  const Json report = sandbox.Init("20.10.24");
  const Json written = Json::parse(ReadTestFile(sandbox.daemon_json()));
  EXPECT_EQ(written["mtu"], 1410);
  EXPECT_TRUE(written.contains("bip"));
  EXPECT_TRUE(written.contains("default-address-pools"));
  EXPECT_FALSE(written.contains("default-network-opts")) << written.dump(2);
  EXPECT_EQ(report["dockerd"]["supports_default_network_opts"], false);
  EXPECT_THAT(Strings(report["warnings"]),
              Contains(HasSubstr("com.docker.network.driver.mtu=1410")));
}

// A dockerd stand-in on a unix socket that answers by path, one request per connection, as
// doctor asks several: /version says 28.5.2, /networks lists the default bridge at 1450, KIND's
// `kind` network without an MTU option (dockerd's 1500) and ci-net over the pod's own
// 10.77.0.0/24; anything else is a 404. Plain sockets: no HTTP library to compile here.
class DockerdByPath {
 public:
  explicit DockerdByPath(std::string path)
      : path_(std::move(path)), listener_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path_.copy(address.sun_path, sizeof(address.sun_path) - 1);
    if (listener_ < 0 ||
        ::bind(listener_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener_, 8) != 0) {
      ADD_FAILURE() << "listening on " << path_ << ": " << std::strerror(errno);
    }
    server_ = std::thread([this] { Serve(); });
  }
  ~DockerdByPath() {
    ::shutdown(listener_, SHUT_RDWR);  // accept() returns: the server ends
    server_.join();
    ::close(listener_);
    ::unlink(path_.c_str());
  }
  DockerdByPath(const DockerdByPath&) = delete;
  DockerdByPath& operator=(const DockerdByPath&) = delete;

 private:
  static std::string Answer(const std::string& target) {
    if (target.ends_with("/version")) {
      return R"({"Version":"28.5.2","ApiVersion":"1.51","MinAPIVersion":"1.24","Os":"linux"})";
    }
    if (target.find("/networks") != std::string::npos) {
      return R"([
  {"Name":"bridge","Id":"aaaaaaaaaaaaaaaa","Driver":"bridge","IPAM":{"Config":[{"Subnet":"172.17.0.0/16"}]},
   "Options":{"com.docker.network.bridge.name":"docker0","com.docker.network.driver.mtu":"1450"}},
  {"Name":"kind","Id":"0123456789abcdef","Driver":"bridge","IPAM":{"Config":[{"Subnet":"172.18.0.0/16"}]},"Options":{}},
  {"Name":"ci-net","Id":"fedcba9876543210","Driver":"bridge","IPAM":{"Config":[{"Subnet":"10.77.0.0/16"}]},"Options":{}}])";
    }
    return "";
  }

  void Serve() const {
    for (int connection;
         (connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
      std::string request;
      char buffer[4096];
      ssize_t got = 0;
      while (request.find("\r\n\r\n") == std::string::npos &&
             (got = ::read(connection, buffer, sizeof(buffer))) > 0) {
        request.append(buffer, static_cast<std::size_t>(got));
      }
      const std::size_t start = request.find(' ') + 1;
      const std::string body = Answer(request.substr(start, request.find(' ', start) - start));
      const std::string response =
          std::string(body.empty() ? "HTTP/1.1 404 Not Found" : "HTTP/1.1 200 OK") +
          "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
          std::to_string(body.empty() ? 2 : body.size()) + "\r\n\r\n" +
          (body.empty() ? "{}" : body);
      for (std::size_t sent = 0; sent < response.size();) {
        const ssize_t wrote = ::write(connection, response.data() + sent, response.size() - sent);
        if (wrote <= 0) break;
        sent += static_cast<std::size_t>(wrote);
      }
      ::close(connection);
    }
  }

  std::string path_;
  int listener_;
  std::thread server_;
};

// doctor makes the detection `detect` makes (its flags included: --reserve) and reports it as
// checks of its one report: the MTU against docker's networks, the overlay, the proven backend,
// cgroups, the pools against the networks and where dockerd's version came from.
TEST_F(CliKernelTest, DoctorReportsWhatDetectReports) {
  const SandboxPod sandbox(1500);
  const TempDir dir;
  const std::string docker_socket = dir / "docker.sock";
  std::optional<DockerdByPath> fake(std::in_place, docker_socket);
  const std::vector<std::string> args{"doctor",
                                      "--docker-socket",
                                      docker_socket,
                                      "--daemon-json",
                                      sandbox.daemon_json(),
                                      "--reserve",
                                      "50"};
  std::vector<std::string> json_args = args;
  json_args.emplace_back("--json");
  const ProcessResult json_result = sandbox.Run(json_args);
  const ProcessResult text_result = sandbox.Run(args);
  fake.reset();

  // ci-net over the pod's range fails address-pools.
  EXPECT_EQ(json_result.exit_code, 1) << Describe(json_result);
  const Json document = Json::parse(json_result.out, nullptr, false);
  ASSERT_TRUE(document.is_object()) << Describe(json_result);
  std::map<std::string, Json> checks;
  for (const Json& check : document["checks"]) checks[check["id"].get<std::string>()] = check;
  for (const char* id : {"network-mtu", "network-overlay", "iptables-backend", "cgroups",
                         "address-pools", "dockerd-version"}) {
    ASSERT_EQ(checks.count(id), 1U) << id << "\n" << Describe(json_result);
  }
  const Json& mtu = checks["network-mtu"];
  EXPECT_EQ(mtu["status"], "warn") << mtu.dump(2);
  EXPECT_EQ(mtu["observed"]["docker_mtu"], 1450) << mtu.dump(2);
  ASSERT_EQ(mtu["observed"]["networks_above"].size(), 2U) << mtu.dump(2);
  EXPECT_EQ(mtu["observed"]["networks_above"][0]["network"], "kind") << mtu.dump(2);
  EXPECT_THAT(mtu["fix"].get<std::string>(), HasSubstr("com.docker.network.driver.mtu=1450"));
  EXPECT_THAT(mtu["source"].get<std::string>(),
              HasSubstr("GET /networks of unix://" + docker_socket));

  EXPECT_EQ(checks["network-overlay"]["status"], "ok") << checks["network-overlay"].dump(2);
  EXPECT_EQ(checks["network-overlay"]["observed"]["evidence"], "none");

  const Json& backend = checks["iptables-backend"];
  EXPECT_NE(backend["status"], "unknown") << backend.dump(2);
  EXPECT_THAT(backend["source"].get<std::string>(), HasSubstr("traffic proof"));

  EXPECT_THAT(checks["cgroups"]["source"].get<std::string>(), HasSubstr("dind-netcfg doctor"));

  const Json& pools = checks["address-pools"];
  EXPECT_EQ(pools["status"], "fail") << pools.dump(2);
  EXPECT_THAT(pools["summary"].get<std::string>(),
              HasSubstr("network ci-net 10.77.0.0/16 overlaps 10.77.0.0/24 (address on eth0)"));

  const Json& version = checks["dockerd-version"];
  EXPECT_EQ(version["status"], "ok") << version.dump(2);
  EXPECT_EQ(version["observed"]["version"], "28.5.2");
  EXPECT_EQ(version["observed"]["running"], true);
  EXPECT_EQ(version["source"], "GET /version of unix://" + docker_socket);

  // The text report prints the same lines.
  EXPECT_EQ(text_result.exit_code, 1) << Describe(text_result);
  EXPECT_THAT(text_result.out, HasSubstr("warn     network-mtu"));
  EXPECT_THAT(text_result.out, HasSubstr("fail     address-pools"));
  EXPECT_THAT(text_result.out, HasSubstr("ok       dockerd-version   dockerd 28.5.2, the running"));
}

// kind-config prints the config on stdout as before and logs on stderr, once each, the kind-*
// checks `doctor --for kind` finds warning or failing here (which ones depends on the machine:
// doctor's answer in the same sandbox is the expectation), and none of those that pass.
TEST_F(CliKernelTest, KindConfigLogsEachKindCheckThatIsNotOkOnce) {
  const SandboxPod sandbox(1500);
  const std::vector<std::string> common{"--docker-socket", sandbox.daemon_json() + ".absent",
                                        "--dockerd-version", "24.0.0"};
  std::vector<std::string> doctor_args{"doctor", "--json", "--for", "kind"};
  doctor_args.insert(doctor_args.end(), common.begin(), common.end());
  const ProcessResult doctor = sandbox.Run(doctor_args);
  std::vector<std::string> kind_args{"kind-config"};
  kind_args.insert(kind_args.end(), common.begin(), common.end());
  const ProcessResult kind = sandbox.Run(kind_args);

  ASSERT_EQ(kind.exit_code, 0) << Describe(kind);
  EXPECT_THAT(kind.out, HasSubstr("kind: Cluster"));
  EXPECT_THAT(kind.out, Not(HasSubstr("kind-config:")));
  const Json document = Json::parse(doctor.out, nullptr, false);
  ASSERT_TRUE(document.is_object()) << Describe(doctor);
  int kind_checks = 0;
  for (const Json& check : document["checks"]) {
    const std::string id = check["id"].get<std::string>();
    if (!id.starts_with("kind-")) continue;
    ++kind_checks;
    const std::string status = check["status"].get<std::string>();
    const std::string line = "kind-config: " + id + " " + status + ":";
    std::size_t count = 0;
    for (std::size_t at = kind.err.find(line); at != std::string::npos;
         at = kind.err.find(line, at + 1)) {
      ++count;
    }
    const bool logged = status == "warn" || status == "fail";
    EXPECT_EQ(count, logged ? 1U : 0U) << id << " " << status << "\n" << Describe(kind);
    // The log quotes a value with spaces as a JSON string.
    if (logged) {
      EXPECT_THAT(kind.err, HasSubstr("fix=" + check["fix"].dump())) << id;
    }
  }
  EXPECT_EQ(kind_checks, 5) << Describe(doctor);
}

}  // namespace
}  // namespace dind::cli
