// Lays a LoadedModel out in the engine's wasm memory (../shared/spec/ARCHITECTURE.md, "Memory
// and layout decisions"): the run state, the rotary table, then every weight in the engine's dtype,
// written with typed-array views into arena blocks and handed to the wasm by pointer. The MLP
// matrices are stored input-major, so a pruned input is a skipped contiguous column.

import type { LoadedModel } from "./model.js";
import { headDim, ModelFormatError } from "./model.js";
import { ropeInverseFrequencies } from "./rope.js";
import { quantizeQ8InputMajorInto, quantizeQ8Into } from "./quant.js";
import { ATTN_NORM, BK, BQ, BV, DTYPE_ID, FFN_NORM, layoutBytes, ROPE_HALF, ROPE_INTERLEAVED, W_DOWN_T, W_GATE_T, W_UP, WK, WO, WQ, WV, type EngineExports, type LayoutBytes, type WeightDtype } from "./abi.js";
import { WASM32_USABLE_BYTES } from "./engine-bytes.js";

/**
 * The largest weight magnitude accepted at load: what q8's f16 block scale can hold (65504 x 127,
 * host/quant.ts), far beyond any trained model. A larger one is a corrupt value (a flipped
 * exponent bit) that would overflow to NaN logits.
 */
export const MAX_WEIGHT_MAGNITUDE = 65504 * 127;

/** A view of n f32 at ptr of the engine's memory (valid until memory grows). */
export function f32At(wasm: EngineExports, ptr: number, n: number): Float32Array {
  return new Float32Array(wasm.memory.buffer, ptr, n);
}

/** Takes `bytes` of the arena; throws when wasm memory cannot grow. */
export function allocOrThrow(wasm: EngineExports, bytes: number): number {
  const ptr = wasm.arenaAlloc(bytes) >>> 0;
  if (ptr === 0) throw new Error(`out of wasm memory allocating ${bytes} bytes (in use: ${wasm.arenaUsedBytes() >>> 0} of at most ${WASM32_USABLE_BYTES})`);
  return ptr;
}

export class WeightLayout {
  /** the resident weights' span of wasm memory [start, end): what the read-bandwidth probe sums */
  readonly span = { start: 0, end: 0 };
  private readonly bytes: LayoutBytes;
  /** the final norm's weights (placed with the layers; the embedding and LM head may come later) */
  private finalNorm = 0;
  /** W_gate / W_up: which layout the layer table points at, and both layouts' pointers (row-major made on first use) */
  private readonly mlpLayouts = {
    gate: { field: W_GATE_T, rowMajor: false, inputMajorPtrs: [] as number[], rowMajorPtrs: [] as number[] },
    up: { field: W_UP, rowMajor: false, inputMajorPtrs: [] as number[], rowMajorPtrs: [] as number[] },
  };

  constructor(
    private readonly wasm: EngineExports,
    private readonly model: LoadedModel,
    private readonly dtype: WeightDtype,
    /** the MLP columns live in a weight stream's cache slots, not here */
    private readonly streamed: boolean,
  ) {
    this.bytes = layoutBytes(wasm, dtype);
  }

  /** The run state, then the weights; a streamed model's embedding and LM head wait for placeTableRows. */
  layOut(): void {
    const c = this.model.config;
    const hd = headDim(c);
    this.wasm.setWeightDtype(DTYPE_ID[this.dtype]);
    const rc = this.wasm.engineConfigure(c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, hd, c.vocabSize, c.seqLen, c.rmsEps, c.ropeLayout === "interleaved" ? ROPE_INTERLEAVED : ROPE_HALF);
    if (rc !== 0 || this.wasm.sparsityAllocate() !== 0) throw new Error(`out of wasm memory allocating the run state (KV cache for ${c.seqLen} positions)`);
    const invFreq = ropeInverseFrequencies(c);
    const freqPtr = allocOrThrow(this.wasm, invFreq.byteLength);
    new Float64Array(this.wasm.memory.buffer, freqPtr, invFreq.length).set(invFreq);
    this.wasm.setRopeFrequencies(freqPtr);
    const w = this.model.weights;
    this.span.start = this.wasm.arenaUsedBytes() >>> 0;
    w.layers.forEach((l, i) => {
      const set = (field: number, ptr: number) => this.wasm.setLayerWeight(i, field, ptr);
      const p = `layer ${i} `;
      set(ATTN_NORM, this.put(p + "attn_norm", l.attnNorm));
      set(WQ, this.putMatrix(p + "wq", l.wq, c.nHeads * hd, c.dim));
      set(WK, this.putMatrix(p + "wk", l.wk, c.nKvHeads * hd, c.dim));
      set(WV, this.putMatrix(p + "wv", l.wv, c.nKvHeads * hd, c.dim));
      set(WO, this.putMatrix(p + "wo", l.wo, c.dim, c.nHeads * hd));
      if (l.bq) set(BQ, this.put(p + "bq", l.bq));
      if (l.bk) set(BK, this.put(p + "bk", l.bk));
      if (l.bv) set(BV, this.put(p + "bv", l.bv));
      set(FFN_NORM, this.put(p + "ffn_norm", l.ffnNorm));
      if (this.streamed) return; // MLP columns live in the stream's cache slots
      const gate = this.putTransposed(p + "w_gate", l.wGate, c.hiddenDim, c.dim);
      this.mlpLayouts.gate.inputMajorPtrs.push(gate);
      set(W_GATE_T, gate);
      const up = this.putTransposed(p + "w_up", l.wUp, c.hiddenDim, c.dim);
      this.mlpLayouts.up.inputMajorPtrs.push(up);
      set(W_UP, up);
      set(W_DOWN_T, this.putTransposed(p + "w_down", l.wDown, c.dim, c.hiddenDim));
    });
    this.finalNorm = this.put("final norm", w.finalNorm);
    // a streamed model places the embedding and the LM head last, as many rows as its budget holds (attachStream)
    if (!this.streamed) this.placeTableRows(c.vocabSize, c.vocabSize);
    this.span.end = this.wasm.arenaUsedBytes() >>> 0;
  }

  /** Puts the first rows of the embedding and of the LM head (one matrix when tied) in wasm memory. */
  placeTableRows(embeddingRows: number, lmHeadRows: number): void {
    const c = this.model.config;
    const w = this.model.weights;
    const rows = (name: string, m: Float32Array, n: number) => (n > 0 ? this.putMatrix(name, m.subarray(0, n * c.dim), n, c.dim) : 0);
    const emb = rows("token embedding", w.tokenEmbedding, embeddingRows);
    const lmHead = c.tiedEmbeddings ? emb : rows("lm_head", w.lmHead!, lmHeadRows);
    this.wasm.setGlobalWeights(emb, this.finalNorm, lmHead, 0);
    this.wasm.setResidentRows(embeddingRows, lmHeadRows, c.tiedEmbeddings ? 1 : 0);
  }

  /**
   * CATS reads rows of W_up (one per kept hidden unit), and the predictor rows of W_gate and W_up,
   * so they need those matrices row-major; the other methods gather their columns. The row-major
   * copy is made on first use and kept; the layer table points at the layout in use.
   */
  useRowMajor(which: "gate" | "up", rowMajor: boolean): void {
    const m = this.mlpLayouts[which];
    if (rowMajor === m.rowMajor) return;
    if (rowMajor && m.rowMajorPtrs.length === 0) {
      const c = this.model.config;
      this.model.weights.layers.forEach((l, i) => m.rowMajorPtrs.push(this.putMatrix(`layer ${i} w_${which}`, which === "up" ? l.wUp : l.wGate, c.hiddenDim, c.dim)));
    }
    (rowMajor ? m.rowMajorPtrs : m.inputMajorPtrs).forEach((p, i) => this.wasm.setLayerWeight(i, m.field, p));
    if (which === "up") this.wasm.setUpRowMajor(rowMajor ? 1 : 0);
    m.rowMajor = rowMajor;
  }

  /** Writes f32 values that stay f32 whatever the dtype (the predictor's matrices), checked finite. */
  putF32(name: string, a: Float32Array): number {
    return this.put(name, a);
  }

  /**
   * Writes f32 values, refusing the tensor if any is NaN, infinite or absurdly large (one SIMD
   * pass in wasm); `tensor` is the values in the tensor's own order, for the error.
   */
  private put(name: string, a: Float32Array, tensor = a): number {
    const ptr = allocOrThrow(this.wasm, a.length * 4);
    f32At(this.wasm, ptr, a.length).set(a);
    if (this.wasm.firstAbsAboveF32(ptr, a.length, MAX_WEIGHT_MAGNITUDE) >= 0) this.refuseWeight(name, tensor);
    return ptr;
  }

  /**
   * Quantized tensors never reach wasm memory as f32, so their source is checked here, as put
   * checks f32 ones (the q8 quantizer reads every value anyway).
   */
  private checkSource(name: string, a: Float32Array): void {
    for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]) <= MAX_WEIGHT_MAGNITUDE)) this.refuseWeight(name, a);
  }

  /** Throws naming the tensor and its first bad element (only on the error path: a second scan). */
  private refuseWeight(name: string, a: Float32Array): never {
    const at = a.findIndex((v) => !(Math.abs(v) <= MAX_WEIGHT_MAGNITUDE));
    throw new ModelFormatError(this.model.source, `tensor ${name} holds ${a[at]} at element ${at}; expected finite weights of magnitude at most ${MAX_WEIGHT_MAGNITUDE}`);
  }

  /** Writes a row-major [rows x cols] matrix in the engine's dtype. */
  private putMatrix(name: string, a: Float32Array, rows: number, cols: number): number {
    if (this.dtype === "f32") return this.put(name, a);
    this.checkSource(name, a);
    const bytes = this.bytes.matrix(rows, cols);
    const ptr = allocOrThrow(this.wasm, bytes);
    quantizeQ8Into(new Uint8Array(this.wasm.memory.buffer, ptr, bytes), a, rows, cols);
    return ptr;
  }

  /** Writes W^T of a [rows x cols] matrix: input-major, so one input's column is contiguous. */
  private putTransposed(name: string, a: Float32Array, rows: number, cols: number): number {
    if (this.dtype === "q8") {
      this.checkSource(name, a);
      const bytes = this.bytes.inputMajor(cols, rows);
      const ptr = allocOrThrow(this.wasm, bytes);
      quantizeQ8InputMajorInto(new Uint8Array(this.wasm.memory.buffer, ptr, bytes), a, rows, cols);
      return ptr;
    }
    const t = new Float32Array(a.length);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) t[c * rows + r] = a[base + c];
    }
    return this.put(name, t, a);
  }
}
