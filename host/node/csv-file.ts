// CSV files of sweep tables (host/report/csv.ts is the text format): read, written atomically,
// and shard files merged (host/report/sweep-table.ts).
import { readFileSync } from "node:fs";
import { CsvError, formatCsv, parseCsv, type CsvTable } from "../report/csv.js";
import { mergeTables, type MergeOptions } from "../report/sweep-table.js";
import { writeOutputFile } from "./atomic-file.js";

export function readCsvFile(file: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new CsvError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseCsv(text, file);
}

export function writeCsvFile(file: string, t: CsvTable): Promise<void> {
  return writeOutputFile(file, formatCsv(t));
}

/** Joins shard files into one table (mergeTables; errors name the files). */
export function mergeCsv(files: string[], opts: MergeOptions = {}): CsvTable {
  return mergeTables(files.map((file) => ({ source: file, table: readCsvFile(file) })), opts);
}
