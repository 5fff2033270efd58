// SPDX-License-Identifier: Apache-2.0
// One egress probe: an asynchronous check on the daemon's io_context that ends in a report a
// human can read. The Prober starts probes, bounds them with a timeout and keeps the results.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/cidr.h"
#include "common/mtu.h"

namespace dind::egress {

enum class Outcome {
  kPassed,
  kFailed,
  kInconclusive,  // the probe could not tell (a target that does not answer ping): not a failure
};

std::string_view OutcomeName(Outcome outcome);  // "passed", "failed", "inconclusive"

// "2s", "1.5s", "500ms": durations in messages.
std::string FormatDuration(std::chrono::milliseconds duration);

struct ProbeReport {
  Outcome outcome = Outcome::kFailed;
  // One line: "TCP connect to 10.96.0.1:443 from the docker bridge (probe 172.17.255.254)
  // failed: Connection refused; …".
  std::string detail;
  std::optional<Mtu> path_mtu;  // measured by the path-MTU probe
  // The address family the probe used (IPv4 or IPv6 from the probe namespace), so readiness and
  // the MSS clamp can tell the families apart; every probe sets it.
  std::optional<Family> family = std::nullopt;
};

using ProbeDone = std::function<void(ProbeReport)>;

class Probe {
 public:
  virtual ~Probe() = default;
  // What is tried from where, without a verdict: "TCP connect to 10.96.0.1:443 from the
  // docker bridge (probe 172.17.255.254)".
  virtual std::string Description() const = 0;
  // How long the probe may take before the Prober gives up on it.
  virtual std::chrono::milliseconds Timeout() const = 0;
  // What a timeout most likely means, appended to "… timed out after 2s"; may be empty.
  virtual std::string TimeoutHint() const { return {}; }
  // Starts the probe. `done` runs exactly once, later, on the io_context (never inside Start),
  // unless Cancel() comes first. Never throws.
  virtual void Start(ProbeDone done) = 0;
  // Stops the probe and releases its socket; `done` is not called after this. Idempotent.
  virtual void Cancel() = 0;
};

}  // namespace dind::egress
