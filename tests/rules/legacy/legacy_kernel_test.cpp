// SPDX-License-Identifier: Apache-2.0
// The legacy backend against the kernel's ip_tables, each test in its own network namespace,
// checked with iptables-legacy/ip6tables-legacy run in that namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "rules/legacy/legacy_backend.h"
#include "tests/rules/clamp_path.h"
#include "tests/support/netns.h"

namespace dind::rules::legacy {
namespace {

using dind::testing::EnterNetns;
using dind::testing::ScopedNetns;
using ::testing::HasSubstr;
using ::testing::Not;

Cidr C(const char* text) {
  return Cidr::Parse(text).value();
}

MasqueradeSpec Spec(std::vector<const char*> sources, const char* out_interface = "eth0") {
  MasqueradeSpec spec;
  for (const char* source : sources) spec.sources.push_back(C(source));
  spec.out_interface = out_interface;
  return spec;
}

// Everything a test needs: its namespace and a lock file of its own, so it never contends with
// the machine's real iptables users on /run/xtables.lock.
class LegacyKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DIND_REQUIRE_NETNS();
    netns_ = std::make_unique<ScopedNetns>("dind-legacy");
    char pattern[] = "/tmp/dind-legacy-xtables-XXXXXX";
    const int fd = ::mkstemp(pattern);
    ASSERT_GE(fd, 0);
    ::close(fd);
    lock_path_ = pattern;
    auto backend = MakeLegacyBackend(LegacyOptions{lock_path_, std::chrono::seconds(10), 50});
    ASSERT_TRUE(backend.ok()) << backend.error().Message();
    backend_ = std::move(*backend);
  }
  void TearDown() override {
    if (!lock_path_.empty()) std::filesystem::remove(lock_path_);
  }

  // Runs an iptables command line in the namespace, under our lock file.
  std::string Iptables(const std::string& command) {
    return netns_->MustExec("XTABLES_LOCKFILE=" + lock_path_ + " " + command);
  }
  // The nat table as iptables-save prints it, without the timestamp comments.
  std::string Save(const char* tool = "iptables-legacy-save", const char* flags = "") {
    std::istringstream lines(Iptables(std::string(tool) + " -t nat " + flags));
    std::string kept;
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with("#")) kept += line + "\n";
    }
    return kept;
  }

  std::unique_ptr<ScopedNetns> netns_;
  std::string lock_path_;
  std::unique_ptr<MasqueradeBackend> backend_;
};

constexpr const char* kPolicies =
    "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n";
constexpr const char* kManglePolicies =
    "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
    "-P POSTROUTING ACCEPT\n";

MasqueradeSpec Clamped(std::vector<std::pair<const char*, std::uint16_t>> clamps) {
  MasqueradeSpec spec = Spec({"10.1.0.0/16"});
  for (const auto& [network, mss] : clamps) spec.clamps.push_back({C(network), mss});
  return spec;
}

// The two rules of one clamp as iptables -S prints them.
std::string ClampRules(const std::string& network, int mss) {
  const std::string match = " -p tcp -m tcp --tcp-flags SYN,RST SYN -m tcpmss --mss " +
                            std::to_string(mss + 1) + ":65535 -j TCPMSS --set-mss " +
                            std::to_string(mss) + "\n";
  return "-A DIND-NETCFG-FORWARD -s " + network + match + "-A DIND-NETCFG-FORWARD -d " + network +
         match;
}

TEST_F(LegacyKernelTest, ApplyInstallsWhatIptablesWouldAndRemoveTakesItAway) {
  {
    EnterNetns inside(*netns_);
    auto applied = backend_->Apply(Spec({"10.1.0.0/16", "fd00:1::/64", "10.2.0.0/24"}));
    ASSERT_TRUE(applied.ok()) << applied.error().Message();
  }
  EXPECT_EQ(Iptables("iptables-legacy -t nat -S"),
            std::string(kPolicies) +
                "-N DIND-NETCFG-POSTROUTING\n"
                "-A POSTROUTING -j DIND-NETCFG-POSTROUTING\n"
                "-A DIND-NETCFG-POSTROUTING -s 10.1.0.0/16 -o eth0 -j MASQUERADE\n"
                "-A DIND-NETCFG-POSTROUTING -s 10.2.0.0/24 -o eth0 -j MASQUERADE\n");
  EXPECT_EQ(Iptables("ip6tables-legacy -t nat -S"),
            std::string(kPolicies) +
                "-N DIND-NETCFG-POSTROUTING\n"
                "-A POSTROUTING -j DIND-NETCFG-POSTROUTING\n"
                "-A DIND-NETCFG-POSTROUTING -s fd00:1::/64 -o eth0 -j MASQUERADE\n");

  EnterNetns inside(*netns_);
  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok()) << state.error().Message();
  EXPECT_TRUE(state->container_present);
  EXPECT_TRUE(state->hooked);
  ASSERT_EQ(state->rules.size(), 3u);
  EXPECT_EQ(state->rules[0].source, C("10.1.0.0/16"));
  EXPECT_EQ(state->rules[1].source, C("10.2.0.0/24"));
  EXPECT_EQ(state->rules[2].source, C("fd00:1::/64"));
  EXPECT_EQ(state->rules[2].out_interface, "eth0");
  EXPECT_EQ(state->foreign_nat_rules, 0);
  EXPECT_EQ(state->foreign_masquerade_rules, 0);

  auto removed = backend_->Remove();
  ASSERT_TRUE(removed.ok()) << removed.error().Message();
  EXPECT_EQ(Iptables("iptables-legacy -t nat -S"), kPolicies);
  EXPECT_EQ(Iptables("ip6tables-legacy -t nat -S"), kPolicies);
  state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->container_present);
  EXPECT_TRUE(state->rules.empty());
  EXPECT_TRUE(backend_->Remove().ok());
}

TEST_F(LegacyKernelTest, TenAppliesLeaveTheSameTablesAsOne) {
  EnterNetns inside(*netns_);
  const auto spec = Spec({"10.1.0.0/16", "fd00:1::/64", "10.2.0.0/24", "10.1.0.0/16"}, "eth+");
  ASSERT_TRUE(backend_->Apply(spec).ok());
  const std::string v4_once = Save();
  const std::string v6_once = Save("ip6tables-legacy-save");
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(backend_->Apply(spec).ok());
  EXPECT_EQ(Save(), v4_once);
  EXPECT_EQ(Save("ip6tables-legacy-save"), v6_once);
  EXPECT_THAT(v4_once, HasSubstr("-A DIND-NETCFG-POSTROUTING -s 10.1.0.0/16 -o eth+ -j MASQUERADE\n"
                                 "-A DIND-NETCFG-POSTROUTING -s 10.2.0.0/24 -o eth+ -j MASQUERADE\n"
                                 "COMMIT"));
}

TEST_F(LegacyKernelTest, RulesWrittenByIptablesAreReadAsOursAndKept) {
  // The same rules, built by iptables itself, with counters so a re-add would show.
  Iptables(
      "iptables-legacy -t nat -N DIND-NETCFG-POSTROUTING && "
      "iptables-legacy -t nat -A DIND-NETCFG-POSTROUTING -c 5 500 -s 10.1.0.0/16 -o eth0 "
      "-j MASQUERADE && "
      "iptables-legacy -t nat -A POSTROUTING -j DIND-NETCFG-POSTROUTING && "
      "ip6tables-legacy -t nat -N DIND-NETCFG-POSTROUTING && "
      "ip6tables-legacy -t nat -A DIND-NETCFG-POSTROUTING -c 6 600 -s fd00:1::/64 -o eth0 "
      "-j MASQUERADE && "
      "ip6tables-legacy -t nat -A POSTROUTING -j DIND-NETCFG-POSTROUTING");
  const std::string v4_before = Save("iptables-legacy-save", "-c");
  const std::string v6_before = Save("ip6tables-legacy-save", "-c");

  EnterNetns inside(*netns_);
  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok()) << state.error().Message();
  EXPECT_TRUE(state->hooked);
  ASSERT_EQ(state->rules.size(), 2u);
  EXPECT_EQ(state->rules[0].source, C("10.1.0.0/16"));
  EXPECT_EQ(state->rules[0].packets, 5u);
  EXPECT_EQ(state->rules[0].bytes, 500u);
  EXPECT_EQ(state->rules[1].source, C("fd00:1::/64"));
  EXPECT_EQ(state->rules[1].packets, 6u);

  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "fd00:1::/64"})).ok());
  EXPECT_EQ(Save("iptables-legacy-save", "-c"), v4_before);
  EXPECT_EQ(Save("ip6tables-legacy-save", "-c"), v6_before);
}

TEST_F(LegacyKernelTest, ApplyAndRemoveLeaveForeignRulesAsTheyWere) {
  Iptables(
      "iptables-legacy -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE && "
      "iptables-legacy -t nat -N DOCKER && "
      "iptables-legacy -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER && "
      "iptables-legacy -t nat -A DOCKER -i docker0 -j RETURN && "
      "iptables-legacy -t nat -A OUTPUT -d 10.0.0.1/32 -p tcp --dport 80 "
      "-j DNAT --to-destination 10.0.0.2:8080 && "
      "ip6tables-legacy -t nat -A POSTROUTING -s fd00:9::/64 -j MASQUERADE");
  const std::string v4_before = Save();
  const std::string v6_before = Save("ip6tables-legacy-save");

  {
    EnterNetns inside(*netns_);
    ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "10.9.0.0/16", "fd00:1::/64"})).ok());
    // A new spec: 10.9.0.0/16 goes, 10.3.0.0/16 comes, the interface changes.
    ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "10.3.0.0/16", "fd00:1::/64"}, "ens5")).ok());
    auto state = backend_->Inspect();
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(state->foreign_nat_rules, 5);
    EXPECT_EQ(state->foreign_masquerade_rules, 2);
    EXPECT_EQ(state->rules.size(), 3u);
  }
  const std::string v4_applied = Iptables("iptables-legacy -t nat -S");
  EXPECT_THAT(v4_applied, HasSubstr("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n"
                                    "-A POSTROUTING -j DIND-NETCFG-POSTROUTING\n"));
  EXPECT_THAT(v4_applied, HasSubstr("-A DIND-NETCFG-POSTROUTING -s 10.1.0.0/16 -o ens5 -j "
                                    "MASQUERADE\n-A DIND-NETCFG-POSTROUTING -s 10.3.0.0/16 -o "
                                    "ens5 -j MASQUERADE\n"));
  EXPECT_THAT(v4_applied, Not(HasSubstr("10.9.0.0")));
  EXPECT_THAT(v4_applied, Not(HasSubstr("-o eth0")));

  {
    EnterNetns inside(*netns_);
    ASSERT_TRUE(backend_->Remove().ok());
  }
  EXPECT_EQ(Save(), v4_before);
  EXPECT_EQ(Save("ip6tables-legacy-save"), v6_before);
}

// A writer that appends `count` rules one iptables call at a time, under `lock_env`.
std::thread StartWriter(const ScopedNetns& netns, const std::string& lock_env, int count,
                        const std::string& retry, std::atomic<bool>& done,
                        dind::testing::CommandResult& result) {
  const std::string script =
      "export " + lock_env + "; i=0; while [ $i -lt " + std::to_string(count) +
      " ]; do s=10.200.$((i / 250)).$((i % 250)); " + retry +
      " iptables-legacy -w -t nat -A POSTROUTING -s $s/32 -j ACCEPT 2>/dev/null; do sleep 0; "
      "done; i=$((i + 1)); done";
  return std::thread([&netns, script, &done, &result] {
    result = netns.Exec(script);
    done = true;
  });
}

// Applies and removes in a loop until `done`; returns the rounds made. Stops at the first
// failure without returning early, so the caller still joins its writer thread.
int ApplyAndRemoveUntil(MasqueradeBackend& backend, const MasqueradeSpec& spec,
                        const std::atomic<bool>& done) {
  int rounds = 0;
  while (!done) {
    auto applied = backend.Apply(spec);
    auto removed = applied.ok() ? backend.Remove() : applied;
    if (!removed.ok()) {
      ADD_FAILURE() << "round " << rounds << ": " << removed.error().Message();
      break;
    }
    ++rounds;
  }
  return rounds;
}

// Counts the writer's 10.200.x.y rules: how many distinct ones, and how many in all.
std::pair<int, int> WriterRules(const std::string& rules) {
  std::set<std::string> seen;
  std::istringstream lines(rules);
  int total = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("-s 10.200.") != std::string::npos) {
      seen.insert(line);
      ++total;
    }
  }
  return {static_cast<int>(seen.size()), total};
}

TEST_F(LegacyKernelTest, ConcurrentIptablesWriterLosesNoRule) {
  // As many as the writer that ignores our lock below: each iptables call replaces the whole
  // table, so the cost grows with the square of the count (1,000 took over a minute on a loaded
  // CI machine) while the races are as many as our rounds, checked below.
  constexpr int kRules = 300;
  std::atomic<bool> done{false};
  dind::testing::CommandResult writer_result;
  std::thread writer =
      StartWriter(*netns_, "XTABLES_LOCKFILE=" + lock_path_, kRules, "until", done, writer_result);
  int rounds = 0;
  {
    EnterNetns inside(*netns_);
    rounds =
        ApplyAndRemoveUntil(*backend_, Spec({"10.1.0.0/16", "10.2.0.0/16", "fd00:1::/64"}), done);
  }
  writer.join();
  ASSERT_EQ(writer_result.exit_code, 0) << writer_result.output;
  EXPECT_GT(rounds, 5);
  // Under the shared lock every rule arrives exactly once.
  EXPECT_EQ(WriterRules(Iptables("iptables-legacy -t nat -S POSTROUTING")),
            std::make_pair(kRules, kRules));
  EXPECT_THAT(Iptables("iptables-legacy -t nat -S"), Not(HasSubstr("DIND-NETCFG")));
}

TEST_F(LegacyKernelTest, WriterIgnoringOurLockLosesNoRuleBecauseCommitsAreRedone) {
  // The writer locks another file, so its commits really race ours; whoever loses gets EAGAIN
  // and redoes its edit on a fresh snapshot (the writer by calling iptables again).
  constexpr int kRules = 300;
  const std::string other_lock = lock_path_ + ".other";
  std::atomic<bool> done{false};
  dind::testing::CommandResult writer_result;
  std::thread writer =
      StartWriter(*netns_, "XTABLES_LOCKFILE=" + other_lock, kRules, "until", done, writer_result);
  int rounds = 0;
  {
    EnterNetns inside(*netns_);
    rounds = ApplyAndRemoveUntil(*backend_, Spec({"10.1.0.0/16", "10.2.0.0/16"}), done);
  }
  writer.join();
  std::filesystem::remove(other_lock);
  ASSERT_EQ(writer_result.exit_code, 0) << writer_result.output;
  EXPECT_GT(rounds, 5);
  // None may be missing. One may appear twice: when our commit lands between the writer's
  // replace and its counter update, iptables reports a failure although its rule went in, and
  // the retry loop adds it again. That is iptables' doing, not a lost write.
  const auto [distinct, total] = WriterRules(Iptables("iptables-legacy -t nat -S POSTROUTING"));
  EXPECT_EQ(distinct, kRules);
  EXPECT_GE(total, kRules);
}

TEST_F(LegacyKernelTest, CensusOfFiftyThousandForeignRulesStaysCheap) {
  constexpr int kForeign = 50'000;
  const std::string rules_file = lock_path_ + ".rules";
  {
    std::ofstream out(rules_file);
    out << "*nat\n:DOCKER - [0:0]\n";
    for (int i = 0; i < kForeign; ++i) {
      const std::string source = "10." + std::to_string(i / 65536 + 100) + "." +
                                 std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
      if (i % 5 == 0) {
        out << "-A POSTROUTING -s " << source << "/32 -o eth0 -j MASQUERADE\n";
      } else {
        out << "-A DOCKER -d " << source << "/32 -j RETURN\n";
      }
    }
    out << "COMMIT\n";
  }
  Iptables("iptables-legacy-restore < " + rules_file);
  std::filesystem::remove(rules_file);

  EnterNetns inside(*netns_);
  const auto start = std::chrono::steady_clock::now();
  auto state = backend_->Inspect();
  const auto census = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(state.ok()) << state.error().Message();
  EXPECT_EQ(state->foreign_nat_rules, kForeign);
  EXPECT_EQ(state->foreign_masquerade_rules, kForeign / 5);
  EXPECT_LT(census, std::chrono::seconds(2))
      << std::chrono::duration_cast<std::chrono::milliseconds>(census).count() << " ms";

  const auto apply_start = std::chrono::steady_clock::now();
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16", "fd00:1::/64"})).ok());
  ASSERT_TRUE(backend_->Remove().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - apply_start, std::chrono::seconds(5));
  state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->foreign_nat_rules, kForeign);
}

// Clears CAP_NET_ADMIN and CAP_NET_RAW from this process; root without them is what a pod
// without NET_ADMIN looks like.
bool DropNetworkCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  const unsigned drop = (1u << CAP_NET_ADMIN) | (1u << CAP_NET_RAW);
  data[0].effective &= ~drop;
  data[0].permitted &= ~drop;
  data[0].inheritable &= ~drop;
  return ::syscall(SYS_capset, &header, data) == 0;
}

TEST_F(LegacyKernelTest, ClampsAreWhatIptablesWouldWriteAndFollowTheSpec) {
  {
    EnterNetns inside(*netns_);
    ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}})).ok());
  }
  const std::string v4 = std::string(kManglePolicies) +
                         "-N DIND-NETCFG-FORWARD\n-A FORWARD -j DIND-NETCFG-FORWARD\n" +
                         ClampRules("10.1.0.0/16", 1320);
  const std::string v6 = std::string(kManglePolicies) +
                         "-N DIND-NETCFG-FORWARD\n-A FORWARD -j DIND-NETCFG-FORWARD\n" +
                         ClampRules("fd00:1::/64", 1300);
  EXPECT_EQ(Iptables("iptables-legacy -t mangle -S"), v4);
  EXPECT_EQ(Iptables("ip6tables-legacy -t mangle -S"), v6);

  {
    // Again: nothing is written (the tables' headers do not move).
    EnterNetns inside(*netns_);
    const auto stamp = backend_->ChangeStamp();
    ASSERT_TRUE(stamp.has_value());
    ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}})).ok());
    EXPECT_EQ(backend_->ChangeStamp(), stamp);
    auto state = backend_->Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    ASSERT_EQ(state->clamps.size(), 2u);
    EXPECT_EQ(state->clamps[0].network, C("10.1.0.0/16"));
    EXPECT_EQ(state->clamps[0].mss, 1320);
    EXPECT_EQ(state->clamps[1].network, C("fd00:1::/64"));
    EXPECT_EQ(state->clamps[1].mss, 1300);
    EXPECT_EQ(state->foreign_nat_rules, 0);

    // A changed MSS replaces both rules; IPv6 without clamps loses its chain and jump.
    ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1260}})).ok());
  }
  EXPECT_EQ(Iptables("iptables-legacy -t mangle -S"),
            std::string(kManglePolicies) +
                "-N DIND-NETCFG-FORWARD\n-A FORWARD -j DIND-NETCFG-FORWARD\n" +
                ClampRules("10.1.0.0/16", 1260));
  EXPECT_EQ(Iptables("ip6tables-legacy -t mangle -S"), kManglePolicies);

  {
    EnterNetns inside(*netns_);
    ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1260}, {"fd00:1::/64", 1300}})).ok());
    ASSERT_TRUE(backend_->Remove().ok());
  }
  EXPECT_EQ(Iptables("iptables-legacy -t mangle -S"), kManglePolicies);
  EXPECT_EQ(Iptables("ip6tables-legacy -t mangle -S"), kManglePolicies);
  EXPECT_EQ(Iptables("iptables-legacy -t nat -S"), kPolicies);
}

TEST_F(LegacyKernelTest, ClampRulesWrittenByIptablesAreReadAsOursAndKept) {
  Iptables(
      "iptables-legacy -t mangle -N DIND-NETCFG-FORWARD && "
      "iptables-legacy -t mangle -A DIND-NETCFG-FORWARD -c 3 180 -s 10.1.0.0/16 -p tcp "
      "--tcp-flags SYN,RST SYN -m tcpmss --mss 1321:65535 -j TCPMSS --set-mss 1320 && "
      "iptables-legacy -t mangle -A DIND-NETCFG-FORWARD -c 2 120 -d 10.1.0.0/16 -p tcp "
      "--tcp-flags SYN,RST SYN -m tcpmss --mss 1321:65535 -j TCPMSS --set-mss 1320 && "
      "iptables-legacy -t mangle -A FORWARD -j DIND-NETCFG-FORWARD && "
      "ip6tables-legacy -t mangle -N DIND-NETCFG-FORWARD && "
      "ip6tables-legacy -t mangle -A DIND-NETCFG-FORWARD -s fd00:1::/64 -p tcp "
      "--tcp-flags SYN,RST SYN -m tcpmss --mss 1301:65535 -j TCPMSS --set-mss 1300 && "
      "ip6tables-legacy -t mangle -A DIND-NETCFG-FORWARD -d fd00:1::/64 -p tcp "
      "--tcp-flags SYN,RST SYN -m tcpmss --mss 1301:65535 -j TCPMSS --set-mss 1300 && "
      "ip6tables-legacy -t mangle -A FORWARD -j DIND-NETCFG-FORWARD");
  const std::string v4_before = Iptables("iptables-legacy -t mangle -S -v");
  const std::string v6_before = Iptables("ip6tables-legacy -t mangle -S -v");

  EnterNetns inside(*netns_);
  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok()) << state.error().Message();
  ASSERT_EQ(state->clamps.size(), 2u);
  EXPECT_EQ(state->clamps[0].network, C("10.1.0.0/16"));
  EXPECT_EQ(state->clamps[0].mss, 1320);
  EXPECT_EQ(state->clamps[0].packets, 5u);
  EXPECT_EQ(state->clamps[0].bytes, 300u);
  EXPECT_EQ(state->clamps[1].network, C("fd00:1::/64"));

  ASSERT_TRUE(backend_->Apply(Clamped({{"10.1.0.0/16", 1320}, {"fd00:1::/64", 1300}})).ok());
  EXPECT_EQ(Iptables("iptables-legacy -t mangle -S -v"), v4_before);
  EXPECT_EQ(Iptables("ip6tables-legacy -t mangle -S -v"), v6_before);
}

TEST(LegacyClampEffectTest, ForwardedSynsOfBothDirectionsAreClampedInBothFamilies) {
  DIND_REQUIRE_NETNS();
  dind::testing::ClampPath path;
  char pattern[] = "/tmp/dind-legacy-xtables-XXXXXX";
  const int fd = ::mkstemp(pattern);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string lock_path = pattern;
  std::unique_ptr<MasqueradeBackend> backend;
  {
    EnterNetns inside(path.router());
    auto made = MakeLegacyBackend(LegacyOptions{lock_path, std::chrono::seconds(10), 50});
    ASSERT_TRUE(made.ok()) << made.error().Message();
    backend = std::move(*made);
  }

  // Unclamped, each end sees what the other's 1500-byte link allows.
  auto seen = path.Connect(Family::kIPv4);
  EXPECT_EQ(seen.server, 1460);
  EXPECT_EQ(seen.client, 1460);
  seen = path.Connect(Family::kIPv6);
  EXPECT_EQ(seen.server, 1440);
  EXPECT_EQ(seen.client, 1440);

  MasqueradeSpec spec;
  spec.out_interface = "r1";
  spec.clamps = {{C(dind::testing::ClampPath::kClientNetworkV4), 1300},
                 {C(dind::testing::ClampPath::kClientNetworkV6), 1220}};
  {
    EnterNetns inside(path.router());
    auto applied = backend->Apply(spec);
    ASSERT_TRUE(applied.ok()) << applied.error().Message();
  }
  // The client's SYN (saddr NET) and the server's SYN-ACK (daddr NET) are both clamped.
  seen = path.Connect(Family::kIPv4);
  EXPECT_EQ(seen.server, 1300);
  EXPECT_EQ(seen.client, 1300);
  seen = path.Connect(Family::kIPv6);
  EXPECT_EQ(seen.server, 1220);
  EXPECT_EQ(seen.client, 1220);
  {
    EnterNetns inside(path.router());
    auto state = backend->Inspect();
    ASSERT_TRUE(state.ok()) << state.error().Message();
    ASSERT_EQ(state->clamps.size(), 2u);
    EXPECT_EQ(state->clamps[0].packets, 2u);  // one SYN, one SYN-ACK
    EXPECT_EQ(state->clamps[1].packets, 2u);
    ASSERT_TRUE(backend->Remove().ok());
  }
  seen = path.Connect(Family::kIPv4);
  EXPECT_EQ(seen.server, 1460);
  std::filesystem::remove(lock_path);
}

TEST_F(LegacyKernelTest, WithoutNetAdminErrorsAskForTheCapability) {
  EnterNetns inside(*netns_);
  ASSERT_TRUE(backend_->Apply(Spec({"10.1.0.0/16"})).ok());  // the tables exist now
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Exit codes tell the parent which check failed; gtest assertions do not cross fork.
    if (!DropNetworkCapabilities()) ::_exit(10);
    auto applied = backend_->Apply(Spec({"10.2.0.0/16"}));
    if (applied.ok() || applied.error().kind != ErrorKind::kPermission) ::_exit(11);
    if (applied.error().Message().find("CAP_NET_ADMIN") == std::string::npos) ::_exit(12);
    auto state = backend_->Inspect();
    if (state.ok() || state.error().kind != ErrorKind::kPermission) ::_exit(13);
    auto removed = backend_->Remove();
    if (removed.ok() || removed.error().kind != ErrorKind::kPermission) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the exit codes in the child";
  // Nothing changed: the unprivileged Apply did not get through.
  auto state = backend_->Inspect();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->rules.size(), 1u);
  EXPECT_EQ(state->rules[0].source, C("10.1.0.0/16"));
}

}  // namespace
}  // namespace dind::rules::legacy
