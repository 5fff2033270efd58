// SPDX-License-Identifier: Apache-2.0
#include "rules/proof/proof_report.h"

#include <sys/wait.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace dind::rules {
namespace {

constexpr char kSeparator = '\t';

std::string Escape(std::string_view field) {
  std::string escaped;
  escaped.reserve(field.size());
  for (char c : field) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '\t':
        escaped += "\\t";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::optional<std::string> Unescape(std::string_view field) {
  std::string plain;
  plain.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '\\') {
      plain += field[i];
      continue;
    }
    if (++i == field.size()) return std::nullopt;
    switch (field[i]) {
      case '\\':
        plain += '\\';
        break;
      case 't':
        plain += '\t';
        break;
      case 'n':
        plain += '\n';
        break;
      default:
        return std::nullopt;
    }
  }
  return plain;
}

std::string Line(std::initializer_list<std::string_view> fields) {
  std::string line;
  for (std::string_view field : fields) {
    if (!line.empty()) line += kSeparator;
    line += Escape(field);
  }
  return line + '\n';
}

std::optional<std::vector<std::string>> SplitFields(std::string_view line) {
  std::vector<std::string> fields;
  while (true) {
    const std::size_t end = line.find(kSeparator);
    auto field = Unescape(line.substr(0, end));
    if (!field) return std::nullopt;
    fields.push_back(std::move(*field));
    if (end == std::string_view::npos) return fields;
    line.remove_prefix(end + 1);
  }
}

std::optional<std::uint64_t> Number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Flag(std::string_view text) {
  if (text == "1") return true;
  if (text == "0") return false;
  return std::nullopt;
}

std::string_view KindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kEnvironment:
      return "environment";
    case ErrorKind::kPermission:
      return "permission";
    case ErrorKind::kBadInput:
      return "bad-input";
    case ErrorKind::kUsage:
      return "usage";
  }
  return "environment";
}

std::optional<ErrorKind> KindFromName(std::string_view name) {
  for (ErrorKind kind :
       {ErrorKind::kEnvironment, ErrorKind::kPermission, ErrorKind::kBadInput, ErrorKind::kUsage}) {
    if (KindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::optional<ProofOutcome> DecodeOutcome(const std::vector<std::string>& f) {
  if (f.size() != 8) return std::nullopt;
  const auto passed = Flag(f[1]);
  const auto counter = Number(f[2]);
  const auto arrived = Flag(f[3]);
  const auto masqueraded = Flag(f[4]);
  const auto accepted = Flag(f[5]);
  if (!passed || !counter || !arrived || !masqueraded || !accepted) return std::nullopt;
  ProofOutcome outcome;
  outcome.passed = *passed;
  outcome.counter_packets = *counter;
  outcome.arrived = *arrived;
  outcome.masqueraded = *masqueraded;
  outcome.rule_accepted = *accepted;
  outcome.arrived_from = f[6];
  outcome.detail = f[7];
  return outcome;
}

std::optional<Error> DecodeError(const std::vector<std::string>& f) {
  if (f.size() != 5) return std::nullopt;
  const auto kind = KindFromName(f[1]);
  const auto errnum = Number(f[2]);
  if (!kind || !errnum || *errnum > 4095) return std::nullopt;
  return Error{*kind, f[3], static_cast<int>(*errnum), f[4]};
}

std::string Context(BackendKind kind) {
  return "proving the " + std::string(BackendName(kind)) + " backend by traffic";
}

std::string WhereItStopped(const ProofReport& report) {
  if (report.steps.empty()) return "before its first step";
  return "at step \"" + report.steps.back() + "\"";
}

constexpr std::string_view kChooseByHand =
    "choose the backend by hand with --backend legacy|nft (or DIND_NETCFG_BACKEND)";

}  // namespace

std::string EncodeStep(std::string_view description) {
  return Line({"step", description});
}

std::string EncodeOutcome(const ProofOutcome& outcome) {
  const std::string counter = std::to_string(outcome.counter_packets);
  return Line({"outcome", outcome.passed ? "1" : "0", counter, outcome.arrived ? "1" : "0",
               outcome.masqueraded ? "1" : "0", outcome.rule_accepted ? "1" : "0",
               outcome.arrived_from, outcome.detail});
}

std::string EncodeError(const Error& error) {
  return Line(
      {"error", KindName(error.kind), std::to_string(error.errnum), error.what, error.hint});
}

Result<ProofReport> DecodeReport(std::string_view text) {
  ProofReport report;
  while (true) {
    const std::size_t end = text.find('\n');
    if (end == std::string_view::npos) break;  // no line, or one cut off by a kill
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);

    const auto fields = SplitFields(line);
    bool understood = false;
    if (fields && fields->front() == "step" && fields->size() == 2) {
      report.steps.push_back((*fields)[1]);
      understood = true;
    } else if (fields && fields->front() == "outcome") {
      report.outcome = DecodeOutcome(*fields);
      understood = report.outcome.has_value();
    } else if (fields && fields->front() == "error") {
      report.error = DecodeError(*fields);
      understood = report.error.has_value();
    }
    if (!understood) {
      return Error::Environment(
          "reading the proof's report: unreadable line \"" + std::string(line) + "\"",
          "this is a bug in dind-netcfg; report it with this line");
    }
  }
  return report;
}

Result<ProofOutcome> Conclude(BackendKind kind, std::string_view report_text, const ChildEnd& end,
                              std::chrono::milliseconds timeout) {
  const std::string context = Context(kind);
  auto report = DecodeReport(report_text);
  if (!report.ok()) return report.error().Wrap(context);
  // A result that made it through the pipe stands, even if the kill raced the child's exit.
  if (report->outcome) return *report->outcome;
  if (report->error) return report->error->Wrap(context);

  if (end.timed_out) {
    std::string hint = "the throwaway namespaces are gone with the killed process; ";
    if (kind == BackendKind::kLegacy) {
      hint +=
          "the legacy backend waits for the xtables lock (/run/xtables.lock or "
          "$XTABLES_LOCKFILE), so another iptables user may be holding it; ";
    }
    hint += "retry on a less loaded machine or " + std::string(kChooseByHand);
    return Error::Environment(context + ": timed out after " + std::to_string(timeout.count()) +
                                  " ms, stopped " + WhereItStopped(*report),
                              ETIMEDOUT, hint);
  }

  std::string how;
  if (WIFSIGNALED(end.wait_status)) {
    const int signal = WTERMSIG(end.wait_status);
    how = "died of signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  } else if (WIFEXITED(end.wait_status) && WEXITSTATUS(end.wait_status) != 0) {
    how = "exited with status " + std::to_string(WEXITSTATUS(end.wait_status));
  } else {
    how = "ended without a result";
  }
  return Error::Environment(
      context + ": the proof's process " + how + " " + WhereItStopped(*report),
      "this is a bug in dind-netcfg or a library it uses; report it with "
      "this line, and meanwhile " +
          std::string(kChooseByHand));
}

}  // namespace dind::rules
