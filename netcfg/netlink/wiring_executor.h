// SPDX-License-Identifier: Apache-2.0
// Carries out a WiringPlan over rtnetlink (libnl-route), one socket per namespace side, and
// answers the few questions a caller asks around a plan (is the link there, is it up, which
// addresses). libnl stays inside the .cpp.
//
// The caller creates each side's socket inside that namespace (a socket keeps the namespace it
// was created in, wherever it is used later) and hands it over. How the caller gets into a
// namespace is its own business: the probe uses a short-lived thread per namespace, the proof a
// child process that unshares for good.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/scoped_fd.h"
#include "netcfg/netlink/snapshot.h"
#include "netcfg/netlink/wiring_plan.h"

namespace dind::netcfg {

// A NETLINK_ROUTE socket in the calling thread's network namespace, for AddNamespace.
Result<ScopedFd> OpenRtnlSocket();

// What the operator can do when a step fails, in the caller's terms.
struct WiringHints {
  std::string permission;  // for EPERM/EACCES (the error becomes kPermission)
  std::string otherwise;   // for other failures; empty keeps libnl's generic hint
};

// How long an AwaitOperUp step waited for its link, for the caller's report.
struct LinkWait {
  NetnsSide side;
  std::string link;
  std::chrono::milliseconds waited{0};
};

class WiringExecutor {
 public:
  explicit WiringExecutor(WiringHints hints);
  ~WiringExecutor();
  WiringExecutor(WiringExecutor&&) noexcept;
  WiringExecutor& operator=(WiringExecutor&&) noexcept;

  // Takes the socket for `side`'s steps: `rtnl_socket` from OpenRtnlSocket in that namespace.
  // `netns_fd` refers to the namespace, for veth peers created there (not owned; open while
  // steps run); -1 when no peer goes there.
  Status AddNamespace(NetnsSide side, ScopedFd rtnl_socket, int netns_fd = -1);

  // The steps in order; stops at the first that fails, naming it (DescribeStep).
  Status Execute(const WiringPlan& plan);
  Status Execute(const WiringStep& step);

  // The link `name` in `side`; nullopt when it does not exist.
  Result<std::optional<LinkInfo>> FindLink(NetnsSide side, const std::string& name) const;
  // Whether `name` in `side` is operationally up (carrier on: the kernel passes its packets);
  // an error when the link is gone.
  Result<bool> IsOperUp(NetnsSide side, const std::string& name) const;
  // Waits for the kernel to report `name` in `side` operationally up: subscribes that side's
  // socket to RTNLGRP_LINK, then asks for the link's state (so a change between the two is not
  // missed) and poll()s for its notifications until `within` has passed. Ok: how long it
  // waited. An Error when the link goes away, or when `within` passes, saying how long it
  // waited and the last state the kernel reported.
  Result<std::chrono::milliseconds> AwaitOperUp(NetnsSide side, const std::string& name,
                                                std::chrono::milliseconds within);
  // The waits of the AwaitOperUp steps carried out so far, in order.
  const std::vector<LinkWait>& link_waits() const { return link_waits_; }
  // Every IPv4 and IPv6 address in `side`.
  Result<std::vector<AddressInfo>> ReadAddresses(NetnsSide side) const;
  // Deletes `name` in `side` (a veth takes its peer along); Ok when it is absent.
  Status DeleteLink(NetnsSide side, const std::string& name);

  struct Sockets;  // libnl's sockets per side; opaque, defined in the .cpp

 private:
  WiringHints hints_;
  std::unique_ptr<Sockets> sockets_;
  std::vector<LinkWait> link_waits_;
  std::uint32_t next_seq_ = 0x64696e64;  // our own queries' numbers; libnl never sees replies
};

}  // namespace dind::netcfg
