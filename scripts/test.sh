#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run). Phases, in order:
#   build   the normal RelWithDebInfo build (build/) and every test
#   asan    every test again, built with AddressSanitizer + UBSan (build-asan/)
#   tsan    the store, engine and scheduler tests with ThreadSanitizer (build-tsan/)
#   fuzz    each libFuzzer target for PLEXUS_FUZZ_SECONDS (default 20) s (build-fuzz/)
# Name phases to run only those: `bash scripts/test.sh asan tsan`.
# Each phase prints its wall time and CPU time; docs/testing.md has the
# figures and how to run a sanitizer build or a fuzzer by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

phases=("$@")
((${#phases[@]})) || phases=(build asan tsan fuzz)

# The sanitizers' own settings; the suppression files say why each entry is there.
supp=$root/scripts/sanitizers
export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"

# A sanitizer build: -O1 without full debug info (line tables are enough
# for the reports' stack traces) keeps the compile time down; the tests do
# not need the benchmarks.
# (Assertions stay on: no -DNDEBUG.)
configure_sanitized() {  # DIR SANITIZERS
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DPLEXUS_SANITIZE="$2" -DPLEXUS_BUILD_BENCH=OFF >/dev/null
}

phase_build() {
  bash scripts/build.sh
  (cd build && ctest --output-on-failure -j"$jobs" --timeout 600)
}

phase_asan() {
  bash scripts/install-deps.sh
  configure_sanitized build-asan address,undefined
  cmake --build build-asan -j"$jobs"
  (cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 900)
}

phase_tsan() {
  bash scripts/install-deps.sh
  configure_sanitized build-tsan thread
  cmake --build build-tsan -j"$jobs" --target test_store test_engine test_schedule
  (cd build-tsan && ctest --output-on-failure -j"$jobs" --timeout 900 -R '^(store|engine|schedule)$')
}

phase_fuzz() {
  bash scripts/fuzz.sh "${PLEXUS_FUZZ_SECONDS:-20}"
}

for phase in "${phases[@]}"; do
  if ! declare -F "phase_$phase" >/dev/null; then
    echo "test.sh: unknown phase '$phase' (known: build asan tsan fuzz)" >&2
    exit 2
  fi
done
for phase in "${phases[@]}"; do
  echo "test.sh: phase $phase"
  TIMEFORMAT="test.sh: phase $phase took %0R s wall, %0U s user + %0S s sys CPU"
  time "phase_$phase"
done
echo "test.sh: all phases passed (${phases[*]})"
