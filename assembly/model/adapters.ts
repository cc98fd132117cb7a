// LoRA adapters on the MLP's sparsified linears (DIP.md, "LoRA recovery"). Per layer and target
// (gate, up, down) an A [in x r] and a B [r x out], applied after the base weight's gather:
//
//   out += ((x*m) A) B * (alpha / r)          with the same kept inputs m as the base weight
//
// All adapter weights live in one contiguous block (loraParams), so training can treat them as a
// single parameter vector with gradients and optimizer moments laid out alike.

import { arenaAlloc } from "../arena";
import { lowRankAddF32 } from "../kernels/lowrank";
import { allIndices, dim, hiddenDim, nLayers } from "./state";

import { LORA_DOWN, LORA_TARGETS } from "../abi";
export { LORA_GATE, LORA_UP, LORA_DOWN, LORA_TARGETS } from "../abi";

export let loraRank: i32 = 0;
export let loraScale: f32 = 0; // alpha / r
export let loraOn: bool = false;
export let loraParams: usize = 0; // every A and B, contiguous
export let loraParamCount: i32 = 0; // floats in loraParams
let loraTable: usize = 0; // (layer, target, 2) u32 pointers to A and B; 0 = no adapter there
let loraT: usize = 0; // (r) t = (x*m) A of the current linear
let loraDelta: usize = 0; // (hiddenDim) CATS: the up-projection's full low-rank delta

/** Inputs of a target's linear: dim for gate and up, hiddenDim for down. */
export function loraInputs(target: i32): i32 {
  return target == LORA_DOWN ? hiddenDim : dim;
}

/** Outputs of a target's linear: hiddenDim for gate and up, dim for down. */
export function loraOutputs(target: i32): i32 {
  return target == LORA_DOWN ? dim : hiddenDim;
}

/**
 * Allocates zeroed adapters of rank r on the targets whose bit is set in targetMask (bit t =
 * target t), for every layer, and switches them on. Returns the parameter block, or 0 when
 * memory cannot grow (nothing changes then).
 */
export function loraConfigure(rank: i32, scale: f32, targetMask: i32): usize {
  let count: usize = 0;
  for (let t = 0; t < LORA_TARGETS; t++) {
    if (targetMask & (1 << t)) count += <usize>nLayers * <usize>rank * <usize>(loraInputs(t) + loraOutputs(t));
  }
  const params = arenaAlloc(count * 4);
  const table = arenaAlloc(<usize>nLayers * LORA_TARGETS * 8);
  const tBuf = arenaAlloc(<usize>max(rank, 4) * 4);
  const delta = arenaAlloc(<usize>hiddenDim * 4);
  if (params == 0 || table == 0 || tBuf == 0 || delta == 0) return 0;
  let p = params;
  for (let l = 0; l < nLayers; l++) {
    for (let t = 0; t < LORA_TARGETS; t++) {
      if (!(targetMask & (1 << t))) continue;
      const slot = table + ((<usize>l * LORA_TARGETS + <usize>t) << 3);
      store<u32>(slot, <u32>p);
      p += <usize>loraInputs(t) * <usize>rank * 4;
      store<u32>(slot + 4, <u32>p);
      p += <usize>rank * <usize>loraOutputs(t) * 4;
    }
  }
  loraRank = rank;
  loraScale = scale;
  loraParams = params;
  loraParamCount = <i32>count;
  loraTable = table;
  loraT = tBuf;
  loraDelta = delta;
  loraOn = true;
  return params;
}

/** Switches the configured adapters on or off (off: the forward is exactly the base model's). */
export function loraEnable(on: bool): void {
  loraOn = on && loraTable != 0;
}

export function loraSetScale(scale: f32): void {
  loraScale = scale;
}

/** Pointer to A (in x r) of a layer's target, 0 when that linear has no adapter. */
export function loraA(layer: i32, target: i32): usize {
  if (loraTable == 0) return 0;
  return <usize>load<u32>(loraTable + ((<usize>layer * LORA_TARGETS + <usize>target) << 3));
}

/** Pointer to B (r x out) of a layer's target, 0 when that linear has no adapter. */
export function loraB(layer: i32, target: i32): usize {
  if (loraTable == 0) return 0;
  return <usize>load<u32>(loraTable + ((<usize>layer * LORA_TARGETS + <usize>target) << 3) + 4);
}

let rng: u64 = 0;

function nextU64(): u64 {
  // xorshift64*
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1d;
}

/** Standard normal by Box-Muller on two 53-bit uniforms (u1 in (0, 1], so the log is finite). */
function normal(): f64 {
  const u1 = <f64>((nextU64() >> 11) + 1) / 9007199254740992.0;
  const u2 = <f64>(nextU64() >> 11) / 9007199254740992.0;
  return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
}

/**
 * The LoRA initialisation: every A ~ N(0, 1/r), every B = 0 (so a fresh adapter changes nothing).
 * Filled layer by layer, target by target, row by row from one seeded stream: same seed and
 * shapes, same weights, on every runtime.
 */
export function loraInit(seed: f64): void {
  rng = <u64>seed ^ 0x9e3779b97f4a7c15;
  if (rng == 0) rng = 0x2545f4914f6cdd1d;
  const std = Math.sqrt(1.0 / <f64>loraRank);
  for (let l = 0; l < nLayers; l++) {
    for (let t = 0; t < LORA_TARGETS; t++) {
      const a = loraA(l, t);
      if (a == 0) continue;
      const nA = loraInputs(t) * loraRank;
      for (let i = 0; i < nA; i++) store<f32>(a + (<usize>i << 2), <f32>(normal() * std));
      memory.fill(loraB(l, t), 0, <usize>loraRank * <usize>loraOutputs(t) * 4);
    }
  }
}

/** out += ((x*m) A) B * scale for layer l's target, over the kept inputs idx (no-op without an adapter). */
export function loraApply(layer: i32, target: i32, out: usize, x: usize, idx: usize, nKept: i32): void {
  const a = loraA(layer, target);
  if (a == 0) return;
  lowRankAddF32(out, x, idx, nKept, a, loraB(layer, target), loraRank, loraOutputs(target), loraScale, loraT);
}

/**
 * CATS computes W_up only for kept rows (out[k] is row rowIdx[k]): add the low-rank delta of
 * those rows. CATS keeps every input, so the delta is the full x A B, taken at the kept rows.
 */
export function loraApplyRows(layer: i32, target: i32, out: usize, x: usize, rowIdx: usize, nRows: i32): void {
  const a = loraA(layer, target);
  if (a == 0) return;
  const n = loraOutputs(target);
  memory.fill(loraDelta, 0, <usize>n * 4);
  lowRankAddF32(loraDelta, x, allIndices, loraInputs(target), a, loraB(layer, target), loraRank, n, loraScale, loraT);
  for (let k = 0; k < nRows; k++) {
    const o = out + (<usize>k << 2);
    store<f32>(o, load<f32>(o) + load<f32>(loraDelta + (<usize>load<u32>(rowIdx + (<usize>k << 2)) << 2)));
  }
}
