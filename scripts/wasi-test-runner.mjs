// Runs a wasm32-wasip1 test binary under Node's WASI (cargo's runner for that target in
// `make wasm-core-tests`): the core's tests in wasm with SIMD, as the policy module runs them.
// Usage: node scripts/wasi-test-runner.mjs TEST.wasm [test args...]
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process, { argv, env } from "node:process";

const [module, ...args] = argv.slice(2);
const wasi = new WASI({ version: "preview1", args: [module, ...args], env, preopens: { "/": "/" }, returnOnExit: true });
const compiled = await WebAssembly.compile(await readFile(module));
const instance = await WebAssembly.instantiate(compiled, wasi.getImportObject());
// The exit code set and Node left to exit on its own: process.exit() right after the tests
// crashed Node 20 now and then (SIGSEGV after every test had passed: 2 runs of 21).
process.exitCode = wasi.start(instance);
