// SPDX-License-Identifier: Apache-2.0
#include "rules/legacy/masquerade_entry.h"

// glibc's netinet/in.h first: it tells the kernel headers not to define in6_addr again.
#include <netinet/in.h>
// The kernel's own layouts; libiptc is not needed to build or read entries.
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_TCPMSS.h>
#include <linux/netfilter/xt_tcpmss.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

namespace dind::rules::legacy {
namespace {

constexpr std::string_view kMasqueradeTarget = "MASQUERADE";
constexpr std::string_view kTcpMatch = "tcp";
constexpr std::string_view kTcpmssMatch = "tcpmss";
constexpr std::string_view kTcpmssTarget = "TCPMSS";
// TCP header flag bits as xt_tcp compares them.
constexpr std::uint8_t kTcpFlagSyn = 0x02;
constexpr std::uint8_t kTcpFlagRst = 0x04;

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
  // `-p tcp` sets only the protocol number.
  static std::uint8_t ProtoFlags() { return 0; }
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
  // ip6tables' `-p tcp` also sets IP6T_F_PROTO: without it the kernel never looks for the TCP
  // header behind extension headers and the tcp match reads the wrong bytes.
  static std::uint8_t ProtoFlags() { return IP6T_F_PROTO; }
};

constexpr std::size_t AlignedTargetSize(std::size_t data_size) {
  return XT_ALIGN(sizeof(xt_entry_target)) + XT_ALIGN(data_size);
}
constexpr std::size_t AlignedMatchSize(std::size_t data_size) {
  return XT_ALIGN(sizeof(xt_entry_match)) + XT_ALIGN(data_size);
}

// The two matches of a clamp rule, in the order iptables adds them (-p tcp's implicit
// `-m tcp`, then `-m tcpmss`), and their total size.
constexpr std::size_t kClampMatchesSize =
    AlignedMatchSize(sizeof(xt_tcp)) + AlignedMatchSize(sizeof(xt_tcpmss_match_info));

// Writes an xt_entry_match with `data` at `at`, which has room for AlignedMatchSize(size) zeros.
void WriteMatch(std::uint8_t* at, std::string_view name, const void* data, std::size_t size) {
  const std::size_t match_size = AlignedMatchSize(size);
  xt_entry_match match;
  std::memset(&match, 0, sizeof(match));
  match.u.user.match_size = static_cast<std::uint16_t>(match_size);
  std::memcpy(match.u.user.name, name.data(), std::min(name.size(), sizeof(match.u.user.name) - 1));
  match.u.user.revision = 0;
  std::memcpy(at, &match, sizeof(match));
  std::memcpy(at + sizeof(xt_entry_match), data, size);
}

// `-m tcp --tcp-flags SYN,RST SYN -m tcpmss --mss MSS+1:65535`. The structs are filled in
// place after a memset, never returned by value, so their padding bytes stay zero.
EntryBytes ClampMatches(std::uint16_t mss) {
  xt_tcp tcp;
  std::memset(&tcp, 0, sizeof(tcp));
  tcp.spts[1] = 0xffff;  // every port, as libxt_tcp's init leaves them
  tcp.dpts[1] = 0xffff;
  tcp.flg_mask = kTcpFlagSyn | kTcpFlagRst;
  tcp.flg_cmp = kTcpFlagSyn;

  xt_tcpmss_match_info info;
  std::memset(&info, 0, sizeof(info));
  info.mss_min = static_cast<std::uint16_t>(mss + 1);  // only SYNs that offer more than MSS
  info.mss_max = 0xffff;

  EntryBytes matches(kClampMatchesSize, 0);
  WriteMatch(matches.data(), kTcpMatch, &tcp, sizeof(tcp));
  WriteMatch(matches.data() + AlignedMatchSize(sizeof(tcp)), kTcpmssMatch, &info, sizeof(info));
  return matches;
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

// A network address and its prefix mask, as iptables' address parsing stores them.
template <typename Address>
void FillAddress(Address& address, Address& mask_out, const Cidr& cidr) {
  const auto& network = cidr.network().bytes();
  std::memcpy(&address, network.data(), sizeof(address));
  std::array<std::uint8_t, 16> mask{};
  for (int bit = 0; bit < cidr.prefix_length(); ++bit) {
    mask[bit / 8] = static_cast<std::uint8_t>(mask[bit / 8] | (0x80u >> (bit % 8)));
  }
  std::memcpy(&mask_out, mask.data(), sizeof(mask_out));
}

// The match part of `-s source -o out_interface`, as iptables' xtables_parse_interface and
// address parsing fill it in.
template <typename T>
void FillMatch(typename T::Match& match, const Cidr& source, std::string_view out_interface) {
  FillAddress(match.src, match.smsk, source);

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

// head, then `matches` (whole xt_entry_match records, possibly none), then the target.
template <typename T>
EntryBytes BuildEntry(const typename T::Entry& head, const EntryBytes& matches,
                      std::string_view target_name, std::uint8_t revision, const void* data,
                      std::size_t data_size) {
  using Entry = typename T::Entry;
  const std::size_t target_offset = sizeof(Entry) + matches.size();
  const std::size_t target_size = AlignedTargetSize(data_size);
  EntryBytes bytes(target_offset + target_size, 0);

  Entry entry;
  std::memcpy(&entry, &head, sizeof(Entry));
  entry.target_offset = static_cast<std::uint16_t>(target_offset);
  entry.next_offset = static_cast<std::uint16_t>(target_offset + target_size);
  std::memcpy(bytes.data(), &entry, sizeof(Entry));
  if (!matches.empty()) std::memcpy(bytes.data() + sizeof(Entry), matches.data(), matches.size());

  xt_entry_target target;
  std::memset(&target, 0, sizeof(target));
  target.u.user.target_size = static_cast<std::uint16_t>(target_size);
  std::memcpy(target.u.user.name, target_name.data(),
              std::min(target_name.size(), sizeof(target.u.user.name) - 1));
  target.u.user.revision = revision;
  std::memcpy(bytes.data() + target_offset, &target, sizeof(target));
  std::memcpy(bytes.data() + target_offset + sizeof(xt_entry_target), data, data_size);
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
  return BuildEntry<T>(head, {}, kMasqueradeTarget, 0, &data, sizeof(data));
}

// The header of the match at `at` in `view`: its size and name, compared as a string because
// the kernel hands back only the name and its NUL, the rest of the field being whatever was in
// the buffer before.
bool MatchHeaderIs(EntryView view, std::size_t at, std::string_view name, std::size_t data_size) {
  xt_entry_match header;
  std::memcpy(&header, view.data() + at, sizeof(header));
  const std::string_view found(header.u.user.name,
                               strnlen(header.u.user.name, sizeof(header.u.user.name)));
  return header.u.user.match_size == AlignedMatchSize(data_size) && found == name &&
         header.u.user.revision == 0;
}

// Whether `matches` (exactly kClampMatchesSize bytes) are the two matches ClampMatches(mss)
// builds, compared field by field so padding never decides.
bool SameClampMatches(EntryView matches, std::uint16_t mss) {
  const EntryBytes built = ClampMatches(mss);
  if (!MatchHeaderIs(matches, 0, kTcpMatch, sizeof(xt_tcp))) return false;
  xt_tcp tcp;
  xt_tcp want_tcp;
  std::memcpy(&tcp, matches.data() + sizeof(xt_entry_match), sizeof(tcp));
  std::memcpy(&want_tcp, built.data() + sizeof(xt_entry_match), sizeof(want_tcp));
  if (tcp.spts[0] != want_tcp.spts[0] || tcp.spts[1] != want_tcp.spts[1] ||
      tcp.dpts[0] != want_tcp.dpts[0] || tcp.dpts[1] != want_tcp.dpts[1] ||
      tcp.option != want_tcp.option || tcp.flg_mask != want_tcp.flg_mask ||
      tcp.flg_cmp != want_tcp.flg_cmp || tcp.invflags != want_tcp.invflags) {
    return false;
  }
  const std::size_t mss_at = AlignedMatchSize(sizeof(xt_tcp));
  if (!MatchHeaderIs(matches, mss_at, kTcpmssMatch, sizeof(xt_tcpmss_match_info))) return false;
  xt_tcpmss_match_info range;
  xt_tcpmss_match_info want_range;
  std::memcpy(&range, matches.data() + mss_at + sizeof(xt_entry_match), sizeof(range));
  std::memcpy(&want_range, built.data() + mss_at + sizeof(xt_entry_match), sizeof(want_range));
  return range.mss_min == want_range.mss_min && range.mss_max == want_range.mss_max &&
         range.invert == want_range.invert;
}

// The head of `-s|-d network -p tcp`, filled in place (see ClampMatches).
template <typename T>
void FillClampHead(typename T::Entry& head, const Cidr& network, ClampDirection direction) {
  std::memset(&head, 0, sizeof(head));
  auto& match = T::Ip(head);
  if (direction == ClampDirection::kFromNetwork) {
    FillAddress(match.src, match.smsk, network);
  } else {
    FillAddress(match.dst, match.dmsk, network);
  }
  match.proto = IPPROTO_TCP;
  match.flags = T::ProtoFlags();
}

template <typename T>
EntryBytes BuildClamp(const Cidr& network, ClampDirection direction, std::uint16_t mss) {
  xt_tcpmss_info info;
  std::memset(&info, 0, sizeof(info));
  info.mss = mss;
  typename T::Entry head;
  FillClampHead<T>(head, network, direction);
  return BuildEntry<T>(head, ClampMatches(mss), kTcpmssTarget, 0, &info, sizeof(info));
}

template <typename T>
EntryBytes BuildJump(std::string_view chain) {
  // A jump is a standard target whose name is the chain; libiptc turns the name into the
  // chain's offset when it commits.
  const int verdict = 0;
  return BuildEntry<T>(ZeroEntry<T>(), {}, chain, 0, &verdict, sizeof(verdict));
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
std::optional<ClampEntry> ParseClamp(Family family, EntryView view) {
  using Entry = typename T::Entry;
  constexpr std::size_t kTargetOffset = sizeof(Entry) + kClampMatchesSize;
  constexpr std::size_t kTargetSize = AlignedTargetSize(sizeof(xt_tcpmss_info));
  Entry head;
  if (!ReadHead<T>(view, head) || head.target_offset != kTargetOffset ||
      head.next_offset != kTargetOffset + kTargetSize) {
    return std::nullopt;
  }

  xt_entry_target target;
  std::memcpy(&target, view.data() + kTargetOffset, sizeof(target));
  const std::string_view name(target.u.user.name,
                              strnlen(target.u.user.name, sizeof(target.u.user.name)));
  if (target.u.user.target_size != kTargetSize || name != kTcpmssTarget ||
      target.u.user.revision != 0) {
    return std::nullopt;
  }
  xt_tcpmss_info info;
  std::memcpy(&info, view.data() + kTargetOffset + sizeof(xt_entry_target), sizeof(info));
  if (info.mss < kMinimumRuleMss || info.mss > kMaximumRuleMss) return std::nullopt;

  // Which address carries the network: exactly one of source and destination has a mask.
  const auto& match = T::Ip(head);
  const auto source_prefix =
      PrefixLength(reinterpret_cast<const std::uint8_t*>(&match.smsk), sizeof(match.smsk));
  const auto destination_prefix =
      PrefixLength(reinterpret_cast<const std::uint8_t*>(&match.dmsk), sizeof(match.dmsk));
  if (!source_prefix || !destination_prefix) return std::nullopt;
  const bool from = *destination_prefix == 0;
  const Cidr network =
      from ? Cidr::Of(IpAddress::FromBytes(family, &match.src), *source_prefix)
           : Cidr::Of(IpAddress::FromBytes(family, &match.dst), *destination_prefix);
  const ClampDirection direction = from ? ClampDirection::kFromNetwork : ClampDirection::kToNetwork;

  // Everything else must be what we would build for (network, direction, mss): the head and
  // both matches field by field, so `-i`, '!', other ports or flags are not ours.
  Entry expected;
  FillClampHead<T>(expected, network, direction);
  if (!SameMatch<T>(match, T::Ip(expected))) return std::nullopt;
  if (!SameClampMatches(view.subspan(sizeof(Entry), kClampMatchesSize), info.mss)) {
    return std::nullopt;
  }

  ClampEntry clamp;
  clamp.network = network;
  clamp.direction = direction;
  clamp.mss = info.mss;
  clamp.packets = head.counters.pcnt;
  clamp.bytes = head.counters.bcnt;
  return clamp;
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

Result<EntryBytes> BuildClampEntry(const Cidr& network, ClampDirection direction,
                                   std::uint16_t mss) {
  if (mss < kMinimumRuleMss || mss > kMaximumRuleMss) {
    return Error::BadInput("MSS clamp " + std::to_string(mss) + " for " + network.ToString() +
                           " is outside " + std::to_string(kMinimumRuleMss) + ".." +
                           std::to_string(kMaximumRuleMss));
  }
  return network.family() == Family::kIPv4 ? BuildClamp<V4>(network, direction, mss)
                                           : BuildClamp<V6>(network, direction, mss);
}

std::optional<ClampEntry> ParseClampEntry(Family family, EntryView entry) {
  return family == Family::kIPv4 ? ParseClamp<V4>(family, entry) : ParseClamp<V6>(family, entry);
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
