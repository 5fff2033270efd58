// SPDX-License-Identifier: Apache-2.0
// In-memory kernel nat and mangle tables for the legacy backend's unit tests: snapshots, commits
// that fail with EAGAIN when someone else committed in between, and a hook to play that someone
// else.
#pragma once

#include <netinet/in.h>
// After netinet/in.h (see masquerade_entry.cpp).
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "rules/legacy/nat_table.h"

namespace dind::testing {

struct FakeRule {
  std::string target;
  rules::legacy::EntryBytes entry;
};

struct FakeTableContents {
  // Chains in order: the four built-ins first, as the kernel lists them.
  std::vector<std::pair<std::string, std::vector<FakeRule>>> chains = {
      {"PREROUTING", {}}, {"INPUT", {}}, {"OUTPUT", {}}, {"POSTROUTING", {}}};

  static FakeTableContents Mangle() {
    FakeTableContents mangle;
    mangle.chains = {
        {"PREROUTING", {}}, {"INPUT", {}}, {"FORWARD", {}}, {"OUTPUT", {}}, {"POSTROUTING", {}}};
    return mangle;
  }

  std::vector<FakeRule>* Find(std::string_view name) {
    for (auto& [chain, rules] : chains) {
      if (chain == name) return &rules;
    }
    return nullptr;
  }
  const std::vector<FakeRule>* Find(std::string_view name) const {
    return const_cast<FakeTableContents*>(this)->Find(name);
  }
};

// The name a rule's target header carries (for our entries: MASQUERADE, TCPMSS or the jump's
// chain), found at the entry's target_offset.
inline std::string TargetNameOf(Family family, rules::legacy::EntryView entry) {
  std::uint16_t target_offset = 0;
  if (family == Family::kIPv4) {
    ipt_entry head;
    std::memcpy(&head, entry.data(), sizeof(head));
    target_offset = head.target_offset;
  } else {
    ip6t_entry head;
    std::memcpy(&head, entry.data(), sizeof(head));
    target_offset = head.target_offset;
  }
  xt_entry_target target;
  std::memcpy(&target, entry.data() + target_offset, sizeof(target));
  return target.u.user.name;
}

struct FakeKernelTable {
  bool exists = true;
  FakeTableContents contents;
  int generation = 0;  // bumped by every commit
  int commits = 0;
  int opens = 0;
  // Runs inside Commit before the generation check: a writer racing us.
  std::function<void(FakeKernelTable&)> before_commit;
  // Commits that replace the table but then fail with EINVAL, as libiptc's commit does when the
  // table changes between its replace and its counter update.
  int replaced_but_failed = 0;
  int refuse_with = 0;  // an errno every commit fails with, changing nothing

  void CommitFromOutside(FakeTableContents next) {
    contents = std::move(next);
    ++generation;
  }
};

class FakeNatTable final : public rules::legacy::NatTable {
 public:
  FakeNatTable(Family family, rules::legacy::LegacyTable table, FakeKernelTable& kernel)
      : family_(family),
        table_(table),
        kernel_(kernel),
        snapshot_(kernel.contents),
        base_(kernel.generation) {}

  Family family() const override { return family_; }
  std::vector<std::string> Chains() const override {
    std::vector<std::string> names;
    for (const auto& chain : snapshot_.chains) names.push_back(chain.first);
    return names;
  }
  bool HasChain(std::string_view chain) const override { return snapshot_.Find(chain) != nullptr; }
  std::vector<rules::legacy::NatRule> Rules(std::string_view chain) const override {
    std::vector<rules::legacy::NatRule> listed;
    if (const auto* found = snapshot_.Find(chain)) {
      for (const auto& rule : *found)
        listed.push_back(rules::legacy::NatRule{rule.target, rule.entry});
    }
    return listed;
  }
  Status CreateChain(std::string_view chain) override {
    if (HasChain(chain)) return Fail(EEXIST);
    snapshot_.chains.emplace_back(std::string(chain), std::vector<FakeRule>{});
    return OkStatus();
  }
  Status DeleteChain(std::string_view chain) override {
    const auto* rules = snapshot_.Find(chain);
    if (rules == nullptr) return Fail(ENOENT);
    if (!rules->empty()) return Fail(ENOTEMPTY);
    for (const auto& other : snapshot_.chains) {
      for (const auto& rule : other.second) {
        if (rule.target == chain) return Fail(EMLINK);
      }
    }
    std::erase_if(snapshot_.chains, [&](const auto& entry) { return entry.first == chain; });
    return OkStatus();
  }
  Status AppendRule(std::string_view chain, rules::legacy::EntryView entry) override {
    auto* rules = snapshot_.Find(chain);
    if (rules == nullptr) return Fail(ENOENT);
    rules->push_back(FakeRule{TargetNameOf(family_, entry),
                              rules::legacy::EntryBytes(entry.begin(), entry.end())});
    return OkStatus();
  }
  Status DeleteRule(std::string_view chain, unsigned index) override {
    auto* rules = snapshot_.Find(chain);
    if (rules == nullptr) return Fail(ENOENT);
    if (index >= rules->size()) return Fail(E2BIG);
    rules->erase(rules->begin() + index);
    return OkStatus();
  }
  Status Commit() override {
    if (kernel_.before_commit) kernel_.before_commit(kernel_);
    if (kernel_.refuse_with != 0) return Fail(kernel_.refuse_with);
    if (kernel_.generation != base_) return Fail(EAGAIN);
    kernel_.contents = snapshot_;
    ++kernel_.generation;
    ++kernel_.commits;
    if (kernel_.replaced_but_failed > 0) {
      --kernel_.replaced_but_failed;
      return Fail(EINVAL);
    }
    return OkStatus();
  }

 private:
  Error Fail(int errnum) const {
    return rules::legacy::NatTableError(family_, table_, "fake table", errnum);
  }

  Family family_;
  rules::legacy::LegacyTable table_;
  FakeKernelTable& kernel_;
  FakeTableContents snapshot_;
  int base_;
};

class FakeNatTables final : public rules::legacy::NatTables {
 public:
  FakeKernelTable v4;  // the nat tables
  FakeKernelTable v6;
  // The mangle tables start absent, as in a pod nothing has asked for them yet.
  FakeKernelTable mangle_v4{false, FakeTableContents::Mangle()};
  FakeKernelTable mangle_v6{false, FakeTableContents::Mangle()};
  int stamps = 0;  // Stamp calls, all tables

  FakeKernelTable& Of(Family family) { return family == Family::kIPv4 ? v4 : v6; }
  FakeKernelTable& Of(Family family, rules::legacy::LegacyTable table) {
    if (table == rules::legacy::LegacyTable::kNat) return Of(family);
    return family == Family::kIPv4 ? mangle_v4 : mangle_v6;
  }

  Result<bool> Exists(Family family, rules::legacy::LegacyTable table) override {
    return Of(family, table).exists;
  }
  Result<std::unique_ptr<rules::legacy::NatTable>> Open(Family family,
                                                        rules::legacy::LegacyTable table) override {
    FakeKernelTable& kernel = Of(family, table);
    ++kernel.opens;
    kernel.exists = true;  // as in the kernel: reading a table instantiates it
    return std::unique_ptr<rules::legacy::NatTable>(
        std::make_unique<FakeNatTable>(family, table, kernel));
  }
  Result<std::uint64_t> Stamp(Family family, rules::legacy::LegacyTable table) override {
    ++stamps;
    return static_cast<std::uint64_t>(Of(family, table).generation);
  }
};

}  // namespace dind::testing
