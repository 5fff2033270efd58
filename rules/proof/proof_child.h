// SPDX-License-Identifier: Apache-2.0
// The half of the proof by traffic that runs in the disposable child process: it moves the
// whole process into two new network namespaces for good, which is why it never runs in the
// caller's process.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rules/proof/traffic_proof.h"

namespace dind::rules {

// Runs the proof and writes its report (steps, then an outcome or an error) to `report_fd`.
// Call only in a freshly forked, single-threaded child that exits right after.
void RunProofInChild(BackendKind kind, const BackendFactory& factory,
                     std::chrono::milliseconds receive_wait, int report_fd);

// The CapEff mask from the text of /proc/self/status; nullopt when absent or malformed.
std::optional<std::uint64_t> EffectiveCapabilities(std::string_view proc_status);

// What to tell the operator when creating a network namespace was refused, given the
// process's effective capabilities (nullopt: unknown).
std::string NamespaceRefusalHint(std::optional<std::uint64_t> effective);

}  // namespace dind::rules
