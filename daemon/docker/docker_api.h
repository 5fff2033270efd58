// SPDX-License-Identifier: Apache-2.0
// The pure half of the Docker Engine API client: the requests we send, and parsing what dockerd
// answers (the network list, the event stream, error bodies) into values. No I/O here; every
// function stays in bounds and returns an Error on any input, so fuzzers can drive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/mtu.h"
#include "common/result.h"

namespace dind::docker {

inline constexpr std::string_view kDefaultSocketPath = "/var/run/docker.sock";
// Network options dockerd keeps for bridge networks.
inline constexpr std::string_view kMtuOption = "com.docker.network.driver.mtu";
inline constexpr std::string_view kBridgeNameOption = "com.docker.network.bridge.name";

struct DockerNetwork {
  std::string id;
  std::string name;
  std::string driver;         // "bridge", "host", "null", "overlay", ...
  std::vector<Cidr> subnets;  // IPAM.Config[].Subnet
  // IPAM.Config[].Gateway, where dockerd reports one. dockerd 20.10 leaves it out for the
  // default bridge and for subnets given on `docker network create`: the bridge's own address
  // (netlink) is the authoritative gateway; it is not guessed here.
  std::vector<IpAddress> gateways;
  std::optional<Mtu> mtu;  // com.docker.network.driver.mtu, when set
  // The Linux bridge of a "bridge" network: the com.docker.network.bridge.name option, or the
  // "br-" + first 12 characters of the id that dockerd names it by default. Empty for others.
  std::string bridge_name;
  bool internal = false;  // no route out: nothing to masquerade
  bool enable_ipv6 = false;

  bool operator==(const DockerNetwork&) const = default;
};

// Parses the body of GET /networks. `source` says where it came from for error messages
// ("dockerd at /var/run/docker.sock"). Errors are kEnvironment: dockerd, or whatever answers
// on its socket, said something we cannot use.
Result<std::vector<DockerNetwork>> ParseNetworks(std::string_view json, std::string_view source);

// What GET /info says of dockerd's own packet filtering.
struct DockerInfo {
  std::string server_version;  // ServerVersion: "20.10.24+dfsg1", "29.0.1"
  // FirewallBackend.Driver (API >= 1.49, Docker 28.2 and later): "iptables", "nftables",
  // "iptables+firewalld"; nullopt from an older dockerd, which always calls iptables.
  std::optional<std::string> firewall_driver;
  // IPv4Forwarding: whether dockerd found net.ipv4.ip_forward on. With the iptables driver it
  // turns it on itself; the nftables driver (Docker 29) refuses to run without it.
  bool ipv4_forwarding = false;
  std::vector<std::string> warnings;  // Warnings: dockerd's own ("bridge-nf-call-iptables is…")

  bool operator==(const DockerInfo&) const = default;
};

// Parses the body of GET /info. Every field read is optional but for it being an object;
// errors are kEnvironment, like ParseNetworks'.
Result<DockerInfo> ParseInfo(std::string_view json, std::string_view source);

enum class NetworkAction { kCreate, kDestroy, kConnect, kDisconnect, kOther };

// One entry of GET /events with Type "network".
struct NetworkEvent {
  NetworkAction action = NetworkAction::kOther;
  std::string action_text;   // as dockerd wrote it: "create", "destroy", "connect", ...
  std::string network_id;    // Actor.ID
  std::string network_name;  // Actor.Attributes.name
  std::string driver;        // Actor.Attributes.type
  std::string container_id;  // Actor.Attributes.container, for connect and disconnect
  std::int64_t time_nano = 0;

  bool operator==(const NetworkEvent&) const = default;
};

// Parses one object of the event stream. Events of other types, and network events without an
// actor id, are nullopt. Only text that is not a JSON object is an error.
Result<std::optional<NetworkEvent>> ParseEvent(std::string_view json, std::string_view source);

// The "message" of dockerd's JSON error body, or the start of the body when it has none.
std::string ErrorMessageOf(std::string_view body);

// Targets of the requests; `api_prefix` is "" (dockerd's own API version) or like "/v1.41".
std::string NetworksTarget(std::string_view api_prefix);
std::string InfoTarget(std::string_view api_prefix);
// Only network events: filters={"type":["network"]}, percent-encoded.
std::string EventsTarget(std::string_view api_prefix);
// An HTTP/1.1 GET for `target` over the unix socket.
std::string BuildGetRequest(std::string_view target);

// Splits the body of the event stream into top-level JSON objects. dockerd writes one object
// per event, but the chunks of the HTTP stream may cut an object anywhere, join several, or
// split a multi-byte character; the splitter only ever hands out whole objects.
class JsonObjectSplitter {
 public:
  explicit JsonObjectSplitter(std::size_t max_object_bytes = 1024 * 1024)
      : max_object_bytes_(max_object_bytes) {}

  // Appends `bytes` and returns the objects completed by them, in order. Whitespace between
  // objects is skipped. Anything else between objects, a bracket closed by the wrong kind, or
  // an object longer than the limit, is an error; after one, the splitter must be Reset before
  // it is fed again.
  Result<std::vector<std::string>> Feed(std::string_view bytes);
  void Reset();
  // True while part of an object is buffered.
  bool mid_object() const { return !closers_.empty(); }

 private:
  std::size_t max_object_bytes_;
  std::string current_;
  std::string closers_;  // the closing bracket of each open one, innermost last
  bool in_string_ = false;
  bool escaped_ = false;
};

}  // namespace dind::docker
