// Worker threads for the threads build (assembly/threads/): N-1 workers each instantiate
// build/thread-worker.wasm on the engine's shared memory and run their share of every big product.
// Runtime-neutral: Web Workers (browsers, Deno) by default; the Node adapter registers a
// worker_threads spawner (host/node/threads.ts).

/** What a worker needs: the compiled worker module, the shared memory and the job block. */
export interface ThreadInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  job: number;
}

export interface ThreadHandle {
  /** resolves once the worker has instantiated its module and entered its wait loop */
  ready: Promise<void>;
  terminate(): void;
}

export type ThreadSpawner = (init: ThreadInit) => ThreadHandle;

/** The body of every worker: instantiate, say ready, then loop in wasm until a stop job. */
export const WORKER_MAIN = `async function dipThread({ module, memory, job }, post) {
  try {
    const instance = await WebAssembly.instantiate(module, { env: { memory, abort() { throw new Error("abort in thread worker"); } } });
    post({ ready: true });
    instance.exports.workerLoop(job);
  } catch (e) {
    post({ error: String(e && e.message || e) });
  }
}`;

/** Web Workers from a blob: URL (no extra file to serve; module type, as Deno requires). */
function webSpawner(init: ThreadInit): ThreadHandle {
  const url = URL.createObjectURL(new Blob([`${WORKER_MAIN}\nself.onmessage = (e) => dipThread(e.data, (m) => self.postMessage(m));\n`], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  URL.revokeObjectURL(url);
  const ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ ready?: boolean; error?: string }>) => (e.data.ready ? resolve() : reject(new Error(`thread worker: ${e.data.error}`)));
    worker.onerror = (e) => reject(new Error(`thread worker failed to start: ${(e as ErrorEvent).message ?? e}`));
  });
  worker.postMessage(init);
  return { ready, terminate: () => worker.terminate() };
}

let spawner: ThreadSpawner | undefined;

/** Sets how worker threads are started (the Node adapter sets worker_threads). */
export function setThreadSpawner(s: ThreadSpawner | undefined): void {
  spawner = s;
}

/** Throws a clear error when this runtime (or page) cannot share memory between threads. */
export function checkThreadSupport(): void {
  const g = globalThis as { SharedArrayBuffer?: unknown; crossOriginIsolated?: boolean; Worker?: unknown };
  if (typeof g.SharedArrayBuffer === "undefined" || g.crossOriginIsolated === false) {
    throw new Error(
      "threads need SharedArrayBuffer, which this runtime does not offer" +
        (g.crossOriginIsolated === false ? " to this page: serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp" : "") +
        "; run with threads: 1",
    );
  }
  if (!spawner && typeof g.Worker === "undefined") throw new Error("threads need Web Workers (or the Node adapter's worker_threads); run with threads: 1");
}

/** Starts threads-1 workers and waits until all are in their wait loop. */
export async function startThreads(module: WebAssembly.Module, memory: WebAssembly.Memory, job: number, threads: number): Promise<ThreadHandle[]> {
  const spawn = spawner ?? webSpawner;
  const handles: ThreadHandle[] = [];
  try {
    for (let i = 1; i < threads; i++) handles.push(spawn({ module, memory, job }));
    await Promise.all(handles.map((h) => h.ready));
  } catch (e) {
    for (const h of handles) h.terminate();
    throw e;
  }
  return handles;
}
