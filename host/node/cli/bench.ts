// `dip bench`: end-to-end decode throughput, dense against a sparsity method, in one process and
// on one engine (bench/README.md). Token generation is memory-bound, so the method's speedup is
// compared with its ideal: the ratio of weight bytes a dense token reads to the bytes it reads.

import type { Argv, ArgumentsCamelCase } from "yargs";
import { Engine, type WeightDtype } from "../../engine.js";
import { isSyntheticShape, syntheticConfig, syntheticModel, SYNTHETIC_SHAPES } from "../../synthetic.js";
import { maskKeeps, METHODS, needsCalibration, normalizeSpec, specLabel, type Method, type SparsitySpec } from "../../sparsity.js";
import { buildFields, buildNote, buildOptions, openModel, UsageError, withEngineBuild, type ModelArgs } from "./common.js";
import type { WeightBytes } from "../../engine.js";

interface Args extends ModelArgs {
  synthetic?: string;
  seed: number;
  method: string;
  keep?: number;
  keeps?: string;
  tokens: number;
  warmup: number;
  rounds: number;
  position: number;
  clock: string;
  json: boolean;
}

export const benchCommand = {
  command: "bench",
  describe: "decode tokens/s: dense vs a sparsity method on the same engine, against the ideal from bytes read",
  builder: (y: Argv) =>
    withEngineBuild(y)
      .option("synthetic", { type: "string", describe: `random weights of a real shape: ${SYNTHETIC_SHAPES.join("|")}` })
      .option("model", { type: "string", describe: "model file (.gguf or llama2.c .bin) instead of --synthetic" })
      .option("tokenizer", { type: "string", describe: "tokenizer for --model (see dip generate)" })
      .option("seed", { type: "number", default: 1, describe: "--synthetic: weight seed" })
      .option("dtype", { type: "string", describe: "weight precision in memory: f32 | q8 (default f32, or the file's)" })
      .option("method", { type: "string", default: "dip", describe: "glu|dip|dip-ca (methods without calibration)" })
      .option("keep", { type: "number", describe: "keep of the method (dip: target MLP density)" })
      .option("keeps", { type: "string", describe: "comma-separated keeps for a table, e.g. 0.2,0.3,0.5,0.9" })
      .option("tokens", { type: "number", default: 32, describe: "generated tokens per timed run (greedy, after BOS)" })
      .option("warmup", { type: "number", default: 4, describe: "untimed decode steps before each timed run" })
      .option("position", { type: "number", default: 0, describe: "timed steps start after this many cached positions (a dense prefill fills them): attention's cost at long context" })
      .option("rounds", { type: "number", default: 5, describe: "dense and method runs alternate this many times; medians are reported" })
      .option("clock", {
        type: "string",
        default: "wall",
        choices: ["wall", "cpu"],
        describe: "time tok/s by wall clock, or by this process's CPU time (leaves out time other processes held the core)",
      })
      .option("json", { type: "boolean", default: false }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const keeps = parseKeeps(a);
    for (const [name, v] of [["--tokens", a.tokens], ["--rounds", a.rounds]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new UsageError(`${name} must be a positive integer, got ${v}`);
    }
    if (!Number.isInteger(a.warmup) || a.warmup < 0) throw new UsageError(`--warmup must be a non-negative integer, got ${a.warmup}`);
    if (!Number.isInteger(a.position) || a.position < 0) throw new UsageError(`--position must be a non-negative integer, got ${a.position}`);
    const method = a.method as Method;
    if (!METHODS.includes(method) || method === "dense" || needsCalibration(method)) {
      throw new UsageError(`--method ${a.method}: bench runs glu, dip or dip-ca (dense is always the baseline; cats and dip-threshold need a calibration)`);
    }
    const specs = keeps.map((keep) => normalizeSpec({ method, keep }));
    if (a.clock === "cpu" && (a.threads ?? 1) > 1) throw new UsageError("--clock cpu adds up the CPU time of all threads: use --clock wall with --threads");

    const t0 = performance.now();
    const { engine, bos, name } = await openForBench(a);
    const loadSeconds = (performance.now() - t0) / 1000;
    const c = engine.config;
    if (a.position + a.tokens + 1 > c.seqLen || a.warmup + 1 > c.seqLen) throw new UsageError(`--position ${a.position} + --tokens ${a.tokens} does not fit the context of ${c.seqLen}`);
    if (!a.json) process.stderr.write(`${name}: laid out in ${loadSeconds.toFixed(1)} s, ${(engine.memoryBytes() / 1e9).toFixed(2)} GB of wasm memory\n`);

    const denseBytes = total(engine.denseBytesPerToken());
    const runs = new Map<string, Run[]>();
    const record = (label: string, r: Run) => runs.set(label, [...(runs.get(label) ?? []), r]);
    for (let round = 0; round < a.rounds; round++) {
      // dense and every keep in each round, so slow spells from other processes hit all of them
      for (const spec of [{ method: "dense" } as SparsitySpec, ...specs]) {
        if (!a.json) process.stderr.write(`\rround ${round + 1}/${a.rounds}: ${specLabel(spec).padEnd(12)}`);
        record(specLabel(spec), decodeRun(engine, spec, bos, a.tokens, a.warmup, a.clock === "cpu", a.position));
      }
    }
    if (!a.json) process.stderr.write("\n");

    const dense = runs.get("dense")!;
    const rows = specs.map((spec) => {
      const rs = runs.get(specLabel(spec))!;
      const { inputKeep, hiddenKeep } = maskKeeps(spec);
      const bytes = rs[0].bytesPerToken;
      const speedup = median(rs.map((r, i) => r.tokS / dense[i].tokS)); // ratio within each round
      const ideal = denseBytes / bytes;
      return {
        method: spec.method,
        keep: spec.keep!,
        up_keep: inputKeep,
        down_keep: hiddenKeep,
        dense_tok_s: median(dense.map((r) => r.tokS)),
        tok_s: median(rs.map((r) => r.tokS)),
        speedup,
        weight_bytes_per_token: bytes,
        dense_weight_bytes_per_token: denseBytes,
        ideal_speedup: ideal,
        efficiency: speedup / ideal,
        mlp_density: rs[0].mlpBytesPerToken / engine.denseBytesPerToken().mlp,
        cpu_share: median(rs.map((r) => r.cpuShare)),
      };
    });
    const meta = {
      model: name,
      dim: c.dim,
      hidden_dim: c.hiddenDim,
      layers: c.nLayers,
      vocab: c.vocabSize,
      tokens: a.tokens,
      warmup: a.warmup,
      rounds: a.rounds,
      position: a.position,
      clock: a.clock,
      dense_cpu_share: median(dense.map((r) => r.cpuShare)),
      measured_dense_bytes_per_token: dense[0].bytesPerToken,
      ...buildFields(engine),
    };

    const timing =
      `${a.tokens} greedy tokens from BOS${a.position ? ` after ${a.position} cached positions` : ""}, median of ${a.rounds} rounds, ${a.clock} clock` +
      `${engine.threads > 1 ? `, ${engine.threads} threads` : ""}${buildNote(engine) ? `; ${buildNote(engine)}` : ""}`;
    if (!a.json && engine.threads === 1 && meta.dense_cpu_share < 0.95) {
      process.stderr.write(`note: the timed steps got ${(meta.dense_cpu_share * 100).toFixed(0)}% of a core (other processes are running); --clock cpu leaves that out\n`);
    }
    if (a.json) {
      process.stdout.write(JSON.stringify({ ...meta, rows }) + "\n");
    } else if (rows.length === 1) {
      process.stdout.write(`${name}, ${timing}\n`);
      for (const [k, v] of Object.entries(rows[0])) process.stdout.write(`${k}: ${typeof v === "number" ? fmt(v) : v}\n`);
    } else {
      process.stdout.write(`${name}, ${timing}; dense ${fmt(rows[0].dense_tok_s)} tok/s, ${(denseBytes / 1e6).toFixed(1)} MB/token\n\n`);
      const head = ["method", "keep", "up/down keep", "tok/s", "speedup", "MB/token", "ideal", "efficiency", "CPU share"];
      const body = rows.map((r) => [
        r.method,
        String(r.keep),
        `${r.up_keep.toFixed(3)}/${r.down_keep.toFixed(3)}`,
        r.tok_s.toFixed(2),
        `${r.speedup.toFixed(2)}x`,
        (r.weight_bytes_per_token / 1e6).toFixed(1),
        `${r.ideal_speedup.toFixed(2)}x`,
        `${(r.efficiency * 100).toFixed(0)}%`,
        `${(r.cpu_share * 100).toFixed(0)}%`,
      ]);
      const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
      const line = (cells: string[]) => "| " + cells.map((s, i) => (i < 2 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(" | ") + " |";
      process.stdout.write([line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n") + "\n");
    }
  },
};

export interface Run {
  tokS: number;
  /** CPU time / wall time of the timed steps: below ~0.95, other processes held the core */
  cpuShare: number;
  bytesPerToken: number;
  mlpBytesPerToken: number;
}

/**
 * One timed greedy decode from BOS: `warmup` untimed steps, then a fresh sequence whose BOS step
 * (after `position` prompt positions filled by a dense prefill, untimed) is untimed and whose
 * next `tokens` steps are timed. Every run covers the same positions, so the attention work is
 * the same for dense and the method.
 */
export function decodeRun(engine: Engine, spec: SparsitySpec, bos: number, tokens: number, warmup: number, cpuClock: boolean, position = 0): Run {
  engine.setSparsity(spec);
  engine.reset();
  let t = bos;
  for (let i = 0; i < warmup; i++) {
    engine.step(t);
    t = engine.sample(0, 1);
  }
  engine.reset();
  if (position > 0) engine.prefill(Array.from({ length: position }, (_, i) => (i === 0 ? bos : (i * 7919) % engine.config.vocabSize)));
  engine.step(bos);
  engine.resetBytes();
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < tokens; i++) engine.step(engine.sample(0, 1));
  const cpu = process.cpuUsage(cpuStart);
  const wallSeconds = (performance.now() - start) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const b = engine.bytesRead();
  return {
    tokS: tokens / (cpuClock ? cpuSeconds : wallSeconds),
    cpuShare: cpuSeconds / wallSeconds,
    bytesPerToken: total(b) / tokens, mlpBytesPerToken: b.mlp / tokens,
  };
}

async function openForBench(a: Args): Promise<{ engine: Engine; bos: number; name: string }> {
  if (a.synthetic !== undefined && a.model !== undefined) throw new UsageError(`give --synthetic or --model, not both`);
  if (a.synthetic !== undefined) {
    if (!isSyntheticShape(a.synthetic)) throw new UsageError(`--synthetic ${a.synthetic}: supported shapes are ${SYNTHETIC_SHAPES.join(", ")}`);
    // the context grows to hold --position (the shapes' default contexts are short to keep the KV cache small)
    const seqLen = Math.max(syntheticConfig(a.synthetic).seqLen, a.position + a.tokens + 1);
    const model = syntheticModel(a.synthetic, a.seed, { seqLen });
    // the model generates its tensors on access; the engine keeps the only copy
    return { engine: await Engine.create(model, { dtype: (a.dtype ?? "f32") as WeightDtype, ...buildOptions(a) }), bos: 1, name: model.name };
  }
  const o = await openModel(a);
  return { engine: o.engine, bos: o.model.vocab?.bosId ?? 1, name: o.model.name };
}

function parseKeeps(a: Args): number[] {
  if (a.keeps !== undefined && a.keep !== undefined) throw new UsageError(`give --keep or --keeps, not both`);
  const parts = a.keeps !== undefined ? a.keeps.split(",").map((s) => s.trim()).filter((s) => s.length > 0) : a.keep !== undefined ? [String(a.keep)] : [];
  if (parts.length === 0) throw new UsageError(`give --keep X or --keeps X,Y,...`);
  return parts.map((p) => {
    const v = Number(p);
    if (!(v > 0 && v <= 1)) throw new UsageError(`keep "${p}" must be a number in (0, 1]`);
    return v;
  });
}

const total = (b: WeightBytes) => b.embedding + b.attention + b.mlp + b.lm_head;

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}
