// The runtime-neutral host: everything here runs unchanged in Node, Deno, browsers and workers
// (no node:* imports, no browser-only API; checked by tests/portable.test.ts, which bundles it for
// the browser, and tests/imports.test.ts). Runtime adapters build on it: host/index.ts (Node),
// host/web/index.ts (browsers).
// Give the engine its wasm bytes: `Engine.create(model, { wasmBytes })`.
export { Engine } from "./engine.js";
export type { EngineOptions, TokenMasks, WeightBytes, WeightDtype } from "./engine.js";
export { instantiateEngine, setDefaultEngineWasm, loadDefaultEngineWasm, WasmAbort } from "./wasm.js";
export type { EngineBuild, EngineExports, EngineWasmLoader } from "./wasm.js";
export { ENGINE_BUILD_FILES } from "./wasm.js";
export { setThreadSpawner } from "./threads.js";
export type { ThreadHandle, ThreadInit, ThreadSpawner } from "./threads.js";
export { generate } from "./generate.js";
export type { GenerateOptions, GenerateResult } from "./generate.js";
export { ChatSession, ChatTemplate, ChatTemplateError, encodeChatText, parseMessages } from "./chat.js";
export type { ChatMessage, ChatOptions, ChatReply } from "./chat.js";
export { perplexity, splitStories, tokenStream } from "./eval.js";
export { calibrate, checkCalibration } from "./calibration.js";
export type { Calibration, LayerThresholds } from "./thresholds.js";
export { parseGguf } from "./formats/gguf.js";
export { parseLlama2cCheckpoint, parseLlama2cTokenizer } from "./formats/llama2c.js";
export { parseHfConfig, buildHfModel } from "./formats/hf.js";
export { loadModelFromBytes, loadModel, fetchModel, fetchBytes, readBlob, isGguf, nameOf } from "./formats/bytes.js";
export type { ProgressCallback, BytesLoadOptions } from "./formats/bytes.js";
export { encodeGguf } from "./formats/gguf-writer.js";
export { SentencePieceTokenizer } from "./tokenizer/sentencepiece.js";
export { HfTokenizer } from "./tokenizer/hf.js";
export type { Tokenizer, StreamDecoder } from "./tokenizer/types.js";
export { splitKeep, METHODS } from "./sparsity.js";
export type { SparsitySpec, Method } from "./sparsity.js";
export { ModelFormatError } from "./model.js";
export type { LoadedModel, ModelConfig } from "./model.js";
export { MaskRecorder, modelDims } from "./sim/run.js";
export * from "./sim/index.js";
export { Sha256, sha256Hex } from "./sha256.js";
export { crc32 } from "./crc32.js";
export { AdapterError, LORA_TARGETS, checkAdapters, makeAdapters, adaptersByteSize, parseLoraTargets } from "./lora.js";
export type { LoraAdapters, LoraLinear, LoraTarget } from "./lora.js";
export { encodeAdapters, decodeAdapters, adapterConfig, peftTensorName } from "./formats/lora.js";
export { mergeAdapters } from "./lora-merge.js";
export { encodeSafetensors } from "./formats/safetensors-writer.js";
export { LoraTrainer } from "./lora-train.js";
export type { LossKind, AdamWOptions } from "./lora-train.js";
export { finetune } from "./finetune.js";
export type { FinetuneOptions, FinetuneResult, StepReport, EvalReport } from "./finetune.js";
export { WeightStream, StreamBudgetError, STREAM_POLICIES, streamCacheEntries } from "./stream/weights.js";
export type { StreamOptions, StreamSetup, StreamPolicy, ReadAt } from "./stream/weights.js";
export type { StreamCounters } from "./stream/io.js";
export { planStream, parseStreamHeader, isStreamFile, streamStaticBytes, STREAM_MAGIC, STREAM_VERSION } from "./stream/format.js";
export type { StreamHeader } from "./stream/format.js";
export { openStream } from "./stream/open.js";
export type { OpenStream, OpenStreamOptions } from "./stream/open.js";
export { streamReport, formatStreamSummary, resetStreamCounters, streamHitRates } from "./stream/report.js";
export type { StreamReport } from "./stream/report.js";
