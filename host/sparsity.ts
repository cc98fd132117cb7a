// Sparsity settings as the user gives them, and how they map onto the engine's masks (DIP.md).

import { METHOD_CATS, METHOD_DENSE, METHOD_DIP, METHOD_DIP_CA, METHOD_DIP_THRESHOLD, METHOD_GLU, METHOD_PREDICTOR } from "./abi.js";

export const METHODS = ["dense", "glu", "dip", "cats", "dip-threshold", "dip-ca", "predictor"] as const;
export type Method = (typeof METHODS)[number];

/** The wasm-side method ids (assembly/abi.ts). */
export const METHOD_ID: Record<Method, number> = {
  dense: METHOD_DENSE,
  glu: METHOD_GLU,
  dip: METHOD_DIP,
  cats: METHOD_CATS,
  "dip-threshold": METHOD_DIP_THRESHOLD,
  "dip-ca": METHOD_DIP_CA,
  predictor: METHOD_PREDICTOR,
};

export interface SparsitySpec {
  method: Method;
  /** glu, predictor: hidden keep; cats: gate keep; dip, dip-threshold, dip-ca: target MLP density */
  keep?: number;
  /** dip family: explicit input keep (overrides the fitted split; needs downKeep too) */
  upKeep?: number;
  /** dip family: explicit hidden keep */
  downKeep?: number;
  /** dip-ca: penalty for uncached columns, 0 < gamma <= 1 (1 = plain dip) */
  gamma?: number;
  /** dip-ca: ramp gamma in over the first tokens of a sequence */
  warmup?: boolean;
  /** dip-ca: the strongest inputs exempt from the penalty */
  fixedTopN?: number;
  /** dip-ca: re-weight the hidden (down) mask by the cache too */
  cacheAwareHidden?: boolean;
}

/** A user error in sparsity settings. */
export class SparsityError extends Error {
  override name = "SparsityError";
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const logit = (p: number) => Math.log(p / (1 - p));

/**
 * The reference code's fitted split of a target MLP density into input and hidden keeps:
 * (2 up + down) / 3 = keep, up = sigmoid(0.98499 logit(keep) + 0.29976).
 */
export function splitKeep(keep: number): { upKeep: number; downKeep: number } {
  if (keep >= 1) return { upKeep: 1, downKeep: 1 };
  const upKeep = sigmoid(0.9849930711017189 * logit(keep) + 0.29976477589716316);
  const downKeep = 3 * (keep - (2 / 3) * upKeep);
  return { upKeep: clamp01(upKeep), downKeep: clamp01(downKeep) };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** k = floor(keep * n), clamped to [0, n] (DIP.md). */
export function keepCount(keep: number, n: number): number {
  return Math.min(n, Math.max(0, Math.floor(keep * n)));
}

function checkFraction(name: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v <= 0 || v > 1) throw new SparsityError(`${name} must be in (0, 1], got ${v}`);
}

/** Validates a spec and fills in defaults; throws SparsityError naming the bad field. */
export function normalizeSpec(spec: SparsitySpec): SparsitySpec {
  if (!METHODS.includes(spec.method)) {
    throw new SparsityError(`unknown method "${spec.method}"; supported: ${METHODS.join(", ")}`);
  }
  checkFraction("--keep", spec.keep);
  checkFraction("--up-keep", spec.upKeep);
  checkFraction("--down-keep", spec.downKeep);
  const m = spec.method;
  if (m === "dense") return { method: m };
  const dipFamily = m === "dip" || m === "dip-threshold" || m === "dip-ca";
  if (!dipFamily && (spec.upKeep !== undefined || spec.downKeep !== undefined)) {
    throw new SparsityError(`--up-keep/--down-keep apply to dip, dip-threshold and dip-ca, not ${m}`);
  }
  if (dipFamily && (spec.upKeep === undefined) !== (spec.downKeep === undefined)) {
    throw new SparsityError(`give both --up-keep and --down-keep, or --keep alone`);
  }
  if (spec.keep === undefined && spec.upKeep === undefined) {
    throw new SparsityError(`method ${m} needs --keep${dipFamily ? " (or --up-keep and --down-keep)" : ""}`);
  }
  if (m === "dip-ca") {
    const gamma = spec.gamma ?? 1;
    if (!(gamma > 0 && gamma <= 1)) throw new SparsityError(`--gamma must be in (0, 1], got ${spec.gamma}`);
    const fixedTopN = spec.fixedTopN ?? 0;
    if (!Number.isInteger(fixedTopN) || fixedTopN < 0) throw new SparsityError(`--fixed-top-n must be a non-negative integer, got ${spec.fixedTopN}`);
    return { ...spec, gamma, fixedTopN, warmup: spec.warmup ?? false, cacheAwareHidden: spec.cacheAwareHidden ?? false };
  }
  if (spec.gamma !== undefined) throw new SparsityError(`--gamma applies to dip-ca only`);
  return { ...spec };
}

/** Input and hidden keep fractions the spec implies (1 = dense for that mask). */
export function maskKeeps(spec: SparsitySpec): { inputKeep: number; hiddenKeep: number } {
  switch (spec.method) {
    case "dense":
      return { inputKeep: 1, hiddenKeep: 1 };
    case "glu":
    case "cats":
    case "predictor":
      return { inputKeep: 1, hiddenKeep: spec.keep! };
    default: {
      if (spec.upKeep !== undefined) return { inputKeep: spec.upKeep, hiddenKeep: spec.downKeep! };
      const s = splitKeep(spec.keep!);
      return { inputKeep: s.upKeep, hiddenKeep: s.downKeep };
    }
  }
}

/** Whether the method needs per-layer calibrated thresholds. */
export const needsCalibration = (m: Method): boolean => m === "cats" || m === "dip-threshold";

/** A short label for tables: "dense", "dip@0.5", "dip@u0.5/d0.5". */
export function specLabel(spec: SparsitySpec): string {
  if (spec.method === "dense") return "dense";
  if (spec.keep !== undefined) return `${spec.method}@${spec.keep}${spec.method === "dip-ca" ? `/g${spec.gamma}` : ""}`;
  return `${spec.method}@u${spec.upKeep}/d${spec.downKeep}`;
}
