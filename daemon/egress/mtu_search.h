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

namespace dind::egress {

struct EchoResult {
  enum class Kind {
    kReplied,              // the echo reply came back
    kLost,                 // nothing came back before the echo timeout
    kFragmentationNeeded,  // a router answered "fragmentation needed" (PMTU discovery works)
  };
  Kind kind = Kind::kLost;
  int reported_mtu = 0;  // the router's next-hop MTU, for kFragmentationNeeded
};

// IPv4's minimum reassembly size and IPv6's minimum link MTU: every path carries them.
inline constexpr int kIpv4MtuFloor = 576;
inline constexpr int kIpv6MtuFloor = 1280;

struct MtuSearchConfig {
  int docker_mtu = 1500;      // the probe veth's MTU: what nested containers send
  int floor = kIpv4MtuFloor;  // kIpv6MtuFloor for IPv6
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
  int docker_mtu = 0;
  int path_mtu = 0;      // largest size that got through; 0 for kUnanswered
  int reported_mtu = 0;  // next-hop MTU a router reported, 0 when none did
  int floor = 0;         // the smallest size tried
};

class MtuSearch {
 public:
  explicit MtuSearch(MtuSearchConfig config);

  // The next IPv4 packet size to send, nullopt once the verdict is known.
  std::optional<int> NextSize() const;
  // What became of the echo of `size` (must be the size NextSize returned).
  void Record(int size, const EchoResult& result);
  // Valid once NextSize() returns nullopt.
  MtuVerdict Verdict() const;
  // Upper bound of echoes a whole search sends, to size the probe's overall timeout.
  int MaxEchoes() const;

 private:
  void Settle(int size, bool passed);
  void Finish(MtuVerdict::Kind kind, int path_mtu);

  MtuSearchConfig config_;
  int floor_;
  int largest_passed_ = 0;   // 0: none yet
  int smallest_failed_ = 0;  // 0: none yet
  int current_ = 0;
  int tries_ = 0;
  int reported_mtu_ = 0;
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
