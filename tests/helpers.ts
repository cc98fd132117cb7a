// Shared test helpers: fixture paths and loading the default model once per test file.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fixturesDir, modelsDir, projectRoot } from "../host/node/paths.js";
import { loadModelFile } from "../host/node/load.js";
import type { LoadedModel } from "../host/model.js";
import type { Engine } from "../host/engine.js";

export const STORIES_GGUF = () => resolve(modelsDir(), "stories260K", "stories260K-f32.gguf");
export const STORIES_BIN = () => resolve(modelsDir(), "stories260K", "stories260K.bin");
export const storiesFixture = (name: string) => resolve(fixturesDir(), "stories260K", name);

export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

let cached: Promise<LoadedModel> | undefined;
export function storiesModel(): Promise<LoadedModel> {
  cached ??= loadModelFile(STORIES_GGUF());
  return cached;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Logits of every position of `tokens` from a fresh sequence, T x V row-major (as `dip logits` writes them). */
export function runLogits(engine: Engine, tokens: number[]): Float32Array {
  const V = engine.config.vocabSize;
  const out = new Float32Array(tokens.length * V);
  engine.reset();
  tokens.forEach((t, i) => out.set(engine.step(t), i * V));
  return out;
}

/** Runs the `dip` CLI (bin/dip.js) in a child process. */
export function runDip(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
