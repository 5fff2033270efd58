// SPDX-License-Identifier: Apache-2.0
// doctor's iptables-raw check on values: the kernel's word on iptable_raw (ip_tables_names,
// /sys/module, modules.builtin, the kernel config), dockerd's release and its firewall backend.
#include "daemon/doctor/raw_table_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/mocks/temp_dir.h"

namespace dind::doctor {
namespace {

using ::testing::HasSubstr;

// A kernel with both backends as modules, nothing loaded, iptable_raw as `raw_config`.
netcfg::SystemFacts Kernel(const std::string& raw_config) {
  netcfg::SystemFacts facts;
  facts.kernel_release = "6.1.0-28-amd64";
  facts.kernel_config = "CONFIG_NF_TABLES=m\nCONFIG_IP_NF_IPTABLES=m\n" + raw_config;
  facts.kernel_config_source = "/boot/config-6.1.0-28-amd64";
  facts.proc_modules = "";
  facts.modules_builtin = "";
  return facts;
}

RawTableFacts Facts(const netcfg::SystemFacts& system,
                    std::optional<netcfg::DockerVersion> version) {
  RawTableFacts facts;
  facts.kernel = netcfg::DetectKernel(system);
  facts.legacy_tables_in_use = system.ip_tables_names && !system.ip_tables_names->empty();
  facts.dockerd_version = version;
  facts.version_source = "test";
  facts.kernel_source = "test files (pid 1)";
  facts.info_source = "GET /info of unix:///run/d.sock";
  return facts;
}

const netcfg::DockerVersion k27{27, 5, 1};
const netcfg::DockerVersion k281{28, 1, 1};
const netcfg::DockerVersion k285{28, 5, 2};
const netcfg::DockerVersion k29{29, 0, 1};

// Legacy tables in use here, so dockerd's iptables is taken to be the legacy one.
netcfg::SystemFacts LegacyKernelWithoutRaw() {
  netcfg::SystemFacts system = Kernel("# CONFIG_IP_NF_RAW is not set\n");
  system.ip_tables_names = "nat\nfilter\n";
  system.ip_tables_names_present = true;
  return system;
}

TEST(RawTableCheckTest, KernelFactsSeeTheRawTable) {
  netcfg::SystemFacts registered = Kernel("CONFIG_IP_NF_RAW=m\n");
  registered.ip_tables_names = "filter\nraw\n";
  EXPECT_TRUE(netcfg::DetectKernel(registered).iptable_raw.loaded);

  netcfg::SystemFacts sys_module = Kernel("CONFIG_IP_NF_RAW=m\n");
  sys_module.sys_modules = {"iptable_raw"};
  EXPECT_TRUE(netcfg::DetectKernel(sys_module).iptable_raw.loaded);

  netcfg::SystemFacts builtin = Kernel("");
  builtin.kernel_config.reset();
  builtin.modules_builtin = "kernel/net/ipv4/netfilter/iptable_raw.ko\n";
  const auto kernel = netcfg::DetectKernel(builtin);
  EXPECT_FALSE(kernel.iptable_raw.loaded);
  EXPECT_TRUE(kernel.iptable_raw.builtin);

  const auto module = netcfg::DetectKernel(Kernel("CONFIG_IP_NF_RAW=m\n")).iptable_raw;
  EXPECT_EQ(module.available, netcfg::Availability::kYes);
  EXPECT_FALSE(module.loaded);
  EXPECT_FALSE(module.builtin);
  EXPECT_EQ(netcfg::DetectKernel(Kernel("")).iptable_raw.available, netcfg::Availability::kNo);
  // "raw" must be a whole line.
  netcfg::SystemFacts lookalike = Kernel("");
  lookalike.ip_tables_names = "rawish\n";
  EXPECT_FALSE(netcfg::DetectKernel(lookalike).iptable_raw.loaded);
}

TEST(RawTableCheckTest, PresentTableIsOkForAnyRelease) {
  netcfg::SystemFacts system = LegacyKernelWithoutRaw();
  system.sys_modules = {"iptable_raw"};
  for (const auto& version : {k27, k285, k29}) {
    const CheckResult result = CheckRawTable(Facts(system, version));
    EXPECT_EQ(result.id, "iptables-raw");
    EXPECT_EQ(result.status, CheckStatus::kOk) << version.ToString();
  }
  netcfg::SystemFacts builtin = LegacyKernelWithoutRaw();
  builtin.kernel_config = "CONFIG_NF_TABLES=m\nCONFIG_IP_NF_IPTABLES=y\nCONFIG_IP_NF_RAW=y\n";
  EXPECT_EQ(CheckRawTable(Facts(builtin, k29)).status, CheckStatus::kOk);
}

TEST(RawTableCheckTest, Before28ItIsNotNeeded) {
  const CheckResult result = CheckRawTable(Facts(LegacyKernelWithoutRaw(), k27));
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_THAT(result.summary, HasSubstr("not needed"));
  EXPECT_THAT(result.summary, HasSubstr("27.5.1"));
}

TEST(RawTableCheckTest, From28_2EveryBridgeContainerFails) {
  const CheckResult result = CheckRawTable(Facts(LegacyKernelWithoutRaw(), k285));
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.summary, HasSubstr("dockerd starts, but every container on a bridge network"));
  EXPECT_THAT(result.summary, HasSubstr("DIRECT ACCESS FILTERING"));
  EXPECT_THAT(result.summary, HasSubstr("CONFIG_IP_NF_RAW=n"));
  // The fixes, in order: the module, the nftables backend, the insecure opt-out.
  const auto module = result.fix.find("load iptable_raw");
  const auto nft = result.fix.find("nftables");
  const auto insecure = result.fix.find("DOCKER_INSECURE_NO_IPTABLES_RAW=1");
  ASSERT_NE(module, std::string::npos);
  ASSERT_NE(nft, std::string::npos);
  ASSERT_NE(insecure, std::string::npos);
  EXPECT_LT(module, nft);
  EXPECT_LT(nft, insecure);
  EXPECT_THAT(result.source, HasSubstr("iptables legacy"));
  EXPECT_THAT(result.source, HasSubstr("ip_tables_names"));
}

TEST(RawTableCheckTest, In28_0To28_1OnlyPublishedPortsFail) {
  const CheckResult result = CheckRawTable(Facts(LegacyKernelWithoutRaw(), k281));
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.summary, HasSubstr("published port (-p)"));
}

TEST(RawTableCheckTest, AModuleNotYetLoadedWarns) {
  netcfg::SystemFacts system = LegacyKernelWithoutRaw();
  system.kernel_config = "CONFIG_NF_TABLES=m\nCONFIG_IP_NF_IPTABLES=m\nCONFIG_IP_NF_RAW=m\n";
  const CheckResult result = CheckRawTable(Facts(system, k29));
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.summary, HasSubstr("loads it on first use"));
}

// A module not loaded that the node withholds: the kernel's load on first use cannot happen.
TEST(RawTableCheckTest, AModuleWithheldByModuleBlacklistOrInstallFails) {
  netcfg::SystemFacts system = LegacyKernelWithoutRaw();
  system.kernel_config = "CONFIG_NF_TABLES=m\nCONFIG_IP_NF_IPTABLES=m\nCONFIG_IP_NF_RAW=m\n";
  RawTableFacts facts = Facts(system, k285);
  AddCmdlinePolicy("BOOT_IMAGE=/vmlinuz root=/dev/vda1 module_blacklist=nf_tables,iptable_raw",
                   "iptable_raw", facts.raw_policy);
  CheckResult result = CheckRawTable(facts);
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.summary,
              HasSubstr("withholds iptable_raw from loading (module_blacklist=nf_tables,"
                        "iptable_raw on /proc/cmdline)"));
  EXPECT_THAT(result.summary, HasSubstr("DIRECT ACCESS FILTERING"));
  EXPECT_THAT(result.fix, HasSubstr("module_blacklist="));
  EXPECT_THAT(result.fix, HasSubstr("load iptable_raw"));
  EXPECT_THAT(result.fix, HasSubstr("DOCKER_INSECURE_NO_IPTABLES_RAW=1"));
  EXPECT_EQ(result.observed["iptable_raw_withheld_by"].size(), 1U);

  RawTableFacts installed = Facts(system, k29);
  AddModprobeConfPolicy("# keep the raw table out\ninstall iptable-raw /bin/false\n",
                        "/etc/modprobe.d/no-raw.conf", "iptable_raw", installed.raw_policy);
  result = CheckRawTable(installed);
  EXPECT_EQ(result.status, CheckStatus::kFail);
  EXPECT_THAT(result.summary,
              HasSubstr("install iptable-raw /bin/false in /etc/modprobe.d/no-raw.conf"));

  // Before 28.0 dockerd does not need it, withheld or not.
  RawTableFacts old = Facts(system, k27);
  old.raw_policy = installed.raw_policy;
  EXPECT_EQ(CheckRawTable(old).status, CheckStatus::kOk);
}

// `blacklist` ignores aliases only; the kernel asks for the module by name, so it still loads.
TEST(RawTableCheckTest, ABlacklistStillWarnsAndSaysWhyItDoesNotStopTheLoad) {
  netcfg::SystemFacts system = LegacyKernelWithoutRaw();
  system.kernel_config = "CONFIG_NF_TABLES=m\nCONFIG_IP_NF_IPTABLES=m\nCONFIG_IP_NF_RAW=m\n";
  RawTableFacts facts = Facts(system, k285);
  AddModprobeConfPolicy("blacklist iptable_raw\n", "/etc/modprobe.d/bl.conf", "iptable_raw",
                        facts.raw_policy);
  AddCmdlinePolicy("quiet modprobe.blacklist=iptable-raw", "iptable_raw", facts.raw_policy);
  const CheckResult result = CheckRawTable(facts);
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.summary, HasSubstr("blacklist iptable_raw in /etc/modprobe.d/bl.conf, "
                                        "modprobe.blacklist=iptable-raw on /proc/cmdline does "
                                        "not stop that load"));
  EXPECT_TRUE(facts.raw_policy.withheld_by.empty());
}

TEST(RawTableCheckTest, ModuleLoadPolicyParsing) {
  ModuleLoadPolicy policy;
  // The kernel compares module_blacklist= names exactly; other modules and keys do not count.
  AddCmdlinePolicy("module_blacklist=iptable-raw,iptable_rawx foo.module_blacklist=iptable_raw",
                   "iptable_raw", policy);
  EXPECT_TRUE(policy.withheld_by.empty());
  // An install command that still runs modprobe loads it; a continued line is one line.
  AddModprobeConfPolicy(
      "install iptable_raw /sbin/modprobe --ignore-install iptable_raw && echo loaded\n"
      "install iptable_raw \\\n  /bin/true\n#install iptable_raw /bin/false\n"
      "install iptable_nat /bin/false\n",
      "/lib/modprobe.d/x.conf", "iptable_raw", policy);
  EXPECT_EQ(policy.withheld_by,
            std::vector<std::string>{"install iptable_raw /bin/true in /lib/modprobe.d/x.conf"});
}

TEST(RawTableCheckTest, ReadsTheLoadPolicyFromCmdlineAndModprobeDirs) {
  testing::TempDir dir;
  for (const char* sub : {"proc", "etc", "etc/modprobe.d", "lib", "lib/modprobe.d"}) {
    ASSERT_EQ(::mkdir((dir / sub).c_str(), 0755), 0) << sub;
  }
  testing::WriteTestFile(dir / "proc/cmdline", "root=/dev/vda1 module_blacklist=iptable_raw\n",
                         0444);
  testing::WriteTestFile(dir / "etc/modprobe.d/raw.conf", "blacklist iptable_raw\n", 0644);
  // The same name in /etc hides /lib's; a file not named *.conf is not read.
  testing::WriteTestFile(dir / "lib/modprobe.d/raw.conf", "install iptable_raw /bin/false\n", 0644);
  testing::WriteTestFile(dir / "lib/modprobe.d/raw.conf.bak", "install iptable_raw /bin/false\n",
                         0644);
  const ModuleLoadPolicy policy = ReadModuleLoadPolicy(HostFiles(dir.path()), "iptable_raw");
  EXPECT_EQ(policy.withheld_by,
            std::vector<std::string>{"module_blacklist=iptable_raw on /proc/cmdline"});
  EXPECT_EQ(policy.blacklisted_by,
            std::vector<std::string>{"blacklist iptable_raw in /etc/modprobe.d/raw.conf"});
}

TEST(RawTableCheckTest, TheNftablesBackendDoesNotNeedIt) {
  RawTableFacts facts = Facts(LegacyKernelWithoutRaw(), k29);
  facts.firewall_driver = "nftables";
  facts.info_answered = true;
  const CheckResult result = CheckRawTable(facts);
  EXPECT_EQ(result.status, CheckStatus::kOk);
  EXPECT_THAT(result.summary, HasSubstr("not needed"));
  EXPECT_THAT(result.source, HasSubstr("FirewallBackend.Driver"));

  // dockerd's iptables is iptables-nft when the kernel lacks legacy ip_tables.
  netcfg::SystemFacts nft_only = Kernel("# CONFIG_IP_NF_RAW is not set\n");
  nft_only.kernel_config = "CONFIG_NF_TABLES=m\n";
  RawTableFacts iptables_nft = Facts(nft_only, k29);
  iptables_nft.firewall_driver = "iptables";
  const CheckResult nft = CheckRawTable(iptables_nft);
  EXPECT_EQ(nft.status, CheckStatus::kOk);
  EXPECT_THAT(nft.source, HasSubstr("iptables nft (the kernel lacks legacy ip_tables"));
}

TEST(RawTableCheckTest, FlavourFollowsTheStepsThatNeedNoProof) {
  netcfg::SystemFacts no_nft = Kernel("");
  no_nft.kernel_config = "CONFIG_IP_NF_IPTABLES=m\n";
  EXPECT_TRUE(GuessIptablesFlavor(Facts(no_nft, k29)).legacy);
  EXPECT_TRUE(GuessIptablesFlavor(Facts(LegacyKernelWithoutRaw(), k29)).legacy);
  // Nothing in use on a 6.1 kernel: dind-netcfg's default, nft.
  const IptablesFlavor fresh = GuessIptablesFlavor(Facts(Kernel(""), k29));
  EXPECT_FALSE(fresh.legacy);
  EXPECT_THAT(fresh.why, HasSubstr("default backend for kernel 6.1.0-28-amd64"));
  netcfg::SystemFacts old = Kernel("");
  old.kernel_release = "3.10.0-1160.el7.x86_64";
  EXPECT_TRUE(GuessIptablesFlavor(Facts(old, k29)).legacy);
}

TEST(RawTableCheckTest, TheInsecureOptOutWarns) {
  RawTableFacts facts = Facts(LegacyKernelWithoutRaw(), k285);
  facts.insecure_no_raw = true;
  facts.info_answered = true;
  facts.firewall_driver = "iptables";
  const CheckResult result = CheckRawTable(facts);
  EXPECT_EQ(result.status, CheckStatus::kWarn);
  EXPECT_THAT(result.summary, HasSubstr("DOCKER_INSECURE_NO_IPTABLES_RAW"));
}

TEST(RawTableCheckTest, UnknownVersionWithoutTheTableIsUnknown) {
  const CheckResult result = CheckRawTable(Facts(LegacyKernelWithoutRaw(), std::nullopt));
  EXPECT_EQ(result.status, CheckStatus::kUnknown);
  EXPECT_THAT(result.summary, HasSubstr("version is unknown"));
}

TEST(RawTableCheckTest, ReadsTheKernelFilesThroughHostFiles) {
  testing::TempDir dir;
  ASSERT_EQ(::mkdir((dir / "proc").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "proc/net").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "sys").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "sys/module").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "sys/module/ip_tables").c_str(), 0755), 0);
  testing::WriteTestFile(dir / "proc/net/ip_tables_names", "nat\n", 0444);
  testing::WriteTestFile(dir / "proc/modules", "ip_tables 36864 1 iptable_nat, Live 0x0\n", 0444);
  const HostFiles files(dir.path());
  netcfg::SystemFacts system = ReadRawTableKernelFiles(files, "6.1.0-28-amd64");
  ASSERT_TRUE(system.ip_tables_names.has_value());
  EXPECT_EQ(*system.ip_tables_names, "nat\n");
  EXPECT_EQ(system.sys_modules, std::vector<std::string>{"ip_tables"});
  EXPECT_FALSE(system.kernel_config.has_value());
  auto kernel = netcfg::DetectKernel(system);
  EXPECT_FALSE(kernel.iptable_raw.loaded);
  EXPECT_EQ(kernel.iptable_raw.available, netcfg::Availability::kUnknown);
  // Missing, and nothing says the kernel could load it: fail from 28.2 on.
  RawTableFacts facts = Facts(system, k285);
  EXPECT_EQ(CheckRawTable(facts).status, CheckStatus::kFail);

  ASSERT_EQ(::mkdir((dir / "sys/module/iptable_raw").c_str(), 0755), 0);
  system = ReadRawTableKernelFiles(files, "6.1.0-28-amd64");
  EXPECT_TRUE(netcfg::DetectKernel(system).iptable_raw.loaded);
  EXPECT_EQ(CheckRawTable(Facts(system, k285)).status, CheckStatus::kOk);
}

}  // namespace
}  // namespace dind::doctor
