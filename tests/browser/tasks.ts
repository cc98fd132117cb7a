// The pages scripts/browser-pages.mjs opens in Chromium, Firefox and WebKit (tests/browser/tasks.html):
// `?task=<name>&args=<JSON>&report=<id>` runs one task below and reports its result (report.ts),
// so no browser needs a WebDriver.
import { Engine } from "../../host/engine.js";
import { fetchBytes, loadModelFromBytes, nameOf } from "../../host/formats/bytes.js";
import type { SyntheticShape } from "../../host/synthetic.js";
import { ENGINE_BUILD_FILES } from "../../host/wasm.js";
import { buildChecks, decodeSpeed, logitsHashesFromUrls, type BuildBytes } from "./probe.js";
import { queryArgs, reportResult } from "./report.js";
import type { OpfsQuestion, StreamProbeRequest } from "./stream-probe.js";

type Task = (args: Record<string, unknown>) => Promise<unknown>;

/** One request to a fresh stream probe worker: its answer, or its message as an error. */
const inStreamProbe = (request: StreamProbeRequest | OpfsQuestion) =>
  new Promise((ok, fail) => {
    const w = new Worker("/stream-probe.js", { type: "module" });
    w.onmessage = (e: MessageEvent<{ ok: boolean; message?: string }>) => (w.terminate(), e.data.ok ? ok(e.data) : fail(new Error(e.data.message)));
    w.onerror = (e) => (w.terminate(), fail(new Error(e.message)));
    w.postMessage(request);
  });

const TASKS: Record<string, Task> = {
  /** the determinism probe: SHA-256 of the logits, dense and DIP (probe.ts) */
  hashes: async (a) => logitsHashesFromUrls(a.model as string, "/engine.wasm", a.tokens as number[]),
  /** the streamed probe in its worker (stream-probe.ts), through OPFS or Blob slices */
  stream: (a) => inStreamProbe({ wasmUrl: "/engine.wasm", ...a } as unknown as StreamProbeRequest),
  /** the optional builds (probe.ts buildChecks): threads at 2 against 1, relaxed SIMD against the default */
  builds: async (a) => {
    const { default: plain, relaxed, threads, "thread-worker": worker } = ENGINE_BUILD_FILES;
    const files: Record<keyof BuildBytes, string> = { default: plain, relaxed, threads, worker };
    const wasm = Object.fromEntries(await Promise.all(Object.entries(files).map(async ([k, f]) => [k, await fetchBytes(`/${f}`)]))) as unknown as BuildBytes;
    return buildChecks(await fetchBytes(a.model as string), nameOf(a.model as string), wasm, a.tokens as number[]);
  },
  /** the engine refused under a memory cap (host/memory-cap.ts): the message */
  "memory-cap": async (a) => {
    const model = loadModelFromBytes(await fetchBytes(a.model as string), nameOf(a.model as string));
    try {
      (await Engine.create(model, { wasmBytes: await fetchBytes("/engine.wasm"), maxMemoryBytes: a.maxMemoryBytes as number })).close();
    } catch (e) {
      return { message: (e as Error).message };
    }
    throw new Error(`the engine took the model under a cap of ${a.maxMemoryBytes} bytes`);
  },
  /** decode speed (bench/browsers.mjs): tok/s of greedy steps on a synthetic shape, per spec (probe.ts decodeSpeed) */
  decode: async (a) => decodeSpeed(a.shape as SyntheticShape, await fetchBytes("/engine.wasm"), a.tokens as number, a.warmup as number),
  /** which wasm features the engine finds here (fetches each build and validates it) */
  features: async () => {
    const valid = async (f: string) => WebAssembly.validate(await fetchBytes(`/${f}`));
    return {
      simd: await valid("engine.wasm"),
      relaxed_simd: await valid("engine-relaxed.wasm"),
      threads: await valid("engine-threads.wasm"),
      cross_origin_isolated: globalThis.crossOriginIsolated === true,
      shared_array_buffer: typeof SharedArrayBuffer !== "undefined",
      opfs_sync: ((await inStreamProbe({ question: "opfsSync" })) as { opfsSync: boolean }).opfsSync,
      user_agent: navigator.userAgent,
    };
  },
};

void reportResult(async () => {
  const name = new URLSearchParams(location.search).get("task") ?? "";
  const task = TASKS[name];
  if (!task) throw new Error(`no task ${JSON.stringify(name)} (tests/browser/tasks.ts)`);
  return task(queryArgs());
});
