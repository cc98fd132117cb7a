// CSV tables for sweep results: RFC 4180 text (header row, "," separator, fields quoted when they
// hold a comma, quote or line break, quotes doubled), written atomically, and merged from shards.

import { readFileSync, renameSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface CsvTable {
  header: string[];
  /** every row has header.length fields */
  rows: string[][];
}

/** A malformed or mismatched CSV file; the message names the file. */
export class CsvError extends Error {
  override name = "CsvError";
}

const needsQuotes = (f: string) => /[",\r\n]/.test(f) || f !== f.trim();

export function quoteField(f: string): string {
  return needsQuotes(f) ? `"${f.replace(/"/g, '""')}"` : f;
}

/** The table as CSV text, lines ended by \n (RFC 4180 allows it; readers accept both). */
export function formatCsv(t: CsvTable): string {
  checkShape(t, "table");
  return [t.header, ...t.rows].map((r) => r.map(quoteField).join(",") + "\n").join("");
}

/**
 * Parses CSV text (RFC 4180: quoted fields may hold commas, doubled quotes and line breaks; CRLF
 * or LF line ends). The first record is the header; every row must have as many fields.
 */
export function parseCsv(text: string, source = "CSV"): CsvTable {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let quoted = false;
  let line = 1;
  const endField = () => {
    record.push(field);
    field = "";
  };
  const endRecord = () => {
    endField();
    records.push(record);
    record = [];
  };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
          throw new CsvError(`${source}: line ${line}: unexpected ${JSON.stringify(next)} after a closing quote`);
        }
        continue;
      }
      if (ch === "\n") line++;
      field += ch;
      i++;
      continue;
    }
    if (ch === '"') {
      if (field.length > 0) throw new CsvError(`${source}: line ${line}: a quote inside an unquoted field`);
      quoted = true;
      i++;
    } else if (ch === ",") {
      endField();
      i++;
    } else if (ch === "\r" || ch === "\n") {
      endRecord();
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
    } else {
      field += ch;
      i++;
    }
  }
  if (quoted) throw new CsvError(`${source}: unterminated quoted field at end of file`);
  if (field.length > 0 || record.length > 0) endRecord(); // last line without a line end
  if (records.length === 0) throw new CsvError(`${source}: empty file (no header row)`);
  const [header, ...rows] = records;
  const table = { header, rows };
  checkShape(table, source);
  return table;
}

function checkShape(t: CsvTable, source: string): void {
  if (t.header.length === 0 || t.header.some((h) => h.length === 0)) throw new CsvError(`${source}: the header has an empty column name`);
  const dup = t.header.find((h, i) => t.header.indexOf(h) !== i);
  if (dup !== undefined) throw new CsvError(`${source}: column "${dup}" appears twice in the header`);
  t.rows.forEach((r, i) => {
    if (r.length !== t.header.length) {
      throw new CsvError(`${source}: row ${i + 1} has ${r.length} fields, the header has ${t.header.length}`);
    }
  });
}

export function readCsvFile(file: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new CsvError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseCsv(text, file);
}

/** Writes text to a temporary file beside `file`, then renames it over `file` (readers never see half a file). */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeCsvFile(file: string, t: CsvTable): void {
  writeFileAtomic(file, formatCsv(t));
}

/** Rows as objects keyed by column name. */
export function records(t: CsvTable): Record<string, string>[] {
  return t.rows.map((r) => Object.fromEntries(t.header.map((h, i) => [h, r[i]])));
}

/** The index of a column, or an error listing the columns there are. */
export function columnIndex(t: CsvTable, name: string, source = "CSV"): number {
  const i = t.header.indexOf(name);
  if (i < 0) throw new CsvError(`${source}: no column "${name}" (columns: ${t.header.join(", ")})`);
  return i;
}

// ---------------------------------------------------------------------------------------------
// Sweep tables

/** Columns that identify a sweep row: two rows with equal keys measure the same thing. */
export const SWEEP_KEY = ["model", "method", "keep", "up_keep", "down_keep", "gamma", "policy", "device", "dram_bytes"] as const;

/** Key columns after method and keep that order rows of a simulator sweep (when present). */
const SIM_ORDER = ["gamma", "policy", "device", "dram_bytes"];

/** Method order in sorted tables: the baseline first, then as in the paper's comparisons. */
const METHOD_ORDER = ["dense", "glu", "cats", "dip", "dip-threshold", "dip-ca"];

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
 * Joins shard files into one table. Every file must have the same header (the error names the
 * first file that differs). Rows with the same key are kept once; if they disagree in any other
 * column the shards came from different sweeps, which is an error rather than a silent pick.
 */
export function mergeCsv(files: string[], opts: MergeOptions = {}): CsvTable {
  if (files.length === 0) throw new CsvError("merge: no input files");
  const tables = files.map((f) => ({ file: f, table: readCsvFile(f) }));
  const header = tables[0].table.header;
  for (const { file, table } of tables.slice(1)) {
    if (table.header.join(",") !== header.join(",")) {
      throw new CsvError(
        `${file}: its header differs from ${files[0]}'s\n  ${files[0]}: ${header.join(",")}\n  ${file}: ${table.header.join(",")}`,
      );
    }
  }
  const keyCols = (opts.key ?? SWEEP_KEY).filter((k) => opts.key !== undefined || header.includes(k));
  const keyIdx = keyCols.map((k) => columnIndex(tables[0].table, k, files[0]));
  const seen = new Map<string, { row: string[]; file: string }>();
  for (const { file, table } of tables) {
    for (const row of table.rows) {
      const key = JSON.stringify(keyIdx.map((i) => row[i]));
      const prev = seen.get(key);
      if (!prev) seen.set(key, { row, file });
      else if (prev.row.join("\u0000") !== row.join("\u0000")) {
        const what = keyCols.map((k, j) => `${k}=${row[keyIdx[j]]}`).join(" ");
        throw new CsvError(`${file}: row ${what} differs from the same row in ${prev.file} (shards of different sweeps?)`);
      }
    }
  }
  const merged = { header: [...header], rows: [...seen.values()].map((v) => v.row) };
  const sortable = header.includes("method") && header.includes("keep");
  return { header: merged.header, rows: sortable ? sortSweepRows(merged) : merged.rows };
}
