// SPDX-License-Identifier: Apache-2.0
#include "daemon/doctor/api_floor_check.h"

#include <chrono>

#include "netcfg/dockerd/dockerd_version.h"

namespace dind::doctor {
namespace {

constexpr const char* kLowerFloorFix =
    "run init or entrypoint with --min-api-version 1.24, or set \"min-api-version\": \"1.24\" in "
    "daemon.json (dockerd >= 29.0 reads it) and restart dockerd";

}  // namespace

CheckResult CheckApiFloor(const Result<docker::DockerVersionInfo>& version,
                          const std::string& socket) {
  CheckResult result;
  result.id = kApiFloorCheckId;
  result.source = docker::VersionSource(socket);
  if (!version.ok()) {
    result.status = CheckStatus::kUnknown;
    result.summary = "dockerd's API did not answer, so the API floor it serves is unknown: " +
                     version.error().Message();
    result.fix = "start dockerd, or point --docker-socket at the socket it serves";
    return result;
  }
  result.source += " (dockerd " + version->version + ")";
  result.observed = {{"version", version->version},
                     {"api_version", version->api_version},
                     {"min_api_version", version->min_api_version}};
  const auto release = netcfg::ParseDockerVersion(version->version);
  const auto floor = netcfg::ParseApiVersion(version->min_api_version);
  if (!release || !floor) {
    result.status = CheckStatus::kUnknown;
    result.summary = "dockerd answered Version '" + version->version + "' and MinAPIVersion '" +
                     version->min_api_version + "', which are not versions this check reads";
    result.fix = "check that the socket is dockerd's; `docker version` shows what it serves";
    return result;
  }
  const std::string served = "dockerd " + version->version + " serves API " + floor->ToString() +
                             " to " + version->api_version;
  if (release->AtLeast(29, 0) && *floor > netcfg::kLowestApiFloor) {
    // 29.0-29.2 default to 1.44, 29.3 on to 1.40: the value read is what counts.
    result.status = CheckStatus::kWarn;
    result.summary = served + ": clients below API " + floor->ToString() +
                     " (Testcontainers, old docker CLIs, drone runners) get HTTP 400";
    result.fix = kLowerFloorFix;
    return result;
  }
  result.status = CheckStatus::kOk;
  result.summary = served + (release->AtLeast(29, 0) ? ": the floor is lowered to 1.24"
                                                     : ": before 29.0 the floor is at most 1.24");
  return result;
}

std::vector<CheckResult> ApiFloorChecks(const DoctorContext& context) {
  return {CheckApiFloor(DockerdVersion(context), context.docker_socket)};
}

}  // namespace dind::doctor
