// The Plexus SDK umbrella header: a component includes this and nothing else.
//
//   #include <plexus/sdk.hpp>
//
//   PLEXUS_COMPONENT(registrar) {
//     plexus::ActionSpec hello{"hello", "Hello", "Greets someone",
//                              {{"name", plexus::InputType::String, true}},
//                              [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
//                                return plexus::Json{{"greeting", "Hello, " + in.string("name")}};
//                              }};
//     registrar.add({"greeter", "1.0.0", "Greets people", {hello}});
//   }
#pragma once

#include "plexus/abi.hpp"
#include "plexus/component.hpp"
#include "plexus/context.hpp"
#include "plexus/export.hpp"
#include "plexus/http.hpp"
#include "plexus/inputs.hpp"
#include "plexus/json_parse.hpp"
#include "plexus/result.hpp"
#include "plexus/trigger.hpp"
#include "plexus/value.hpp"
