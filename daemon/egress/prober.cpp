// SPDX-License-Identifier: Apache-2.0
#include "daemon/egress/prober.h"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <deque>
#include <exception>
#include <map>
#include <random>

#include "common/log.h"

namespace dind::egress {

namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

std::optional<std::string> NotReadyReason(const ProberStatus& status,
                                          std::optional<Family> family) {
  if (status.attachment != AttachStatus::State::kAttached) {
    return status.attachment_reason.empty()
               ? "the egress probe is not attached to the docker bridge"
               : status.attachment_reason;
  }
  if (status.rounds_since_attach == 0) {
    return "egress probes from the docker bridge have not finished a round yet";
  }
  std::vector<const TargetResult*> failed;
  bool any = false;
  for (const TargetResult& result : status.results) {
    if (family && result.family != *family) continue;
    any = true;
    if (result.outcome == Outcome::kFailed) failed.push_back(&result);
  }
  if (family && !any) {
    return std::string("no ") + (*family == Family::kIPv6 ? "IPv6" : "IPv4") +
           " egress probe target: give one with --probe-target (an IPv6 address in brackets, "
           "[2001:db8::1]:443)";
  }
  if (failed.empty()) return std::nullopt;
  std::string reason = failed.front()->detail;
  if (failed.size() > 1) reason += " (and " + std::to_string(failed.size() - 1) + " more failing)";
  return reason;
}

}  // namespace

std::optional<std::string> EgressNotReadyReason(const ProberStatus& status) {
  return NotReadyReason(status, std::nullopt);
}

std::optional<std::string> EgressNotReadyReason(const ProberStatus& status, Family family) {
  return NotReadyReason(status, family);
}

milliseconds NextRoundDelay(milliseconds interval, milliseconds jitter, double uniform) {
  const double shift = static_cast<double>(jitter.count()) * (2.0 * uniform - 1.0);
  const auto delay =
      static_cast<milliseconds::rep>(std::llround(static_cast<double>(interval.count()) + shift));
  return milliseconds(std::max<milliseconds::rep>(0, delay));
}

struct Prober::State : std::enable_shared_from_this<Prober::State> {
  struct InFlight {
    std::size_t target = 0;
    std::shared_ptr<Probe> probe;
    std::unique_ptr<asio::steady_timer> deadline;
    steady_clock::time_point started;
  };

  State(asio::io_context& io_context, ProberConfig prober_config,
        std::vector<ProbeTarget> probe_targets, Attachment& bridge_attachment,
        ProbeFactory& probe_factory, RoundCallback callback)
      : io(io_context),
        config(prober_config),
        targets(std::move(probe_targets)),
        attachment(bridge_attachment),
        factory(probe_factory),
        on_round(std::move(callback)),
        round_timer(io_context),
        random(std::random_device{}()),
        last(targets.size()) {
    config.max_in_flight = std::max<std::size_t>(1, config.max_in_flight);
  }

  void ScheduleRound(milliseconds delay) {
    const std::uint64_t generation = ++schedule_generation;
    round_timer.expires_after(delay);
    round_timer.async_wait([self = shared_from_this(), generation](const error_code& error) {
      if (error || self->stopped || generation != self->schedule_generation) return;
      self->StartRound();
    });
  }

  void StartRound() {
    if (stopped || round_running) return;
    round_running = true;
    const AttachStatus attached = attachment.Ensure();
    if (attached.state == AttachStatus::State::kSettling) {
      // Not a round: probing now would only lose packets on a port the bridge has not enabled.
      round_running = false;
      ScheduleRound(config.settle_poll);
      return;
    }
    status.attachment = attached.state;
    status.attachment_reason = attached.reason;
    if (attached.state != AttachStatus::State::kAttached || !attached.vantage) {
      status.vantage.reset();
      status.rounds_since_attach = 0;
      FinishRound();
      return;
    }
    const bool same_attachment =
        status.vantage && status.vantage->bridge == attached.vantage->bridge;
    if (!same_attachment) status.rounds_since_attach = 0;
    vantage = attached.vantage;
    status.vantage = attached.vantage;
    status.vantage->netns.reset();  // the status must not keep the namespace alive
    for (std::size_t i = 0; i < targets.size(); ++i) queue.push_back(i);
    Pump();
  }

  void Pump() {
    while (!stopped && in_flight.size() < config.max_in_flight && !queue.empty()) {
      const std::size_t target = queue.front();
      queue.pop_front();
      Launch(target);
    }
    if (!stopped && round_running && in_flight.empty() && queue.empty()) {
      ++status.rounds_since_attach;
      FinishRound();
    }
  }

  void Launch(std::size_t target) {
    if (auto unavailable = FamilyUnavailable(targets[target], *vantage)) {
      Record(target, std::move(*unavailable), milliseconds(0));
      return;
    }
    auto made = factory.Make(targets[target], *vantage);
    if (!made) {
      Record(target, {Outcome::kFailed, made.error().Message(), std::nullopt}, milliseconds(0));
      return;
    }
    const std::uint64_t id = ++next_probe_id;
    InFlight& flight = in_flight[id];
    flight.target = target;
    flight.probe = std::move(made).value();
    flight.deadline = std::make_unique<asio::steady_timer>(io);
    flight.started = steady_clock::now();
    flight.deadline->expires_after(flight.probe->Timeout());
    flight.deadline->async_wait([self = shared_from_this(), id](const error_code& error) {
      if (!error && !self->stopped) self->TimedOut(id);
    });
    flight.probe->Start([self = shared_from_this(), id](ProbeReport report) {
      if (!self->stopped) self->Done(id, std::move(report));
    });
  }

  void Done(std::uint64_t id, ProbeReport report) {
    auto it = in_flight.find(id);
    if (it == in_flight.end()) return;  // the timeout came first
    it->second.deadline->cancel();
    const auto took = steady_clock::now() - it->second.started;
    const std::size_t target = it->second.target;
    in_flight.erase(it);
    Record(target, std::move(report), took);
    Pump();
  }

  void TimedOut(std::uint64_t id) {
    auto it = in_flight.find(id);
    if (it == in_flight.end()) return;
    const std::shared_ptr<Probe> probe = it->second.probe;
    const std::size_t target = it->second.target;
    in_flight.erase(it);
    probe->Cancel();
    std::string detail =
        probe->Description() + " timed out after " + FormatDuration(probe->Timeout());
    if (std::string hint = probe->TimeoutHint(); !hint.empty()) detail += "; " + hint;
    Record(target, {Outcome::kFailed, std::move(detail), std::nullopt}, probe->Timeout());
    Pump();
  }

  void Record(std::size_t target, ProbeReport report, steady_clock::duration took) {
    TargetResult result{targets[target],
                        report.outcome,
                        std::move(report.detail),
                        std::chrono::duration_cast<std::chrono::microseconds>(took),
                        report.path_mtu,
                        std::chrono::system_clock::now(),
                        report.family.value_or(targets[target].family())};
    LogChange(last[target], result);
    last[target] = std::move(result);
    // The status lists results in the order the targets were given.
    status.results.clear();
    for (const auto& kept : last) {
      if (kept) status.results.push_back(*kept);
    }
  }

  // One line per change, not per round: a failure that persists for hours is logged once (and
  // again when its reason changes), a recovery once.
  static void LogChange(const std::optional<TargetResult>& before, const TargetResult& now) {
    const log::Fields fields = {{"target", now.target.Key()},
                                {"outcome", std::string(OutcomeName(now.outcome))}};
    const bool was_failing = before && before->outcome == Outcome::kFailed;
    if (now.outcome == Outcome::kFailed) {
      if (!was_failing || before->detail != now.detail) {
        log::Warn(now.detail, fields);
      } else {
        log::Debug(now.detail, fields);
      }
      return;
    }
    if (was_failing) {
      log::Info("egress probe recovered: " + now.detail, fields);
    } else if (!before || before->outcome != now.outcome) {
      log::Info(now.detail, fields);
    } else {
      log::Debug(now.detail, fields);
    }
  }

  void FinishRound() {
    vantage.reset();
    ++status.rounds;
    status.last_round_at = std::chrono::system_clock::now();
    if (on_round) {
      try {
        on_round(status);
      } catch (const std::exception& error) {
        log::Error(std::string("egress probe round callback failed: ") + error.what());
      } catch (...) {
        log::Error("egress probe round callback failed with an unknown exception");
      }
    }
    // Still "running" during the callback, so a ProbeSoon() from it asks for a rerun that the
    // schedule below honours instead of overriding.
    round_running = false;
    if (stopped) return;
    if (rerun_requested) {
      rerun_requested = false;
      ScheduleRound(milliseconds(0));
      return;
    }
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    ScheduleRound(NextRoundDelay(config.interval, config.jitter, uniform(random)));
  }

  void Stop() {
    stopped = true;
    round_timer.cancel();
    for (auto& [id, flight] : in_flight) {
      flight.deadline->cancel();
      flight.probe->Cancel();
    }
    in_flight.clear();
    queue.clear();
    vantage.reset();
    round_running = false;
    rerun_requested = false;
  }

  asio::io_context& io;
  ProberConfig config;
  std::vector<ProbeTarget> targets;
  Attachment& attachment;
  ProbeFactory& factory;
  RoundCallback on_round;
  asio::steady_timer round_timer;
  std::mt19937 random;

  ProberStatus status;
  std::optional<Vantage> vantage;                 // during a round: where its probes stand
  std::vector<std::optional<TargetResult>> last;  // by target index
  std::deque<std::size_t> queue;                  // targets of this round not started yet
  std::map<std::uint64_t, InFlight> in_flight;
  std::uint64_t next_probe_id = 0;
  std::uint64_t schedule_generation = 0;
  bool round_running = false;
  bool rerun_requested = false;
  bool stopped = false;
};

Prober::Prober(asio::io_context& io, ProberConfig config, std::vector<ProbeTarget> targets,
               Attachment& attachment, ProbeFactory& factory, RoundCallback on_round)
    : state_(std::make_shared<State>(io, config, std::move(targets), attachment, factory,
                                     std::move(on_round))) {}

Prober::~Prober() {
  state_->Stop();
}

void Prober::Start() {
  state_->stopped = false;
  state_->ScheduleRound(milliseconds(0));
}

void Prober::Stop() {
  state_->Stop();
}

void Prober::ProbeSoon() {
  if (state_->stopped) return;
  if (state_->round_running) {
    state_->rerun_requested = true;
    return;
  }
  state_->ScheduleRound(milliseconds(0));
}

const ProberStatus& Prober::status() const {
  return state_->status;
}

}  // namespace dind::egress
