// SPDX-License-Identifier: Apache-2.0
#include "rules/legacy/masquerade_entry.h"

// glibc's netinet/in.h first: it tells the kernel headers not to define in6_addr again.
#include <netinet/in.h>
// The kernel's own layouts; libiptc is not needed to build or read entries.
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

namespace dind::rules::legacy {
namespace {

constexpr std::string_view kMasqueradeTarget = "MASQUERADE";

// What differs between ip_tables and ip6_tables; the field names inside ipt_ip and ip6t_ip6 are
// the same, so the code below is written once over these traits.
struct V4 {
  using Entry = ipt_entry;
  using Match = ipt_ip;
  // iptables' libipt_MASQUERADE (revision 0) stores one empty range.
  using Data = nf_nat_ipv4_multi_range_compat;
  static Match& Ip(Entry& entry) { return entry.ip; }
  static const Match& Ip(const Entry& entry) { return entry.ip; }
  static Data MasqueradeData() {
    Data data{};
    data.rangesize = 1;
    return data;
  }
  static bool ExtraFieldsZero(const Match&) { return true; }
};

struct V6 {
  using Entry = ip6t_entry;
  using Match = ip6t_ip6;
  // ip6tables' libip6t_MASQUERADE (revision 0) stores an empty nf_nat_range.
  using Data = nf_nat_range;
  static Match& Ip(Entry& entry) { return entry.ipv6; }
  static const Match& Ip(const Entry& entry) { return entry.ipv6; }
  static Data MasqueradeData() { return Data{}; }
  static bool ExtraFieldsZero(const Match& match) { return match.tos == 0; }
};

constexpr std::size_t AlignedTargetSize(std::size_t data_size) {
  return XT_ALIGN(sizeof(xt_entry_target)) + XT_ALIGN(data_size);
}

template <typename Field>
bool SameBytes(const Field& a, const Field& b) {
  return std::memcmp(&a, &b, sizeof(Field)) == 0;
}

// Compares every match field one by one, so struct padding never decides.
template <typename T>
bool SameMatch(const typename T::Match& a, const typename T::Match& b) {
  return SameBytes(a.src, b.src) && SameBytes(a.dst, b.dst) && SameBytes(a.smsk, b.smsk) &&
         SameBytes(a.dmsk, b.dmsk) && SameBytes(a.iniface, b.iniface) &&
         SameBytes(a.outiface, b.outiface) && SameBytes(a.iniface_mask, b.iniface_mask) &&
         SameBytes(a.outiface_mask, b.outiface_mask) && a.proto == b.proto && a.flags == b.flags &&
         a.invflags == b.invflags && T::ExtraFieldsZero(a) && T::ExtraFieldsZero(b);
}

// The match part of `-s source -o out_interface`, as iptables' xtables_parse_interface and
// address parsing fill it in.
template <typename T>
void FillMatch(typename T::Match& match, const Cidr& source, std::string_view out_interface) {
  const auto& network = source.network().bytes();
  std::memcpy(&match.src, network.data(), sizeof(match.src));
  std::array<std::uint8_t, 16> mask{};
  for (int bit = 0; bit < source.prefix_length(); ++bit) {
    mask[bit / 8] = static_cast<std::uint8_t>(mask[bit / 8] | (0x80u >> (bit % 8)));
  }
  std::memcpy(&match.smsk, mask.data(), sizeof(match.smsk));

  std::memset(match.outiface, 0, sizeof(match.outiface));
  std::memset(match.outiface_mask, 0, sizeof(match.outiface_mask));
  std::memcpy(match.outiface, out_interface.data(), out_interface.size());
  if (out_interface.back() == '+') {
    // "eth+" matches by prefix: the '+' stays in the name but not in the mask.
    std::memset(match.outiface_mask, 0xff, out_interface.size() - 1);
  } else {
    // The terminating NUL is part of the match, so "eth0" does not match "eth01".
    std::memset(match.outiface_mask, 0xff, out_interface.size() + 1);
  }
}

template <typename T>
EntryBytes BuildEntry(const typename T::Entry& head, std::string_view target_name,
                      std::uint8_t revision, const void* data, std::size_t data_size) {
  using Entry = typename T::Entry;
  const std::size_t target_size = AlignedTargetSize(data_size);
  EntryBytes bytes(sizeof(Entry) + target_size, 0);

  Entry entry;
  std::memcpy(&entry, &head, sizeof(Entry));
  entry.target_offset = static_cast<std::uint16_t>(sizeof(Entry));
  entry.next_offset = static_cast<std::uint16_t>(sizeof(Entry) + target_size);
  std::memcpy(bytes.data(), &entry, sizeof(Entry));

  xt_entry_target target;
  std::memset(&target, 0, sizeof(target));
  target.u.user.target_size = static_cast<std::uint16_t>(target_size);
  std::memcpy(target.u.user.name, target_name.data(),
              std::min(target_name.size(), sizeof(target.u.user.name) - 1));
  target.u.user.revision = revision;
  std::memcpy(bytes.data() + sizeof(Entry), &target, sizeof(target));
  std::memcpy(bytes.data() + sizeof(Entry) + sizeof(xt_entry_target), data, data_size);
  return bytes;
}

template <typename T>
typename T::Entry ZeroEntry() {
  typename T::Entry entry;
  std::memset(&entry, 0, sizeof(entry));
  return entry;
}

template <typename T>
EntryBytes BuildMasquerade(const Cidr& source, std::string_view out_interface) {
  auto head = ZeroEntry<T>();
  FillMatch<T>(T::Ip(head), source, out_interface);
  const typename T::Data data = T::MasqueradeData();
  return BuildEntry<T>(head, kMasqueradeTarget, 0, &data, sizeof(data));
}

template <typename T>
EntryBytes BuildJump(std::string_view chain) {
  // A jump is a standard target whose name is the chain; libiptc turns the name into the
  // chain's offset when it commits.
  const int verdict = 0;
  return BuildEntry<T>(ZeroEntry<T>(), chain, 0, &verdict, sizeof(verdict));
}

// The prefix length of a contiguous netmask, or nullopt for masks like 255.0.255.0.
std::optional<int> PrefixLength(const std::uint8_t* mask, std::size_t size) {
  int prefix = 0;
  std::size_t i = 0;
  for (; i < size && mask[i] == 0xff; ++i) prefix += 8;
  if (i < size) {
    const std::uint8_t partial = mask[i];
    int ones = 0;
    while (ones < 8 && (partial & (0x80u >> ones)) != 0) ++ones;
    if (static_cast<std::uint8_t>(partial << ones) != 0) return std::nullopt;
    prefix += ones;
    for (++i; i < size; ++i) {
      if (mask[i] != 0) return std::nullopt;
    }
  }
  return prefix;
}

// Copies the fixed head out of the bytes (they need not be aligned); false when truncated or
// when its offsets point outside the bytes. (The head ends in a flexible array member, so it
// cannot live in a std::optional.)
template <typename T>
bool ReadHead(EntryView view, typename T::Entry& entry) {
  if (view.size() < sizeof(typename T::Entry)) return false;
  std::memcpy(&entry, view.data(), sizeof(entry));
  return entry.target_offset >= sizeof(entry) && entry.next_offset <= view.size() &&
         entry.target_offset <= entry.next_offset;
}

template <typename T>
std::optional<InstalledRule> ParseMasquerade(Family family, EntryView view) {
  using Entry = typename T::Entry;
  constexpr std::size_t kTargetSize = AlignedTargetSize(sizeof(typename T::Data));
  Entry head;
  if (!ReadHead<T>(view, head) || head.target_offset != sizeof(Entry) ||
      head.next_offset != sizeof(Entry) + kTargetSize) {
    return std::nullopt;
  }

  xt_entry_target target;
  std::memcpy(&target, view.data() + sizeof(Entry), sizeof(target));
  const std::string_view name(target.u.user.name,
                              strnlen(target.u.user.name, sizeof(target.u.user.name)));
  if (target.u.user.target_size != kTargetSize || name != kMasqueradeTarget ||
      target.u.user.revision != 0) {
    return std::nullopt;
  }
  typename T::Data data;
  std::memcpy(&data, view.data() + sizeof(Entry) + sizeof(xt_entry_target), sizeof(data));
  const typename T::Data plain = T::MasqueradeData();
  if (std::memcmp(&data, &plain, sizeof(data)) != 0) return std::nullopt;

  // Read source and interface out of the match, then require the whole match to be exactly
  // what we would build from them: anything else (-d, -i, -p, '!') is not our rule.
  const auto& match = T::Ip(head);
  const auto prefix =
      PrefixLength(reinterpret_cast<const std::uint8_t*>(&match.smsk), sizeof(match.smsk));
  const std::size_t name_length = strnlen(match.outiface, sizeof(match.outiface));
  if (!prefix || name_length == sizeof(match.outiface)) return std::nullopt;
  const std::string out_interface(match.outiface, name_length);
  if (!ValidateOutInterface(out_interface).ok()) return std::nullopt;
  const Cidr source = Cidr::Of(IpAddress::FromBytes(family, &match.src), *prefix);

  auto expected = ZeroEntry<T>();
  FillMatch<T>(T::Ip(expected), source, out_interface);
  if (!SameMatch<T>(match, T::Ip(expected))) return std::nullopt;

  InstalledRule rule;
  rule.source = source;
  rule.out_interface = out_interface;
  rule.packets = head.counters.pcnt;
  rule.bytes = head.counters.bcnt;
  return rule;
}

template <typename T>
bool Unconditional(EntryView view) {
  typename T::Entry head;
  if (!ReadHead<T>(view, head) || head.target_offset != sizeof(typename T::Entry)) return false;
  const auto zero = ZeroEntry<T>();
  return SameMatch<T>(T::Ip(head), T::Ip(zero));
}

}  // namespace

Status ValidateOutInterface(std::string_view name) {
  constexpr std::size_t kMaxLength = IFNAMSIZ - 1;
  if (name.empty() || name.size() > kMaxLength) {
    return Error::BadInput("out interface '" + std::string(name) + "' must have 1 to " +
                               std::to_string(kMaxLength) + " characters",
                           "pass the name of the pod's uplink, e.g. eth0");
  }
  const bool bad_character = std::any_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\0';
  });
  if (bad_character) {
    return Error::BadInput("out interface '" + std::string(name) +
                               "' contains '/', whitespace or NUL, which the kernel rejects",
                           "pass the interface name as `ip link` shows it");
  }
  return OkStatus();
}

Result<EntryBytes> BuildMasqueradeEntry(const Cidr& source, std::string_view out_interface) {
  DIND_RETURN_IF_ERROR(ValidateOutInterface(out_interface));
  return source.family() == Family::kIPv4 ? BuildMasquerade<V4>(source, out_interface)
                                          : BuildMasquerade<V6>(source, out_interface);
}

EntryBytes BuildJumpEntry(Family family, std::string_view chain) {
  return family == Family::kIPv4 ? BuildJump<V4>(chain) : BuildJump<V6>(chain);
}

std::optional<InstalledRule> ParseMasqueradeEntry(Family family, EntryView entry) {
  return family == Family::kIPv4 ? ParseMasquerade<V4>(family, entry)
                                 : ParseMasquerade<V6>(family, entry);
}

bool IsUnconditional(Family family, EntryView entry) {
  return family == Family::kIPv4 ? Unconditional<V4>(entry) : Unconditional<V6>(entry);
}

}  // namespace dind::rules::legacy
