// Sweep tables: the key columns that identify a row, the order sweep and merge write rows in, and
// shards joined into one table (runtime-neutral; host/node/csv-file.ts reads the shard files).

import { columnIndex, CsvError, type CsvTable } from "./csv.js";

/** Columns that identify a sweep row: two rows with equal keys measure the same thing. */
export const SWEEP_KEY = ["model", "method", "keep", "up_keep", "down_keep", "gamma", "policy", "device", "dram_bytes"] as const;

/** Key columns after method and keep that order rows of a simulator sweep (when present). */
const SIM_ORDER = ["gamma", "policy", "device", "dram_bytes"];

/** Method order in sorted tables: the baseline first, then as in the paper's comparisons. */
const METHOD_ORDER = ["dense", "glu", "cats", "predictor", "dip", "dip-threshold", "dip-ca"];

/** Sorts rows by (method, keep), then model: the order sweep and merge both write. */
export function sortSweepRows(t: CsvTable, source = "CSV"): string[][] {
  const mi = columnIndex(t, "method", source);
  const ki = columnIndex(t, "keep", source);
  const modelI = t.header.indexOf("model");
  const extra = SIM_ORDER.map((c) => t.header.indexOf(c)).filter((i) => i >= 0);
  const cmp = (x: string, y: string) => {
    const nx = Number(x);
    const ny = Number(y);
    if (x !== "" && y !== "" && Number.isFinite(nx) && Number.isFinite(ny)) return nx - ny;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const rank = (m: string) => {
    const r = METHOD_ORDER.indexOf(m);
    return r < 0 ? METHOD_ORDER.length : r;
  };
  return [...t.rows].sort(
    (a, b) =>
      rank(a[mi]) - rank(b[mi]) ||
      (a[mi] < b[mi] ? -1 : a[mi] > b[mi] ? 1 : 0) ||
      Number(a[ki]) - Number(b[ki]) ||
      extra.reduce((r, i) => r || cmp(a[i], b[i]), 0) ||
      (modelI < 0 ? 0 : a[modelI] < b[modelI] ? -1 : a[modelI] > b[modelI] ? 1 : 0),
  );
}

export interface MergeOptions {
  /** key columns (default SWEEP_KEY, those present in the header) */
  key?: readonly string[];
}

/**
 * Joins shard tables into one (`source` names each in errors: its file). Every table must have the
 * same header (the error names the first one that differs). Rows with the same key are kept once;
 * if they disagree in any other column the shards came from different sweeps, which is an error
 * rather than a silent pick.
 */
export function mergeTables(tables: { source: string; table: CsvTable }[], opts: MergeOptions = {}): CsvTable {
  if (tables.length === 0) throw new CsvError("merge: no input files");
  const first = tables[0].source;
  const header = tables[0].table.header;
  for (const { source, table } of tables.slice(1)) {
    if (table.header.join(",") !== header.join(",")) {
      throw new CsvError(
        `${source}: its header differs from ${first}'s\n  ${first}: ${header.join(",")}\n  ${source}: ${table.header.join(",")}`,
      );
    }
  }
  const keyCols = (opts.key ?? SWEEP_KEY).filter((k) => opts.key !== undefined || header.includes(k));
  const keyIdx = keyCols.map((k) => columnIndex(tables[0].table, k, first));
  const seen = new Map<string, { row: string[]; source: string }>();
  for (const { source, table } of tables) {
    for (const row of table.rows) {
      const key = JSON.stringify(keyIdx.map((i) => row[i]));
      const prev = seen.get(key);
      if (!prev) seen.set(key, { row, source });
      else if (prev.row.join("\u0000") !== row.join("\u0000")) {
        const what = keyCols.map((k, j) => `${k}=${row[keyIdx[j]]}`).join(" ");
        throw new CsvError(`${source}: row ${what} differs from the same row in ${prev.source} (shards of different sweeps?)`);
      }
    }
  }
  const merged = { header: [...header], rows: [...seen.values()].map((v) => v.row) };
  const sortable = header.includes("method") && header.includes("keep");
  return { header: merged.header, rows: sortable ? sortSweepRows(merged) : merged.rows };
}
