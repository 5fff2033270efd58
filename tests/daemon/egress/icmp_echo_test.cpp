// SPDX-License-Identifier: Apache-2.0
// ICMP echo bytes for the path-MTU probe and the reading of ICMP errors.
#include "daemon/egress/icmp_echo.h"

// clang-format off
#include <time.h>  // before linux/errqueue.h, which needs struct timespec
#include <linux/errqueue.h>
// clang-format on
#include <gtest/gtest.h>

#include <vector>

namespace dind::egress {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(InternetChecksumTest, Rfc1071Example) {
  // RFC 1071 section 3: the one's complement sum of these words is 0xddf2.
  const Bytes bytes = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(InternetChecksum(bytes), static_cast<std::uint16_t>(~0xddf2));
}

TEST(InternetChecksumTest, OddLengthPadsWithZero) {
  EXPECT_EQ(InternetChecksum(Bytes{0x12}), InternetChecksum(Bytes{0x12, 0x00}));
}

TEST(BuildEchoRequestTest, SizedForTheWholeIpPacket) {
  const Bytes request = BuildEchoRequest(0x1234, 0x0005, 1500);
  ASSERT_EQ(request.size(), 1480u);  // + the kernel's 20-byte IPv4 header = 1500
  EXPECT_EQ(request[0], 8);          // echo request
  EXPECT_EQ(request[1], 0);
  EXPECT_EQ(request[4], 0x12);
  EXPECT_EQ(request[5], 0x34);
  EXPECT_EQ(request[6], 0x00);
  EXPECT_EQ(request[7], 0x05);
  EXPECT_EQ(InternetChecksum(request), 0) << "a correct checksum sums to zero";
  EXPECT_EQ(BuildEchoRequest(1, 1, 10).size(), kIcmpHeaderSize);
}

// An IPv4 packet as a raw ICMP socket returns it: header (with `options` bytes) then `icmp`.
Bytes Ipv4Packet(const Bytes& icmp, std::uint8_t protocol = 1, std::size_t options = 0) {
  const std::size_t header = 20 + options;
  const std::size_t total = header + icmp.size();
  // Sized once and copied into: vector::insert here trips a false -Warray-bounds at -O3 (GCC 12
  // bug 107852, memcpy "out of the bounds" of the 20-byte header it is about to grow).
  Bytes packet(total, 0);
  packet[0] = static_cast<std::uint8_t>(0x40 | (header / 4));
  packet[2] = static_cast<std::uint8_t>(total >> 8);
  packet[3] = static_cast<std::uint8_t>(total & 0xff);
  packet[9] = protocol;
  std::copy(icmp.begin(), icmp.end(), packet.begin() + static_cast<std::ptrdiff_t>(header));
  return packet;
}

Bytes ReplyFor(Bytes request) {
  request[0] = 0;  // echo reply
  return request;
}

TEST(MatchEchoReplyTest, OurReplyGivesItsSize) {
  const Bytes reply = ReplyFor(BuildEchoRequest(0x1234, 9, 1400));
  EXPECT_EQ(MatchEchoReply(Ipv4Packet(reply), 0x1234, 9), 1400u);
  EXPECT_EQ(MatchEchoReply(Ipv4Packet(reply, 1, 8), 0x1234, 9), 1408u) << "IP options skipped";
}

TEST(MatchEchoReplyTest, OthersAreNotOurs) {
  const Bytes request = BuildEchoRequest(0x1234, 9, 100);
  EXPECT_EQ(MatchEchoReply(Ipv4Packet(request), 0x1234, 9), std::nullopt) << "a request";
  EXPECT_EQ(MatchEchoReply(Ipv4Packet(ReplyFor(request)), 0x1235, 9), std::nullopt);
  EXPECT_EQ(MatchEchoReply(Ipv4Packet(ReplyFor(request)), 0x1234, 8), std::nullopt);
  EXPECT_EQ(MatchEchoReply(Ipv4Packet(ReplyFor(request), 17), 0x1234, 9), std::nullopt);
  Bytes truncated = Ipv4Packet(ReplyFor(request));
  truncated.resize(25);
  EXPECT_EQ(MatchEchoReply(truncated, 0x1234, 9), std::nullopt);
  Bytes ipv6 = Ipv4Packet(ReplyFor(request));
  ipv6[0] = 0x60;
  EXPECT_EQ(MatchEchoReply(ipv6, 0x1234, 9), std::nullopt);
}

TEST(FragmentationNeededMtuTest, OnlyForIcmpFragmentationNeeded) {
  sock_extended_err error{};
  error.ee_origin = SO_EE_ORIGIN_ICMP;
  error.ee_type = 3;
  error.ee_code = 4;
  error.ee_info = 1400;
  EXPECT_EQ(FragmentationNeededMtu(error), 1400u);

  sock_extended_err host_unreachable = error;
  host_unreachable.ee_code = 1;
  EXPECT_EQ(FragmentationNeededMtu(host_unreachable), std::nullopt);
  sock_extended_err local = error;
  local.ee_origin = SO_EE_ORIGIN_LOCAL;
  EXPECT_EQ(FragmentationNeededMtu(local), std::nullopt);
}

TEST(BuildEcho6RequestTest, SizedForTheWholeIpv6PacketChecksumLeftToTheKernel) {
  const Bytes request = BuildEcho6Request(0x1234, 0x0005, 1500);
  ASSERT_EQ(request.size(), 1460u);  // + the kernel's 40-byte IPv6 header = 1500
  EXPECT_EQ(request[0], 128);        // ICMPv6 echo request
  EXPECT_EQ(request[1], 0);
  EXPECT_EQ(request[2], 0);
  EXPECT_EQ(request[3], 0) << "the kernel fills in the checksum over the pseudo-header";
  EXPECT_EQ(request[4], 0x12);
  EXPECT_EQ(request[5], 0x34);
  EXPECT_EQ(request[6], 0x00);
  EXPECT_EQ(request[7], 0x05);
  EXPECT_EQ(request[8], 8) << "the same pattern as IPv4";
  EXPECT_EQ(BuildEcho6Request(1, 1, 40).size(), kIcmpHeaderSize);
  EXPECT_EQ(BuildEcho6Request(1, 1, 1280).size(), 1240u);
}

Bytes Reply6For(Bytes request) {
  request[0] = 129;  // ICMPv6 echo reply
  return request;
}

TEST(MatchEcho6ReplyTest, OurReplyGivesItsIpv6PacketSize) {
  EXPECT_EQ(MatchEcho6Reply(Reply6For(BuildEcho6Request(0x1234, 9, 1400)), 0x1234, 9), 1400u);
}

TEST(MatchEcho6ReplyTest, OthersAreNotOurs) {
  const Bytes request = BuildEcho6Request(0x1234, 9, 100);
  EXPECT_EQ(MatchEcho6Reply(request, 0x1234, 9), std::nullopt) << "a request";
  EXPECT_EQ(MatchEcho6Reply(Reply6For(request), 0x1235, 9), std::nullopt);
  EXPECT_EQ(MatchEcho6Reply(Reply6For(request), 0x1234, 8), std::nullopt);
  Bytes v4_reply = Reply6For(request);
  v4_reply[0] = 0;  // an ICMPv4 echo reply's type
  EXPECT_EQ(MatchEcho6Reply(v4_reply, 0x1234, 9), std::nullopt);
  Bytes odd_code = Reply6For(request);
  odd_code[1] = 1;
  EXPECT_EQ(MatchEcho6Reply(odd_code, 0x1234, 9), std::nullopt);
  EXPECT_EQ(MatchEcho6Reply(Bytes{129, 0, 0, 0, 0x12, 0x34, 0}, 0x1234, 9), std::nullopt)
      << "truncated";
}

TEST(PacketTooBigMtuTest, OnlyForIcmpv6PacketTooBig) {
  sock_extended_err error{};
  error.ee_origin = SO_EE_ORIGIN_ICMP6;
  error.ee_type = 2;
  error.ee_code = 0;
  error.ee_info = 1400;
  EXPECT_EQ(PacketTooBigMtu(error), 1400u);

  sock_extended_err unreachable = error;
  unreachable.ee_type = 1;  // destination unreachable
  EXPECT_EQ(PacketTooBigMtu(unreachable), std::nullopt);
  sock_extended_err v4 = error;
  v4.ee_origin = SO_EE_ORIGIN_ICMP;
  EXPECT_EQ(PacketTooBigMtu(v4), std::nullopt) << "IPv4's type 2 is not this";
  sock_extended_err local = error;
  local.ee_origin = SO_EE_ORIGIN_LOCAL;  // the kernel's own EMSGSIZE for an oversized send
  EXPECT_EQ(PacketTooBigMtu(local), std::nullopt);
  // And IPv4's reader does not take IPv6's answer.
  EXPECT_EQ(FragmentationNeededMtu(error), std::nullopt);
}

}  // namespace
}  // namespace dind::egress
