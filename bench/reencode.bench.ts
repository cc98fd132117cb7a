// What --dtype native costs in accuracy against a file's own values, on the GGUF fixtures
// (../shared/fixtures/gguf, llama files): accuracy, not speed, so the machine's load does not
// matter and the numbers can be recorded (bench/README.md, "Native quantized weights").
//
//   node scripts/build-tests.mjs && node build/bench/reencode.bench.js [--json]
//
// Per file: (1) the MLP matrices that native mode re-encodes into the q8 input-major layout (every
// type but Q4_0 and Q4_K, kept exactly in their 4-bit input-major layouts, and Q8_0, kept exactly
// in q8): relative RMS error of the re-encoded weights against the file's exact values; (2) logits
// of the fixture's tokens with --dtype native against --dtype f32 (the file's values exactly): max
// |diff|, correlation, top-1 agreement. Files whose values are all kept show the activation
// quantization's cost alone (the integer kernels quantize x to int8 per 32); the others add the
// re-encoding.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fixturesDir } from "../host/node/paths.js";
import { loadModelFile } from "../host/node/load.js";
import { Engine } from "../host/engine.js";
import { dequantizeMatrix, dequantizeQ8InputMajor, quantizedIntoQ8InputMajor } from "../host/quant.js";
import { ggmlTypeName } from "../host/formats/ggml-blocks.js";
import { layoutBytes, DTYPE_Q8 } from "../host/abi.js";
import { inputMajorDtype } from "../host/matrix-dtype.js";

const dir = resolve(fixturesDir(), "gguf");
const manifest = JSON.parse(readFileSync(resolve(dir, "manifest.json"), "utf8")) as { files: { file: string; architecture: string; tokens: number[]; tensor_types: Record<string, number> }[] };
const files = manifest.files.filter((f) => f.architecture === "llama" && Object.keys(f.tensor_types).some((t) => t.startsWith("Q")));

function logitsOf(engine: Engine, tokens: number[]): Float32Array {
  const V = engine.config.vocabSize;
  const out = new Float32Array(tokens.length * V);
  engine.reset();
  tokens.forEach((t, i) => out.set(engine.step(t), i * V));
  return out;
}

const rows: Record<string, unknown>[] = [];
for (const f of files) {
  const model = await loadModelFile(resolve(dir, f.file));
  const c = model.config;
  const f32 = await Engine.create(model, { dtype: "f32" });
  const native = await Engine.create(model, { dtype: "native" });
  // (1) the MLP matrices' re-encoding error, by type
  const q8 = layoutBytes(f32.exports, DTYPE_Q8);
  const errByType = new Map<string, { se: number; ss: number; exact: number; reencoded: number }>();
  for (const l of model.weights.layers) {
    for (const [key, nOut, nIn] of [["wGate", c.hiddenDim, c.dim], ["wUp", c.hiddenDim, c.dim], ["wDown", c.dim, c.hiddenDim]] as const) {
      const q = l.quantized?.[key];
      if (!q) continue;
      const type = ggmlTypeName(q.ggmlType);
      const e = errByType.get(type) ?? { se: 0, ss: 0, exact: 0, reencoded: 0 };
      if (inputMajorDtype("native", q) !== DTYPE_Q8) {
        // a 4-bit input-major layout: the file's values exactly (tests/gguf-native.test.ts)
        e.exact++;
        errByType.set(type, e);
        continue;
      }
      const bytes = new Uint8Array(q8.inputMajor(nIn, nOut));
      const exact = quantizedIntoQ8InputMajor(bytes, q);
      const back = dequantizeQ8InputMajor(bytes, nOut, nIn);
      const values = dequantizeMatrix(q);
      for (let i = 0; i < values.length; i++) {
        e.se += (back[i] - values[i]) ** 2;
        e.ss += values[i] ** 2;
      }
      if (exact) e.exact++;
      else e.reencoded++;
      errByType.set(type, e);
    }
  }
  // (2) logits, native against the file's exact values
  const a = logitsOf(native, f.tokens);
  const b = logitsOf(f32, f.tokens);
  const V = c.vocabSize;
  let maxDiff = 0, top1 = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  for (let t = 0; t < f.tokens.length; t++) {
    let ia = 0, ib = 0;
    for (let v = 1; v < V; v++) {
      if (a[t * V + v] > a[t * V + ia]) ia = v;
      if (b[t * V + v] > b[t * V + ib]) ib = v;
    }
    if (ia === ib) top1++;
  }
  const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = mean(a), mb = mean(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  rows.push({
    file: f.file,
    mlp: [...errByType].map(([type, e]) => `${type}: ${e.reencoded ? `re-encoded, rel. RMS ${Math.sqrt(e.se / e.ss).toExponential(2)}` : "exact"}`).join("; ") || "f32/f16 (exact)",
    logits_max_abs_diff: maxDiff,
    logits_correlation: sab / Math.sqrt(saa * sbb),
    top1_agreement: top1 / f.tokens.length,
  });
}

if (process.argv.includes("--json")) process.stdout.write(JSON.stringify(rows) + "\n");
else {
  process.stdout.write("| file | MLP in native mode (vs the file's values) | logits max abs diff vs f32 | correlation | top-1 agree |\n| --- | --- | --- | --- | --- |\n");
  for (const r of rows) process.stdout.write(`| ${r.file} | ${r.mlp} | ${(r.logits_max_abs_diff as number).toFixed(4)} | ${(r.logits_correlation as number).toFixed(6)} | ${(r.top1_agreement as number).toFixed(3)} |\n`);
}
