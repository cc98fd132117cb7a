// Library entry for browsers (the package's `browser` condition, build/browser/index.js; the demo's
// build/web/dip.js): the runtime-neutral host plus the browser adapters (models downloaded into
// OPFS or the Cache API, the engine in a Web Worker, a .dipstream read from OPFS or Blob slices).
// Node's entry is host/index.ts; both build on host/core.ts.
export * from "../core.js";
export { openStreamOpfs, openStreamBlob, openStreamHandle, copyToOpfs, listOpfsStreams, opfsSyncAvailable, BLOB_READ_AHEAD_BYTES } from "./stream-opfs.js";
export type { SyncAccessHandle } from "./stream-opfs.js";
export { fetchModel, browserModelStore, opfsModelStore, cacheApiModelStore, OPFS_MODEL_DIR, CACHE_API_NAME } from "./model-cache.js";
export { createWorkerEngine } from "./worker-engine.js";
export type { WorkerEngine, WorkerEngineOptions, WorkerGenerateOptions, WorkerGenerateSettings, TextStream } from "./worker-engine.js";
export { serveEngine, openEngine, throttledProgress } from "./engine-worker.js";
export type { WorkerScope, OpenedEngine } from "./engine-worker.js";
