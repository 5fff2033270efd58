// SPDX-License-Identifier: Apache-2.0
#include "daemon/probe/probe_target.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/cidr.h"
#include "netcfg/detect/pools.h"

namespace dind::probe {
namespace {

constexpr std::string_view kTargetExample = "write it like 10.96.0.1:443 or api.example.com:443";

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

Error Ipv6Refused(std::string_view flag, std::string_view text) {
  return Error::BadInput(std::string(flag) + " " + Quoted(text) +
                             ": IPv6 targets cannot be probed, the probe namespace on the docker "
                             "bridge has only an IPv4 address",
                         "give an IPv4 address or a name with an IPv4 address");
}

}  // namespace

std::string ProbeTarget::Key() const {
  switch (kind) {
    case ProbeKind::kTcpConnect:
      return "tcp " + host + ":" + std::to_string(port);
    case ProbeKind::kDnsUdp:
      return "dns " + host + ":" + std::to_string(port);
    case ProbeKind::kPathMtu:
      return "pmtu " + host;
  }
  return host;
}

Result<ProbeTarget> ParseProbeTarget(std::string_view text, std::string_view flag) {
  const std::string where = std::string(flag) + " " + Quoted(text);
  if (text.starts_with('[') || std::count(text.begin(), text.end(), ':') > 1) {
    return Ipv6Refused(flag, text);
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
  if (text.find(':') != std::string_view::npos) return Ipv6Refused(flag, text);
  if (!IsIpv4(text)) {
    return Error::BadInput(std::string(flag) + " " + Quoted(text) + ": not an IPv4 address",
                           "give the IPv4 address of a host that answers ping, like 10.0.0.1");
  }
  return ProbeTarget{ProbeKind::kPathMtu, std::string(text), 0, std::string(flag)};
}

std::optional<std::string> FirstBridgeReachableNameserver(const std::string& resolv_conf) {
  for (const IpAddress& address : netcfg::ParseNameservers(resolv_conf)) {
    if (!address.is_v4()) continue;
    if ((address.v4_host_order() >> 24) == 127) continue;
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
  } else if (host->find(':') != std::string::npos) {
    defaults.notes.push_back("KUBERNETES_SERVICE_HOST " + *host +
                             " is IPv6 and the probe namespace has only IPv4: no API service "
                             "probe; add an IPv4 --probe-target");
  } else {
    auto target = ParseProbeTarget(*host + ":" + *port, "KUBERNETES_SERVICE_HOST/PORT");
    if (!target) return target.error();
    target->origin = "KUBERNETES_SERVICE_HOST";
    defaults.targets.push_back(*target);
  }

  if (!inputs.resolv_conf) {
    defaults.notes.push_back("resolv.conf is unreadable: no DNS probe");
  } else if (auto nameserver = FirstBridgeReachableNameserver(*inputs.resolv_conf)) {
    defaults.targets.push_back(ProbeTarget{ProbeKind::kDnsUdp, *nameserver, 53, "resolv.conf"});
    defaults.targets.push_back(ProbeTarget{ProbeKind::kPathMtu, *nameserver, 0, "resolv.conf"});
  } else {
    defaults.notes.push_back(
        "resolv.conf names no IPv4 nameserver outside 127.0.0.0/8: no DNS probe (a loopback "
        "resolver in the pod cannot be reached from the docker bridge)");
  }
  return defaults;
}

}  // namespace dind::probe
