// SPDX-License-Identifier: Apache-2.0
// The health endpoint's request handling (daemon/http/responder.h, health_routes.h): raw bytes
// from a client, parsed by Beast's request_parser and answered by Respond and the real routes,
// as one connection would see them; no sockets. The first byte picks the limits (the defaults,
// or tight ones that the 431 paths need) and the routes (the daemon's, or a handler that echoes
// the path into a header and throws on some paths, to reach the 500 and sanitising paths).
// Checked besides the sanitizers: every answer is HTTP/1.1 and no header line a client
// influences can be split into two.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/log.h"
#include "daemon/http/health_routes.h"
#include "daemon/http/responder.h"

namespace {

using dind::http::Handler;
using dind::http::Limits;
using dind::http::Response;

void Require(bool condition) {
  if (!condition) std::abort();
}

Handler DaemonRoutes() {
  dind::http::HealthCallbacks callbacks;
  callbacks.readiness = [] {
    return dind::http::Readiness{false, "rules: the masquerade rule is missing\nrepairing"};
  };
  callbacks.metrics = [] { return std::string("dind_netcfg_up 1\n"); };
  callbacks.status_json = [] { return std::string(R"({"ready":false})"); };
  return dind::http::MakeHealthRoutes(std::move(callbacks));
}

Response EchoOrThrow(std::string_view path) {
  if (path.find("throw") != std::string_view::npos) throw std::runtime_error("handler failed");
  Response response;
  response.body = std::string(path);
  response.headers.emplace_back("X-Path", std::string(path));
  response.headers.emplace_back(std::string(path), "name from the path");
  return response;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // The 500 path logs; errors only, so the fuzzer's output stays readable.
  dind::log::Configure(dind::log::Level::kError, dind::log::Format::kText);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Limits limits;
  if (data[0] & 1U) {
    limits.max_header_bytes = 256;
    limits.max_header_fields = 4;
  }
  static const Handler kDaemonRoutes = DaemonRoutes();
  static const Handler kEchoOrThrow = EchoOrThrow;
  const Handler& handler = (data[0] & 2U) ? kEchoOrThrow : kDaemonRoutes;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::string out = dind::http::RespondToBytes(bytes, handler, limits);
  if (out.empty()) return 0;
  Require(out.rfind("HTTP/1.1 ", 0) == 0);
  // Header lines end in CRLF; a bare CR or LF would let a client smuggle in a header.
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r') Require(i + 1 < out.size() && out[i + 1] == '\n');
  }
  return 0;
}
