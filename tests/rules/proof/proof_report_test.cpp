// SPDX-License-Identifier: Apache-2.0
// The report the proof's child sends its parent, and the parent's conclusion from it.
#include "rules/proof/proof_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>

namespace dind::rules {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kExitedCleanly = 0;  // wait status of exit(0)
constexpr int kKilled = SIGKILL;   // wait status of death by SIGKILL

ProofOutcome Sample() {
  ProofOutcome outcome;
  outcome.passed = true;
  outcome.counter_packets = 18446744073709551615ULL;  // the whole range survives
  outcome.arrived = true;
  outcome.masqueraded = true;
  outcome.rule_accepted = true;
  outcome.arrived_from = "192.0.2.1";
  outcome.detail = "rule counted 1 packet; it arrived from 192.0.2.1, masqueraded";
  return outcome;
}

void ExpectSameOutcome(const ProofOutcome& got, const ProofOutcome& want) {
  EXPECT_EQ(got.passed, want.passed);
  EXPECT_EQ(got.counter_packets, want.counter_packets);
  EXPECT_EQ(got.arrived, want.arrived);
  EXPECT_EQ(got.masqueraded, want.masqueraded);
  EXPECT_EQ(got.rule_accepted, want.rule_accepted);
  EXPECT_EQ(got.arrived_from, want.arrived_from);
  EXPECT_EQ(got.detail, want.detail);
}

TEST(ProofReportTest, StepsAndOutcomeRoundTrip) {
  const std::string text = EncodeStep("creating the outside network namespace") +
                           EncodeStep("pod: set lo up") + EncodeOutcome(Sample());
  auto report = DecodeReport(text);
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_THAT(report->steps,
              ElementsAre("creating the outside network namespace", "pod: set lo up"));
  ASSERT_TRUE(report->outcome.has_value());
  ExpectSameOutcome(*report->outcome, Sample());
  EXPECT_FALSE(report->error.has_value());
}

TEST(ProofReportTest, FailedOutcomeRoundTrips) {
  ProofOutcome failed;
  failed.rule_accepted = true;
  failed.arrived = true;
  failed.arrived_from = "198.51.100.1";
  failed.detail = "rules accepted but their counter stayed 0";
  auto report = DecodeReport(EncodeOutcome(failed));
  ASSERT_TRUE(report.ok()) << report.error().Message();
  ExpectSameOutcome(*report->outcome, failed);
}

TEST(ProofReportTest, SeparatorsAndEscapesInsideFieldsSurvive) {
  ProofOutcome outcome = Sample();
  outcome.detail = "tab\there, newline\nthere, backslash\\t not a tab, trailing \\";
  outcome.arrived_from = "";
  const std::string encoded = EncodeOutcome(outcome);
  EXPECT_EQ(encoded.find('\n'), encoded.size() - 1);  // one line, whatever the detail holds
  auto report = DecodeReport(encoded + EncodeStep("a\tb\nc"));
  ASSERT_TRUE(report.ok()) << report.error().Message();
  ExpectSameOutcome(*report->outcome, outcome);
  EXPECT_THAT(report->steps, ElementsAre("a\tb\nc"));
}

TEST(ProofReportTest, ErrorsRoundTripWithKindErrnoAndHint) {
  for (ErrorKind kind :
       {ErrorKind::kEnvironment, ErrorKind::kPermission, ErrorKind::kBadInput, ErrorKind::kUsage}) {
    const Error sent{kind, "creating the proof's outside network namespace", EPERM,
                     "this process lacks CAP_SYS_ADMIN"};
    auto report = DecodeReport(EncodeError(sent));
    ASSERT_TRUE(report.ok()) << report.error().Message();
    ASSERT_TRUE(report->error.has_value());
    EXPECT_EQ(report->error->kind, kind);
    EXPECT_EQ(report->error->errnum, EPERM);
    EXPECT_EQ(report->error->what, sent.what);
    EXPECT_EQ(report->error->hint, sent.hint);
  }
}

TEST(ProofReportTest, ALineCutOffByAKillIsIgnored) {
  const std::string whole = EncodeStep("pod: set lo up");
  const std::string cut = EncodeOutcome(Sample());
  auto report = DecodeReport(whole + cut.substr(0, cut.size() - 5));
  ASSERT_TRUE(report.ok()) << report.error().Message();
  EXPECT_THAT(report->steps, ElementsAre("pod: set lo up"));
  EXPECT_FALSE(report->outcome.has_value());
  auto empty = DecodeReport("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->steps.empty());
}

TEST(ProofReportTest, MalformedLinesAreErrorsNamingTheLine) {
  for (const char* line :
       {"hello\n", "\n", "step\n", "step\ta\tb\n", "step\tbad escape \\x\n",
        "outcome\t1\t2\t1\t1\t1\t192.0.2.1\n", "outcome\tyes\t2\t1\t1\t1\t192.0.2.1\td\n",
        "outcome\t1\t-2\t1\t1\t1\t192.0.2.1\td\n", "outcome\t1\t2x\t1\t1\t1\t192.0.2.1\td\n",
        "error\tstrange\t1\twhat\thint\n", "error\tpermission\t1\twhat\n",
        "error\tpermission\t99999\twhat\thint\n"}) {
    auto report = DecodeReport(line);
    ASSERT_FALSE(report.ok()) << line;
    EXPECT_THAT(report.error().what, HasSubstr("unreadable line")) << line;
  }
}

TEST(ConcludeTest, TheOutcomeStandsEvenWhenTheKillRacedTheExit) {
  const std::string text = EncodeStep("pod: set lo up") + EncodeOutcome(Sample());
  for (const ChildEnd end : {ChildEnd{false, kExitedCleanly}, ChildEnd{true, kKilled}}) {
    auto outcome = Conclude(BackendKind::kNft, text, end, milliseconds(2000));
    ASSERT_TRUE(outcome.ok()) << outcome.error().Message();
    ExpectSameOutcome(*outcome, Sample());
  }
}

TEST(ConcludeTest, TheChildsErrorComesBackWithContext) {
  const std::string text =
      EncodeStep("creating the outside network namespace") +
      EncodeError(Error::Permission("creating the proof's outside network namespace", EPERM,
                                    "this process lacks CAP_SYS_ADMIN"));
  auto outcome = Conclude(BackendKind::kLegacy, text, ChildEnd{}, milliseconds(2000));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().kind, ErrorKind::kPermission);
  EXPECT_EQ(outcome.error().errnum, EPERM);
  EXPECT_EQ(outcome.error().what,
            "proving the legacy backend by traffic: creating the proof's outside network "
            "namespace");
  EXPECT_EQ(outcome.error().hint, "this process lacks CAP_SYS_ADMIN");
}

TEST(ConcludeTest, ATimeoutNamesTheTimeoutAndTheLastStep) {
  const std::string text = EncodeStep("pod: set lo up") +
                           EncodeStep("pod: applying masquerade through the nft backend") +
                           EncodeStep("half a li");  // no newline: cut off
  auto outcome = Conclude(BackendKind::kNft, text.substr(0, text.size() - 1),
                          ChildEnd{true, kKilled}, milliseconds(300));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().errnum, ETIMEDOUT);
  EXPECT_EQ(outcome.error().what,
            "proving the nft backend by traffic: timed out after 300 ms, stopped at step "
            "\"pod: applying masquerade through the nft backend\"");
  EXPECT_THAT(outcome.error().hint, Not(HasSubstr("xtables")));
  EXPECT_THAT(outcome.error().hint, HasSubstr("--backend legacy|nft"));
}

TEST(ConcludeTest, ALegacyTimeoutPointsAtTheXtablesLock) {
  auto outcome = Conclude(BackendKind::kLegacy, "", ChildEnd{true, kKilled}, milliseconds(2000));
  ASSERT_FALSE(outcome.ok());
  EXPECT_THAT(outcome.error().what, HasSubstr("timed out after 2000 ms, stopped before its first"));
  EXPECT_THAT(outcome.error().hint, HasSubstr("/run/xtables.lock"));
}

TEST(ConcludeTest, AChildThatDiesSaysHowAndWhere) {
  const std::string text = EncodeStep("pod: reading the rule's counter");
  auto killed = Conclude(BackendKind::kNft, text, ChildEnd{false, SIGSEGV}, milliseconds(2000));
  ASSERT_FALSE(killed.ok());
  EXPECT_THAT(killed.error().what,
              HasSubstr("the proof's process died of signal 11 (Segmentation fault) at step "
                        "\"pod: reading the rule's counter\""));

  auto exited = Conclude(BackendKind::kNft, text, ChildEnd{false, 3 << 8}, milliseconds(2000));
  ASSERT_FALSE(exited.ok());
  EXPECT_THAT(exited.error().what, HasSubstr("exited with status 3"));

  auto silent =
      Conclude(BackendKind::kNft, text, ChildEnd{false, kExitedCleanly}, milliseconds(2000));
  ASSERT_FALSE(silent.ok());
  EXPECT_THAT(silent.error().what, HasSubstr("ended without a result"));
}

TEST(ConcludeTest, AGarbledReportIsAnError) {
  auto outcome = Conclude(BackendKind::kNft, "garbage\n", ChildEnd{}, milliseconds(2000));
  ASSERT_FALSE(outcome.ok());
  EXPECT_THAT(outcome.error().what, HasSubstr("unreadable line \"garbage\""));
}

}  // namespace
}  // namespace dind::rules
