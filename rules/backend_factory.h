// SPDX-License-Identifier: Apache-2.0
// Opening a real masquerade backend: the one place that knows both backends' constructors, so
// the commands, the backend choice and the traffic proof open them alike.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "common/result.h"
#include "rules/legacy/xtables_lock.h"
#include "rules/masquerade.h"

namespace dind::rules {

using BackendFactory = std::function<Result<std::unique_ptr<MasqueradeBackend>>(BackendKind)>;

// What opening a real backend takes from the command line.
struct BackendOptions {
  // How long the legacy backend waits for the xtables lock that dockerd's and every other
  // iptables-legacy call takes (--xtables-wait).
  std::chrono::milliseconds xtables_wait = legacy::kDefaultXtablesWait;
};

// The factory for the real backends (legacy: MakeLegacyBackend(); nft: MakeNftBackend()), in
// the calling thread's network namespace.
BackendFactory BackendFactoryFor(BackendOptions options);
// The same with the default options.
Result<std::unique_ptr<MasqueradeBackend>> MakeBackend(BackendKind kind);

}  // namespace dind::rules
