// SPDX-License-Identifier: Apache-2.0
// What a detection sets in daemon.json: the keys dind-netcfg owns, with the values decided.
#pragma once

#include <vector>

#include "netcfg/daemon_json/daemon_json.h"
#include "netcfg/detect/detector.h"

namespace dind::netcfg {

// The keys dind-netcfg owns in daemon.json, with the values the report decided.
std::vector<KeyUpdate> PlanDaemonJson(const DetectionReport& report);

}  // namespace dind::netcfg
