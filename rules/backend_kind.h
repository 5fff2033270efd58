// SPDX-License-Identifier: Apache-2.0
// The two masquerade backends, and the one place a backend becomes a word (and a word a
// backend), or names the other one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dind::rules {

enum class BackendKind { kLegacy, kNft };

inline constexpr BackendKind kBothBackends[] = {BackendKind::kLegacy, BackendKind::kNft};

// "legacy" or "nft": what --backend takes, what reports and logs say.
inline std::string BackendName(BackendKind kind) {
  return kind == BackendKind::kLegacy ? "legacy" : "nft";
}

// The backend `name` names ("legacy" or "nft"); nullopt for any other word.
inline std::optional<BackendKind> ParseBackendName(std::string_view name) {
  for (const BackendKind kind : kBothBackends) {
    if (name == BackendName(kind)) return kind;
  }
  return std::nullopt;
}

inline BackendKind OtherBackend(BackendKind kind) {
  return kind == BackendKind::kLegacy ? BackendKind::kNft : BackendKind::kLegacy;
}

}  // namespace dind::rules
