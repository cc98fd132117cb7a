// Node adapter for threads: workers from node:worker_threads running host/threads.ts WORKER_MAIN.
// They are unref'd, so a CLI run exits without Engine.close().
import { Worker } from "node:worker_threads";
import { setThreadSpawner, WORKER_MAIN, type ThreadHandle, type ThreadInit } from "../threads.js";

const CODE = `${WORKER_MAIN}\nconst { parentPort, workerData } = require("node:worker_threads");\ndipThread(workerData, (m) => parentPort.postMessage(m));\n`;

/** Starts one worker thread (registered as the spawner when this file is imported). */
export function nodeThreadSpawner(init: ThreadInit): ThreadHandle {
  const worker = new Worker(CODE, { eval: true, workerData: init });
  worker.unref();
  const ready = new Promise<void>((resolve, reject) => {
    worker.once("message", (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(`thread worker: ${m.error}`))));
    worker.once("error", (e) => reject(new Error(`thread worker failed to start: ${e.message}`)));
  });
  return { ready, terminate: () => void worker.terminate() };
}

setThreadSpawner(nodeThreadSpawner);
