#!/usr/bin/env bash
# scripts/module-sizes.sh OUT.tsv: the policy module's size at each build stage, as `label<TAB>bytes`
# lines for BENCHMARKS.md (make bench). Expects `make policy.wasm` and the baselines built; the
# other builds go to target/size-variants so they never touch the shipped build's cache.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
target=wasm32-wasip1
variants=target/size-variants
size() { stat -c %s "$1"; }
build() { # build LABEL PROFILE-DIR [ENV...]: prints the built module's path
  local dir=$1; shift
  env CARGO_TARGET_DIR=$variants "$@" >&2
  echo "$variants/$target/$dir/native_sidecar_policy.wasm"
}
row() { printf '%s\t%s\n' "$1" "$2" >>"$out.tmp"; }
: >"$out.tmp"

dev=$(build debug cargo build --quiet --locked --target $target -p native-sidecar-policy)
cp "$dev" $variants/dev.wasm
row "dev profile (cargo build)" "$(size $variants/dev.wasm)"

# Cargo's release defaults: none of the root Cargo.toml's size settings.
plain=$(build release CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_STRIP=debuginfo CARGO_PROFILE_RELEASE_PANIC=unwind \
  cargo build --quiet --locked --release --target $target -p native-sidecar-policy)
cp "$plain" $variants/release-defaults.wasm
row "release, cargo defaults (opt-level 3, no LTO, 16 codegen units, unwind)" "$(size $variants/release-defaults.wasm)"

# The builds that say "release profile" are built as the shipped one (scripts/wasm-build.sh: the
# per-package opt-levels of the Makefile's WASM_PROFILE, std from source for size).
prebuilt=$(build release WASM_BUILD_STD=0 scripts/wasm-build.sh --quiet --release -p native-sidecar-policy)
cp "$prebuilt" $variants/release-prebuilt-std.wasm
row "release profile (LTO, opt-level \"s\", 1 codegen unit, strip, abort) with the toolchain's prebuilt std: cargo output" \
  "$(size $variants/release-prebuilt-std.wasm)"
row "release profile with std built for size, panics that trap: cargo output" \
  "$(size target/$target/release/native_sidecar_policy.wasm)"

z=$(build release CARGO_PROFILE_RELEASE_OPT_LEVEL=z scripts/wasm-build.sh --quiet --release -p native-sidecar-policy)
cp "$z" $variants/release-z.wasm
row "release profile with opt-level \"z\"" "$(size $variants/release-z.wasm)"
# Shrunk like the shipped module; make bench also measures its speed.
scripts/wasm-shrink.sh $variants/release-z.wasm $variants/release-z-shrunk.wasm 2>/dev/null
row "release profile with opt-level \"z\", then wasm-opt -Oz when installed" "$(size $variants/release-z-shrunk.wasm)"
row "shipped policy.wasm (release profile, std built for size, then wasm-opt -Oz when installed)" "$(size policy.wasm)"
for baseline in accept echo move; do
  row "$baseline baseline, release profile" "$(size target/baselines/$target/release/baseline_$baseline.wasm)"
done
mv "$out.tmp" "$out"
cat "$out"
