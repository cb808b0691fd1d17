// Loading component libraries (*.so) from the plugins folder.
//
// Each library is checked in this order, and refused at the first failure:
//   1. it is copied into a private place (loader/private_copy.hpp), so that
//      replacing the original in place later cannot change the running code;
//   2. the copy is mapped read-only and its ABI tag is read from the file's
//      .note.plexus ELF note (loader/elf_note_reader.hpp) and compared, field
//      by field, with this runtime's PLEXUS_ABI_TAG. This happens before
//      dlopen, so a library built with other settings never runs any of its
//      code, not even its static initialisers;
//   3. the copy is opened with Boost.DLL (a loadable shared library);
//   4. it exports plexus_register_components, which registers well-formed
//      components whose keys no other library has taken.
// A library failing any check is refused as a whole (it registers nothing and
// is unloaded); the refusal is one line, "FILE: reason", logged at warning
// level on the Poco logger "plexus.loader", and loading goes on with the next.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loader/component_catalog.hpp"

namespace plexus::core {

/// Why one library file was not loaded.
struct LoadRefusal {
  std::string file;    ///< The library's path, as found in the plugins folder.
  std::string reason;  ///< One line, e.g. "not a Plexus component: it has no ABI tag (...)".

  /// "FILE: reason", one line.
  std::string message() const;
};

/// The components loaded from a plugins folder, and the files refused.
///
/// Immutable after construction, so any number of threads may read it
/// without locks. Each LoadedComponent keeps its library loaded (keepAlive),
/// so a component (or anything holding its LoadedComponentPtr) may outlive
/// the registry safely.
class ComponentRegistry : public KeyedCatalog {
 public:
  /// `components` must have distinct keys (loadComponents guarantees it).
  ComponentRegistry(std::vector<LoadedComponentPtr> components, std::vector<LoadRefusal> refusals);

  /// The refused files, in the order they were tried (sorted by file name).
  const std::vector<LoadRefusal>& refusals() const { return refusals_; }

 private:
  std::vector<LoadRefusal> refusals_;
};

/// How loadComponents makes its private copies (loader/private_copy.hpp).
struct LoadOptions {
  /// The folder in which the copies' own folder is made; "" = $TMPDIR, else /tmp.
  std::string copyParent;
  /// memfd copies even where file copies would work (chosen anyway when
  /// copyParent is mounted noexec or not writable).
  bool copiesInMemory = false;
};

/// Loads every *.so in `directory` (sorted by file name). Never throws for a
/// bad file: each refusal is recorded in the registry, logged at warning level
/// (Poco::Logger "plexus.loader"), and loading goes on. Throws
/// std::runtime_error only when `directory` does not exist or cannot be read;
/// the message names it and says to pass --plugins DIR.
///
/// Not thread-safe with itself: loading runs libraries' registration code,
/// which the SDK does not require to be reentrant. Call it from one thread.
std::unique_ptr<ComponentRegistry> loadComponents(const std::string& directory,
                                                  const LoadOptions& options = {});

/// The default plugins folder: `../plugins` beside the running executable
/// (read from /proc/self/exe), e.g. build/plugins for build/bin/plexus.
std::string defaultPluginsDirectory();

}  // namespace plexus::core
