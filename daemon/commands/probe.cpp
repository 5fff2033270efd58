// SPDX-License-Identifier: Apache-2.0
// `probe`: an exec probe for Kubernetes (or a shell) that asks the running sidecar whether it is
// ready. Exit 0 ready, 1 not ready or unreachable, 2 a bad --url.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <memory>

#include "daemon/commands/commands.h"
#include "daemon/commands/flags.h"

namespace dind::cli {

Result<ProbeUrl> ParseProbeUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  const auto bad = [&url](const std::string& why) {
    return Error::BadInput("--url '" + std::string(url) + "' " + why,
                           "write it like http://127.0.0.1:9254/readyz");
  };
  if (url.substr(0, kScheme.size()) != kScheme) return bad("is not an http:// URL");
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  ProbeUrl parsed;
  parsed.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == authority.size()) {
    return bad("has no port");
  }
  parsed.host = std::string(authority.substr(0, colon));
  if (parsed.host.size() >= 2 && parsed.host.front() == '[' && parsed.host.back() == ']') {
    parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
  }
  if (parsed.host.empty()) return bad("has no host");
  auto port = ParseNumber("--url port", std::string(authority.substr(colon + 1)));
  if (!port || *port == 0 || *port > 65535) return bad("has a port outside 1..65535");
  parsed.port = static_cast<std::uint16_t>(*port);
  return parsed;
}

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::ip::tcp;

struct ProbeExchange {
  explicit ProbeExchange(boost::asio::io_context& io) : resolver(io), stream(io) {}
  tcp::resolver resolver;
  beast::tcp_stream stream;
  http::request<http::empty_body> request;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  boost::system::error_code error;
  std::string failed_step;
  bool done = false;
};

// One GET with a deadline over the whole exchange; errors are kept, never thrown.
void Fetch(ProbeExchange& exchange, const ProbeUrl& url) {
  exchange.request = {http::verb::get, url.path, 11};
  exchange.request.set(http::field::host, url.host);
  exchange.request.set(http::field::user_agent, "dind-netcfg-probe");
  const auto fail = [&exchange](const char* step, boost::system::error_code error) {
    exchange.failed_step = step;
    exchange.error = error;
    exchange.done = true;
  };
  exchange.resolver.async_resolve(
      url.host, std::to_string(url.port),
      [&exchange, fail](boost::system::error_code error, tcp::resolver::results_type results) {
        if (error) return fail("resolving", error);
        exchange.stream.async_connect(
            results, [&exchange, fail](boost::system::error_code e, const tcp::endpoint&) {
              if (e) return fail("connecting", e);
              http::async_write(exchange.stream, exchange.request,
                                [&exchange, fail](boost::system::error_code e2, size_t) {
                                  if (e2) return fail("sending the request", e2);
                                  http::async_read(
                                      exchange.stream, exchange.buffer, exchange.response,
                                      [&exchange, fail](boost::system::error_code e3, size_t) {
                                        if (e3) return fail("reading the answer", e3);
                                        exchange.done = true;
                                      });
                                });
            });
      });
}

}  // namespace

Runner AddProbeCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "probe", "Ask the running sidecar whether it is ready (for Kubernetes exec probes)");
  struct ProbeFlags {
    std::string url = "http://127.0.0.1:9254/readyz";
    std::string timeout = "3";
  };
  auto flags = std::make_shared<ProbeFlags>();
  AddOption(*command, "--url", "URL", flags->url, "endpoint to ask")->default_str(flags->url);
  AddOption(*command, "--timeout", "DURATION", flags->timeout,
            "how long to wait for the answer (3, 500ms, 2s)")
      ->default_str(flags->timeout);
  return [flags]() {
    auto url = ParseProbeUrl(flags->url);
    if (!url) return ReportFailure(url.error().Wrap("probe"));
    auto timeout = ParseDuration("--timeout", flags->timeout);
    if (!timeout) return ReportFailure(timeout.error().Wrap("probe"));

    boost::asio::io_context io;
    ProbeExchange exchange(io);
    exchange.stream.expires_after(*timeout);
    Fetch(exchange, *url);
    io.run_for(*timeout + std::chrono::milliseconds(200));
    if (!exchange.done) {
      std::cout << "not ready: no answer from " << flags->url << " within " << timeout->count()
                << "ms\n";
      return 1;
    }
    if (exchange.error) {
      std::cout << "not ready: " << exchange.failed_step << " " << flags->url
                << " failed: " << exchange.error.message()
                << " (is `dind-netcfg run` running and listening there?)\n";
      return 1;
    }
    const bool ready = exchange.response.result() == http::status::ok;
    std::cout << (ready ? "ready" : "not ready") << ": " << exchange.response.result_int() << " "
              << exchange.response.body() << (exchange.response.body().ends_with('\n') ? "" : "\n");
    return ready ? 0 : 1;
  };
}

}  // namespace dind::cli
