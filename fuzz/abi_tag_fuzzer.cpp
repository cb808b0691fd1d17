// readAbiTag: the loader reads a component library's ABI tag from the
// file's bytes before running any of its code, so every byte of a file
// in the plugins folder reaches this parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "loader/elf_note_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)plexus::core::readAbiTag(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const plexus::core::ElfFormatError&) {
    // Documented: a malformed file is refused with the reason.
  }
  return 0;
}
