// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/socket_probes.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>

#include "common/log.h"

namespace dind::egress {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr const char* kCheckMasquerade =
    "is the masquerade rule for the docker bridge's network in place (dind-netcfg init installs "
    "it), and does a network policy let the pod reach the target?";

std::string FailureHint(const error_code& error) {
  switch (error.value()) {
    case ECONNREFUSED:
      return "the target (or a firewall on the way) refused: nothing listens on that port";
    case ENETUNREACH:
    case EHOSTUNREACH:
      return std::string("no route from the docker bridge, or an ICMP unreachable came back: ") +
             kCheckMasquerade;
    default:
      return {};
  }
}

// "10.0.0.1:53", "[2001:db8::1]:53".
std::string HostPort(const std::string& host, std::uint16_t port) {
  // Appended, not `"[" + temporary`: that trips GCC 12 bug 105329 (a false -Wrestrict at -O3).
  std::string text;
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) text += '[';
  text += host;
  if (v6) text += ']';
  text += ':';
  text += std::to_string(port);
  return text;
}

Family FamilyOf(const std::string& host) {
  auto address = IpAddress::Parse(host);
  return address.ok() && !address->is_v4() ? Family::kIPv6 : Family::kIPv4;
}

std::string Failed(const std::string& description, const error_code& error) {
  std::string text = description + " failed: " + error.message();
  if (std::string hint = FailureHint(error); !hint.empty()) text += "; " + hint;
  return text;
}

}  // namespace

// ---- TCP connect -------------------------------------------------------------------------------

TcpConnectProbe::TcpConnectProbe(asio::io_context& io, ScopedFd socket_fd, std::string host,
                                 std::uint16_t port, std::string from,
                                 std::chrono::milliseconds timeout)
    : io_(io),
      pending_fd_(std::move(socket_fd)),
      socket_(io),
      resolver_(io),
      host_(std::move(host)),
      port_(port),
      family_(FamilyOf(host_)),
      from_(std::move(from)),
      timeout_(timeout) {}

std::string TcpConnectProbe::Description() const {
  return "TCP connect to " + HostPort(host_, port_) + " " + from_;
}

std::string TcpConnectProbe::TimeoutHint() const {
  return std::string("no answer to the handshake: ") + kCheckMasquerade;
}

void TcpConnectProbe::Start(ProbeDone done) {
  lifecycle_.Begin(std::move(done));
  error_code error;
  const auto address = asio::ip::make_address(host_, error);
  if (!error) {
    // Connect from a fresh handler so `done` never runs inside Start.
    asio::post(io_, [self = shared_from_this(), address] {
      if (!self->lifecycle_.ended()) self->Connect(asio::ip::tcp::endpoint(address, self->port_));
    });
    return;
  }
  // Names resolve in the daemon's namespace (the pod's resolv.conf), as the targets were given.
  resolver_.async_resolve(
      asio::ip::tcp::v4(), host_, std::to_string(port_),
      [self = shared_from_this()](const error_code& resolve_error,
                                  asio::ip::tcp::resolver::results_type results) {
        if (self->lifecycle_.ended()) return;
        if (resolve_error || results.empty()) {
          self->Finish({Outcome::kFailed,
                        self->Description() + " failed: resolving " + self->host_ +
                            " in the daemon's namespace: " +
                            (resolve_error ? resolve_error.message() : "no IPv4 address"),
                        std::nullopt});
          return;
        }
        self->Connect(*results.begin());
      });
}

void TcpConnectProbe::Connect(const asio::ip::tcp::endpoint& endpoint) {
  error_code error;
  socket_.assign(endpoint.protocol(), pending_fd_.get(), error);
  if (error) {
    Finish({Outcome::kFailed, Failed(Description(), error), std::nullopt});
    return;
  }
  pending_fd_.release();  // the asio socket owns it now
  socket_.async_connect(endpoint, [self = shared_from_this()](const error_code& connect_error) {
    if (self->lifecycle_.ended()) return;
    if (connect_error) {
      self->Finish({Outcome::kFailed, Failed(self->Description(), connect_error), std::nullopt});
      return;
    }
    self->Finish({Outcome::kPassed, self->Description() + " succeeded", std::nullopt});
  });
}

void TcpConnectProbe::Cancel() {
  resolver_.cancel();
  lifecycle_.Cancel([this] { Release(); });
}

void TcpConnectProbe::Finish(ProbeReport report) {
  report.family = family_;
  lifecycle_.Finish(std::move(report), [this] { Release(); });
}

void TcpConnectProbe::Release() {
  error_code ignored;
  socket_.close(ignored);
  pending_fd_.reset();
}

// ---- DNS over UDP ------------------------------------------------------------------------------

DnsProbe::DnsProbe(asio::io_context& io, ScopedFd socket_fd, asio::ip::udp::endpoint server,
                   DnsQuestion question, std::uint16_t id, std::string from,
                   std::chrono::milliseconds timeout)
    : io_(io),
      pending_fd_(std::move(socket_fd)),
      socket_(io),
      resend_timer_(io),
      server_(std::move(server)),
      question_(std::move(question)),
      id_(id),
      from_(std::move(from)),
      timeout_(timeout),
      reply_buffer_(4096) {}

std::string DnsProbe::Description() const {
  return "DNS query to " + HostPort(server_.address().to_string(), server_.port()) + " " + from_;
}

std::string DnsProbe::TimeoutHint() const {
  return std::string("no reply from the nameserver: ") + kCheckMasquerade;
}

void DnsProbe::Start(ProbeDone done) {
  lifecycle_.Begin(std::move(done));
  auto fail_later = [this](std::string detail) {
    asio::post(io_, [self = shared_from_this(), detail = std::move(detail)] {
      self->Finish({Outcome::kFailed, detail, std::nullopt});
    });
  };
  auto query = BuildDnsQuery(id_, question_);
  if (!query) return fail_later(Description() + " failed: " + query.error().Message());
  query_ = std::move(query).value();

  error_code error;
  socket_.assign(server_.protocol(), pending_fd_.get(), error);
  if (error) return fail_later(Failed(Description(), error));
  pending_fd_.release();
  // Connected, so the kernel drops datagrams from anyone else and reports ICMP errors to us.
  socket_.connect(server_, error);
  if (error) return fail_later(Failed(Description(), error));

  Receive();
  Send();
  resend_timer_.expires_after(timeout_ / 2);
  resend_timer_.async_wait([self = shared_from_this()](const error_code& timer_error) {
    if (!timer_error && !self->lifecycle_.ended()) self->Send();
  });
}

void DnsProbe::Send() {
  socket_.async_send(
      asio::buffer(query_), [self = shared_from_this()](const error_code& error, std::size_t) {
        if (self->lifecycle_.ended() || !error) return;
        self->Finish({Outcome::kFailed, Failed(self->Description(), error), std::nullopt});
      });
}

void DnsProbe::Receive() {
  socket_.async_receive(
      asio::buffer(reply_buffer_),
      [self = shared_from_this()](const error_code& error, std::size_t size) {
        if (self->lifecycle_.ended()) return;
        if (error) {
          // ECONNREFUSED here is the ICMP "port unreachable" for the query.
          self->Finish({Outcome::kFailed, Failed(self->Description(), error), std::nullopt});
          return;
        }
        auto reply =
            ParseDnsReply(std::span(self->reply_buffer_.data(), size), self->id_, self->question_);
        if (!reply) {
          // Not ours (a late reply to an earlier probe, or garbage): keep waiting for ours.
          log::Debug(self->Description() + ": ignoring a datagram: " + reply.error().Message());
          self->Receive();
          return;
        }
        std::string detail = self->Description() + " answered " + RcodeName(reply->rcode) +
                             " for " + self->question_.name;
        if (reply->answers > 0) detail += " with " + std::to_string(reply->answers) + " answers";
        self->Finish({Outcome::kPassed, detail, std::nullopt});
      });
}

void DnsProbe::Cancel() {
  lifecycle_.Cancel([this] { Release(); });
}

void DnsProbe::Finish(ProbeReport report) {
  report.family = server_.address().is_v6() ? Family::kIPv6 : Family::kIPv4;
  lifecycle_.Finish(std::move(report), [this] { Release(); });
}

void DnsProbe::Release() {
  resend_timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
  pending_fd_.reset();
}

}  // namespace dind::egress
