// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/icmp_echo.h"

// clang-format off
#include <time.h>  // before linux/errqueue.h, which needs struct timespec
#include <linux/errqueue.h>
// clang-format on
#include <netinet/in.h>

namespace dind::egress {
namespace {

constexpr std::uint8_t kEchoReply = 0;
constexpr std::uint8_t kEchoRequest = 8;
constexpr std::uint8_t kDestinationUnreachable = 3;
constexpr std::uint8_t kFragmentationNeeded = 4;
constexpr std::uint8_t kEcho6Request = 128;
constexpr std::uint8_t kEcho6Reply = 129;
constexpr std::uint8_t kPacketTooBig = 2;

std::uint16_t Get16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

}  // namespace

std::uint16_t InternetChecksum(std::span<const std::uint8_t> bytes) {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += Get16(bytes, i);
  if (i < bytes.size()) sum += static_cast<std::uint32_t>(bytes[i] << 8);
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

namespace {

// An echo request of either ICMP version without its checksum: `type`, id, sequence, pattern.
std::vector<std::uint8_t> EchoMessage(std::uint8_t type, std::uint16_t id, std::uint16_t sequence,
                                      std::size_t icmp_size) {
  std::vector<std::uint8_t> message(icmp_size, 0);
  message[0] = type;
  message[4] = static_cast<std::uint8_t>(id >> 8);
  message[5] = static_cast<std::uint8_t>(id & 0xff);
  message[6] = static_cast<std::uint8_t>(sequence >> 8);
  message[7] = static_cast<std::uint8_t>(sequence & 0xff);
  // A varying pattern, so a path that mangles or truncates payloads cannot go unnoticed by the
  // checksum the peer verifies.
  for (std::size_t i = kIcmpHeaderSize; i < message.size(); ++i) {
    message[i] = static_cast<std::uint8_t>(i & 0xff);
  }
  return message;
}

}  // namespace

std::vector<std::uint8_t> BuildEchoRequest(std::uint16_t id, std::uint16_t sequence,
                                           std::size_t packet_size) {
  const std::size_t icmp_size =
      packet_size < kMinimumEchoPacket ? kIcmpHeaderSize : packet_size - kIpv4HeaderSize;
  std::vector<std::uint8_t> message = EchoMessage(kEchoRequest, id, sequence, icmp_size);
  const std::uint16_t checksum = InternetChecksum(message);
  message[2] = static_cast<std::uint8_t>(checksum >> 8);
  message[3] = static_cast<std::uint8_t>(checksum & 0xff);
  return message;
}

std::optional<std::size_t> MatchEchoReply(std::span<const std::uint8_t> packet, std::uint16_t id,
                                          std::uint16_t sequence) {
  if (packet.size() < kMinimumEchoPacket || (packet[0] >> 4) != 4) return std::nullopt;
  const std::size_t header = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
  if (header < kIpv4HeaderSize || packet.size() < header + kIcmpHeaderSize) return std::nullopt;
  if (packet[9] != IPPROTO_ICMP) return std::nullopt;
  const auto icmp = packet.subspan(header);
  if (icmp[0] != kEchoReply || icmp[1] != 0) return std::nullopt;
  if (Get16(icmp, 4) != id || Get16(icmp, 6) != sequence) return std::nullopt;
  return static_cast<std::size_t>(Get16(packet, 2));
}

std::optional<Mtu> FragmentationNeededMtu(const sock_extended_err& error) {
  if (error.ee_origin != SO_EE_ORIGIN_ICMP) return std::nullopt;
  if (error.ee_type != kDestinationUnreachable || error.ee_code != kFragmentationNeeded) {
    return std::nullopt;
  }
  return Mtu{error.ee_info};
}

std::vector<std::uint8_t> BuildEcho6Request(std::uint16_t id, std::uint16_t sequence,
                                            std::size_t packet_size) {
  const std::size_t icmp_size =
      packet_size < kMinimumEcho6Packet ? kIcmpHeaderSize : packet_size - kIpv6HeaderSize;
  return EchoMessage(kEcho6Request, id, sequence, icmp_size);
}

std::optional<std::size_t> MatchEcho6Reply(std::span<const std::uint8_t> message, std::uint16_t id,
                                           std::uint16_t sequence) {
  if (message.size() < kIcmpHeaderSize) return std::nullopt;
  if (message[0] != kEcho6Reply || message[1] != 0) return std::nullopt;
  if (Get16(message, 4) != id || Get16(message, 6) != sequence) return std::nullopt;
  return kIpv6HeaderSize + message.size();
}

std::optional<Mtu> PacketTooBigMtu(const sock_extended_err& error) {
  if (error.ee_origin != SO_EE_ORIGIN_ICMP6) return std::nullopt;
  if (error.ee_type != kPacketTooBig || error.ee_code != 0) return std::nullopt;
  return Mtu{error.ee_info};
}

}  // namespace dind::egress
