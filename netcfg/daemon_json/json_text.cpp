// SPDX-License-Identifier: Apache-2.0
#include "netcfg/daemon_json/json_text.h"

#include <cmath>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <set>

namespace dind::netcfg::json_text {
namespace {

bool IsUtf8Continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

bool IsJsonWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool IsNumberChar(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// Offset one past the closing quote of the string starting at `open_quote`, or the text's end.
std::size_t StringEnd(std::string_view text, std::size_t open_quote) {
  std::size_t i = open_quote + 1;
  while (i < text.size()) {
    if (text[i] == '\\') {
      i += 2;
      continue;
    }
    if (text[i] == '"') return i + 1;
    ++i;
  }
  return text.size();
}

std::string DecodeKey(std::string_view token) {
  try {
    return nlohmann::json::parse(token).get<std::string>();
  } catch (const std::exception&) {
    return std::string(token);  // only on invalid text, where positions matter more than keys
  }
}

// Digits of `limit` compared as numbers, both without sign or leading zeros.
bool DigitsExceed(std::string_view digits, std::string_view limit) {
  if (digits.size() != limit.size()) return digits.size() > limit.size();
  return digits > limit;
}

// Why nlohmann cannot hold `token` exactly, or nullopt when it can.
std::optional<std::string> NumberProblem(std::string_view token) {
  const bool is_integer = token.find_first_of(".eE") == std::string_view::npos;
  if (is_integer) {
    const bool negative = !token.empty() && token.front() == '-';
    const std::string_view digits = negative ? token.substr(1) : token;
    // The most negative int64 and the largest uint64: what nlohmann stores without rounding.
    if (DigitsExceed(digits, negative ? "9223372036854775808" : "18446744073709551615")) {
      return "the integer " + std::string(token) +
             " does not fit in 64 bits and would be rewritten rounded";
    }
    return std::nullopt;
  }
  const std::string copy(token);
  if (!std::isfinite(std::strtod(copy.c_str(), nullptr))) {
    return "the number " + copy + " is too large for a double";
  }
  return std::nullopt;
}

struct Frame {
  bool is_object = false;
  // Reachable from the top-level object through objects only, so its keys have a path.
  bool addressable = false;
  bool expecting_key = false;
  std::string current_key;
  std::map<std::string, TextPosition> seen_keys;
};

class LineIndex {
 public:
  explicit LineIndex(std::string_view text) : text_(text) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  TextPosition At(std::size_t offset) const {
    if (offset > text_.size()) offset = text_.size();
    // The last line start at or before `offset`.
    std::size_t low = 0;
    std::size_t high = line_starts_.size();
    while (high - low > 1) {
      const std::size_t mid = low + (high - low) / 2;
      if (line_starts_[mid] <= offset) {
        low = mid;
      } else {
        high = mid;
      }
    }
    TextPosition position;
    position.line = low + 1;
    for (std::size_t i = line_starts_[low]; i < offset; ++i) {
      if (!IsUtf8Continuation(text_[i])) ++position.column;
    }
    return position;
  }

 private:
  std::string_view text_;
  std::vector<std::size_t> line_starts_;
};

}  // namespace

TextPosition PositionAtOffset(std::string_view text, std::size_t offset) {
  return LineIndex(text).At(offset);
}

std::string Describe(const TextPosition& position) {
  return "line " + std::to_string(position.line) + ", column " + std::to_string(position.column);
}

TextScan ScanJsonText(std::string_view text) {
  const LineIndex lines(text);
  TextScan scan;
  std::vector<Frame> stack;
  std::size_t i = 0;
  while (i < text.size() && !scan.issue) {
    const char c = text[i];
    if (IsJsonWhitespace(c)) {
      ++i;
      continue;
    }
    switch (c) {
      case '{':
      case '[': {
        if (stack.size() >= kMaxNestingDepth) {
          scan.issue = TextIssue{lines.At(i), "nesting is deeper than " +
                                                  std::to_string(kMaxNestingDepth) + " levels"};
          break;
        }
        Frame frame;
        frame.is_object = c == '{';
        frame.expecting_key = frame.is_object;
        frame.addressable = frame.is_object &&
                            (stack.empty() || (stack.back().is_object && stack.back().addressable));
        stack.push_back(std::move(frame));
        ++i;
        break;
      }
      case '}':
      case ']':
        if (!stack.empty()) stack.pop_back();
        ++i;
        break;
      case ',':
        if (!stack.empty() && stack.back().is_object) stack.back().expecting_key = true;
        ++i;
        break;
      case '"': {
        const std::size_t end = StringEnd(text, i);
        if (!stack.empty() && stack.back().is_object && stack.back().expecting_key) {
          Frame& frame = stack.back();
          const TextPosition position = lines.At(i);
          std::string key = DecodeKey(text.substr(i, end - i));
          const auto [previous, inserted] = frame.seen_keys.emplace(key, position);
          if (!inserted) {
            scan.issue = TextIssue{position, "the key \"" + key +
                                                 "\" appears twice in one object "
                                                 "(first at " +
                                                 Describe(previous->second) + ")"};
            break;
          }
          if (frame.addressable) {
            std::vector<std::string> path;
            for (std::size_t depth = 0; depth + 1 < stack.size(); ++depth) {
              path.push_back(stack[depth].current_key);
            }
            path.push_back(key);
            scan.key_positions.emplace(std::move(path), position);
          }
          frame.current_key = std::move(key);
          frame.expecting_key = false;
        }
        i = end;
        break;
      }
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          std::size_t end = i;
          while (end < text.size() && IsNumberChar(text[end])) ++end;
          if (auto problem = NumberProblem(text.substr(i, end - i))) {
            scan.issue = TextIssue{lines.At(i), std::move(*problem)};
          }
          i = end;
        } else {
          ++i;  // letters of true, false and null, and ':'
        }
        break;
    }
  }
  return scan;
}

}  // namespace dind::netcfg::json_text
