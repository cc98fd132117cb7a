// Cross-runtime determinism probe (scripts/test-runtimes.mjs): the SHA-256 of the float32 logits of
// a token sequence, dense and DIP keep 0.5, from the runtime-neutral host only. Node, Deno and the
// browser each run this same bundle (build/browser-tests/probe.js) and must print the same hashes.
import { Engine } from "../../host/engine.js";
import { fetchBytes, loadModelFromBytes } from "../../host/formats/bytes.js";
import { Sha256 } from "../../host/sha256.js";
import type { SparsitySpec } from "../../host/sparsity.js";
import type { LoadedModel } from "../../host/model.js";
import type { StreamPolicy, StreamSetup, WeightStream } from "../../host/stream/weights.js";
import { syntheticModel, type SyntheticShape } from "../../host/synthetic.js";

// Node runs this browser bundle too: it registers its worker_threads spawner here (test-builds.mjs)
export { setThreadSpawner } from "../../host/threads.js";

export const PROBE_SPECS: Record<string, SparsitySpec> = {
  dense: { method: "dense" },
  dip_keep0_5: { method: "dip", keep: 0.5 },
};

/** Hex SHA-256 of the T x V float32 logits (little-endian, row-major, as `dip logits` writes them) per spec. */
export async function logitsHashes(modelBytes: Uint8Array, modelName: string, wasmBytes: Uint8Array<ArrayBuffer>, tokens: number[]): Promise<Record<string, string>> {
  const model = loadModelFromBytes(modelBytes, modelName);
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(PROBE_SPECS)) {
    const engine = await Engine.create(model, { wasmBytes, sparsity: spec });
    const h = new Sha256();
    for (const t of tokens) h.update(engine.step(t)); // wasm memory is little-endian on every host
    out[name] = h.hex();
  }
  return out;
}

/** The probe with its inputs fetched by URL (a page, or Deno with file: URLs). */
export async function logitsHashesFromUrls(modelUrl: string, wasmUrl: string, tokens: number[]): Promise<Record<string, string>> {
  const name = modelUrl.split(/[?#]/)[0].split("/").pop() ?? "model";
  return logitsHashes(await fetchBytes(modelUrl), name, await fetchBytes(wasmUrl), tokens);
}

/** The greedy token: the index of the largest logit, the first on ties. */
function argmax(logits: Float32Array): number {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  return best;
}

/** Time and reads of one spec's greedy run (benchmarks; never asserted). */
export interface GreedyRunStats {
  seconds: number;
  /** streamed runs: bytes and positioned reads from storage, seconds in fetches (pacing included) */
  bytes: number;
  reads: number;
  fetchSeconds: number;
}

/**
 * Hex SHA-256 of the float32 logits of `steps` greedy steps from BOS (argmax, first on ties) per
 * spec, on a resident model or, with `stream`, on a streamed one (its static model). Also returns
 * the greedy tokens and, streamed, the bytes read from storage and the cache sizes, so a caller can
 * check that columns really streamed, and each spec's time (hashing included). Node, Deno and
 * browsers (a worker, for OPFS) run this same code.
 */
export async function greedyLogitsHashes(
  model: LoadedModel,
  wasmBytes: Uint8Array<ArrayBuffer>,
  steps: number,
  stream?: { source: WeightStream; dramBytes: number; policy?: StreamPolicy; flashGBps?: number },
): Promise<{ hashes: Record<string, string>; tokens: Record<string, number[]>; bytesRead: number; cacheEntries?: [number, number]; minimumBytes?: number; stats: Record<string, GreedyRunStats> }> {
  const hashes: Record<string, string> = {};
  const tokens: Record<string, number[]> = {};
  const stats: Record<string, GreedyRunStats> = {};
  let setup: StreamSetup | undefined;
  let bytesRead = 0;
  if (stream) stream.source.flashGBps = stream.flashGBps;
  for (const [name, spec] of Object.entries(PROBE_SPECS)) {
    const engine = await Engine.create(model, { wasmBytes, sparsity: spec, stream: stream && { source: stream.source, dramBytes: stream.dramBytes, policy: stream.policy } });
    setup = engine.streamSetup;
    stream?.source.resetCounters();
    const h = new Sha256();
    let t = model.vocab?.bosId ?? 1;
    const seq = [t];
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      const logits = engine.step(t);
      h.update(logits);
      t = argmax(logits);
      seq.push(t);
    }
    const c = stream?.source.counters;
    stats[name] = { seconds: (performance.now() - t0) / 1e3, bytes: c?.bytes ?? 0, reads: c?.reads ?? 0, fetchSeconds: c?.seconds ?? 0 };
    bytesRead += c?.bytes ?? 0;
    hashes[name] = h.hex();
    tokens[name] = seq;
  }
  return { hashes, tokens, bytesRead, cacheEntries: setup?.cacheEntries, minimumBytes: setup?.minimumBytes, stats };
}

/**
 * Decode speed on a synthetic model of `shape` (random weights, as `dip bench --synthetic` builds
 * it): `warmup` untimed greedy steps from BOS, then tok/s over `tokens` greedy steps, per spec.
 * Benchmarks only (bench/browsers.mjs runs it in Node and in each browser); never asserted.
 */
export async function decodeSpeed(shape: SyntheticShape, wasmBytes: Uint8Array<ArrayBuffer>, tokens: number, warmup: number): Promise<Record<string, number>> {
  const model = syntheticModel(shape, 1);
  const out: Record<string, number> = {};
  for (const [name, spec] of Object.entries(PROBE_SPECS)) {
    const engine = await Engine.create(model, { wasmBytes, sparsity: spec });
    let t = 1;
    for (let i = 0; i < warmup; i++) t = argmax(engine.step(t));
    const t0 = performance.now();
    for (let i = 0; i < tokens; i++) t = argmax(engine.step(t));
    out[name] = tokens / ((performance.now() - t0) / 1e3);
  }
  return out;
}

/** The bytes of the four engine builds (host/wasm.ts EngineBuild). */
export interface BuildBytes {
  default: Uint8Array<ArrayBuffer>;
  relaxed: Uint8Array<ArrayBuffer>;
  threads: Uint8Array<ArrayBuffer>;
  worker: Uint8Array<ArrayBuffer>;
}

/**
 * The optional builds in this runtime (scripts/test-builds.mjs): the threads build at 2 threads
 * against 1 thread on a synthetic model big enough to split every product, and on a long prompt
 * and decode past it (hashes must be equal),
 * and the relaxed build against the default on the model (max |difference| of the logits).
 */
export async function buildChecks(modelBytes: Uint8Array, modelName: string, wasm: BuildBytes, tokens: number[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const synthetic = syntheticModel("stories260k-shape", 5, { config: { dim: 256, hiddenDim: 700, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 1001, seqLen: 16 } });
  const ids = [1, 17, 400, 3, 999, 256, 42, 7];
  const hashOf = (engine: Engine) => {
    const h = new Sha256();
    for (const t of ids) h.update(engine.step(t));
    return h.hex();
  };
  try {
    for (const spec of Object.values(PROBE_SPECS)) {
      const one = await Engine.create(synthetic, { wasmBytes: wasm.default, sparsity: spec });
      const two = await Engine.create(synthetic, { wasmBytes: wasm.threads, workerWasmBytes: wasm.worker, threads: 2, sparsity: spec });
      const same = hashOf(one) === hashOf(two);
      two.close();
      out[`threads2_identical_${spec.method}`] = same;
    }
    // a 270-token prompt in blocks (batched products split), then decode past 256 positions
    // (attention's heads split): the last prompt logits and two steps, 1 thread against 2
    const long = syntheticModel("stories260k-shape", 7, { config: { dim: 256, hiddenDim: 320, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 300, seqLen: 300 } });
    const prompt = Array.from({ length: 270 }, (_, i) => (i * 31 + 7) % 300);
    const promptHash = (engine: Engine) => {
      const h = new Sha256();
      h.update(engine.prefill(prompt));
      for (const t of [3, 250]) h.update(engine.step(t));
      return h.hex();
    };
    const one = await Engine.create(long, { wasmBytes: wasm.default });
    const two = await Engine.create(long, { wasmBytes: wasm.threads, workerWasmBytes: wasm.worker, threads: 2 });
    out.threads2_identical_prompt = promptHash(one) === promptHash(two);
    two.close();
  } catch (e) {
    out.threads_error = (e as Error).message; // a runtime without shared memory: the message says so
  }
  const model = loadModelFromBytes(modelBytes, modelName);
  const exact = await Engine.create(model, { wasmBytes: wasm.default });
  let relaxed: Engine;
  try {
    relaxed = await Engine.create(model, { wasmBytes: wasm.relaxed, relaxed: true });
  } catch (e) {
    out.relaxed_error = (e as Error).message;
    return out;
  }
  let maxDiff = 0;
  let differing = 0;
  for (const t of tokens) {
    const a = exact.step(t);
    const b = relaxed.step(t);
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      if (a[i] !== b[i]) differing++;
    }
  }
  out.relaxed_deterministic = relaxed.deterministic;
  out.relaxed_max_abs_diff = maxDiff;
  out.relaxed_logits_differing = differing;
  return out;
}
