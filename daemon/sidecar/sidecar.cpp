// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/sidecar.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

#include "common/log.h"
#include "common/strings.h"
#include "daemon/doctor/dns_check.h"
#include "daemon/http/health_routes.h"
#include "daemon/http/health_server.h"
#include "daemon/metrics/registry.h"
#include "daemon/sidecar/readiness.h"
#include "daemon/sidecar/sidecar_metrics.h"
#include "daemon/sidecar/status_json.h"

namespace dind::sidecar {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Waits for a descriptor to become readable, again and again, and calls `on_readable`. Asio gets
// a duplicate, so the library that owns the socket (libnl, libmnl) keeps closing its own.
class ReadableWatch {
 public:
  ReadableWatch(asio::io_context& io, int fd, std::function<void()> on_readable)
      : stream_(io, ::dup(fd)), on_readable_(std::move(on_readable)) {
    Wait();
  }
  void Stop() {
    error_code ignored;
    stream_.cancel(ignored);
    stream_.close(ignored);
  }

 private:
  void Wait() {
    stream_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const error_code& error) {
      if (error) return;  // cancelled at stop
      on_readable_();
      Wait();
    });
  }
  asio::posix::stream_descriptor stream_;
  std::function<void()> on_readable_;
};

}  // namespace

struct Sidecar::Loop {
  // The parameters are named for what they become, apart from the members (-Wshadow).
  Loop(asio::io_context& loop_io, Reconciler& started, const SidecarOptions& sidecar_options,
       SidecarPorts sidecar_ports, PublishReadiness on_readiness)
      : io(loop_io),
        reconciler(started),
        options(sidecar_options),
        ports(std::move(sidecar_ports)),
        publish(std::move(on_readiness)),
        network_settle_timer(loop_io),
        poll_timer(loop_io) {}

  Status StartEndpoint();
  void WatchNetwork();
  void OnNetworkChange();
  void HandleNetworkChange();
  // Waits until `at`; then handles the changes deferred meanwhile, if any, and waits once more.
  void CoolDownUntil(std::chrono::steady_clock::time_point at);
  void WatchRules();
  void WatchDocker();
  void StartEgressProbes();
  void ListDockerNetworks();
  void ReadDockerInfo();
  void SchedulePoll();
  void StartPreflight();
  void OnPreflightRound(PreflightState state);
  // Probes `servers` (dns-fallback's public fallback) from the docker bridge, or stops when
  // there are none.
  void FollowDnsFallback(const std::vector<std::string>& servers);
  doctor::PreflightFeed PreflightFeedNow();
  // Readiness does not read the preflight: a warn (or a fail the pod can run with, such as
  // tmpfs storage) is not a reason for the kubelet to take the pod out of service; the
  // preflight is served in /status and /metrics for alerts instead.
  http::Readiness Readiness() const {
    const pod::DockerState& docker = reconciler.state().docker;
    if (options.docker_api_required && !docker.api_up) {
      return {false, "docker API " + docker.socket + " does not answer" +
                         (docker.error.empty() ? " yet" : ": " + docker.error)};
    }
    return ReadinessOf(reconciler.state(), Egress());
  }
  const egress::ProberStatus* Egress() const { return prober ? &prober->status() : nullptr; }
  void Publish() {
    if (!stopping && publish) publish(Readiness());
  }
  // Runs an event's handler, then publishes where we stand. Handlers return errors as values
  // and log them; a broken invariant aborts (common/check.h), so nothing is caught here.
  void Handle(const std::function<void()>& handler) {
    handler();
    Publish();
  }

  asio::io_context& io;
  Reconciler& reconciler;
  const SidecarOptions& options;
  SidecarPorts ports;
  PublishReadiness publish;

  metrics::Registry registry;
  std::optional<SidecarMetrics> metrics;
  std::unique_ptr<http::HealthServer> server;

  std::unique_ptr<ReadableWatch> network_watch;
  asio::steady_timer network_settle_timer;
  bool network_cooling = false;  // a change was handled less than network_quiet ago
  // The first change deferred since the last handling; nullopt: none waits.
  std::optional<std::chrono::steady_clock::time_point> network_deferred_since;

  std::unique_ptr<ReadableWatch> rules_watch;
  asio::steady_timer poll_timer;

  std::unique_ptr<PreflightRounds> preflight;
  bool docker_subscribed_before = false;

  // dockerd's public DNS fallback, probed from the docker bridge only while the preflight says
  // nested containers will use it. A Prober of its own rather than targets of `prober`: the
  // results feed dns-fallback alone, never readiness (a pod whose cluster DNS works must not be
  // pulled because 8.8.8.8 is blocked), /status egress or dind_netcfg_probe_success (whose
  // alerts would page for it). It shares the attachment and the factory, and asks once per
  // preflight interval.
  std::unique_ptr<egress::Prober> fallback_prober;
  std::vector<std::string> fallback_servers;
  // The last round was handed a verdict on the fallback: no need to run one early for it.
  bool fallback_fed = false;

  // Declared last: destroyed first, so the probe detaches (its veth leaves the bridge) while
  // the attachment it stands on still exists.
  std::unique_ptr<egress::Prober> prober;

  void StopFollowing();

  bool stopping = false;
  int exit_code = 0;
};

Status Sidecar::Loop::StartEndpoint() {
  auto created = SidecarMetrics::Create(registry);
  if (!created) return created.error();
  metrics = std::move(created).value();
  http::HealthCallbacks callbacks;
  callbacks.readiness = [this] { return Readiness(); };
  callbacks.metrics = [this] {
    metrics->Refresh(reconciler.state(), Egress(), Readiness());
    return registry.Render();
  };
  callbacks.status_json = [this] {
    return StatusToJson(reconciler.state(), Egress(), Readiness()).dump(2) + "\n";
  };
  server = std::make_unique<http::HealthServer>(io, http::MakeHealthRoutes(std::move(callbacks)),
                                                options.http_limits);
  return server->Listen(options.listen);
}

void Sidecar::Loop::WatchNetwork() {
  ChangeFeed& feed = *ports.network_changes;
  network_watch = std::make_unique<ReadableWatch>(io, feed.fd(), [this, &feed] {
    auto drained = feed.Drain();
    if (!drained) {
      log::Warn("reading netlink notifications failed", {{"error", drained.error().Message()}});
    }
    if (drained && !*drained) return;
    OnNetworkChange();
  });
}

void Sidecar::Loop::OnNetworkChange() {
  using SteadyClock = std::chrono::steady_clock;
  const auto now = SteadyClock::now();
  if (!network_cooling) {
    HandleNetworkChange();
    return CoolDownUntil(now + options.network_quiet);
  }
  if (!network_deferred_since) network_deferred_since = now;
  CoolDownUntil(
      std::min(now + options.network_quiet, *network_deferred_since + options.network_settle));
}

void Sidecar::Loop::HandleNetworkChange() {
  network_deferred_since.reset();
  Handle([this] {
    reconciler.OnNetworkChanged();
    // The bridge may have appeared, gone or changed its address: probe from where it is now.
    if (prober) prober->ProbeSoon();
    // The fallback only until it has an answer: not a query to 8.8.8.8 per nested container.
    if (fallback_prober && fallback_prober->status().results.empty()) {
      fallback_prober->ProbeSoon();
    }
  });
}

void Sidecar::Loop::CoolDownUntil(std::chrono::steady_clock::time_point at) {
  network_cooling = true;
  network_settle_timer.expires_at(at);  // a wait already set is cancelled: its handler returns
  network_settle_timer.async_wait([this](const error_code& error) {
    if (error) return;
    if (!network_deferred_since) {
      network_cooling = false;
      return;
    }
    HandleNetworkChange();
    CoolDownUntil(std::chrono::steady_clock::now() + options.network_quiet);
  });
}

void Sidecar::Loop::WatchRules() {
  if (ports.rule_changes) {
    ChangeFeed& feed = *ports.rule_changes;
    rules_watch = std::make_unique<ReadableWatch>(io, feed.fd(), [this, &feed] {
      auto touched = feed.Drain();
      if (!touched) {
        log::Warn("reading nf_tables notifications failed", {{"error", touched.error().Message()}});
      }
      // Our own repair notifies too: the check after it finds everything in place.
      if (!touched || *touched) Handle([this] { reconciler.CheckRules(); });
    });
  } else if (reconciler.state().rules.backend) {
    SchedulePoll();  // ip_tables has no notifications
  }
}

void Sidecar::Loop::SchedulePoll() {
  poll_timer.expires_after(options.poll_interval);
  poll_timer.async_wait([this](const error_code& error) {
    if (error) return;
    Handle([this] { reconciler.PollRules(); });
    SchedulePoll();
  });
}

void Sidecar::Loop::ListDockerNetworks() {
  ports.docker->ListNetworks([this](Result<std::vector<docker::DockerNetwork>> networks) {
    Handle([&] {
      if (networks) {
        reconciler.OnDockerNetworks(std::move(networks).value());
      } else {
        reconciler.OnDockerUnavailable(networks.error().Message());
      }
    });
  });
}

void Sidecar::Loop::ReadDockerInfo() {
  ports.docker->ReadInfo([this](Result<docker::DockerInfo> info) {
    // A dockerd that lists networks but not /info (an API proxy) is only a missing report.
    if (!info) {
      log::Warn("dockerd's GET /info failed; its firewall backend is not checked",
                {{"error", info.error().Message()}});
      return;
    }
    Handle([&] { reconciler.OnDockerInfo(std::move(info).value()); });
  });
}

void Sidecar::Loop::WatchDocker() {
  if (!ports.docker) {
    // docker's bridges still exist: the reconciler reads them from netlink.
    Handle([this] { reconciler.OnDockerNotFollowed(); });
    return;
  }
  reconciler.set_docker_socket(ports.docker->socket());
  docker::WatchCallbacks callbacks;
  callbacks.on_subscribed = [this] {
    ListDockerNetworks();
    ReadDockerInfo();  // dockerd may have restarted with another firewall backend
    // dockerd answers (again): judge what depends on it now rather than at the next interval.
    // The entrypoint starts the sidecar once dockerd answers, so its first round saw it already.
    const bool seen_at_start = !docker_subscribed_before && options.docker_api_required;
    docker_subscribed_before = true;
    if (preflight && !seen_at_start) preflight->RunSoon();
  };
  callbacks.on_event = [this](const docker::NetworkEvent& event) {
    if (event.action == docker::NetworkAction::kCreate ||
        event.action == docker::NetworkAction::kDestroy) {
      ListDockerNetworks();
    }
  };
  callbacks.on_disconnected = [this](const Error& error, std::chrono::milliseconds retry_in) {
    Handle([&] {
      reconciler.OnDockerUnavailable(error.Message());
      log::Debug("docker API: subscribing again", {{"in", egress::FormatDuration(retry_in)}});
    });
  };
  ports.docker->Watch(std::move(callbacks));
}

void Sidecar::Loop::StartPreflight() {
  if (!options.preflight) return;
  PreflightState enabled;
  enabled.enabled = true;  // and nothing run yet
  reconciler.OnPreflight(std::move(enabled));
  preflight = std::make_unique<PreflightRounds>(
      io, *options.preflight, [this](PreflightState state) { OnPreflightRound(std::move(state)); });
  preflight->set_feed([this] { return PreflightFeedNow(); });
  preflight->Start();
}

void Sidecar::Loop::OnPreflightRound(PreflightState state) {
  const std::vector<std::string> servers = doctor::DnsFallbackServers(state.checks);
  reconciler.OnPreflight(std::move(state));
  FollowDnsFallback(servers);
}

doctor::PreflightFeed Sidecar::Loop::PreflightFeedNow() {
  doctor::PreflightFeed feed;
  if (fallback_prober) feed.dns_fallback = FallbackProbesOf(fallback_prober->status());
  fallback_fed = !feed.dns_fallback.empty();
  return feed;
}

void Sidecar::Loop::FollowDnsFallback(const std::vector<std::string>& servers) {
  if (stopping || !ports.probe_attachment || !ports.probe_factory || !options.egress) return;
  if (servers == fallback_servers) return;
  fallback_servers = servers;
  fallback_prober.reset();  // its results were for other servers
  fallback_fed = false;
  if (servers.empty()) return;
  log::Info("probing dockerd's public DNS fallback from the docker bridge for the preflight",
            {{"servers", Join(servers, ",")}});
  egress::ProberConfig config = options.egress->prober;
  config.interval = options.preflight->interval;
  fallback_prober = std::make_unique<egress::Prober>(
      io, config, FallbackTargets(servers), *ports.probe_attachment, *ports.probe_factory,
      [this](const egress::ProberStatus& status) {
        // The first verdict is worth a round now rather than an interval later.
        if (preflight && !fallback_fed && !FallbackProbesOf(status).empty()) {
          fallback_fed = true;  // the round asked for takes it
          preflight->RunSoon();
        }
      });
  fallback_prober->Start();
}

void Sidecar::Loop::StartEgressProbes() {
  if (!ports.probe_attachment || !ports.probe_factory || !options.egress) return;
  const EgressOptions& egress = *options.egress;
  // The probe's veth follows the docker MTU daemon.json says: told now and after every change.
  reconciler.set_docker_mtu_listener(ports.probe_attachment.get());
  prober = std::make_unique<egress::Prober>(
      io, egress.prober, egress.targets, *ports.probe_attachment, *ports.probe_factory,
      [this](const egress::ProberStatus& status) {
        metrics->ObserveRound(status);
        reconciler.OnPathMtu(LowestPathMtu(status, Family::kIPv4),
                             LowestPathMtu(status, Family::kIPv6));
        Publish();
      });
  prober->Start();
}

Sidecar::Sidecar(asio::io_context& io, Reconciler& reconciler, const SidecarOptions& options,
                 SidecarPorts ports, PublishReadiness publish)
    : loop_(std::make_unique<Loop>(io, reconciler, options, std::move(ports), std::move(publish))) {
}

Sidecar::~Sidecar() {
  loop_->StopFollowing();
  loop_->reconciler.set_docker_mtu_listener(nullptr);
}

Status Sidecar::Start() {
  Loop& loop = *loop_;
  DIND_RETURN_IF_ERROR(loop.StartEndpoint());
  if (loop.ports.network_changes) loop.WatchNetwork();
  loop.WatchRules();
  loop.StartEgressProbes();
  loop.StartPreflight();
  loop.WatchDocker();
  // Anything that changed while the feeds were being set up is caught by one check now.
  loop.Handle([&loop] { loop.reconciler.CheckRules(); });
  return OkStatus();
}

void Sidecar::Loop::StopFollowing() {
  if (stopping) return;
  stopping = true;
  if (prober) prober->Stop();
  if (fallback_prober) fallback_prober->Stop();
  if (preflight) preflight->Stop();
  if (ports.docker) ports.docker->Stop();
  if (server) server->Stop();
  if (network_watch) network_watch->Stop();
  if (rules_watch) rules_watch->Stop();
  network_settle_timer.cancel();
  poll_timer.cancel();
}

int Sidecar::Stop() {
  Loop& loop = *loop_;
  if (loop.stopping) return loop.exit_code;
  loop.StopFollowing();
  if (loop.options.cleanup_on_exit) {
    if (auto removed = loop.reconciler.RemoveRules(); !removed) {
      log::Error("removing the masquerade rules failed", {{"error", removed.error().Message()}});
      loop.exit_code = 1;
    }
  }
  return loop.exit_code;
}

http::Readiness Sidecar::Readiness() const {
  return loop_->Readiness();
}
const egress::ProberStatus* Sidecar::Egress() const {
  return loop_->Egress();
}
std::uint16_t Sidecar::endpoint_port() const {
  return loop_->server ? loop_->server->port() : 0;
}

}  // namespace dind::sidecar
