// SPDX-License-Identifier: Apache-2.0
// The egress probe scheduler on the daemon's io_context: every interval (± jitter) it brings
// the attachment to the docker bridge in line, runs one probe per target with at most
// `max_in_flight` at once, each bounded by its timeout, keeps the last result per target and
// hands the status to a callback after every round (readiness, metrics, /status).
//
// Not thread-safe: construct, use and destroy it on the thread that runs the io_context. No
// exception leaves it into the loop; one thrown by the round callback is caught and logged.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mtu.h"
#include "daemon/egress/probe.h"
#include "daemon/egress/probe_attachment.h"
#include "daemon/egress/probe_factory.h"
#include "daemon/egress/probe_target.h"

namespace dind::egress {

struct ProberConfig {
  std::chrono::milliseconds interval{10000};  // from the end of one round to the next
  std::chrono::milliseconds jitter{1000};     // each wait is interval ± up to this much
  std::size_t max_in_flight = 4;
  // While the probe's new port comes up (kSettling), how often to look again before probing.
  std::chrono::milliseconds settle_poll{25};
};

struct TargetResult {
  ProbeTarget target;
  Outcome outcome = Outcome::kFailed;
  std::string detail;                    // one line a human reads
  std::chrono::microseconds latency{0};  // start to verdict; the timeout for timeouts
  std::optional<Mtu> path_mtu;
  std::chrono::system_clock::time_point finished_at;
  // The family the probe used (the report's, else the target's): readiness per family and the
  // MSS clamp per family (path_mtu of kIPv6 results is an IPv6 path MTU) select by it.
  Family family = Family::kIPv4;
};

struct ProberStatus {
  AttachStatus::State attachment = AttachStatus::State::kNoBridge;
  std::string attachment_reason;  // "no docker bridge docker0 yet: dockerd still starting?"
  // Where the probes stand (its namespace descriptor is not kept here).
  std::optional<Vantage> vantage;
  // The last result per target that has been probed, in the order targets were given. A target
  // of a family the probe namespace lacks (IPv6 without IPv6 on the bridge) is not probed: its
  // result says so (FamilyUnavailable), failed or, for skip_without_family, inconclusive.
  std::vector<TargetResult> results;
  std::uint64_t rounds = 0;               // rounds finished, attached or not
  std::uint64_t rounds_since_attach = 0;  // rounds that ran probes from the current attachment
  std::chrono::system_clock::time_point last_round_at;
};

// nullopt when the last round proved egress (attached, a round done, no probe failed);
// otherwise the one line readiness reports.
std::optional<std::string> EgressNotReadyReason(const ProberStatus& status);
// The same for the probes of one family only (results of other families are ignored), for a
// readiness that covers each family the pod has. A family with no result at all is not ready:
// nothing proved it.
std::optional<std::string> EgressNotReadyReason(const ProberStatus& status, Family family);

// How long to wait before the next round: interval shifted by jitter × (2·uniform − 1), where
// `uniform` is in [0, 1); never negative.
std::chrono::milliseconds NextRoundDelay(std::chrono::milliseconds interval,
                                         std::chrono::milliseconds jitter, double uniform);

using RoundCallback = std::function<void(const ProberStatus&)>;

class Prober {
 public:
  // `attachment` and `factory` must outlive the Prober.
  Prober(boost::asio::io_context& io, ProberConfig config, std::vector<ProbeTarget> targets,
         Attachment& attachment, ProbeFactory& factory, RoundCallback on_round);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // The first round starts at once (from the loop, not inside this call).
  void Start();
  // Cancels the wait and every probe in flight; no callback runs afterwards.
  void Stop();
  // A round as soon as possible: now when idle, else right after the one running. For events
  // that change the answer: the bridge appeared or was made again, the MTU changed.
  void ProbeSoon();

  const ProberStatus& status() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace dind::egress
