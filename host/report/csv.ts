// CSV tables for sweep results: RFC 4180 text (header row, "," separator, fields quoted when they
// hold a comma, quote or line break, quotes doubled). Runtime-neutral: the Node adapter
// (host/node/csv-file.ts) reads and writes the files.

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
