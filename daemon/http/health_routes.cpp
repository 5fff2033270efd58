// SPDX-License-Identifier: Apache-2.0
#include "daemon/http/health_routes.h"

#include <utility>

namespace dind::http {
namespace {

Response Text(unsigned status, std::string body) {
  return Response{status, std::string(kTextPlain), std::move(body), {}};
}

std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? "not ready" : text;
}

}  // namespace

Handler MakeHealthRoutes(HealthCallbacks callbacks) {
  return [callbacks = std::move(callbacks)](std::string_view path) -> Response {
    if (path == "/healthz") return Text(200, "ok\n");
    if (path == "/readyz" && callbacks.readiness) {
      Readiness readiness = callbacks.readiness();
      if (readiness.ready) return Text(200, "ready\n");
      return Text(503, OneLine(std::move(readiness.reason)) + "\n");
    }
    if (path == "/metrics" && callbacks.metrics) {
      return Response{200, std::string(kPrometheusText), callbacks.metrics(), {}};
    }
    if (path == "/status" && callbacks.status_json) {
      std::string json = callbacks.status_json();
      if (json.empty() || json.back() != '\n') json += '\n';
      return Response{200, std::string(kJson), std::move(json), {}};
    }
    return Text(404, "not found; the paths are /healthz, /readyz, /metrics and /status\n");
  };
}

}  // namespace dind::http
