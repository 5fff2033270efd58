// SPDX-License-Identifier: Apache-2.0
// Flag value parsing shared by the subcommands: every error names the flag and the fix.
#include "daemon/commands/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "daemon/commands/backend_flags.h"
#include "daemon/commands/commands.h"
#include "daemon/commands/detection_flags.h"

namespace dind::cli {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(ParseDurationTest, AcceptsUnitsAndBareSeconds) {
  EXPECT_EQ(*ParseDuration("--poll-interval", "500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("--poll-interval", "10s"), milliseconds(10000));
  EXPECT_EQ(*ParseDuration("--poll-interval", "3"), milliseconds(3000));
  EXPECT_EQ(*ParseDuration("--poll-interval", "2m"), milliseconds(120000));
}

TEST(ParseDurationTest, RefusesWhatIsNotAPositiveDuration) {
  for (const char* bad : {"", "0", "0s", "soon", "1h", "-1s", "1.5s", "25m0", "1441m"}) {
    auto parsed = ParseDuration("--poll-interval", bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().ExitCode(), 2);
    EXPECT_THAT(parsed.error().Message(), HasSubstr("--poll-interval"));
    EXPECT_THAT(parsed.error().Message(), HasSubstr("DIND_NETCFG_POLL_INTERVAL"));
  }
}

TEST(ParseNumberTest, NamesTheFlagAndTheRange) {
  auto parsed = ParseNumber("--reserve", "lots");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.error().Message(), HasSubstr("--reserve"));
  EXPECT_THAT(parsed.error().Message(), HasSubstr("0 to 65535"));
}

TEST(ParseProbeUrlTest, SplitsHostPortAndPath) {
  auto url = ParseProbeUrl("http://127.0.0.1:9254/readyz");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 9254);
  EXPECT_EQ(url->path, "/readyz");
  url = ParseProbeUrl("http://[::1]:9254/healthz");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->path, "/healthz");
}

TEST(ParseProbeUrlTest, RefusesOtherSchemesAndMissingParts) {
  for (const char* bad : {"https://127.0.0.1:9254/readyz", "127.0.0.1:9254/readyz",
                          "http://127.0.0.1/readyz", "http://127.0.0.1:x/readyz", ""}) {
    auto url = ParseProbeUrl(bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.error().ExitCode(), 2) << bad;
    EXPECT_THAT(url.error().Message(), HasSubstr("--url")) << bad;
  }
}

TEST(ParseDetectionFlagsTest, CgroupParentMustBeAnAbsolutePathWithoutDotDot) {
  DetectionFlags flags;
  auto none = ParseDetectionFlags(flags);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->cgroup.explicit_parent, std::nullopt) << "no flag: init writes none";

  flags.cgroup_parent = "/kubepods/pod1234/dind";
  auto given = ParseDetectionFlags(flags);
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given->cgroup.explicit_parent, "/kubepods/pod1234/dind");

  for (const std::string wrong : {"kubepods/dind", "/kubepods/../dind"}) {
    flags.cgroup_parent = wrong;
    auto refused = ParseDetectionFlags(flags);
    ASSERT_FALSE(refused.ok()) << wrong;
    EXPECT_EQ(refused.error().ExitCode(), 2);
    EXPECT_THAT(refused.error().Message(),
                HasSubstr("--cgroup-parent (DIND_NETCFG_CGROUP_PARENT) value '" + wrong + "'"));
    EXPECT_THAT(refused.error().Message(), HasSubstr("as an absolute path"));
  }
}

TEST(ParseBackendFlagsTest, TheXtablesWaitIsADurationNamedWithItsVariable) {
  BackendFlags flags;
  auto defaults = ParseBackendFlags(flags);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.xtables_wait, rules::legacy::kDefaultXtablesWait);
  EXPECT_FALSE(defaults->kind) << "auto";
  flags.xtables_wait = "250ms";
  EXPECT_EQ(ParseBackendFlags(flags)->options.xtables_wait, std::chrono::milliseconds(250));
  flags.xtables_wait = "forever";
  auto bad = ParseBackendFlags(flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().ExitCode(), 2);
  EXPECT_THAT(bad.error().Message(),
              ::testing::HasSubstr("--xtables-wait (DIND_NETCFG_XTABLES_WAIT) value 'forever'"));
}

// What the entrypoint's COMMAND positional received from `args` (argv without the program).
std::vector<std::string> EntrypointCommandOf(std::vector<std::string> args) {
  auto command_line = MakeCommandLine();
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  command_line->app.parse(args);
  return command_line->app.get_subcommand("entrypoint")->get_option("COMMAND")->results();
}

TEST(CommandLineTest, ARepeatableFlagRightBeforeDoubleDashLeavesCommandWhole) {
  const std::vector<std::string> job = {"/bin/sh", "-c", "exit 7"};
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--probe-target", "10.0.0.1:443"},
        std::vector<std::string>{"--dockerd-arg=--debug"},
        std::vector<std::string>{"--avoid", "10.0.0.0/8", "--dockerd-arg", "--debug"}}) {
    std::vector<std::string> args = {"entrypoint"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), job.begin(), job.end());
    EXPECT_EQ(EntrypointCommandOf(args), job) << flags.front();
  }
}

TEST(CommandLineTest, ARepeatableFlagTakesOneValuePerOccurrence) {
  auto parse = [](std::vector<std::string> args) {
    auto command_line = MakeCommandLine();
    std::reverse(args.begin(), args.end());
    command_line->app.parse(args);
    return command_line->app.get_subcommand("init")->get_option("--avoid")->results();
  };
  EXPECT_EQ(parse({"init", "--daemon-json", "d.json", "--avoid", "10.0.0.0/8", "--avoid",
                   "192.168.0.0/16"}),
            (std::vector<std::string>{"10.0.0.0/8", "192.168.0.0/16"}));
  // 'stray' is no second value of --avoid: it is an argument init does not take.
  EXPECT_THROW(parse({"init", "--daemon-json", "d.json", "--avoid", "10.0.0.0/8", "stray"}),
               CLI::ExtrasError);
}

// The real command tree, as main() builds it.
class UnknownArgumentTest : public ::testing::Test {
 protected:
  UnknownArgumentTest() {
    AddInitCommand(app_);
    AddRulesCommand(app_);
    AddVersionCommand(app_);
    app_.add_option("--log-level", log_level_);
  }
  std::optional<std::string> Find(std::vector<std::string> args) {
    return FindUnknownArgument(app_, args);
  }
  CLI::App app_{"test", "dind-netcfg"};
  std::string log_level_;
};

TEST_F(UnknownArgumentTest, KnownArgumentsPass) {
  EXPECT_EQ(Find({"init", "--daemon-json", "/x", "--mtu=1400", "--log-level", "debug"}),
            std::nullopt);
  EXPECT_EQ(Find({"rules", "apply", "--source", "10.0.0.0/8"}), std::nullopt);
  EXPECT_EQ(Find({"init", "--help"}), std::nullopt);
}

TEST_F(UnknownArgumentTest, NamesAnUnknownCommandAndListsTheKnownOnes) {
  const auto message = Find({"frob"});
  ASSERT_TRUE(message);
  EXPECT_THAT(*message, HasSubstr("unknown command 'frob' for 'dind-netcfg'"));
  EXPECT_THAT(*message, HasSubstr("init, rules, version"));
  EXPECT_THAT(Find({"rules", "frob"}).value_or(""), HasSubstr("unknown command 'frob' for "
                                                              "'dind-netcfg rules'"));
}

TEST_F(UnknownArgumentTest, NamesAnUnknownFlagEvenWhenARequiredOneIsMissing) {
  EXPECT_THAT(Find({"init", "--frob"}).value_or(""),
              HasSubstr("unknown flag --frob for 'dind-netcfg init'; see 'dind-netcfg init "
                        "--help'"));
  EXPECT_THAT(Find({"init", "--daemon-json", "/x", "stray"}).value_or(""),
              HasSubstr("unexpected argument 'stray'"));
}

TEST(ParseDetectionFlagsTest, DnsIsOffAutoOrAddressesNamedWithItsVariable) {
  DetectionFlags flags;
  auto defaults = ParseDetectionFlags(flags);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->dns.mode, netcfg::DnsFlagMode::kOff) << "daemon.json dns untouched";
  flags.dns = "10.96.0.10,2001:db8::53";
  auto list = ParseDetectionFlags(flags);
  ASSERT_TRUE(list.ok()) << list.error().Message();
  EXPECT_EQ(list->dns.servers, (std::vector<std::string>{"10.96.0.10", "2001:db8::53"}));
  flags.dns = "999.1.1.1";
  auto refused = ParseDetectionFlags(flags);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().ExitCode(), 2);
  EXPECT_THAT(refused.error().Message(),
              HasSubstr("--dns (DIND_NETCFG_DNS) '999.1.1.1': '999.1.1.1' is not an IP address"));
}

}  // namespace
}  // namespace dind::cli
