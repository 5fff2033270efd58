// SPDX-License-Identifier: Apache-2.0
#include "daemon/session/pod_session.h"

#include <utility>

#include "common/check.h"

namespace dind::session {

PodSession::PodSession(const PodSessionOptions& options)
    : detector_(netlink_, options.detect, options.sources) {}

Result<std::unique_ptr<PodSession>> PodSession::Open(PodSessionOptions options) {
  std::unique_ptr<PodSession> session(new PodSession(options));
  auto report = session->detector_.Detect();
  if (!report) return report.error();
  // The backend is chosen once: the proof is worth its 10 ms at start, not at every check.
  if (options.manage_rules || options.choose_backend_without_rules) {
    auto chosen = pod::ChooseBackendHere(report->kernel, options.backend);
    if (!chosen) return chosen.error();
    session->chosen_ = std::move(chosen).value();
  }
  session->report_ = std::move(report).value();
  const pod::ChosenBackend* rules =
      options.manage_rules && session->chosen_ ? &*session->chosen_ : nullptr;
  session->reconciler_ = std::make_unique<sidecar::Reconciler>(
      options.daemon_json, session->detector_, session->sysctls_, rules,
      options.bridges_from_netlink ? &session->netlink_ : nullptr);
  session->reconciler_->set_clamp_mss(options.clamp_mss);
  return session;
}

std::optional<rules::BackendKind> PodSession::backend() const {
  if (!chosen_) return std::nullopt;
  return chosen_->decision.chosen;
}

netcfg::DetectionReport PodSession::TakeReport() {
  DIND_CHECK(report_.has_value(), "the pod session's detection was already handed over");
  netcfg::DetectionReport report = std::move(*report_);
  report_.reset();
  return report;
}

Status PodSession::Start() {
  return reconciler_->Start(TakeReport());
}

}  // namespace dind::session
