// SPDX-License-Identifier: Apache-2.0
// An in-memory masquerade backend that keeps the last spec applied, for tests of whatever
// applies rules (core, the reconciler). Tests break it as another writer would. Every call is
// appended to a journal the test may share between backends, so order can be asserted.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rules/choice/backend_choice.h"
#include "rules/masquerade.h"

namespace dind::testing {

class FakeBackend final : public rules::MasqueradeBackend {
 public:
  explicit FakeBackend(rules::BackendKind kind = rules::BackendKind::kNft,
                       std::shared_ptr<std::vector<std::string>> journal = nullptr)
      : kind_(kind),
        journal_(journal ? std::move(journal) : std::make_shared<std::vector<std::string>>()) {}

  std::optional<rules::MasqueradeSpec> installed;
  int applies = 0;
  int inspects = 0;
  int removes = 0;
  bool fail_apply = false;
  bool fail_remove = false;
  std::optional<std::uint64_t> stamp;  // nullopt: no change stamp, as for nft

  const std::vector<std::string>& journal() const { return *journal_; }

  rules::BackendKind kind() const override { return kind_; }
  Status Apply(const rules::MasqueradeSpec& spec) override {
    Note("apply");
    if (fail_apply) return Error::Permission(Where() + ": changing the rules", EPERM);
    ++applies;
    installed = spec;
    if (stamp) ++*stamp;
    return OkStatus();
  }
  std::optional<std::uint64_t> ChangeStamp() override { return stamp; }
  Result<rules::BackendState> Inspect() override {
    ++inspects;
    rules::BackendState state;
    state.container_present = installed.has_value();
    state.hooked = installed.has_value();
    if (installed) {
      for (const auto& source : installed->sources) {
        state.rules.push_back({source, installed->out_interface, 0, 0});
      }
      for (const auto& clamp : installed->clamps) {
        state.clamps.push_back({clamp.network, clamp.mss, 0, 0});
      }
    }
    return state;
  }
  Status Remove() override {
    Note("remove");
    if (fail_remove) return Error::Permission(Where() + ": removing the rules", EPERM);
    ++removes;
    installed.reset();
    return OkStatus();
  }

 private:
  std::string Where() const { return std::string(rules::BackendName(kind_)); }
  void Note(const std::string& call) { journal_->push_back(Where() + " " + call); }

  rules::BackendKind kind_;
  std::shared_ptr<std::vector<std::string>> journal_;
};

// A decision for `chosen`, as the explicit step makes it; `other_census` is what the census of
// the other backend found (dind-netcfg's rules present there or not).
inline rules::BackendDecision DecisionFor(rules::BackendKind chosen, bool ours_in_other = false) {
  const auto evidence = [&](rules::BackendKind kind) {
    rules::BackendState census;
    census.container_present = kind != chosen && ours_in_other;
    return rules::BackendEvidence{kind, netcfg::Availability::kYes, "loaded",
                                  Result<rules::BackendState>(census), std::nullopt};
  };
  return rules::BackendDecision{chosen,
                                rules::ChoiceStep::kExplicit,
                                "asked for",
                                "6.1.0",
                                evidence(rules::BackendKind::kLegacy),
                                evidence(rules::BackendKind::kNft),
                                {},
                                {}};
}

}  // namespace dind::testing
