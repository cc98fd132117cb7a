// Kernel throughput against the machine's own memory bandwidth, in one process (bench/README.md).
//
//   npm run bench                       # builds, then: node build/bench/kernels.bench.js
//   node build/bench/kernels.bench.js [--json] [--min] [--time 1000] [--copies 20] [--n 4096] [--copy-mib 256]
//                                     [--no-shapes] [--filter TEXT] [--relaxed]
//
// --relaxed times build/engine-relaxed.wasm (f32 kernels with relaxed-SIMD multiply-add) instead
// of the default build; its SIMD results then differ from the scalar references in the last bits,
// so the bit-identity checks become a closeness check. Compare the "x read BW" columns of two runs.
//
// Every kernel reads one n x n f32 matrix (64 MiB at n = 4096) laid out by arenaAlloc in the
// engine's wasm memory, like the engine's weights. Token generation is memory-bound, so the
// figure of merit is GB/s of weights read compared with a read-sum over a buffer far larger than
// the last-level cache, measured in the same run (the "x read BW" column).
//
// Two working sets per kernel: "hot" reads the same matrix every call (on a machine with a big
// last-level cache, part of 64 MiB stays cached: this one reports 480 MiB of L3), "cold" reads the
// next of `--copies` matrices each call (1 GiB at the defaults), as a forward pass does: it
// streams each layer's weights once per token. The read-bandwidth probe sums those same copies.

import { Bench, type Task } from "tinybench";
import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { fillUniform } from "../host/synthetic.js";
import { DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q4_K, DTYPE_Q5_0, DTYPE_Q5_1, DTYPE_Q5_K, DTYPE_Q6_K } from "../assembly/abi.js";
import { recordLoad } from "../host/node/load-average.js";

const loadStart = recordLoad("bench/kernels", "start");

interface KernelExports {
  memory: WebAssembly.Memory;
  arenaAlloc(bytes: number): number;
  matvecF32(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecF32Scalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecF32Rows4(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ8(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ8Scalar(out: number, w: number, x: number, rows: number, cols: number): void;
  gatherColumnsQ8(out: number, wT: number, x: number, idx: number, nKept: number, nIn: number, nOut: number): void;
  gatherColumnsQ8Scalar(out: number, wT: number, x: number, idx: number, nKept: number, nIn: number, nOut: number): void;
  q8Bytes(rows: number, n: number): number;
  q8InBytes(nIn: number, nOut: number): number;
  gatherColumnsF32(out: number, wT: number, x: number, idx: number, nKept: number, nOut: number, scratch: number): void;
  gatherColumnsF32Scalar(out: number, wT: number, x: number, idx: number, nKept: number, nOut: number, scratch: number): void;
  matvecQ4_0(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ4_0Scalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ5_0(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ5_0Scalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ4_K(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ4_KScalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ6_K(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ6_KScalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ4_1(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ4_1Scalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ5_1(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ5_1Scalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ5_K(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ5_KScalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ3_K(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ3_KScalar(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ2_K(out: number, w: number, x: number, rows: number, cols: number): void;
  matvecQ2_KScalar(out: number, w: number, x: number, rows: number, cols: number): void;
  gatherColumnsQ4_0(out: number, wT: number, x: number, idx: number, nKept: number, nIn: number, nOut: number): void;
  gatherColumnsQ4_0Scalar(out: number, wT: number, x: number, idx: number, nKept: number, nIn: number, nOut: number): void;
  gatherColumnsQ4_K(out: number, wT: number, x: number, idx: number, nKept: number, nIn: number, nOut: number): void;
  gatherColumnsQ4_KScalar(out: number, wT: number, x: number, idx: number, nKept: number, nIn: number, nOut: number): void;
  rowBytesIn(dtype: number, n: number): number;
  inputMajorBytesIn(dtype: number, nIn: number, nOut: number): number;
  readSumF32(ptr: number, n: number): number;
  readSum4StreamsF32(ptr: number, n: number): number;
  copyBytes(dst: number, src: number, bytes: number): void;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`--${name} needs a positive number, got ${process.argv[i + 1]}`);
  return v;
}

const json = process.argv.includes("--json");
const n = option("n", 4096); // matrix is n x n
const timeMs = option("time", 1000); // tinybench time budget per task
const copies = option("copies", 20); // matrices the cold runs rotate over (1.25 GiB); the read probe sums them all
const copyMiB = option("copy-mib", 256);
const seed = option("seed", 1);
// median by default; "min" (the least disturbed call) when other processes share the machine,
// but it flatters the cold rows (now and then part of a copy is still in the large L3)
const stat = process.argv.includes("--min") ? "min" : "p50";
if (n % 16 !== 0) throw new RangeError(`--n must be a multiple of 16, got ${n}`);

const MiB = 1024 * 1024;
// build/engine.wasm instantiated here with a stub for every function import: the kernels import
// nothing, and the bench must not depend on what the forward pass imports from its host.
const relaxed = process.argv.includes("--relaxed");
async function loadKernels(): Promise<KernelExports> {
  if (relaxed) setFlagsFromString("--experimental-wasm-relaxed-simd"); // Node 20 (see host/node/wasm.ts)
  const wasmPath = fileURLToPath(new URL(relaxed ? "../../build/engine-relaxed.wasm" : "../../build/engine.wasm", import.meta.url));
  const module = await WebAssembly.compile(readFileSync(wasmPath));
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") continue;
    (imports[imp.module] ??= {})[imp.name] = imp.name === "seed" ? () => 0 : () => {
      throw new Error(`engine called the host import ${imp.module}.${imp.name} during a kernel bench`);
    };
  }
  return (await WebAssembly.instantiate(module, imports)).exports as unknown as KernelExports;
}
const e = await loadKernels();
const alloc = (bytes: number): number => {
  const p = e.arenaAlloc(bytes) >>> 0;
  if (p === 0) throw new Error(`out of wasm memory allocating ${bytes} bytes`);
  return p;
};
const f32 = (ptr: number, len: number) => new Float32Array(e.memory.buffer, ptr, len);
const u32 = (ptr: number, len: number) => new Uint32Array(e.memory.buffer, ptr, len);

// ---- buffers: all written once, so every page is committed and really read (untouched pages
// of a fresh mapping read as the shared zero page, which would flatter the bandwidth) ----
const matBytes = n * n * 4;
const w = alloc(matBytes * copies); // copy c at w + c * matBytes
const bwBytes = matBytes * copies;
if (bwBytes < 256 * MiB) throw new RangeError(`--copies ${copies} x ${matBytes / MiB} MiB: the read-bandwidth buffer must be >= 256 MiB`);
// the 0.5B-shape rows (below) need vectors as long as the LM head (151936 outputs)
const VEC = Math.max(n, 151936);
const x = alloc(VEC * 4);
const outSimd = alloc(VEC * 4);
const outScalar = alloc(VEC * 4);
const gatherScratch = alloc(VEC * 4); // the f32 gather's second part, then its list (assembly/kernels/gather.ts; VEC >= nOut + nKept)
const idxShape = alloc(VEC * 4);
const idxAll = alloc(n * 4);
const idxHalf = alloc((n / 2) * 4);
const copySrc = alloc(copyMiB * MiB);
const copyDst = alloc(copyMiB * MiB);

for (let c = 0; c < copies; c++) fillUniform(f32(w + c * matBytes, n * n), seed + 100 + c, 0.0346);
fillUniform(f32(x, VEC), seed + 1, 1);
f32(copySrc, (copyMiB * MiB) / 4).fill(1);
f32(copyDst, (copyMiB * MiB) / 4).fill(0);
u32(idxAll, n).set(Array.from({ length: n }, (_, i) => i));
u32(idxHalf, n / 2).set(halfOfColumns(n, seed));

/** n/2 distinct column indices, ascending, chosen by a seeded partial Fisher-Yates shuffle. */
function halfOfColumns(count: number, s: number): Uint32Array {
  const all = Uint32Array.from({ length: count }, (_, i) => i);
  const r = fillUniform(new Float32Array(count), s + 2, 0.5); // uniform in [-0.5, 0.5)
  for (let i = 0; i < count / 2; i++) {
    const j = i + Math.min(count - i - 1, Math.floor((r[i] + 0.5) * (count - i)));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count / 2).sort();
}

// ---- correctness once: SIMD and scalar share a summation order, so results are bit-identical ----
function sameBits(what: string, a: number, b: number, len: number): void {
  const A = u32(a, len);
  const B = u32(b, len);
  const fa = f32(a, len);
  const fb = f32(b, len);
  for (let i = 0; i < len; i++) {
    // relaxed build: fused multiply-add may change the last bits of the f32 kernels, not more
    if (relaxed ? !(Math.abs(fa[i] - fb[i]) <= 1e-4 * Math.max(1, Math.abs(fb[i]))) : A[i] !== B[i]) {
      throw new Error(`${what}: SIMD and scalar differ at ${i}: ${fa[i]} vs ${fb[i]}`);
    }
  }
}
e.matvecF32(outSimd, w, x, n, n);
e.matvecF32Scalar(outScalar, w, x, n, n);
sameBits("matvecF32", outSimd, outScalar, n);
e.matvecQ8(outSimd, w, x, n, n);
e.matvecQ8Scalar(outScalar, w, x, n, n);
sameBits("matvecQ8", outSimd, outScalar, n);
for (const [label, idx, k] of [["all", idxAll, n], ["50%", idxHalf, n / 2]] as const) {
  e.gatherColumnsF32(outSimd, w, x, idx, k, n, gatherScratch);
  e.gatherColumnsF32Scalar(outScalar, w, x, idx, k, n, gatherScratch);
  sameBits(`gatherColumnsF32 (${label})`, outSimd, outScalar, n);
  e.gatherColumnsQ8(outSimd, w, x, idx, k, n, n);
  e.gatherColumnsQ8Scalar(outScalar, w, x, idx, k, n, n);
  sameBits(`gatherColumnsQ8 (${label})`, outSimd, outScalar, n);
}

// ---- timing ----
interface Case {
  name: string;
  /** bytes the kernel reads per call (weights for the matvecs; the buffer for the probes) */
  bytes: number;
  /** the SIMD twin of a scalar case, for the speedup column */
  scalarOf?: string;
  /** a 0.5B-shape case: timed right after its own run of the read probe (the "x adj. BW" column) */
  paired?: boolean;
  /** the probe run timed just before this kernel */
  probeFor?: string;
  run: () => void;
}
/** A kernel on one matrix (hot) and on the next of the copies each call (cold). */
function both(name: string, bytes: number, simdName: string | undefined, kernel: (m: number) => void): Case[] {
  let next = 0;
  return [
    { name: `${name} hot`, bytes, scalarOf: simdName && `${simdName} hot`, run: () => kernel(w) },
    { name: `${name} cold`, bytes, scalarOf: simdName && `${simdName} cold`, run: () => kernel(w + (next++ % copies) * matBytes) },
  ];
}
// ---- qwen2.5-0.5b shapes, f32 and q8, cold only: each call reads the next slice of the big
// buffer (slices laid end to end, wrapping), so the working set is the whole buffer like a forward
// pass. q8 matrices reuse the same bytes: random f32 bits read as int8 quants and as scales (f32
// row-major; f16 input-major, which the gather decodes with integer ops, so any bits are finite).
// Row-major matvecs: W_up/gate as [4864 x 896], W_down as [896 x 4864], LM head [151936 x 896];
// column gathers on input-major W_gate/up [896 in x 4864 out] and W_down [4864 in x 896 out].
const shapeCases: Case[] = [];
const noShapes = process.argv.includes("--no-shapes");
function rotating(bytes: number): () => number {
  const stride = Math.ceil(bytes / 64) * 64;
  const slices = Math.floor(bwBytes / stride);
  if (slices < 2) throw new RangeError(`--copies too small for a ${bytes}-byte matrix`);
  let next = 0;
  return () => w + (next++ % slices) * stride;
}
function shapeIdx(nIn: number, half: boolean): number {
  const kept = half ? halfOfColumns(nIn, seed + nIn) : Uint32Array.from({ length: nIn }, (_, i) => i);
  u32(idxShape, kept.length).set(kept);
  return kept.length;
}
if (!noShapes) {
  for (const [rows, cols, label] of [[4864, 896, "4864x896 (up, row-major)"], [896, 4864, "896x4864 (down, row-major)"], [151936, 896, "151936x896 (LM head)"]] as const) {
    const fBytes = rows * cols * 4;
    const qBytes = e.q8Bytes(rows, cols);
    // bit-identity once on the first slice
    e.matvecQ8(outSimd, w, x, rows, cols);
    e.matvecQ8Scalar(outScalar, w, x, rows, cols);
    sameBits(`matvecQ8 ${label}`, outSimd, outScalar, rows);
    e.matvecF32(outSimd, w, x, rows, cols);
    e.matvecF32Scalar(outScalar, w, x, rows, cols);
    sameBits(`matvecF32 ${label}`, outSimd, outScalar, rows);
    const nf = rotating(fBytes);
    const nf4 = rotating(fBytes);
    const nq = rotating(qBytes);
    shapeCases.push(
      { name: `f32 matvec ${label}`, bytes: fBytes, paired: true, run: () => e.matvecF32(outSimd, nf(), x, rows, cols) },
      { name: `f32 matvec (4 rows/pass) ${label}`, bytes: fBytes, paired: true, run: () => e.matvecF32Rows4(outSimd, nf4(), x, rows, cols) },
      { name: `q8 matvec ${label}`, bytes: qBytes, paired: true, run: () => e.matvecQ8(outSimd, nq(), x, rows, cols) },
    );
  }
  // the gathers need their own index list each: keep a copy per case and write it before the call
  for (const [nIn, nOut, label] of [[896, 4864, "896x4864 (gate/up)"], [4864, 896, "4864x896 (down)"]] as const) {
    for (const half of [false, true]) {
      const kept = shapeIdx(nIn, half);
      const list = u32(idxShape, kept).slice();
      const keepLabel = half ? "50%" : "all";
      e.gatherColumnsQ8(outSimd, w, x, idxShape, kept, nIn, nOut);
      e.gatherColumnsQ8Scalar(outScalar, w, x, idxShape, kept, nIn, nOut);
      sameBits(`gatherColumnsQ8 ${label} ${keepLabel}`, outSimd, outScalar, nOut);
      e.gatherColumnsF32(outSimd, w, x, idxShape, kept, nOut, gatherScratch);
      e.gatherColumnsF32Scalar(outScalar, w, x, idxShape, kept, nOut, gatherScratch);
      sameBits(`gatherColumnsF32 ${label} ${keepLabel}`, outSimd, outScalar, nOut);
      const fBytes = kept * nOut * 4;
      // the kept columns' quants + nOut f16 scales per block of 32 inputs with a kept column
      const qBytes = kept * nOut + 2 * nOut * new Set(Array.from(list, (j) => j >> 5)).size;
      const nf = rotating(nIn * nOut * 4);
      const nq = rotating(e.q8InBytes(nIn, nOut));
      const setIdx = () => u32(idxShape, kept).set(list);
      shapeCases.push(
        { name: `f32 gather ${keepLabel} ${label}`, bytes: fBytes, paired: true, run: () => (setIdx(), e.gatherColumnsF32(outSimd, nf(), x, idxShape, kept, nOut, gatherScratch)) },
        { name: `q8 gather ${keepLabel} ${label}`, bytes: qBytes, paired: true, run: () => (setIdx(), e.gatherColumnsQ8(outSimd, nq(), x, idxShape, kept, nIn, nOut)) },
      );
    }
  }
}

// ---- ggml block types on the same shapes (the GGUF file's blocks as stored; --dtype native):
// row-major Q4_0, Q5_0 (Q4_K_M's fallback for 896-wide rows), Q4_1 and Q5_1 on the three 0.5B
// shapes and the LM head (Q4_0), Q4_K, Q5_K, Q6_K, Q3_K and Q2_K where the row is whole 256-blocks
// (W_down's 4864 inputs; 896 is not a multiple of 256, which is why llama.cpp's Q4_K_M files of
// this shape store those matrices as Q5_0/Q8_0 fallbacks), the input-major Q4_0 gathers, and the
// input-major Q4_K gather on W_down (4864 inputs: whole 256-blocks). The bytes are the random f32
// bits read as blocks; every f16 block scale in each slice is first set to a finite value (0x2400,
// 2^-6; the Q4_K gather's f32 d/dmin likewise to 2^-6), so results stay finite and SIMD == scalar
// can be checked. ----
/** Rotating slices of a matrix of `bytes` whose blocks (`blockBytes`, f16 scales at `scaleOffsets`) have finite scales. */
function ggmlRotating(bytes: number, blockBytes: number, scaleOffsets: number[], scaleStart = 0, scaleStride = 0): () => number {
  const stride = Math.ceil(bytes / 64) * 64;
  const slices = Math.floor(bwBytes / stride);
  const view = new Uint16Array(e.memory.buffer);
  for (let s = 0; s < slices; s++) {
    const base = w + s * stride;
    if (scaleStride) {
      // input-major: a run of f16 scales after the quants
      for (let at = base + scaleStart; at < base + bytes; at += scaleStride) view[at >> 1] = 0x2400;
    } else for (let at = base; at < base + bytes; at += blockBytes) for (const o of scaleOffsets) view[(at + o) >> 1] = 0x2400;
  }
  let next = 0;
  return () => w + (next++ % slices) * stride;
}
if (!noShapes) {
  const rowMajor: [string, number, number, number, string][] = [
    ["Q4_0", DTYPE_Q4_0, 4864, 896, "4864x896 (up, row-major)"],
    ["Q4_0", DTYPE_Q4_0, 896, 4864, "896x4864 (down, row-major)"],
    ["Q4_0", DTYPE_Q4_0, 896, 896, "896x896 (attention q/o)"],
    ["Q4_0", DTYPE_Q4_0, 151936, 896, "151936x896 (LM head)"],
  ];
  // every 32-block type on the three 0.5B shapes; the k-quants on the one whose rows are whole 256-blocks
  for (const [type, dtype] of [["Q5_0", DTYPE_Q5_0], ["Q4_1", DTYPE_Q4_1], ["Q5_1", DTYPE_Q5_1]] as const) {
    rowMajor.push([type, dtype, 4864, 896, "4864x896 (up, row-major)"], [type, dtype, 896, 4864, "896x4864 (down, row-major)"], [type, dtype, 896, 896, "896x896 (attention q/o)"]);
  }
  for (const [type, dtype] of [["Q4_K", DTYPE_Q4_K], ["Q5_K", DTYPE_Q5_K], ["Q6_K", DTYPE_Q6_K], ["Q3_K", DTYPE_Q3_K], ["Q2_K", DTYPE_Q2_K]] as const) {
    rowMajor.push([type, dtype, 896, 4864, "896x4864 (down, row-major)"]);
  }
  const blocks: Record<string, { bytes: number; scales: number[]; simd: keyof KernelExports; scalar: keyof KernelExports }> = {
    Q4_0: { bytes: 18, scales: [0], simd: "matvecQ4_0", scalar: "matvecQ4_0Scalar" },
    Q5_0: { bytes: 22, scales: [0], simd: "matvecQ5_0", scalar: "matvecQ5_0Scalar" },
    Q4_K: { bytes: 144, scales: [0, 2], simd: "matvecQ4_K", scalar: "matvecQ4_KScalar" },
    Q6_K: { bytes: 210, scales: [208], simd: "matvecQ6_K", scalar: "matvecQ6_KScalar" },
    Q4_1: { bytes: 20, scales: [0, 2], simd: "matvecQ4_1", scalar: "matvecQ4_1Scalar" },
    Q5_1: { bytes: 24, scales: [0, 2], simd: "matvecQ5_1", scalar: "matvecQ5_1Scalar" },
    Q5_K: { bytes: 176, scales: [0, 2], simd: "matvecQ5_K", scalar: "matvecQ5_KScalar" },
    Q3_K: { bytes: 110, scales: [108], simd: "matvecQ3_K", scalar: "matvecQ3_KScalar" },
    Q2_K: { bytes: 84, scales: [80, 82], simd: "matvecQ2_K", scalar: "matvecQ2_KScalar" },
  };
  for (const [type, dtype, rows, cols, label] of rowMajor) {
    const b = blocks[type];
    const bytes = rows * e.rowBytesIn(dtype, cols);
    const next = ggmlRotating(bytes, b.bytes, b.scales);
    const simd = e[b.simd] as KernelExports["matvecQ4_0"];
    const scalar = e[b.scalar] as KernelExports["matvecQ4_0"];
    simd(outSimd, w, x, rows, cols);
    scalar(outScalar, w, x, rows, cols);
    sameBits(`${String(b.simd)} ${label}`, outSimd, outScalar, rows);
    shapeCases.push({ name: `${type} matvec ${label}`, bytes, paired: true, run: () => simd(outSimd, next(), x, rows, cols) });
  }
  for (const [nIn, nOut, label] of [[896, 4864, "896x4864 (gate/up)"], [4864, 896, "4864x896 (down)"]] as const) {
    const bytes = e.inputMajorBytesIn(DTYPE_Q4_0, nIn, nOut);
    const colBytes = Math.ceil(nOut / 32) * 16;
    const next = ggmlRotating(bytes, 0, [], Math.ceil((nIn * colBytes) / 4) * 4, 2);
    for (const half of [false, true]) {
      const kept = shapeIdx(nIn, half);
      const list = u32(idxShape, kept).slice();
      const keepLabel = half ? "50%" : "all";
      e.gatherColumnsQ4_0(outSimd, w, x, idxShape, kept, nIn, nOut);
      e.gatherColumnsQ4_0Scalar(outScalar, w, x, idxShape, kept, nIn, nOut);
      sameBits(`gatherColumnsQ4_0 ${label} ${keepLabel}`, outSimd, outScalar, nOut);
      // the kept columns' nibbles + nOut f16 scales per block of 32 inputs with a kept column
      const readBytes = kept * colBytes + 2 * nOut * new Set(Array.from(list, (j) => j >> 5)).size;
      const setIdx = () => u32(idxShape, kept).set(list);
      shapeCases.push({ name: `Q4_0 gather ${keepLabel} ${label}`, bytes: readBytes, paired: true, run: () => (setIdx(), e.gatherColumnsQ4_0(outSimd, next(), x, idxShape, kept, nIn, nOut)) });
    }
  }
  {
    // input-major Q4_K, W_down: nibbles, then u8 sc and m per (32 inputs, output), then f32 d and dmin per (256 inputs, output)
    const nIn = 4864, nOut = 896, label = "4864x896 (down)";
    const bytes = e.inputMajorBytesIn(DTYPE_Q4_K, nIn, nOut);
    const superBytes = 8 * (nIn / 256) * nOut;
    const stride = Math.ceil(bytes / 64) * 64;
    const slices = Math.floor(bwBytes / stride);
    const words = new Uint32Array(e.memory.buffer);
    for (let s = 0; s < slices; s++) words.fill(0x3c800000, (w + s * stride + bytes - superBytes) >> 2, (w + s * stride + bytes) >> 2); // 2^-6
    let at = 0;
    const next = () => w + (at++ % slices) * stride;
    for (const half of [false, true]) {
      const kept = shapeIdx(nIn, half);
      const list = u32(idxShape, kept).slice();
      const keepLabel = half ? "50%" : "all";
      e.gatherColumnsQ4_K(outSimd, w, x, idxShape, kept, nIn, nOut);
      e.gatherColumnsQ4_KScalar(outScalar, w, x, idxShape, kept, nIn, nOut);
      sameBits(`gatherColumnsQ4_K ${label} ${keepLabel}`, outSimd, outScalar, nOut);
      const readBytes = kept * (nOut / 2) + 2 * nOut * new Set(Array.from(list, (j) => j >> 5)).size + 8 * nOut * new Set(Array.from(list, (j) => j >> 8)).size;
      const setIdx = () => u32(idxShape, kept).set(list);
      shapeCases.push({ name: `Q4_K gather ${keepLabel} ${label}`, bytes: readBytes, paired: true, run: () => (setIdx(), e.gatherColumnsQ4_K(outSimd, next(), x, idxShape, kept, nIn, nOut)) });
    }
  }
}

// read bandwidth: the better of one sequential stream and four side by side (prefetchers track
// streams separately; matvecF32 reads four rows at once)
const READ_PROBES = [`readSumF32 ${bwBytes / MiB} MiB, 1 stream`, `readSum4StreamsF32 ${bwBytes / MiB} MiB, 4 streams`];
const cases: Case[] = [
  ...both("matvecF32", matBytes, undefined, (m) => e.matvecF32(outSimd, m, x, n, n)),
  ...both("matvecF32Scalar", matBytes, "matvecF32", (m) => e.matvecF32Scalar(outScalar, m, x, n, n)),
  ...both("gatherColumnsF32 all", matBytes, undefined, (m) => e.gatherColumnsF32(outSimd, m, x, idxAll, n, n, gatherScratch)),
  ...both("gatherColumnsF32Scalar all", matBytes, "gatherColumnsF32 all", (m) => e.gatherColumnsF32Scalar(outScalar, m, x, idxAll, n, n, gatherScratch)),
  ...both("gatherColumnsF32 50%", matBytes / 2, undefined, (m) => e.gatherColumnsF32(outSimd, m, x, idxHalf, n / 2, n, gatherScratch)),
  ...both("gatherColumnsF32Scalar 50%", matBytes / 2, "gatherColumnsF32 50%", (m) => e.gatherColumnsF32Scalar(outScalar, m, x, idxHalf, n / 2, n, gatherScratch)),
  // q8 on the n x n square: hot (cache-resident) against cold shows whether a kernel is compute-
  // or memory-bound (the q8 matrix is the first ~n*n bytes of each f32 copy)
  ...both("matvecQ8", e.q8Bytes(n, n), undefined, (m) => e.matvecQ8(outSimd, m, x, n, n)),
  ...both("matvecQ8Scalar", e.q8Bytes(n, n), "matvecQ8", (m) => e.matvecQ8Scalar(outScalar, m, x, n, n)),
  ...both("gatherColumnsQ8 all", e.q8InBytes(n, n), undefined, (m) => e.gatherColumnsQ8(outSimd, m, x, idxAll, n, n, n)),
  ...both("gatherColumnsQ8Scalar all", e.q8InBytes(n, n), "gatherColumnsQ8 all", (m) => e.gatherColumnsQ8Scalar(outScalar, m, x, idxAll, n, n, n)),
  ...both("gatherColumnsQ8 50%", (n / 2) * n + 2 * n * new Set(Array.from(u32(idxHalf, n / 2), (j) => j >> 5)).size, undefined, (m) => e.gatherColumnsQ8(outSimd, m, x, idxHalf, n / 2, n, n)),
  { name: `readSumF32 ${matBytes / MiB} MiB (one matrix)`, bytes: matBytes, run: () => void e.readSumF32(w, n * n) },
  { name: READ_PROBES[0], bytes: bwBytes, run: () => void e.readSumF32(w, bwBytes / 4) },
  { name: READ_PROBES[1], bytes: bwBytes, run: () => void e.readSum4StreamsF32(w, bwBytes / 4) },
  { name: `memory.copy ${copyMiB} MiB`, bytes: copyMiB * MiB, run: () => e.copyBytes(copyDst, copySrc, copyMiB * MiB) },
  ...shapeCases,
];

// --filter TEXT: time only the kernels whose name contains TEXT (the read probes always run)
const fi = process.argv.indexOf("--filter");
const filter = fi >= 0 ? process.argv[fi + 1] : undefined;
if (filter !== undefined) {
  for (let i = cases.length - 1; i >= 0; i--) if (!cases[i].name.includes(filter) && !READ_PROBES.includes(cases[i].name)) cases.splice(i, 1);
}
// each 0.5B-shape kernel right after its own run of the 4-stream probe: under load from other
// processes the bandwidth drifts within a run, and the adjacent pair shares the conditions
for (let i = cases.length - 1; i >= 0; i--) {
  if (cases[i].paired) cases.splice(i, 0, { name: `read probe before ${cases[i].name}`, bytes: bwBytes, probeFor: cases[i].name, run: () => void e.readSum4StreamsF32(w, bwBytes / 4) });
}
const bench = new Bench({ time: timeMs, iterations: 5, warmupTime: 200, warmupIterations: 2, throws: true });
for (const c of cases) bench.add(c.name, c.run);
if (!json) process.stderr.write(`timing ${cases.length} kernels, ~${((cases.length * (timeMs + 200)) / 1000).toFixed(0)} s...\n`);
await bench.run();

function msPerOp(t: Task): { mean: number; p50: number; min: number; samples: number } {
  const r = t.result;
  if (r.state !== "completed") throw new Error(`${t.name}: ${r.state}`);
  return { mean: r.latency.mean, p50: r.latency.p50, min: r.latency.min, samples: r.latency.samplesCount };
}
const measured = new Map(bench.tasks.map((t) => [t.name, msPerOp(t)]));
const gbps = (c: Case) => c.bytes / (measured.get(c.name)![stat] / 1000) / 1e9;
const readGBps = Math.max(...READ_PROBES.map((p) => gbps(cases.find((c) => c.name === p)!)));

const rows = cases.map((c) => {
  const m = measured.get(c.name)!;
  const twin = cases.find((d) => d.scalarOf === c.name);
  return {
    kernel: c.name,
    ms_per_op: m[stat],
    ms_per_op_p50: m.p50,
    ms_per_op_min: m.min,
    ms_per_op_mean: m.mean,
    samples: m.samples,
    bytes: c.bytes,
    gb_s: gbps(c),
    ratio_to_read_bw: gbps(c) / readGBps,
    simd_speedup: twin ? measured.get(twin.name)![stat] / m[stat] : undefined,
    ratio_to_adjacent_read_bw: c.paired ? gbps(c) / gbps(cases.find((d) => d.probeFor === c.name)!) : undefined,
  };
});

const cpuModel = /model name\s*:\s*(.*)/.exec(safeRead("/proc/cpuinfo"))?.[1] ?? cpus()[0]?.model ?? "unknown";
const machine = { cpu: cpuModel, cores: cpus().length, node: process.version, load_start: loadStart, load_end: recordLoad("bench/kernels", "end") };

function safeRead(p: string): string {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return "";
  }
}

if (json) {
  process.stdout.write(JSON.stringify({ machine, stat, n, matrix_bytes: matBytes, copies, read_bw_gb_s: readGBps, deterministic: !relaxed, checked_bit_identical: !relaxed, rows }) + "\n");
} else {
  const head = ["kernel", "ms/op", "GB/s read", "x read BW", "x adj. BW", "SIMD/scalar"];
  const body = rows
    .filter((r) => !r.kernel.startsWith("read probe before "))
    .map((r) => [r.kernel, r.ms_per_op.toFixed(2), r.gb_s.toFixed(2), r.ratio_to_read_bw.toFixed(2), r.ratio_to_adjacent_read_bw?.toFixed(2) ?? "", r.simd_speedup ? `${r.simd_speedup.toFixed(2)}x` : ""]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => "| " + cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(" | ") + " |";
  process.stdout.write(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.load_start.join(" ")} at the start, ${machine.load_end.join(" ")} at the end\n`);
  process.stdout.write(
    relaxed
      ? `matrix ${n} x ${n} f32 (${matBytes / MiB} MiB); build/engine-relaxed.wasm: relaxed SIMD, results may differ between machines (SIMD within 1e-4 of scalar: checked)\n`
      : `matrix ${n} x ${n} f32 (${matBytes / MiB} MiB); SIMD == scalar bit-for-bit: checked\n`,
  );
  process.stdout.write(`read bandwidth (best SIMD read-sum over ${bwBytes / MiB} MiB): ${readGBps.toFixed(2)} GB/s; ms/op is the ${stat === "min" ? "minimum" : "median"} over calls\n\n`);
  process.stdout.write(line(head) + "\n" + line(widths.map((wd) => "-".repeat(wd))) + "\n");
  for (const b of body) process.stdout.write(line(b) + "\n");
  process.stdout.write(`\nhot: the same matrix every call; cold: the next of ${copies} matrices (${bwBytes / MiB} MiB) each call.\n`);
  process.stdout.write(`x adj. BW: against the 4-stream probe timed just before that kernel (0.5B-shape rows).\n`);
  process.stdout.write(`memory.copy GB/s counts bytes copied (each is read once and written once).\n`);
}
