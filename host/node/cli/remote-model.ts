// --model hf:OWNER/REPO[@REV]/FILE or --model https://...: downloaded into the model cache
// (host/node/model-cache.ts) before the command runs, with a progress bar on stderr; the command
// then reads the cached file like any path.
import { downloadModelFile, isRemoteModel } from "../model-cache.js";
import { nameOf } from "../../formats/bytes.js";
import type { ProgressCallback } from "../../formats/bytes.js";

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

/** A progress bar on stderr: redrawn in place on a terminal, one line at the end otherwise. */
export function progressBar(label: string, out: NodeJS.WriteStream = process.stderr): ProgressCallback & { end(): void } {
  let last = "";
  let lastDraw = 0;
  const line = (loaded: number, total: number | undefined) => {
    if (total === undefined) return `dip: ${label}  ${mb(loaded)}`;
    const share = Math.min(1, loaded / total);
    const width = 30;
    const filled = Math.round(share * width);
    return `dip: ${label}  ${mb(loaded)} / ${mb(total)} [${"=".repeat(filled)}${" ".repeat(width - filled)}] ${Math.floor(share * 100)}%`;
  };
  const draw = (loaded: number, total: number | undefined) => {
    last = line(loaded, total);
    const now = Date.now();
    if (!out.isTTY || (now - lastDraw < 100 && loaded !== total)) return;
    lastDraw = now;
    out.write(`\r${last}\x1b[K`);
  };
  return Object.assign(draw, { end: () => out.write(out.isTTY ? "\n" : `${last}\n`) });
}

/** yargs middleware: replaces a remote --model by the path of its cached download. */
export async function fetchRemoteModel(a: Record<string, unknown>): Promise<void> {
  if (typeof a.model !== "string" || !isRemoteModel(a.model)) return;
  const bar = progressBar(nameOf(a.model));
  try {
    a.model = await downloadModelFile(a.model, { onProgress: bar });
  } finally {
    bar.end();
  }
}
