// `dip merge`: shards of a sweep table joined into one (host/report/sweep-table.ts).

import type { Argv, ArgumentsCamelCase } from "yargs";
import { resolve } from "node:path";
import { tableJson } from "../../report/table-text.js";
import { mergeCsv, writeCsvFile } from "../csv-file.js";
import { checkOverwrite, usageErrorsFromCsv } from "./table-files.js";

interface MergeArgs {
  files: string[];
  out: string;
  json: boolean;
}

export const mergeCommand = {
  command: "merge <files..>",
  describe: "join sweep shards (same header; duplicate rows kept once; sorted by method, keep)",
  builder: (y: Argv) =>
    y
      .positional("files", { type: "string", array: true, describe: "CSV shards" })
      .option("out", { type: "string", demandOption: true, describe: "CSV file to write" })
      .option("json", { type: "boolean", default: false, describe: "print the rows as JSON on stdout" }),
  handler: async (a: ArgumentsCamelCase<MergeArgs>) => {
    const table = usageErrorsFromCsv(() => mergeCsv(a.files.map(String)));
    const out = resolve(a.out);
    checkOverwrite(out, table.header);
    await writeCsvFile(out, table);
    process.stderr.write(`merged ${a.files.length} files into ${table.rows.length} rows in ${a.out}\n`);
    if (a.json) process.stdout.write(JSON.stringify(tableJson(table)) + "\n");
  },
};
