// SPDX-License-Identifier: Apache-2.0
// The once-only end every Probe shares: it finishes (its ProbeDone runs once) or is cancelled
// (ProbeDone never runs), whichever comes first, and either way releases what the probe holds.
// Asio handlers still queued afterwards check ended() and return.
#pragma once

#include <utility>

#include "daemon/egress/probe.h"

namespace dind::egress {

class ProbeLifecycle {
 public:
  // Start(): the callback Finish hands the report to.
  void Begin(ProbeDone done) { done_ = std::move(done); }
  bool ended() const { return ended_; }

  // Probe::Cancel(): idempotent; `release` runs every time, so a second Cancel is harmless.
  template <typename Release>
  void Cancel(Release&& release) {
    ended_ = true;
    done_ = nullptr;
    std::forward<Release>(release)();
  }

  // The first Finish releases, then reports; later ones, and any after Cancel, do nothing.
  template <typename Release>
  void Finish(ProbeReport report, Release&& release) {
    if (ended_) return;
    ended_ = true;
    std::forward<Release>(release)();
    // Moved out first: `done` may destroy the probe that holds this lifecycle.
    ProbeDone done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(report));
  }

 private:
  ProbeDone done_;
  bool ended_ = false;
};

}  // namespace dind::egress
