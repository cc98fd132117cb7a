// Library entry for Node (and Deno): the runtime-neutral host plus the Node adapters (files,
// build/engine.wasm as the default engine). Browsers import host/web/index.ts (build/web/dip.js).
import "./node/wasm.js";
export * from "./core.js";
export { loadModelFile, sha256File } from "./node/load.js";
export type { LoadOptions } from "./node/load.js";
export { loadHfDirectory, loadHfSafetensors } from "./node/hf.js";
export { loadHfTokenizerFile } from "./node/hf-tokenizer.js";
export { readTraceFile, writeTraceFile } from "./node/trace-file.js";
export { readCalibration, writeCalibration } from "./node/calibration-file.js";
export { loadEngineWasmFromDisk, readEngineWasmBytes } from "./node/wasm.js";
export { nodeThreadSpawner } from "./node/threads.js";
export { startDemoServer } from "./node/serve.js";
export type { DemoServer, ServeOptions } from "./node/serve.js";
export { readAdaptersFile, writeAdaptersFile } from "./node/adapters-file.js";
export { openStreamFile, writeStreamFile, loadStreamFileFully } from "./node/stream-file.js";
export { fetchModel, folderModelStore, modelCacheDir } from "./node/model-cache.js";
export { IDLE_LOAD, recordLoad } from "./node/load-average.js";
