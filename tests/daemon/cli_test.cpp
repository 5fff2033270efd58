// SPDX-License-Identifier: Apache-2.0
// The CLI contract, checked by running the dind-netcfg binary as a user would: exit codes,
// messages that name the input, flags and their environment variables, help and version, and
// what `init` does to an existing daemon.json. No root needed: detection only reads this
// process's network namespace. Anything that needs a particular network is in
// cli_kernel_test.cpp.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/daemon/run_cli.h"
#include "tests/mocks/temp_dir.h"

namespace dind::cli {
namespace {

using ::dind::testing::ModeOf;
using ::dind::testing::ReadTestFile;
using ::dind::testing::TempDir;
using ::dind::testing::WriteTestFile;
using testing::Describe;
using testing::Environment;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::ProcessResult;
using testing::RunCli;
using Json = nlohmann::ordered_json;

constexpr int kBadUsage = 2;

// Inputs that would otherwise come from the machine: no CNI files, no resolv.conf, no dockerd.
std::vector<std::string> Isolated(const TempDir& dir, std::vector<std::string> args) {
  for (const char* extra : {"--calico-mtu-file", "--cni-config", "--resolv-conf"}) {
    args.push_back(extra);
    args.push_back(dir / "absent");
  }
  // init would install masquerade rules in this namespace, the machine's own: never here.
  if (args.front() == "init") args.push_back("--no-rules");
  return args;
}

// Runs that get past the flag checks detect this process's own network namespace, read-only.
// Without an IPv4 default route there is nothing to detect; those tests skip and say so, and
// any other detection failure fails them.
#define REQUIRE_DETECTABLE_NETWORK()                                                          \
  do {                                                                                        \
    static const ProcessResult probe = RunCli({"detect", "--dockerd-version", "24.0.0"});     \
    if (probe.exit_code == 1 && probe.err.find("no IPv4 default route") != std::string::npos) \
      GTEST_SKIP() << "this network namespace has no default route to detect";                \
    ASSERT_EQ(probe.exit_code, 0) << Describe(probe);                                         \
  } while (0)

struct FileIdentity {
  ino_t inode = 0;
  timespec mtime{};
  bool operator==(const FileIdentity& other) const {
    return inode == other.inode && mtime.tv_sec == other.mtime.tv_sec &&
           mtime.tv_nsec == other.mtime.tv_nsec;
  }
};

FileIdentity IdentityOf(const std::string& path) {
  struct stat status {};
  EXPECT_EQ(::stat(path.c_str(), &status), 0) << path;
  return {status.st_ino, status.st_mtim};
}

// An mtime far in the past, so any rewrite shows even on coarse clocks.
void BackdateFile(const std::string& path) {
  const timespec past[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), past, 0), 0) << path;
}

Json ParseStdout(const ProcessResult& result) {
  Json json = Json::parse(result.out, nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << Describe(result);
  return json;
}

// ---- Bad flag values: exit 2, the message names the input, nothing is written -------------

struct BadValueCase {
  const char* name;
  std::vector<std::string> args;
  Environment env;
  std::vector<std::string> message_names;  // each must appear in stderr
};

class BadValueTest : public ::testing::TestWithParam<BadValueCase> {};

TEST_P(BadValueTest, DetectExitsTwoNamingTheInput) {
  TempDir dir;
  std::vector<std::string> args{"detect"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  const ProcessResult result = RunCli(Isolated(dir, args), GetParam().env);
  EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
  EXPECT_THAT(result.out, IsEmpty());
  for (const auto& name : GetParam().message_names) {
    EXPECT_THAT(result.err, HasSubstr(name)) << Describe(result);
  }
}

TEST_P(BadValueTest, InitExitsTwoAndWritesNothing) {
  TempDir dir;
  std::vector<std::string> args{"init", "--daemon-json", dir / "daemon.json"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  const ProcessResult result = RunCli(Isolated(dir, args), GetParam().env);
  EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
  for (const auto& name : GetParam().message_names) {
    EXPECT_THAT(result.err, HasSubstr(name)) << Describe(result);
  }
  EXPECT_THAT(dir.Entries(), IsEmpty()) << "a refused run must not create daemon.json";
}

INSTANTIATE_TEST_SUITE_P(
    Values, BadValueTest,
    ::testing::Values(
        BadValueCase{"MtuNotANumber", {"--mtu", "abc"}, {}, {"--mtu", "'abc'"}},
        BadValueCase{"MtuBelowIpv6Minimum", {"--mtu", "1279"}, {}, {"--mtu", "1279", "1280"}},
        BadValueCase{"MtuTooLarge", {"--mtu", "70000"}, {}, {"--mtu", "'70000'"}},
        BadValueCase{"ReserveNegative", {"--reserve", "-1"}, {}, {"--reserve", "'-1'"}},
        BadValueCase{
            "AvoidPrefixTooLong", {"--avoid", "10.0.0.0/33"}, {}, {"--avoid", "10.0.0.0/33"}},
        BadValueCase{"AvoidNotACidr", {"--avoid", "10.0.0.0/8,nonsense"}, {}, {"nonsense"}},
        BadValueCase{"DockerdVersionWord",
                     {"--dockerd-version", "latest"},
                     {},
                     {"--dockerd-version", "'latest'"}},
        BadValueCase{"MinApiVersionWord",
                     {"--min-api-version", "x"},
                     {},
                     {"--min-api-version", "'x' is not an API version such as 1.24"}},
        BadValueCase{"MinApiVersionWithV",
                     {"--min-api-version", "v1.24"},
                     {},
                     {"--min-api-version", "'v1.24'"}},
        BadValueCase{"MinApiVersionBelowFloor",
                     {"--min-api-version", "1.12"},
                     {},
                     {"--min-api-version", "'1.12' is below 1.24"}},
        BadValueCase{"EnvMinApiVersion",
                     {},
                     {{"DIND_NETCFG_MIN_API_VERSION", "x"}},
                     {"DIND_NETCFG_MIN_API_VERSION", "'x'"}},
        BadValueCase{"EnvMtu", {}, {{"DIND_NETCFG_MTU", "abc"}}, {"DIND_NETCFG_MTU", "'abc'"}},
        BadValueCase{
            "EnvMtuBelowMinimum", {}, {{"DIND_NETCFG_MTU", "1000"}}, {"DIND_NETCFG_MTU", "1000"}},
        BadValueCase{
            "EnvReserve", {}, {{"DIND_NETCFG_RESERVE", "-1"}}, {"DIND_NETCFG_RESERVE", "'-1'"}},
        BadValueCase{"EnvAvoid",
                     {},
                     {{"DIND_NETCFG_AVOID", "10.0.0.0/33"}},
                     {"DIND_NETCFG_AVOID", "10.0.0.0/33"}},
        BadValueCase{"EnvDockerdVersion",
                     {},
                     {{"DIND_NETCFG_DOCKERD_VERSION", "latest"}},
                     {"DIND_NETCFG_DOCKERD_VERSION", "'latest'"}},
        BadValueCase{
            "EnvJsonNotABoolean", {}, {{"DIND_NETCFG_JSON", "maybe"}}, {"--json", "maybe"}}),
    [](const auto& test) { return std::string(test.param.name); });

// ---- Bad usage ---------------------------------------------------------------------------

TEST(UsageTest, UnknownFlagIsNamed) {
  struct Case {
    std::vector<std::string> args;
    std::string unknown;
  };
  for (const Case& c :
       {Case{{"detect", "--bogus"}, "--bogus"},
        Case{{"init", "--daemon-json", "/nonexistent/d.json", "--frobnicate"}, "--frobnicate"},
        Case{{"--no-such-global", "version"}, "--no-such-global"}}) {
    const ProcessResult result = RunCli(c.args);
    EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
    EXPECT_THAT(result.err, HasSubstr(c.unknown)) << Describe(result);
  }
}

TEST(UsageTest, UnexpectedArgumentIsNamed) {
  const ProcessResult result = RunCli({"detect", "eth0"});
  EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr("eth0"));
}

TEST(UsageTest, MissingSubcommandPointsToHelp) {
  const ProcessResult result = RunCli({});
  EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr("--help"));
}

// Help is answered before CLI11 looks at the other words: an unknown command before --help must
// still be named, not answered with the main help and exit 0.
TEST(UsageTest, UnknownCommandWithHelpIsNamed) {
  for (const char* help_flag : {"--help", "-h"}) {
    const ProcessResult result = RunCli({"doctr", help_flag});
    EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
    EXPECT_THAT(result.err, HasSubstr("unknown command 'doctr'")) << Describe(result);
    EXPECT_THAT(result.out, Not(HasSubstr("Usage:"))) << Describe(result);
  }
  const ProcessResult help = RunCli({"doctor", "--help"});
  EXPECT_EQ(help.exit_code, 0) << Describe(help);
  EXPECT_THAT(help.out, HasSubstr("--for kind"));
}

TEST(UsageTest, InitWithoutDaemonJsonIsUsageError) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"init"}, std::vector<std::string>{"init", "--daemon-json"}}) {
    const ProcessResult result = RunCli(args);
    EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
    EXPECT_THAT(result.err, HasSubstr("--daemon-json")) << Describe(result);
  }
}

// ---- Flags and their environment variables -------------------------------------------------

TEST(EnvironmentTest, FlagValueWinsOverEnvironment) {
  // The flag's bad value is reported although the environment's is fine: the flag was used.
  const ProcessResult result = RunCli({"detect", "--mtu", "abc"}, {{"DIND_NETCFG_MTU", "1400"}});
  EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr("'abc'"));
  EXPECT_THAT(result.err, Not(HasSubstr("1400")));
}

// The three `rules` subcommands each hold their own values: the environment, which CLI11
// applies to all of them, must not overwrite the flag given to the one that runs.
TEST(EnvironmentTest, RulesSubcommandFlagWinsOverEnvironment) {
  for (const char* subcommand : {"apply", "check", "remove"}) {
    const ProcessResult result = RunCli({"rules", subcommand, "--backend", "iptables"},
                                        {{"DIND_NETCFG_BACKEND", "nft"}});
    EXPECT_EQ(result.exit_code, kBadUsage) << subcommand << ": " << Describe(result);
    EXPECT_THAT(result.err, HasSubstr("'iptables' is not a backend")) << subcommand;
  }
}

TEST(EnvironmentTest, FlagOverridesABadEnvironmentValue) {
  REQUIRE_DETECTABLE_NETWORK();
  TempDir dir;
  const ProcessResult result =
      RunCli(Isolated(dir, {"detect", "--json", "--mtu", "1280", "--dockerd-version", "24.0.0"}),
             {{"DIND_NETCFG_MTU", "abc"}, {"DIND_NETCFG_DOCKERD_VERSION", "latest"}});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  const Json report = ParseStdout(result);
  EXPECT_EQ(report["mtu"]["docker"], 1280);
  EXPECT_EQ(report["mtu"]["source"], "flag");
  EXPECT_EQ(report["dockerd"]["version"], "24.0.0");
}

TEST(EnvironmentTest, EnvironmentAloneSetsEveryKindOfOption) {
  REQUIRE_DETECTABLE_NETWORK();
  TempDir dir;
  const std::string path = dir / "from-env.json";
  const ProcessResult result =
      RunCli(Isolated(dir, {"init"}), {{"DIND_NETCFG_DAEMON_JSON", path},
                                       {"DIND_NETCFG_JSON", "true"},
                                       {"DIND_NETCFG_MTU", "1280"},
                                       {"DIND_NETCFG_AVOID", "172.17.0.0/16,172.18.0.0/16"},
                                       {"DIND_NETCFG_DOCKERD_VERSION", "20.10.24"}});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  const Json report = ParseStdout(result);
  EXPECT_EQ(report["mtu"]["docker"], 1280);
  EXPECT_EQ(report["dockerd"]["version"], "20.10.24");
  EXPECT_THAT(report["pools"]["bip"].get<std::string>(), Not(HasSubstr("172.17.")));
  EXPECT_THAT(report["pools"]["bip"].get<std::string>(), Not(HasSubstr("172.18.")));
  EXPECT_EQ(report["daemon_json"]["path"], path);
  EXPECT_EQ(Json::parse(ReadTestFile(path))["mtu"], 1280);
}

// ---- Help and version ----------------------------------------------------------------------

// The subcommands the top-level help lists, so one added later is covered without editing here.
std::vector<std::string> ListedSubcommands() {
  const ProcessResult help = RunCli({"--help"});
  std::istringstream lines(help.out);
  std::string line;
  std::vector<std::string> names;
  bool in_section = false;
  while (std::getline(lines, line)) {
    if (line.starts_with("Subcommands:")) {
      in_section = true;
    } else if (in_section && line.starts_with("  ") && line.size() > 2 && line[2] != ' ') {
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
    } else if (in_section && !line.empty() && !line.starts_with(" ")) {
      in_section = false;
    }
  }
  return names;
}

TEST(HelpTest, TopLevelHelpExitsZeroAndListsTheSubcommands) {
  const ProcessResult result = RunCli({"--help"});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out, HasSubstr("Usage: dind-netcfg"));
  EXPECT_THAT(ListedSubcommands(), ::testing::IsSupersetOf({"detect", "init", "version"}));
}

TEST(HelpTest, EverySubcommandHasHelpThatExitsZero) {
  const auto subcommands = ListedSubcommands();
  ASSERT_THAT(subcommands, Not(IsEmpty()));
  for (const auto& name : subcommands) {
    for (const char* help_flag : {"--help", "-h"}) {
      // Help wins over required flags (init's --daemon-json) and over bad environment values.
      const ProcessResult result = RunCli({name, help_flag}, {{"DIND_NETCFG_MTU", "abc"}});
      EXPECT_EQ(result.exit_code, 0) << name << " " << help_flag << "\n" << Describe(result);
      EXPECT_THAT(result.out, HasSubstr("Usage: dind-netcfg " + name)) << name;
    }
  }
}

// Every value flag names what it takes (N|auto, BYTES, DURATION, CIDR, ADDR:PORT…), never
// CLI11's generic TEXT.
TEST(HelpTest, EveryValueFlagNamesWhatItTakes) {
  std::vector<std::vector<std::string>> commands{{}};
  for (const auto& name : ListedSubcommands()) commands.push_back({name});
  for (const auto& sub : {"apply", "check", "remove"}) commands.push_back({"rules", sub});
  for (auto args : commands) {
    args.push_back("--help");
    const ProcessResult result = RunCli(args);
    EXPECT_THAT(result.out, Not(HasSubstr(" TEXT"))) << result.out;
  }
  EXPECT_THAT(RunCli({"init", "--help"}).out, HasSubstr("--mtu N|auto"));
  EXPECT_THAT(RunCli({"init", "--help"}).out, HasSubstr("--reserve BYTES"));
  EXPECT_THAT(RunCli({"run", "--help"}).out, HasSubstr("--probe-interval DURATION"));
  EXPECT_THAT(RunCli({"run", "--help"}).out, HasSubstr("--listen ADDR:PORT"));
}

// Every flag reads DIND_NETCFG_<FLAG>; the help says so for each one.
TEST(HelpTest, EveryFlagNamesItsEnvironmentVariable) {
  for (const char* name : {"detect", "init"}) {
    const ProcessResult result = RunCli({name, "--help"});
    std::istringstream lines(result.out);
    std::string line;
    int flags = 0;
    while (std::getline(lines, line)) {
      if (!line.starts_with("  --")) continue;
      const std::string flag = line.substr(2, line.find_first_of(" \t", 2) - 2);
      std::string env = "DIND_NETCFG_";
      for (char c : flag.substr(2)) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
      EXPECT_THAT(line, HasSubstr("(Env:" + env + ")")) << name << " " << flag;
      ++flags;
    }
    EXPECT_GE(flags, 7) << result.out;
  }
}

TEST(VersionTest, PrintsTheProjectVersion) {
  const ProcessResult result = RunCli({"version"});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_EQ(result.out, "dind-netcfg " DIND_EXPECTED_VERSION "\n");
}

TEST(VersionTest, TheVersionFlagPrintsWhatTheCommandPrints) {
  const ProcessResult command = RunCli({"version"});
  const ProcessResult flag = RunCli({"--version"});
  EXPECT_EQ(flag.exit_code, 0) << Describe(flag);
  EXPECT_EQ(flag.out, command.out);
  EXPECT_EQ(flag.err, "");
}

// ---- A malformed existing daemon.json is never touched -------------------------------------

struct MalformedCase {
  const char* name;
  const char* content;
  const char* position;  // "line L, column C" the message must give
};

class MalformedDaemonJsonTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedDaemonJsonTest, ExitsTwoWithLineAndColumnAndLeavesTheFileAlone) {
  TempDir dir;
  const std::string path = dir / "daemon.json";
  WriteTestFile(path, GetParam().content, 0640);
  BackdateFile(path);
  const FileIdentity before = IdentityOf(path);

  // Valid flags, so the file is the only thing wrong.
  const ProcessResult result =
      RunCli(Isolated(dir, {"init", "--daemon-json", path, "--dockerd-version", "24.0.0"}));

  EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr(path)) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr(GetParam().position)) << Describe(result);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(ReadTestFile(path), GetParam().content) << "byte for byte";
  EXPECT_TRUE(IdentityOf(path) == before) << "neither replaced nor touched";
  EXPECT_EQ(ModeOf(path), 0640u);
  EXPECT_EQ(dir.Entries(), (std::set<std::string>{"daemon.json"})) << "no temporary left over";
}

INSTANTIATE_TEST_SUITE_P(
    Files, MalformedDaemonJsonTest,
    ::testing::Values(
        MalformedCase{"TrailingComma", "{\n  \"debug\": true,\n}\n", "line 3, column 1"},
        MalformedCase{"DuplicateKey", "{\n  \"mtu\": 1400,\n  \"mtu\": 1450\n}\n",
                      "line 3, column 3"},
        MalformedCase{"LineComment", "{\n  // set by ops\n  \"debug\": true\n}\n",
                      "line 2, column 3"},
        MalformedCase{"HashComment", "{\n  \"debug\": true\n  # no\n}\n", "line 3, column 3"},
        MalformedCase{"Truncated", "{\"debug\": true", "line 1, column 15"},
        MalformedCase{"NotAnObject", "[\"mtu\", 1400]\n", "line 1, column 1"}),
    [](const auto& test) { return std::string(test.param.name); });

// ---- Merging into an existing daemon.json --------------------------------------------------

std::vector<std::string> KeysOf(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

TEST(InitMergeTest, ForeignKeysKeepTheirValuesAndOrder) {
  REQUIRE_DETECTABLE_NETWORK();
  TempDir dir;
  const std::string path = dir / "daemon.json";
  const std::string original = R"({
  "storage-driver": "overlay2",
  "mtu": 9000,
  "log-opts": {"max-size": "10m", "max-file": "3"},
  "registry-mirrors": ["https://mirror.example:5000"],
  "default-network-opts": {"bridge": {"com.docker.network.bridge.enable_icc": "false"}},
  "insecure-registries": [],
  "debug": true,
  "bip": "10.1.0.1/24",
  "features": {"buildkit": true},
  "max-concurrent-downloads": 3.5
}
)";
  WriteTestFile(path, original, 0644);
  const Json before = Json::parse(original);

  const ProcessResult result = RunCli(
      Isolated(dir, {"init", "--json", "--daemon-json", path, "--dockerd-version", "24.0.0"}));
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  const Json report = ParseStdout(result);
  const Json after = Json::parse(ReadTestFile(path));

  // Existing keys stay where they were (owned ones replaced in place); new ones follow.
  const std::vector<std::string> keys = KeysOf(after);
  const std::vector<std::string> original_keys = KeysOf(before);
  ASSERT_GE(keys.size(), original_keys.size());
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + original_keys.size()),
            original_keys);
  for (const char* foreign :
       {"storage-driver", "log-opts", "registry-mirrors", "insecure-registries", "debug",
        "features", "max-concurrent-downloads"}) {
    EXPECT_EQ(after[foreign], before[foreign]) << foreign;
  }
  EXPECT_EQ(KeysOf(after["log-opts"]), (std::vector<std::string>{"max-size", "max-file"}));
  // A foreign key beside the owned one inside default-network-opts.bridge survives.
  EXPECT_EQ(after["default-network-opts"]["bridge"]["com.docker.network.bridge.enable_icc"],
            "false");
  EXPECT_EQ(after["default-network-opts"]["bridge"]["com.docker.network.driver.mtu"],
            std::to_string(report["mtu"]["docker"].get<int>()));
  // Owned keys carry the report's decisions, and the report lists what changed.
  EXPECT_EQ(after["mtu"], report["mtu"]["docker"]);
  EXPECT_EQ(after["bip"], report["pools"]["bip"]);
  EXPECT_EQ(report["daemon_json"]["written"], true);
  std::vector<std::string> changed;
  for (const auto& change : report["daemon_json"]["changes"]) changed.push_back(change["key"]);
  EXPECT_THAT(changed, ::testing::IsSupersetOf({"mtu", "bip", "default-address-pools"}));
  for (const auto& change : report["daemon_json"]["changes"]) {
    if (change["key"] == "mtu") {
      EXPECT_EQ(change["before"], 9000);
    }
  }
}

TEST(InitMergeTest, SecondRunWithSameInputsChangesNothing) {
  REQUIRE_DETECTABLE_NETWORK();
  TempDir dir;
  const std::string path = dir / "daemon.json";
  WriteTestFile(path, "{\"debug\": true, \"log-level\": \"warn\"}\n", 0644);
  const auto args = Isolated(dir, {"init", "--json", "--daemon-json", path, "--dockerd-version",
                                   "24.0.0", "--avoid", "172.17.0.0/16"});
  const ProcessResult first = RunCli(args);
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  EXPECT_EQ(ParseStdout(first)["daemon_json"]["written"], true);
  const std::string first_bytes = ReadTestFile(path);
  BackdateFile(path);
  const FileIdentity before = IdentityOf(path);

  const ProcessResult second = RunCli(args);
  ASSERT_EQ(second.exit_code, 0) << Describe(second);
  const Json report = ParseStdout(second);
  EXPECT_EQ(report["daemon_json"]["written"], false);
  EXPECT_THAT(report["daemon_json"]["changes"], IsEmpty());
  EXPECT_EQ(ReadTestFile(path), first_bytes);
  EXPECT_TRUE(IdentityOf(path) == before) << "not rewritten: same inode, same mtime";
  EXPECT_EQ(dir.Entries(), (std::set<std::string>{"daemon.json"}));

  // The text output says so too.
  const ProcessResult text =
      RunCli(Isolated(dir, {"init", "--daemon-json", path, "--dockerd-version", "24.0.0", "--avoid",
                            "172.17.0.0/16"}));
  ASSERT_EQ(text.exit_code, 0) << Describe(text);
  EXPECT_THAT(text.out, HasSubstr("daemon.json " + path + " unchanged"));
  EXPECT_TRUE(IdentityOf(path) == before);
}

TEST(InitMergeTest, ExistingModeIsKept) {
  REQUIRE_DETECTABLE_NETWORK();
  for (mode_t mode : {mode_t{0640}, mode_t{0600}, mode_t{0664}}) {
    TempDir dir;
    const std::string path = dir / "daemon.json";
    WriteTestFile(path, "{}\n", mode);
    const ProcessResult result =
        RunCli(Isolated(dir, {"init", "--daemon-json", path, "--dockerd-version", "24.0.0"}));
    ASSERT_EQ(result.exit_code, 0) << Describe(result);
    EXPECT_NE(ReadTestFile(path), "{}\n") << "the file was rewritten";
    EXPECT_EQ(ModeOf(path), mode);
  }
}

TEST(InitMergeTest, NewFileIsReadableByDockerdWhateverTheUmask) {
  REQUIRE_DETECTABLE_NETWORK();
  TempDir dir;
  const std::string path = dir / "daemon.json";
  const mode_t saved = ::umask(077);
  const ProcessResult result =
      RunCli(Isolated(dir, {"init", "--daemon-json", path, "--dockerd-version", "24.0.0"}));
  ::umask(saved);
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_EQ(ModeOf(path), 0644u);
}

TEST(InitMergeTest, DowngradingDockerdRemovesTheKeyItWouldRefuse) {
  REQUIRE_DETECTABLE_NETWORK();
  TempDir dir;
  const std::string path = dir / "daemon.json";
  const auto run = [&](const char* version) {
    const ProcessResult result = RunCli(
        Isolated(dir, {"init", "--json", "--daemon-json", path, "--dockerd-version", version}));
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    return Json::parse(ReadTestFile(path));
  };
  EXPECT_TRUE(run("24.0.0").contains("default-network-opts"));
  const Json downgraded = run("20.10.24");
  EXPECT_FALSE(downgraded.contains("default-network-opts")) << downgraded.dump(2);
  EXPECT_TRUE(downgraded.contains("mtu"));
}

TEST(InitTest, UnwritableDirectoryIsAnEnvironmentFailureNamingThePath) {
  REQUIRE_DETECTABLE_NETWORK();
  TempDir dir;
  const std::string path = dir / "missing-dir/daemon.json";
  const ProcessResult result =
      RunCli(Isolated(dir, {"init", "--daemon-json", path, "--dockerd-version", "24.0.0"}));
  EXPECT_EQ(result.exit_code, 1) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr(dir / "missing-dir")) << Describe(result);
}

// ---- doctor ---------------------------------------------------------------------------------

// `doctor --json` here: the documented shape, a summary that counts the checks, and an exit code
// that is 1 exactly when a check failed (which checks fail depends on this machine).
TEST(DoctorTest, JsonShapeAndExitCode) {
  for (const bool kind : {false, true}) {
    std::vector<std::string> args = {"doctor", "--json"};
    if (kind) args.insert(args.end(), {"--for", "kind"});
    const ProcessResult result = RunCli(args);
    Json document = Json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(document.is_discarded()) << Describe(result);
    EXPECT_EQ(document["schema"], 1);
    EXPECT_EQ(document["tool"]["name"], "dind-netcfg");
    EXPECT_EQ(document["tool"]["version"], DIND_EXPECTED_VERSION);
    const Json& summary = document["summary"];
    std::vector<std::string> keys;
    for (const auto& [key, value] : summary.items()) keys.push_back(key);
    EXPECT_THAT(keys, ::testing::ElementsAre("ok", "warn", "fail", "unknown"));
    std::set<std::string> ids;
    std::map<std::string, int> counted;
    for (const auto& check : document["checks"]) {
      std::vector<std::string> fields;
      for (const auto& [key, value] : check.items()) fields.push_back(key);
      EXPECT_THAT(fields,
                  ::testing::ElementsAre("id", "status", "summary", "source", "fix", "observed"));
      const std::string status = check.value("status", "");
      EXPECT_THAT(status, ::testing::AnyOf("ok", "warn", "fail", "unknown"));
      ++counted[status];
      const std::string id = check.value("id", "");
      EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
      if (status != "ok") {
        EXPECT_NE(check.value("fix", ""), "") << check.dump();
      }
    }
    for (const char* status : {"ok", "warn", "fail", "unknown"}) {
      EXPECT_EQ(summary.value(status, -1), counted[status]) << status;
    }
    EXPECT_EQ(result.exit_code, counted["fail"] > 0 ? 1 : 0) << Describe(result);
    EXPECT_TRUE(ids.contains("conntrack") && ids.contains("userns")) << result.out;
    EXPECT_EQ(ids.contains("kind-inotify"), kind) << result.out;
    EXPECT_EQ(ids.contains("kind-kmsg"), kind) << result.out;
  }
}

TEST(DoctorTest, TextEndsWithTheCounts) {
  const ProcessResult result = RunCli({"doctor"});
  EXPECT_TRUE(result.exit_code == 0 || result.exit_code == 1) << Describe(result);
  // The last line: "N checks: N ok, N warn, N fail, N unknown".
  const std::size_t last = result.out.rfind('\n', result.out.size() - 2);
  const std::string counts = result.out.substr(last == std::string::npos ? 0 : last + 1);
  EXPECT_THAT(counts, ::testing::MatchesRegex(
                          "[0-9]+ checks: [0-9]+ ok, [0-9]+ warn, [0-9]+ fail, [0-9]+ unknown\n"))
      << result.out;
  EXPECT_THAT(result.out, HasSubstr("conntrack"));
}

TEST(DoctorTest, ForAnythingButKindIsUsage) {
  const ProcessResult result = RunCli({"doctor", "--for", "kubernetes"});
  EXPECT_EQ(result.exit_code, kBadUsage) << Describe(result);
  EXPECT_THAT(result.err, HasSubstr("--for")) << Describe(result);
}

}  // namespace
}  // namespace dind::cli
