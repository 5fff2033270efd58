// SPDX-License-Identifier: Apache-2.0
#include "rules/proof/proof_child.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/files.h"
#include "common/scoped_fd.h"
#include "netcfg/netlink/wiring_executor.h"
#include "rules/proof/proof_plan.h"
#include "rules/proof/proof_report.h"
#include "rules/proof/proof_verdict.h"

namespace dind::rules {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kCapNetAdmin = 12;
constexpr int kCapSysAdmin = 21;
constexpr std::string_view kChooseByHand =
    "choose the backend by hand with --backend legacy|nft (or DIND_NETCFG_BACKEND)";

// What to do when wiring the throwaway namespaces fails, in the proof's terms.
netcfg::WiringHints ProofHints() {
  return {
      "the proof by traffic needs CAP_NET_ADMIN to build its throwaway namespaces; grant it "
      "or choose the backend by hand with --backend legacy|nft",
      "the proof could not build its throwaway namespaces; choose the backend by hand with "
      "--backend legacy|nft"};
}

// An rtnetlink socket in the namespace this process is in now, for `side`'s steps.
Status AddCurrentNamespace(netcfg::WiringExecutor& wiring, netcfg::NetnsSide side,
                           int netns_fd = -1) {
  auto socket = netcfg::OpenRtnlSocket();
  if (!socket.ok()) {
    return socket.error().Wrap("in the proof's " + std::string(netcfg::SideName(side)) +
                               " namespace");
  }
  return wiring.AddNamespace(side, std::move(*socket), netns_fd);
}

// Writes report lines to the parent; a parent that is gone has nothing left to tell.
class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  void Step(std::string_view description) { Write(EncodeStep(description)); }
  void Outcome(const ProofOutcome& outcome) { Write(EncodeOutcome(outcome)); }
  void Fail(const Error& error) { Write(EncodeError(error)); }

 private:
  void Write(std::string_view line) {
    while (!line.empty()) {
      const ssize_t written = ::write(fd_, line.data(), line.size());
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) return;
      line.remove_prefix(static_cast<std::size_t>(written));
    }
  }
  int fd_;
};

Status EnterNewNetns(const std::string& which) {
  if (::unshare(CLONE_NEWNET) == 0) return OkStatus();
  const int errnum = errno;
  const std::string what =
      "creating the proof's " + which + " network namespace (unshare CLONE_NEWNET)";
  if (errnum == EPERM) {
    auto status = ReadFile("/proc/self/status");
    return Error::Permission(
        what, errnum,
        NamespaceRefusalHint(status.ok() ? EffectiveCapabilities(*status) : std::nullopt));
  }
  return Error::Environment(what, errnum,
                            "the kernel may lack network namespaces (CONFIG_NET_NS) or have hit "
                            "user.max_net_namespaces; " +
                                std::string(kChooseByHand));
}

Result<ScopedFd> OpenCurrentNetns() {
  ScopedFd fd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error::FromErrno("opening /proc/self/ns/net of the outside namespace");
  return fd;
}

sockaddr_in SocketAddress(const IpAddress& address, std::uint16_t port) {
  sockaddr_in socket_address{};
  socket_address.sin_family = AF_INET;
  socket_address.sin_port = htons(port);
  std::memcpy(&socket_address.sin_addr, address.bytes().data(), 4);
  return socket_address;
}

Result<ScopedFd> BoundUdpSocket(const std::string& side, const IpAddress& address,
                                std::uint16_t port) {
  const std::string what =
      side + ": binding a UDP socket to " + address.ToString() + ":" + std::to_string(port);
  ScopedFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Error::FromErrno(what);
  const sockaddr_in bound = SocketAddress(address, port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&bound), sizeof(bound)) != 0) {
    return Error::FromErrno(what);
  }
  return fd;
}

// Reads datagrams until `expected` arrived or `wait` passed; remembers the first source.
void Receive(int fd, int expected, milliseconds wait, ProofObservation& seen) {
  const auto start = steady_clock::now();
  const auto deadline = start + wait;
  while (seen.datagrams_received < expected) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) break;
    pollfd readable{fd, POLLIN, 0};
    const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    char payload[64];
    sockaddr_in from{};
    socklen_t from_length = sizeof(from);
    const ssize_t received = ::recvfrom(fd, payload, sizeof(payload), 0,
                                        reinterpret_cast<sockaddr*>(&from), &from_length);
    if (received < 0) continue;  // EAGAIN after a spurious wakeup
    if (!seen.arrived_from) seen.arrived_from = IpAddress::FromBytes(Family::kIPv4, &from.sin_addr);
    ++seen.datagrams_received;
  }
  seen.waited = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
}

Result<ProofOutcome> Prove(BackendKind kind, const BackendFactory& factory,
                           milliseconds receive_wait, Reporter& report) {
  const ProofPlan plan = MakeProofPlan();
  const std::string backend_name(BackendName(kind));

  // Unlike the probe's attachment (a thread per namespace switch), the proof moves this whole
  // process: the backend under test must be created and run inside the pod namespace, and one
  // that hangs must be killable at the timeout (a process is, a thread is not); the process's
  // end also takes both namespaces along. The wiring itself is netcfg's, as for the probe.
  netcfg::WiringExecutor wiring(ProofHints());
  report.Step("creating the outside network namespace");
  DIND_RETURN_IF_ERROR(EnterNewNetns("outside"));
  auto outside_netns = OpenCurrentNetns();
  if (!outside_netns.ok()) return outside_netns.error();
  DIND_RETURN_IF_ERROR(
      AddCurrentNamespace(wiring, netcfg::NetnsSide::kOutside, outside_netns->get()));
  auto receiver = BoundUdpSocket("outside", IpAddress::V4(0), plan.port);
  if (!receiver.ok()) return receiver.error();

  report.Step("creating the pod network namespace");
  DIND_RETURN_IF_ERROR(EnterNewNetns("pod"));
  DIND_RETURN_IF_ERROR(AddCurrentNamespace(wiring, netcfg::NetnsSide::kPod));
  for (const netcfg::WiringStep& step : plan.steps) {
    report.Step(netcfg::DescribeStep(step));
    DIND_RETURN_IF_ERROR(wiring.Execute(step));
  }

  // Created only now, so the backend's sockets belong to the pod namespace.
  ProofObservation seen;
  seen.links_up_after = milliseconds(0);
  for (const netcfg::LinkWait& wait : wiring.link_waits()) *seen.links_up_after += wait.waited;

  report.Step("pod: creating the " + backend_name + " backend");
  auto backend = factory(kind);
  if (!backend.ok()) {
    return backend.error().Wrap("creating the " + backend_name + " backend in the pod namespace");
  }
  report.Step("pod: applying masquerade saddr " + plan.spec.sources.front().ToString() +
              " oifname " + plan.spec.out_interface + " through the " + backend_name + " backend");
  if (Status applied = (*backend)->Apply(plan.spec); !applied.ok()) {
    // Not allowed to try is no verdict on the backend; any other refusal is one.
    if (applied.error().kind == ErrorKind::kPermission) return applied.error();
    seen.refusal = applied.error().Message();
    return Judge(kind, plan, seen);
  }

  report.Step("pod: sending " + std::to_string(plan.datagrams) + " UDP datagrams from " +
              plan.nested_source.ToString() + " to " + plan.outside_address.ToString() + ":" +
              std::to_string(plan.port));
  auto sender = BoundUdpSocket("pod", plan.nested_source, 0);
  if (!sender.ok()) return sender.error();
  const sockaddr_in destination = SocketAddress(plan.outside_address, plan.port);
  for (int i = 0; i < plan.datagrams; ++i) {
    // A send the rules make fail shows up below as a datagram that never arrived.
    (void)::sendto(sender->get(), "dind-netcfg proof", 17, 0,
                   reinterpret_cast<const sockaddr*>(&destination), sizeof(destination));
  }

  report.Step("outside: waiting up to " + std::to_string(receive_wait.count()) +
              " ms for the datagrams");
  Receive(receiver->get(), plan.datagrams, receive_wait, seen);

  report.Step("pod: reading the rule's counter through the " + backend_name + " backend");
  auto state = (*backend)->Inspect();
  if (!state.ok()) return state.error().Wrap("reading the rule's counter after sending");
  seen.counter_packets = CounterFor(*state, plan.nested_source);
  return Judge(kind, plan, seen);
}

}  // namespace

void RunProofInChild(BackendKind kind, const BackendFactory& factory, milliseconds receive_wait,
                     int report_fd) {
  Reporter report(report_fd);
  auto outcome = Prove(kind, factory, receive_wait, report);
  if (outcome.ok()) {
    report.Outcome(*outcome);
  } else {
    report.Fail(outcome.error());
  }
}

std::optional<std::uint64_t> EffectiveCapabilities(std::string_view proc_status) {
  constexpr std::string_view kKey = "\nCapEff:";
  const std::size_t at = proc_status.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view value = proc_status.substr(at + kKey.size());
  value = value.substr(0, value.find('\n'));
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  std::uint64_t mask = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), mask, 16);
  if (error != std::errc() || end != value.data() + value.size() || value.empty()) {
    return std::nullopt;
  }
  return mask;
}

std::string NamespaceRefusalHint(std::optional<std::uint64_t> effective) {
  const std::string choose = std::string(kChooseByHand);
  if (!effective) {
    return "the proof by traffic needs CAP_SYS_ADMIN (to create network namespaces) and "
           "CAP_NET_ADMIN; grant them or " +
           choose;
  }
  const bool sys_admin = (*effective >> kCapSysAdmin) & 1U;
  const bool net_admin = (*effective >> kCapNetAdmin) & 1U;
  if (sys_admin) {
    return "this process has CAP_SYS_ADMIN, so a seccomp profile, an LSM or a user namespace "
           "forbids unshare(CLONE_NEWNET); allow it or " +
           choose;
  }
  const std::string missing = net_admin ? "CAP_SYS_ADMIN" : "CAP_SYS_ADMIN and CAP_NET_ADMIN";
  return "this process lacks " + missing +
         ", which the proof by traffic needs to create its throwaway network namespaces; grant "
         "it (e.g. securityContext.capabilities.add) or " +
         choose;
}

}  // namespace dind::rules
