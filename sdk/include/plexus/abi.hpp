// The ABI tag and the one entry-point macro every component library uses.
//
// A component library and the runtime exchange C++ objects (std::string,
// std::vector, std::function, plexus::Json), so both must have been compiled
// with the same layout for every one of them. PLEXUS_ABI_TAG names each
// build setting that changes such a layout or meaning, as "field=value" pairs
// separated by ';'.
//
// PLEXUS_COMPONENT writes the tag into the library file as an ELF note (a
// section named .note.plexus, owner "Plexus"). The runtime reads that note
// from the file *before* it opens the library with dlopen, so a library built
// with other settings is refused without running any of its code, static
// initialisers included, naming the fields that differ. See
// docs/components.md, "Loading and the ABI guard"; to see a library's tag:
//
//   readelf -p .note.plexus greeter.so
#pragma once

#include <cstddef>
#include <cstdint>

#include "plexus/component.hpp"
#include "plexus/export.hpp"

/// Bumped whenever a public SDK type changes layout or meaning, or the way
/// the tag is carried changes. 2: the tag moved into the .note.plexus ELF
/// note and gained the build-setting fields below. 3: Result may hold a
/// DelayedResult (Result::afterDelay). 4: Result may hold a PendingHttp
/// (Result::afterHttp). 5: ComponentSpec has triggers (TriggerSpec, plexus/trigger.hpp).
#define PLEXUS_SDK_ABI_VERSION 5

#define PLEXUS_STRINGIFY_IMPL(x) #x
#define PLEXUS_STRINGIFY(x) PLEXUS_STRINGIFY_IMPL(x)

// The C++ ABI: gcc and clang share the Itanium ABI, MSVC has its own.
#if defined(_MSC_VER)
#define PLEXUS_ABI_CXX "msvc"
#else
#define PLEXUS_ABI_CXX "itanium"
#endif

// The standard library, and the setting that picks between its layouts:
// libstdc++'s dual ABI (_GLIBCXX_USE_CXX11_ABI: the pre-C++11
// copy-on-write std::string is another type), libc++'s ABI version.
#if defined(_LIBCPP_VERSION)
#define PLEXUS_ABI_STDLIB "stdlib=libc++;libcxx-abi=" PLEXUS_STRINGIFY(_LIBCPP_ABI_VERSION)
#elif defined(__GLIBCXX__)
#define PLEXUS_ABI_STDLIB "stdlib=libstdc++;cxx11-abi=" PLEXUS_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define PLEXUS_ABI_STDLIB "stdlib=unknown"
#endif

// libstdc++'s debug mode replaces std::vector, std::map and the other
// containers with checked ones that carry extra members (a std::vector grows
// from 24 to 56 bytes), so every SDK type holding one changes layout.
// _GLIBCXX_ASSERTIONS is deliberately not in the tag: it only turns on
// precondition checks inside the same types (operator[] bounds, front() on
// an empty vector); no layout depends on it (checked with sizeof of every SDK
// type in libstdc++ 12), so a library built with it mixes safely with one
// built without.
#if defined(_GLIBCXX_DEBUG)
#define PLEXUS_ABI_GLIBCXX_DEBUG "1"
#else
#define PLEXUS_ABI_GLIBCXX_DEBUG "0"
#endif

// nlohmann/json: plexus::Json is a basic_json instance, so its layout and
// behaviour cross the boundary in every input and result. Its ABI-relevant
// settings are the two behind NLOHMANN_JSON_ABI_TAGS (3.11's abi_macros.hpp),
// read here through the tag pieces that survive json.hpp (it #undefs
// JSON_USE_LEGACY_DISCARDED_VALUE_COMPARISON itself at its end):
//   JSON_DIAGNOSTICS=1 adds a parent pointer to every value (16 -> 24 bytes);
//   JSON_USE_LEGACY_DISCARDED_VALUE_COMPARISON=1 changes what == means for
//     discarded values (behaviour, not layout, but both sides must agree).
// Of the version only major.minor: nlohmann puts the patch in its inline
// namespace too, but that only keeps two copies' symbols apart, and none of
// its symbols cross this boundary (components export only extern "C"
// functions, hidden visibility, RTLD_LOCAL). Patch releases are bug fixes
// that keep basic_json's members, so a component built against 3.11.3 must
// load into a Plexus built against 3.11.2. A minor release may add members,
// so it counts.
#if !defined(NLOHMANN_JSON_VERSION_MAJOR) || !defined(NLOHMANN_JSON_ABI_TAG_DIAGNOSTICS) || \
    !defined(NLOHMANN_JSON_ABI_TAG_LEGACY_DISCARDED_VALUE_COMPARISON)
#error "plexus/abi.hpp needs nlohmann/json 3.11 or later (it includes it through plexus/value.hpp)"
#endif
#define PLEXUS_CONCAT3_IMPL(a, b, c) a##b##c
#define PLEXUS_CONCAT3(a, b, c) PLEXUS_CONCAT3_IMPL(a, b, c)
// Each tag piece is empty or one token (_diag, _ldvcmp); pasted between two
// tokens that are not macros themselves, it names one of these.
#define PLEXUS_JSON_DIAG_IS_END "0"
#define PLEXUS_JSON_DIAG_IS_diag_END "1"
#define PLEXUS_JSON_LDVCMP_IS_END "0"
#define PLEXUS_JSON_LDVCMP_IS_ldvcmp_END "1"
#define PLEXUS_ABI_JSON                                                                          \
  "nlohmann-json=" PLEXUS_STRINGIFY(NLOHMANN_JSON_VERSION_MAJOR) "." PLEXUS_STRINGIFY(           \
      NLOHMANN_JSON_VERSION_MINOR) ";json-diagnostics=" PLEXUS_CONCAT3(PLEXUS_JSON_DIAG_IS,      \
      NLOHMANN_JSON_ABI_TAG_DIAGNOSTICS, _END) ";json-legacy-discarded-compare=" PLEXUS_CONCAT3( \
      PLEXUS_JSON_LDVCMP_IS, NLOHMANN_JSON_ABI_TAG_LEGACY_DISCARDED_VALUE_COMPARISON, _END)

// The target's data model. dlopen refuses a library of another ELF class or
// byte order anyway, but the tag is read before dlopen, so it says so itself.
// _FILE_OFFSET_BITS and _TIME_BITS are not in the tag: no SDK type holds an
// off_t or time_t (deadlines are std::chrono::steady_clock time points, 64-bit
// on every target); add them here if one ever does.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define PLEXUS_ABI_BYTE_ORDER "big"
#else
#define PLEXUS_ABI_BYTE_ORDER "little"
#endif
#define PLEXUS_ABI_TARGET \
  "pointer-size=" PLEXUS_STRINGIFY(__SIZEOF_POINTER__) ";byte-order=" PLEXUS_ABI_BYTE_ORDER

/// The full tag, e.g.
/// "plexus-sdk-abi=3;cxx=itanium;stdlib=libstdc++;cxx11-abi=1;glibcxx-debug=0;
///  nlohmann-json=3.11;json-diagnostics=0;json-legacy-discarded-compare=0;
///  pointer-size=8;byte-order=little" (one line). The runtime compares it
/// field by field and names the fields that differ.
#define PLEXUS_ABI_TAG                                                                  \
  "plexus-sdk-abi=" PLEXUS_STRINGIFY(PLEXUS_SDK_ABI_VERSION) ";cxx=" PLEXUS_ABI_CXX ";" \
      PLEXUS_ABI_STDLIB ";glibcxx-debug=" PLEXUS_ABI_GLIBCXX_DEBUG ";" PLEXUS_ABI_JSON  \
      ";" PLEXUS_ABI_TARGET

/// Where the tag lives in a library file: an ELF note in this section, with
/// this owner name and note type, whose descriptor is the tag (NUL-terminated).
#define PLEXUS_ABI_NOTE_SECTION ".note.plexus"
#define PLEXUS_ABI_NOTE_OWNER "Plexus"
#define PLEXUS_ABI_NOTE_TYPE 0x504c5801

/// Names of the two symbols every component library exports. The runtime
/// only calls plexus_register_components; plexus_abi_tag returns the same tag
/// as the note, for debuggers and a library's own tests.
#define PLEXUS_ABI_TAG_SYMBOL "plexus_abi_tag"
#define PLEXUS_REGISTER_SYMBOL "plexus_register_components"

extern "C" {
/// Signature of the exported ABI-tag function.
typedef const char* (*plexus_abi_tag_fn)();
/// Signature of the exported registration function.
typedef void (*plexus_register_components_fn)(plexus::ComponentRegistrar*);
}

namespace plexus::abi_detail {

/// The bytes of one ELF note (namesz, descsz, type, name, desc; name and desc
/// padded to 4 bytes), for a descriptor of `DescSize` bytes. The same layout
/// in ELF32 and ELF64 on Linux.
template <std::size_t DescSize>
struct ElfNote {
  std::uint32_t nameSize;
  std::uint32_t descSize;
  std::uint32_t type;
  char name[(sizeof(PLEXUS_ABI_NOTE_OWNER) + 3) / 4 * 4];
  char desc[(DescSize + 3) / 4 * 4];
};

}  // namespace plexus::abi_detail

#if defined(__has_attribute)
#if __has_attribute(retain)
// Keeps the note through the linker's --gc-sections too (nothing refers to it).
#define PLEXUS_ABI_RETAIN __attribute__((retain))
#endif
#endif
#ifndef PLEXUS_ABI_RETAIN
#define PLEXUS_ABI_RETAIN
#endif

/// Writes `tag` (a string literal) into the library as its .note.plexus ELF
/// note. PLEXUS_COMPONENT uses it with PLEXUS_ABI_TAG; nothing else should,
/// except tests that need a library with a foreign tag.
#define PLEXUS_ABI_NOTE(tag)                                                                 \
  __attribute__((section(PLEXUS_ABI_NOTE_SECTION), used, aligned(4))) PLEXUS_ABI_RETAIN     \
  static const ::plexus::abi_detail::ElfNote<sizeof(tag)> plexus_abi_note_ = {             \
      sizeof(PLEXUS_ABI_NOTE_OWNER), sizeof(tag), PLEXUS_ABI_NOTE_TYPE, PLEXUS_ABI_NOTE_OWNER, tag}

/// Defines a component library's entry points and its ABI note. Use exactly
/// once per library:
///
///   PLEXUS_COMPONENT(registrar) {
///     registrar.add(plexus::ComponentSpec{"greeter", "1.0.0", "Says hello", {...}});
///   }
///
/// The body runs once when the runtime loads the library, after the runtime
/// has checked the library's ABI note. Exceptions it throws are caught by the
/// runtime, which refuses the library with the message.
#define PLEXUS_COMPONENT(registrar)                                                        \
  PLEXUS_ABI_NOTE(PLEXUS_ABI_TAG);                                                         \
  static void plexus_define_components_(::plexus::ComponentRegistrar& registrar);          \
  extern "C" PLEXUS_EXPORT const char* plexus_abi_tag() { return PLEXUS_ABI_TAG; }         \
  extern "C" PLEXUS_EXPORT void plexus_register_components(::plexus::ComponentRegistrar* r) { \
    plexus_define_components_(*r);                                                         \
  }                                                                                        \
  static void plexus_define_components_(::plexus::ComponentRegistrar& registrar)
