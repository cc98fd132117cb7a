// Node only (CLI, tests): where the models, data and reference fixtures live, one configurable directory.
// DIP_SHARED_DIR overrides it; the default is ../shared beside the project checkout.
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

/** The project root (this file is bundled into build/host/ or build/tests/, or run from host/node/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  // build/host/ or build/tests/ or host/node/ -> root
  for (let i = 0; i < 3; i++) {
    if (/[\\/](build|host|node|tests|bench)$/.test(dir)) dir = dirname(dir);
  }
  return dir;
}

export function sharedDir(): string {
  return process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(projectRoot(), "..", "shared");
}

export const modelsDir = (): string => resolve(sharedDir(), "models");
export const dataDir = (): string => resolve(sharedDir(), "data");
export const fixturesDir = (): string => resolve(sharedDir(), "fixtures");
/** Writable cache for calibration files and other derived data (ignored by git). */
export const cacheDir = (): string => (process.env.DIP_CACHE_DIR ? resolve(process.env.DIP_CACHE_DIR) : resolve(projectRoot(), ".cache"));
