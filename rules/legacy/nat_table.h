// SPDX-License-Identifier: Apache-2.0
// The narrow seam between the legacy backend and the kernel's ip_tables/ip6_tables tables: nat
// for the masquerade rules, mangle for the MSS clamps.
//
// A NatTable is one snapshot of one family's table (libiptc's iptc_init), edited in memory and
// written back whole by Commit (ip_tables replaces the table as one blob). It was written for
// the nat table and keeps the name; it is any table LegacyTable names. Production uses
// iptc_nat_tables.cpp, the only file that touches libiptc; tests pass an in-memory table.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "rules/legacy/masquerade_entry.h"

namespace dind::rules::legacy {

inline constexpr std::string_view kPostroutingChain = "POSTROUTING";
inline constexpr std::string_view kForwardChain = "FORWARD";
inline constexpr std::string_view kMasqueradeTargetName = "MASQUERADE";
inline constexpr std::string_view kTcpmssTargetName = "TCPMSS";

// The tables the legacy backend edits.
enum class LegacyTable { kNat, kMangle };
// "nat" / "mangle", as iptables -t and /proc/net/ip_tables_names spell them.
std::string_view TableName(LegacyTable table);

struct NatRule {
  // "MASQUERADE", "TCPMSS", "ACCEPT", or the chain a jump goes to. Valid until the snapshot is
  // edited.
  std::string_view target;
  EntryView entry;  // the ipt_entry/ip6t_entry with its counters; same lifetime
};

class NatTable {
 public:
  virtual ~NatTable() = default;
  virtual Family family() const = 0;
  virtual std::vector<std::string> Chains() const = 0;  // built-in chains first
  virtual bool HasChain(std::string_view chain) const = 0;
  // Empty for a chain that does not exist.
  virtual std::vector<NatRule> Rules(std::string_view chain) const = 0;

  virtual Status CreateChain(std::string_view chain) = 0;
  // The chain must be empty and no rule may jump to it.
  virtual Status DeleteChain(std::string_view chain) = 0;
  virtual Status AppendRule(std::string_view chain, EntryView entry) = 0;
  virtual Status DeleteRule(std::string_view chain, unsigned index) = 0;  // 0 is the first rule
  // Writes the edited snapshot to the kernel. Fails with errnum EAGAIN when someone else
  // changed the table since the snapshot was taken; take a new snapshot and edit again.
  virtual Status Commit() = 0;
};

class NatTables {
 public:
  virtual ~NatTables() = default;
  // Whether the kernel already has this family's table in the current network namespace.
  // Opening a table that does not exist creates it (the kernel instantiates legacy tables on
  // first use), which read-only callers such as Inspect and Remove must not cause.
  virtual Result<bool> Exists(Family family, LegacyTable table) = 0;
  virtual Result<std::unique_ptr<NatTable>> Open(Family family, LegacyTable table) = 0;
  // A number that changes whenever the family's table is replaced (any rule added, deleted or
  // moved), read without copying the rules: the kernel's size, entry count and hook offsets.
  // Only call it when Exists() is true (reading creates the table).
  virtual Result<std::uint64_t> Stamp(Family family, LegacyTable table) = 0;
};

// How ip_tables failures read to an operator: permission problems say which capability is
// missing, an absent table or extension names the kernel modules, everything else keeps its
// errno. `action` is what we tried, e.g. "reading the IPv4 nat table".
Error NatTableError(Family family, LegacyTable table, const std::string& action, int errnum);
inline Error NatTableError(Family family, const std::string& action, int errnum) {
  return NatTableError(family, LegacyTable::kNat, action, errnum);
}

}  // namespace dind::rules::legacy
