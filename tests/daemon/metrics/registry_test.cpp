// SPDX-License-Identifier: Apache-2.0
#include "daemon/metrics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace dind::metrics {
namespace {

using ::testing::HasSubstr;

TEST(EscapeTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue(R"(C:\dir)"), R"(C:\\dir)");
  EXPECT_EQ(EscapeLabelValue(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(EscapeLabelValue("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(EscapeLabelValue("tab\tstays"), "tab\tstays");
  EXPECT_EQ(EscapeLabelValue(""), "");
}

TEST(EscapeTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(EscapeHelp(R"(a "quoted" \ path)"
                       "\nnext"),
            R"(a "quoted" \\ path\nnext)");
}

TEST(EscapeTest, ValidUtf8IsKeptAndInvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(EscapeLabelValue("réseau-ü-€-😀"), "réseau-ü-€-😀");
  EXPECT_EQ(EscapeLabelValue("a\xFF"
                             "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(EscapeLabelValue("\xC3"), "\xEF\xBF\xBD");                  // truncated sequence
  EXPECT_EQ(EscapeLabelValue("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(EscapeLabelValue("\xED\xA0\x80"),                           // a UTF-16 surrogate
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(FormatValueTest, ShortestRoundTripAndSpecialValues) {
  EXPECT_EQ(FormatValue(1500), "1500");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1.7e9), "1700000000");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(0.00001), "1e-05");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(123456789012345.0), "123456789012345");
  EXPECT_EQ(FormatValue(1.5e16), "1.5e+16");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(RegistryTest, RendersGaugesAndCountersWithHelpAndType) {
  Registry registry;
  Gauge* mtu = *registry.AddGauge("dind_uplink_mtu", "MTU of the pod's uplink.");
  Counter* repairs =
      *registry.AddCounter("dind_rule_repairs_total", "Rules reinstalled.", {"backend"});
  mtu->Set(1450);
  repairs->Increment({"nft"});
  repairs->Increment({"nft"}, 2);
  repairs->Increment({"legacy"});

  EXPECT_EQ(registry.Render(),
            "# HELP dind_uplink_mtu MTU of the pod's uplink.\n"
            "# TYPE dind_uplink_mtu gauge\n"
            "dind_uplink_mtu 1450\n"
            "# HELP dind_rule_repairs_total Rules reinstalled.\n"
            "# TYPE dind_rule_repairs_total counter\n"
            "dind_rule_repairs_total{backend=\"legacy\"} 1\n"
            "dind_rule_repairs_total{backend=\"nft\"} 3\n");
}

TEST(RegistryTest, MetricsWithoutLabelsStartAtZeroAndLabelledOnesStartEmpty) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("a_total", "A.").ok());
  ASSERT_TRUE(registry.AddGauge("b", "B.", {"network"}).ok());
  EXPECT_EQ(registry.Render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
            "# HELP b B.\n# TYPE b gauge\n");
}

TEST(RegistryTest, LabelValuesAreEscapedAndSeriesSortedByLabelValues) {
  Registry registry;
  Gauge* gauge = *registry.AddGauge("dind_docker_network_mtu", "MTU.", {"network", "bridge"});
  gauge->Set({"zeta", "br-1"}, 1500);
  gauge->Set({"we\"ird\\name\n", "br-2"}, 9000);
  gauge->Set({"alpha", "docker0"}, 1450);
  EXPECT_EQ(registry.Render(),
            "# HELP dind_docker_network_mtu MTU.\n"
            "# TYPE dind_docker_network_mtu gauge\n"
            "dind_docker_network_mtu{network=\"alpha\",bridge=\"docker0\"} 1450\n"
            "dind_docker_network_mtu{network=\"we\\\"ird\\\\name\\n\",bridge=\"br-2\"} 9000\n"
            "dind_docker_network_mtu{network=\"zeta\",bridge=\"br-1\"} 1500\n");
}

TEST(RegistryTest, GaugeAddRemoveAndClear) {
  Registry registry;
  Gauge* gauge = *registry.AddGauge("g", "G.", {"k"});
  gauge->Add({"x"}, 2);
  gauge->Add({"x"}, -0.5);
  gauge->Set({"y"}, 1);
  EXPECT_THAT(registry.Render(), HasSubstr("g{k=\"x\"} 1.5\ng{k=\"y\"} 1\n"));
  gauge->Remove({"y"});
  EXPECT_EQ(registry.Render(), "# HELP g G.\n# TYPE g gauge\ng{k=\"x\"} 1.5\n");
  gauge->Clear();
  EXPECT_EQ(registry.Render(), "# HELP g G.\n# TYPE g gauge\n");
}

TEST(RegistryTest, CountersIgnoreNegativeAndNaNIncrements) {
  Registry registry;
  Counter* counter = *registry.AddCounter("c_total", "C.");
  counter->Increment({}, 5);
  counter->Increment({}, -1);
  counter->Increment({}, std::nan(""));
  EXPECT_THAT(registry.Render(), HasSubstr("\nc_total 5\n"));
}

TEST(RegistryTest, HistogramRendersCumulativeBucketsSumAndCount) {
  Registry registry;
  Histogram* latency = *registry.AddHistogram("dind_probe_duration_seconds", "Probe latency.",
                                              {0.01, 0.1, 1}, {"target"});
  latency->Observe({"dns"}, 0.005);
  latency->Observe({"dns"}, 0.01);  // on the bound: counts in that bucket ("le")
  latency->Observe({"dns"}, 0.5);
  latency->Observe({"dns"}, 3);  // only in +Inf
  latency->Observe({"dns"}, std::nan(""));
  EXPECT_EQ(registry.Render(),
            "# HELP dind_probe_duration_seconds Probe latency.\n"
            "# TYPE dind_probe_duration_seconds histogram\n"
            "dind_probe_duration_seconds_bucket{target=\"dns\",le=\"0.01\"} 2\n"
            "dind_probe_duration_seconds_bucket{target=\"dns\",le=\"0.1\"} 2\n"
            "dind_probe_duration_seconds_bucket{target=\"dns\",le=\"1\"} 3\n"
            "dind_probe_duration_seconds_bucket{target=\"dns\",le=\"+Inf\"} 4\n"
            "dind_probe_duration_seconds_sum{target=\"dns\"} 3.515\n"
            "dind_probe_duration_seconds_count{target=\"dns\"} 4\n");
}

TEST(RegistryTest, HistogramWithoutLabelsStartsWithZeroBuckets) {
  Registry registry;
  ASSERT_TRUE(registry.AddHistogram("h", "H.", {0.5}).ok());
  EXPECT_EQ(registry.Render(),
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{le=\"0.5\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

TEST(RegistryTest, ProbeLatencyBucketsAreAcceptedAndIncreasing) {
  Registry registry;
  EXPECT_TRUE(registry.AddHistogram("p", "P.", ProbeLatencyBuckets()).ok());
}

TEST(RegistryTest, SamplesWithTheWrongNumberOfLabelValuesAreDroppedAndReported) {
  Registry registry;
  Gauge* gauge = *registry.AddGauge("g", "G.", {"a", "b"});
  gauge->Set({"only-one"}, 1);
  gauge->Set(7);
  EXPECT_EQ(gauge->dropped_samples(), 2u);
  EXPECT_EQ(registry.Render(),
            "# HELP g G.\n# TYPE g gauge\n"
            "# dind_metrics: dropped 2 samples of g with the wrong number of label values "
            "(labels: a, b)\n");
}

TEST(RegistryTest, RefusesNamesPrometheusWouldReject) {
  Registry registry;
  ASSERT_TRUE(registry.AddGauge("ok:name_1", "fine").ok());
  const auto expect_bad = [](const Error& error, const std::string& fragment) {
    EXPECT_EQ(error.kind, ErrorKind::kBadInput);
    EXPECT_THAT(error.Message(), HasSubstr(fragment));
  };
  expect_bad(registry.AddGauge("1abc", "x").error(), "metric name \"1abc\"");
  expect_bad(registry.AddGauge("", "x").error(), "metric name \"\"");
  expect_bad(registry.AddGauge("with-dash", "x").error(), "with-dash");
  expect_bad(registry.AddGauge("ok:name_1", "x").error(), "registered twice");
  expect_bad(registry.AddGauge("g", "x", {"has:colon"}).error(), "label name \"has:colon\"");
  expect_bad(registry.AddGauge("g", "x", {"__reserved"}).error(), "__reserved");
  expect_bad(registry.AddCounter("c", "x", {"a", "a"}).error(), "appears twice");
  expect_bad(registry.AddHistogram("h", "x", {1}, {"le"}).error(), "\"le\"");
  expect_bad(registry.AddHistogram("h", "x", {1, 1}).error(), "strictly increasing");
  expect_bad(registry.AddHistogram("h", "x", {1, std::numeric_limits<double>::infinity()}).error(),
             "finite");
  // Nothing that failed was registered.
  EXPECT_EQ(registry.Render(), "# HELP ok:name_1 fine\n# TYPE ok:name_1 gauge\nok:name_1 0\n");
}

TEST(RegistryTest, HelpTextIsEscaped) {
  Registry registry;
  ASSERT_TRUE(registry.AddGauge("g", "line one\nline \\two").ok());
  EXPECT_THAT(registry.Render(), HasSubstr("# HELP g line one\\nline \\\\two\n"));
}

}  // namespace
}  // namespace dind::metrics
