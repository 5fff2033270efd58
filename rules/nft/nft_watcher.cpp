// SPDX-License-Identifier: Apache-2.0
#include "rules/nft/nft_watcher.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "rules/nft/nft_model.h"

namespace dind::rules::nft {
namespace {

// NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, ... all equal 1.
constexpr std::uint16_t kTableNameAttribute = NFTA_TABLE_NAME;
static_assert(NFTA_CHAIN_TABLE == kTableNameAttribute && NFTA_RULE_TABLE == kTableNameAttribute &&
              NFTA_SET_TABLE == kTableNameAttribute &&
              NFTA_SET_ELEM_LIST_TABLE == kTableNameAttribute &&
              NFTA_OBJ_TABLE == kTableNameAttribute && NFTA_FLOWTABLE_TABLE == kTableNameAttribute);

constexpr std::size_t kReceiveBufferSize = 64 * 1024;

int FindTableName(const nlattr* attribute, void* data) {
  if (mnl_attr_get_type(attribute) == kTableNameAttribute &&
      mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) >= 0) {
    *static_cast<std::string*>(data) = mnl_attr_get_str(attribute);
    return MNL_CB_STOP;
  }
  return MNL_CB_OK;
}

}  // namespace

bool TouchesOurTable(const nlmsghdr* message) {
  if ((message->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) return false;
  const int kind = message->nlmsg_type & 0xff;
  if (kind == NFT_MSG_NEWGEN || kind == NFT_MSG_GETGEN) return false;
  if (message->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) return false;
  const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(message));
  std::string table;
  mnl_attr_parse(message, sizeof(nfgenmsg), FindTableName, &table);
  return IsOurTable(header->nfgen_family, table);
}

Result<NftChangeWatcher> NftChangeWatcher::Open() {
  mnl_socket* socket = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (socket == nullptr) {
    return Error::FromErrno("opening a netfilter netlink socket for nf_tables notifications");
  }
  if (mnl_socket_bind(socket, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
    Error error = Error::FromErrno("subscribing to nf_tables notifications (NFNLGRP_NFTABLES)",
                                   "the kernel needs CONFIG_NF_TABLES");
    mnl_socket_close(socket);
    return error;
  }
  return NftChangeWatcher(socket);
}

NftChangeWatcher::NftChangeWatcher(NftChangeWatcher&& other) noexcept
    : socket_(std::exchange(other.socket_, nullptr)) {}

NftChangeWatcher& NftChangeWatcher::operator=(NftChangeWatcher&& other) noexcept {
  if (this != &other) {
    if (socket_ != nullptr) mnl_socket_close(socket_);
    socket_ = std::exchange(other.socket_, nullptr);
  }
  return *this;
}

NftChangeWatcher::~NftChangeWatcher() {
  if (socket_ != nullptr) mnl_socket_close(socket_);
}

int NftChangeWatcher::fd() const {
  return mnl_socket_get_fd(socket_);
}

Result<bool> NftChangeWatcher::DrainEvents() {
  std::vector<char> buffer(kReceiveBufferSize);
  bool touched = false;
  while (true) {
    const ssize_t received = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return touched;
      if (errno == ENOBUFS) {  // the queue overflowed: assume the worst
        touched = true;
        continue;
      }
      if (errno == EINTR) continue;
      return Error::FromErrno("reading nf_tables notifications");
    }
    int remaining = static_cast<int>(received);
    for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data());
         mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
      if (TouchesOurTable(message)) touched = true;
    }
  }
}

}  // namespace dind::rules::nft
