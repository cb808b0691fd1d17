#include "loader/component_loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include <Poco/Logger.h>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <boost/filesystem.hpp>
#include <plexus/abi.hpp>

#include "loader/abi_tag.hpp"
#include "loader/component_validation.hpp"
#include "loader/elf_note_reader.hpp"
#include "loader/private_copy.hpp"
#include "util/mapped_file.hpp"

namespace plexus::core {
namespace {

namespace dll = boost::dll;
namespace fs = boost::filesystem;

using ComponentMap = std::map<std::string, LoadedComponentPtr>;

Poco::Logger& logger() { return Poco::Logger::get("plexus.loader"); }

/// Why one library is refused. Thrown and caught only inside this file, and
/// always built by the host from a copied message: an exception object made
/// by a library must not outlive that library (Boost.DLL "Missuses").
class Refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Refusals are printed one per line, so a reason never spans lines (an
/// exception message from a library might).
std::string oneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

std::string inQuotes(const std::string& text) { return "\"" + text + "\""; }

std::runtime_error directoryError(const fs::path& directory, const std::string& problem) {
  return std::runtime_error("plugins directory " + directory.string() + " " + problem +
                            "; pass --plugins DIR (or set PLEXUS_PLUGINS) naming the folder that "
                            "holds the component .so files");
}

/// The *.so regular files (or links to them) in `directory`, sorted by file name
/// so that which of two libraries with the same component key wins is stable.
std::vector<fs::path> componentFiles(const fs::path& directory) {
  boost::system::error_code error;
  if (!fs::exists(directory, error)) throw directoryError(directory, "does not exist");
  if (!fs::is_directory(directory, error)) throw directoryError(directory, "is not a directory");
  std::vector<fs::path> files;
  fs::directory_iterator it(directory, error), end;
  for (; !error && it != end; it.increment(error)) {
    const fs::path& path = it->path();
    boost::system::error_code statusError;  // an unreadable entry is skipped, not fatal
    if (path.extension() == ".so" && fs::is_regular_file(path, statusError)) files.push_back(path);
  }
  if (error) throw directoryError(directory, "cannot be read (" + error.message() + ")");
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

/// The dynamic loader's own explanation of the last failed dlopen, without the
/// leading "PATH: " it repeats (the refusal starts with the file already, and
/// PATH is the private copy's, which would only confuse).
std::string loaderError(const std::string& loaded, const boost::system::error_code& error) {
  // Boost.DLL's error_code overload leaves dlerror() unread after a failed
  // dlopen, and its text ("undefined symbol: ...") is what a user can act on.
  const char* text = dlerror();
  if (!text) return error.message();
  std::string message = text;
  const std::string prefix = loaded + ": ";
  if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  return message;
}

/// The ABI tag of the copy, read from its bytes: nothing of the library has
/// run yet, and with another ABI even running its static initialisers could
/// crash the server.
void checkAbiTag(const LibraryCopy& copy) {
  std::optional<std::string> tag;
  try {
    const plexus::Binary bytes = mapFile(copy.fd(), copy.path(), "application/octet-stream");
    tag = readAbiTag(bytes.view());
  } catch (const ElfFormatError& error) {
    throw Refused("not a shared library: " + std::string(error.what()));
  } catch (const std::runtime_error& error) {  // from mapFile
    throw Refused("cannot read its private copy: " + std::string(error.what()));
  }
  if (!tag)
    throw Refused("not a Plexus component: it has no ABI tag (no " PLEXUS_ABI_NOTE_SECTION
                  " ELF note; libraries built with Plexus SDK ABI 1 have none either); build it "
                  "with PLEXUS_COMPONENT from this Plexus's SDK");
  if (auto difference = describeAbiMismatch(*tag, PLEXUS_ABI_TAG))
    throw Refused("built for another ABI: " + *difference + "; its tag is " + inQuotes(*tag) +
                  ", this Plexus expects " + inQuotes(PLEXUS_ABI_TAG) +
                  "; rebuild it with this Plexus's SDK and the same build settings");
}

/// A loaded library and its private copy, released in that order (the copy's
/// file must outlive the mapping that dlopen made of it).
struct LoadedLibrary {
  std::unique_ptr<LibraryCopy> copy;
  dll::shared_library library;

  ~LoadedLibrary() { library.unload(); }
};

std::shared_ptr<LoadedLibrary> openLibrary(std::unique_ptr<LibraryCopy> copy) {
  auto loaded = std::make_shared<LoadedLibrary>();
  loaded->copy = std::move(copy);
  boost::system::error_code error;
  // rtld_now: an unresolved symbol fails here, not in the middle of a step.
  // rtld_local: one library's symbols never satisfy another's.
  loaded->library.load(loaded->copy->path(), dll::load_mode::rtld_now | dll::load_mode::rtld_local,
                       error);
  if (error || !loaded->library.is_loaded())
    throw Refused("not a shared library: " + loaderError(loaded->copy->path(), error));
  return loaded;
}

/// The registrar handed to one library's plexus_register_components. It
/// checks each spec as it arrives and remembers the first problem, so a
/// library that catches the std::invalid_argument thrown by add() is still
/// refused. Lives only during that call, on the loading thread.
class LibraryRegistrar final : public plexus::ComponentRegistrar {
 public:
  explicit LibraryRegistrar(const ComponentMap& taken) : taken_(taken) {}

  void add(plexus::ComponentSpec component) override {
    if (!problem_) problem_ = findProblem(component);
    if (problem_) throw std::invalid_argument(*problem_);
    keys_.insert(component.key);
    specs_.push_back(std::move(component));
  }

  const std::optional<std::string>& problem() const { return problem_; }
  std::vector<plexus::ComponentSpec>& specs() { return specs_; }

 private:
  std::optional<std::string> findProblem(const plexus::ComponentSpec& component) const {
    if (auto problem = findSpecProblem(component)) return problem;
    if (keys_.count(component.key))
      return "component " + inQuotes(component.key) + " is registered twice by this library";
    if (auto it = taken_.find(component.key); it != taken_.end())
      return "component " + inQuotes(component.key) + " is already registered by " + it->second->file;
    return std::nullopt;
  }

  const ComponentMap& taken_;
  std::set<std::string> keys_;
  std::vector<plexus::ComponentSpec> specs_;
  std::optional<std::string> problem_;
};

/// Runs the library's registration. Throws Refused, never anything the
/// library threw: its message is copied while the library is still loaded.
void registerComponents(const dll::shared_library& library, LibraryRegistrar& registrar) {
  if (!library.has(PLEXUS_REGISTER_SYMBOL))
    throw Refused("not a Plexus component: no " PLEXUS_REGISTER_SYMBOL " entry point");
  auto registerAll = library.get<void(plexus::ComponentRegistrar*)>(PLEXUS_REGISTER_SYMBOL);
  try {
    registerAll(&registrar);
  } catch (const std::exception& error) {
    // The registrar's own refusal (duplicate key, malformed spec) is clearer
    // than however the library rethrew it.
    if (registrar.problem()) throw Refused(*registrar.problem());
    throw Refused(PLEXUS_REGISTER_SYMBOL " threw: " + std::string(error.what()));
  } catch (...) {
    // Not hiding a cause: nothing more than this can be known about it, and
    // loading must go on with the other libraries.
    if (registrar.problem()) throw Refused(*registrar.problem());
    throw Refused(PLEXUS_REGISTER_SYMBOL " threw something that is not a std::exception");
  }
  if (registrar.problem()) throw Refused(*registrar.problem());
  if (registrar.specs().empty()) throw Refused(PLEXUS_REGISTER_SYMBOL " registered no components");
}

/// Loads one library, all or nothing: its components, or Refused.
std::vector<LoadedComponentPtr> loadLibrary(const fs::path& file, const ComponentMap& taken,
                                            LibraryCopier& copier) {
  std::unique_ptr<LibraryCopy> copy;
  try {
    copy = copier.copy(file.string());
  } catch (const std::runtime_error& error) {
    throw Refused(error.what());
  }
  checkAbiTag(*copy);
  // Declared before the registrar so that specs holding the library's code
  // (std::function perform) are destroyed before a refused library unloads.
  std::shared_ptr<LoadedLibrary> library = openLibrary(std::move(copy));
  LibraryRegistrar registrar(taken);
  registerComponents(library->library, registrar);

  std::vector<LoadedComponentPtr> components;
  for (auto& spec : registrar.specs()) {
    auto component = std::make_shared<LoadedComponent>();
    component->keepAlive = library;
    component->spec = std::move(spec);
    component->file = file.string();
    component->loadedFrom = library->copy->path();
    components.push_back(std::move(component));
  }
  return components;
}

std::string describeLoaded(const std::vector<LoadedComponentPtr>& components) {
  std::string keys;
  for (const auto& component : components)
    keys += (keys.empty() ? "" : ", ") + component->spec.key + " " + component->spec.version;
  return keys;
}

}  // namespace

std::string LoadRefusal::message() const { return file + ": " + reason; }

ComponentRegistry::ComponentRegistry(std::vector<LoadedComponentPtr> components,
                                     std::vector<LoadRefusal> refusals)
    : refusals_(std::move(refusals)) {
  for (auto& component : components) add(std::move(component), "component registry");
}

std::unique_ptr<ComponentRegistry> loadComponents(const std::string& directory,
                                                  const LoadOptions& options) {
  ComponentMap loaded;
  std::vector<LoadRefusal> refusals;
  LibraryCopier copier(options.copyParent, options.copiesInMemory);
  for (const fs::path& file : componentFiles(directory)) {
    try {
      auto components = loadLibrary(file, loaded, copier);
      logger().information(file.string() + ": loaded " + describeLoaded(components) +
                           " (from its private copy " + components.front()->loadedFrom + ")");
      for (auto& component : components) loaded.emplace(component->spec.key, std::move(component));
    } catch (const Refused& refused) {
      refusals.push_back({file.string(), oneLine(refused.what())});
      logger().warning(refusals.back().message());
    }
  }
  std::vector<LoadedComponentPtr> components;
  for (auto& entry : loaded) components.push_back(std::move(entry.second));
  return std::make_unique<ComponentRegistry>(std::move(components), std::move(refusals));
}

std::string defaultPluginsDirectory() {
  // program_location() reads /proc/self/exe: the real file, links resolved.
  const fs::path executable = dll::program_location();
  return (executable.parent_path().parent_path() / "plugins").string();
}

}  // namespace plexus::core
