// SPDX-License-Identifier: Apache-2.0
// What the proof's child process tells its parent over a pipe, and how the parent turns that
// and the way the child ended into the proof's result. Pure functions, unit-tested.
//
// The report is lines of tab-separated fields (backslash, tab and newline escaped):
//   step     <what the child is about to do>           (progress, so a timeout can say where)
//   outcome  <passed> <counter> <arrived> <masqueraded> <rule_accepted> <arrived_from> <detail>
//   error    <kind> <errno> <what> <hint>
// A last line without its newline was cut off by a kill and is ignored.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "rules/masquerade.h"
#include "rules/proof/traffic_proof.h"

namespace dind::rules {

std::string EncodeStep(std::string_view description);
std::string EncodeOutcome(const ProofOutcome& outcome);  // `elapsed` is the parent's to measure
std::string EncodeError(const Error& error);

struct ProofReport {
  std::vector<std::string> steps;
  std::optional<ProofOutcome> outcome;
  std::optional<Error> error;
};

// An Environment error naming the first line that is not one of the three forms.
Result<ProofReport> DecodeReport(std::string_view text);

// How the child ended, as the parent saw it.
struct ChildEnd {
  bool timed_out = false;  // the parent killed it when the timeout passed
  int wait_status = 0;     // from waitpid
};

// The outcome when the child sent one; else the child's error, or an error for the timeout or
// the abnormal end, naming the last step the child reported.
Result<ProofOutcome> Conclude(BackendKind kind, std::string_view report_text, const ChildEnd& end,
                              std::chrono::milliseconds timeout);

}  // namespace dind::rules
