// SPDX-License-Identifier: Apache-2.0
// The endpoint's paths: /healthz, /readyz, /metrics and /status, each answered from a callback
// the daemon provides. The callbacks run on the event loop and must answer from state the loop
// already holds; they must not block.
#pragma once

#include <functional>
#include <string>

#include "daemon/http/responder.h"

namespace dind::http {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready; one line (line breaks are replaced by spaces)
};

struct HealthCallbacks {
  std::function<Readiness()> readiness;      // /readyz: 200 "ready" or 503 with the reason
  std::function<std::string()> metrics;      // /metrics: Prometheus text exposition
  std::function<std::string()> status_json;  // /status: the JSON report
};

// /healthz answers 200 "ok" whenever the loop runs. A path whose callback is empty is 404, like
// every other path.
Handler MakeHealthRoutes(HealthCallbacks callbacks);

}  // namespace dind::http
