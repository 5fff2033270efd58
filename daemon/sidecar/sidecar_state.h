// SPDX-License-Identifier: Apache-2.0
// What the sidecar knows, as values: the reconciler fills it, and readiness, /status and
// /metrics are pure functions of it (and of the prober's status), so each is unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/docker/docker_api.h"
#include "daemon/egress/prober.h"
#include "daemon/http/health_routes.h"
#include "daemon/sidecar/mss_clamp.h"
#include "netcfg/detect/detector.h"
#include "netcfg/netlink/snapshot.h"
#include "rules/masquerade.h"

namespace dind::sidecar {

using Clock = std::chrono::system_clock;

struct DaemonJsonState {
  std::string path;
  bool written = false;  // daemon.json holds what the last detection decided
  std::string error;     // why the last write failed
  std::uint64_t writes = 0;
  std::uint32_t mtu = 0;  // the docker MTU daemon.json says
  // dockerd read daemon.json before it changed: only a restart applies the new file.
  bool restart_required = false;
  std::string restart_reason;
};

struct RulesState {
  bool enabled = true;
  std::optional<rules::BackendKind> backend;
  rules::MasqueradeSpec spec;
  bool present = false;
  std::vector<std::string> missing;  // why not present, one finding each
  std::string error;                 // why the last check or repair failed
  std::uint64_t checks = 0;
  std::uint64_t repairs = 0;
  std::optional<Clock::time_point> last_repair_at;
};

// A docker network whose MTU is above the safe MTU: its containers' big packets are lost.
struct NetworkMtuFinding {
  std::string network;
  std::string bridge;
  std::uint32_t mtu = 0;
  bool mtu_from_option = false;  // false: no option, dockerd's default of 1500
};

// dockerd's own packet filtering, as its GET /info states it, checked against the backend
// dind-netcfg chose for this pod's kernel.
struct DockerFirewall {
  std::string driver;     // "iptables", "nftables", "iptables+firewalld"
  std::string read_from;  // "GET /info FirewallBackend", or why dockerd was taken to use iptables
  std::vector<std::string> warnings;  // each says what is wrong, where, and what to do

  bool operator==(const DockerFirewall&) const = default;
};

struct DockerState {
  std::string socket;
  bool api_up = false;
  std::string error;  // why the API cannot be read; empty while it answers
  std::vector<docker::DockerNetwork> networks;
  // Where `networks` came from: "docker API /var/run/docker.sock", or "netlink (docker API
  // unavailable: …)" when the bridges were read from the kernel instead; empty: not yet known.
  std::string networks_from;
  std::vector<NetworkMtuFinding> mtu_too_high;
  std::optional<DockerFirewall> firewall;  // once GET /info answered
};

// The MSS clamp (--clamp-mss): the plan in force and the measurements it was made from.
struct ClampState {
  sidecar::ClampMssSetting setting;
  // The lowest path MTU the last probe round measured beyond the pod, per family.
  std::optional<std::uint32_t> path_mtu_ipv4;
  std::optional<std::uint32_t> path_mtu_ipv6;
  sidecar::ClampPlan plan;
};

struct SidecarState {
  std::optional<netcfg::DetectionReport> report;
  DaemonJsonState daemon_json;
  RulesState rules;
  DockerState docker;
  ClampState clamp;
  std::optional<Clock::time_point> last_reconcile_at;
};

// Bridge networks whose MTU (option, or dockerd's default 1500) is above `safe_mtu`.
std::vector<NetworkMtuFinding> NetworksAboveMtu(const std::vector<docker::DockerNetwork>& networks,
                                                std::uint32_t safe_mtu);

// docker's bridges as the kernel shows them, for when the Engine API cannot be read: docker0
// and every br-* bridge, each a "bridge" network named by its link, with its MTU and the
// networks of its IPv4 and global IPv6 addresses. Whether one is internal is not visible here.
std::vector<docker::DockerNetwork> BridgesFromSnapshot(const netcfg::NetworkSnapshot& snapshot);

// What dockerd's firewall driver means here. `ours` is the backend chosen for the pod's kernel
// (nullopt with --no-rules); `ipv6_forwarding` is read only when a docker network has IPv6.
//   - Driver nftables (Docker 29's firewall-backend) while the kernel honours only ip_tables:
//     dockerd's own NAT for nested containers goes where the kernel ignores it.
//   - IPv4 (IPv6) forwarding off: the nftables driver does not turn it on and Docker 29 refuses
//     to run without it; with iptables dockerd turns it on itself, so off means it was told not
//     to (--ip-forward=false) and nested containers cannot get out.
DockerFirewall CheckDockerFirewall(const docker::DockerInfo& info,
                                   std::optional<rules::BackendKind> ours,
                                   std::optional<bool> ipv6_forwarding);

// `egress` with each failed path-MTU result of a family whose TCP the MSS clamp in force
// fits to the path counted as passed (its detail says so): a black hole the clamp heals does
// not keep the pod unready.
egress::ProberStatus HealedByClamp(const egress::ProberStatus& egress, const ClampState& clamp);

// The lowest path MTU the probes measured for `family`; nullopt when none did.
std::optional<std::uint32_t> LowestPathMtu(const egress::ProberStatus& egress, Family family);

// What to masquerade: the networks of the pools daemon.json sets, plus the subnets of docker's
// bridge networks (KIND's `kind` network, CI job networks) that those do not already cover.
// Internal networks have no way out and are left alone.
std::vector<Cidr> MasqueradeSources(const std::vector<Cidr>& pool_networks,
                                    const std::vector<docker::DockerNetwork>& networks);

// Ready when daemon.json is written, the rules are present (when managed) and the last egress
// probes passed (when probing); otherwise the first reason, one line.
http::Readiness ReadinessOf(const SidecarState& state, const egress::ProberStatus* egress);

// The `docker` section of /status and of `detect --json`: the socket, whether the API answers,
// the networks, those above the safe MTU, and KIND's `kind` network (null when there is none):
// a `kind` network made before the MTU was fixed keeps 1500 until it is recreated.
netcfg::OrderedJson DockerStateToJson(const DockerState& docker);

// The whole report behind GET /status.
netcfg::OrderedJson StatusToJson(const SidecarState& state, const egress::ProberStatus* egress,
                                 const http::Readiness& readiness);

}  // namespace dind::sidecar
