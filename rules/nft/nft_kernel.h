// SPDX-License-Identifier: Apache-2.0
// The nf_tables backend's seam to the kernel, in domain verbs: read the ruleset, commit a
// transaction. NetlinkNftKernel is the real one; unit tests pass an in-memory kernel.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/result.h"
#include "rules/nft/nft_model.h"
#include "rules/nft/nft_socket.h"

namespace dind::rules::nft {

// How much of the ruleset a read returns. Tables and chains are always all of them (a handful);
// rules are what grows with other writers, and only the census of those needs them.
enum class RuleScope {
  kAllRules,  // every table's rules: the census of other writers (Inspect)
  kOurRules,  // only the rules of our tables: enough to plan and to check ours
};

class NftKernel {
 public:
  virtual ~NftKernel() = default;
  // One consistent snapshot (one generation) of all tables and chains and, per `scope`, rules.
  virtual Result<NftRuleset> ReadRuleset(RuleScope scope) = 0;
  // Applies `ops` atomically, or nothing. With a non-zero `generation` the kernel refuses
  // (ERESTART) when the ruleset is no longer the one read at that generation.
  virtual Status Commit(const std::vector<NftOp>& ops, std::uint32_t generation) = 0;
};

class NetlinkNftKernel final : public NftKernel {
 public:
  explicit NetlinkNftKernel(NftSocket socket) : socket_(std::move(socket)) {}
  Result<NftRuleset> ReadRuleset(RuleScope scope) override;
  Status Commit(const std::vector<NftOp>& ops, std::uint32_t generation) override;

 private:
  Result<std::uint32_t> ReadGeneration();
  Result<NftRuleset> ReadRulesetOnce(RuleScope scope);

  NftSocket socket_;
};

}  // namespace dind::rules::nft
