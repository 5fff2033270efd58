// SPDX-License-Identifier: Apache-2.0
// A detection as `detect` and `init` print it: one JSON object (`--json`, and /status's
// `detection`), or aligned "label  value" lines.
#pragma once

#include <string>

#include "netcfg/daemon_json/daemon_json.h"
#include "netcfg/detect/detector.h"

namespace dind::netcfg {

OrderedJson ReportToJson(const DetectionReport& report);
std::string ReportToText(const DetectionReport& report);

}  // namespace dind::netcfg
