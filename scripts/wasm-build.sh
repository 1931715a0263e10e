#!/usr/bin/env bash
# scripts/wasm-build.sh CARGO-BUILD-ARGS...: `cargo build --locked --target wasm32-wasip1 ARGS...` as
# the shipped module and its floor baselines are built (README: Performance), so that both pay the
# same runtime:
# - serde_json and the map it builds objects in at opt-level 1 (WASM_PROFILE, from the Makefile);
# - std built from the toolchain's own sources (its rust-src component, added when missing) with
#   std's size-optimised code paths, and with panics that stop the module at once (a wasm trap)
#   instead of formatting a message first: 50 KB off the policy module. The policy answers every
#   input without panicking (crates/host/tests/bad_input.rs); a panic would be a bug, and policy-server
#   and kwctl report its trap as an error for that request either way. Stable cargo and rustc take
#   these unstable options only with RUSTC_BOOTSTRAP=1, which is set for this build alone.
# WASM_BUILD_STD=0 builds with the toolchain's prebuilt std instead: a larger module, the same answers.
set -euo pipefail
target=wasm32-wasip1
read -ra profile <<<"${WASM_PROFILE:-}"
rustup target list --installed 2>/dev/null | grep -qx $target || rustup target add $target
if [ "${WASM_BUILD_STD:-1}" = 0 ]; then
  exec "${CARGO:-cargo}" build --locked --target $target "${profile[@]}" "$@"
fi
rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src
# Added to the target's rustflags in .cargo/config.toml (cargo joins the two lists).
export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort"
# alloc (Vec, String, the maps) at opt-level 3, as in the prebuilt std: at the release profile's "s"
# the hello Deployment took 6% more instructions per request, for 8.5 KB less module.
RUSTC_BOOTSTRAP=1 exec "${CARGO:-cargo}" build --locked --target $target "${profile[@]}" \
  --config=profile.release.package.alloc.opt-level=3 \
  -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size "$@"
