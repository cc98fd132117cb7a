// `dip frontier`: memory at equal throughput (issue #18 item 4). For each method, the smallest DRAM
// budget whose simulated tokens/s reaches a target (default: the dense model with its whole
// footprint in DRAM), by bisection over budgets (host/sim/frontier.ts), with the perplexity there.
// Methods that do not look at the cache are run once with their masks recorded, and the trace is
// replayed per budget; dip-ca chooses its masks from the live cache, so it runs once per budget.
// --preset replays synthetic masks of a shape without weights (no perplexity).
import type { Argv, ArgumentsCamelCase } from "yargs";
import { applySparsity, openModel, readStories, UsageError, withModel, withStories, type ModelArgs, type Opened } from "./common.js";
import { recordedRun } from "./sim-sweep.js";
import { writeOutputFile } from "../atomic-file.js";
import { tokenStream } from "../../eval.js";
import { loadDefaultEngineWasm, type EngineExports } from "../../wasm.js";
import { minBudgetFor, syntheticTrace } from "../../sim/frontier.js";
import { modelDims } from "../../sim/run.js";
import { simulateTraceWith, type SimResult, type SimSettings } from "../../sim/simulate.js";
import { DEFAULT_DEVICE, DEVICES, parseBits, parseSize, resolveDevice } from "../../sim/devices.js";
import { DEFAULT_BITS, PRESET_NAMES, presetByName, type ModelDims } from "../../sim/presets.js";
import { maskGroupsFor } from "../../sim/groups.js";
import { partitionDram } from "../../sim/partition.js";
import { CACHE_POLICIES, type CachePolicy } from "../../sim/wasm-sim.js";
import { normalizeSpec, type Method, type SparsitySpec } from "../../sparsity.js";
import { linePlot } from "../../report/svg.js";

/** The methods a frontier can place (predictor with --predictor P; not on a --preset, which has no trained predictor). */
export const FRONTIER_METHODS = ["dense", "dip", "dip-ca", "glu", "cats", "predictor"] as const;

interface Args extends ModelArgs {
  preset?: string;
  methods: string;
  keep: number;
  gamma: number;
  "target-tok-s"?: number;
  "target-dram"?: string;
  device: string;
  policy: string;
  bits?: string;
  tolerance?: number;
  text?: string;
  stories: number;
  "first-story": number;
  window?: number;
  "calib-text"?: string;
  predictor?: string;
  tokens: number;
  seed: number;
  zipf: number;
  "plot-points": number;
  plot?: string;
  json: boolean;
}

export interface FrontierRow {
  method: string;
  /** the method's keep (1 for dense) */
  keep: number;
  /** dip-ca's gamma, else null */
  gamma: number | null;
  /** smallest budget reaching the target, null when the whole footprint does not */
  min_dram_bytes: number | null;
  /** perplexity at that budget (of the recorded run; dip-ca: the run at that budget); null for synthetic masks */
  ppl: number | null;
  /** simulated tokens/s at min_dram_bytes */
  tok_s: number;
  /** min_dram_bytes / dense's min_dram_bytes - 1 (-0.46 is the paper's "-46% memory") */
  memory_vs_dense: number | null;
  /** tokens/s at dense's min_dram_bytes over the target ("+40% throughput" at equal memory) */
  speedup_at_dense_dram: number;
  /** budgets simulated (the bisection's and the plot's), ascending: [dram_bytes, tok_s] */
  curve: [number, number][];
}

export interface FrontierOutput {
  model: string;
  device: string;
  policy: CachePolicy;
  target_tok_s: number;
  /** the DRAM budget of dense whose tok/s is the target (its whole footprint by default); null with --target-tok-s */
  target_dense_dram_bytes: number | null;
  dense_footprint_bytes: number;
  tolerance_bytes: number;
  masks: "recorded" | "synthetic";
  rows: FrontierRow[];
}

/** One method's source of results per budget. */
interface MethodRunner {
  spec: SparsitySpec;
  simulate(settings: SimSettings): SimResult & { ppl: number | null };
}

function parseMethods(text: string, preset: boolean): Method[] {
  const methods = text.split(",").map((m) => m.trim()).filter((m) => m.length > 0);
  for (const m of methods) {
    if (!(FRONTIER_METHODS as readonly string[]).includes(m)) throw new UsageError(`--methods: unknown method "${m}"; frontier methods: ${FRONTIER_METHODS.join(", ")}`);
    if (preset && (m === "dip-ca" || m === "predictor")) throw new UsageError(`--methods: ${m} chooses its masks from a model's activations${m === "dip-ca" ? " and the live cache" : ""}; a --preset has no weights (use --model)`);
  }
  if (methods.length === 0) throw new UsageError("--methods: name at least one method");
  return methods as Method[];
}

function specFor(method: Method, a: Args): SparsitySpec {
  if (method === "dense") return { method };
  return normalizeSpec({ method, keep: a.keep, gamma: method === "dip-ca" ? a.gamma : undefined });
}

/** Real masks: one recorded run per method, replayed per budget; dip-ca one run per budget. */
async function modelRunners(o: Opened, methods: Method[], a: ArgumentsCamelCase<Args>): Promise<Map<Method, MethodRunner>> {
  const { stories } = await readStories(a.text, a["first-story"], a.stories);
  const stream = tokenStream(o.tokenizer, stories);
  const runners = new Map<Method, MethodRunner>();
  if (a.predictor !== undefined && !methods.includes("predictor")) throw new UsageError("--predictor applies to the predictor method; add it to --methods");
  for (const method of methods) {
    const spec = specFor(method, a);
    if (method === "dip-ca") {
      runners.set(method, {
        spec,
        simulate: (settings) => {
          o.engine.setSparsity(spec); // dip-ca needs no calibration; the engine ran other methods in between
          const { r, trace } = recordedRun(o, stream, a.window, settings);
          return { ...simulateTraceWith(o.engine.exports, trace, settings), ppl: r.ppl };
        },
      });
      continue;
    }
    await applySparsity(o, { method, keep: spec.keep, "calib-text": a["calib-text"], predictor: method === "predictor" ? a.predictor : undefined });
    process.stderr.write(`frontier: recording ${method} masks over ${stories.length} stories...\n`);
    const { r, trace } = recordedRun(o, stream, a.window);
    runners.set(method, { spec, simulate: (settings) => ({ ...simulateTraceWith(o.engine.exports, trace, settings), ppl: r.ppl }) });
  }
  return runners;
}

/** Synthetic masks of a preset shape (host/sim/frontier.ts syntheticTrace); no perplexity. */
function presetRunners(exports: EngineExports, dims: ModelDims, name: string, methods: Method[], a: Args): Map<Method, MethodRunner> {
  const runners = new Map<Method, MethodRunner>();
  for (const method of methods) {
    const spec = specFor(method, a);
    const trace = syntheticTrace(dims, spec, { name, seed: a.seed, tokens: a.tokens, zipf: a.zipf });
    runners.set(method, { spec, simulate: (settings) => ({ ...simulateTraceWith(exports, trace, settings), ppl: null }) });
  }
  return runners;
}

export const frontierCommand = {
  command: "frontier",
  describe: "memory at equal throughput: each method's smallest DRAM budget reaching a target simulated tok/s, with its perplexity",
  builder: (y: Argv) =>
    withStories(withModel(y))
      .option("preset", { type: "string", describe: `a model shape without weights (${PRESET_NAMES.join("|")}): synthetic masks, no perplexity` })
      .conflicts("preset", "model")
      .option("methods", { type: "string", describe: `comma-separated, from ${FRONTIER_METHODS.join(",")} (default: all; with --preset all but dip-ca)` })
      .option("keep", { type: "number", default: 0.5, describe: "every sparse method's keep (dip*: target MLP density; glu, cats: hidden keep)" })
      .option("gamma", { type: "number", default: 0.5, describe: "dip-ca: penalty for uncached columns, in (0, 1]" })
      .option("target-tok-s", { type: "number", describe: "throughput to reach (default: dense with its whole footprint in DRAM)" })
      .option("target-dram", { type: "string", describe: "the target is dense's tok/s with this much DRAM, e.g. 4GB (instead of its whole footprint)" })
      .conflicts("target-tok-s", "target-dram")
      .option("device", { type: "string", default: DEFAULT_DEVICE, describe: `device profile: ${Object.keys(DEVICES).join("|")} (its DRAM is what the search varies)` })
      .option("policy", { type: "string", choices: CACHE_POLICIES.filter((p) => p !== "belady" && p !== "none"), default: "lru", describe: "MLP column cache policy" })
      .option("bits", { type: "string", describe: "bits per group, e.g. embedding=8,lm_head=8,attention=4,mlp=4,kv_cache=8" })
      .option("tolerance", { type: "number", describe: "bisection stops when the bracket is this many bytes wide (default: dense footprint / 1000, rounded up)" })
      .option("calib-text", { type: "string", describe: "cats: calibration text (default: TinyStories stories 200..219)" })
      .option("predictor", { type: "string", describe: "predictor: the trained predictor file (from dip train-predictor)" })
      .option("tokens", { type: "number", default: 32, describe: "--preset: tokens of synthetic masks" })
      .option("seed", { type: "number", default: 1, describe: "--preset: seed of the synthetic masks" })
      .option("zipf", { type: "number", default: 1, describe: "--preset: Zipf exponent of column popularity (0: uniform)" })
      .option("plot-points", { type: "number", default: 0, describe: "also simulate this many evenly spaced budgets for the curves (dip-ca: one model run each)" })
      .option("plot", { type: "string", describe: "write an SVG of tok/s against DRAM budget, the target as a line" })
      .option("json", { type: "boolean", default: false, describe: "print the result as JSON" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    // by default every method that can run here: dip-ca needs a model, predictor a predictor file
    const methods = parseMethods(a.methods ?? FRONTIER_METHODS.filter((m) => !(a.preset && m === "dip-ca") && (m !== "predictor" || a.predictor !== undefined)).join(","), a.preset !== undefined);
    if (methods.includes("predictor") && a.predictor === undefined) throw new UsageError("--methods predictor needs --predictor P (from dip train-predictor)");
    if (a.tolerance !== undefined && !(a.tolerance >= 1)) throw new UsageError(`--tolerance must be at least 1 byte, got ${a.tolerance}`);
    if (!Number.isSafeInteger(a["plot-points"]) || a["plot-points"] < 0) throw new UsageError(`--plot-points must be a non-negative integer, got ${a["plot-points"]}`);
    const bits = a.bits !== undefined ? parseBits(a.bits) : { ...DEFAULT_BITS };
    resolveDevice(a.device); // unknown names fail before any work
    let dims: ModelDims;
    let name: string;
    let exports: EngineExports;
    let runners: Map<Method, MethodRunner>;
    if (a.preset) {
      dims = presetByName(a.preset);
      name = a.preset;
      exports = await loadDefaultEngineWasm();
      runners = presetRunners(exports, dims, name, ["dense", ...methods.filter((m) => m !== "dense")], a);
    } else {
      const o = await openModel(a);
      dims = modelDims(o.engine);
      name = o.model.name;
      exports = o.engine.exports;
      runners = await modelRunners(o, ["dense", ...methods.filter((m) => m !== "dense")], a);
    }
    const policy = a.policy as CachePolicy;
    const settingsAt = (budget: number): SimSettings => ({ policy, device: resolveDevice(a.device, { dramBytes: budget }), bits });
    const footprintBytes = partitionDram(exports, { dims, bits, groups: maskGroupsFor("dense", dims), dramBytes: 0 }).denseFootprintBytes;
    const tolerance = a.tolerance ?? Math.ceil(footprintBytes / 1000);

    /** Every budget simulated for a method, so the curve and the search share the evaluations. */
    const evaluated = new Map<Method, Map<number, SimResult & { ppl: number | null }>>();
    const at = (method: Method, budget: number) => {
      let seen = evaluated.get(method);
      if (!seen) evaluated.set(method, (seen = new Map()));
      let r = seen.get(budget);
      if (!r) seen.set(budget, (r = runners.get(method)!.simulate(settingsAt(budget))));
      return r;
    };
    const targetDram = a["target-dram"] !== undefined ? parseSize(a["target-dram"], "--target-dram") : footprintBytes;
    const target = a["target-tok-s"] ?? at("dense", targetDram).tok_s;
    if (!(target > 0)) throw new UsageError(`--target-tok-s must be > 0, got ${target}`);
    const search = (method: Method) => {
      process.stderr.write(`frontier: searching ${method}...\n`);
      return minBudgetFor((budget) => at(method, budget), target, footprintBytes, tolerance);
    };
    const dense = search("dense");
    const rows: FrontierRow[] = methods.map((method) => {
      const s = method === "dense" ? dense : search(method);
      const spec = runners.get(method)!.spec;
      const reference = dense.budget ?? footprintBytes;
      const speedup = at(method, reference).tok_s / target;
      for (let i = 1; i <= a["plot-points"]; i++) at(method, Math.round((footprintBytes * i) / a["plot-points"]));
      const curve = [...evaluated.get(method)!.entries()].sort((x, y) => x[0] - y[0]).map(([b, r]): [number, number] => [b, r.tok_s]);
      return {
        method,
        keep: spec.keep ?? 1,
        gamma: spec.gamma ?? null,
        min_dram_bytes: s.budget,
        ppl: s.at.ppl,
        tok_s: s.at.tok_s,
        memory_vs_dense: s.budget !== null && dense.budget ? s.budget / dense.budget - 1 : null,
        speedup_at_dense_dram: speedup,
        curve,
      };
    });
    const out: FrontierOutput = {
      model: name,
      device: a.device,
      policy,
      target_tok_s: target,
      target_dense_dram_bytes: a["target-tok-s"] === undefined ? targetDram : null,
      dense_footprint_bytes: footprintBytes,
      tolerance_bytes: tolerance,
      masks: a.preset ? "synthetic" : "recorded",
      rows,
    };
    process.stdout.write(a.json ? JSON.stringify(out, null, 2) + "\n" : formatFrontier(out));
    if (a.plot) await writeOutputFile(a.plot, frontierPlot(out));
  },
};

export function formatFrontier(f: FrontierOutput): string {
  const pct = (v: number | null) => (v === null ? "-" : `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}%`);
  const lines = [
    `${f.model} on ${f.device} (${f.policy}, ${f.masks} masks): target ${f.target_tok_s.toPrecision(5)} tok/s${f.target_dense_dram_bytes === null ? "" : ` (dense with ${f.target_dense_dram_bytes} bytes of DRAM)`}; dense footprint ${f.dense_footprint_bytes} bytes; tolerance ${f.tolerance_bytes} bytes`,
    "method   keep  gamma  min_dram_bytes  vs dense   tok/s       ppl      speedup at dense's DRAM",
  ];
  for (const r of f.rows) {
    lines.push(
      [
        r.method.padEnd(7),
        r.keep.toFixed(2).padStart(5),
        (r.gamma === null ? "-" : String(r.gamma)).padStart(6),
        (r.min_dram_bytes === null ? "unreached" : String(r.min_dram_bytes)).padStart(15),
        pct(r.memory_vs_dense).padStart(9),
        r.tok_s.toPrecision(5).padStart(10),
        (r.ppl === null ? "-" : r.ppl.toFixed(3)).padStart(9),
        `x${r.speedup_at_dense_dram.toFixed(3)}`.padStart(10),
      ].join(" "),
    );
  }
  return lines.join("\n") + "\n";
}

/** tok/s against DRAM budget per method, the target as a dashed line: the frontier is where each curve crosses it. */
export function frontierPlot(f: FrontierOutput): string {
  return linePlot({
    title: `Throughput vs DRAM budget, ${f.model} (${f.device}, ${f.policy}, ${f.masks} masks)`,
    xLabel: "DRAM budget (MB)",
    yLabel: "simulated tokens/s",
    series: f.rows.map((r) => ({ name: r.gamma === null ? `${r.method} ${r.keep}` : `${r.method} ${r.keep} g${r.gamma}`, points: r.curve.map(([b, t]): [number, number] => [b / 1e6, t]) })),
    references: [{ name: `target ${f.target_tok_s.toPrecision(4)} tok/s`, y: f.target_tok_s }],
    logY: true, // tok/s spans orders of magnitude between all-Flash and all-DRAM
  });
}
