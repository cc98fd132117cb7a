// End-to-end test of the web demo in headless Chromium (playwright), Firefox and WebKit (the page
// drives itself: tests/browser/demo-driver.ts) (run by scripts/test-runtimes.mjs, or alone:
// `node scripts/browser-e2e.mjs`). Loads the page served by `dip serve`, generates 32 tokens with
// dip and with dip-ca, and checks the text, tokens and simulator numbers against the same run in
// Node (the same runtime-neutral session code), that the hit-rate chart rendered, that a wrong file
// gives a readable message and that a model opened from a file loads. Saves a screenshot (see screenshotDir).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Engine, loadModelFromBytes, SentencePieceTokenizer } from "../build/web/dip.js";
import { runSession } from "../build/web/session.js";
import { reportFromPage } from "./browser-pages.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The browser test harnesses (tests/browser/, bundled into build/browser-tests/), which the runners
 *  serve beside the demo: startDemoServer({ extra: PROBE_FILES }). */
export const PROBE_FILES = {
  "/probe.html": resolve(root, "tests", "browser", "probe.html"),
  "/probe.js": resolve(root, "build", "browser-tests", "probe.js"),
  "/stream-probe.js": resolve(root, "build", "browser-tests", "stream-probe.js"),
  "/tasks.html": resolve(root, "tests", "browser", "tasks.html"),
  "/tasks.js": resolve(root, "build", "browser-tests", "tasks.js"),
  "/demo-page.js": resolve(root, "build", "browser-tests", "demo-page.js"),
  "/demo-driver.js": resolve(root, "build", "browser-tests", "demo-driver.js"),
  "/stream-driver.js": resolve(root, "build", "browser-tests", "stream-driver.js"),
};

export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const RUNS = [
  { prompt: "Once upon a time", tokens: 32, method: "dip", keep: 0.5, gamma: 0.5, policy: "lru", dramFraction: 0.7, temperature: 0, seed: 42 },
  { prompt: "Once upon a time", tokens: 32, method: "dip-ca", keep: 0.5, gamma: 0.5, policy: "lru", dramFraction: 0.7, temperature: 0, seed: 42 },
];

/** The same run in Node: the page's session code on the runtime-neutral engine bundle. */
async function nodeRun(modelPath, settings) {
  const model = loadModelFromBytes(readFileSync(modelPath), basename(modelPath));
  const engine = await Engine.create(model, { wasmBytes: new Uint8Array(readFileSync(resolve(root, "build", "engine.wasm"))) });
  const { result, sim } = runSession(engine, new SentencePieceTokenizer(model.vocab), settings);
  return { text: result.text, tokens: result.tokens, generated: result.generated_tokens, sim };
}

const log = (m) => process.stderr.write(`browser-e2e: ${m}\n`);

// Screenshots go to build/ so a test run never rewrites tracked files; DIP_SCREENSHOT_DIR=docs
// refreshes the README's images.
export const screenshotDir = process.env.DIP_SCREENSHOT_DIR ? resolve(process.env.DIP_SCREENSHOT_DIR) : resolve(root, "build");

/** A file that is not a model: the page must refuse it with one readable line. */
const WRONG_FILE = { name: "holiday.png", mimeType: "image/png", buffer: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(" a picture, not a model")]) };

/** What the page showed after `run` (tests/browser/demo-page.ts shownRun) against the same run in Node. */
async function checkShownRun(browserName, run, shown, modelPath) {
  const got = shown.run;
  assert.ok(got && got.type === "done", `generation failed: ${shown.error}`);
  const want = await nodeRun(modelPath, run);
  assert.equal(got.generated, 32, "32 new tokens");
  assert.equal(got.text, want.text, `${run.method}: page text differs from Node's`);
  assert.deepEqual(got.tokens, want.tokens);
  assert.deepEqual(got.sim, want.sim, `${run.method}: simulator numbers differ from Node's`);
  assert.equal(shown.text.trim(), want.text.trim(), "rendered text");
  // the hit-rate chart: one bar per layer, drawn from the final numbers
  assert.equal(shown.bars.length, 5, "one bar per layer");
  assert.ok(shown.bars.some((h) => h > 0), "some layer hits its cache");
  assert.equal(shown.hit, `${(100 * want.sim.hitRate).toFixed(1)}%`);
  assert.equal(shown.flashLines, 1, "flash bytes chart drawn");
  log(`${browserName} ${run.method}: ${JSON.stringify(got.text)} (hit rate ${(100 * got.sim.hitRate).toFixed(1)}%) matches Node`);
}

/** A wrong file: one readable line; the model loaded before stays loaded (Generate stays enabled). */
function checkWrongFile(browserName, { error: message, errorVisible, generateDisabled }) {
  assert.match(message, /holiday\.png: not a model this engine reads.*still loaded/);
  assert.ok(errorVisible, "the message is shown");
  assert.ok(!generateDisabled, "the previous model can still generate");
  log(`${browserName} wrong file: ${message}`);
}

/** The demo in Chromium, driven by playwright (real input events and file chooser). */
export async function runBrowserE2E(browser, baseUrl, { modelPath, screenshot = resolve(screenshotDir, "demo.png") }) {
  const page = await browser.newPage({ viewport: { width: 1360, height: 820 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(baseUrl);
  const state = (states, timeout = 60000) => page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout });
  await state(["ready", "error"]);
  assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", `the default model did not load: ${await page.textContent("#error")}`);
  assert.match(await page.textContent("#model-info"), /5 layers, dim 64/);

  for (const run of RUNS) {
    await page.fill("#prompt", run.prompt);
    await page.selectOption("#method", run.method);
    await page.fill("#tokens", String(run.tokens));
    await page.fill("#temperature", String(run.temperature));
    await page.fill("#seed", String(run.seed));
    await page.selectOption("#policy", run.policy);
    await page.evaluate(([keep, gamma, dram]) => {
      for (const [id, v] of [["keep", keep], ["gamma", gamma], ["dram", dram]]) {
        const el = document.getElementById(id);
        el.value = String(v);
        el.dispatchEvent(new Event("input"));
      }
    }, [run.keep, run.gamma, run.dramFraction * 100]);
    await page.click("#generate");
    await state(["done", "error"]);
    await checkShownRun("chromium", run, await page.evaluate(async () => (await import("/demo-page.js")).shownRun()), modelPath);
  }
  await page.screenshot({ path: screenshot });
  log(`screenshot ${screenshot}`);

  // a wrong file: one readable line; the working model stays loaded and still generates
  const loadedName = await page.textContent("#model-name");
  await page.setInputFiles("#model-file", WRONG_FILE);
  await state(["error"]);
  checkWrongFile("chromium", { error: await page.textContent("#error"), errorVisible: await page.isVisible("#error"), generateDisabled: await page.isDisabled("#generate") });
  assert.equal(await page.textContent("#model-name"), loadedName, "the previous model is still shown");
  await page.evaluate(() => (window.dipLastRun = undefined));
  await page.click("#generate");
  await state(["done", "error"]);
  assert.equal((await page.evaluate(() => window.dipLastRun))?.type, "done", `the kept model did not generate: ${await page.textContent("#error")}`);
  await page.screenshot({ path: resolve(root, "build", "demo-error.png") });

  // a model from the file picker (the File path, not a URL)
  await page.setInputFiles("#model-file", modelPath);
  await state(["ready", "error"]);
  assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", await page.textContent("#error"));
  assert.ok(!(await page.isVisible("#error")));
  assert.deepEqual(errors, [], "no uncaught page errors");
  await page.close();
}

/**
 * The same scenario in a browser without WebDriver (Firefox, WebKit; scripts/browser-pages.mjs):
 * the page runs tests/browser/demo-driver.ts and reports what it showed, checked as above.
 */
export async function runBrowserE2EInPage(browserName, server, reports, { modelPath }) {
  const args = { runs: RUNS, model: `/models/${basename(modelPath)}`, wrongFile: { name: WRONG_FILE.name, type: WRONG_FILE.mimeType, bytes: [...WRONG_FILE.buffer] } };
  const r = await reportFromPage(browserName, server, reports, `?driver=/demo-driver.js&args=${encodeURIComponent(JSON.stringify(args))}`);
  assert.match(r.modelInfo, /5 layers, dim 64/);
  for (const [i, run] of RUNS.entries()) await checkShownRun(browserName, run, r.runs[i], modelPath);
  assert.equal(r.wrongFile.state, "error");
  checkWrongFile(browserName, r.wrongFile);
  assert.equal(r.pickedModel.state, "ready", r.pickedModel.error);
  assert.ok(!r.pickedModel.errorVisible);
  assert.deepEqual(r.pageErrors, [], "no uncaught page errors");
}

// standalone: node scripts/browser-e2e.mjs [chromium] [firefox] [webkit] (default: all three)
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { chromium } = await import("playwright-core");
  const { startDemoServer } = await import("../build/host/index.js");
  const { acceptReports } = await import("./browser-pages.mjs");
  const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
  const modelPath = resolve(shared, "models", "stories260K", "stories260K-f32.gguf");
  const names = process.argv.length > 2 ? process.argv.slice(2) : ["chromium", "firefox", "webkit"];
  const server = await startDemoServer({ port: 0, modelPath, extra: PROBE_FILES });
  const reports = acceptReports(server);
  try {
    for (const name of names) {
      if (name !== "chromium") {
        await runBrowserE2EInPage(name, server, reports, { modelPath });
        continue;
      }
      const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
      try {
        await runBrowserE2E(browser, server.url, { modelPath });
      } finally {
        await browser.close();
      }
    }
    log("ok");
  } finally {
    await server.close();
  }
}
