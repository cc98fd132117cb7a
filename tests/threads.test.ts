// The optional builds: threads (bit-identical to one thread) and relaxed SIMD (close, not exact).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Engine } from "../host/engine.js";
import { syntheticModel } from "../host/synthetic.js";
import type { SparsitySpec } from "../host/sparsity.js";
import { readEngineWasmBytes } from "../host/node/wasm.js";
import { maxAbsDiff, readF32, readJson, storiesFixture, storiesModel } from "./helpers.js";

// Odd sizes so the thread shares are uneven and not multiples of 4: every product of the forward
// pass (q 256x256, gate/up 700x256 at keep 0.5, LM head 1001x256) is big enough to be split. An
// f32 gather's two parts go to two threads; with 4, each part is also split by outputs.
const model = () => syntheticModel("stories260k-shape", 5, { config: { dim: 256, hiddenDim: 700, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 1001, seqLen: 16 } });
const TOKENS = [1, 17, 400, 3, 999, 256, 42, 7];

function logitsOf(engine: Engine, spec: SparsitySpec, tokens: number[]): Float32Array {
  engine.setSparsity(spec);
  engine.reset();
  const V = engine.config.vocabSize;
  const out = new Float32Array(tokens.length * V);
  tokens.forEach((t, i) => out.set(engine.step(t), i * V));
  return out;
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

// q8: split too (matvecQ8Quantized, gatherSweepQ8 ranges; x quantized and the gather's plan made once
// by the main instance)
for (const dtype of ["f32", "q8"] as const)
for (const spec of [{ method: "dense" }, { method: "dip", keep: 0.5 }, { method: "glu", keep: 0.3 }] as SparsitySpec[]) {
  test(`threads 2, 3 and 4 give logits bit-identical to 1 thread (${dtype}, ${spec.method})`, async () => {
    const one = await Engine.create(model(), { dtype });
    const ref = logitsOf(one, spec, TOKENS);
    for (const threads of [2, 3, 4]) {
      const many = await Engine.create(model(), { dtype, threads });
      try {
        assert.equal(many.threads, threads);
        assert.equal(many.deterministic, true);
        assert.deepEqual(bits(logitsOf(many, spec, TOKENS)), bits(ref), `${threads} threads`);
      } finally {
        many.close();
      }
    }
  });
}

for (const dtype of ["f32", "q8"] as const)
test(`chunks run by the workers alone are bit-identical too (${dtype})`, async () => {
  const ref = logitsOf(await Engine.create(model(), { dtype }), { method: "dip", keep: 0.5 }, TOKENS);
  const engine = await Engine.create(model(), { dtype, threads: 2 });
  try {
    // the main thread only hands out work: every chunk of every split product runs on the worker
    (engine.exports as unknown as { threadsMainWorks(on: number): void }).threadsMainWorks(0);
    assert.deepEqual(bits(logitsOf(engine, { method: "dip", keep: 0.5 }, TOKENS)), bits(ref));
    const chunks = engine.threadChunks();
    assert.ok(chunks.all > 0, "products were split");
    assert.equal(chunks.onMain, 0);
  } finally {
    engine.close();
  }
});

// Prompt blocks (model/prompt.ts) split their batched products the same way: 37 tokens are blocks
// of 16, 16 and 5 (an odd token count per block, and uneven thread shares).
const promptModel = () => syntheticModel("stories260k-shape", 6, { config: { dim: 256, hiddenDim: 700, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 1001, seqLen: 48 } });
const PROMPT = Array.from({ length: 37 }, (_, i) => (i * 7919 + 11) % 1001);

function promptLogits(engine: Engine): Float32Array {
  engine.setSparsity({ method: "dip", keep: 0.5 }); // the prompt runs dense whatever the method; the step after it does not
  engine.reset();
  const last = engine.prefill(PROMPT);
  const next = engine.step(5);
  const out = new Float32Array(last.length + next.length);
  out.set(last);
  out.set(next, last.length);
  return out;
}

for (const dtype of ["f32", "q8"] as const)
test(`a prompt run in blocks on 2, 3 and 4 threads gives the bits of 1 thread (${dtype})`, async () => {
  const ref = promptLogits(await Engine.create(promptModel(), { dtype }));
  for (const threads of [2, 3, 4]) {
    const many = await Engine.create(promptModel(), { dtype, threads });
    try {
      const before = many.threadChunks().all;
      many.reset();
      many.prefill(PROMPT);
      assert.ok(many.threadChunks().all > before, `${threads} threads: the prompt's products were split`);
      assert.deepEqual(bits(promptLogits(many)), bits(ref), `${threads} threads`);
      // the main thread only hands out work: the workers run every chunk
      (many.exports as unknown as { threadsMainWorks(on: number): void }).threadsMainWorks(0);
      const onMain = many.threadChunks().onMain;
      assert.deepEqual(bits(promptLogits(many)), bits(ref), `${threads} threads, workers only`);
      assert.equal(many.threadChunks().onMain, onMain);
    } finally {
      many.close();
    }
  }
});

// Attention shares its query heads once positions x qDim reach MIN_PARALLEL_WEIGHTS (256 positions
// at dim 256): a 270-token prompt, then decode past it. Four kv heads: whole groups of heads per
// thread; one kv head (fewer than the threads): plain ranges of heads.
for (const nKvHeads of [4, 1])
test(`attention at long context on 2, 3 and 4 threads gives the bits of 1 thread (${nKvHeads} kv heads)`, async () => {
  const longModel = () => syntheticModel("stories260k-shape", 7, { config: { dim: 256, hiddenDim: 320, nLayers: 2, nHeads: 8, nKvHeads, vocabSize: 300, seqLen: 300 } });
  const prompt = Array.from({ length: 270 }, (_, i) => (i * 31 + 7) % 300);
  const run = (engine: Engine) => {
    engine.setSparsity({ method: "dense" });
    engine.reset();
    const out = [...engine.prefill(prompt)];
    for (const t of [3, 99, 250, 1]) out.push(...engine.step(t));
    return bits(new Float32Array(out));
  };
  const ref = run(await Engine.create(longModel()));
  for (const threads of [2, 3, 4]) {
    const many = await Engine.create(longModel(), { threads });
    try {
      assert.deepEqual(run(many), ref, `${threads} threads`);
      (many.exports as unknown as { threadsMainWorks(on: number): void }).threadsMainWorks(0);
      assert.deepEqual(run(many), ref, `${threads} threads, workers only`);
    } finally {
      many.close();
    }
  }
});

test("after close() the engine runs on one thread with the same results", async () => {
  const ref = logitsOf(await Engine.create(model()), { method: "dense" }, TOKENS.slice(0, 3));
  const engine = await Engine.create(model(), { threads: 2 });
  const before = logitsOf(engine, { method: "dense" }, TOKENS.slice(0, 3));
  engine.close();
  assert.equal(engine.threads, 1);
  assert.deepEqual(bits(logitsOf(engine, { method: "dense" }, TOKENS.slice(0, 3))), bits(ref));
  assert.deepEqual(bits(before), bits(ref));
});

test("bad thread options fail with a clear error", async () => {
  await assert.rejects(Engine.create(model(), { threads: 0 }), /--threads must be an integer from 1 to 64, got 0/);
  await assert.rejects(Engine.create(model(), { threads: 1.5 }), /--threads must be an integer/);
  await assert.rejects(Engine.create(model(), { threads: 2, relaxed: true }), /--relaxed and --threads above 1 are separate builds/);
  // the default build has no threads: handing it over as the threads build is caught
  await assert.rejects(Engine.create(model(), { threads: 2, wasmBytes: await readEngineWasmBytes() }), /not the threads build/);
});

test("relaxed SIMD: stories260K logits within 1e-4 of the default build and of the float64 reference", async (t) => {
  const manifest = readJson(storiesFixture("manifest.json"));
  const ref = readF32(storiesFixture(manifest.logits_file));
  const exact = await Engine.create(await storiesModel());
  const relaxed = await Engine.create(await storiesModel(), { relaxed: true });
  assert.equal(exact.deterministic, true);
  assert.equal(relaxed.deterministic, false);
  const tokens: number[] = manifest.tokens;
  const a = logitsOf(exact, { method: "dense" }, tokens);
  const b = logitsOf(relaxed, { method: "dense" }, tokens);
  assert.ok(maxAbsDiff(a, b) < 1e-4, `max |relaxed - default| = ${maxAbsDiff(a, b)}`);
  assert.ok(maxAbsDiff(b, ref) < 1e-4);
  const differing = bits(a).filter((x, i) => x !== bits(b)[i]).length;
  // fused multiply-add rounds once where mul+add rounds twice: on an FMA machine some bits differ
  t.diagnostic(`relaxed vs default: ${differing} of ${a.length} logits differ, max |diff| ${maxAbsDiff(a, b).toExponential(2)}`);
  // every machine this runs on fuses (x86-64 with FMA3, arm64): identical bits would mean the
  // relaxed build was not the one that ran
  assert.ok(differing > 0, "relaxed SIMD gave the default build's bits exactly: is --relaxed loading the relaxed build?");
  const da = logitsOf(exact, { method: "dip", keep: 0.5 }, tokens);
  const db = logitsOf(relaxed, { method: "dip", keep: 0.5 }, tokens);
  assert.ok(maxAbsDiff(da, db) < 1e-3, `dip@0.5: max |relaxed - default| = ${maxAbsDiff(da, db)}`);
});
