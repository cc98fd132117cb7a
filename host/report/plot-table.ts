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
