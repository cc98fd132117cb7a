// The I/O thread of a streamed run in Node (host/stream/io.ts): the same WeightStream code as the
// engine thread's, on its own descriptor of the .dipstream file, reading into the engine's shared
// memory. Bundled as build/host/stream-worker.js (scripts/build-host.mjs).
import { openSync, readSync } from "node:fs";
import { workerData } from "node:worker_threads";
import { crc32 } from "node:zlib";
import { WeightStream } from "../stream/weights.js";
import { failStreamIO, serveStreamIO, type StreamIOInit } from "../stream/io.js";

const init = workerData as StreamIOInit & { path: string };
let stream: WeightStream | undefined;
try {
  const fd = openSync(init.path, "r");
  stream = new WeightStream(init.header, (position, into) => readSync(fd, into, 0, into.length, position), init.source, init.crcTable, (b) => crc32(b) >>> 0);
} catch (e) {
  failStreamIO(init.control, e);
}
if (stream) serveStreamIO(stream, init.memory, init.control);
