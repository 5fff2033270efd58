// SPDX-License-Identifier: Apache-2.0
// A small Prometheus text exposition (format 0.0.4) writer: gauges, counters and fixed-bucket
// histograms with labels, owned by a Registry object that the daemon owns (no global state).
//
// Registration validates names and returns an Error for a bad one; that happens once at start.
// Recording values never fails loudly: a sample with the wrong number of label values is a
// programming error that must not take the daemon down from inside the event loop, so it is
// dropped and counted, and Render() shows the count as a comment next to the metric.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dind::metrics {

// Values of one series' labels, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// Formatting pieces of the exposition format, exposed for tests and other writers.
// Label values escape backslash, double quote and newline; HELP text escapes backslash and
// newline. Invalid UTF-8 becomes U+FFFD because Prometheus rejects a whole scrape over it.
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
// Shortest text that reads back as the same double; "NaN", "+Inf", "-Inf" for the rest.
std::string FormatValue(double value);

class Family {
 public:
  virtual ~Family() = default;
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  // Appends HELP, TYPE and every sample of this family to `out`.
  void Render(std::string& out) const;
  // Samples dropped for carrying the wrong number of label values.
  std::uint64_t dropped_samples() const { return dropped_samples_; }

 protected:
  Family(std::string name, std::string help, std::vector<std::string> label_names);
  virtual std::string_view type_name() const = 0;
  virtual void RenderSamples(std::string& out) const = 0;
  // True when `values` fits the label names; otherwise counts the drop.
  bool Accept(const LabelValues& values);
  // `name{a="x",b="y"[,extra]}` (the braces only when there is a label).
  void AppendSeriesName(std::string& out, std::string_view suffix, const LabelValues& values,
                        std::string_view extra_label = {}) const;
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::uint64_t dropped_samples_ = 0;
};

// A value that goes up and down: MTUs, flags (0/1), timestamps.
class Gauge final : public Family {
 public:
  void Set(double value) { Set({}, value); }
  void Set(const LabelValues& labels, double value);
  void Add(const LabelValues& labels, double delta);
  // Forgets a series, e.g. the MTU gauge of a docker network that was removed.
  void Remove(const LabelValues& labels) { values_.erase(labels); }
  void Clear();

 private:
  friend class Registry;
  using Family::Family;
  std::string_view type_name() const override { return "gauge"; }
  void RenderSamples(std::string& out) const override;
  std::map<LabelValues, double> values_;
};

// A total that only goes up (by convention its name ends in "_total").
class Counter final : public Family {
 public:
  // Negative and NaN increments are dropped: a counter that goes down reads as a reset.
  void Increment(const LabelValues& labels = {}, double by = 1);
  void Remove(const LabelValues& labels) { values_.erase(labels); }

 private:
  friend class Registry;
  using Family::Family;
  std::string_view type_name() const override { return "counter"; }
  void RenderSamples(std::string& out) const override;
  std::map<LabelValues, double> values_;
};

// Observations counted into fixed buckets, e.g. probe latencies in seconds.
class Histogram final : public Family {
 public:
  void Observe(double value) { Observe({}, value); }
  // NaN observations are dropped.
  void Observe(const LabelValues& labels, double value);
  void Remove(const LabelValues& labels) { series_.erase(labels); }

 private:
  friend class Registry;
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> upper_bounds);
  std::string_view type_name() const override { return "histogram"; }
  void RenderSamples(std::string& out) const override;

  struct Series {
    std::vector<std::uint64_t> bucket_counts;  // per upper bound, not cumulative
    double sum = 0;
    std::uint64_t count = 0;
  };
  std::vector<double> upper_bounds_;  // strictly increasing, finite; +Inf is implicit
  std::map<LabelValues, Series> series_;
};

// Latency buckets in seconds for network probes: 1 ms to 10 s.
std::vector<double> ProbeLatencyBuckets();

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The returned pointers stay valid for the registry's lifetime. Errors (kBadInput) for a name
  // or label name that Prometheus would reject, a name registered twice, a label named "le"
  // on a histogram, or histogram bounds that are not finite and strictly increasing.
  Result<Gauge*> AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Result<Counter*> AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Result<Histogram*> AddHistogram(std::string name, std::string help,
                                  std::vector<double> upper_bounds,
                                  std::vector<std::string> label_names = {});

  // The whole exposition, families in registration order, series sorted by label values.
  std::string Render() const;

 private:
  Status CheckNames(const std::string& name, const std::vector<std::string>& label_names) const;
  std::vector<std::unique_ptr<Family>> families_;
};

}  // namespace dind::metrics
