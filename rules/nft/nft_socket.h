// SPDX-License-Identifier: Apache-2.0
// A netlink socket to nf_tables (libmnl): requests with replies, and batches with one ACK per
// operation. It only moves bytes; what they mean is nft_messages.h's business.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/nft/nft_messages.h"

struct mnl_socket;
struct nlmsghdr;

namespace dind::rules::nft {

// How the kernel answered a batch: the first operation it refused, if any.
struct BatchOutcome {
  bool ok = true;
  std::optional<std::size_t> failed_op;  // index into the batch's ops; empty: the whole batch
  int errnum = 0;
  std::string kernel_message;  // extended ACK text, when the kernel gave one
};

class NftSocket {
 public:
  // Opens and binds a NETLINK_NETFILTER socket in the calling thread's network namespace.
  static Result<NftSocket> Open();
  NftSocket(NftSocket&& other) noexcept;
  NftSocket& operator=(NftSocket&& other) noexcept;
  ~NftSocket();

  // Sequence numbers for the next `count` messages.
  std::uint32_t ReserveSeq(std::uint32_t count);
  // Sends a request (dump or NLM_F_ACK get) and hands each reply message to `on_message`
  // until the dump or ACK ends. Returns errno-carrying Errors; EINTR means "dump interrupted".
  Status Request(const std::vector<char>& request, std::uint32_t seq,
                 const std::function<Status(const nlmsghdr*)>& on_message);
  // Sends the batch and collects the ACK of every operation in it.
  Result<BatchOutcome> Commit(const NftBatch& batch);

  int fd() const;

 private:
  NftSocket(mnl_socket* socket, std::uint32_t port_id);
  Status Send(const std::vector<char>& bytes);

  mnl_socket* socket_ = nullptr;
  std::uint32_t port_id_ = 0;
  std::uint32_t next_seq_ = 0;
  std::vector<char> receive_buffer_;
};

}  // namespace dind::rules::nft
