// `dip plot`: a sweep table drawn as an SVG line plot (host/report/plot-table.ts).

import type { Argv, ArgumentsCamelCase } from "yargs";
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { plotTable } from "../../report/plot-table.js";
import { readCsvFile } from "../csv-file.js";
import { writeOutputFile } from "../atomic-file.js";
import { UsageError } from "./common.js";
import { usageErrorsFromCsv } from "./table-files.js";
import type { CsvTable } from "../../report/csv.js";

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
  where?: string;
}

/** The rows whose columns equal every col=value of `where` (all rows without it); unknown columns are refused. */
export function rowsWhere(t: CsvTable, where: string | undefined): CsvTable {
  if (where === undefined) return t;
  const conditions = where.split(",").map((c) => {
    const m = /^\s*([^=]+?)\s*=\s*(.*?)\s*$/.exec(c);
    if (!m) throw new UsageError(`--where: expected col=value, got "${c}"`);
    const i = t.header.indexOf(m[1]);
    if (i < 0) throw new UsageError(`--where: no column "${m[1]}" (columns: ${t.header.join(", ")})`);
    return { i, value: m[2] };
  });
  const rows = t.rows.filter((r) => conditions.every((c) => r[c.i] === c.value));
  if (rows.length === 0) throw new UsageError(`--where ${where}: no row matches`);
  return { header: t.header, rows };
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
      .option("group", { type: "string", describe: "one line per value of this column (or of several: method,policy); default: method and every setting that varies (policy, dram_bytes, ...)" })
      .option("log-y", { type: "boolean", default: false, describe: "logarithmic y axis" })
      .option("x-range", { type: "string", describe: "lo,hi: plot only rows with x in this range (zoom)" })
      .option("y-range", { type: "string", describe: "lo,hi: plot only rows with y in this range (zoom)" })
      .option("title", { type: "string", describe: "plot title (default from the columns, model and stories)" })
      .option("where", { type: "string", describe: "col=value[,col=value]: plot only the rows with these values (e.g. device=mobile)" }),
  handler: async (a: ArgumentsCamelCase<PlotArgs>) => {
    const file = String(a.file);
    const xRange = a["x-range"] !== undefined ? parseRange(a["x-range"], "--x-range") : undefined;
    const yRange = a["y-range"] !== undefined ? parseRange(a["y-range"], "--y-range") : undefined;
    const svg = usageErrorsFromCsv(() => plotTable(rowsWhere(readCsvFile(file), a.where), { x: a.x, y: a.y, group: a.group, logY: a["log-y"], xRange, yRange, title: a.title, source: file }));
    const out = resolve(a.out);
    if (existsSync(out) && (statSync(out).isDirectory() || !readFileSync(out, "utf8").slice(0, 512).includes("<svg"))) {
      throw new UsageError(`--out ${a.out} exists and is not an SVG file; refusing to overwrite it`);
    }
    await writeOutputFile(out, svg);
    process.stderr.write(`wrote ${a.out}\n`);
  },
};
