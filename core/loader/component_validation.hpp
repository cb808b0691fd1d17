// Checks that a ComponentSpec is well formed before the runtime accepts it.
// Shared by the loader (specs from libraries) and StaticCatalog (specs built
// into a test binary), so both refuse the same mistakes with the same words.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <plexus/component.hpp>

namespace plexus::core {

/// The first problem with `spec`, as one line naming the component, action
/// and input concerned, or std::nullopt when it is well formed. Checked:
/// component and action keys are non-empty and use only letters, digits, '-'
/// and '_' (a '.' would make "component.action" ambiguous); every action has
/// a perform function; action keys and input keys are unique and non-empty;
/// the same for triggers;
/// an input's default fits its type.
std::optional<std::string> findSpecProblem(const plexus::ComponentSpec& spec);

}  // namespace plexus::core
