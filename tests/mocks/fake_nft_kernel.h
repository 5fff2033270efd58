// SPDX-License-Identifier: Apache-2.0
// An in-memory nf_tables kernel for the nft backend's unit tests: it executes operations like
// nf_tables does (atomically, handles per table, generation bumps), can refuse every commit with
// an errno, and can play another writer committing between the backend's read and its commit.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "rules/nft/nft_kernel.h"
#include "rules/nft/nft_messages.h"
#include "rules/nft/nft_model.h"

namespace dind::testing {

class FakeNftKernel final : public rules::nft::NftKernel {
 public:
  explicit FakeNftKernel(rules::nft::NftRuleset* ruleset) : ruleset_(ruleset) {}

  Result<rules::nft::NftRuleset> ReadRuleset(rules::nft::RuleScope scope) override {
    rules::nft::NftRuleset copy = *ruleset_;
    if (scope == rules::nft::RuleScope::kOurRules) {
      std::erase_if(copy.rules, [](const rules::nft::NftRuleRecord& rule) {
        return !rules::nft::IsOurTable(rule.family, rule.table);
      });
    }
    if (interfere_after_read_) {
      interfere_after_read_ = false;
      ++ruleset_->generation;  // someone else committed meanwhile
    }
    return copy;
  }

  Status Commit(const std::vector<rules::nft::NftOp>& ops, std::uint32_t generation) override {
    ++commits;
    if (refuse_with_errno != 0) {
      return rules::nft::KernelRefusal(&ops.front(), refuse_with_errno, "");
    }
    if (generation != 0 && generation != ruleset_->generation) {
      return rules::nft::KernelRefusal(nullptr, ERESTART, "");
    }
    rules::nft::NftRuleset next = *ruleset_;
    for (const rules::nft::NftOp& op : ops) {
      Status applied = ApplyOne(op, next);
      if (!applied.ok()) return applied;
    }
    ++next.generation;
    *ruleset_ = next;
    return OkStatus();
  }

  int commits = 0;
  bool interfere_after_read_ = false;
  int refuse_with_errno = 0;

 private:
  Status ApplyOne(const rules::nft::NftOp& op, rules::nft::NftRuleset& next) {
    using rules::nft::NfprotoOf;
    auto ours = [](Family family) {
      return [family](const auto& item) {
        return item.family == NfprotoOf(family) && IsOurTableName(item);
      };
    };
    if (const auto* add = std::get_if<rules::nft::AddTable>(&op)) {
      if (std::none_of(next.tables.begin(), next.tables.end(), ours(add->family))) {
        next.tables.push_back({NfprotoOf(add->family), "dind-netcfg"});
      }
    } else if (const auto* chain = std::get_if<rules::nft::AddChain>(&op)) {
      const std::string name(rules::nft::ChainName(chain->chain));
      if (std::none_of(next.chains.begin(), next.chains.end(),
                       [&](const auto& c) { return ours(chain->family)(c) && c.name == name; })) {
        if (!HasOurTable(next, chain->family)) return rules::nft::KernelRefusal(&op, ENOENT, "");
        next.chains.push_back(
            rules::nft::ParseChain(rules::nft::BuildBaseChain(chain->family, chain->chain).get()));
      }
    } else if (const auto* rule = std::get_if<rules::nft::AddRule>(&op)) {
      rules::nft::UniqueRule built = rules::nft::BuildMasqueradeRule(rule->match);
      rules::nft::NftRuleRecord record = rules::nft::ParseRule(built.get());
      record.handle = ++last_handle_;
      next.rules.push_back(record);
    } else if (const auto* clamp = std::get_if<rules::nft::AddClampRule>(&op)) {
      const Family family = clamp->match.network.family();
      if (!HasOurChain(next, family, "forward")) {
        return rules::nft::KernelRefusal(&op, ENOENT, "");
      }
      rules::nft::UniqueRule built = rules::nft::BuildClampRule(clamp->match);
      rules::nft::NftRuleRecord record = rules::nft::ParseRule(built.get());
      record.handle = ++last_handle_;
      next.rules.push_back(record);
    } else if (const auto* del = std::get_if<rules::nft::DeleteRule>(&op)) {
      const std::string chain_name(rules::nft::ChainName(del->chain));
      const auto erased = std::erase_if(next.rules, [&](const rules::nft::NftRuleRecord& r) {
        return r.family == NfprotoOf(del->family) && r.table == "dind-netcfg" &&
               r.chain == chain_name && r.handle == del->handle;
      });
      if (erased == 0) return rules::nft::KernelRefusal(&op, ENOENT, "");
    } else if (const auto* drop_chain = std::get_if<rules::nft::DeleteChain>(&op)) {
      // As nf_tables with NLM_F_NONREC semantics: a chain that still has rules is busy.
      const std::string chain_name(rules::nft::ChainName(drop_chain->chain));
      const auto in_chain = [&](const auto& item) {
        return ours(drop_chain->family)(item) && item.chain == chain_name;
      };
      if (std::any_of(next.rules.begin(), next.rules.end(), in_chain)) {
        return rules::nft::KernelRefusal(&op, EBUSY, "");
      }
      if (std::erase_if(next.chains, [&](const rules::nft::NftChainRecord& c) {
            return ours(drop_chain->family)(c) && c.name == chain_name;
          }) == 0) {
        return rules::nft::KernelRefusal(&op, ENOENT, "");
      }
    } else if (const auto* drop = std::get_if<rules::nft::DeleteTable>(&op)) {
      if (std::erase_if(next.tables, ours(drop->family)) == 0) {
        return rules::nft::KernelRefusal(&op, ENOENT, "");
      }
      std::erase_if(next.chains, ours(drop->family));
      std::erase_if(next.rules, ours(drop->family));
    }
    return OkStatus();
  }
  static bool HasOurTable(const rules::nft::NftRuleset& ruleset, Family family) {
    return std::any_of(ruleset.tables.begin(), ruleset.tables.end(), [&](const auto& t) {
      return t.family == rules::nft::NfprotoOf(family) && IsOurTableName(t);
    });
  }
  static bool HasOurChain(const rules::nft::NftRuleset& ruleset, Family family,
                          const std::string& name) {
    return std::any_of(ruleset.chains.begin(), ruleset.chains.end(), [&](const auto& c) {
      return c.family == rules::nft::NfprotoOf(family) && IsOurTableName(c) && c.name == name;
    });
  }
  static bool IsOurTableName(const rules::nft::NftTableRecord& t) {
    return t.name == "dind-netcfg";
  }
  static bool IsOurTableName(const rules::nft::NftChainRecord& c) {
    return c.table == "dind-netcfg";
  }
  static bool IsOurTableName(const rules::nft::NftRuleRecord& r) {
    return r.table == "dind-netcfg";
  }

  rules::nft::NftRuleset* ruleset_;
  std::uint64_t last_handle_ = 100;
};

}  // namespace dind::testing
