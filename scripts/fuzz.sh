#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs
# each for SECONDS (default 60), one after the other on one core.
#
#   scripts/fuzz.sh                          # every target, 60 s each
#   scripts/fuzz.sh 600 webhook_body cron    # two targets, 10 minutes each
#
# Fails on the first crash, leak, timeout (-timeout=5 s for one input) or
# out-of-memory (-rss_limit_mb=2048) and prints where the reproducer is and
# how to replay it. New interesting inputs go to build-fuzz/corpus/TARGET
# (fuzz/corpus/TARGET, the seeds in the repo, is only read).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-60}
shift || true
all_targets=(webhook_body query integration yaml_json template expression cron schedule payload_codec abi_tag webhook_auth)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")

# The longest input worth trying per target: big enough for every shape of
# its input (a multipart body with a few parts, a whole integration file),
# small enough that each run stays fast.
declare -A max_len=(
  [webhook_body]=8192 [query]=1024 [integration]=8192 [yaml_json]=4096
  [template]=1024 [expression]=512 [cron]=128 [schedule]=512 [payload_codec]=8192 [abi_tag]=20000
  [webhook_auth]=2048)
declare -A dict=(
  [webhook_body]=json.dict [integration]=yaml.dict [yaml_json]=yaml.dict
  [template]=template.dict [expression]=expression.dict [cron]=cron.dict [schedule]=cron.dict [payload_codec]=json.dict)

for t in "${targets[@]}"; do
  [[ -v "max_len[$t]" ]] || { echo "fuzz.sh: unknown target '$t' (known: ${all_targets[*]})" >&2; exit 2; }
done

bash scripts/install-deps.sh
build=build-fuzz
if [ ! -f "$build/CMakeCache.txt" ]; then
  # RelWithDebInfo: optimised like the real server, stack traces with lines.
  cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPLEXUS_BUILD_FUZZERS=ON -DPLEXUS_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target $(printf '%s_fuzzer ' "${targets[@]}")

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  args=(-max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=5 -rss_limit_mb=2048
        -artifact_prefix="$artifacts" -print_final_stats=1)
  [[ -v "dict[$t]" ]] && args+=(-dict="fuzz/${dict[$t]}")
  echo "fuzz.sh: $t for ${seconds}s"
  start=$SECONDS
  if ! nice -n 10 "$build/fuzz/${t}_fuzzer" "${args[@]}" "$corpus" "fuzz/corpus/$t" \
       >"$build/$t.log" 2>&1; then
    tail -n 60 "$build/$t.log"
    echo
    echo "fuzz.sh: $t FAILED after $((SECONDS - start))s (full log: $root/$build/$t.log)"
    for f in "$artifacts"*; do
      [ -e "$f" ] && echo "  reproducer: $root/$f
  replay:     $root/$build/fuzz/${t}_fuzzer $root/$f"
    done
    exit 1
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$build/$t.log" | grep -oE '[0-9]+$' || echo "?")
  echo "fuzz.sh: $t clean: $runs inputs in $((SECONDS - start))s, $(ls "$corpus" | wc -l) in build-fuzz/corpus/$t"
done
echo "fuzz.sh: ${targets[*]}: no findings in ${seconds}s each"
