// SPDX-License-Identifier: Apache-2.0
// The only file that calls libiptc. Everything above it sees NatTable.
#include "rules/legacy/iptc_nat_tables.h"

#include <libiptc/libiptc.h>
// libip6tc.h, unlike libiptc.h, has no extern "C" block of its own.
extern "C" {
#include <libiptc/libip6tc.h>
}

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "common/files.h"
#include "common/scoped_fd.h"

namespace dind::rules::legacy {
namespace {

// libiptc and libip6tc are the same library compiled twice; these traits pick one.
struct Ip4tc {
  using Entry = ipt_entry;
  static constexpr Family kFamily = Family::kIPv4;
  // thread-self: the namespace of this thread, which is what libiptc's socket will use.
  static constexpr const char* kNamesFile = "/proc/thread-self/net/ip_tables_names";
  static xtc_handle* Init(const char* table) { return iptc_init(table); }
  static void Free(xtc_handle* handle) { iptc_free(handle); }
  static bool IsChain(const char* chain, xtc_handle* handle) {
    return iptc_is_chain(chain, handle) != 0;
  }
  static const char* FirstChain(xtc_handle* handle) { return iptc_first_chain(handle); }
  static const char* NextChain(xtc_handle* handle) { return iptc_next_chain(handle); }
  static const Entry* FirstRule(const char* chain, xtc_handle* handle) {
    return iptc_first_rule(chain, handle);
  }
  static const Entry* NextRule(const Entry* previous, xtc_handle* handle) {
    return iptc_next_rule(previous, handle);
  }
  static const char* Target(const Entry* entry, xtc_handle* handle) {
    return iptc_get_target(entry, handle);
  }
  static int CreateChain(const char* chain, xtc_handle* handle) {
    return iptc_create_chain(chain, handle);
  }
  static int DeleteChain(const char* chain, xtc_handle* handle) {
    return iptc_delete_chain(chain, handle);
  }
  static int Append(const char* chain, const Entry* entry, xtc_handle* handle) {
    return iptc_append_entry(chain, entry, handle);
  }
  static int DeleteNumbered(const char* chain, unsigned index, xtc_handle* handle) {
    return iptc_delete_num_entry(chain, index, handle);
  }
  static int Commit(xtc_handle* handle) { return iptc_commit(handle); }
};

struct Ip6tc {
  using Entry = ip6t_entry;
  static constexpr Family kFamily = Family::kIPv6;
  static constexpr const char* kNamesFile = "/proc/thread-self/net/ip6_tables_names";
  static xtc_handle* Init(const char* table) { return ip6tc_init(table); }
  static void Free(xtc_handle* handle) { ip6tc_free(handle); }
  static bool IsChain(const char* chain, xtc_handle* handle) {
    return ip6tc_is_chain(chain, handle) != 0;
  }
  static const char* FirstChain(xtc_handle* handle) { return ip6tc_first_chain(handle); }
  static const char* NextChain(xtc_handle* handle) { return ip6tc_next_chain(handle); }
  static const Entry* FirstRule(const char* chain, xtc_handle* handle) {
    return ip6tc_first_rule(chain, handle);
  }
  static const Entry* NextRule(const Entry* previous, xtc_handle* handle) {
    return ip6tc_next_rule(previous, handle);
  }
  static const char* Target(const Entry* entry, xtc_handle* handle) {
    return ip6tc_get_target(entry, handle);
  }
  static int CreateChain(const char* chain, xtc_handle* handle) {
    return ip6tc_create_chain(chain, handle);
  }
  static int DeleteChain(const char* chain, xtc_handle* handle) {
    return ip6tc_delete_chain(chain, handle);
  }
  static int Append(const char* chain, const Entry* entry, xtc_handle* handle) {
    return ip6tc_append_entry(chain, entry, handle);
  }
  static int DeleteNumbered(const char* chain, unsigned index, xtc_handle* handle) {
    return ip6tc_delete_num_entry(chain, index, handle);
  }
  static int Commit(xtc_handle* handle) { return ip6tc_commit(handle); }
};

std::string FamilyName(Family family) {
  return family == Family::kIPv4 ? "IPv4" : "IPv6";
}

template <typename Tc>
class IptcNatTable final : public NatTable {
 public:
  IptcNatTable(xtc_handle* handle, LegacyTable table) : handle_(handle), table_(table) {}
  ~IptcNatTable() override { Tc::Free(handle_); }
  IptcNatTable(const IptcNatTable&) = delete;
  IptcNatTable& operator=(const IptcNatTable&) = delete;

  Family family() const override { return Tc::kFamily; }

  std::vector<std::string> Chains() const override {
    std::vector<std::string> chains;
    for (const char* chain = Tc::FirstChain(handle_); chain != nullptr;
         chain = Tc::NextChain(handle_)) {
      chains.emplace_back(chain);
    }
    return chains;
  }

  bool HasChain(std::string_view chain) const override {
    return Tc::IsChain(std::string(chain).c_str(), handle_);
  }

  std::vector<NatRule> Rules(std::string_view chain) const override {
    const std::string name(chain);
    std::vector<NatRule> rules;
    if (!Tc::IsChain(name.c_str(), handle_)) return rules;
    for (const auto* entry = Tc::FirstRule(name.c_str(), handle_); entry != nullptr;
         entry = Tc::NextRule(entry, handle_)) {
      rules.push_back(
          NatRule{Tc::Target(entry, handle_),
                  EntryView(reinterpret_cast<const std::uint8_t*>(entry), entry->next_offset)});
    }
    return rules;
  }

  Status CreateChain(std::string_view chain) override {
    return Check(Tc::CreateChain(std::string(chain).c_str(), handle_),
                 "creating chain " + std::string(chain));
  }

  Status DeleteChain(std::string_view chain) override {
    return Check(Tc::DeleteChain(std::string(chain).c_str(), handle_),
                 "deleting chain " + std::string(chain));
  }

  Status AppendRule(std::string_view chain, EntryView entry) override {
    // libiptc copies the entry; the bytes come from a std::vector, so they are aligned.
    return Check(Tc::Append(std::string(chain).c_str(),
                            reinterpret_cast<const typename Tc::Entry*>(entry.data()), handle_),
                 "adding a rule to chain " + std::string(chain));
  }

  Status DeleteRule(std::string_view chain, unsigned index) override {
    return Check(Tc::DeleteNumbered(std::string(chain).c_str(), index, handle_),
                 "deleting rule " + std::to_string(index + 1) + " of chain " + std::string(chain));
  }

  Status Commit() override { return Check(Tc::Commit(handle_), "committing"); }

 private:
  Status Check(int ok, const std::string& action) const {
    if (ok != 0) return OkStatus();
    return NatTableError(Tc::kFamily, table_,
                         action + " in the " + FamilyName(Tc::kFamily) + " " +
                             std::string(TableName(table_)) + " table",
                         errno);
  }

  xtc_handle* handle_;
  LegacyTable table_;
};

class IptcNatTables final : public NatTables {
 public:
  Result<bool> Exists(Family family, LegacyTable table) override {
    const std::string path = family == Family::kIPv4 ? Ip4tc::kNamesFile : Ip6tc::kNamesFile;
    auto names = ReadFile(path);
    if (names.ok()) return TableNamesList(*names, TableName(table));
    // No file: the ip_tables module is not loaded, so no legacy table exists either.
    if (names.error().errnum == ENOENT) return false;
    return NatTableError(family, table, "reading " + path, names.error().errnum);
  }

  Result<std::unique_ptr<NatTable>> Open(Family family, LegacyTable table) override {
    return family == Family::kIPv4 ? OpenWith<Ip4tc>(table) : OpenWith<Ip6tc>(table);
  }

  Result<std::uint64_t> Stamp(Family family, LegacyTable table) override {
    return family == Family::kIPv4
               ? StampOf<ipt_getinfo>(AF_INET, IPPROTO_IP, IPT_SO_GET_INFO, table)
               : StampOf<ip6t_getinfo>(AF_INET6, IPPROTO_IPV6, IP6T_SO_GET_INFO, table);
  }

 private:
  // The table's header only (IPT_SO_GET_INFO): microseconds, where a snapshot of 50,000 rules
  // takes tens of milliseconds.
  template <typename Info>
  static Result<std::uint64_t> StampOf(int domain, int level, int option, LegacyTable table) {
    const ScopedFd socket(::socket(domain, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    const Family family = domain == AF_INET ? Family::kIPv4 : Family::kIPv6;
    if (!socket.valid()) return NatTableError(family, table, "opening a raw socket", errno);
    const std::string name(TableName(table));
    Info info{};
    std::snprintf(info.name, sizeof(info.name), "%s", name.c_str());
    socklen_t length = sizeof(info);
    if (::getsockopt(socket.get(), level, option, &info, &length) != 0) {
      return NatTableError(family, table, "reading the " + name + " table's header", errno);
    }
    // FNV-1a over the fields that move when any rule is added, deleted or moved.
    std::uint64_t stamp = 1469598103934665603ULL;
    const auto mix = [&stamp](std::uint64_t value) { stamp = (stamp ^ value) * 1099511628211ULL; };
    mix(info.num_entries);
    mix(info.size);
    for (unsigned offset : info.hook_entry) mix(offset);
    for (unsigned offset : info.underflow) mix(offset);
    return stamp;
  }

  template <typename Tc>
  static Result<std::unique_ptr<NatTable>> OpenWith(LegacyTable table) {
    const std::string name(TableName(table));
    // iptc_init retries by itself when the table changes between its two reads.
    xtc_handle* handle = Tc::Init(name.c_str());
    if (handle == nullptr) {
      return NatTableError(Tc::kFamily, table,
                           "reading the " + FamilyName(Tc::kFamily) + " " + name + " table", errno);
    }
    return std::unique_ptr<NatTable>(std::make_unique<IptcNatTable<Tc>>(handle, table));
  }
};

}  // namespace

bool TableNamesList(std::string_view names_file_text, std::string_view table) {
  while (!names_file_text.empty()) {
    const auto end = names_file_text.find('\n');
    if (names_file_text.substr(0, end) == table) return true;
    if (end == std::string_view::npos) break;
    names_file_text.remove_prefix(end + 1);
  }
  return false;
}

std::unique_ptr<NatTables> MakeIptcNatTables() {
  return std::make_unique<IptcNatTables>();
}

}  // namespace dind::rules::legacy
