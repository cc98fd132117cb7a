// The columns every sweep row starts with, and the row for one evaluated grid point (shared by
// the plain sweep and the simulator sweep, which appends its own columns).
import type { EvalResult } from "../../eval.js";
import { maskKeeps, type SparsitySpec } from "../../sparsity.js";

export const SWEEP_HEADER = [
  "model",
  "method",
  "keep",
  "up_keep",
  "down_keep",
  "mlp_density",
  "weight_bytes_per_token",
  "ppl",
  "mean_nll",
  "tokens",
  "stories",
] as const;

/** SWEEP_HEADER's values for a run of `spec` (keep 1 for dense) that gave `r`. */
export function sweepRow(model: string, spec: SparsitySpec, keep: number | undefined, r: EvalResult, stories: number): string[] {
  const { inputKeep, hiddenKeep } = maskKeeps(spec);
  return [
    model,
    spec.method,
    String(keep ?? 1),
    String(inputKeep),
    String(hiddenKeep),
    String(r.mlp_density),
    String(r.weight_bytes_per_token),
    String(r.ppl),
    String(r.mean_nll),
    String(r.tokens),
    String(stories),
  ];
}
