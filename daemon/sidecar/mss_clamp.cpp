// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/mss_clamp.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace dind::sidecar {
namespace {

// Adds `network` at `mss`, or lowers the MSS of the clamp it already has; the reason of the
// lowest MSS is kept.
void AddClamp(std::vector<PlannedClamp>& clamps, const Cidr& network, std::uint32_t mss,
              const std::string& reason) {
  const auto clamped = static_cast<std::uint16_t>(std::min<std::uint32_t>(mss, kMaximumClampMss));
  auto existing = std::find_if(clamps.begin(), clamps.end(),
                               [&](const PlannedClamp& clamp) { return clamp.network == network; });
  if (existing == clamps.end()) {
    clamps.push_back({network, clamped, reason});
  } else if (clamped < existing->mss) {
    existing->mss = clamped;
    existing->reason = reason;
  }
}

std::optional<Mtu> PathMtuOf(const ClampInputs& inputs, Family family) {
  return family == Family::kIPv4 ? inputs.path_mtu_ipv4 : inputs.path_mtu_ipv6;
}

std::string FamilyName(Family family) {
  return family == Family::kIPv4 ? "IPv4" : "IPv6";
}

}  // namespace

std::string ClampMssSettingName(const ClampMssSetting& setting) {
  switch (setting.mode) {
    case ClampMssSetting::Mode::kAuto:
      return "auto";
    case ClampMssSetting::Mode::kOff:
      return "off";
    case ClampMssSetting::Mode::kFixed:
      return std::to_string(setting.fixed_mss);
  }
  return "auto";
}

Result<ClampMssSetting> ParseClampMss(std::string_view text, const pod::InputName& input) {
  if (text == "auto") return ClampMssSetting{};
  if (text == "off") return ClampMssSetting{ClampMssSetting::Mode::kOff, 0};
  std::uint32_t bytes = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  const std::string range =
      std::to_string(kMinimumClampMss) + ".." + std::to_string(kMaximumClampMss);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Error::BadInput(input.Full() + " value '" + std::string(text) +
                               "' is neither auto, off nor a number of bytes",
                           "use auto (clamp when a black hole is measured), off, or an MSS in " +
                               range + ", like 1320");
  }
  if (bytes < kMinimumClampMss || bytes > kMaximumClampMss) {
    return Error::BadInput(input.Full() + " value " + std::string(text) + " is outside " + range,
                           "an MSS is the MTU minus 40 (IPv4) or 60 (IPv6) bytes: for a 1360-byte "
                           "path use 1320");
  }
  return ClampMssSetting{ClampMssSetting::Mode::kFixed, static_cast<std::uint16_t>(bytes)};
}

ClampPlan PlanMssClamps(const ClampInputs& inputs) {
  ClampPlan plan;
  switch (inputs.setting.mode) {
    case ClampMssSetting::Mode::kOff:
      return plan;
    case ClampMssSetting::Mode::kFixed:
      for (const auto& source : inputs.sources) {
        AddClamp(plan.clamps, source, inputs.setting.fixed_mss,
                 "--clamp-mss " + std::to_string(inputs.setting.fixed_mss));
      }
      return plan;
    case ClampMssSetting::Mode::kAuto:
      break;
  }
  // The MTU TCP may fill per family: the docker MTU, or the measured path when lower.
  Mtu lowest_path = inputs.docker_mtu;
  for (const Family family : {Family::kIPv4, Family::kIPv6}) {
    const auto path = PathMtuOf(inputs, family);
    // A "path" shorter than the headers is no measurement to act on.
    if (!path || *path >= inputs.docker_mtu || *path <= TcpIpHeaderBytes(family)) continue;
    lowest_path = std::min(lowest_path, *path);
    const std::string reason = FamilyName(family) + " path MTU " + std::to_string(*path) +
                               " measured beyond the pod, below the docker MTU " +
                               std::to_string(inputs.docker_mtu);
    for (const auto& source : inputs.sources) {
      if (source.family() == family) {
        AddClamp(plan.clamps, source, *path - TcpIpHeaderBytes(family), reason);
      }
    }
  }
  if (lowest_path < inputs.docker_mtu) plan.avoiding_docker_mtu = lowest_path;

  for (const auto& network : inputs.networks) {
    if (network.mtu <= inputs.docker_mtu) continue;
    const std::string reason = "docker network " + network.name + " has MTU " +
                               std::to_string(network.mtu) + ", above the safe MTU " +
                               std::to_string(inputs.docker_mtu);
    for (const auto& subnet : network.subnets) {
      const Mtu fits =
          std::min(inputs.docker_mtu,
                   PathMtuOf(inputs, subnet.family()).value_or(std::numeric_limits<Mtu>::max()));
      AddClamp(plan.clamps, subnet, fits - TcpIpHeaderBytes(subnet.family()), reason);
    }
    plan.not_covered.push_back("UDP and ICMP of docker network " + network.name + " (MTU " +
                               std::to_string(network.mtu) +
                               ") are not clamped: recreate it with --opt "
                               "com.docker.network.driver.mtu=" +
                               std::to_string(inputs.docker_mtu));
  }
  return plan;
}

std::string DescribeClamp(const PlannedClamp& clamp) {
  return "TCP of " + clamp.network.ToString() + " clamped to MSS " + std::to_string(clamp.mss) +
         " (" + clamp.reason + ")";
}

}  // namespace dind::sidecar
