// SPDX-License-Identifier: Apache-2.0
// Benchmark 3 (bench/README.md): how long the `run` sidecar takes to put its masquerade rules
// back after someone removed them. Runs inside the network namespace where `run` runs
// (lib/repair_bench.py starts both), and measures `run` from outside its process:
//
//   nft:    delete table ip dind-netcfg (one nf_tables batch, as `nft delete table` sends);
//           "back" is the nf_tables notification of the commit that re-added our rules: the
//           NFT_MSG_NEWGEN that ends a transaction holding a NEWRULE in our table. Waiting is a
//           blocking poll() on a netlink socket subscribed to NFNLGRP_NFTABLES (what
//           `nft monitor` listens to), so detection costs no CPU and adds only a wake-up.
//   legacy: flush nat chain DIND-NETCFG-POSTROUTING (a libiptc snapshot with our rules
//           deleted, committed under the xtables lock, as `iptables-legacy -w -F` does);
//           "back" is the first poll of the table header (IPT_SO_GET_INFO, a few µs, no rules
//           copied) that differs from the last one seen, confirmed by a full Inspect. The header
//           is read every --poll-us, so detection adds at most that much.
//
// Both clocks start right before the kernel call that removes the rules (so the latency
// includes our own commit, tens of µs). Every repetition is confirmed with a full Inspect: the
// same rules as before the flush, all present. Between repetitions a random pause, uniform in
// --pause-ms=MIN:MAX, spreads the flushes over the phase of the sidecar's poll timer (legacy)
// and lets the sidecar go idle after its own re-check (nft).
//
//   repair_latency_bench --backend=legacy|nft --repetitions=N [--warmup=W] [--pause-ms=MIN:MAX]
//                        [--poll-us=1000] [--timeout-ms=5000] --out=FILE
//
// Writes JSON: {"backend", "rules", "repetitions", "warmup", "poll_us", "latencies_ms": [...]}
// (warm-up excluded). Exits 1 when a repair does not arrive within --timeout-ms, 2 on bad flags.
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "rules/legacy/iptc_nat_tables.h"
#include "rules/legacy/legacy_backend.h"
#include "rules/legacy/nat_table.h"
#include "rules/legacy/xtables_lock.h"
#include "rules/masquerade.h"
#include "rules/nft/nft_backend.h"
#include "rules/nft/nft_messages.h"
#include "rules/nft/nft_model.h"
#include "rules/nft/nft_socket.h"
#include "rules/nft/nft_watcher.h"

namespace {

using dind::Family;
using dind::Result;
using dind::Status;
using dind::rules::BackendKind;
using dind::rules::BackendState;
using dind::rules::MasqueradeBackend;
using Clock = std::chrono::steady_clock;

struct Options {
  BackendKind backend = BackendKind::kNft;
  bool backend_given = false;
  int repetitions = 0;
  int warmup = 3;
  int pause_min_ms = 20;
  int pause_max_ms = 60;
  int poll_us = 1000;
  int timeout_ms = 5000;
  std::string out;
};

[[noreturn]] void Die(int code, const std::string& message) {
  std::fprintf(stderr, "repair_latency_bench: %s\n", message.c_str());
  std::exit(code);
}

bool TakeValue(const std::string& arg, const std::string& flag, std::string& value) {
  if (arg.rfind(flag + "=", 0) != 0) return false;
  value = arg.substr(flag.size() + 1);
  return true;
}

int ParseCount(const std::string& flag, const std::string& value, int minimum) {
  char* end = nullptr;
  const long parsed = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || parsed < minimum || parsed > 1'000'000) {
    Die(2,
        flag + " must be a whole number >= " + std::to_string(minimum) + ", not '" + value + "'");
  }
  return static_cast<int>(parsed);
}

Options ParseFlags(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    if (TakeValue(arg, "--backend", value)) {
      const auto backend = dind::rules::ParseBackendName(value);
      if (!backend) Die(2, "--backend must be legacy or nft");
      options.backend = *backend;
      options.backend_given = true;
    } else if (TakeValue(arg, "--repetitions", value)) {
      options.repetitions = ParseCount("--repetitions", value, 1);
    } else if (TakeValue(arg, "--warmup", value)) {
      options.warmup = ParseCount("--warmup", value, 0);
    } else if (TakeValue(arg, "--pause-ms", value)) {
      const auto colon = value.find(':');
      if (colon == std::string::npos) Die(2, "--pause-ms needs MIN:MAX, got '" + value + "'");
      options.pause_min_ms = ParseCount("--pause-ms MIN", value.substr(0, colon), 0);
      options.pause_max_ms =
          ParseCount("--pause-ms MAX", value.substr(colon + 1), options.pause_min_ms);
    } else if (TakeValue(arg, "--poll-us", value)) {
      options.poll_us = ParseCount("--poll-us", value, 1);
    } else if (TakeValue(arg, "--timeout-ms", value)) {
      options.timeout_ms = ParseCount("--timeout-ms", value, 1);
    } else if (TakeValue(arg, "--out", value)) {
      options.out = value;
    } else {
      Die(2, "unknown argument '" + arg + "' (see the comment at the top of the source)");
    }
  }
  if (!options.backend_given || options.repetitions == 0 || options.out.empty()) {
    Die(2, "--backend, --repetitions and --out are required");
  }
  return options;
}

double MillisecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The sidecar's rules, as a comparable list, when every one is in place; nullopt otherwise.
std::optional<std::vector<std::string>> RulesInPlace(MasqueradeBackend& backend) {
  Result<BackendState> state = backend.Inspect();
  if (!state.ok()) Die(1, "Inspect failed: " + state.error().Message());
  if (!state->container_present || !state->hooked || state->rules.empty()) return std::nullopt;
  std::vector<std::string> rules;
  for (const auto& rule : state->rules) {
    rules.push_back(rule.source.ToString() + " -o " + rule.out_interface);
  }
  return rules;
}

// Removes the rules the way an operator's command would; returns when the kernel took it.
class Flusher {
 public:
  virtual ~Flusher() = default;
  // Sets `started` right before the call into the kernel that removes the rules.
  virtual void Flush(Clock::time_point& started) = 0;
};

class NftTableDeleter final : public Flusher {
 public:
  NftTableDeleter() {
    auto socket = dind::rules::nft::NftSocket::Open();
    if (!socket.ok()) Die(1, "opening nf_tables: " + socket.error().Message());
    socket_.emplace(std::move(socket).value());
  }
  void Flush(Clock::time_point& started) override {
    const std::vector<dind::rules::nft::NftOp> ops = {dind::rules::nft::DeleteTable{Family::kIPv4}};
    const auto batch = dind::rules::nft::BuildBatch(ops, socket_->ReserveSeq(3), 0);
    started = Clock::now();
    auto outcome = socket_->Commit(batch);
    if (!outcome.ok()) Die(1, "deleting table ip dind-netcfg: " + outcome.error().Message());
    if (!outcome->ok) {
      Die(1, "the kernel refused to delete table ip dind-netcfg: " +
                 std::string(std::strerror(outcome->errnum)));
    }
  }

 private:
  std::optional<dind::rules::nft::NftSocket> socket_;
};

class LegacyChainFlusher final : public Flusher {
 public:
  LegacyChainFlusher() : tables_(dind::rules::legacy::MakeIptcNatTables()) {}
  void Flush(Clock::time_point& started) override {
    using dind::rules::legacy::XtablesLock;
    auto lock = XtablesLock::Acquire(XtablesLock::DefaultPath(), std::chrono::seconds(10));
    if (!lock.ok()) Die(1, lock.error().Message());
    auto table = tables_->Open(Family::kIPv4, dind::rules::legacy::LegacyTable::kNat);
    if (!table.ok()) Die(1, "opening the IPv4 nat table: " + table.error().Message());
    const std::string_view chain = dind::rules::kLegacyChain;
    if (!(*table)->HasChain(chain)) Die(1, "no chain " + std::string(chain) + " to flush");
    for (std::size_t n = (*table)->Rules(chain).size(); n > 0; --n) {
      if (Status deleted = (*table)->DeleteRule(chain, 0); !deleted.ok()) {
        Die(1, "flushing " + std::string(chain) + ": " + deleted.error().Message());
      }
    }
    started = Clock::now();
    if (Status committed = (*table)->Commit(); !committed.ok()) {
      Die(1, "committing the flushed chain: " + committed.error().Message());
    }
  }

 private:
  std::unique_ptr<dind::rules::legacy::NatTables> tables_;
};

// A netlink socket on NFNLGRP_NFTABLES (what `nft monitor` reads), read raw so the message types
// can be told apart: our own DELTABLE must not count as the repair.
class NftMonitor {
 public:
  NftMonitor() {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
    if (fd_ < 0) Die(1, std::string("netfilter netlink socket: ") + std::strerror(errno));
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = 1u << (NFNLGRP_NFTABLES - 1);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0) {
      Die(1, std::string("subscribing to NFNLGRP_NFTABLES: ") + std::strerror(errno));
    }
  }
  ~NftMonitor() { close(fd_); }
  NftMonitor(const NftMonitor&) = delete;
  NftMonitor& operator=(const NftMonitor&) = delete;

  // Reads everything queued without waiting (before a flush: old news).
  void Discard() {
    while (recv(fd_, buffer_.data(), buffer_.size(), 0) > 0) {
    }
  }

  enum class Seen { kNothing, kRepairCommitted, kOverflow };
  // Waits up to `deadline` for the end of a transaction that added a rule to our table.
  Seen WaitForRepair(Clock::time_point deadline) {
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() < 0) return Seen::kNothing;
      pollfd waiting{fd_, POLLIN, 0};
      const int ready = poll(&waiting, 1, static_cast<int>(left.count()) + 1);
      if (ready < 0 && errno != EINTR) Die(1, std::string("poll: ") + std::strerror(errno));
      if (ready <= 0) continue;
      while (true) {
        const ssize_t got = recv(fd_, buffer_.data(), buffer_.size(), 0);
        if (got < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
          if (errno == ENOBUFS) return Seen::kOverflow;
          Die(1, std::string("reading nf_tables notifications: ") + std::strerror(errno));
        }
        // libmnl's walk, as in nft_watcher.cpp: NLMSG_OK compares a u32 with an int.
        int length = static_cast<int>(got);
        for (auto* message = reinterpret_cast<nlmsghdr*>(buffer_.data());
             mnl_nlmsg_ok(message, length); message = mnl_nlmsg_next(message, &length)) {
          if ((message->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) continue;
          const int kind = message->nlmsg_type & 0xff;
          if (kind == NFT_MSG_NEWRULE && dind::rules::nft::TouchesOurTable(message)) {
            rule_added_ = true;
          } else if (kind == NFT_MSG_NEWGEN && rule_added_) {
            rule_added_ = false;
            return Seen::kRepairCommitted;
          }
        }
      }
    }
  }
  void Reset() { rule_added_ = false; }

 private:
  int fd_ = -1;
  bool rule_added_ = false;
  std::vector<char> buffer_ = std::vector<char>(256 * 1024);
};

// Waits for the repair; returns when it was seen, or nullopt at the deadline.
std::optional<Clock::time_point> WaitNft(NftMonitor& monitor, MasqueradeBackend& backend,
                                         const std::vector<std::string>& wanted,
                                         Clock::time_point deadline) {
  while (true) {
    const auto seen = monitor.WaitForRepair(deadline);
    const auto at = Clock::now();
    if (seen == NftMonitor::Seen::kNothing) return std::nullopt;
    // A commit with one of our rules, or lost notifications: look at the ruleset itself.
    if (RulesInPlace(backend) == wanted) return at;
  }
}

std::optional<Clock::time_point> WaitLegacy(MasqueradeBackend& backend,
                                            const std::vector<std::string>& wanted,
                                            std::chrono::microseconds poll,
                                            Clock::time_point deadline) {
  std::optional<std::uint64_t> last_seen;
  bool first = true;
  while (Clock::now() < deadline) {
    const std::optional<std::uint64_t> stamp = backend.ChangeStamp();
    const auto at = Clock::now();
    if (first || !stamp || stamp != last_seen) {
      first = false;
      if (RulesInPlace(backend) == wanted) return at;
      last_seen = stamp;
    }
    std::this_thread::sleep_for(poll);
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseFlags(argc, argv);
  auto made = options.backend == BackendKind::kLegacy ? dind::rules::legacy::MakeLegacyBackend()
                                                      : dind::rules::MakeNftBackend();
  if (!made.ok()) Die(1, "making the backend: " + made.error().Message());
  MasqueradeBackend& backend = **made;
  const std::optional<std::vector<std::string>> wanted = RulesInPlace(backend);
  if (!wanted) Die(1, "the sidecar's rules are not in place to begin with (is `run` running?)");

  std::unique_ptr<Flusher> flusher;
  std::unique_ptr<NftMonitor> monitor;
  if (options.backend == BackendKind::kNft) {
    flusher = std::make_unique<NftTableDeleter>();
    monitor = std::make_unique<NftMonitor>();
  } else {
    flusher = std::make_unique<LegacyChainFlusher>();
  }

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(options.pause_min_ms, options.pause_max_ms);
  std::vector<double> latencies;
  for (int rep = 0; rep < options.warmup + options.repetitions; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
    if (RulesInPlace(backend) != wanted) Die(1, "the rules changed between repetitions");
    if (monitor) {
      monitor->Discard();
      monitor->Reset();
    }
    Clock::time_point started;
    flusher->Flush(started);
    const auto deadline = started + std::chrono::milliseconds(options.timeout_ms);
    const auto back = monitor ? WaitNft(*monitor, backend, *wanted, deadline)
                              : WaitLegacy(backend, *wanted,
                                           std::chrono::microseconds(options.poll_us), deadline);
    if (!back) {
      Die(1, "repetition " + std::to_string(rep + 1) + ": the rules were not back within " +
                 std::to_string(options.timeout_ms) + " ms");
    }
    if (rep >= options.warmup) latencies.push_back(MillisecondsBetween(started, *back));
  }

  std::ofstream out(options.out);
  out << "{\"backend\": \"" << dind::rules::BackendName(options.backend)
      << "\", \"rules\": " << wanted->size() << ", \"repetitions\": " << options.repetitions
      << ", \"warmup\": " << options.warmup << ", \"poll_us\": " << options.poll_us
      << ", \"pause_ms\": [" << options.pause_min_ms << ", " << options.pause_max_ms
      << "], \"latencies_ms\": [";
  for (std::size_t i = 0; i < latencies.size(); ++i) {
    out << (i ? ", " : "") << latencies[i];
  }
  out << "]}\n";
  if (!out) Die(1, "writing " + options.out + " failed");
  return 0;
}
