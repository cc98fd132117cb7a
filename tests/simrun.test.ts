// The engine feeding the simulator: live DIP-CA, trace recording and replay.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { Engine } from "../host/engine.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { perplexity, splitStories, tokenStream } from "../host/eval.js";
import { dataDir, projectRoot } from "../host/node/paths.js";
import { MaskRecorder } from "../host/sim/run.js";
import { simulateTraceWith, type SimSettings } from "../host/sim/simulate.js";
import { resolveDevice } from "../host/sim/devices.js";
import { storiesModel } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "dip-sim-"));

async function run(spec: Parameters<Engine["setSparsity"]>[0], settings: SimSettings, nStories = 2) {
  const model = await storiesModel();
  const engine = await Engine.create(model, { sparsity: spec });
  const tok = new SentencePieceTokenizer(model.vocab!);
  const stories = splitStories(readFileSync(resolve(dataDir(), "tinystories", "valid-sample.txt"), "utf8")).slice(0, nStories);
  const recorder = new MaskRecorder(engine, { settings, live: spec.method === "dip-ca" });
  let seq = -1;
  const r = perplexity(engine, tokenStream(tok, stories), {
    onStep: ({ sequence }) => {
      if (sequence !== seq) recorder.beginSequence(0), (seq = sequence);
      recorder.afterStep();
    },
  });
  recorder.detach();
  const trace = recorder.trace();
  return { ppl: r.ppl, trace, sim: simulateTraceWith(engine.exports, trace, settings) };
}

// 320 KB: the static groups (260 KB at 8/8/4/4/8 bits) fit, the MLP caches hold 46 of 64 inputs
const settings: SimSettings = { policy: "lfu", device: resolveDevice("mobile", { dramBytes: 320e3 }) };

test("dip-ca with gamma = 1 reproduces dip exactly (masks and perplexity)", async () => {
  const dip = await run({ method: "dip", keep: 0.5 }, settings);
  const ca = await run({ method: "dip-ca", keep: 0.5, gamma: 1 }, settings);
  assert.equal(ca.ppl, dip.ppl);
  assert.deepEqual(ca.trace.sequences, dip.trace.sequences);
});

test("dip-ca raises the cache hit rate and simulated tok/s over dip, at some perplexity cost", async () => {
  const dip = await run({ method: "dip", keep: 0.5 }, settings);
  const ca = await run({ method: "dip-ca", keep: 0.5, gamma: 0.5 }, settings);
  assert.ok(ca.sim.hit_rate.overall > dip.sim.hit_rate.overall, `${ca.sim.hit_rate.overall} vs ${dip.sim.hit_rate.overall}`);
  assert.ok(ca.sim.tok_s > dip.sim.tok_s);
  assert.ok(ca.ppl >= dip.ppl);
  // the same number of columns is read either way: only which ones changes
  assert.equal(ca.sim.mlp_density, dip.sim.mlp_density);
});

test("simulate --model with --trace-out, and the replay of that trace, print identical JSON", () => {
  const trace = join(tmp, "run.trace");
  const cli = (...args: string[]) => spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
  const common = ["--policy", "lru", "--dram", "320KB", "--json"];
  const live = cli("simulate", "--stories", "2", "--method", "dip-ca", "--gamma", "0.5", "--keep", "0.5", "--trace-out", trace, ...common);
  assert.equal(live.status, 0, live.stderr);
  const replay = cli("simulate", "--trace", trace, ...common);
  assert.equal(replay.status, 0, replay.stderr);
  assert.equal(replay.stdout, live.stdout);
  const j = JSON.parse(live.stdout);
  for (const k of ["tok_s", "flash_bytes_per_token", "dram_bytes_per_token", "ttft_s", "memory_bytes", "dense_flash_tok_s", "ppl"]) assert.equal(typeof j[k], "number", k);
  assert.equal(j.hit_rate.per_layer.length, 5);
  assert.equal(j.config.policy, "lru");
  const other = cli("simulate", "--trace", trace, "--policy", "belady", "--dram", "320KB", "--json");
  assert.equal(other.status, 0, other.stderr);
  assert.ok(JSON.parse(other.stdout).hit_rate.overall >= j.hit_rate.overall, "belady is at least as good as lru on the same trace");
  const bad = cli("simulate", "--stories", "1", "--method", "dip-ca", "--gamma", "0.5", "--keep", "0.5", "--policy", "belady");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /belady .* cannot provide/);
});

test("sweep with simulator axes: one row per (point, policy, dram), belady >= lru, hit rate grows with DRAM", async () => {
  const { runSweep } = await import("../host/node/cli/sweep.js");
  const { parseSimAxes } = await import("../host/node/cli/sim-sweep.js");
  const sim = parseSimAxes({ policies: "lru,belady", drams: "300KB,340KB", gammas: "0.5" })!;
  const t = await runSweep({ stories: 1, methods: ["dip", "dip-ca"], keeps: [0.5], sim });
  const col = (name: string) => t.header.indexOf(name);
  const rows = t.rows.map((r) => ({ method: r[col("method")], policy: r[col("policy")], dram: Number(r[col("dram_bytes")]), hit: Number(r[col("hit_rate")]) }));
  // dense and dip: 2 policies x 2 drams each; dip-ca: lru only (belady cannot drive live masks)
  assert.equal(rows.filter((r) => r.method === "dense").length, 4);
  assert.equal(rows.filter((r) => r.method === "dip").length, 4);
  assert.deepEqual(rows.filter((r) => r.method === "dip-ca").map((r) => r.policy), ["lru", "lru"]);
  for (const dram of [300e3, 340e3]) {
    const hit = (policy: string) => rows.find((r) => r.method === "dip" && r.policy === policy && r.dram === dram)!.hit;
    assert.ok(hit("belady") >= hit("lru"), `belady ${hit("belady")} < lru ${hit("lru")} at ${dram}`);
  }
  for (const policy of ["lru", "belady"]) {
    const at = (dram: number) => rows.find((r) => r.method === "dip" && r.policy === policy && r.dram === dram)!.hit;
    assert.ok(at(340e3) >= at(300e3));
  }
});

test("sweep --report writes a Markdown report with the table and links to plots written beside it", async () => {
  const { writeSweepReport, runSweep } = await import("../host/node/cli/sweep.js");
  const { parseSimAxes } = await import("../host/node/cli/sim-sweep.js");
  const { existsSync, readFileSync: read } = await import("node:fs");
  const t = await runSweep({ stories: 1, methods: ["dip"], keeps: [0.5], sim: parseSimAxes({ policies: "lru", drams: "300KB,320KB" }) });
  const md = join(tmp, "report.md");
  await writeSweepReport(md, t, join(tmp, "table.csv"), ["sweep", "--report", md]);
  const text = read(md, "utf8");
  assert.match(text, /\| method \| keep \| mlp_density .* \| tok_s \| hit_rate \|/);
  assert.equal(text.split("\n").filter((l) => l.startsWith("| dip |")).length, 2);
  for (const plot of ["report-ppl-vs-density.svg", "report-tok_s-vs-ppl.svg", "report-hit_rate-vs-dram.svg"]) {
    assert.ok(text.includes(`](${plot})`), plot);
    assert.ok(existsSync(join(tmp, plot)) && read(join(tmp, plot), "utf8").includes("<svg"), plot);
  }
});

test("sweep: --page-bytes, --read-latency-us and --bits without a simulator axis are refused, not ignored", async () => {
  const { parseSimAxes } = await import("../host/node/cli/sim-sweep.js");
  assert.throws(() => parseSimAxes({ "page-bytes": 4096 }), /--page-bytes is a simulator setting; add a simulator axis/);
  assert.throws(() => parseSimAxes({ "read-latency-us": 80 }), /--read-latency-us is a simulator setting/);
  assert.throws(() => parseSimAxes({ bits: "mlp=4" }), /--bits is a simulator setting/);
  assert.equal(parseSimAxes({}), undefined);
});

test("sweep with simulator axes: predictor rows, and Flash reads per token from the page model (a whole page per read)", async () => {
  const { runSweep } = await import("../host/node/cli/sweep.js");
  const { parseSimAxes } = await import("../host/node/cli/sim-sweep.js");
  const { encodePredictor } = await import("../host/predictor.js");
  const { writeFileSync } = await import("node:fs");
  const c = (await storiesModel()).config;
  let seed = 5;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const rank = 4;
  const file = join(tmp, "random-predictor.safetensors");
  const layers = Array.from({ length: c.nLayers }, () => ({ a: Float32Array.from({ length: rank * c.dim }, rnd), b: Float32Array.from({ length: c.hiddenDim * rank }, rnd) }));
  writeFileSync(file, encodePredictor({ rank, dim: c.dim, hiddenDim: c.hiddenDim, targetKeep: 0.5, layers }));
  const t = await runSweep({ stories: 1, methods: ["dip", "predictor"], keeps: [0.5], predictor: file, sim: parseSimAxes({ policies: "lru", drams: "300KB", "page-bytes": 4096, "read-latency-us": 80 })! });
  const col = (name: string) => t.header.indexOf(name);
  const rows = t.rows.map((r) => ({ method: r[col("method")], density: Number(r[col("mlp_density")]), reads: Number(r[col("flash_reads_per_token")]), perUseful: Number(r[col("flash_bytes_read_per_useful_byte")]), flash: Number(r[col("flash_bytes_per_token")]) }));
  assert.deepEqual(rows.map((r) => r.method).sort(), ["dense", "dip", "predictor"]);
  for (const r of rows.filter((r) => r.flash > 0)) {
    assert.ok(r.reads > 0, `${r.method}: reads ${r.reads}`);
    // a 256-byte (f32 x 64) column costs a 4 KiB page: far more bytes read than used
    assert.ok(r.perUseful >= 1, `${r.method}: ${r.perUseful} bytes read per useful byte`);
  }
  const predictor = rows.find((r) => r.method === "predictor")!;
  // rows of W_gate, W_up and columns of W_down for half the units, plus the rank-4 predictor
  const expected = 0.5 + (4 * rank * (c.dim + c.hiddenDim)) / (4 * 3 * c.dim * c.hiddenDim);
  assert.ok(Math.abs(predictor.density - (3 * Math.floor(0.5 * c.hiddenDim) * c.dim * 4 + 4 * rank * (c.dim + c.hiddenDim)) / (4 * 3 * c.dim * c.hiddenDim)) < 1e-12, `density ${predictor.density} (about ${expected})`);
});
