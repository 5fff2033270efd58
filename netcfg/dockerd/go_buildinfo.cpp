// SPDX-License-Identifier: Apache-2.0
#include "netcfg/dockerd/go_buildinfo.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/scoped_fd.h"

namespace dind::netcfg {
namespace {

// Bounds on what a well-formed file needs, so a hostile one cannot make us read much.
constexpr std::size_t kMaxSections = 4096;
constexpr std::size_t kMaxSectionNames = 1 << 20;
constexpr std::size_t kMaxSectionSize = 1 << 20;

template <typename T>
T Load(const std::string& bytes, std::size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

// encoding/binary's Uvarint; nullopt when it does not end within `text` or overflows.
std::optional<std::uint64_t> Uvarint(std::string_view text, std::size_t& pos) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64 && pos < text.size(); shift += 7) {
    const auto byte = static_cast<unsigned char>(text[pos++]);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

std::optional<std::string_view> VarintString(std::string_view text, std::size_t& pos) {
  auto length = Uvarint(text, pos);
  if (!length || *length > text.size() - pos) return std::nullopt;
  std::string_view value = text.substr(pos, *length);
  pos += *length;
  return value;
}

// The inverse of strconv.Quote, which `go` applies to a setting's value holding a space, a
// quote or a control character; the escapes Quote writes for ASCII text.
std::string GoUnquote(std::string_view value) {
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') return std::string(value);
  std::string out;
  for (std::size_t i = 1; i + 1 < value.size(); ++i) {
    if (value[i] != '\\' || i + 2 >= value.size()) {
      out += value[i];
      continue;
    }
    const char escaped = value[++i];
    switch (escaped) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        out += escaped;
        break;  // \" \\ and what a version never holds
    }
  }
  return out;
}

// cmd/internal/quoted.Split: fields separated by white space, a field in single or double quotes
// taken whole without its quotes (what the go command does to -ldflags).
std::vector<std::string> SplitQuoted(std::string_view text) {
  std::vector<std::string> fields;
  std::size_t pos = 0;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (pos < text.size()) {
    if (is_space(text[pos])) {
      ++pos;
      continue;
    }
    if (text[pos] == '"' || text[pos] == '\'') {
      const std::size_t end = text.find(text[pos], pos + 1);
      if (end == std::string_view::npos) break;  // unterminated: the go command refuses it too
      fields.emplace_back(text.substr(pos + 1, end - pos - 1));
      pos = end + 1;
      continue;
    }
    std::size_t end = pos;
    while (end < text.size() && !is_space(text[end])) ++end;
    fields.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  return fields;
}

}  // namespace

Result<std::string> ReadElfSection(const ReadAt& read, std::string_view name) {
  std::string header;
  if (!read(0, sizeof(Elf64_Ehdr), header) || std::memcmp(header.data(), ELFMAG, SELFMAG) != 0) {
    return Error::BadInput("not an ELF file");
  }
  if (header[EI_CLASS] != ELFCLASS64 || header[EI_DATA] != ELFDATA2LSB) {
    return Error::BadInput("not a 64-bit little-endian ELF file");
  }
  const auto ehdr = Load<Elf64_Ehdr>(header, 0);
  if (ehdr.e_shoff == 0) return Error::BadInput("the ELF file has no section headers");
  if (ehdr.e_shentsize < sizeof(Elf64_Shdr)) {
    return Error::BadInput("the ELF file's section headers are too small");
  }
  // Past SHN_LORESERVE entries, the count and the names' index are in section 0.
  std::string first;
  if (!read(ehdr.e_shoff, sizeof(Elf64_Shdr), first)) {
    return Error::BadInput("the ELF file's section headers lie outside it");
  }
  const auto section0 = Load<Elf64_Shdr>(first, 0);
  const std::uint64_t count = ehdr.e_shnum != 0 ? ehdr.e_shnum : section0.sh_size;
  const std::uint64_t names_index =
      ehdr.e_shstrndx == SHN_XINDEX ? section0.sh_link : ehdr.e_shstrndx;
  if (count > kMaxSections || names_index >= count) {
    return Error::BadInput("the ELF file's section count or name table index is out of range");
  }
  std::string table;
  if (!read(ehdr.e_shoff, count * ehdr.e_shentsize, table)) {
    return Error::BadInput("the ELF file's section headers lie outside it");
  }
  auto section = [&](std::uint64_t index) {
    return Load<Elf64_Shdr>(table, index * ehdr.e_shentsize);
  };
  const Elf64_Shdr names_header = section(names_index);
  std::string names;
  if (names_header.sh_size > kMaxSectionNames ||
      !read(names_header.sh_offset, names_header.sh_size, names)) {
    return Error::BadInput("the ELF file's section name table lies outside it");
  }
  for (std::uint64_t index = 0; index < count; ++index) {
    const Elf64_Shdr candidate = section(index);
    if (candidate.sh_name >= names.size()) continue;
    const char* candidate_name = names.c_str() + candidate.sh_name;  // names ends in NUL
    if (name != candidate_name) continue;
    if (candidate.sh_type == SHT_NOBITS) return std::string();
    if (candidate.sh_size > kMaxSectionSize) {
      return Error::BadInput("section " + std::string(name) + " is larger than 1 MiB");
    }
    std::string contents;
    if (!read(candidate.sh_offset, candidate.sh_size, contents)) {
      return Error::BadInput("section " + std::string(name) + " lies outside the file");
    }
    return contents;
  }
  return Error::Environment("no section " + std::string(name), ENOENT);
}

std::optional<std::string> GoModuleInfo(std::string_view buildinfo) {
  // runtime/debug's layout since Go 1.18: a 32-byte header (magic, pointer size, flags), then,
  // with flag 2 (strings inline), the Go version and the module information as varint-prefixed
  // strings. Older builds point into the data segment instead: not read here.
  constexpr std::string_view kMagic = "\xff Go buildinf:";
  constexpr std::size_t kHeaderSize = 32;
  constexpr unsigned char kFlagInline = 0x2;
  if (buildinfo.size() < kHeaderSize || buildinfo.substr(0, kMagic.size()) != kMagic ||
      (static_cast<unsigned char>(buildinfo[kMagic.size() + 1]) & kFlagInline) == 0) {
    return std::nullopt;
  }
  std::size_t pos = kHeaderSize;
  if (!VarintString(buildinfo, pos)) return std::nullopt;  // the Go version
  auto info = VarintString(buildinfo, pos);
  // The go command puts 16 bytes of sentinel on both sides (debug/buildinfo strips them alike).
  constexpr std::size_t kSentinel = 16;
  if (!info || info->size() < 2 * kSentinel + 1 || (*info)[info->size() - kSentinel - 1] != '\n') {
    return std::nullopt;
  }
  return std::string(info->substr(kSentinel, info->size() - 2 * kSentinel));
}

std::optional<std::string> DockerVersionFromModuleInfo(std::string_view module_info) {
  constexpr std::string_view kLdflags = "build\t-ldflags=";
  constexpr std::string_view kVariable = "dockerversion.Version=";
  std::size_t line_start = 0;
  while (line_start < module_info.size()) {
    std::size_t line_end = module_info.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = module_info.size();
    const std::string_view line = module_info.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (line.substr(0, kLdflags.size()) != kLdflags) continue;
    const auto fields = SplitQuoted(GoUnquote(line.substr(kLdflags.size())));
    for (std::size_t i = 0; i < fields.size(); ++i) {
      std::string_view assignment = fields[i];
      if (assignment == "-X" || assignment == "--X") {
        if (i + 1 == fields.size()) break;
        assignment = fields[++i];
      } else if (assignment.starts_with("-X=") || assignment.starts_with("--X=")) {
        assignment.remove_prefix(assignment.find('=') + 1);
      } else {
        continue;
      }
      const std::size_t at = assignment.find(kVariable);
      if (at == std::string_view::npos || (at != 0 && assignment[at - 1] != '/')) continue;
      // The package is dockerversion itself, not a name that merely ends the same way.
      if (assignment.find('=') != at + kVariable.size() - 1) continue;
      std::string value(assignment.substr(at + kVariable.size()));
      // A quoted field may hold spaces; a version never does.
      if (!value.empty() && value.find_first_of(" \t\n\r\"'") == std::string::npos) {
        return value;
      }
    }
  }
  return std::nullopt;
}

Result<std::string> ReadDockerdBuildVersion(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error::FromErrno("opening " + path);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return Error::FromErrno("reading " + path);
  const auto file_size = static_cast<std::uint64_t>(info.st_size);
  const ReadAt read = [&](std::uint64_t offset, std::size_t length, std::string& out) {
    if (offset > file_size || length > file_size - offset) return false;
    out.resize(length);
    std::size_t done = 0;
    while (done < length) {
      const ssize_t got =
          ::pread(fd.get(), out.data() + done, length - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      done += static_cast<std::size_t>(got);
    }
    return true;
  };
  auto section = ReadElfSection(read, ".go.buildinfo");
  if (!section) return section.error().Wrap(path);
  auto module_info = GoModuleInfo(*section);
  if (!module_info) {
    return Error::Environment(path + ": its Go build information is older than Go 1.18's layout");
  }
  auto version = DockerVersionFromModuleInfo(*module_info);
  if (!version) {
    return Error::Environment(path + ": its build recorded no -X …/dockerversion.Version " +
                              "(built with -trimpath, or not dockerd)");
  }
  return *version;
}

std::optional<std::string> FindProgram(const std::string& program,
                                       const std::string& path_variable) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) return program;
  std::size_t start = 0;
  while (start <= path_variable.size()) {
    std::size_t end = path_variable.find(':', start);
    if (end == std::string::npos) end = path_variable.size();
    // An empty entry means the current directory, as for execvp.
    std::string dir = end == start ? "." : path_variable.substr(start, end - start);
    std::string candidate = dir + "/" + program;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace dind::netcfg
