#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time from a seed corpus built from test_data and the
# property tests' generator; fails on any crash, panic, broken invariant or input that takes longer
# than 10 s (a hang). Crashes are left in fuzz/artifacts/TARGET/ for `cargo fuzz tmin`.
#
#   FUZZ_SECONDS=600 fuzz/run.sh            # each target for 10 minutes
#   FUZZ_SECONDS=60 fuzz/run.sh review      # one target
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-60}
# cargo-fuzz passes nightly-only flags (-Z sanitizer options, -C passes=sancov-module); the stable
# toolchain accepts them with RUSTC_BOOTSTRAP, and no nightly toolchain can be installed here.
export RUSTC_BOOTSTRAP=1
# No AddressSanitizer: the code under test is safe Rust, and ASan would halve the executions.
sanitizer=(--sanitizer none)

if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi

rm -rf seeds
(cd .. && cargo run -q --locked -p native-sidecar-core --example fuzz_seeds -- fuzz/seeds)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build "${sanitizer[@]}"
mkdir -p ../target
summary=../target/fuzz-summary.txt
: > "$summary"
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="../target/fuzz-$target.log"
  echo "== fuzz $target for ${seconds}s"
  status=0
  cargo fuzz run "${sanitizer[@]}" "$target" "corpus/$target" seeds -- \
    -dict=json.dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "$target: ${runs:-?} executions, exit $status" | tee -a "$summary"
  if [ "$status" -ne 0 ]; then
    grep -E -A12 "panicked|ERROR: libFuzzer|SUMMARY" "$log" | head -60 || tail -40 "$log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
