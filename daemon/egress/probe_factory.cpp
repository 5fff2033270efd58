// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/probe_factory.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>

#include "daemon/egress/mtu_probe.h"
#include "daemon/egress/socket_probes.h"

namespace dind::egress {
std::string DescribeProbe(const ProbeTarget& target, const Vantage& vantage) {
  const Family family = target.family();
  switch (target.kind) {
    case ProbeKind::kTcpConnect:
      return "TCP connect to " + target.HostPort() + " " + vantage.From(family);
    case ProbeKind::kDnsUdp:
      return "DNS query to " + target.HostPort() + " " + vantage.From(family);
    case ProbeKind::kPathMtu:
      return std::string(family == Family::kIPv6 ? "ICMPv6" : "ICMP") + " echo to " + target.host +
             " " + vantage.From(family);
  }
  return target.Key();
}

std::optional<ProbeReport> FamilyUnavailable(const ProbeTarget& target, const Vantage& vantage) {
  const Family family = target.family();
  if (vantage.Has(family)) return std::nullopt;
  ProbeReport report;
  report.family = family;
  report.outcome = target.skip_without_family ? Outcome::kInconclusive : Outcome::kFailed;
  report.detail = DescribeProbe(target, vantage) + " cannot run: docker bridge " +
                  vantage.bridge.name +
                  " has no IPv6 address, so nested containers have no IPv6 either; to give "
                  "nested networks IPv6, run dind-netcfg init --ipv6 on (or set \"ipv6\": true "
                  "and \"fixed-cidr-v6\" in daemon.json) and restart dockerd";
  if (target.skip_without_family) {
    report.detail += " (a default target from " + target.origin + ": not counted as a failure)";
  }
  return report;
}

NamespaceProbeFactory::NamespaceProbeFactory(boost::asio::io_context& io, ProbeSettings settings)
    : io_(io), settings_(std::move(settings)), random_(std::random_device{}()) {}

Result<std::shared_ptr<Probe>> NamespaceProbeFactory::Make(const ProbeTarget& target,
                                                           const Vantage& vantage) {
  const std::string cannot_start = DescribeProbe(target, vantage) + " cannot start";
  if (auto unavailable = FamilyUnavailable(target, vantage)) {
    return Error::Environment(unavailable->detail);
  }
  if (!vantage.netns || !vantage.netns->valid()) {
    return Error::Environment(cannot_start + ": the probe namespace is gone");
  }
  const int netns = vantage.netns->get();
  const auto id = static_cast<std::uint16_t>(random_() & 0xffff);
  const Family family = target.family();
  const int domain = family == Family::kIPv6 ? AF_INET6 : AF_INET;
  const std::string from = vantage.From(family);

  switch (target.kind) {
    case ProbeKind::kTcpConnect: {
      auto fd = OpenSocketIn(netns, domain, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (!fd) return fd.error().Wrap(cannot_start);
      return std::shared_ptr<Probe>(std::make_shared<TcpConnectProbe>(
          io_, std::move(*fd), target.host, target.port, from, settings_.timeout));
    }
    case ProbeKind::kDnsUdp: {
      boost::system::error_code error;
      const auto address = boost::asio::ip::make_address(target.host, error);
      if (error) {
        return Error::BadInput(cannot_start + ": nameserver " + target.host +
                               " is not an IPv4 or IPv6 address");
      }
      auto fd = OpenSocketIn(netns, domain, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      if (!fd) return fd.error().Wrap(cannot_start);
      return std::shared_ptr<Probe>(std::make_shared<DnsProbe>(
          io_, std::move(*fd), boost::asio::ip::udp::endpoint(address, target.port),
          settings_.dns_question, id, from, settings_.timeout));
    }
    case ProbeKind::kPathMtu: {
      auto address = IpAddress::Parse(target.host);
      if (!address) {
        return Error::BadInput(cannot_start + ": " + target.host +
                               " is not an IPv4 or IPv6 address");
      }
      const bool v6 = family == Family::kIPv6;
      auto fd = OpenSocketIn(netns, domain, SOCK_RAW | SOCK_NONBLOCK,
                             v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP});
      if (!fd) return fd.error().Wrap(cannot_start);
      auto sender =
          RawEchoSender::Create(io_, std::move(*fd), *address, id, settings_.echo_timeout);
      if (!sender) return sender.error().Wrap(cannot_start);
      const MtuSearchConfig search{vantage.bridge.mtu,
                                   v6 ? settings_.mtu_floor_v6 : settings_.mtu_floor,
                                   settings_.echo_attempts};
      return std::shared_ptr<Probe>(std::make_shared<PathMtuProbe>(
          io_, std::move(*sender), search, target.host, from, settings_.echo_timeout));
    }
  }
  return Error::Environment(cannot_start + ": unknown probe kind");
}

}  // namespace dind::egress
