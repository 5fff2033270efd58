// SPDX-License-Identifier: Apache-2.0
#include "netcfg/netlink/link_events.h"

#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace dind::netcfg {
namespace {

// Copies `value` into `out` at `offset`; the offset after it, aligned for the next item.
std::size_t Put(std::vector<std::byte>& out, std::size_t offset, const void* value,
                std::size_t size) {
  std::memcpy(out.data() + offset, value, size);
  return offset + size;
}

const char* OperStateName(std::uint8_t state) {
  switch (state) {
    case IF_OPER_UNKNOWN:
      return "unknown";
    case IF_OPER_NOTPRESENT:
      return "notpresent";
    case IF_OPER_DOWN:
      return "down";
    case IF_OPER_LOWERLAYERDOWN:
      return "lowerlayerdown";
    case IF_OPER_TESTING:
      return "testing";
    case IF_OPER_DORMANT:
      return "dormant";
    case IF_OPER_UP:
      return "up";
    default:
      return "?";
  }
}

}  // namespace

std::vector<std::byte> BuildGetLinkByName(const std::string& name, std::uint32_t seq) {
  const std::size_t name_size = name.size() + 1;  // the kernel wants it NUL-terminated
  const std::size_t attribute = RTA_LENGTH(name_size);
  const std::size_t length = NLMSG_LENGTH(sizeof(ifinfomsg)) + RTA_ALIGN(attribute);
  std::vector<std::byte> message(NLMSG_ALIGN(length));

  nlmsghdr header{};
  header.nlmsg_len = static_cast<std::uint32_t>(length);
  header.nlmsg_type = RTM_GETLINK;
  header.nlmsg_flags = NLM_F_REQUEST;
  header.nlmsg_seq = seq;
  Put(message, 0, &header, sizeof(header));

  ifinfomsg link{};
  link.ifi_family = AF_UNSPEC;
  Put(message, NLMSG_HDRLEN, &link, sizeof(link));

  rtattr name_attribute{};
  name_attribute.rta_len = static_cast<unsigned short>(attribute);
  name_attribute.rta_type = IFLA_IFNAME;
  const std::size_t at =
      Put(message, NLMSG_LENGTH(sizeof(ifinfomsg)), &name_attribute, sizeof(name_attribute));
  Put(message, at, name.c_str(), name_size);
  return message;
}

namespace {

// NLMSG_OK, without its comparison of the header's u32 length with an int (clang's
// -Wsign-compare fires inside the macro).
bool WholeMessage(const nlmsghdr* header, int left) {
  return left >= static_cast<int>(sizeof(nlmsghdr)) && header->nlmsg_len >= sizeof(nlmsghdr) &&
         header->nlmsg_len <= static_cast<unsigned>(left);
}

}  // namespace

Result<std::vector<LinkMessage>> ParseLinkMessages(std::span<const std::byte> datagram) {
  std::vector<LinkMessage> messages;
  // The kernel aligns every message; a copy keeps the headers aligned for the macros.
  std::vector<std::byte> copy(datagram.begin(), datagram.end());
  int left = static_cast<int>(copy.size());
  const auto* header = reinterpret_cast<const nlmsghdr*>(copy.data());
  for (; WholeMessage(header, left); header = NLMSG_NEXT(header, left)) {
    LinkMessage message;
    message.seq = header->nlmsg_seq;
    if (header->nlmsg_type == NLMSG_ERROR) {
      if (header->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
        return Error::Environment("an rtnetlink error message cut short (" +
                                  std::to_string(header->nlmsg_len) + " bytes)");
      }
      const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
      message.kind = LinkMessage::Kind::kError;
      message.error = -error->error;
    } else if (header->nlmsg_type == RTM_NEWLINK || header->nlmsg_type == RTM_DELLINK) {
      if (header->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) {
        return Error::Environment("an rtnetlink link message cut short (" +
                                  std::to_string(header->nlmsg_len) + " bytes)");
      }
      const auto* link = static_cast<const ifinfomsg*>(NLMSG_DATA(header));
      message.kind = header->nlmsg_type == RTM_NEWLINK ? LinkMessage::Kind::kNewLink
                                                       : LinkMessage::Kind::kDelLink;
      message.index = link->ifi_index;
      message.flags = link->ifi_flags;
      int attributes_left = static_cast<int>(IFLA_PAYLOAD(header));
      for (const rtattr* attribute = IFLA_RTA(link); RTA_OK(attribute, attributes_left);
           attribute = RTA_NEXT(attribute, attributes_left)) {
        const auto* data = static_cast<const char*>(RTA_DATA(attribute));
        const std::size_t size = RTA_PAYLOAD(attribute);
        if (attribute->rta_type == IFLA_IFNAME) {
          message.name.assign(data, strnlen(data, size));
        } else if (attribute->rta_type == IFLA_OPERSTATE && size >= 1) {
          message.operstate = static_cast<std::uint8_t>(data[0]);
        }
      }
    }
    messages.push_back(std::move(message));
  }
  if (left > 0) {
    return Error::Environment("an rtnetlink datagram with " + std::to_string(left) +
                              " bytes that are not a whole message");
  }
  return messages;
}

bool IsOperUp(const LinkMessage& link) {
  if (link.operstate) return *link.operstate == IF_OPER_UP;
  return (link.flags & IFF_UP) != 0 && (link.flags & IFF_RUNNING) != 0;
}

std::string DescribeLinkState(const LinkMessage& link) {
  std::string text =
      link.operstate ? std::string(OperStateName(*link.operstate)) : std::string("no operstate");
  text += (link.flags & IFF_UP) != 0 ? " (flags up, " : " (flags down, ";
  text += (link.flags & IFF_LOWER_UP) != 0 ? "carrier on)" : "no carrier)";
  return text;
}

OperUpWatch::OperUpWatch(std::string name, std::uint32_t query_seq)
    : name_(std::move(name)), query_seq_(query_seq) {}

OperUpWatch::State OperUpWatch::Consume(const LinkMessage& message) {
  if (state_ != State::kWaiting) return state_;
  if (message.kind == LinkMessage::Kind::kError) {
    // Only the answer to our query; an acknowledgement (0) is no news.
    if (message.seq != query_seq_ || message.error == 0) return state_;
    error_ = message.error;
    state_ = message.error == ENODEV ? State::kGone : State::kFailed;
    return state_;
  }
  if (message.kind != LinkMessage::Kind::kNewLink && message.kind != LinkMessage::Kind::kDelLink) {
    return state_;
  }
  // A notification about a renamed link carries its new name but its old index.
  const bool ours = message.name == name_ || (index_ != 0 && message.index == index_);
  if (!ours) return state_;
  if (message.kind == LinkMessage::Kind::kDelLink) {
    state_ = State::kGone;
    return state_;
  }
  index_ = message.index;
  last_seen_ = message;
  if (IsOperUp(message)) state_ = State::kUp;
  return state_;
}

}  // namespace dind::netcfg
