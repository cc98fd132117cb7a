// Profiling experiment for issue #16 (not part of npm test): why does f32 decode read its weights
// below the engine's read probe? Times, interleaved in one process, the engine's matvecF32 (four
// rows a quarter of the matrix apart per pass), matvecF32Rows4 (four adjacent rows), the kernel
// before (matvecF32Before: eight adjacent rows) and dense gatherColumnsF32 (runs of eight
// consecutive columns one per pass; the kernel before read eight per pass, as gC8U1 does) against
// variants that read fewer or one memory stream (scripts/profile-streams/variants.ts) and the read probes
// (assembly/kernels/bandwidth.ts), on the matrix shapes of stories110M or Qwen2.5-0.5B:
//   cold: a 384 MiB buffer cut into matrices of the shape, each read once per pass (as decode
//         reads every weight once per token, far more than the caches hold)
//   hot:  one matrix read again and again (from the caches: the loop's compute ceiling)
// Prints each as a fraction of the best read probe (median over --rounds), and the load average
// at the start and end. Relative numbers only; run it on an idle machine.
//
// Second round: loop shapes of both kernels at the engine's summation order (rows or columns per
// pass, vectors per pass via immediate offsets, pointer vs chained row addresses; variants.ts),
// each checked bit for bit against the engine's kernel before timing. Each round's GB/s is divided
// by that round's best probe (so a load that changes between rounds moves both), and the median
// and the range over rounds are printed.
//
//   node scripts/profile-streams.mjs [--shape stories110m|qwen2.5-0.5b] [--rounds 5] [--filter REGEX]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { recordLoad } from "../build/host/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { shape: { type: "string", default: "stories110m" }, rounds: { type: "string", default: "5" }, filter: { type: "string", default: "" } } });
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
// DIP at keep 0.5: every other column on average, scattered (seeded, ascending), for each nIn
const halfIdx = {};
for (const nIn of SHAPES[values.shape]) {
  let seed = 16;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const kept = []; for (let j = 0; j < nIn; j++) if (random() < 0.5) kept.push(j);
  halfIdx[nIn] = { ptr: e.alloc(kept.length * 4), n: kept.length };
  new Uint32Array(e.memory.buffer, halfIdx[nIn].ptr, kept.length).set(kept);
}

// run(f, bytes of one matrix): cold = every matrix of the buffer once, hot = the first one as often
const sweep = (one, bytes, hot) => () => {
  const n = Math.floor(TOTAL / bytes);
  for (let m = 0; m < n; m++) one(hot ? w : w + m * bytes);
  return n * bytes;
};
const matvec = (f, rows, cols, hot) => sweep((p) => f(out, p, x, rows, cols), rows * cols * 4, hot);
const gather = (f, nIn, nOut, hot) => sweep((p) => f(out, p, x, nIn, nOut), nIn * nOut * 4, hot);
const gather8 = (nIn, nOut, hot) => sweep((p) => e.engineGather(out, p, x, idx, nIn, nOut), nIn * nOut * 4, hot);
const variants = {
  "probe, 1 stream": () => (e.readSumF32(w, TOTAL / 4), TOTAL),
  "probe, 4 streams": () => (e.readSum4StreamsF32(w, TOTAL / 4), TOTAL),
};
for (const hot of [false, true]) {
  const t = hot ? "hot" : "cold";
  for (const [rows, cols] of [[I, D], [D, I]]) {
    variants[`${t} matvecF32 4 far rows [${rows}x${cols}]`] = matvec(e.matvecF32, rows, cols, hot);
    variants[`${t} matvecF32Before 8 adj. rows [${rows}x${cols}]`] = matvec(e.matvecF32Before, rows, cols, hot);
    variants[`${t} matvecF32Rows4 4 adj. rows [${rows}x${cols}]`] = matvec(e.matvecF32Rows4, rows, cols, hot);
    variants[`${t} 2 rows [${rows}x${cols}]`] = matvec(e.matvecRows2, rows, cols, hot);
    variants[`${t} 8-row tiles, 1 stream [${rows}x${cols}]`] = matvec(e.matvecTiled8, rows, cols, hot);
  }
  for (const [nIn, nOut] of [[D, I], [I, D]]) {
    variants[`${t} gatherColumnsF32 [${nIn}x${nOut}]`] = gather8(nIn, nOut, hot);
    variants[`${t} gather 2 cols [${nIn}x${nOut}]`] = gather(e.gather2, nIn, nOut, hot);
    variants[`${t} gather 1 col [${nIn}x${nOut}]`] = gather(e.gather1, nIn, nOut, hot);
  }
}
// Second round: the loop shapes at the engine's summation order (bit-checked below).
const MATVEC_SHAPES = ["mvR4U1ptr", "mvR4U2ptr", "mvR4U4ptr", "mvR4U4chain", "mvR6U2ptr", "mvR6U4chain", "mvR8U1ptr", "mvR8U2ptr", "mvR8U4ptr", "mvR8U1chain", "mvR8U2chain", "mvR8U4chain", "mvR4U1ptrFar", "mvR4U2ptrFar", "mvR4U4ptrFar", "mvR4U4chainFar", "mvR6U2ptrFar", "mvR8U1ptrFar", "mvR8U2ptrFar", "mvR8U2chainFar", "mvR8U4chainFar"];
const GATHER_SHAPES = ["gRuns", "gC16", "gC1U2", "gC1U4", "gC2U2", "gC2U4", "gC4U1", "gC4U2", "gC4U4", "gC8U1", "gC8U2", "gC8U4"];
for (const hot of [false, true]) {
  const t = hot ? "hot" : "cold";
  for (const [rows, cols] of [[I, D], [D, I]]) {
    for (const name of MATVEC_SHAPES) variants[`${t} ${name} [${rows}x${cols}]`] = matvec(e[name], rows, cols, hot);
  }
  for (const [nIn, nOut] of [[D, I], [I, D]]) {
    for (const name of GATHER_SHAPES) variants[`${t} ${name} [${nIn}x${nOut}]`] = sweep((p) => e[name](out, p, x, idx, nIn, nOut), nIn * nOut * 4, hot);
    // keep 0.5: bytes read are the kept columns; matrices are laid out whole, as in the engine
    const half = halfIdx[nIn];
    for (const name of ["engineGather", ...GATHER_SHAPES]) {
      variants[`${t} ${name === "engineGather" ? "gatherColumnsF32" : name} half [${nIn}x${nOut}]`] = () => {
        const bytes = nIn * nOut * 4, n = Math.floor(TOTAL / bytes);
        for (let m = 0; m < n; m++) e[name](out, hot ? w : w + m * bytes, x, half.ptr, half.n, nOut);
        return n * half.n * nOut * 4;
      };
    }
  }
}
const filter = new RegExp(values.filter);
for (const name of Object.keys(variants)) if (!name.startsWith("probe") && !filter.test(name)) delete variants[name];

// Same bits as the engine's kernels on random data and odd sizes (the tails), before any timing.
{
  const ref = e.alloc(1 << 16), keptIdx = e.alloc(1 << 12);
  const fill = (p, n) => { const a = new Float32Array(e.memory.buffer, p, n); for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1; };
  const same = (name, n) => {
    const a = new Uint32Array(e.memory.buffer, out, n), b = new Uint32Array(e.memory.buffer, ref, n);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) throw new Error(`${name}: output ${i} differs from the engine kernel's bits`);
  };
  for (const [rows, cols] of [[37, 101], [64, 896], [9, 12], [8, 16], [3, 5]]) {
    fill(w, rows * cols); fill(x, cols);
    e.matvecF32(ref, w, x, rows, cols);
    for (const name of [...MATVEC_SHAPES, "matvecF32Before", "matvecF32Rows4"]) { e[name](out, w, x, rows, cols); same(`${name} ${rows}x${cols}`, rows); }
  }
  const kept = new Uint32Array(e.memory.buffer, keptIdx, 64);
  for (const [nIn, nOut, nKept] of [[50, 101, 37], [64, 896, 64], [100, 160, 41], [20, 13, 11], [9, 8, 3]]) {
    fill(w, nIn * nOut); fill(x, nIn);
    let k = 0; for (let j = 0; j < nIn && k < nKept; j++) if (nIn - j <= nKept - k || Math.random() < nKept / nIn) kept[k++] = j;
    // the variants are single runs in the kept list's order: gatherRunF32's sums (gatherColumnsF32
    // sums two parts of the list apart, so it differs from them in the last bits)
    e.gatherRunF32(ref, w, x, keptIdx, nKept, nOut);
    for (const name of GATHER_SHAPES) { e[name](out, w, x, keptIdx, nKept, nOut); same(`${name} ${nIn}x${nOut} keep ${nKept}`, nOut); }
  }
  new Float32Array(e.memory.buffer, w, TOTAL / 4).fill(0.001); new Float32Array(e.memory.buffer, x, 1 << 14).fill(0.5);
}

const ratios = {}; // per round: GB/s / that round's best probe
for (let r = 0; r < rounds; r++) {
  const gbps = {};
  for (const [name, run] of Object.entries(variants)) {
    const t0 = performance.now();
    const bytes = run();
    gbps[name] = bytes / ((performance.now() - t0) / 1000) / 1e9;
  }
  const probe = Math.max(gbps["probe, 1 stream"], gbps["probe, 4 streams"]);
  for (const [name, v] of Object.entries(gbps)) (ratios[name] ??= []).push(v / probe);
  (ratios["(best probe GB/s)"] ??= []).push(probe);
}
const loadEnd = recordLoad("profile-streams", "end");
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
process.stdout.write(`${values.shape} matrix shapes, ${rounds} rounds, each round as a fraction of its best read probe: median [min-max]; load ${loadStart.join(" ")} at the start, ${loadEnd.join(" ")} at the end\n`);
for (const [name, v] of Object.entries(ratios)) process.stdout.write(`  ${name.padEnd(46)} ${median(v).toFixed(2)} [${Math.min(...v).toFixed(2)}-${Math.max(...v).toFixed(2)}]\n`);
