// SPDX-License-Identifier: Apache-2.0
// GET /version: the running dockerd's own word on its version and the API versions it serves.
// Detection prefers it to what dockerd's binary on disk states (the binary may not be the one
// serving), and doctor's api-floor check reads the floor from it.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "daemon/docker/docker_client.h"

namespace dind::docker {

struct DockerVersionInfo {
  std::string version;          // Version: "28.5.2+dfsg4", "29.2.1"
  std::string api_version;      // ApiVersion: the highest API version served, "1.51"
  std::string min_api_version;  // MinAPIVersion: the floor, "1.24" (absent before API 1.25: "")

  bool operator==(const DockerVersionInfo&) const = default;
};

// Parses the body of GET /version; `source` names where it came from for errors
// ("dockerd at /var/run/docker.sock"). A body without Version is an error (kEnvironment).
Result<DockerVersionInfo> ParseVersion(std::string_view json, std::string_view source);

// GET /version on an io_context of its own, for one-shot commands: the answer, or the error
// within options.request_timeout.
Result<DockerVersionInfo> ReadVersionNow(ClientOptions options);

// How a reading is named in reports: "GET /version of unix:///var/run/docker.sock".
std::string VersionSource(std::string_view socket_path);

}  // namespace dind::docker
