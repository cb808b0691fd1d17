// readAbiTag over bytes: real libraries, and ELF images built here, whole and
// broken at every header field, truncated at every length, and mutated.
#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <plexus/abi.hpp>

#include "loader/elf_note_reader.hpp"
#include "loader_test_support.hpp"

using namespace plexus::core;
using namespace plexus::core::test;
using Catch::Matchers::Contains;

namespace {

std::string readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// One section of a synthetic ELF image.
struct Section {
  std::string name;
  std::uint32_t type = SHT_PROGBITS;
  std::string bytes;
  std::uint64_t align = 4;
};

/// A minimal ELF image (header, section data, name table, section header
/// table at the end) of either class and byte order, with its fields
/// patchable afterwards.
class ElfImage {
 public:
  ElfImage(bool is64, bool bigEndian, const std::vector<Section>& sections)
      : is64_(is64), big_(bigEndian) {
    const std::size_t headerSize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    bytes_.assign(headerSize, '\0');
    std::memcpy(bytes_.data(), ELFMAG, SELFMAG);
    bytes_[EI_CLASS] = static_cast<char>(is64 ? ELFCLASS64 : ELFCLASS32);
    bytes_[EI_DATA] = static_cast<char>(bigEndian ? ELFDATA2MSB : ELFDATA2LSB);
    bytes_[EI_VERSION] = EV_CURRENT;
    header(is64 ? offsetof(Elf64_Ehdr, e_type) : offsetof(Elf32_Ehdr, e_type), 2, ET_DYN);

    std::vector<Section> all = sections;
    all.push_back({".shstrtab", SHT_STRTAB, "", 1});
    std::string names(1, '\0');
    std::vector<std::uint64_t> nameOffsets, dataOffsets;
    for (const auto& section : all) {
      nameOffsets.push_back(names.size());
      names += section.name + '\0';
    }
    all.back().bytes = names;
    for (const auto& section : all) {
      while (bytes_.size() % 8) bytes_ += '\0';
      dataOffsets.push_back(bytes_.size());
      bytes_ += section.bytes;
    }
    while (bytes_.size() % 8) bytes_ += '\0';
    tableOffset_ = bytes_.size();
    count_ = all.size() + 1;  // the null section first
    bytes_.append(count_ * entrySize(), '\0');
    for (std::size_t i = 0; i < all.size(); ++i) {
      const std::size_t index = i + 1;
      sectionField(index, Field::Name, nameOffsets[i]);
      sectionField(index, Field::Type, all[i].type);
      sectionField(index, Field::Offset, dataOffsets[i]);
      sectionField(index, Field::Size, all[i].bytes.size());
      sectionField(index, Field::Align, all[i].align);
    }
    headerField(HeaderField::ShOff, tableOffset_);
    headerField(HeaderField::ShEntSize, entrySize());
    headerField(HeaderField::ShNum, count_);
    headerField(HeaderField::ShStrNdx, count_ - 1);
  }

  enum class HeaderField { ShOff, ShEntSize, ShNum, ShStrNdx };
  enum class Field { Name, Type, Offset, Size, Link, Align };

  void headerField(HeaderField field, std::uint64_t value) {
    switch (field) {
      case HeaderField::ShOff:
        return is64_ ? header(offsetof(Elf64_Ehdr, e_shoff), 8, value)
                     : header(offsetof(Elf32_Ehdr, e_shoff), 4, value);
      case HeaderField::ShEntSize:
        return header(is64_ ? offsetof(Elf64_Ehdr, e_shentsize) : offsetof(Elf32_Ehdr, e_shentsize), 2, value);
      case HeaderField::ShNum:
        return header(is64_ ? offsetof(Elf64_Ehdr, e_shnum) : offsetof(Elf32_Ehdr, e_shnum), 2, value);
      case HeaderField::ShStrNdx:
        return header(is64_ ? offsetof(Elf64_Ehdr, e_shstrndx) : offsetof(Elf32_Ehdr, e_shstrndx), 2, value);
    }
  }

  void sectionField(std::size_t index, Field field, std::uint64_t value) {
    const std::size_t base = tableOffset_ + index * entrySize();
    std::size_t offset = 0, size = 4;
    if (is64_) {
      switch (field) {
        case Field::Name: offset = offsetof(Elf64_Shdr, sh_name); break;
        case Field::Type: offset = offsetof(Elf64_Shdr, sh_type); break;
        case Field::Offset: offset = offsetof(Elf64_Shdr, sh_offset), size = 8; break;
        case Field::Size: offset = offsetof(Elf64_Shdr, sh_size), size = 8; break;
        case Field::Link: offset = offsetof(Elf64_Shdr, sh_link); break;
        case Field::Align: offset = offsetof(Elf64_Shdr, sh_addralign), size = 8; break;
      }
    } else {
      switch (field) {
        case Field::Name: offset = offsetof(Elf32_Shdr, sh_name); break;
        case Field::Type: offset = offsetof(Elf32_Shdr, sh_type); break;
        case Field::Offset: offset = offsetof(Elf32_Shdr, sh_offset); break;
        case Field::Size: offset = offsetof(Elf32_Shdr, sh_size); break;
        case Field::Link: offset = offsetof(Elf32_Shdr, sh_link); break;
        case Field::Align: offset = offsetof(Elf32_Shdr, sh_addralign); break;
      }
    }
    header(base + offset, size, value);
  }

  std::string& bytes() { return bytes_; }
  std::size_t count() const { return count_; }
  std::size_t entrySize() const { return is64_ ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr); }
  std::size_t tableOffset() const { return tableOffset_; }

 private:
  void header(std::size_t offset, std::size_t size, std::uint64_t value) {
    for (std::size_t i = 0; i < size; ++i) {
      const std::size_t shift = big_ ? (size - 1 - i) * 8 : i * 8;
      bytes_[offset + i] = static_cast<char>((value >> shift) & 0xff);
    }
  }

  bool is64_;
  bool big_;
  std::string bytes_;
  std::size_t tableOffset_ = 0;
  std::size_t count_ = 0;
};

std::string u32(std::uint32_t value, bool big) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (big ? (3 - i) * 8 : i * 8)) & 0xff);
  return out;
}

std::string pad(std::string bytes, std::size_t alignment = 4) {
  while (bytes.size() % alignment) bytes += '\0';
  return bytes;
}

/// One ELF note: header, name (with its NUL), descriptor, padded to 4.
std::string note(const std::string& owner, std::uint32_t type, const std::string& desc,
                 bool big = false) {
  const std::string name = owner + '\0';
  return u32(name.size(), big) + u32(desc.size(), big) + u32(type, big) + pad(name) + pad(desc);
}

const std::string kTag = PLEXUS_ABI_TAG;

std::string tagNote(const std::string& tag = kTag, bool big = false) {
  return note(PLEXUS_ABI_NOTE_OWNER, PLEXUS_ABI_NOTE_TYPE, tag + '\0', big);
}

/// An image whose sections are: 1 .text, 2 .note.plexus, 3 .shstrtab.
ElfImage tagged(bool is64 = true, bool big = false, const std::string& notes = "") {
  return ElfImage(is64, big,
                  {{".text", SHT_PROGBITS, "\x90\x90\x90\x90", 16},
                   {PLEXUS_ABI_NOTE_SECTION, SHT_NOTE, notes.empty() ? tagNote(kTag, big) : notes, 4}});
}
constexpr std::size_t kNoteIndex = 2;
constexpr std::size_t kNamesIndex = 3;

void requireMalformed(const std::string& bytes, const std::string& fragment) {
  CHECK_THROWS_AS(readAbiTag(bytes), ElfFormatError);
  CHECK_THROWS_WITH(readAbiTag(bytes), Contains(fragment));
}

}  // namespace

TEST_CASE("the tag of a library built with PLEXUS_COMPONENT is read from its file",
          "[loader][elf]") {
  CHECK(readAbiTag(readWholeFile(fixture("echo.so"))) == kTag);
  // Same source, another setting: the file says so.
  const auto diagnostics = readAbiTag(readWholeFile(fixture("json_diagnostics.so")));
  REQUIRE(diagnostics);
  CHECK_THAT(*diagnostics, Contains("json-diagnostics=1"));
  const auto debug = readAbiTag(readWholeFile(fixture("glibcxx_debug.so")));
  REQUIRE(debug);
  CHECK_THAT(*debug, Contains("glibcxx-debug=1"));
}

TEST_CASE("an ELF file without the note has no tag", "[loader][elf]") {
  CHECK(readAbiTag(readWholeFile(fixture("sdk_abi_1.so"))) == std::nullopt);
  CHECK(readAbiTag(readWholeFile(fixture("no_entry_points.so"))) == std::nullopt);
  CHECK(readAbiTag(readWholeFile("/proc/self/exe")) == std::nullopt);
  ElfImage untagged(true, false, {{".text", SHT_PROGBITS, "code", 4}});
  CHECK(readAbiTag(untagged.bytes()) == std::nullopt);
  // No section header table at all (e_shoff 0), or one with no entries.
  ElfImage image = tagged();
  image.headerField(ElfImage::HeaderField::ShOff, 0);
  CHECK(readAbiTag(image.bytes()) == std::nullopt);
}

TEST_CASE("the tag is read from ELF32 and ELF64, either byte order", "[loader][elf]") {
  for (bool is64 : {true, false})
    for (bool big : {false, true}) {
      INFO("64-bit " << is64 << ", big-endian " << big);
      CHECK(readAbiTag(tagged(is64, big).bytes()) == kTag);
    }
}

TEST_CASE("the Plexus note is found among other notes in the section", "[loader][elf]") {
  const std::string notes = note("GNU", 3, "build-id-bytes") + note("Plexus", 7, "other type") +
                            tagNote() + note("Other", PLEXUS_ABI_NOTE_TYPE, "x");
  CHECK(readAbiTag(tagged(true, false, notes).bytes()) == kTag);
  // The same tag twice is one tag.
  CHECK(readAbiTag(tagged(true, false, tagNote() + tagNote()).bytes()) == kTag);
}

TEST_CASE("extended section numbering is followed", "[loader][elf]") {
  ElfImage image = tagged();
  image.headerField(ElfImage::HeaderField::ShNum, 0);
  image.sectionField(0, ElfImage::Field::Size, image.count());
  image.headerField(ElfImage::HeaderField::ShStrNdx, SHN_XINDEX);
  image.sectionField(0, ElfImage::Field::Link, kNamesIndex);
  CHECK(readAbiTag(image.bytes()) == kTag);
}

TEST_CASE("files that are not ELF are malformed, with a clear reason", "[loader][elf]") {
  requireMalformed("", "does not start with the ELF magic number");
  requireMalformed("\x7f" "EL", "does not start with the ELF magic number");
  requireMalformed("#!/bin/sh\necho hi\n", "does not start with the ELF magic number");
  requireMalformed(std::string("\x7f" "ELF\x02\x01", 6), "ELF identification is cut short");
  std::string bytes = tagged().bytes();
  bytes[EI_CLASS] = 7;
  requireMalformed(bytes, "unknown ELF class 7");
  bytes = tagged().bytes();
  bytes[EI_DATA] = 0;
  requireMalformed(bytes, "unknown ELF byte order 0");
}

TEST_CASE("every header offset and size out of bounds is malformed, never a crash",
          "[loader][elf]") {
  using H = ElfImage::HeaderField;
  using F = ElfImage::Field;
  for (bool is64 : {true, false}) {
    INFO("64-bit " << is64);
    const std::uint64_t huge = is64 ? 0xffffffffffffff00ull : 0xffffff00ull;
    auto image = [&] { return tagged(is64, false); };

    SECTION("the ELF header cut short") {
      requireMalformed(image().bytes().substr(0, 40), "the ELF header");
    }
    SECTION("e_shoff past the end, and near 2^64") {
      ElfImage past = image();
      past.headerField(H::ShOff, past.bytes().size());
      requireMalformed(past.bytes(), "runs past the end of the file");
      ElfImage wrap = image();
      wrap.headerField(H::ShOff, huge);
      requireMalformed(wrap.bytes(), "runs past the end of the file");
    }
    SECTION("e_shentsize smaller than a section header") {
      ElfImage small = image();
      small.headerField(H::ShEntSize, small.entrySize() - 1);
      requireMalformed(small.bytes(), "less than the");
      ElfImage zero = image();
      zero.headerField(H::ShEntSize, 0);
      requireMalformed(zero.bytes(), "less than the");
    }
    SECTION("e_shnum reaching past the end") {
      ElfImage many = image();
      many.headerField(H::ShNum, 0xfeff);
      requireMalformed(many.bytes(), "the section header table");
      ElfImage extended = image();  // the extended count in section 0
      extended.headerField(H::ShNum, 0);
      extended.sectionField(0, F::Size, huge);
      requireMalformed(extended.bytes(), "the section header table");
    }
    SECTION("e_shstrndx outside the table") {
      ElfImage names = image();
      names.headerField(H::ShStrNdx, names.count());
      requireMalformed(names.bytes(), "there are only");
      ElfImage extended = image();
      extended.headerField(H::ShStrNdx, SHN_XINDEX);
      extended.sectionField(0, F::Link, 0xffffffff);
      requireMalformed(extended.bytes(), "there are only");
    }
    SECTION("the name table's offset or size past the end") {
      ElfImage offset = image();
      offset.sectionField(kNamesIndex, F::Offset, huge);
      requireMalformed(offset.bytes(), "the section-name table");
      ElfImage size = image();
      size.sectionField(kNamesIndex, F::Size, huge);
      requireMalformed(size.bytes(), "the section-name table");
      ElfImage nobits = image();
      nobits.sectionField(kNamesIndex, F::Type, SHT_NOBITS);
      requireMalformed(nobits.bytes(), "has no bytes in the file");
    }
    SECTION("a section name outside the name table, or not NUL-terminated") {
      ElfImage outside = image();
      outside.sectionField(1, F::Name, 0x7fffffff);
      requireMalformed(outside.bytes(), "is outside the section-name table");
      ElfImage unterminated = image();
      // The table's last byte is the NUL of ".shstrtab": cut it off.
      const std::string names = std::string("\0.text\0", 7) + PLEXUS_ABI_NOTE_SECTION + '\0' + ".shstrtab";
      unterminated.sectionField(kNamesIndex, F::Size, names.size());
      unterminated.sectionField(kNamesIndex, F::Name, names.size() - 9);
      requireMalformed(unterminated.bytes(), "runs past the end of the section-name table");
    }
    SECTION("the note section's offset or size past the end, or not a note") {
      ElfImage offset = image();
      offset.sectionField(kNoteIndex, F::Offset, huge);
      requireMalformed(offset.bytes(), "section .note.plexus");
      ElfImage size = image();
      size.sectionField(kNoteIndex, F::Size, huge);
      requireMalformed(size.bytes(), "section .note.plexus");
      ElfImage type = image();
      type.sectionField(kNoteIndex, F::Type, SHT_PROGBITS);
      requireMalformed(type.bytes(), "not SHT_NOTE");
    }
  }
}

TEST_CASE("a malformed note is malformed, with where it is", "[loader][elf]") {
  auto withNotes = [](const std::string& notes) { return tagged(true, false, notes).bytes(); };
  const std::string owner = std::string(PLEXUS_ABI_NOTE_OWNER) + '\0';

  SECTION("cut short inside its header") {
    requireMalformed(withNotes(tagNote() + "\x07\x00\x00"), "is cut short");
  }
  SECTION("a name or descriptor size past the section's end") {
    requireMalformed(withNotes(u32(0xffffffff, false) + u32(4, false) + u32(1, false) + "abcd"),
                     "past the section's end");
    requireMalformed(withNotes(u32(owner.size(), false) + u32(0xffffffff, false) +
                               u32(PLEXUS_ABI_NOTE_TYPE, false) + pad(owner) + "abcd"),
                     "past the section's end");
  }
  SECTION("a tag without its NUL, an empty tag, a tag that is not text, a huge tag") {
    requireMalformed(withNotes(note(PLEXUS_ABI_NOTE_OWNER, PLEXUS_ABI_NOTE_TYPE, "abcd")),
                     "has no NUL-terminated tag");
    requireMalformed(withNotes(note(PLEXUS_ABI_NOTE_OWNER, PLEXUS_ABI_NOTE_TYPE, std::string(4, '\0'))),
                     "has an empty tag");
    requireMalformed(withNotes(tagNote("plexus\nsdk")), "not printable text (byte 10 at 6)");
    requireMalformed(withNotes(tagNote(std::string(5000, 'a'))), "a tag of 5000 bytes");
  }
  SECTION("two different tags") {
    requireMalformed(withNotes(tagNote() + tagNote("plexus-sdk-abi=9")),
                     "two different Plexus ABI tags");
  }
}

TEST_CASE("every truncation of a real library is read or refused, never past its end",
          "[loader][elf]") {
  // The section header table is at the end of the file: every prefix lacks
  // it, so every one must be refused (and ASan checks no byte beyond is read,
  // as each prefix is its own heap copy).
  const std::string whole = readWholeFile(fixture("echo.so"));
  REQUIRE(readAbiTag(whole) == kTag);
  std::size_t refused = 0, other = 0;
  // Every length through the headers, then 512 more spread over the file
  // (with debug info, a library is megabytes).
  const std::size_t stride = std::max<std::size_t>(1, whole.size() / 512);
  for (std::size_t length = 0; length < whole.size(); length += (length < 4096 ? 1 : stride)) {
    const std::string prefix = whole.substr(0, length);
    try {
      readAbiTag(prefix);
      ++other;
    } catch (const ElfFormatError&) {
      ++refused;
    }
  }
  CHECK(other == 0);
  CHECK(refused > 4096);
}

TEST_CASE("random corruption of the headers is read or refused, nothing else", "[loader][elf]") {
  // A small deterministic fuzz in the unit tests; the libFuzzer harness goes further.
  std::mt19937 random(20261202);
  const std::string original = tagged().bytes();
  const std::string real = readWholeFile(fixture("echo.so"));
  std::size_t read = 0, refused = 0, unexpected = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes = round % 10 ? original : real;
    const int flips = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < flips; ++i) {
      // Mostly in the ELF header and the section header table, where the offsets are.
      std::size_t at;
      switch (random() % 3) {
        case 0: at = random() % 64; break;
        case 1: at = bytes.size() - 1 - random() % std::min<std::size_t>(bytes.size(), 2048); break;
        default: at = random() % bytes.size();
      }
      bytes[at] = static_cast<char>(random());
    }
    if (random() % 4 == 0) bytes.resize(random() % bytes.size());
    try {
      readAbiTag(bytes);
      ++read;
    } catch (const ElfFormatError&) {
      ++refused;
    } catch (...) {
      ++unexpected;
    }
  }
  CHECK(unexpected == 0);
  CHECK(read > 0);
  CHECK(refused > 0);
}
