// Mask groups: how a sparsity method's masks map onto cacheable MLP columns. One cache per mask
// (SIMULATOR.md "DRAM partitioning"): an entry is one column in each of the nLin linears the mask
// governs, so the DIP input mask's entry is a column of W_gate and of W_up (nLin 2).
import type { ModelDims } from "./presets.js";

export interface MaskGroup {
  /** "input" (DIP input mask), "hidden" (mask over the intermediate), "gate" (cats' dense W_gate), "predictor" (its A and B, read whole) */
  name: string;
  /** columns one mask indexes */
  nEntries: number;
  /** elements per column of one linear */
  columnHeight: number;
  /** linears sharing one entry */
  nLin: number;
  /** the matrices an entry spans, for reports */
  linears: string[];
  /** read dense every token (the method does not sparsify it): its mask is always full */
  alwaysFull: boolean;
}

export const MASK_METHODS = ["dense", "glu", "dip", "cats", "dip-threshold", "dip-ca", "predictor"] as const;
export type MaskMethod = (typeof MASK_METHODS)[number];

export class MaskGroupError extends Error {
  override name = "MaskGroupError";
}

/**
 * The mask groups of a method for a model (H = dim, I = hiddenDim):
 *   dip, dip-threshold, dip-ca: input  = H entries of height I, W_gate + W_up columns (nLin 2)
 *                               hidden = I entries of height H, W_down columns (nLin 1)
 *   glu:   input read dense every token, hidden as dip
 *   dense: both read dense
 *   cats:  gate = W_gate read dense (H entries, height I, nLin 1);
 *          hidden = I entries of height H: W_up rows + W_down columns (nLin 2)
 *   predictor: predictor = its own A and B, read whole every token (rank entries, each a row of A
 *          and a column of B: height H + I, nLin 1); hidden = I entries of height H: W_gate rows,
 *          W_up rows and W_down columns (nLin 3). No input column is read.
 * Without a gate (gated false) the input group spans W_up only (nLin 1); cats and predictor need a gate.
 */
export function maskGroupsFor(method: string, d: ModelDims, predictorRank = 0): MaskGroup[] {
  const H = d.dim;
  const I = d.hiddenDim;
  const gated = d.gated !== false;
  const input = (alwaysFull: boolean): MaskGroup => ({
    name: "input",
    nEntries: H,
    columnHeight: I,
    nLin: gated ? 2 : 1,
    linears: gated ? ["w_gate", "w_up"] : ["w_up"],
    alwaysFull,
  });
  const hidden = (alwaysFull: boolean): MaskGroup => ({
    name: "hidden", nEntries: I, columnHeight: H, nLin: 1, linears: ["w_down"], alwaysFull,
  });
  switch (method) {
    case "dip":
    case "dip-threshold":
    case "dip-ca":
      return [input(false), hidden(false)];
    case "glu":
      return [input(true), hidden(false)];
    case "dense":
      return [input(true), hidden(true)];
    case "cats":
      if (!gated) throw new MaskGroupError("cats needs a gated (SwiGLU) MLP");
      return [
        { name: "gate", nEntries: H, columnHeight: I, nLin: 1, linears: ["w_gate"], alwaysFull: true },
        { name: "hidden", nEntries: I, columnHeight: H, nLin: 2, linears: ["w_up", "w_down"], alwaysFull: false },
      ];
    case "predictor":
      if (!gated) throw new MaskGroupError("predictor needs a gated (SwiGLU) MLP");
      if (!(predictorRank > 0)) throw new MaskGroupError("predictor: the simulator needs the predictor's rank");
      return [
        { name: "predictor", nEntries: predictorRank, columnHeight: H + I, nLin: 1, linears: ["predictor_a", "predictor_b"], alwaysFull: true },
        { name: "hidden", nEntries: I, columnHeight: H, nLin: 3, linears: ["w_gate", "w_up", "w_down"], alwaysFull: false },
      ];
    default:
      throw new MaskGroupError(`unknown method "${method}"; supported: ${MASK_METHODS.join(", ")}`);
  }
}

/** Checks a group description; throws naming the field. */
export function validateGroup(g: MaskGroup, where: string): void {
  for (const k of ["nEntries", "columnHeight", "nLin"] as const) {
    if (!Number.isSafeInteger(g[k]) || g[k] <= 0) throw new MaskGroupError(`${where}: ${k} must be a positive integer, got ${g[k]}`);
  }
  if (g.nEntries >= 0xffffffff) throw new MaskGroupError(`${where}: nEntries ${g.nEntries} too large`);
}
