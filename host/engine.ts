// The Engine: lays a LoadedModel out in wasm memory and drives the wasm forward step.
// The host never does per-token math: it passes token ids in and reads logits, masks and byte
// counters out.

import type { LoadedModel, ModelConfig } from "./model.js";
import { headDim, validateWeights } from "./model.js";
import { checkRuntimeRuns, defaultEngineBytes, hostHooks, instantiateEngine, type EngineBuild, type EngineExports } from "./wasm.js";
import { checkThreadSupport, startThreads, type ThreadHandle } from "./threads.js";
import { attachStream, streamIOMode, type StreamOptions, type StreamSetup } from "./stream/weights.js";
import { keepCount, maskKeeps, METHOD_ID, needsCalibration, normalizeSpec, SparsityError, type SparsitySpec } from "./sparsity.js";
import type { Calibration } from "./thresholds.js";
import { ropeInverseFrequencies } from "./rope.js";
import { q8Blocks, q8InputMajorBytes, q8MatrixBytes, quantizeQ8InputMajorInto, quantizeQ8Into } from "./quant.js";
import { checkMemoryCap } from "./memory-cap.js";
import { AdapterError, checkAdapters, LORA_TARGET_ID, LORA_TARGETS, loraLinearShape, type LoraAdapters, type LoraTarget } from "./lora.js";

/** Weight precision in wasm memory: f32, or q8 (int8 blocks of 32 with an f32 scale). */
export type WeightDtype = "f32" | "q8";
export const WEIGHT_DTYPES: WeightDtype[] = ["f32", "q8"];

/** Field ids of the wasm layer table (assembly/model/state.ts). */
const FIELD = { attnNorm: 0, wq: 1, wk: 2, wv: 3, wo: 4, bq: 5, bk: 6, bv: 7, ffnNorm: 8, wGateT: 9, wUp: 10, wDownT: 11 } as const;

/** wasm32 addresses 4 GiB; a model may use all but headroom for the runtime and activations. */
export const WASM32_USABLE_BYTES = 4 * 1024 ** 3 - 64 * 1024 ** 2;

/** Typed wrappers over the raw exports (pointers come back as signed i32: `>>> 0` them). */
interface Wasm {
  memory: WebAssembly.Memory;
  arenaAlloc(bytes: number): number;
  arenaUsedBytes(): number;
  engineConfigure(dim: number, hidden: number, layers: number, heads: number, kvHeads: number, headDim: number, vocab: number, seqLen: number, eps: number, ropeLayout: number): number;
  setRopeFrequencies(invFreq: number): void;
  setLayerWeight(layer: number, field: number, ptr: number): void;
  setGlobalWeights(emb: number, finalNorm: number, lmHead: number, upRowMajor: number): void;
  setUpRowMajor(rowMajor: number): void;
  setWeightDtype(dtype: number): void;
  resetByteCounters(): void;
  forward(token: number, pos: number): void;
  setCapture(input: number, hidden: number, gate: number): void;
  setMethod(method: number, inputK: number, hiddenK: number): void;
  sparsityAllocate(): number;
  setLayerThresholds(layer: number, input: number, hidden: number): void;
  setCacheAware(gamma: number, warmup: number, fixedTopN: number, hiddenToo: number): void;
  setCachedFlags(layer: number, inputFlags: number, hiddenFlags: number): void;
  seedRng(seed: number): void;
  argmax(): number;
  sample(temperature: number, topP: number): number;
  nllOf(target: number): number;
  logitsPtr(): number;
  inputKeptPtr(layer: number): number;
  inputKeptCount(layer: number): number;
  hiddenKeptPtr(layer: number): number;
  hiddenKeptCount(layer: number): number;
  bytesEmbedding(): number;
  bytesAttention(): number;
  bytesMlp(): number;
  bytesLmHead(): number;
  loraConfigure(rank: number, scale: number, targetMask: number): number;
  loraEnable(on: number): void;
  loraSetScale(scale: number): void;
  loraA(layer: number, target: number): number;
  loraB(layer: number, target: number): number;
  loraInit(seed: number): void;
  streamBeginSequence(): void;
  setResidentRows(embeddingRows: number, lmHeadRows: number, tied: number): void;
  threadsSetup(threads: number, canWait: number): number;
  threadsStop(): void;
  threadsChunks(): number;
  threadsChunksOnMain(): number;
  readSumF32(ptr: number, n: number): number;
  readSum4StreamsF32(ptr: number, n: number): number;
}

/** Pages of the shared memory the threads build starts with (its initialMemory in asconfig.json). */
const THREADS_INITIAL_PAGES = 16;
/** wasm32's 4 GiB: a shared memory must declare its maximum. */
const WASM32_MAX_PAGES = 65536;
export const MAX_THREADS = 64;

export interface WeightBytes {
  embedding: number;
  attention: number;
  mlp: number;
  lm_head: number;
}

export interface EngineOptions {
  /** wasm bytes to instantiate (the runtime-neutral path); default: the registered loader (Node: build/engine.wasm) */
  wasmBytes?: BufferSource;
  /** sparsity to start with (default dense) */
  sparsity?: SparsitySpec;
  /** per-layer thresholds for cats / dip-threshold */
  calibration?: Calibration;
  /** weight precision in wasm memory (default f32); q8 quantizes matrices at load */
  dtype?: WeightDtype;
  /** stream the MLP columns from storage into a DRAM-budgeted column cache (host/stream.ts); f32 only */
  stream?: StreamOptions;
  /**
   * run the relaxed-SIMD build (build/engine-relaxed.wasm): the f32 kernels use fused multiply-add
   * where the machine has it, so results may differ between machines (engine.deterministic is false)
   */
  relaxed?: boolean;
  /**
   * threads sharing each big f32 product (default 1): more than 1 runs the threads build
   * (build/engine-threads.wasm) with threads-1 workers; results are bit-identical to 1 thread.
   * Needs SharedArrayBuffer (pages: COOP/COEP headers). Call engine.close() to stop the workers.
   */
  threads?: number;
  /** with `threads` and `wasmBytes`: the bytes of build/thread-worker.wasm */
  workerWasmBytes?: BufferSource;
  /** the most wasm memory the engine may take (webviews cap it): a model over it is refused up front (host/memory-cap.ts) */
  maxMemoryBytes?: number;
}

/** Masks of one token: per layer, the kept indices (ascending) of the MLP input and hidden vectors. */
export interface TokenMasks {
  input: Uint32Array[];
  hidden: Uint32Array[];
}

export class Engine {
  readonly config: ModelConfig;
  readonly model: LoadedModel;
  /** next position to fill in the KV cache */
  pos = 0;
  private spec: SparsitySpec = { method: "dense" };
  private upRowMajor = false;
  private upPtrs: { inputMajor: number[]; rowMajor: number[] } = { inputMajor: [], rowMajor: [] };
  /** the adapter block laid out in wasm (kept for reuse when the next adapters have the same shape) */
  private loraSlots: { rank: number; targets: LoraTarget[] } | undefined;
  private lora: { rank: number; alpha: number; targets: LoraTarget[]; info: Pick<LoraAdapters, "sparsity" | "info"> } | undefined;
  /** set when the MLP columns are streamed from storage (Engine.create with `stream`) */
  streamSetup: StreamSetup | undefined;
  private streamed = false;
  /** false for the relaxed-SIMD build: results may differ between machines */
  deterministic = true;
  /** threads sharing each big product */
  threads = 1;
  private threadHandles: ThreadHandle[] = [];
  /** the resident weights' span of wasm memory [start, end): what the read-bandwidth probe sums */
  private weightSpan = { start: 0, end: 0 };
  /** the final norm's weights (placed with the layers; the embedding and LM head may come later) */
  private finalNorm = 0;

  private constructor(
    readonly wasm: Wasm,
    model: LoadedModel,
    readonly dtype: WeightDtype,
  ) {
    this.model = model;
    this.config = model.config;
  }

  static async create(model: LoadedModel, opts: EngineOptions = {}): Promise<Engine> {
    const dtype = opts.dtype ?? "f32";
    if (!WEIGHT_DTYPES.includes(dtype)) throw new RangeError(`--dtype must be one of ${WEIGHT_DTYPES.join(", ")}, got ${dtype}`);
    if (opts.stream && dtype !== "f32") throw new RangeError("streamed weights are f32 only in this version (--dtype f32)");
    // streamed MLP columns are not resident (their cache is bounded by the DRAM budget instead)
    const need = Engine.requiredBytes(model.config, dtype) - (opts.stream ? model.config.nLayers * 3 * 4 * model.config.dim * model.config.hiddenDim : 0);
    if (need > WASM32_USABLE_BYTES) {
      const fits = WEIGHT_DTYPES.filter((d) => Engine.requiredBytes(model.config, d) <= WASM32_USABLE_BYTES);
      throw new RangeError(
        `${model.name} needs ${(need / 1e9).toFixed(2)} GB of wasm memory in ${dtype} (weights + KV cache for ${model.config.seqLen} positions), ` +
          `over the ${(WASM32_USABLE_BYTES / 1e9).toFixed(2)} GB that wasm32 can address; ` +
          (fits.length ? `it fits with --dtype ${fits.join(" or ")}` : "no supported dtype fits"),
      );
    }
    if (opts.maxMemoryBytes !== undefined) {
      const bytesIn = Object.fromEntries(WEIGHT_DTYPES.map((d) => [d, Engine.requiredBytes(model.config, d)]));
      checkMemoryCap(model, { bytes: need, dtype, bytesIn, streamDramBytes: opts.stream?.dramBytes }, opts.maxMemoryBytes);
    }
    validateWeights(model, { mlpStreamed: opts.stream !== undefined });
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) throw new RangeError(`--threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
    if (threads > 1 && opts.relaxed) throw new RangeError("--relaxed and --threads above 1 are separate builds: pick one");
    // reads on an I/O thread need a shared memory: the threads build, with one compute thread if asked for one
    if (opts.stream) opts = { ...opts, stream: { ...opts.stream, io: streamIOMode(opts.stream, { relaxed: opts.relaxed, callerBytes: opts.wasmBytes !== undefined }) } };
    const ioThread = opts.stream?.io === "thread";
    const build: EngineBuild = opts.relaxed ? "relaxed" : threads > 1 || ioThread ? "threads" : "default";
    const bytes = opts.wasmBytes ?? (await defaultEngineBytes(build));
    checkRuntimeRuns(bytes, build);
    let exports: EngineExports;
    let handles: ThreadHandle[] = [];
    if (build === "threads") {
      ({ exports, handles } = await Engine.startThreaded(bytes, threads, async () => opts.workerWasmBytes ?? (await defaultEngineBytes("thread-worker"))));
    } else {
      exports = await instantiateEngine(bytes);
    }
    const engine = new Engine(exports as unknown as Wasm, model, dtype);
    engine.deterministic = !opts.relaxed;
    engine.threads = threads;
    engine.threadHandles = handles;
    engine.streamed = opts.stream !== undefined;
    try {
      engine.layOut();
      if (opts.stream) {
        engine.streamSetup = attachStream(exports as never, hostHooks(exports), opts.stream, (e, h) => engine.placeTableRows(e, h));
        // DIP-CA sees the real cache: its flags are the stream's (the simulator state that governs it)
        const flags = (exports as unknown as { simCachedFlags(l: number, g: number): number }).simCachedFlags;
        for (let l = 0; l < model.config.nLayers; l++) engine.setCachedFlags(l, flags(l, 0) >>> 0, flags(l, 1) >>> 0);
      }
      engine.setSparsity(opts.sparsity ?? { method: "dense" }, opts.calibration);
    } catch (e) {
      engine.close(); // no workers left behind
      throw e;
    }
    return engine;
  }

  /**
   * The threads build on a fresh shared memory, with threads-1 workers waiting in their loop. With
   * one thread (a stream read on an I/O thread needs the shared memory only) there is nothing to
   * set up: the arena is laid out exactly as the default build's.
   */
  private static async startThreaded(bytes: BufferSource, threads: number, workerBytesOf: () => Promise<BufferSource>): Promise<{ exports: EngineExports; handles: ThreadHandle[] }> {
    if (threads > 1) checkThreadSupport();
    const memory = new WebAssembly.Memory({ initial: THREADS_INITIAL_PAGES, maximum: WASM32_MAX_PAGES, shared: true });
    const exports = await instantiateEngine(bytes, memory);
    const wasm = exports as unknown as Wasm;
    if (typeof wasm.threadsSetup !== "function") throw new Error("threads: the engine wasm given is not the threads build (build/engine-threads.wasm)");
    if (threads === 1) return { exports, handles: [] };
    const workerBytes = await workerBytesOf();
    checkRuntimeRuns(workerBytes, "thread-worker");
    // a page's main thread may not block in Atomics.wait: there the engine spins instead
    const canWait = typeof (globalThis as { document?: unknown }).document === "undefined" ? 1 : 0;
    const job = wasm.threadsSetup(threads, canWait) >>> 0;
    if (job === 0) throw new Error("threads: the engine wasm given is not the threads build (build/engine-threads.wasm), or it is out of memory");
    const handles = await startThreads(await WebAssembly.compile(workerBytes), memory, job, threads);
    return { exports, handles };
  }

  /** Stops the worker threads (if any); the engine keeps working on one thread. */
  close(): void {
    this.streamSetup?.close();
    if (this.threadHandles.length === 0) return;
    this.wasm.threadsStop();
    for (const h of this.threadHandles) h.terminate();
    this.threadHandles = [];
    this.threads = 1;
  }

  /** Chunks of split products run so far: all, and those the calling thread ran (the rest ran on workers). */
  threadChunks(): { all: number; onMain: number } {
    if (typeof this.wasm.threadsChunks !== "function") return { all: 0, onMain: 0 };
    return { all: this.wasm.threadsChunks(), onMain: this.wasm.threadsChunksOnMain() };
  }

  /** Bytes of weights (in `dtype`) plus the f32 KV cache the engine needs in wasm memory. */
  static requiredBytes(c: ModelConfig, dtype: WeightDtype = "f32"): number {
    const hd = headDim(c);
    const m = (rows: number, cols: number) => (dtype === "q8" ? q8MatrixBytes(rows, cols) : 4 * rows * cols);
    const mIn = (nIn: number, nOut: number) => (dtype === "q8" ? q8InputMajorBytes(nIn, nOut) : 4 * nIn * nOut);
    const qDim = c.nHeads * hd;
    const kvDim = c.nKvHeads * hd;
    const perLayer = 8 * c.dim + m(qDim, c.dim) + 2 * m(kvDim, c.dim) + m(c.dim, qDim) + 2 * mIn(c.dim, c.hiddenDim) + mIn(c.hiddenDim, c.dim);
    const kv = 4 * 2 * c.nLayers * c.seqLen * kvDim;
    return m(c.vocabSize, c.dim) * (c.tiedEmbeddings ? 1 : 2) + 4 * c.dim + c.nLayers * perLayer + kv;
  }

  private alloc(bytes: number): number {
    const ptr = this.wasm.arenaAlloc(bytes) >>> 0;
    if (ptr === 0) {
      throw new Error(`out of wasm memory allocating ${bytes} bytes (in use: ${this.wasm.arenaUsedBytes() >>> 0} of at most ${WASM32_USABLE_BYTES})`);
    }
    return ptr;
  }

  private f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.wasm.memory.buffer, ptr, n);
  }

  private put(a: Float32Array): number {
    const ptr = this.alloc(a.length * 4);
    this.f32(ptr, a.length).set(a);
    return ptr;
  }

  /** Writes a row-major [rows x cols] matrix in the engine's dtype. */
  private putMatrix(a: Float32Array, rows: number, cols: number): number {
    if (this.dtype === "f32") return this.put(a);
    const bytes = q8MatrixBytes(rows, cols);
    const ptr = this.alloc(bytes);
    quantizeQ8Into(new Uint8Array(this.wasm.memory.buffer, ptr, bytes), a, rows, cols);
    return ptr;
  }

  /** Writes W^T of a [rows x cols] matrix: input-major, so one input's column is contiguous. */
  private putTransposed(a: Float32Array, rows: number, cols: number): number {
    if (this.dtype === "q8") {
      const bytes = q8InputMajorBytes(cols, rows);
      const ptr = this.alloc(bytes);
      quantizeQ8InputMajorInto(new Uint8Array(this.wasm.memory.buffer, ptr, bytes), a, rows, cols);
      return ptr;
    }
    const t = new Float32Array(a.length);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) t[c * rows + r] = a[base + c];
    }
    return this.put(t);
  }

  private layOut(): void {
    const c = this.config;
    const hd = headDim(c);
    this.wasm.setWeightDtype(this.dtype === "q8" ? 1 : 0);
    const rc = this.wasm.engineConfigure(c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, headDim(c), c.vocabSize, c.seqLen, c.rmsEps, c.ropeLayout === "interleaved" ? 0 : 1);
    if (rc !== 0 || this.wasm.sparsityAllocate() !== 0) throw new Error(`out of wasm memory allocating the run state (KV cache for ${c.seqLen} positions)`);
    const invFreq = ropeInverseFrequencies(c);
    const freqPtr = this.alloc(invFreq.byteLength);
    new Float64Array(this.wasm.memory.buffer, freqPtr, invFreq.length).set(invFreq);
    this.wasm.setRopeFrequencies(freqPtr);
    const w = this.model.weights;
    this.weightSpan.start = this.wasm.arenaUsedBytes() >>> 0;
    w.layers.forEach((l, i) => {
      const set = (f: number, p: number) => this.wasm.setLayerWeight(i, f, p);
      set(FIELD.attnNorm, this.put(l.attnNorm));
      set(FIELD.wq, this.putMatrix(l.wq, c.nHeads * hd, c.dim));
      set(FIELD.wk, this.putMatrix(l.wk, c.nKvHeads * hd, c.dim));
      set(FIELD.wv, this.putMatrix(l.wv, c.nKvHeads * hd, c.dim));
      set(FIELD.wo, this.putMatrix(l.wo, c.dim, c.nHeads * hd));
      if (l.bq) set(FIELD.bq, this.put(l.bq));
      if (l.bk) set(FIELD.bk, this.put(l.bk));
      if (l.bv) set(FIELD.bv, this.put(l.bv));
      set(FIELD.ffnNorm, this.put(l.ffnNorm));
      if (this.streamed) return; // MLP columns live in the stream's cache slots
      set(FIELD.wGateT, this.putTransposed(l.wGate, c.hiddenDim, c.dim));
      const up = this.putTransposed(l.wUp, c.hiddenDim, c.dim);
      this.upPtrs.inputMajor.push(up);
      set(FIELD.wUp, up);
      set(FIELD.wDownT, this.putTransposed(l.wDown, c.dim, c.hiddenDim));
    });
    this.finalNorm = this.put(w.finalNorm);
    // a streamed model places the embedding and the LM head last, as many rows as its budget holds (attachStream)
    if (!this.streamed) this.placeTableRows(c.vocabSize, c.vocabSize);
    this.weightSpan.end = this.wasm.arenaUsedBytes() >>> 0;
  }

  /** Puts the first rows of the embedding and of the LM head (one matrix when tied) in wasm memory. */
  private placeTableRows(embeddingRows: number, lmHeadRows: number): void {
    const c = this.config;
    const w = this.model.weights;
    const rows = (m: Float32Array, n: number) => (n > 0 ? this.putMatrix(m.subarray(0, n * c.dim), n, c.dim) : 0);
    const emb = rows(w.tokenEmbedding, embeddingRows);
    const lmHead = c.tiedEmbeddings ? emb : rows(w.lmHead!, lmHeadRows);
    this.wasm.setGlobalWeights(emb, this.finalNorm, lmHead, 0);
    this.wasm.setResidentRows(embeddingRows, lmHeadRows, c.tiedEmbeddings ? 1 : 0);
  }

  /**
   * This machine's memory read bandwidth as the engine sees it, GB/s (powers of 10): SIMD read-sums
   * (assembly/kernels/bandwidth.ts) over the resident weights, the bytes every token reads; the
   * better of one sequential stream and four side by side (as bench/kernels.bench.ts), median of
   * `passes`. The weights were written at load, so every page is real memory. For a model whose
   * weights fit in the CPU caches this measures the caches, which is then what the forward pass reads.
   */
  measureReadBandwidth(passes = 5): { gbps: number; bytes: number } {
    const start = Math.ceil(this.weightSpan.start / 64) * 64;
    const floats = Math.floor((this.weightSpan.end - start) / 64) * 16;
    if (floats <= 0) return { gbps: 0, bytes: 0 };
    // a small model's weights are read several times per sample, so the clock sees >= 64 MB
    const reps = Math.ceil(64e6 / (floats * 4));
    const median = (probe: (p: number, n: number) => number) => {
      const ms: number[] = [];
      for (let i = 0; i < passes; i++) {
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) probe(start, floats);
        ms.push(performance.now() - t0);
      }
      return ms.sort((a, b) => a - b)[Math.floor(passes / 2)];
    };
    const best = Math.min(median((p, n) => this.wasm.readSumF32(p, n)), median((p, n) => this.wasm.readSum4StreamsF32(p, n)));
    return { gbps: (reps * floats * 4) / (best / 1e3) / 1e9, bytes: floats * 4 };
  }

  /**
   * CATS reads rows of W_up (one per kept hidden unit), so it needs W_up row-major; the other
   * methods gather its columns. The row-major copy is made on first use and kept.
   */
  private useUpRowMajor(rowMajor: boolean): void {
    if (rowMajor === this.upRowMajor) return;
    if (rowMajor && this.upPtrs.rowMajor.length === 0) {
      const c = this.config;
      for (const l of this.model.weights.layers) this.upPtrs.rowMajor.push(this.putMatrix(l.wUp, c.hiddenDim, c.dim));
    }
    const ptrs = rowMajor ? this.upPtrs.rowMajor : this.upPtrs.inputMajor;
    ptrs.forEach((p, i) => this.wasm.setLayerWeight(i, FIELD.wUp, p));
    this.wasm.setUpRowMajor(rowMajor ? 1 : 0);
    this.upRowMajor = rowMajor;
  }

  /** Selects the sparsity method. cats and dip-threshold need a calibration. */
  setSparsity(spec: SparsitySpec, calibration?: Calibration): void {
    const s = normalizeSpec(spec);
    const c = this.config;
    if (this.streamed && s.method === "cats") throw new SparsityError("cats reads rows of W_up, which a weight stream does not store: not available with --stream");
    const { inputKeep, hiddenKeep } = maskKeeps(s);
    if (needsCalibration(s.method)) {
      if (!calibration) throw new SparsityError(`method ${s.method} needs a calibration (thresholds per layer); see --calib`);
      if (calibration.thresholds.length !== c.nLayers) {
        throw new SparsityError(`calibration has ${calibration.thresholds.length} layers, the model has ${c.nLayers}`);
      }
      calibration.thresholds.forEach((t, l) => this.wasm.setLayerThresholds(l, t.input, t.hidden));
    }
    this.useUpRowMajor(s.method === "cats");
    this.wasm.setMethod(METHOD_ID[s.method], keepCount(inputKeep, c.dim), keepCount(hiddenKeep, c.hiddenDim));
    if (s.method === "dip-ca") this.wasm.setCacheAware(s.gamma!, s.warmup ? 1 : 0, s.fixedTopN!, s.cacheAwareHidden ? 1 : 0);
    this.spec = s;
  }

  get sparsity(): SparsitySpec {
    return this.spec;
  }

  /** The k used by the input and hidden top-k (for reports and tests). */
  get maskSizes(): { inputK: number; hiddenK: number } {
    const { inputKeep, hiddenKeep } = maskKeeps(this.spec);
    return { inputK: keepCount(inputKeep, this.config.dim), hiddenK: keepCount(hiddenKeep, this.config.hiddenDim) };
  }

  /** Starts a new sequence (the KV cache is overwritten from position 0). */
  reset(): void {
    this.pos = 0;
    if (this.streamed) this.wasm.streamBeginSequence(); // caches start empty per sequence, as in the simulator
  }

  /** Runs one token at the next position and returns a view of the logits (valid until the next call). */
  step(token: number): Float32Array {
    const c = this.config;
    if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
      throw new RangeError(`token id ${token} is out of the vocabulary (0..${c.vocabSize - 1})`);
    }
    if (this.pos >= c.seqLen) throw new RangeError(`sequence is longer than the model's context of ${c.seqLen} tokens`);
    try {
      this.wasm.forward(token, this.pos);
    } catch (e) {
      // a failed read (a checksum mismatch, a cut file) may leave a column counted as cached whose
      // bytes were never checked: empty the caches, so a later step reads and checks it again
      if (this.streamed) this.wasm.streamBeginSequence();
      throw e;
    }
    this.pos++;
    return this.logits();
  }

  logits(): Float32Array {
    return this.f32(this.wasm.logitsPtr() >>> 0, this.config.vocabSize);
  }

  /** Seeds the engine's PRNG (same seed, same samples, on every runtime). */
  seed(seed: number): void {
    this.wasm.seedRng(seed);
  }

  /** Picks the next token from the current logits (greedy at temperature 0). Overwrites the logits. */
  sample(temperature: number, topP: number): number {
    return temperature <= 0 ? this.wasm.argmax() : this.wasm.sample(temperature, topP);
  }

  /** -log p(target) under the current logits. */
  nll(target: number): number {
    return this.wasm.nllOf(target);
  }

  /** Copies of the masks the last step used. */
  lastMasks(): TokenMasks {
    const input: Uint32Array[] = [];
    const hidden: Uint32Array[] = [];
    const mem = this.wasm.memory.buffer;
    for (let l = 0; l < this.config.nLayers; l++) {
      input.push(new Uint32Array(mem, this.wasm.inputKeptPtr(l) >>> 0, this.wasm.inputKeptCount(l)).slice());
      hidden.push(new Uint32Array(mem, this.wasm.hiddenKeptPtr(l) >>> 0, this.wasm.hiddenKeptCount(l)).slice());
    }
    return { input, hidden };
  }

  /** Kept counts of the last step, per layer (no copies). */
  lastMaskCounts(layer: number): { input: number; hidden: number } {
    return { input: this.wasm.inputKeptCount(layer), hidden: this.wasm.hiddenKeptCount(layer) };
  }

  /** Weight bytes read since the last resetBytes(), by group. */
  bytesRead(): WeightBytes {
    return {
      embedding: this.wasm.bytesEmbedding(),
      attention: this.wasm.bytesAttention(),
      mlp: this.wasm.bytesMlp(),
      lm_head: this.wasm.bytesLmHead(),
    };
  }

  resetBytes(): void {
    this.wasm.resetByteCounters();
  }

  /** Bytes read for one row of n weights in this engine's dtype (the wasm counter's unit). */
  private rowBytes(n: number): number {
    return this.dtype === "q8" ? 36 * q8Blocks(n) : 4 * n;
  }

  /** Bytes of a row-major [rows x cols] matrix as a dense matvec reads it (q8: whole tiles of 8 rows). */
  private matrixBytes(rows: number, cols: number): number {
    return this.dtype === "q8" ? q8MatrixBytes(rows, cols) : 4 * rows * cols;
  }

  /** Bytes of all nIn columns of an input-major MLP matrix (q8: quants and every block's f16 scales). */
  private columnsBytes(nIn: number, nOut: number): number {
    return this.dtype === "q8" ? nIn * nOut + 2 * nOut * q8Blocks(nIn) : 4 * nIn * nOut;
  }

  /** Weight bytes one dense token reads, by group, counted as the engine's byte counter counts. */
  denseBytesPerToken(): WeightBytes {
    const c = this.config;
    const kvDim = c.nKvHeads * headDim(c);
    const qDim = c.nHeads * headDim(c);
    return {
      embedding: this.rowBytes(c.dim),
      attention: c.nLayers * (this.matrixBytes(qDim, c.dim) + 2 * this.matrixBytes(kvDim, c.dim) + this.matrixBytes(c.dim, qDim)),
      mlp: c.nLayers * (2 * this.columnsBytes(c.dim, c.hiddenDim) + this.columnsBytes(c.hiddenDim, c.dim)),
      lm_head: this.matrixBytes(c.vocabSize, c.dim),
    };
  }

  /** Weight bytes of the model by group as stored in wasm memory (norms and biases are f32). */
  weightBytes(): WeightBytes {
    const c = this.config;
    const hd = headDim(c);
    const bias = this.model.weights.layers[0]?.bq ? 4 * (c.nHeads + 2 * c.nKvHeads) * hd : 0;
    return {
      embedding: this.matrixBytes(c.vocabSize, c.dim),
      attention: c.nLayers * (8 * c.dim + bias + this.matrixBytes(c.nHeads * hd, c.dim) + 2 * this.matrixBytes(c.nKvHeads * hd, c.dim) + this.matrixBytes(c.dim, c.nHeads * hd)),
      mlp: c.nLayers * (2 * this.columnsBytes(c.dim, c.hiddenDim) + this.columnsBytes(c.hiddenDim, c.dim)),
      lm_head: c.tiedEmbeddings ? 0 : this.matrixBytes(c.vocabSize, c.dim),
    };
  }

  /**
   * Captures the dense activations per layer on every step (for calibration): returns views of
   * the MLP input x, h and silu(gate) of the last token, each (layer, n).
   */
  enableCapture(): { input: () => Float32Array; hidden: () => Float32Array; gate: () => Float32Array } {
    const c = this.config;
    const inPtr = this.alloc(4 * c.nLayers * c.dim);
    const hidPtr = this.alloc(4 * c.nLayers * c.hiddenDim);
    const gatePtr = this.alloc(4 * c.nLayers * c.hiddenDim);
    this.wasm.setCapture(inPtr, hidPtr, gatePtr);
    return {
      input: () => this.f32(inPtr, c.nLayers * c.dim),
      hidden: () => this.f32(hidPtr, c.nLayers * c.hiddenDim),
      gate: () => this.f32(gatePtr, c.nLayers * c.hiddenDim),
    };
  }

  disableCapture(): void {
    this.wasm.setCapture(0, 0, 0);
  }

  /** Points DIP-CA at the simulator's per-layer "is cached" flags (u8 per column). */
  setCachedFlags(layer: number, inputFlagsPtr: number, hiddenFlagsPtr: number): void {
    this.wasm.setCachedFlags(layer, inputFlagsPtr, hiddenFlagsPtr);
  }

  /**
   * Applies LoRA adapters in every MLP step from now on (DIP.md, "LoRA recovery"):
   * out += ((x*m) A) B * alpha/r after each gather, on the kept inputs only. `null` removes them.
   * Throws AdapterError when they do not fit this model.
   *
   *     engine.setAdapters(await readAdaptersFile("adapters.safetensors"));
   */
  setAdapters(adapters: LoraAdapters | null): void {
    if (!adapters) {
      this.wasm.loraEnable(0);
      this.lora = undefined;
      return;
    }
    checkAdapters(adapters, this.config);
    this.layOutAdapters(adapters.rank, adapters.alpha, adapters.targets);
    const r = adapters.rank;
    adapters.layers.forEach((layer, l) => {
      for (const t of adapters.targets) {
        const m = layer[t]!;
        // PEFT lora_A (r, in) -> A (in, r); lora_B (out, r) -> B (r, out): one input's row is contiguous
        const a = this.f32(this.wasm.loraA(l, LORA_TARGET_ID[t]) >>> 0, m.inFeatures * r);
        for (let k = 0; k < r; k++) for (let j = 0; j < m.inFeatures; j++) a[j * r + k] = m.a[k * m.inFeatures + j];
        const b = this.f32(this.wasm.loraB(l, LORA_TARGET_ID[t]) >>> 0, r * m.outFeatures);
        for (let o = 0; o < m.outFeatures; o++) for (let k = 0; k < r; k++) b[k * m.outFeatures + o] = m.b[o * r + k];
      }
    });
    this.lora = { rank: r, alpha: adapters.alpha, targets: [...adapters.targets], info: { sparsity: adapters.sparsity, info: adapters.info } };
  }

  /**
   * Fresh trainable adapters in wasm memory: every A ~ N(0, 1/r) from `seed`, every B = 0, so the
   * model's outputs are unchanged until they are trained (host/lora-train.ts).
   */
  initAdapters(opts: { rank: number; alpha: number; targets?: readonly LoraTarget[]; seed?: number }): void {
    const targets = LORA_TARGETS.filter((t) => (opts.targets ?? LORA_TARGETS).includes(t));
    if (!Number.isInteger(opts.rank) || opts.rank < 1) throw new AdapterError(`--rank must be a positive integer, got ${opts.rank}`);
    if (!Number.isFinite(opts.alpha) || opts.alpha <= 0) throw new AdapterError(`--alpha must be > 0, got ${opts.alpha}`);
    if (targets.length === 0) throw new AdapterError("no LoRA targets");
    this.layOutAdapters(opts.rank, opts.alpha, targets);
    this.wasm.loraInit(opts.seed ?? 0);
    this.lora = { rank: opts.rank, alpha: opts.alpha, targets, info: {} };
  }

  /** A copy of the active adapters (PEFT orientation), or null. */
  getAdapters(): LoraAdapters | null {
    const cur = this.lora;
    if (!cur) return null;
    const r = cur.rank;
    const layers = Array.from({ length: this.config.nLayers }, (_, l) => {
      const layer: LoraAdapters["layers"][number] = {};
      for (const t of cur.targets) {
        const s = loraLinearShape(this.config, t);
        const a = this.f32(this.wasm.loraA(l, LORA_TARGET_ID[t]) >>> 0, s.inFeatures * r);
        const b = this.f32(this.wasm.loraB(l, LORA_TARGET_ID[t]) >>> 0, r * s.outFeatures);
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
  get adapterSettings(): { rank: number; alpha: number; targets: LoraTarget[] } | null {
    return this.lora ? { rank: this.lora.rank, alpha: this.lora.alpha, targets: [...this.lora.targets] } : null;
  }

  /** f32 bytes of the active adapters (0 without): always resident, so the simulator adds them to memory. */
  get adapterBytes(): number {
    const cur = this.lora;
    if (!cur) return 0;
    const n = this.config.nLayers;
    return cur.targets.reduce((sum, t) => {
      const s = loraLinearShape(this.config, t);
      return sum + 4 * n * cur.rank * (s.inFeatures + s.outFeatures);
    }, 0);
  }

  /** Makes room for adapters of this shape in wasm (reusing the block when the shape is unchanged) and switches them on. */
  private layOutAdapters(rank: number, alpha: number, targets: readonly LoraTarget[]): void {
    const same = this.loraSlots && this.loraSlots.rank === rank && this.loraSlots.targets.join() === targets.join();
    if (same) {
      this.wasm.loraSetScale(alpha / rank);
      this.wasm.loraEnable(1);
      return;
    }
    const mask = targets.reduce((m, t) => m | (1 << LORA_TARGET_ID[t]), 0);
    if ((this.wasm.loraConfigure(rank, alpha / rank, mask) >>> 0) === 0) {
      throw new Error(`out of wasm memory allocating rank-${rank} adapters (in use: ${this.wasm.arenaUsedBytes() >>> 0} bytes)`);
    }
    this.loraSlots = { rank, targets: [...targets] };
  }

  /** Peak bytes the engine took from wasm memory (arena). */
  memoryBytes(): number {
    return this.wasm.arenaUsedBytes() >>> 0;
  }

  /** The raw exports, shared with the simulator (same memory). */
  get exports(): EngineExports {
    return this.wasm as unknown as EngineExports;
  }
}
