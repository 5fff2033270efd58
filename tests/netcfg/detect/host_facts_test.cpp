// SPDX-License-Identifier: Apache-2.0
// Kernel, cgroup, address pool and dockerd decisions from injected file contents.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "netcfg/cgroups/cgroup.h"
#include "netcfg/detect/kernel.h"
#include "netcfg/detect/pools.h"
#include "netcfg/dockerd/dockerd_version.h"
#include "tests/netcfg/detect/fixtures.h"

namespace dind::netcfg {
namespace {
using testing::Address;
using testing::Link;
using testing::PodFacts;
using testing::Route;

TEST(DetectKernelTest, CentOs7ConfigWithModulesNotLoaded) {
  SystemFacts facts;
  facts.kernel_release = "3.10.0-1160.el7.x86_64";
  facts.kernel_config = "CONFIG_NF_TABLES=m\nCONFIG_IP_NF_IPTABLES=m\n";
  facts.kernel_config_source = "/boot/config-3.10.0-1160.el7.x86_64";
  facts.proc_modules = "ip_tables 27126 5 iptable_nat, Live 0x0\n";
  const KernelFacts kernel = DetectKernel(facts);
  EXPECT_EQ(kernel.major, 3);
  EXPECT_EQ(kernel.minor, 10);
  EXPECT_EQ(kernel.ip_tables.available, Availability::kYes);
  EXPECT_TRUE(kernel.ip_tables.loaded);
  EXPECT_EQ(kernel.nf_tables.available, Availability::kYes);
  EXPECT_FALSE(kernel.nf_tables.loaded);
  EXPECT_NE(kernel.nf_tables.evidence.find("module, not loaded"), std::string::npos);
}

TEST(DetectKernelTest, MissingOptionMeansNo) {
  SystemFacts facts;
  facts.kernel_release = "5.15.0";
  facts.kernel_config = "# CONFIG_NF_TABLES is not set\nCONFIG_IP_NF_IPTABLES=y\n";
  facts.kernel_config_source = "/proc/config.gz";
  const KernelFacts kernel = DetectKernel(facts);
  EXPECT_EQ(kernel.nf_tables.available, Availability::kNo);
  EXPECT_EQ(kernel.ip_tables.available, Availability::kYes);
}

TEST(DetectKernelTest, BuiltinListAndRegisteredTables) {
  SystemFacts facts;
  facts.kernel_release = "6.1.0";
  facts.modules_builtin = "kernel/net/netfilter/nf_tables.ko\n";
  facts.ip_tables_names_present = true;
  const KernelFacts kernel = DetectKernel(facts);
  EXPECT_EQ(kernel.nf_tables.available, Availability::kYes);
  EXPECT_NE(kernel.nf_tables.evidence.find("built into"), std::string::npos);
  EXPECT_TRUE(kernel.ip_tables.loaded);
}

TEST(DetectKernelTest, NothingReadableIsUnknown) {
  SystemFacts facts;
  facts.kernel_release = "6.1.0";
  EXPECT_EQ(DetectKernel(facts).nf_tables.available, Availability::kUnknown);
}

constexpr const char* kHostCgroupV1Mounts =
    "30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
    "36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n";
constexpr const char* kPodCgroupV1 =
    "11:memory:/kubepods/burstable/pod1234/abcd\n"
    "4:cpu,cpuacct:/kubepods/burstable/pod1234/abcd\n"
    "1:name=systemd:/kubepods/burstable/pod1234/abcd\n";

TEST(DecideCgroupParentTest, HostHierarchyMountedNestsUnderOwnCgroup) {
  SystemFacts facts;
  facts.proc_self_mountinfo = kHostCgroupV1Mounts;
  facts.proc_self_cgroup = kPodCgroupV1;
  const auto decision = DecideCgroupParent(facts);
  EXPECT_EQ(decision.version, "v1");
  EXPECT_EQ(decision.parent, "/kubepods/burstable/pod1234/abcd");
}

TEST(DecideCgroupParentTest, OwnCgroupMountedAsRootNeedsNoParent) {
  SystemFacts facts;
  facts.proc_self_mountinfo =
      "35 30 0:31 /kubepods/burstable/pod1234/abcd /sys/fs/cgroup/memory rw - cgroup cgroup "
      "rw,memory\n";
  facts.proc_self_cgroup = kPodCgroupV1;
  const auto decision = DecideCgroupParent(facts);
  EXPECT_FALSE(decision.parent);
  EXPECT_NE(decision.reason.find("nests under it"), std::string::npos);
}

TEST(DecideCgroupParentTest, CgroupNamespaceV2NeedsNoParent) {
  SystemFacts facts;
  facts.proc_self_mountinfo = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
  facts.proc_self_cgroup = "0::/\n";
  const auto decision = DecideCgroupParent(facts);
  EXPECT_EQ(decision.version, "v2");
  EXPECT_FALSE(decision.parent);
  EXPECT_NE(decision.reason.find("cgroup namespace"), std::string::npos);
}

TEST(DecideCgroupParentTest, V2HostHierarchyWithoutNamespace) {
  SystemFacts facts;
  facts.proc_self_mountinfo = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
  facts.proc_self_cgroup = "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope\n";
  EXPECT_EQ(DecideCgroupParent(facts).parent,
            "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope");
}

TEST(DecideCgroupParentTest, NoCgroupMountSaysSo) {
  SystemFacts facts;
  facts.proc_self_mountinfo = "22 1 0:21 / /proc rw - proc proc rw\n";
  facts.proc_self_cgroup = "0::/\n";
  const auto decision = DecideCgroupParent(facts);
  EXPECT_EQ(decision.version, "unknown");
  EXPECT_FALSE(decision.parent);
  EXPECT_NE(decision.reason.find("no cgroup filesystem"), std::string::npos);
  EXPECT_NE(decision.reason.find("cgroup-parent not written"), std::string::npos);
}

TEST(DecideCgroupParentTest, UnreadableProcFilesSayNotWritten) {
  SystemFacts facts;
  const auto decision = DecideCgroupParent(facts);
  EXPECT_EQ(decision.version, "unknown");
  EXPECT_FALSE(decision.parent);
  EXPECT_NE(decision.reason.find("cgroup-parent not written"), std::string::npos);
}

constexpr const char* kHostCgroupV2Mount =
    "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";

TEST(DecideCgroupParentTest, CgroupNamespaceRootSaysNotNeededAndNotWritten) {
  for (const char* mountinfo : {kHostCgroupV2Mount, kHostCgroupV1Mounts}) {
    SystemFacts facts;
    facts.proc_self_mountinfo = mountinfo;
    facts.proc_self_cgroup = std::string(mountinfo) == kHostCgroupV2Mount
                                 ? "0::/\n"
                                 : "11:memory:/\n4:cpu,cpuacct:/\n0::/\n";
    const auto decision = DecideCgroupParent(facts);
    EXPECT_FALSE(decision.parent);
    EXPECT_EQ(decision.own_path, "/");
    EXPECT_NE(decision.reason.find("not needed, not written"), std::string::npos)
        << decision.reason;
  }
}

TEST(DecideCgroupParentTest, ReasonForANestingParentNamesTheHostHierarchy) {
  SystemFacts facts;
  facts.proc_self_mountinfo = kHostCgroupV2Mount;
  facts.proc_self_cgroup = "0::/kubepods/burstable/pod1/abc\n";
  const auto decision = DecideCgroupParent(facts);
  EXPECT_EQ(decision.parent, "/kubepods/burstable/pod1/abc");
  EXPECT_NE(decision.reason.find("beside the pod"), std::string::npos) << decision.reason;
}

// A v1 hybrid host: tmpfs at /sys/fs/cgroup, v1 controllers, and cgroup2 at .../unified. The
// unified mount must not make it v2: dockerd decides by what /sys/fs/cgroup itself is.
TEST(DecideCgroupParentTest, HybridHostIsV1AndUsesTheMemoryLine) {
  SystemFacts facts;
  facts.proc_self_mountinfo = std::string(kHostCgroupV1Mounts) +
                              "41 30 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  facts.proc_self_cgroup = "11:memory:/kubepods/pod9/c1\n4:cpu,cpuacct:/\n0::/\n";
  const auto decision = DecideCgroupParent(facts);
  EXPECT_EQ(decision.version, "v1");
  EXPECT_EQ(decision.parent, "/kubepods/pod9/c1");
}

// The memory controller is found by its mount options, also when co-mounted under another name.
TEST(DecideCgroupParentTest, V1MemoryFoundByMountOptionsNotName) {
  SystemFacts facts;
  facts.proc_self_mountinfo =
      "35 30 0:31 / /sys/fs/cgroup/mem,blkio rw - cgroup cgroup rw,memory,blkio\n";
  facts.proc_self_cgroup = "5:memory,blkio:/kubepods/pod1/c2\n";
  EXPECT_EQ(DecideCgroupParent(facts).parent, "/kubepods/pod1/c2");
}

// D2iQ's workaround bind-mounts the container's cgroup again below the mount point; the first
// mount is the one runc uses, so the later one must not change the decision.
TEST(DecideCgroupParentTest, LaterBindMountBelowTheHierarchyIsIgnored) {
  SystemFacts facts;
  facts.proc_self_mountinfo =
      "35 30 0:31 /kubepods/pod1/c3 /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "50 35 0:31 /kubepods/pod1/c3 /sys/fs/cgroup/memory/kubepods/pod1/c3 rw - cgroup cgroup "
      "rw,memory\n";
  facts.proc_self_cgroup = "11:memory:/kubepods/pod1/c3\n";
  const auto decision = DecideCgroupParent(facts);
  EXPECT_FALSE(decision.parent);
  EXPECT_NE(decision.reason.find("this container's own cgroup"), std::string::npos)
      << decision.reason;
}

// A mount of the pod's cgroup (not the container's): the parent is the container's cgroup
// relative to what is mounted, or dockerd would double the path.
TEST(DecideCgroupParentTest, MountAboveTheContainerGivesARelativeParent) {
  SystemFacts facts;
  facts.proc_self_mountinfo =
      "30 25 0:26 /kubepods.slice/pod1.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  facts.proc_self_cgroup = "0::/kubepods.slice/pod1.slice/cri-containerd-ab.scope\n";
  EXPECT_EQ(DecideCgroupParent(facts).parent, "/cri-containerd-ab.scope");
}

// Inside a cgroup namespace with the host's hierarchy bind-mounted, mountinfo shows the mount's
// root relative to the namespace ("/.."): /docker would land outside the pod, and nothing
// visible says where the pod is.
TEST(DecideCgroupParentTest, MountFromOutsideTheNamespaceIsNotGuessed) {
  SystemFacts facts;
  facts.proc_self_mountinfo = "30 25 0:26 /../.. /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  facts.proc_self_cgroup = "0::/\n";
  const auto decision = DecideCgroupParent(facts);
  EXPECT_FALSE(decision.parent);
  EXPECT_NE(decision.reason.find("does not contain"), std::string::npos) << decision.reason;
  EXPECT_NE(decision.reason.find("cgroup-parent not written"), std::string::npos);
}

class HostSessionTest : public ::testing::TestWithParam<const char*> {};

TEST_P(HostSessionTest, HostSessionOrServiceGetsNoParent) {
  SystemFacts facts;
  facts.proc_self_mountinfo = kHostCgroupV2Mount;
  facts.proc_self_cgroup = std::string("0::") + GetParam() + "\n";
  const auto decision = DecideCgroupParent(facts);
  EXPECT_FALSE(decision.parent) << GetParam();
  EXPECT_EQ(decision.own_path, GetParam());
  EXPECT_NE(decision.reason.find("systemd session or service on the host"), std::string::npos)
      << decision.reason;
  EXPECT_NE(decision.reason.find("run init inside the container"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, HostSessionTest,
    ::testing::Values("/user.slice/user-0.slice/session-3.scope", "/system.slice/ssh.service",
                      "/init.scope", "/user.slice/user-1000.slice/user@1000.service/app.slice"));

// Containers that systemd placed (docker or CRI with the systemd cgroup driver) are containers.
TEST(DecideCgroupParentTest, ContainerScopesUnderSystemSliceAreNested) {
  for (const char* path :
       {"/system.slice/docker-0123abcd.scope", "/system.slice/cri-containerd-0123abcd.scope"}) {
    SystemFacts facts;
    facts.proc_self_mountinfo = kHostCgroupV2Mount;
    facts.proc_self_cgroup = std::string("0::") + path + "\n";
    EXPECT_EQ(DecideCgroupParent(facts).parent, path);
  }
}

TEST(ParseNameserversTest, ReadsV4V6AndScoped) {
  const auto servers = ParseNameservers(
      "search x.svc\nnameserver 10.96.0.10\n# nameserver 1.1.1.1\n"
      "nameserver fe80::1%eth0\nnameserver 2001:db8::53\noptions ndots:5\n");
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0].ToString(), "10.96.0.10");
  EXPECT_EQ(servers[2].ToString(), "2001:db8::53");
}

TEST(DecideAddressPoolsTest, DefaultsWhenNothingCollides) {
  auto decision = DecideAddressPools(PodFacts(), {});
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->bip, "172.17.0.1/16");
  ASSERT_EQ(decision->default_address_pools.size(), 2u);
  EXPECT_EQ(decision->default_address_pools[0].base.ToString(), "172.18.0.0/16");
  EXPECT_EQ(decision->default_address_pools[0].size, 24);
}

TEST(DecideAddressPoolsTest, AvoidsPodAddressesRoutesServiceNameserversAndFlags) {
  SystemFacts facts = PodFacts();
  facts.network.addresses.push_back(Address(2, "172.17.3.4/24"));
  facts.network.routes.push_back(Route("172.18.0.0/15", 2, "10.244.1.1"));  // 172.18-19
  facts.kubernetes_service_host = "172.20.0.1";
  facts.resolv_conf = "nameserver 172.21.0.10\n";
  auto decision = DecideAddressPools(facts, {*Cidr::Parse("172.22.0.0/16")});
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->bip, "172.23.0.1/16");
  EXPECT_EQ(decision->default_address_pools[0].base.ToString(), "172.24.0.0/16");
  std::vector<std::string> reasons;
  for (const auto& avoided : decision->avoided) reasons.push_back(avoided.reason);
  EXPECT_THAT(reasons, ::testing::IsSupersetOf({"address on eth0", "route via eth0",
                                                "KUBERNETES_SERVICE_HOST",
                                                "nameserver in resolv.conf", "--avoid"}));
}

TEST(DecideAddressPoolsTest, IgnoresDockersOwnBridgesSoReRunsAreStable) {
  SystemFacts facts = PodFacts();
  facts.network.links.push_back(Link(5, "docker0", "bridge", 1450));
  facts.network.addresses.push_back(Address(5, "172.17.0.1/16"));
  facts.network.routes.push_back(Route("172.17.0.0/16", 5));
  EXPECT_EQ(DecideAddressPools(facts, {})->bip, "172.17.0.1/16");
}

TEST(DecideAddressPoolsTest, FailsClearlyWhenEverythingCollides) {
  auto decision = DecideAddressPools(
      PodFacts(),
      {*Cidr::Parse("172.16.0.0/12"), *Cidr::Parse("192.168.0.0/16"), *Cidr::Parse("10.0.0.0/8")});
  ASSERT_FALSE(decision.ok());
  EXPECT_EQ(decision.error().ExitCode(), 1);
  EXPECT_NE(decision.error().Message().find("--avoid"), std::string::npos);
}

TEST(ParseDockerVersionTest, AcceptsCommonSpellings) {
  EXPECT_EQ(ParseDockerVersion("Docker version 20.10.24+dfsg1, build 5d6db84")->ToString(),
            "20.10.24");
  EXPECT_EQ(ParseDockerVersion("24.0.7")->ToString(), "24.0.7");
  EXPECT_EQ(ParseDockerVersion("v25.0")->ToString(), "25.0.0");
  EXPECT_EQ(ParseDockerVersion("26")->ToString(), "26.0.0");
  EXPECT_FALSE(ParseDockerVersion("latest"));
  EXPECT_FALSE(ParseDockerVersion(""));
  EXPECT_FALSE(ParseDockerVersion("99999999999"));
  EXPECT_EQ(ParseDockerVersion(" 24.0.7-rc.1 \n")->ToString(), "24.0.7");
  EXPECT_EQ(ParseDockerVersion("Docker version 27.1.1, build 6312585")->ToString(), "27.1.1");
  EXPECT_FALSE(ParseDockerVersion("24.0.7 extra"));
  EXPECT_FALSE(ParseDockerVersion("Docker version 24, build x"));
}

TEST(DecideDockerdTest, VersionGatesDefaultNetworkOpts) {
  EXPECT_FALSE(DecideDockerd("23.0.6", std::nullopt)->supports_default_network_opts);
  EXPECT_TRUE(DecideDockerd("24.0", std::nullopt)->supports_default_network_opts);
  const auto printed = DecideDockerd(
      "auto", DockerdVersionText{"Docker version 27.1.1, build 6312585", "/bin/dockerd --version"});
  EXPECT_EQ(printed->source, "dockerd");
  EXPECT_EQ(printed->read_from, "/bin/dockerd --version");
  EXPECT_TRUE(printed->supports_default_network_opts);
  const auto built =
      DecideDockerd("auto", DockerdVersionText{"20.10.24+dfsg1", "Go build info of /bin/dockerd"});
  EXPECT_EQ(built->version.ToString(), "20.10.24");
  EXPECT_EQ(built->read_from, "Go build info of /bin/dockerd");
  EXPECT_FALSE(built->supports_default_network_opts);
}

// What each recorded release did (tests/daemon/docker/releases, from release_e2e_test.sh)
// decides what DecideDockerd says of it: init writes default-network-opts exactly for the
// releases whose user network got the MTU option from it, and says why for the others.
TEST(DecideDockerdTest, AgreesWithEveryRecordedRelease) {
  const auto read = [](const std::string& release, const std::string& file) {
    std::ifstream in(std::string(DIND_SOURCE_DIR) + "/tests/daemon/docker/releases/" + release +
                     "/" + file + ".json");
    return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  };
  for (const std::string release : {"20.10.24", "26.1.5", "28.5.2"}) {
    SCOPED_TRACE(release);
    const auto version = read(release, "version");
    const auto networks = read(release, "networks");
    ASSERT_TRUE(version.is_object() && networks.is_array());
    bool user_network_got_mtu = false;
    for (const auto& network : networks) {
      if (network.value("Name", "") != "user") continue;
      const auto& options = network["Options"];
      user_network_got_mtu =
          options.is_object() && options.contains("com.docker.network.driver.mtu");
    }
    const auto decision = DecideDockerd(
        "auto", DockerdVersionText{version.value("Version", ""), "/version of " + release});
    ASSERT_TRUE(decision.ok());
    EXPECT_EQ(decision->version.ToString(), release);
    EXPECT_EQ(decision->supports_default_network_opts, user_network_got_mtu);
    if (!user_network_got_mtu) {
      EXPECT_THAT(decision->reason, ::testing::HasSubstr("ignores it"));
      EXPECT_THAT(decision->reason, ::testing::Not(::testing::HasSubstr("refuses default")));
    }
  }
}

TEST(DecideDockerdTest, AbsentDockerdAssumesOldestAndSaysSo) {
  const auto decision = DecideDockerd("auto", std::nullopt);
  EXPECT_EQ(decision->source, "assumed");
  EXPECT_EQ(decision->version.ToString(), "20.10.0");
  EXPECT_FALSE(decision->supports_default_network_opts);
  EXPECT_NE(decision->reason.find("--dockerd-version"), std::string::npos);
}

TEST(DecideDockerdTest, BadFlagIsBadInput) {
  auto decision = DecideDockerd("newest", std::nullopt);
  ASSERT_FALSE(decision.ok());
  EXPECT_EQ(decision.error().ExitCode(), 2);
  EXPECT_NE(decision.error().Message().find("'newest'"), std::string::npos);
}

}  // namespace
}  // namespace dind::netcfg
