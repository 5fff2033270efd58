// SPDX-License-Identifier: Apache-2.0
// CIDR and address parsing (common/cidr.h): every flag, daemon.json pool and Docker subnet goes
// through it. Whatever parses must print back to a text that parses to the same value, and the
// containment relations must agree with each other.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/cidr.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto address = dind::IpAddress::Parse(text)) {
    auto again = dind::IpAddress::Parse(address->ToString());
    Require(again.ok() && *again == *address);
  }

  auto cidr = dind::Cidr::Parse(text);
  if (!cidr) return 0;
  Require(cidr->prefix_length() >= 0 && cidr->prefix_length() <= cidr->network().max_prefix());
  auto again = dind::Cidr::Parse(cidr->ToString());
  Require(again.ok() && *again == *cidr);
  Require(cidr->Contains(cidr->network()));
  Require(cidr->Contains(*cidr) && cidr->Overlaps(*cidr));
  if (cidr->prefix_length() < cidr->network().max_prefix()) {
    // The network's host bits are clear, so the first host stays inside.
    Require(cidr->Contains(cidr->Host(1)));
    const dind::Cidr lower = cidr->LowerHalf();
    Require(cidr->Contains(lower) && !lower.Contains(*cidr) && lower.Overlaps(*cidr));
  }
  return 0;
}
