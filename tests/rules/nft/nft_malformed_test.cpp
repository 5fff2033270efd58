// ParseAck: the kernel's answers to a batch, including malformed ones a fuzzer would build (a
// truncated NLMSG_ERROR, an echoed length pointing past the message). No root.
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>

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
  truncated.header()->nlmsg_len = mnl_nlmsg_size(sizeof(nlmsgerr)) - 1;
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

}  // namespace
}  // namespace dind::rules::nft
