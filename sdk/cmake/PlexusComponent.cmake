# plexus_add_component(NAME SOURCES src... [LIBRARIES lib...] [TESTS test_src...]
#                      [OUTPUT_DIRECTORY dir])
#
# Builds NAME.so, a Plexus component library, with hidden visibility so only
# the PLEXUS_COMPONENT entry points are exported. The built-in plugins use
# this same function.
#
# Only the two entry points are exported (plexus_exports.map). The ABI tag
# the runtime checks before loading is not a symbol but the .note.plexus ELF
# note PLEXUS_COMPONENT emits; strip keeps it (docs/components.md).
#
# With TESTS (and Catch2 v2 found), also builds NAME_tests: the component's
# sources compiled into a Catch2 executable together with the test sources,
# so the tests can use <plexus/testing.hpp>'s Harness. It is registered with
# CTest when testing is enabled.

# Where this file (and plexus_exports.map beside it) lives, captured now:
# inside the function CMAKE_CURRENT_LIST_DIR is the caller's folder.
set(_PLEXUS_COMPONENT_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "Where PlexusComponent.cmake lives")

function(plexus_add_component NAME)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;TESTS;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "plexus_add_component(${NAME}): SOURCES is required")
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    if(PLEXUS_COMPONENT_OUTPUT_DIRECTORY)
      set(ARG_OUTPUT_DIRECTORY ${PLEXUS_COMPONENT_OUTPUT_DIRECTORY})
    else()
      set(ARG_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    endif()
  endif()

  add_library(${NAME} MODULE ${ARG_SOURCES})
  target_link_libraries(${NAME} PRIVATE Plexus::sdk ${ARG_LIBRARIES})
  set_target_properties(${NAME} PROPERTIES
    PREFIX ""
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  # -fvisibility=hidden still exports the standard library's and other
  # libraries' template instances (weak and GNU-unique symbols, which also
  # stop dlclose from unloading). The version script leaves exactly the two
  # PLEXUS_COMPONENT entry points.
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(map ${_PLEXUS_COMPONENT_CMAKE_DIR}/plexus_exports.map)
    target_link_options(${NAME} PRIVATE "LINKER:--version-script=${map}")
    set_property(TARGET ${NAME} APPEND PROPERTY LINK_DEPENDS ${map})
  endif()

  # In the Plexus tree, -DPLEXUS_BUILD_TESTS=OFF skips component tests too.
  if(ARG_TESTS AND NOT (DEFINED PLEXUS_BUILD_TESTS AND NOT PLEXUS_BUILD_TESTS))
    if(NOT TARGET Catch2::Catch2)
      find_package(Catch2 2 QUIET)
    endif()
    if(TARGET Catch2::Catch2)
      set(main ${CMAKE_CURRENT_BINARY_DIR}/${NAME}_catch_main.cpp)
      if(NOT EXISTS ${main})
        file(WRITE ${main} "#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n")
      endif()
      add_executable(${NAME}_tests ${ARG_SOURCES} ${ARG_TESTS} ${main})
      target_link_libraries(${NAME}_tests PRIVATE Plexus::testing Catch2::Catch2 ${ARG_LIBRARIES})
      set_target_properties(${NAME}_tests PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
      add_test(NAME ${NAME}_tests COMMAND ${NAME}_tests)
    endif()
  endif()
endfunction()
