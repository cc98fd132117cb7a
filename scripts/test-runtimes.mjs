// npm run test:runtimes: bit-identical logits in Node, Deno and headless Chromium (V8), Firefox
// (SpiderMonkey) and WebKit (JavaScriptCore); then in each browser the web demo end to end
// (scripts/browser-e2e.mjs), the optional builds and the memory cap's message
// (scripts/browser-checks.mjs), and streaming a .dipstream through OPFS and Blob slices
// (scripts/browser-stream-e2e.mjs). Prints one JSON line {node, deno, chromium, firefox, webkit}
// with the SHA-256 of the float32 logits of the fixture sequence, dense and DIP keep 0.5, from the
// same probe bundle (build/browser-tests/probe.js); exits non-zero if any hash differs or a check
// fails. The browsers open tests/browser/tasks.html, which reports back with a POST
// (scripts/browser-pages.mjs); the Chromium demo tests drive the page with playwright.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { logitsHashes } from "../build/browser-tests/probe.js";
import { startDemoServer } from "../build/host/index.js";
import { CHROMIUM_ARGS, PROBE_FILES, runBrowserE2E, runBrowserE2EInPage } from "./browser-e2e.mjs";
import { checkBuilds, checkMemoryCap } from "./browser-checks.mjs";
import { acceptReports, browserVersion, PAGE_BROWSERS, runTask } from "./browser-pages.mjs";
import { runBrowserStreamE2EInFreshProfile, runBrowserStreamE2EInPage } from "./browser-stream-e2e.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
const modelPath = resolve(shared, "models", "stories260K", "stories260K-f32.gguf");
const manifestPath = resolve(shared, "fixtures", "stories260K", "manifest.json");
const wasmPath = resolve(root, "build", "engine.wasm");
const log = (m) => process.stderr.write(`test-runtimes: ${m}\n`);

for (const [what, p] of [["model", modelPath], ["fixture manifest", manifestPath], ["engine (npm run build)", wasmPath]]) {
  if (!existsSync(p)) {
    log(`missing ${what}: ${p}`);
    process.exit(1);
  }
}
const versions = {};
for (const name of Object.keys(PAGE_BROWSERS)) {
  versions[name] = browserVersion(name);
  if (!versions[name]) {
    log(`missing ${name} (apt-get install ${PAGE_BROWSERS[name].apt})`);
    process.exit(1);
  }
}
const tokens = JSON.parse(readFileSync(manifestPath, "utf8")).tokens;
log(`${tokens.length} tokens of ${basename(manifestPath)}`);

const out = {};
out.node = await logitsHashes(new Uint8Array(readFileSync(modelPath)), basename(modelPath), new Uint8Array(readFileSync(wasmPath)), tokens);

const deno = spawnSync(resolve(root, "node_modules", ".bin", "deno"), ["run", "--allow-read", "--no-prompt", resolve(root, "scripts", "probe-deno.mjs"), modelPath, wasmPath, manifestPath], {
  encoding: "utf8",
  env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
});
if (deno.status !== 0) {
  log(`deno failed (status ${deno.status}): ${deno.stderr || deno.error}`);
  process.exit(1);
}
out.deno = JSON.parse(deno.stdout.trim().split("\n").pop());

let passed = 0;
let failed = 0;
/** Runs one check; a failure is logged and counted, and the next check still runs. */
async function check(label, run) {
  try {
    await run();
    passed++;
  } catch (e) {
    log(`FAIL: ${label}: ${e.stack ?? e}`);
    failed++;
  }
}

const BROWSERS = ["chromium", "firefox", "webkit"];
const server = await startDemoServer({ port: 0, modelPath, extra: PROBE_FILES });
const reports = acceptReports(server);
try {
  await check("identical logits", async () => {
    for (const name of BROWSERS) out[name] = await runTask(name, server, reports, "hashes", { model: `/models/${basename(modelPath)}`, tokens });
    process.stdout.write(JSON.stringify(out) + "\n");
    const differ = Object.keys(out).filter((r) => JSON.stringify(out[r]) !== JSON.stringify(out.node));
    if (differ.length) throw new Error(`the logits differ from Node's in ${differ.join(", ")}`);
    const deno = spawnSync(resolve(root, "node_modules", ".bin", "deno"), ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
    log(`identical in node (${process.version}), deno (${deno}), ${BROWSERS.map((b) => `${b} (${versions[b]})`).join(", ")}`);
  });
  await check("chromium end-to-end", async () => {
    const browser = await chromium.launch({ executablePath: PAGE_BROWSERS.chromium.bin, args: CHROMIUM_ARGS });
    try {
      await runBrowserE2E(browser, server.url, { modelPath });
    } finally {
      await browser.close();
    }
  });
  for (const name of ["firefox", "webkit"]) await check(`${name} end-to-end`, () => runBrowserE2EInPage(name, server, reports, { modelPath }));
  for (const name of BROWSERS) {
    for (const run of [checkBuilds, checkMemoryCap]) await check(`${name} ${run.name}`, () => run(name, server, reports, { modelPath, tokens }));
  }
} finally {
  await server.close();
}
await check("chromium streaming", () => runBrowserStreamE2EInFreshProfile({ modelPath, chromiumPath: PAGE_BROWSERS.chromium.bin }));
for (const name of ["firefox", "webkit"]) await check(`${name} streaming`, () => runBrowserStreamE2EInPage(name, { modelPath }));
log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
