// Quantized GGUF files run natively (--dtype native, the default for them): the reference
// fixtures of ../shared/fixtures/gguf against their float64 logits (stories260K files: top-1 equal
// at >= 90% of positions; synthetic k-quant files: logits correlated >= 0.99; --dtype f32 within
// 1e-3), the byte counters against the stored block sizes by hand, the matrices never expanded to
// f32, and the wasm kernels on the files' own blocks against the TypeScript dequantizer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fixturesDir } from "../host/node/paths.js";
import { loadModelFile } from "../host/node/load.js";
import { Engine } from "../host/engine.js";
import { headDim, type LoadedModel, type QuantizedMatrix } from "../host/model.js";
import { dequantizeRows, q4_0ScalesFitInputMajor } from "../host/quant.js";
import { GGML_TYPE, dequantizeRow, ggmlRowBytes, ggmlTypeName, quantizeRow } from "../host/formats/ggml-blocks.js";
import { parseGguf, readGgufHeader } from "../host/formats/gguf.js";
import { allocOrThrow } from "../host/engine-layout.js";
import { readF32, runLogits } from "./helpers.js";

interface FixtureFile {
  file: string;
  architecture: string;
  tokens: number[];
  vocab_size: number;
  tensor_types: Record<string, number>;
}

const dir = resolve(fixturesDir(), "gguf");
const manifest = JSON.parse(readFileSync(resolve(dir, "manifest.json"), "utf8")) as { files: FixtureFile[] };
// every file with quantized tensors, whatever its architecture
const quantizedFiles = manifest.files.filter((f) => Object.keys(f.tensor_types).some((t) => t.startsWith("Q")));

/** Pearson correlation of two equal-length arrays. */
function correlation(a: Float32Array, b: Float32Array): number {
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= a.length;
  mb /= b.length;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Share of positions whose argmax agrees. */
function top1Agreement(a: Float32Array, b: Float32Array, V: number): number {
  const argmax = (x: Float32Array, t: number) => {
    let best = 0;
    for (let i = 1; i < V; i++) if (x[t * V + i] > x[t * V + best]) best = i;
    return best;
  };
  const T = a.length / V;
  let same = 0;
  for (let t = 0; t < T; t++) if (argmax(a, t) === argmax(b, t)) same++;
  return same / T;
}

for (const f of quantizedFiles) {
  test(`${f.file}: native run vs the reference logits, and --dtype f32 within 1e-3`, async () => {
    const model = await loadModelFile(resolve(dir, f.file));
    assert.equal(model.storedDtype, "native");
    const reference = readF32(resolve(dir, f.file.replace(/\.gguf$/, ".logits.f32")));
    const native = await Engine.create(model, { dtype: "native" });
    const logits = runLogits(native, f.tokens);
    if (f.file.startsWith("stories260K")) {
      const agree = top1Agreement(logits, reference, f.vocab_size);
      assert.ok(agree >= 0.9, `top-1 agreement ${agree}`);
    } else {
      const r = correlation(logits, reference);
      assert.ok(r >= 0.99, `correlation ${r}`);
    }
    const exact = runLogits(await Engine.create(model, { dtype: "f32" }), f.tokens);
    let worst = 0;
    for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(exact[i] - reference[i]));
    assert.ok(worst <= 1e-3, `--dtype f32 max |diff| ${worst}`);
  });
}

/** Bytes of a matrix as the native layout holds it, by hand: the file's blocks for Q4_0/Q4_1/Q5_0/Q5_1/Q2_K/Q3_K/Q4_K/Q5_K/Q6_K, q8 tiles (36 B per 32 values, rows in 8s) otherwise, f32 when not quantized. */
function nativeRowMajorBytes(q: QuantizedMatrix | undefined, rows: number, cols: number): number {
  if (!q) return 4 * rows * cols;
  if (q.ggmlType === GGML_TYPE.Q4_0) return rows * (cols / 32) * 18;
  if (q.ggmlType === GGML_TYPE.Q5_0) return rows * (cols / 32) * 22;
  if (q.ggmlType === GGML_TYPE.Q4_K) return rows * (cols / 256) * 144;
  if (q.ggmlType === GGML_TYPE.Q6_K) return rows * (cols / 256) * 210;
  if (q.ggmlType === GGML_TYPE.Q4_1) return rows * (cols / 32) * 20;
  if (q.ggmlType === GGML_TYPE.Q5_1) return rows * (cols / 32) * 24;
  if (q.ggmlType === GGML_TYPE.Q5_K) return rows * (cols / 256) * 176;
  if (q.ggmlType === GGML_TYPE.Q3_K) return rows * (cols / 256) * 110;
  if (q.ggmlType === GGML_TYPE.Q2_K) return rows * (cols / 256) * 84;
  return Math.ceil(rows / 8) * 8 * Math.ceil(cols / 32) * 36;
}

/**
 * Bytes a gather of `kept` columns (touching `blocks` blocks of 32 inputs, `supers` of 256) reads
 * from an MLP matrix laid out natively, by hand: Q4_0 (the fixtures' d all fit) 16 bytes per 32
 * outputs per column and an f16 d per (block, output); Q4_K as below; other quantized types a q8
 * byte per weight and an f16 scale per (block, output); f32 when the file has f32/f16.
 */
function mlpColumnBytes(m: QuantizedMatrix | undefined, kept: number, nOut: number, nIn: number, blocks = Math.ceil(nIn / 32), supers = nIn / 256): number {
  if (!m) return 4 * kept * nOut;
  if (m.ggmlType === GGML_TYPE.Q4_0) {
    assert.ok(q4_0ScalesFitInputMajor(m), "a fixture Q4_0 matrix with subnormal scales");
    return kept * Math.ceil(nOut / 32) * 16 + 2 * nOut * blocks;
  }
  // Q4_K: nibbles as Q4_0, u8 sc and m per (block, output), f32 d and dmin per (256-block, output)
  if (m.ggmlType === GGML_TYPE.Q4_K) return kept * Math.ceil(nOut / 32) * 16 + 2 * nOut * blocks + 8 * nOut * supers;
  return kept * nOut + 2 * nOut * blocks;
}

test("native dense bytes per token: the attention and LM head read the files' blocks as stored, the MLP its Q4_0, Q4_K or q8 columns", async () => {
  for (const f of quantizedFiles) {
    const model = await loadModelFile(resolve(dir, f.file));
    const c = model.config;
    const hd = headDim(c);
    const engine = await Engine.create(model, { dtype: "native" });
    let attention = 0, mlp = 0;
    model.weights.layers.forEach((l) => {
      const q = l.quantized ?? {};
      attention += nativeRowMajorBytes(q.wq, c.nHeads * hd, c.dim) + nativeRowMajorBytes(q.wk, c.nKvHeads * hd, c.dim);
      attention += nativeRowMajorBytes(q.wv, c.nKvHeads * hd, c.dim) + nativeRowMajorBytes(q.wo, c.dim, c.nHeads * hd);
      const columns = (m: QuantizedMatrix | undefined, nIn: number, nOut: number) => mlpColumnBytes(m, nIn, nOut, nIn);
      mlp += columns(q.wGate, c.dim, c.hiddenDim) + columns(q.wUp, c.dim, c.hiddenDim) + columns(q.wDown, c.hiddenDim, c.dim);
    });
    const lmHead = model.weights.quantized?.[c.tiedEmbeddings ? "tokenEmbedding" : "lmHead"];
    const expected = { attention, mlp, lm_head: nativeRowMajorBytes(lmHead, c.vocabSize, c.dim) };
    const dense = engine.denseBytesPerToken();
    assert.deepEqual({ attention: dense.attention, mlp: dense.mlp, lm_head: dense.lm_head }, expected, f.file);
    // and the engine's byte counters count the same for a token
    engine.resetBytes();
    engine.step(f.tokens[0]);
    const counted = engine.bytesRead();
    assert.equal(counted.attention, expected.attention, `${f.file} counted attention bytes`);
    assert.equal(counted.lm_head, expected.lm_head, `${f.file} counted LM head bytes`);
    assert.equal(counted.mlp, expected.mlp, `${f.file} counted MLP bytes`);
  }
});

for (const file of ["stories260K-Q4_0.gguf", "synth-k-Q4_K_M.gguf"]) test(`DIP on ${file} reads only the kept columns, 4-bit ones in 4 bits: the byte counter against the hand formula from the masks`, async () => {
  const model = await loadModelFile(resolve(dir, file));
  const c = model.config;
  const engine = await Engine.create(model, { dtype: "native", sparsity: { method: "dip", keep: 0.5 } });
  const dense = engine.denseBytesPerToken().mlp;
  engine.resetBytes();
  engine.step(1);
  const masks = engine.lastMasks();
  const blocksOf = (idx: Uint32Array) => new Set(Array.from(idx, (j) => j >> 5)).size;
  const supersOf = (idx: Uint32Array) => new Set(Array.from(idx, (j) => j >> 8)).size;
  let expected = 0;
  model.weights.layers.forEach((l, i) => {
    const q = l.quantized ?? {};
    const input = masks.input[i], hidden = masks.hidden[i];
    expected += mlpColumnBytes(q.wGate, input.length, c.hiddenDim, c.dim, blocksOf(input), supersOf(input));
    expected += mlpColumnBytes(q.wUp, input.length, c.hiddenDim, c.dim, blocksOf(input), supersOf(input));
    expected += mlpColumnBytes(q.wDown, hidden.length, c.dim, c.hiddenDim, blocksOf(hidden), supersOf(hidden));
    assert.ok(input.length < c.dim && hidden.length < c.hiddenDim);
  });
  assert.ok([GGML_TYPE.Q4_0, GGML_TYPE.Q4_K].includes(model.weights.layers[0].quantized?.wGate?.ggmlType as never));
  assert.equal(engine.bytesRead().mlp, expected);
  assert.ok(expected < dense, `${expected} < ${dense}`);
});

test("a native engine never expands the file's quantized matrices to f32", async () => {
  const f = quantizedFiles.find((x) => x.file === "synth-k-Q4_K_M.gguf")!;
  const model = await loadModelFile(resolve(dir, f.file));
  const reads: string[] = [];
  // wrap every lazy f32 field with a recorder
  const watch = (target: object, key: string, name: string) => {
    const d = Object.getOwnPropertyDescriptor(target, key)!;
    if (!d.get) return;
    Object.defineProperty(target, key, { ...d, get: () => (reads.push(name), d.get!.call(target)) });
  };
  model.weights.layers.forEach((l, i) => Object.keys(l.quantized ?? {}).forEach((k) => watch(l, k, `layer ${i} ${k}`)));
  watch(model.weights, "tokenEmbedding", "token embedding");
  watch(model.weights, "lmHead", "lm_head");
  const engine = await Engine.create(model, { dtype: "native" });
  engine.step(1);
  // the MLP is re-encoded to q8 through f32 one matrix at a time without touching the fields
  assert.deepEqual(reads, []);
  // an f32 consumer still gets the exact values through the same field
  assert.equal(model.weights.layers[0].wq.length, c(model).qRows * model.config.dim);
});

function c(model: LoadedModel): { qRows: number } {
  return { qRows: model.config.nHeads * headDim(model.config) };
}

test("the wasm kernels on the files' own blocks: scalar reference == SIMD, and within the activation-quantization bound of the TypeScript dequantizer's f32 product", async () => {
  const kernels: Record<number, [string, string]> = {
    [GGML_TYPE.Q4_0]: ["matvecQ4_0", "matvecQ4_0Scalar"],
    [GGML_TYPE.Q5_0]: ["matvecQ5_0", "matvecQ5_0Scalar"],
    [GGML_TYPE.Q4_K]: ["matvecQ4_K", "matvecQ4_KScalar"],
    [GGML_TYPE.Q6_K]: ["matvecQ6_K", "matvecQ6_KScalar"],
    [GGML_TYPE.Q4_1]: ["matvecQ4_1", "matvecQ4_1Scalar"],
    [GGML_TYPE.Q5_1]: ["matvecQ5_1", "matvecQ5_1Scalar"],
    [GGML_TYPE.Q5_K]: ["matvecQ5_K", "matvecQ5_KScalar"],
    [GGML_TYPE.Q3_K]: ["matvecQ3_K", "matvecQ3_KScalar"],
    [GGML_TYPE.Q2_K]: ["matvecQ2_K", "matvecQ2_KScalar"],
  };
  const seen = new Set<number>();
  for (const f of quantizedFiles) {
    const model = await loadModelFile(resolve(dir, f.file));
    const engine = await Engine.create(model, { dtype: "f32" });
    const wasm = engine.exports as unknown as Record<string, (...a: number[]) => void> & { memory: WebAssembly.Memory };
    const matrices = model.weights.layers.flatMap((l) => Object.values(l.quantized ?? {})).concat(Object.values(model.weights.quantized ?? {}));
    for (const q of matrices) {
      const names = kernels[q.ggmlType];
      if (!names) continue;
      seen.add(q.ggmlType);
      const rows = Math.min(q.rows, 64);
      const wPtr = allocOrThrow(engine.exports, rows * ggmlRowBytes(q.ggmlType, q.cols));
      new Uint8Array(wasm.memory.buffer, wPtr, rows * ggmlRowBytes(q.ggmlType, q.cols)).set(q.bytes.subarray(0, rows * ggmlRowBytes(q.ggmlType, q.cols)));
      const xPtr = allocOrThrow(engine.exports, 4 * q.cols);
      const x = new Float32Array(wasm.memory.buffer, xPtr, q.cols);
      for (let i = 0; i < q.cols; i++) x[i] = Math.sin(i * 0.37 + rows) * (1 + (i % 7));
      const simdPtr = allocOrThrow(engine.exports, 4 * rows);
      const scalarPtr = allocOrThrow(engine.exports, 4 * rows);
      wasm[names[0]](simdPtr, wPtr, xPtr, rows, q.cols);
      wasm[names[1]](scalarPtr, wPtr, xPtr, rows, q.cols);
      const simd = new Float32Array(wasm.memory.buffer, simdPtr, rows);
      const scalar = new Float32Array(wasm.memory.buffer, scalarPtr, rows);
      assert.deepEqual(Array.from(simd), Array.from(scalar), `${f.file} ${ggmlTypeName(q.ggmlType)}`);
      const w = dequantizeRows(q, 0, rows);
      const xs = new Float32Array(wasm.memory.buffer, xPtr, q.cols);
      for (let r = 0; r < rows; r++) {
        let ref = 0, bound = 0, mass = 0;
        for (let i = 0; i < q.cols; i++) {
          const b0 = i - (i % 32);
          let amax = 0;
          for (let k = b0; k < b0 + 32; k++) amax = Math.max(amax, Math.abs(xs[k]));
          ref += w[r * q.cols + i] * xs[i];
          bound += Math.abs(w[r * q.cols + i]) * 0.5 * (amax / 127); // x rounded by half a step of its block at most
          mass += Math.abs(w[r * q.cols + i] * xs[i]);
        }
        assert.ok(Math.abs(scalar[r] - ref) <= bound + 1e-6 * mass, `${f.file} ${ggmlTypeName(q.ggmlType)} row ${r}: ${scalar[r]} vs ${ref} (bound ${bound})`);
      }
    }
  }
  assert.deepEqual([...seen].sort(), [GGML_TYPE.Q4_0, GGML_TYPE.Q5_0, GGML_TYPE.Q4_K, GGML_TYPE.Q6_K, GGML_TYPE.Q4_1, GGML_TYPE.Q5_1, GGML_TYPE.Q5_K, GGML_TYPE.Q3_K, GGML_TYPE.Q2_K].sort(), "every native type met in the fixtures");
});

test("phi3's fused attn_qkv and ffn_up stored as quantized blocks split by rows: the native and f32 runs track the F16 file's reference", async () => {
  // tiny-phi3-F16 with its fused tensors rewritten in place as Q8_0 (34 bytes per 32 values fit in
  // the F16 data's 64), the directory's type fields patched: a quantized phi3 file
  const f = manifest.files.find((x) => x.file === "tiny-phi3-F16.gguf")!;
  const bytes = new Uint8Array(readFileSync(resolve(dir, f.file)));
  const header = readGgufHeader(bytes, f.file);
  let converted = 0;
  for (const t of header.tensors) {
    if (!/\.(attn_qkv|ffn_up)\.weight$/.test(t.name)) continue;
    assert.equal(t.type, GGML_TYPE.F16);
    const at = header.dataStart + t.offset;
    const values = new Float32Array(t.elements);
    dequantizeRow(GGML_TYPE.F16, bytes, at, t.elements, values);
    quantizeRow(GGML_TYPE.Q8_0, values, t.elements, bytes, at);
    // the directory entry: u64 name length, the name, u32 n_dims, n_dims u64 dims, u32 type
    const name = new TextEncoder().encode(t.name);
    const needle = new Uint8Array(8 + name.length);
    new DataView(needle.buffer).setUint32(0, name.length, true);
    needle.set(name, 8);
    const entry = Buffer.from(bytes.buffer, 0, header.dataStart).indexOf(needle);
    assert.ok(entry > 0, t.name);
    new DataView(bytes.buffer).setUint32(entry + needle.length + 4 + 8 * t.dims.length, GGML_TYPE.Q8_0, true);
    converted++;
  }
  const model = parseGguf(bytes, "tiny-phi3-Q8_0-fused.gguf");
  assert.equal(converted, 2 * model.config.nLayers);
  const q = model.weights.layers[0].quantized!;
  const hd = headDim(model.config);
  assert.deepEqual([q.wq!.rows, q.wk!.rows, q.wv!.rows, q.wGate!.rows, q.wUp!.rows], [model.config.nHeads * hd, model.config.nKvHeads * hd, model.config.nKvHeads * hd, model.config.hiddenDim, model.config.hiddenDim]);
  const reference = readF32(resolve(dir, f.file.replace(/\.gguf$/, ".logits.f32")));
  for (const dtype of ["native", "f32"] as const) {
    const logits = runLogits(await Engine.create(model, { dtype }), f.tokens);
    const r = correlation(logits, reference);
    assert.ok(r >= 0.99, `${dtype}: correlation ${r}`);
  }
});
