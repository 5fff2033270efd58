// SPDX-License-Identifier: Apache-2.0
// The nf_tables backend against the real kernel, each test in network namespaces of its own;
// results are checked with the nft command line run inside the namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "rules/nft/nft_backend.h"
#include "rules/nft/nft_watcher.h"
#include "tests/rules/clamp_path.h"
#include "tests/support/netns.h"

namespace dind::rules {
namespace {

using ::dind::testing::EnterNetns;
using ::dind::testing::RunShell;
using ::dind::testing::ScopedNetns;
using ::testing::HasSubstr;
using ::testing::Not;

Cidr C(const char* text) {
  return *Cidr::Parse(text);
}

// Runs `body` with a backend whose socket lives in `netns`.
template <typename Body>
void WithBackend(const ScopedNetns& netns, Body body) {
  EnterNetns inside(netns);
  Result<std::unique_ptr<MasqueradeBackend>> backend = MakeNftBackend();
  ASSERT_TRUE(backend.ok()) << backend.error().Message();
  body(**backend);
}

#define ASSERT_OK(expr)                                     \
  do {                                                      \
    auto status_ = (expr);                                  \
    ASSERT_TRUE(status_.ok()) << status_.error().Message(); \
  } while (0)

// "# handle N" of the listed line containing `needle`, or -1.
long HandleOf(const std::string& listing, const std::string& needle) {
  std::istringstream lines(listing);
  std::string line;
  const std::regex handle(R"(# handle (\d+))");
  while (std::getline(lines, line)) {
    std::smatch match;
    if (line.find(needle) != std::string::npos && std::regex_search(line, match, handle)) {
      return std::stol(match[1]);
    }
  }
  return -1;
}

class NftKernelTest : public ::testing::Test {
 protected:
  void SetUp() override { DIND_REQUIRE_NETNS(); }
};

TEST_F(NftKernelTest, ApplyInstallsTableChainAndRulesThatNftListsAsWritten) {
  ScopedNetns netns("nftk-apply");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    EXPECT_EQ(backend.kind(), BackendKind::kNft);
    ASSERT_OK(backend.Apply({{C("10.1.0.0/16"), C("10.2.3.0/24"), C("10.4.0.0/23")}, "eth0"}));
  });
  const std::string listing = netns.MustExec("nft list ruleset");
  EXPECT_THAT(listing, HasSubstr("table ip dind-netcfg {"));
  EXPECT_THAT(listing, HasSubstr("chain postrouting {"));
  EXPECT_THAT(listing, HasSubstr("type nat hook postrouting priority srcnat; policy accept;"));
  for (const char* source : {"10.1.0.0/16", "10.2.3.0/24", "10.4.0.0/23"}) {
    EXPECT_THAT(listing, HasSubstr(std::string("ip saddr ") + source +
                                   " oifname \"eth0\" counter packets 0 bytes 0 masquerade"));
  }
  EXPECT_THAT(listing, Not(HasSubstr("table ip6")));

  WithBackend(netns, [](MasqueradeBackend& backend) {
    Result<BackendState> state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    EXPECT_TRUE(state->container_present);
    EXPECT_TRUE(state->hooked);
    ASSERT_EQ(state->rules.size(), 3u);
    EXPECT_EQ(state->rules[0].source, C("10.1.0.0/16"));
    EXPECT_EQ(state->rules[0].out_interface, "eth0");
    EXPECT_EQ(state->foreign_nat_rules, 0);
    EXPECT_EQ(state->foreign_masquerade_rules, 0);
  });
}

TEST_F(NftKernelTest, TenAppliesLeaveTheSameRulesetAsOne) {
  ScopedNetns netns("nftk-idem");
  const MasqueradeSpec spec{{C("10.1.0.0/16"), C("fd00:1::/64")}, "eth0"};
  WithBackend(netns, [&](MasqueradeBackend& backend) { ASSERT_OK(backend.Apply(spec)); });
  const std::string after_one = netns.MustExec("nft -a list ruleset");
  WithBackend(netns, [&](MasqueradeBackend& backend) {
    for (int i = 0; i < 9; ++i) ASSERT_OK(backend.Apply(spec));
  });
  // Handles included: nothing was deleted and re-added.
  EXPECT_EQ(netns.MustExec("nft -a list ruleset"), after_one);
}

TEST_F(NftKernelTest, ChangedSpecOnlyTouchesTheRulesThatDiffer) {
  ScopedNetns netns("nftk-diff");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply({{C("10.1.0.0/16"), C("10.2.0.0/16")}, "eth0"}));
  });
  const long kept_handle = HandleOf(netns.MustExec("nft -a list ruleset"), "10.2.0.0/16");
  ASSERT_GT(kept_handle, 0);
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply({{C("10.2.0.0/16"), C("10.3.0.0/16")}, "eth0"}));
  });
  const std::string listing = netns.MustExec("nft -a list ruleset");
  EXPECT_EQ(HandleOf(listing, "10.2.0.0/16"), kept_handle);
  EXPECT_EQ(HandleOf(listing, "10.1.0.0/16"), -1);
  EXPECT_GT(HandleOf(listing, "10.3.0.0/16"), kept_handle);
}

TEST_F(NftKernelTest, Ipv6SourcesGetAnIp6TableThatGoesWithThem) {
  ScopedNetns netns("nftk-ip6");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply({{C("10.1.0.0/16"), C("fd00:1::/64")}, "uplink0"}));
  });
  std::string listing = netns.MustExec("nft list ruleset");
  EXPECT_THAT(listing, HasSubstr("table ip6 dind-netcfg {"));
  EXPECT_THAT(listing, HasSubstr("ip6 saddr fd00:1::/64 oifname \"uplink0\" counter packets 0 "
                                 "bytes 0 masquerade"));
  EXPECT_THAT(listing, HasSubstr("ip saddr 10.1.0.0/16 oifname \"uplink0\" counter"));
  WithBackend(netns, [](MasqueradeBackend& backend) {
    Result<BackendState> state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    EXPECT_TRUE(state->hooked);
    EXPECT_EQ(state->rules.size(), 2u);
    ASSERT_OK(backend.Apply({{C("10.1.0.0/16")}, "uplink0"}));
  });
  listing = netns.MustExec("nft list ruleset");
  EXPECT_THAT(listing, Not(HasSubstr("table ip6 dind-netcfg")));
  EXPECT_THAT(listing, HasSubstr("table ip dind-netcfg"));
}

TEST_F(NftKernelTest, RemoveTakesOnlyOurTablesAndAbsentIsSuccess) {
  ScopedNetns netns("nftk-remove");
  netns.MustExec(
      "nft add table ip foreign && "
      "nft add chain ip foreign post '{ type nat hook postrouting priority 50; }' && "
      "nft add rule ip foreign post oifname lo masquerade && "
      "nft add rule ip foreign post counter && "
      "nft add table inet fw && "
      "nft add chain inet fw input '{ type filter hook input priority 0; }' && "
      "nft add rule inet fw input counter");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply({{C("10.1.0.0/16"), C("fd00::/8")}, "eth0"}));
    Result<BackendState> state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    EXPECT_EQ(state->foreign_nat_rules, 2);
    EXPECT_EQ(state->foreign_masquerade_rules, 1);
    ASSERT_OK(backend.Remove());
  });
  const std::string listing = netns.MustExec("nft list ruleset");
  EXPECT_THAT(listing, Not(HasSubstr("dind-netcfg")));
  EXPECT_THAT(listing, HasSubstr("table ip foreign"));
  EXPECT_THAT(listing, HasSubstr("oifname \"lo\" masquerade"));
  EXPECT_THAT(listing, HasSubstr("table inet fw"));
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Remove());
    Result<BackendState> state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    EXPECT_FALSE(state->container_present);
    EXPECT_FALSE(state->hooked);
    EXPECT_TRUE(state->rules.empty());
  });
}

// The sidecar's repeated check: only our table's rules are read, so no census, and the result
// for ours is the same as the full Inspect's.
TEST_F(NftKernelTest, InspectOursReadsOnlyOurRulesAndFindsThemAll) {
  ScopedNetns netns("nftk-ours");
  netns.MustExec(
      "nft add table ip foreign && "
      "nft add chain ip foreign post '{ type nat hook postrouting priority 50; }' && "
      "nft add rule ip foreign post oifname lo masquerade && "
      "nft add rule ip foreign post counter");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply({{C("10.1.0.0/16"), C("10.2.0.0/16"), C("fd00::/8")}, "eth0"}));
    Result<BackendState> full = backend.Inspect();
    Result<BackendState> ours = backend.InspectOurs();
    ASSERT_TRUE(full.ok()) << full.error().Message();
    ASSERT_TRUE(ours.ok()) << ours.error().Message();
    EXPECT_EQ(full->foreign_nat_rules, 2);
    EXPECT_EQ(ours->foreign_nat_rules, 0);
    EXPECT_TRUE(ours->container_present);
    EXPECT_TRUE(ours->hooked);
    ASSERT_EQ(ours->rules.size(), 3u);
    EXPECT_EQ(ours->rules.size(), full->rules.size());
  });
  EnterNetns inside(netns);
  Result<nft::NftSocket> socket = nft::NftSocket::Open();
  ASSERT_TRUE(socket.ok()) << socket.error().Message();
  nft::NetlinkNftKernel kernel(std::move(socket).value());
  Result<nft::NftRuleset> ruleset = kernel.ReadRuleset(nft::RuleScope::kOurRules);
  ASSERT_TRUE(ruleset.ok()) << ruleset.error().Message();
  EXPECT_EQ(ruleset->rules.size(), 3u);
  for (const nft::NftRuleRecord& rule : ruleset->rules) EXPECT_EQ(rule.table, "dind-netcfg");
}

TEST_F(NftKernelTest, ApplyRepairsAChainSomeoneDeleted) {
  ScopedNetns netns("nftk-repair");
  const MasqueradeSpec spec{{C("10.1.0.0/16")}, "eth0"};
  WithBackend(netns, [&](MasqueradeBackend& backend) { ASSERT_OK(backend.Apply(spec)); });
  netns.MustExec(
      "nft flush chain ip dind-netcfg postrouting && "
      "nft delete chain ip dind-netcfg postrouting");
  WithBackend(netns, [&](MasqueradeBackend& backend) {
    Result<BackendState> state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    EXPECT_TRUE(state->container_present);
    EXPECT_FALSE(state->hooked);
    EXPECT_TRUE(state->rules.empty());
    ASSERT_OK(backend.Apply(spec));
  });
  EXPECT_THAT(netns.MustExec("nft list ruleset"),
              HasSubstr("ip saddr 10.1.0.0/16 oifname \"eth0\" counter packets 0 bytes 0 "
                        "masquerade"));
}

// client 10.77.0.2 -- 10.77.0.1 router 10.88.0.1 -- 10.88.0.2 server. The server has no route
// back to 10.77.0.0/24, so a TCP connection only completes if the router masquerades.
TEST_F(NftKernelTest, MasqueradedTrafficMovesTheCounterAndArrivesFromTheRouter) {
  ScopedNetns client("nftk-client");
  ScopedNetns router("nftk-router");
  ScopedNetns server("nftk-server");
  router.MustExec("ip link add c1 type veth peer name c0 netns " + client.name() +
                  " && ip link add s1 type veth peer name s0 netns " + server.name() +
                  " && ip addr add 10.77.0.1/24 dev c1 && ip addr add 10.88.0.1/24 dev s1"
                  " && ip link set c1 up && ip link set s1 up"
                  " && sysctl -qw net.ipv4.ip_forward=1");
  client.MustExec(
      "ip addr add 10.77.0.2/24 dev c0 && ip link set c0 up"
      " && ip route add default via 10.77.0.1");
  server.MustExec("ip addr add 10.88.0.2/24 dev s0 && ip link set s0 up");

  WithBackend(router, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply({{C("10.77.0.0/24")}, "s1"}));
  });

  const std::string exchange = RunShell("nsenter --net=" + server.path() +
                                        " timeout 10 nc -v -n -l 10.88.0.2 5555 & "
                                        "for i in 1 2 3 4 5 6 7 8 9 10; do "
                                        "  echo hello-from-client | nsenter --net=" +
                                        client.path() +
                                        "    nc -N -w 2 10.88.0.2 5555 && break; sleep 0.3; "
                                        "done; wait")
                                   .output;
  EXPECT_THAT(exchange, HasSubstr("Connection received on 10.88.0.1"));
  EXPECT_THAT(exchange, HasSubstr("hello-from-client"));

  std::uint64_t packets = 0;
  WithBackend(router, [&](MasqueradeBackend& backend) {
    Result<BackendState> state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    ASSERT_EQ(state->rules.size(), 1u);
    packets = state->rules[0].packets;
    EXPECT_GE(packets, 1u);  // nat chains see the first packet of each connection
    EXPECT_GT(state->rules[0].bytes, 0u);

    // A diff that adds a source must not reset the existing rule's counter.
    ASSERT_OK(backend.Apply({{C("10.77.0.0/24"), C("10.99.0.0/16")}, "s1"}));
    state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    ASSERT_EQ(state->rules.size(), 2u);
    EXPECT_EQ(state->rules[0].source, C("10.77.0.0/24"));
    EXPECT_EQ(state->rules[0].packets, packets);
  });
  EXPECT_THAT(
      router.MustExec("nft list ruleset"),
      HasSubstr("ip saddr 10.77.0.0/24 oifname \"s1\" counter packets " + std::to_string(packets)));
}

TEST_F(NftKernelTest, StaleGenerationMakesTheKernelRefuseTheWholeBatch) {
  ScopedNetns netns("nftk-gen");
  EnterNetns inside(netns);
  Result<nft::NftSocket> socket = nft::NftSocket::Open();
  ASSERT_TRUE(socket.ok()) << socket.error().Message();
  nft::NetlinkNftKernel kernel(std::move(socket).value());
  Result<nft::NftRuleset> before = kernel.ReadRuleset(nft::RuleScope::kAllRules);
  ASSERT_TRUE(before.ok()) << before.error().Message();
  ASSERT_NE(before->generation, 0u);

  netns.MustExec("nft add table ip someone-else");
  Status stale = kernel.Commit({nft::AddTable{Family::kIPv4}}, before->generation);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().errnum, ERESTART);
  EXPECT_THAT(netns.MustExec("nft list tables"), Not(HasSubstr("dind-netcfg")));

  Result<nft::NftRuleset> now = kernel.ReadRuleset(nft::RuleScope::kAllRules);
  ASSERT_TRUE(now.ok()) << now.error().Message();
  EXPECT_NE(now->generation, before->generation);
  ASSERT_OK(kernel.Commit({nft::AddTable{Family::kIPv4}}, now->generation));
  EXPECT_THAT(netns.MustExec("nft list tables"), HasSubstr("table ip dind-netcfg"));
}

TEST_F(NftKernelTest, KernelRefusalNamesTheFailedOperation) {
  ScopedNetns netns("nftk-refuse");
  EnterNetns inside(netns);
  Result<nft::NftSocket> socket = nft::NftSocket::Open();
  ASSERT_TRUE(socket.ok()) << socket.error().Message();
  nft::NetlinkNftKernel kernel(std::move(socket).value());
  // Deleting a table that does not exist fails in the kernel with ENOENT.
  Status status = kernel.Commit({nft::AddTable{Family::kIPv4}, nft::DeleteTable{Family::kIPv6}}, 0);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().errnum, ENOENT);
  EXPECT_THAT(status.error().Message(), HasSubstr("delete table ip6 dind-netcfg"));
  // All or nothing: the table added first in the same batch is not there either.
  EXPECT_THAT(netns.MustExec("nft list tables"), Not(HasSubstr("dind-netcfg")));
}

TEST_F(NftKernelTest, WatcherReportsChangesToOurTablesOnly) {
  ScopedNetns netns("nftk-watch");
  EnterNetns inside(netns);
  Result<nft::NftChangeWatcher> watcher = nft::NftChangeWatcher::Open();
  ASSERT_TRUE(watcher.ok()) << watcher.error().Message();
  Result<std::unique_ptr<MasqueradeBackend>> backend = MakeNftBackend();
  ASSERT_TRUE(backend.ok()) << backend.error().Message();

  auto drain = [&]() {
    Result<bool> touched = watcher->DrainEvents();
    EXPECT_TRUE(touched.ok()) << touched.error().Message();
    return touched.ok() && *touched;
  };
  EXPECT_FALSE(drain());
  ASSERT_OK((*backend)->Apply({{C("10.1.0.0/16")}, "eth0"}));
  EXPECT_TRUE(drain());
  EXPECT_FALSE(drain());  // drained

  netns.MustExec("nft add table ip other && nft add chain ip other c");
  EXPECT_FALSE(drain());
  netns.MustExec("nft flush chain ip dind-netcfg postrouting");
  EXPECT_TRUE(drain());
  netns.MustExec("nft delete table ip dind-netcfg");
  EXPECT_TRUE(drain());
}

MasqueradeSpec Clamped(std::vector<std::pair<const char*, std::uint16_t>> clamps) {
  MasqueradeSpec spec{{C("10.1.0.0/16")}, "eth0"};
  for (const auto& [network, mss] : clamps) spec.clamps.push_back({C(network), mss});
  return spec;
}

// The two rules of one clamp as `nft list` prints them.
std::string ClampListing(const std::string& family, const std::string& network, int mss) {
  const std::string rest = " " + network + " tcp flags syn / syn,rst tcp option maxseg size > " +
                           std::to_string(mss) + " tcp option maxseg size set " +
                           std::to_string(mss) + " counter packets 0 bytes 0\n";
  return "\t\t" + family + " saddr" + rest + "\t\t" + family + " daddr" + rest;
}

constexpr const char* kForwardChainHead =
    "\tchain forward {\n\t\ttype filter hook forward priority mangle; policy accept;\n";

TEST_F(NftKernelTest, ClampsAreListedAsTheEquivalentRulesAndFollowTheSpec) {
  ScopedNetns netns("nftk-clamp");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply(Clamped({{"10.1.0.0/16", 1320}, {"10.2.4.0/23", 1400}})));
  });
  const std::string v4 = netns.MustExec("nft list table ip dind-netcfg");
  EXPECT_THAT(v4,
              HasSubstr(std::string(kForwardChainHead) + ClampListing("ip", "10.1.0.0/16", 1320) +
                        ClampListing("ip", "10.2.4.0/23", 1400) + "\t}\n"));
  // IPv6 clamps alone bring the ip6 table, with its (empty) postrouting chain.
  EXPECT_THAT(netns.MustExec("nft list tables"), Not(HasSubstr("ip6")));
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}})));
  });
  EXPECT_THAT(netns.MustExec("nft list table ip6 dind-netcfg"),
              HasSubstr(std::string(kForwardChainHead) + ClampListing("ip6", "fd00:1::/64", 1300) +
                        "\t}\n"));

  // Again: nothing changes, handles included.
  const std::string once = netns.MustExec("nft -a list ruleset");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}})));
    Result<BackendState> state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    ASSERT_EQ(state->clamps.size(), 2u);
    EXPECT_EQ(state->clamps[0].network, C("10.1.0.0/16"));
    EXPECT_EQ(state->clamps[0].mss, 1320);
    EXPECT_EQ(state->clamps[1].network, C("fd00:1::/64"));
    EXPECT_EQ(state->clamps[1].mss, 1300);
    EXPECT_EQ(state->foreign_nat_rules, 0);
    EXPECT_EQ(state->foreign_masquerade_rules, 0);
  });
  EXPECT_EQ(netns.MustExec("nft -a list ruleset"), once);

  // A changed MSS replaces its rules; no IPv4 clamps: the forward chain goes.
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply(Clamped({{"10.1.0.0/16", 1260}, {"fd00:1::/64", 1300}})));
  });
  EXPECT_THAT(netns.MustExec("nft list table ip dind-netcfg"),
              HasSubstr(ClampListing("ip", "10.1.0.0/16", 1260)));
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply(Clamped({{"fd00:1::/64", 1300}})));
  });
  EXPECT_THAT(netns.MustExec("nft list table ip dind-netcfg"), Not(HasSubstr("chain forward")));
  EXPECT_THAT(netns.MustExec("nft list table ip6 dind-netcfg"), HasSubstr("chain forward"));

  WithBackend(netns, [](MasqueradeBackend& backend) { ASSERT_OK(backend.Remove()); });
  EXPECT_THAT(netns.MustExec("nft list ruleset"), Not(HasSubstr("dind-netcfg")));
}

TEST_F(NftKernelTest, ClampRulesWrittenByNftAreReadAsOurs) {
  ScopedNetns netns("nftk-clamp-nft");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    ASSERT_OK(backend.Apply({{C("10.1.0.0/16")}, "eth0"}));
  });
  netns.MustExec(
      "nft add chain ip dind-netcfg forward '{ type filter hook forward priority mangle; "
      "policy accept; }' && "
      "nft add rule ip dind-netcfg forward ip saddr 10.1.0.0/16 tcp flags \\& \\(syn\\|rst\\) "
      "== syn tcp option maxseg size \\> 1320 tcp option maxseg size set 1320 counter && "
      "nft add rule ip dind-netcfg forward ip daddr 10.1.0.0/16 tcp flags \\& \\(syn\\|rst\\) "
      "== syn tcp option maxseg size \\> 1320 tcp option maxseg size set 1320 counter");
  const std::string before = netns.MustExec("nft -a list ruleset");
  WithBackend(netns, [](MasqueradeBackend& backend) {
    Result<BackendState> state = backend.InspectOurs();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    ASSERT_EQ(state->clamps.size(), 1u);
    EXPECT_EQ(state->clamps[0].mss, 1320);
    ASSERT_OK(backend.Apply(Clamped({{"10.1.0.0/16", 1320}})));
  });
  EXPECT_EQ(netns.MustExec("nft -a list ruleset"), before);
}

TEST(NftClampEffectTest, ForwardedSynsOfBothDirectionsAreClampedInBothFamilies) {
  DIND_REQUIRE_NETNS();
  dind::testing::ClampPath path;
  auto seen = path.Connect(Family::kIPv4);
  EXPECT_EQ(seen.server, 1460);
  EXPECT_EQ(seen.client, 1460);

  MasqueradeSpec spec{{}, "r1"};
  spec.clamps = {{C(dind::testing::ClampPath::kClientNetworkV4), 1300},
                 {C(dind::testing::ClampPath::kClientNetworkV6), 1220}};
  WithBackend(path.router(), [&](MasqueradeBackend& backend) { ASSERT_OK(backend.Apply(spec)); });
  // The client's SYN (saddr NET) and the server's SYN-ACK (daddr NET) are both clamped.
  seen = path.Connect(Family::kIPv4);
  EXPECT_EQ(seen.server, 1300);
  EXPECT_EQ(seen.client, 1300);
  seen = path.Connect(Family::kIPv6);
  EXPECT_EQ(seen.server, 1220);
  EXPECT_EQ(seen.client, 1220);
  WithBackend(path.router(), [&](MasqueradeBackend& backend) {
    Result<BackendState> state = backend.Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    ASSERT_EQ(state->clamps.size(), 2u);
    EXPECT_EQ(state->clamps[0].packets, 2u);  // one SYN, one SYN-ACK
    EXPECT_EQ(state->clamps[1].packets, 2u);
    ASSERT_OK(backend.Remove());
  });
  seen = path.Connect(Family::kIPv6);
  EXPECT_EQ(seen.server, 1440);
}

}  // namespace
}  // namespace dind::rules
