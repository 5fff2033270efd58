// SPDX-License-Identifier: Apache-2.0
// The link-up wait's messages as bytes, and the watch that decides from them, without a kernel.
#include "netcfg/netlink/link_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace dind::netcfg {
namespace {

using ::testing::HasSubstr;
using State = OperUpWatch::State;

// Appends one rtnetlink message as the kernel lays it out.
class Datagram {
 public:
  Datagram& Link(std::uint16_t type, int index, const std::string& name, unsigned flags,
                 std::optional<std::uint8_t> operstate, std::uint32_t seq = 0) {
    std::vector<std::byte> payload(sizeof(ifinfomsg));
    ifinfomsg link{};
    link.ifi_index = index;
    link.ifi_flags = flags;
    std::memcpy(payload.data(), &link, sizeof(link));
    Attribute(payload, IFLA_IFNAME, name.c_str(), name.size() + 1);
    if (operstate) Attribute(payload, IFLA_OPERSTATE, &*operstate, 1);
    return Message(type, seq, payload);
  }
  Datagram& Err(int errnum, std::uint32_t seq) {
    std::vector<std::byte> payload(sizeof(nlmsgerr));
    nlmsgerr error{};
    error.error = -errnum;
    std::memcpy(payload.data(), &error, sizeof(error));
    return Message(NLMSG_ERROR, seq, payload);
  }
  std::span<const std::byte> bytes() const { return bytes_; }
  std::vector<std::byte>& raw() { return bytes_; }

 private:
  static void Attribute(std::vector<std::byte>& out, std::uint16_t type, const void* data,
                        std::size_t size) {
    const std::size_t at = out.size();
    out.resize(at + RTA_SPACE(size));
    rtattr attribute{};
    attribute.rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
    attribute.rta_type = type;
    std::memcpy(out.data() + at, &attribute, sizeof(attribute));
    std::memcpy(out.data() + at + RTA_LENGTH(0), data, size);
  }
  Datagram& Message(std::uint16_t type, std::uint32_t seq, const std::vector<std::byte>& payload) {
    const std::size_t at = bytes_.size();
    bytes_.resize(at + NLMSG_SPACE(payload.size()));
    nlmsghdr header{};
    header.nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(payload.size()));
    header.nlmsg_type = type;
    header.nlmsg_seq = seq;
    std::memcpy(bytes_.data() + at, &header, sizeof(header));
    std::memcpy(bytes_.data() + at + NLMSG_HDRLEN, payload.data(), payload.size());
    return *this;
  }
  std::vector<std::byte> bytes_;
};

std::vector<LinkMessage> Parse(const Datagram& datagram) {
  auto messages = ParseLinkMessages(datagram.bytes());
  EXPECT_TRUE(messages.ok()) << messages.error().Message();
  return messages.ok() ? *messages : std::vector<LinkMessage>{};
}

constexpr unsigned kUpNoCarrier = IFF_UP | IFF_BROADCAST;
constexpr unsigned kUpRunning = IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_LOWER_UP;

TEST(BuildGetLinkByNameTest, AsksForTheLinkByItsName) {
  const auto bytes = BuildGetLinkByName("dind-proof0", 77);
  ASSERT_GE(bytes.size(), NLMSG_LENGTH(sizeof(ifinfomsg)));
  const auto* header = reinterpret_cast<const nlmsghdr*>(bytes.data());
  EXPECT_EQ(header->nlmsg_type, RTM_GETLINK);
  EXPECT_EQ(header->nlmsg_flags, NLM_F_REQUEST) << "one link, no dump";
  EXPECT_EQ(header->nlmsg_seq, 77u);
  EXPECT_EQ(header->nlmsg_len % 4, 0u);
  EXPECT_LE(header->nlmsg_len, bytes.size());
  const auto* link = static_cast<const ifinfomsg*>(NLMSG_DATA(header));
  EXPECT_EQ(link->ifi_index, 0) << "by name, not index";
  int left = static_cast<int>(IFLA_PAYLOAD(header));
  const rtattr* attribute = IFLA_RTA(link);
  ASSERT_TRUE(RTA_OK(attribute, left));
  EXPECT_EQ(attribute->rta_type, IFLA_IFNAME);
  EXPECT_STREQ(static_cast<const char*>(RTA_DATA(attribute)), "dind-proof0");
  const rtattr* next = RTA_NEXT(attribute, left);  // apart: the macro changes `left`
  EXPECT_FALSE(RTA_OK(next, left)) << "nothing else";
}

TEST(ParseLinkMessagesTest, ReadsNameIndexFlagsAndOperstateOfEveryMessage) {
  Datagram datagram;
  datagram.Link(RTM_NEWLINK, 4, "dind-proof0", kUpNoCarrier, IF_OPER_LOWERLAYERDOWN, 9)
      .Link(RTM_DELLINK, 5, "other0", 0, std::nullopt)
      .Err(ENODEV, 10)
      .Err(0, 11);
  const auto messages = Parse(datagram);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0].kind, LinkMessage::Kind::kNewLink);
  EXPECT_EQ(messages[0].seq, 9u);
  EXPECT_EQ(messages[0].index, 4);
  EXPECT_EQ(messages[0].name, "dind-proof0");
  EXPECT_EQ(messages[0].flags, kUpNoCarrier);
  EXPECT_EQ(messages[0].operstate, IF_OPER_LOWERLAYERDOWN);
  EXPECT_EQ(messages[1].kind, LinkMessage::Kind::kDelLink);
  EXPECT_EQ(messages[1].name, "other0");
  EXPECT_FALSE(messages[1].operstate);
  EXPECT_EQ(messages[2].kind, LinkMessage::Kind::kError);
  EXPECT_EQ(messages[2].error, ENODEV);
  EXPECT_EQ(messages[2].seq, 10u);
  EXPECT_EQ(messages[3].error, 0) << "an acknowledgement";
}

TEST(ParseLinkMessagesTest, ACutOffMessageIsAnError) {
  Datagram datagram;
  datagram.Link(RTM_NEWLINK, 4, "dind-proof0", kUpRunning, IF_OPER_UP);
  auto& raw = datagram.raw();
  raw.resize(raw.size() - 8);
  auto messages = ParseLinkMessages(datagram.bytes());
  ASSERT_FALSE(messages.ok());
  EXPECT_THAT(messages.error().Message(), HasSubstr("not a whole message"));

  Datagram short_link;
  short_link.Err(0, 1);
  auto* header = reinterpret_cast<nlmsghdr*>(short_link.raw().data());
  header->nlmsg_type = RTM_NEWLINK;
  header->nlmsg_len = NLMSG_LENGTH(4);
  auto cut = ParseLinkMessages(short_link.bytes());
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.error().Message(), HasSubstr("link message cut short"));
}

TEST(IsOperUpTest, OperstateDecidesAndFlagsOnlyWithoutIt) {
  LinkMessage link;
  link.flags = kUpRunning;
  link.operstate = IF_OPER_LOWERLAYERDOWN;
  EXPECT_FALSE(IsOperUp(link));
  link.operstate = IF_OPER_UP;
  EXPECT_TRUE(IsOperUp(link));
  link.operstate.reset();
  EXPECT_TRUE(IsOperUp(link));
  link.flags = kUpNoCarrier;
  EXPECT_FALSE(IsOperUp(link));
  link.operstate = IF_OPER_LOWERLAYERDOWN;
  EXPECT_EQ(DescribeLinkState(link), "lowerlayerdown (flags up, no carrier)");
}

TEST(OperUpWatchTest, TheAnswerToTheQuerySettlesALinkThatIsUpAlready) {
  OperUpWatch watch("dind-proof0", 7);
  for (const auto& message :
       Parse(Datagram().Link(RTM_NEWLINK, 4, "dind-proof0", kUpRunning, IF_OPER_UP, 7))) {
    watch.Consume(message);
  }
  EXPECT_EQ(watch.state(), State::kUp);
}

TEST(OperUpWatchTest, WaitsThroughDownStatesAndOtherLinksUntilTheNotificationSaysUp) {
  OperUpWatch watch("dind-proof0", 7);
  Datagram first;
  first.Link(RTM_NEWLINK, 4, "dind-proof0", kUpNoCarrier, IF_OPER_LOWERLAYERDOWN, 7)
      .Link(RTM_NEWLINK, 5, "dind-proof1", kUpRunning, IF_OPER_UP)
      .Err(0, 7);
  for (const auto& message : Parse(first)) EXPECT_EQ(watch.Consume(message), State::kWaiting);
  ASSERT_TRUE(watch.last_seen());
  EXPECT_EQ(watch.last_seen()->name, "dind-proof0") << "not the other link's state";
  EXPECT_EQ(DescribeLinkState(*watch.last_seen()), "lowerlayerdown (flags up, no carrier)");

  Datagram later;
  later.Link(RTM_NEWLINK, 4, "dind-proof0", kUpRunning, IF_OPER_UP);
  for (const auto& message : Parse(later)) watch.Consume(message);
  EXPECT_EQ(watch.state(), State::kUp);
}

TEST(OperUpWatchTest, ALinkThatIsMissingOrDeletedIsGone) {
  OperUpWatch missing("dind-proof0", 7);
  for (const auto& message : Parse(Datagram().Err(ENODEV, 6))) missing.Consume(message);
  EXPECT_EQ(missing.state(), State::kWaiting) << "another request's answer";
  for (const auto& message : Parse(Datagram().Err(ENODEV, 7))) missing.Consume(message);
  EXPECT_EQ(missing.state(), State::kGone);

  OperUpWatch deleted("dind-proof0", 7);
  Datagram datagram;
  datagram.Link(RTM_NEWLINK, 4, "dind-proof0", kUpNoCarrier, IF_OPER_DOWN, 7)
      .Link(RTM_DELLINK, 4, "dind-proof0", 0, std::nullopt);
  for (const auto& message : Parse(datagram)) deleted.Consume(message);
  EXPECT_EQ(deleted.state(), State::kGone);
}

TEST(OperUpWatchTest, AnotherErrorAnsweringTheQueryFailsWithItsErrno) {
  OperUpWatch watch("dind-proof0", 7);
  for (const auto& message : Parse(Datagram().Err(EPERM, 7))) watch.Consume(message);
  EXPECT_EQ(watch.state(), State::kFailed);
  EXPECT_EQ(watch.error(), EPERM);
}

}  // namespace
}  // namespace dind::netcfg
