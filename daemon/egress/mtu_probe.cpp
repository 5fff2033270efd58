// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/mtu_probe.h"

// clang-format off
#include <time.h>  // before linux/errqueue.h, which needs struct timespec
#include <linux/errqueue.h>
// clang-format on
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <span>

#include "common/log.h"
#include "daemon/egress/icmp_echo.h"

namespace dind::egress {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

Status SetIntOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return Error::FromErrno(std::string("path-MTU probe: setting ") + what +
                            " on the raw ICMP socket");
  }
  return OkStatus();
}

// The IPv4 socket options; connected to `target`.
Status SetUpIpv4(int fd, const IpAddress& target) {
  // PROBE sets DF but sends at the interface MTU even after the kernel learned a smaller path
  // MTU, so every size asks the path itself.
  DIND_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE,
                                    "IP_MTU_DISCOVER=IP_PMTUDISC_PROBE"));
  DIND_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IP, IP_RECVERR, 1, "IP_RECVERR"));
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  std::memcpy(&peer.sin_addr, target.bytes().data(), 4);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof(peer)) != 0) {
    return Error::FromErrno("path-MTU probe: connecting the raw ICMP socket to " +
                            target.ToString());
  }
  return OkStatus();
}

// The IPv6 counterparts; connected to `target`.
Status SetUpIpv6(int fd, const IpAddress& target) {
  // As for IPv4: never fragment locally, and size by the interface, not a learned path MTU.
  DIND_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE,
                                    "IPV6_MTU_DISCOVER=IPV6_PMTUDISC_PROBE"));
  DIND_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR"));
  // A raw ICMPv6 socket sees neighbour discovery and every other ICMPv6 message too; only echo
  // replies are read. Errors (Packet Too Big) come through the error queue regardless.
  icmp6_filter filter{};
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
  if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) != 0) {
    return Error::FromErrno("path-MTU probe: setting ICMP6_FILTER on the raw ICMPv6 socket");
  }
  sockaddr_in6 peer{};
  peer.sin6_family = AF_INET6;
  std::memcpy(&peer.sin6_addr, target.bytes().data(), 16);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof(peer)) != 0) {
    return Error::FromErrno("path-MTU probe: connecting the raw ICMPv6 socket to " +
                            target.ToString());
  }
  return OkStatus();
}

Family FamilyOf(const std::string& address) {
  auto parsed = IpAddress::Parse(address);
  return parsed.ok() ? parsed->family() : Family::kIPv4;
}

std::uint16_t Get16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

}  // namespace

// ---- RawEchoSender -----------------------------------------------------------------------------

Result<std::shared_ptr<RawEchoSender>> RawEchoSender::Create(asio::io_context& io, ScopedFd raw_fd,
                                                             const IpAddress& target,
                                                             std::uint16_t id,
                                                             std::chrono::milliseconds timeout) {
  const int fd = raw_fd.get();
  DIND_RETURN_IF_ERROR(target.is_v4() ? SetUpIpv4(fd, target) : SetUpIpv6(fd, target));
  auto sender = std::make_shared<RawEchoSender>(io, target.family(), id, timeout);
  error_code error;
  sender->socket_.assign(target.is_v4() ? asio::ip::icmp::v4() : asio::ip::icmp::v6(), fd, error);
  if (error)
    return Error::Environment("path-MTU probe: adopting the raw ICMP socket", error.value());
  raw_fd.release();
  return sender;
}

RawEchoSender::RawEchoSender(asio::io_context& io, Family family, std::uint16_t id,
                             std::chrono::milliseconds echo_timeout)
    : io_(io), family_(family), socket_(io), timer_(io), id_(id), echo_timeout_(echo_timeout) {}

void RawEchoSender::Send(Mtu packet_size, std::function<void(EchoResult)> done) {
  if (cancelled_) return;
  const std::uint16_t sequence = ++sequence_;
  pending_ = std::move(done);
  const auto size = static_cast<std::size_t>(packet_size);
  const auto request = family_ == Family::kIPv4 ? BuildEchoRequest(id_, sequence, size)
                                                : BuildEcho6Request(id_, sequence, size);
  error_code error;
  socket_.send(asio::buffer(request), 0, error);
  if (error) {
    // An ICMP error for an earlier echo is reported on the next call that checks the socket,
    // which may be this send: the error is consumed by then, so one retry tells them apart.
    socket_.send(asio::buffer(request), 0, error);
  }
  if (error) {
    log::Debug("path-MTU probe: sending a " + std::to_string(packet_size) +
               "-byte echo failed: " + error.message());
    asio::post(io_, [self = shared_from_this(), sequence] {
      self->Complete(sequence, {EchoResult::Kind::kLost, 0});
    });
    return;
  }
  timer_.expires_after(echo_timeout_);
  timer_.async_wait([self = shared_from_this(), sequence](const error_code& timer_error) {
    if (timer_error || self->cancelled_ || sequence != self->sequence_) return;
    // Late ICMP errors are still in the queue: a router's answer beats "lost".
    if (auto mtu = self->DrainErrors()) {
      self->Complete(sequence, {EchoResult::Kind::kFragmentationNeeded, *mtu});
    } else {
      self->Complete(sequence, {EchoResult::Kind::kLost, 0});
    }
  });
  if (!receiving_) Receive();
}

void RawEchoSender::Receive() {
  receiving_ = true;
  socket_.async_receive(
      asio::buffer(buffer_), [self = shared_from_this()](const error_code& error, std::size_t n) {
        self->receiving_ = false;
        if (self->cancelled_ || error == asio::error::operation_aborted) return;
        const std::uint16_t sequence = self->sequence_;
        if (error) {
          // IP_RECVERR reports an ICMP error for our echo as a socket error; the details wait in
          // the error queue.
          if (auto mtu = self->DrainErrors()) {
            self->Complete(sequence, {EchoResult::Kind::kFragmentationNeeded, *mtu});
          }
        } else if (const auto reply = std::span(self->buffer_.data(), n);
                   self->family_ == Family::kIPv4 ? MatchEchoReply(reply, self->id_, sequence)
                                                  : MatchEcho6Reply(reply, self->id_, sequence)) {
          self->Complete(sequence, {EchoResult::Kind::kReplied, 0});
        }
        // Completing may have sent the next echo, which starts a receive of its own.
        if (!self->receiving_ && !self->cancelled_) self->Receive();
      });
}

std::optional<Mtu> RawEchoSender::DrainErrors() {
  const int fd = socket_.native_handle();
  std::optional<Mtu> mtu;
  while (true) {
    std::array<std::uint8_t, 64> original{};  // the start of the echo that caused the error
    alignas(cmsghdr) std::array<char, 512> control{};
    iovec io_vector{original.data(), original.size()};
    msghdr message{};
    message.msg_iov = &io_vector;
    message.msg_iovlen = 1;
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    const ssize_t received = ::recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (received < 0) break;
    // The error is about our echo when the returned ICMP header carries our id and sequence.
    const auto icmp = std::span(original.data(), static_cast<std::size_t>(received));
    const bool ours =
        icmp.size() >= kIcmpHeaderSize && Get16(icmp, 4) == id_ && Get16(icmp, 6) == sequence_;
    const bool v4 = family_ == Family::kIPv4;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level != (v4 ? SOL_IP : SOL_IPV6) ||
          c->cmsg_type != (v4 ? IP_RECVERR : IPV6_RECVERR)) {
        continue;
      }
      sock_extended_err extended{};
      std::memcpy(&extended, CMSG_DATA(c), sizeof(extended));
      const auto reported = v4 ? FragmentationNeededMtu(extended) : PacketTooBigMtu(extended);
      if (reported && ours) mtu = reported;
    }
  }
  // Clear a pending socket error so it cannot fail the next send or receive.
  int ignored = 0;
  socklen_t length = sizeof(ignored);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &ignored, &length);
  return mtu;
}

void RawEchoSender::Complete(std::uint16_t sequence, EchoResult result) {
  if (cancelled_ || sequence != sequence_ || !pending_) return;
  timer_.cancel();
  auto done = std::move(pending_);
  pending_ = nullptr;
  done(result);
}

void RawEchoSender::Cancel() {
  cancelled_ = true;
  pending_ = nullptr;
  timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
}

// ---- PathMtuProbe ------------------------------------------------------------------------------

PathMtuProbe::PathMtuProbe(asio::io_context& io, std::shared_ptr<EchoSender> sender,
                           MtuSearchConfig config, std::string target, std::string from,
                           std::chrono::milliseconds echo_timeout)
    : io_(io),
      sender_(std::move(sender)),
      search_(config),
      target_(std::move(target)),
      family_(FamilyOf(target_)),
      from_(std::move(from)),
      echo_timeout_(echo_timeout) {}

std::string PathMtuProbe::Description() const {
  return std::string(family_ == Family::kIPv4 ? "ICMP" : "ICMPv6") + " echo to " + target_ + " " +
         from_;
}

std::chrono::milliseconds PathMtuProbe::Timeout() const {
  return echo_timeout_ * search_.MaxEchoes() + std::chrono::seconds(1);
}

void PathMtuProbe::Start(ProbeDone done) {
  lifecycle_.Begin(std::move(done));
  asio::post(io_, [self = shared_from_this()] { self->Next(); });
}

void PathMtuProbe::Next() {
  if (lifecycle_.ended()) return;
  const std::optional<Mtu> size = search_.NextSize();
  if (size) {
    sender_->Send(*size, [self = shared_from_this(), size = *size](EchoResult result) {
      if (self->lifecycle_.ended()) return;
      self->search_.Record(size, result);
      self->Next();
    });
    return;
  }
  const MtuVerdict verdict = search_.Verdict();
  ProbeReport report;
  switch (verdict.kind) {
    case MtuVerdict::Kind::kFits:
    case MtuVerdict::Kind::kDiscoveryWorks:
      report.outcome = Outcome::kPassed;
      break;
    case MtuVerdict::Kind::kBlackHole:
      report.outcome = Outcome::kFailed;
      break;
    case MtuVerdict::Kind::kUnanswered:
      report.outcome = Outcome::kInconclusive;
      break;
  }
  report.detail = DescribeMtuVerdict(verdict, target_, from_, family_);
  if (verdict.path_mtu > 0) report.path_mtu = verdict.path_mtu;
  report.family = family_;
  lifecycle_.Finish(std::move(report), [this] { sender_->Cancel(); });
}

void PathMtuProbe::Cancel() {
  lifecycle_.Cancel([this] { sender_->Cancel(); });
}

}  // namespace dind::egress
