// A sweep table drawn as an SVG line plot (host/report/svg.ts): y against x, one line per group,
// a group with a single row (dense) as a horizontal reference line. Runtime-neutral.

import { columnIndex, CsvError, type CsvTable } from "./csv.js";
import { linePlot, type ReferenceLine, type Series } from "./svg.js";

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

/** Columns that set up a run (the rest are measured): lines are drawn per combination of them. */
const SETTING_COLUMNS = ["model", "gamma", "policy", "device", "dram_bytes", "stories"];
/** The knob a method's curve runs along: a line for a measured x joins the points of every keep. */
const CURVE_COLUMNS = ["keep", "up_keep", "down_keep"];
/** Byte columns are drawn in KB, MB or GB (powers of 10, as --dram takes them). */
const BYTE_UNITS: [number, string][] = [[1e9, "GB"], [1e6, "MB"], [1e3, "KB"]];

/**
 * The default grouping: method (first: a lone dense row is a reference line), and every other setting column whose value varies between the
 * rows (a line that joined points of different policies or budgets would zig-zag between them),
 * except x itself; with a measured x also the keeps, along which a method's line runs.
 */
export function defaultGroup(t: CsvTable, x: string): string[] {
  const varies = (c: string) => new Set(t.rows.map((r) => r[t.header.indexOf(c)])).size > 1;
  const settings = SETTING_COLUMNS.includes(x) ? [...SETTING_COLUMNS, ...CURVE_COLUMNS] : SETTING_COLUMNS;
  const method = t.header.includes("method") ? ["method"] : [];
  return [...method, ...t.header.filter((c) => c !== x && settings.includes(c) && varies(c))];
}

/** The unit a byte column is drawn in (its largest value is at least 1 of it), or none. */
function byteUnit(column: string, values: number[]): [number, string] | undefined {
  if (!/bytes/.test(column)) return undefined;
  const max = Math.max(...values.map(Math.abs));
  return BYTE_UNITS.find(([size]) => max >= size);
}

export interface PlotTableOptions {
  x: string;
  y: string;
  /** one line per value of this column (or of several: "method,policy"); default: defaultGroup */
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
  const xi = columnIndex(t, o.x, source);
  const yi = columnIndex(t, o.y, source);
  // "method,policy": one line per combination of these columns
  const group = o.group?.split(",").map((g) => g.trim()) ?? defaultGroup(t, o.x);
  const gis = group.map((g) => columnIndex(t, g, source));
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
  const all = [...groups.values()].flat();
  const [xUnit, yUnit] = [byteUnit(o.x, all.map((p) => p[0])), byteUnit(o.y, all.map((p) => p[1]))];
  for (const p of all) [p[0], p[1]] = [p[0] / (xUnit?.[0] ?? 1), p[1] / (yUnit?.[0] ?? 1)];
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
  const unitLabel = (label: string, unit?: [number, string]) => (unit ? `${label.replace(/ \(bytes\)$/, "")} (${unit[1]})` : label);
  const xLabel = unitLabel(AXIS_LABELS[o.x] ?? o.x, xUnit);
  const yLabel = unitLabel(AXIS_LABELS[o.y] ?? o.y, yUnit) + (o.logY ? " (log scale)" : "");
  const title = o.title ?? `${AXIS_LABELS[o.y] ? AXIS_LABELS[o.y].split(" (")[0] : o.y} vs ${AXIS_LABELS[o.x] ? AXIS_LABELS[o.x].split(" (")[0] : o.x}${context ? ` (${context})` : ""}`;
  return linePlot({ title: title[0].toUpperCase() + title.slice(1), xLabel, yLabel, series, references, logY: o.logY });
}
