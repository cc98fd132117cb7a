// LoRA recovery (DIP.md): the training backward pass against finite differences on a tiny random
// model, adapter files (round trip and bad input), and adapters in the inference forward.
import "../host/node/wasm.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../host/engine.js";
import type { LoadedModel, ModelConfig, LayerWeights } from "../host/model.js";
import { fillUniform } from "../host/synthetic.js";
import { LoraTrainer, type LossKind } from "../host/lora-train.js";
import { LORA_TARGET_ID, LORA_TARGETS, makeAdapters, type LoraAdapters, type LoraTarget } from "../host/lora.js";
import { decodeAdapters, encodeAdapters, peftTensorName } from "../host/formats/lora.js";
import { encodeSafetensors } from "../host/formats/safetensors-writer.js";
import { readAdaptersFile, writeAdaptersFile } from "../host/node/adapters-file.js";
import type { Calibration } from "../host/thresholds.js";
import { storiesModel, runLogits } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "dip-lora-"));

/** A tiny Llama with GQA (4 query heads on 2 kv heads), random weights and non-trivial norms. */
function tinyModel(seed: number, ropeLayout: "interleaved" | "half" = "interleaved"): LoadedModel {
  const config: ModelConfig = {
    architecture: "llama", dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 32, seqLen: 16,
    ropeTheta: 10000, ropeLayout, rmsEps: 1e-5, tiedEmbeddings: false,
  };
  let s = seed * 1000;
  const rnd = (n: number, scale: number) => fillUniform(new Float32Array(n), s++, scale);
  const norm = (n: number) => rnd(n, 0.3).map((v) => 1 + v);
  const D = config.dim, I = config.hiddenDim, kv = 8;
  const layers: LayerWeights[] = Array.from({ length: config.nLayers }, () => ({
    attnNorm: norm(D), wq: rnd(D * D, 0.5), wk: rnd(kv * D, 0.5), wv: rnd(kv * D, 0.5), wo: rnd(D * D, 0.4),
    ffnNorm: norm(D), wGate: rnd(I * D, 0.5), wUp: rnd(I * D, 0.5), wDown: rnd(D * I, 0.4),
  }));
  return {
    name: "tiny", source: "tiny", format: "synthetic", config,
    weights: { tokenEmbedding: rnd(config.vocabSize * D, 1), layers, finalNorm: norm(D), lmHead: rnd(config.vocabSize * D, 0.5) },
  };
}

/** Index of an adapter matrix's first value in the trainer's parameter vector. */
function paramOffset(engine: Engine, layer: number, target: LoraTarget, which: "A" | "B"): number {
  const x = engine.exports;
  const p = which === "A" ? x.loraA(layer, LORA_TARGET_ID[target]) : x.loraB(layer, LORA_TARGET_ID[target]);
  return ((p >>> 0) - (x.loraParamsPtr() >>> 0)) / 4;
}

/**
 * Finite differences of the window's loss (an f64 sum over targets) against the backward pass,
 * masks frozen so both sides see the same (constant) masks. Per matrix, three random coordinates
 * among those whose gradient is at least a tenth of the matrix's largest (below that the f32
 * forward's rounding noise, ~1e-6 in the loss, dominates a difference quotient), by Richardson's
 * extrapolation of central differences at h and 2h (truncation error O(h^4)). Coordinates with a
 * zero gradient (inputs no mask ever kept) must leave the loss bit-identical. Returns the worst
 * relative error.
 */
function gradientCheck(engine: Engine, kind: LossKind, tokens: number[], report: string[]): number {
  const c = engine.config;
  const rank = engine.adapterSettings!.rank;
  const trainer = new LoraTrainer(engine, tokens.length - 1);
  trainer.freezeMasks(false);
  trainer.zeroGrads();
  const loss0 = trainer.accumulate(tokens, kind, 1); // picks the masks, accumulates d(loss sum)
  trainer.freezeMasks(true);
  const grads = trainer.grads().slice();
  const params = trainer.params();
  let seed = 7;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const lossAt = (i: number, v: number) => {
    const p = params[i];
    params[i] = v;
    const moved = params[i] - p; // the step actually taken, after rounding to f32
    const loss = trainer.loss(tokens, kind);
    params[i] = p;
    return { loss, moved };
  };
  const central = (i: number, h: number) => {
    const hi = lossAt(i, params[i] + h);
    const lo = lossAt(i, params[i] - h);
    return (hi.loss - lo.loss) / (hi.moved - lo.moved);
  };
  let worst = 0;
  for (let l = 0; l < c.nLayers; l++) {
    for (const t of LORA_TARGETS) {
      for (const which of ["A", "B"] as const) {
        const base = paramOffset(engine, l, t, which);
        const n = rank * (which === "A" ? (t === "down" ? c.hiddenDim : c.dim) : t === "down" ? c.dim : c.hiddenDim);
        const g = grads.subarray(base, base + n);
        const max = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert.ok(max > 0, `L${l} ${t}.${which}: gradient is all zero`);
        const strong = [...g.keys()].filter((i) => Math.abs(g[i]) >= 0.1 * max);
        for (let k = 0; k < 3; k++) {
          const i = base + strong[rand(strong.length)];
          const h = 1e-2;
          const numeric = (4 * central(i, h) - central(i, 2 * h)) / 3;
          const analytic = grads[i];
          const rel = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic));
          worst = Math.max(worst, rel);
          report.push(`${kind} L${l} ${t}.${which}[${i - base}] analytic ${analytic.toExponential(5)} numeric ${numeric.toExponential(5)} rel ${rel.toExponential(2)}`);
        }
        const zero = [...g.keys()].find((i) => g[i] === 0);
        if (zero !== undefined) {
          const i = base + zero;
          assert.equal(lossAt(i, params[i] + 0.5).loss, loss0, `L${l} ${t}.${which}[${zero}]: a coordinate with zero gradient changed the loss`);
        }
      }
    }
  }
  trainer.freezeMasks(false);
  return worst;
}

/** Random A and B (B nonzero, so A's gradient is too). */
function randomAdapters(c: ModelConfig, rank: number, seed: number): LoraAdapters {
  return makeAdapters(c, rank, 2 * rank, LORA_TARGETS, (l, t, w, a) => fillUniform(a, seed + 31 * l + 7 * LORA_TARGET_ID[t] + (w === "A" ? 0 : 3), w === "A" ? 0.5 : 0.3));
}

test("gradients of gate/up/down A and B match central differences (ce and kd; dense, glu and dip masks; GQA, both RoPE layouts)", async () => {
  const report: string[] = [];
  let worst = 0;
  for (const [layout, spec] of [
    ["interleaved", { method: "dip", keep: 0.5 }],
    ["half", { method: "dense" }],
    ["interleaved", { method: "glu", keep: 0.5 }],
  ] as const) {
    const engine = await Engine.create(tinyModel(3, layout), { sparsity: spec });
    engine.setAdapters(randomAdapters(engine.config, 4, 11));
    const tokens = [1, 5, 9, 2, 30, 17, 4, 4, 12, 8, 3];
    for (const kind of ["ce", "kd"] as const) worst = Math.max(worst, gradientCheck(engine, kind, tokens, report));
  }
  if (process.env.LORA_GRAD_REPORT) console.log(report.join("\n"));
  console.log(`# gradient check: ${report.length} coordinates, worst relative error ${worst.toExponential(2)}`);
  assert.ok(worst < 1e-3, `worst relative error ${worst}\n${report.join("\n")}`);
});

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

const WINDOW = [1, 403, 407, 261, 378, 426, 271, 409, 285, 390, 262, 439, 267, 300, 260, 301, 395, 347, 273, 266];

test("adapters with B = 0 leave the logits unchanged bit for bit (dense, dip, glu)", async () => {
  const engine = await Engine.create(await storiesModel());
  for (const spec of [{ method: "dense" }, { method: "dip", keep: 0.5 }, { method: "glu", keep: 0.3 }] as const) {
    engine.setSparsity(spec);
    engine.setAdapters(null);
    const base = runLogits(engine, WINDOW);
    engine.initAdapters({ rank: 8, alpha: 16, seed: 5 }); // A random, B = 0
    assert.ok(bitsEqual(runLogits(engine, WINDOW), base), `${spec.method}: fresh adapters changed the logits`);
    engine.setAdapters(makeAdapters(engine.config, 4, 4)); // all zero, through the file orientation
    assert.ok(bitsEqual(runLogits(engine, WINDOW), base), `${spec.method}: zero adapters changed the logits`);
  }
});

test("cats applies the up adapter on its kept rows: keeping every row matches dense with the same adapters", async () => {
  const engine = await Engine.create(await storiesModel());
  const ad = randomAdapters(engine.config, 8, 4);
  engine.setAdapters(ad);
  const dense = runLogits(engine, WINDOW);
  const keepAll: Calibration = {
    version: 1, modelKey: "", method: "cats", keep: 1, dataKey: "", tokens: 0,
    thresholds: Array.from({ length: engine.config.nLayers }, () => ({ input: 0, hidden: -1 })), // every |silu(g)| > -1
  };
  engine.setSparsity({ method: "cats", keep: 0.99 }, keepAll);
  const cats = runLogits(engine, WINDOW);
  let maxDiff = 0;
  for (let i = 0; i < cats.length; i++) maxDiff = Math.max(maxDiff, Math.abs(cats[i] - dense[i]));
  assert.ok(maxDiff < 1e-4, `max |cats - dense| = ${maxDiff}`);
  engine.setAdapters(null);
  const catsBase = runLogits(engine, WINDOW);
  assert.ok(!bitsEqual(catsBase, cats), "the adapters had no effect under cats");
});

test("the training forward's logits equal engine.step's bit for bit, with adapters and dip masks", async () => {
  const engine = await Engine.create(await storiesModel(), { sparsity: { method: "dip", keep: 0.5 } });
  engine.setAdapters(randomAdapters(engine.config, 8, 3));
  const stepLogits = runLogits(engine, WINDOW.slice(0, -1));
  const trainer = new LoraTrainer(engine, 64);
  trainer.loss(WINDOW, "ce");
  assert.ok(bitsEqual(trainer.logits(WINDOW.length - 1), stepLogits));
  // and the adapters do change them
  engine.setAdapters(null);
  assert.ok(!bitsEqual(runLogits(engine, WINDOW.slice(0, -1)), stepLogits));
});

test("a few AdamW steps reduce the training loss on a fixed window (ce and kd)", async () => {
  const engine = await Engine.create(await storiesModel(), { sparsity: { method: "dip", keep: 0.3 } });
  for (const kind of ["ce", "kd"] as const) {
    engine.initAdapters({ rank: 8, alpha: 16, seed: 1 });
    const trainer = new LoraTrainer(engine, 64);
    trainer.resetOptimizer();
    const before = trainer.loss(WINDOW, kind);
    for (let step = 1; step <= 8; step++) {
      trainer.zeroGrads();
      trainer.accumulate(WINDOW, kind, 1 / (WINDOW.length - 1));
      trainer.step({ lr: 2e-3, step, clipNorm: 1 });
    }
    const after = trainer.loss(WINDOW, kind);
    assert.ok(after < 0.9 * before, `${kind}: loss ${before} -> ${after}`);
  }
  const trainer = new LoraTrainer(engine, 64);
  engine.initAdapters({ rank: 4, alpha: 4 }); // another shape: a new parameter block
  assert.throws(() => trainer.loss(WINDOW, "ce"), /another shape/);
});

test("adapters round-trip through safetensors (PEFT names and orientation) and the engine", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model, { sparsity: { method: "dip", keep: 0.5 } });
  const ad = { ...randomAdapters(engine.config, 4, 9), sparsity: { method: "dip" as const, keep: 0.5 } };
  const { safetensors, config } = encodeAdapters(ad, "stories260K");
  const cfg = JSON.parse(config);
  assert.equal(cfg.r, 4);
  assert.equal(cfg.lora_alpha, 8);
  assert.deepEqual(cfg.target_modules, ["gate_proj", "up_proj", "down_proj"]);
  assert.deepEqual(cfg.dip_sparsity, { method: "dip", keep: 0.5 });
  const back = decodeAdapters(safetensors, "mem.safetensors");
  assert.equal(back.rank, 4);
  assert.equal(back.alpha, 8);
  for (let l = 0; l < engine.config.nLayers; l++) {
    for (const t of LORA_TARGETS) {
      assert.ok(bitsEqual(back.layers[l][t]!.a, ad.layers[l][t]!.a));
      assert.ok(bitsEqual(back.layers[l][t]!.b, ad.layers[l][t]!.b));
    }
  }
  assert.deepEqual([back.layers[0].gate!.inFeatures, back.layers[0].gate!.outFeatures], [64, 172]);
  assert.deepEqual([back.layers[0].down!.inFeatures, back.layers[0].down!.outFeatures], [172, 64]);
  // file round trip, config beside it
  const file = join(tmp, "rt.safetensors");
  await writeAdaptersFile(file, ad, "stories260K");
  assert.equal(JSON.parse(readFileSync(join(tmp, "rt.adapter_config.json"), "utf8")).r, 4);
  const loaded = await readAdaptersFile(file);
  engine.setAdapters(ad);
  const want = runLogits(engine, WINDOW);
  engine.setAdapters(loaded);
  assert.ok(bitsEqual(runLogits(engine, WINDOW), want));
  // a PEFT folder: adapter_model.safetensors without an embedded config + adapter_config.json
  const peft = join(tmp, "peft");
  mkdirSync(peft, { recursive: true });
  const plain = encodeSafetensors(ad.layers.flatMap((layer, l) => LORA_TARGETS.flatMap((t) => [
    { name: peftTensorName(l, t, "A"), shape: [4, layer[t]!.inFeatures], data: layer[t]!.a },
    { name: peftTensorName(l, t, "B"), shape: [layer[t]!.outFeatures, 4], data: layer[t]!.b },
  ])));
  writeFileSync(join(peft, "adapter_model.safetensors"), plain);
  writeFileSync(join(peft, "adapter_config.json"), config);
  engine.setAdapters(await readAdaptersFile(peft));
  assert.ok(bitsEqual(runLogits(engine, WINDOW), want));
  // the engine's copy reads back exactly
  const got = engine.getAdapters()!;
  assert.ok(bitsEqual(got.layers[2].up!.a, ad.layers[2].up!.a) && bitsEqual(got.layers[4].down!.b, ad.layers[4].down!.b));
  assert.equal(engine.adapterBytes, 4 * 5 * 4 * (2 * (64 + 172) + (172 + 64)));
});

test("bad adapter files give clear errors", async () => {
  const model = await storiesModel();
  const engine = await Engine.create(model);
  const c = engine.config;
  const good = randomAdapters(c, 4, 1);
  // not a safetensors file
  assert.throws(() => decodeAdapters(new TextEncoder().encode("hello, not safetensors"), "x.safetensors"), /x\.safetensors: .*(not a safetensors file|header length)/);
  // no config anywhere
  const bare = encodeSafetensors([{ name: peftTensorName(0, "gate", "A"), shape: [4, 64], data: new Float32Array(256) }]);
  assert.throws(() => decodeAdapters(bare, "bare.safetensors"), /no adapter config/);
  const cfg = (r: number, modules = ["gate_proj", "up_proj", "down_proj"]) => JSON.stringify({ r, lora_alpha: 8, target_modules: modules });
  // a missing tensor
  const { safetensors } = encodeAdapters(good);
  const header = (bytes: Uint8Array) => {
    const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  };
  const h = header(safetensors);
  const drop = peftTensorName(3, "up", "B");
  const tensors = Object.keys(h)
    .filter((k) => k !== "__metadata__" && k !== drop)
    .map((k) => {
      const [l, t, w] = /layers\.(\d+)\.mlp\.(\w+)_proj\.lora_(\w)/.exec(k)!.slice(1);
      const m = good.layers[Number(l)][t as LoraTarget]!;
      return { name: k, shape: h[k].shape, data: w === "A" ? m.a : m.b };
    });
  assert.throws(() => decodeAdapters(encodeSafetensors(tensors), "m.safetensors", cfg(4)), new RegExp(`missing tensor ${drop.replace(/\./g, "\\.")}`));
  // rank mismatch between the config and the tensors
  assert.throws(() => decodeAdapters(encodeSafetensors(tensors), "r.safetensors", cfg(8)), /rank mismatch: the adapter config says r = 8/);
  // an attention adapter
  assert.throws(
    () => decodeAdapters(encodeSafetensors([{ name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", shape: [4, 64], data: new Float32Array(256) }]), "q.safetensors", cfg(4)),
    /not an MLP LoRA weight/,
  );
  assert.throws(() => decodeAdapters(bare, "t.safetensors", cfg(4, ["q_proj", "gate_proj"])), /target_modules lists q_proj/);
  // adapters for a different model: wrong shapes / layer count
  const tiny = await Engine.create(tinyModel(1));
  const tinyAdapters = decodeAdapters(encodeAdapters(randomAdapters(tiny.config, 4, 1)).safetensors, "tiny.safetensors");
  assert.throws(() => engine.setAdapters(tinyAdapters), /adapters have 2 layers, the model has 5/);
  const wrongShape = { ...good, layers: good.layers.map((l, i) => (i === 1 ? { ...l, down: { ...l.down!, inFeatures: 100, a: new Float32Array(400) } } : l)) };
  assert.throws(() => engine.setAdapters(wrongShape), /layer 1 down_proj adapter maps 100 -> 64 features, but this model's down_proj maps 172 -> 64/);
  // a file that does not exist
  await assert.rejects(readAdaptersFile(join(tmp, "nope.safetensors")), /cannot read/);
  // the engine is unchanged by a failed load
  assert.equal(engine.adapterBytes, 0);
  writeFileSync(join(tmp, "junk.safetensors"), "junk");
  await assert.rejects(readAdaptersFile(join(tmp, "junk.safetensors")), /junk\.safetensors/);
});

test("CLI: finetune writes adapters that eval/logits load with --adapters; bad input is one clear line", async () => {
  const { spawnSync } = await import("node:child_process");
  const { projectRoot } = await import("../host/node/paths.js");
  const dip = (...args: string[]) => spawnSync(process.execPath, [join(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
  const out = join(tmp, "cli.safetensors");
  const r = dip("finetune", "--method", "dip", "--keep", "0.5", "--rank", "4", "--steps", "3", "--window", "32", "--accum", "1", "--eval-every", "1",
    "--train-stories", "200:204", "--val-stories", "1800:1801", "--lr", "1e-3", "--out", out, "--json");
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.steps, 3);
  assert.equal(j.rank, 4);
  assert.ok(j.val_ppl_best < j.val_ppl_before, `training did not lower the validation ppl: ${j.val_ppl_before} -> ${j.val_ppl_best}`);
  assert.ok(j.best_step >= 1 && j.best_step <= 3, `best step ${j.best_step}`);
  assert.ok(j.train_tok_s > 0);
  assert.equal(j.adapter_bytes, 4 * 5 * 4 * (3 * (64 + 172)));
  assert.match(r.stderr, /val ppl/);
  const cfg = JSON.parse(readFileSync(join(tmp, "cli.adapter_config.json"), "utf8"));
  assert.equal(cfg.dip_sparsity.method, "dip");
  const e = dip("eval", "--stories", "1", "--first-story", "1800", "--method", "dip", "--keep", "0.5", "--adapters", out, "--json");
  assert.equal(e.status, 0, e.stderr);
  assert.ok(Math.abs(JSON.parse(e.stdout).ppl - j.val_ppl_best) < 1e-9, "eval --adapters reproduces the best validation ppl");
  writeFileSync(join(tmp, "junk.safetensors"), "junk");
  const bad = dip("eval", "--stories", "1", "--adapters", join(tmp, "junk.safetensors"));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^dip: error: .*junk\.safetensors/);
  assert.doesNotMatch(bad.stderr, /    at /);
  const leak = dip("finetune", "--train-stories", "100:300", "--out", out);
  assert.equal(leak.status, 1);
  assert.match(leak.stderr, /evaluation set/);
});
