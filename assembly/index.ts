// The engine's wasm exports: everything the host calls (host/abi.ts types them and checks them at
// instantiation). The ids these functions take are in ./abi.ts.
import * as S from "./model/state";

export { arenaAlloc, arenaUsedBytes } from "./arena";
export { engineConfigure, setRopeFrequencies, setLayerWeight, setGlobalWeights, setResidentRows, setUpRowMajor, resetByteCounters } from "./model/state";
export { forward, setCapture } from "./model/forward";
export { forwardPrompt, forwardDenseStep } from "./model/prompt";
export { rowBytesIn, matrixBytesIn, inputMajorBytesIn, allColumnsBytesIn } from "./model/linear";
export { setMethod, setLayerThresholds, setCacheAware, setCachedFlags, sparsityAllocate, predictorConfigure, setPredictorLayer } from "./sparsity/policy";
export { seedRng, argmax, sample, nllOf } from "./model/sampler";
export { threadsSetup, threadsStop, threadsChunks, threadsChunksOnMain } from "./threads/pool";
export { readSumF32, readSum4StreamsF32 } from "./kernels/bandwidth";
export { firstAbsAboveF32 } from "./kernels/finite";
export { streamSetGroup, streamSetDtype, streamAllocate, streamSetCapacity, streamEnable, streamBeginSequence } from "./stream/store";
export * from "./sim/index";
export * from "./train/index";

// Pointers and counters the host reads (exported as functions: plain numbers on every runtime).
export function logitsPtr(): usize { return S.logits; }
export function inputKeptPtr(layer: i32): usize { return S.inputKept + <usize>layer * <usize>S.dim * 4; }
export function inputKeptCount(layer: i32): i32 { return load<i32>(S.inputKeptCount + <usize>layer * 4); }
export function hiddenKeptPtr(layer: i32): usize { return S.hiddenKept + <usize>layer * <usize>S.hiddenDim * 4; }
export function hiddenKeptCount(layer: i32): i32 { return load<i32>(S.hiddenKeptCount + <usize>layer * 4); }
export function bytesEmbedding(): f64 { return S.bytesEmbedding; }
export function bytesAttention(): f64 { return S.bytesAttention; }
export function bytesMlp(): f64 { return S.bytesMlp; }
export function bytesLmHead(): f64 { return S.bytesLmHead; }

// ---- bench/test only: kernels and scalar references reached directly by bench/kernels.bench.ts,
// bench/builds.bench.ts and tests/threads.test.ts (the engine never calls these from the host) ----
export { matvecF32, matvecF32Rows4, matvecF32Scalar } from "./kernels/matvec";
export { gatherColumnsF32, gatherColumnsF32Scalar } from "./kernels/gather";
export { matmatF32, gatherColumnsBatchF32 } from "./kernels/matmat";
export { matvecQ8, matvecQ8Scalar, gatherColumnsQ8, gatherColumnsQ8Scalar, q8Bytes, q8InBytes } from "./kernels/q8";
export { matvecQ4_0, matvecQ4_0Scalar, gatherColumnsQ4_0, gatherColumnsQ4_0Scalar, matvecQ5_0, matvecQ5_0Scalar, matvecQ4_1, matvecQ4_1Scalar, matvecQ5_1, matvecQ5_1Scalar } from "./kernels/q4";
export { matvecQ4_K, matvecQ4_KScalar, matvecQ5_K, matvecQ5_KScalar, matvecQ6_K, matvecQ6_KScalar, matvecQ2_K, matvecQ2_KScalar, matvecQ3_K, matvecQ3_KScalar, gatherColumnsQ4_K, gatherColumnsQ4_KScalar } from "./kernels/kquants";
export { copyBytes } from "./kernels/bandwidth";
export { firstAbsAboveF32Scalar } from "./kernels/finite";
export { threadsMainWorks } from "./threads/pool";
