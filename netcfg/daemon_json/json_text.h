// SPDX-License-Identifier: Apache-2.0
// Facts about the text of a JSON document that nlohmann's DOM does not keep: where things are
// (line and column, for error messages) and what the DOM would silently lose (duplicate keys,
// integers wider than 64 bits, excessive nesting). Internal to dind_daemon_json.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dind::netcfg::json_text {

// 1-based. Columns count characters (UTF-8 code points), as editors show them.
struct TextPosition {
  std::size_t line = 1;
  std::size_t column = 1;
};

// Position of byte `offset` in `text`; an offset at or past the end is the position just after
// the last character.
TextPosition PositionAtOffset(std::string_view text, std::size_t offset);

// "line 3, column 7"
std::string Describe(const TextPosition& position);

struct TextIssue {
  TextPosition position;
  std::string description;
};

struct TextScan {
  // Position of every key reachable from the top-level object through objects only, by path.
  std::map<std::vector<std::string>, TextPosition> key_positions;
  // The first problem that makes the text unsafe to round-trip through nlohmann::ordered_json.
  std::optional<TextIssue> issue;
};

// Nesting deeper than this is refused: the DOM is copied and printed recursively.
inline constexpr std::size_t kMaxNestingDepth = 512;

// Scans `text`, which should already have parsed as JSON (the scan stays in bounds on any input,
// but only reports meaningful positions for valid JSON). Reports as an issue:
//  * a key repeated within one object (nlohmann would keep only the last value and position),
//  * an integer literal outside int64/uint64 (nlohmann would turn it into a rounded double),
//  * a number that overflows a double (nlohmann rejects it without a position),
//  * nesting deeper than kMaxNestingDepth.
TextScan ScanJsonText(std::string_view text);

}  // namespace dind::netcfg::json_text
