// Synthetic models (host/synthetic.ts): declared shapes, and weights determined by the seed alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Engine } from "../host/engine.js";
import { headDim, validateWeights } from "../host/model.js";
import { fillUniform, syntheticConfig, syntheticModel, SYNTHETIC_WEIGHT_STD } from "../host/synthetic.js";

async function firstLogits(seed: number): Promise<Float32Array> {
  const engine = await Engine.create(syntheticModel("stories260k-shape", seed));
  return engine.step(1).slice();
}

test("same seed gives bit-identical first logits; another seed differs", async () => {
  const a = await firstLogits(7);
  const b = await firstLogits(7);
  const c = await firstLogits(8);
  assert.equal(a.length, 512);
  assert.ok(a.every(Number.isFinite), "logits are finite");
  assert.deepEqual(new Uint32Array(a.buffer), new Uint32Array(b.buffer));
  assert.notDeepEqual(new Uint32Array(a.buffer), new Uint32Array(c.buffer));
});

test("tensors have the declared shapes, norms are 1, weights are small and seeded", () => {
  const m = syntheticModel("stories260k-shape", 3);
  assert.equal(m.format, "synthetic");
  assert.deepEqual(
    [m.config.dim, m.config.hiddenDim, m.config.nLayers, m.config.nHeads, m.config.nKvHeads, m.config.vocabSize, m.config.seqLen],
    [64, 172, 5, 8, 4, 512, 512],
  );
  validateWeights(m); // every tensor's length matches the config
  const l0 = m.weights.layers[0];
  assert.equal(l0.wk.length, 4 * headDim(m.config) * 64);
  assert.ok(l0.attnNorm.every((v) => v === 1) && m.weights.finalNorm.every((v) => v === 1));
  const lim = SYNTHETIC_WEIGHT_STD * Math.sqrt(3);
  assert.ok(l0.wGate.every((v) => Math.abs(v) <= lim));
  // regenerated on access, bit for bit; tensors of the same size are not copies of each other
  assert.deepEqual(l0.wGate, m.weights.layers[0].wGate);
  assert.notDeepEqual(l0.wGate, l0.wUp);
  assert.notDeepEqual(l0.wGate, m.weights.layers[1].wGate);
});

test("big shapes: configs as declared (no weights generated)", () => {
  const s = syntheticConfig("stories110m");
  assert.deepEqual([s.dim, s.nLayers, s.nHeads, s.nKvHeads, s.hiddenDim, s.vocabSize, s.seqLen, s.tiedEmbeddings], [768, 12, 12, 12, 2048, 32000, 1024, false]);
  const q = syntheticConfig("qwen2.5-0.5b");
  assert.deepEqual(
    [q.dim, q.nLayers, q.nHeads, q.nKvHeads, q.hiddenDim, q.vocabSize, q.seqLen, q.tiedEmbeddings, q.ropeTheta, q.ropeLayout],
    [896, 24, 14, 2, 4864, 151936, 512, true, 1e6, "half"],
  );
  const m = syntheticModel("qwen2.5-0.5b", 1);
  assert.equal(m.weights.layers.length, 24);
  assert.equal(m.weights.lmHead, undefined); // tied
});

test("fillUniform: deterministic, mean ~0, std ~scale/sqrt(3)", () => {
  const a = fillUniform(new Float32Array(1 << 16), 42, 1);
  assert.deepEqual(a, fillUniform(new Float32Array(1 << 16), 42, 1));
  let sum = 0;
  let sq = 0;
  for (const v of a) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / a.length;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(Math.sqrt(sq / a.length) - 1 / Math.sqrt(3)) < 0.01);
});
