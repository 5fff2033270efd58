// SPDX-License-Identifier: Apache-2.0
// Malformed nf_tables messages a fuzzer builds: batch answers (a truncated NLMSG_ERROR, an echoed
// length pointing past the message), receive buffers and rule messages. Each is an error or
// "no answer", never a crash or a read past the bytes. No root.
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

#include "rules/nft/nft_messages.h"

namespace dind::rules::nft {
namespace {

// An NLMSG_ERROR for request `seq`; with `ext_ack`, an NLMSGERR_ATTR_MSG after the capped
// nlmsgerr, as the kernel sends with NETLINK_CAP_ACK and NETLINK_EXT_ACK set.
struct ErrorMessage {
  alignas(4) std::array<char, 256> bytes{};
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(bytes.data()); }
  nlmsgerr* error() { return static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(header())); }

  ErrorMessage(std::uint32_t seq, int error_value, std::string_view ext_ack = {}) {
    nlmsghdr* message = mnl_nlmsg_put_header(bytes.data());
    message->nlmsg_type = NLMSG_ERROR;
    message->nlmsg_seq = seq;
    auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(message, sizeof(nlmsgerr)));
    err->error = error_value;
    err->msg.nlmsg_len = sizeof(nlmsghdr);
    message->nlmsg_flags = NLM_F_CAPPED;
    if (!ext_ack.empty()) {
      message->nlmsg_flags |= NLM_F_ACK_TLVS;
      mnl_attr_put_strz(message, NLMSGERR_ATTR_MSG, std::string(ext_ack).c_str());
    }
  }
};

TEST(ParseAckTest, AcceptedAndRefusedWithTheKernelsText) {
  ErrorMessage accepted(7, 0);
  auto ack = ParseAck(accepted.header());
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->seq, 7u);
  EXPECT_EQ(ack->errnum, 0);
  EXPECT_EQ(ack->kernel_message, "");

  ErrorMessage refused(8, -ENOENT, "Table not found");
  ack = ParseAck(refused.header());
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->errnum, ENOENT);
  EXPECT_EQ(ack->kernel_message, "Table not found");
}

TEST(ParseAckTest, OtherMessagesAndTruncatedErrorsAreNoAck) {
  ErrorMessage message(1, -EPERM);
  message.header()->nlmsg_type = NLMSG_DONE;
  EXPECT_FALSE(ParseAck(message.header()).has_value());

  ErrorMessage truncated(1, -EPERM);
  truncated.header()->nlmsg_len = static_cast<std::uint32_t>(mnl_nlmsg_size(sizeof(nlmsgerr)) - 1);
  EXPECT_FALSE(ParseAck(truncated.header()).has_value());
}

TEST(ParseAckTest, EchoedLengthPastTheMessageSkipsTheExtendedAck) {
  ErrorMessage message(3, -EINVAL, "bad attribute");
  message.header()->nlmsg_flags &= static_cast<std::uint16_t>(~NLM_F_CAPPED);
  message.error()->msg.nlmsg_len = 4096;  // claims a longer echoed request than was sent
  auto ack = ParseAck(message.header());
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->errnum, EINVAL);
  EXPECT_EQ(ack->kernel_message, "");

  message.error()->msg.nlmsg_len = 3;  // shorter than a header: would wrap the offset
  ack = ParseAck(message.header());
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->kernel_message, "");
}

TEST(ParseAckTest, AnErrorThatIsNotANegativeErrnoIsAProtocolError) {
  ErrorMessage positive(4, 5);
  EXPECT_EQ(ParseAck(positive.header())->errnum, EPROTO);
  ErrorMessage minimum(5, INT32_MIN);
  EXPECT_EQ(ParseAck(minimum.header())->errnum, EPROTO);
}

TEST(WellFormedMessagesTest, AcceptsWholeMessagesAndRefusesLengthsPastTheEnd) {
  ErrorMessage first(1, 0);
  ErrorMessage second(2, -EPERM, "Operation not permitted");
  std::vector<char> buffer;
  for (ErrorMessage* message : {&first, &second}) {
    const auto length = MNL_ALIGN(message->header()->nlmsg_len);
    buffer.insert(buffer.end(), message->bytes.data(), message->bytes.data() + length);
  }
  std::vector<std::uint32_t> aligned(buffer.size() / 4 + 1);
  std::memcpy(aligned.data(), buffer.data(), buffer.size());
  EXPECT_TRUE(WellFormedMessages(aligned.data(), buffer.size()));
  EXPECT_TRUE(WellFormedMessages(aligned.data(), 0));
  EXPECT_FALSE(WellFormedMessages(aligned.data(), buffer.size() - 1));  // second one cut
  EXPECT_FALSE(WellFormedMessages(aligned.data(), 10));                 // not even a header

  // Found by the nft fuzzer: libmnl takes a length of 2 GiB or more as negative and walks on.
  auto* header = reinterpret_cast<nlmsghdr*>(aligned.data());
  header->nlmsg_len = 0xC3C3C3C3;
  EXPECT_FALSE(WellFormedMessages(aligned.data(), buffer.size()));
  header->nlmsg_len = 8;  // shorter than a header
  EXPECT_FALSE(WellFormedMessages(aligned.data(), buffer.size()));
}

// A fuzzer's input: an expression name attribute longer than its nest. libnftnl would compare
// the name past the message's end; the check before it refuses the message.
TEST(ParseRuleMessageTest, AMalformedExpressionNameIsAnErrorNotACrash) {
  std::ifstream file(DIND_SOURCE_DIR "/tests/fuzz/corpus/nft/regression_libnftnl_expr_name",
                     std::ios::binary);
  ASSERT_TRUE(file) << "regression seed missing";
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::uint32_t> aligned((bytes.size() + 3) / 4);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  const auto* message = reinterpret_cast<const nlmsghdr*>(aligned.data());
  ASSERT_LE(message->nlmsg_len, bytes.size());
  const Result<NftRuleRecord> parsed = ParseRuleMessage(message);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().errnum, EPROTO);
}

TEST(ParseRuleMessageTest, ATableNameWithoutItsNulIsAnError) {
  alignas(4) std::array<char, 128> bytes{};
  nlmsghdr* message = mnl_nlmsg_put_header(bytes.data());
  message->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
  mnl_nlmsg_put_extra_header(message, sizeof(nfgenmsg));
  mnl_attr_put(message, NFTA_RULE_TABLE, 4, "dind");  // no terminating NUL
  EXPECT_FALSE(ParseRuleMessage(message).ok());
}

}  // namespace
}  // namespace dind::rules::nft
