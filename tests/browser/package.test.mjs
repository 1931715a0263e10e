// The Node package (pkg/node, built by make js-package) as a user loads it: require() by path, plain
// objects in and out, Error objects thrown, and a .d.ts that declares what the module exports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import jsonpatch from "fast-json-patch";

const root = fileURLToPath(new URL("../../", import.meta.url));
const require = createRequire(import.meta.url);
const pkg = join(root, "pkg/node");
const sidecar = require(pkg);

const documents = async (path) =>
  parseAllDocuments(await readFile(join(root, path), "utf8"))
    .map((d) => d.toJS())
    .filter((o) => o != null);
const single = async (path) => {
  const objects = await documents(path);
  assert.equal(objects.length, 1, path);
  return objects[0];
};

/** Every golden pair (test_data/istio, linkerd, kuma, consul) and conversion case (test_data/cases), with
 *  the settings that convert it: a folder's settings.yaml, a case's `# settings: {...}` line. */
async function pairs() {
  const found = [];
  for (const mesh of ["istio", "linkerd", "kuma", "consul"]) {
    const files = await readdir(join(root, "test_data", mesh));
    const settings = files.includes("settings.yaml") ? await single(`test_data/${mesh}/settings.yaml`) : {};
    for (const file of files.filter((f) => f.endsWith(".classic.yaml")).sort()) {
      const path = `test_data/${mesh}/${file}`;
      found.push([path, await single(path), await single(path.replace(".classic.", ".native.")), settings]);
    }
  }
  for (const file of (await readdir(join(root, "test_data/cases"))).filter((f) => f.endsWith(".yaml")).sort()) {
    const path = `test_data/cases/${file}`;
    const [before, after, ...rest] = await documents(path);
    assert.equal(rest.length, 0, file);
    const line = (await readFile(join(root, path), "utf8")).match(/^# settings: (.*)$/m);
    found.push([path, before, after, line ? parse(line[1]) : {}]);
  }
  return found;
}

test("package.json names the module and its types", async () => {
  const manifest = JSON.parse(await readFile(join(pkg, "package.json"), "utf8"));
  assert.equal(manifest.name, "native-sidecar");
  assert.equal(manifest.type, "commonjs");
  for (const file of [manifest.main, manifest.types, ...manifest.files]) {
    await readFile(join(pkg, file));
  }
});

test("the .d.ts declares exactly the functions the module exports", async () => {
  const types = await readFile(join(pkg, "native_sidecar.d.ts"), "utf8");
  const declared = [...types.matchAll(/^export function (\w+)\(/gm)].map((m) => m[1]).sort();
  const exported = Object.keys(sidecar).filter((k) => typeof sidecar[k] === "function").sort();
  assert.deepEqual(declared, exported);
  assert.deepEqual(exported, ["check", "convert", "kinds", "meshes", "normalizeSettings"]);
  for (const shape of ["Settings", "Manifest", "Finding", "PatchOperation", "PodLayout", "ConvertResult", "CheckResult", "MeshInfo", "ResourceChange", "PodResources"]) {
    assert.match(types, new RegExp(`export (interface|type) ${shape}\\b`), shape);
  }
  assert.match(types, /export function convert\(manifest: Manifest \| string, settings\?: Settings \| null\): ConvertResult;/);
  assert.match(types, /^\s+patch: PatchOperation\[\];$/m);
  assert.match(types, /^\s+admissionPatch: PatchOperation\[\];$/m);
});

test("both patches turn every pair's input into its output under another RFC 6902 implementation", async () => {
  const all = await pairs();
  assert.ok(all.length >= 44, `only ${all.length} pairs`);
  for (const [path, before, after, settings] of all) {
    const result = sidecar.convert(before, settings);
    assert.deepEqual(result.manifest, after, path);
    for (const key of ["patch", "admissionPatch"]) {
      // fast-json-patch validates each operation (a move's `from` must exist) and leaves `before` alone.
      const { newDocument } = jsonpatch.applyPatch(before, result[key], true, false);
      assert.deepEqual(newDocument, after, `${path}: ${key}`);
    }
    const moves = result.patch.filter((op) => op.op === "move");
    assert.ok(moves.length > 0, `${path}: no move in ${JSON.stringify(result.patch)}`);
    // A pod without init containers (Kuma's gateway on CNI) first gets the list to move into.
    const made = result.patch[0].op === "add" && result.patch[0].path.endsWith("/initContainers") ? 1 : 0;
    assert.deepEqual(result.patch.slice(made, made + moves.length), moves, `${path}: the moves come first`);
    assert.ok(!result.admissionPatch.some((op) => op.op === "move"), `${path}: policy-server's diff has no moves`);
  }
});

test("Istio's classic Job becomes its native rendering, and the input is left alone", async () => {
  const job = await single("test_data/istio/job.classic.yaml");
  const copy = structuredClone(job);
  const result = sidecar.convert(job, {});
  assert.deepEqual(result.manifest, await single("test_data/istio/job.native.yaml"));
  assert.deepEqual(job, copy, "convert does not edit its argument");
  assert.equal(result.changed, true);
  assert.deepEqual(result.after.initContainers, [
    { name: "istio-init", sidecar: false },
    { name: "istio-proxy", sidecar: true },
  ]);
  assert.equal(result.manifest.spec.template.spec.restartPolicy, "Never");
  // Istio's own injection: the proxy after istio-init costs nothing more.
  const effective = { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2", memory: "1Gi" } };
  assert.deepEqual(result.resources, { before: effective, after: effective, rises: [], refusals: [], problems: [] });
});

test("rejections are Error objects with the policy's message", async () => {
  const job = await single("test_data/istio/job.classic.yaml");
  assert.throws(
    () => sidecar.convert(job, { mode: "validate" }),
    (e) => e instanceof Error && e.message.startsWith("spec.template.spec: istio-proxy must run as a native sidecar"),
  );
  assert.throws(() => sidecar.check(job, { mode: "strict" }), (e) => e instanceof Error && /^invalid policy settings: /.test(e.message));
  const report = sidecar.check(job);
  assert.equal(report.valid, false);
  assert.equal(report.findings[0].problem, "notNative");
});

test("Linkerd's classic Pod becomes its native rendering; meshes() names its containers", async () => {
  const pod = await single("test_data/linkerd/emojivoto-pod.classic.yaml");
  const result = sidecar.convert(pod, {});
  assert.deepEqual(result.manifest, await single("test_data/linkerd/emojivoto-pod.native.yaml"));
  assert.deepEqual(result.after.initContainers, [
    { name: "linkerd-init", sidecar: false },
    { name: "linkerd-proxy", sidecar: true },
  ]);
  assert.equal(sidecar.convert(pod, { meshes: ["istio"] }).changed, false);
  const linkerd = sidecar.meshes().find((mesh) => mesh.id === "linkerd");
  assert.deepEqual(linkerd, {
    id: "linkerd",
    title: "Linkerd",
    proxy: "linkerd-proxy",
    setupContainers: ["linkerd-init", "linkerd-network-validator"],
    trailingContainers: [],
    nativeAnnotation: "config.linkerd.io/proxy-enable-native-sidecar",
  });
  assert.deepEqual(sidecar.normalizeSettings({}).meshes, ["istio", "linkerd", "kuma", "consul"]);
  // Kuma has no per-pod switch.
  assert.equal(sidecar.meshes().find((mesh) => mesh.id === "kuma").nativeAnnotation, null);
});
