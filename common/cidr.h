// SPDX-License-Identifier: Apache-2.0
// IPv4/IPv6 prefixes as values: parsing with errors that name the input, containment and
// overlap checks used by the address-pool choice and the masquerade sources.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dind {

enum class Family : std::uint8_t { kIPv4 = 4, kIPv6 = 6 };

class IpAddress {
 public:
  IpAddress() = default;
  static Result<IpAddress> Parse(std::string_view text);
  static IpAddress V4(std::uint32_t host_order);
  static IpAddress FromBytes(Family family, const void* bytes);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kIPv4; }
  // Network-order bytes; 4 meaningful bytes for IPv4, 16 for IPv6.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  std::uint32_t v4_host_order() const;
  int max_prefix() const { return is_v4() ? 32 : 128; }
  // fe80::/10: on every IPv6 link and never routed off it.
  bool is_ipv6_link_local() const {
    return !is_v4() && bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
  }
  std::string ToString() const;

  bool operator==(const IpAddress&) const = default;
  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::kIPv4;
  std::array<std::uint8_t, 16> bytes_{};
};

class Cidr {
 public:
  Cidr() = default;
  // Accepts "10.1.0.0/16", "fd00::/64", and a bare address as a host prefix. Host bits after the
  // prefix are cleared ("10.1.2.3/16" means 10.1.0.0/16), as iptables and dockerd do.
  static Result<Cidr> Parse(std::string_view text);
  // `prefix_length` outside 0..max_prefix() is clamped into it.
  static Cidr Of(const IpAddress& address, int prefix_length);

  const IpAddress& network() const { return network_; }
  int prefix_length() const { return prefix_length_; }
  Family family() const { return network_.family(); }

  bool Contains(const IpAddress& address) const;
  bool Contains(const Cidr& other) const;
  bool Overlaps(const Cidr& other) const;
  // The n-th address inside the prefix (1 = first host), e.g. the gateway for a bridge.
  IpAddress Host(std::uint32_t n) const;
  // The first half (10.1.0.0/17 of 10.1.0.0/16). Requires prefix_length() < max_prefix().
  Cidr LowerHalf() const { return Of(network_, prefix_length_ + 1); }
  std::string ToString() const;

  bool operator==(const Cidr&) const = default;
  auto operator<=>(const Cidr&) const = default;

 private:
  IpAddress network_;
  int prefix_length_ = 0;
};

// Each prefix as ToString() writes it, in order: for reports, logs and JSON arrays.
std::vector<std::string> CidrStrings(const std::vector<Cidr>& cidrs);

}  // namespace dind
