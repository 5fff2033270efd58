// SPDX-License-Identifier: Apache-2.0
#include "netcfg/dockerd/dockerd_version.h"

#include <string_view>

namespace dind::netcfg {

std::string DockerVersion::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::string ApiVersion::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Reads "v?MAJOR(.MINOR(.PATCH)?)?" at `pos`, each part 1-4 digits; advances `pos` past it.
// `min_parts` is how many numbers must be there. Hand-written: std::regex is slow to build and
// trips GCC 12's -Wmaybe-uninitialized under the sanitizers.
std::optional<DockerVersion> ReadDottedVersion(std::string_view text, size_t& pos, int min_parts) {
  if (pos < text.size() && text[pos] == 'v') ++pos;
  int parts[3] = {0, 0, 0};
  int count = 0;
  while (count < 3) {
    if (count > 0) {
      if (pos + 1 >= text.size() || text[pos] != '.' || !IsDigit(text[pos + 1])) break;
      ++pos;
    }
    size_t digits = 0;
    int value = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (++digits > 4) return std::nullopt;
      value = value * 10 + (text[pos++] - '0');
    }
    if (digits == 0) return std::nullopt;
    parts[count++] = value;
  }
  if (count < min_parts) return std::nullopt;
  return DockerVersion{parts[0], parts[1], parts[2]};
}

// A bare version: "24", "v25.0.3", "20.10.24+dfsg1", surrounded by optional blanks.
std::optional<DockerVersion> ParseBareVersion(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size() && IsSpace(text[pos])) ++pos;
  auto version = ReadDottedVersion(text, pos, 1);
  if (!version) return std::nullopt;
  if (pos < text.size() && (text[pos] == '-' || text[pos] == '+' || text[pos] == '~')) {
    while (pos < text.size() && !IsSpace(text[pos])) ++pos;  // pre-release or distro suffix
  }
  while (pos < text.size() && IsSpace(text[pos])) ++pos;
  return pos == text.size() ? version : std::nullopt;
}

// Why --min-api-version is or is not written for `decision.version` (set before).
std::string ApiFloorReason(const DockerdDecision& decision, ApiVersion floor) {
  const std::string version = decision.version.ToString();
  if (decision.supports_min_api_version) {
    return "dockerd " + version + " >= 29.0 reads daemon.json min-api-version: clients from API " +
           floor.ToString() + " on are served (29.0-29.2 default to 1.44, 29.3 on to 1.40)";
  }
  std::string reason = "dockerd " + version +
                       " < 29.0 has no daemon.json min-api-version (it would refuse to start "
                       "with it), so the key is not written";
  if (decision.source == "assumed") {
    reason += "; pass --dockerd-version if dockerd is 29.0 or later";
  } else if (decision.version.AtLeast(25, 0)) {
    reason += "; its floor is already 1.24";
    if (floor > kLowestApiFloor) {
      reason += ", and a higher one needs DOCKER_MIN_API_VERSION=" + floor.ToString() +
                " in dockerd's environment";
    }
  } else {
    reason += "; its floor is 1.12, below 1.24";  // MinVersion of 20.10-24.0
  }
  return reason;
}

}  // namespace

std::optional<ApiVersion> ParseApiVersion(std::string_view text) {
  if (text.size() < 3 || text.size() > 5 || text.substr(0, 2) != "1.") return std::nullopt;
  int minor = 0;
  for (const char c : text.substr(2)) {
    if (!IsDigit(c)) return std::nullopt;
    minor = minor * 10 + (c - '0');
  }
  return ApiVersion{1, minor};
}

std::optional<DockerVersion> ParseDockerVersion(const std::string& text) {
  if (auto bare = ParseBareVersion(text)) return bare;
  // `dockerd --version` output: "Docker version 20.10.24+dfsg1, build 297e128".
  for (size_t at = text.find("version"); at != std::string::npos;
       at = text.find("version", at + 1)) {
    size_t pos = at + 7;
    if (pos >= text.size() || !IsSpace(text[pos])) continue;
    while (pos < text.size() && IsSpace(text[pos])) ++pos;
    if (auto version = ReadDottedVersion(text, pos, 2)) return version;
  }
  return std::nullopt;
}

Result<DockerdDecision> DecideDockerd(const std::string& requested,
                                      const std::optional<DockerdVersionText>& stated,
                                      std::optional<ApiVersion> min_api_version) {
  DockerdDecision decision;
  if (requested != "auto") {
    const auto version = ParseDockerVersion(requested);
    if (!version) {
      return Error::BadInput("--dockerd-version '" + requested + "' is not a version",
                             "write it like 24.0.7, or use auto");
    }
    decision.version = *version;
    decision.source = "flag";
  } else if (const auto parsed = stated ? ParseDockerVersion(stated->text) : std::nullopt) {
    decision.version = *parsed;
    decision.source = "dockerd";
    decision.read_from = stated->read_from;
  } else {
    decision.version = kOldestSupportedDocker;
    decision.source = "assumed";
  }
  decision.supports_default_network_opts = decision.version.AtLeast(24, 0);
  decision.supports_min_api_version = decision.version.AtLeast(29, 0);
  if (min_api_version) {
    if (*min_api_version < kLowestApiFloor) {
      return Error::BadInput("--min-api-version '" + min_api_version->ToString() +
                                 "' is below 1.24, the lowest floor dockerd accepts",
                             "give 1.24 or higher, e.g. --min-api-version 1.24");
    }
    // Above the newest API the dockerd serves, dockerd refuses the floor at start ("invalid
    // minimum API version (%s): must be between %s and %s", daemon/server/middleware/version.go
    // @ docker-v29.0.0).
    // Only the running dockerd says its newest (GET /version ApiVersion); a binary does not.
    const auto newest = decision.source == "dockerd" && stated
                            ? ParseApiVersion(stated->max_api_version)
                            : std::nullopt;
    if (newest && *min_api_version > *newest) {
      return Error::BadInput(
          "--min-api-version '" + min_api_version->ToString() + "' is above " + newest->ToString() +
              ", the newest API version dockerd " + decision.version.ToString() + " serves (" +
              decision.read_from + " ApiVersion): dockerd refuses a floor above it",
          "give a floor from 1.24 up to " + newest->ToString() + ", e.g. --min-api-version 1.24");
    }
    decision.min_api_version = min_api_version;
    decision.min_api_version_reason = ApiFloorReason(decision, *min_api_version);
    if (!newest) {
      decision.min_api_version_reason +=
          "; whether " + min_api_version->ToString() +
          " is within the API versions dockerd serves cannot be checked here: only a running "
          "dockerd's GET /version (ApiVersion) says its newest, and " +
          (decision.source == "dockerd" ? "the version was read from " + decision.read_from
           : decision.source == "flag"  ? std::string("--dockerd-version was given instead")
                                        : std::string("no dockerd answered"));
    }
  }
  if (decision.source == "assumed") {
    decision.reason =
        "dockerd not found or its version unreadable; assuming the oldest "
        "supported (" +
        kOldestSupportedDocker.ToString() +
        "), so only keys every dockerd knows are written — pass "
        "--dockerd-version to be exact";
  } else if (decision.supports_default_network_opts) {
    decision.reason =
        "dockerd >= 24.0: default-network-opts carries the MTU to user-defined "
        "networks";
  } else {
    // As 20.10.24 does: its check of daemon.json's keys looks one level down and takes the
    // nested "bridge" for its --bridge flag, so it starts and applies nothing, and refuses
    // the file when --bridge/-b is also given. Not written, it can do neither.
    decision.reason =
        "dockerd < 24.0 has no default-network-opts (it starts with the key and ignores it, "
        "or refuses it beside --bridge), so it is not written; user-defined networks get "
        "dockerd's MTU 1500 unless created with -o com.docker.network.driver.mtu=N";
  }
  return decision;
}

}  // namespace dind::netcfg
