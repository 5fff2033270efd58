// SPDX-License-Identifier: Apache-2.0
// api-floor: the lowest Engine API version the running dockerd serves (GET /version
// MinAPIVersion). dockerd 25.0-28.x serve from 1.24; 29.0-29.2 refuse clients below 1.44 and
// 29.3 on below 1.40 unless daemon.json "min-api-version" (from 29.0) or DOCKER_MIN_API_VERSION
// lowers it. The floor is always the live value, never a per-release guess.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/docker/docker_version.h"
#include "daemon/doctor/check.h"
#include "daemon/doctor/doctor_facts.h"

namespace dind::doctor {

inline constexpr const char* kApiFloorCheckId = "api-floor";

// Pure: what GET /version of `socket` answered (or why it did not) -> the api-floor result.
// No answer, or one without a readable version or floor, is kUnknown (never kOk).
CheckResult CheckApiFloor(const Result<docker::DockerVersionInfo>& version,
                          const std::string& socket);

// The group doctor runs: DockerdVersion(context) (GET /version, 2 s, asked once), then
// CheckApiFloor.
std::vector<CheckResult> ApiFloorChecks(const DoctorContext& context);

}  // namespace dind::doctor
