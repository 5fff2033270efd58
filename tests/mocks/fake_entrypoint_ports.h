// SPDX-License-Identifier: Apache-2.0
// The entrypoint's ports (daemon/entrypoint/entrypoint_ports.h) as fakes on the test's
// io_context. Children are table entries whose end the test decides (or a program's behaviour
// decides: exit at once, ignore SIGTERM); signals are delivered as the kernel would deliver them
// to PID 1; dockerd's /_ping answers from a script; the sidecar's readiness is published at will.
// Every fake writes the calls it gets into one PortJournal, so a test can assert their order
// across ports. As with the real ports, no callback runs inside the call that registered it.
#pragma once

#include <signal.h>
#include <string.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "daemon/entrypoint/entrypoint_ports.h"

namespace dind::testing {

// The port calls in the order they came: "launch dockerd", "stop ci-job group 50ms", ….
struct PortJournal {
  std::vector<std::string> calls;
  void Add(std::string call) { calls.push_back(std::move(call)); }
  bool Has(const std::string& call) const {
    for (const auto& entry : calls) {
      if (entry == call) return true;
    }
    return false;
  }
};

inline std::string SignalAbbrev(int signal_number) {
  const char* name = ::sigabbrev_np(signal_number);
  return name != nullptr ? "SIG" + std::string(name) : std::to_string(signal_number);
}

class FakeProcesses final : public entrypoint::Processes {
 public:
  // How a program (argv[0]) behaves once started.
  struct Program {
    std::optional<int> exits_with;  // exits with this status at once
    // SIGTERM and SIGINT (forwarded, or StopGracefully's) do not end it; StopGracefully then
    // ends it with SIGKILL, as the supervisor does after the timeout.
    bool ignores_stop = false;
    bool watch_fails = false;  // Watch (and so StopGracefully) fails for it
    bool stop_fails = false;   // StopGracefully fails for it
  };

  FakeProcesses(boost::asio::io_context& io, PortJournal& journal) : io_(io), journal_(journal) {}

  std::map<std::string, Program> programs;
  std::map<std::string, Error> launch_errors;  // argv[0] → what Launch fails with
  std::optional<Error> start_error;
  // What each WaitForNoChildren answers, in turn; none left: no child.
  std::deque<std::vector<pid_t>> children_left;
  // Run inside the calls, for a test to act at that moment (post a signal, say).
  std::function<void(pid_t, const process::LaunchSpec&)> on_launch;
  std::function<void(pid_t)> on_stop;  // in StopGracefully, before the process ends
  std::function<void()> on_wait_for_no_children;

  std::vector<process::LaunchSpec> launched;
  std::vector<std::chrono::milliseconds> waits;
  std::optional<pid_t> forward_target;

  // A signal to PID 1: forwarded to the target group (whose leader a SIGTERM or SIGINT ends
  // unless it ignores them), then reported.
  void Signal(int signal_number) {
    boost::asio::post(io_, [this, signal_number] {
      journal_.Add("signal " + SignalAbbrev(signal_number));
      const bool stop = signal_number == SIGTERM || signal_number == SIGINT;
      if (stop && forward_target_alive() && !ProgramOf(*forward_target).ignores_stop) {
        End(*forward_target, {.pid = *forward_target, .signal = signal_number});
      }
      if (on_signal_) on_signal_(signal_number);
    });
  }
  // The process ends on its own.
  void Exit(pid_t pid, process::ExitStatus status) {
    status.pid = pid;
    End(pid, status);
  }
  pid_t PidOf(const std::string& program) const {
    for (const auto& [pid, name] : names_) {
      if (name == program) return pid;
    }
    return 0;
  }
  bool Alive(pid_t pid) const { return alive_.count(pid) != 0; }

  Status Start(SignalCallback on_signal) override {
    journal_.Add("start");
    if (start_error) return *start_error;
    on_signal_ = std::move(on_signal);
    return OkStatus();
  }

  Result<pid_t> Launch(const process::LaunchSpec& spec) override {
    const std::string& program = spec.argv.front();
    journal_.Add("launch " + program);
    if (auto error = launch_errors.find(program); error != launch_errors.end()) {
      return error->second;
    }
    const pid_t pid = next_pid_++;
    names_[pid] = program;
    alive_.insert(pid);
    launched.push_back(spec);
    if (auto code = ProgramOf(pid).exits_with) Exit(pid, {.code = *code});
    if (on_launch) on_launch(pid, spec);
    return pid;
  }

  Status Watch(pid_t pid, ExitCallback on_exit) override {
    journal_.Add("watch " + NameOf(pid));
    return AddWatcher(pid, std::move(on_exit));
  }

  void ForwardSignalsTo(pid_t process_group) override {
    journal_.Add("forward " + NameOf(process_group));
    forward_target = process_group;
  }

  Status StopGracefully(pid_t pid, std::chrono::milliseconds timeout, process::StopScope scope,
                        ExitCallback done) override {
    journal_.Add("stop " + NameOf(pid) +
                 (scope == process::StopScope::kProcessGroup ? " group " : " process ") +
                 std::to_string(timeout.count()) + "ms");
    if (ProgramOf(pid).stop_fails) {
      return Error::Environment("stopping pid " + std::to_string(pid), EPERM);
    }
    DIND_RETURN_IF_ERROR(AddWatcher(pid, std::move(done)));
    if (on_stop) on_stop(pid);
    const int signal_number = ProgramOf(pid).ignores_stop ? SIGKILL : SIGTERM;
    End(pid, {.pid = pid, .signal = signal_number});
    return OkStatus();
  }

  void WaitForNoChildren(std::chrono::milliseconds timeout, NoChildrenCallback done) override {
    journal_.Add("wait-for-no-children " + std::to_string(timeout.count()) + "ms");
    waits.push_back(timeout);
    if (on_wait_for_no_children) on_wait_for_no_children();
    std::vector<pid_t> left;
    if (!children_left.empty()) {
      left = std::move(children_left.front());
      children_left.pop_front();
    }
    boost::asio::post(io_, [done = std::move(done), left] { done(left); });
  }

  void Kill(pid_t pid, int signal_number) override {
    const pid_t target = pid < 0 ? -pid : pid;
    journal_.Add("kill " + std::string(pid < 0 ? "-" : "") + NameOf(target) + " " +
                 SignalAbbrev(signal_number));
    if (signal_number == SIGKILL && Alive(target)) {
      End(target, {.pid = target, .signal = SIGKILL});
    }
  }

 private:
  bool forward_target_alive() const { return forward_target && Alive(*forward_target); }
  std::string NameOf(pid_t pid) const {
    auto it = names_.find(pid);
    return it != names_.end() ? it->second : std::to_string(pid);
  }
  Program ProgramOf(pid_t pid) const {
    auto it = programs.find(NameOf(pid));
    return it != programs.end() ? it->second : Program{};
  }
  Status AddWatcher(pid_t pid, ExitCallback on_exit) {
    if (ProgramOf(pid).watch_fails || !Alive(pid)) {
      return Error::Environment("watching pid " + std::to_string(pid) + ": not a child", ECHILD);
    }
    watchers_[pid].push_back(std::move(on_exit));
    return OkStatus();
  }
  // Reaped on a later loop turn, as the supervisor reaps on SIGCHLD; once.
  void End(pid_t pid, process::ExitStatus status) {
    boost::asio::post(io_, [this, pid, status] {
      if (alive_.erase(pid) == 0) return;
      auto callbacks = std::move(watchers_[pid]);
      watchers_.erase(pid);
      for (auto& callback : callbacks) callback(status);
    });
  }

  boost::asio::io_context& io_;
  PortJournal& journal_;
  SignalCallback on_signal_;
  pid_t next_pid_ = 100;
  std::map<pid_t, std::string> names_;
  std::set<pid_t> alive_;
  std::map<pid_t, std::vector<ExitCallback>> watchers_;
};

class FakeDockerdPing final : public entrypoint::DockerdPing {
 public:
  FakeDockerdPing(boost::asio::io_context& io, PortJournal& journal) : io_(io), journal_(journal) {}

  // What each ping answers, in turn; none left: `otherwise`.
  std::deque<Result<std::string>> answers;
  Result<std::string> otherwise = std::string("OK");
  bool hang = false;  // no ping is ever answered (dockerd accepts and says nothing)
  std::function<void(int ping)> on_ping;  // 1 for the first
  int pings = 0;

  void Ping(PingCallback done) override {
    ++pings;
    journal_.Add("ping");
    if (on_ping) on_ping(pings);
    if (hang) return;
    Result<std::string> answer = otherwise;
    if (!answers.empty()) {
      answer = std::move(answers.front());
      answers.pop_front();
    }
    boost::asio::post(io_, [done = std::move(done), answer]() mutable { done(std::move(answer)); });
  }

 private:
  boost::asio::io_context& io_;
  PortJournal& journal_;
};

class FakeModuleLoader final : public entrypoint::ModuleLoader {
 public:
  explicit FakeModuleLoader(PortJournal& journal) : journal_(journal) {}
  std::string dir = "/lib/modules/6.1.0-test-amd64";
  bool mounted = true;
  std::set<std::string> failing;

  std::string ModulesDir() override { return dir; }
  bool ModulesDirMounted() override { return mounted; }
  bool Load(const std::string& module) override {
    journal_.Add("modprobe " + module);
    return failing.count(module) == 0;
  }

 private:
  PortJournal& journal_;
};

class FakeEnvironment final : public entrypoint::Environment {
 public:
  std::map<std::string, std::string> variables;
  std::set<std::string> executables;

  std::optional<std::string> Get(const std::string& name) override {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  }
  bool IsExecutable(const std::string& path) override { return executables.count(path) != 0; }
};

// Time stands still until the test moves it.
class FakeClock final : public entrypoint::Clock {
 public:
  TimePoint now{std::chrono::hours(1000)};
  void Advance(std::chrono::milliseconds by) { now += by; }
  TimePoint Now() override { return now; }
};

class FakeSidecarGate final : public entrypoint::SidecarGate {
 public:
  FakeSidecarGate(boost::asio::io_context& io, PortJournal& journal) : io_(io), journal_(journal) {}

  std::optional<Error> start_error;
  // Its first probe round verifies egress right after Start (published on a later loop turn).
  bool ready_on_start = true;
  http::Readiness readiness{false, "egress: no probe round has finished yet"};
  int stop_code = 0;
  std::function<void()> on_start;
  std::optional<netcfg::DetectionReport> started_with;

  // A probe round or event: readiness changes and is published, from the loop.
  void Publish(http::Readiness now) {
    boost::asio::post(io_, [this, now] {
      readiness = now;
      if (on_readiness_) on_readiness_(readiness);
    });
  }

  Status Start(const netcfg::DetectionReport& report, ReadinessCallback on_readiness) override {
    journal_.Add("sidecar start");
    started_with = report;
    if (start_error) return *start_error;
    on_readiness_ = std::move(on_readiness);
    if (ready_on_start) Publish({.ready = true, .reason = ""});
    if (on_start) on_start();
    return OkStatus();
  }
  http::Readiness Readiness() const override { return readiness; }
  int Stop() override {
    journal_.Add("sidecar stop");
    on_readiness_ = nullptr;
    return stop_code;
  }

 private:
  boost::asio::io_context& io_;
  PortJournal& journal_;
  ReadinessCallback on_readiness_;
};

}  // namespace dind::testing
