// Threshold calibration for cats and dip-threshold (DIP.md): run the dense model over calibration
// tokens, collect |activation| per layer, take the (1 - keep) quantile. Results are cached in a
// JSON file keyed by model, method, keep and data, so sweeps calibrate once.

import type { Engine } from "./engine.js";
import { Sha256 } from "./sha256.js";
import { maskKeeps, normalizeSpec, SparsityError, type SparsitySpec } from "./sparsity.js";
import type { Calibration } from "./thresholds.js";
import { printable, quote } from "./model.js";

/** A short hash identifying a model's weights (config plus a sample of every layer's MLP). */
export function modelKey(engine: Engine): string {
  const h = new Sha256();
  h.update(JSON.stringify(engine.config));
  for (const l of engine.model.weights.layers) {
    h.update(new Uint8Array(l.wGate.buffer, l.wGate.byteOffset, Math.min(l.wGate.byteLength, 4096)));
    h.update(new Uint8Array(l.wDown.buffer, l.wDown.byteOffset, Math.min(l.wDown.byteLength, 4096)));
  }
  return `${engine.model.name}:${h.hex().slice(0, 16)}`;
}

export function dataKey(tokens: number[]): string {
  return new Sha256().update(Int32Array.from(tokens)).hex().slice(0, 16);
}

/** The value below which a fraction q of v lies (nearest-rank on a sorted copy). */
export function quantile(v: Float32Array, q: number): number {
  if (v.length === 0) return 0;
  const sorted = Float32Array.from(v).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.floor(q * sorted.length)));
  // threshold semantics are "keep if > t": taking the value just below rank keeps ~ (1 - q) n
  return rank === 0 ? -1 : sorted[rank - 1]; // -1: below every |value|, keep all
}

/**
 * Runs the dense model over `sequences` (each starts a fresh KV cache) and returns per-layer
 * thresholds. The engine's sparsity is restored afterwards.
 */
export function calibrate(engine: Engine, spec: SparsitySpec, sequences: number[][]): Calibration {
  const s = normalizeSpec(spec);
  if (s.method !== "cats" && s.method !== "dip-threshold") throw new SparsityError(`method ${s.method} is not calibrated`);
  const c = engine.config;
  const before = engine.sparsity;
  engine.setSparsity({ method: "dense" });
  const capture = engine.enableCapture();
  const nTokens = sequences.reduce((a, q) => a + q.length, 0);
  const inputs = Array.from({ length: c.nLayers }, () => new Float32Array(nTokens * c.dim));
  const hidden = Array.from({ length: c.nLayers }, () => new Float32Array(nTokens * c.hiddenDim));
  let t = 0;
  for (const seq of sequences) {
    engine.reset();
    for (const tok of seq) {
      engine.step(tok);
      const x = capture.input();
      const hv = s.method === "cats" ? capture.gate() : capture.hidden();
      for (let l = 0; l < c.nLayers; l++) {
        const dst = inputs[l].subarray(t * c.dim, (t + 1) * c.dim);
        const src = x.subarray(l * c.dim, (l + 1) * c.dim);
        for (let i = 0; i < c.dim; i++) dst[i] = Math.abs(src[i]);
        const hdst = hidden[l].subarray(t * c.hiddenDim, (t + 1) * c.hiddenDim);
        const hsrc = hv.subarray(l * c.hiddenDim, (l + 1) * c.hiddenDim);
        for (let i = 0; i < c.hiddenDim; i++) hdst[i] = Math.abs(hsrc[i]);
      }
      t++;
    }
  }
  engine.disableCapture();
  engine.setSparsity(before.method === "cats" || before.method === "dip-threshold" ? { method: "dense" } : before);
  const { inputKeep, hiddenKeep } = maskKeeps(s);
  const thresholds = inputs.map((inp, l) => ({
    input: s.method === "cats" ? 0 : quantile(inp, 1 - inputKeep),
    hidden: quantile(hidden[l], 1 - hiddenKeep),
  }));
  return {
    version: 1,
    modelKey: modelKey(engine),
    method: s.method,
    keep: s.keep ?? NaN,
    dataKey: dataKey(sequences.flat()),
    tokens: nTokens,
    thresholds,
  };
}

/** Checks that parsed calibration JSON belongs to this model and method (`file` names it in errors). */
export function checkCalibration(parsed: Calibration, file: string, engine: Engine, spec: SparsitySpec): Calibration {
  if (typeof parsed !== "object" || parsed === null || parsed.version !== 1 || !Array.isArray(parsed.thresholds)) throw new SparsityError(`${file}: not a calibration file (version 1 with thresholds expected)`);
  const key = modelKey(engine);
  if (parsed.modelKey !== key) throw new SparsityError(`${file}: calibration is for model ${printable(String(parsed.modelKey), 40)}, not ${key}`);
  if (parsed.method !== spec.method) throw new SparsityError(`${file}: calibration is for method ${printable(String(parsed.method), 40)}, not ${spec.method}`);
  if (spec.keep !== undefined && parsed.keep !== spec.keep) throw new SparsityError(`${file}: calibration is for keep ${printable(String(parsed.keep), 40)}, not ${spec.keep}`);
  const layers = engine.config.nLayers;
  if (parsed.thresholds.length !== layers) throw new SparsityError(`${file}: thresholds has ${parsed.thresholds.length} layers, the model has ${layers}`);
  parsed.thresholds.forEach((t: unknown, l) => {
    const fields = typeof t === "object" && t !== null ? (t as Record<string, unknown>) : {};
    for (const k of ["input", "hidden"]) {
      const v = fields[k];
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        throw new SparsityError(`${file}: thresholds[${l}].${k} is ${quote(v)}, expected a finite number >= 0`);
      }
    }
  });
  return parsed;
}
