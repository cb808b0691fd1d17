// A fresh directory under the system temp folder, removed with its contents
// when the test ends.
#pragma once

#include <filesystem>
#include <string>

#include "util/ids.hpp"

namespace plexus::core::testing {

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("plexus-store-test-" + randomId(8))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;  // best effort: a leftover temp dir fails nothing
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Every regular file under `directory`, recursively.
inline std::size_t countFiles(const std::filesystem::path& directory) {
  std::size_t count = 0;
  std::error_code error;
  for (std::filesystem::recursive_directory_iterator it(directory, error), end; it != end; ++it) {
    if (it->is_regular_file()) ++count;
  }
  return count;
}

}  // namespace plexus::core::testing
