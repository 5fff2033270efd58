// SPDX-License-Identifier: Apache-2.0
// The --listen flag of the health endpoint: "ADDR:PORT" with an IPv4 address, "[ADDR]:PORT" with
// an IPv6 one. Pure; the server binds what this returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/cidr.h"
#include "common/result.h"

namespace dind::http {

inline constexpr std::string_view kDefaultListenAddress = "0.0.0.0:9254";

struct ListenAddress {
  IpAddress address;
  std::uint16_t port = 0;  // 0: any free port (tests)

  // "0.0.0.0:9254", "[::1]:9254": the form ParseListenAddress reads.
  std::string ToString() const;
  bool operator==(const ListenAddress&) const = default;
};

// Accepts "0.0.0.0:9254", "[::1]:9254", "[::]:9254" and ":9254" (all IPv4 addresses). Host
// names are refused: the endpoint binds to an address. Errors are kBadInput and name --listen.
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace dind::http
