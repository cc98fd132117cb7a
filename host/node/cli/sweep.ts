// `dip sweep`: perplexity over a grid of (method, keep) into a CSV table (`dip merge` joins the
// shards of one, host/node/cli/merge.ts; `dip plot` draws one, host/node/cli/plot.ts).
//
// One opened model serves the whole grid: setSparsity switches methods, and cats / dip-threshold
// calibrations are cached by applySparsity, so a sweep calibrates each (method, keep) once.

import type { Argv, ArgumentsCamelCase } from "yargs";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { applySparsity, openModel, progress, readStories, UsageError, withModel, type ModelArgs, type Opened } from "./common.js";
import { perplexity, tokenStream } from "../../eval.js";
import { METHODS, type Method } from "../../sparsity.js";
import type { CsvTable } from "../../report/csv.js";
import { sortSweepRows } from "../../report/sweep-table.js";
import { sweepReport } from "../../report/sweep-report.js";
import { tableJson, textTable } from "../../report/table-text.js";
import { readCsvFile, writeCsvFile } from "../csv-file.js";
import { lockOutput, writeOutputFile } from "../atomic-file.js";
import { checkOverwrite } from "./table-files.js";
import { parseSimAxes, SIM_COLUMNS, simulatePoint, withGammas, type SimAxes } from "./sim-sweep.js";
import { SWEEP_HEADER, sweepRow } from "./sweep-row.js";
import { flashReadOptions } from "./sim-options.js";
import { readPredictorFile } from "../predictor-file.js";

export { SWEEP_HEADER };


/** Methods a plain sweep can run: dip-ca needs the cache simulator stepping beside it (DIP.md). */
export const SWEEP_METHODS: readonly Method[] = METHODS.filter((m) => m !== "dense" && m !== "dip-ca");
/** With simulator axes, dip-ca joins them. */
export const SIM_SWEEP_METHODS: readonly Method[] = METHODS.filter((m) => m !== "dense");

export const SIM_SWEEP_HEADER = [...SWEEP_HEADER, ...SIM_COLUMNS];

export interface Shard {
  /** 1-based */
  index: number;
  count: number;
}

/** "i/n" with 1 <= i <= n. */
export function parseShard(s: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  if (!m) throw new UsageError(`--shard must look like i/n (e.g. 2/4, 1-based), got "${s}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new UsageError(`--shard ${s}: the number of shards must be at least 1`);
  if (index < 1 || index > count) throw new UsageError(`--shard ${s}: the shard index must be between 1 and ${count}`);
  return { index, count };
}

export function parseMethods(s: string, withSimulator = false): Method[] {
  const allowed = withSimulator ? SIM_SWEEP_METHODS : SWEEP_METHODS;
  const names = s.split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  if (names.length === 0) throw new UsageError(`--methods: no methods given (choose from ${allowed.join(", ")})`);
  for (const [i, n] of names.entries()) {
    if (n === "dense") throw new UsageError(`--methods: leave out "dense"; every sweep has a dense row`);
    if (n === "dip-ca" && !withSimulator) throw new UsageError(`--methods: dip-ca depends on the cache simulator's state token by token; add simulator axes (--policies, --drams, --gammas)`);
    if (!(allowed as readonly string[]).includes(n)) throw new UsageError(`--methods: unknown method "${n}" (choose from ${allowed.join(", ")})`);
    if (names.indexOf(n) !== i) throw new UsageError(`--methods: "${n}" is listed twice`);
  }
  return names as Method[];
}

export function parseKeeps(s: string): number[] {
  const parts = s.split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  if (parts.length === 0) throw new UsageError(`--keeps: no keep fractions given`);
  const keeps = parts.map((p) => {
    const v = Number(p);
    if (!/^[0-9.eE+-]+$/.test(p) || !Number.isFinite(v) || v <= 0 || v > 1) throw new UsageError(`--keeps: "${p}" is not a fraction in (0, 1]`);
    return v;
  });
  const dup = keeps.find((k, i) => keeps.indexOf(k) !== i);
  if (dup !== undefined) throw new UsageError(`--keeps: ${dup} is listed twice`);
  return keeps;
}

export interface GridPoint {
  method: Method;
  /** undefined for dense */
  keep?: number;
}

/** The points one shard runs: grid point j (methods outer, keeps inner) goes to shard (j mod n) + 1; dense to shard 1. */
export function sweepGrid(methods: Method[], keeps: number[], shard: Shard = { index: 1, count: 1 }): GridPoint[] {
  const grid: GridPoint[] = methods.flatMap((method) => keeps.map((keep) => ({ method, keep })));
  const mine = grid.filter((_, j) => j % shard.count === shard.index - 1);
  return shard.index === 1 ? [{ method: "dense" }, ...mine] : mine;
}

export interface SweepOptions extends ModelArgs {
  /** text file of stories (default: the TinyStories valid sample) */
  text?: string;
  stories: number;
  firstStory?: number;
  methods: Method[];
  keeps: number[];
  shard?: Shard;
  window?: number;
  calibText?: string;
  /** the trained predictor file for the predictor method */
  predictor?: string;
  /** progress lines (default: none) */
  log?: (line: string) => void;
  /** an already opened model to reuse (tests) */
  opened?: Opened;
  /** simulator axes: every point also goes through the Flash -> DRAM simulator */
  sim?: SimAxes;
}

/** Runs every grid point of the shard with one engine; returns the rows sorted by (method, keep). */
export async function runSweep(opts: SweepOptions): Promise<CsvTable> {
  if (!Number.isInteger(opts.stories) || opts.stories < 1) throw new UsageError(`--stories must be a positive integer, got ${opts.stories}`);
  const points = sweepGrid(opts.methods, opts.keeps, opts.shard);
  const { stories } = await readStories(opts.text, opts.firstStory ?? 0, opts.stories);
  const o = opts.opened ?? (await openModel(opts));
  if (opts.methods.includes("predictor")) {
    if (opts.predictor === undefined) throw new UsageError("--methods predictor needs --predictor P (from dip train-predictor)");
    o.engine.setPredictor(await readPredictorFile(opts.predictor), opts.predictor);
  } else if (opts.predictor !== undefined) throw new UsageError("--predictor applies to the predictor method; add it to --methods");
  const stream = tokenStream(o.tokenizer, stories);
  const log = opts.log ?? (() => {});
  const rows: string[][] = [];
  if (opts.sim) {
    const simPoints = withGammas(points, opts.sim.gammas);
    for (const [j, p] of simPoints.entries()) {
      const t0 = Date.now();
      rows.push(...(await simulatePoint(o, p, stream, stories.length, opts.sim, { window: opts.window, calibText: opts.calibText })));
      const label = p.method === "dense" ? "dense" : `${p.method} keep ${p.keep}${p.gamma !== undefined ? ` gamma ${p.gamma}` : ""}`;
      log(`[${j + 1}/${simPoints.length}] ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
    const table = { header: [...SIM_SWEEP_HEADER], rows };
    return { header: table.header, rows: sortSweepRows(table) };
  }
  for (const [j, p] of points.entries()) {
    const label = p.method === "dense" ? "dense" : `${p.method} keep ${p.keep}`;
    const t0 = Date.now();
    const spec = await applySparsity(o, { method: p.method, keep: p.keep, "calib-text": opts.calibText });
    const onProgress = process.stderr.isTTY && opts.log ? progress(`[${j + 1}/${points.length}] ${label}`) : undefined;
    const r = perplexity(o.engine, stream, { window: opts.window, onProgress });
    rows.push(sweepRow(o.model.name, spec, p.keep, r, stories.length));
    log(`[${j + 1}/${points.length}] ${label}: ppl ${r.ppl.toFixed(4)}, MLP density ${r.mlp_density.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const table = { header: [...SWEEP_HEADER], rows };
  return { header: table.header, rows: sortSweepRows(table) };
}

// ---------------------------------------------------------------------------------------------
// dip sweep

interface SweepArgs extends ModelArgs {
  text?: string;
  stories: number;
  "first-story": number;
  methods: string;
  keeps: string;
  shard?: string;
  window?: number;
  "calib-text"?: string;
  predictor?: string;
  out: string;
  json: boolean;
  policies?: string;
  drams?: string;
  devices?: string;
  gammas?: string;
  bits?: string;
  "page-bytes"?: number;
  "read-latency-us"?: number;
  report?: string;
}

/** Writes the Markdown report of a sweep and its plots (host/report/sweep-report.ts). */
export async function writeSweepReport(file: string, table: CsvTable, csvFile: string, argv: string[]): Promise<void> {
  for (const f of sweepReport(file, table, csvFile, argv)) await writeOutputFile(f.file, f.text);
}

export const sweepCommand = {
  command: "sweep",
  describe: "perplexity and MLP density over a grid of (method, keep), plus dense, into a CSV table",
  builder: (y: Argv) =>
    withModel(y)
      .option("text", { type: "string", describe: "text file of stories separated by <|endoftext|> (default: TinyStories valid sample)" })
      .option("stories", { type: "number", default: 200, describe: "how many stories" })
      .option("first-story", { type: "number", default: 0, describe: "index of the first story" })
      .option("methods", { type: "string", default: "dip,glu,cats", describe: `comma-separated, from ${SWEEP_METHODS.join(", ")}; with simulator axes also dip-ca (with --gammas)` })
      .option("keeps", { type: "string", default: "0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", describe: "comma-separated keep fractions in (0, 1]" })
      .option("shard", { type: "string", describe: "run only shard i of n (i/n, 1-based); join the shards with `dip merge`" })
      .option("window", { type: "number", describe: "tokens per window (default: the model's context)" })
      .option("calib-text", { type: "string", describe: "cats/dip-threshold calibration text (default: TinyStories stories 200..219)" })
      .option("predictor", { type: "string", describe: "predictor: the trained predictor file (from dip train-predictor)" })
      .option("out", { type: "string", demandOption: true, describe: "CSV file to write" })
      .option("json", { type: "boolean", default: false, describe: "print the rows as JSON on stdout" })
      .option("policies", { type: "string", describe: "simulator axis: cache policies, e.g. lru,lfu,belady" })
      .option("drams", { type: "string", describe: "simulator axis: DRAM budgets, e.g. 300KB,320KB,6GB" })
      .option("devices", { type: "string", describe: "simulator axis: device profiles (default mobile)" })
      .option("gammas", { type: "string", describe: "simulator axis: dip-ca gammas, e.g. 0.1,0.3,0.5" })
      .option("bits", { type: "string", describe: "simulator precision, e.g. mlp=4,attention=4" })
      .option("report", { type: "string", describe: "also write a Markdown report (settings, table, plots beside it)" })
      // simulator: Flash read granularity on every device of the grid
      .options(flashReadOptions),
  handler: async (a: ArgumentsCamelCase<SweepArgs>) => {
    const sim = parseSimAxes(a);
    const methods = parseMethods(a.methods, sim !== undefined);
    if (a.gammas !== undefined && !methods.includes("dip-ca")) throw new UsageError("--gammas sets dip-ca's penalty; add dip-ca to --methods");
    const keeps = parseKeeps(a.keeps);
    const shard = a.shard !== undefined ? parseShard(a.shard) : undefined;
    const out = resolve(a.out);
    const release = await lockOutput(out);
    try {
      checkOverwrite(out, sim ? SIM_SWEEP_HEADER : SWEEP_HEADER);
      refuseOtherPointsRows(out, sweepGrid(methods, keeps, shard));
      await sweepInto(out, a, { methods, keeps, shard, sim });
    } finally {
      await release();
    }
  },
};

/**
 * An existing --out may be overwritten only if it holds no rows of other grid points: a second
 * shard given the first one's --out would otherwise silently drop the first shard's rows.
 */
function refuseOtherPointsRows(out: string, points: GridPoint[]): void {
  if (!existsSync(out)) return;
  const table = readCsvFile(out);
  const [method, keep] = ["method", "keep"].map((c) => table.header.indexOf(c));
  const key = (m: string, k: number | undefined): string => `${m} ${k ?? 1}`;
  const mine = new Set(points.map((p) => key(p.method, p.keep)));
  const other = table.rows.find((r) => !mine.has(key(r[method], Number(r[keep]))));
  if (other) throw new UsageError(`--out ${out} holds rows this run does not produce (${other[method]} keep ${other[keep]}); give each shard its own --out and join them with \`dip merge\``);
}

/** Runs the sweep and writes its table (and --report). */
async function sweepInto(out: string, a: SweepArgs, grid: { methods: Method[]; keeps: number[]; shard?: Shard; sim?: SimAxes }): Promise<void> {
  const { methods, keeps, shard, sim } = grid;
  const table = await runSweep({
    model: a.model,
    tokenizer: a.tokenizer,
    text: a.text,
    stories: a.stories,
    firstStory: a["first-story"],
    methods,
    keeps,
    shard,
    window: a.window,
    calibText: a["calib-text"],
    predictor: a.predictor,
    log: (line) => process.stderr.write(line + "\n"),
    sim,
  });
  await writeCsvFile(out, table);
  process.stderr.write(`wrote ${table.rows.length} rows to ${a.out}\n`);
  if (a.report) await writeSweepReport(resolve(a.report), table, out, process.argv.slice(2));
  process.stdout.write(a.json ? JSON.stringify(tableJson(table)) + "\n" : textTable(table));
}
