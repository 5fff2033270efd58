// SPDX-License-Identifier: Apache-2.0
// MasqueradeBackend on nf_tables: table ip/ip6 dind-netcfg, chain postrouting, one
// `saddr S oifname X counter masquerade` rule per source, changed only by atomic diffs.
#pragma once

#include <memory>

#include "common/result.h"
#include "rules/masquerade.h"
#include "rules/nft/nft_kernel.h"

namespace dind::rules {

namespace nft {

class NftBackend final : public MasqueradeBackend {
 public:
  explicit NftBackend(std::unique_ptr<NftKernel> kernel) : kernel_(std::move(kernel)) {}

  BackendKind kind() const override { return BackendKind::kNft; }
  Status Apply(const MasqueradeSpec& spec) override;
  Result<BackendState> Inspect() override;
  Result<BackendState> InspectOurs() override;
  Status Remove() override;

 private:
  // Summarize over a read of `scope`: with kOurRules the foreign counts stay 0.
  Result<BackendState> InspectIn(RuleScope scope);
  // Reads, plans and commits against the read generation; re-reads when someone else changed
  // the ruleset in between (ERESTART), so a diff is never applied to a stale read.
  template <typename Plan>
  Status ReadPlanCommit(const char* what, Plan plan);

  std::unique_ptr<NftKernel> kernel_;
};

}  // namespace nft

// The nf_tables backend for the calling thread's network namespace.
Result<std::unique_ptr<MasqueradeBackend>> MakeNftBackend();

}  // namespace dind::rules
