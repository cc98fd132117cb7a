// The one typed ABI of the engine's wasm (../shared/spec/ARCHITECTURE.md, "One source of truth
// across the wasm boundary"): the ids both sides use (defined once in assembly/abi.ts, which this
// module re-exports), the typed exports (checked against an instance when it is made, so a stale
// build fails with the missing names instead of "is not a function" mid-run), and the layout byte
// formulas, which the host asks the wasm for instead of recomputing them.
//
// Pointers come back as signed i32: `>>> 0` them.

export * from "../assembly/abi.js";

/**
 * Weight precision in wasm memory (--dtype): f32; q8 (int8 blocks of 32 with a scale each); or
 * native: a quantized GGUF's matrices as the file stores them where the engine has kernels for
 * their type, each matrix in its own dtype (host/matrix-dtype.ts says which).
 */
export type WeightDtype = "f32" | "q8" | "native";
export const WEIGHT_DTYPES: WeightDtype[] = ["f32", "q8", "native"];

/** The functions of assembly/index.ts the host calls, by name (signatures as the host sees them). */
export interface EngineFunctions {
  // arena and run state (assembly/arena.ts, assembly/model/state.ts)
  arenaAlloc(bytes: number): number;
  arenaUsedBytes(): number;
  engineConfigure(dim: number, hidden: number, layers: number, heads: number, kvHeads: number, headDim: number, vocab: number, seqLen: number, eps: number, ropeLayout: number): number;
  setRopeFrequencies(invFreq: number): void;
  setLayerWeight(layer: number, field: number, ptr: number, dtype: number): void;
  setGlobalWeights(emb: number, embDtype: number, finalNorm: number, lmHead: number, lmHeadDtype: number, upRowMajor: number): void;
  setResidentRows(embeddingRows: number, lmHeadRows: number, tied: number): void;
  setUpRowMajor(rowMajor: number): void;
  resetByteCounters(): void;
  // the forward step and its outputs
  forward(token: number, pos: number): void;
  forwardPrompt(tokens: number, n: number, pos: number): number;
  forwardDenseStep(token: number, pos: number): void;
  setCapture(input: number, hidden: number, gate: number): void;
  logitsPtr(): number;
  inputKeptPtr(layer: number): number;
  inputKeptCount(layer: number): number;
  hiddenKeptPtr(layer: number): number;
  hiddenKeptCount(layer: number): number;
  bytesEmbedding(): number;
  bytesAttention(): number;
  bytesMlp(): number;
  bytesLmHead(): number;
  // byte formulas by dtype id (assembly/model/linear.ts)
  rowBytesIn(dtype: number, n: number): number;
  matrixBytesIn(dtype: number, rows: number, cols: number): number;
  inputMajorBytesIn(dtype: number, nIn: number, nOut: number): number;
  allColumnsBytesIn(dtype: number, nIn: number, nOut: number): number;
  // sparsity (assembly/sparsity/policy.ts)
  setMethod(method: number, inputK: number, hiddenK: number): void;
  sparsityAllocate(): number;
  setLayerThresholds(layer: number, input: number, hidden: number): void;
  setCacheAware(gamma: number, warmup: number, fixedTopN: number, hiddenToo: number): void;
  setCachedFlags(layer: number, inputFlags: number, hiddenFlags: number): void;
  predictorConfigure(rank: number): number;
  setPredictorLayer(layer: number, a: number, b: number): void;
  // sampling (assembly/model/sampler.ts)
  seedRng(seed: number): void;
  argmax(): number;
  sample(temperature: number, topP: number): number;
  nllOf(target: number): number;
  // threads (assembly/threads/pool.ts; a no-op pool outside the threads build)
  threadsSetup(threads: number, canWait: number): number;
  threadsStop(): void;
  threadsChunks(): number;
  threadsChunksOnMain(): number;
  // read-bandwidth probe (assembly/kernels/bandwidth.ts)
  readSumF32(ptr: number, n: number): number;
  readSum4StreamsF32(ptr: number, n: number): number;
  // load-time weight check (assembly/kernels/finite.ts): index of the first NaN or |x| > limit, or -1
  firstAbsAboveF32(ptr: number, n: number, limit: number): number;
  // weight stream (assembly/stream/store.ts) and the simulator's caches that govern it (assembly/sim/index.ts)
  streamSetGroup(group: number, entries: number, entryBytes: number): void;
  streamSetDtype(dtype: number, rowBytes: number): void;
  streamAllocate(layers: number, stageBytes: number): number;
  streamSetCapacity(group: number, entries: number): number;
  streamEnable(on: number): void;
  streamBeginSequence(): void;
  simConfigure(layers: number, groups: number): number;
  simSetGroup(group: number, entries: number, columnHeight: number, nLin: number, bytesPerWeight: number): number;
  simAllocate(): number;
  simSetCapacity(layer: number, group: number, entries: number): number;
  simSetPolicy(policy: number): number;
  simSetAdmissionSeed(seed: number): void;
  simResetCounters(): void;
  simCachedFlags(layer: number, group: number): number;
  simTotalFlashBytes(): number;
  simTotalDramBytes(): number;
  simLayerHitRate(layer: number): number;
  // the simulator: caches, replay, counters and the cost model (assembly/sim/index.ts; records read by host/sim/wasm-sim.ts)
  simSetBandwidth(flashBytesPerSecond: number, dramBytesPerSecond: number, concurrent: number): number;
  simBeginSequence(): void;
  simObserve(layer: number, group: number, idxPtr: number, count: number): number;
  simObserveFull(layer: number, group: number): number;
  simTraceBuffer(words: number): number;
  simReplay(tracePtr: number, words: number, nTokens: number, perTokenSecondsPtr: number): number;
  simReplayErrorToken(): number;
  simReplayErrorLayer(): number;
  simReplayErrorGroup(): number;
  simReplayErrorWord(): number;
  simNeeded(layer: number, group: number): number;
  simHits(layer: number, group: number): number;
  simFlashBytes(layer: number, group: number): number;
  simDramBytes(layer: number, group: number): number;
  simSeconds(layer: number, group: number): number;
  simFlashReads(layer: number, group: number): number;
  simFlashBytesMoved(layer: number, group: number): number;
  simSetFlashReads(pageBytes: number, readSeconds: number): number;
  simCacheSize(layer: number, group: number): number;
  simCacheCapacity(layer: number, group: number): number;
  simCacheClock(layer: number, group: number): number;
  simTotalSeconds(): number;
  simHitRate(): number;
  simSetModel(layers: number, vocabSize: number, dim: number, hiddenDim: number, heads: number, kvHeads: number, gated: number): void;
  simSetBits(embedding: number, lmHead: number, attention: number, mlp: number, kvCache: number): void;
  simFootprint(seqLen: number): number;
  simKvCacheBytes(positions: number): number;
  simSetGroupAlwaysFull(group: number, alwaysFull: number): number;
  simPartition(dramBytes: number, kvSeqLen: number, staticOrder: number, tied: number): number;
  simStartRun(policy: number, flashGBps: number, dramGBps: number, concurrent: number, seed: number): number;
  simRecordSequence(index: number, promptTokens: number, tokens: number): number;
  simSequenceRow(index: number): number;
  simSummarize(count: number): number;
  // LoRA adapters and training (assembly/model/adapters.ts, assembly/train/index.ts)
  loraConfigure(rank: number, scale: number, targetMask: number): number;
  loraEnable(on: number): void;
  loraSetScale(scale: number): void;
  loraA(layer: number, target: number): number;
  loraB(layer: number, target: number): number;
  loraInit(seed: number): void;
  loraParamsPtr(): number;
  loraParamFloats(): number;
  trainInit(maxT: number): number;
  trainReady(): number;
  trainTokensPtr(): number;
  trainLogitsPtr(): number;
  trainGradsPtr(): number;
  trainFreezeMasks(on: number): void;
  trainLoss(T: number, loss: number): number;
  trainWindow(T: number, loss: number, gradScale: number): number;
  trainZeroGrads(): void;
  trainGradNorm(): number;
  trainAdamw(lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, gradScale: number): void;
  trainResetOptimizer(): void;
  // predictor training (assembly/train/predictor.ts)
  predictorTrainInit(rank: number, dim: number, hidden: number, maxBatch: number): number;
  predictorTrainParamsPtr(): number;
  predictorTrainGradsPtr(): number;
  predictorTrainInputsPtr(): number;
  predictorTrainTargetsPtr(): number;
  predictorTrainResetOptimizer(): void;
  predictorTrainLoss(n: number, withGrads: number): number;
  predictorTrainAdamw(lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;
  predictorTrainRecall(n: number): number;
}

/** The exports of an engine build (pointers are u32 byte offsets into `memory`). */
export type EngineExports = WebAssembly.Exports & EngineFunctions & { memory: WebAssembly.Memory };

// every key of EngineFunctions, once: the compiler rejects a name missing here or not in the interface
const ENGINE_FUNCTIONS: Record<keyof EngineFunctions, true> = {
  arenaAlloc: true, arenaUsedBytes: true, engineConfigure: true, setRopeFrequencies: true, setLayerWeight: true,
  setGlobalWeights: true, setResidentRows: true, setUpRowMajor: true, resetByteCounters: true,
  forward: true, forwardPrompt: true, forwardDenseStep: true, setCapture: true, logitsPtr: true, inputKeptPtr: true, inputKeptCount: true, hiddenKeptPtr: true,
  hiddenKeptCount: true, bytesEmbedding: true, bytesAttention: true, bytesMlp: true, bytesLmHead: true,
  rowBytesIn: true, matrixBytesIn: true, inputMajorBytesIn: true, allColumnsBytesIn: true,
  setMethod: true, sparsityAllocate: true, setLayerThresholds: true, setCacheAware: true, setCachedFlags: true,
  predictorConfigure: true, setPredictorLayer: true,
  seedRng: true, argmax: true, sample: true, nllOf: true,
  threadsSetup: true, threadsStop: true, threadsChunks: true, threadsChunksOnMain: true,
  readSumF32: true, readSum4StreamsF32: true, firstAbsAboveF32: true,
  streamSetGroup: true, streamSetDtype: true, streamAllocate: true, streamSetCapacity: true, streamEnable: true, streamBeginSequence: true,
  simConfigure: true, simSetGroup: true, simAllocate: true, simSetCapacity: true, simSetPolicy: true,
  simSetAdmissionSeed: true, simResetCounters: true, simCachedFlags: true, simTotalFlashBytes: true,
  simTotalDramBytes: true, simLayerHitRate: true,
  simSetBandwidth: true, simBeginSequence: true, simObserve: true, simObserveFull: true, simTraceBuffer: true, simReplay: true, simReplayErrorToken: true, simReplayErrorLayer: true, simReplayErrorGroup: true, simReplayErrorWord: true, simNeeded: true, simHits: true, simFlashBytes: true, simDramBytes: true, simSeconds: true, simFlashReads: true, simFlashBytesMoved: true, simSetFlashReads: true, simCacheSize: true, simCacheCapacity: true, simCacheClock: true, simTotalSeconds: true, simHitRate: true, simSetModel: true, simSetBits: true, simFootprint: true, simKvCacheBytes: true, simSetGroupAlwaysFull: true, simPartition: true, simStartRun: true, simRecordSequence: true, simSequenceRow: true, simSummarize: true,
  loraConfigure: true, loraEnable: true, loraSetScale: true, loraA: true, loraB: true, loraInit: true,
  loraParamsPtr: true, loraParamFloats: true, trainInit: true, trainReady: true, trainTokensPtr: true,
  trainLogitsPtr: true, trainGradsPtr: true, trainFreezeMasks: true, trainLoss: true, trainWindow: true,
  trainZeroGrads: true, trainGradNorm: true, trainAdamw: true, trainResetOptimizer: true,
  predictorTrainInit: true, predictorTrainParamsPtr: true, predictorTrainGradsPtr: true, predictorTrainInputsPtr: true, predictorTrainTargetsPtr: true,
  predictorTrainResetOptimizer: true, predictorTrainLoss: true, predictorTrainAdamw: true, predictorTrainRecall: true,
};

/** The instance's exports as EngineExports; throws naming what is missing (a stale or foreign build). */
export function engineExports(exports: WebAssembly.Exports): EngineExports {
  const missing = Object.keys(ENGINE_FUNCTIONS).filter((name) => typeof exports[name] !== "function");
  if (!(exports.memory instanceof WebAssembly.Memory)) missing.unshift("memory");
  if (missing.length > 0) {
    throw new Error(`the engine wasm lacks the exports ${missing.join(", ")}: a stale build (run npm run build) or not an engine build`);
  }
  return exports as EngineExports;
}

/** The wasm's layout byte formulas for one dtype id (DTYPE_*; assembly/model/linear.ts); f64 results. */
export interface LayoutBytes {
  /** one row of n weights of a row-major matrix, as linear() and the embedding read it */
  row(n: number): number;
  /** a row-major [rows x cols] matrix, in memory and as a dense matvec reads it (q8: whole tiles of 8 rows) */
  matrix(rows: number, cols: number): number;
  /** an input-major [nIn x nOut] matrix in memory (q8: quants, alignment, f16 scales) */
  inputMajor(nIn: number, nOut: number): number;
  /** all nIn columns of an input-major matrix as a dense gather reads them */
  allColumns(nIn: number, nOut: number): number;
}

export function layoutBytes(wasm: EngineExports, id: number): LayoutBytes {
  return {
    row: (n) => wasm.rowBytesIn(id, n),
    matrix: (rows, cols) => wasm.matrixBytesIn(id, rows, cols),
    inputMajor: (nIn, nOut) => wasm.inputMajorBytesIn(id, nIn, nOut),
    allColumns: (nIn, nOut) => wasm.allColumnsBytesIn(id, nIn, nOut),
  };
}
