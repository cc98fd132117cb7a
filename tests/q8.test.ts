// q8 weights: quantization round trip, accuracy against f32, bytes read, and the up-front size check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Engine } from "../host/engine.js";
import { dequantizeQ8InputMajor, dequantizeQ8Matrix, quantizeQ8InputMajorInto, quantizeQ8Into } from "../host/quant.js";
import { DTYPE_Q8, layoutBytes } from "../host/abi.js";
import { loadDefaultEngineWasm } from "../host/wasm.js";
import { halfToFloat } from "../host/float16.js";
import { perplexity, splitStories, tokenStream } from "../host/eval.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { dataDir } from "../host/node/paths.js";
import type { LoadedModel } from "../host/model.js";
import { maxAbsDiff, readF32, readJson, storiesFixture, storiesModel } from "./helpers.js";

// buffer sizes of the q8 layouts, from the wasm that owns them
const q8Bytes = layoutBytes(await loadDefaultEngineWasm(), DTYPE_Q8);

test("q8 quantization: hand-made block, and every value within half a step of the original", () => {
  // one row of 3: max |x| = 1.27 -> scale 0.01; 0.5 -> 50, -1.27 -> -127, 0.004 -> 0
  const out = new Uint8Array(q8Bytes.matrix(1, 3));
  quantizeQ8Into(out, Float32Array.from([0.5, -1.27, 0.004]), 1, 3);
  assert.equal(out.length, 288, "one tile: 8 rows x 32 quants, then 8 f32 scales");
  assert.deepEqual(Array.from(new Int8Array(out.buffer, 0, 33)), [50, -127, 0, ...new Array(30).fill(0)]); // padding is 0
  assert.ok(Math.abs(new Float32Array(out.buffer, 256, 1)[0] - 0.01) < 1e-9);
  assert.deepEqual(Array.from(new Float32Array(out.buffer, 260, 7)), new Array(7).fill(0));
  const rows = 3, n = 70; // two full blocks and a partial one per row
  const a = Float32Array.from({ length: rows * n }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
  const q = new Uint8Array(q8Bytes.matrix(rows, n));
  quantizeQ8Into(q, a, rows, n);
  const back = dequantizeQ8Matrix(q, rows, n);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < 3; b++) {
      const block = Array.from(a.subarray(r * n + b * 32, r * n + Math.min(n, (b + 1) * 32)));
      const step = Math.max(...block.map(Math.abs)) / 127;
      block.forEach((v, i) => assert.ok(Math.abs(back[r * n + b * 32 + i] - v) <= step / 2 + 1e-7));
    }
  }
});

test("q8 input-major layout: column j contiguous, f16 scales per (block of 32 inputs, output), within half a step", () => {
  // W [2 outputs x 3 inputs] = [[0.5, -1.27, 0.004], [0, 0, 0]]: row 0 scale f16(0.01), row 1 all zero
  const out = new Uint8Array(q8Bytes.inputMajor(3, 2));
  quantizeQ8InputMajorInto(out, Float32Array.from([0.5, -1.27, 0.004, 0, 0, 0]), 2, 3);
  assert.deepEqual(Array.from(new Int8Array(out.buffer, 0, 6)), [50, 0, -127, 0, 0, 0]); // q[j * 2 + o]
  const scales = new Uint16Array(out.buffer, 8, 2);
  assert.ok(Math.abs(halfToFloat(scales[0]) - 0.01) < 0.01 / 1024);
  assert.equal(scales[1], 0x0400, "an all-zero block gets the smallest normal f16 scale, 2^-14");
  const nOut = 5, nIn = 70; // two full blocks of inputs and a partial one per output
  const a = Float32Array.from({ length: nOut * nIn }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
  const q = new Uint8Array(q8Bytes.inputMajor(nIn, nOut));
  quantizeQ8InputMajorInto(q, a, nOut, nIn);
  const back = dequantizeQ8InputMajor(q, nOut, nIn);
  for (let o = 0; o < nOut; o++) {
    for (let b = 0; b < 3; b++) {
      const block = Array.from(a.subarray(o * nIn + b * 32, o * nIn + Math.min(nIn, (b + 1) * 32)));
      // f16 rounding of the scale may cost up to 2^-11 of it on the clamped extreme value
      const step = (Math.max(...block.map(Math.abs)) / 127) * (1 + 2 ** -10);
      block.forEach((v, i) => assert.ok(Math.abs(back[o * nIn + b * 32 + i] - v) <= step / 2 + 1e-7));
    }
  }
  assert.throws(() => quantizeQ8InputMajorInto(new Uint8Array(q8Bytes.inputMajor(1, 1)), Float32Array.from([1e7]), 1, 1), /beyond the f16 block scale/);
});

test("q8 on stories260K: logits close to the reference, perplexity within 0.5%, 3.5x fewer bytes", async () => {
  const manifest = readJson(storiesFixture("manifest.json"));
  const model = await storiesModel();
  const q8 = await Engine.create(model, { dtype: "q8" });
  const f32 = await Engine.create(model);
  const out = new Float32Array(manifest.tokens.length * 512);
  manifest.tokens.forEach((t: number, i: number) => out.set(q8.step(t), i * 512));
  const ref = readF32(storiesFixture(manifest.logits_file));
  const err = maxAbsDiff(out, ref);
  let meanErr = 0;
  for (let i = 0; i < ref.length; i++) meanErr += Math.abs(out[i] - ref[i]) / ref.length;
  // measured: max 0.44, mean 0.075 on logits of mean magnitude 7.9. Weights and, since the integer
  // kernels, activations are int8 per block of 32 (q8_0 x q8_0, as llama.cpp); with f32 activations
  // this was max 0.29, mean 0.056. The kernels are deterministic, so the margin only covers changes
  // of the code, not run-to-run noise.
  assert.ok(err < 0.5, `q8 max logit error ${err}`);
  assert.ok(meanErr < 0.09, `q8 mean logit error ${meanErr}`);
  const tok = new SentencePieceTokenizer(model.vocab!);
  const stories = splitStories(readFileSync(resolve(dataDir(), "tinystories", "valid-sample.txt"), "utf8")).slice(0, 5);
  const stream = tokenStream(tok, stories);
  const p8 = perplexity(q8, stream);
  const p32 = perplexity(f32, stream);
  assert.ok(Math.abs(p8.ppl / p32.ppl - 1) < 5e-3, `q8 ppl ${p8.ppl} vs f32 ${p32.ppl}`);
  // q8 reads 1 byte per weight + a 4-byte scale per 32 (MLP: a 2-byte scale per 32 inputs)
  assert.ok(p32.weight_bytes_per_token / p8.weight_bytes_per_token > 3.5);
  assert.equal(p8.weight_bytes_per_token, p8.dense_weight_bytes_per_token);
});

test("q8 with dip: keep 1.0 equals dense bit for bit, repeat runs are identical, bytes counted from the kept columns", async () => {
  const model = await storiesModel();
  const manifest = readJson(storiesFixture("manifest.json"));
  const tokens: number[] = manifest.tokens.slice(0, 24);
  const run = (e: Engine) => {
    e.reset();
    const out = new Float32Array(tokens.length * 512);
    tokens.forEach((t, i) => out.set(e.step(t), i * 512));
    return out;
  };
  const dense = await Engine.create(model, { dtype: "q8" });
  const dip1 = await Engine.create(model, { dtype: "q8", sparsity: { method: "dip", keep: 1.0 } });
  const a = run(dense);
  assert.deepEqual(new Uint32Array(run(dip1).buffer), new Uint32Array(a.buffer));
  assert.deepEqual(new Uint32Array(run(dense).buffer), new Uint32Array(a.buffer));

  // dip 0.5: the MLP reads the kept columns' quants and nOut f16 scales per block of 32 inputs
  // that has a kept column, nothing of a pruned column
  const dip = await Engine.create(model, { dtype: "q8", sparsity: { method: "dip", keep: 0.5 } });
  const { dim, hiddenDim } = model.config;
  const blocks = (idx: Uint32Array) => new Set(Array.from(idx, (j) => j >> 5)).size;
  dip.reset();
  for (const t of tokens) {
    dip.resetBytes();
    dip.step(t);
    const m = dip.lastMasks();
    let want = 0;
    for (let l = 0; l < model.config.nLayers; l++) {
      want += 2 * (m.input[l].length * hiddenDim + 2 * hiddenDim * blocks(m.input[l]));
      want += m.hidden[l].length * dim + 2 * dim * blocks(m.hidden[l]);
    }
    assert.equal(dip.bytesRead().mlp, want);
    assert.ok(m.input.every((idx) => idx.length < dim) && m.hidden.every((idx) => idx.length < hiddenDim));
  }
});

test("a model too large for wasm32 is refused up front with its size and what would fit", async () => {
  const base = await storiesModel();
  // a 7B-like config: 26 GB in f32, 7 GB in q8; refused before any weight is looked at
  const big: LoadedModel = {
    ...base,
    name: "big",
    config: { ...base.config, dim: 4096, hiddenDim: 11008, nLayers: 32, nHeads: 32, nKvHeads: 32, vocabSize: 32000, seqLen: 2048 },
  };
  await assert.rejects(Engine.create(big), /big needs \d+\.\d+ GB of wasm memory in f32 .* over the 4\.23 GB that wasm32 can address; no dtype fits: convert it to a \.dipstream .* and stream its MLP/);
  // 1.6B-like: over 4 GiB in f32, fits in q8
  const mid: LoadedModel = { ...big, name: "mid", config: { ...big.config, nLayers: 10, seqLen: 512 } };
  await assert.rejects(Engine.create(mid), /mid needs .* in f32 .* it fits with --dtype q8/);
  await assert.rejects(Engine.create(base, { dtype: "q4" as never }), /--dtype must be one of f32, q8/);
});

test("a Q8_0 GGUF runs natively by default (its values exactly in the q8 layouts); --dtype f32 and q8 override", async () => {
  const { spawnSync } = await import("node:child_process");
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { projectRoot } = await import("../host/node/paths.js");
  const { STORIES_GGUF } = await import("./helpers.js");
  const dir = mkdtempSync(join(tmpdir(), "dip-q8-"));
  const dip = (...args: string[]) => spawnSync(process.execPath, [join(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
  const out = join(dir, "q8.gguf");
  assert.equal(dip("convert", "--model", STORIES_GGUF(), "--out", out, "--dtype", "q8").status, 0);
  assert.equal(JSON.parse(dip("info", "--model", out, "--json").stdout).dtype, "native");
  assert.equal(JSON.parse(dip("info", "--model", out, "--json", "--dtype", "f32").stdout).dtype, "f32");
  assert.equal(JSON.parse(dip("info", "--model", out, "--json", "--dtype", "q8").stdout).dtype, "q8");
});
