// SPDX-License-Identifier: Apache-2.0
// The masquerade safety net: what dind-netcfg installs, and the seam every backend implements.
//
// The rules, in either backend:
//   for each source CIDR S:  saddr S, oifname <out_interface>  ->  MASQUERADE (with a counter)
// in a chain/table that only dind-netcfg owns, so `remove` can take away exactly its own rules:
//   legacy: nat chain DIND-NETCFG-POSTROUTING, jumped to from POSTROUTING (one jump rule);
//   nft:    table ip dind-netcfg / ip6 dind-netcfg, chain postrouting
//           (type nat hook postrouting priority srcnat).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"

namespace dind::rules {

inline constexpr std::string_view kLegacyChain = "DIND-NETCFG-POSTROUTING";
inline constexpr std::string_view kNftTable = "dind-netcfg";
inline constexpr std::string_view kNftChain = "postrouting";

struct MasqueradeSpec {
  std::vector<Cidr> sources;  // IPv4 and IPv6 mixed; each backend splits by family
  std::string out_interface;
};

struct InstalledRule {
  Cidr source;
  std::string out_interface;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// What a backend finds of ours, and how many rules others keep in its nat tables.
struct BackendState {
  bool container_present = false;  // legacy: our chain exists; nft: our table exists
  bool hooked = false;             // legacy: POSTROUTING jumps to our chain; nft: base chain ok
  std::vector<InstalledRule> rules;
  int foreign_nat_rules = 0;  // rules in this backend's nat tables that are not ours
  int foreign_masquerade_rules = 0;
};

enum class BackendKind { kLegacy, kNft };
inline std::string_view BackendName(BackendKind kind) {
  return kind == BackendKind::kLegacy ? "legacy" : "nft";
}

class MasqueradeBackend {
 public:
  virtual ~MasqueradeBackend() = default;
  virtual BackendKind kind() const = 0;
  // Makes exactly `spec` present: adds what is missing, deletes rules of ours not in `spec`.
  // Applying the same spec again changes nothing.
  virtual Status Apply(const MasqueradeSpec& spec) = 0;
  virtual Result<BackendState> Inspect() = 0;
  // Inspect without the census: foreign_* stay 0. What a repeated check needs; nft reads only
  // its own table's rules, so the cost does not grow with other writers' rules.
  virtual Result<BackendState> InspectOurs() { return Inspect(); }
  // A cheap number that changes whenever this backend's tables change, so a poll can skip the
  // full Inspect while nothing happened; nullopt when the backend has none (or it failed).
  virtual std::optional<std::uint64_t> ChangeStamp() { return std::nullopt; }
  // Removes everything of ours (chain and jump / table) and nothing else. Absent is success.
  virtual Status Remove() = 0;
};

}  // namespace dind::rules
