// SPDX-License-Identifier: Apache-2.0
#include "netcfg/dockerd/dockerd_version.h"

#include <string_view>

namespace dind::netcfg {

std::string DockerVersion::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
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

}  // namespace

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
                                      const std::optional<DockerdVersionText>& stated) {
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
