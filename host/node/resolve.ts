// Finds model files: `--model` takes a path; without it the default model from models/*.json is
// looked up in the models directory (DIP_SHARED_DIR/models, default ../shared/models). Files a
// manifest lists are checked against its sha256 before use.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { sha256File } from "./load.js";
import { basename, resolve } from "node:path";
import { modelsDir, projectRoot } from "./paths.js";

export interface ManifestFile {
  file: string;
  format: string;
  sha256: string;
  source: string;
  license: string;
}

export interface Manifest {
  name: string;
  description: string;
  default: boolean;
  files: ManifestFile[];
}

export function readManifests(): Manifest[] {
  const dir = resolve(projectRoot(), "models");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(resolve(dir, f), "utf8")) as Manifest);
}

/** The path of the default model (the first file of the default manifest). */
export function defaultModelPath(): string {
  const m = readManifests().find((x) => x.default);
  if (!m) throw new Error(`no default model manifest in ${resolve(projectRoot(), "models")}`);
  const path = resolve(modelsDir(), m.files[0].file);
  if (!existsSync(path)) {
    throw new Error(
      `default model ${m.name} not found at ${path}. Set DIP_SHARED_DIR to the folder holding models/, or fetch it from ${m.files[0].source} (sha256 ${m.files[0].sha256})`,
    );
  }
  return path;
}

export function resolveModelPath(model?: string): string {
  if (!model) return defaultModelPath();
  const path = resolve(model);
  if (!existsSync(path)) throw new Error(`model file not found: ${path}`);
  return path;
}

/**
 * If a manifest lists this file (same name under the models directory), checks its sha256.
 * Returns the manifest entry, or undefined for files no manifest knows.
 */
export async function verifyAgainstManifest(path: string): Promise<ManifestFile | undefined> {
  const abs = resolve(path);
  for (const m of readManifests()) {
    for (const f of m.files) {
      const listed = resolve(modelsDir(), f.file);
      if (listed !== abs && basename(f.file) !== basename(abs)) continue;
      const actual = await sha256File(abs);
      if (listed === abs && actual !== f.sha256) {
        throw new Error(`${abs}: sha256 ${actual} does not match the manifest ${m.name} (${f.sha256}); the file is corrupt or a different version`);
      }
      if (actual === f.sha256) return f;
    }
  }
  return undefined;
}
