// SPDX-License-Identifier: Apache-2.0
#include "daemon/sidecar/preflight_rounds.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <exception>
#include <mutex>
#include <string>
#include <utility>

namespace dind::sidecar {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

// What a round's thread shares with the loop. `stopped` is written on the loop's thread under
// the mutex; the thread reads it under the mutex before it posts, so nothing is posted after
// Stop, and a handler posted before Stop finds it set and does nothing.
struct PreflightRounds::Shared {
  std::mutex mutex;
  bool stopped = false;
};

PreflightOptions PreflightOf(doctor::PreflightFor command, std::string daemon_json,
                             std::string docker_socket,
                             std::optional<netcfg::DockerVersion> told_dockerd) {
  PreflightOptions options;
  options.command = command;
  options.run = [command, daemon_json = std::move(daemon_json),
                 docker_socket = std::move(docker_socket),
                 told_dockerd](doctor::PreflightFeed feed) {
    return doctor::RunPreflight(command, daemon_json, docker_socket, told_dockerd, std::move(feed));
  };
  return options;
}

std::vector<egress::ProbeTarget> FallbackTargets(const std::vector<std::string>& servers) {
  std::vector<egress::ProbeTarget> targets;
  for (const auto& server : servers) {
    egress::ProbeTarget target{egress::ProbeKind::kDnsUdp, server, 53, "dns-fallback"};
    target.skip_without_family = target.family() == Family::kIPv6;
    targets.push_back(std::move(target));
  }
  return targets;
}

std::vector<doctor::FallbackProbe> FallbackProbesOf(const egress::ProberStatus& status) {
  std::vector<doctor::FallbackProbe> probes;
  for (const auto& result : status.results) {
    if (result.outcome == egress::Outcome::kInconclusive) continue;
    probes.push_back(
        {result.target.host, result.outcome == egress::Outcome::kPassed, result.detail});
  }
  return probes;
}

PreflightRounds::PreflightRounds(asio::io_context& io, PreflightOptions options, Done done,
                                 doctor::PreflightLog::Sink log_sink)
    : io_(io),
      options_(std::move(options)),
      done_(std::move(done)),
      log_(options_.command, std::move(log_sink)),
      timer_(io),
      shared_(std::make_shared<Shared>()) {}

PreflightRounds::~PreflightRounds() {
  Stop();
  if (!thread_.joinable()) return;
  // A round in flight may be waiting on dockerd for seconds: the process's exit does not wait.
  if (running_) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void PreflightRounds::RunSoon() {
  if (stopped_) return;
  if (running_) {
    again_ = true;
    return;
  }
  running_ = true;
  timer_.cancel();
  // The last round's thread posted its result and ended (Finish joined it).
  const SteadyClock::time_point began = SteadyClock::now();
  // Copied here, on the loop: the round's thread touches nothing of the loop's.
  doctor::PreflightFeed handed = feed_ ? feed_() : doctor::PreflightFeed{};
  thread_ = std::thread([shared = shared_, run = options_.run, &io = io_, this, began,
                         feed = std::move(handed)]() mutable {
    std::vector<doctor::CheckResult> checks;
    try {
      checks = run(std::move(feed));
    } catch (const std::exception& error) {  // never let a thread take the daemon down
      doctor::CheckResult failed{.id = "preflight"};
      failed.summary = std::string("the checks could not run: ") + error.what();
      failed.source = "dind-netcfg's preflight";
      failed.fix = "run `dind-netcfg doctor` in this container for the details";
      checks.push_back(std::move(failed));
    }
    const std::lock_guard lock(shared->mutex);
    if (shared->stopped) return;
    asio::post(io, [shared, this, checks = std::move(checks), began]() mutable {
      if (shared->stopped) return;  // `this` may be gone
      Finish(std::move(checks), began);
    });
  });
}

void PreflightRounds::Finish(std::vector<doctor::CheckResult> checks,
                             SteadyClock::time_point began) {
  running_ = false;
  if (thread_.joinable()) thread_.join();  // its last act was posting this
  ++rounds_;
  log_.Record(checks);
  PreflightState state;
  state.enabled = true;
  state.checks = std::move(checks);
  state.ran_at = Clock::now();
  state.took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - began);
  state.rounds = rounds_;
  done_(std::move(state));
  if (again_) {
    again_ = false;
    return RunSoon();
  }
  ScheduleNext();
}

void PreflightRounds::ScheduleNext() {
  if (stopped_) return;
  timer_.expires_after(options_.interval);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) RunSoon();
  });
}

void PreflightRounds::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    const std::lock_guard lock(shared_->mutex);
    shared_->stopped = true;
  }
  timer_.cancel();
}

}  // namespace dind::sidecar
