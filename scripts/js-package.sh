#!/usr/bin/env bash
# Builds the JavaScript package of the injection core (crates/js): pkg/web (ES module for
# browsers, loaded with `await init()`) and pkg/node (CommonJS for Node), each an npm-style
# directory with package.json, .js, .d.ts and .wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
bindgen_version=$(scripts/wasm-bindgen-cli.sh)
cargo build --release --locked --target wasm32-unknown-unknown -p native-sidecar-js
module=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/native_sidecar_js.wasm
version=$(awk -F'"' '/^version = / { print $2; exit }' crates/js/Cargo.toml)

package_json() { # TARGET MAIN TYPE
  cat <<JSON
{
  "name": "native-sidecar",
  "version": "$version",
  "description": "Turns service-mesh proxy sidecars (Istio's istio-proxy, Linkerd's linkerd-proxy) into Kubernetes native sidecars: the native-sidecar-policy core in WebAssembly ($1)",
  "license": "Apache-2.0",
  "repository": "https://github.com/native-sidecar-policy/native-sidecar-policy",
  "type": "$3",
  "main": "$2",
  "types": "native_sidecar.d.ts",
  "files": ["native_sidecar.js", "native_sidecar.d.ts", "native_sidecar_bg.wasm", "native_sidecar_bg.wasm.d.ts"],
  "sideEffects": false,
  "wasmBindgen": "$bindgen_version"
}
JSON
}

for target in web nodejs; do
  out=pkg/${target%js}
  rm -rf "$out"
  wasm-bindgen --target "$target" --out-dir "$out" --out-name native_sidecar "$module"
  node scripts/strip-wasm-custom.mjs "$out/native_sidecar_bg.wasm"
  if [[ $target == web ]]; then
    package_json "browsers, ES module" native_sidecar.js module > "$out/package.json"
  else
    package_json "Node, CommonJS" native_sidecar.js commonjs > "$out/package.json"
  fi
done
wasm=pkg/web/native_sidecar_bg.wasm
echo "pkg/web and pkg/node: $(wc -c < "$wasm") bytes of wasm, $(gzip -9c "$wasm" | wc -c) gzipped"
