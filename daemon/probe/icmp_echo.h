// SPDX-License-Identifier: Apache-2.0
// ICMP echo messages for the path-MTU probe, as bytes (RFC 792), and the reading of the
// kernel's error queue entry for an ICMP "fragmentation needed". Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

struct sock_extended_err;

namespace dind::probe {

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
std::optional<int> FragmentationNeededMtu(const sock_extended_err& error);

}  // namespace dind::probe
