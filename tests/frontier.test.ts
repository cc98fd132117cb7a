// `dip frontier` (issue #18 item 4): the bisection over DRAM budgets (host/sim/frontier.ts) on
// hand-checkable functions and a fixture trace, synthetic masks, and the command on stories260K.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import type { EngineExports } from "../host/wasm.js";
import { loadDefaultEngineWasm } from "../host/wasm.js";
import { minBudgetFor, syntheticTrace } from "../host/sim/frontier.js";
import { resolveDevice } from "../host/sim/devices.js";
import { maskGroupsFor } from "../host/sim/groups.js";
import { partitionDram } from "../host/sim/partition.js";
import { DEFAULT_BITS, type ModelDims } from "../host/sim/presets.js";
import { simulateTraceWith, type SimSettings } from "../host/sim/simulate.js";
import { forEachMask } from "../host/sim/trace.js";
import { keepCount, splitKeep } from "../host/sparsity.js";
import type { FrontierOutput } from "../host/node/cli/frontier.js";
import { runDip } from "./helpers.js";

const TINY: ModelDims = { nLayers: 3, vocabSize: 100, dim: 16, hiddenDim: 40, nHeads: 4, nKvHeads: 2, seqLen: 64, gated: true };

let wasm: EngineExports;
before(async () => {
  wasm = await loadDefaultEngineWasm();
});

describe("minBudgetFor", () => {
  const step = (threshold: number) => (budget: number) => ({ tok_s: budget >= threshold ? 10 : 1 });

  test("finds a step exactly with tolerance 1, and within the tolerance otherwise", () => {
    assert.equal(minBudgetFor(step(1234), 5, 10_000, 1).budget, 1234);
    const s = minBudgetFor(step(1234), 5, 10_000, 16);
    assert.ok(s.budget! >= 1234 && s.budget! - 16 < 1234, `budget ${s.budget}`);
    assert.equal(s.at.tok_s, 10);
    // log2(10000 / 16) = 9.3 halvings, plus the two ends
    assert.ok(s.evaluations <= 12, `${s.evaluations} evaluations`);
  });

  test("the ends: reached at 0, never reached, bad tolerance", () => {
    assert.deepEqual([minBudgetFor(step(0), 5, 100, 1).budget, minBudgetFor(step(0), 5, 100, 1).evaluations], [0, 2]);
    const never = minBudgetFor(step(1e9), 5, 100, 1);
    assert.equal(never.budget, null);
    assert.equal(never.at.tok_s, 1);
    assert.throws(() => minBudgetFor(step(0), 5, 100, 0), /tolerance must be at least 1 byte/);
  });
});

describe("syntheticTrace", () => {
  test("masks of the engine's top-k sizes, full for groups a method reads dense, same masks for the same seed", () => {
    const { upKeep, downKeep } = splitKeep(0.5);
    const trace = syntheticTrace(TINY, { method: "dip", keep: 0.5 }, { tokens: 4 });
    const sizes = new Set<string>();
    forEachMask(trace.header, trace.sequences[0], (_token, _layer, group, mask) => sizes.add(`${group}:${mask === null ? "full" : mask.length}`));
    assert.deepEqual([...sizes].sort(), [`0:${keepCount(upKeep, 16)}`, `1:${keepCount(downKeep, 40)}`]);
    assert.deepEqual(syntheticTrace(TINY, { method: "dip", keep: 0.5 }, { tokens: 4 }).sequences[0].words, trace.sequences[0].words);
    assert.notDeepEqual(syntheticTrace(TINY, { method: "dip", keep: 0.5 }, { tokens: 4, seed: 2 }).sequences[0].words, trace.sequences[0].words);
    const glu = new Set<string>();
    const gluTrace = syntheticTrace(TINY, { method: "glu", keep: 0.5 }, { tokens: 2 });
    forEachMask(gluTrace.header, gluTrace.sequences[0], (_t, _l, group, mask) => glu.add(`${group}:${mask === null ? "full" : mask.length}`));
    assert.deepEqual([...glu].sort(), ["0:full", "1:20"]);
  });
});

describe("the frontier on a fixture trace", () => {
  // serial I/O (the budget profile): every byte moved from DRAM to Flash costs time, so tok/s can only
  // rise with the budget; with concurrent I/O (time = max) a few Flash bytes can shorten a token.
  const trace = () => syntheticTrace(TINY, { method: "dip", keep: 0.5 }, { tokens: 40, seed: 7 });
  const settings = (budget: number): SimSettings => ({ policy: "lru", device: resolveDevice("budget", { dramBytes: budget }) });
  const footprintBytes = () => partitionDram(wasm, { dims: TINY, bits: DEFAULT_BITS, groups: maskGroupsFor("dense", TINY), dramBytes: 0 }).denseFootprintBytes;

  test("tok/s does not fall as the budget grows (serial I/O, lru)", () => {
    const t = trace();
    const full = footprintBytes();
    let previous = 0;
    for (let budget = 0; budget <= full; budget += Math.ceil(full / 200)) {
      const tokS = simulateTraceWith(wasm, t, settings(budget)).tok_s;
      assert.ok(tokS >= previous, `budget ${budget}: ${tokS} < ${previous}`);
      previous = tokS;
    }
  });

  test("the found budget reaches the target and budget - tolerance does not", () => {
    const t = trace();
    const full = footprintBytes();
    const tokS = (budget: number) => simulateTraceWith(wasm, t, settings(budget)).tok_s;
    const target = 0.8 * tokS(full);
    for (const tolerance of [1, 64, 1000]) {
      const s = minBudgetFor((b) => simulateTraceWith(wasm, t, settings(b)), target, full, tolerance);
      assert.ok(s.budget !== null && s.budget > 0);
      assert.ok(tokS(s.budget) >= target);
      assert.ok(tokS(s.budget - tolerance) < target, `tolerance ${tolerance}: ${s.budget - tolerance} reaches too`);
    }
  });
});

describe("dip frontier (CLI)", () => {
  test("unknown methods, predictor without --predictor or on a preset, dip-ca on a preset and a zero tolerance are refused before any run", () => {
    const u = runDip("frontier", "--methods", "dense,oracle");
    assert.equal(u.code, 1);
    assert.match(u.stderr, /unknown method "oracle"; frontier methods: dense, dip, dip-ca, glu, cats, predictor/);
    const r = runDip("frontier", "--methods", "dense,predictor");
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "dip: error: --methods predictor needs --predictor P (from dip train-predictor)\n");
    const p = runDip("frontier", "--preset", "phi-3-mini", "--methods", "dip-ca");
    assert.equal(p.code, 1);
    assert.match(p.stderr, /dip-ca chooses its masks from a model's activations/);
    const pp = runDip("frontier", "--preset", "phi-3-mini", "--methods", "predictor");
    assert.equal(pp.code, 1);
    assert.match(pp.stderr, /predictor chooses its masks from a model's activations; a --preset has no weights/);
    const t = runDip("frontier", "--tolerance", "0");
    assert.equal(t.code, 1);
    assert.match(t.stderr, /--tolerance must be at least 1 byte/);
  });

  test("stories260K: dip-ca needs no more DRAM than dip, dip no more than dense, at dense's throughput", () => {
    const r = runDip("frontier", "--stories", "3", "--methods", "dense,dip,dip-ca", "--json");
    assert.equal(r.code, 0, r.stderr);
    const f = JSON.parse(r.stdout) as FrontierOutput;
    assert.equal(f.target_dense_dram_bytes, f.dense_footprint_bytes);
    const row = (m: string) => f.rows.find((x) => x.method === m)!;
    for (const x of f.rows) {
      assert.ok(x.min_dram_bytes !== null, `${x.method} reaches the target`);
      assert.ok(x.tok_s >= f.target_tok_s, `${x.method}: ${x.tok_s} < ${f.target_tok_s}`);
      assert.ok(x.ppl !== null && x.ppl > 1);
      assert.deepEqual(Object.keys(x).slice(0, 6), ["method", "keep", "gamma", "min_dram_bytes", "ppl", "tok_s"]);
    }
    assert.ok(row("dip").min_dram_bytes! <= row("dense").min_dram_bytes!, `dip ${row("dip").min_dram_bytes} > dense ${row("dense").min_dram_bytes}`);
    assert.ok(row("dip-ca").min_dram_bytes! <= row("dip").min_dram_bytes!, `dip-ca ${row("dip-ca").min_dram_bytes} > dip ${row("dip").min_dram_bytes}`);
    assert.equal(row("dip-ca").gamma, 0.5);
  });
});
