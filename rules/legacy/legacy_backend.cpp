// SPDX-License-Identifier: Apache-2.0
#include "rules/legacy/legacy_backend.h"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <utility>

#include "rules/legacy/iptc_nat_tables.h"
#include "rules/legacy/masquerade_entry.h"
#include "rules/legacy/xtables_lock.h"

namespace dind::rules::legacy {
namespace {

constexpr Family kFamilies[] = {Family::kIPv4, Family::kIPv6};

std::string FamilyName(Family family) {
  return family == Family::kIPv4 ? "IPv4" : "IPv6";
}

// Deletes rules by index, last first, so the earlier indexes stay valid.
Status DeleteRules(NatTable& table, std::string_view chain, std::vector<unsigned> indexes) {
  std::sort(indexes.rbegin(), indexes.rend());
  for (unsigned index : indexes) DIND_RETURN_IF_ERROR(table.DeleteRule(chain, index));
  return OkStatus();
}

bool IsOurMasquerade(const NatRule& rule, Family family, const std::vector<Cidr>& sources,
                     const std::string& out_interface, std::set<Cidr>& seen) {
  if (rule.target != kMasqueradeTargetName) return false;
  const auto parsed = ParseMasqueradeEntry(family, rule.entry);
  return parsed && parsed->out_interface == out_interface &&
         std::find(sources.begin(), sources.end(), parsed->source) != sources.end() &&
         seen.insert(parsed->source).second;  // a duplicate is stale
}

// Our chain holds exactly `sources` (in their order when added), POSTROUTING jumps to it once.
Result<bool> EnsureOurRules(NatTable& table, const std::vector<Cidr>& sources,
                            const std::string& out_interface) {
  bool changed = false;
  if (!table.HasChain(kLegacyChain)) {
    DIND_RETURN_IF_ERROR(table.CreateChain(kLegacyChain));
    changed = true;
  }

  std::set<Cidr> present;
  std::vector<unsigned> stale;
  const auto ours = table.Rules(kLegacyChain);
  for (unsigned i = 0; i < ours.size(); ++i) {
    if (!IsOurMasquerade(ours[i], table.family(), sources, out_interface, present)) {
      stale.push_back(i);
    }
  }
  changed = changed || !stale.empty();
  DIND_RETURN_IF_ERROR(DeleteRules(table, kLegacyChain, std::move(stale)));
  for (const Cidr& source : sources) {
    if (present.contains(source)) continue;
    auto entry = BuildMasqueradeEntry(source, out_interface);
    if (!entry.ok()) return entry.error();
    DIND_RETURN_IF_ERROR(table.AppendRule(kLegacyChain, *entry));
    changed = true;
  }

  // Keep the first plain jump wherever it is; conditional or extra jumps are ours and go.
  bool hooked = false;
  std::vector<unsigned> extra_jumps;
  const auto postrouting = table.Rules(kPostroutingChain);
  for (unsigned i = 0; i < postrouting.size(); ++i) {
    if (postrouting[i].target != kLegacyChain) continue;
    if (!hooked && IsUnconditional(table.family(), postrouting[i].entry)) {
      hooked = true;
    } else {
      extra_jumps.push_back(i);
    }
  }
  changed = changed || !extra_jumps.empty();
  DIND_RETURN_IF_ERROR(DeleteRules(table, kPostroutingChain, std::move(extra_jumps)));
  if (!hooked) {
    DIND_RETURN_IF_ERROR(
        table.AppendRule(kPostroutingChain, BuildJumpEntry(table.family(), kLegacyChain)));
    changed = true;
  }
  return changed;
}

// Takes away every jump to our chain (a chain cannot be deleted while referenced) and the chain.
Result<bool> RemoveOurRules(NatTable& table, const std::vector<Cidr>&, const std::string&) {
  if (!table.HasChain(kLegacyChain)) return false;
  for (const std::string& chain : table.Chains()) {
    if (chain == kLegacyChain) continue;
    std::vector<unsigned> jumps;
    const auto rules = table.Rules(chain);
    for (unsigned i = 0; i < rules.size(); ++i) {
      if (rules[i].target == kLegacyChain) jumps.push_back(i);
    }
    DIND_RETURN_IF_ERROR(DeleteRules(table, chain, std::move(jumps)));
  }
  std::vector<unsigned> all(table.Rules(kLegacyChain).size());
  for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
  DIND_RETURN_IF_ERROR(DeleteRules(table, kLegacyChain, std::move(all)));
  DIND_RETURN_IF_ERROR(table.DeleteChain(kLegacyChain));
  return true;
}

}  // namespace

LegacyBackend::LegacyBackend(std::unique_ptr<NatTables> tables, LegacyOptions options)
    : tables_(std::move(tables)), options_(std::move(options)) {}

Status LegacyBackend::EditFamily(Family family, Edit edit, const std::vector<Cidr>& sources,
                                 const std::string& out_interface) {
  std::optional<Error> last_error;
  for (int attempt = 1; attempt <= options_.commit_attempts; ++attempt) {
    // A fresh snapshot every attempt: our edit is recomputed on top of whatever the other
    // writer committed, so nothing they added is written over.
    auto table = tables_->Open(family);
    if (!table.ok()) return table.error();
    auto changed = edit(**table, sources, out_interface);
    if (!changed.ok()) return changed.error();
    if (!*changed) return OkStatus();
    auto committed = (*table)->Commit();
    if (committed.ok()) return OkStatus();
    // EAGAIN: the table changed before our replace, which the kernel refused. EINVAL: it
    // changed between our replace and libiptc's second call that carries the counters over,
    // so the replace may have happened. Either way the next snapshot tells.
    const int errnum = committed.error().errnum;
    if (errnum != EAGAIN && errnum != EINVAL) return committed;
    last_error = committed.error();
  }
  if (last_error && last_error->errnum != EAGAIN) return *last_error;
  return Error::Environment(
      "the " + FamilyName(family) + " nat table changed under all " +
          std::to_string(options_.commit_attempts) + " commit attempts",
      EAGAIN,
      "a program keeps rewriting it without taking the xtables lock " + options_.lock_path +
          "; find it (e.g. a second iptables with another XTABLES_LOCKFILE) or retry later");
}

Status LegacyBackend::Apply(const MasqueradeSpec& spec) {
  const std::string context = "applying the legacy masquerade rules";
  if (auto valid = ValidateOutInterface(spec.out_interface); !valid.ok()) {
    return valid.error().Wrap(context);
  }
  std::vector<Cidr> v4_sources;
  std::vector<Cidr> v6_sources;
  for (const Cidr& source : spec.sources) {
    auto& sources = source.family() == Family::kIPv4 ? v4_sources : v6_sources;
    if (std::find(sources.begin(), sources.end(), source) == sources.end()) {
      sources.push_back(source);
    }
  }

  auto lock = XtablesLock::Acquire(options_.lock_path, options_.lock_wait);
  if (!lock.ok()) return lock.error().Wrap(context);
  // IPv4 always carries the chain and jump, even empty, so the backend is visibly installed.
  auto applied = EditFamily(Family::kIPv4, EnsureOurRules, v4_sources, spec.out_interface);
  if (!applied.ok()) return applied.error().Wrap(context);
  if (!v6_sources.empty()) {
    applied = EditFamily(Family::kIPv6, EnsureOurRules, v6_sources, spec.out_interface);
  } else {
    // Nothing to masquerade for IPv6: take away what an earlier spec left, if the table exists.
    auto exists = tables_->Exists(Family::kIPv6);
    if (!exists.ok()) return exists.error().Wrap(context);
    if (*exists) applied = EditFamily(Family::kIPv6, RemoveOurRules, {}, spec.out_interface);
  }
  if (!applied.ok()) return applied.error().Wrap(context);
  return OkStatus();
}

std::optional<std::uint64_t> LegacyBackend::ChangeStamp() {
  std::uint64_t stamp = 0;
  for (Family family : kFamilies) {
    auto exists = tables_->Exists(family);
    if (!exists.ok()) return std::nullopt;
    if (!*exists) continue;
    auto family_stamp = tables_->Stamp(family);
    if (!family_stamp.ok()) return std::nullopt;
    stamp = stamp * 31 + *family_stamp + 1;
  }
  return stamp;
}

Status LegacyBackend::Remove() {
  const std::string context = "removing the legacy masquerade rules";
  auto lock = XtablesLock::Acquire(options_.lock_path, options_.lock_wait);
  if (!lock.ok()) return lock.error().Wrap(context);
  for (Family family : kFamilies) {
    auto exists = tables_->Exists(family);
    if (!exists.ok()) return exists.error().Wrap(context);
    if (!*exists) continue;
    auto removed = EditFamily(family, RemoveOurRules, {}, {});
    if (!removed.ok()) return removed.error().Wrap(context);
  }
  return OkStatus();
}

Result<BackendState> LegacyBackend::Inspect() {
  const std::string context = "inspecting the legacy nat tables";
  BackendState state;
  bool every_chain_hooked = true;
  for (Family family : kFamilies) {
    auto exists = tables_->Exists(family);
    if (!exists.ok()) return exists.error().Wrap(context);
    if (!*exists) continue;
    auto opened = tables_->Open(family);
    if (!opened.ok()) return opened.error().Wrap(context);
    const NatTable& table = **opened;

    bool hooked = false;
    // One pass over every rule: the census has to stay cheap on nodes with 50,000 rules.
    for (const std::string& chain : table.Chains()) {
      const bool our_chain = chain == kLegacyChain;
      for (const NatRule& rule : table.Rules(chain)) {
        if (our_chain) {
          if (auto parsed = ParseMasqueradeEntry(family, rule.entry)) {
            state.rules.push_back(std::move(*parsed));
          }
        } else if (rule.target == kLegacyChain) {
          hooked = hooked || (chain == kPostroutingChain && IsUnconditional(family, rule.entry));
        } else {
          ++state.foreign_nat_rules;
          if (rule.target == kMasqueradeTargetName) ++state.foreign_masquerade_rules;
        }
      }
    }
    if (table.HasChain(kLegacyChain)) {
      state.container_present = true;
      every_chain_hooked = every_chain_hooked && hooked;
    }
  }
  state.hooked = state.container_present && every_chain_hooked;
  return state;
}

Result<std::unique_ptr<MasqueradeBackend>> MakeLegacyBackend(LegacyOptions options) {
  if (options.lock_path.empty()) options.lock_path = XtablesLock::DefaultPath();
  if (options.lock_wait.count() < 0) {
    return Error::BadInput("the xtables lock wait must not be negative",
                           "pass 0 to try the lock once");
  }
  if (options.commit_attempts < 1) {
    return Error::BadInput("the legacy backend needs at least one commit attempt");
  }
  return std::unique_ptr<MasqueradeBackend>(
      std::make_unique<LegacyBackend>(MakeIptcNatTables(), std::move(options)));
}

}  // namespace dind::rules::legacy
