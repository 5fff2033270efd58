// SPDX-License-Identifier: Apache-2.0
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "netcfg/daemon_json/daemon_json.h"

namespace dind::netcfg {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kSource[] = "/etc/docker/daemon.json";
const std::vector<std::string> kBridgeMtuPath = {"default-network-opts", "bridge",
                                                 "com.docker.network.driver.mtu"};

MergeResult MustMerge(const std::optional<std::string>& existing,
                      const std::vector<KeyUpdate>& updates) {
  auto result = MergeDaemonJson(existing, updates, kSource);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().Message());
  return result.ok() ? std::move(result).value() : MergeResult{};
}

Error MustFail(const std::string& existing,
               const std::vector<KeyUpdate>& updates = {{{"mtu"}, OrderedJson(1450)}}) {
  auto result = MergeDaemonJson(existing, updates, kSource);
  EXPECT_FALSE(result.ok()) << "merged into: " << (result.ok() ? result->text : "");
  return result.ok() ? Error{} : result.error();
}

// Asserts the error is about the file, at the given place, and tells the operator what to do.
void ExpectBadFileAt(const Error& error, const std::string& position) {
  EXPECT_EQ(error.kind, ErrorKind::kBadInput);
  EXPECT_EQ(error.ExitCode(), 2);
  EXPECT_THAT(error.Message(), HasSubstr(kSource));
  EXPECT_THAT(error.Message(), HasSubstr(position));
  EXPECT_THAT(error.hint, HasSubstr("fix or move the file; dind-netcfg never overwrites a file it "
                                    "cannot parse"));
}

TEST(MergeDaemonJsonTest, MissingFileBecomesObjectWithOwnedKeys) {
  const MergeResult result = MustMerge(
      std::nullopt, {{{"mtu"}, OrderedJson(1450)}, {{"bip"}, OrderedJson("10.200.0.1/24")}});
  EXPECT_EQ(result.text, "{\n  \"mtu\": 1450,\n  \"bip\": \"10.200.0.1/24\"\n}\n");
  ASSERT_EQ(result.changes.size(), 2u);
  EXPECT_EQ(result.changes[0].key, "mtu");
  EXPECT_FALSE(result.changes[0].before.has_value());
  EXPECT_EQ(result.changes[0].after, OrderedJson(1450));
}

TEST(MergeDaemonJsonTest, ForeignKeysKeepValuesAndOrderOwnedReplacedInPlaceNewAppended) {
  const std::string existing = R"({
    "registry-mirrors": ["https://mirror.example"],
    "mtu": 1500,
    "debug": true,
    "log-opts": {"max-size": "10m", "max-file": "3"}
})";
  const MergeResult result =
      MustMerge(existing, {{{"bip"}, OrderedJson("10.200.0.1/24")}, {{"mtu"}, OrderedJson(1450)}});
  EXPECT_EQ(result.text, R"({
  "registry-mirrors": [
    "https://mirror.example"
  ],
  "mtu": 1450,
  "debug": true,
  "log-opts": {
    "max-size": "10m",
    "max-file": "3"
  },
  "bip": "10.200.0.1/24"
}
)");
}

TEST(MergeDaemonJsonTest, NestedPathMergesIntoExistingObjectsWithoutTouchingSiblings) {
  const std::string existing = R"({"default-network-opts": {"overlay": {"a": "1"},
    "bridge": {"com.docker.network.bridge.enable_icc": "false"}}, "z": 0})";
  const MergeResult result = MustMerge(existing, {{kBridgeMtuPath, OrderedJson("1450")}});
  EXPECT_EQ(result.text, R"({
  "default-network-opts": {
    "overlay": {
      "a": "1"
    },
    "bridge": {
      "com.docker.network.bridge.enable_icc": "false",
      "com.docker.network.driver.mtu": "1450"
    }
  },
  "z": 0
}
)");
  ASSERT_EQ(result.changes.size(), 1u);
  EXPECT_EQ(result.changes[0].key, "default-network-opts.bridge.com.docker.network.driver.mtu");
  EXPECT_FALSE(result.changes[0].before.has_value());
  EXPECT_EQ(result.changes[0].after, OrderedJson("1450"));
}

TEST(MergeDaemonJsonTest, NestedPathCreatesMissingObjects) {
  const MergeResult result =
      MustMerge("{\"debug\": false}", {{kBridgeMtuPath, OrderedJson("9000")}});
  EXPECT_EQ(result.text, R"({
  "debug": false,
  "default-network-opts": {
    "bridge": {
      "com.docker.network.driver.mtu": "9000"
    }
  }
}
)");
}

TEST(MergeDaemonJsonTest, RemovalPrunesObjectsItLeftEmpty) {
  const std::string existing =
      R"({"a": 1, "default-network-opts": {"bridge": {"com.docker.network.driver.mtu": "1450"}},
          "b": 2})";
  const MergeResult result = MustMerge(existing, {{kBridgeMtuPath, std::nullopt}});
  EXPECT_EQ(result.text, "{\n  \"a\": 1,\n  \"b\": 2\n}\n");
  ASSERT_EQ(result.changes.size(), 1u);
  EXPECT_EQ(result.changes[0].before, OrderedJson("1450"));
  EXPECT_FALSE(result.changes[0].after.has_value());
}

TEST(MergeDaemonJsonTest, RemovalStopsPruningAtTheFirstNonEmptyObject) {
  const std::string existing = R"({"default-network-opts": {"overlay": {"x": "y"},
      "bridge": {"com.docker.network.driver.mtu": "1450"}}})";
  const MergeResult result = MustMerge(existing, {{kBridgeMtuPath, std::nullopt}});
  EXPECT_EQ(result.text,
            "{\n  \"default-network-opts\": {\n    \"overlay\": {\n      \"x\": \"y\"\n"
            "    }\n  }\n}\n");
}

TEST(MergeDaemonJsonTest, RemovingTheOnlyKeyLeavesAnEmptyObject) {
  const MergeResult result = MustMerge(R"({"mtu": 1450})", {{{"mtu"}, std::nullopt}});
  EXPECT_EQ(result.text, "{}\n");
  EXPECT_EQ(result.changes.size(), 1u);
}

TEST(MergeDaemonJsonTest, RemovingAnAbsentKeyChangesNothingAndKeepsEmptyObjectsItDidNotEmpty) {
  const std::string existing = R"({"default-network-opts": {"bridge": {}}, "scalar": 5})";
  const MergeResult result = MustMerge(existing, {{kBridgeMtuPath, std::nullopt},
                                                  {{"scalar", "below"}, std::nullopt},
                                                  {{"absent"}, std::nullopt}});
  EXPECT_THAT(result.changes, IsEmpty());
  EXPECT_EQ(result.text,
            "{\n  \"default-network-opts\": {\n    \"bridge\": {}\n  },\n  \"scalar\": 5\n}\n");
}

TEST(MergeDaemonJsonTest, SecondRunIsByteIdenticalAndReportsNoChanges) {
  const std::vector<KeyUpdate> updates = {
      {{"mtu"}, OrderedJson(1450)},
      {kBridgeMtuPath, OrderedJson("1450")},
      {{"default-address-pools"}, OrderedJson::array({{{"base", "10.201.0.0/16"}, {"size", 24}}})},
      {{"cgroup-parent"}, std::nullopt}};
  const std::string existing = "{\"cgroup-parent\": \"/x\", \"storage-driver\": \"overlay2\"}";
  const MergeResult first = MustMerge(existing, updates);
  EXPECT_EQ(first.changes.size(), 4u);
  const MergeResult second = MustMerge(first.text, updates);
  EXPECT_EQ(second.text, first.text);
  EXPECT_THAT(second.changes, IsEmpty());
}

TEST(MergeDaemonJsonTest, ChangesListExactlyTheKeysWhoseValueChanged) {
  const std::string existing = R"({"mtu": 1450, "bip": "10.0.0.1/24", "gone": true})";
  const MergeResult result = MustMerge(existing, {{{"mtu"}, OrderedJson(1450)},
                                                  {{"bip"}, OrderedJson("10.9.0.1/24")},
                                                  {{"gone"}, std::nullopt},
                                                  {{"new"}, OrderedJson::array({1, 2})},
                                                  {{"never"}, std::nullopt}});
  ASSERT_EQ(result.changes.size(), 3u);
  EXPECT_EQ(result.changes[0].key, "bip");
  EXPECT_EQ(result.changes[0].before, OrderedJson("10.0.0.1/24"));
  EXPECT_EQ(result.changes[0].after, OrderedJson("10.9.0.1/24"));
  EXPECT_EQ(result.changes[1].key, "gone");
  EXPECT_EQ(result.changes[1].before, OrderedJson(true));
  EXPECT_FALSE(result.changes[1].after.has_value());
  EXPECT_EQ(result.changes[2].key, "new");
  EXPECT_FALSE(result.changes[2].before.has_value());
  EXPECT_EQ(result.changes[2].after, OrderedJson::array({1, 2}));
}

TEST(MergeDaemonJsonTest, ChangeOfRepresentationCountsAsChange) {
  // 1450.0 == 1450 numerically, but the file's bytes change, so the user must be told.
  const MergeResult result = MustMerge(R"({"mtu": 1450.0})", {{{"mtu"}, OrderedJson(1450)}});
  ASSERT_EQ(result.changes.size(), 1u);
  EXPECT_EQ(result.text, "{\n  \"mtu\": 1450\n}\n");
}

TEST(MergeDaemonJsonTest, RepeatedUpdatesOfOneKeyLastWinsAndAreReportedOnce) {
  const MergeResult result =
      MustMerge(R"({"mtu": 1500})", {{{"mtu"}, OrderedJson(1400)}, {{"mtu"}, OrderedJson(1450)}});
  ASSERT_EQ(result.changes.size(), 1u);
  EXPECT_EQ(result.changes[0].before, OrderedJson(1500));
  EXPECT_EQ(result.changes[0].after, OrderedJson(1450));
  EXPECT_EQ(result.text, "{\n  \"mtu\": 1450\n}\n");
}

TEST(MergeDaemonJsonTest, EmptyOrWhitespaceTextCountsAsEmptyObject) {
  for (const std::string existing : {"", "   \n\t\r\n", "\xEF\xBB\xBF", "\xEF\xBB\xBF \n"}) {
    const MergeResult result = MustMerge(existing, {{{"mtu"}, OrderedJson(1450)}});
    EXPECT_EQ(result.text, "{\n  \"mtu\": 1450\n}\n") << "existing: '" << existing << "'";
  }
  EXPECT_EQ(MustMerge("", {}).text, "{}\n");
  EXPECT_EQ(MustMerge(std::nullopt, {}).text, "{}\n");
}

TEST(MergeDaemonJsonTest, Utf8IsWrittenAsIsAndEscapesBecomeUtf8) {
  const std::string existing =
      "{\"labels\": [\"owner=Zoë\", \"team=开发\", \"emoji=\xF0\x9F\x90\xB3\", \"esc=\\u00e9\"]}";
  const MergeResult first = MustMerge(existing, {{{"mtu"}, OrderedJson("ünïcode")}});
  EXPECT_EQ(first.text,
            "{\n  \"labels\": [\n    \"owner=Zoë\",\n    \"team=开发\",\n    "
            "\"emoji=\xF0\x9F\x90\xB3\",\n"
            "    \"esc=é\"\n  ],\n  \"mtu\": \"ünïcode\"\n}\n");
  EXPECT_EQ(MustMerge(first.text, {{{"mtu"}, OrderedJson("ünïcode")}}).text, first.text);
}

TEST(MergeDaemonJsonTest, Utf8ByteOrderMarkIsAcceptedAndNotWrittenBack) {
  const MergeResult result = MustMerge("\xEF\xBB\xBF{\"debug\": true}", {});
  EXPECT_EQ(result.text, "{\n  \"debug\": true\n}\n");
}

TEST(MergeDaemonJsonTest, SixtyFourBitIntegersRoundTripExactly) {
  const std::string existing =
      R"({"max": 18446744073709551615, "min": -9223372036854775808, "f": 0.1})";
  const MergeResult result = MustMerge(existing, {});
  EXPECT_EQ(
      result.text,
      "{\n  \"max\": 18446744073709551615,\n  \"min\": -9223372036854775808,\n  \"f\": 0.1\n}\n");
}

// --- malformed existing files: each names the file, the line and column, and the way out.

TEST(MergeDaemonJsonTest, NotJsonReportsLineAndColumn) {
  // nlohmann reports the last byte of the offending token: the closing quote of "debug".
  const Error error = MustFail("{\n  \"mtu\": 1500\n  \"debug\": true\n}\n");
  ExpectBadFileAt(error, "line 3, column 9, at '\"'");
  EXPECT_THAT(error.hint, HasSubstr("comma is probably missing"));
}

TEST(MergeDaemonJsonTest, LineCommentIsRefusedWithItsPosition) {
  const Error error = MustFail("{\n  \"mtu\": 1500, // keep this\n  \"debug\": true\n}\n");
  ExpectBadFileAt(error, "line 2, column 16, at '/'");
  EXPECT_THAT(error.hint, HasSubstr("no comments"));
}

TEST(MergeDaemonJsonTest, BlockAndHashCommentsAreRefusedWithTheirPosition) {
  ExpectBadFileAt(MustFail("/* docker */ {}"), "line 1, column 1");
  const Error hash = MustFail("{\n\t# mtu\n}");
  ExpectBadFileAt(hash, "line 2, column 2");
  EXPECT_THAT(hash.hint, HasSubstr("no comments"));
}

TEST(MergeDaemonJsonTest, TrailingCommaPointsAtTheBraceAndTheComma) {
  const Error error = MustFail("{\n  \"mtu\": 1500,\n}\n");
  ExpectBadFileAt(error, "line 3, column 1");
  EXPECT_THAT(error.hint, HasSubstr("trailing comma at line 2, column 14"));
}

TEST(MergeDaemonJsonTest, TruncatedFileReportsTheEnd) {
  const Error error = MustFail("{\n  \"mtu\": \"15");
  ExpectBadFileAt(error, "line 2, column 13");
  EXPECT_THAT(error.Message(), HasSubstr("end of the file"));
}

TEST(MergeDaemonJsonTest, ColumnsCountCharactersNotBytes) {
  // "é" and "开" are 2 and 3 bytes; the stray x is the 12th character of the line.
  ExpectBadFileAt(MustFail("{\"é\": \"开\", x}"), "line 1, column 12");
}

TEST(MergeDaemonJsonTest, ByteOrderMarkIsNotCountedInColumns) {
  ExpectBadFileAt(MustFail("\xEF\xBB\xBF{x}"), "line 1, column 2");
}

TEST(MergeDaemonJsonTest, InvalidUtf8IsRefusedWithItsPosition) {
  const Error error = MustFail("{\"labels\": [\"a\xFF\"]}");
  ExpectBadFileAt(error, "line 1, column 15");
  EXPECT_THAT(error.Message(), HasSubstr("byte 0xFF"));
}

TEST(MergeDaemonJsonTest, Utf16FileIsRefusedWithAHint) {
  const Error error = MustFail(std::string("\xFF\xFE{\0}\0", 6));
  EXPECT_EQ(error.kind, ErrorKind::kBadInput);
  EXPECT_THAT(error.hint, AllOf(HasSubstr("UTF-8"), HasSubstr("fix or move the file")));
}

// nlohmann would stop at the NUL and the rewrite would drop what follows it.
TEST(MergeDaemonJsonTest, NulByteIsRefusedWithItsPosition) {
  const Error error = MustFail(std::string("{\"a\": 1}\n\0{\"b\": 2}", 18));
  ExpectBadFileAt(error, "line 2, column 1");
  EXPECT_THAT(error.Message(), HasSubstr("NUL byte"));
}

TEST(MergeDaemonJsonTest, TopLevelThatIsNotAnObjectIsRefused) {
  for (const auto& [text, type] :
       std::vector<std::pair<std::string, std::string>>{{"\n  [1, 2]", "array"},
                                                        {"\n  \"mtu\"", "string"},
                                                        {"\n  1450", "number"},
                                                        {"\n  null", "null"}}) {
    const Error error = MustFail(text);
    ExpectBadFileAt(error, "line 2, column 3");
    EXPECT_THAT(error.Message(), AllOf(HasSubstr(type), HasSubstr("must be a JSON object")));
  }
}

TEST(MergeDaemonJsonTest, PathThroughNonObjectIsRefusedWithTheKeysPosition) {
  const Error error = MustFail("{\n  \"debug\": true,\n  \"default-network-opts\": 5\n}",
                               {{kBridgeMtuPath, OrderedJson("1450")}});
  ExpectBadFileAt(error, "line 3, column 3");
  EXPECT_THAT(error.Message(), AllOf(HasSubstr("\"default-network-opts\" is a number"),
                                     HasSubstr(".com.docker.network.driver.mtu")));
  const Error deeper = MustFail(R"({"default-network-opts": {"bridge": ["x"]}})",
                                {{kBridgeMtuPath, OrderedJson("1450")}});
  ExpectBadFileAt(deeper, "line 1, column 27");
  EXPECT_THAT(deeper.Message(), HasSubstr("\"default-network-opts.bridge\" is an array"));
}

TEST(MergeDaemonJsonTest, DuplicateKeysAreRefusedNamingBothPlaces) {
  const Error error = MustFail("{\n  \"mtu\": 1500,\n  \"debug\": true,\n  \"mtu\": 1400\n}");
  ExpectBadFileAt(error, "line 4, column 3");
  EXPECT_THAT(error.Message(),
              AllOf(HasSubstr("\"mtu\" appears twice"), HasSubstr("first at line 2, column 3")));
}

TEST(MergeDaemonJsonTest, DuplicateKeysAreFoundInNestedObjectsAndThroughEscapes) {
  ExpectBadFileAt(MustFail(R"({"log-opts": {"max-size": "1m", "max\u002dsize": "2m"}})"),
                  "line 1, column 33");
  ExpectBadFileAt(MustFail(R"({"pools": [{"base": "a", "base": "b"}]})"), "line 1, column 26");
}

TEST(MergeDaemonJsonTest, SameKeyInDifferentObjectsIsNotADuplicate) {
  const MergeResult result =
      MustMerge(R"({"a": {"size": 1}, "b": {"size": 2}, "c": [{"size": 3}, {"size": 4}]})", {});
  EXPECT_THAT(result.text, HasSubstr("\"size\": 4"));
}

TEST(MergeDaemonJsonTest, IntegersWiderThan64BitsAreRefused) {
  const Error too_big = MustFail("{\n  \"x\": 18446744073709551616\n}");
  ExpectBadFileAt(too_big, "line 2, column 8");
  EXPECT_THAT(too_big.Message(), HasSubstr("does not fit in 64 bits"));
  ExpectBadFileAt(MustFail(R"({"x": -9223372036854775809})"), "line 1, column 7");
  ExpectBadFileAt(MustFail(R"({"x": [123456789012345678901234567890]})"), "line 1, column 8");
}

TEST(MergeDaemonJsonTest, NumberOverflowingADoubleIsRefusedWithItsPosition) {
  const Error error = MustFail("{\"a\": 1,\n \"b\": 1e400}");
  ExpectBadFileAt(error, "line 2, column 7");
  EXPECT_THAT(error.Message(), HasSubstr("1e400"));
}

TEST(MergeDaemonJsonTest, AbsurdNestingIsRefusedWithoutCrashing) {
  const std::string deep = "{\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  const Error error = MustFail(deep);
  ExpectBadFileAt(error, "line 1, column");
  EXPECT_THAT(error.Message(), HasSubstr("nesting"));
}

TEST(MergeDaemonJsonTest, BadUpdatesAreErrorsNotExceptions) {
  auto empty_path = MergeDaemonJson("{}", {{{}, OrderedJson(1)}}, kSource);
  ASSERT_FALSE(empty_path.ok());
  EXPECT_THAT(empty_path.error().Message(), HasSubstr("empty key path"));

  auto bad_utf8 = MergeDaemonJson("{}", {{{"label"}, OrderedJson("\xC3")}}, kSource);
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_THAT(bad_utf8.error().Message(), HasSubstr("\"label\""));
}

TEST(MergeDaemonJsonTest, ErrorMessageDoesNotCarryRawInvalidBytes) {
  const Error error = MustFail("{\"a\": \xFF\xFE}");
  EXPECT_THAT(error.Message(), Not(HasSubstr("\xFF")));
}

}  // namespace
}  // namespace dind::netcfg
