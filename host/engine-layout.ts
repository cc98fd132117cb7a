// Lays a LoadedModel out in the engine's wasm memory (../shared/spec/ARCHITECTURE.md, "Memory
// and layout decisions"): the run state, the rotary table, then every weight, each matrix in the
// dtype host/matrix-dtype.ts gives it for the engine's --dtype, written with typed-array views into
// arena blocks and handed to the wasm by pointer with that dtype. The MLP matrices are stored
// input-major, so a pruned input is a skipped contiguous column.

import type { LoadedModel, Q8TileMatrix, QuantizedMatrix } from "./model.js";
import { headDim, ModelFormatError } from "./model.js";
import { ropeInverseFrequencies } from "./rope.js";
import { dequantizeMatrix, q4_0IntoInputMajor, q4_KIntoInputMajor, quantizedIntoQ8, quantizedIntoQ8InputMajor, quantizeQ8InputMajorInto, quantizeQ8Into, q8TileBytes } from "./quant.js";
import { inputMajorDtype, rowMajorDtype } from "./matrix-dtype.js";
import { ggmlRowBytes } from "./formats/ggml-blocks.js";
import { ATTN_NORM, BK, BQ, BV, DTYPE_F32, DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q4_K, DTYPE_Q5_0, DTYPE_Q5_1, DTYPE_Q5_K, DTYPE_Q6_K, DTYPE_Q8, FFN_NORM, Q8_BLOCK, Q8_TILE_BYTES, Q8_TILE_ROWS, QK_K, layoutBytes, ROPE_HALF, ROPE_INTERLEAVED, W_DOWN_T, W_GATE_T, W_UP, WK, WO, WQ, WV, type EngineExports, type WeightDtype } from "./abi.js";
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

/** A weight placed in wasm memory: where, and in which dtype id (assembly/abi.ts DTYPE_*). */
interface Placed {
  ptr: number;
  dtype: number;
}

/** Byte offsets, within one block, of the f16 scales of the ggml types laid out as stored (checked finite at load). */
const STORED_SCALES: Record<number, { blockBytes: number; offsets: number[] }> = {
  [DTYPE_Q4_0]: { blockBytes: 18, offsets: [0] },
  [DTYPE_Q5_0]: { blockBytes: 22, offsets: [0] },
  [DTYPE_Q4_K]: { blockBytes: 144, offsets: [0, 2] },
  [DTYPE_Q6_K]: { blockBytes: 210, offsets: [208] },
  [DTYPE_Q4_1]: { blockBytes: 20, offsets: [0, 2] },
  [DTYPE_Q5_1]: { blockBytes: 24, offsets: [0, 2] },
  [DTYPE_Q5_K]: { blockBytes: 176, offsets: [0, 2] },
  [DTYPE_Q2_K]: { blockBytes: 84, offsets: [80, 82] },
  [DTYPE_Q3_K]: { blockBytes: 110, offsets: [108] },
};

export class WeightLayout {
  /** the resident weights' span of wasm memory [start, end): what the read-bandwidth probe sums */
  readonly span = { start: 0, end: 0 };
  /** the final norm's weights (placed with the layers; the embedding and LM head may come later) */
  private finalNorm = 0;
  /** W_gate / W_up: which layout the layer table points at, and both layouts (row-major made on first use) */
  private readonly mlpLayouts = {
    gate: { field: W_GATE_T, rowMajor: false, inputMajor: [] as Placed[], rowMajorPlaced: [] as Placed[] },
    up: { field: W_UP, rowMajor: false, inputMajor: [] as Placed[], rowMajorPlaced: [] as Placed[] },
  };
  /** MLP matrices whose file values could not be kept exactly in the input-major q8 layout (re-encoded) */
  reencodedMlpMatrices = 0;

  constructor(
    private readonly wasm: EngineExports,
    private readonly model: LoadedModel,
    private readonly dtype: WeightDtype,
    /** the MLP columns live in a weight stream's cache slots, not here */
    private readonly streamed: boolean,
  ) {}

  /** The run state, then the weights; a streamed model's embedding and LM head wait for placeTableRows. */
  layOut(): void {
    const c = this.model.config;
    const hd = headDim(c);
    const rc = this.wasm.engineConfigure(c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, hd, c.vocabSize, c.seqLen, c.rmsEps, c.ropeLayout === "interleaved" ? ROPE_INTERLEAVED : ROPE_HALF);
    if (rc !== 0 || this.wasm.sparsityAllocate() !== 0) throw new Error(`out of wasm memory allocating the run state (KV cache for ${c.seqLen} positions)`);
    const invFreq = ropeInverseFrequencies(c);
    const freqPtr = allocOrThrow(this.wasm, invFreq.byteLength);
    new Float64Array(this.wasm.memory.buffer, freqPtr, invFreq.length).set(invFreq);
    this.wasm.setRopeFrequencies(freqPtr);
    const w = this.model.weights;
    this.span.start = this.wasm.arenaUsedBytes() >>> 0;
    w.layers.forEach((l, i) => {
      const set = (field: number, placed: Placed) => this.wasm.setLayerWeight(i, field, placed.ptr, placed.dtype);
      const f32 = (ptr: number): Placed => ({ ptr, dtype: DTYPE_F32 });
      const p = `layer ${i} `;
      const q = l.quantized ?? {};
      set(ATTN_NORM, f32(this.put(p + "attn_norm", l.attnNorm)));
      const tiles = l.q8Tiles ?? {};
      set(WQ, this.putMatrix(p + "wq", () => l.wq, q.wq, c.nHeads * hd, c.dim, tiles.wq));
      set(WK, this.putMatrix(p + "wk", () => l.wk, q.wk, c.nKvHeads * hd, c.dim, tiles.wk));
      set(WV, this.putMatrix(p + "wv", () => l.wv, q.wv, c.nKvHeads * hd, c.dim, tiles.wv));
      set(WO, this.putMatrix(p + "wo", () => l.wo, q.wo, c.dim, c.nHeads * hd, tiles.wo));
      if (l.bq) set(BQ, f32(this.put(p + "bq", l.bq)));
      if (l.bk) set(BK, f32(this.put(p + "bk", l.bk)));
      if (l.bv) set(BV, f32(this.put(p + "bv", l.bv)));
      set(FFN_NORM, f32(this.put(p + "ffn_norm", l.ffnNorm)));
      if (this.streamed) return; // MLP columns live in the stream's cache slots
      const gate = this.putTransposed(p + "w_gate", () => l.wGate, q.wGate, c.hiddenDim, c.dim);
      this.mlpLayouts.gate.inputMajor.push(gate);
      set(W_GATE_T, gate);
      const up = this.putTransposed(p + "w_up", () => l.wUp, q.wUp, c.hiddenDim, c.dim);
      this.mlpLayouts.up.inputMajor.push(up);
      set(W_UP, up);
      set(W_DOWN_T, this.putTransposed(p + "w_down", () => l.wDown, q.wDown, c.dim, c.hiddenDim));
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
    const rows = (name: string, m: () => Float32Array, q: QuantizedMatrix | undefined, tiles: Q8TileMatrix | undefined, n: number): Placed =>
      n > 0 ? this.putMatrix(name, () => m().subarray(0, n * c.dim), q && firstRows(q, n), n, c.dim, tiles && firstTileRows(tiles, n)) : { ptr: 0, dtype: rowMajorDtype(this.dtype, q, tiles) }; // none held: its streamed rows still have the matrix's dtype
    const emb = rows("token embedding", () => w.tokenEmbedding, w.quantized?.tokenEmbedding, w.q8Tiles?.tokenEmbedding, embeddingRows);
    const lmHead = c.tiedEmbeddings ? emb : rows("lm_head", () => w.lmHead!, w.quantized?.lmHead, w.q8Tiles?.lmHead, lmHeadRows);
    this.wasm.setGlobalWeights(emb.ptr, emb.dtype, this.finalNorm, lmHead.ptr, lmHead.dtype, 0);
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
    if (rowMajor && m.rowMajorPlaced.length === 0) {
      const c = this.model.config;
      this.model.weights.layers.forEach((l, i) => {
        const values = which === "up" ? () => l.wUp : () => l.wGate;
        const q = which === "up" ? l.quantized?.wUp : l.quantized?.wGate;
        m.rowMajorPlaced.push(this.putMatrix(`layer ${i} w_${which}`, values, q, c.hiddenDim, c.dim));
      });
    }
    (rowMajor ? m.rowMajorPlaced : m.inputMajor).forEach((p, i) => this.wasm.setLayerWeight(i, m.field, p.ptr, p.dtype));
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

  /**
   * Writes a row-major [rows x cols] matrix in its dtype (host/matrix-dtype.ts): `values` gives
   * its f32 values (read only when the dtype needs them), `q` the file's blocks if it has them,
   * `tiles` the matrix already in q8 tiles (a q8 .dipstream), copied as stored under q8.
   */
  private putMatrix(name: string, values: () => Float32Array, q: QuantizedMatrix | undefined, rows: number, cols: number, tiles?: Q8TileMatrix): Placed {
    const dtype = rowMajorDtype(this.dtype, q, tiles);
    if (dtype === DTYPE_F32) return { ptr: this.put(name, values()), dtype };
    const bytes = layoutBytes(this.wasm, dtype).matrix(rows, cols);
    const ptr = allocOrThrow(this.wasm, bytes);
    const out = new Uint8Array(this.wasm.memory.buffer, ptr, bytes);
    if (tiles && dtype === DTYPE_Q8) {
      if (tiles.bytes.length !== bytes) throw new ModelFormatError(this.model.source, `tensor ${name} holds ${tiles.bytes.length} bytes of q8 tiles, expected ${bytes} for ${rows} x ${cols}`);
      out.set(tiles.bytes);
      if (!q8ScalesFinite(out, rows, cols)) this.refuseWeight(name, values());
    } else if (dtype !== DTYPE_Q8) {
      // the file's blocks as stored
      out.set(q!.bytes);
      if (!storedScalesFinite(out, dtype)) this.refuseWeight(name, dequantizeMatrix(q!));
    } else if (q) {
      quantizedIntoQ8(out, q);
      if (!q8ScalesFinite(out, rows, cols)) this.refuseWeight(name, dequantizeMatrix(q));
    } else {
      const a = values();
      this.checkSource(name, a);
      quantizeQ8Into(out, a, rows, cols);
    }
    return { ptr, dtype };
  }

  /** Writes W^T of a [rows x cols] matrix: input-major, so one input's column is contiguous. */
  private putTransposed(name: string, values: () => Float32Array, q: QuantizedMatrix | undefined, rows: number, cols: number): Placed {
    const dtype = inputMajorDtype(this.dtype, q);
    if (dtype === DTYPE_Q4_0 || dtype === DTYPE_Q4_K) {
      // the file's values transposed exactly: Q4_0 at 4.5 bits per weight (inputMajorDtype checked
      // its scales fit), Q4_K at 4.75 (its d and dmin widened to f32, checked finite here)
      const bytes = layoutBytes(this.wasm, dtype).inputMajor(cols, rows);
      const ptr = allocOrThrow(this.wasm, bytes);
      const out = new Uint8Array(this.wasm.memory.buffer, ptr, bytes);
      if (dtype === DTYPE_Q4_0) q4_0IntoInputMajor(out, q!);
      else {
        q4_KIntoInputMajor(out, q!);
        const superScales = new Float32Array(this.wasm.memory.buffer, ptr + bytes - 8 * (cols / QK_K) * rows, 2 * (cols / QK_K) * rows);
        if (!superScales.every(Number.isFinite)) this.refuseWeight(name, dequantizeMatrix(q!));
      }
      return { ptr, dtype };
    }
    if (dtype === DTYPE_Q8) {
      const bytes = layoutBytes(this.wasm, dtype).inputMajor(cols, rows);
      const ptr = allocOrThrow(this.wasm, bytes);
      const out = new Uint8Array(this.wasm.memory.buffer, ptr, bytes);
      if (q) {
        // a non-finite block scale in the file fails the re-encoding or the scale check
        let exact = false;
        try {
          exact = quantizedIntoQ8InputMajor(out, q);
        } catch {
          this.refuseWeight(name, dequantizeMatrix(q));
        }
        if (!q8InputMajorScalesFinite(out, rows, cols)) this.refuseWeight(name, dequantizeMatrix(q));
        if (!exact) this.reencodedMlpMatrices++;
      } else {
        const a = values();
        this.checkSource(name, a);
        quantizeQ8InputMajorInto(out, a, rows, cols);
      }
      return { ptr, dtype };
    }
    const a = values();
    const t = new Float32Array(a.length);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) t[c * rows + r] = a[base + c];
    }
    return { ptr: this.put(name, t, a), dtype };
  }
}

/** Whether every f16 scale of ggml blocks laid out as stored is finite (an infinite or NaN one makes its whole block so). */
function storedScalesFinite(bytes: Uint8Array, dtype: number): boolean {
  const { blockBytes, offsets } = STORED_SCALES[dtype];
  for (let at = 0; at < bytes.length; at += blockBytes) {
    for (const o of offsets) if ((bytes[at + o + 1] & 0x7c) === 0x7c) return false;
  }
  return true;
}

/** Whether every f32 scale of a row-major q8 matrix is finite. */
function q8ScalesFinite(bytes: Uint8Array, rows: number, cols: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tiles = Math.ceil(rows / Q8_TILE_ROWS) * Math.ceil(cols / Q8_BLOCK);
  for (let t = 0; t < tiles; t++) {
    for (let i = 0; i < Q8_TILE_ROWS; i++) if (!Number.isFinite(view.getFloat32(t * Q8_TILE_BYTES + Q8_TILE_ROWS * Q8_BLOCK + 4 * i, true))) return false;
  }
  return true;
}

/** Whether every f16 scale of an input-major q8 matrix of W [rows x cols] (after its quants) is finite. */
function q8InputMajorScalesFinite(bytes: Uint8Array, rows: number, cols: number): boolean {
  for (let at = Math.ceil((rows * cols) / 4) * 4; at < bytes.length; at += 2) if ((bytes[at + 1] & 0x7c) === 0x7c) return false;
  return true;
}

/** The first n rows (a multiple of the tile's 8, or all) of a q8 tile matrix (a view). */
function firstTileRows(m: Q8TileMatrix, n: number): Q8TileMatrix {
  return n === m.rows ? m : { ...m, rows: n, bytes: m.bytes.subarray(0, q8TileBytes(n, m.cols)) };
}

/** The first n rows of a quantized matrix (a view). */
function firstRows(q: QuantizedMatrix, n: number): QuantizedMatrix {
  return n === q.rows ? q : { ...q, rows: n, bytes: q.bytes.subarray(0, n * ggmlRowBytes(q.ggmlType, q.cols)) };
}
