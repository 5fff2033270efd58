// SPDX-License-Identifier: Apache-2.0
#include "rules/proof/traffic_proof.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/scoped_fd.h"
#include "rules/proof/proof_child.h"
#include "rules/proof/proof_report.h"

namespace dind::rules {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class TrafficProver final : public BackendProver {
 public:
  TrafficProver(BackendFactory factory, milliseconds timeout)
      : factory_(std::move(factory)), timeout_(timeout) {}

  Result<ProofOutcome> Prove(BackendKind kind) override;

 private:
  // The child leaves most of the budget to building namespaces and the backend; datagrams on a
  // veth arrive in microseconds, so only a failing proof waits this long, and never longer
  // than kMaxReceiveWait however long the timeout.
  static constexpr milliseconds kMaxReceiveWait{500};
  milliseconds ReceiveWait() const {
    return std::clamp(timeout_ / 4, milliseconds(50), kMaxReceiveWait);
  }

  [[noreturn]] void BecomeChild(pid_t parent, BackendKind kind, ScopedFd report) const;

  BackendFactory factory_;
  milliseconds timeout_;
};

void TrafficProver::BecomeChild(pid_t parent, BackendKind kind, ScopedFd report) const {
  // Die with the parent, so an abandoned proof never lingers with its namespaces.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
  // Handlers inherited from the parent (e.g. an event loop's self-pipe) must not run here.
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(signal, SIG_DFL);
  RunProofInChild(kind, factory_, ReceiveWait(), report.get());
  report.reset();
  ::_exit(0);  // no atexit handlers or stdio flushes of the parent's copies
}

Result<ProofOutcome> TrafficProver::Prove(BackendKind kind) {
  const auto start = steady_clock::now();
  const std::string context =
      "proving the " + std::string(BackendName(kind)) + " backend by traffic";
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::FromErrno(context + ": creating a pipe");
  ScopedFd read_end(fds[0]);
  ScopedFd write_end(fds[1]);

  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    return Error::FromErrno(context + ": forking the proof's process",
                            "the machine may be out of memory or processes (pids.max)");
  }
  if (child == 0) {
    read_end.reset();
    BecomeChild(parent, kind, std::move(write_end));
  }
  write_end.reset();

  // Read the report until the child closes the pipe or the time is up.
  std::string report;
  bool timed_out = false;
  const auto deadline = start + timeout_;
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd readable{read_end.get(), POLLIN, 0};
    const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      break;
    }
    char buffer[4096];
    const ssize_t got = ready < 0 ? -1 : ::read(read_end.get(), buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // end of the report (or a broken pipe, judged by how the child ended)
    report.append(buffer, static_cast<std::size_t>(got));
  }
  if (timed_out) ::kill(child, SIGKILL);
  int wait_status = 0;
  while (::waitpid(child, &wait_status, 0) < 0 && errno == EINTR) {
  }

  auto outcome = Conclude(kind, report, ChildEnd{timed_out, wait_status}, timeout_);
  if (outcome.ok()) {
    outcome->elapsed = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  }
  return outcome;
}

}  // namespace

std::unique_ptr<BackendProver> MakeTrafficProver(BackendFactory factory,
                                                 std::chrono::milliseconds timeout) {
  return std::make_unique<TrafficProver>(std::move(factory), timeout);
}

std::unique_ptr<BackendProver> MakeRealTrafficProver(BackendOptions options, milliseconds timeout) {
  options.xtables_wait = std::min({options.xtables_wait, kProofXtablesWait, timeout / 2});
  return MakeTrafficProver(BackendFactoryFor(options), timeout);
}

}  // namespace dind::rules
