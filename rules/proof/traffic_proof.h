// SPDX-License-Identifier: Apache-2.0
// Proof by traffic: does a masquerade backend really take effect in this kernel?
//
// Some kernels accept rules they never run (the iptables-nft shim on CentOS 7's 3.10 installs
// nf_tables rules nobody hooks), so "the rule is listed" proves nothing. The production prover
// installs the rule through the candidate backend in a pair of throwaway network namespaces,
// sends real datagrams through it, and checks both that the rule's counter moved and that the
// datagrams arrived with the masqueraded source. The caller's namespace is never touched.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "netcfg/netlink/wiring_plan.h"
#include "rules/backend_factory.h"
#include "rules/masquerade.h"

namespace dind::rules {

struct ProofOutcome {
  bool passed = false;  // counter moved AND the packet arrived with the masqueraded source
  std::uint64_t counter_packets = 0;
  bool arrived = false;
  bool masqueraded = false;
  // One line a human reads, e.g. "rule counted 1 packet; it arrived from 192.0.2.1,
  // masqueraded" or "rules accepted but their counter stayed 0: this kernel does not run nft's
  // nat hooks".
  std::string detail;

  bool rule_accepted = false;  // Apply succeeded (false: the backend refused the rule)
  std::string arrived_from;    // source address of the first datagram received, "" if none
  std::chrono::milliseconds elapsed{0};  // wall time of the whole proof, measured by the caller

  // Set when this process did not prove it but reused an earlier proof on the same kernel boot
  // (rules/proof/proof_cache.h): which process proved it, when, and where it was kept.
  struct Reuse {
    std::string proven_by;  // "init (pid 17) on dind-ci-7x2k"
    std::string proven_at;  // UTC, "2026-12-07T02:40:12Z"
    std::string cache_path;
  };
  std::optional<Reuse> reused;
};

// The seam the backend choice uses; unit tests fake it.
class BackendProver {
 public:
  virtual ~BackendProver() = default;
  // An Error (not a failed outcome) when the proof could not be run at all: no permission to
  // create namespaces, a timeout, a crash. A backend that refuses or ignores the rule is a
  // failed outcome.
  virtual Result<ProofOutcome> Prove(BackendKind kind) = 0;
};

// The production prover: a child process builds throwaway network namespaces, creates the
// backend with `factory` inside them and sends real packets; the child is killed after
// `timeout`. The child is forked without exec (the factory must run in it): should another
// thread of the caller hold a lock at that instant that the child then needs (glibc's malloc
// is fork-safe; libnl's port map and sanitizer runtimes are not), the child stalls and the
// timeout ends the proof with an error, never a hang.
// The timeout leaves room for the link-up wait's whole deadline (a loaded node's link watcher,
// netcfg/netlink/wiring_plan.h) and as much again for the rest on such a node; a proof that
// stalls is killed then. A passing proof takes milliseconds and never waits for it.
inline constexpr std::chrono::milliseconds kProofTimeout =
    netcfg::kLinkUpDeadline + std::chrono::milliseconds(5000);
// The longest the legacy backend waits for the xtables lock inside a proof, whatever the
// timeout: a lock held that long fails the proof with the holder named.
inline constexpr std::chrono::milliseconds kProofXtablesWait{1000};
std::unique_ptr<BackendProver> MakeTrafficProver(BackendFactory factory,
                                                 std::chrono::milliseconds timeout = kProofTimeout);

// The traffic prover of the real backends with `options`, killed after `timeout`. Its xtables
// wait ends at kProofXtablesWait or half the timeout at the latest, so a lock held too long
// fails the proof with the holder named (XtablesLock says which PID) instead of the proof being
// killed without a reason.
std::unique_ptr<BackendProver> MakeRealTrafficProver(
    BackendOptions options, std::chrono::milliseconds timeout = kProofTimeout);

}  // namespace dind::rules
