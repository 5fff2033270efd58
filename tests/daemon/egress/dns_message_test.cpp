// SPDX-License-Identifier: Apache-2.0
// The DNS probe's query bytes and the checks on the reply.
#include "daemon/egress/dns_message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dind::egress {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using Bytes = std::vector<std::uint8_t>;

const DnsQuestion kRootNs{".", kDnsTypeNs};
const DnsQuestion kApi{"kubernetes.default.svc.cluster.local.", kDnsTypeA};

// A reply as a nameserver sends it: the query with QR (and RA) set, `rcode`, and `answers`
// answer records pointing back at the question's name.
Bytes ReplyTo(const Bytes& query, std::uint8_t rcode, std::uint16_t answers = 0) {
  Bytes reply = query;
  reply[2] = static_cast<std::uint8_t>(reply[2] | 0x80);
  reply[3] = static_cast<std::uint8_t>(0x80 | rcode);
  reply[7] = static_cast<std::uint8_t>(answers);
  for (std::uint16_t i = 0; i < answers; ++i) {
    const Bytes record = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 96, 0, 1};
    reply.insert(reply.end(), record.begin(), record.end());
  }
  return reply;
}

TEST(BuildDnsQueryTest, RootNsQueryIsByteExact) {
  auto query = BuildDnsQuery(0xbeef, kRootNs);
  ASSERT_TRUE(query.ok()) << query.error().Message();
  EXPECT_THAT(*query, ElementsAreArray(Bytes{0xbe, 0xef,              // ID
                                             0x01, 0x00,              // standard query, RD
                                             0, 1, 0, 0, 0, 0, 0, 0,  // 1 question
                                             0,                       // the root name
                                             0, 2,                    // NS
                                             0, 1}));                 // IN
}

TEST(BuildDnsQueryTest, NamesBecomeLengthPrefixedLabels) {
  auto query = BuildDnsQuery(1, {"svc.local", kDnsTypeA});  // the final dot is optional
  ASSERT_TRUE(query.ok());
  const Bytes name(query->begin() + 12, query->end() - 4);
  EXPECT_THAT(name, ElementsAreArray(Bytes{3, 's', 'v', 'c', 5, 'l', 'o', 'c', 'a', 'l', 0}));
  EXPECT_EQ(*BuildDnsQuery(1, {"svc.local.", kDnsTypeA}), *query);
}

TEST(BuildDnsQueryTest, RefusesWhatIsNotADnsName) {
  const std::string label60(60, 'a');
  const std::string too_long = label60 + "." + label60 + "." + label60 + "." + label60 + "." +
                               label60;  // 306 bytes in wire form
  for (const std::string& name : {std::string(""), std::string("a..b"), std::string(".a"),
                                  std::string(64, 'x') + ".com", too_long}) {
    auto query = BuildDnsQuery(1, {name, kDnsTypeA});
    ASSERT_FALSE(query.ok()) << name;
    EXPECT_EQ(query.error().kind, ErrorKind::kBadInput);
    EXPECT_THAT(query.error().Message(), HasSubstr("is not a DNS name"));
  }
  EXPECT_TRUE(BuildDnsQuery(1, {std::string(63, 'x') + ".com", kDnsTypeA}).ok());
}

TEST(ParseDnsReplyTest, NoErrorWithAnswers) {
  const Bytes query = *BuildDnsQuery(7, kApi);
  auto reply = ParseDnsReply(ReplyTo(query, 0, 1), 7, kApi);
  ASSERT_TRUE(reply.ok()) << reply.error().Message();
  EXPECT_EQ(reply->rcode, 0);
  EXPECT_EQ(reply->answers, 1);
  EXPECT_FALSE(reply->truncated);
}

TEST(ParseDnsReplyTest, NxDomainAndServFailStillCountAsReplies) {
  const Bytes query = *BuildDnsQuery(7, kApi);
  auto nxdomain = ParseDnsReply(ReplyTo(query, kDnsRcodeNxDomain), 7, kApi);
  ASSERT_TRUE(nxdomain.ok());
  EXPECT_EQ(RcodeName(nxdomain->rcode), "NXDOMAIN");
  auto servfail = ParseDnsReply(ReplyTo(query, 2), 7, kApi);
  ASSERT_TRUE(servfail.ok());
  EXPECT_EQ(RcodeName(servfail->rcode), "SERVFAIL");
}

TEST(ParseDnsReplyTest, NameComparisonIgnoresCase) {
  Bytes reply = ReplyTo(*BuildDnsQuery(7, kApi), 0);
  reply[13] = 'K';  // "Kubernetes"
  EXPECT_TRUE(ParseDnsReply(reply, 7, kApi).ok());
  EXPECT_TRUE(ParseDnsReply(reply, 7, {"KUBERNETES.default.svc.cluster.local", kDnsTypeA}).ok());
}

TEST(ParseDnsReplyTest, TruncatedFlagIsReported) {
  Bytes reply = ReplyTo(*BuildDnsQuery(7, kRootNs), 0);
  reply[2] |= 0x02;
  auto parsed = ParseDnsReply(reply, 7, kRootNs);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->truncated);
}

TEST(ParseDnsReplyTest, RefusesWhatIsNotTheReplyToOurQuery) {
  const Bytes query = *BuildDnsQuery(7, kApi);
  const Bytes good = ReplyTo(query, 0);

  EXPECT_THAT(ParseDnsReply(Bytes(good.begin(), good.begin() + 11), 7, kApi).error().Message(),
              HasSubstr("shorter than a DNS header"));
  EXPECT_THAT(ParseDnsReply(good, 8, kApi).error().Message(), HasSubstr("has ID 7"));
  EXPECT_THAT(ParseDnsReply(query, 7, kApi).error().Message(), HasSubstr("is a query"));

  Bytes opcode = good;
  opcode[2] |= 0x10;  // opcode 2 (status)
  EXPECT_THAT(ParseDnsReply(opcode, 7, kApi).error().Message(), HasSubstr("opcode"));

  Bytes two_questions = good;
  two_questions[5] = 2;
  EXPECT_THAT(ParseDnsReply(two_questions, 7, kApi).error().Message(), HasSubstr("2 questions"));

  EXPECT_THAT(ParseDnsReply(good, 7, {"other.example.", kDnsTypeA}).error().Message(),
              HasSubstr("is for kubernetes.default.svc.cluster.local."));
  EXPECT_THAT(ParseDnsReply(good, 7, {kApi.name, kDnsTypeNs}).error().Message(),
              HasSubstr("another record type"));

  EXPECT_THAT(ParseDnsReply(Bytes(good.begin(), good.end() - 3), 7, kApi).error().Message(),
              HasSubstr("malformed question"));
}

TEST(ParseDnsReplyTest, CompressionLoopsAndWildPointersAreMalformed) {
  Bytes header = ReplyTo(*BuildDnsQuery(7, kRootNs), 0);
  header.resize(12);
  Bytes loop = header;  // the question's name points at itself
  loop.insert(loop.end(), {0xc0, 0x0c, 0, 2, 0, 1});
  EXPECT_THAT(ParseDnsReply(loop, 7, kRootNs).error().Message(), HasSubstr("malformed"));
  Bytes wild = header;  // points past the end
  wild.insert(wild.end(), {0xc0, 0xff, 0, 2, 0, 1});
  EXPECT_THAT(ParseDnsReply(wild, 7, kRootNs).error().Message(), HasSubstr("malformed"));
}

TEST(ParseDnsReplyTest, CompressedQuestionNameIsFollowed) {
  // Header, then a copy of the name at offset 12 the question points to (unusual but legal).
  Bytes reply = ReplyTo(*BuildDnsQuery(7, {"a.b.", kDnsTypeA}), 0);
  reply.resize(12);
  reply[4] = 0;
  reply[5] = 1;
  reply.insert(reply.end(), {0xc0, 0x12, 0, 1, 0, 1, 1, 'a', 1, 'b', 0});
  auto parsed = ParseDnsReply(reply, 7, {"a.b.", kDnsTypeA});
  ASSERT_TRUE(parsed.ok()) << parsed.error().Message();
}

TEST(RcodeNameTest, NamedAndNumbered) {
  EXPECT_EQ(RcodeName(0), "NOERROR");
  EXPECT_EQ(RcodeName(5), "REFUSED");
  EXPECT_EQ(RcodeName(11), "rcode 11");
}

}  // namespace
}  // namespace dind::egress
