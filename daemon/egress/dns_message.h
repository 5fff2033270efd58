// SPDX-License-Identifier: Apache-2.0
// The one DNS exchange the DNS probe needs (RFC 1035): a query built as bytes and the reply
// checked against it. Pure functions; the probe sends and receives.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dind::egress {

constexpr std::uint16_t kDnsTypeA = 1;
constexpr std::uint16_t kDnsTypeNs = 2;
constexpr std::uint8_t kDnsRcodeNxDomain = 3;

struct DnsQuestion {
  std::string name;  // "kubernetes.default.svc.cluster.local." or "." for the root
  std::uint16_t type = kDnsTypeA;
};

// A standard recursive query (RD set) for `question` in class IN with `id`. kBadInput for a
// name that is not a DNS name (empty labels, a label over 63 bytes, over 255 bytes in all).
Result<std::vector<std::uint8_t>> BuildDnsQuery(std::uint16_t id, const DnsQuestion& question);

struct DnsReply {
  std::uint8_t rcode = 0;
  std::uint16_t answers = 0;
  bool truncated = false;
};

// Accepts `message` only as the reply to the query with `id` for `question`: a response (QR)
// to a standard query with the same ID that repeats the question (names compared without
// regard to case, as RFC 4343 says). Any rcode is a reply: NXDOMAIN and SERVFAIL still prove
// the nameserver was reached. An Environment error says what does not match.
Result<DnsReply> ParseDnsReply(std::span<const std::uint8_t> message, std::uint16_t id,
                               const DnsQuestion& question);

// "NOERROR", "NXDOMAIN", …, "rcode 11" for codes without a name.
std::string RcodeName(std::uint8_t rcode);

}  // namespace dind::egress
