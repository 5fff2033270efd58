// SPDX-License-Identifier: Apache-2.0
// The traffic proof's outcomes, kept in a file so that a later init, run or entrypoint on the
// same kernel reuses them instead of proving again (two throwaway namespaces, a veth pair and a
// packet: ~8 ms, most of a default init).
//
// What a proof shows is a fact of the kernel (does it run this backend's nat hooks?), not of
// the network namespace or the container that ran it, so it holds for every process on the same
// kernel boot. An entry is reused only when all of these match what this process reads itself:
// the boot id (/proc/sys/kernel/random/boot_id), the kernel release, the backend's availability
// (a module that appeared or vanished since is a different kernel state) and dind-netcfg's
// version. Outcomes are kept, passed or failed; errors (a proof that could not run) never are.
// Every reused outcome says which process proved it, where and when (`ProofOutcome::reused`).
//
// In the shipped pod the file lives in /run, the emptyDir the init container, the sidecar and
// dockerd share: the sidecar reuses the init container's proof. A hostPath there makes the
// first pod on a node prove for all the others (deploy/README.md).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "netcfg/detect/kernel.h"
#include "rules/masquerade.h"
#include "rules/proof/traffic_proof.h"

namespace dind::rules {

inline constexpr std::string_view kDefaultProofCachePath = "/run/dind-netcfg/backend-proof.json";

// Everything an entry must match to be reused.
struct ProofIdentity {
  std::string boot_id;
  std::string kernel_release;
  std::string tool_version;
  bool operator==(const ProofIdentity&) const = default;
};

// This process's identity: an Error when the boot id cannot be read (then nothing is cached).
Result<ProofIdentity> ReadProofIdentity(const netcfg::KernelFacts& kernel);

struct CachedProof {
  netcfg::Availability availability = netcfg::Availability::kUnknown;
  rules::ProofOutcome outcome;  // `reused` says who proved it, and when
};

struct ProofCacheFile {
  ProofIdentity identity;
  std::map<rules::BackendKind, CachedProof> proofs;
};

// The file's JSON, and back. Parsing is strict: a field missing or of the wrong type is an
// Error naming it (the caller then proves again and replaces the file).
std::string SerializeProofCache(const ProofCacheFile& file);
Result<ProofCacheFile> ParseProofCache(std::string_view text);

// Where the cache is and who is writing to it.
struct ProofCacheSettings {
  std::string path;
  std::string command;  // "init", "run", ...: named in the entries this process writes
};

// Wraps `inner`: Prove() returns the cached outcome when the file holds one for this identity,
// the backend and its availability, and otherwise proves with `inner` and keeps the outcome.
// A cache that cannot be read, parsed or written is logged at warn and never fails a proof.
std::unique_ptr<rules::BackendProver> MakeCachingProver(std::unique_ptr<rules::BackendProver> inner,
                                                        ProofCacheSettings settings,
                                                        ProofIdentity identity,
                                                        const netcfg::KernelFacts& kernel);

}  // namespace dind::rules
