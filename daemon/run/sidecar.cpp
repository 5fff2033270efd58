// SPDX-License-Identifier: Apache-2.0
#include "daemon/run/sidecar.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

#include "common/log.h"
#include "daemon/http/health_routes.h"
#include "daemon/http/health_server.h"
#include "daemon/metrics/registry.h"
#include "daemon/probe/attach_kernel.h"
#include "daemon/probe/netns_thread.h"
#include "daemon/probe/probe_attachment.h"
#include "daemon/run/process_lifecycle.h"
#include "daemon/run/sidecar_metrics.h"
#include "netcfg/netlink/rtnl_watcher.h"
#include "rules/nft/nft_watcher.h"

namespace dind::run {
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

class Sidecar {
 public:
  Sidecar(Reconciler& reconciler, const SidecarOptions& options)
      : reconciler_(reconciler),
        options_(options),
        lifecycle_(io_, [this](const std::string& signal) { Stop(signal); }),
        network_settle_timer_(io_),
        poll_timer_(io_) {}

  int Run();

 private:
  Status StartEndpoint();
  Status WatchNetwork();
  Status WatchRules();
  void WatchDocker();
  Status StartEgressProbes();
  void ListDockerNetworks();
  void SchedulePoll();
  // After anything changed: tell systemd where we stand.
  void Publish();
  http::Readiness Readiness() const;
  const probe::ProberStatus* Egress() const { return prober_ ? &prober_->status() : nullptr; }
  void Stop(const std::string& signal);
  // Runs an event's handler, then tells systemd where we stand. Handlers return errors as
  // values and log them; a broken invariant aborts (common/check.h), so nothing is caught here.
  void Handle(const std::function<void()>& handler);

  Reconciler& reconciler_;
  const SidecarOptions& options_;
  asio::io_context io_;
  ProcessLifecycle lifecycle_;
  metrics::Registry registry_;
  std::optional<SidecarMetrics> metrics_;
  std::unique_ptr<http::HealthServer> server_;

  std::optional<netcfg::RtnlWatcher> rtnl_;
  std::unique_ptr<ReadableWatch> rtnl_watch_;
  asio::steady_timer network_settle_timer_;
  bool network_settle_pending_ = false;

  std::optional<rules::nft::NftChangeWatcher> nft_;
  std::unique_ptr<ReadableWatch> nft_watch_;
  asio::steady_timer poll_timer_;

  std::unique_ptr<docker::DockerClient> docker_;
  std::unique_ptr<docker::NetworkEventWatcher> docker_events_;

  std::optional<ScopedFd> pod_netns_;
  std::unique_ptr<probe::ProbeAttachment> attachment_;
  std::unique_ptr<probe::NamespaceProbeFactory> probe_factory_;
  std::unique_ptr<probe::Prober> prober_;

  bool stopping_ = false;
  int exit_code_ = 0;
};

void Sidecar::Handle(const std::function<void()>& handler) {
  handler();
  Publish();
}

http::Readiness Sidecar::Readiness() const {
  return ReadinessOf(reconciler_.state(), Egress());
}

void Sidecar::Publish() {
  if (stopping_) return;
  const http::Readiness readiness = Readiness();
  if (readiness.ready) {
    lifecycle_.NotifyReady("ready: nested egress verified");
  } else {
    lifecycle_.NotifyStatus("not ready: " + readiness.reason);
  }
}

Status Sidecar::StartEndpoint() {
  auto metrics = SidecarMetrics::Create(registry_);
  if (!metrics) return metrics.error();
  metrics_ = std::move(metrics).value();
  http::HealthCallbacks callbacks;
  callbacks.readiness = [this] { return Readiness(); };
  callbacks.metrics = [this] {
    metrics_->Refresh(reconciler_.state(), Egress(), Readiness());
    return registry_.Render();
  };
  callbacks.status_json = [this] {
    return StatusToJson(reconciler_.state(), Egress(), Readiness()).dump(2) + "\n";
  };
  server_ = std::make_unique<http::HealthServer>(io_, http::MakeHealthRoutes(std::move(callbacks)),
                                                 options_.http_limits);
  return server_->Listen(options_.listen);
}

Status Sidecar::WatchNetwork() {
  auto watcher = netcfg::RtnlWatcher::Open();
  if (!watcher) return watcher.error();
  rtnl_.emplace(std::move(watcher).value());
  rtnl_watch_ = std::make_unique<ReadableWatch>(io_, rtnl_->fd(), [this] {
    auto drained = rtnl_->Drain();
    if (!drained) {
      log::Warn("reading netlink notifications failed", {{"error", drained.error().Message()}});
    }
    if (network_settle_pending_) return;
    network_settle_pending_ = true;
    network_settle_timer_.expires_after(options_.network_settle);
    network_settle_timer_.async_wait([this](const error_code& error) {
      network_settle_pending_ = false;
      if (error) return;
      Handle([this] {
        reconciler_.OnNetworkChanged();
        if (attachment_) attachment_->set_container_mtu(reconciler_.state().daemon_json.mtu);
        // The bridge may have appeared, gone or changed its address: probe from where it is now.
        if (prober_) prober_->ProbeSoon();
      });
    });
  });
  return OkStatus();
}

Status Sidecar::WatchRules() {
  const auto& backend = reconciler_.state().rules.backend;
  if (!backend) return OkStatus();
  if (*backend == rules::BackendKind::kNft) {
    auto watcher = rules::nft::NftChangeWatcher::Open();
    if (!watcher) return watcher.error();
    nft_.emplace(std::move(watcher).value());
    nft_watch_ = std::make_unique<ReadableWatch>(io_, nft_->fd(), [this] {
      auto touched = nft_->DrainEvents();
      if (!touched) {
        log::Warn("reading nf_tables notifications failed", {{"error", touched.error().Message()}});
      }
      // Our own repair notifies too: the check after it finds everything in place.
      if (!touched || *touched) Handle([this] { reconciler_.CheckRules(); });
    });
    return OkStatus();
  }
  // ip_tables has no notifications: poll.
  SchedulePoll();
  return OkStatus();
}

void Sidecar::SchedulePoll() {
  poll_timer_.expires_after(options_.poll_interval);
  poll_timer_.async_wait([this](const error_code& error) {
    if (error) return;
    Handle([this] { reconciler_.PollRules(); });
    SchedulePoll();
  });
}

void Sidecar::ListDockerNetworks() {
  docker_->ListNetworks([this](Result<std::vector<docker::DockerNetwork>> networks) {
    Handle([&] {
      if (networks) {
        reconciler_.OnDockerNetworks(std::move(networks).value());
      } else {
        reconciler_.OnDockerUnavailable(networks.error().Message());
      }
    });
  });
}

void Sidecar::WatchDocker() {
  if (!options_.docker) return;
  reconciler_.set_docker_socket(options_.docker->socket_path);
  docker_ = std::make_unique<docker::DockerClient>(io_, *options_.docker);
  docker::WatchCallbacks callbacks;
  callbacks.on_subscribed = [this] { ListDockerNetworks(); };
  callbacks.on_event = [this](const docker::NetworkEvent& event) {
    if (event.action == docker::NetworkAction::kCreate ||
        event.action == docker::NetworkAction::kDestroy) {
      ListDockerNetworks();
    }
  };
  callbacks.on_disconnected = [this](const Error& error, std::chrono::milliseconds retry_in) {
    Handle([&] {
      reconciler_.OnDockerUnavailable(error.Message());
      log::Debug("docker API: subscribing again", {{"in", probe::FormatDuration(retry_in)}});
    });
  };
  docker_events_ = std::make_unique<docker::NetworkEventWatcher>(io_, *options_.docker,
                                                                 docker::WatchOptions{}, callbacks);
  docker_events_->Start();
}

Status Sidecar::StartEgressProbes() {
  if (!options_.egress) return OkStatus();
  const EgressOptions& egress = *options_.egress;
  auto pod_netns = probe::OpenCurrentNetns();
  if (!pod_netns) return pod_netns.error();
  pod_netns_.emplace(std::move(pod_netns).value());
  attachment_ = std::make_unique<probe::ProbeAttachment>(
      std::make_unique<probe::NetlinkAttachKernel>(pod_netns_->get()), egress.bridge);
  attachment_->set_container_mtu(reconciler_.state().daemon_json.mtu);
  probe_factory_ = std::make_unique<probe::NamespaceProbeFactory>(io_, egress.settings);
  prober_ =
      std::make_unique<probe::Prober>(io_, egress.prober, egress.targets, *attachment_,
                                      *probe_factory_, [this](const probe::ProberStatus& status) {
                                        metrics_->ObserveRound(status);
                                        Publish();
                                      });
  prober_->Start();
  return OkStatus();
}

void Sidecar::Stop(const std::string& signal) {
  if (stopping_) return;
  log::Info("stopping", {{"signal", signal}});
  lifecycle_.NotifyStopping();
  stopping_ = true;
  if (prober_) prober_->Stop();
  if (docker_events_) docker_events_->Stop();
  if (server_) server_->Stop();
  if (rtnl_watch_) rtnl_watch_->Stop();
  if (nft_watch_) nft_watch_->Stop();
  network_settle_timer_.cancel();
  poll_timer_.cancel();
  if (options_.cleanup_on_exit) {
    if (auto removed = reconciler_.RemoveRules(); !removed) {
      log::Error("removing the masquerade rules failed", {{"error", removed.error().Message()}});
      exit_code_ = 1;
    }
  }
  io_.stop();
}

int Sidecar::Run() {
  for (const auto& start : std::vector<std::function<Status()>>{
           [this] { return StartEndpoint(); }, [this] { return WatchNetwork(); },
           [this] { return WatchRules(); }, [this] { return StartEgressProbes(); }}) {
    if (auto started = start(); !started) {
      log::Error(started.error().Wrap("run").Message(),
                 {{"exit_code", std::to_string(started.error().ExitCode())}});
      return started.error().ExitCode();
    }
  }
  WatchDocker();
  // Anything that changed while the watchers were being set up is caught by one check now.
  Handle([this] { reconciler_.CheckRules(); });
  log::Info("running", {{"ready", Readiness().ready ? "yes" : "not yet: " + Readiness().reason}});
  io_.run();
  // Detach the probe (its veth leaves docker0) before the loop objects go.
  prober_.reset();
  attachment_.reset();
  log::Info("stopped", {{"exit_code", std::to_string(exit_code_)}});
  return exit_code_;
}

}  // namespace

int RunSidecar(Reconciler& reconciler, const SidecarOptions& options) {
  Sidecar sidecar(reconciler, options);
  return sidecar.Run();
}

}  // namespace dind::run
