// A dependency-free SVG line plot: axes with round-numbered ticks, gridlines, labelled axes, a
// legend beside the plot, and colour plus marker shape per series (readable in greyscale too).
// Generic over what is plotted: perplexity vs MLP density, throughput vs perplexity, hit rate vs
// DRAM size.

export interface Series {
  name: string;
  points: [number, number][];
}

export interface ReferenceLine {
  name: string;
  /** a horizontal line at this y */
  y: number;
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** horizontal reference lines (e.g. the dense baseline), dashed, listed in the legend */
  references?: ReferenceLine[];
  logY?: boolean;
  width?: number;
  height?: number;
}

/** Okabe-Ito colours: distinct for colour-blind readers; yellow left out (faint on white). */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
const MARKERS = ["circle", "square", "triangle", "diamond", "triangle-down", "plus", "cross"] as const;
type Marker = (typeof MARKERS)[number];

/** Ticks at 1, 2 or 5 times a power of ten covering [min, max] (Heckbert's "nice numbers"). */
export function niceTicks(min: number, max: number, target = 6): { ticks: number[]; step: number } {
  if (!(Number.isFinite(min) && Number.isFinite(max))) throw new RangeError(`axis range must be finite, got ${min}..${max}`);
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceNumber((max - min) / Math.max(1, target - 1));
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  const decimals = stepDecimals(step);
  for (let v = lo; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toFixed(decimals)));
  return { ticks, step };
}

function niceNumber(x: number): number {
  const exp = Math.floor(Math.log10(x));
  const f = x / 10 ** exp;
  const nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nf * 10 ** exp;
}

const stepDecimals = (step: number) => Math.max(0, -Math.floor(Math.log10(step) + 1e-9));

/**
 * Log-scale ticks: 1..9 times powers of ten when that stays at 8 ticks or fewer, else 1, 2, 5
 * times them (10 or fewer), else powers of ten; one tick either side of the data frames it.
 */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0 && max > 0)) throw new RangeError(`a log axis needs positive values, got ${min}..${max}`);
  const e0 = Math.floor(Math.log10(min) + 1e-9);
  const e1 = Math.ceil(Math.log10(max) - 1e-9);
  const pick = (mults: number[]) => {
    const out: number[] = [];
    for (let e = e0 - 1; e <= e1 + 1; e++) for (const m of mults) out.push(Number((m * 10 ** e).toPrecision(6)));
    const inside = out.filter((v) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9));
    const below = out.filter((v) => v < min * (1 - 1e-9)).pop();
    const above = out.find((v) => v > max * (1 + 1e-9));
    const edge = (v: number | undefined) => (v !== undefined ? [v] : []);
    // data on a tick needs no extra tick beyond it
    return [...(inside[0] === min ? [] : edge(below)), ...inside, ...(inside[inside.length - 1] === max ? [] : edge(above))];
  };
  const all = pick([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  if (all.length <= 8) return all;
  const oneTwoFive = pick([1, 2, 5]);
  return oneTwoFive.length <= 10 ? oneTwoFive : pick([1]);
}

/** A tick label: as many decimals as the step needs, no float noise ("0.30000000000000004"). */
export function formatTick(v: number, step?: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return Number(v.toPrecision(3)).toExponential().replace("e+", "e");
  const decimals = step !== undefined ? stepDecimals(step) : Math.max(0, Math.min(6, 3 - Math.floor(Math.log10(a))));
  return Number(v.toFixed(decimals)).toString();
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const fmt = (v: number) => Number(v.toFixed(2)).toString();

function marker(kind: Marker, x: number, y: number, colour: string, r = 4.5): string {
  const fill = `fill="${colour}" stroke="#fff" stroke-width="1"`;
  const poly = (pts: [number, number][]) => `<polygon points="${pts.map(([a, b]) => `${fmt(x + a)},${fmt(y + b)}`).join(" ")}" ${fill}/>`;
  const t = r * 0.38;
  switch (kind) {
    case "circle":
      return `<circle cx="${fmt(x)}" cy="${fmt(y)}" r="${r}" ${fill}/>`;
    case "square":
      return poly([[-r * 0.9, -r * 0.9], [r * 0.9, -r * 0.9], [r * 0.9, r * 0.9], [-r * 0.9, r * 0.9]]);
    case "triangle":
      return poly([[0, -r * 1.2], [r * 1.1, r * 0.8], [-r * 1.1, r * 0.8]]);
    case "triangle-down":
      return poly([[0, r * 1.2], [r * 1.1, -r * 0.8], [-r * 1.1, -r * 0.8]]);
    case "diamond":
      return poly([[0, -r * 1.3], [r * 1.1, 0], [0, r * 1.3], [-r * 1.1, 0]]);
    case "plus":
      return poly([[-t, -r * 1.2], [t, -r * 1.2], [t, -t], [r * 1.2, -t], [r * 1.2, t], [t, t], [t, r * 1.2], [-t, r * 1.2], [-t, t], [-r * 1.2, t], [-r * 1.2, -t], [-t, -t]]);
    case "cross": {
      // the plus turned by 45 degrees
      const c = Math.SQRT1_2;
      const pts: [number, number][] = [[-t, -r * 1.2], [t, -r * 1.2], [t, -t], [r * 1.2, -t], [r * 1.2, t], [t, t], [t, r * 1.2], [-t, r * 1.2], [-t, t], [-r * 1.2, t], [-r * 1.2, -t], [-t, -t]];
      return poly(pts.map(([a, b]) => [c * (a - b), c * (a + b)]));
    }
  }
}

/** Renders the plot as a standalone SVG document (default 800 x 500). */
export function linePlot(o: LinePlotOptions): string {
  const W = o.width ?? 800;
  const H = o.height ?? 500;
  const refs = o.references ?? [];
  if (o.series.length === 0 && refs.length === 0) throw new RangeError("linePlot: nothing to plot (no series)");
  for (const s of o.series) {
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new RangeError(`linePlot: series "${s.name}" has a non-finite point (${x}, ${y})`);
      if (o.logY && y <= 0) throw new RangeError(`linePlot: series "${s.name}" has y = ${y}, not allowed on a log axis`);
    }
  }
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...o.series.flatMap((s) => s.points.map((p) => p[1])), ...refs.map((r) => r.y)];
  if (xs.length === 0) xs.push(0, 1);

  // legend width from the longest name (about 7 px per character at 13 px)
  const names = [...o.series.map((s) => s.name), ...refs.map((r) => r.name)];
  const legendW = Math.min(260, Math.max(110, 42 + 7.2 * Math.max(...names.map((n) => n.length))));
  const plot = { left: 78, top: 50, right: W - legendW - 24, bottom: H - 62 };
  const pw = plot.right - plot.left;
  const ph = plot.bottom - plot.top;

  const xt = niceTicks(Math.min(...xs), Math.max(...xs));
  const [x0, x1] = [xt.ticks[0], xt.ticks[xt.ticks.length - 1]];
  const sx = (x: number) => plot.left + ((x - x0) / (x1 - x0)) * pw;

  let yTicks: number[];
  let yStep: number | undefined;
  let sy: (y: number) => number;
  if (o.logY) {
    yTicks = logTicks(Math.min(...ys), Math.max(...ys));
    const [l0, l1] = [Math.log10(yTicks[0]), Math.log10(yTicks[yTicks.length - 1])];
    sy = (y) => plot.bottom - ((Math.log10(y) - l0) / (l1 - l0)) * ph;
  } else {
    const yt = niceTicks(Math.min(...ys), Math.max(...ys));
    yTicks = yt.ticks;
    yStep = yt.step;
    const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
    sy = (y) => plot.bottom - ((y - y0) / (y1 - y0)) * ph;
  }

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="13">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${fmt((plot.left + plot.right) / 2)}" y="28" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(o.title)}</text>`);

  // gridlines and tick labels
  out.push(`<g class="grid" stroke="#e3e3e3" stroke-width="1">`);
  for (const t of xt.ticks) out.push(`<line x1="${fmt(sx(t))}" y1="${plot.top}" x2="${fmt(sx(t))}" y2="${plot.bottom}"/>`);
  for (const t of yTicks) out.push(`<line x1="${plot.left}" y1="${fmt(sy(t))}" x2="${plot.right}" y2="${fmt(sy(t))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="ticks" fill="#333333">`);
  for (const t of xt.ticks) {
    out.push(`<text x="${fmt(sx(t))}" y="${plot.bottom + 18}" text-anchor="middle">${escapeXml(formatTick(t, xt.step))}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<text x="${plot.left - 8}" y="${fmt(sy(t) + 4.5)}" text-anchor="end">${escapeXml(formatTick(t, yStep))}</text>`);
  }
  out.push(`</g>`);
  out.push(`<rect class="frame" x="${plot.left}" y="${plot.top}" width="${pw}" height="${ph}" fill="none" stroke="#444444" stroke-width="1"/>`);
  out.push(`<text class="x-label" x="${fmt((plot.left + plot.right) / 2)}" y="${H - 20}" text-anchor="middle" font-size="14">${escapeXml(o.xLabel)}</text>`);
  const yMid = fmt((plot.top + plot.bottom) / 2);
  out.push(`<text class="y-label" x="22" y="${yMid}" text-anchor="middle" font-size="14" transform="rotate(-90 22 ${yMid})">${escapeXml(o.yLabel)}</text>`);

  // reference lines under the data
  refs.forEach((r) => {
    const y = fmt(sy(r.y));
    out.push(`<line class="reference" x1="${plot.left}" y1="${y}" x2="${plot.right}" y2="${y}" stroke="#555555" stroke-width="1.5" stroke-dasharray="6 4"><title>${escapeXml(`${r.name}: ${r.y}`)}</title></line>`);
  });

  // series: one path each, then its markers
  o.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const shape = MARKERS[i % MARKERS.length];
    const pts = s.points;
    out.push(`<g class="series">`);
    if (pts.length > 0) {
      const d = pts.map(([x, y], j) => `${j === 0 ? "M" : "L"}${fmt(sx(x))},${fmt(sy(y))}`).join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round"><title>${escapeXml(s.name)}</title></path>`);
    }
    for (const [x, y] of pts) out.push(marker(shape, sx(x), sy(y), colour));
    out.push(`</g>`);
  });

  // legend, right of the plot
  const lx = plot.right + 18;
  let ly = plot.top + 8;
  out.push(`<g class="legend">`);
  out.push(`<rect x="${lx - 8}" y="${plot.top - 6}" width="${legendW}" height="${22 * names.length + 14}" fill="#ffffff" stroke="#cccccc"/>`);
  o.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    out.push(`<line x1="${lx}" y1="${ly + 6}" x2="${lx + 28}" y2="${ly + 6}" stroke="${colour}" stroke-width="2"/>`);
    out.push(marker(MARKERS[i % MARKERS.length], lx + 14, ly + 6, colour));
    out.push(`<text x="${lx + 36}" y="${ly + 10.5}">${escapeXml(s.name)}</text>`);
    ly += 22;
  });
  refs.forEach((r) => {
    out.push(`<line x1="${lx}" y1="${ly + 6}" x2="${lx + 28}" y2="${ly + 6}" stroke="#555555" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${lx + 36}" y="${ly + 10.5}">${escapeXml(r.name)}</text>`);
    ly += 22;
  });
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
