// The playground: parses the pasted YAML/JSON in the page, runs each document through the policy's
// core (pkg/, built from crates/js) and shows the result. Everything runs locally.
import init, { check, convert, meshes, normalizeSettings } from "./pkg/native_sidecar.js";
import { parseAllDocuments, parse, stringify } from "./vendor/yaml/index.js";
import { samples } from "./samples.js";

const $ = (id) => document.getElementById(id);
const input = $("input");


function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

/** The settings from the form, as the policy reads them; throws with a message for the user. */
function readSettings() {
  const settings = {
    mode: $("mode").value,
    requestNativeInjection: $("request-native").checked,
    meshes: [...document.querySelectorAll("#meshes input:checked")].map((box) => box.value),
    onResourceIncrease: $("on-resource-increase").value,
  };
  for (const [id, key] of [["extra-sidecars", "extraSidecars"], ["kuma", "kuma"], ["consul", "consul"]]) {
    const text = $(id).value.trim();
    if (!text) continue;
    try {
      settings[key] = parse(text);
    } catch (e) {
      throw new Error(`${key} is not valid YAML: ${e.message}`);
    }
  }
  return normalizeSettings(settings);
}

/** One document through the policy: validate mode reports, mutate mode converts. */
function evaluate(manifest, settings) {
  const name = `${manifest?.kind ?? "?"} ${manifest?.metadata?.name ?? ""}`.trim();
  try {
    if (settings.mode === "validate") {
      return { name, manifest, settings, report: check(manifest, settings) };
    }
    return { name, manifest, settings, result: convert(manifest, settings) };
  } catch (e) {
    return { name, manifest, settings, rejection: e instanceof Error ? e.message : String(e) };
  }
}

/** Which chips the diagram colours as proxies and setup containers: the policy's own meshes (read
 *  from the package, not repeated here) that the settings enable, and the declared sidecars. */
function roles(settings) {
  const enabled = meshes().filter((mesh) => settings.meshes.includes(mesh.id));
  const proxies = new Set([...enabled.map((m) => m.proxy), ...settings.extraSidecars.map((s) => s.name)]);
  const setup = new Set([
    ...enabled.flatMap((m) => m.setupContainers),
    ...settings.extraSidecars.flatMap((s) => s.setupContainers),
  ]);
  return { proxies, setup };
}

/** One row of the diagram: init containers in start order, then the regular containers. */
function lane(label, init, containers, { proxies, setup }, misplaced = new Set()) {
  const row = element("div", { class: "lane" });
  init.forEach((c, i) => {
    if (i > 0) row.append(element("span", { class: "arrow" }, "→"));
    const classes = ["chip"];
    if (setup.has(c.name)) classes.push("setup");
    if (proxies.has(c.name)) classes.push("proxy");
    if (c.sidecar) classes.push("sidecar");
    if (misplaced.has(c.name)) classes.push("misplaced");
    row.append(element("span", { class: classes.join(" "), title: c.sidecar ? "native sidecar (restartPolicy: Always)" : "init container" }, c.name ?? "(unnamed)"));
  });
  if (containers) {
    row.append(element("span", { class: "divider" }, init.length ? "then" : "containers:"));
    containers.forEach((name) => {
      const classes = ["chip", "app"];
      if (proxies.has(name)) classes.push("proxy", "misplaced");
      row.append(element("span", { class: classes.join(" "), title: "regular container" }, name ?? "(unnamed)"));
    });
  }
  return [element("span", { class: "label" }, label), row];
}

/** The pod's effective requests and limits before and after, the values that rise marked. */
function resourcesTable(resources, [before, after]) {
  const names = new Set();
  for (const side of [resources.before, resources.after]) {
    for (const bound of ["requests", "limits"]) Object.keys(side[bound]).forEach((n) => names.add(n));
  }
  if (!names.size) return [];
  const rose = new Set(resources.rises.map((r) => `${r.resource} ${r.bound}s`));
  const head = element("tr", {}, element("th", {}, "resource"));
  for (const bound of ["request", "limit"]) {
    head.append(element("th", {}, `${bound} ${before}`), element("th", {}, `${bound} ${after}`));
  }
  const body = element("tbody");
  for (const name of [...names].sort()) {
    const row = element("tr", { "data-resource": name }, element("th", { scope: "row" }, name));
    for (const bound of ["requests", "limits"]) {
      const up = rose.has(`${name} ${bound}`);
      row.append(
        element("td", {}, resources.before[bound][name] ?? "–"),
        element("td", up ? { class: "rise", title: "rises" } : {}, resources.after[bound][name] ?? "–"),
      );
    }
    body.append(row);
  }
  return [
    element("div", { class: "heading" }, "Effective requests and limits (what the scheduler, ResourceQuota and LimitRange count)"),
    element("table", { class: "resources" }, element("thead", {}, head), body),
  ];
}

function list(className, items) {
  const ul = element("ul", { class: className });
  for (const item of items) ul.append(element("li", {}, item));
  return ul;
}

function renderDocument(doc, index, count) {
  const card = element("article", { class: "document", "data-index": String(index) });
  const heading = element("h2", {}, count > 1 ? `${index + 1}. ${doc.name}` : doc.name);
  card.append(heading);
  const known = roles(doc.settings);
  const verdict = (word, cls) => heading.append(element("span", { class: `verdict ${cls}` }, word));

  if (doc.rejection !== undefined) {
    verdict("rejected", "rejected");
    card.append(element("p", { class: "message rejection" }, doc.rejection));
    return card;
  }
  if (doc.report) {
    const r = doc.report;
    verdict(r.valid ? "valid" : "invalid", r.valid ? "valid" : "invalid");
    const misplaced = new Set(r.findings.filter((f) => f.list === "initContainers").map((f) => f.container));
    const order = element("div", { class: "order" });
    order.append(...lane("now", r.layout.initContainers, r.layout.containers, known, misplaced));
    if (!r.valid && r.expectedInitOrder.length) {
      const expected = r.expectedInitOrder.map((name) => ({ name, sidecar: known.proxies.has(name) }));
      order.append(...lane("expected", expected, null, known));
    }
    card.append(order, ...resourcesTable(r.resources, ["now", "converted"]));
    if (r.message) card.append(element("p", { class: "message" }, r.message));
    if (r.findings.length) card.append(list("findings", r.findings.map((f) => f.message)));
    if (r.warnings.length) card.append(list("warnings", r.warnings));
    return card;
  }
  const r = doc.result;
  verdict(r.changed ? `changed (${r.patch.length} patch operations)` : "unchanged", r.changed ? "changed" : "unchanged");
  const misplaced = new Set(r.findings.filter((f) => f.list === "initContainers").map((f) => f.container));
  const order = element("div", { class: "order" });
  order.append(...lane("before", r.before.initContainers, r.before.containers, known, misplaced));
  order.append(...lane("after", r.after.initContainers, r.after.containers, known));
  card.append(order, ...resourcesTable(r.resources, ["before", "after"]));
  if (r.findings.length) {
    card.append(element("div", { class: "heading" }, "Fixed"), list("findings fixed", r.findings.map((f) => f.message)));
  }
  if (r.warnings.length) card.append(list("warnings", r.warnings));
  return card;
}

/** The objects of the input: YAML documents or JSON, with `kubectl get -o yaml` lists unpacked. */
function readManifests(text) {
  let values;
  if (/^\s*[[{]/.test(text)) {
    try {
      values = [JSON.parse(text)];
    } catch {
      // Not JSON after all: flow-style YAML also starts with a bracket.
    }
  }
  if (!values) {
    const parsed = parseAllDocuments(text);
    const documents = Array.isArray(parsed) ? parsed : [];
    for (const [i, doc] of documents.entries()) {
      if (doc.errors.length) {
        throw new Error(`YAML syntax error in document ${i + 1}: ${doc.errors[0].message}`);
      }
    }
    values = documents.map((d) => d.toJS());
  }
  const unpack = (value) => {
    if (Array.isArray(value)) return value.flatMap(unpack);
    if (value && typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
      return value.items.flatMap(unpack);
    }
    return value === null || value === undefined ? [] : [value];
  };
  return values.flatMap(unpack);
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  setStatus("Nothing to show until the input is fixed.", "bad");
}

function setStatus(text, tone = "") {
  const status = $("status");
  status.textContent = text;
  status.className = `status ${tone}`;
}

function write(value, format) {
  return format === "json" ? JSON.stringify(value, null, 2) : stringify(value, { lineWidth: 0 });
}

/** One operation a line, its members spaced so that a narrow column wraps between them: still
 *  JSON, and a move reads at a glance. */
function writePatch(patch) {
  const line = (operation) =>
    `{${Object.entries(operation).map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(", ")}}`;
  return `[\n${patch.map((operation) => `  ${line(operation)}`).join(",\n")}\n]`;
}

function run() {
  $("error").hidden = true;
  $("documents").replaceChildren();
  $("output").textContent = "";
  $("patch").textContent = "";
  $("admission-patch").textContent = "";
  $("admission-count").textContent = "";

  let settings;
  try {
    settings = readSettings();
    $("settings-json").textContent = `settings: ${JSON.stringify(settings)}`;
  } catch (e) {
    showError(e.message);
    return;
  }
  const text = input.value;
  if (!text.trim()) {
    setStatus("Paste a manifest or pick a sample.");
    return;
  }
  let manifests;
  try {
    manifests = readManifests(text);
  } catch (e) {
    showError(e.message);
    return;
  }
  if (!manifests.length) {
    setStatus("The input holds no document.");
    return;
  }

  const results = manifests.map((m) => evaluate(m, settings));
  results.forEach((doc, i) => $("documents").append(renderDocument(doc, i, results.length)));

  const format = $("format").value;
  const outputs = results.map((doc) => doc.result?.manifest ?? doc.manifest);
  $("output").textContent = format === "json"
    ? JSON.stringify(outputs.length === 1 ? outputs[0] : outputs, null, 2)
    : outputs.map((m) => write(m, "yaml")).join("---\n");
  const patches = results.filter((doc) => doc.result?.changed);
  const showPatches = (key) => patches.length === 0
    ? "(no patch: nothing changed)"
    : patches.map((doc) => (results.length > 1 ? `# ${doc.name}\n` : "") + writePatch(doc.result[key])).join("\n");
  $("patch").textContent = showPatches("patch");
  $("admission-patch").textContent = showPatches("admissionPatch");
  const count = (key) => patches.reduce((sum, doc) => sum + doc.result[key].length, 0);
  $("admission-count").textContent = patches.length ? ` (${count("admissionPatch")} operations)` : "";

  const rejected = results.filter((d) => d.rejection !== undefined || d.report?.valid === false).length;
  const changed = results.filter((d) => d.result?.changed).length;
  const noun = results.length === 1 ? "document" : "documents";
  if (rejected) setStatus(`${results.length} ${noun}: ${rejected} rejected by the policy.`, "bad");
  else if (settings.mode === "validate") setStatus(`${results.length} ${noun}: all valid.`, "good");
  else setStatus(`${results.length} ${noun}: ${changed} changed.`, "good");
}

/** A checkbox per mesh the policy knows, all on: the `meshes` setting. */
function showMeshes() {
  const box = $("meshes");
  for (const mesh of meshes()) {
    const toggle = element("input", { type: "checkbox", value: mesh.id, id: `mesh-${mesh.id}` });
    toggle.checked = true;
    toggle.addEventListener("change", run);
    box.append(element("label", { class: "check", title: `${mesh.title}: ${mesh.proxy}` }, toggle, ` ${mesh.id}`));
  }
}

function showSamples() {
  const box = $("samples");
  for (const sample of samples) {
    const button = element("button", { type: "button", "data-sample": sample.id, title: sample.about }, sample.title);
    button.addEventListener("click", () => {
      box.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b === button));
      input.value = sample.text;
      run();
    });
    box.append(button);
  }
}

let pending;
function schedule() {
  clearTimeout(pending);
  pending = setTimeout(run, 120);
}

await init();
showMeshes();
showSamples();
input.addEventListener("input", schedule);
for (const id of ["mode", "request-native", "on-resource-increase", "format"]) $(id).addEventListener("change", run);
for (const id of ["extra-sidecars", "kuma", "consul"]) $(id).addEventListener("input", schedule);
document.body.dataset.ready = "true";
run();
