// Opening a .dipstream for streaming, in any runtime: the adapters only supply positioned reads
// (Node: fs.readSync on a descriptor, host/node/stream-file.ts; browsers: an OPFS sync access
// handle or Blob slices, host/web/stream-opfs.ts), so every runtime checks the same things in the
// same order and builds the same static model and WeightStream.
import type { LoadedModel } from "../model.js";
import { ModelFormatError } from "../model.js";
import { isStreamFile, parseStreamHeader, STREAM_PREFIX_BYTES, streamHeaderLength, streamModel } from "./format.js";
import { checkCrcTable, type ReadAt, WeightStream } from "./weights.js";

export interface OpenStream {
  /** the static part of the model (MLP weights empty: they are streamed) */
  model: LoadedModel;
  stream: WeightStream;
  /** releases the file (descriptor, access handle); the stream must not be read afterwards */
  close(): void;
}

export interface OpenStreamOptions {
  /** CRC-32 (IEEE) to check columns and tensors with; default the portable one */
  crc?: (bytes: Uint8Array) => number;
  /** called by close() and when opening fails */
  close?: () => void;
}

/** Reads exactly `into.length` bytes at `position`, or fails with `what` (the file is shorter than its header says). */
function readExactly(readAt: ReadAt, position: number, into: Uint8Array, source: string, what: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readAt(position + done, into.subarray(done));
    if (n <= 0) throw new ModelFormatError(source, what);
    done += n;
  }
}

/**
 * Opens a .dipstream of `fileBytes` bytes read through `readAt`: checks the header, the file size,
 * the column CRC table and every static tensor, then hands back the static model and the stream.
 */
export function openStream(readAt: ReadAt, fileBytes: number, source: string, opts: OpenStreamOptions = {}): OpenStream {
  const close = opts.close ?? (() => undefined);
  try {
    const prefix = new Uint8Array(Math.min(STREAM_PREFIX_BYTES, fileBytes));
    readExactly(readAt, 0, prefix, source, "truncated header");
    if (prefix.length < STREAM_PREFIX_BYTES && isStreamFile(prefix)) throw new ModelFormatError(source, "truncated header");
    const len = streamHeaderLength(prefix, source);
    if (STREAM_PREFIX_BYTES + len > fileBytes) throw new ModelFormatError(source, "truncated header");
    const head = new Uint8Array(STREAM_PREFIX_BYTES + len);
    readExactly(readAt, 0, head, source, "truncated header");
    const header = parseStreamHeader(head, fileBytes, source);
    const table = new Uint8Array(header.crc_table.bytes);
    readExactly(readAt, header.crc_table.offset, table, source, "truncated CRC table");
    checkCrcTable(header, table, source);
    const stream = new WeightStream(header, readAt, source, table, opts.crc);
    const model = streamModel(header, (n) => stream.readTensor(n), source);
    stream.resetCounters();
    return { model, stream, close };
  } catch (e) {
    close();
    throw e;
  }
}
