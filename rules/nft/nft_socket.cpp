// SPDX-License-Identifier: Apache-2.0
#include "rules/nft/nft_socket.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <cerrno>
#include <map>
#include <utility>

namespace dind::rules::nft {
namespace {

// Dump replies come in skbs of up to 32 KiB; a bigger buffer never truncates one.
constexpr std::size_t kReceiveBufferSize = 64 * 1024;
// The kernel answers nf_tables requests synchronously; silence this long means a lost reply.
constexpr time_t kReplyTimeoutSeconds = 5;

struct RequestContext {
  const std::function<Status(const nlmsghdr*)>* on_message;
  std::optional<Error> error;
};

int OnReplyMessage(const nlmsghdr* message, void* data) {
  auto* context = static_cast<RequestContext*>(data);
  Status status = (*context->on_message)(message);
  if (status.ok()) return MNL_CB_OK;
  context->error = status.error();
  return MNL_CB_ERROR;
}

}  // namespace

Result<NftSocket> NftSocket::Open() {
  mnl_socket* socket = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (socket == nullptr) {
    return Error::FromErrno("opening a netfilter netlink socket for nf_tables",
                            "the kernel needs CONFIG_NETFILTER_NETLINK and CONFIG_NF_TABLES");
  }
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    Error error = Error::FromErrno("binding the nf_tables netlink socket");
    mnl_socket_close(socket);
    return error;
  }
  // Short ACKs with the kernel's explanation instead of an echo of our whole message.
  int one = 1;
  mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &one, sizeof(one));
  timeval timeout{kReplyTimeoutSeconds, 0};
  if (::setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) !=
      0) {
    Error error = Error::FromErrno("setting a receive timeout on the nf_tables socket");
    mnl_socket_close(socket);
    return error;
  }
  return NftSocket(socket, mnl_socket_get_portid(socket));
}

NftSocket::NftSocket(mnl_socket* socket, std::uint32_t port_id)
    : socket_(socket),
      port_id_(port_id),
      next_seq_(static_cast<std::uint32_t>(::time(nullptr))),
      receive_buffer_(kReceiveBufferSize) {}

NftSocket::NftSocket(NftSocket&& other) noexcept
    : socket_(std::exchange(other.socket_, nullptr)),
      port_id_(other.port_id_),
      next_seq_(other.next_seq_),
      receive_buffer_(std::move(other.receive_buffer_)) {}

NftSocket& NftSocket::operator=(NftSocket&& other) noexcept {
  if (this != &other) {
    if (socket_ != nullptr) mnl_socket_close(socket_);
    socket_ = std::exchange(other.socket_, nullptr);
    port_id_ = other.port_id_;
    next_seq_ = other.next_seq_;
    receive_buffer_ = std::move(other.receive_buffer_);
  }
  return *this;
}

NftSocket::~NftSocket() {
  if (socket_ != nullptr) mnl_socket_close(socket_);
}

int NftSocket::fd() const {
  return mnl_socket_get_fd(socket_);
}

std::uint32_t NftSocket::ReserveSeq(std::uint32_t count) {
  const std::uint32_t first = next_seq_;
  next_seq_ += count;
  return first;
}

Status NftSocket::Send(const std::vector<char>& bytes) {
  const ssize_t sent = mnl_socket_sendto(socket_, bytes.data(), bytes.size());
  if (sent < 0) return Error::FromErrno("sending to nf_tables over netlink");
  if (static_cast<std::size_t>(sent) != bytes.size()) {
    return Error::Environment("short netlink send to nf_tables", EMSGSIZE);
  }
  return OkStatus();
}

Status NftSocket::Request(const std::vector<char>& request, std::uint32_t seq,
                          const std::function<Status(const nlmsghdr*)>& on_message) {
  DIND_RETURN_IF_ERROR(Send(request));
  RequestContext context{&on_message, std::nullopt};
  while (true) {
    const ssize_t received =
        mnl_socket_recvfrom(socket_, receive_buffer_.data(), receive_buffer_.size());
    if (received < 0) {
      const int saved = errno;
      return Error::Environment("receiving an nf_tables reply",
                                saved == EAGAIN || saved == EWOULDBLOCK ? ETIMEDOUT : saved);
    }
    if (!WellFormedMessages(receive_buffer_.data(), static_cast<std::size_t>(received))) {
      return Error::Environment("receiving an nf_tables reply: a message's length is wrong",
                                EPROTO);
    }
    const int result = mnl_cb_run(receive_buffer_.data(), static_cast<std::size_t>(received), seq,
                                  port_id_, OnReplyMessage, &context);
    if (context.error) return *context.error;
    if (result == MNL_CB_ERROR) return Error::FromErrno("nf_tables request");
    if (result == MNL_CB_STOP) return OkStatus();
  }
}

Result<BatchOutcome> NftSocket::Commit(const NftBatch& batch) {
  DIND_RETURN_IF_ERROR(Send(batch.bytes));
  std::map<std::uint32_t, std::size_t> pending;  // seq -> op index
  for (std::size_t i = 0; i < batch.op_seqs.size(); ++i) pending[batch.op_seqs[i]] = i;

  BatchOutcome outcome;
  while (!pending.empty()) {
    const ssize_t received =
        mnl_socket_recvfrom(socket_, receive_buffer_.data(), receive_buffer_.size());
    if (received < 0) {
      const int saved = errno;
      return Error::Environment("waiting for nf_tables to acknowledge a transaction",
                                saved == EAGAIN || saved == EWOULDBLOCK ? ETIMEDOUT : saved);
    }
    if (!WellFormedMessages(receive_buffer_.data(), static_cast<std::size_t>(received))) {
      return Error::Environment(
          "waiting for nf_tables to acknowledge a transaction: a message's length is wrong",
          EPROTO);
    }
    int remaining = static_cast<int>(received);
    for (auto* message = reinterpret_cast<const nlmsghdr*>(receive_buffer_.data());
         mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
      auto ack = ParseAck(message);
      if (!ack) continue;
      const auto op = pending.find(ack->seq);
      if (op == pending.end()) {
        // A refusal of BATCH_BEGIN/END (no permission, no nf_tables, stale generation):
        // the kernel processed nothing and no further ACKs follow.
        if (ack->errnum != 0 && (ack->seq == batch.begin_seq || ack->seq == batch.end_seq)) {
          return BatchOutcome{false, std::nullopt, ack->errnum, std::move(ack->kernel_message)};
        }
        continue;
      }
      if (ack->errnum != 0 && outcome.ok) {
        outcome = BatchOutcome{false, op->second, ack->errnum, std::move(ack->kernel_message)};
      }
      pending.erase(op);
    }
  }
  return outcome;
}

}  // namespace dind::rules::nft
