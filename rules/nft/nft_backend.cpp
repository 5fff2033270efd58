// SPDX-License-Identifier: Apache-2.0
#include "rules/nft/nft_backend.h"

#include <cerrno>

namespace dind::rules {
namespace nft {
namespace {
constexpr int kCommitAttempts = 3;
}  // namespace

template <typename Plan>
Status NftBackend::ReadPlanCommit(const char* what, Plan plan) {
  for (int attempt = 1;; ++attempt) {
    Result<NftRuleset> current = kernel_->ReadRuleset(RuleScope::kOurRules);
    if (!current.ok()) return current.error().Wrap(what);
    Result<std::vector<NftOp>> ops = plan(*current);
    if (!ops.ok()) return ops.error().Wrap(what);
    if (ops->empty()) return OkStatus();
    Status committed = kernel_->Commit(*ops, current->generation);
    if (committed.ok()) return OkStatus();
    if (committed.error().errnum != ERESTART || attempt == kCommitAttempts) {
      return committed.error().Wrap(what);
    }
  }
}

Status NftBackend::Apply(const MasqueradeSpec& spec) {
  return ReadPlanCommit("applying nf_tables masquerade rules",
                        [&](const NftRuleset& current) { return PlanApply(spec, current); });
}

Result<BackendState> NftBackend::Inspect() {
  return InspectIn(RuleScope::kAllRules);
}

Result<BackendState> NftBackend::InspectOurs() {
  return InspectIn(RuleScope::kOurRules);
}

Result<BackendState> NftBackend::InspectIn(RuleScope scope) {
  Result<NftRuleset> current = kernel_->ReadRuleset(scope);
  if (!current.ok()) return current.error().Wrap("inspecting nf_tables masquerade rules");
  return Summarize(*current);
}

Status NftBackend::Remove() {
  return ReadPlanCommit(
      "removing nf_tables masquerade rules",
      [](const NftRuleset& current) -> Result<std::vector<NftOp>> { return PlanRemove(current); });
}

}  // namespace nft

Result<std::unique_ptr<MasqueradeBackend>> MakeNftBackend() {
  Result<nft::NftSocket> socket = nft::NftSocket::Open();
  if (!socket.ok()) return socket.error();
  return std::unique_ptr<MasqueradeBackend>(std::make_unique<nft::NftBackend>(
      std::make_unique<nft::NetlinkNftKernel>(std::move(socket).value())));
}

}  // namespace dind::rules
