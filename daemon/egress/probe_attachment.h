// SPDX-License-Identifier: Apache-2.0
// The probe namespace attached to the docker bridge (see attach_plan.h for the picture), kept
// in step with the bridge: attached when the bridge appears, attached again when it is deleted
// and made again or readdressed, detached when it goes.
//
// The probe namespace is created by a short-lived thread (unshare) and held only by a
// descriptor of this object, not bind-mounted under /run: when dind-netcfg exits or crashes,
// the kernel destroys the namespace, and with it the veth pair and the reserved address, so
// nothing is left on the bridge for anyone to clean up, and no mount propagation is needed in
// a container. The cost: `ip netns exec` cannot reach it (nsenter --net=/proc/PID/fd/N can).
//
// Each Ensure() is a few rtnetlink round trips (a short thread per namespace switch); it does
// not wait on the network. Not thread-safe: use it from the daemon's loop.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/cidr.h"
#include "common/result.h"
#include "daemon/egress/attach_kernel.h"
#include "daemon/egress/attach_plan.h"
#include "daemon/egress/docker_mtu_listener.h"
#include "daemon/egress/netns_thread.h"

namespace dind::egress {

// Where the probes stand once attached.
struct Vantage {
  BridgeFacts bridge;
  std::string host_link;      // "dnc-probe0", the port on the bridge
  IpAddress address;          // the reserved address, e.g. 172.17.255.254
  Cidr suggested_fixed_cidr;  // daemon.json "fixed-cidr" that keeps dockerd off `address`
  // The probe namespace, shared so a probe still holding this Vantage after a re-attach opens
  // its socket in the old (now unplugged) namespace rather than through a reused descriptor.
  std::shared_ptr<const ScopedFd> netns;
  // The reserved IPv6 address (fd00:db8:1::ffff:ffff:ffff:ffff) when the bridge has IPv6
  // (bridge.ipv6): only then can probes of IPv6 targets run.
  std::optional<IpAddress> address_v6;

  // Whether probes of `family` can run from here.
  bool Has(Family family) const { return family == Family::kIPv4 || address_v6.has_value(); }
  // "from the docker bridge (probe 172.17.255.254)", for probe messages; with kIPv6 the IPv6
  // address ("… (probe fd00:db8:1::ffff:ffff:ffff:ffff)"), when there is one.
  std::string From(Family family = Family::kIPv4) const;
};

struct AttachStatus {
  enum class State {
    kAttached,
    kSettling,  // attached, waiting (≤ a second) for the kernel to bring the veth's carrier up
    kNoBridge,  // dockerd has not made the bridge (or its address) yet: not an error
    kFailed,    // the bridge is there, but attaching to it failed
  };
  State state = State::kNoBridge;
  std::string reason;              // one line, for kNoBridge and kFailed
  std::optional<Vantage> vantage;  // for kAttached
};

// The seam the Prober uses; unit tests fake it. It follows the docker MTU (DockerMtuListener):
// the MTU dockerd gives containers' veths (daemon.json "mtu"), so the probe's packets are sized
// like theirs; the probe's veth gets it at the next attach. Until told, it takes the bridge's.
class Attachment : public DockerMtuListener {
 public:
  // Brings the attachment in line with the bridge as it is now and says where probes stand.
  virtual AttachStatus Ensure() = 0;
};

class ProbeAttachment final : public Attachment {
 public:
  // `bridge_name`: dockerd's bridge ("docker0"). `slot` numbers the veth (dnc-probe<slot>).
  ProbeAttachment(std::unique_ptr<AttachKernel> kernel, std::string bridge_name, int slot = 0);
  // Detaches; errors are logged.
  ~ProbeAttachment();
  ProbeAttachment(const ProbeAttachment&) = delete;
  ProbeAttachment& operator=(const ProbeAttachment&) = delete;

  // Looks at the bridge and attaches, re-attaches, detaches or keeps the attachment.
  AttachStatus Ensure() override;
  // Removes the veth (its peer goes along) and releases the probe namespace.
  Status Detach();

  void SetDockerMtu(Mtu mtu) override { docker_mtu_ = mtu; }
  const std::string& bridge_name() const { return bridge_name_; }
  const std::string& host_link() const { return host_link_; }

 private:
  AttachStatus Attach(const BridgeFacts& found);
  AttachStatus Attached();
  AttachStatus NoBridge(const BridgeLookup& lookup) const;

  std::unique_ptr<AttachKernel> kernel_;
  std::string bridge_name_;
  int slot_;
  std::string host_link_;
  std::optional<Vantage> vantage_;
  Mtu docker_mtu_ = 0;    // 0: not told yet, the bridge's MTU
  bool settled_ = false;  // both veth ends were seen operationally up
  std::chrono::steady_clock::time_point attached_at_;
};

}  // namespace dind::egress
