// The subcommands. Each registers its flags on a CLI11 subcommand and returns a runner that
// yields the process exit code (0 ok, 1 the environment said no, 2 bad usage or input).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "common/result.h"

namespace dind::cli {

using Runner = std::function<int()>;

Runner AddDetectCommand(CLI::App& app);
Runner AddInitCommand(CLI::App& app);
Runner AddVersionCommand(CLI::App& app);

// Logs the error on one line and returns its exit code.
int ReportFailure(const Error& error);

}  // namespace dind::cli
