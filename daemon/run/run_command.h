// SPDX-License-Identifier: Apache-2.0
// `dind-netcfg run`, the sidecar daemon.
#pragma once

#include <CLI/CLI.hpp>

#include "daemon/commands/commands.h"

namespace dind::run {

cli::Runner AddRunCommand(CLI::App& app);

}  // namespace dind::run
