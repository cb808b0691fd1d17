#!/usr/bin/env bash
# Plexus benchmarks: builds Release into build-bench, starts everything on
# 127.0.0.1 (ports picked by the OS), prints one table and stops what it
# started. Takes about 8 minutes (plus the first build) on 2 cores.
#
#   bash bench/run.sh                 # everything, 3 runs each
#   bash bench/run.sh --runs 5        # more runs per figure
#   bash bench/run.sh --only intake   # intake|sync|memory|scheduler|boundary (repeatable)
#   bash bench/run.sh --keep-data     # keep each run's SQLite data under build-bench/bench-runs/
#   bash bench/run.sh --help
#
# Needs root (or sudo) the first time: installs wrk, python3 and the build
# dependencies with apt-get when they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${PLEXUS_BENCH_BUILD:-$root/build-bench}

# wrk and python3 only when their commands are missing (python3 may come
# from elsewhere than Debian's package).
extra=()
command -v wrk >/dev/null || extra+=(wrk)
command -v python3 >/dev/null || extra+=(python3)
bash "$root/scripts/install-deps.sh" "${extra[@]}"

# The top-level CMakeLists.txt adds bench/ with -DPLEXUS_BUILD_BENCH=ON; a
# tree without that option is built through bench/wrapper instead.
if grep -q PLEXUS_BUILD_BENCH "$root/CMakeLists.txt"; then
  source_dir=$root
  extra=(-DPLEXUS_BUILD_BENCH=ON)
else
  source_dir=$here/wrapper
  extra=()
fi
# A build dir configured from another source dir cannot be reused.
if [ -f "$build/CMakeCache.txt" ] &&
   ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$source_dir" "$build/CMakeCache.txt"; then
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi
mkdir -p "$build"
log=$build/bench-build.log
echo "bench: building Release into $build (log: $log)"
if ! { cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPLEXUS_BUILD_TESTS=OFF "${extra[@]}" &&
       cmake --build "$build" -j"$(nproc)"; } >"$log" 2>&1; then
  tail -n 40 "$log"
  echo "bench: the build failed; the whole log is $log" >&2
  exit 1
fi

exec python3 "$here/bench.py" --build "$build" "$@"
