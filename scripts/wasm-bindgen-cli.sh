#!/usr/bin/env bash
# Installs wasm-bindgen-cli at the wasm-bindgen version in Cargo.lock: the CLI refuses modules built
# by any other version of the library (their schemas differ), so "a recent one" is not enough.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ -z "$version" ]]; then
  echo "wasm-bindgen is not in Cargo.lock" >&2
  exit 1
fi
installed=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [[ "$installed" != "$version" ]]; then
  echo "installing wasm-bindgen-cli $version (found: ${installed:-none})" >&2
  # --locked first for the CLI's tested dependency set; when one of those was yanked since the
  # release, fall back to a fresh resolution rather than fail the build.
  cargo install wasm-bindgen-cli --version "$version" --locked --quiet ||
    cargo install wasm-bindgen-cli --version "$version" --quiet
fi
echo "$version"
