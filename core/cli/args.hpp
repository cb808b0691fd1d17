// Command-line arguments of a CLI verb: `--name value`, `--name=value`,
// boolean `--flag`, repeated options and positionals.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace plexus::core::cli {

/// Thrown for unknown or malformed options; main prints it and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  /// `valued` names options that take a value; `flags` names boolean ones.
  /// Anything else starting with "--" is a UsageError naming it.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
       const std::set<std::string>& flags = {});

  /// The last value given for --name.
  std::optional<std::string> value(const std::string& name) const;
  std::string value(const std::string& name, const std::string& fallback) const;
  /// Every value given for a repeated --name, in order.
  std::vector<std::string> values(const std::string& name) const;
  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positionals_;
};

}  // namespace plexus::core::cli
