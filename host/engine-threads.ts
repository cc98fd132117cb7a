// Start-up of the engine's threads build (assembly/threads/): a fresh shared memory for the
// instance, then threads-1 workers waiting in their loop (host/threads.ts). Results are
// bit-identical to one thread.

import type { EngineExports } from "./abi.js";
import { checkRuntimeRuns } from "./wasm.js";
import { checkThreadSupport, startThreads, type ThreadHandle } from "./threads.js";

/** Pages of the shared memory the threads build starts with (its initialMemory in asconfig.json). */
const THREADS_INITIAL_PAGES = 16;
/** wasm32's 4 GiB: a shared memory must declare its maximum. */
const WASM32_MAX_PAGES = 65536;
const MAX_THREADS = 64;

const NOT_THREADS_BUILD = "threads: the engine wasm given is not the threads build (build/engine-threads.wasm)";

/** Checks the `threads` option (an integer from 1 to MAX_THREADS, not with the relaxed build). */
export function checkThreadCount(threads: number, relaxed: boolean | undefined): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) throw new RangeError(`--threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  if (threads > 1 && relaxed) throw new RangeError("--relaxed and --threads above 1 are separate builds: pick one");
}

/** The shared memory a threads-build instance imports (checks first that this runtime can share memory when workers will). */
export function threadsMemory(threads: number): WebAssembly.Memory {
  if (threads > 1) checkThreadSupport();
  return new WebAssembly.Memory({ initial: THREADS_INITIAL_PAGES, maximum: WASM32_MAX_PAGES, shared: true });
}

/**
 * Starts threads-1 workers on the instance's shared memory. With one thread (a stream read on an
 * I/O thread needs the shared memory only) there is nothing to start: the arena is laid out
 * exactly as the default build's.
 */
export async function startWorkers(wasm: EngineExports, memory: WebAssembly.Memory, threads: number, workerBytesOf: () => Promise<BufferSource>): Promise<ThreadHandle[]> {
  // the threads build imports the memory it was given; any other build made its own
  if (wasm.memory !== memory) throw new Error(NOT_THREADS_BUILD);
  if (threads === 1) return [];
  const workerBytes = await workerBytesOf();
  checkRuntimeRuns(workerBytes, "thread-worker");
  // a page's main thread may not block in Atomics.wait: there the engine spins instead
  const canWait = typeof (globalThis as { document?: unknown }).document === "undefined" ? 1 : 0;
  const job = wasm.threadsSetup(threads, canWait) >>> 0;
  if (job === 0) throw new Error(`${NOT_THREADS_BUILD}, or it is out of memory`);
  return startThreads(await WebAssembly.compile(workerBytes), memory, job, threads);
}
