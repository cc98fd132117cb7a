// Browser adapter for .dipstream files, for the engine's dedicated Web Worker (web/worker.ts):
// - OPFS: the file lives in the origin private file system and is read with a
//   FileSystemSyncAccessHandle (`handle.read(view, { at })`), synchronous positioned reads straight
//   into wasm memory, as fs.readSync does in Node;
// - fallback: any Blob or File read through FileReaderSync on blob.slice() (with a read-ahead
//   window, since each Blob read is a round trip to the browser's blob store);
// - copyToOpfs: a picked File or a fetched URL copied into OPFS chunk by chunk (never held whole in
//   memory), with progress, so later runs use the sync handle.
// The checks, the static model and the WeightStream are the runtime-neutral ones (host/stream/open.ts).
import { ModelFormatError } from "../model.js";
import type { ProgressCallback } from "../formats/bytes.js";
import { isStreamFile, STREAM_MAGIC } from "../stream/format.js";
import { openStream, type OpenStream } from "../stream/open.js";

/** The parts of FileSystemSyncAccessHandle used here (lib.webworker's; this project type-checks against lib.dom). */
export interface SyncAccessHandle {
  read(into: ArrayBufferView, options?: { at?: number }): number;
  write(from: ArrayBufferView, options?: { at?: number }): number;
  getSize(): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

interface OpfsFileHandle extends FileSystemFileHandle {
  /** dedicated workers only */
  createSyncAccessHandle(): Promise<SyncAccessHandle>;
  /** renames within OPFS (Chromium 110+, Firefox 111+) */
  move?(newName: string): Promise<void>;
}

declare const FileReaderSync: (new () => { readAsArrayBuffer(blob: Blob): ArrayBuffer }) | undefined;

/** Opens a .dipstream through an open sync access handle (closed by the stream's close()). */
export function openStreamHandle(handle: SyncAccessHandle, name: string): OpenStream {
  const readAt = (position: number, into: Uint8Array) => handle.read(into, { at: position });
  return openStream(readAt, handle.getSize(), name, { close: () => handle.close() });
}

/**
 * True where OPFS sync access handles can be used: a dedicated worker of a browser with OPFS, and
 * a window that allows it (some browsers refuse OPFS in private windows).
 */
export async function opfsSyncAvailable(): Promise<boolean> {
  if (typeof FileSystemFileHandle === "undefined" || typeof (FileSystemFileHandle.prototype as OpfsFileHandle).createSyncAccessHandle !== "function") return false;
  try {
    await opfsRoot();
    return true;
  } catch {
    return false;
  }
}

/** Opens a .dipstream stored in OPFS under `name` (see copyToOpfs). Dedicated workers only. */
export async function openStreamOpfs(name: string): Promise<OpenStream> {
  const file = (await opfsFile(name, false)) as OpfsFileHandle;
  if (typeof file.createSyncAccessHandle !== "function") {
    throw new ModelFormatError(name, "this browser has no OPFS sync access handles here (they exist in dedicated workers only): read the file as a Blob instead");
  }
  let handle: SyncAccessHandle;
  try {
    handle = await file.createSyncAccessHandle();
  } catch (e) {
    if ((e as DOMException).name === "NoModificationAllowedError") throw new ModelFormatError(name, "the stored copy is open elsewhere (another tab or worker): close it first");
    throw e;
  }
  return openStreamHandle(handle, name);
}

/**
 * Each Blob read is a round trip to the browser's blob store (~1 ms in Chromium, against a few
 * microseconds for a sync access handle), so the fallback reads ahead: a window of this many bytes
 * from the requested position serves the next reads while they fall inside it (a fetch reads the
 * columns of one layer group in ascending order). Bounded host memory; larger reads go straight.
 */
export const BLOB_READ_AHEAD_BYTES = 1 << 20;

/** Opens a .dipstream from a Blob or File, reading slices with FileReaderSync (workers only). */
export function openStreamBlob(blob: Blob, name = (blob as Blob & { name?: string }).name ?? "model.dipstream"): OpenStream {
  if (typeof FileReaderSync === "undefined") throw new ModelFormatError(name, "reading a Blob on demand needs FileReaderSync: open the stream in a Web Worker");
  const reader = new FileReaderSync();
  const slice = (position: number, bytes: number) => new Uint8Array(reader.readAsArrayBuffer(blob.slice(position, position + bytes)));
  let window = new Uint8Array(0);
  let windowAt = 0;
  const readAt = (position: number, into: Uint8Array) => {
    if (into.length >= BLOB_READ_AHEAD_BYTES) {
      const got = slice(position, into.length);
      into.set(got);
      return got.length;
    }
    if (position < windowAt || position + into.length > windowAt + window.length) {
      window = slice(position, BLOB_READ_AHEAD_BYTES);
      windowAt = position;
    }
    const n = Math.min(into.length, windowAt + window.length - position); // 0 past the end of the file
    into.set(window.subarray(position - windowAt, position - windowAt + n));
    return n;
  };
  return openStream(readAt, blob.size, name);
}

/** A plain file name for OPFS (no folders). */
function checkName(name: string): void {
  if (!name || name.includes("/") || name.includes("\\") || name === "." || name === ".." || name.startsWith(".")) {
    throw new RangeError(`not a usable file name for the browser's storage: ${JSON.stringify(name)}`);
  }
}

async function opfsRoot(): Promise<FileSystemDirectoryHandle> {
  if (typeof navigator === "undefined" || !navigator.storage?.getDirectory) throw new Error("this browser has no origin private file system (navigator.storage.getDirectory)");
  return navigator.storage.getDirectory();
}

async function opfsFile(name: string, create: boolean): Promise<FileSystemFileHandle> {
  checkName(name);
  try {
    return await (await opfsRoot()).getFileHandle(name, { create });
  } catch (e) {
    if ((e as DOMException).name === "NotFoundError") throw new ModelFormatError(name, "not in this browser's storage (OPFS): copy it there first");
    throw e;
  }
}

/**
 * Copies a .dipstream (File/Blob or fetch Response) into OPFS as `name`, chunk by chunk, calling
 * onProgress; anything without the .dipstream magic is refused at its first chunk.
 * The bytes go to a temporary entry renamed over `name` when complete, so an interrupted copy
 * never leaves a half file under the real name (a browser without rename writes in place: a cut
 * copy is then refused at open by the header's file size). Returns the bytes copied.
 * Dedicated workers only (sync access handle). Close any stream open on `name` first.
 */
export async function copyToOpfs(source: Blob | Response, name: string, onProgress?: ProgressCallback): Promise<number> {
  checkName(name);
  let body: ReadableStream<Uint8Array>;
  let total: number | undefined;
  if (source instanceof Blob) {
    body = source.stream() as ReadableStream<Uint8Array>;
    total = source.size;
  } else {
    if (!source.ok) throw new Error(`${source.url}: HTTP ${source.status} ${source.statusText}`.trim());
    const length = Number(source.headers.get("content-length"));
    total = Number.isFinite(length) && length > 0 && !source.headers.get("content-encoding") ? length : undefined;
    if (!source.body) throw new Error(`${source.url}: the response has no body`);
    body = source.body;
  }
  const root = await opfsRoot();
  const canRename = typeof (FileSystemFileHandle.prototype as OpfsFileHandle).move === "function";
  const target = canRename ? `.${name}.partial` : name;
  if (!canRename) await root.removeEntry(name).catch(() => undefined);
  const file = (await root.getFileHandle(target, { create: true })) as OpfsFileHandle;
  const handle = await file.createSyncAccessHandle();
  let at = 0;
  try {
    handle.truncate(0);
    const reader = body.getReader();
    onProgress?.(0, total);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // fail before copying gigabytes of something else (a shorter first chunk is checked at open)
      if (at === 0 && value.length >= 8 && !isStreamFile(value)) throw new ModelFormatError(name, `not a .dipstream file (magic "${STREAM_MAGIC}" missing); convert with dip convert --stream-layout`);
      for (let off = 0; off < value.length; ) off += handle.write(value.subarray(off), { at: at + off });
      at += value.length;
      onProgress?.(at, total);
    }
    handle.flush();
  } catch (e) {
    handle.close();
    await root.removeEntry(target).catch(() => undefined);
    throw e;
  }
  handle.close();
  if (canRename) {
    await root.removeEntry(name).catch(() => undefined); // the older copy, if any
    await file.move!(name);
  }
  return at;
}

/** The .dipstream files stored in OPFS, with their sizes. */
export async function listOpfsStreams(): Promise<{ name: string; bytes: number }[]> {
  const root = (await opfsRoot()) as FileSystemDirectoryHandle & { values(): AsyncIterable<FileSystemHandle> };
  const out: { name: string; bytes: number }[] = [];
  for await (const h of root.values()) {
    if (h.kind === "file" && h.name.toLowerCase().endsWith(".dipstream")) out.push({ name: h.name, bytes: (await (h as FileSystemFileHandle).getFile()).size });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
