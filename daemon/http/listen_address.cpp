// SPDX-License-Identifier: Apache-2.0
#include "daemon/http/listen_address.h"

#include <charconv>

namespace dind::http {
namespace {

constexpr std::string_view kForm =
    "write ADDR:PORT, e.g. 0.0.0.0:9254, 127.0.0.1:9254 or [::1]:9254";

Error Bad(std::string_view text, const std::string& problem) {
  return Error::BadInput("--listen \"" + std::string(text) + "\": " + problem, std::string(kForm));
}

Result<std::uint16_t> ParsePort(std::string_view whole, std::string_view port) {
  if (port.empty()) return Bad(whole, "the port is missing");
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (error != std::errc() || end != port.data() + port.size() || port.size() > 5 ||
      value > 65535) {
    return Bad(whole, "the port \"" + std::string(port) + "\" is not a number from 0 to 65535");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string ListenAddress::ToString() const {
  // Appended piece by piece: `"[" + temporary` trips a false -Wrestrict at -O3 (GCC 12 bug
  // 105329, one-character literal prepended to an rvalue string).
  std::string text = address.is_v4() ? "" : "[";
  text += address.ToString();
  text += address.is_v4() ? ":" : "]:";
  return text + std::to_string(port);
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  if (text.empty()) return Bad(text, "the value is empty");
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return Bad(text, "the '[' of the IPv6 address has no ']'");
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return Bad(text, "the port is missing after ']'");
    port = rest.substr(1);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Bad(text, "the port is missing");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Bad(text, "an IPv6 address needs brackets, as in [::1]:9254");
    }
    if (host.empty()) host = "0.0.0.0";
  }
  auto parsed_port = ParsePort(text, port);
  if (!parsed_port) return parsed_port.error();
  auto address = IpAddress::Parse(host);
  if (!address) {
    // Appended, not `"\"" + temporary`: that trips GCC 12 bug 105329 (a false -Wrestrict).
    std::string problem(1, '"');
    problem += host;
    problem +=
        "\" is not an IP address (host names are not resolved; the endpoint binds to an "
        "address of this pod)";
    return Bad(text, problem);
  }
  if (text.front() == '[' && address->is_v4()) {
    return Bad(text, "brackets are for IPv6 addresses; write an IPv4 address without them");
  }
  return ListenAddress{*address, *parsed_port};
}

}  // namespace dind::http
