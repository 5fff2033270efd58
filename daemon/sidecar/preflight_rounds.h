// SPDX-License-Identifier: Apache-2.0
// The preflight rounds of `run` and `entrypoint` (daemon/doctor/preflight.h). doctor's checks
// read files, statfs and dockerd's binary, and ask dockerd's API with timeouts of up to 5 s, so a
// round runs on a thread of its own and its results come back to the event loop as a posted
// handler: /healthz and the reconciler never wait on it. One round at a time; a round asked for
// while one runs follows it, and the next one is due `interval` after the last ended.
//
// What only the sidecar measures reaches a round as a doctor::PreflightFeed, copied on the loop
// when the round starts: the egress prober's results for dockerd's public DNS fallback servers
// (FallbackTargets, FallbackProbesOf; sidecar.cpp probes them only while dns-fallback says
// dockerd falls back to them).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/doctor/check.h"
#include "daemon/doctor/preflight.h"
#include "daemon/egress/prober.h"
#include "daemon/sidecar/sidecar_state.h"

namespace dind::sidecar {

struct PreflightOptions {
  // Runs the checks (doctor::RunPreflight) with the feed of the round: blocking, called on the
  // round's own thread, so it must own what it reads (no references into the loop's objects).
  std::function<std::vector<doctor::CheckResult>(doctor::PreflightFeed)> run;
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
  doctor::PreflightFor command = doctor::PreflightFor::kRun;  // for the log
};

// doctor::RunPreflight for `command` on this daemon.json and dockerd socket ("" when dockerd's
// API is not followed: what asks it is unknown), every 60 s.
PreflightOptions PreflightOf(doctor::PreflightFor command, std::string daemon_json,
                             std::string docker_socket,
                             std::optional<netcfg::DockerVersion> told_dockerd = {});

// The DNS probes (over UDP, port 53) of dockerd's public fallback `servers` (dns-fallback's
// observed "servers"), as the egress prober runs them from the docker bridge. An IPv6 server is
// inconclusive, not failed, on a bridge without IPv6 (dockerd lists the IPv6 ones only for
// containers with IPv6).
std::vector<egress::ProbeTarget> FallbackTargets(const std::vector<std::string>& servers);
// What dns-fallback judges by, from the status of the prober of FallbackTargets: each server
// that passed answered, each that failed did not; inconclusive ones were not probed.
std::vector<doctor::FallbackProbe> FallbackProbesOf(const egress::ProberStatus& status);

class PreflightRounds {
 public:
  // Called on the loop when a round starts: what it is handed (by value) for its thread.
  using Feed = std::function<doctor::PreflightFeed()>;
  // Called on the loop with each finished round; its fails and warns are logged already.
  using Done = std::function<void(PreflightState)>;
  // `io` outlives the rounds.
  PreflightRounds(boost::asio::io_context& io, PreflightOptions options, Done done,
                  doctor::PreflightLog::Sink log_sink = &log::Write);
  // Stops. A round still running (dockerd hanging) is left to end on its own: its thread is
  // detached and hands nothing over.
  ~PreflightRounds();
  PreflightRounds(const PreflightRounds&) = delete;
  PreflightRounds& operator=(const PreflightRounds&) = delete;

  // Set before Start; without one a round gets an empty feed.
  void set_feed(Feed feed) { feed_ = std::move(feed); }
  // A round now, then one `interval` after each ends.
  void Start() { RunSoon(); }
  // A round now, or right after the one running (dockerd answers: judge what depends on it).
  void RunSoon();
  // Call on the loop's thread. No round starts and no result is handed over afterwards.
  void Stop();
  bool running() const { return running_; }

 private:
  struct Shared;
  void Finish(std::vector<doctor::CheckResult> checks, std::chrono::steady_clock::time_point began);
  void ScheduleNext();

  boost::asio::io_context& io_;
  PreflightOptions options_;
  Done done_;
  Feed feed_;
  doctor::PreflightLog log_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
  bool running_ = false;
  bool again_ = false;
  bool stopped_ = false;
  std::uint64_t rounds_ = 0;
};

}  // namespace dind::sidecar
