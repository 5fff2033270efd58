// SPDX-License-Identifier: Apache-2.0
#include "rules/proof/proof_netlink.h"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <type_traits>

#include "netcfg/netlink/rtnl_builders.h"
#include "netcfg/netlink/rtnl_convert.h"

namespace dind::rules {
namespace {

// libnl's error for a proof step; EPERM means the process lacks CAP_NET_ADMIN over the
// throwaway namespaces, which is worth saying plainly.
Error StepError(const std::string& what, int nl_error) {
  Error error = netcfg::RtnlError(what, nl_error);
  if (error.errnum == EPERM || error.errnum == EACCES) {
    error.kind = ErrorKind::kPermission;
    error.hint =
        "the proof by traffic needs CAP_NET_ADMIN to build its throwaway namespaces; "
        "grant it or choose the backend by hand with --backend legacy|nft";
  } else {
    error.hint =
        "the proof could not build its throwaway namespaces; choose the backend by "
        "hand with --backend legacy|nft";
  }
  return error;
}

}  // namespace

LibnlPtr<rtnl_link> BuildVethPair(const CreateVethPair& step, int peer_netns_fd) {
  return netcfg::BuildVethPair(step.name, step.peer_name, peer_netns_fd);
}

LibnlPtr<rtnl_link> BuildLinkUp() {
  return netcfg::BuildLinkUp();
}

Result<LibnlPtr<rtnl_addr>> BuildAddress(const AddAddress& step, int ifindex) {
  return netcfg::BuildAddress(step.address, step.prefix_length, ifindex);
}

Result<LibnlPtr<rtnl_route>> BuildRoute(const AddRoute& step) {
  return netcfg::BuildRoute(step.destination, step.gateway);
}

Result<LibnlPtr<nl_sock>> ProofNetlink::Connect() {
  LibnlPtr<nl_sock> socket(nl_socket_alloc());
  if (!socket) return Error::Environment("allocating a libnl netlink socket", ENOMEM);
  if (const int error = nl_connect(socket.get(), NETLINK_ROUTE); error < 0) {
    return StepError("opening an rtnetlink socket in a throwaway namespace", error);
  }
  return socket;
}

nl_sock* ProofNetlink::SocketOf(ProofSide side) const {
  return side == ProofSide::kPod ? pod_.get() : outside_.get();
}

Result<LibnlPtr<rtnl_link>> ProofNetlink::Link(ProofSide side, const std::string& name) const {
  rtnl_link* raw = nullptr;
  if (const int error = rtnl_link_get_kernel(SocketOf(side), 0, name.c_str(), &raw); error < 0) {
    return StepError(std::string(SideName(side)) + ": looking up link " + name, error);
  }
  return LibnlPtr<rtnl_link>(raw);
}

Status ProofNetlink::Configure(const ProofStep& step) {
  return std::visit([this](const auto& s) { return Run(s); }, step);
}

Status ProofNetlink::Run(const CreateVethPair& step) {
  auto pair = BuildVethPair(step, outside_netns_fd_);
  if (!pair) return Error::Environment("building a libnl veth object", ENOMEM);
  if (const int error = rtnl_link_add(pod_.get(), pair.get(), NLM_F_CREATE | NLM_F_EXCL);
      error < 0) {
    return StepError(DescribeStep(step), error);
  }
  return OkStatus();
}

Status ProofNetlink::Run(const SetLinkUp& step) {
  auto link = Link(step.side, step.link);
  if (!link.ok()) return link.error();
  auto change = BuildLinkUp();
  if (!change) return Error::Environment("building a libnl link change", ENOMEM);
  if (const int error = rtnl_link_change(SocketOf(step.side), link->get(), change.get(), 0);
      error < 0) {
    return StepError(DescribeStep(step), error);
  }
  return OkStatus();
}

Status ProofNetlink::Run(const AddAddress& step) {
  auto link = Link(step.side, step.link);
  if (!link.ok()) return link.error();
  auto address = BuildAddress(step, rtnl_link_get_ifindex(link->get()));
  if (!address.ok()) return address.error();
  if (const int error = rtnl_addr_add(SocketOf(step.side), address->get(), NLM_F_EXCL); error < 0) {
    return StepError(DescribeStep(step), error);
  }
  return OkStatus();
}

Status ProofNetlink::Run(const AddRoute& step) {
  auto route = BuildRoute(step);
  if (!route.ok()) return route.error();
  if (const int error = rtnl_route_add(SocketOf(step.side), route->get(), NLM_F_EXCL); error < 0) {
    return StepError(DescribeStep(step), error);
  }
  return OkStatus();
}

Status ProofNetlink::Run(const AwaitOperUp& step) {
  const auto deadline = std::chrono::steady_clock::now() + step.within;
  while (true) {
    auto link = Link(step.side, step.link);
    if (!link.ok()) return link.error();
    const std::uint8_t state = rtnl_link_get_operstate(link->get());
    if (state == IF_OPER_UP) return OkStatus();
    if (std::chrono::steady_clock::now() >= deadline) {
      char name[32];
      return Error::Environment(
          std::string(SideName(step.side)) + ": " + step.link + " is still " +
              rtnl_link_operstate2str(state, name, sizeof(name)) + " " +
              std::to_string(step.within.count()) + " ms after it was set up",
          "the kernel did not bring the proof's veth pair up; check dmesg, or choose the "
          "backend by hand with --backend legacy|nft");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace dind::rules
