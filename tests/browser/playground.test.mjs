// Browser test of the playground (web/): a tiny static server on 127.0.0.1, Debian's chromium
// driven by playwright-core, the user's steps (paste, pick a sample, change a setting) and the page's
// answers. Needs the page laid out first: make playground. Saves target/playground.png (mutate
// mode), target/playground-validate.png, target/playground-resources.png and, per window width,
// target/playground-WIDTH.png.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { parse, parseAllDocuments } from "yaml";
import jsonpatch from "fast-json-patch";

const root = fileURLToPath(new URL("../../", import.meta.url));
const web = join(root, "web");
const screenshot = join(root, "target", "playground.png");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

let server;
let context;
let profile;
let base;
const pageErrors = [];

function serve(request, response) {
  const path = decodeURIComponent(new URL(request.url, "http://127.0.0.1").pathname);
  const file = normalize(join(web, path.endsWith("/") ? `${path}index.html` : path));
  if (!file.startsWith(web + sep)) {
    response.writeHead(403).end();
    return;
  }
  readFile(file).then(
    (body) => response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body),
    () => response.writeHead(404).end("not found"),
  );
}

before(async () => {
  server = createServer(serve);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}/`;
  profile = await mkdtemp(join(tmpdir(), "playground-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context.on("weberror", (error) => pageErrors.push(String(error.error())));
  context.on("request", (request) => {
    if (!request.url().startsWith(base)) pageErrors.push(`request off the page's server: ${request.url()}`);
  });
});

after(async () => {
  await context?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  if (profile) await rm(profile, { recursive: true, force: true, maxRetries: 5 });
  assert.deepEqual(pageErrors, [], "the page raised errors or left its server");
});

async function open() {
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
  await page.goto(base);
  await page.waitForSelector("body[data-ready=true]");
  return page;
}

const fixture = (path) => readFile(join(root, path), "utf8");
/** The one object of a YAML text (Istio's files end with a document marker). */
const single = (text) => {
  const objects = parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o != null);
  assert.equal(objects.length, 1);
  return objects[0];
};
const firstDocument = async (path) => (await fixture(path)).split(/^---\s*$/m)[0];

/** The pod spec of a manifest of any kind the policy handles. */
function podSpec(manifest) {
  if (manifest.kind === "Pod") return manifest.spec;
  if (manifest.kind === "CronJob") return manifest.spec.jobTemplate.spec.template.spec;
  return manifest.spec.template.spec;
}

async function paste(page, text) {
  await page.fill("#input", text);
  await page.waitForFunction(() => !/^(Loading|Paste)/.test(document.getElementById("status").textContent));
}

test("a pasted classic Istio pod becomes Istio's own native rendering", async () => {
  const page = await open();
  await paste(page, await fixture("test_data/istio/pod.classic.yaml"));
  assert.equal(await page.textContent("#status"), "1 document: 1 changed.");
  const output = parse(await page.textContent("#output"));
  assert.deepEqual(output, single(await fixture("test_data/istio/pod.native.yaml")));
  const proxy = podSpec(output).initContainers.find((c) => c.name === "istio-proxy");
  assert.equal(proxy.restartPolicy, "Always");
  assert.ok(!podSpec(output).containers.some((c) => c.name === "istio-proxy"));
  const patch = JSON.parse(await page.textContent("#patch"));
  assert.deepEqual(patch[0], { op: "move", from: "/spec/containers/1", path: "/spec/initContainers/1" });
  const input = single(await fixture("test_data/istio/pod.classic.yaml"));
  assert.deepEqual(jsonpatch.applyPatch(input, patch, true, false).newDocument, output, "the patch gives the output");
  await page.close();
});

test("the proxy becomes a native sidecar ahead of the user's init containers", async () => {
  const page = await open();
  await paste(page, await firstDocument("test_data/cases/cni.yaml"));
  const output = parse(await page.textContent("#output"));
  const init = podSpec(output).initContainers;
  assert.deepEqual(init.map((c) => c.name), ["istio-validation", "istio-proxy", "migrate"]);
  assert.equal(init[1].restartPolicy, "Always");
  assert.equal(init[2].restartPolicy, undefined, "the user's init container stays a plain init container");
  assert.deepEqual(podSpec(output).containers.map((c) => c.name), ["app"]);

  const lanes = await page.$$eval(".order .lane", (rows) =>
    rows.map((row) => [...row.querySelectorAll(".chip")].map((chip) => chip.textContent)),
  );
  assert.deepEqual(lanes, [
    ["istio-validation", "migrate", "app", "istio-proxy"],
    ["istio-validation", "istio-proxy", "migrate", "app"],
  ]);
  assert.equal(await page.textContent(".order .lane:nth-of-type(2) .chip.sidecar"), "istio-proxy");
  assert.equal(
    await page.textContent(".document .findings"),
    "istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers",
  );

  await mkdir(join(root, "target"), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.close();
});

test("validate mode lists the init container that starts before the proxy", async () => {
  const page = await open();
  await page.selectOption("#mode", "validate");
  await page.click('button[data-sample="article-check-traffic"]');
  await page.waitForSelector(".document .verdict");
  assert.equal(await page.textContent(".document .verdict"), "invalid");
  assert.equal(await page.textContent("#status"), "1 document: 1 rejected by the policy.");
  const findings = await page.$$eval(".findings li", (items) => items.map((li) => li.textContent));
  assert.deepEqual(findings, [
    "check-traffic (initContainers[0]) runs before istio-proxy has started, outside the mesh",
  ]);
  assert.match(
    await page.textContent(".document .message"),
    /Expected initContainers order: istio-init, istio-proxy, check-traffic$/,
  );
  assert.equal(await page.textContent("#patch"), "(no patch: nothing changed)");
  assert.equal(await page.textContent(".chip.misplaced"), "check-traffic");
  await mkdir(join(root, "target"), { recursive: true });
  await page.screenshot({ path: join(root, "target", "playground-validate.png"), fullPage: true });
  await page.close();
});

test("the pod's effective requests and limits are shown before and after, the rise highlighted", async () => {
  const page = await open();
  await page.click('button[data-sample="init-larger-than-app"]');
  await page.waitForSelector(".document table.resources");
  const cells = () =>
    page.$$eval("table.resources tr", (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent)));
  assert.deepEqual(await cells(), [
    ["resource", "request before", "request after", "limit before", "limit after"],
    ["cpu", "2", "2100m", "2", "2"],
    ["memory", "1152Mi", "1152Mi", "2Gi", "2Gi"],
  ]);
  const rises = await page.$$eval("td.rise", (tds) => tds.map((td) => [td.parentElement.dataset.resource, td.textContent]));
  assert.deepEqual(rises, [["cpu", "2100m"]]);
  const rise =
    'converting istio-proxy raises the pod\'s effective cpu request from 2 to 2100m: init container "migrate" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value';
  assert.deepEqual(await page.$$eval(".warnings li", (items) => items.map((li) => li.textContent)), [rise]);
  await mkdir(join(root, "target"), { recursive: true });
  await page.screenshot({ path: join(root, "target", "playground-resources.png"), fullPage: true });

  await page.selectOption("#on-resource-increase", "reject");
  await page.waitForSelector(".document .verdict.rejected");
  assert.ok((await page.textContent(".document .rejection")).startsWith(`${rise}. onResourceIncrease is "reject"`));

  await page.selectOption("#on-resource-increase", "warn");
  await page.selectOption("#mode", "validate");
  await page.waitForSelector(".document .verdict.invalid");
  assert.deepEqual((await cells())[0], ["resource", "request now", "request converted", "limit now", "limit converted"]);
  assert.ok((await page.textContent(".document .message")).endsWith(`. C${rise.slice(1)}`));
  await page.close();
});

test("a YAML syntax error is shown with its place", async () => {
  const page = await open();
  await page.fill("#input", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n    {name: app\n");
  await page.waitForSelector("#error:not([hidden])");
  const error = await page.textContent("#error");
  assert.match(error, /^YAML syntax error in document 1: /);
  assert.match(error, /line \d+, column \d+/);
  assert.equal(await page.textContent("#output"), "");
  assert.equal(await page.$$eval(".document", (cards) => cards.length), 0);
  await page.close();
});

test("several documents are reviewed one by one, with the policy's messages", async () => {
  const page = await open();
  const job = await fixture("test_data/istio/job.classic.yaml");
  await paste(page, `${job}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n`);
  const verdicts = await page.$$eval(".document .verdict", (items) => items.map((v) => v.textContent));
  assert.equal(verdicts.length, 2);
  assert.match(verdicts[0], /^changed/);
  assert.equal(verdicts[1], "rejected");
  assert.match(await page.textContent(".document .rejection"), /^Service \(v1\) has no pod spec the policy reviews/);
  const outputs = parseAllDocuments(await page.textContent("#output")).map((d) => d.toJS());
  assert.deepEqual(outputs[0], single(await fixture("test_data/istio/job.native.yaml")));
  assert.equal(outputs[1].kind, "Service");

  await page.fill("#extra-sidecars", "- name: vault-agent\n  setupContainers: vault-agent-init\n");
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /^invalid policy settings: /);
  await page.close();
});

test("JSON input and kubectl's List are read too", async () => {
  const page = await open();
  const pod = single(await fixture("test_data/istio/pod.classic.yaml"));
  await paste(page, JSON.stringify(pod, null, "\t"));
  assert.equal(await page.textContent("#status"), "1 document: 1 changed.");

  await page.selectOption("#format", "json");
  const list = { apiVersion: "v1", kind: "List", items: [pod, single(await fixture("test_data/istio/pod.native.yaml"))] };
  await paste(page, JSON.stringify(list));
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("2 documents"));
  assert.equal(await page.textContent("#status"), "2 documents: 1 changed.");
  const native = single(await fixture("test_data/istio/pod.native.yaml"));
  assert.deepEqual(JSON.parse(await page.textContent("#output")), [native, native]);
  await page.close();
});

test("the Linkerd sample: linkerd-proxy starts after linkerd-init and before the user's init container", async () => {
  const page = await open();
  await page.click("button[data-sample=linkerd-init]");
  await page.waitForFunction(() => /changed/.test(document.getElementById("status").textContent));
  const output = parse(await page.textContent("#output"));
  const init = podSpec(output).initContainers;
  assert.deepEqual(init.map((c) => c.name), ["linkerd-init", "linkerd-proxy", "migrate"]);
  assert.equal(init[1].restartPolicy, "Always");
  assert.deepEqual(init[1].startupProbe.httpGet, { path: "/ready", port: 4191 });
  const after = await page.$$eval(".order .lane:nth-of-type(2) .chip.proxy", (chips) => chips.map((c) => c.textContent));
  assert.deepEqual(after, ["linkerd-proxy"]);

  // The patch says what happened: linkerd-init to the front, the proxy in after it, its fields.
  const patch = JSON.parse(await page.textContent("#patch"));
  const spec = "/spec/template/spec";
  assert.deepEqual(patch.slice(0, 2), [
    { op: "move", from: `${spec}/initContainers/1`, path: `${spec}/initContainers/0` },
    { op: "move", from: `${spec}/containers/0`, path: `${spec}/initContainers/1` },
  ]);
  assert.deepEqual(patch.slice(2).map((op) => `${op.op} ${op.path}`), [
    `add ${spec}/initContainers/1/restartPolicy`,
    `add ${spec}/initContainers/1/startupProbe`,
    `remove ${spec}/initContainers/1/lifecycle`,
  ]);
  assert.match(await page.textContent(".document .verdict"), /^changed \(5 patch operations\)$/);
  const input = parse(await page.inputValue("#input"));
  for (const shown of [patch, JSON.parse(await page.textContent("#admission-patch"))]) {
    assert.deepEqual(jsonpatch.applyPatch(input, shown, true, false).newDocument, output);
  }
  assert.equal(await page.textContent("#admission-count"), " (42 operations)");
  // Turning Linkerd off in the meshes setting leaves the proxy alone.
  await page.uncheck("#mesh-linkerd");
  await page.waitForFunction(() => /unchanged|0 changed/.test(document.getElementById("status").textContent));
  assert.match(await page.textContent("#settings-json"), /"meshes":\["istio","kuma","consul"\]/);
  await page.close();
});

test("the Kuma sample: with the control plane's timings under kuma, Kuma's own native rendering", async () => {
  const page = await open();
  await page.click("button[data-sample=kuma-pod]");
  await page.waitForFunction(() => /changed/.test(document.getElementById("status").textContent));
  const lanes = await page.$$eval(".order .lane", (rows) =>
    rows.map((row) => [...row.querySelectorAll(".chip")].map((chip) => chip.textContent)),
  );
  assert.deepEqual(lanes, [
    ["init", "kuma-init", "kuma-sidecar", "busybox"],
    ["kuma-init", "kuma-sidecar", "init", "busybox"],
  ]);
  // kuma-cp's default timings, then those Kuma rendered the fixture with.
  const probe = async () => podSpec(parse(await page.textContent("#output"))).initContainers[1].startupProbe;
  assert.equal((await probe()).failureThreshold, 12);
  await page.fill("#kuma", "startupProbe: {initialDelaySeconds: 261, timeoutSeconds: 24, periodSeconds: 26, failureThreshold: 213}");
  await page.waitForFunction(() => /"failureThreshold":213/.test(document.getElementById("settings-json").textContent));
  assert.deepEqual(parse(await page.textContent("#output")), single(await fixture("test_data/kuma/pod-02.native.yaml")));
  // A timing Kuma cannot have is refused in the policy's words; Kuma left out of meshes is left alone.
  await page.fill("#kuma", "startupProbe: {periodSeconds: -1}");
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /kuma\.startupProbe\.periodSeconds must be a whole number/);
  await page.fill("#kuma", "");
  await page.uncheck("#mesh-kuma");
  await page.waitForFunction(() => /unchanged|0 changed/.test(document.getElementById("status").textContent));
  await page.close();
});

test("the Consul sample: each dataplane right after its own init container, consul-k8s's own native rendering", async () => {
  const page = await open();
  await page.click("button[data-sample=consul-multiport]");
  await page.waitForFunction(() => /changed/.test(document.getElementById("status").textContent));
  const lanes = await page.$$eval(".order .lane", (rows) =>
    rows.map((row) => [...row.querySelectorAll(".chip")].map((chip) => chip.textContent)),
  );
  assert.deepEqual(lanes[1].slice(0, 4), [
    "consul-connect-inject-init-web", "consul-dataplane-web",
    "consul-connect-inject-init-web-admin", "consul-dataplane-web-admin",
  ]);
  assert.deepEqual(parse(await page.textContent("#output")), single(await fixture("test_data/consul/multiport.native.yaml")));
  // The injector's timings come from the consul settings; a bad one is refused in the policy's words.
  await page.fill("#consul", "startupProbe: {failureThreshold: 30}");
  await page.waitForFunction(() => /"failureThreshold":30/.test(document.getElementById("settings-json").textContent));
  assert.equal(podSpec(parse(await page.textContent("#output"))).initContainers[1].startupProbe.failureThreshold, 30);
  await page.fill("#consul", "dataplaneSupportsNative: yes");
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /consul\.dataplaneSupportsNative must be true or false/);
  await page.close();
});

test("the Kuma sample with a user's native sidecar: its probes go through Kuma's probe proxy", async () => {
  const page = await open();
  await page.click("button[data-sample=kuma-user-sidecar]");
  await page.waitForFunction(() => /changed/.test(document.getElementById("status").textContent));
  const shipper = podSpec(parse(await page.textContent("#output"))).initContainers.find((c) => c.name === "log-shipper");
  assert.deepEqual(shipper.readinessProbe.httpGet, { path: "/tcp/2020", port: 9001 });
  // The patch shows the probes edited in place, and gives the output.
  const patch = JSON.parse(await page.textContent("#patch"));
  const at = podSpec(parse(await page.textContent("#output"))).initContainers.findIndex((c) => c.name === "log-shipper");
  assert.ok(patch.some((op) => op.path.startsWith(`/spec/initContainers/${at}/readinessProbe`)), JSON.stringify(patch));
  const input = parse(await page.inputValue("#input"));
  assert.deepEqual(jsonpatch.applyPatch(input, patch, true, false).newDocument, parse(await page.textContent("#output")));
  await page.close();
});

test("from 1,024 pixels up, the input and settings stay in their column, beside the result", async () => {
  const page = await open();
  await page.click("button[data-sample=linkerd-init]");
  await page.waitForSelector(".document .verdict.changed");
  // The settings line and the patch are the longest unbreakable texts on the page.
  await page.fill("#extra-sidecars", "- name: vault-agent\n  setupContainers: [vault-agent-init]\n");
  await page.waitForFunction(() => /vault-agent-init/.test(document.getElementById("settings-json").textContent));
  await mkdir(join(root, "target"), { recursive: true });
  for (const width of [1024, 1280, 1400, 1920]) {
    await page.setViewportSize({ width, height: 1000 });
    const boxes = await page.evaluate(() => {
      const box = (selector) => {
        const { left, right, top, bottom } = document.querySelector(selector).getBoundingClientRect();
        return { selector, left, right, top, bottom };
      };
      return {
        left: ["#samples", "#input", "#settings", "#extra-sidecars", "#settings-json"].map(box),
        right: ["#status", ".document", "#output", "#patch"].map(box),
        source: box("#source"),
        result: box("#result"),
      };
    });
    const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    assert.ok(boxes.source.right <= boxes.result.left, `${width}px: the columns overlap`);
    for (const inner of boxes.left) {
      assert.ok(inner.right <= boxes.source.right + 0.5, `${width}px: ${inner.selector} runs out of the input column`);
      for (const other of boxes.right) {
        assert.ok(!overlap(inner, other), `${width}px: ${inner.selector} overlaps ${other.selector}`);
      }
    }
    for (const inner of boxes.right) {
      assert.ok(inner.left >= boxes.result.left - 0.5 && inner.right <= boxes.result.right + 0.5, `${width}px: ${inner.selector} runs out of the result column`);
    }
    await page.screenshot({ path: join(root, "target", `playground-${width}.png`), fullPage: true });
  }
  await page.close();
});
