// SPDX-License-Identifier: Apache-2.0
// Text helpers the messages and log fields share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dind {

// "a, b, c" for Join({"a", "b", "c"}, ", "); "" for no items.
inline std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string joined;
  for (const auto& item : items) {
    if (!joined.empty()) joined += separator;
    joined += item;
  }
  return joined;
}

// `text` without its trailing newlines and spaces: a one-line /proc or pidfile value.
inline std::string_view TrimmedLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return text;
}

}  // namespace dind
