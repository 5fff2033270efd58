// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/live_sidecar.h"

#include <csignal>
#include <string>
#include <utility>

#include "common/log.h"
#include "common/scoped_fd.h"
#include "daemon/egress/attach_kernel.h"
#include "daemon/egress/netns_thread.h"
#include "daemon/process/supervisor.h"
#include "daemon/process/systemd_notify.h"
#include "netcfg/netlink/rtnl_watcher.h"
#include "rules/nft/nft_watcher.h"

namespace dind::sidecar {
namespace {

class RtnlFeed final : public ChangeFeed {
 public:
  explicit RtnlFeed(netcfg::RtnlWatcher watcher) : watcher_(std::move(watcher)) {}
  int fd() const override { return watcher_.fd(); }
  Result<bool> Drain() override {
    auto messages = watcher_.Drain();
    if (!messages) return messages.error();
    return *messages > 0;
  }

 private:
  netcfg::RtnlWatcher watcher_;
};

class NftFeed final : public ChangeFeed {
 public:
  explicit NftFeed(rules::nft::NftChangeWatcher watcher) : watcher_(std::move(watcher)) {}
  int fd() const override { return watcher_.fd(); }
  // True when a notification touched dind-netcfg's table.
  Result<bool> Drain() override { return watcher_.DrainEvents(); }

 private:
  rules::nft::NftChangeWatcher watcher_;
};

class EngineApiFeed final : public DockerFeed {
 public:
  EngineApiFeed(boost::asio::io_context& io, docker::ClientOptions options)
      : io_(io), options_(std::move(options)), client_(io, options_) {}
  std::string socket() const override { return options_.socket_path; }
  void ListNetworks(NetworksCallback done) override { client_.ListNetworks(std::move(done)); }
  void ReadInfo(InfoCallback done) override { client_.ReadInfo(std::move(done)); }
  void Watch(docker::WatchCallbacks callbacks) override {
    events_ = std::make_unique<docker::NetworkEventWatcher>(io_, options_, docker::WatchOptions{},
                                                            std::move(callbacks));
    events_->Start();
  }
  void Stop() override {
    if (events_) events_->Stop();
  }

 private:
  boost::asio::io_context& io_;
  docker::ClientOptions options_;
  docker::DockerClient client_;
  std::unique_ptr<docker::NetworkEventWatcher> events_;
};

// The attachment with the descriptor of the pod's namespace it creates the veth from.
class PodAttachment final : public egress::Attachment {
 public:
  PodAttachment(ScopedFd pod_netns, const std::string& bridge)
      : pod_netns_(std::move(pod_netns)),
        attachment_(std::make_unique<egress::NetlinkAttachKernel>(pod_netns_.get()), bridge) {}
  egress::AttachStatus Ensure() override { return attachment_.Ensure(); }
  void SetDockerMtu(Mtu mtu) override { attachment_.SetDockerMtu(mtu); }

 private:
  ScopedFd pod_netns_;  // declared first: outlives the attachment, which detaches through it
  egress::ProbeAttachment attachment_;
};

}  // namespace

Result<SidecarPorts> OpenLivePorts(boost::asio::io_context& io, const SidecarOptions& options,
                                   std::optional<rules::BackendKind> backend) {
  SidecarPorts ports;
  auto rtnl = netcfg::RtnlWatcher::Open();
  if (!rtnl) return rtnl.error();
  ports.network_changes = std::make_unique<RtnlFeed>(std::move(rtnl).value());
  if (backend == rules::BackendKind::kNft) {
    auto nft = rules::nft::NftChangeWatcher::Open();
    if (!nft) return nft.error();
    ports.rule_changes = std::make_unique<NftFeed>(std::move(nft).value());
  }
  if (options.docker) ports.docker = std::make_unique<EngineApiFeed>(io, *options.docker);
  if (options.egress) {
    auto pod_netns = egress::OpenCurrentNetns();
    if (!pod_netns) return pod_netns.error();
    ports.probe_attachment =
        std::make_unique<PodAttachment>(std::move(pod_netns).value(), options.egress->bridge);
    ports.probe_factory =
        std::make_unique<egress::NamespaceProbeFactory>(io, options.egress->settings);
  }
  return ports;
}

int RunSidecar(Reconciler& reconciler, const SidecarOptions& options) {
  boost::asio::io_context io;
  const auto fail = [](const Error& error) {
    log::Error(error.Wrap("run").Message(), {{"exit_code", std::to_string(error.ExitCode())}});
    return error.ExitCode();
  };
  auto ports = OpenLivePorts(io, options, reconciler.state().rules.backend);
  if (!ports) return fail(ports.error());

  std::optional<Sidecar> sidecar;
  int exit_code = 0;
  bool stopping = false;
  process::SystemdNotifier systemd(io);
  // SIGTERM and SIGINT stop it; as PID 1 it also reaps the orphans re-parented to it. It starts
  // no children to forward signals to or to become a subreaper for, and every other signal
  // keeps its default disposition.
  auto supervisor = process::ProcessSupervisor::Start(
      io,
      [&](int signal_number) {
        if (stopping) return;
        stopping = true;
        log::Info("stopping", {{"signal", process::SignalName(signal_number)}});
        systemd.NotifyStopping();
        exit_code = sidecar->Stop();
        io.stop();
      },
      {.signals = {SIGTERM, SIGINT}, .become_subreaper = false});
  if (!supervisor) return fail(supervisor.error());
  sidecar.emplace(io, reconciler, options, std::move(ports).value(),
                  [&systemd](const http::Readiness& readiness) {
                    if (readiness.ready) {
                      systemd.NotifyReady("ready: nested egress verified");
                    } else {
                      systemd.NotifyStatus("not ready: " + readiness.reason);
                    }
                  });
  if (auto started = sidecar->Start(); !started) return fail(started.error());
  const http::Readiness readiness = sidecar->Readiness();
  log::Info("running", {{"ready", readiness.ready ? "yes" : "not yet: " + readiness.reason}});
  io.run();
  // The probe detaches (its veth leaves docker0) while the loop's objects still exist.
  sidecar.reset();
  log::Info("stopped", {{"exit_code", std::to_string(exit_code)}});
  return exit_code;
}

}  // namespace dind::sidecar
