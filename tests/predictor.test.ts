// The trained-predictor baseline (host/predictor.ts, assembly/train/predictor.ts, --method predictor):
// its forward and masks against hand-computed cases, its gradient against finite differences,
// training on stories260K, keep 1 against dense, and bad files refused with one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { splitStories } from "../host/eval.js";
import { dataDir } from "../host/node/paths.js";
import { Engine } from "../host/engine.js";
import { decodePredictor, encodePredictor, PredictorError, type Predictor } from "../host/predictor.js";
import { topKTargets, trainPredictor } from "../host/predictor-train.js";
import { encodeSafetensors } from "../host/formats/safetensors-writer.js";
import { keepCount } from "../host/sparsity.js";
import { f32At } from "../host/engine-layout.js";
import { readJson, runDip, runLogits, storiesFixture, storiesModel } from "./helpers.js";

/** A predictor of the model's shape with every layer's A and B from `make`. */
function predictorOf(c: { nLayers: number; dim: number; hiddenDim: number }, rank: number, make: (layer: number) => { a: Float32Array; b: Float32Array }): Predictor {
  return { rank, dim: c.dim, hiddenDim: c.hiddenDim, targetKeep: 0.5, layers: Array.from({ length: c.nLayers }, (_, l) => make(l)) };
}

test("predictor mask: rank 1, A = e_0, B_i = i + 1 keeps the last k units when x_0 > 0 and the first k when x_0 < 0", async () => {
  const model = await storiesModel();
  const c = model.config;
  const a = new Float32Array(c.dim);
  a[0] = 1;
  const b = Float32Array.from({ length: c.hiddenDim }, (_, i) => i + 1);
  const engine = await Engine.create(model);
  engine.setPredictor(predictorOf(c, 1, () => ({ a, b })));
  const keep = 0.25;
  const k = keepCount(keep, c.hiddenDim);
  const capture = engine.enableCapture(); // records the MLP input x under any method
  engine.setSparsity({ method: "predictor", keep });
  const tokens: number[] = readJson(storiesFixture("manifest.json")).tokens.slice(0, 12);
  let sawPositive = false;
  let sawNegative = false;
  engine.reset();
  for (const t of tokens) {
    engine.step(t);
    const x = capture.input();
    const masks = engine.lastMasks();
    for (let l = 0; l < c.nLayers; l++) {
      const x0 = x[l * c.dim];
      // scores s_i = (i + 1) x_0: ascending in i when x_0 > 0, descending when x_0 < 0
      const want = x0 > 0 ? Array.from({ length: k }, (_, j) => c.hiddenDim - k + j) : Array.from({ length: k }, (_, j) => j);
      if (x0 > 0) sawPositive = true;
      else sawNegative = true;
      assert.deepEqual(Array.from(masks.hidden[l]), want, `layer ${l}, x_0 = ${x0}`);
      assert.equal(masks.input[l].length, 0, "no input column is gathered");
    }
  }
  assert.ok(sawPositive && sawNegative, "the case covers both signs of x_0");
});

test("predictor: keep 1 gives the dense logits; the hidden mask has floor(keep * I) units and the byte counter charges exactly rows, columns and the predictor", async () => {
  const model = await storiesModel();
  const c = model.config;
  const rank = 4;
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const predictor = predictorOf(c, rank, () => ({ a: Float32Array.from({ length: rank * c.dim }, rnd), b: Float32Array.from({ length: c.hiddenDim * rank }, rnd) }));
  const tokens: number[] = readJson(storiesFixture("manifest.json")).tokens.slice(0, 24);
  const dense = runLogits(await Engine.create(model), tokens);
  const engine = await Engine.create(model, { predictor, sparsity: { method: "predictor", keep: 1 } });
  const full = runLogits(engine, tokens);
  let maxRel = 0;
  for (let i = 0; i < dense.length; i++) maxRel = Math.max(maxRel, Math.abs(full[i] - dense[i]) / Math.max(1, Math.abs(dense[i])));
  // the rows are dot products, the dense path column gathers: same sums in another order
  assert.ok(maxRel < 1e-4, `keep 1 vs dense: max relative difference ${maxRel}`);

  // a prompt runs dense whatever the method: under the predictor (W_gate and W_up row-major) its
  // block products are row-major, the dense engine's column gathers (same sums in another order)
  engine.setSparsity({ method: "predictor", keep: 0.5 });
  engine.reset();
  const prefilled = Float32Array.from(engine.prefill(tokens));
  const denseEngine = await Engine.create(model);
  const densePrefilled = denseEngine.prefill(tokens);
  let prefillRel = 0;
  for (let i = 0; i < prefilled.length; i++) prefillRel = Math.max(prefillRel, Math.abs(prefilled[i] - densePrefilled[i]) / Math.max(1, Math.abs(densePrefilled[i])));
  assert.ok(prefillRel < 1e-4, `prefill under the predictor vs dense prefill: max relative difference ${prefillRel}`);

  for (const keep of [0.3, 0.75]) {
    engine.setSparsity({ method: "predictor", keep });
    const k = keepCount(keep, c.hiddenDim);
    engine.reset();
    for (const t of tokens) {
      engine.resetBytes();
      engine.step(t);
      for (let l = 0; l < c.nLayers; l++) assert.deepEqual(engine.lastMaskCounts(l), { input: 0, hidden: k });
      // f32: k rows of W_gate and of W_up (dim each), k columns of W_down (dim each), A and B whole
      const perLayer = 4 * (3 * k * c.dim + rank * (c.dim + c.hiddenDim));
      assert.equal(engine.bytesRead().mlp, c.nLayers * perLayer);
    }
  }
});

test("predictor training: the mean BCE gradient matches central finite differences", async () => {
  const engine = await Engine.create(await storiesModel());
  const x = engine.exports;
  const [rank, dim, hidden, n] = [2, 3, 5, 4];
  assert.equal(x.predictorTrainInit(rank, dim, hidden, n), 0);
  let seed = 3;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const nParams = rank * dim + hidden * rank;
  const params = () => f32At(x, x.predictorTrainParamsPtr() >>> 0, nParams);
  params().set(Float32Array.from({ length: nParams }, () => 2 * rnd()));
  f32At(x, x.predictorTrainInputsPtr() >>> 0, n * dim).set(Float32Array.from({ length: n * dim }, () => 2 * rnd()));
  f32At(x, x.predictorTrainTargetsPtr() >>> 0, n * hidden).set(Float32Array.from({ length: n * hidden }, () => (rnd() > 0 ? 1 : 0)));
  x.predictorTrainLoss(n, 1);
  const grads = f32At(x, x.predictorTrainGradsPtr() >>> 0, nParams).slice();
  const eps = 1e-2;
  for (let i = 0; i < nParams; i++) {
    const p0 = params()[i];
    params()[i] = p0 + eps;
    const up = x.predictorTrainLoss(n, 0);
    params()[i] = p0 - eps;
    const down = x.predictorTrainLoss(n, 0);
    params()[i] = p0;
    const numeric = (up - down) / (2 * eps);
    assert.ok(Math.abs(numeric - grads[i]) < 1e-4 + 1e-2 * Math.abs(numeric), `param ${i}: analytic ${grads[i]}, numeric ${numeric}`);
  }
});

test("predictor training: rank 1, one sample, the loss is log(1 + e^-s) by hand", async () => {
  const engine = await Engine.create(await storiesModel());
  const x = engine.exports;
  assert.equal(x.predictorTrainInit(1, 1, 1, 1), 0);
  f32At(x, x.predictorTrainParamsPtr() >>> 0, 2).set([0.5, 3]); // A = 0.5, B = 3
  f32At(x, x.predictorTrainInputsPtr() >>> 0, 1).set([2]); // s = 3 * (0.5 * 2) = 3
  f32At(x, x.predictorTrainTargetsPtr() >>> 0, 1).set([1]);
  assert.ok(Math.abs(x.predictorTrainLoss(1, 1) - Math.log1p(Math.exp(-3))) < 1e-6);
  const g = f32At(x, x.predictorTrainGradsPtr() >>> 0, 2);
  const ds = 1 / (1 + Math.exp(-3)) - 1;
  assert.ok(Math.abs(g[0] - ds * 3 * 2) < 1e-6, `dA ${g[0]}`); // ds * B * x
  assert.ok(Math.abs(g[1] - ds * 1) < 1e-6, `dB ${g[1]}`); // ds * (A x)
});

test("topKTargets: the k largest |h|, ties to the lower index", () => {
  const out = new Uint8Array(5);
  topKTargets(Float32Array.from([1, -3, 2, 2, 0]), 3, out);
  assert.deepEqual(Array.from(out), [0, 1, 1, 1, 0]);
  topKTargets(Float32Array.from([1, 1, 1, 1, 1]), 2, out);
  assert.deepEqual(Array.from(out), [1, 1, 0, 0, 0]);
});

test("trainPredictor on stories260K lowers the held-out loss and raises the recall of every layer", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model);
  const tokenizer = new SentencePieceTokenizer(model.vocab!);
  const stories = splitStories(readFileSync(resolve(dataDir(), "tinystories", "valid-sample.txt"), "utf8"));
  const encode = (from: number, to: number) => stories.slice(from, to).map((s) => tokenizer.encode(s, { bos: true }).slice(0, model.config.seqLen));
  const { predictor, layers } = trainPredictor(engine, {
    sequences: encode(220, 232),
    validation: encode(1800, 1803),
    rank: 8,
    targetKeep: 0.5,
    steps: 150,
    batch: 32,
    lr: 3e-3,
    seed: 1,
  });
  assert.equal(layers.length, model.config.nLayers);
  for (const r of layers) {
    assert.ok(r.valLossAfter < r.valLossBefore, `layer ${r.layer}: loss ${r.valLossBefore} -> ${r.valLossAfter}`);
    assert.ok(r.valRecallAfter > r.valRecallBefore, `layer ${r.layer}: recall ${r.valRecallBefore} -> ${r.valRecallAfter}`);
  }
  // the file round-trips bit for bit and the engine runs it
  const back = decodePredictor(encodePredictor(predictor), "mem");
  assert.deepEqual(back.layers, predictor.layers);
  engine.setPredictor(back);
  engine.setSparsity({ method: "predictor", keep: 0.5 });
  engine.reset();
  assert.ok(Number.isFinite(engine.step(1)[0]));
});

test("bad predictor files and mismatched models are refused with one line naming the file and field", async () => {
  const model = await storiesModel();
  const c = model.config;
  const good = predictorOf(c, 2, () => ({ a: new Float32Array(2 * c.dim), b: new Float32Array(c.hiddenDim * 2) }));
  const bytes = encodePredictor(good);
  const refuses = (b: Uint8Array, pattern: RegExp) => assert.throws(() => decodePredictor(b, "p.safetensors"), (e: Error) => pattern.test(e.message) && !e.message.includes("\n"));
  refuses(bytes.slice(0, 20), /p\.safetensors/);
  refuses(encodeSafetensors([{ name: "x", shape: [1], data: new Float32Array(1) }], { format: "pt" }), /not a predictor file/);
  const nan = predictorOf(c, 2, () => ({ a: new Float32Array(2 * c.dim).fill(NaN), b: new Float32Array(c.hiddenDim * 2) }));
  refuses(encodePredictor(nan), /layers\.0\.predictor\.a holds NaN/);
  const wrongShape = encodeSafetensors(
    good.layers.flatMap((l, i) => [
      { name: `layers.${i}.predictor.a`, shape: [2, c.dim], data: l.a },
      { name: `layers.${i}.predictor.b`, shape: [2, c.hiddenDim], data: l.b },
    ]),
    { format: "dip-predictor", version: "1", rank: "2", dim: String(c.dim), hidden_dim: String(c.hiddenDim), n_layers: String(c.nLayers), target_keep: "0.5" },
  );
  refuses(wrongShape, /layers\.0\.predictor\.b has shape \[2, 172\], expected \[172, 2\]/);

  const engine = await Engine.create(model);
  const other = predictorOf({ nLayers: c.nLayers, dim: c.dim * 2, hiddenDim: c.hiddenDim }, 2, () => ({ a: new Float32Array(2 * c.dim * 2), b: new Float32Array(c.hiddenDim * 2) }));
  assert.throws(() => engine.setPredictor(other, "other.safetensors"), (e: Error) => e instanceof PredictorError && /other\.safetensors: made for a model of .*dim 128.*this model has .*dim 64/.test(e.message));
  assert.throws(() => engine.setSparsity({ method: "predictor", keep: 0.5 }), /needs a trained predictor/);

  // the CLI: one line, exit 1
  const dir = mkdtempSync(join(tmpdir(), "dip-pred-"));
  const junk = join(dir, "junk.safetensors");
  writeFileSync(junk, "not a predictor at all");
  const r = runDip("eval", "--method", "predictor", "--predictor", junk, "--keep", "0.5", "--stories", "1", "--json");
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /^dip: error: .*junk\.safetensors/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  const mismatched = join(dir, "other.safetensors");
  writeFileSync(mismatched, encodePredictor(other));
  const m = runDip("eval", "--method", "predictor", "--predictor", mismatched, "--keep", "0.5", "--stories", "1", "--json");
  assert.equal(m.code, 1);
  assert.match(m.stderr.trim(), /^dip: error: .*other\.safetensors: made for a model of/);
  const noFile = runDip("eval", "--method", "dip", "--predictor", mismatched, "--keep", "0.5", "--stories", "1");
  assert.equal(noFile.code, 1);
  assert.match(noFile.stderr, /--predictor applies to --method predictor only/);
});
