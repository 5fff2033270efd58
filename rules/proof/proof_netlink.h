// SPDX-License-Identifier: Apache-2.0
// Carries out the proof plan's configuration steps through two rtnetlink sockets, one opened in
// each throwaway namespace. The libnl objects are built by the Build* functions, which never
// send anything, so unit tests check them without root; ProofNetlink only looks up interface
// indexes and sends.
#pragma once

#include "common/result.h"
#include "netcfg/netlink/libnl_ptr.h"
#include "rules/proof/proof_plan.h"

namespace dind::rules {

template <typename T>
using LibnlPtr = netcfg::LibnlPtr<T>;

// The veth pair of `step`, its peer bound for the namespace behind `peer_netns_fd`.
LibnlPtr<rtnl_link> BuildVethPair(const CreateVethPair& step, int peer_netns_fd);
// The change that brings a link up.
LibnlPtr<rtnl_link> BuildLinkUp();
// The address of `step` on the link with index `ifindex`.
Result<LibnlPtr<rtnl_addr>> BuildAddress(const AddAddress& step, int ifindex);
// A unicast route in the main table through `step.gateway`.
Result<LibnlPtr<rtnl_route>> BuildRoute(const AddRoute& step);

class ProofNetlink {
 public:
  // An rtnetlink socket in the calling thread's network namespace (it stays bound to that
  // namespace after the thread moves on).
  static Result<LibnlPtr<nl_sock>> Connect();

  // `outside_netns_fd` must stay open while steps run; it is not owned.
  ProofNetlink(LibnlPtr<nl_sock> pod, LibnlPtr<nl_sock> outside, int outside_netns_fd)
      : pod_(std::move(pod)), outside_(std::move(outside)), outside_netns_fd_(outside_netns_fd) {}

  Status Configure(const ProofStep& step);

 private:
  nl_sock* SocketOf(ProofSide side) const;
  Result<LibnlPtr<rtnl_link>> Link(ProofSide side, const std::string& name) const;
  Status Run(const CreateVethPair& step);
  Status Run(const SetLinkUp& step);
  Status Run(const AddAddress& step);
  Status Run(const AddRoute& step);
  Status Run(const AwaitOperUp& step);

  LibnlPtr<nl_sock> pod_;
  LibnlPtr<nl_sock> outside_;
  int outside_netns_fd_;
};

}  // namespace dind::rules
