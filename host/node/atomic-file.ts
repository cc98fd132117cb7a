// Every file the CLI writes goes through writeFileAtomically: a temporary file beside the target,
// synced, then renamed over it, so a reader never sees half a file and a full disk or a crash
// leaves the old file in place. Temporary files are registered while they exist; SIGINT/SIGTERM
// removes them before exiting, so an interrupted convert leaves nothing.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Files to delete if the process is interrupted: temporary outputs being written. */
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
function removeOnInterrupt(file: string): () => void {
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

/** Whether process `pid` is running (signal 0 only checks). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // running, under another user
  }
}

/**
 * Takes `out`.lock (created exclusively, holding this process's id) so that two runs writing the
 * same output, e.g. two sweep shards given the same --out, cannot both write it: the second is
 * refused while the first runs. A lock whose process has ended (killed by Ctrl-C in the middle of
 * a long computation, which no signal handler interrupts) is taken over. Returns the release function.
 */
export async function lockOutput(out: string): Promise<() => Promise<void>> {
  const lock = `${out}.lock`;
  await mkdir(dirname(out), { recursive: true });
  for (;;) {
    try {
      const fh = await open(lock, "wx");
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
    if (Number.isInteger(holder) && holder > 0 && isRunning(holder)) {
      throw new Error(`${out} is being written by another run (process ${holder}; lock file ${lock})`);
    }
    await rm(lock, { force: true }); // left by a run that ended without releasing it
  }
}
