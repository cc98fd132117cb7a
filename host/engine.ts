// The Engine: drives the wasm forward step over a LoadedModel laid out in wasm memory
// (host/engine-layout.ts). The host never does per-token math: it passes token ids in and reads
// logits, masks and byte counters out. Beside it: byte accounting (host/engine-bytes.ts), thread
// start-up (host/engine-threads.ts), adapters in wasm (host/lora-wasm.ts), the read-bandwidth
// probe (host/read-bandwidth.ts); the typed wasm exports and ids are host/abi.ts.

import type { LoadedModel, ModelConfig } from "./model.js";
import { validateWeights } from "./model.js";
import { checkRuntimeRuns, defaultEngineBytes, fetchEngineWasm, hostHooks, instantiateEngine, type EngineBuild } from "./wasm.js";
import type { ThreadHandle } from "./threads.js";
import { ENGINE_DTYPE_OF } from "./stream/format.js";
import { attachStream, streamIOMode, type StreamOptions, type StreamSetup } from "./stream/weights.js";
import { keepCount, maskKeeps, METHOD_ID, needsCalibration, normalizeSpec, SparsityError, type SparsitySpec } from "./sparsity.js";
import type { Calibration } from "./thresholds.js";
import type { LoraAdapters, LoraTarget } from "./lora.js";
import { GROUP_HIDDEN, GROUP_INPUT, WEIGHT_DTYPES, type EngineExports, type WeightDtype } from "./abi.js";
import { allocOrThrow, f32At, WeightLayout } from "./engine-layout.js";
import { checkFitsWasm32, denseBytesPerToken, memoryNeed, storedWeightBytes, type WeightBytes } from "./engine-bytes.js";
import { checkThreadCount, startWorkers, threadsMemory } from "./engine-threads.js";
import { EngineAdapters, type AdapterSettings } from "./lora-wasm.js";
import { measureReadBandwidth } from "./read-bandwidth.js";
import { checkPredictor, PredictorError, predictorByteSize, type Predictor } from "./predictor.js";
import { checkMemoryCap } from "./memory-cap.js";

export type { WeightDtype, WeightBytes };

export interface EngineOptions {
  /** wasm bytes to instantiate (the runtime-neutral path); default: the registered loader (Node: build/engine.wasm), else fetched from beside the library */
  wasmBytes?: BufferSource;
  /** where to fetch the engine wasm of the build these options pick (engine.wasm, engine-relaxed.wasm or engine-threads.wasm), for hosts that serve it elsewhere; `wasmBytes` wins */
  wasmUrl?: string | URL;
  /** sparsity to start with (default dense) */
  sparsity?: SparsitySpec;
  /** per-layer thresholds for cats / dip-threshold */
  calibration?: Calibration;
  /** the trained predictor for method predictor (host/predictor.ts) */
  predictor?: Predictor;
  /** weight precision in wasm memory (default f32); q8 quantizes matrices at load */
  dtype?: WeightDtype;
  /** stream the MLP columns from storage into a DRAM-budgeted column cache (host/stream/); the engine runs in the file's dtype */
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
  /** with `threads`: where to fetch build/thread-worker.wasm (default beside the library, as the engine's) */
  workerWasmUrl?: string | URL;
  /** the most wasm memory the engine may take (webviews cap it): a model over it is refused up front (host/memory-cap.ts) */
  maxMemoryBytes?: number;
}

/** Masks of one token: per layer, the kept indices (ascending) of the MLP input and hidden vectors. */
export interface TokenMasks {
  input: Uint32Array[];
  hidden: Uint32Array[];
}

/** Masks of one token: per layer, the kept indices (ascending) of the MLP input and hidden vectors. */
export interface TokenMasks {
  input: Uint32Array[];
  hidden: Uint32Array[];
}

/**
 * One model in one wasm instance: weights laid out in its memory, a KV cache, and the sparsity
 * method that picks the MLP columns each token reads. Make one with {@link Engine.create}; run it
 * with `step(token)` (or `generate()`), and call `close()` when done with a threads engine.
 */
export class Engine {
  readonly config: ModelConfig;
  /** next position to fill in the KV cache */
  pos = 0;
  private spec: SparsitySpec = { method: "dense" };
  /** set when the MLP columns are streamed from storage (Engine.create with `stream`) */
  streamSetup: StreamSetup | undefined;
  /** false for the relaxed-SIMD build: results may differ between machines */
  deterministic = true;
  /** threads sharing each big product */
  threads = 1;
  private threadHandles: ThreadHandle[] = [];
  /** u32 (seqLen): the token ids prefill() hands to the wasm, allocated on first use */
  private promptIds: number | undefined;
  private readonly layout: WeightLayout;
  private readonly adapters: EngineAdapters;
  private predictorState: { predictor: Predictor; source: string } | null = null;

  private constructor(
    /** the raw exports, shared with the simulator (same memory) */
    readonly exports: EngineExports,
    readonly model: LoadedModel,
    readonly dtype: WeightDtype,
    private readonly streamed: boolean,
  ) {
    this.config = model.config;
    this.layout = new WeightLayout(exports, model, dtype, streamed);
    this.adapters = new EngineAdapters(exports, model.config);
  }

  /**
   * Instantiates the engine wasm and lays the model's weights out in it.
   * @param model a loaded model (loadModelFile, fetchModel, loadModel, loadModelFromBytes)
   * @param opts sparsity, dtype, optional builds; the wasm comes from `wasmBytes`, `wasmUrl`, the
   *   registered loader (Node) or beside the library (browsers)
   * @throws RangeError for bad options, ModelFormatError for weights the engine refuses, Error when
   *   the model does not fit (wasm32, `maxMemoryBytes`)
   */
  static async create(model: LoadedModel, opts: EngineOptions = {}): Promise<Engine> {
    // a stream runs in the dtype its file stores (its columns are read as stored)
    const streamHeader = opts.stream?.source.header;
    const streamDtype = streamHeader ? ENGINE_DTYPE_OF[streamHeader.dtype] : undefined;
    const dtype = opts.dtype ?? streamDtype ?? "f32";
    if (!WEIGHT_DTYPES.includes(dtype)) throw new RangeError(`--dtype must be one of ${WEIGHT_DTYPES.join(", ")}, got ${dtype}`);
    if (streamDtype !== undefined && dtype !== streamDtype) {
      throw new RangeError(`${opts.stream!.source.source} stores its weights in ${streamHeader!.dtype}: stream it with --dtype ${streamDtype} or without --dtype (got ${dtype})`);
    }
    const threads = opts.threads ?? 1;
    checkThreadCount(threads, opts.relaxed);
    // reads on an I/O thread need a shared memory: the threads build, with one compute thread if asked for one
    if (opts.stream) opts = { ...opts, stream: { ...opts.stream, io: streamIOMode(opts.stream, { relaxed: opts.relaxed, callerBytes: opts.wasmBytes !== undefined || opts.wasmUrl !== undefined }) } };
    const build: EngineBuild = opts.relaxed ? "relaxed" : threads > 1 || opts.stream?.io === "thread" ? "threads" : "default";
    const bytes = opts.wasmBytes ?? (opts.wasmUrl !== undefined ? await fetchEngineWasm(opts.wasmUrl) : await defaultEngineBytes(build));
    checkRuntimeRuns(bytes, build);
    const memory = build === "threads" ? threadsMemory(threads) : undefined;
    const exports = await instantiateEngine(bytes, memory);
    // refused before any weight is looked at, with the wasm's own layout sizes
    checkFitsWasm32(exports, model, dtype, opts.stream !== undefined);
    if (opts.maxMemoryBytes !== undefined) checkMemoryCap(model, memoryNeed(exports, model, dtype, opts.stream?.dramBytes), opts.maxMemoryBytes);
    validateWeights(model, { mlpStreamed: opts.stream !== undefined });
    const engine = new Engine(exports, model, dtype, opts.stream !== undefined);
    engine.deterministic = !opts.relaxed;
    engine.threads = threads;
    try {
      if (memory) engine.threadHandles = await startWorkers(exports, memory, threads, async () => opts.workerWasmBytes ?? (opts.workerWasmUrl !== undefined ? await fetchEngineWasm(opts.workerWasmUrl, "workerWasmUrl") : await defaultEngineBytes("thread-worker")));
      engine.layout.layOut();
      if (opts.stream) {
        engine.streamSetup = attachStream(exports, hostHooks(exports), opts.stream, (e, h) => engine.layout.placeTableRows(e, h));
        // DIP-CA sees the real cache: its flags are the stream's (the simulator state that governs it)
        for (let l = 0; l < model.config.nLayers; l++) engine.setCachedFlags(l, exports.simCachedFlags(l, GROUP_INPUT) >>> 0, exports.simCachedFlags(l, GROUP_HIDDEN) >>> 0);
      }
      if (opts.predictor) engine.setPredictor(opts.predictor);
      engine.setSparsity(opts.sparsity ?? { method: "dense" }, opts.calibration);
    } catch (e) {
      engine.close(); // no workers left behind
      throw e;
    }
    return engine;
  }

  /** Stops the worker threads (if any); the engine keeps working on one thread. */
  close(): void {
    this.streamSetup?.close();
    if (this.threadHandles.length === 0) return;
    this.exports.threadsStop();
    for (const h of this.threadHandles) h.terminate();
    this.threadHandles = [];
    this.threads = 1;
  }

  /** Chunks of split products run so far: all, and those the calling thread ran (the rest ran on workers). */
  threadChunks(): { all: number; onMain: number } {
    return { all: this.exports.threadsChunks(), onMain: this.exports.threadsChunksOnMain() };
  }

  /**
   * This machine's memory read bandwidth as the engine sees it, GB/s (powers of 10), over the
   * resident weights, the bytes every token reads (host/read-bandwidth.ts); median of `passes`.
   * The weights were written at load, so every page is real memory. For a model whose weights fit
   * in the CPU caches this measures the caches, which is then what the forward pass reads.
   */
  measureReadBandwidth(passes = 5): { gbps: number; bytes: number } {
    return measureReadBandwidth(this.exports, this.layout.span, passes);
  }

  /** Selects the sparsity method. cats and dip-threshold need a calibration. */
  setSparsity(spec: SparsitySpec, calibration?: Calibration): void {
    const s = normalizeSpec(spec);
    const c = this.config;
    if (this.streamed && (s.method === "cats" || s.method === "predictor")) throw new SparsityError(`${s.method} reads rows of W_up, which a weight stream does not store: not available with --stream`);
    if (s.method === "predictor") {
      if (!this.predictorState) throw new SparsityError("method predictor needs a trained predictor (--predictor P, from dip train-predictor)");
      if (this.adapters.settings) throw new SparsityError("method predictor does not apply LoRA adapters (they act on gathered columns); drop --adapters");
    }
    const { inputKeep, hiddenKeep } = maskKeeps(s);
    if (needsCalibration(s.method)) {
      if (!calibration) throw new SparsityError(`method ${s.method} needs a calibration (thresholds per layer); see --calib`);
      if (calibration.thresholds.length !== c.nLayers) {
        throw new SparsityError(`calibration has ${calibration.thresholds.length} layers, the model has ${c.nLayers}`);
      }
      calibration.thresholds.forEach((t, l) => this.exports.setLayerThresholds(l, t.input, t.hidden));
    }
    this.layout.useRowMajor("up", s.method === "cats" || s.method === "predictor");
    this.layout.useRowMajor("gate", s.method === "predictor");
    this.exports.setMethod(METHOD_ID[s.method], keepCount(inputKeep, c.dim), keepCount(hiddenKeep, c.hiddenDim));
    if (s.method === "dip-ca") this.exports.setCacheAware(s.gamma!, s.warmup ? 1 : 0, s.fixedTopN!, s.cacheAwareHidden ? 1 : 0);
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
    if (this.streamed) this.exports.streamBeginSequence(); // caches start empty per sequence, as in the simulator
  }

  /** Runs one token at the next position and returns a view of the logits (valid until the next call). */
  step(token: number): Float32Array {
    const c = this.config;
    if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
      throw new RangeError(`token id ${token} is out of the vocabulary (0..${c.vocabSize - 1})`);
    }
    if (this.pos >= c.seqLen) throw new RangeError(`sequence is longer than the model's context of ${c.seqLen} tokens`);
    try {
      this.exports.forward(token, this.pos);
    } catch (e) {
      // a failed read (a checksum mismatch, a cut file) may leave a column counted as cached whose
      // bytes were never checked: empty the caches, so a later step reads and checks it again
      if (this.streamed) this.exports.streamBeginSequence();
      throw e;
    }
    this.pos++;
    return this.logits();
  }

  /**
   * Runs a prompt at the next positions and returns a view of the last one's logits (valid until
   * the next call). The prompt runs dense whatever the sparsity method (the paper sparsifies
   * decode), in blocks of tokens that read each weight once per block; the KV cache and the
   * logits are bit-identical to step() on each token under the dense method. The byte counters
   * count what a block reads (each weight once, the LM head once, for the last token); lastMasks()
   * then gives the dense masks.
   */
  prefill(tokens: readonly number[]): Float32Array {
    const c = this.config;
    if (tokens.length === 0) throw new RangeError("prefill needs at least one token");
    for (const token of tokens) {
      if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
        throw new RangeError(`token id ${token} is out of the vocabulary (0..${c.vocabSize - 1})`);
      }
    }
    if (this.pos + tokens.length > c.seqLen) throw new RangeError(`sequence is longer than the model's context of ${c.seqLen} tokens`);
    let rc = 0;
    try {
      if (this.streamed) {
        // one dense step per token, taking no memory: the DRAM budget covers the stream's caches exactly
        tokens.forEach((token, i) => this.exports.forwardDenseStep(token, this.pos + i));
      } else {
        const ids = (this.promptIds ??= allocOrThrow(this.exports, 4 * c.seqLen));
        new Uint32Array(this.exports.memory.buffer, ids, tokens.length).set(tokens);
        rc = this.exports.forwardPrompt(ids, tokens.length, this.pos);
      }
    } catch (e) {
      if (this.streamed) this.exports.streamBeginSequence(); // as in step()
      throw e;
    }
    if (rc !== 0) throw new Error(`out of wasm memory for the prompt's block buffers (in use: ${this.memoryBytes()} bytes)`);
    this.pos += tokens.length;
    return this.logits();
  }

  /** The logits of the last step (a view into wasm memory: copy it to keep it past the next step). */
  logits(): Float32Array {
    return f32At(this.exports, this.exports.logitsPtr() >>> 0, this.config.vocabSize);
  }

  /** Seeds the engine's PRNG (same seed, same samples, on every runtime). */
  seed(seed: number): void {
    this.exports.seedRng(seed);
  }

  /** Picks the next token from the current logits (greedy at temperature 0). Overwrites the logits. */
  sample(temperature: number, topP: number): number {
    return temperature <= 0 ? this.exports.argmax() : this.exports.sample(temperature, topP);
  }

  /** -log p(target) under the current logits. */
  nll(target: number): number {
    return this.exports.nllOf(target);
  }

  /** Copies of the masks the last step used. */
  lastMasks(): TokenMasks {
    const input: Uint32Array[] = [];
    const hidden: Uint32Array[] = [];
    const x = this.exports;
    for (let l = 0; l < this.config.nLayers; l++) {
      input.push(new Uint32Array(x.memory.buffer, x.inputKeptPtr(l) >>> 0, x.inputKeptCount(l)).slice());
      hidden.push(new Uint32Array(x.memory.buffer, x.hiddenKeptPtr(l) >>> 0, x.hiddenKeptCount(l)).slice());
    }
    return { input, hidden };
  }

  /** Kept counts of the last step, per layer (no copies). */
  lastMaskCounts(layer: number): { input: number; hidden: number } {
    return { input: this.exports.inputKeptCount(layer), hidden: this.exports.hiddenKeptCount(layer) };
  }

  /** Weight bytes read since the last resetBytes(), by group. */
  bytesRead(): WeightBytes {
    return {
      embedding: this.exports.bytesEmbedding(),
      attention: this.exports.bytesAttention(),
      mlp: this.exports.bytesMlp(),
      lm_head: this.exports.bytesLmHead(),
    };
  }

  /** Zeroes the weight-byte counters that bytesRead() reports. */
  resetBytes(): void {
    this.exports.resetByteCounters();
  }

  /** Weight bytes one dense token reads, by group, counted as the engine's byte counter counts. */
  denseBytesPerToken(): WeightBytes {
    return denseBytesPerToken(this.exports, this.model, this.dtype);
  }

  /** Weight bytes of the model by group as stored in wasm memory (norms and biases are f32). */
  weightBytes(): WeightBytes {
    return storedWeightBytes(this.exports, this.model, this.dtype);
  }

  /**
   * Captures the dense activations per layer on every step (for calibration): returns views of
   * the MLP input x, h and silu(gate) of the last token, each (layer, n).
   */
  enableCapture(): { input: () => Float32Array; hidden: () => Float32Array; gate: () => Float32Array } {
    const c = this.config;
    const inPtr = allocOrThrow(this.exports, 4 * c.nLayers * c.dim);
    const hidPtr = allocOrThrow(this.exports, 4 * c.nLayers * c.hiddenDim);
    const gatePtr = allocOrThrow(this.exports, 4 * c.nLayers * c.hiddenDim);
    this.exports.setCapture(inPtr, hidPtr, gatePtr);
    return {
      input: () => f32At(this.exports, inPtr, c.nLayers * c.dim),
      hidden: () => f32At(this.exports, hidPtr, c.nLayers * c.hiddenDim),
      gate: () => f32At(this.exports, gatePtr, c.nLayers * c.hiddenDim),
    };
  }

  /** Stops capturing activations (turned on for LoRA training). */
  disableCapture(): void {
    this.exports.setCapture(0, 0, 0);
  }

  /** Points DIP-CA at the simulator's per-layer "is cached" flags (u8 per column). */
  setCachedFlags(layer: number, inputFlagsPtr: number, hiddenFlagsPtr: number): void {
    this.exports.setCachedFlags(layer, inputFlagsPtr, hiddenFlagsPtr);
  }

  /**
   * Applies LoRA adapters in every MLP step from now on (DIP.md, "LoRA recovery"):
   * out += ((x*m) A) B * alpha/r after each gather, on the kept inputs only. `null` removes them.
   * Throws AdapterError when they do not fit this model.
   *
   *     engine.setAdapters(await readAdaptersFile("adapters.safetensors"));
   */
  setAdapters(adapters: LoraAdapters | null): void {
    if (adapters && this.spec.method === "predictor") throw new SparsityError("method predictor does not apply LoRA adapters (they act on gathered columns); drop --adapters");
    this.adapters.set(adapters);
  }

  /**
   * Places a trained predictor (host/predictor.ts) in wasm memory for `--method predictor`; its
   * matrices stay f32 whatever the dtype. Throws PredictorError when it was made for another shape.
   * Each call places a new copy (the arena never frees): load a predictor once per engine.
   */
  setPredictor(predictor: Predictor, source = "predictor"): void {
    checkPredictor(predictor, this.config, source);
    if (this.exports.predictorConfigure(predictor.rank) !== 0) throw new PredictorError(`${source}: out of wasm memory placing the predictor`);
    predictor.layers.forEach((l, i) => {
      const a = this.layout.putF32(`${source} layer ${i} A`, l.a);
      const b = this.layout.putF32(`${source} layer ${i} B`, l.b);
      this.exports.setPredictorLayer(i, a, b);
    });
    this.predictorState = { predictor, source };
  }

  /** The loaded predictor's f32 bytes (0 without one): read every token, so always resident. */
  get predictorBytes(): number {
    return this.predictorState ? predictorByteSize(this.predictorState.predictor) : 0;
  }

  /** The loaded predictor, or null. */
  get predictor(): Predictor | null {
    return this.predictorState?.predictor ?? null;
  }

  /**
   * Fresh trainable adapters in wasm memory: every A ~ N(0, 1/r) from `seed`, every B = 0, so the
   * model's outputs are unchanged until they are trained (host/lora-train.ts).
   */
  initAdapters(opts: { rank: number; alpha: number; targets?: readonly LoraTarget[]; seed?: number }): void {
    this.adapters.init(opts);
  }

  /** A copy of the active adapters (PEFT orientation), or null. */
  getAdapters(): LoraAdapters | null {
    return this.adapters.get();
  }

  /** Whether adapters are applied, and their rank / alpha / targets. */
  get adapterSettings(): AdapterSettings | null {
    return this.adapters.settings;
  }

  /** f32 bytes of the active adapters (0 without): always resident, so the simulator adds them to memory. */
  get adapterBytes(): number {
    return this.adapters.bytes;
  }

  /** Peak bytes the engine took from wasm memory (arena). */
  memoryBytes(): number {
    return this.exports.arenaUsedBytes() >>> 0;
  }
}
