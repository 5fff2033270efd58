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

// Keeps the first plain `-j to_chain` in `from_chain` wherever it is, or appends one;
// conditional or extra jumps are ours and go.
Result<bool> EnsureJump(NatTable& table, std::string_view from_chain, std::string_view to_chain) {
  bool hooked = false;
  std::vector<unsigned> extra_jumps;
  const auto rules = table.Rules(from_chain);
  for (unsigned i = 0; i < rules.size(); ++i) {
    if (rules[i].target != to_chain) continue;
    if (!hooked && IsUnconditional(table.family(), rules[i].entry)) {
      hooked = true;
    } else {
      extra_jumps.push_back(i);
    }
  }
  bool changed = !extra_jumps.empty();
  DIND_RETURN_IF_ERROR(DeleteRules(table, from_chain, std::move(extra_jumps)));
  if (!hooked) {
    DIND_RETURN_IF_ERROR(table.AppendRule(from_chain, BuildJumpEntry(table.family(), to_chain)));
    changed = true;
  }
  return changed;
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

  auto hooked = EnsureJump(table, kPostroutingChain, kLegacyChain);
  if (!hooked.ok()) return hooked.error();
  return changed || *hooked;
}

// The clamp chain holds both directions of every clamp, with its MSS; FORWARD jumps to it once.
// A rule whose MSS changed is deleted and its replacement appended.
Result<bool> EnsureClampRules(NatTable& table, const std::vector<MssClamp>& clamps) {
  bool changed = false;
  if (!table.HasChain(kLegacyClampChain)) {
    DIND_RETURN_IF_ERROR(table.CreateChain(kLegacyClampChain));
    changed = true;
  }

  const auto wanted_mss = [&](const Cidr& network) -> std::optional<std::uint16_t> {
    for (const MssClamp& clamp : clamps) {
      if (clamp.network == network) return clamp.mss;
    }
    return std::nullopt;
  };
  std::set<std::pair<Cidr, ClampDirection>> present;
  std::vector<unsigned> stale;
  const auto ours = table.Rules(kLegacyClampChain);
  for (unsigned i = 0; i < ours.size(); ++i) {
    const auto parsed = ours[i].target == kTcpmssTargetName
                            ? ParseClampEntry(table.family(), ours[i].entry)
                            : std::nullopt;
    const bool keep = parsed && wanted_mss(parsed->network) == parsed->mss &&
                      present.insert({parsed->network, parsed->direction}).second;
    if (!keep) stale.push_back(i);
  }
  changed = changed || !stale.empty();
  DIND_RETURN_IF_ERROR(DeleteRules(table, kLegacyClampChain, std::move(stale)));
  for (const MssClamp& clamp : clamps) {
    for (ClampDirection direction : {ClampDirection::kFromNetwork, ClampDirection::kToNetwork}) {
      if (present.contains({clamp.network, direction})) continue;
      auto entry = BuildClampEntry(clamp.network, direction, clamp.mss);
      if (!entry.ok()) return entry.error();
      DIND_RETURN_IF_ERROR(table.AppendRule(kLegacyClampChain, *entry));
      changed = true;
    }
  }

  auto hooked = EnsureJump(table, kForwardChain, kLegacyClampChain);
  if (!hooked.ok()) return hooked.error();
  return changed || *hooked;
}

// Takes away every jump to `chain` (a chain cannot be deleted while referenced) and the chain.
Result<bool> RemoveChain(NatTable& table, std::string_view our_chain) {
  if (!table.HasChain(our_chain)) return false;
  for (const std::string& chain : table.Chains()) {
    if (chain == our_chain) continue;
    std::vector<unsigned> jumps;
    const auto rules = table.Rules(chain);
    for (unsigned i = 0; i < rules.size(); ++i) {
      if (rules[i].target == our_chain) jumps.push_back(i);
    }
    DIND_RETURN_IF_ERROR(DeleteRules(table, chain, std::move(jumps)));
  }
  std::vector<unsigned> all(table.Rules(our_chain).size());
  for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
  DIND_RETURN_IF_ERROR(DeleteRules(table, our_chain, std::move(all)));
  DIND_RETURN_IF_ERROR(table.DeleteChain(our_chain));
  return true;
}

std::size_t FamilyIndex(Family family) {
  return family == Family::kIPv4 ? 0 : 1;
}

// The clamps in effect in one family's mangle table, appended to `out`: both directions present
// with the same MSS, and FORWARD jumping to the chain.
void CollectClamps(const NatTable& table, std::vector<InstalledClamp>& out) {
  bool hooked = false;
  for (const NatRule& rule : table.Rules(kForwardChain)) {
    hooked =
        hooked || (rule.target == kLegacyClampChain && IsUnconditional(table.family(), rule.entry));
  }
  if (!hooked) return;
  struct Halves {
    std::optional<ClampEntry> from;
    std::optional<ClampEntry> to;
  };
  std::vector<std::pair<Cidr, Halves>> found;  // in chain order
  for (const NatRule& rule : table.Rules(kLegacyClampChain)) {
    if (rule.target != kTcpmssTargetName) continue;
    auto parsed = ParseClampEntry(table.family(), rule.entry);
    if (!parsed) continue;
    auto it = std::find_if(found.begin(), found.end(),
                           [&](const auto& item) { return item.first == parsed->network; });
    if (it == found.end()) it = found.insert(found.end(), {parsed->network, Halves{}});
    auto& half =
        parsed->direction == ClampDirection::kFromNetwork ? it->second.from : it->second.to;
    if (!half) half = std::move(parsed);  // a duplicate adds nothing: the first one matches
  }
  for (const auto& [network, halves] : found) {
    if (!halves.from || !halves.to || halves.from->mss != halves.to->mss) continue;
    out.push_back(InstalledClamp{network, halves.from->mss,
                                 halves.from->packets + halves.to->packets,
                                 halves.from->bytes + halves.to->bytes});
  }
}

}  // namespace

LegacyBackend::LegacyBackend(std::unique_ptr<NatTables> tables, LegacyOptions options)
    : tables_(std::move(tables)), options_(std::move(options)) {}

Status LegacyBackend::EditFamily(Family family, LegacyTable which, const Edit& edit) {
  std::optional<Error> last_error;
  for (int attempt = 1; attempt <= options_.commit_attempts; ++attempt) {
    // A fresh snapshot every attempt: our edit is recomputed on top of whatever the other
    // writer committed, so nothing they added is written over.
    auto table = tables_->Open(family, which);
    if (!table.ok()) return table.error();
    auto changed = edit(**table);
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
      "the " + FamilyName(family) + " " + std::string(TableName(which)) +
          " table changed under all " + std::to_string(options_.commit_attempts) +
          " commit attempts",
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
  auto v4_clamps = ClampsOf(spec, Family::kIPv4);
  if (!v4_clamps.ok()) return v4_clamps.error().Wrap(context);
  auto v6_clamps = ClampsOf(spec, Family::kIPv6);
  if (!v6_clamps.ok()) return v6_clamps.error().Wrap(context);

  auto lock = XtablesLock::Acquire(options_.lock_path, options_.lock_wait);
  if (!lock.ok()) return lock.error().Wrap(context);
  const std::string& out_interface = spec.out_interface;
  // IPv4 always carries the chain and jump, even empty, so the backend is visibly installed.
  auto applied = EditFamily(Family::kIPv4, LegacyTable::kNat, [&](NatTable& table) {
    return EnsureOurRules(table, v4_sources, out_interface);
  });
  if (!applied.ok()) return applied.error().Wrap(context);
  if (!v6_sources.empty()) {
    applied = EditFamily(Family::kIPv6, LegacyTable::kNat, [&](NatTable& table) {
      return EnsureOurRules(table, v6_sources, out_interface);
    });
  } else {
    // Nothing to masquerade for IPv6: take away what an earlier spec left, if the table exists.
    auto exists = tables_->Exists(Family::kIPv6, LegacyTable::kNat);
    if (!exists.ok()) return exists.error().Wrap(context);
    if (*exists) {
      applied = EditFamily(Family::kIPv6, LegacyTable::kNat,
                           [](NatTable& table) { return RemoveChain(table, kLegacyChain); });
    }
  }
  if (!applied.ok()) return applied.error().Wrap(context);
  applied = ApplyClamps(Family::kIPv4, *v4_clamps);
  if (applied.ok()) applied = ApplyClamps(Family::kIPv6, *v6_clamps);
  if (!applied.ok()) return applied.error().Wrap(context);
  return OkStatus();
}

Result<LegacyBackend::MangleLook> LegacyBackend::LookAtMangle(Family family) {
  auto exists = tables_->Exists(family, LegacyTable::kMangle);
  if (!exists.ok()) return exists.error();
  if (!*exists) return MangleLook{false, std::nullopt};
  // A stamp that cannot be read only costs the shortcut.
  auto stamp = tables_->Stamp(family, LegacyTable::kMangle);
  if (!stamp.ok()) return MangleLook{true, std::nullopt};
  const auto& clamp_free = clamp_free_stamp_[FamilyIndex(family)];
  return MangleLook{clamp_free != *stamp, *stamp};
}

void LegacyBackend::RememberClampFree(Family family, std::optional<std::uint64_t> stamp) {
  // The stamp was read before the snapshot that found nothing: if the table changed in between,
  // the next stamp differs from it and the table is read again.
  clamp_free_stamp_[FamilyIndex(family)] = stamp;
}

Status LegacyBackend::ApplyClamps(Family family, const std::vector<MssClamp>& clamps) {
  if (!clamps.empty()) {
    RememberClampFree(family, std::nullopt);
    return EditFamily(family, LegacyTable::kMangle,
                      [&](NatTable& table) { return EnsureClampRules(table, clamps); });
  }
  auto look = LookAtMangle(family);
  if (!look.ok()) return look.error();
  if (!look->must_read) return OkStatus();
  bool removed = false;
  auto edited = EditFamily(family, LegacyTable::kMangle, [&](NatTable& table) {
    auto changed = RemoveChain(table, kLegacyClampChain);
    removed = changed.ok() && *changed;
    return changed;
  });
  if (!edited.ok()) return edited;
  // After a removal the stamp moved; the next look reads once more and remembers then.
  RememberClampFree(family, removed ? std::nullopt : look->stamp);
  return OkStatus();
}

std::optional<std::uint64_t> LegacyBackend::ChangeStamp() {
  std::uint64_t stamp = 0;
  for (Family family : kFamilies) {
    for (LegacyTable table : {LegacyTable::kNat, LegacyTable::kMangle}) {
      auto exists = tables_->Exists(family, table);
      if (!exists.ok()) return std::nullopt;
      if (!*exists) {
        stamp = stamp * 31;
        continue;
      }
      auto table_stamp = tables_->Stamp(family, table);
      if (!table_stamp.ok()) return std::nullopt;
      stamp = stamp * 31 + *table_stamp + 1;
    }
  }
  return stamp;
}

Status LegacyBackend::Remove() {
  const std::string context = "removing the legacy masquerade rules";
  auto lock = XtablesLock::Acquire(options_.lock_path, options_.lock_wait);
  if (!lock.ok()) return lock.error().Wrap(context);
  for (Family family : kFamilies) {
    for (const auto& [table, chain] : {std::pair{LegacyTable::kNat, kLegacyChain},
                                       std::pair{LegacyTable::kMangle, kLegacyClampChain}}) {
      auto exists = tables_->Exists(family, table);
      if (!exists.ok()) return exists.error().Wrap(context);
      if (!*exists) continue;
      auto removed = EditFamily(
          family, table, [chain = chain](NatTable& opened) { return RemoveChain(opened, chain); });
      if (!removed.ok()) return removed.error().Wrap(context);
    }
  }
  return OkStatus();
}

Result<BackendState> LegacyBackend::Inspect() {
  const std::string context = "inspecting the legacy nat and mangle tables";
  BackendState state;
  bool every_chain_hooked = true;
  for (Family family : kFamilies) {
    auto exists = tables_->Exists(family, LegacyTable::kNat);
    if (!exists.ok()) return exists.error().Wrap(context);
    if (!*exists) continue;
    auto opened = tables_->Open(family, LegacyTable::kNat);
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

  // The clamps: mangle rules are no census matter, so only our chain and FORWARD are read.
  for (Family family : kFamilies) {
    auto look = LookAtMangle(family);
    if (!look.ok()) return look.error().Wrap(context);
    if (!look->must_read) continue;
    auto opened = tables_->Open(family, LegacyTable::kMangle);
    if (!opened.ok()) return opened.error().Wrap(context);
    if ((*opened)->HasChain(kLegacyClampChain)) {
      CollectClamps(**opened, state.clamps);
    } else {
      RememberClampFree(family, look->stamp);
    }
  }
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
