// Browser streaming benchmark: the same .dipstream streamed by Node (fs.readSync) and by headless
// Chromium's engine worker through OPFS (sync access handle) and through Blob slices, in one run,
// with the same DRAM budget; greedy steps from BOS, dense and DIP keep 0.5 (tests/browser/probe.ts
// greedyLogitsHashes: the logits' SHA-256 must agree everywhere, and it reports time and reads).
// Numbers and the exact command go in bench/README.md.
//
//   npm run build && node bench/browser-stream.mjs [--file F.dipstream] [--dram 1GB] [--steps 16]
//                                                  [--flash-gbps X] [--private]
//
// Without --file the Qwen2.5-0.5B shape (seeded random weights, 1.98 GB) is written once to
// $TMPDIR/dip-bench/q05.dipstream. Chromium runs with a fresh on-disk profile (OPFS on disk, as
// for a user's normal profile); --private uses an incognito context instead (OPFS in memory).
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { greedyLogitsHashes } from "../build/browser-tests/probe.js";
import { openStreamFile, parseSize, recordLoad, startDemoServer } from "../build/host/index.js";
import { CHROMIUM_ARGS, PROBE_FILES } from "../scripts/browser-e2e.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const log = (m) => process.stderr.write(`browser-stream: ${m}\n`);
const steps = Number(opt("steps", "16"));
const dramBytes = parseSize(opt("dram", "1GB"), "--dram");
const flashGBps = opt("flash-gbps", undefined) === undefined ? undefined : Number(opt("flash-gbps"));
const isPrivate = argv.includes("--private");

let file = opt("file", undefined);
if (!file) {
  const dir = join(tmpdir(), "dip-bench");
  mkdirSync(dir, { recursive: true });
  file = join(dir, "q05.dipstream");
  if (!existsSync(file)) {
    log(`writing ${file} (Qwen2.5-0.5B shape, seeded random weights)`);
    execFileSync(process.execPath, [resolve(root, "bin", "dip.js"), "convert", "--synthetic", "qwen2.5-0.5b", "--stream-layout", "--out", file], { stdio: "inherit" });
  }
}
file = resolve(file);
const wasm = new Uint8Array(readFileSync(resolve(root, "build", "engine.wasm")));
const rows = [];
const row = (runtime, r, extra = "") => {
  for (const [spec, s] of Object.entries(r.stats)) {
    rows.push({ runtime, spec, tok_s: steps / s.seconds, reads_per_token: s.reads / steps, mb_per_token: s.bytes / steps / 1e6, fetch_ms_per_token: (1e3 * s.fetchSeconds) / steps, rest_ms_per_token: (1e3 * (s.seconds - s.fetchSeconds)) / steps, extra });
  }
};

log(`load ${recordLoad("bench/browser-stream", "start").join(" ")}, ${cpus().length} cpus; ${file}, --dram ${dramBytes}, ${steps} steps, flash ${flashGBps ?? "not paced"}`);
const o = openStreamFile(file);
let node;
try {
  node = await greedyLogitsHashes(o.model, wasm, steps, { source: o.stream, dramBytes, flashGBps });
} finally {
  o.close();
}
row("node (fs.readSync)", node);

// raw read bandwidth of the file with fs.readSync (sequential 4 MiB reads over at most the first GiB)
const READ_PROBE_BYTES = Math.min(1 << 30, statSync(file).size);
const readProbe = {};
{
  const fd = openSync(file, "r");
  const buf = new Uint8Array(4 << 20);
  let got = 0;
  const t0 = performance.now();
  for (let at = 0; at < READ_PROBE_BYTES; at += buf.length) got += readSync(fd, buf, 0, buf.length, at);
  readProbe.node = got / ((performance.now() - t0) / 1e3) / 1e9;
  closeSync(fd);
}

const server = await startDemoServer({ port: 0, modelPath: file, extra: { ...PROBE_FILES, "/bench.dipstream": file } });
const profile = mkdtempSync(join(tmpdir(), "dip-chromium-"));
const browser = isPrivate ? await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS }) : undefined;
const context = browser ? await browser.newContext() : await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
const same = [];
try {
  const page = await context.newPage();
  await page.goto(`${server.url}probe.html`);
  for (const via of ["opfs", "blob"]) {
    const r = await page.evaluate(
      (req) =>
        new Promise((ok) => {
          const w = new Worker("/stream-probe.js", { type: "module" });
          w.onmessage = (e) => (w.terminate(), ok(e.data));
          w.onerror = (e) => (w.terminate(), ok({ ok: false, message: e.message }));
          w.postMessage(req);
        }),
      { url: "/bench.dipstream", wasmUrl: "/engine.wasm", via, dramBytes, steps, flashGBps },
    );
    if (!r.ok) throw new Error(`${via}: ${r.message}`);
    row(`chromium ${via === "opfs" ? "OPFS sync handle" : "Blob slices"}${isPrivate ? " (private)" : ""}`, r, r.copySeconds ? `copy into OPFS ${r.copySeconds.toFixed(1)} s` : "");
    same.push(JSON.stringify(r.hashes) === JSON.stringify(node.hashes));
  }
  // raw read bandwidth of the stored copy (sequential 4 MiB reads), beside fs.readSync's below
  const workerSource = `onmessage = async (e) => {
    const { name, bytes, chunk } = e.data;
    const h = await (await (await navigator.storage.getDirectory()).getFileHandle(name)).createSyncAccessHandle();
    const buf = new Uint8Array(chunk);
    let got = 0;
    const t0 = performance.now();
    for (let at = 0; at < bytes; at += chunk) got += h.read(buf, { at });
    const seconds = (performance.now() - t0) / 1e3;
    h.close();
    postMessage(got / seconds / 1e9);
  };`;
  readProbe.opfs = await page.evaluate(
    ([src, req]) =>
      new Promise((ok) => {
        const w = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
        w.onmessage = (e) => (w.terminate(), ok(e.data));
        w.postMessage(req);
      }),
    [workerSource, { name: "bench.dipstream", bytes: READ_PROBE_BYTES, chunk: 4 << 20 }],
  );
} finally {
  await context.close();
  await browser?.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}

const f = (x, d) => x.toFixed(d);
process.stdout.write(`| runtime | spec | tok/s | reads/token | MB read/token | fetch ms/token | compute + rest ms/token | note |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n`);
for (const r of rows) process.stdout.write(`| ${r.runtime} | ${r.spec} | ${f(r.tok_s, 2)} | ${f(r.reads_per_token, 0)} | ${f(r.mb_per_token, 1)} | ${f(r.fetch_ms_per_token, 1)} | ${f(r.rest_ms_per_token, 1)} | ${r.extra} |\n`);
log(`cache entries per layer ${node.cacheEntries}; minimum DRAM ${(node.minimumBytes / 1e6).toFixed(1)} MB; logits identical to Node: ${same.every(Boolean) ? "yes" : "NO"} (${JSON.stringify(node.hashes)})`);
log(`read probe, ${(READ_PROBE_BYTES / 2 ** 20).toFixed(0)} MiB in 4 MiB reads: fs.readSync ${readProbe.node.toFixed(2)} GB/s, OPFS sync handle ${readProbe.opfs?.toFixed(2)} GB/s`);
log(`load ${recordLoad("bench/browser-stream", "end").join(" ")} at the end`);
if (!same.every(Boolean)) process.exit(1);
