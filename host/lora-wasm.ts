// LoRA adapters in the engine's wasm memory (assembly/model/adapters.ts): laying out their block,
// and moving them in and out. The host holds adapters in PEFT orientation (host/lora.ts); the
// kernels want one input's row contiguous, so each matrix is transposed on the way:
//   lora_A (r, in) <-> A (in, r),   lora_B (out, r) <-> B (r, out).

import type { ModelConfig } from "./model.js";
import { AdapterError, checkAdapters, LORA_TARGET_ID, LORA_TARGETS, loraLinearShape, type LoraAdapters, type LoraTarget } from "./lora.js";
import type { EngineExports } from "./abi.js";

export interface AdapterSettings {
  rank: number;
  alpha: number;
  targets: LoraTarget[];
}

/** The adapters of one engine instance: the block laid out in wasm and the active settings. */
export class EngineAdapters {
  /** the block laid out in wasm (kept for reuse when the next adapters have the same shape) */
  private slots: { rank: number; targets: LoraTarget[] } | undefined;
  private active: (AdapterSettings & { info: Pick<LoraAdapters, "sparsity" | "info"> }) | undefined;

  constructor(
    private readonly wasm: EngineExports,
    private readonly config: ModelConfig,
  ) {}

  /** Applies `adapters` from the next step on (null removes them); throws AdapterError when they do not fit. */
  set(adapters: LoraAdapters | null): void {
    if (!adapters) {
      this.wasm.loraEnable(0);
      this.active = undefined;
      return;
    }
    checkAdapters(adapters, this.config);
    this.layOut(adapters.rank, adapters.alpha, adapters.targets);
    const r = adapters.rank;
    adapters.layers.forEach((layer, l) => {
      for (const t of adapters.targets) {
        const m = layer[t]!;
        const a = this.matrixA(l, t, r, m.inFeatures);
        for (let k = 0; k < r; k++) for (let j = 0; j < m.inFeatures; j++) a[j * r + k] = m.a[k * m.inFeatures + j];
        const b = this.matrixB(l, t, r, m.outFeatures);
        for (let o = 0; o < m.outFeatures; o++) for (let k = 0; k < r; k++) b[k * m.outFeatures + o] = m.b[o * r + k];
      }
    });
    this.active = { rank: r, alpha: adapters.alpha, targets: [...adapters.targets], info: { sparsity: adapters.sparsity, info: adapters.info } };
  }

  /** Fresh trainable adapters: every A ~ N(0, 1/r) from `seed`, every B = 0 (outputs unchanged until trained). */
  init(opts: { rank: number; alpha: number; targets?: readonly LoraTarget[]; seed?: number }): void {
    const targets = LORA_TARGETS.filter((t) => (opts.targets ?? LORA_TARGETS).includes(t));
    if (!Number.isInteger(opts.rank) || opts.rank < 1) throw new AdapterError(`--rank must be a positive integer, got ${opts.rank}`);
    if (!Number.isFinite(opts.alpha) || opts.alpha <= 0) throw new AdapterError(`--alpha must be > 0, got ${opts.alpha}`);
    if (targets.length === 0) throw new AdapterError("no LoRA targets");
    this.layOut(opts.rank, opts.alpha, targets);
    this.wasm.loraInit(opts.seed ?? 0);
    this.active = { rank: opts.rank, alpha: opts.alpha, targets, info: {} };
  }

  /** A copy of the active adapters (PEFT orientation), or null. */
  get(): LoraAdapters | null {
    const cur = this.active;
    if (!cur) return null;
    const r = cur.rank;
    const layers = Array.from({ length: this.config.nLayers }, (_, l) => {
      const layer: LoraAdapters["layers"][number] = {};
      for (const t of cur.targets) {
        const s = loraLinearShape(this.config, t);
        const a = this.matrixA(l, t, r, s.inFeatures);
        const b = this.matrixB(l, t, r, s.outFeatures);
        const pa = new Float32Array(r * s.inFeatures);
        const pb = new Float32Array(s.outFeatures * r);
        for (let k = 0; k < r; k++) for (let j = 0; j < s.inFeatures; j++) pa[k * s.inFeatures + j] = a[j * r + k];
        for (let o = 0; o < s.outFeatures; o++) for (let k = 0; k < r; k++) pb[o * r + k] = b[k * s.outFeatures + o];
        layer[t] = { a: pa, b: pb, ...s };
      }
      return layer;
    });
    return { rank: r, alpha: cur.alpha, targets: [...cur.targets], layers, ...(cur.info.sparsity ? { sparsity: cur.info.sparsity } : {}), ...(cur.info.info ? { info: cur.info.info } : {}) };
  }

  /** Whether adapters are applied, and their rank / alpha / targets. */
  get settings(): AdapterSettings | null {
    return this.active ? { rank: this.active.rank, alpha: this.active.alpha, targets: [...this.active.targets] } : null;
  }

  /** f32 bytes of the active adapters (0 without): the wasm's parameter block. */
  get bytes(): number {
    return this.active ? 4 * this.wasm.loraParamFloats() : 0;
  }

  /** A (in, r) of a layer's target in wasm memory. */
  private matrixA(layer: number, t: LoraTarget, rank: number, inFeatures: number): Float32Array {
    return new Float32Array(this.wasm.memory.buffer, this.wasm.loraA(layer, LORA_TARGET_ID[t]) >>> 0, inFeatures * rank);
  }

  /** B (r, out) of a layer's target in wasm memory. */
  private matrixB(layer: number, t: LoraTarget, rank: number, outFeatures: number): Float32Array {
    return new Float32Array(this.wasm.memory.buffer, this.wasm.loraB(layer, LORA_TARGET_ID[t]) >>> 0, rank * outFeatures);
  }

  /** Makes room for adapters of this shape (reusing the block when the shape is unchanged) and switches them on. */
  private layOut(rank: number, alpha: number, targets: readonly LoraTarget[]): void {
    const same = this.slots && this.slots.rank === rank && this.slots.targets.join() === targets.join();
    if (same) {
      this.wasm.loraSetScale(alpha / rank);
      this.wasm.loraEnable(1);
      return;
    }
    const mask = targets.reduce((m, t) => m | (1 << LORA_TARGET_ID[t]), 0);
    if ((this.wasm.loraConfigure(rank, alpha / rank, mask) >>> 0) === 0) {
      throw new Error(`out of wasm memory allocating rank-${rank} adapters (in use: ${this.wasm.arenaUsedBytes() >>> 0} bytes)`);
    }
    this.slots = { rank, targets: [...targets] };
  }
}
