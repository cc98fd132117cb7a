// GGUF v3 writer and `dip convert`: our own output read back by our reader, f32 (identical logits),
// Q8_0 (close logits, blocks within half a step) and Hugging Face sources (q/k permuted to GGUF's
// interleaved rope layout).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Engine } from "../host/engine.js";
import { loadModelFile } from "../host/node/load.js";
import { parseGguf, readGgufHeader } from "../host/formats/gguf.js";
import { GGML_TYPE, ggmlTypeName, quantizeRow } from "../host/formats/ggml-blocks.js";
import { halfToFloat } from "../host/float16.js";
import { encodeGguf, ggufTensorType, permuteHalfToInterleaved } from "../host/formats/gguf-writer.js";
import { convertModel } from "../host/node/cli/convert.js";
import { syntheticVocab } from "../host/synthetic.js";
import { perplexity, splitStories, tokenStream } from "../host/eval.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { dataDir, fixturesDir, projectRoot } from "../host/node/paths.js";
import type { LoadedModel } from "../host/model.js";
import { maxAbsDiff, readJson, storiesFixture, storiesModel, STORIES_BIN, STORIES_GGUF } from "./helpers.js";

const manifest = readJson(storiesFixture("manifest.json"));
const tmp = mkdtempSync(join(tmpdir(), "dip-convert-"));
/**
 * HF -> GGUF q8_0 logits stay within this fraction of the logits' range: measured 0.05-0.08 on
 * the tiny HF fixtures (dim 64: per-weight errors barely average out); a wrong scale or layout
 * moves them by about the whole range.
 */
const Q8_LOGIT_BOUND = 0.12;
const hfDir = (m: string) => resolve(fixturesDir(), "hf", m);

async function runLogits(model: LoadedModel, tokens: number[]): Promise<Float32Array> {
  const engine = await Engine.create(model);
  const V = engine.config.vocabSize;
  const out = new Float32Array(tokens.length * V);
  tokens.forEach((t, i) => out.set(engine.step(t), i * V));
  return out;
}

function argmax(logits: Float32Array, row: number, V = 512): number {
  let best = 0;
  for (let j = 1; j < V; j++) if (logits[row * V + j] > logits[row * V + best]) best = j;
  return best;
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

test("stories260K GGUF v1 -> our GGUF v3 f32 -> the same logits bit for bit, and the same vocabulary", async () => {
  const source = await storiesModel();
  const out = join(tmp, "stories-f32.gguf");
  await convertModel(source, out, "f32");
  const bytes = new Uint8Array(readFileSync(out));
  const header = readGgufHeader(bytes, out);
  assert.equal(header.version, 3);
  assert.equal(header.alignment, 32);
  assert.equal(header.dataStart % 32, 0);
  for (const t of header.tensors) {
    assert.equal(t.offset % 32, 0, t.name);
    assert.equal(t.type, GGML_TYPE.F32, t.name);
  }
  const back = parseGguf(bytes, out);
  assert.deepEqual(back.config, source.config);
  assert.deepEqual(back.vocab, source.vocab);
  assert.ok(bitsEqual(await runLogits(back, manifest.tokens), await runLogits(source, manifest.tokens)));
  // the tokenizer built from the written vocabulary encodes like the source's
  const text = "Once upon a time, there was a little girl named Lily.";
  assert.deepEqual(new SentencePieceTokenizer(back.vocab!).encode(text), new SentencePieceTokenizer(source.vocab!).encode(text));
});

test("llama2.c checkpoint -> GGUF f32 -> the same logits bit for bit", async () => {
  const source = await loadModelFile(STORIES_BIN());
  const back = parseGguf(encodeGguf(source, "f32"), "mem.gguf");
  assert.ok(bitsEqual(await runLogits(back, manifest.tokens), await runLogits(source, manifest.tokens)));
  assert.deepEqual(back.vocab?.pieces, source.vocab?.pieces);
});

test("Q8_0 blocks dequantize back within half a step (of ggml's unrounded scale) of the f32 values", async () => {
  const source = await storiesModel();
  const out = join(tmp, "stories-q8.gguf");
  const summary = await convertModel(source, out, "q8");
  // stories260K's hidden size 172 is not a multiple of 32: ffn_down falls back to F16, llama.cpp's last resort
  assert.deepEqual(summary.fallbacks, [0, 1, 2, 3, 4].map((l) => `blk.${l}.ffn_down.weight: Q8_0 -> F16 (172 values per row)`));
  assert.deepEqual(summary.tensor_types, { Q8_0: 32, F32: 11, F16: 5 });
  const bytes = new Uint8Array(readFileSync(out));
  const header = readGgufHeader(bytes, out);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const sourceOf = (name: string): Float32Array => {
    const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(name);
    const w = source.weights;
    if (name === "token_embd.weight") return w.tokenEmbedding;
    if (name === "output.weight") return w.lmHead!;
    const l = w.layers[Number(m![1])];
    const field = { attn_q: l.wq, attn_k: l.wk, attn_v: l.wv, attn_output: l.wo, ffn_gate: l.wGate, ffn_up: l.wUp } as Record<string, Float32Array>;
    return field[m![2]];
  };
  let q8Tensors = 0;
  let worstSteps = 0;
  for (const t of header.tensors) {
    if (t.dims.length === 1) assert.equal(t.type, GGML_TYPE.F32, `${t.name}: norms stay f32`);
    if (t.type !== GGML_TYPE.Q8_0) continue;
    q8Tensors++;
    const x = sourceOf(t.name);
    const at = header.dataStart + t.offset;
    const view = new DataView(bytes.buffer, bytes.byteOffset + at);
    const q = new Int8Array(bytes.buffer, bytes.byteOffset + at, (x.length / 32) * 34);
    for (let b = 0; b < x.length / 32; b++) {
      const d = halfToFloat(view.getUint16(b * 34, true));
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
      assert.ok(Math.abs(d - amax / 127) <= (amax / 127) * 2 ** -11, `${t.name} block ${b}: scale ${d} vs max/127 ${amax / 127}`);
      for (let j = 0; j < 32; j++) {
        const err = Math.abs(x[b * 32 + j] - d * q[b * 34 + 2 + j]);
        worstSteps = Math.max(worstSteps, d > 0 ? err / d : err);
      }
    }
  }
  assert.equal(q8Tensors, 2 + 5 * 6);
  // ggml rounds x / d with the f32 scale d and stores d rounded to f16: at most half a step plus
  // 127 quanta times f16's relative rounding (2^-11)
  assert.ok(worstSteps <= 0.5 + 127 * 2 ** -11 + 1e-6, `worst error ${worstSteps} steps`);
});

test("Q8_0 as ggml writes it: ties round away from zero (C roundf), zeros and extremes", () => {
  const x = new Float32Array(32);
  x[0] = 127; // d = 1 exactly
  x[1] = 2.5;
  x[2] = 3.5;
  x[3] = -2.5;
  x[4] = -127;
  const b = new Uint8Array(34);
  quantizeRow(GGML_TYPE.Q8_0, x, 32, b);
  assert.equal(halfToFloat(b[0] | (b[1] << 8)), 1);
  assert.deepEqual(Array.from(new Int8Array(b.buffer, 2, 6)), [127, 3, 4, -3, -127, 0]);
  const zeros = new Uint8Array(34).fill(7);
  quantizeRow(GGML_TYPE.Q8_0, new Float32Array(32), 32, zeros);
  assert.ok(zeros.every((v) => v === 0));
  assert.throws(() => quantizeRow(GGML_TYPE.Q8_0, new Float32Array(31), 31, b), /multiple of the block size 32/);
});

test("stories260K Q8_0: logits close to f32 and perplexity within 2%", async (t) => {
  const source = await storiesModel();
  const q8 = await loadModelFile(join(tmp, "stories-q8.gguf"));
  const got = await runLogits(q8, manifest.tokens);
  const want = await runLogits(source, manifest.tokens);
  const d = maxAbsDiff(got, want);
  const mean = got.reduce((s, v, i) => s + Math.abs(v - want[i]), 0) / got.length;
  const top1 = manifest.tokens.filter((_: number, i: number) => argmax(got, i) === argmax(want, i)).length;
  t.diagnostic(`stories260K q8_0 vs f32 over ${manifest.tokens.length} positions: max |logit diff| ${d.toFixed(4)}, mean ${mean.toFixed(5)} (logits reach ~22), top-1 equal at ${top1}/${manifest.tokens.length}`);
  // Each quantized group alone moves the logits by 0.09-0.17 here (embedding 0.09, lm_head 0.15,
  // attention 0.18, MLP 0.15): with dim 64 the per-weight errors of 1/254 of a block's max barely
  // average out. 0.1 was too tight for Q8_0 on this model; 0.5 still catches a wrong scale or layout.
  assert.ok(d < 0.5, `max abs diff ${d}`);
  assert.ok(top1 >= manifest.tokens.length - 2, `top-1 equal at ${top1} positions`);
  const stories = splitStories(readFileSync(resolve(dataDir(), "tinystories", "valid-sample.txt"), "utf8")).slice(0, 20);
  const stream = tokenStream(new SentencePieceTokenizer(source.vocab!), stories);
  const pF32 = perplexity(await Engine.create(source), stream).ppl;
  const pQ8 = perplexity(await Engine.create(q8), stream).ppl;
  t.diagnostic(`perplexity on 20 stories: f32 ${pF32.toFixed(4)}, q8_0 ${pQ8.toFixed(4)} (${((pQ8 / pF32 - 1) * 100).toFixed(3)}%)`);
  assert.ok(Math.abs(pQ8 / pF32 - 1) < 0.02);
});

test("llama-quantize's type rules: Q4_K_M's use_more_bits layers, the output tensor, row fallbacks", () => {
  const name = (t: { type: number }) => ggmlTypeName(t.type);
  // 32 layers: use_more_bits = the first and last eighth (0-3, 28-31) and every third between (6, 9, ..., 27)
  const q6k = Array.from({ length: 32 }, (_, l) => l).filter((l) => name(ggufTensorType("q4_k_m", "ffn_down", 4096, l, 32, false)) === "Q6_K");
  assert.deepEqual(q6k, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
  assert.deepEqual(Array.from({ length: 32 }, (_, l) => name(ggufTensorType("q4_k_m", "attn_v", 4096, l, 32, false))).filter((t) => t === "Q6_K").length, 16);
  assert.equal(name(ggufTensorType("q4_k_m", "other", 4096, 6, 32, false)), "Q4_K");
  assert.equal(name(ggufTensorType("q4_k_m", "output", 4096, 0, 32, false)), "Q6_K");
  assert.equal(name(ggufTensorType("q4_k_m", "token_embd", 4096, 0, 32, false)), "Q4_K");
  assert.equal(name(ggufTensorType("q4_k_m", "token_embd", 4096, 0, 32, true)), "Q6_K", "tied: the embedding is the output");
  // Q4_0 and Q8_0 files: output Q6_K (Q4_0) or left Q8_0
  assert.equal(name(ggufTensorType("q4_0", "output", 4096, 0, 32, false)), "Q6_K");
  assert.equal(name(ggufTensorType("q8_0", "output", 4096, 0, 32, false)), "Q8_0");
  assert.equal(name(ggufTensorType("q4_0", "ffn_down", 4096, 0, 32, false)), "Q4_0");
  // rows that do not fit: Q4_K -> Q5_0, Q6_K -> Q8_0, then F16
  assert.deepEqual(ggufTensorType("q4_k_m", "other", 896, 1, 24, false), { type: GGML_TYPE.Q5_0, fallback: "Q4_K -> Q5_0 (896 values per row)" });
  // the output rule itself picks Q8_0 for rows that are not a multiple of 256 (Qwen2.5-0.5B's 896)
  assert.deepEqual(ggufTensorType("q4_k_m", "output", 896, 0, 24, false), { type: GGML_TYPE.Q8_0 });
  assert.deepEqual(ggufTensorType("q4_k_m", "attn_v", 896, 0, 24, false), { type: GGML_TYPE.Q8_0, fallback: "Q6_K -> Q8_0 (896 values per row)" });
  assert.deepEqual(ggufTensorType("q4_k_m", "ffn_down", 172, 4, 5, false), { type: GGML_TYPE.F16, fallback: "Q6_K -> F16 (172 values per row)" });
  assert.deepEqual(ggufTensorType("q4_k_m", "ffn_down", 172, 0, 5, false), { type: GGML_TYPE.F16, fallback: "Q4_K -> F16 (172 values per row)" });
  assert.deepEqual(ggufTensorType("q4_0", "other", 100, 0, 5, false), { type: GGML_TYPE.F16, fallback: "Q4_0 -> F16 (100 values per row)" });
  assert.deepEqual(ggufTensorType("f32", "output", 100, 0, 5, false), { type: GGML_TYPE.F32 });
});

test("q4_k_m of a k-quant-sized model: the same per-tensor types as the fixture's Q4_K_M file, logits close", async (t) => {
  const fixture = resolve(fixturesDir(), "gguf", "synth-k-Q4_K_M.gguf");
  const entry = readJson(resolve(fixturesDir(), "gguf", "manifest.json")).files.find((f: { file: string }) => f.file === "synth-k-Q4_K_M.gguf");
  const source = await loadModelFile(fixture); // dequantized to f32
  const out = join(tmp, "synth-q4_k_m.gguf");
  const summary = await convertModel(source, out, "q4_k_m");
  assert.deepEqual(summary.fallbacks, []);
  assert.deepEqual(summary.tensor_types, entry.tensor_types);
  const header = readGgufHeader(new Uint8Array(readFileSync(out)), out);
  for (const tensor of header.tensors) assert.equal(ggmlTypeName(tensor.type), entry.tensors[tensor.name].type, tensor.name);
  const back = await loadModelFile(out);
  // its values are already on a Q4_K/Q6_K grid, but re-quantizing random blocks finds other scales:
  // compare the logits, which span ~0.7 standard deviations here
  const d = maxAbsDiff(await runLogits(back, entry.tokens.slice(0, 16)), await runLogits(source, entry.tokens.slice(0, 16)));
  t.diagnostic(`synth-k Q4_K_M -> f32 -> q4_k_m: max |logit diff| ${d.toFixed(4)} (logit std ${entry.checks.logit_std.toFixed(3)})`);
  assert.ok(d < 0.5 * entry.checks.logit_std, `${d}`);
});

test("stories260K -> q4_0 and q4_k_m: types as llama-quantize picks them, read back, perplexity near f32", async (t) => {
  const source = await storiesModel();
  const stories = splitStories(readFileSync(resolve(dataDir(), "tinystories", "valid-sample.txt"), "utf8")).slice(0, 5);
  const stream = tokenStream(new SentencePieceTokenizer(source.vocab!), stories);
  const pF32 = perplexity(await Engine.create(source), stream).ppl;
  // rows of 64 (dim) fit Q4_0 but not the k-quants' 256: Q4_K -> Q5_0 and Q6_K -> Q8_0; ffn_down's
  // 172 fits nothing but F16
  const expected = {
    q4_0: { types: { Q4_0: 31, Q8_0: 1, F32: 11, F16: 5 }, fallbacks: 6 },
    q4_k_m: { types: { Q5_0: 29, Q8_0: 3, F32: 11, F16: 5 }, fallbacks: 36 },
  } as const;
  for (const dtype of ["q4_0", "q4_k_m"] as const) {
    const out = join(tmp, `stories-${dtype}.gguf`);
    const summary = await convertModel(source, out, dtype);
    assert.deepEqual(summary.tensor_types, expected[dtype].types, dtype);
    assert.equal(summary.fallbacks.length, expected[dtype].fallbacks, summary.fallbacks.join("; "));
    const back = await loadModelFile(out);
    assert.equal(back.storedDtype, "native", "a quantized file runs its blocks natively by default");
    const ppl = perplexity(await Engine.create(back, { dtype: back.storedDtype }), stream).ppl;
    t.diagnostic(`${dtype}: perplexity on 5 stories ${ppl.toFixed(4)} vs f32 ${pF32.toFixed(4)}`);
    // 4-bit weights on a 260K-parameter model cost a few percent; a wrong block decodes to noise (ppl in the hundreds)
    assert.ok(ppl / pF32 < 1.15 && ppl / pF32 > 0.97, `${dtype}: ${ppl} vs ${pF32}`);
  }
});

test("HF checkpoints -> GGUF: q/k permuted to the interleaved layout, logits within 1e-4 of the HF run", async (t) => {
  for (const m of ["llama", "qwen2", "phi3", "mistral"]) {
    const ref = readJson(join(hfDir(m), "reference.json"));
    const loaded = await loadModelFile(hfDir(m));
    // GGUF has no key for f16/bf16-rounded rotary frequencies: compare with the exact rotation
    const hf = { ...loaded, config: { ...loaded.config, ropeFreqDtype: undefined } };
    const out = join(tmp, `${m}.gguf`);
    await convertModel(hf, out, "f32");
    const gguf = await loadModelFile(out);
    assert.equal(gguf.config.ropeLayout, "interleaved");
    assert.equal(gguf.config.tiedEmbeddings, hf.config.tiedEmbeddings);
    assert.ok(gguf.weights.layers.every((l, i) => (l.bq !== undefined) === (hf.weights.layers[i].bq !== undefined)));
    const d = maxAbsDiff(await runLogits(gguf, ref.tokens), await runLogits(hf, ref.tokens));
    t.diagnostic(`${m}: HF -> GGUF max |logit diff| ${d.toExponential(2)}`);
    assert.ok(d < 1e-4, `${m}: ${d}`);
    const q8 = await loadModelFile(await convertModel(hf, join(tmp, `${m}-q8.gguf`), "q8").then((s) => s.out));
    const hfLogits = await runLogits(hf, ref.tokens);
    const dq = maxAbsDiff(await runLogits(q8, ref.tokens), hfLogits);
    const range = hfLogits.reduce((r, v) => Math.max(r, Math.abs(v)), 0);
    t.diagnostic(`${m}: HF -> GGUF q8_0 max |logit diff| ${dq.toExponential(2)} (logits reach ${range.toFixed(2)})`);
    assert.ok(dq < Q8_LOGIT_BOUND * range, `${m}: q8_0 max |logit diff| ${dq}, logits reach ${range}`);
  }
});

test("permuteHalfToInterleaved is llama.cpp's permute: row h*hd + 2i + s <- row h*hd + s*hd/2 + i", () => {
  // 2 heads of head dim 4, one column: rows 0..7 hold their own index
  const w = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(Array.from(permuteHalfToInterleaved(w, 2, 4, 1)), [0, 2, 1, 3, 4, 6, 5, 7]);
});

// ---------------------------------------------------------------------------------------------
// The command line.

function dip(...args: string[]) {
  const r = spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("dip convert: writes atomically, refuses to overwrite its input, checks --dtype", async () => {
  const out = join(tmp, "cli-q8.gguf");
  const r = dip("convert", "--model", STORIES_GGUF(), "--out", out, "--dtype", "q8", "--json");
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.bytes, statSync(out).size);
  assert.equal(summary.tokenizer_embedded, true);
  assert.ok(!readdirSync(tmp).some((f) => f.endsWith(".tmp")), "no temporary file left behind");
  assert.ok((await loadModelFile(out)).vocab);

  const self = dip("convert", "--model", out, "--out", out);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /refusing to overwrite/);
  assert.equal(statSync(out).size, summary.bytes, "the input is untouched");

  // a write that fails half way (file size limit: EFBIG, as a full disk gives ENOSPC) keeps the
  // previous file and leaves no temporary file
  const previous = readFileSync(out);
  const limited = spawnSync("sh", ["-c", 'ulimit -f 200 && exec "$0" "$@"', process.execPath, resolve(projectRoot(), "bin", "dip.js"), "convert", "--model", STORIES_GGUF(), "--out", out], { encoding: "utf8" });
  assert.equal(limited.status, 1, limited.stderr);
  assert.match(limited.stderr, /EFBIG/);
  assert.deepEqual(readFileSync(out), previous, "the previous file is intact");
  assert.ok(!readdirSync(tmp).some((f) => f.endsWith(".tmp")), "no temporary file left behind by the failed write");

  const bad = dip("convert", "--model", STORIES_GGUF(), "--out", join(tmp, "x.gguf"), "--dtype", "q4");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--dtype must be one of f32, q8_0, q4_0, q4_k_m, q8, got q4/);

  const hf = dip("convert", "--model", hfDir("qwen2"), "--out", join(tmp, "qwen2-cli.gguf"));
  assert.equal(hf.code, 0, hf.stderr);
  assert.match(hf.stdout, /tokenizer not embedded .* --tokenizer .*tokenizer\.json/);
  const gen = dip("generate", "--model", join(tmp, "qwen2-cli.gguf"), "--tokenizer", join(hfDir("qwen2"), "tokenizer.json"), "--prompt", "Once upon", "--steps", "8", "--temperature", "0");
  assert.equal(gen.code, 0, gen.stderr);
  assert.ok(gen.stdout.startsWith("Once upon"));
});

test("explicit head_dim and linear rope scaling survive the round trip (key_length, rope.scaling.*)", async () => {
  // dim 8, 2 heads of 8: the q projection (16) is wider than dim, as head_dim allows
  const c = {
    architecture: "llama", dim: 8, hiddenDim: 32, nLayers: 1, nHeads: 2, nKvHeads: 1, headDim: 8, vocabSize: 40, seqLen: 16,
    ropeTheta: 500000, ropeScaling: { type: "linear" as const, factor: 4 }, ropeLayout: "interleaved" as const, rmsEps: 1e-6, tiedEmbeddings: true,
  };
  let seed = 1;
  const rand = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.5);
  const model: LoadedModel = {
    name: "tiny", source: "tiny", format: "synthetic", config: c,
    weights: {
      tokenEmbedding: rand(40 * 8), finalNorm: rand(8),
      layers: [{ attnNorm: rand(8), wq: rand(16 * 8), wk: rand(8 * 8), wv: rand(8 * 8), wo: rand(8 * 16), ffnNorm: rand(8), wGate: rand(32 * 8), wUp: rand(32 * 8), wDown: rand(8 * 32) }],
    },
  };
  const back = parseGguf(encodeGguf(model, "f32"), "tiny.gguf");
  assert.deepEqual(back.config, { ...c, rmsEps: Math.fround(c.rmsEps) }, "GGUF stores epsilon as f32");
  assert.ok(bitsEqual(await runLogits(back, [1, 2, 3, 4]), await runLogits(model, [1, 2, 3, 4])));
  // llama3 scaling has no GGUF key (llama.cpp writes a rope_freqs tensor): refused by name
  const llama3 = { ...model, config: { ...c, ropeScaling: { type: "llama3" as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } } };
  assert.throws(() => encodeGguf(llama3, "f32"), /llama3 rope scaling cannot be written to GGUF/);
});

test("dip convert --synthetic: the shape's weights with a byte-level vocabulary, readable and tokenizing to bytes", async () => {
  const out = join(tmp, "synthetic-260k.gguf");
  const r = dip("convert", "--synthetic", "stories260k-shape", "--out", out, "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).tokenizer_embedded, true);
  const m = await loadModelFile(out);
  assert.equal(m.config.vocabSize, 512);
  assert.equal(m.config.dim, 64);
  assert.equal(m.vocab!.pieces.length, 512);
  assert.equal(m.vocab!.pieces[3 + 0x41], "<0x41>");
  const ids = new SentencePieceTokenizer(m.vocab!).encode("Hi", { bos: true });
  assert.equal(ids[0], 1, "BOS");
  assert.ok(ids.slice(1).every((id) => id >= 3 && id < 259), `byte pieces only: ${ids}`);
  assert.ok(syntheticVocab(512).pieces.every((p, i, a) => a.indexOf(p) === i), "pieces are distinct");

  const both = dip("convert", "--synthetic", "stories260k-shape", "--model", STORIES_GGUF(), "--out", join(tmp, "y.gguf"));
  assert.equal(both.code, 1);
  assert.match(both.stderr, /exactly one of --model FILE and --synthetic SHAPE/);
  const bad = dip("convert", "--synthetic", "gpt5", "--out", join(tmp, "y.gguf"));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--synthetic must be one of/);
});
