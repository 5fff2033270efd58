// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/probe_target.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "common/cidr.h"
#include "netcfg/detect/pools.h"

namespace dind::egress {
namespace {

constexpr std::string_view kTargetExample =
    "write it like 10.96.0.1:443, [2001:db8::1]:443 or api.example.com:443";

std::string Quoted(std::string_view text) {
  // Appended, not `"'" + temporary`: that trips GCC 12 bug 105329 (a false -Wrestrict at -O3).
  std::string quoted(1, '\'');
  quoted += text;
  quoted += '\'';
  return quoted;
}

// A port 1..65535 in decimal digits only ("+443", " 443" and "0x1bb" are refused).
std::optional<std::uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// RFC 1123 host name: labels of letters, digits and hyphens, not starting or ending with a
// hyphen, 1..63 characters each, 253 in all; an all-numeric last label would be an IPv4 typo.
bool IsHostName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::string_view last_label;
  while (!name.empty()) {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
        })) {
      return false;
    }
    last_label = label;
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  return !std::all_of(last_label.begin(), last_label.end(),
                      [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

bool IsIpv4(std::string_view text) {
  auto address = IpAddress::Parse(text);
  return address.ok() && address->is_v4();
}

bool IsIpv6(std::string_view text) {
  auto address = IpAddress::Parse(text);
  return address.ok() && !address->is_v4();
}

bool IsLoopback(const IpAddress& address) {
  if (address.is_v4()) return (address.v4_host_order() >> 24) == 127;
  const auto& bytes = address.bytes();
  return std::all_of(bytes.begin(), bytes.end() - 1, [](std::uint8_t b) { return b == 0; }) &&
         bytes.back() == 1;
}

// An IPv6 address the probe can aim at, or the error naming `where`.
Status CheckIpv6Host(const std::string& where, std::string_view host) {
  auto address = IpAddress::Parse(host);
  if (!address || address->is_v4()) {
    return Error::BadInput(where + ": " + Quoted(host) + " is not an IPv6 address",
                           std::string(kTargetExample));
  }
  // A link-local address in the pod is not reachable from the docker bridge, another link.
  if (address->is_ipv6_link_local()) {
    return Error::BadInput(where + ": " + Quoted(host) +
                               " is link-local, which the docker bridge (another link) cannot "
                               "reach",
                           "give a global or ULA IPv6 address");
  }
  return OkStatus();
}

}  // namespace

Family ProbeTarget::family() const {
  return IsIpv6(host) ? Family::kIPv6 : Family::kIPv4;
}

std::string ProbeTarget::HostPort() const {
  // Appended piece by piece, for GCC 12 bug 105329 (see Quoted).
  std::string text;
  if (family() == Family::kIPv6) {
    text += '[';
    text += host;
    text += ']';
  } else {
    text += host;
  }
  text += ':';
  text += std::to_string(port);
  return text;
}

std::string ProbeTarget::Key() const {
  switch (kind) {
    case ProbeKind::kTcpConnect:
      return "tcp " + HostPort();
    case ProbeKind::kDnsUdp:
      return "dns " + HostPort();
    case ProbeKind::kPathMtu:
      return "pmtu " + host;
  }
  return host;
}

Result<ProbeTarget> ParseProbeTarget(std::string_view text, std::string_view flag) {
  const std::string where = std::string(flag) + " " + Quoted(text);
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Error::BadInput(where + ": the IPv6 address has no closing ']'",
                             std::string(kTargetExample));
    }
    const std::string_view host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':') || rest.size() == 1) {
      return Error::BadInput(where + ": expected [IPV6]:PORT, the port is missing",
                             std::string(kTargetExample));
    }
    const auto port = ParsePort(rest.substr(1));
    if (!port) {
      return Error::BadInput(
          where + ": port " + Quoted(rest.substr(1)) + " is not a number 1..65535",
          std::string(kTargetExample));
    }
    DIND_RETURN_IF_ERROR(CheckIpv6Host(where, host));
    return ProbeTarget{ProbeKind::kTcpConnect, std::string(host), *port, std::string(flag)};
  }
  if (std::count(text.begin(), text.end(), ':') > 1) {
    return Error::BadInput(where +
                               ": an IPv6 address needs brackets around it, to tell it "
                               "from the port",
                           "write it like [2001:db8::1]:443");
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Error::BadInput(where + ": expected HOST:PORT, the port is missing",
                           std::string(kTargetExample));
  }
  const std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.empty()) {
    return Error::BadInput(where + ": expected HOST:PORT, the host is missing",
                           std::string(kTargetExample));
  }
  const auto port = ParsePort(port_text);
  if (!port) {
    return Error::BadInput(where + ": port " + Quoted(port_text) + " is not a number 1..65535",
                           std::string(kTargetExample));
  }
  if (!IsIpv4(host) && !IsHostName(host)) {
    return Error::BadInput(
        where + ": " + Quoted(host) + " is neither an IPv4 address nor a host name",
        std::string(kTargetExample));
  }
  return ProbeTarget{ProbeKind::kTcpConnect, std::string(host), *port, std::string(flag)};
}

Result<ProbeTarget> ParseMtuTarget(std::string_view text, std::string_view flag) {
  const std::string where = std::string(flag) + " " + Quoted(text);
  std::string_view host = text;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (IsIpv6(host)) {
    DIND_RETURN_IF_ERROR(CheckIpv6Host(where, host));
  } else if (!IsIpv4(host)) {
    return Error::BadInput(where + ": not an IPv4 or IPv6 address",
                           "give the address of a host that answers ping, like 10.0.0.1 or "
                           "2001:db8::1");
  }
  return ProbeTarget{ProbeKind::kPathMtu, std::string(host), 0, std::string(flag)};
}

std::optional<std::string> FirstBridgeReachableNameserver(const std::string& resolv_conf,
                                                          Family family) {
  for (const IpAddress& address : netcfg::ParseNameservers(resolv_conf)) {
    if (address.family() != family || IsLoopback(address) || address.is_ipv6_link_local()) continue;
    return address.ToString();
  }
  return std::nullopt;
}

Result<DefaultTargets> MakeDefaultTargets(const DefaultTargetInputs& inputs) {
  DefaultTargets defaults;

  const auto& host = inputs.kubernetes_service_host;
  const auto& port = inputs.kubernetes_service_port;
  if (!host || host->empty()) {
    defaults.notes.push_back(
        "KUBERNETES_SERVICE_HOST is not set: not running in Kubernetes, so no API service probe");
  } else if (!port || port->empty()) {
    defaults.notes.push_back("KUBERNETES_SERVICE_PORT is not set: no API service probe");
  } else {
    const bool v6 = host->find(':') != std::string::npos;
    auto target = ParseProbeTarget((v6 ? "[" + *host + "]" : *host) + ":" + *port,
                                   "KUBERNETES_SERVICE_HOST/PORT");
    if (!target) return target.error();
    target->origin = "KUBERNETES_SERVICE_HOST";
    // An IPv6-only cluster's service: probed over IPv6 when the bridge has it.
    target->skip_without_family = v6;
    defaults.targets.push_back(*target);
  }

  if (!inputs.resolv_conf) {
    defaults.notes.push_back("resolv.conf is unreadable: no DNS probe");
    return defaults;
  }
  bool any = false;
  // IPv6 only where the bridge has it: a dual-stack pod whose nested networks are IPv4-only
  // stays ready.
  for (const auto& [family, skip_without_family] :
       {std::pair{Family::kIPv4, false}, std::pair{Family::kIPv6, true}}) {
    const auto nameserver = FirstBridgeReachableNameserver(*inputs.resolv_conf, family);
    if (!nameserver) continue;
    any = true;
    defaults.targets.push_back(
        ProbeTarget{ProbeKind::kDnsUdp, *nameserver, 53, "resolv.conf", skip_without_family});
    defaults.targets.push_back(
        ProbeTarget{ProbeKind::kPathMtu, *nameserver, 0, "resolv.conf", skip_without_family});
  }
  if (!any) {
    defaults.notes.push_back(
        "resolv.conf names no nameserver outside 127.0.0.0/8, ::1 and fe80::/10: no DNS probe "
        "(a resolver on the pod's loopback or link cannot be reached from the docker bridge)");
  }
  return defaults;
}

}  // namespace dind::egress
