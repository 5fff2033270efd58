// SPDX-License-Identifier: Apache-2.0
#include "daemon/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "common/strings.h"

namespace dind::metrics {
namespace {

// Length of the valid UTF-8 sequence at the start of `text`, or 0 when it is invalid
// (overlong forms, surrogates and code points past U+10FFFF are invalid too).
std::size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char min_second = 0x80;
  unsigned char max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // overlong
    if (lead == 0xED) max_second = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // overlong
    if (lead == 0xF4) max_second = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < min_second || byte(1) > max_second) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

std::string Escape(std::string_view text, bool escape_quotes) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::size_t length = Utf8SequenceLength(text);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      text.remove_prefix(1);
      continue;
    }
    if (length == 1) {
      const char c = text.front();
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '"' && escape_quotes) {
        out += "\\\"";
      } else {
        out += c;
      }
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return out;
}

bool IsMetricNameChar(char c, bool first, bool allow_colon) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  const bool digit = c >= '0' && c <= '9';
  return letter || (allow_colon && c == ':') || (!first && digit);
}

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!IsMetricNameChar(name[i], i == 0, allow_colon)) return false;
  }
  return true;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  return Escape(value, /*escape_quotes=*/true);
}

std::string EscapeHelp(std::string_view help) {
  return Escape(help, /*escape_quotes=*/false);
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Like Go's strconv 'g' with shortest precision, which Prometheus clients use: plain digits
  // for ordinary magnitudes (a Unix time reads 1700000000, not 1.7e+09), exponents for tiny
  // values and for huge ones, whose fixed form would show digits the double does not hold.
  const double magnitude = std::fabs(value);
  const auto format = (magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e15))
                          ? std::chars_format::fixed
                          : std::chars_format::scientific;
  char buffer[128];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value, format);
  if (error != std::errc()) return "NaN";  // cannot happen with 64 bytes; keeps the line valid
  return std::string(buffer, end);
}

// --- Family ----------------------------------------------------------------------------------

Family::Family(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

bool Family::Accept(const LabelValues& values) {
  if (values.size() == label_names_.size()) return true;
  ++dropped_samples_;
  return false;
}

void Family::AppendSeriesName(std::string& out, std::string_view suffix, const LabelValues& values,
                              std::string_view extra_label) const {
  out += name_;
  out += suffix;
  if (values.empty() && extra_label.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += label_names_[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_label.empty()) {
    if (!values.empty()) out += ',';
    out += extra_label;
  }
  out += '}';
}

void Family::Render(std::string& out) const {
  out += "# HELP " + name_ + " " + EscapeHelp(help_) + "\n";
  out += "# TYPE " + name_ + " ";
  out += type_name();
  out += '\n';
  RenderSamples(out);
  if (dropped_samples_ > 0) {
    // A plain comment: scrapers ignore it, a human reading /metrics sees the bug.
    out += "# dind_metrics: dropped " + std::to_string(dropped_samples_) + " samples of " + name_ +
           " with the wrong number of label values (labels: " + Join(label_names_, ", ") + ")\n";
  }
}

// --- Gauge and Counter -----------------------------------------------------------------------

namespace {

template <typename Map, typename AppendName>
void RenderPlainSamples(std::string& out, const Map& values, AppendName append_name) {
  for (const auto& [labels, value] : values) {
    append_name(labels);
    out += ' ';
    out += FormatValue(value);
    out += '\n';
  }
}

}  // namespace

void Gauge::Set(const LabelValues& labels, double value) {
  if (Accept(labels)) values_[labels] = value;
}

void Gauge::Add(const LabelValues& labels, double delta) {
  if (Accept(labels)) values_[labels] += delta;
}

void Gauge::Clear() {
  values_.clear();
}

void Gauge::RenderSamples(std::string& out) const {
  RenderPlainSamples(out, values_,
                     [&](const LabelValues& labels) { AppendSeriesName(out, "", labels); });
}

void Counter::Increment(const LabelValues& labels, double by) {
  if (!Accept(labels)) return;
  if (!(by >= 0)) return;  // also drops NaN
  values_[labels] += by;
}

void Counter::RenderSamples(std::string& out) const {
  RenderPlainSamples(out, values_,
                     [&](const LabelValues& labels) { AppendSeriesName(out, "", labels); });
}

// --- Histogram -------------------------------------------------------------------------------

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> upper_bounds)
    : Family(std::move(name), std::move(help), std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {}

void Histogram::Observe(const LabelValues& labels, double value) {
  if (!Accept(labels) || std::isnan(value)) return;
  Series& series = series_[labels];
  if (series.bucket_counts.empty()) series.bucket_counts.assign(upper_bounds_.size(), 0);
  // Buckets are "less than or equal": the first bound >= value takes it; none means +Inf only.
  const auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  if (bucket != upper_bounds_.end()) ++series.bucket_counts[bucket - upper_bounds_.begin()];
  series.sum += value;
  ++series.count;
}

void Histogram::RenderSamples(std::string& out) const {
  for (const auto& [labels, series] : series_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
      cumulative += series.bucket_counts.empty() ? 0 : series.bucket_counts[i];
      AppendSeriesName(out, "_bucket", labels, "le=\"" + FormatValue(upper_bounds_[i]) + "\"");
      out += ' ' + std::to_string(cumulative) + '\n';
    }
    AppendSeriesName(out, "_bucket", labels, "le=\"+Inf\"");
    out += ' ' + std::to_string(series.count) + '\n';
    AppendSeriesName(out, "_sum", labels);
    out += ' ' + FormatValue(series.sum) + '\n';
    AppendSeriesName(out, "_count", labels);
    out += ' ' + std::to_string(series.count) + '\n';
  }
}

std::vector<double> ProbeLatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// --- Registry --------------------------------------------------------------------------------

Status Registry::CheckNames(const std::string& name,
                            const std::vector<std::string>& label_names) const {
  const std::string hint = "this is a bug in dind-netcfg; please report it";
  if (!IsValidName(name, /*allow_colon=*/true)) {
    return Error::BadInput("metric name \"" + name + "\" is not [a-zA-Z_:][a-zA-Z0-9_:]*", hint);
  }
  for (const auto& family : families_) {
    if (family->name() == name) {
      return Error::BadInput("metric name \"" + name + "\" is registered twice", hint);
    }
  }
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!IsValidName(label, /*allow_colon=*/false) || label.rfind("__", 0) == 0) {
      return Error::BadInput("label name \"" + label + "\" of metric " + name +
                                 " is not [a-zA-Z_][a-zA-Z0-9_]* without a leading \"__\"",
                             hint);
    }
    if (std::find(label_names.begin(), label_names.begin() + i, label) != label_names.begin() + i) {
      return Error::BadInput("label name \"" + label + "\" of metric " + name + " appears twice",
                             hint);
    }
  }
  return OkStatus();
}

Result<Gauge*> Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  DIND_RETURN_IF_ERROR(CheckNames(name, label_names));
  std::unique_ptr<Gauge> owned(new Gauge(std::move(name), std::move(help), std::move(label_names)));
  Gauge* gauge = owned.get();
  families_.push_back(std::move(owned));
  // A metric without labels exists from the start, so a scrape before the first Set sees 0.
  if (gauge->label_names().empty()) gauge->Set(0);
  return gauge;
}

Result<Counter*> Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  DIND_RETURN_IF_ERROR(CheckNames(name, label_names));
  std::unique_ptr<Counter> owned(
      new Counter(std::move(name), std::move(help), std::move(label_names)));
  Counter* counter = owned.get();
  families_.push_back(std::move(owned));
  if (counter->label_names().empty()) counter->Increment({}, 0);
  return counter;
}

Result<Histogram*> Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<double> upper_bounds,
                                          std::vector<std::string> label_names) {
  DIND_RETURN_IF_ERROR(CheckNames(name, label_names));
  const std::string hint = "this is a bug in dind-netcfg; please report it";
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    return Error::BadInput("histogram " + name + " uses the reserved label name \"le\"", hint);
  }
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
      return Error::BadInput(
          "bucket bounds of histogram " + name + " are not finite and strictly increasing", hint);
    }
  }
  std::unique_ptr<Histogram> owned(new Histogram(std::move(name), std::move(help),
                                                 std::move(label_names), std::move(upper_bounds)));
  Histogram* histogram = owned.get();
  families_.push_back(std::move(owned));
  if (histogram->label_names().empty()) {
    histogram->series_[{}].bucket_counts.assign(histogram->upper_bounds_.size(), 0);
  }
  return histogram;
}

std::string Registry::Render() const {
  std::string out;
  for (const auto& family : families_) family->Render(out);
  return out;
}

}  // namespace dind::metrics
