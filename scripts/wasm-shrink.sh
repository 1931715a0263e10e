#!/usr/bin/env bash
# scripts/wasm-shrink.sh IN OUT: writes IN run through `wasm-opt -Oz` (Debian's binaryen) to OUT, or
# IN itself when wasm-opt is not installed, fails or does not make it smaller. wasm-opt takes a
# sixth off the policy module; without it the cargo output is still a working module.
set -euo pipefail
in=$1 out=$2
# The module is stripped, so wasm-opt cannot read the features it uses from a target_features
# section: these are the ones rustc's wasm32-wasip1 emits, and SIMD (.cargo/config.toml).
features=(--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals --enable-simd)
# --low-memory-unused: rustc places the stack's bottom and the data at 1 MiB and above, so no valid
# address is below 1 KiB and wasm-opt may fold constant offsets into loads and stores (2.7 KB off
# the policy module). --converge repeats the passes while they still shrink the module (0.3 KB).
passes=(-Oz --low-memory-unused --converge)
if ! command -v wasm-opt >/dev/null; then
  echo "wasm-shrink: wasm-opt not installed (apt-get install binaryen), keeping the cargo output" >&2
  cp "$in" "$out"
  exit 0
fi
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if wasm-opt "${passes[@]}" "${features[@]}" "$in" -o "$tmp" && [ "$(stat -c %s "$tmp")" -lt "$(stat -c %s "$in")" ]; then
  chmod 0644 "$tmp"
  mv "$tmp" "$out"
  echo "wasm-shrink: $(stat -c %s "$in") -> $(stat -c %s "$out") bytes ($out)" >&2
else
  echo "wasm-shrink: wasm-opt did not make $in smaller, keeping the cargo output" >&2
  cp "$in" "$out"
fi
