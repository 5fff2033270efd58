// SPDX-License-Identifier: Apache-2.0
#include "common/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace dind {
namespace {

// Clears every bit after `prefix_length`.
std::array<std::uint8_t, 16> MaskBytes(std::array<std::uint8_t, 16> bytes, int prefix_length,
                                       int max_prefix) {
  for (int bit = prefix_length; bit < max_prefix; ++bit) {
    bytes[bit / 8] = static_cast<std::uint8_t>(bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  return bytes;
}

}  // namespace

Result<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string copy(text);
  IpAddress address;
  if (inet_pton(AF_INET, copy.c_str(), address.bytes_.data()) == 1) {
    address.family_ = Family::kIPv4;
    return address;
  }
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes_.data()) == 1) {
    address.family_ = Family::kIPv6;
    return address;
  }
  return Error::BadInput("'" + copy + "' is not an IPv4 or IPv6 address",
                         "write it like 10.0.0.1 or fd00::1");
}

IpAddress IpAddress::V4(std::uint32_t host_order) {
  IpAddress address;
  std::uint32_t network_order = htonl(host_order);
  std::memcpy(address.bytes_.data(), &network_order, 4);
  return address;
}

IpAddress IpAddress::FromBytes(Family family, const void* bytes) {
  IpAddress address;
  address.family_ = family;
  std::memcpy(address.bytes_.data(), bytes, family == Family::kIPv4 ? 4 : 16);
  return address;
}

std::uint32_t IpAddress::v4_host_order() const {
  std::uint32_t network_order = 0;
  std::memcpy(&network_order, bytes_.data(), 4);
  return ntohl(network_order);
}

std::string IpAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buffer, sizeof(buffer));
  return buffer;
}

Result<Cidr> Cidr::Parse(std::string_view text) {
  const std::string input(text);
  const auto slash = text.find('/');
  auto address = IpAddress::Parse(text.substr(0, slash));
  if (!address) {
    return Error::BadInput("'" + input + "' is not a CIDR",
                           "write it like 10.0.0.0/8 or fd00::/64");
  }
  int prefix_length = address->max_prefix();
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix_length);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        prefix_length < 0 || prefix_length > address->max_prefix()) {
      return Error::BadInput("'" + input + "' has an invalid prefix length",
                             "use /0 to /" + std::to_string(address->max_prefix()));
    }
  }
  return Of(*address, prefix_length);
}

Cidr Cidr::Of(const IpAddress& address, int prefix_length) {
  Cidr cidr;
  // Callers pass validated lengths; clamping keeps a bad one from masking outside the bytes.
  cidr.prefix_length_ = std::clamp(prefix_length, 0, address.max_prefix());
  cidr.network_ = IpAddress::FromBytes(
      address.family(), MaskBytes(address.bytes(), prefix_length, address.max_prefix()).data());
  return cidr;
}

bool Cidr::Contains(const IpAddress& address) const {
  return address.family() == family() &&
         MaskBytes(address.bytes(), prefix_length_, address.max_prefix()) == network_.bytes();
}

bool Cidr::Contains(const Cidr& other) const {
  return other.family() == family() && other.prefix_length_ >= prefix_length_ &&
         Contains(other.network_);
}

bool Cidr::Overlaps(const Cidr& other) const {
  return Contains(other) || other.Contains(*this);
}

IpAddress Cidr::Host(std::uint32_t n) const {
  auto bytes = network_.bytes();
  const int last = network_.is_v4() ? 3 : 15;
  std::uint64_t carry = n;
  for (int i = last; i >= 0 && carry != 0; --i) {
    carry += bytes[i];
    bytes[i] = static_cast<std::uint8_t>(carry & 0xff);
    carry >>= 8;
  }
  return IpAddress::FromBytes(family(), bytes.data());
}

std::string Cidr::ToString() const {
  return network_.ToString() + "/" + std::to_string(prefix_length_);
}

std::vector<std::string> CidrStrings(const std::vector<Cidr>& cidrs) {
  std::vector<std::string> strings;
  strings.reserve(cidrs.size());
  for (const auto& cidr : cidrs) strings.push_back(cidr.ToString());
  return strings;
}

}  // namespace dind
