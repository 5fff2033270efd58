// SPDX-License-Identifier: Apache-2.0
// Runs dind-netcfg (or any program) as a subprocess the way a user or a Kubernetes manifest
// would: its own argv and environment, stdout and stderr captured apart.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dind::cli::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

using Environment = std::vector<std::pair<std::string, std::string>>;

// Runs `argv` (argv[0] found through PATH). The child gets this process's environment without
// any DIND_NETCFG_* or KUBERNETES_SERVICE_HOST, plus `env`, so the caller's shell cannot steer
// a test.
ProcessResult RunProcess(const std::vector<std::string>& argv, const Environment& env = {});

// Runs the dind-netcfg binary under test with `args`.
ProcessResult RunCli(const std::vector<std::string>& args, const Environment& env = {});

// Everything a failed expectation should show about a run.
std::string Describe(const ProcessResult& result);

}  // namespace dind::cli::testing
