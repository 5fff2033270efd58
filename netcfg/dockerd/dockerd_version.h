// SPDX-License-Identifier: Apache-2.0
// The dockerd version daemon.json is written for (--dockerd-version, what the dockerd binary
// states: its Go build information or `dockerd --version`, or the oldest supported), which decides
// the keys that dockerd understands.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "netcfg/detect/facts.h"

namespace dind::netcfg {

struct DockerVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string ToString() const;
  bool AtLeast(int want_major, int want_minor) const {
    return major > want_major || (major == want_major && minor >= want_minor);
  }
};

inline constexpr DockerVersion kOldestSupportedDocker{20, 10, 0};

// An Engine API version, "1.44": what GET /version reports as ApiVersion and MinAPIVersion and what
// daemon.json's "min-api-version" takes (without a "v").
struct ApiVersion {
  int major = 1;
  int minor = 0;
  std::string ToString() const;
  auto operator<=>(const ApiVersion&) const = default;
};

// The lowest floor any dockerd accepts for min-api-version (moby's MinAPIVersion, "1.24"):
// dockerd 25.0-28.x serve from it by default; 29.0-29.2 default to 1.44 and 29.3 on to 1.40.
inline constexpr ApiVersion kLowestApiFloor{1, 24};

// "1.N" with N of 1-3 digits, nothing else (no "v", no blanks, no patch); nullopt otherwise.
std::optional<ApiVersion> ParseApiVersion(std::string_view text);

// Accepts "24.0.7", "v25.0", "26", and `dockerd --version` output
// ("Docker version 20.10.24+dfsg1, build 5d6db84").
std::optional<DockerVersion> ParseDockerVersion(const std::string& text);

struct DockerdDecision {
  DockerVersion version;
  std::string source;     // "flag", "dockerd" (as it or its binary states it), "assumed"
  std::string read_from;  // with "dockerd": "GET /version of unix://SOCKET", "Go build info of
                          // PATH" or "PATH --version"
  // dockerd >= 24.0 applies default-network-opts; an older one ignores the key (or refuses it
  // beside --bridge), so it is written only for >= 24.0.
  bool supports_default_network_opts = false;
  std::string reason;
  // daemon.json "min-api-version" exists from docker-v29.0.0 (moby 9b8419f6ed); dockerd <= 28
  // refuses to start with it ("the following directives don't match any configuration option").
  bool supports_min_api_version = false;
  // --min-api-version, when given; written only when supports_min_api_version.
  std::optional<ApiVersion> min_api_version;
  // What becomes of --min-api-version here; empty when it was not given.
  std::string min_api_version_reason;
};

// `requested` is the --dockerd-version value ("auto" or a version); `stated` what dockerd's
// binary (or its running API) says of its version, when it could be read; `min_api_version` the
// --min-api-version value. kBadInput for an unparsable flag value, and for a --min-api-version
// above the newest API version the running dockerd serves (stated->max_api_version, known only
// from its GET /version; otherwise min_api_version_reason says it could not be checked).
Result<DockerdDecision> DecideDockerd(const std::string& requested,
                                      const std::optional<DockerdVersionText>& stated,
                                      std::optional<ApiVersion> min_api_version = std::nullopt);

}  // namespace dind::netcfg
