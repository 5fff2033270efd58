// SPDX-License-Identifier: Apache-2.0
// The proof by traffic against the real kernel: both real backends pass, backends that accept
// rules without them taking effect fail, and nothing is left behind in the caller's namespace.
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "rules/legacy/xtables_lock.h"
#include "rules/proof/traffic_proof.h"
#include "tests/support/netns.h"

namespace dind::rules {
namespace {

using ::dind::testing::MustRun;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr BackendKind kBothKinds[] = {BackendKind::kLegacy, BackendKind::kNft};

// Accepts every rule and lists it, but nothing reaches the kernel: the CentOS 7 iptables-nft
// shim in miniature. Its counters never move.
class AcceptsButNeverMatches final : public MasqueradeBackend {
 public:
  explicit AcceptsButNeverMatches(BackendKind kind) : kind_(kind) {}
  BackendKind kind() const override { return kind_; }
  Status Apply(const MasqueradeSpec& spec) override {
    spec_ = spec;
    return OkStatus();
  }
  Result<BackendState> Inspect() override {
    BackendState state;
    state.container_present = state.hooked = true;
    for (const Cidr& source : spec_.sources) state.rules.push_back({source, spec_.out_interface});
    return state;
  }
  Status Remove() override { return OkStatus(); }

 private:
  BackendKind kind_;
  MasqueradeSpec spec_;
};

// Says yes to Apply and installs nothing.
class InstallsNothing final : public MasqueradeBackend {
 public:
  explicit InstallsNothing(BackendKind kind) : kind_(kind) {}
  BackendKind kind() const override { return kind_; }
  Status Apply(const MasqueradeSpec&) override { return OkStatus(); }
  Result<BackendState> Inspect() override { return BackendState{}; }
  Status Remove() override { return OkStatus(); }

 private:
  BackendKind kind_;
};

// A real backend that installs the rule for the wrong interface, so the kernel's own counter
// for it stays 0.
class WrongInterface final : public MasqueradeBackend {
 public:
  explicit WrongInterface(std::unique_ptr<MasqueradeBackend> real) : real_(std::move(real)) {}
  BackendKind kind() const override { return real_->kind(); }
  Status Apply(const MasqueradeSpec& spec) override {
    MasqueradeSpec wrong = spec;
    wrong.out_interface = "lo";
    return real_->Apply(wrong);
  }
  Result<BackendState> Inspect() override { return real_->Inspect(); }
  Status Remove() override { return real_->Remove(); }

 private:
  std::unique_ptr<MasqueradeBackend> real_;
};

// Hangs in Apply like a backend stuck on a lock nobody releases.
class HangsInApply final : public MasqueradeBackend {
 public:
  BackendKind kind() const override { return BackendKind::kNft; }
  Status Apply(const MasqueradeSpec&) override {
    std::this_thread::sleep_for(std::chrono::seconds(30));
    return OkStatus();
  }
  Result<BackendState> Inspect() override { return BackendState{}; }
  Status Remove() override { return OkStatus(); }
};

class RefusesTheRule final : public MasqueradeBackend {
 public:
  BackendKind kind() const override { return BackendKind::kNft; }
  Status Apply(const MasqueradeSpec&) override {
    return Error::Environment("applying nf_tables masquerade rules", EOPNOTSUPP);
  }
  Result<BackendState> Inspect() override { return BackendState{}; }
  Status Remove() override { return OkStatus(); }
};

template <typename Fake>
BackendFactory FactoryOf() {
  return [](BackendKind kind) -> Result<std::unique_ptr<MasqueradeBackend>> {
    if constexpr (std::is_constructible_v<Fake, BackendKind>) {
      return std::unique_ptr<MasqueradeBackend>(std::make_unique<Fake>(kind));
    } else {
      return std::unique_ptr<MasqueradeBackend>(std::make_unique<Fake>());
    }
  };
}

// What the caller's namespace holds, with the counters that traffic moves taken out.
struct HostState {
  std::string netns;
  std::set<std::string> links;
  std::string legacy_nat;
  std::string nft_ruleset;
};

HostState ReadHostState() {
  HostState state;
  char target[128] = {};
  EXPECT_GT(::readlink("/proc/thread-self/ns/net", target, sizeof(target) - 1), 0);
  state.netns = target;
  std::istringstream links(MustRun("ip -o link show | awk -F': ' '{print $2}'"));
  for (std::string name; std::getline(links, name);) state.links.insert(name);
  state.legacy_nat = std::regex_replace(MustRun("iptables-legacy-save -t nat | grep -v '^#'"),
                                        std::regex(R"(\[\d+:\d+\])"), "[n:n]");
  state.nft_ruleset = std::regex_replace(MustRun("nft list ruleset"),
                                         std::regex(R"(packets \d+ bytes \d+)"), "packets n");
  return state;
}

bool HasChildren() {
  errno = 0;
  return !(::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD);
}

class ProofKernelTest : public ::testing::Test {
 protected:
  void SetUp() override { DIND_REQUIRE_NETNS(); }
};

TEST_F(ProofKernelTest, BothRealBackendsPassOnThisKernel) {
  auto prover = MakeTrafficProver(MakeBackend);
  for (BackendKind kind : kBothKinds) {
    for (int run = 0; run < 3; ++run) {
      Result<ProofOutcome> outcome = prover->Prove(kind);
      ASSERT_TRUE(outcome.ok()) << outcome.error().Message();
      EXPECT_TRUE(outcome->passed) << BackendName(kind) << ": " << outcome->detail;
      EXPECT_TRUE(outcome->rule_accepted);
      EXPECT_TRUE(outcome->arrived);
      EXPECT_TRUE(outcome->masqueraded);
      // conntrack sends a flow's first packet through the nat chain, the rest bypass it.
      EXPECT_GE(outcome->counter_packets, 1U);
      EXPECT_EQ(outcome->arrived_from, "192.0.2.1");
      EXPECT_THAT(outcome->detail, HasSubstr("; it arrived from 192.0.2.1, masqueraded"));
      EXPECT_THAT(outcome->detail, HasSubstr("; veth up after ")) << "the link wait is said";
      EXPECT_GT(outcome->elapsed.count(), 0);
      EXPECT_LT(outcome->elapsed, milliseconds(2000));
      std::cout << "[ timing   ] " << BackendName(kind) << " proof " << run + 1 << ": "
                << outcome->elapsed.count() << " ms; " << outcome->detail << "\n";
    }
  }
}

TEST_F(ProofKernelTest, ABackendThatAcceptsRulesThatNeverMatchIsRejected) {
  auto prover = MakeTrafficProver(FactoryOf<AcceptsButNeverMatches>());
  for (BackendKind kind : kBothKinds) {
    Result<ProofOutcome> outcome = prover->Prove(kind);
    ASSERT_TRUE(outcome.ok()) << outcome.error().Message();
    EXPECT_FALSE(outcome->passed);
    EXPECT_TRUE(outcome->rule_accepted);
    EXPECT_EQ(outcome->counter_packets, 0U);
    // The datagram itself went through, unmasqueraded: the proof tells "ignored" from "lost".
    EXPECT_TRUE(outcome->arrived);
    EXPECT_FALSE(outcome->masqueraded);
    EXPECT_EQ(outcome->arrived_from, "198.51.100.1");
    EXPECT_THAT(outcome->detail, HasSubstr("rules accepted but their counter stayed 0: this "
                                           "kernel does not run"));
    EXPECT_THAT(outcome->detail, HasSubstr("not masqueraded"));
  }
}

TEST_F(ProofKernelTest, ABackendThatInstallsNothingIsRejected) {
  Result<ProofOutcome> outcome =
      MakeTrafficProver(FactoryOf<InstallsNothing>())->Prove(BackendKind::kNft);
  ASSERT_TRUE(outcome.ok()) << outcome.error().Message();
  EXPECT_FALSE(outcome->passed);
  EXPECT_EQ(outcome->counter_packets, 0U);
  EXPECT_FALSE(outcome->masqueraded);
  EXPECT_THAT(outcome->detail,
              ::testing::MatchesRegex(
                  "rules accepted but the nft backend lists no rule for 198\\.51\\.100\\.1; it "
                  "arrived from 198\\.51\\.100\\.1, not masqueraded; veth up after [0-9]+ ms"));
}

TEST_F(ProofKernelTest, ARealRuleForTheWrongInterfaceCountsNothingAndIsRejected) {
  auto prover =
      MakeTrafficProver([](BackendKind kind) -> Result<std::unique_ptr<MasqueradeBackend>> {
        auto real = MakeBackend(kind);
        if (!real.ok()) return real.error();
        return std::unique_ptr<MasqueradeBackend>(
            std::make_unique<WrongInterface>(std::move(*real)));
      });
  for (BackendKind kind : kBothKinds) {
    Result<ProofOutcome> outcome = prover->Prove(kind);
    ASSERT_TRUE(outcome.ok()) << outcome.error().Message();
    EXPECT_FALSE(outcome->passed) << BackendName(kind);
    EXPECT_EQ(outcome->counter_packets, 0U) << BackendName(kind);
    EXPECT_FALSE(outcome->masqueraded);
    EXPECT_THAT(outcome->detail, HasSubstr("counter stayed 0")) << BackendName(kind);
  }
}

TEST_F(ProofKernelTest, ARefusedRuleIsAFailedOutcomeNotAnError) {
  Result<ProofOutcome> outcome =
      MakeTrafficProver(FactoryOf<RefusesTheRule>())->Prove(BackendKind::kNft);
  ASSERT_TRUE(outcome.ok()) << outcome.error().Message();
  EXPECT_FALSE(outcome->passed);
  EXPECT_FALSE(outcome->rule_accepted);
  EXPECT_THAT(outcome->detail, HasSubstr("the nft backend refused the masquerade rule: applying "
                                         "nf_tables masquerade rules: Operation not supported"));
}

TEST_F(ProofKernelTest, NothingRemainsInTheCallersNamespace) {
  const HostState before = ReadHostState();
  auto prover = MakeTrafficProver(MakeBackend);
  for (BackendKind kind : kBothKinds) {
    Result<ProofOutcome> outcome = prover->Prove(kind);
    ASSERT_TRUE(outcome.ok()) << outcome.error().Message();
    EXPECT_TRUE(outcome->passed) << outcome->detail;
  }
  EXPECT_FALSE(HasChildren()) << "the proof's process was not reaped";
  const HostState after = ReadHostState();
  EXPECT_EQ(after.netns, before.netns);
  EXPECT_EQ(after.links, before.links);
  for (const std::string& link : after.links)
    EXPECT_THAT(link, ::testing::Not(HasSubstr("dind-proof")));
  EXPECT_EQ(after.legacy_nat, before.legacy_nat);
  EXPECT_EQ(after.nft_ruleset, before.nft_ruleset);
  EXPECT_THAT(after.legacy_nat, ::testing::Not(HasSubstr("DIND-NETCFG")));
  EXPECT_THAT(after.nft_ruleset, ::testing::Not(HasSubstr("dind-netcfg")));
}

// Every proof uses the same names and addresses; only their private namespaces keep them apart.
// The proofs run in parallel processes rather than threads: forking while other threads
// allocate can leave the sanitizer runtime's allocator locked in the child (GCC 12's libasan),
// which would turn this test of namespaces into a test of that runtime.
TEST_F(ProofKernelTest, ConcurrentProofsDoNotCollide) {
  constexpr int kProofs = 4;
  std::vector<pid_t> provers;
  for (int i = 0; i < kProofs; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      auto outcome = MakeTrafficProver(MakeBackend, milliseconds(5000))->Prove(kBothKinds[i % 2]);
      if (!outcome.ok()) std::cerr << outcome.error().Message() << "\n";
      if (outcome.ok() && !outcome->passed) std::cerr << outcome->detail << "\n";
      ::_exit(outcome.ok() && outcome->passed ? 0 : 1);
    }
    provers.push_back(pid);
  }
  for (pid_t pid : provers) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "a concurrent proof failed (its reason is on stderr above)";
  }
}

TEST_F(ProofKernelTest, AHangingBackendEndsInAnErrorNamingTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  Result<ProofOutcome> outcome =
      MakeTrafficProver(FactoryOf<HangsInApply>(), milliseconds(400))->Prove(BackendKind::kNft);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().errnum, ETIMEDOUT);
  EXPECT_THAT(outcome.error().Message(),
              HasSubstr("proving the nft backend by traffic: timed out after 400 ms, stopped at "
                        "step \"pod: applying masquerade saddr 198.51.100.1/32 oifname "
                        "dind-proof0 through the nft backend\""));
  EXPECT_LT(took, std::chrono::seconds(3));  // killed, not waited for
  EXPECT_FALSE(HasChildren()) << "the killed proof was not reaped";
}

// dockerd's iptables (or anyone's) holding the xtables lock past the proof's budget: the
// proof's legacy backend stops waiting at half the timeout, so the outcome names the holder
// instead of the proof being killed at its timeout without a reason.
TEST_F(ProofKernelTest, AHeldXtablesLockFailsTheProofNamingItsHolder) {
  const std::string lock_path = "/tmp/dnc-proof-xtables-" + std::to_string(::getpid()) + ".lock";
  ASSERT_EQ(::setenv("XTABLES_LOCKFILE", lock_path.c_str(), 1), 0);
  auto held = legacy::XtablesLock::Acquire(lock_path, milliseconds(0));
  ASSERT_TRUE(held.ok()) << held.error().Message();
  const BackendOptions patient{.xtables_wait = std::chrono::seconds(30)};
  Result<ProofOutcome> outcome =
      MakeRealTrafficProver(patient, milliseconds(2000))->Prove(BackendKind::kLegacy);
  ::unsetenv("XTABLES_LOCKFILE");
  ::unlink(lock_path.c_str());
  ASSERT_TRUE(outcome.ok()) << outcome.error().Message();
  EXPECT_FALSE(outcome->rule_accepted);
  EXPECT_THAT(outcome->detail, HasSubstr("waited 1 s for the xtables lock " + lock_path));
  EXPECT_THAT(outcome->detail, HasSubstr("held by PID " + std::to_string(::getpid())));
  EXPECT_FALSE(HasChildren());
}

TEST_F(ProofKernelTest, WithoutCapabilitiesItIsAPermissionErrorNamingTheCapability) {
  // In a forked child that gives up root; the test process keeps its own privileges.
  EXPECT_EXIT(
      {
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
          std::cerr << "could not drop privileges";
          ::_exit(3);
        }
        Result<ProofOutcome> outcome = MakeTrafficProver(MakeBackend)->Prove(BackendKind::kNft);
        if (outcome.ok()) ::_exit(4);
        std::cerr << outcome.error().Message();
        ::_exit(outcome.error().kind == ErrorKind::kPermission ? 0 : 5);
      },
      ::testing::ExitedWithCode(0),
      "proving the nft backend by traffic: creating the proof's outside network namespace "
      "\\(unshare CLONE_NEWNET\\): Operation not permitted.*lacks CAP_SYS_ADMIN and "
      "CAP_NET_ADMIN");
}

}  // namespace
}  // namespace dind::rules
