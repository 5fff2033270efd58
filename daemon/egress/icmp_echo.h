// SPDX-License-Identifier: Apache-2.0
// ICMP echo messages for the path-MTU probe, as bytes (RFC 792; ICMPv6, RFC 4443, for IPv6),
// and the reading of the kernel's error queue entry for an ICMP "fragmentation needed" or its
// IPv6 counterpart, an ICMPv6 "Packet Too Big". Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/mtu.h"

struct sock_extended_err;

namespace dind::egress {

constexpr std::size_t kIpv4HeaderSize = 20;  // what the kernel prepends to a raw ICMP socket's send
constexpr std::size_t kIcmpHeaderSize = 8;
constexpr std::size_t kMinimumEchoPacket = kIpv4HeaderSize + kIcmpHeaderSize;

// The Internet checksum (RFC 1071) of `bytes`.
std::uint16_t InternetChecksum(std::span<const std::uint8_t> bytes);

// An echo request whose IPv4 packet (the kernel's 20-byte header included) is `packet_size`
// bytes long: the ICMP header with `id`/`sequence`, a patterned payload and the checksum.
// `packet_size` below kMinimumEchoPacket yields the smallest request.
std::vector<std::uint8_t> BuildEchoRequest(std::uint16_t id, std::uint16_t sequence,
                                           std::size_t packet_size);

// For a datagram read from a raw ICMP socket (IPv4 header first): the total length of the
// packet when it is the echo reply to `id`/`sequence`, else nullopt.
std::optional<std::size_t> MatchEchoReply(std::span<const std::uint8_t> packet, std::uint16_t id,
                                          std::uint16_t sequence);

// The next-hop MTU from an IP_RECVERR error queue entry when it reports an ICMP "fragmentation
// needed" (type 3 code 4), else nullopt.
std::optional<Mtu> FragmentationNeededMtu(const sock_extended_err& error);

// ---- ICMPv6 ----------------------------------------------------------------------------------
// A raw ICMPv6 socket sends and receives the ICMPv6 message alone: the kernel adds the 40-byte
// IPv6 header on the way out, strips it on the way in, and computes the checksum itself (it
// needs the pseudo-header's addresses, RFC 4443 2.3).
constexpr std::size_t kIpv6HeaderSize = 40;
constexpr std::size_t kMinimumEcho6Packet = kIpv6HeaderSize + kIcmpHeaderSize;

// An ICMPv6 echo request whose IPv6 packet (the kernel's 40-byte header included) is
// `packet_size` bytes long: type 128 with `id`/`sequence`, the patterned payload, checksum 0
// for the kernel to fill in. `packet_size` below kMinimumEcho6Packet yields the smallest.
std::vector<std::uint8_t> BuildEcho6Request(std::uint16_t id, std::uint16_t sequence,
                                            std::size_t packet_size);

// For a message read from a raw ICMPv6 socket (no IPv6 header): the length of the IPv6 packet
// that carried it when it is the echo reply (type 129) to `id`/`sequence`, else nullopt.
std::optional<std::size_t> MatchEcho6Reply(std::span<const std::uint8_t> message, std::uint16_t id,
                                           std::uint16_t sequence);

// The MTU from an IPV6_RECVERR error queue entry when it reports an ICMPv6 "Packet Too Big"
// (type 2 code 0: IPv6 routers never fragment, they send this instead), else nullopt.
std::optional<Mtu> PacketTooBigMtu(const sock_extended_err& error);

}  // namespace dind::egress
