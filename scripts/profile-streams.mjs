// Profiling experiment for issue #16 (not part of npm test): why does f32 decode read its weights
// below the engine's read probe? Times, interleaved in one process, the engine's matvecF32 (8 and
// 4 rows per pass) and dense gatherColumnsF32 (8 columns per pass) against variants that read fewer
// or one memory stream (scripts/profile-streams/variants.ts) and the read probes
// (assembly/kernels/bandwidth.ts), on the matrix shapes of stories110M or Qwen2.5-0.5B:
//   cold: a 384 MiB buffer cut into matrices of the shape, each read once per pass (as decode
//         reads every weight once per token, far more than the caches hold)
//   hot:  one matrix read again and again (from the caches: the loop's compute ceiling)
// Prints each as a fraction of the best read probe (median over --rounds), and the load average
// at the start and end. Relative numbers only; run it on an idle machine.
//
//   node scripts/profile-streams.mjs [--shape stories110m|qwen2.5-0.5b] [--rounds 5]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { recordLoad } from "../build/host/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { shape: { type: "string", default: "stories110m" }, rounds: { type: "string", default: "5" } } });
const SHAPES = { stories110m: [768, 2048], "qwen2.5-0.5b": [896, 4864] };
if (!SHAPES[values.shape]) throw new Error(`--shape must be one of ${Object.keys(SHAPES).join(", ")}`);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`);
const [D, I] = SHAPES[values.shape];

const wasmFile = join(mkdtempSync(join(tmpdir(), "dip-profile-")), "variants.wasm");
execFileSync(process.execPath, [join(root, "node_modules/assemblyscript/bin/asc.js"), join(root, "scripts/profile-streams/variants.ts"), "-O3", "--enable", "simd", "--runtime", "stub", "-o", wasmFile], { stdio: "inherit" });
const { instance } = await WebAssembly.instantiate(readFileSync(wasmFile), { env: { abort() { throw new Error("abort"); } } });
const e = instance.exports;

const loadStart = recordLoad("profile-streams", "start");
const TOTAL = 384 * 1024 * 1024;
const w = e.alloc(TOTAL);
new Float32Array(e.memory.buffer, w, TOTAL / 4).fill(0.001); // every page real memory
const x = e.alloc(1 << 16);
new Float32Array(e.memory.buffer, x, 1 << 14).fill(0.5);
const out = e.alloc(1 << 16);
const idx = e.alloc(1 << 16);
new Uint32Array(e.memory.buffer, idx, 1 << 14).forEach((_, i, a) => (a[i] = i)); // the dense mask

// run(f, bytes of one matrix): cold = every matrix of the buffer once, hot = the first one as often
const sweep = (one, bytes, hot) => () => {
  const n = Math.floor(TOTAL / bytes);
  for (let m = 0; m < n; m++) one(hot ? w : w + m * bytes);
  return n * bytes;
};
const matvec = (f, rows, cols, hot) => sweep((p) => f(out, p, x, rows, cols), rows * cols * 4, hot);
const gather = (f, nIn, nOut, hot) => sweep((p) => f(out, p, x, nIn, nOut), nIn * nOut * 4, hot);
const gather8 = (nIn, nOut, hot) => sweep((p) => e.gatherColumnsF32(out, p, x, idx, nIn, nOut), nIn * nOut * 4, hot);
const variants = {
  "probe, 1 stream": () => (e.readSumF32(w, TOTAL / 4), TOTAL),
  "probe, 4 streams": () => (e.readSum4StreamsF32(w, TOTAL / 4), TOTAL),
};
for (const hot of [false, true]) {
  const t = hot ? "hot" : "cold";
  for (const [rows, cols] of [[I, D], [D, I]]) {
    variants[`${t} matvecF32 8 rows [${rows}x${cols}]`] = matvec(e.matvecF32, rows, cols, hot);
    variants[`${t} matvecF32 4 rows [${rows}x${cols}]`] = matvec(e.matvecF32Rows4, rows, cols, hot);
    variants[`${t} 2 rows [${rows}x${cols}]`] = matvec(e.matvecRows2, rows, cols, hot);
    variants[`${t} 8-row tiles, 1 stream [${rows}x${cols}]`] = matvec(e.matvecTiled8, rows, cols, hot);
  }
  for (const [nIn, nOut] of [[D, I], [I, D]]) {
    variants[`${t} gatherColumnsF32 8 cols [${nIn}x${nOut}]`] = gather8(nIn, nOut, hot);
    variants[`${t} gather 2 cols [${nIn}x${nOut}]`] = gather(e.gather2, nIn, nOut, hot);
    variants[`${t} gather 1 col [${nIn}x${nOut}]`] = gather(e.gather1, nIn, nOut, hot);
  }
}
const gbps = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(variants)) {
    const t0 = performance.now();
    const bytes = run();
    (gbps[name] ??= []).push(bytes / ((performance.now() - t0) / 1000) / 1e9);
  }
}
const loadEnd = recordLoad("profile-streams", "end");
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const probe = Math.max(median(gbps["probe, 1 stream"]), median(gbps["probe, 4 streams"]));
process.stdout.write(`${values.shape} matrix shapes, median of ${rounds}, as a fraction of the best read probe; load ${loadStart.join(" ")} at the start, ${loadEnd.join(" ")} at the end\n`);
for (const [name, v] of Object.entries(gbps)) process.stdout.write(`  ${name.padEnd(46)} ${(median(v) / probe).toFixed(2)}\n`);
