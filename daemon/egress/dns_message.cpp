// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/dns_message.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace dind::egress {
namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::uint16_t kClassIn = 1;
constexpr std::size_t kMaxNameBytes = 255;
constexpr int kMaxCompressionJumps = 32;  // more than any honest message needs

void Put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

std::uint16_t Get16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

// The name in wire form (length-prefixed labels, then 0); nullopt when it is not a DNS name.
std::optional<std::vector<std::uint8_t>> EncodeName(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (name.back() == '.') name.remove_suffix(1);
  std::vector<std::uint8_t> wire;
  while (!name.empty()) {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) return std::nullopt;
    wire.push_back(static_cast<std::uint8_t>(label.size()));
    wire.insert(wire.end(), label.begin(), label.end());
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  wire.push_back(0);
  if (wire.size() > kMaxNameBytes) return std::nullopt;
  return wire;
}

// Reads the (possibly compressed) name at `at` as lower-case "a.b.c."; advances `at` past it in
// the message. nullopt when it runs off the end or loops.
std::optional<std::string> ReadName(std::span<const std::uint8_t> message, std::size_t& at) {
  std::string name;
  std::size_t cursor = at;
  bool jumped = false;
  for (int jumps = 0; jumps <= kMaxCompressionJumps;) {
    if (cursor >= message.size()) return std::nullopt;
    const std::uint8_t length = message[cursor];
    if ((length & 0xc0) == 0xc0) {  // a pointer to an earlier name
      if (cursor + 1 >= message.size()) return std::nullopt;
      if (!jumped) at = cursor + 2;
      jumped = true;
      cursor = static_cast<std::size_t>(((length & 0x3f) << 8) | message[cursor + 1]);
      ++jumps;
      continue;
    }
    if ((length & 0xc0) != 0) return std::nullopt;  // reserved label types
    if (length == 0) {
      if (!jumped) at = cursor + 1;
      return name.empty() ? "." : name;
    }
    if (cursor + 1 + length > message.size()) return std::nullopt;
    for (std::size_t i = 0; i < length; ++i) {
      name += static_cast<char>(std::tolower(message[cursor + 1 + i]));
    }
    name += '.';
    if (name.size() > kMaxNameBytes) return std::nullopt;
    cursor += 1 + length;
  }
  return std::nullopt;
}

std::string Canonical(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty() || lower.back() != '.') lower += '.';
  return lower;
}

Error Mismatch(const std::string& what) {
  return Error::Environment("the DNS reply " + what,
                            "another program may be answering on that address and port");
}

}  // namespace

Result<std::vector<std::uint8_t>> BuildDnsQuery(std::uint16_t id, const DnsQuestion& question) {
  auto name = EncodeName(question.name);
  if (!name) {
    return Error::BadInput("DNS probe name '" + question.name + "' is not a DNS name",
                           "use dot-separated labels of 1..63 bytes, 255 bytes in all");
  }
  std::vector<std::uint8_t> query;
  query.reserve(kHeaderSize + name->size() + 4);
  Put16(query, id);
  Put16(query, 0x0100);  // standard query, recursion desired
  Put16(query, 1);       // one question
  Put16(query, 0);       // no answers
  Put16(query, 0);       // no authority records
  Put16(query, 0);       // no additional records
  query.insert(query.end(), name->begin(), name->end());
  Put16(query, question.type);
  Put16(query, kClassIn);
  return query;
}

Result<DnsReply> ParseDnsReply(std::span<const std::uint8_t> message, std::uint16_t id,
                               const DnsQuestion& question) {
  if (message.size() < kHeaderSize) {
    return Mismatch("is " + std::to_string(message.size()) +
                    " bytes, shorter than a DNS header (12 bytes)");
  }
  if (Get16(message, 0) != id) {
    return Mismatch("has ID " + std::to_string(Get16(message, 0)) + ", the query had " +
                    std::to_string(id));
  }
  const std::uint16_t flags = Get16(message, 2);
  if ((flags & 0x8000) == 0) return Mismatch("is a query, not a response");
  if (((flags >> 11) & 0xf) != 0) return Mismatch("is not for a standard query (opcode)");
  if (Get16(message, 4) != 1) {
    return Mismatch("carries " + std::to_string(Get16(message, 4)) + " questions, not 1");
  }
  std::size_t at = kHeaderSize;
  const auto name = ReadName(message, at);
  if (!name || at + 4 > message.size()) return Mismatch("has a malformed question");
  if (*name != Canonical(question.name)) {
    return Mismatch("is for " + *name + ", the query asked for " + Canonical(question.name));
  }
  if (Get16(message, at) != question.type || Get16(message, at + 2) != kClassIn) {
    return Mismatch("is for another record type or class than the query");
  }
  DnsReply reply;
  reply.rcode = static_cast<std::uint8_t>(flags & 0xf);
  reply.truncated = (flags & 0x0200) != 0;
  reply.answers = Get16(message, 6);
  return reply;
}

std::string RcodeName(std::uint8_t rcode) {
  static constexpr const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                           "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                           "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (rcode < std::size(kNames)) return kNames[rcode];
  return "rcode " + std::to_string(rcode);
}

}  // namespace dind::egress
