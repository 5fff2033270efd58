// SPDX-License-Identifier: Apache-2.0
// Healing a path-MTU black hole beyond the pod with an MSS clamp (--clamp-mss): which docker
// networks' TCP is clamped to what, decided from the measured path MTU, the docker MTU and the
// MTUs of docker's networks. Pure: the sidecar feeds it the prober's measurements and hands the
// plan to the backend.
//
// auto (the default):
//   - a path MTU measured below the docker MTU clamps TCP of every masqueraded network of that
//     family to path MTU - 40 (IPv4) / - 60 (IPv6): the black hole is beyond the pod, so every
//     nested TCP connection would stall in it;
//   - a docker network whose MTU is above the safe MTU (made at 1500 before dind-netcfg ran, or
//     by Docker < 24 without default-network-opts) is clamped to safe MTU - 40 / - 60, so its
//     TCP fits without recreating it. Its UDP and ICMP are not covered: the plan says so.
// BYTES: every masqueraded network is clamped to that MSS, measured or not.
// off: no clamp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"
#include "common/result.h"
#include "daemon/pod/rule_sources.h"

namespace dind::sidecar {

struct ClampMssSetting {
  enum class Mode { kAuto, kOff, kFixed };
  Mode mode = Mode::kAuto;
  std::uint16_t fixed_mss = 0;  // kFixed only

  bool operator==(const ClampMssSetting&) const = default;
};

// The smallest MSS a fixed clamp may set: IPv4's minimum (RFC 879); an IPv6 path is at least
// 1280 bytes, but a smaller clamp is only wasteful there, never wrong.
inline constexpr std::uint16_t kMinimumClampMss = 536;
// An MSS that fits an IPv4 packet of 65535 bytes.
inline constexpr std::uint16_t kMaximumClampMss = 65495;

// "auto", "off" or the MSS, as the flag takes it.
std::string ClampMssSettingName(const ClampMssSetting& setting);

// "auto", "off" or BYTES (kMinimumClampMss..kMaximumClampMss). Errors are kBadInput naming
// `input`.
Result<ClampMssSetting> ParseClampMss(std::string_view text, const pod::InputName& input);

// IP header + TCP header without options: what an MTU carries besides the MSS.
inline constexpr std::uint32_t TcpIpHeaderBytes(Family family) {
  return family == Family::kIPv4 ? 40 : 60;
}

struct NetworkMtu {
  std::string name;
  std::vector<Cidr> subnets;
  Mtu mtu = 0;  // its MTU option, or dockerd's default (kDockerDefaultMtu)
};

struct ClampInputs {
  ClampMssSetting setting;
  Mtu docker_mtu = 0;  // the safe MTU daemon.json says
  // The lowest path MTU the probes measured beyond the pod, per family; nullopt: not measured.
  std::optional<Mtu> path_mtu_ipv4;
  std::optional<Mtu> path_mtu_ipv6;
  std::vector<Cidr> sources;         // the masqueraded networks
  std::vector<NetworkMtu> networks;  // docker's bridge networks
};

struct PlannedClamp {
  Cidr network;
  std::uint16_t mss = 0;
  std::string reason;  // "path MTU 1360 measured beyond the pod, below the docker MTU 1450"

  bool operator==(const PlannedClamp&) const = default;
};

struct ClampPlan {
  std::vector<PlannedClamp> clamps;  // one per network, the lowest MSS any reason asks
  // What a clamp does not heal, one sentence each (UDP/ICMP of networks above the safe MTU).
  std::vector<std::string> not_covered;
  // The docker MTU that would make the path clamp unnecessary, when the path is below it:
  // written to daemon.json by --mtu, used after a dockerd restart.
  std::optional<Mtu> avoiding_docker_mtu;
};

ClampPlan PlanMssClamps(const ClampInputs& inputs);

// One line for the log and /status: "TCP of 172.17.0.0/16 clamped to MSS 1320 (…)".
std::string DescribeClamp(const PlannedClamp& clamp);

}  // namespace dind::sidecar
