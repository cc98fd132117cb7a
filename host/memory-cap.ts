// A cap on the wasm memory an engine may take (EngineOptions.maxMemoryBytes): webviews grow wasm
// memory far less than wasm32's 4 GiB (iOS WKWebView caps it well below), and a grow that fails
// mid-load is an opaque trap or out-of-memory error. Engine.create checks the model against the
// cap before it allocates anything and refuses it with one line: what it needs, and the options.
import type { LoadedModel } from "./model.js";

export interface MemoryNeed {
  /** bytes of weights + KV cache resident in wasm memory in `dtype` (host/engine-bytes.ts) */
  bytes: number;
  dtype: string;
  /** the same model's resident bytes in each weight dtype */
  bytesIn: Record<string, number>;
  /** streamed: the DRAM budget, which bounds everything the engine holds */
  streamDramBytes?: number;
  /** f32 bytes outside the MLP, which stay resident when the MLP is streamed */
  residentOutsideMlpF32: number;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 3 : 1)} MB`;

/** Throws a RangeError naming the size needed and the options when `need` is over `maxMemoryBytes`. */
export function checkMemoryCap(model: LoadedModel, need: MemoryNeed, maxMemoryBytes: number): void {
  if (!(maxMemoryBytes > 0)) throw new RangeError(`maxMemoryBytes must be a positive number of bytes, got ${maxMemoryBytes}`);
  const cap = `the ${mb(maxMemoryBytes)} of wasm memory this engine may take (maxMemoryBytes)`;
  if (need.streamDramBytes !== undefined) {
    if (need.streamDramBytes <= maxMemoryBytes) return;
    throw new RangeError(`${model.name}: a DRAM budget of ${mb(need.streamDramBytes)} is over ${cap}; stream it with a budget of at most ${mb(maxMemoryBytes)}`);
  }
  if (need.bytes <= maxMemoryBytes) return;
  const resident = need.residentOutsideMlpF32;
  const smaller = Object.entries(need.bytesIn).filter(([dtype, bytes]) => dtype !== need.dtype && bytes < need.bytes);
  const options = [
    ...smaller.map(([dtype, bytes]) => `load it in dtype ${dtype} (${mb(bytes)}${bytes <= maxMemoryBytes ? "" : ", also over the cap"})`),
    `stream it from a .dipstream with a DRAM budget of at most ${mb(maxMemoryBytes)} (${mb(resident)} of weights outside the MLP stay resident${resident < maxMemoryBytes ? "" : ", also over the cap"})`,
  ];
  throw new RangeError(`${model.name} needs ${mb(need.bytes)} of wasm memory in ${need.dtype} (weights + KV cache for ${model.config.seqLen} positions), over ${cap}; options: ${options.join(", or ")}`);
}
