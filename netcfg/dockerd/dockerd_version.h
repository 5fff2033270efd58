// SPDX-License-Identifier: Apache-2.0
// The dockerd version daemon.json is written for (--dockerd-version, what the dockerd binary
// states: its Go build information or `dockerd --version`, or the oldest supported), which decides
// the keys that dockerd understands.
#pragma once

#include <optional>
#include <string>

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

// Accepts "24.0.7", "v25.0", "26", and `dockerd --version` output
// ("Docker version 20.10.24+dfsg1, build 5d6db84").
std::optional<DockerVersion> ParseDockerVersion(const std::string& text);

struct DockerdDecision {
  DockerVersion version;
  std::string source;     // "flag", "dockerd" (as the binary states it), "assumed"
  std::string read_from;  // with "dockerd": "Go build info of PATH" or "PATH --version"
  // dockerd >= 24.0 applies default-network-opts; an older one ignores the key (or refuses it
  // beside --bridge), so it is written only for >= 24.0.
  bool supports_default_network_opts = false;
  std::string reason;
};

// `requested` is the --dockerd-version value ("auto" or a version); `stated` what dockerd's
// binary says of its version, when it could be read. kBadInput for an unparsable flag value.
Result<DockerdDecision> DecideDockerd(const std::string& requested,
                                      const std::optional<DockerdVersionText>& stated);

}  // namespace dind::netcfg
