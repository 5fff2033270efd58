// SPDX-License-Identifier: Apache-2.0
// The sidecar's decisions, without the event loop: what to do when it starts, when the
// namespace's links, addresses or routes change, when the masquerade rules may have drifted and
// when dockerd's networks change. The kernel is reached only through the seams passed to the
// constructor (the detector, the pod's sysctls, the chosen backend and the netlink reader), so
// every decision is unit-tested with fakes; the event loop (sidecar.h) only calls in. Starting
// is pod::ConfigureHere, the same job as `init`. The docker MTU it writes to daemon.json goes
// on to the egress probe through a named seam: set_docker_mtu_listener.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/mtu.h"
#include "common/result.h"
#include "daemon/docker/docker_api.h"
#include "daemon/egress/docker_mtu_listener.h"
#include "daemon/pod/backend_here.h"
#include "daemon/pod/detect_here.h"
#include "daemon/sidecar/pod_sysctls.h"
#include "daemon/sidecar/sidecar_state.h"
#include "netcfg/detect/detector.h"
#include "netcfg/netlink/snapshot.h"
#include "rules/masquerade.h"

namespace dind::sidecar {

class Reconciler {
 public:
  // `rules` is the backend chosen here with its decision, or null when rules are not managed
  // (--no-rules). `bridges` reads the pod's links and addresses, for docker's bridges while
  // the Engine API cannot be read (null: the API is the only source). `sysctls` are the pod's
  // (IPv6 forwarding, checked against dockerd's firewall). All must outlive the reconciler.
  Reconciler(std::string daemon_json_path, pod::NetworkDetector& detector,
             const PodSysctls& sysctls, const pod::ChosenBackend* rules,
             netcfg::NetlinkReader* bridges = nullptr);

  // Detects, writes daemon.json and makes the rules present. An error here ends the daemon:
  // nothing is right yet, and the message says what to fix.
  Status Start();
  // The same from a detection the caller already made (run needs it to choose the backend).
  Status Start(netcfg::DetectionReport report);

  // Links, addresses or routes changed: detect again. A new docker MTU rewrites daemon.json and
  // reports that dockerd must be restarted to apply it (dind-netcfg never restarts it); a new
  // uplink moves the rules. The address pools and cgroup-parent stay as decided at start: dockerd
  // already uses them.
  void OnNetworkChanged();

  // The rules may have drifted (an nf_tables notification, or the legacy poll): inspect them and
  // re-apply what is missing. Returns true when it repaired something.
  bool CheckRules();
  // The legacy poll: CheckRules only when the backend's change stamp moved since the last
  // check found the rules in place (a 50,000-rule snapshot costs tens of milliseconds, the
  // stamp microseconds), and in any case every `full_every`-th poll.
  bool PollRules(int full_every = 60);

  // dockerd's networks as the Engine API lists them now.
  void OnDockerNetworks(std::vector<docker::DockerNetwork> networks);
  // The API cannot be read (no socket mounted, dockerd down): docker's bridges are read from
  // netlink instead, now and after every network change until the API answers, so a bridge
  // above the safe MTU is still found, masqueraded and clamped.
  void OnDockerUnavailable(const std::string& error);
  // dockerd's API is not followed at all (--docker-socket ""): the same, from netlink.
  void OnDockerNotFollowed();
  // What dockerd's GET /info says: its firewall driver, checked against our backend.
  void OnDockerInfo(docker::DockerInfo info);
  // `listener` is told the docker MTU daemon.json says, at once (when written) and after every
  // change: the egress probe's attachment, so the probes send what nested containers send.
  // Null stops telling. The listener must outlive the reconciler or be unset first.
  void set_docker_mtu_listener(egress::DockerMtuListener* listener);

  // --clamp-mss; call before Start.
  void set_clamp_mss(sidecar::ClampMssSetting setting) { state_.clamp.setting = setting; }
  // What a probe round measured beyond the pod: the lowest path MTU per family (nullopt: none
  // of that family). Installs, changes or takes away the MSS clamp the measurements call for.
  void OnPathMtu(std::optional<Mtu> ipv4, std::optional<Mtu> ipv6);

  // Where the docker API is read from, for /status.
  void set_docker_socket(std::string socket) { state_.docker.socket = std::move(socket); }

  // --cleanup-on-exit: takes dind-netcfg's rules away.
  Status RemoveRules();

  const SidecarState& state() const { return state_; }
  // The last preflight round (the sidecar runs it off the loop); nothing else depends on it.
  void OnPreflight(PreflightState preflight) { state_.preflight = std::move(preflight); }

 private:
  // Records in state_ what writing daemon.json for `report` did (`update`).
  void RecordDaemonJson(const netcfg::DetectionReport& report,
                        const Result<netcfg::DaemonJsonUpdate>& update);
  // The spec for `sources` (the masquerade sources) with the clamps planned for them.
  rules::MasqueradeSpec WantedSpec(std::vector<Cidr> sources) const;
  // Plans the MSS clamps for the current inputs (state_.clamp) and logs what changed.
  void PlanClamps(const std::vector<Cidr>& sources);
  // Applies the wanted spec when it differs from the one in force.
  void UpdateRules(const std::string& why);
  Status ApplyRules();
  // Takes `networks` as docker's: their MTU findings, then the rules and clamps they call for.
  void AdoptNetworks(std::vector<docker::DockerNetwork> networks);
  // Reads docker's bridges from netlink (when a reader was given); `why` says why the API was
  // not asked, for /status and the log.
  void LearnBridgesFromNetlink(const std::string& why);
  // Checks dockerd's firewall again (its /info, or its networks, changed); logs new findings.
  void RecheckDockerFirewall();
  // chosen_'s backend, or null when rules are not managed.
  rules::MasqueradeBackend* backend() const {
    return chosen_ != nullptr ? chosen_->backend.get() : nullptr;
  }

  std::optional<docker::DockerInfo> docker_info_;
  std::string daemon_json_path_;
  pod::NetworkDetector& detector_;
  const PodSysctls& sysctls_;
  const pod::ChosenBackend* chosen_;
  netcfg::NetlinkReader* bridges_;
  std::string bridges_why_;  // why networks come from netlink now; empty while the API answers
  std::vector<Cidr> pool_networks_;              // from the report at start
  std::optional<std::uint64_t> stamp_in_place_;  // the change stamp when last seen in place
  int polls_since_check_ = 0;
  egress::DockerMtuListener* docker_mtu_listener_ = nullptr;
  SidecarState state_;
};

}  // namespace dind::sidecar
