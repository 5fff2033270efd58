// SPDX-License-Identifier: Apache-2.0
// `run`: the reconciler on one Boost.Asio event loop, fed by the kernel and dockerd, with the
// health endpoint and the egress prober beside it.
//
//   rtnetlink (links, addresses, routes) ──coalesce──> Reconciler::OnNetworkChanged, ProbeSoon
//   Reconciler: docker MTU now / changed ────────────> the probe's veth MTU
//   nf_tables notifications (nft backend) ───────────> Reconciler::CheckRules  (repair in ms)
//   poll timer (legacy backend, --poll-interval) ────> Reconciler::CheckRules
//   Docker API network events ──> list networks ─────> Reconciler::OnDockerNetworks
//   Prober rounds (probe namespace on docker0) ──────> readiness, metrics
//   preflight rounds (doctor's checks, on a thread) ─> /status, metrics, the log (not readiness)
//   SIGTERM/SIGINT ──> stop everything, optionally remove the rules, exit 0
//
// Nothing blocks the loop for long: the kernel calls are single netlink exchanges, the Docker
// API and the probes are asynchronous with deadlines.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/docker/docker_client.h"
#include "daemon/egress/probe_factory.h"
#include "daemon/egress/prober.h"
#include "daemon/http/health_routes.h"
#include "daemon/http/listen_address.h"
#include "daemon/http/responder.h"
#include "daemon/sidecar/preflight_rounds.h"
#include "daemon/sidecar/reconciler.h"
#include "daemon/sidecar/sidecar_ports.h"

namespace dind::sidecar {

struct EgressOptions {
  std::string bridge = "docker0";
  std::vector<egress::ProbeTarget> targets;
  egress::ProberConfig prober;
  egress::ProbeSettings settings;
};

struct SidecarOptions {
  http::ListenAddress listen;
  http::Limits http_limits;
  // nullopt: dockerd's API is not followed (--docker-socket "").
  std::optional<docker::ClientOptions> docker;
  std::optional<EgressOptions> egress;  // nullopt: --no-probes
  std::chrono::milliseconds poll_interval{1000};
  // Network changes: the first after a quiet spell is handled at once, so a bridge dockerd
  // makes is answered in milliseconds. The changes that follow it (dockerd sends dozens while
  // it makes a bridge) are coalesced into one handling once `network_quiet` passes without
  // another, and `network_settle` after the first of them at the latest, so steady churn is
  // still handled.
  std::chrono::milliseconds network_quiet{5};
  std::chrono::milliseconds network_settle{100};
  bool cleanup_on_exit = false;
  sidecar::ClampMssSetting clamp_mss;  // --clamp-mss; the reconciler applies it
  // Not ready while dockerd's API does not answer: the entrypoint runs dockerd itself, so a
  // dockerd that is not up is its failure, not a neighbour's.
  bool docker_api_required = false;
  // doctor's checks at start, whenever dockerd's API is (re)subscribed and every interval;
  // nullopt: none (the unit tests).
  std::optional<PreflightOptions> preflight;
};

// The event wiring of `run` on one io_context. It reaches the world only through `ports`, so
// tests drive it with fakes; live_sidecar.h opens the real ones and runs it until a signal.
class Sidecar {
 public:
  // Readiness after each event, for systemd's notify protocol.
  using PublishReadiness = std::function<void(const http::Readiness&)>;

  // `reconciler` has started; it, `io` and `options` outlive the sidecar.
  Sidecar(boost::asio::io_context& io, Reconciler& reconciler, const SidecarOptions& options,
          SidecarPorts ports, PublishReadiness publish = {});
  ~Sidecar();
  Sidecar(const Sidecar&) = delete;
  Sidecar& operator=(const Sidecar&) = delete;

  // Serves the endpoint, follows every feed and starts probing. An error (the endpoint's address
  // taken, say) ends `run`: nothing is watched yet.
  Status Start();
  // Stops following and probing, then (--cleanup-on-exit) removes the rules. Returns the exit
  // code: 1 when removing them failed. The io_context may be run afterwards to let it settle.
  int Stop();

  http::Readiness Readiness() const;
  // The prober's status; null with --no-probes.
  const egress::ProberStatus* Egress() const;
  std::uint16_t endpoint_port() const;

 private:
  struct Loop;
  std::unique_ptr<Loop> loop_;
};

}  // namespace dind::sidecar
