// Reading a component library's ABI tag from the bytes of its file, before
// anything opens it with dlopen (which would run its static initialisers).
//
// The tag is the descriptor of an ELF note (owner "Plexus", type
// PLEXUS_ABI_NOTE_TYPE) in the section named .note.plexus, which the SDK's
// PLEXUS_COMPONENT macro emits (sdk/include/plexus/abi.hpp). The reader
// walks the ELF header, the section header table and the section-name string
// table itself, checking every offset and size against the bytes it is given:
// ELF32 and ELF64, either byte order. It is a pure function over bytes so that
// it can be fuzzed (any input either returns or throws ElfFormatError).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace plexus::core {

/// The bytes are not a well-formed ELF file, as far as finding the tag
/// needs: no ELF magic, an unknown class or byte order, a header, table,
/// section or note that reaches past the end of the bytes, a malformed
/// Plexus note. The message says what and where (byte offsets), in one line.
class ElfFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The ABI tag in the file's .note.plexus section, or std::nullopt when the
/// file is a well-formed ELF file without one (not built with
/// PLEXUS_COMPONENT, or with SDK ABI 1, which had no note). The tag is
/// returned without its terminating NUL and is printable ASCII.
///
/// Throws ElfFormatError (and nothing else, bar std::bad_alloc) when
/// `fileBytes` is malformed. Reads only inside `fileBytes`; never allocates
/// more than the tag's size.
std::optional<std::string> readAbiTag(std::string_view fileBytes);

}  // namespace plexus::core
