// SPDX-License-Identifier: Apache-2.0
#include "netcfg/dockerd/go_buildinfo.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "tests/mocks/temp_dir.h"

namespace dind::netcfg {
namespace {

using dind::testing::TempDir;

// The module information line Debian 12's docker.io 20.10.24 records, as `go version -m` shows
// it: the value quoted by strconv.Quote, the -X arguments in double quotes.
constexpr std::string_view kDebianLdflags =
    "build\t-ldflags=\" \\t\\t-w \\t-X \\\"github.com/docker/docker/dockerversion.Version="
    "20.10.24+dfsg1\\\" \\t-X \\\"github.com/docker/docker/dockerversion.GitCommit=5d6db84\\\" "
    "\\t-X \\\"github.com/docker/docker/dockerversion.IAmStatic=false\\\"\"";

std::string Varint(std::uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
  return out;
}

// A Go >= 1.18 .go.buildinfo section around `module_info`.
std::string BuildInfo(const std::string& module_info, char flags = 0x2) {
  std::string blob = "\xff Go buildinf:";
  blob += '\x08';  // pointer size
  blob += flags;
  blob.resize(32, '\0');
  const std::string sentinel(16, 'S');
  const std::string wrapped = sentinel + module_info + "\n" + sentinel;
  blob += Varint(8) + "go1.19.8" + Varint(wrapped.size()) + wrapped;
  return blob;
}

// A 64-bit little-endian ELF file with a null section, the name table and `sections`.
std::string Elf(const std::vector<std::pair<std::string, std::string>>& sections) {
  std::string names(1, '\0');
  std::vector<std::uint32_t> name_offsets;
  for (const auto& [name, contents] : sections) {
    name_offsets.push_back(static_cast<std::uint32_t>(names.size()));
    names += name + '\0';
  }
  const std::uint32_t names_name = static_cast<std::uint32_t>(names.size());
  names += std::string(".shstrtab") + '\0';

  std::string file(sizeof(Elf64_Ehdr), '\0');
  std::vector<Elf64_Shdr> headers(1);  // section 0 is null
  for (std::size_t i = 0; i < sections.size(); ++i) {
    Elf64_Shdr header{};
    header.sh_name = name_offsets[i];
    header.sh_type = SHT_PROGBITS;
    header.sh_offset = file.size();
    header.sh_size = sections[i].second.size();
    file += sections[i].second;
    headers.push_back(header);
  }
  Elf64_Shdr names_header{};
  names_header.sh_name = names_name;
  names_header.sh_type = SHT_STRTAB;
  names_header.sh_offset = file.size();
  names_header.sh_size = names.size();
  file += names;
  headers.push_back(names_header);

  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_type = ET_EXEC;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_shoff = file.size();
  ehdr.e_shentsize = sizeof(Elf64_Shdr);
  ehdr.e_shnum = static_cast<std::uint16_t>(headers.size());
  ehdr.e_shstrndx = static_cast<std::uint16_t>(headers.size() - 1);
  for (const auto& header : headers) {
    file.append(reinterpret_cast<const char*>(&header), sizeof(header));
  }
  std::memcpy(file.data(), &ehdr, sizeof(ehdr));
  return file;
}

ReadAt ReaderOf(const std::string& file) {
  return [&file](std::uint64_t offset, std::size_t length, std::string& out) {
    if (offset > file.size() || length > file.size() - offset) return false;
    out = file.substr(offset, length);
    return true;
  };
}

TEST(ReadElfSectionTest, FindsTheSectionByName) {
  const std::string file = Elf({{".text", "code"}, {".go.buildinfo", "info"}});
  EXPECT_EQ(*ReadElfSection(ReaderOf(file), ".go.buildinfo"), "info");
  EXPECT_EQ(*ReadElfSection(ReaderOf(file), ".text"), "code");
  auto missing = ReadElfSection(ReaderOf(file), ".data");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().Message().find("no section .data"), std::string::npos);
}

TEST(ReadElfSectionTest, RefusesWhatIsNotA64BitLittleEndianElfOrDoesNotFit) {
  EXPECT_FALSE(ReadElfSection(ReaderOf("#!/bin/sh\necho hi\n"), ".go.buildinfo").ok());
  std::string file = Elf({{".go.buildinfo", "info"}});
  std::string elf32 = file;
  elf32[EI_CLASS] = ELFCLASS32;
  EXPECT_FALSE(ReadElfSection(ReaderOf(elf32), ".go.buildinfo").ok());
  // Cut inside the section headers, then inside the section itself.
  EXPECT_FALSE(ReadElfSection(ReaderOf(file.substr(0, file.size() - 10)), ".go.buildinfo").ok());
  std::string far = file;
  Elf64_Ehdr ehdr;
  std::memcpy(&ehdr, far.data(), sizeof(ehdr));
  Elf64_Shdr header;
  const std::size_t at = ehdr.e_shoff + sizeof(Elf64_Shdr);  // section 1: .go.buildinfo
  std::memcpy(&header, far.data() + at, sizeof(header));
  header.sh_offset = 1 << 20;
  std::memcpy(far.data() + at, &header, sizeof(header));
  EXPECT_FALSE(ReadElfSection(ReaderOf(far), ".go.buildinfo").ok());
}

TEST(GoModuleInfoTest, ReadsTheInlineLayoutOfGo118AndLater) {
  EXPECT_EQ(GoModuleInfo(BuildInfo("path\tx\nbuild\tGOOS=linux")), "path\tx\nbuild\tGOOS=linux\n");
  EXPECT_FALSE(GoModuleInfo(BuildInfo("path\tx", /*flags=*/0x0)));  // pre-1.18: pointers
  EXPECT_FALSE(GoModuleInfo("\xff Go buildinf:"));
  std::string cut = BuildInfo("path\tx");
  cut.resize(cut.size() - 5);
  EXPECT_FALSE(GoModuleInfo(cut));
}

TEST(DockerVersionFromModuleInfoTest, ReadsDebiansQuotedLdflags) {
  const std::string info = "path\tgithub.com/docker/docker/cmd/dockerd\n" +
                           std::string(kDebianLdflags) + "\nbuild\tCGO_ENABLED=1\n";
  EXPECT_EQ(DockerVersionFromModuleInfo(info), "20.10.24+dfsg1");
}

TEST(DockerVersionFromModuleInfoTest, ReadsEveryFormOfDashX) {
  for (const std::string ldflags : {"-w -X github.com/docker/docker/dockerversion.Version=27.3.1",
                                    "-X=github.com/docker/docker/dockerversion.Version=27.3.1 -s",
                                    "--X 'github.com/moby/moby/v2/dockerversion.Version=27.3.1'",
                                    "-X dockerversion.Version=27.3.1"}) {
    EXPECT_EQ(DockerVersionFromModuleInfo("build\t-ldflags=" + ldflags + "\n"), "27.3.1")
        << ldflags;
  }
}

TEST(DockerVersionFromModuleInfoTest, NothingWhenTheBuildRecordedNoVersion) {
  // -trimpath builds record no -ldflags at all.
  EXPECT_FALSE(DockerVersionFromModuleInfo("path\tgithub.com/docker/docker/cmd/dockerd\n"));
  // Another package whose name merely ends the same way, another variable, an empty value.
  EXPECT_FALSE(
      DockerVersionFromModuleInfo("build\t-ldflags=-X example.com/notdockerversion.Version=1.0 "
                                  "-X github.com/docker/docker/dockerversion.GitCommit=abc "
                                  "-X github.com/docker/docker/dockerversion.Version=\n"));
  EXPECT_FALSE(DockerVersionFromModuleInfo("build\t-ldflags=-X\n"));
}

TEST(ReadDockerdBuildVersionTest, ReadsAFileAndSaysWhyNot) {
  TempDir dir;
  const std::string dockerd = dir.path() + "/dockerd";
  std::ofstream(dockerd) << Elf({{".go.buildinfo", BuildInfo(std::string(kDebianLdflags))}});
  EXPECT_EQ(*ReadDockerdBuildVersion(dockerd), "20.10.24+dfsg1");

  const std::string trimmed = dir.path() + "/trimmed";
  std::ofstream(trimmed) << Elf({{".go.buildinfo", BuildInfo("path\tx")}});
  auto none = ReadDockerdBuildVersion(trimmed);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().Message().find("-trimpath"), std::string::npos);

  auto absent = ReadDockerdBuildVersion(dir.path() + "/absent");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().errnum, ENOENT);
}

// The real thing, where scripts/install-deps.sh put it: the build information agrees with what
// the binary prints when run.
TEST(ReadDockerdBuildVersionTest, AgreesWithDockerdVersionOnThisMachinesDockerd) {
  const auto dockerd = FindProgram("dockerd", "/usr/sbin:/usr/bin:/sbin:/bin");
  if (!dockerd) GTEST_SKIP() << "no dockerd installed (docker.io)";
  auto built = ReadDockerdBuildVersion(*dockerd);
  ASSERT_TRUE(built.ok()) << built.error().Message();
  auto printed = RunAndCapture({*dockerd, "--version"});
  ASSERT_TRUE(printed.ok()) << printed.error().Message();
  EXPECT_NE(printed->find("version " + *built + ","), std::string::npos)
      << *printed << " against " << *built;
}

TEST(FindProgramTest, SearchesPathLikeExecvp) {
  TempDir dir;
  const std::string bin = dir.path() + "/bin";
  std::filesystem::create_directories(bin);
  std::ofstream(bin + "/tool") << "#!/bin/sh\n";
  std::ofstream(bin + "/plain") << "data";
  std::filesystem::permissions(bin + "/tool", std::filesystem::perms::owner_all);
  EXPECT_EQ(FindProgram("tool", dir.path() + ":" + bin), bin + "/tool");
  EXPECT_FALSE(FindProgram("plain", bin));       // not executable
  EXPECT_FALSE(FindProgram("bin", dir.path()));  // a directory
  EXPECT_EQ(FindProgram("/any/path", ""), "/any/path");
  EXPECT_FALSE(FindProgram("", bin));
}

}  // namespace
}  // namespace dind::netcfg
