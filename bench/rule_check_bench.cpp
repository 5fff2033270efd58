// SPDX-License-Identifier: Apache-2.0
// Benchmark 2 (bench/README.md): the cost of checking the masquerade rules as the nat table
// grows, in process against the command-line tools a shell entrypoint or a liveness script runs.
//
// Runs inside a network namespace bench/run.sh prepared (foreign rules loaded). Every variant is
// one Google Benchmark, so all of them are measured by the same clock in the same process run
// and, with --benchmark_enable_random_interleaving, in interleaved order:
//
//   inprocess/<backend>/cold  MakeBackend + InspectOurs: what a one-shot check of our rules pays
//   inprocess/<backend>/warm  InspectOurs on a backend made once: what the `run` sidecar pays per
//                             check (no census of foreign rules; nft reads only our table)
//   cli/<label>               posix_spawn + wait of a command line, stdout/stderr to /dev/null
//
// Own flags (Google Benchmark's --benchmark_* flags are accepted as well):
//   --backend=legacy|nft        the in-process backend to measure (repeatable)
//   --apply=CIDR@IFNAME         before measuring, Apply this masquerade spec in every --backend,
//                               so the check has something of ours to find
//   --cli=LABEL=ARG0 ARG1 ...   a command to measure; split at spaces, ARG0 searched in PATH;
//                               it must exit 0 (a failing check would time an error path)
//   --expect-foreign=N          fail unless Inspect counts at least N foreign nat rules (proves
//                               the namespace really holds the table size being reported)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "common/result.h"
#include "rules/legacy/legacy_backend.h"
#include "rules/masquerade.h"
#include "rules/nft/nft_backend.h"

extern char** environ;

namespace {

using dind::Result;
using dind::rules::BackendKind;
using dind::rules::BackendState;
using dind::rules::MasqueradeBackend;

// Set by every failed benchmark, so the exit status tells run.sh (Google Benchmark exits 0).
std::atomic<bool> g_failed{false};

void Fail(benchmark::State& state, const std::string& message) {
  g_failed = true;
  state.SkipWithError(message.c_str());
}

Result<std::unique_ptr<MasqueradeBackend>> Make(BackendKind kind) {
  if (kind == BackendKind::kLegacy) return dind::rules::legacy::MakeLegacyBackend();
  return dind::rules::MakeNftBackend();
}

struct Options {
  std::vector<BackendKind> backends;
  std::string apply;
  std::vector<std::pair<std::string, std::vector<std::string>>> clis;
  long expect_foreign = -1;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "rule_check_bench: %s\n", message.c_str());
  std::exit(2);
}

bool TakeValue(const std::string& arg, const std::string& flag, std::string& value) {
  if (arg.rfind(flag + "=", 0) != 0) return false;
  value = arg.substr(flag.size() + 1);
  return true;
}

Options ParseOwnFlags(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    if (TakeValue(arg, "--backend", value)) {
      const auto backend = dind::rules::ParseBackendName(value);
      if (!backend) Die("--backend must be legacy or nft, not '" + value + "'");
      options.backends.push_back(*backend);
    } else if (TakeValue(arg, "--apply", value)) {
      options.apply = value;
    } else if (TakeValue(arg, "--cli", value)) {
      const auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) Die("--cli needs LABEL=COMMAND, got '" + value + "'");
      std::vector<std::string> words;
      std::istringstream split(value.substr(eq + 1));
      for (std::string word; split >> word;) words.push_back(word);
      if (words.empty()) Die("--cli " + value.substr(0, eq) + " has an empty command");
      options.clis.emplace_back(value.substr(0, eq), std::move(words));
    } else if (TakeValue(arg, "--expect-foreign", value)) {
      options.expect_foreign = std::strtol(value.c_str(), nullptr, 10);
    } else {
      Die("unknown argument '" + arg + "' (see the comment at the top of rule_check_bench.cpp)");
    }
  }
  return options;
}

void ApplySpec(const Options& options) {
  const auto at = options.apply.find('@');
  if (at == std::string::npos) Die("--apply needs CIDR@IFNAME, got '" + options.apply + "'");
  auto source = dind::Cidr::Parse(options.apply.substr(0, at));
  if (!source.ok()) Die("--apply: " + source.error().Message());
  dind::rules::MasqueradeSpec spec{{*source}, options.apply.substr(at + 1)};
  for (BackendKind kind : options.backends) {
    auto backend = Make(kind);
    if (!backend.ok()) Die("making the backend: " + backend.error().Message());
    if (auto applied = (*backend)->Apply(spec); !applied.ok()) {
      Die("applying in " + std::string(dind::rules::BackendName(kind)) + ": " +
          applied.error().Message());
    }
  }
}

// Fails the benchmark unless the check found our rules and the expected foreign rule count.
bool Verify(benchmark::State& state, const Result<BackendState>& inspected, long expect_foreign) {
  if (!inspected.ok()) {
    Fail(state, "Inspect failed: " + inspected.error().Message());
    return false;
  }
  if (!inspected->container_present || !inspected->hooked || inspected->rules.empty()) {
    Fail(state, "Inspect did not find dind-netcfg's rules (run with --apply)");
    return false;
  }
  if (inspected->foreign_nat_rules < expect_foreign) {
    Fail(state, "Inspect counted " + std::to_string(inspected->foreign_nat_rules) +
                    " foreign nat rules, fewer than --expect-foreign");
    return false;
  }
  return true;
}

// The census (Inspect), once and untimed, proves the table holds the rules the size claims.
bool Census(benchmark::State& state, BackendKind kind, long expect_foreign) {
  auto backend = Make(kind);
  if (!backend.ok()) {
    Fail(state, "MakeBackend failed: " + backend.error().Message());
    return false;
  }
  auto census = (*backend)->Inspect();
  if (!Verify(state, census, expect_foreign)) return false;
  state.counters["foreign_rules"] = census->foreign_nat_rules;
  return true;
}

void InProcessCold(benchmark::State& state, BackendKind kind, long expect_foreign) {
  if (!Census(state, kind, expect_foreign)) return;
  for (auto _ : state) {
    auto backend = Make(kind);
    if (!backend.ok()) {
      Fail(state, "MakeBackend failed: " + backend.error().Message());
      return;
    }
    if (!Verify(state, (*backend)->InspectOurs(), -1)) return;
  }
}

void InProcessWarm(benchmark::State& state, BackendKind kind, long expect_foreign) {
  auto backend = Make(kind);
  if (!backend.ok()) {
    Fail(state, "MakeBackend failed: " + backend.error().Message());
    return;
  }
  if (!Census(state, kind, expect_foreign)) return;
  for (auto _ : state) {
    if (!Verify(state, (*backend)->InspectOurs(), -1)) return;
  }
}

// One spawn + wait; returns the exit status (-1: could not run it).
int RunOnce(const std::vector<char*>& argv, posix_spawn_file_actions_t* actions) {
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], actions, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Cli(benchmark::State& state, const std::vector<std::string>& words) {
  std::vector<std::string> storage = words;
  std::vector<char*> argv;
  for (std::string& word : storage) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  for (auto _ : state) {
    const int rc = RunOnce(argv, &actions);
    if (rc != 0) {
      Fail(state, "'" + words[0] + " ...' exited " + std::to_string(rc) +
                      " (a check that fails would time its error path)");
      break;
    }
  }
  posix_spawn_file_actions_destroy(&actions);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);  // removes the --benchmark_* flags it knows
  const Options options = ParseOwnFlags(argc, argv);
  if (!options.apply.empty()) ApplySpec(options);

  for (BackendKind kind : options.backends) {
    const std::string name(dind::rules::BackendName(kind));
    benchmark::RegisterBenchmark(("inprocess/" + name + "/cold").c_str(), InProcessCold, kind,
                                 options.expect_foreign)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("inprocess/" + name + "/warm").c_str(), InProcessWarm, kind,
                                 options.expect_foreign)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  for (const auto& [label, words] : options.clis) {
    benchmark::RegisterBenchmark(("cli/" + label).c_str(), Cli, words)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return g_failed ? 1 : 0;
}
