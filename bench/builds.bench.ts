// The optional engine builds against the default, in ONE process with interleaved rounds, so load
// from other processes hits both sides alike (bench/README.md, "Relaxed SIMD and threads").
//
//   node scripts/build-tests.mjs && node build/bench/builds.bench.js --compare relaxed|threads
//        [--shape qwen2.5-0.5b] [--dtype f32|q8] [--keep 0.5] [--threads 2] [--tokens 16] [--rounds 5]
//        [--prompt-tokens 128] [--kernels] [--bandwidth] [--json]
//
// End to end (default): two engines on the same synthetic weights, the default build and the
// other one (relaxed SIMD, or the threads build at --threads), timed by `dip bench`'s decodeRun on
// dense and dip@keep, and a prompt of --prompt-tokens tokens through Engine.prefill (row
// "prompt", tokens/s of prompt; 0 leaves it out); per round the other/default ratio, medians
// reported. Greedy tokens of the two are compared too (threads: must be equal; relaxed: may differ).
// --kernels (relaxed only): the f32 matvec/gather kernels on the 0.5B shapes in both builds,
// rotating over weight copies larger than the last-level cache, ratio per interleaved round.
// --bandwidth (threads): can more threads read more bytes per second? The engine's read-sum over
// 512 MiB per thread, by 1 and then by --threads threads at once (each its own engine instance in
// a worker_thread), aggregate GB/s per round. Threads can only pay where this grows.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { Engine, type WeightDtype } from "../host/engine.js";
import { fillUniform, isSyntheticShape, syntheticModel, type SyntheticShape } from "../host/synthetic.js";
import { decodeRun } from "../host/node/cli/bench.js";
import type { SparsitySpec } from "../host/sparsity.js";

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const compare = opt("compare", "");
if (compare !== "relaxed" && compare !== "threads") throw new RangeError(`--compare relaxed|threads, got "${compare}"`);
const shapeArg = opt("shape", "qwen2.5-0.5b");
if (!isSyntheticShape(shapeArg)) throw new RangeError(`--shape ${shapeArg} is not a synthetic shape`);
const shape: SyntheticShape = shapeArg;
const dtype = opt("dtype", "f32") as WeightDtype;
const keep = Number(opt("keep", "0.5"));
const threads = Number(opt("threads", "2"));
const tokens = Number(opt("tokens", "16"));
const rounds = Number(opt("rounds", "5"));
const promptTokens = Number(opt("prompt-tokens", "128"));
const json = argv.includes("--json");
const loadavg = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const log = (m: string) => void (json || process.stderr.write(m));
const machine = { cpu: /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model, cores: cpus().length, node: process.version };
const load0 = loadavg();

if (argv.includes("--bandwidth")) {
  await bandwidth();
} else if (argv.includes("--kernels")) {
  if (compare !== "relaxed") throw new RangeError("--kernels compares the relaxed build's kernels (threads: end to end only)");
  await kernels();
} else {
  await endToEnd();
}

async function endToEnd(): Promise<void> {
  const model = syntheticModel(shape, 1);
  log(`${model.name} ${dtype}: laying out two engines...\n`);
  const base = await Engine.create(model, { dtype });
  const other = await Engine.create(model, compare === "relaxed" ? { dtype, relaxed: true } : { dtype, threads });
  const label = compare === "relaxed" ? "relaxed" : `${threads} threads`;
  const specs: SparsitySpec[] = [{ method: "dense" }, { method: "dip", keep }];
  const runs = new Map<string, { base: number[]; other: number[]; ratio: number[]; share: number[] }>();
  const sameTokens: Record<string, boolean> = {};
  for (const spec of specs) {
    const name = spec.method === "dense" ? "dense" : `dip@${keep}`;
    sameTokens[name] = greedy(base, spec).join() === greedy(other, spec).join();
  }
  if (promptTokens > 0) { // the prompt's row: are the last token's logits the same bits?
    const logits = [base, other].map((e) => {
      e.reset();
      const l = e.prefill(promptIds(e, promptTokens));
      return new Uint32Array(l.buffer.slice(l.byteOffset, l.byteOffset + l.byteLength));
    });
    sameTokens.prompt = logits[0].every((v, i) => v === logits[1][i]);
  }
  for (let r = 0; r < rounds; r++) {
    for (const spec of specs) {
      const name = spec.method === "dense" ? "dense" : `dip@${keep}`;
      const rec = runs.get(name) ?? { base: [], other: [], ratio: [], share: [] };
      // alternate which engine goes first, so a slow spell does not always hit the same one
      const pair = r % 2 === 0 ? [base, other] : [other, base];
      const res = pair.map((e) => decodeRun(e, spec, 1, tokens, 2, false));
      const [b, o] = r % 2 === 0 ? res : [res[1], res[0]];
      rec.base.push(b.tokS);
      rec.other.push(o.tokS);
      rec.ratio.push(o.tokS / b.tokS);
      rec.share.push(o.cpuShare);
      runs.set(name, rec);
      log(`\rround ${r + 1}/${rounds} ${name}: default ${b.tokS.toFixed(2)} tok/s, ${label} ${o.tokS.toFixed(2)} tok/s   `);
    }
    if (promptTokens > 0) {
      const rec = runs.get("prompt") ?? { base: [], other: [], ratio: [], share: [] };
      const pair = r % 2 === 0 ? [base, other] : [other, base];
      const res = pair.map((e) => promptRun(e, promptTokens));
      const [b, o] = r % 2 === 0 ? res : [res[1], res[0]];
      rec.base.push(b);
      rec.other.push(o);
      rec.ratio.push(o / b);
      runs.set("prompt", rec);
      log(`\rround ${r + 1}/${rounds} prompt: default ${b.toFixed(1)} tok/s, ${label} ${o.toFixed(1)} tok/s   `);
    }
  }
  log("\n");
  const chunks = other.threadChunks();
  other.close();
  const rows = [...runs].map(([method, x]) => ({
    method,
    default_tok_s: median(x.base),
    other_tok_s: median(x.other),
    ratio: median(x.ratio),
    ratios: x.ratio,
    other_cpu_share: x.share.length ? median(x.share) : null,
    same_greedy_tokens: sameTokens[method],
  }));
  const workerShare = chunks.all ? 1 - chunks.onMain / chunks.all : null; // of the split products' chunks
  const meta = { machine, model: model.name, dtype, compare: label, deterministic: compare !== "relaxed", tokens, rounds, worker_chunk_share: workerShare, loadavg_before: load0, loadavg_after: loadavg() };
  if (json) return void process.stdout.write(JSON.stringify({ ...meta, rows }) + "\n");
  process.stdout.write(`${machine.cpu}, ${machine.cores} cores, ${machine.node}; load ${meta.loadavg_before} -> ${meta.loadavg_after}\n`);
  process.stdout.write(
    `${model.name} ${dtype}, ${tokens} greedy tokens, ${rounds} interleaved rounds (medians)` +
      `${compare === "relaxed" ? "; relaxed SIMD: results may differ between machines" : ""}` +
      `${workerShare !== null ? `; chunks run by the workers: ${(workerShare * 100).toFixed(0)}%` : ""}\n\n`,
  );
  process.stdout.write(`| method | default tok/s | ${label} tok/s | ratio (per round) | CPU share | same tokens |\n|---|---:|---:|---:|---:|:---:|\n`);
  for (const r of rows) {
    process.stdout.write(`| ${r.method} | ${r.default_tok_s.toFixed(2)} | ${r.other_tok_s.toFixed(2)} | ${r.ratio.toFixed(3)} (${r.ratios.map((x) => x.toFixed(2)).join(", ")}) | ${r.other_cpu_share === null ? "-" : `${(r.other_cpu_share * 100).toFixed(0)}%`} | ${r.same_greedy_tokens ? "yes" : "no"} |\n`);
  }
}

/** `n` prompt token ids spread over the vocabulary. */
function promptIds(engine: Engine, n: number): number[] {
  if (n > engine.config.seqLen) throw new RangeError(`--prompt-tokens ${n} is longer than the model's context (${engine.config.seqLen})`);
  return Array.from({ length: n }, (_, i) => (i * 7919 + 3) % engine.config.vocabSize);
}

/** Prompt tokens/s: `n` tokens through Engine.prefill from position 0, wall clock. */
function promptRun(engine: Engine, n: number): number {
  const ids = promptIds(engine, n);
  engine.reset();
  const t0 = performance.now();
  engine.prefill(ids);
  return (n * 1000) / (performance.now() - t0);
}

function greedy(engine: Engine, spec: SparsitySpec): number[] {
  engine.setSparsity(spec);
  engine.reset();
  const out: number[] = [];
  let t = 1;
  for (let i = 0; i < 8; i++) {
    engine.step(t);
    out.push((t = engine.sample(0, 1)));
  }
  return out;
}

interface K {
  memory: WebAssembly.Memory;
  arenaAlloc(bytes: number): number;
  matvecF32(out: number, w: number, x: number, rows: number, cols: number): void;
  gatherColumnsF32(out: number, wT: number, x: number, idx: number, nKept: number, nOut: number, scratch: number): void;
}

async function kernels(): Promise<void> {
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  const load = async (file: string): Promise<K> => {
    const module = await WebAssembly.compile(readFileSync(fileURLToPath(new URL(`../../build/${file}`, import.meta.url))));
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    for (const imp of WebAssembly.Module.imports(module)) if (imp.kind === "function") (imports[imp.module] ??= {})[imp.name] = () => 0;
    return (await WebAssembly.instantiate(module, imports)).exports as unknown as K;
  };
  const SHAPES: [string, number, number, string, number][] = [
    ["matvec", 4864, 896, "4864x896 (up)", 1],
    ["matvec", 896, 4864, "896x4864 (down)", 1],
    ["gather", 896, 4864, "896x4864 all (gate/up)", 1],
    ["gather", 896, 4864, "896x4864 50% (gate/up)", 0.5],
    ["gather", 4864, 896, "4864x896 50% (down)", 0.5],
  ];
  const COPIES = 40; // 40 x 17.4 MB: more than the last-level cache, as a forward pass streams weights
  const sides = await Promise.all(["engine.wasm", "engine-relaxed.wasm"].map(async (f) => {
    const e = await load(f);
    const alloc = (b: number) => e.arenaAlloc(b) >>> 0;
    const matBytes = 4864 * 896 * 4;
    const w = alloc(matBytes * COPIES);
    for (let c = 0; c < COPIES; c++) fillUniform(new Float32Array(e.memory.buffer, w + c * matBytes, matBytes / 4), 100 + c, 0.0346);
    const x = alloc(4864 * 4);
    fillUniform(new Float32Array(e.memory.buffer, x, 4864), 1, 1);
    const out = alloc(4864 * 4);
    const idx = alloc(4864 * 4);
    const scratch = alloc(2 * 4864 * 4); // the gather's second part, then its list (assembly/kernels/gather.ts)
    return { e, w, x, out, idx, scratch, matBytes, next: 0 };
  }));
  const rows: { kernel: string; default_gb_s: number; relaxed_gb_s: number; ratio: number; max_rel_diff: number }[] = [];
  for (const [kind, nIn, nOut, label, frac] of SHAPES) {
    const kept = Math.round(nIn * frac);
    // every other input (ascending), the same list on both sides
    const list = Uint32Array.from({ length: kept }, (_, i) => Math.floor((i * nIn) / kept));
    const bytes = kind === "matvec" ? nIn * nOut * 4 : kept * nOut * 4;
    const call = (s: (typeof sides)[number]) => {
      const wc = s.w + (s.next++ % COPIES) * s.matBytes;
      if (kind === "matvec") s.e.matvecF32(s.out, wc, s.x, nIn, nOut);
      else s.e.gatherColumnsF32(s.out, wc, s.x, s.idx, kept, nOut, s.scratch);
    };
    for (const s of sides) new Uint32Array(s.e.memory.buffer, s.idx, kept).set(list);
    // closeness once, on copy 0 of both
    for (const s of sides) (s.next = 0), call(s);
    const outLen = kind === "matvec" ? nIn : nOut;
    const a = new Float32Array(sides[0].e.memory.buffer, sides[0].out, outLen);
    const b = new Float32Array(sides[1].e.memory.buffer, sides[1].out, outLen);
    let maxRel = 0;
    for (let i = 0; i < outLen; i++) maxRel = Math.max(maxRel, Math.abs(a[i] - b[i]) / Math.max(1e-3, Math.abs(a[i])));
    const times: number[][] = [[], []];
    const ratios: number[] = [];
    for (let r = 0; r < rounds * 4; r++) {
      const t: number[] = [];
      for (const [i, s] of (r % 2 ? [1, 0] : [0, 1]).map((i) => [i, sides[i]] as const)) {
        const reps = 20;
        const t0 = performance.now();
        for (let k = 0; k < reps; k++) call(s);
        t[i] = (performance.now() - t0) / reps;
        times[i].push(t[i]);
      }
      ratios.push(t[0] / t[1]);
    }
    const gb = (ms: number) => bytes / (ms / 1000) / 1e9;
    rows.push({ kernel: `f32 ${kind} ${label}`, default_gb_s: gb(median(times[0])), relaxed_gb_s: gb(median(times[1])), ratio: median(ratios), max_rel_diff: maxRel });
  }
  const meta = { machine, compare: "relaxed kernels", deterministic: false, rounds: rounds * 4, loadavg_before: load0, loadavg_after: loadavg() };
  if (json) return void process.stdout.write(JSON.stringify({ ...meta, rows }) + "\n");
  process.stdout.write(`${machine.cpu}, ${machine.cores} cores, ${machine.node}; load ${meta.loadavg_before} -> ${meta.loadavg_after}; relaxed SIMD: results may differ between machines\n\n`);
  process.stdout.write(`| kernel | default GB/s | relaxed GB/s | relaxed speed / default (per round) | max rel. diff |\n|---|---:|---:|---:|---:|\n`);
  for (const r of rows) process.stdout.write(`| ${r.kernel} | ${r.default_gb_s.toFixed(2)} | ${r.relaxed_gb_s.toFixed(2)} | ${r.ratio.toFixed(3)} | ${r.max_rel_diff.toExponential(1)} |\n`);
}

/** Aggregate read bandwidth of 1 and of `threads` threads reading at the same time. */
async function bandwidth(): Promise<void> {
  const MiB = 1024 * 1024;
  const bytes = 512 * MiB;
  const wasmPath = fileURLToPath(new URL("../../build/engine.wasm", import.meta.url));
  // each worker: its own engine instance and buffer; on "go" it read-sums the buffer `reps` times
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const { readFileSync } = require("node:fs");
    (async () => {
      const mod = await WebAssembly.compile(readFileSync(workerData.wasmPath));
      const imports = {};
      for (const i of WebAssembly.Module.imports(mod)) if (i.kind === "function") (imports[i.module] ??= {})[i.name] = () => 0;
      const e = (await WebAssembly.instantiate(mod, imports)).exports;
      const p = e.arenaAlloc(workerData.bytes) >>> 0;
      new Float32Array(e.memory.buffer, p, workerData.bytes / 4).fill(1);
      parentPort.on("message", (reps) => {
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) e.readSum4StreamsF32(p, workerData.bytes / 4);
        parentPort.postMessage(performance.now() - t0);
      });
      parentPort.postMessage("ready");
    })();`;
  const workers = Array.from({ length: threads }, () => new Worker(code, { eval: true, workerData: { wasmPath, bytes } }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once("message", r))));
  const run = (ws: Worker[], reps: number) =>
    Promise.all(ws.map((w) => new Promise<number>((r) => (w.once("message", r), w.postMessage(reps))))).then((ms) => (ws.length * reps * bytes) / (Math.max(...ms) / 1000) / 1e9);
  const one: number[] = [];
  const many: number[] = [];
  await run(workers, 1); // warm-up
  for (let r = 0; r < rounds * 2; r++) {
    one.push(await run(workers.slice(0, 1), 4));
    many.push(await run(workers, 4));
  }
  for (const w of workers) await w.terminate();
  const ratios = one.map((o, i) => many[i] / o);
  const meta = { machine, compare: `read bandwidth, 1 vs ${threads} threads`, rounds: rounds * 2, one_thread_gb_s: median(one), threads, many_threads_gb_s: median(many), ratio: median(ratios), ratios, loadavg_before: load0, loadavg_after: loadavg() };
  if (json) return void process.stdout.write(JSON.stringify(meta) + "\n");
  process.stdout.write(`${machine.cpu}, ${machine.cores} cores, ${machine.node}; load ${meta.loadavg_before} -> ${meta.loadavg_after}\n`);
  process.stdout.write(`read-sum (4 streams) over 512 MiB per thread: 1 thread ${meta.one_thread_gb_s.toFixed(2)} GB/s, ${threads} threads ${meta.many_threads_gb_s.toFixed(2)} GB/s together; ratio ${meta.ratio.toFixed(2)} (per round ${ratios.map((x) => x.toFixed(2)).join(", ")})\n`);
}
