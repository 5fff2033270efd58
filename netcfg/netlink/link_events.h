// SPDX-License-Identifier: Apache-2.0
// Waiting for a link to come up on the kernel's word: the rtnetlink messages involved, built and
// read as plain bytes (unit-tested without a kernel), and the watch that decides from them.
// WiringExecutor (wiring_executor.h) does the sending, the subscribing and the poll().
//
//   subscribe to RTNLGRP_LINK, then send BuildGetLinkByName(name, seq): the answer gives the
//   state after the subscription, and every change after it arrives as an RTM_NEWLINK
//   notification, so no change falls between the two. Feed every message to OperUpWatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace dind::netcfg {

// An RTM_GETLINK request for the link called `name` (IFLA_IFNAME), with sequence number `seq`.
std::vector<std::byte> BuildGetLinkByName(const std::string& name, std::uint32_t seq);

// One rtnetlink message, as far as waiting for a link needs it.
struct LinkMessage {
  enum class Kind { kNewLink, kDelLink, kError, kOther };
  Kind kind = Kind::kOther;
  std::uint32_t seq = 0;  // 0 for notifications
  int error = 0;          // kError: the positive errno, 0 for an acknowledgement
  int index = 0;
  std::string name;                       // IFLA_IFNAME
  unsigned flags = 0;                     // ifi_flags (IFF_UP, IFF_LOWER_UP, …)
  std::optional<std::uint8_t> operstate;  // IFLA_OPERSTATE (IF_OPER_UP = 6)
};

// Every message in one datagram the socket received; an Error when one is cut short.
Result<std::vector<LinkMessage>> ParseLinkMessages(std::span<const std::byte> datagram);

// Operationally up, as IsOperUp judges it: IFLA_OPERSTATE is IF_OPER_UP (without the attribute,
// which every kernel since 2.6.17 sends: IFF_UP and IFF_RUNNING).
bool IsOperUp(const LinkMessage& link);

// "down (flags up, no carrier)": how an error names the last state seen.
std::string DescribeLinkState(const LinkMessage& link);

// Decides, message by message, whether the link `name` is up, gone, or the query failed.
class OperUpWatch {
 public:
  enum class State { kWaiting, kUp, kGone, kFailed };

  // `query_seq`: the sequence number of the BuildGetLinkByName request sent for it.
  OperUpWatch(std::string name, std::uint32_t query_seq);

  State Consume(const LinkMessage& message);
  State state() const { return state_; }
  // What the last message about the link said; nullopt before the first.
  const std::optional<LinkMessage>& last_seen() const { return last_seen_; }
  // For kFailed: the errno the kernel answered the query with.
  int error() const { return error_; }

 private:
  std::string name_;
  std::uint32_t query_seq_;
  int index_ = 0;  // learnt from the first message about the link
  State state_ = State::kWaiting;
  std::optional<LinkMessage> last_seen_;
  int error_ = 0;
};

}  // namespace dind::netcfg
