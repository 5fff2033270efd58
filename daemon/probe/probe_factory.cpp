// SPDX-License-Identifier: Apache-2.0
#include "daemon/probe/probe_factory.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/address_v4.hpp>

#include "daemon/probe/mtu_probe.h"
#include "daemon/probe/socket_probes.h"

namespace dind::probe {
namespace {

std::string Describe(const ProbeTarget& target, const Vantage& vantage) {
  switch (target.kind) {
    case ProbeKind::kTcpConnect:
      return "TCP connect to " + target.host + ":" + std::to_string(target.port) + " " +
             vantage.From();
    case ProbeKind::kDnsUdp:
      return "DNS query to " + target.host + ":" + std::to_string(target.port) + " " +
             vantage.From();
    case ProbeKind::kPathMtu:
      return "ICMP echo to " + target.host + " " + vantage.From();
  }
  return target.Key();
}

}  // namespace

NamespaceProbeFactory::NamespaceProbeFactory(boost::asio::io_context& io, ProbeSettings settings)
    : io_(io), settings_(std::move(settings)), random_(std::random_device{}()) {}

Result<std::shared_ptr<Probe>> NamespaceProbeFactory::Make(const ProbeTarget& target,
                                                           const Vantage& vantage) {
  const std::string cannot_start = Describe(target, vantage) + " cannot start";
  if (!vantage.netns || !vantage.netns->valid()) {
    return Error::Environment(cannot_start + ": the probe namespace is gone");
  }
  const int netns = vantage.netns->get();
  const auto id = static_cast<std::uint16_t>(random_() & 0xffff);

  switch (target.kind) {
    case ProbeKind::kTcpConnect: {
      auto fd = OpenSocketIn(netns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (!fd) return fd.error().Wrap(cannot_start);
      return std::shared_ptr<Probe>(std::make_shared<TcpConnectProbe>(
          io_, std::move(*fd), target.host, target.port, vantage.From(), settings_.timeout));
    }
    case ProbeKind::kDnsUdp: {
      boost::system::error_code error;
      const auto address = boost::asio::ip::make_address_v4(target.host, error);
      if (error) {
        return Error::BadInput(cannot_start + ": nameserver " + target.host +
                               " is not an IPv4 address");
      }
      auto fd = OpenSocketIn(netns, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      if (!fd) return fd.error().Wrap(cannot_start);
      return std::shared_ptr<Probe>(std::make_shared<DnsProbe>(
          io_, std::move(*fd), boost::asio::ip::udp::endpoint(address, target.port),
          settings_.dns_question, id, vantage.From(), settings_.timeout));
    }
    case ProbeKind::kPathMtu: {
      auto address = IpAddress::Parse(target.host);
      if (!address || !address->is_v4()) {
        return Error::BadInput(cannot_start + ": " + target.host + " is not an IPv4 address");
      }
      auto fd = OpenSocketIn(netns, AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
      if (!fd) return fd.error().Wrap(cannot_start);
      auto sender =
          RawEchoSender::Create(io_, std::move(*fd), *address, id, settings_.echo_timeout);
      if (!sender) return sender.error().Wrap(cannot_start);
      const MtuSearchConfig search{static_cast<int>(vantage.bridge.mtu), settings_.mtu_floor,
                                   settings_.echo_attempts};
      return std::shared_ptr<Probe>(std::make_shared<PathMtuProbe>(
          io_, std::move(*sender), search, target.host, vantage.From(), settings_.echo_timeout));
    }
  }
  return Error::Environment(cannot_start + ": unknown probe kind");
}

}  // namespace dind::probe
