// A sweep table as the commands print it on stdout: JSON rows, or a fixed-width text table.

import type { CsvTable } from "./csv.js";

/** Rows as JSON objects, numeric columns as numbers. */
export function tableJson(t: CsvTable): Record<string, string | number>[] {
  return t.rows.map((r) => Object.fromEntries(t.header.map((h, i) => [h, r[i] !== "" && Number.isFinite(Number(r[i])) ? Number(r[i]) : r[i]])));
}

/** A fixed-width text table for the terminal. */
export function textTable(t: CsvTable): string {
  const cells = t.rows.map((r) => r.map((f) => (/^-?\d+\.\d{5,}$/.test(f) ? Number(f).toFixed(4) : f)));
  const widths = t.header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  return [t.header, ...cells].map((r) => r.map((f, i) => f.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n";
}
