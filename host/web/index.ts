// Library entry for browsers (build/web/dip.js): the runtime-neutral host plus the browser
// adapters (a .dipstream read from OPFS or Blob slices, in a dedicated Web Worker). Node's entry
// is host/index.ts; both build on host/core.ts.
export * from "../core.js";
export { openStreamOpfs, openStreamBlob, openStreamHandle, copyToOpfs, listOpfsStreams, opfsSyncAvailable, BLOB_READ_AHEAD_BYTES } from "./stream-opfs.js";
export type { SyncAccessHandle } from "./stream-opfs.js";
