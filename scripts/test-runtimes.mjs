// npm run test:runtimes: bit-identical logits in Node, Deno and headless Chromium (V8), Firefox
// (SpiderMonkey) and WebKit (JavaScriptCore), then the web demo end to end (scripts/browser-e2e.mjs),
// then streaming a .dipstream in the browser through OPFS and Blob slices (scripts/browser-stream-e2e.mjs).
// Prints one JSON line {node, deno, chromium, firefox, webkit} with the SHA-256 of the float32 logits
// of the fixture sequence, dense and DIP keep 0.5, from the same probe bundle
// (build/browser-tests/probe.js); exits non-zero if any hash differs or a check fails. Firefox and
// WebKit open tests/browser/tasks.html, which reports back with a POST (scripts/browser-pages.mjs).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { logitsHashes } from "../build/browser-tests/probe.js";
import { startDemoServer } from "../build/host/index.js";
import { CHROMIUM_ARGS, PROBE_FILES, runBrowserE2E, runBrowserE2EInPage } from "./browser-e2e.mjs";
import { checkBuilds, checkMemoryCap } from "./browser-checks.mjs";
import { acceptReports, browserVersion, PAGE_BROWSERS, reportFromPage } from "./browser-pages.mjs";
import { runBrowserStreamE2EInFreshProfile, runBrowserStreamE2EInPage } from "./browser-stream-e2e.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
const modelPath = resolve(shared, "models", "stories260K", "stories260K-f32.gguf");
const manifestPath = resolve(shared, "fixtures", "stories260K", "manifest.json");
const wasmPath = resolve(root, "build", "engine.wasm");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const log = (m) => process.stderr.write(`test-runtimes: ${m}\n`);

for (const [what, p] of [["model", modelPath], ["fixture manifest", manifestPath], ["engine (npm run build)", wasmPath], ["Chromium (apt-get install chromium)", chromiumPath]]) {
  if (!existsSync(p)) {
    log(`missing ${what}: ${p}`);
    process.exit(1);
  }
}
const versions = {};
for (const name of ["firefox", "webkit"]) {
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

const server = await startDemoServer({ port: 0, modelPath, extra: PROBE_FILES });
const reports = acceptReports(server);
const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
let failed = false;
let failedChecks = 0;
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}probe.html`);
  out.chromium = await page.evaluate(async ([model, toks]) => (await import("/probe.js")).logitsHashesFromUrls(model, "/engine.wasm", toks), [`/models/${basename(modelPath)}`, tokens]);
  await page.close();
  for (const name of ["firefox", "webkit"]) {
    out[name] = await reportFromPage(name, server, reports, `tasks.html?task=hashes&args=${encodeURIComponent(JSON.stringify({ model: `/models/${basename(modelPath)}`, tokens }))}`);
  }

  const differ = Object.keys(out).filter((r) => JSON.stringify(out[r]) !== JSON.stringify(out.node));
  process.stdout.write(JSON.stringify(out) + "\n");
  if (differ.length) {
    log(`FAIL: the logits differ from Node's in ${differ.join(", ")}`);
    failed = true;
  } else {
    const deno = spawnSync(resolve(root, "node_modules", ".bin", "deno"), ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
    log(`identical in node (${process.version}), deno (${deno}), chromium (${browser.version()}), firefox (${versions.firefox}) and webkit (${versions.webkit})`);
  }
  try {
    await runBrowserE2E(browser, server.url, { modelPath });
  } catch (e) {
    log(`FAIL: browser end-to-end: ${e.stack ?? e}`);
    failed = true;
  }
  for (const name of ["firefox", "webkit"]) {
    try {
      await runBrowserE2EInPage(name, server, reports, { modelPath });
    } catch (e) {
      log(`FAIL: ${name} end-to-end: ${e.stack ?? e}`);
      failedChecks++;
    }
  }
  for (const name of ["chromium", "firefox", "webkit"]) {
    for (const run of [checkBuilds, checkMemoryCap]) {
      try {
        await run(name, server, reports, { modelPath, tokens });
      } catch (e) {
        log(`FAIL: ${name} ${run.name}: ${e.stack ?? e}`);
        failedChecks++;
      }
    }
  }
} finally {
  await browser.close();
  await server.close();
}
let streamFailed = false;
try {
  await runBrowserStreamE2EInFreshProfile({ modelPath, chromiumPath });
} catch (e) {
  log(`FAIL: browser streaming: ${e.stack ?? e}`);
  streamFailed = true;
}
for (const name of ["firefox", "webkit"]) {
  try {
    await runBrowserStreamE2EInPage(name, { modelPath });
  } catch (e) {
    log(`FAIL: ${name} streaming: ${e.stack ?? e}`);
    failedChecks++;
  }
}
const fails = Number(failed) + Number(streamFailed) + failedChecks;
log(`${3 + 2 + 6 + 2 - fails} passed, ${fails} failed`);
process.exit(fails ? 1 : 0);
