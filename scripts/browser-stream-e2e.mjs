// Streaming in the browser, end to end, in Chromium (playwright), Firefox and WebKit (the page
// drives itself: tests/browser/stream-driver.ts) (run by scripts/test-runtimes.mjs, or alone:
// `node scripts/browser-stream-e2e.mjs`). Converts stories260K to a .dipstream in a temporary
// folder and, with a DRAM budget where the MLP does not fit (columns really stream):
// - the SHA-256 of the logits of 48 greedy steps (dense and DIP keep 0.5) from the stream probe
//   worker, reading the file through OPFS (copied there, then a sync access handle) and through
//   Blob slices, equals Node's resident run of the GGUF and Node's streamed run (fs.readSync);
// - the demo page streams it (a picked File copied into OPFS, the stored copy, the served URL
//   fetched into OPFS, a picked File read as Blob slices with paced reads) and shows the same
//   text, tokens and report numbers as the same session in Node;
// - a file with one flipped byte in a column is refused with the checksum error, in the probe
//   (OPFS) and on the page; a budget below the minimum gets a message with the minimum; a file
//   that is not a .dipstream is refused before it is copied.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadModelFromBytes, SentencePieceTokenizer } from "../build/web/dip.js";
import { greedyLogitsHashes } from "../build/browser-tests/probe.js";
import { runStreamSession, setDefaultEngineWasm, streamEngine, streamMinimumBytes, streamTableBytes } from "../build/web/session.js";
import { openStreamFile, startDemoServer, writeStreamFile } from "../build/host/index.js";
import { PROBE_FILES, screenshotDir } from "./browser-e2e.mjs";
import { acceptReports, reportFromPage, runTask } from "./browser-pages.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const STEPS = 48;
const log = (m) => process.stderr.write(`browser-stream-e2e: ${m}\n`);

/** Fields of the stream report that do not depend on timing (the rest are seconds and rates). */
const DETERMINISTIC = ["policy", "dram_budget_bytes", "minimum_dram_bytes", "cache_entries", "cache_bytes", "stage_bytes", "flash_gbps", "storage_bytes_per_token", "storage_reads_per_token", "hit_rate", "arena_bytes", "simulated_hit_rate", "simulated_flash_bytes_per_token", "simulated_dram_bytes_per_token", "mobile_simulated_tok_s", "mobile_device", "bytes_per_token", "tied_embeddings"];
// (simulated_tok_s of a paced run uses the DRAM bandwidth probed during the run: a timing)
const pick = (r) => Object.fromEntries(DETERMINISTIC.map((k) => [k, r[k]]));

const SETTINGS = { prompt: "Once upon a time", tokens: 32, method: "dip", keep: 0.5, gamma: 0.5, policy: "lfu", dramFraction: 0.7, temperature: 0, seed: 42 };

/**
 * The Node side, shared by every browser: the model as a .dipstream in `dir` and a copy with one
 * flipped byte in layer 1's hidden column 3; the logits of Node's resident and streamed runs (with
 * the minimum DRAM plus 30% of the MLP, so columns really stream); a server offering both.
 */
async function prepare(dir, modelPath) {
  const model = loadModelFromBytes(readFileSync(modelPath), basename(modelPath));
  const streamPath = join(dir, "stories260K.dipstream");
  const { header } = await writeStreamFile(model, streamPath);
  const corruptPath = join(dir, "corrupt.dipstream");
  const bytes = readFileSync(streamPath);
  bytes[header.column_offsets[1 * 2 + 1] + 3 * header.groups[1].entry_bytes + 5] ^= 0x10;
  writeFileSync(corruptPath, bytes);

  const wasm = new Uint8Array(readFileSync(resolve(root, "build", "engine.wasm")));
  // the engine's own builds by name (a stream read on an I/O thread runs the shared-memory one)
  const BUILD_FILES = { default: "engine.wasm", threads: "engine-threads.wasm", "thread-worker": "thread-worker.wasm" };
  setDefaultEngineWasm(async (build = "default") => new Uint8Array(readFileSync(resolve(root, "build", BUILD_FILES[build]))));
  const resident = await greedyLogitsHashes(model, wasm, STEPS);
  const o = openStreamFile(streamPath);
  const c = o.model.config;
  let dramBytes, nodeStreamed;
  try {
    dramBytes = Math.round((await streamMinimumBytes(o)) + streamTableBytes(o.stream.header) + 0.3 * c.nLayers * 3 * 4 * c.dim * c.hiddenDim);
    nodeStreamed = await greedyLogitsHashes(o.model, wasm, STEPS, { source: o.stream, dramBytes });
  } finally {
    o.close();
  }
  assert.deepEqual(nodeStreamed.hashes, resident.hashes, "Node streamed vs resident");
  assert.deepEqual(nodeStreamed.tokens, resident.tokens);
  assert.ok(nodeStreamed.cacheEntries[0] < c.dim && nodeStreamed.cacheEntries[1] < c.hiddenDim, `caches ${nodeStreamed.cacheEntries} smaller than the MLP`);
  assert.ok(nodeStreamed.bytesRead > 0);
  log(`node: resident = streamed (${(dramBytes / 1e6).toFixed(3)} MB budget, caches ${nodeStreamed.cacheEntries.join("+")} columns/layer, ${(nodeStreamed.bytesRead / 1e6).toFixed(2)} MB read): ${JSON.stringify(resident.hashes)}`);
  const server = await startDemoServer({ port: 0, modelPath, streamPath, extra: { ...PROBE_FILES, "/models/corrupt.dipstream": corruptPath } });
  return { modelPath, streamPath, corruptPath, resident, nodeStreamed, dramBytes, nLayers: c.nLayers, server };
}

/** The stream probe worker's answer (tests/browser/stream-probe.ts) against Node's runs. */
function checkProbe(label, got, t) {
  assert.ok(got.ok, `${label}: ${got.message}`);
  assert.deepEqual(got.hashes, t.resident.hashes, `${label}: logits differ from Node's`);
  assert.deepEqual(got.tokens, t.resident.tokens);
  assert.deepEqual(got.cacheEntries, t.nodeStreamed.cacheEntries);
  assert.equal(got.bytesRead, t.nodeStreamed.bytesRead, `${label}: bytes read`);
  log(`${label}: logits of ${STEPS} greedy steps identical to Node's resident and streamed runs`);
}

const CORRUPT_PROBE = /corrupt\.dipstream: layer 1 hidden column 3: checksum mismatch .*the file is corrupt/;

/**
 * The stream probe worker in browser `name` (a fresh profile, scripts/browser-pages.mjs): through
 * OPFS where a worker has sync access handles and through Blob slices, logits equal to Node's; a
 * corrupt column refused with the checksum error. Returns whether there was OPFS.
 */
async function checkProbes(name, t) {
  const reports = acceptReports(t.server);
  const task = (task, args) => runTask(name, t.server, reports, task, args);
  const { opfs_sync: opfs } = await task("features", {});
  const vias = opfs ? ["opfs", "blob"] : ["blob"];
  for (const via of vias) checkProbe(`${name} ${via}`, await task("stream", { url: "/models/stories260K.dipstream", via, steps: STEPS, dramBytes: t.dramBytes }), t);
  await assert.rejects(task("stream", { url: "/models/corrupt.dipstream", via: vias[0], steps: STEPS, dramBytes: t.dramBytes }), CORRUPT_PROBE);
  log(`${name} ${vias[0]}: the corrupt file refused`);
  return { reports, opfs };
}

/** What the page showed after a streamed run (tests/browser/demo-page.ts shownStreamRun) against the same session in Node. */
async function checkStreamRun(label, shown, t, gbps) {
  const got = shown.run;
  assert.ok(got && got.type === "done" && got.stream, `${label}: generation failed: ${shown.error}`);
  const s = openStreamFile(t.streamPath);
  let want;
  try {
    const engine = await streamEngine(s, t.dramBytes, SETTINGS.policy);
    const { result, report } = await runStreamSession(engine, s.stream, new SentencePieceTokenizer(s.model.vocab), SETTINGS, gbps);
    want = { text: result.text, tokens: result.tokens, report };
  } finally {
    s.close();
  }
  assert.equal(got.text, want.text, `${label}: text`);
  assert.deepEqual(got.tokens, want.tokens, `${label}: tokens`);
  assert.deepEqual(pick(got.stream), pick(want.report), `${label}: report`);
  assert.ok(got.stream.storage_bytes_per_token > 0 && got.stream.hit_rate < 1, `${label}: columns streamed`);
  assert.equal(shown.tableHit, `${(100 * want.report.hit_rate).toFixed(1)}%`);
  assert.equal(shown.tableSimHit, `${(100 * want.report.simulated_hit_rate).toFixed(1)}%`);
  assert.match(shown.summary, /tok\/s measured vs .* simulated .* read from storage per token/s);
  assert.equal(shown.bars.length, t.nLayers);
  const r = got.stream;
  log(
    `${label}: ${JSON.stringify(got.text.slice(0, 40))}... matches Node; ${(r.storage_bytes_per_token / 1e3).toFixed(1)} KB in ${r.storage_reads_per_token.toFixed(1)} reads per token, ` +
      `hit rate ${(100 * r.hit_rate).toFixed(1)}%; ${r.tok_s.toFixed(1)} tok/s, fetch ${(1e3 * r.fetch_seconds_per_token).toFixed(2)} ms/token in the page vs ${want.report.tok_s.toFixed(1)} tok/s, ${(1e3 * want.report.fetch_seconds_per_token).toFixed(2)} ms/token in Node`,
  );
}

const NOT_A_STREAM = /stories260K-f32\.gguf: not a \.dipstream file \(magic "DIPSTRM1" missing\)/;
const BELOW_MINIMUM = /DRAM budget of 0\.100 MB is below the \d+\.\d+ MB the streamed model needs/;
const CORRUPT_PAGE = /corrupt\.dipstream: layer 1 hidden column 3: checksum mismatch/;
const VIA_OPFS = /streamed from browser storage \(OPFS sync access handle\)/;
const VIA_BLOB = /streamed from the file \(Blob slices\)/;

/** Chromium through playwright. `browser`: a Browser or BrowserContext (anything with newPage). */
export async function runBrowserStreamE2E(browser, { modelPath }) {
  const dir = mkdtempSync(join(tmpdir(), "dip-web-stream-"));
  let t;
  try {
    t = await prepare(dir, modelPath);
    const { server, dramBytes } = t;
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));

    await checkProbes("chromium", t);

    // ---- the demo page ----
    await page.goto(server.url);
    const state = (states, timeout = 60000) => page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout });
    const isReady = async () => assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", await page.textContent("#error"));
    await state(["ready", "error"]);
    await isReady();
    assert.equal(await page.inputValue("#stream-url"), "models/stories260K.dipstream", "dip serve --stream offers the file");

    const generate = async (gbps) => {
      await page.fill("#prompt", SETTINGS.prompt);
      await page.selectOption("#method", SETTINGS.method);
      await page.selectOption("#policy", SETTINGS.policy);
      await page.fill("#tokens", String(SETTINGS.tokens));
      await page.fill("#temperature", "0");
      await page.fill("#seed", String(SETTINGS.seed));
      await page.evaluate((keep) => {
        const el = document.getElementById("keep");
        el.value = String(keep);
        el.dispatchEvent(new Event("input"));
      }, SETTINGS.keep);
      await page.fill("#stream-dram", String(dramBytes));
      await page.fill("#stream-gbps", gbps === undefined ? "" : String(gbps));
      await page.click("#generate");
      await state(["done", "error"]);
      return page.evaluate(async () => (await import("/demo-page.js")).shownStreamRun());
    };
    const check = async (label, gbps) => checkStreamRun(`chromium page ${label}`, await generate(gbps), t, gbps);

    // not a .dipstream: refused at its first chunk, before anything is stored
    await page.check("#stream-store");
    await page.setInputFiles("#stream-file", modelPath);
    await state(["error"]);
    assert.match(await page.textContent("#error"), NOT_A_STREAM);

    // a picked file copied into OPFS
    await page.setInputFiles("#stream-file", t.streamPath);
    await state(["ready", "error"]);
    await isReady();
    assert.match(await page.textContent("#model-info"), VIA_OPFS);
    assert.equal(await page.evaluate(() => document.body.dataset.mode), "stream");
    await check("OPFS", undefined);
    await page.screenshot({ path: resolve(screenshotDir, "demo-stream.png"), fullPage: true });

    // the stored copy again, from the list
    assert.ok(await page.isVisible("#stored-row"), "the stored copy is listed");
    await page.selectOption("#stored", "stories260K.dipstream");
    await page.click("#stream-stored");
    await state(["ready", "error"]);
    await isReady();
    await check("OPFS stored copy", undefined);

    // the URL dip serve offers, fetched into OPFS
    await page.click("#stream-fetch");
    await state(["ready", "error"]);
    await isReady();
    assert.match(await page.textContent("#model-info"), VIA_OPFS);
    await check("URL into OPFS", undefined);

    // the File itself (Blob slices), reads paced to an emulated 0.5 GB/s Flash
    await page.uncheck("#stream-store");
    await page.setInputFiles("#stream-file", t.streamPath);
    await state(["ready", "error"]);
    await isReady();
    assert.match(await page.textContent("#model-info"), VIA_BLOB);
    await check("Blob, paced", 0.5);

    // a budget below the minimum
    await page.fill("#stream-dram", "100KB");
    await page.click("#generate");
    await state(["error"]);
    assert.match(await page.textContent("#error"), BELOW_MINIMUM);

    // a corrupt column: the run stops with the checksum error
    await page.setInputFiles("#stream-file", t.corruptPath);
    await state(["ready", "error"]);
    await isReady();
    await page.fill("#stream-dram", String(dramBytes));
    await page.click("#generate");
    await state(["error"]);
    const message = await page.textContent("#error");
    assert.match(message, CORRUPT_PAGE);
    log(`chromium page, corrupt file: ${message}`);
    assert.deepEqual(errors, [], "no uncaught page errors");
    await page.close();
  } finally {
    await t?.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Firefox and WebKit (scripts/browser-pages.mjs): the probe worker through OPFS where the browser
 * has sync access handles and through Blob slices, then the demo page driven from inside
 * (tests/browser/stream-driver.ts: a picked file stored in OPFS, or read as Blob slices where
 * there is no OPFS, as the page says; paced Blob slices; the wrong file, low budget and corrupt
 * file messages), checked as Chromium's.
 */
export async function runBrowserStreamE2EInPage(name, { modelPath }) {
  const dir = mkdtempSync(join(tmpdir(), "dip-web-stream-"));
  let t;
  try {
    t = await prepare(dir, modelPath);
    const { reports, opfs } = await checkProbes(name, t);

    const args = { settings: SETTINGS, dramBytes: t.dramBytes, model: `/models/${basename(modelPath)}`, stream: "/models/stories260K.dipstream", corrupt: "/models/corrupt.dipstream" };
    const r = await reportFromPage(name, t.server, reports, `?driver=/stream-driver.js&args=${encodeURIComponent(JSON.stringify(args))}`);
    assert.equal(r.offeredUrl, "models/stories260K.dipstream", "dip serve --stream offers the file");
    assert.match(r.notAStream, NOT_A_STREAM);
    assert.equal(r.mode, "stream");
    // where the browser has no OPFS sync access handles, the stored copy falls back to Blob slices and says so
    assert.match(r.storedInfo, opfs ? VIA_OPFS : /streamed from the file \(Blob slices\).*no OPFS sync access handles here, so the file is read in slices/s);
    await checkStreamRun(`${name} page ${opfs ? "OPFS" : "Blob (no OPFS)"}`, r.stored, t, undefined);
    assert.match(r.blobInfo, VIA_BLOB);
    await checkStreamRun(`${name} page Blob, paced`, r.blobPaced, t, 0.5);
    assert.match(r.belowMinimum, BELOW_MINIMUM);
    assert.match(r.corrupt, CORRUPT_PAGE);
    log(`${name} page, corrupt file: ${r.corrupt}`);
    assert.deepEqual(r.pageErrors, [], "no uncaught page errors");
  } finally {
    await t?.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the test in a fresh persistent Chromium profile (removed afterwards): there OPFS lives on
 * disk as for a user's normal profile; a private (incognito) context keeps it in memory behind IPC,
 * which gives the same results but ~0.2 ms per read.
 */
export async function runBrowserStreamE2EInFreshProfile({ modelPath, chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" }) {
  const { chromium } = await import("playwright-core");
  const { CHROMIUM_ARGS } = await import("./browser-e2e.mjs");
  const profile = mkdtempSync(join(tmpdir(), "dip-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: CHROMIUM_ARGS, headless: true });
  try {
    await runBrowserStreamE2E(context, { modelPath });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// standalone: node scripts/browser-stream-e2e.mjs [chromium] [firefox] [webkit] (default: all three)
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
  const modelPath = resolve(shared, "models", "stories260K", "stories260K-f32.gguf");
  for (const name of process.argv.length > 2 ? process.argv.slice(2) : ["chromium", "firefox", "webkit"]) {
    await (name === "chromium" ? runBrowserStreamE2EInFreshProfile({ modelPath }) : runBrowserStreamE2EInPage(name, { modelPath }));
  }
  log("ok");
}
