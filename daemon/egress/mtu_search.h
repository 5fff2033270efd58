// SPDX-License-Identifier: Apache-2.0
// The path-MTU probe's decisions, without a clock or a socket: which packet size to try next
// and what the answers mean. The driver (PathMtuProbe) sends ICMP echoes of the sizes this
// asks for and records what came back.
//
// Order: the docker MTU first (the only question when the path is fine); when it does not get
// through, the floor (a target that does not answer small echoes either says nothing about
// MTU); then, when a router reported a next-hop MTU, that size; else a binary search for the
// largest size that gets through. Each size is tried up to `attempts` times before it counts
// as lost, so one dropped packet does not halve the result.
#pragma once

#include <optional>
#include <string>

#include "common/cidr.h"
#include "common/mtu.h"

namespace dind::egress {

struct EchoResult {
  enum class Kind {
    kReplied,              // the echo reply came back
    kLost,                 // nothing came back before the echo timeout
    kFragmentationNeeded,  // a router answered "fragmentation needed" (PMTU discovery works)
  };
  Kind kind = Kind::kLost;
  Mtu reported_mtu = 0;  // the router's next-hop MTU, for kFragmentationNeeded
};

// IPv4's minimum reassembly size and IPv6's minimum link MTU: every path carries them.
inline constexpr Mtu kIpv4MtuFloor = kIpv4MinimumReassembly;
inline constexpr Mtu kIpv6MtuFloor = kIpv6MinimumMtu;

struct MtuSearchConfig {
  Mtu docker_mtu = kDockerDefaultMtu;  // the probe veth's MTU: what nested containers send
  Mtu floor = kIpv4MtuFloor;           // kIpv6MtuFloor for IPv6
  int attempts = 2;
};

struct MtuVerdict {
  enum class Kind {
    kFits,            // docker-MTU packets with DF get through
    kDiscoveryWorks,  // the path MTU is lower, but routers say so: TCP adapts
    kBlackHole,       // the path MTU is lower and nobody says so: large packets vanish
    kUnanswered,      // not even floor-sized echoes are answered: MTU not measured
  };
  Kind kind = Kind::kUnanswered;
  Mtu docker_mtu = 0;
  Mtu path_mtu = 0;      // largest size that got through; 0 for kUnanswered
  Mtu reported_mtu = 0;  // next-hop MTU a router reported, 0 when none did
  Mtu floor = 0;         // the smallest size tried
};

class MtuSearch {
 public:
  explicit MtuSearch(MtuSearchConfig config);

  // The next IPv4 packet size to send, nullopt once the verdict is known.
  std::optional<Mtu> NextSize() const;
  // What became of the echo of `size` (must be the size NextSize returned).
  void Record(Mtu size, const EchoResult& result);
  // Valid once NextSize() returns nullopt.
  MtuVerdict Verdict() const;
  // Upper bound of echoes a whole search sends, to size the probe's overall timeout.
  int MaxEchoes() const;

 private:
  void Settle(Mtu size, bool passed);
  void Finish(MtuVerdict::Kind kind, Mtu path_mtu);

  MtuSearchConfig config_;
  Mtu floor_;
  Mtu largest_passed_ = 0;   // 0: none yet
  Mtu smallest_failed_ = 0;  // 0: none yet
  Mtu current_ = 0;
  int tries_ = 0;
  Mtu reported_mtu_ = 0;
  bool reported_checked_ = false;
  std::optional<MtuVerdict> verdict_;
};

// One line for operators, e.g. "ICMP echo to 10.0.0.5 from the docker bridge (probe
// 172.17.255.254): MTU black hole: 1500-byte packets with DF set vanish without an ICMP
// fragmentation-needed; the path MTU is 1400 …". `from` names the probe's vantage point. For
// IPv6 it speaks of ICMPv6 echoes and "Packet Too Big".
std::string DescribeMtuVerdict(const MtuVerdict& verdict, const std::string& target,
                               const std::string& from, Family family = Family::kIPv4);

}  // namespace dind::egress
