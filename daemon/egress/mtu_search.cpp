// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/mtu_search.h"

#include <algorithm>
#include <bit>

namespace dind::egress {

MtuSearch::MtuSearch(MtuSearchConfig config)
    : config_(config),
      floor_(std::min(config.floor, config.docker_mtu)),
      current_(config.docker_mtu) {
  config_.attempts = std::max(1, config_.attempts);
}

std::optional<Mtu> MtuSearch::NextSize() const {
  if (verdict_) return std::nullopt;
  return current_;
}

void MtuSearch::Record(Mtu size, const EchoResult& result) {
  if (verdict_ || size != current_) return;
  switch (result.kind) {
    case EchoResult::Kind::kReplied:
      Settle(size, true);
      return;
    case EchoResult::Kind::kFragmentationNeeded:
      // A router's word is definite: no second try. A reported MTU outside (floor, size) is
      // nonsense and left to the search.
      if (result.reported_mtu > floor_ && result.reported_mtu < size) {
        reported_mtu_ = result.reported_mtu;
      }
      Settle(size, false);
      return;
    case EchoResult::Kind::kLost:
      if (++tries_ < config_.attempts) return;
      Settle(size, false);
      return;
  }
}

void MtuSearch::Settle(Mtu size, bool passed) {
  tries_ = 0;
  if (passed) {
    largest_passed_ = std::max(largest_passed_, size);
  } else {
    smallest_failed_ = smallest_failed_ == 0 ? size : std::min(smallest_failed_, size);
  }

  if (passed && size == config_.docker_mtu) return Finish(MtuVerdict::Kind::kFits, size);
  if (passed && size == reported_mtu_) return Finish(MtuVerdict::Kind::kDiscoveryWorks, size);
  if (largest_passed_ == 0) {
    if (smallest_failed_ <= floor_) return Finish(MtuVerdict::Kind::kUnanswered, 0);
    current_ = floor_;
    return;
  }
  if (!reported_checked_ && reported_mtu_ > largest_passed_ && reported_mtu_ < smallest_failed_) {
    reported_checked_ = true;
    current_ = reported_mtu_;
    return;
  }
  if (smallest_failed_ <= largest_passed_ + 1) {
    return Finish(reported_mtu_ == largest_passed_ ? MtuVerdict::Kind::kDiscoveryWorks
                                                   : MtuVerdict::Kind::kBlackHole,
                  largest_passed_);
  }
  current_ = largest_passed_ + (smallest_failed_ - largest_passed_) / 2;
}

void MtuSearch::Finish(MtuVerdict::Kind kind, Mtu path_mtu) {
  verdict_ = MtuVerdict{kind, config_.docker_mtu, path_mtu, reported_mtu_, floor_};
}

MtuVerdict MtuSearch::Verdict() const {
  return verdict_.value_or(
      MtuVerdict{MtuVerdict::Kind::kUnanswered, config_.docker_mtu, 0, 0, floor_});
}

int MtuSearch::MaxEchoes() const {
  const Mtu span = std::max<Mtu>(1, config_.docker_mtu - floor_);  // floor_ <= docker_mtu
  const int halvings = std::bit_width(span);
  // docker MTU, floor, the reported MTU, then the halvings.
  return config_.attempts * (3 + halvings);
}

std::string DescribeMtuVerdict(const MtuVerdict& verdict, const std::string& target,
                               const std::string& from, Family family) {
  const bool v4 = family == Family::kIPv4;
  const std::string head =
      (v4 ? "ICMP" : "ICMPv6") + std::string(" echo to ") + target + " " + from + ": ";
  // IPv6 has no DF bit: its packets are never fragmented on the way.
  const std::string unfragmented = v4 ? "-byte packets with DF set" : "-byte IPv6 packets";
  const std::string too_big = v4 ? "ICMP fragmentation-needed" : "ICMPv6 Packet Too Big";
  const std::string docker = std::to_string(verdict.docker_mtu);
  const std::string path = std::to_string(verdict.path_mtu);
  switch (verdict.kind) {
    case MtuVerdict::Kind::kFits:
      return head + docker + unfragmented + " get through (docker MTU " + docker + ")";
    case MtuVerdict::Kind::kDiscoveryWorks:
      return head + "the path MTU is " + path + ", below the docker MTU " + docker +
             "; routers report it (" + too_big +
             " arrives), so TCP adapts, at the "
             "cost of a retransmit per connection: consider dind-netcfg init --mtu " +
             path + " and restarting dockerd";
    case MtuVerdict::Kind::kBlackHole: {
      std::string text = head + "MTU black hole: " + docker + unfragmented + " vanish without an " +
                         too_big + "; the largest that gets through is " + path + " bytes";
      if (verdict.reported_mtu != 0) {
        text += " (a router reported " + std::to_string(verdict.reported_mtu) +
                ", yet that size vanished further on)";
      }
      return text +
             ". Nested containers' large packets (TLS handshakes, downloads) will stall: run "
             "dind-netcfg init --mtu " +
             path + " and restart dockerd, or let the path's routers send " +
             (v4 ? "ICMP" : "ICMPv6 (Packet Too Big must never be filtered)");
    }
    case MtuVerdict::Kind::kUnanswered:
      return head + "no answer even to " + std::to_string(verdict.floor) +
             "-byte packets, so the path MTU was not measured; the target may not answer "
             "ping (Kubernetes service IPs often do not): pass --probe-mtu-target with a host "
             "that does";
  }
  return head;
}

}  // namespace dind::egress
