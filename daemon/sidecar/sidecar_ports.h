// SPDX-License-Identifier: Apache-2.0
// The sidecar's seams to the world outside its event loop: the kernel's change notifications,
// dockerd's Engine API and the egress probes. They come in through the Sidecar's constructor
// (live_sidecar.h opens the real ones), so the loop's wiring (debounce, repair on notification,
// the MTU hand-off to the probe, readiness) is tested with the fakes of tests/mocks.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/docker/docker_api.h"
#include "daemon/docker/docker_client.h"
#include "daemon/egress/probe_attachment.h"
#include "daemon/egress/probe_factory.h"

namespace dind::sidecar {

// A notification socket the loop waits on (rtnetlink, nf_tables).
class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;
  // Non-blocking; the loop waits for it to become readable, then calls Drain.
  virtual int fd() const = 0;
  // Reads everything queued: true when it may have changed what the feed's reader watches.
  virtual Result<bool> Drain() = 0;
};

// dockerd's Engine API, as far as the sidecar follows it.
class DockerFeed {
 public:
  using NetworksCallback = std::function<void(Result<std::vector<docker::DockerNetwork>>)>;
  using InfoCallback = std::function<void(Result<docker::DockerInfo>)>;
  virtual ~DockerFeed() = default;
  // Where the API is read from, for /status ("/var/run/docker.sock").
  virtual std::string socket() const = 0;
  virtual void ListNetworks(NetworksCallback done) = 0;
  virtual void ReadInfo(InfoCallback done) = 0;
  // Follows the network events (resubscribing when the stream ends) until Stop.
  virtual void Watch(docker::WatchCallbacks callbacks) = 0;
  // No callback runs afterwards.
  virtual void Stop() = 0;
};

struct SidecarPorts {
  std::unique_ptr<ChangeFeed> network_changes;  // links, addresses and routes of the pod
  // nf_tables notifications, when the chosen backend is nft; null: ip_tables is polled.
  std::unique_ptr<ChangeFeed> rule_changes;
  std::unique_ptr<DockerFeed> docker;  // null: dockerd is not followed (--docker-socket "")
  // Both null with --no-probes.
  std::unique_ptr<egress::Attachment> probe_attachment;
  std::unique_ptr<egress::ProbeFactory> probe_factory;
};

}  // namespace dind::sidecar
