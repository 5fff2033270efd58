// SPDX-License-Identifier: Apache-2.0
// dockerd as the entrypoint starts it, and the kernel modules its backend needs. Pure: the
// command line and the module list are values, tested without a dockerd.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "rules/masquerade.h"

namespace dind::entrypoint {

struct DockerdLaunch {
  std::string dockerd = "dockerd";  // --dockerd: a path, or a name looked up in PATH
  std::string daemon_json;          // passed as --config-file
  std::string socket;               // passed as --host unix://SOCKET
  std::vector<std::string> extra;   // --dockerd-arg, in order
};

// dockerd's argv. The entrypoint owns --config-file and --host (the sidecar reads the file it
// wrote and the socket it serves): a --dockerd-arg that sets either is bad input.
Result<std::vector<std::string>> DockerdArgv(const DockerdLaunch& launch);

// The modules the backend's rules need, IPv6's too when `ipv6`; docker:dind loads the same.
std::vector<std::string> ModulesFor(rules::BackendKind backend, bool ipv6);

}  // namespace dind::entrypoint
