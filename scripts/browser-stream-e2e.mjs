// Streaming in the browser, end to end (run by scripts/test-runtimes.mjs, or alone:
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

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const STEPS = 48;
const log = (m) => process.stderr.write(`browser-stream-e2e: ${m}\n`);

/** Fields of the stream report that do not depend on timing (the rest are seconds and rates). */
const DETERMINISTIC = ["policy", "dram_budget_bytes", "minimum_dram_bytes", "cache_entries", "cache_bytes", "stage_bytes", "flash_gbps", "storage_bytes_per_token", "storage_reads_per_token", "hit_rate", "arena_bytes", "simulated_hit_rate", "simulated_flash_bytes_per_token", "simulated_dram_bytes_per_token", "mobile_simulated_tok_s", "mobile_device", "bytes_per_token", "tied_embeddings"];
// (simulated_tok_s of a paced run uses the DRAM bandwidth probed during the run: a timing)
const pick = (r) => Object.fromEntries(DETERMINISTIC.map((k) => [k, r[k]]));

/** `browser`: a Browser or BrowserContext (anything with newPage). */
export async function runBrowserStreamE2E(browser, { modelPath }) {
  const dir = mkdtempSync(join(tmpdir(), "dip-web-stream-"));
  let server;
  try {
    // the model as a .dipstream, and a copy with one flipped byte in layer 1's hidden column 3
    const model = loadModelFromBytes(readFileSync(modelPath), basename(modelPath));
    const streamPath = join(dir, "stories260K.dipstream");
    const { header } = await writeStreamFile(model, streamPath);
    const corruptPath = join(dir, "corrupt.dipstream");
    const bytes = readFileSync(streamPath);
    bytes[header.column_offsets[1 * 2 + 1] + 3 * header.groups[1].entry_bytes + 5] ^= 0x10;
    writeFileSync(corruptPath, bytes);

    // Node: resident and streamed, with the minimum DRAM plus 30% of the MLP
    const wasm = new Uint8Array(readFileSync(resolve(root, "build", "engine.wasm")));
    // the engine's own builds by name (a stream read on an I/O thread runs the shared-memory one)
    const BUILD_FILES = { default: "engine.wasm", threads: "engine-threads.wasm", "thread-worker": "thread-worker.wasm" };
    setDefaultEngineWasm(async (build = "default") => new Uint8Array(readFileSync(resolve(root, "build", BUILD_FILES[build]))));
    const resident = await greedyLogitsHashes(model, wasm, STEPS);
    const o = openStreamFile(streamPath);
    const c = o.model.config;
    let dramBytes, nodeStreamed;
    try {
      dramBytes = Math.round((await streamMinimumBytes(o)) + streamTableBytes(c) + 0.3 * c.nLayers * 3 * 4 * c.dim * c.hiddenDim);
      nodeStreamed = await greedyLogitsHashes(o.model, wasm, STEPS, { source: o.stream, dramBytes });
    } finally {
      o.close();
    }
    assert.deepEqual(nodeStreamed.hashes, resident.hashes, "Node streamed vs resident");
    assert.deepEqual(nodeStreamed.tokens, resident.tokens);
    assert.ok(nodeStreamed.cacheEntries[0] < c.dim && nodeStreamed.cacheEntries[1] < c.hiddenDim, `caches ${nodeStreamed.cacheEntries} smaller than the MLP`);
    assert.ok(nodeStreamed.bytesRead > 0);
    log(`node: resident = streamed (${(dramBytes / 1e6).toFixed(3)} MB budget, caches ${nodeStreamed.cacheEntries.join("+")} columns/layer, ${(nodeStreamed.bytesRead / 1e6).toFixed(2)} MB read): ${JSON.stringify(resident.hashes)}`);

    server = await startDemoServer({ port: 0, modelPath, streamPath, extra: { ...PROBE_FILES, "/models/corrupt.dipstream": corruptPath } });
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));

    // ---- the probe worker: OPFS and Blob ----
    await page.goto(`${server.url}probe.html`);
    const probe = (req) =>
      page.evaluate(
        (r) =>
          new Promise((ok) => {
            const w = new Worker("/stream-probe.js", { type: "module" });
            w.onmessage = (e) => (w.terminate(), ok(e.data));
            w.onerror = (e) => (w.terminate(), ok({ ok: false, message: e.message }));
            w.postMessage(r);
          }),
        { wasmUrl: "/engine.wasm", steps: STEPS, dramBytes, ...req },
      );
    for (const via of ["opfs", "blob"]) {
      const got = await probe({ url: "/models/stories260K.dipstream", via });
      assert.ok(got.ok, `${via}: ${got.message}`);
      assert.deepEqual(got.hashes, resident.hashes, `${via}: logits differ from Node's`);
      assert.deepEqual(got.tokens, resident.tokens);
      assert.deepEqual(got.cacheEntries, nodeStreamed.cacheEntries);
      assert.equal(got.bytesRead, nodeStreamed.bytesRead, `${via}: bytes read`);
      log(`chromium ${via}: logits of ${STEPS} greedy steps identical to Node's resident and streamed runs`);
    }
    const bad = await probe({ url: "/models/corrupt.dipstream", via: "opfs" });
    assert.equal(bad.ok, false);
    assert.match(bad.message, /corrupt\.dipstream: layer 1 hidden column 3: checksum mismatch .*the file is corrupt/);
    log(`chromium opfs, corrupt file: ${bad.message}`);

    // ---- the demo page ----
    await page.goto(server.url);
    const state = (states, timeout = 60000) => page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout });
    const isReady = async () => assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", await page.textContent("#error"));
    await state(["ready", "error"]);
    await isReady();
    assert.equal(await page.inputValue("#stream-url"), "models/stories260K.dipstream", "dip serve --stream offers the file");

    const settings = { prompt: "Once upon a time", tokens: 32, method: "dip", keep: 0.5, gamma: 0.5, policy: "lfu", dramFraction: 0.7, temperature: 0, seed: 42 };
    /** The same streamed session in Node (fs.readSync), for the page's text and numbers. */
    const nodeRun = async (flashGBps) => {
      const s = openStreamFile(streamPath);
      try {
        const engine = await streamEngine(s, dramBytes, settings.policy);
        const { result, report } = await runStreamSession(engine, s.stream, new SentencePieceTokenizer(s.model.vocab), settings, flashGBps);
        return { text: result.text, tokens: result.tokens, report };
      } finally {
        s.close();
      }
    };
    const generate = async (gbps) => {
      await page.fill("#prompt", settings.prompt);
      await page.selectOption("#method", settings.method);
      await page.selectOption("#policy", settings.policy);
      await page.fill("#tokens", String(settings.tokens));
      await page.fill("#temperature", "0");
      await page.fill("#seed", String(settings.seed));
      await page.evaluate((keep) => {
        const el = document.getElementById("keep");
        el.value = String(keep);
        el.dispatchEvent(new Event("input"));
      }, settings.keep);
      await page.fill("#stream-dram", String(dramBytes));
      await page.fill("#stream-gbps", gbps === undefined ? "" : String(gbps));
      await page.click("#generate");
      await state(["done", "error"]);
      return page.evaluate(() => window.dipLastRun);
    };
    const check = async (label, gbps) => {
      const t0 = Date.now();
      const got = await generate(gbps);
      assert.ok(got && got.type === "done" && got.stream, `${label}: generation failed: ${await page.textContent("#error")}`);
      const want = await nodeRun(gbps);
      assert.equal(got.text, want.text, `${label}: text`);
      assert.deepEqual(got.tokens, want.tokens, `${label}: tokens`);
      assert.deepEqual(pick(got.stream), pick(want.report), `${label}: report`);
      assert.ok(got.stream.storage_bytes_per_token > 0 && got.stream.hit_rate < 1, `${label}: columns streamed`);
      assert.equal(await page.textContent("#t-hit"), `${(100 * want.report.hit_rate).toFixed(1)}%`);
      assert.equal(await page.textContent("#t-sim-hit"), `${(100 * want.report.simulated_hit_rate).toFixed(1)}%`);
      assert.match(await page.textContent("#stream-summary"), /tok\/s measured vs .* simulated .* read from storage per token/s);
      assert.equal((await page.$$eval("#hit-chart rect.bar", (r) => r.length)), c.nLayers);
      const r = got.stream;
      log(
        `page ${label}: ${JSON.stringify(got.text.slice(0, 40))}... matches Node (${Date.now() - t0} ms); ${(r.storage_bytes_per_token / 1e3).toFixed(1)} KB in ${r.storage_reads_per_token.toFixed(1)} reads per token, ` +
          `hit rate ${(100 * r.hit_rate).toFixed(1)}%; ${r.tok_s.toFixed(1)} tok/s, fetch ${(1e3 * r.fetch_seconds_per_token).toFixed(2)} ms/token in the page vs ${want.report.tok_s.toFixed(1)} tok/s, ${(1e3 * want.report.fetch_seconds_per_token).toFixed(2)} ms/token in Node`,
      );
    };

    // not a .dipstream: refused at its first chunk, before anything is stored
    await page.check("#stream-store");
    await page.setInputFiles("#stream-file", modelPath);
    await state(["error"]);
    assert.match(await page.textContent("#error"), /stories260K-f32\.gguf: not a \.dipstream file \(magic "DIPSTRM1" missing\)/);

    // a picked file copied into OPFS
    await page.setInputFiles("#stream-file", streamPath);
    await state(["ready", "error"]);
    await isReady();
    assert.match(await page.textContent("#model-info"), /streamed from browser storage \(OPFS sync access handle\)/);
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
    assert.match(await page.textContent("#model-info"), /streamed from browser storage \(OPFS sync access handle\)/);
    await check("URL into OPFS", undefined);

    // the File itself (Blob slices), reads paced to an emulated 0.5 GB/s Flash
    await page.uncheck("#stream-store");
    await page.setInputFiles("#stream-file", streamPath);
    await state(["ready", "error"]);
    await isReady();
    assert.match(await page.textContent("#model-info"), /streamed from the file \(Blob slices\)/);
    await check("Blob, paced", 0.5);

    // a budget below the minimum
    await page.fill("#stream-dram", "100KB");
    await page.click("#generate");
    await state(["error"]);
    assert.match(await page.textContent("#error"), /DRAM budget of 0\.100 MB is below the \d+\.\d+ MB the streamed model needs/);

    // a corrupt column: the run stops with the checksum error
    await page.setInputFiles("#stream-file", corruptPath);
    await state(["ready", "error"]);
    await isReady();
    await page.fill("#stream-dram", String(dramBytes));
    await page.click("#generate");
    await state(["error"]);
    const message = await page.textContent("#error");
    assert.match(message, /corrupt\.dipstream: layer 1 hidden column 3: checksum mismatch/);
    log(`page, corrupt file: ${message}`);
    assert.deepEqual(errors, [], "no uncaught page errors");
    await page.close();
  } finally {
    await server?.close();
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

// standalone: node scripts/browser-stream-e2e.mjs
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
  await runBrowserStreamE2EInFreshProfile({ modelPath: resolve(shared, "models", "stories260K", "stories260K-f32.gguf") });
  log("ok");
}
