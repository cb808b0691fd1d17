# ctest script (cmake -P): the SDK works for a component author outside the
# tree. It installs the SDK from this build tree into a fresh prefix, builds
# sdk/examples/greeter against that prefix with find_package(Plexus), runs
# the greeter's own tests, then has test_loader load the built greeter.so
# with loadComponents and call its action.
#
# Variables (all required): PLEXUS_SDK_BINARY_DIR (the build tree's sdk/
# folder, whose install rules are exactly the SDK's), GREETER_SOURCE_DIR,
# WORK_DIR (scratch, wiped first), TEST_LOADER (the test_loader executable).
# Optional: CXX_COMPILER and GENERATOR, so the example is built with the same
# compiler and build tool as Plexus.
foreach(var PLEXUS_SDK_BINARY_DIR GREETER_SOURCE_DIR WORK_DIR TEST_LOADER)
  if(NOT ${var})
    message(FATAL_ERROR "sdk_out_of_tree_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command, failing the test with its output when it fails.
function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${name} failed (${code}):\n  ${ARGN}\n${out}")
  endif()
  message(STATUS "${name}: ok")
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(greeter_build ${WORK_DIR}/greeter-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run_step("install the SDK" ${CMAKE_COMMAND} --install ${PLEXUS_SDK_BINARY_DIR} --prefix ${prefix})
if(NOT EXISTS ${prefix}/include/plexus/sdk.hpp)
  message(FATAL_ERROR "the SDK install did not put plexus/sdk.hpp under ${prefix}/include")
endif()

# No build type: unoptimised is quickest to compile, and enough for a test.
set(configure ${CMAKE_COMMAND} -S ${GREETER_SOURCE_DIR} -B ${greeter_build}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=)
if(CXX_COMPILER)
  list(APPEND configure -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(GENERATOR)
  list(APPEND configure -G ${GENERATOR})
endif()
run_step("configure the greeter against the installed SDK" ${configure})
run_step("build the greeter" ${CMAKE_COMMAND} --build ${greeter_build} --parallel 2)
run_step("run the greeter's own tests" ${CMAKE_CTEST_COMMAND} --test-dir ${greeter_build}
         --output-on-failure --no-tests=error)

if(NOT EXISTS ${greeter_build}/greeter.so)
  message(FATAL_ERROR "the greeter build did not produce ${greeter_build}/greeter.so")
endif()
run_step("load greeter.so with the runtime's loader" ${CMAKE_COMMAND} -E env
         PLEXUS_GREETER_PLUGINS=${greeter_build} ${TEST_LOADER} "[sdk]")
