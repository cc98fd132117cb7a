// Batched prompt processing (Engine.prefill, assembly/model/prompt.ts) against the independent
// truth of feeding the same prompt one step() at a time under the dense method: the last prompt
// logits and every decode step after it (which read the whole KV cache the prompt left) must be
// the same bits, for f32 and q8, prompt lengths below, at, and past multiples of the block, with
// dense and with dip decoding after the prompt. The byte counters are checked against the dense
// bytes of one token (Engine.denseBytesPerToken): each weight once per block.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Engine } from "../host/engine.js";
import { syntheticModel } from "../host/synthetic.js";
import type { LoadedModel } from "../host/model.js";
import type { SparsitySpec } from "../host/sparsity.js";
import type { WeightDtype } from "../host/abi.js";
import { storiesModel } from "./helpers.js";
import { resolve } from "node:path";
import { fixturesDir } from "../host/node/paths.js";
import { loadModelFile } from "../host/node/load.js";

const BLOCK = 16; // assembly/model/prompt.ts PROMPT_BLOCK
const LENGTHS = [1, 3, BLOCK, BLOCK + 1, 2 * BLOCK + 7];
const DECODE = [5, 77, 3, 140, 9, 200];

function promptOf(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 37 + 11) % vocab);
}

function bitsEqual(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  assert.equal(ua.length, ub.length, `${what}: lengths`);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) assert.fail(`${what}: logit ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

/** [last prompt logits, then each decode step's] for the prompt fed by `feed`, decoding under `decode`. */
function run(engine: Engine, prompt: number[], decode: SparsitySpec, batched: boolean): Float32Array[] {
  engine.reset();
  engine.setSparsity({ method: "dense" });
  let last: Float32Array;
  if (batched) last = engine.prefill(prompt).slice();
  else {
    last = new Float32Array(0);
    for (const t of prompt) last = engine.step(t).slice();
  }
  const out = [last];
  engine.setSparsity(decode);
  for (const t of DECODE) out.push(engine.step(t % engine.config.vocabSize).slice());
  return out;
}

async function checkBitIdentical(model: LoadedModel, dtype: WeightDtype): Promise<void> {
  const engine = await Engine.create(model, { dtype });
  try {
    for (const n of LENGTHS) {
      const prompt = promptOf(n, model.config.vocabSize);
      for (const decode of [{ method: "dense" }, { method: "dip", keep: 0.5 }] as SparsitySpec[]) {
        const stepwise = run(engine, prompt, decode, false);
        const batched = run(engine, prompt, decode, true);
        batched.forEach((l, i) => bitsEqual(l, stepwise[i], `${model.name} ${dtype} prompt ${n} ${decode.method} ${i === 0 ? "last prompt logits" : `decode step ${i}`}`));
      }
    }
  } finally {
    engine.close();
  }
}

// Qwen2-like: q/k/v biases, grouped-query attention (3 query heads per kv head), half rope, tied embeddings
const qwenLike = () => syntheticModel("qwen2.5-0.5b", 3, { config: { dim: 96, hiddenDim: 230, nLayers: 2, nHeads: 6, nKvHeads: 2, vocabSize: 300, seqLen: 96 } });

test("prefill = the prompt step by step, bit for bit (stories260K f32 and q8, odd hidden size 172)", async () => {
  const model = await storiesModel();
  await checkBitIdentical(model, "f32");
  await checkBitIdentical(model, "q8");
});

test("prefill = the prompt step by step, bit for bit (Qwen2-like: biases, GQA, half rope, hidden 230 (tails); f32 and q8)", async () => {
  const model = qwenLike();
  await checkBitIdentical(model, "f32");
  await checkBitIdentical(model, "q8");
});

// native ggml blocks: Q4_0 (row-major Q4_0 and the input-major Q4_0 MLP), Q4_K_M (row-major
// Q4_K and Q6_K, the input-major Q4_K MLP and q8 for its Q6_K MLP matrices), and row-major Q5_1,
// Q5_K, Q3_K and Q2_K (their MLP in q8)
for (const file of ["stories260K-Q4_0.gguf", "synth-k-Q4_K_M.gguf", "stories260K-Q5_1.gguf", "synth-k-Q5_K.gguf", "synth-k-Q3_K.gguf", "synth-k-Q2_K.gguf"]) {
  test(`prefill = the prompt step by step, bit for bit (${file}, --dtype native)`, async () => {
    await checkBitIdentical(await loadModelFile(resolve(fixturesDir(), "gguf", file)), "native");
  });
}

test("prefill runs dense whatever the method, and counts each weight once per block", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model, { sparsity: { method: "dip", keep: 0.3 } });
  try {
    const dense = engine.denseBytesPerToken();
    const n = 2 * BLOCK + 7; // three blocks
    engine.reset();
    engine.resetBytes();
    const logits = engine.prefill(promptOf(n, model.config.vocabSize)).slice();
    const read = engine.bytesRead();
    assert.equal(read.embedding, n * dense.embedding);
    assert.equal(read.attention, 3 * dense.attention);
    assert.equal(read.mlp, 3 * dense.mlp);
    assert.equal(read.lm_head, dense.lm_head);
    const masks = engine.lastMasks();
    masks.input.forEach((m) => assert.equal(m.length, model.config.dim));
    masks.hidden.forEach((m) => assert.equal(m.length, model.config.hiddenDim));
    // the same logits as the dense method's prefill: dip does not touch the prompt
    engine.setSparsity({ method: "dense" });
    engine.reset();
    bitsEqual(engine.prefill(promptOf(n, model.config.vocabSize)), logits, "dip vs dense prefill");
  } finally {
    engine.close();
  }
});

test("prefill refuses bad tokens and a prompt past the context, naming the limit", async () => {
  const engine = await Engine.create(await storiesModel());
  try {
    engine.reset();
    assert.throws(() => engine.prefill([]), /at least one token/);
    assert.throws(() => engine.prefill([1, 99999]), /token id 99999 is out of the vocabulary/);
    assert.throws(() => engine.prefill(new Array(engine.config.seqLen + 1).fill(1)), /context of 512 tokens/);
    assert.equal(engine.pos, 0);
  } finally {
    engine.close();
  }
});

test("prefill with LoRA adapters on gate, up and down = the prompt step by step, bit for bit", async () => {
  const model = await storiesModel();
  const c = model.config;
  const rank = 4;
  let s = 7;
  const random = (n: number) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.1);
  const linear = (inF: number, outF: number) => ({ a: random(rank * inF), b: random(outF * rank), inFeatures: inF, outFeatures: outF });
  const engine = await Engine.create(model);
  try {
    engine.setAdapters({
      rank,
      alpha: 8,
      targets: ["gate", "up", "down"],
      layers: Array.from({ length: c.nLayers }, () => ({ gate: linear(c.dim, c.hiddenDim), up: linear(c.dim, c.hiddenDim), down: linear(c.hiddenDim, c.dim) })),
    });
    const prompt = promptOf(BLOCK + 5, c.vocabSize);
    const withAdapters = run(engine, prompt, { method: "dip", keep: 0.5 }, true);
    run(engine, prompt, { method: "dip", keep: 0.5 }, false).forEach((l, i) => bitsEqual(withAdapters[i], l, `LoRA ${i === 0 ? "last prompt logits" : `decode step ${i}`}`));
    engine.setAdapters(null);
    const without = run(engine, prompt, { method: "dense" }, true);
    assert.notDeepEqual(Array.from(without[0].slice(0, 8)), Array.from(withAdapters[0].slice(0, 8)), "the adapters change the logits");
  } finally {
    engine.close();
  }
});
