// The Markdown report of a sweep (`dip sweep --report`) with its plots. Runtime-neutral: the
// command writes the files (host/node/cli/sweep.ts).

import type { CsvTable } from "./csv.js";
import { plotTable } from "./plot-table.js";

/** A file of the report: its path and its text. */
export interface ReportFile {
  file: string;
  text: string;
}

/**
 * A Markdown report of a sweep a researcher can paste into a paper: how it was run, the table,
 * and plots beside it (perplexity vs density; with the simulator, throughput vs perplexity and
 * hit rate vs DRAM). Returns the files to write, the plots (named after `file`) first.
 */
export function sweepReport(file: string, table: CsvTable, csvFile: string, argv: string[]): ReportFile[] {
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
  return [...plots.map((p) => ({ file: p.file, text: p.svg })), { file, text: md }];
}
