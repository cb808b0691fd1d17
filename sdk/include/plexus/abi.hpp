// The ABI tag and the one entry-point macro every component library uses.
//
// A component library and the runtime exchange C++ objects (std::string,
// std::function, plexus::Json), so both must agree on the SDK's layout, the
// C++ ABI, the standard library's ABI and the JSON library's version. The
// library exports its tag as a plain C string; the runtime reads and compares
// it before calling anything else, and refuses a mismatch naming both tags.
#pragma once

#include "plexus/component.hpp"
#include "plexus/export.hpp"

/// Bumped whenever a public SDK type changes layout or meaning.
#define PLEXUS_SDK_ABI_VERSION 1

#define PLEXUS_STRINGIFY_IMPL(x) #x
#define PLEXUS_STRINGIFY(x) PLEXUS_STRINGIFY_IMPL(x)

// The C++ ABI: gcc and clang share the Itanium ABI, MSVC has its own.
#if defined(_MSC_VER)
#define PLEXUS_CXX_ABI "msvc"
#else
#define PLEXUS_CXX_ABI "itanium"
#endif

// The standard library and its string/list ABI flavour.
#if defined(_LIBCPP_VERSION)
#define PLEXUS_STDLIB_ABI "libc++-" PLEXUS_STRINGIFY(_LIBCPP_ABI_VERSION)
#elif defined(__GLIBCXX__)
#define PLEXUS_STDLIB_ABI "libstdc++-cxx11abi" PLEXUS_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define PLEXUS_STDLIB_ABI "unknown-stdlib"
#endif

/// The full tag, e.g.
/// "plexus-sdk-abi=1;cxx=itanium;stdlib=libstdc++-cxx11abi1;nlohmann-json=3.11.2".
#define PLEXUS_ABI_TAG                                                            \
  "plexus-sdk-abi=" PLEXUS_STRINGIFY(PLEXUS_SDK_ABI_VERSION) ";cxx=" PLEXUS_CXX_ABI \
  ";stdlib=" PLEXUS_STDLIB_ABI ";nlohmann-json=" PLEXUS_STRINGIFY(                \
      NLOHMANN_JSON_VERSION_MAJOR) "." PLEXUS_STRINGIFY(NLOHMANN_JSON_VERSION_MINOR) "." \
      PLEXUS_STRINGIFY(NLOHMANN_JSON_VERSION_PATCH)

/// Names of the two symbols every component library exports.
#define PLEXUS_ABI_TAG_SYMBOL "plexus_abi_tag"
#define PLEXUS_REGISTER_SYMBOL "plexus_register_components"

extern "C" {
/// Signature of the exported ABI-tag function.
typedef const char* (*plexus_abi_tag_fn)();
/// Signature of the exported registration function.
typedef void (*plexus_register_components_fn)(plexus::ComponentRegistrar*);
}

/// Defines a component library's entry points. Use exactly once per library:
///
///   PLEXUS_COMPONENT(registrar) {
///     registrar.add(plexus::ComponentSpec{"greeter", "1.0.0", "Says hello", {...}});
///   }
///
/// The body runs once when the runtime loads the library. Exceptions it
/// throws are caught by the runtime, which refuses the library with the
/// message.
#define PLEXUS_COMPONENT(registrar)                                                        \
  static void plexus_define_components_(::plexus::ComponentRegistrar& registrar);          \
  extern "C" PLEXUS_EXPORT const char* plexus_abi_tag() { return PLEXUS_ABI_TAG; }         \
  extern "C" PLEXUS_EXPORT void plexus_register_components(::plexus::ComponentRegistrar* r) { \
    plexus_define_components_(*r);                                                         \
  }                                                                                        \
  static void plexus_define_components_(::plexus::ComponentRegistrar& registrar)
