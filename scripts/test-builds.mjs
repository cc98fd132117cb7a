// npm run test:builds: the optional engine builds in Node, Deno and headless Chromium (a page with
// COOP/COEP from `dip serve`'s server): threads at 2 give logits bit-identical to 1 thread, and the
// relaxed-SIMD build runs and stays close to the default (tests/browser/probe.ts buildChecks). Prints one
// JSON line {node, deno, chromium}; exits non-zero if a runtime fails a check.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { chromium } from "playwright-core";
import { buildChecks, setThreadSpawner } from "../build/browser-tests/probe.js";
import { nodeThreadSpawner, startDemoServer } from "../build/host/index.js";
import { CHROMIUM_ARGS, PROBE_FILES } from "./browser-e2e.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
const modelPath = resolve(shared, "models", "stories260K", "stories260K-f32.gguf");
const manifestPath = resolve(shared, "fixtures", "stories260K", "manifest.json");
const tokens = JSON.parse(readFileSync(manifestPath, "utf8")).tokens;
const FILES = { default: "engine.wasm", relaxed: "engine-relaxed.wasm", threads: "engine-threads.wasm", worker: "thread-worker.wasm" };
const log = (m) => process.stderr.write(`test-builds: ${m}\n`);

setFlagsFromString("--experimental-wasm-relaxed-simd"); // Node 20 (host/node/wasm.ts does the same)
setThreadSpawner(nodeThreadSpawner); // the probe bundle is the browser build: give it Node's workers
const bytes = Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, new Uint8Array(readFileSync(resolve(root, "build", f)))]));
const out = { node: await buildChecks(new Uint8Array(readFileSync(modelPath)), "stories260K-f32.gguf", bytes, tokens) };

const deno = spawnSync(resolve(root, "node_modules", ".bin", "deno"), ["run", "--allow-read", "--no-prompt", resolve(root, "scripts", "probe-builds-deno.mjs"), modelPath, resolve(root, "build"), manifestPath], {
  encoding: "utf8",
  env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
});
out.deno = deno.status === 0 ? JSON.parse(deno.stdout.trim().split("\n").pop()) : { error: `status ${deno.status}: ${deno.stderr}` };

const server = await startDemoServer({ port: 0, modelPath, extra: PROBE_FILES });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}probe.html`);
  out.chromium = await page.evaluate(
    async ([files, toks]) => {
      const get = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
      const wasm = {};
      for (const [k, f] of Object.entries(files)) wasm[k] = await get(`/${f}`);
      return (await import("/probe.js")).buildChecks(await get("/models/stories260K-f32.gguf"), "stories260K-f32.gguf", wasm, toks);
    },
    [FILES, tokens],
  );
} finally {
  await browser.close();
  await server.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
const bad = Object.entries(out).filter(([, r]) => r.error || r.threads_error || r.relaxed_error || Object.entries(r).some(([k, v]) => k.startsWith("threads2") && v !== true) || !(r.relaxed_max_abs_diff < 1e-4));
for (const [rt, r] of bad) log(`FAIL in ${rt}: ${JSON.stringify(r)}`);
log(bad.length ? `${bad.length} runtime(s) failed` : "threads bit-identical and relaxed SIMD within 1e-4 in node, deno and chromium");
process.exit(bad.length ? 1 : 0);
