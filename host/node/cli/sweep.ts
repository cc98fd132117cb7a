// `dip sweep`, `dip merge`, `dip plot`: perplexity over a grid of (method, keep) into a CSV table,
// shards of that table joined, and the table drawn as perplexity vs MLP density.
//
// One opened model serves the whole grid: setSparsity switches methods, and cats / dip-threshold
// calibrations are cached by applySparsity, so a sweep calibrates each (method, keep) once.

import type { Argv, ArgumentsCamelCase } from "yargs";
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { applySparsity, openModel, progress, readStories, UsageError, withModel, type ModelArgs, type Opened } from "./common.js";
import { perplexity, tokenStream } from "../../eval.js";
import { METHODS, type Method } from "../../sparsity.js";
import { columnIndex, CsvError, mergeCsv, parseCsv, readCsvFile, sortSweepRows, writeCsvFile, writeFileAtomic, type CsvTable } from "../../report/csv.js";
import { linePlot, type ReferenceLine, type Series } from "../../report/svg.js";
import { parseSimAxes, SIM_COLUMNS, simulatePoint, withGammas, type SimAxes } from "./sim-sweep.js";
import { SWEEP_HEADER, sweepRow } from "./sweep-row.js";

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

/**
 * Overwriting is fine only for a file that is already a CSV with the same header (an earlier run
 * of the same kind of table); anything else is refused, so a typo in --out cannot eat other data.
 */
export function checkOverwrite(file: string, header: readonly string[]): void {
  if (!existsSync(file)) return;
  if (statSync(file).isDirectory()) throw new UsageError(`--out ${file} is a directory`);
  let existing: string[] | undefined;
  try {
    existing = parseCsv(readFileSync(file, "utf8"), file).header;
  } catch {
    existing = undefined;
  }
  if (!existing || existing.join(",") !== header.join(",")) {
    throw new UsageError(`--out ${file} exists and is not a table with the same columns; refusing to overwrite it (delete it or choose another --out)`);
  }
}

/** Rows as JSON objects, numeric columns as numbers. */
function toJson(t: CsvTable): Record<string, string | number>[] {
  return t.rows.map((r) => Object.fromEntries(t.header.map((h, i) => [h, r[i] !== "" && Number.isFinite(Number(r[i])) ? Number(r[i]) : r[i]])));
}

/** A fixed-width text table for the terminal. */
function textTable(t: CsvTable): string {
  const cells = t.rows.map((r) => r.map((f) => (/^-?\d+\.\d{5,}$/.test(f) ? Number(f).toFixed(4) : f)));
  const widths = t.header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  return [t.header, ...cells].map((r) => r.map((f, i) => f.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n";
}

function toCsvError<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CsvError) throw new UsageError(e.message);
    throw e;
  }
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
  out: string;
  json: boolean;
  policies?: string;
  drams?: string;
  devices?: string;
  gammas?: string;
  bits?: string;
  report?: string;
}

/**
 * A Markdown report of a sweep a researcher can paste into a paper: how it was run, the table,
 * and plots written beside it (perplexity vs density; with the simulator, throughput vs
 * perplexity and hit rate vs DRAM).
 */
export function writeSweepReport(file: string, table: CsvTable, csvFile: string, argv: string[]): void {
  const base = file.replace(/\.md$/i, "");
  const name = (p: string) => p.split(/[\\/]/).pop()!;
  const plots: { title: string; file: string; svg: string }[] = [];
  const has = (c: string) => table.header.includes(c);
  plots.push({ title: "Perplexity vs MLP density", file: `${base}-ppl-vs-density.svg`, svg: plotTable(table, { x: "mlp_density", y: "ppl", group: has("policy") ? "method,policy" : "method", logY: true }) });
  if (has("tok_s")) {
    plots.push({ title: "Simulated throughput vs perplexity", file: `${base}-tok_s-vs-ppl.svg`, svg: plotTable(table, { x: "ppl", y: "tok_s", group: "method,policy" }) });
    const drams = new Set(table.rows.map((r) => r[table.header.indexOf("dram_bytes")]));
    if (drams.size > 1) plots.push({ title: "Hit rate vs DRAM budget", file: `${base}-hit_rate-vs-dram.svg`, svg: plotTable(table, { x: "dram_bytes", y: "hit_rate", group: "method,policy" }) });
  }
  for (const p of plots) writeFileAtomic(p.file, p.svg);
  const cols = table.header.filter((h) => !["model", "up_keep", "down_keep", "mean_nll", "stories", "device"].includes(h));
  const fmt = (v: string) => (v !== "" && Number.isFinite(Number(v)) && !Number.isInteger(Number(v)) ? Number(Number(v).toPrecision(5)).toString() : v);
  const rows = table.rows.map((r) => "| " + cols.map((c) => fmt(r[table.header.indexOf(c)])).join(" | ") + " |");
  const col = (c: string) => (table.rows.length && has(c) ? [...new Set(table.rows.map((r) => r[table.header.indexOf(c)]))].join(", ") : "-");
  const md = [
    `# Sweep: ${col("model")}`,
    "",
    `Command: \`dip ${argv.join(" ")}\``,
    "",
    `Data: ${col("stories")} stories, ${col("tokens")} predicted tokens; device ${col("device")}. Table: [${name(csvFile)}](${name(csvFile)}).`,
    has("tok_s") ? "Simulated throughput counts Flash and DRAM read time only (compute is not modelled)." : "",
    "",
    "| " + cols.join(" | ") + " |",
    "|" + cols.map(() => "---").join("|") + "|",
    ...rows,
    "",
    ...plots.flatMap((p) => [`![${p.title}](${name(p.file)})`, ""]),
  ].join("\n");
  writeFileAtomic(file, md);
}

export const sweepCommand = {
  command: "sweep",
  describe: "perplexity and MLP density over a grid of (method, keep), plus dense, into a CSV table",
  builder: (y: Argv) =>
    withModel(y)
      .option("text", { type: "string", describe: "text file of stories separated by <|endoftext|> (default: TinyStories valid sample)" })
      .option("stories", { type: "number", default: 200, describe: "how many stories" })
      .option("first-story", { type: "number", default: 0, describe: "index of the first story" })
      .option("methods", { type: "string", default: "dip,glu,cats", describe: `comma-separated, from ${SWEEP_METHODS.join(", ")}` })
      .option("keeps", { type: "string", default: "0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", describe: "comma-separated keep fractions in (0, 1]" })
      .option("shard", { type: "string", describe: "run only shard i of n (i/n, 1-based); join the shards with `dip merge`" })
      .option("window", { type: "number", describe: "tokens per window (default: the model's context)" })
      .option("calib-text", { type: "string", describe: "cats/dip-threshold calibration text (default: TinyStories stories 200..219)" })
      .option("out", { type: "string", demandOption: true, describe: "CSV file to write" })
      .option("json", { type: "boolean", default: false, describe: "print the rows as JSON on stdout" })
      .option("policies", { type: "string", describe: "simulator axis: cache policies, e.g. lru,lfu,belady" })
      .option("drams", { type: "string", describe: "simulator axis: DRAM budgets, e.g. 300KB,320KB,6GB" })
      .option("devices", { type: "string", describe: "simulator axis: device profiles (default mobile)" })
      .option("gammas", { type: "string", describe: "simulator axis: dip-ca gammas, e.g. 0.1,0.3,0.5" })
      .option("bits", { type: "string", describe: "simulator precision, e.g. mlp=4,attention=4" })
      .option("report", { type: "string", describe: "also write a Markdown report (settings, table, plots beside it)" }),
  handler: async (a: ArgumentsCamelCase<SweepArgs>) => {
    const sim = parseSimAxes(a);
    const methods = parseMethods(a.methods, sim !== undefined);
    const keeps = parseKeeps(a.keeps);
    const shard = a.shard !== undefined ? parseShard(a.shard) : undefined;
    const out = resolve(a.out);
    checkOverwrite(out, sim ? SIM_SWEEP_HEADER : SWEEP_HEADER);
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
      log: (line) => process.stderr.write(line + "\n"),
      sim,
    });
    writeCsvFile(out, table);
    process.stderr.write(`wrote ${table.rows.length} rows to ${a.out}\n`);
    if (a.report) writeSweepReport(resolve(a.report), table, out, process.argv.slice(2));
    process.stdout.write(a.json ? JSON.stringify(toJson(table)) + "\n" : textTable(table));
  },
};

// ---------------------------------------------------------------------------------------------
// dip merge

interface MergeArgs {
  files: string[];
  out: string;
  json: boolean;
}

export const mergeCommand = {
  command: "merge <files..>",
  describe: "join sweep shards (same header; duplicate rows kept once; sorted by method, keep)",
  builder: (y: Argv) =>
    y
      .positional("files", { type: "string", array: true, describe: "CSV shards" })
      .option("out", { type: "string", demandOption: true, describe: "CSV file to write" })
      .option("json", { type: "boolean", default: false, describe: "print the rows as JSON on stdout" }),
  handler: (a: ArgumentsCamelCase<MergeArgs>) => {
    const table = toCsvError(() => mergeCsv(a.files.map(String)));
    const out = resolve(a.out);
    checkOverwrite(out, table.header);
    writeCsvFile(out, table);
    process.stderr.write(`merged ${a.files.length} files into ${table.rows.length} rows in ${a.out}\n`);
    if (a.json) process.stdout.write(JSON.stringify(toJson(table)) + "\n");
  },
};

// ---------------------------------------------------------------------------------------------
// dip plot

const AXIS_LABELS: Record<string, string> = {
  mlp_density: "MLP density (fraction of MLP weights read per token)",
  ppl: "perplexity",
  mean_nll: "mean NLL (nats per token)",
  weight_bytes_per_token: "weight bytes read per token",
  keep: "keep",
  tok_s: "simulated throughput (tokens/s)",
  hit_rate: "DRAM cache hit rate",
  dram_bytes: "DRAM budget (bytes)",
  flash_bytes_per_token: "Flash bytes read per token",
  up_keep: "input keep (up_keep)",
  down_keep: "hidden keep (down_keep)",
};

export interface PlotTableOptions {
  x: string;
  y: string;
  /** one line per value of this column */
  group?: string;
  /** a group drawn as a horizontal reference line when it has a single row */
  reference?: string;
  logY?: boolean;
  /** plot only rows with x in [lo, hi] (a zoom) */
  xRange?: [number, number];
  /** plot only rows with y in [lo, hi] */
  yRange?: [number, number];
  title?: string;
  source?: string;
}

/** Draws y against x, one line per group (points sorted by x). */
export function plotTable(t: CsvTable, o: PlotTableOptions): string {
  const source = o.source ?? "CSV";
  const group = o.group ?? "method";
  const xi = columnIndex(t, o.x, source);
  const yi = columnIndex(t, o.y, source);
  // "method,policy": one line per combination of these columns
  const gis = group.split(",").map((g) => columnIndex(t, g.trim(), source));
  if (t.rows.length === 0) throw new CsvError(`${source}: no rows to plot`);
  const num = (r: string[], i: number, row: number) => {
    const v = Number(r[i]);
    if (r[i] === "" || !Number.isFinite(v)) throw new CsvError(`${source}: row ${row + 1}: column ${t.header[i]} is "${r[i]}", not a number`);
    return v;
  };
  const inside = (v: number, range?: [number, number]) => !range || (v >= range[0] && v <= range[1]);
  const groups = new Map<string, [number, number][]>();
  t.rows.forEach((r, j) => {
    const p: [number, number] = [num(r, xi, j), num(r, yi, j)];
    if (!inside(p[0], o.xRange) || !inside(p[1], o.yRange)) return;
    const name = gis.map((i) => r[i]).filter((v) => v !== "").join(" ");
    const g = groups.get(name) ?? [];
    g.push(p);
    groups.set(name, g);
  });
  if (groups.size === 0) throw new CsvError(`${source}: no rows inside the given x/y ranges`);
  const series: Series[] = [];
  const references: ReferenceLine[] = [];
  for (const [name, points] of groups) {
    if (name.split(" ")[0] === (o.reference ?? "dense") && points.length === 1) {
      references.push({ name: `${name} (${Number(points[0][1].toPrecision(4))})`, y: points[0][1] });
    } else {
      series.push({ name, points: points.sort((p, q) => p[0] - q[0]) });
    }
  }
  const mi = t.header.indexOf("model");
  const si = t.header.indexOf("stories");
  const models = mi >= 0 ? [...new Set(t.rows.map((r) => r[mi]))] : [];
  const storyCounts = si >= 0 ? [...new Set(t.rows.map((r) => r[si]))] : [];
  const context = [models.join(", "), storyCounts.length === 1 ? `${storyCounts[0]} stories` : ""].filter((s) => s).join(", ");
  const xLabel = AXIS_LABELS[o.x] ?? o.x;
  const yLabel = (AXIS_LABELS[o.y] ?? o.y) + (o.logY ? " (log scale)" : "");
  const title = o.title ?? `${AXIS_LABELS[o.y] ? AXIS_LABELS[o.y].split(" (")[0] : o.y} vs ${AXIS_LABELS[o.x] ? AXIS_LABELS[o.x].split(" (")[0] : o.x}${context ? ` (${context})` : ""}`;
  return linePlot({ title: title[0].toUpperCase() + title.slice(1), xLabel, yLabel, series, references, logY: o.logY });
}

interface PlotArgs {
  file: string;
  out: string;
  x: string;
  y: string;
  group: string;
  "log-y": boolean;
  "x-range"?: string;
  "y-range"?: string;
  title?: string;
}

/** "lo,hi" with lo < hi. */
export function parseRange(s: string, option: string): [number, number] {
  const parts = s.split(",").map((p) => p.trim());
  const v = parts.map((p) => (p === "" ? NaN : Number(p)));
  if (parts.length !== 2 || !v.every(Number.isFinite) || !(v[0] < v[1])) throw new UsageError(`${option} must be lo,hi with lo < hi, got "${s}"`);
  return [v[0], v[1]];
}

export const plotCommand = {
  command: "plot <file>",
  describe: "SVG line plot of a sweep CSV: y against x, one line per method (dense as a reference line)",
  builder: (y: Argv) =>
    y
      .positional("file", { type: "string", describe: "CSV table (from sweep or merge)" })
      .option("out", { type: "string", demandOption: true, describe: "SVG file to write" })
      .option("x", { type: "string", default: "mlp_density", describe: "column on the x axis" })
      .option("y", { type: "string", default: "ppl", describe: "column on the y axis" })
      .option("group", { type: "string", default: "method", describe: "one line per value of this column (or of several: method,policy)" })
      .option("log-y", { type: "boolean", default: false, describe: "logarithmic y axis" })
      .option("x-range", { type: "string", describe: "lo,hi: plot only rows with x in this range (zoom)" })
      .option("y-range", { type: "string", describe: "lo,hi: plot only rows with y in this range (zoom)" })
      .option("title", { type: "string", describe: "plot title (default from the columns, model and stories)" }),
  handler: (a: ArgumentsCamelCase<PlotArgs>) => {
    const file = String(a.file);
    const xRange = a["x-range"] !== undefined ? parseRange(a["x-range"], "--x-range") : undefined;
    const yRange = a["y-range"] !== undefined ? parseRange(a["y-range"], "--y-range") : undefined;
    const svg = toCsvError(() => plotTable(readCsvFile(file), { x: a.x, y: a.y, group: a.group, logY: a["log-y"], xRange, yRange, title: a.title, source: file }));
    const out = resolve(a.out);
    if (existsSync(out) && (statSync(out).isDirectory() || !readFileSync(out, "utf8").slice(0, 512).includes("<svg"))) {
      throw new UsageError(`--out ${a.out} exists and is not an SVG file; refusing to overwrite it`);
    }
    writeFileAtomic(out, svg);
    process.stderr.write(`wrote ${a.out}\n`);
  },
};
