// Loading integration YAML files into IntegrationSpecs, checking everything
// that can be checked before a run: the YAML itself, keys and value types,
// the trigger and its schedule, config variables and instances, each step's
// component, action and inputs (against the component catalog), and every
// `{{ path }}` reference.
//
// A file is all or nothing: with any error it yields no integration, and
// every error found in it is reported (not just the first), each one as
// "FILE:LINE:COL: message". Messages never quote values from the file: a
// config variable may hold a secret.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "integration/model.hpp"
#include "loader/component_catalog.hpp"

namespace plexus::core {

/// One problem in one file.
struct IntegrationError {
  SourceMark mark;  ///< line/column 0 when the problem is the whole file (unreadable).
  std::string message;
  /// Indented lines that show where (an expression with a caret under the
  /// problem), or "". Not part of format(): for a person at a terminal.
  std::string excerpt = {};

  /// "FILE:LINE:COL: message" (lines and columns from 1), or "FILE: message"
  /// when there is no line.
  std::string format() const;
  /// format(), then the excerpt on the lines below it, if there is one.
  std::string formatWithExcerpt() const { return excerpt.empty() ? format() : format() + "\n" + excerpt; }
};

struct IntegrationLoadResult {
  std::optional<IntegrationSpec> integration;  ///< Set only when errors is empty.
  std::vector<IntegrationError> errors;        ///< Sorted by line, then column.
};

/// Parses and checks one integration. `fileName` is used in marks and
/// messages only. Never throws for bad input.
IntegrationLoadResult parseIntegration(const std::string& yamlText, const std::string& fileName,
                                       const ComponentCatalog& catalog);

/// Reads `path` and parses it; an unreadable file is one error.
IntegrationLoadResult loadIntegrationFile(const std::string& path, const ComponentCatalog& catalog);

struct DirectoryLoadResult {
  std::vector<IntegrationSpec> integrations;  ///< The files that loaded, in file-name order.
  std::vector<IntegrationError> errors;       ///< Every error of every refused file.
};

/// Loads every `*.yaml` in `directory` (not recursive; hidden files skipped),
/// sorted by file name. A file with errors is refused and the others still
/// load. Two files with the same integration key: the later file is refused
/// (refuseDuplicateKeys). A file over kMaxIntegrationFileBytes, or one
/// whose aliases or nesting go past the bounds of yaml_limits.hpp, is
/// refused with the position where the bound was crossed.
/// A missing or unreadable directory is one error naming it.
DirectoryLoadResult loadIntegrationDirectory(const std::string& directory,
                                             const ComponentCatalog& catalog);

/// Refuses (removes from `integrations`, with an error at its `key:` or
/// `name:`) each integration whose key an earlier one in the list uses: the
/// server serves the first. A second copy of the same file is dropped
/// without an error. Used by the directory loader and `plexus
/// validate`, so both word and place the error the same way.
void refuseDuplicateKeys(std::vector<IntegrationSpec>& integrations, std::vector<IntegrationError>& errors);

/// "Render Status" -> "render-status": lowercase ASCII letters and digits,
/// every other run of characters one dash, none at either end. "" when the
/// name has no letters or digits.
std::string deriveIntegrationKey(const std::string& name);

}  // namespace plexus::core
