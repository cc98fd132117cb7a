// Peer benchmark: dip against wllama (llama.cpp compiled to WebAssembly, @wllama/wllama from npm)
// on the same GGUF files, in the same runtime (headless Chromium, pages on 127.0.0.1 with
// COOP/COEP so SharedArrayBuffer and wasm threads are allowed), same prompt, same number of greedy
// tokens. bench/README.md has the numbers and the method. With --prompt-tokens N the prompt is N tokens
// (the prompt text repeated, cut at N tokens of dip's tokenizer, BOS included; wllama gets the same
// ids) and each engine's prompt processing speed is reported as prompt_tok_s: dip's Engine.prefill
// (dense, in blocks), wllama's own prompt timing (n_batch 64). The load average is recorded at the
// start and end (a warning on stderr above 0.5). Both engines run at every --threads
// count (dip above 1: build/engine-threads.wasm with Web Workers). ratio_to_wllama is a dip row's
// tok/s over wllama's at the same thread count, and a wllama row's over wllama's at 1 thread.
//
//   npm run bench:peers -- [--json] [--models stories260k,stories110m,qwen2.5-0.5b] [--dtypes f32,q8,q4_0,q4_k_m]
//                          [--tokens 32] [--rounds 3] [--threads 1,2] [--dir /tmp/dip-peers] [--keep 0.5]
//                          [--prompt-tokens N]
//
// --dtypes names the file's type (`dip convert --dtype`): f32 and q8 files run in that dtype in dip,
// a quantized file of any other type (q4_0, q4_k_m, q8_0) runs natively (--dtype native: its
// blocks as stored where dip has kernels for them, host/matrix-dtype.ts).
// The GGUF files are written on first use into --dir (default $TMPDIR/dip-peers, outside the repo):
// stories260k from the bundled checkpoint (`dip convert --model`), the others from seeded random
// weights of the real shape with a byte-level stand-in vocabulary (`dip convert --synthetic`).
// Nothing is fetched from the network: the page loads dip, wllama's wasm and the models from the
// local server (Chromium runs with background networking off).
import { createServer } from "node:http";
import { closeSync, createReadStream, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { cpus, tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { recordLoad } from "../build/host/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const json = flag("json");
const models = opt("models", "stories260k,stories110m,qwen2.5-0.5b").split(",");
const dtypes = opt("dtypes", "f32,q8").split(",");
const tokens = Number(opt("tokens", "32"));
const rounds = Number(opt("rounds", "3"));
const threadList = opt("threads", "1,2").split(",").map(Number);
const keep = Number(opt("keep", "0.5"));
const dir = resolve(opt("dir", join(tmpdir(), "dip-peers")));
const prompt = opt("prompt", "Once upon a time");
const promptTokens = Number(opt("prompt-tokens", "0"));
const log = (m) => process.stderr.write(`bench-peers: ${m}\n`);
if (!Number.isInteger(promptTokens) || promptTokens < 0) {
  log(`--prompt-tokens must be a non-negative integer, got ${opt("prompt-tokens")}`);
  process.exit(1);
}
const loadStart = recordLoad("bench-peers", "start");

// ---- the GGUF files ----
const STORIES260K = ["/work/shared/models/stories260K/stories260K-f32.gguf", join(process.env.DIP_SHARED_DIR ?? "", "models/stories260K/stories260K-f32.gguf"), join(root, "models/stories260K/stories260K-f32.gguf")];
function ggufFor(model, dtype) {
  const file = join(dir, `${model}-${dtype}.gguf`);
  if (existsSync(file)) return file;
  execFileSync("mkdir", ["-p", dir]);
  const src = model === "stories260k" ? ["--model", STORIES260K.find((p) => p && existsSync(p)) ?? STORIES260K[0]] : ["--synthetic", model];
  log(`writing ${file}`);
  execFileSync(process.execPath, [join(root, "bin/dip.js"), "convert", ...src, "--out", file, "--dtype", dtype], { stdio: ["ignore", "ignore", "inherit"] });
  return file;
}

// ---- the server: page, dip bundle, engine wasm, wllama's esm folder, models; COOP/COEP ----
const PAGE = `<!doctype html><meta charset="utf-8"><title>dip vs wllama</title>
<script type="module">
import { Engine, loadModelFromBytes, SentencePieceTokenizer } from "/dip/dip.js";
import { Wllama } from "/wllama/index.js";
const wasmBytes = new Uint8Array(await (await fetch("/engine.wasm")).arrayBuffer());
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

// read bandwidth of this page's wasm: the engine's SIMD read-sums over 1 GiB (bench/kernels.bench.ts)
window.readBandwidth = async () => {
  const mod = await WebAssembly.compile(wasmBytes);
  const imports = {};
  for (const i of WebAssembly.Module.imports(mod)) if (i.kind === "function") (imports[i.module] ??= {})[i.name] = () => 0;
  const e = (await WebAssembly.instantiate(mod, imports)).exports;
  const bytes = 1024 * 1024 * 1024;
  const p = e.arenaAlloc(bytes) >>> 0;
  new Float32Array(e.memory.buffer, p, bytes / 4).fill(1);
  let best = 0;
  for (let r = 0; r < 3; r++) {
    for (const f of [e.readSumF32, e.readSum4StreamsF32]) {
      const t0 = performance.now();
      f(p, bytes / 4);
      best = Math.max(best, bytes / ((performance.now() - t0) / 1000) / 1e9);
    }
  }
  // the core's own speed: a 256 KiB matvec in cache, repeated. It falls when another guest busies
  // the host, which this guest's load average does not show
  const rows = 128, cols = 512, reps = 2000;
  const x = p + rows * cols * 4, out = x + cols * 4;
  let inCache = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) e.matvecF32(out, p, x, rows, cols);
    inCache = Math.max(inCache, (reps * rows * cols * 4) / ((performance.now() - t0) / 1000) / 1e9);
  }
  return { readGBps: best, inCacheGBps: inCache };
};

// n > 0: the prompt text repeated until it is at least n tokens, cut at n (BOS included)
const promptIdsOf = (tok, text, n) => {
  if (n <= 0) return tok.encode(text, { bos: true });
  let long = text;
  while (tok.encode(long, { bos: true }).length < n) long += " " + text;
  return tok.encode(long, { bos: true }).slice(0, n);
};

window.runDip = async ({ url, dtype: fileDtype, methods, keep, prompt, promptTokens, tokens, rounds, threads }) => {
  const dtype = fileDtype === "f32" || fileDtype === "q8" ? fileDtype : "native";
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const model = loadModelFromBytes(bytes, url.split("/").pop());
  // threads > 1: the threads build and its worker module (results bit-identical to 1 thread)
  const fetchWasm = async (f) => new Uint8Array(await (await fetch(f)).arrayBuffer());
  const engine = threads > 1
    ? await Engine.create(model, { wasmBytes: await fetchWasm("/engine-threads.wasm"), workerWasmBytes: await fetchWasm("/thread-worker.wasm"), dtype, threads })
    : await Engine.create(model, { wasmBytes, dtype });
  const tok = new SentencePieceTokenizer(model.vocab);
  const ids = promptIdsOf(tok, prompt, promptTokens);
  const out = {};
  const once = (method) => {
    engine.setSparsity(method === "dense" ? { method: "dense" } : { method: "dip", keep });
    engine.reset();
    const tp = performance.now();
    engine.prefill(ids); // dense whatever the method, in blocks (the method applies from the first new token)
    const promptSeconds = (performance.now() - tp) / 1000;
    let next = engine.sample(0, 1);
    engine.resetBytes();
    const t0 = performance.now();
    for (let i = 0; i < tokens; i++) { engine.step(next); next = engine.sample(0, 1); }
    const s = (performance.now() - t0) / 1000;
    const b = engine.bytesRead();
    return { tok_s: tokens / s, prompt_tok_s: ids.length / promptSeconds, bytes_per_token: (b.embedding + b.attention + b.mlp + b.lm_head) / tokens };
  };
  for (const m of methods) once(m); // warm-up (compiles, touches every page)
  for (let r = 0; r < rounds; r++) for (const m of methods) (out[m] ??= []).push(once(m)); // interleaved
  engine.close();
  const res = {};
  for (const m of methods) res[m] = { tok_s: median(out[m].map((x) => x.tok_s)), all: out[m].map((x) => x.tok_s), prompt_tok_s: median(out[m].map((x) => x.prompt_tok_s)), bytes_per_token: out[m][0].bytes_per_token, prompt_tokens: ids.length };
  return { ...res, ids, promptText: tok.decode(ids.slice(1)) };
};

// promptIds: the same token ids dip ran (llama.cpp's completion takes a token array as the prompt)
window.runWllama = async ({ url, threads, prompt, promptIds, promptText, tokens, rounds }) => {
  const logs = [];
  const keepLog = (...a) => logs.push(a.map(String).join(" "));
  const w = new Wllama({ default: "/wllama/wasm/wllama.wasm" }, { suppressNativeLog: false, logger: { debug: keepLog, log: keepLog, warn: keepLog, error: keepLog } });
  const blob = await (await fetch(url)).blob();
  const nCtx = Math.max(256, (promptIds?.length ?? 0) + tokens + 16);
  try {
    await w.loadModel([blob], { n_ctx: nCtx, n_batch: 64, n_parallel: 1, n_threads: threads, n_gpu_layers: 0, seed: 1 });
  } catch (e) {
    throw new Error(String(e) + " | " + logs.slice(-12).join(" | "));
  }
  const all = [], promptAll = [];
  let text = "", prompt_n = 0, predicted_n = 0;
  let input = promptIds ?? prompt;
  for (let r = 0; r <= rounds; r++) {
    let res;
    try {
      res = await w.createCompletion({ prompt: input, max_tokens: tokens, temperature: 0, ignore_eos: true, cache_prompt: false });
    } catch (e) {
      if (r === 0 && input === promptIds && promptText !== undefined) { input = promptText; r--; continue; } // no token prompts: the text
      throw new Error("createCompletion round " + r + ": " + String(e) + " | loaded " + w.isModelLoaded() + " | " + logs.slice(-12).join(" | "));
    }
    const t = res.timings;
    if (r > 0) { all.push(t.predicted_per_second); promptAll.push(t.prompt_per_second); } // round 0 is the warm-up
    text = res.choices?.[0]?.text ?? ""; prompt_n = t.prompt_n; predicted_n = t.predicted_n;
  }
  const multithread = w.isMultithread();
  await w.exit();
  return { tok_s: median(all), all, prompt_tok_s: median(promptAll), prompt_n, predicted_n, text, multithread, crossOriginIsolated };
};
window.pageReady = true;
</script>`;

const MIME = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html", ".gguf": "application/octet-stream", ".map": "application/json" };
const ROUTES = [
  ["/dip/", join(root, "build/web")],
  ["/wllama/", join(root, "node_modules/@wllama/wllama/esm")],
  ["/models/", dir],
];
const server = createServer((req, res) => {
  const headers = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp", "Cross-Origin-Resource-Policy": "same-origin", "Cache-Control": "no-store" };
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
  if (path === "/") {
    res.writeHead(200, { ...headers, "Content-Type": "text/html" });
    return res.end(PAGE);
  }
  let file;
  if (["/engine.wasm", "/engine-threads.wasm", "/thread-worker.wasm"].includes(path)) file = join(root, "build", path.slice(1));
  for (const [prefix, base] of ROUTES) if (path.startsWith(prefix)) file = join(base, path.slice(prefix.length));
  if (!file || file.includes("..") || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, headers);
    return res.end();
  }
  res.writeHead(200, { ...headers, "Content-Type": MIME[extname(file)] ?? "application/octet-stream", "Content-Length": statSync(file).size });
  createReadStream(file).pipe(res);
});
await new Promise((done) => server.listen(0, "127.0.0.1", done));
const base = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--js-flags=--max-old-space-size=8192"],
});
// every request must go to our server: anything else fails the run (no network at run time)
const offHost = [];
async function freshPage() {
  const page = await browser.newPage();
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("blob:") && !r.url().startsWith("data:")) offHost.push(r.url());
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(base);
  await page.waitForFunction(() => window.pageReady === true, null, { timeout: 60000 }).catch(() => {
    throw new Error(`bench page did not load: ${errors.join("; ")}`);
  });
  return page;
}
const T = 30 * 60 * 1000;
const call = (page, fn, arg) => page.evaluate(([f, a]) => window[f](a), [fn, arg]);

const rows = [];
let bw = [];
try {
  let page = await freshPage();
  bw.push(await call(page, "readBandwidth", {}));
  await page.close();
  for (const model of models) {
    for (const dtype of dtypes) {
      const file = ggufFor(model, dtype);
      const url = `${base}models/${file.split("/").pop()}`;
      const size = statSync(file).size;
      log(`${model} ${dtype} (${(size / 1e6).toFixed(1)} MB)`);
      const dip = {};
      for (const threads of threadList) {
        log(`${model} ${dtype}: dip ${threads}t`);
        page = await freshPage();
        page.setDefaultTimeout(T);
        try {
          dip[threads] = await call(page, "runDip", { url, dtype, methods: ["dense", "dip"], keep, prompt, promptTokens, tokens, rounds, threads });
          const d = dip[threads];
          log(`  dip ${threads}t dense ${d.dense.tok_s.toFixed(2)} tok/s, dip@${keep} ${d.dip.tok_s.toFixed(2)} tok/s, prompt ${d.dense.prompt_tokens} tokens at ${d.dense.prompt_tok_s.toFixed(2)} tok/s`);
        } catch (e) {
          dip[threads] = { error: String(e.message ?? e).split("\n")[0] };
          log(`  dip ${threads}t failed: ${dip[threads].error}`);
        }
        await page.close();
      }
      log(`${model} ${dtype}: wllama`);
      // wllama runs dip's prompt ids (the same tokens) but BOS, which llama.cpp adds itself (its prompt_n
      // counts it); if dip failed, the prompt text
      const ran = promptTokens > 0 ? Object.values(dip).find((d) => d.ids) : undefined;
      const [promptIds, promptText] = [ran?.ids.slice(1), ran?.promptText];
      const w = {};
      for (const threads of threadList) {
        page = await freshPage();
        page.setDefaultTimeout(T);
        try {
          w[threads] = await call(page, "runWllama", { url, threads, prompt, promptIds, promptText, tokens, rounds });
          log(`  wllama ${threads}t: ${w[threads].tok_s.toFixed(2)} tok/s (${w[threads].all.map((x) => x.toFixed(2)).join(", ")}), prompt ${w[threads].prompt_n} tokens at ${w[threads].prompt_tok_s?.toFixed(2)} tok/s + ${w[threads].predicted_n} tokens, multithread ${w[threads].multithread}`);
        } catch (e) {
          w[threads] = { error: String(e.message ?? e).split("\n")[0] };
          log(`  wllama ${threads}t failed: ${w[threads].error}`);
        }
        await page.close();
      }
      // bytes a dense token reads in the GGUF's own types (wllama), from the tensor directory
      const ggufBytes = denseGgufBytesPerToken(file);
      if (Object.values(dip).every((x) => x.error) && Object.values(w).every((x) => x.error)) log(`  both engines failed on ${model} ${dtype}`);
      const ref = w[1]?.tok_s;
      for (const t of threadList) {
        if (w[t]?.tok_s === undefined) {
          rows.push({ engine: "wllama", model, dtype, threads: t, method: "dense", tok_s: null, ratio_to_wllama: null, ratio_to_bandwidth_limit: null, error: w[t]?.error });
          continue;
        }
        rows.push({ engine: "wllama", model, dtype, threads: t, method: "dense", tok_s: w[t].tok_s, ratio_to_wllama: ref ? w[t].tok_s / ref : null, ratio_to_bandwidth_limit: null, mb_per_token: ggufBytes / 1e6, prompt_tokens: w[t].prompt_n, prompt_tok_s: w[t].prompt_tok_s ?? null, prompt_ratio_to_wllama: null });
      }
      for (const t of threadList) for (const m of ["dense", "dip"]) {
        const d = dip[t];
        const r = d[m];
        rows.push({
          engine: "dip", model, dtype, threads: t, method: m === "dense" ? "dense" : `dip@${keep}`, tok_s: r?.tok_s ?? null, ratio_to_wllama: r && w[t]?.tok_s ? r.tok_s / w[t].tok_s : null,
          ratio_to_bandwidth_limit: null, mb_per_token: r ? r.bytes_per_token / 1e6 : null,
          // the prompt runs dense for both methods (Engine.prefill), so both rows carry the same prompt timing
          prompt_tokens: r?.prompt_tokens ?? null, prompt_tok_s: r?.prompt_tok_s ?? null, prompt_ratio_to_wllama: r?.prompt_tok_s && w[t]?.prompt_tok_s ? r.prompt_tok_s / w[t].prompt_tok_s : null,
          ...(d.error ? { error: d.error } : {}),
        });
      }
    }
  }
  await new Promise((done) => setTimeout(done, 3000)); // the last engine's page winds down first
  page = await freshPage();
  bw.push(await call(page, "readBandwidth", {}));
  await page.close();
} finally {
  await browser.close();
  server.close();
}
if (offHost.length) throw new Error(`requests left 127.0.0.1: ${[...new Set(offHost)].join(", ")}`);

// the bandwidth limit: tokens per second if every byte a token reads came at the page's read
// bandwidth (the better of the probes before and after the runs); single-thread rows only
const readGBps = Math.max(...bw.map((b) => b.readGBps));
const loadEnd = recordLoad("bench-peers", "end");
// the in-cache check before and after the runs: a drop means something shared the core, maybe
// another guest on the host, which the load average does not show
const inCache = [bw[0].inCacheGBps, bw[bw.length - 1].inCacheGBps];
if (Math.min(...inCache) < 0.85 * Math.max(...inCache)) log(`warning: the core's in-cache speed moved from ${inCache[0].toFixed(1)} to ${inCache[1].toFixed(1)} GB/s during the runs: something else (another process, or another guest on the host) shared the core part of the time, timings and ratios are not an idle machine's`);
for (const r of rows) {
  r.load_start = loadStart;
  r.load_end = loadEnd;
  if (r.tok_s && r.mb_per_token) r.ratio_to_bandwidth_limit = r.threads === 1 ? (r.tok_s * r.mb_per_token * 1e6) / (readGBps * 1e9) : null;
  r.read_gb_s = readGBps;
  r.in_cache_gb_s = inCache;
}

function denseGgufBytesPerToken(file) {
  // matrices of every layer + the LM head (output.weight, else the tied token_embd) + one embedding row
  const info = ggufTensors(file);
  let bytes = 0;
  let embRow = 0;
  const hasOutput = info.some((t) => t.name === "output.weight");
  for (const t of info) {
    if (t.dims.length !== 2) continue; // norms, biases: negligible
    if (t.name === "token_embd.weight") {
      embRow = t.bytes / t.dims[1];
      if (!hasOutput) bytes += t.bytes;
      continue;
    }
    bytes += t.bytes;
  }
  return bytes + embRow;
}
function ggufTensors(file) {
  // a minimal GGUF v3 directory reader (types: F32 = 0, Q8_0 = 8)
  const fd = Buffer.alloc(Math.min(statSync(file).size, 64 * 1024 * 1024)); // the directory is in the first MBs
  const h = openSync(file, "r");
  readSync(h, fd, 0, fd.length, 0);
  closeSync(h);
  const dv = new DataView(fd.buffer, fd.byteOffset, fd.byteLength);
  let o = 8;
  const u64 = () => { const v = Number(dv.getBigUint64(o, true)); o += 8; return v; };
  const u32 = () => { const v = dv.getUint32(o, true); o += 4; return v; };
  const str = () => { const n = u64(); o += n; return new TextDecoder().decode(fd.subarray(o - n, o)); };
  const SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const skip = (type) => {
    if (type === 8) return void str();
    if (type === 9) { const et = u32(); const n = u64(); for (let i = 0; i < n; i++) skip(et); return; }
    o += SIZE[type];
  };
  const nt = u64();
  const nkv = u64();
  for (let i = 0; i < nkv; i++) { str(); skip(u32()); }
  const out = [];
  for (let i = 0; i < nt; i++) {
    const name = str();
    const nd = u32();
    const dims = Array.from({ length: nd }, () => u64());
    const type = u32();
    u64();
    const n = dims.reduce((a, b) => a * b, 1);
    out.push({ name, dims, bytes: type === 8 ? (n / 32) * 34 : n * 4 });
  }
  return out;
}

if (json) {
  process.stdout.write(JSON.stringify(rows) + "\n");
} else {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model;
  process.stdout.write(`${cpu}, ${cpus().length} cores; headless Chromium; read bandwidth in the page ${readGBps.toFixed(2)} GB/s, in cache ${inCache.map((v) => v.toFixed(1)).join(" then ")} GB/s; ${tokens} greedy tokens after ${promptTokens > 0 ? `a ${promptTokens}-token prompt` : `"${prompt}"`}, median of ${rounds}; load ${loadStart.join(" ")} at the start, ${loadEnd.join(" ")} at the end\n\n`);
  const head = ["engine", "model", "dtype", "threads", "method", "tok/s", "x wllama", "MB/token", "x BW limit", "prompt tok/s", "prompt x wllama"];
  const body = rows.map((r) => [r.engine, r.model, r.dtype, String(r.threads), r.method, r.tok_s?.toFixed(2) ?? `failed: ${r.error}`, r.ratio_to_wllama?.toFixed(2) ?? "", r.mb_per_token?.toFixed(1) ?? "", r.ratio_to_bandwidth_limit?.toFixed(2) ?? "", r.prompt_tok_s?.toFixed(2) ?? "", r.prompt_ratio_to_wllama?.toFixed(2) ?? ""]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c) => "| " + c.map((s, i) => (i < 5 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(" | ") + " |";
  process.stdout.write([line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n") + "\n");
}
