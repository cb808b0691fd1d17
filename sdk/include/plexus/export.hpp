// Symbol visibility for component libraries.
//
// Components are built with -fvisibility=hidden (plexus_add_component sets
// it), so only what is marked PLEXUS_EXPORT is seen by the runtime: the two
// entry points that PLEXUS_COMPONENT generates.
#pragma once

#if defined(_WIN32)
#define PLEXUS_EXPORT __declspec(dllexport)
#else
#define PLEXUS_EXPORT __attribute__((visibility("default")))
#endif
