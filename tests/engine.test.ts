// The engine against the float64 reference fixtures of stories260K (../shared/fixtures).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Engine } from "../host/engine.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { generate } from "../host/generate.js";
import { perplexity, splitStories, tokenStream } from "../host/eval.js";
import { dataDir } from "../host/node/paths.js";
import { loadModelFile } from "../host/node/load.js";
import { splitKeep, type SparsitySpec } from "../host/sparsity.js";
import { calibrate } from "../host/calibration.js";
import { maxAbsDiff, readF32, readJson, storiesFixture, storiesModel, STORIES_BIN } from "./helpers.js";
import { resolve } from "node:path";

const manifest = readJson(storiesFixture("manifest.json"));
const V = 512;

function runLogits(engine: Engine, tokens: number[]): Float32Array {
  const out = new Float32Array(tokens.length * engine.config.vocabSize);
  engine.reset();
  tokens.forEach((t, i) => out.set(engine.step(t), i * engine.config.vocabSize));
  return out;
}

function specOf(c: { spec: { kind: string; keep?: number; up_keep?: number; down_keep?: number } }): SparsitySpec {
  if (c.spec.kind === "glu") return { method: "glu", keep: c.spec.keep };
  if (c.spec.keep !== undefined) return { method: "dip", keep: c.spec.keep };
  return { method: "dip", upKeep: c.spec.up_keep, downKeep: c.spec.down_keep };
}

test("dense logits match the float64 reference within 1e-4 (GGUF and llama2.c checkpoint)", async () => {
  const ref = readF32(storiesFixture(manifest.logits_file));
  const gguf = await Engine.create(await storiesModel());
  assert.ok(maxAbsDiff(runLogits(gguf, manifest.tokens), ref) < 1e-4);
  const bin = await Engine.create(await loadModelFile(STORIES_BIN()));
  assert.ok(maxAbsDiff(runLogits(bin, manifest.tokens), ref) < 1e-4);
});

test("sparse cases: logits within 1e-4 and kept index sets equal to the fixture masks", async () => {
  const engine = await Engine.create(await storiesModel());
  for (const c of manifest.sparse_cases) {
    engine.setSparsity(specOf(c));
    assert.deepEqual(engine.maskSizes, { inputK: c.k_input, hiddenK: c.k_hidden }, c.name);
    const ref = readF32(storiesFixture(c.logits_file));
    const masks = readJson(storiesFixture(c.masks_file));
    const out = new Float32Array(manifest.tokens.length * V);
    engine.reset();
    manifest.tokens.forEach((t: number, i: number) => {
      out.set(engine.step(t), i * V);
      const m = engine.lastMasks();
      for (const layer of masks) {
        const l = layer.layer;
        if (layer.input_kept) assert.deepEqual(Array.from(m.input[l]), layer.input_kept[i], `${c.name} input mask layer ${l} token ${i}`);
        else assert.equal(m.input[l].length, engine.config.dim, `${c.name}: glu keeps every input`);
        assert.deepEqual(Array.from(m.hidden[l]), layer.hidden_kept[i], `${c.name} hidden mask layer ${l} token ${i}`);
      }
    });
    const d = maxAbsDiff(out, ref);
    assert.ok(d < 1e-4, `${c.name}: max abs diff ${d}`);
  }
});

test("the fitted split gives the fixture's keeps", () => {
  const c = manifest.sparse_cases.find((x: { name: string }) => x.name === "dip_keep0.5_optimized");
  const s = splitKeep(0.5);
  assert.ok(Math.abs(s.upKeep - c.spec.up_keep) < 1e-12);
  assert.ok(Math.abs(s.downKeep - c.spec.down_keep) < 1e-12);
});

test("greedy 200 tokens from BOS equal the fixture (tokens and text)", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model);
  const tok = new SentencePieceTokenizer(model.vocab!);
  const g = manifest.greedy_from_bos;
  const r = generate(engine, tok, { steps: g.steps, temperature: 0 });
  assert.deepEqual(r.tokens, g.tokens);
  assert.equal(r.text, g.text);
});

test("perplexity on the fixture's 20 stories within 0.1% (dense and dip keep 0.5)", async () => {
  const ref = readJson(storiesFixture("perplexity.json"));
  const model = await storiesModel();
  const engine = await Engine.create(model);
  const tok = new SentencePieceTokenizer(model.vocab!);
  const stories = splitStories(readFileSync(resolve(dataDir(), "tinystories", "valid-sample.txt"), "utf8")).slice(0, 20);
  const stream = tokenStream(tok, stories);
  const dense = perplexity(engine, stream, { window: 512 });
  assert.equal(dense.tokens, ref.dense.tokens);
  assert.ok(Math.abs(dense.ppl / ref.dense.ppl - 1) < 1e-3, `dense ppl ${dense.ppl} vs ${ref.dense.ppl}`);
  assert.equal(dense.mlp_density, 1);
  engine.setSparsity({ method: "dip", keep: 0.5 });
  const dip = perplexity(engine, stream, { window: 512 });
  const r = ref["dip_keep0.5_optimized"];
  assert.equal(dip.tokens, r.tokens);
  assert.ok(Math.abs(dip.ppl / r.ppl - 1) < 1e-3, `dip ppl ${dip.ppl} vs ${r.ppl}`);
  // measured density = (2 * 36/64 + 60/172) / 3, the top-k sizes the keeps imply
  assert.ok(Math.abs(dip.mlp_density - (2 * (36 / 64) + 60 / 172) / 3) < 1e-12);
});

test("the default build gives bit-identical logits across repeated runs and engines", async () => {
  const model = await storiesModel();
  const hash = async () => {
    const e = await Engine.create(model, { sparsity: { method: "dip", keep: 0.5 } });
    const a = runLogits(e, manifest.tokens);
    const b = runLogits(e, manifest.tokens); // same engine, second pass over a used KV cache
    assert.deepEqual(new Uint8Array(a.buffer), new Uint8Array(b.buffer));
    return createHash("sha256").update(new Uint8Array(a.buffer)).digest("hex");
  };
  assert.equal(await hash(), await hash());
});

test("seeded sampling is reproducible and differs across seeds", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model);
  const tok = new SentencePieceTokenizer(model.vocab!);
  const a = generate(engine, tok, { steps: 40, temperature: 1, topP: 0.9, seed: 7 });
  const b = generate(engine, tok, { steps: 40, temperature: 1, topP: 0.9, seed: 7 });
  const c = generate(engine, tok, { steps: 40, temperature: 1, topP: 0.9, seed: 8 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});

test("byte counter: dip reads exactly the kept columns", async () => {
  const engine = await Engine.create(await storiesModel(), { sparsity: { method: "dip", upKeep: 0.5, downKeep: 0.5 } });
  const c = engine.config;
  engine.reset();
  engine.resetBytes();
  engine.step(1);
  const b = engine.bytesRead();
  // per layer: 32 kept inputs x (gate + up columns of 172 floats) + 86 kept hidden x 64 floats
  assert.equal(b.mlp, c.nLayers * 4 * (32 * 2 * 172 + 86 * 64));
  assert.equal(b.lm_head, 4 * 512 * 64);
  assert.equal(b.attention, c.nLayers * 4 * (2 * 64 * 64 + 2 * 32 * 64));
  assert.equal(b.embedding, 4 * 64);
});

test("cats and dip-threshold reach roughly their calibrated keep", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model);
  const tok = new SentencePieceTokenizer(model.vocab!);
  const stories = splitStories(readFileSync(resolve(dataDir(), "tinystories", "valid-sample.txt"), "utf8"));
  const calib = stories.slice(200, 205).map((s) => tok.encode(s).slice(0, 512));
  const evalStream = tokenStream(tok, stories.slice(0, 3));
  const cats = calibrate(engine, { method: "cats", keep: 0.5 }, calib);
  engine.setSparsity({ method: "cats", keep: 0.5 }, cats);
  const r = perplexity(engine, evalStream);
  // cats reads W_gate dense and kept rows of W_up / columns of W_down: density = (1 + 2 keep) / 3
  assert.ok(Math.abs(r.mlp_density - 2 / 3) < 0.05, `cats density ${r.mlp_density}`);
  const thr = calibrate(engine, { method: "dip-threshold", keep: 0.5 }, calib);
  engine.setSparsity({ method: "dip-threshold", keep: 0.5 }, thr);
  const t = perplexity(engine, evalStream);
  assert.ok(Math.abs(t.mlp_density - 0.5) < 0.05, `dip-threshold density ${t.mlp_density}`);
});

test("bad input: out-of-vocabulary tokens, context overflow, bad sparsity settings", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model);
  assert.throws(() => engine.step(512), /token id 512 is out of the vocabulary \(0\.\.511\)/);
  assert.throws(() => engine.step(-1), /out of the vocabulary/);
  assert.throws(() => engine.step(1.5), /out of the vocabulary/);
  engine.reset();
  for (let i = 0; i < 512; i++) engine.step(1);
  assert.throws(() => engine.step(1), /longer than the model's context of 512/);
  assert.throws(() => engine.setSparsity({ method: "dip", keep: 0 }), /--keep must be in \(0, 1\]/);
  assert.throws(() => engine.setSparsity({ method: "dip", keep: 1.5 }), /--keep must be in \(0, 1\]/);
  assert.throws(() => engine.setSparsity({ method: "magic" as never, keep: 0.5 }), /unknown method "magic"; supported: dense, glu/);
  assert.throws(() => engine.setSparsity({ method: "cats", keep: 0.5 }), /needs a calibration/);
  assert.throws(() => engine.setSparsity({ method: "dip", upKeep: 0.5 }), /both --up-keep and --down-keep/);
  const tok = new SentencePieceTokenizer(model.vocab!);
  assert.throws(() => generate(engine, tok, { prompt: "Once upon a time ".repeat(200) }), /prompt is \d+ tokens, longer than the model's context of 512/);
});
