// The table files of `dip sweep`, `dip merge` and `dip plot`: what --out may overwrite, and CSV
// errors shown as usage errors.

import { existsSync, readFileSync, statSync } from "node:fs";
import { CsvError, parseCsv } from "../../report/csv.js";
import { UsageError } from "./common.js";

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

/** Runs `f`; a malformed or mismatched table (CsvError) becomes a UsageError: its message is the whole story. */
export function usageErrorsFromCsv<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CsvError) throw new UsageError(e.message);
    throw e;
  }
}
