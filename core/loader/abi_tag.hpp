// Comparing a library's ABI tag with this runtime's, field by field, so that
// a refusal says which build setting differs instead of showing two long
// strings. Tags are "field=value" pairs separated by ';' (PLEXUS_ABI_TAG in
// sdk/include/plexus/abi.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace plexus::core {

/// std::nullopt when `found` equals `expected`; else what differs, one line:
/// each differing field as "json-diagnostics=1 where this Plexus has
/// json-diagnostics=0", fields only one side has as "no X" / "an unknown X",
/// joined with ", ". A tag that is not field=value pairs is described as a
/// whole.
std::optional<std::string> describeAbiMismatch(std::string_view found, std::string_view expected);

}  // namespace plexus::core
