#include "loader/elf_note_reader.hpp"

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <limits>

#include <plexus/abi.hpp>

namespace plexus::core {
namespace {

constexpr std::string_view kNoteSection = PLEXUS_ABI_NOTE_SECTION;
// With its NUL: ELF note names include the terminator in namesz.
constexpr std::string_view kNoteOwner{PLEXUS_ABI_NOTE_OWNER, sizeof(PLEXUS_ABI_NOTE_OWNER)};
constexpr std::uint32_t kNoteType = PLEXUS_ABI_NOTE_TYPE;
/// Far above any real tag (about 200 bytes); a longer one is a corrupt note.
constexpr std::size_t kMaxTagSize = 4096;
/// An ELF note header: namesz, descsz, type (the same in ELF32 and ELF64).
constexpr std::uint64_t kNoteHeaderSize = 12;

std::string str(std::uint64_t number) { return std::to_string(number); }

bool hostIsLittleEndian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

std::uint64_t alignUp(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

/// The file's bytes, read with bounds checks and in the file's byte order.
class FileBytes {
 public:
  FileBytes(std::string_view bytes, bool swap) : bytes_(bytes), swap_(swap) {}

  std::uint64_t size() const { return bytes_.size(); }

  /// The bytes [offset, offset + length), or ElfFormatError naming `what`.
  std::string_view range(std::uint64_t offset, std::uint64_t length, const std::string& what) const {
    if (offset > bytes_.size() || length > bytes_.size() - offset)
      throw ElfFormatError(what + " (bytes " + str(offset) + " to " + rangeEnd(offset, length) +
                           ") runs past the end of the file (" + str(bytes_.size()) + " bytes)");
    return bytes_.substr(offset, length);
  }

  /// A header struct copied out of the file at `offset` (still in the file's
  /// byte order: read its fields with fix()).
  template <typename Struct>
  Struct load(std::uint64_t offset, const std::string& what) const {
    Struct value;
    std::memcpy(&value, range(offset, sizeof(Struct), what).data(), sizeof(Struct));
    return value;
  }

  /// One field in host byte order, widened.
  template <typename T>
  std::uint64_t fix(T value) const {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);
    if (!swap_) return value;
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(value);
    if constexpr (sizeof(T) == 4) return __builtin_bswap32(value);
    if constexpr (sizeof(T) == 8) return __builtin_bswap64(value);
    return value;
  }

  std::uint32_t u32(std::string_view at) const {
    std::uint32_t value;
    std::memcpy(&value, at.data(), sizeof value);
    return static_cast<std::uint32_t>(fix(value));
  }

 private:
  static std::string rangeEnd(std::uint64_t offset, std::uint64_t length) {
    if (length > std::numeric_limits<std::uint64_t>::max() - offset) return "beyond 2^64";
    return str(offset + length);
  }

  std::string_view bytes_;
  bool swap_;
};

/// The NUL-terminated name at `offset` in the section-name table.
std::string_view sectionName(std::string_view names, std::uint64_t offset, std::uint64_t index) {
  const std::string section = "section " + str(index);
  if (offset >= names.size())
    throw ElfFormatError(section + "'s name offset " + str(offset) +
                         " is outside the section-name table (" + str(names.size()) + " bytes)");
  const std::size_t end = names.find('\0', offset);
  if (end == std::string_view::npos)
    throw ElfFormatError(section + "'s name runs past the end of the section-name table");
  return names.substr(offset, end - offset);
}

/// The tag in one Plexus note's descriptor: text up to its NUL.
std::string tagFromDescriptor(std::string_view descriptor, std::uint64_t fileOffset) {
  const std::string where = "the Plexus ABI note at byte " + str(fileOffset);
  const std::size_t end = descriptor.find('\0');
  if (end == std::string_view::npos) throw ElfFormatError(where + " has no NUL-terminated tag");
  if (end == 0) throw ElfFormatError(where + " has an empty tag");
  if (end > kMaxTagSize)
    throw ElfFormatError(where + " has a tag of " + str(end) + " bytes (at most " +
                         str(kMaxTagSize) + ")");
  for (std::size_t i = 0; i < end; ++i) {
    const unsigned char c = static_cast<unsigned char>(descriptor[i]);
    if (c < 0x20 || c > 0x7e)
      throw ElfFormatError(where + " has a tag that is not printable text (byte " + str(c) +
                           " at " + str(i) + ")");
  }
  return std::string(descriptor.substr(0, end));
}

/// Keeps the one tag found; two that differ make the file malformed (which
/// one the library was built with cannot be known).
void keepTag(std::optional<std::string>& kept, std::string found) {
  if (kept && *kept != found)
    throw ElfFormatError("the file has two different Plexus ABI tags, \"" + *kept + "\" and \"" +
                         found + "\"");
  kept = std::move(found);
}

/// Walks the notes of the .note.plexus section (`notes`, at `sectionOffset`
/// in the file) and returns the Plexus ABI tag among them, if any.
std::optional<std::string> tagInNotes(const FileBytes& file, std::string_view notes,
                                      std::uint64_t sectionOffset, std::uint64_t alignment) {
  std::optional<std::string> tag;
  std::uint64_t position = 0;
  while (position < notes.size()) {
    const std::uint64_t at = sectionOffset + position;
    const std::string note = "the note at byte " + str(at) + " of section " + std::string(kNoteSection);
    if (notes.size() - position < kNoteHeaderSize)
      throw ElfFormatError(note + " is cut short: " + str(notes.size() - position) +
                           " bytes left, a note header needs " + str(kNoteHeaderSize));
    const std::uint64_t nameSize = file.u32(notes.substr(position, 4));
    const std::uint64_t descSize = file.u32(notes.substr(position + 4, 4));
    const std::uint64_t type = file.u32(notes.substr(position + 8, 4));
    // All sums stay far below 2^64: each term is at most 2^32 or the size.
    const std::uint64_t nameStart = position + kNoteHeaderSize;
    const std::uint64_t descStart = alignUp(nameStart + nameSize, alignment);
    if (nameStart + nameSize > notes.size() || descStart + descSize > notes.size())
      throw ElfFormatError(note + " declares a " + str(nameSize) + "-byte name and a " +
                           str(descSize) + "-byte descriptor, past the section's end (" +
                           str(notes.size()) + " bytes)");
    if (notes.substr(nameStart, nameSize) == kNoteOwner && type == kNoteType)
      keepTag(tag, tagFromDescriptor(notes.substr(descStart, descSize), at));
    position = alignUp(descStart + descSize, alignment);
  }
  return tag;
}

template <typename Ehdr, typename Shdr>
std::optional<std::string> readTag(const FileBytes& file) {
  const auto header = file.load<Ehdr>(0, "the ELF header");
  const std::uint64_t tableOffset = file.fix(header.e_shoff);
  if (tableOffset == 0) return std::nullopt;  // no section header table, so no .note.plexus
  const std::uint64_t entrySize = file.fix(header.e_shentsize);
  if (entrySize < sizeof(Shdr))
    throw ElfFormatError("section headers are " + str(entrySize) + " bytes each, less than the " +
                         str(sizeof(Shdr)) + " of a section header of this ELF class");
  auto sectionHeader = [&](std::uint64_t index) {
    return file.load<Shdr>(tableOffset + index * entrySize, "section header " + str(index));
  };

  // Extended numbering (gABI): past 0xff00 sections, the count and the
  // name-table index live in section 0's sh_size and sh_link.
  std::uint64_t count = file.fix(header.e_shnum);
  std::uint64_t namesIndex = file.fix(header.e_shstrndx);
  if (count == 0 || namesIndex == SHN_XINDEX) {
    const Shdr first = sectionHeader(0);
    if (count == 0) count = file.fix(first.sh_size);
    if (namesIndex == SHN_XINDEX) namesIndex = file.fix(first.sh_link);
  }
  if (count == 0) return std::nullopt;
  if (count > (file.size() - std::min(tableOffset, file.size())) / entrySize)
    throw ElfFormatError("the section header table (" + str(count) + " entries of " +
                         str(entrySize) + " bytes at byte " + str(tableOffset) +
                         ") runs past the end of the file (" + str(file.size()) + " bytes)");
  if (namesIndex == SHN_UNDEF) return std::nullopt;  // unnamed sections: none is .note.plexus
  if (namesIndex >= count)
    throw ElfFormatError("the section-name table is section " + str(namesIndex) +
                         ", but there are only " + str(count) + " sections");

  const Shdr namesHeader = sectionHeader(namesIndex);
  if (file.fix(namesHeader.sh_type) == SHT_NOBITS)
    throw ElfFormatError("the section-name table (section " + str(namesIndex) + ") has no bytes in the file");
  const std::string_view names = file.range(file.fix(namesHeader.sh_offset),
                                            file.fix(namesHeader.sh_size), "the section-name table");

  std::optional<std::string> tag;
  for (std::uint64_t index = 0; index < count; ++index) {
    const Shdr section = sectionHeader(index);
    if (sectionName(names, file.fix(section.sh_name), index) != kNoteSection) continue;
    const std::string what = "section " + std::string(kNoteSection) + " (section " + str(index) + ")";
    if (file.fix(section.sh_type) != SHT_NOTE)
      throw ElfFormatError(what + " is of type " + str(file.fix(section.sh_type)) +
                           ", not SHT_NOTE (" + str(SHT_NOTE) + ")");
    const std::uint64_t offset = file.fix(section.sh_offset);
    const std::string_view notes = file.range(offset, file.fix(section.sh_size), what);
    // gABI: notes in 8-aligned sections are padded to 8; everything else to 4.
    const std::uint64_t alignment = file.fix(section.sh_addralign) == 8 ? 8 : 4;
    if (auto found = tagInNotes(file, notes, offset, alignment)) keepTag(tag, std::move(*found));
  }
  return tag;
}

}  // namespace

std::optional<std::string> readAbiTag(std::string_view fileBytes) {
  if (fileBytes.size() < SELFMAG || fileBytes.substr(0, SELFMAG) != std::string_view(ELFMAG, SELFMAG))
    throw ElfFormatError("it does not start with the ELF magic number (\\177ELF)");
  if (fileBytes.size() < EI_NIDENT)
    throw ElfFormatError("its ELF identification is cut short (" + str(fileBytes.size()) +
                         " bytes, " + str(EI_NIDENT) + " needed)");
  const unsigned char elfClass = static_cast<unsigned char>(fileBytes[EI_CLASS]);
  const unsigned char byteOrder = static_cast<unsigned char>(fileBytes[EI_DATA]);
  if (byteOrder != ELFDATA2LSB && byteOrder != ELFDATA2MSB)
    throw ElfFormatError("unknown ELF byte order " + str(byteOrder) + " (1 or 2 expected)");
  const FileBytes file(fileBytes, (byteOrder == ELFDATA2LSB) != hostIsLittleEndian());
  if (elfClass == ELFCLASS64) return readTag<Elf64_Ehdr, Elf64_Shdr>(file);
  if (elfClass == ELFCLASS32) return readTag<Elf32_Ehdr, Elf32_Shdr>(file);
  throw ElfFormatError("unknown ELF class " + str(elfClass) + " (1 for 32-bit or 2 for 64-bit expected)");
}

}  // namespace plexus::core
