// SPDX-License-Identifier: Apache-2.0
// ip_tables entries for the legacy masquerade backend, built and read as plain bytes.
//
// An entry is what the kernel stores per rule: an ipt_entry (ip6t_entry for IPv6), its matches
// (masquerade rules use none, clamp rules tcp and tcpmss) and its target. Building and parsing them
// here, apart from libiptc, keeps the encoding testable without root and lets us compare it with
// what iptables itself writes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "rules/masquerade.h"

namespace dind::rules::legacy {

using EntryBytes = std::vector<std::uint8_t>;
using EntryView = std::span<const std::uint8_t>;

// Accepts what `iptables -o NAME` accepts: 1..15 characters, no '/' or whitespace; a trailing
// '+' matches every interface with that prefix.
Status ValidateOutInterface(std::string_view name);

// The entry of `-s SOURCE -o OUT_INTERFACE -j MASQUERADE`, in the layout of source's family,
// byte for byte as iptables-legacy/ip6tables-legacy would build it (counters zero).
Result<EntryBytes> BuildMasqueradeEntry(const Cidr& source, std::string_view out_interface);

// The entry of an unconditional `-j CHAIN` (a jump to a user chain) in `family`'s layout.
EntryBytes BuildJumpEntry(Family family, std::string_view chain);

// Reads an entry back as (source, out_interface, counters) when it is exactly of the form
// BuildMasqueradeEntry makes; nullopt for anything else (other matches, inversions, options
// such as --random, truncated bytes).
std::optional<InstalledRule> ParseMasqueradeEntry(Family family, EntryView entry);

// One direction of an MSS clamp as found in the mangle table.
struct ClampEntry {
  Cidr network;
  ClampDirection direction = ClampDirection::kFromNetwork;
  std::uint16_t mss = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  bool operator==(const ClampEntry&) const = default;
};

// The entry of `-s NETWORK` (kFromNetwork) or `-d NETWORK` (kToNetwork)
// `-p tcp -m tcp --tcp-flags SYN,RST SYN -m tcpmss --mss MSS+1:65535 -j TCPMSS --set-mss MSS`
// in the layout of network's family, as iptables-legacy/ip6tables-legacy build it. kBadInput for
// an MSS outside kMinimumRuleMss..kMaximumRuleMss.
Result<EntryBytes> BuildClampEntry(const Cidr& network, ClampDirection direction,
                                   std::uint16_t mss);

// Reads an entry back when it is exactly of the form BuildClampEntry makes (whatever MSS);
// nullopt for anything else.
std::optional<ClampEntry> ParseClampEntry(Family family, EntryView entry);

// True when the entry matches every packet: no addresses, interfaces, protocol, flags
// (so not a goto) and no matches. Says nothing about the target.
bool IsUnconditional(Family family, EntryView entry);

}  // namespace dind::rules::legacy
