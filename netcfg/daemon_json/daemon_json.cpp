// SPDX-License-Identifier: Apache-2.0
// MergeDaemonJson. Decisions about the existing file, all of them "refuse rather than guess",
// because the file is the user's and a rewrite must not change what it means:
//  * Duplicate keys in one object are refused with the line and column of both. dockerd (Go)
//    silently keeps the last one; rewriting would silently delete the other line, and which one
//    the user meant is for a human to decide.
//  * Integer literals wider than 64 bits are refused: nlohmann would rewrite them as rounded
//    doubles. Numbers otherwise round-trip by value (1.50 may come back as 1.5).
//  * Comments are refused like any other syntax error (dockerd rejects them too), with a hint.
//  * A UTF-8 byte order mark is accepted and not written back: dockerd 23+ ignores it, but
//    20.10 fails on it. UTF-16 files are refused with a hint to save them as UTF-8.
//  * UTF-8 is written as is; \u escapes of printable characters come back as UTF-8.
//  * Removing a key whose parent is absent or not an object is a no-op, not an error.
#include "netcfg/daemon_json/daemon_json.h"

#include <algorithm>
#include <exception>
#include <map>

#include "netcfg/daemon_json/atomic_file.h"
#include "netcfg/daemon_json/json_text.h"

namespace dind::netcfg {
namespace {

using json_text::Describe;
using json_text::PositionAtOffset;
using json_text::TextPosition;

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr char kFixOrMoveHint[] =
    "fix or move the file; dind-netcfg never overwrites a file it cannot parse";

using KeyPath = std::vector<std::string>;

std::string DottedPath(const KeyPath& path, std::size_t length) {
  std::string dotted;
  for (std::size_t i = 0; i < length && i < path.size(); ++i) {
    if (i > 0) dotted += '.';
    dotted += path[i];
  }
  return dotted;
}

std::string DottedPath(const KeyPath& path) {
  return DottedPath(path, path.size());
}

Error BadFile(std::string_view source_name, const std::string& detail,
              const std::string& extra_hint = {}) {
  std::string hint = extra_hint.empty() ? kFixOrMoveHint : extra_hint + "; " + kFixOrMoveHint;
  return Error::BadInput("parsing " + std::string(source_name) + ": " + detail, std::move(hint));
}

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// nlohmann's message without its own prefix and its "last read" excerpt, which repeats
// surrounding whitespace and may carry raw invalid bytes.
std::string ParseErrorDetail(const std::string& what) {
  std::string detail = what;
  const std::size_t position_end = detail.find(": ");
  if (detail.rfind("[json.exception.", 0) == 0 && position_end != std::string::npos) {
    detail.erase(0, position_end + 2);
  }
  const std::size_t last_read = detail.find("; last read: '");
  if (last_read != std::string::npos) {
    const std::size_t expected = detail.rfind("'; expected");
    if (expected != std::string::npos && expected > last_read) {
      detail.erase(last_read, expected + 1 - last_read);
    } else {
      detail.erase(last_read);
    }
  }
  return detail;
}

std::string DescribeCharAt(std::string_view text, std::size_t offset) {
  if (offset >= text.size()) return "the end of the file";
  const auto byte = static_cast<unsigned char>(text[offset]);
  if (byte >= 0x21 && byte < 0x7F) return std::string("'") + text[offset] + "'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

// Common hand-editing mistakes get a specific hint on top of the generic one.
std::string HintForSyntaxError(std::string_view text, std::size_t offset, std::string_view detail) {
  if (offset >= text.size()) return "the file ends before the JSON is complete";
  const char c = text[offset];
  if (c == '/' || c == '#') return "JSON has no comments (dockerd rejects them too): remove them";
  if (c == '}' || c == ']') {
    const std::size_t previous = text.find_last_not_of(" \t\r\n", offset == 0 ? 0 : offset - 1);
    if (offset > 0 && previous != std::string_view::npos && text[previous] == ',') {
      return "remove the trailing comma at " + Describe(PositionAtOffset(text, previous));
    }
  }
  if (c == '\'') return "JSON strings use double quotes";
  if (detail.find("expected '}'") != std::string_view::npos ||
      detail.find("expected ']'") != std::string_view::npos) {
    return "a comma is probably missing before it";
  }
  return {};
}

std::string WithArticle(std::string_view type_name) {
  const bool vowel = !type_name.empty() &&
                     std::string_view("aeiou").find(type_name.front()) != std::string_view::npos;
  return (vowel ? "an " : "a ") + std::string(type_name);
}

struct ExistingDocument {
  OrderedJson root = OrderedJson::object();
  std::map<KeyPath, TextPosition> key_positions;
};

Result<ExistingDocument> ParseExisting(std::string_view text, std::string_view source_name) {
  if (text.rfind("\xFF\xFE", 0) == 0 || text.rfind("\xFE\xFF", 0) == 0) {
    return BadFile(source_name, "the file is UTF-16 encoded", "save it as UTF-8");
  }
  if (text.rfind(kUtf8Bom, 0) == 0) text.remove_prefix(kUtf8Bom.size());
  // nlohmann stops at a NUL byte as if the text ended there: whatever follows would be dropped
  // by the rewrite, and dockerd refuses the file anyway.
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return BadFile(source_name, Describe(PositionAtOffset(text, nul)) + ": a NUL byte",
                   "the file is binary or was cut by a crash; restore it from a good copy");
  }
  ExistingDocument document;
  if (IsBlank(text)) return document;
  try {
    document.root = OrderedJson::parse(text, nullptr, /*allow_exceptions=*/true,
                                       /*ignore_comments=*/false);
  } catch (const nlohmann::json::parse_error& error) {
    // `byte` counts the bytes read, the offending one included.
    const std::size_t offset = error.byte > 0 ? error.byte - 1 : 0;
    const std::string detail = ParseErrorDetail(error.what());
    return BadFile(source_name,
                   Describe(PositionAtOffset(text, offset)) + ", at " +
                       DescribeCharAt(text, offset) + ": " + detail,
                   HintForSyntaxError(text, offset, detail));
  } catch (const std::exception& error) {
    // Syntactically valid but unrepresentable (a number overflowing a double): the scan below
    // finds where; nlohmann does not say.
    const json_text::TextScan scan = json_text::ScanJsonText(text);
    if (scan.issue) {
      return BadFile(source_name, Describe(scan.issue->position) + ": " + scan.issue->description);
    }
    return BadFile(source_name, ParseErrorDetail(error.what()));
  }
  json_text::TextScan scan = json_text::ScanJsonText(text);
  if (scan.issue) {
    return BadFile(source_name, Describe(scan.issue->position) + ": " + scan.issue->description);
  }
  if (!document.root.is_object()) {
    const std::size_t start = text.find_first_not_of(" \t\r\n");
    return BadFile(source_name, Describe(PositionAtOffset(text, start)) +
                                    ": the file holds a JSON " + document.root.type_name() +
                                    ", but daemon.json must be a JSON object ({ ... })");
  }
  document.key_positions = std::move(scan.key_positions);
  return document;
}

// The value at `path`, following objects only; nullopt when absent.
const OrderedJson* Lookup(const OrderedJson& root, const KeyPath& path) {
  const OrderedJson* node = &root;
  for (const auto& key : path) {
    if (!node->is_object()) return nullptr;
    const auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

Status Set(OrderedJson& root, const KeyPath& path, const OrderedJson& value,
           const ExistingDocument& existing, std::string_view source_name) {
  OrderedJson* node = &root;
  for (std::size_t depth = 0; depth + 1 < path.size(); ++depth) {
    auto it = node->find(path[depth]);
    if (it == node->end()) {
      node = &((*node)[path[depth]] = OrderedJson::object());
      continue;
    }
    if (!it->is_object()) {
      const KeyPath prefix(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(depth) + 1);
      const auto position = existing.key_positions.find(prefix);
      const std::string where =
          position == existing.key_positions.end() ? "" : Describe(position->second) + ": ";
      return BadFile(source_name, where + "\"" + DottedPath(prefix) + "\" is " +
                                      WithArticle(it->type_name()) +
                                      ", but dind-netcfg needs an object there to "
                                      "set \"" +
                                      DottedPath(path) + "\"");
    }
    node = &*it;
  }
  (*node)[path.back()] = value;  // in place when present, appended otherwise
  return OkStatus();
}

// Removes `path` and then every object on it that the removal left empty (never the top level).
void Remove(OrderedJson& root, const KeyPath& path) {
  std::vector<OrderedJson*> chain{&root};  // chain[d]: the object holding path[d]
  for (std::size_t depth = 0; depth + 1 < path.size(); ++depth) {
    auto it = chain.back()->find(path[depth]);
    if (it == chain.back()->end() || !it->is_object()) return;
    chain.push_back(&*it);
  }
  if (chain.back()->erase(path.back()) == 0) return;
  for (std::size_t depth = chain.size() - 1; depth > 0 && chain[depth]->empty(); --depth) {
    chain[depth - 1]->erase(path[depth - 1]);
  }
}

std::optional<OrderedJson> Copy(const OrderedJson* value) {
  if (value == nullptr) return std::nullopt;
  return *value;
}

std::string CompactDump(const OrderedJson& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<MergeResult> Merge(const std::optional<std::string>& existing_text,
                          const std::vector<KeyUpdate>& updates, std::string_view source_name) {
  ExistingDocument existing;
  if (existing_text) {
    auto parsed = ParseExisting(*existing_text, source_name);
    if (!parsed.ok()) return parsed.error();
    existing = std::move(parsed).value();
  }

  OrderedJson merged = existing.root;
  std::vector<KeyPath> touched;  // distinct, in the order the updates name them
  for (const auto& update : updates) {
    if (update.path.empty()) {
      return Error::BadInput("merging into " + std::string(source_name) +
                             ": an update has an empty key path (a dind-netcfg bug)");
    }
    if (update.value) {
      try {
        (void)update.value->dump();
      } catch (const nlohmann::json::exception& error) {
        return Error::BadInput("merging into " + std::string(source_name) + ": the value for \"" +
                               DottedPath(update.path) + "\" cannot be written: " + error.what());
      }
      DIND_RETURN_IF_ERROR(Set(merged, update.path, *update.value, existing, source_name));
    } else {
      Remove(merged, update.path);
    }
    if (std::find(touched.begin(), touched.end(), update.path) == touched.end()) {
      touched.push_back(update.path);
    }
  }

  MergeResult result;
  result.text = merged.dump(2, ' ', /*ensure_ascii=*/false) + "\n";
  for (const auto& path : touched) {
    const OrderedJson* before = Lookup(existing.root, path);
    const OrderedJson* after = Lookup(merged, path);
    const bool changed = (before == nullptr) != (after == nullptr) ||
                         (before != nullptr && CompactDump(*before) != CompactDump(*after));
    if (changed) result.changes.push_back({DottedPath(path), Copy(before), Copy(after)});
  }
  return result;
}

}  // namespace

Result<MergeResult> MergeDaemonJson(const std::optional<std::string>& existing_text,
                                    const std::vector<KeyUpdate>& updates,
                                    std::string_view source_name) {
  try {
    return Merge(existing_text, updates, source_name);
  } catch (const std::exception& error) {
    // Not expected (values are validated above), but an exception must never escape.
    return Error::Environment("merging into " + std::string(source_name) + ": " + error.what());
  }
}

Result<DaemonJsonUpdate> UpdateDaemonJsonFile(const std::string& path,
                                              const std::vector<KeyUpdate>& updates) {
  auto existing = ReadDaemonJson(path);
  if (!existing) return existing.error();
  auto merged = MergeDaemonJson(*existing, updates, path);
  if (!merged) return merged.error();
  DaemonJsonUpdate update{!*existing || **existing != merged->text, std::move(merged->changes)};
  if (update.written) DIND_RETURN_IF_ERROR(WriteFileAtomically(path, merged->text));
  return update;
}

}  // namespace dind::netcfg
