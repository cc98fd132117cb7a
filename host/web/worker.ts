// The engine worker's script (package subpath `dip-engine/worker`, built as build/browser/worker.js):
// run it as a module Worker and talk to it with createWorkerEngine (host/web/worker-engine.ts).
import { serveEngine, type WorkerScope } from "./engine-worker.js";

serveEngine(self as unknown as WorkerScope);
