// Every file the CLI writes goes through writeFileAtomically: a temporary file beside the target,
// synced, then renamed over it, so a reader never sees half a file and a full disk or a crash
// leaves the old file in place. Temporary files (and sweep locks) are registered while they
// exist; SIGINT/SIGTERM removes them before exiting, so an interrupted convert leaves nothing.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Files to delete if the process is interrupted: temporary outputs and lock files. */
const interruptible = new Set<string>();
/** The usual shell exit status of a process ended by each signal (128 + its number). */
const SIGNAL_EXIT: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

function removeAndExit(signal: "SIGINT" | "SIGTERM"): void {
  for (const f of interruptible) rmSync(f, { force: true });
  process.exit(SIGNAL_EXIT[signal]);
}

/**
 * Registers `file` for removal on SIGINT/SIGTERM until the returned function is called. The
 * handlers exist only while something is registered, so the default signal behaviour is kept
 * otherwise.
 */
export function removeOnInterrupt(file: string): () => void {
  if (interruptible.size === 0) for (const s of ["SIGINT", "SIGTERM"] as const) process.on(s, removeAndExit);
  interruptible.add(file);
  return () => {
    interruptible.delete(file);
    if (interruptible.size === 0) for (const s of ["SIGINT", "SIGTERM"] as const) process.off(s, removeAndExit);
  };
}

/** Runs `write` on a fresh temporary file beside `out`, syncs it, then renames it to `out`. */
export async function writeFileAtomically(out: string, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  await mkdir(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  const unregister = removeOnInterrupt(tmp);
  try {
    const fh = await open(tmp, "wx");
    try {
      await write(fh);
      await fh.sync();
      await fh.close();
      await rename(tmp, out);
    } catch (e) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw e;
    }
  } finally {
    unregister();
  }
}

/** writeFileAtomically for content already in memory. */
export function writeOutputFile(out: string, data: Uint8Array | string): Promise<void> {
  return writeFileAtomically(out, (fh) => fh.writeFile(data));
}

/**
 * Takes `out`.lock (created exclusively) so that two runs writing the same output, e.g. two sweep
 * shards given the same --out, cannot both write it: the second is refused while the first runs.
 * Returns the release function; the lock is also removed on SIGINT/SIGTERM.
 */
export async function lockOutput(out: string): Promise<() => Promise<void>> {
  const lock = `${out}.lock`;
  await mkdir(dirname(out), { recursive: true });
  const fh = await open(lock, "wx").catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
    throw new Error(`${out} is being written by another run (lock file ${lock}; delete it if no run is going)`);
  });
  const unregister = removeOnInterrupt(lock);
  await fh.writeFile(`${process.pid}\n`);
  await fh.close();
  return async () => {
    await rm(lock, { force: true });
    unregister();
  };
}
