// Drops the custom sections a browser or Node never reads (`name`: function names for stack traces,
// `producers`) from wasm-bindgen's output, in place. wasm-opt would do this too, but Debian's
// binaryen is too old for the reference-types tables wasm-bindgen emits.
// Usage: node scripts/strip-wasm-custom.mjs FILE.wasm...
import { readFileSync, writeFileSync } from "node:fs";

const DROP = new Set(["name", "producers"]);

function leb128(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

for (const file of process.argv.slice(2)) {
  const bytes = readFileSync(file);
  if (bytes.readUInt32BE(0) !== 0x0061736d) throw new Error(`${file} is not a wasm module`);
  const kept = [bytes.subarray(0, 8)];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++];
    const [size, body] = leb128(bytes, at);
    const end = body + size;
    let name = null;
    if (id === 0) {
      const [length, text] = leb128(bytes, body);
      name = bytes.subarray(text, text + length).toString("utf8");
    }
    if (!DROP.has(name)) kept.push(bytes.subarray(start, end));
    at = end;
  }
  const out = Buffer.concat(kept);
  writeFileSync(file, out);
  console.log(`${file}: ${bytes.length} -> ${out.length} bytes`);
}
