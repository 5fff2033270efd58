// SPDX-License-Identifier: Apache-2.0
#include "netcfg/netlink/wiring_executor.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <optional>
#include <span>

#include "netcfg/netlink/libnl_ptr.h"
#include "netcfg/netlink/link_events.h"
#include "netcfg/netlink/rtnl_builders.h"
#include "netcfg/netlink/rtnl_convert.h"

namespace dind::netcfg {

Result<ScopedFd> OpenRtnlSocket() {
  ScopedFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return Error::FromErrno("opening an rtnetlink socket");
  // Port 0: the kernel picks a free one, which libnl then reads back (nl_socket_set_fd).
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    return Error::FromErrno("binding an rtnetlink socket");
  }
  return fd;
}

struct WiringExecutor::Sockets {
  struct Side {
    LibnlPtr<nl_sock> socket;
    int netns_fd = -1;
  };
  std::array<Side, 3> sides;  // by NetnsSide

  Side& of(NetnsSide side) { return sides[static_cast<std::size_t>(side)]; }
  Result<nl_sock*> SocketOf(NetnsSide side) const {
    nl_sock* socket = sides[static_cast<std::size_t>(side)].socket.get();
    if (socket == nullptr) {
      return Error::Environment("no rtnetlink socket for the " + std::string(SideName(side)) +
                                " namespace");
    }
    return socket;
  }
};

namespace {

// The one error for a failed libnl call of a wiring step: libnl's text and errno, made a
// Permission error (with the caller's hint) when the kernel refused.
Error StepError(const WiringHints& hints, const std::string& what, int nl_error) {
  Error error = RtnlError(what, nl_error);
  if (error.errnum == EPERM || error.errnum == EACCES) {
    error.kind = ErrorKind::kPermission;
    error.hint = hints.permission;
  } else if (!hints.otherwise.empty()) {
    error.hint = hints.otherwise;
  }
  return error;
}

// The kernel's link `name` in `side`; nullptr when it does not exist.
Result<LibnlPtr<rtnl_link>> GetLink(const WiringExecutor::Sockets& sockets,
                                    const WiringHints& hints, NetnsSide side,
                                    const std::string& name) {
  auto socket = sockets.SocketOf(side);
  if (!socket) return socket.error();
  rtnl_link* raw = nullptr;
  const int error = rtnl_link_get_kernel(*socket, 0, name.c_str(), &raw);
  if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) return LibnlPtr<rtnl_link>();
  if (error < 0) {
    return StepError(hints, std::string(SideName(side)) + ": looking up link " + name, error);
  }
  return LibnlPtr<rtnl_link>(raw);
}

using std::chrono::milliseconds;
using std::chrono::steady_clock;

milliseconds Since(steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
}

// RTNLGRP_LINK on a side's socket for as long as it lives. Afterwards the notifications that
// queued up are read away, so the next libnl request of this socket gets its own answer first.
class LinkSubscription {
 public:
  explicit LinkSubscription(int fd) : fd_(fd) {}
  LinkSubscription(const LinkSubscription&) = delete;
  LinkSubscription& operator=(const LinkSubscription&) = delete;
  ~LinkSubscription() {
    if (!joined_) return;
    const int group = RTNLGRP_LINK;
    (void)::setsockopt(fd_, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &group, sizeof(group));
    std::array<char, 8192> sink;
    while (true) {
      const ssize_t got = ::recv(fd_, sink.data(), sink.size(), MSG_DONTWAIT);
      if (got < 0 && (errno == EINTR || errno == ENOBUFS)) continue;
      if (got <= 0) break;
    }
  }
  Status Join() {
    const int group = RTNLGRP_LINK;
    if (::setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0) {
      return Error::FromErrno("subscribing to the kernel's link events (RTNLGRP_LINK)");
    }
    joined_ = true;
    return OkStatus();
  }

 private:
  int fd_;
  bool joined_ = false;
};

Status SendQuery(int fd, const std::vector<std::byte>& query) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  while (::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
                  sizeof(kernel)) < 0) {
    if (errno != EINTR) return Error::FromErrno("asking the kernel for the link's state");
  }
  return OkStatus();
}

// One step sent through the socket of the side it belongs to.
class StepRunner {
 public:
  StepRunner(const WiringHints& hints, const WiringExecutor::Sockets& sockets,
             WiringExecutor& executor)
      : hints_(hints), sockets_(sockets), executor_(executor) {}

  Status operator()(const CreateVethPair& step) const {
    auto socket = sockets_.SocketOf(step.side);
    if (!socket) return socket.error();
    const int peer_netns_fd = sockets_.sides[static_cast<std::size_t>(step.peer_side)].netns_fd;
    if (peer_netns_fd < 0) {
      return Error::Environment(DescribeStep(step) + ": no descriptor of the peer's namespace");
    }
    auto veth = BuildVethPair(step.name, step.peer_name, peer_netns_fd, step.mtu);
    if (!veth) return Error::Environment("building a libnl veth object", ENOMEM);
    return Check(step, rtnl_link_add(*socket, veth.get(), NLM_F_CREATE | NLM_F_EXCL));
  }
  Status operator()(const SetLinkUp& step) const {
    return ChangeLink(step, step.side, step.link, BuildLinkUp());
  }
  Status operator()(const EnslaveToBridge& step) const {
    return ChangeLink(step, step.side, step.link, BuildEnslave(step.bridge_index));
  }
  Status operator()(const AddAddress& step) const {
    auto link = ExistingLink(step, step.side, step.link);
    if (!link) return link.error();
    auto address =
        BuildAddress(step.address, step.prefix_length, rtnl_link_get_ifindex(link->get()));
    if (!address) return address.error();
    if (step.no_dad) rtnl_addr_set_flags(address->get(), IFA_F_NODAD);
    return Check(step, rtnl_addr_add(*sockets_.SocketOf(step.side), address->get(),
                                     NLM_F_CREATE | NLM_F_EXCL));
  }
  Status operator()(const AddRoute& step) const {
    auto socket = sockets_.SocketOf(step.side);
    if (!socket) return socket.error();
    std::optional<int> device;
    if (!step.link.empty()) {
      auto link = ExistingLink(step, step.side, step.link);
      if (!link) return link.error();
      device = rtnl_link_get_ifindex(link->get());
    }
    auto route = BuildRoute(step.destination, step.gateway, device);
    if (!route) return route.error();
    return Check(step, rtnl_route_add(*socket, route->get(), NLM_F_CREATE | NLM_F_EXCL));
  }
  Status operator()(const AwaitOperUp& step) const {
    auto waited = executor_.AwaitOperUp(step.side, step.link, step.within);
    if (!waited) return waited.error();
    return OkStatus();
  }

 private:
  Result<LibnlPtr<rtnl_link>> ExistingLink(const WiringStep& step, NetnsSide side,
                                           const std::string& name) const {
    auto link = GetLink(sockets_, hints_, side, name);
    if (link && !*link) return Error::Environment(DescribeStep(step) + ": the link does not exist");
    return link;
  }
  Status ChangeLink(const WiringStep& step, NetnsSide side, const std::string& name,
                    LibnlPtr<rtnl_link> change) const {
    if (!change) return Error::Environment("building a libnl link change", ENOMEM);
    auto link = ExistingLink(step, side, name);
    if (!link) return link.error();
    return Check(step, rtnl_link_change(*sockets_.SocketOf(side), link->get(), change.get(), 0));
  }
  Status Check(const WiringStep& step, int nl_error) const {
    if (nl_error < 0) return StepError(hints_, DescribeStep(step), nl_error);
    return OkStatus();
  }

  const WiringHints& hints_;
  const WiringExecutor::Sockets& sockets_;
  WiringExecutor& executor_;
};

}  // namespace

WiringExecutor::WiringExecutor(WiringHints hints)
    : hints_(std::move(hints)), sockets_(std::make_unique<Sockets>()) {}
WiringExecutor::~WiringExecutor() = default;
WiringExecutor::WiringExecutor(WiringExecutor&&) noexcept = default;
WiringExecutor& WiringExecutor::operator=(WiringExecutor&&) noexcept = default;

Status WiringExecutor::AddNamespace(NetnsSide side, ScopedFd rtnl_socket, int netns_fd) {
  const std::string where = "the " + std::string(SideName(side)) + " namespace";
  LibnlPtr<nl_sock> socket(nl_socket_alloc());
  if (!socket) return Error::Environment("allocating a libnl netlink socket", ENOMEM);
  if (const int error = nl_socket_set_fd(socket.get(), NETLINK_ROUTE, rtnl_socket.get());
      error < 0) {
    return StepError(hints_, "taking over an rtnetlink socket in " + where, error);
  }
  rtnl_socket.release();  // libnl closes it with the socket
  // The buffers nl_connect would have set.
  if (const int error = nl_socket_set_buffer_size(socket.get(), 0, 0); error < 0) {
    return StepError(hints_, "sizing the rtnetlink socket in " + where, error);
  }
  sockets_->of(side) = {std::move(socket), netns_fd};
  return OkStatus();
}

Status WiringExecutor::Execute(const WiringPlan& plan) {
  for (const WiringStep& step : plan) DIND_RETURN_IF_ERROR(Execute(step));
  return OkStatus();
}

Status WiringExecutor::Execute(const WiringStep& step) {
  return std::visit(StepRunner(hints_, *sockets_, *this), step);
}

Result<std::optional<LinkInfo>> WiringExecutor::FindLink(NetnsSide side,
                                                         const std::string& name) const {
  auto link = GetLink(*sockets_, hints_, side, name);
  if (!link) return link.error();
  if (!*link) return std::optional<LinkInfo>();
  return std::optional<LinkInfo>(LinkFromRtnl(link->get()));
}

Result<bool> WiringExecutor::IsOperUp(NetnsSide side, const std::string& name) const {
  auto link = GetLink(*sockets_, hints_, side, name);
  if (!link) return link.error();
  if (!*link) {
    return Error::Environment(std::string(SideName(side)) + ": link " + name + " is gone");
  }
  return rtnl_link_get_operstate(link->get()) == IF_OPER_UP;
}

Result<std::chrono::milliseconds> WiringExecutor::AwaitOperUp(NetnsSide side,
                                                              const std::string& name,
                                                              milliseconds within) {
  const auto start = steady_clock::now();
  const auto deadline = start + within;
  const std::string where = std::string(SideName(side)) + ": ";
  auto socket = sockets_->SocketOf(side);
  if (!socket) return socket.error();
  const int fd = nl_socket_get_fd(*socket);
  const auto failed = [&](Error error) {
    return error.Wrap(where + "waiting for " + name + " to be operationally up");
  };

  LinkSubscription subscription(fd);
  if (Status joined = subscription.Join(); !joined) return failed(joined.error());
  OperUpWatch watch(name, 0);
  // (Re)starts the watch on a fresh query of the link's state.
  const auto ask = [&]() -> Status {
    const std::uint32_t seq = next_seq_++;
    watch = OperUpWatch(name, seq);
    return SendQuery(fd, BuildGetLinkByName(name, seq));
  };
  if (Status sent = ask(); !sent) return failed(sent.error());
  std::optional<LinkMessage> last_seen;
  std::vector<std::byte> buffer(64 * 1024);
  while (watch.state() == OperUpWatch::State::kWaiting) {
    const auto left = std::chrono::ceil<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) break;
    pollfd readable{fd, POLLIN, 0};
    const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return failed(Error::FromErrno("poll() on the socket"));
    if (ready <= 0) continue;
    while (watch.state() == OperUpWatch::State::kWaiting) {
      const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (got < 0 && errno == ENOBUFS) {
        // The kernel dropped notifications (the buffer overflowed): ask again.
        if (watch.last_seen()) last_seen = watch.last_seen();
        if (Status sent = ask(); !sent) return failed(sent.error());
        continue;
      }
      if (got < 0) return failed(Error::FromErrno("reading the kernel's link events"));
      auto messages = ParseLinkMessages(
          std::span<const std::byte>(buffer.data(), static_cast<std::size_t>(got)));
      if (!messages) return failed(messages.error());
      for (const LinkMessage& message : *messages) watch.Consume(message);
    }
  }
  const milliseconds waited = Since(start);
  if (watch.last_seen()) last_seen = watch.last_seen();
  switch (watch.state()) {
    case OperUpWatch::State::kUp:
      link_waits_.push_back({side, name, waited});
      return waited;
    case OperUpWatch::State::kGone:
      return Error::Environment(where + "link " + name + " is gone (" +
                                std::to_string(waited.count()) + " ms into waiting for it to " +
                                "be operationally up)");
    case OperUpWatch::State::kFailed:
      return Error::Environment(where + "asking the kernel for the state of " + name, watch.error(),
                                hints_.otherwise);
    case OperUpWatch::State::kWaiting:
      break;
  }
  return Error::Environment(
      where + name + " is still not up " + std::to_string(waited.count()) +
          " ms after it was set up (waited for the kernel's link events up to the deadline of " +
          std::to_string(within.count()) + " ms; last state reported: " +
          (last_seen ? DescribeLinkState(*last_seen) : std::string("none")) + ")",
      "check dmesg for why the kernel did not bring it up" +
          (hints_.otherwise.empty() ? "" : "; " + hints_.otherwise));
}

Result<std::vector<AddressInfo>> WiringExecutor::ReadAddresses(NetnsSide side) const {
  auto socket = sockets_->SocketOf(side);
  if (!socket) return socket.error();
  nl_cache* raw_cache = nullptr;
  if (const int error = rtnl_addr_alloc_cache(*socket, &raw_cache); error < 0) {
    return StepError(hints_, std::string(SideName(side)) + ": reading addresses through rtnetlink",
                     error);
  }
  LibnlPtr<nl_cache> cache(raw_cache);
  std::vector<AddressInfo> addresses;
  for (nl_object* object = nl_cache_get_first(cache.get()); object != nullptr;
       object = nl_cache_get_next(object)) {
    if (auto info = AddressFromRtnl(reinterpret_cast<rtnl_addr*>(object))) {
      addresses.push_back(*info);
    }
  }
  return addresses;
}

Status WiringExecutor::DeleteLink(NetnsSide side, const std::string& name) {
  auto socket = sockets_->SocketOf(side);
  if (!socket) return socket.error();
  LibnlPtr<rtnl_link> link(rtnl_link_alloc());
  if (!link) return Error::Environment("building a libnl link object", ENOMEM);
  rtnl_link_set_name(link.get(), name.c_str());
  const int error = rtnl_link_delete(*socket, link.get());
  if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) return OkStatus();
  if (error < 0) {
    return StepError(hints_, std::string(SideName(side)) + ": deleting link " + name, error);
  }
  return OkStatus();
}

}  // namespace dind::netcfg
