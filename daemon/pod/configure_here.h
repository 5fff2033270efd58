// SPDX-License-Identifier: Apache-2.0
// The one-shot job `init` does and `run` starts with: daemon.json for what detection decided,
// then the masquerade for its networks in the backend chosen here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "daemon/pod/backend_here.h"
#include "daemon/pod/rule_sources.h"
#include "netcfg/daemon_json/atomic_file.h"
#include "netcfg/daemon_json/daemon_json.h"
#include "netcfg/detect/detector.h"

namespace dind::pod {

// A malformed existing daemon.json is bad input (exit 2), found before anything else is done.
// A missing file is fine: it will be created.
Status CheckExistingDaemonJson(const std::string& path);

// Writes daemon.json for what `report` decided, only when its bytes change, and logs it.
Result<netcfg::DaemonJsonUpdate> WriteDaemonJson(const std::string& path,
                                                 const netcfg::DetectionReport& report);

struct Configured {
  netcfg::DaemonJsonUpdate daemon_json;
  ResolvedSpec spec;  // what the rules are for
  // nullopt: rules are not managed here. An Error says the file is written and the rules not.
  std::optional<Result<AppliedRules>> rules;
  // The rules' error, for callers that stop at it.
  Status status() const;
};

// Writes daemon.json for `report` (only when its bytes change) and, when `chosen` is given,
// makes the masquerade for the report's networks present in it (ApplyInChosen). Only a file
// that could not be written is an Error here; rules that fail after the file was written are
// reported in Configured::rules, naming `skip_rules` (when not empty), the caller's way to go
// on without them.
Result<Configured> ConfigureHere(const std::string& daemon_json_path,
                                 const netcfg::DetectionReport& report, const ChosenBackend* chosen,
                                 std::string_view skip_rules);

}  // namespace dind::pod
