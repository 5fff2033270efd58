// SPDX-License-Identifier: Apache-2.0
// The masquerade safety net: what dind-netcfg installs, and the seam every backend implements.
//
// The rules, in either backend:
//   for each source CIDR S:  saddr S, oifname <out_interface>  ->  MASQUERADE (with a counter)
// in a chain/table that only dind-netcfg owns, so `remove` can take away exactly its own rules:
//   legacy: nat chain DIND-NETCFG-POSTROUTING, jumped to from POSTROUTING (one jump rule);
//   nft:    table ip dind-netcfg / ip6 dind-netcfg, chain postrouting
//           (type nat hook postrouting priority srcnat).
//
// And, when the spec asks for them, MSS clamps that heal a path-MTU black hole beyond the pod:
//   for each clamp (network NET, MSS N), in both directions so uploads and downloads fit:
//     TCP SYN (SYN set, RST clear) forwarded with saddr NET, MSS option above N  ->  MSS := N
//     the same with daddr NET
//   legacy: mangle chain DIND-NETCFG-FORWARD, jumped to from FORWARD (one jump rule), rules
//           `-s NET -p tcp --tcp-flags SYN,RST SYN -m tcpmss --mss N+1:65535 -j TCPMSS
//           --set-mss N` (and -d NET);
//   nft:    in our table, chain forward (type filter hook forward priority mangle), rules
//           `ip saddr NET tcp flags & (syn|rst) == syn tcp option maxseg size > N
//           tcp option maxseg size set N counter` (and daddr NET).
// The clamp chain exists only while the spec has clamps of that family, so a pod that never
// clamps pays nothing for them on its forwarded packets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "rules/backend_kind.h"

namespace dind::rules {

inline constexpr std::string_view kLegacyChain = "DIND-NETCFG-POSTROUTING";
inline constexpr std::string_view kNftTable = "dind-netcfg";
inline constexpr std::string_view kNftChain = "postrouting";
inline constexpr std::string_view kLegacyClampChain = "DIND-NETCFG-FORWARD";
inline constexpr std::string_view kNftClampChain = "forward";

// The MSS a clamp may set: TCPMSS and the match on N+1 need N below 65535, and an MSS of 0
// would stop TCP altogether.
inline constexpr std::uint16_t kMinimumRuleMss = 1;
inline constexpr std::uint16_t kMaximumRuleMss = 65534;

struct MssClamp {
  Cidr network;  // the docker network whose forwarded TCP is clamped, both directions
  std::uint16_t mss = 0;
  bool operator==(const MssClamp&) const = default;
};

struct MasqueradeSpec {
  std::vector<Cidr> sources;  // IPv4 and IPv6 mixed; each backend splits by family
  std::string out_interface;
  // IPv4 and IPv6 mixed like sources. A network listed twice is clamped to its lowest MSS.
  std::vector<MssClamp> clamps;
};

// Which address of a forwarded packet a clamp rule matches: one rule per direction.
enum class ClampDirection { kFromNetwork, kToNetwork };  // saddr NET / daddr NET

// The clamps of `family` in `spec`, one per network with the lowest MSS asked for it, in the
// order first listed; kBadInput when an MSS is outside kMinimumRuleMss..kMaximumRuleMss or a
// network is a /0. Both
// backends plan from this, so they agree on what a spec means.
inline Result<std::vector<MssClamp>> ClampsOf(const MasqueradeSpec& spec, Family family) {
  std::vector<MssClamp> clamps;
  for (const MssClamp& clamp : spec.clamps) {
    if (clamp.mss < kMinimumRuleMss || clamp.mss > kMaximumRuleMss) {
      return Error::BadInput("MSS clamp " + std::to_string(clamp.mss) + " for " +
                                 clamp.network.ToString() + " is outside " +
                                 std::to_string(kMinimumRuleMss) + ".." +
                                 std::to_string(kMaximumRuleMss),
                             "clamp to the path MTU minus 40 (IPv4) or 60 (IPv6) bytes");
    }
    if (clamp.network.prefix_length() == 0) {
      // Both directions of a /0 clamp would be the same rule: every forwarded SYN.
      return Error::BadInput("MSS clamp for " + clamp.network.ToString() +
                                 ": a clamp needs a network, not every address",
                             "clamp the docker networks' subnets");
    }
    if (clamp.network.family() != family) continue;
    const auto same = std::find_if(clamps.begin(), clamps.end(), [&](const MssClamp& kept) {
      return kept.network == clamp.network;
    });
    if (same == clamps.end()) {
      clamps.push_back(clamp);
    } else {
      same->mss = std::min(same->mss, clamp.mss);
    }
  }
  return clamps;
}

struct InstalledRule {
  Cidr source;
  std::string out_interface;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// A clamp in effect: both direction rules present with this MSS, in a clamp chain that the
// forward hook reaches (legacy: FORWARD jumps to it; nft: the base chain is ours). Counters are
// the two rules' sums. A half-installed or unhooked clamp is not reported, so a comparison with
// the wanted clamps sees it missing and Apply repairs it.
struct InstalledClamp {
  Cidr network;
  std::uint16_t mss = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// What a backend finds of ours, and how many rules others keep in its nat tables.
struct BackendState {
  bool container_present = false;  // legacy: our chain exists; nft: our table exists
  bool hooked = false;             // legacy: POSTROUTING jumps to our chain; nft: base chain ok
  std::vector<InstalledRule> rules;
  std::vector<InstalledClamp> clamps;  // IPv4 first, then IPv6
  int foreign_nat_rules = 0;           // rules in this backend's nat tables that are not ours
  int foreign_masquerade_rules = 0;
};

class MasqueradeBackend {
 public:
  virtual ~MasqueradeBackend() = default;
  virtual BackendKind kind() const = 0;
  // Makes exactly `spec` present: adds what is missing, deletes rules of ours not in `spec`
  // (a clamp whose MSS changed is replaced). Applying the same spec again changes nothing.
  virtual Status Apply(const MasqueradeSpec& spec) = 0;
  virtual Result<BackendState> Inspect() = 0;
  // Inspect without the census: foreign_* stay 0. What a repeated check needs; nft reads only
  // its own table's rules, so the cost does not grow with other writers' rules.
  virtual Result<BackendState> InspectOurs() { return Inspect(); }
  // A cheap number that changes whenever this backend's tables change, so a poll can skip the
  // full Inspect while nothing happened; nullopt when the backend has none (or it failed).
  virtual std::optional<std::uint64_t> ChangeStamp() { return std::nullopt; }
  // Removes everything of ours (chains and jumps, clamps included / tables) and nothing else.
  // Absent is success.
  virtual Status Remove() = 0;
};

}  // namespace dind::rules
