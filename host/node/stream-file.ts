// Node adapter for .dipstream files: write one (dip convert --stream-layout), open one for
// streaming (positioned reads with fs.readSync on a descriptor), or load one fully.
import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { writeFileAtomically } from "./atomic-file.js";
import { crc32 as zlibCrc32 } from "node:zlib";
import { type LoadedModel, ModelFormatError } from "../model.js";
import { decodeColumnBlocks, planStream, type StreamDtype, type StreamHeader } from "../stream/format.js";
import { openStream, type OpenStream } from "../stream/open.js";
import type { StreamIOSpawner } from "../stream/io.js";
import { Worker } from "node:worker_threads";
import { resolve } from "node:path";
import { projectRoot } from "./paths.js";

export type { OpenStream };

/** Writes `model` as a .dipstream file in `dtype` (f32: version 1, q8: version 2), atomically (temporary file, then rename). Returns its size. */
export async function writeStreamFile(model: LoadedModel, out: string, dtype: StreamDtype = "f32"): Promise<{ bytes: number; header: StreamHeader }> {
  const plan = planStream(model, crc, dtype);
  await writeFileAtomically(out, async (fh) => {
    await fh.write(plan.head, 0, plan.head.length, 0);
    for (const p of plan.pieces) {
      const b = p.bytes();
      await fh.write(b, 0, b.length, p.offset);
    }
    await fh.truncate(plan.header.file_bytes);
  });
  return { bytes: plan.header.file_bytes, header: plan.header };
}

/** zlib's CRC-32 (Node >= 20.15), the same IEEE polynomial as host/sim/trace.ts's. */
const crc = (bytes: Uint8Array): number => zlibCrc32(bytes) >>> 0;

/** Opens a .dipstream file: checks the header, the file size, the column CRC table and every static tensor (host/stream/open.ts). */
export function openStreamFile(path: string): OpenStream {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new ModelFormatError(path, "stream file not found");
    throw e;
  }
  const readAt = (position: number, into: Uint8Array) => readSync(fd, into, 0, into.length, position);
  const o = openStream(readAt, fstatSync(fd).size, path, { crc, close: () => closeSync(fd) });
  o.stream.ioThread = nodeIOThread(path);
  return o;
}

/** I/O threads for `path`: worker_threads running build/host/stream-worker.js, unref'd so a CLI run exits without closing them. */
function nodeIOThread(path: string): StreamIOSpawner {
  return (init) => {
    const script = resolve(projectRoot(), "build", "host", "stream-worker.js");
    // a worker whose script is missing would only fail on its own thread, unseen by the waiting engine
    if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build (or use --stream-io inline)`);
    const worker = new Worker(script, { workerData: { ...init, path } });
    worker.unref();
    // a worker that fails to start cannot answer: the engine thread reports its silence
    worker.on("error", () => undefined);
    return { terminate: () => void worker.terminate() };
  };
}

/** Loads a .dipstream file completely (MLP matrices rebuilt as f32, q8 columns dequantized; every column checked): the resident path. */
export function loadStreamFileFully(path: string): LoadedModel {
  const o = openStreamFile(path);
  try {
    const c = o.model.config;
    const D = c.dim;
    const I = c.hiddenDim;
    const h = o.stream.header;
    const mem = new WebAssembly.Memory({ initial: Math.ceil((Math.max(D * h.groups[0].entry_bytes, I * h.groups[1].entry_bytes) + 64 * D + 64 * I) / 65536) + 1 });
    const listPtr = 0;
    const dataPtr = 8 * Math.max(D, I);
    o.model.weights.layers.forEach((l, layer) => {
      for (let g = 0; g < 2; g++) {
        const n = h.groups[g].entries;
        const eb = h.groups[g].entry_bytes;
        const list = new Uint32Array(mem.buffer, listPtr, 2 * n);
        for (let j = 0; j < n; j++) (list[2 * j] = j), (list[2 * j + 1] = dataPtr + j * eb);
        o.stream.fetch(mem, layer, g, listPtr, n);
        const cols = decodeColumnBlocks(new Uint8Array(mem.buffer, dataPtr, n * eb), g === 0 ? I : D, h.dtype);
        if (g === 0) {
          l.wGate = new Float32Array(I * D);
          l.wUp = new Float32Array(I * D);
          for (let j = 0; j < D; j++) {
            for (let r = 0; r < I; r++) {
              l.wGate[r * D + j] = cols[j * 2 * I + r];
              l.wUp[r * D + j] = cols[j * 2 * I + I + r];
            }
          }
        } else {
          l.wDown = new Float32Array(D * I);
          for (let j = 0; j < I; j++) for (let r = 0; r < D; r++) l.wDown[r * I + j] = cols[j * D + r];
        }
      }
    });
    return o.model;
  } finally {
    o.close();
  }
}
