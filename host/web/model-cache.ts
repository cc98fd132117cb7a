// Browser adapter for models by URL: downloaded files are kept in the origin private file system
// (OPFS, folder dip-engine-models/, an unfinished download as KEY.part that a later call resumes),
// or, in a browser without OPFS writes, in the Cache API (whole files only: no resume).
import { makeFetchModel, type FetchModel, type ModelStore } from "../model-fetch.js";

/** The OPFS folder downloaded models are kept in. */
export const OPFS_MODEL_DIR = "dip-engine-models";
/** The Cache API cache they are kept in where OPFS cannot be written. */
export const CACHE_API_NAME = "dip-engine-models";

interface WritableFileHandle extends FileSystemFileHandle {
  move?(newName: string): Promise<void>;
}

function canWriteOpfs(): boolean {
  // createWritable is missing in older browsers although lib.dom declares it
  return typeof navigator !== "undefined" && typeof navigator.storage?.getDirectory === "function" && typeof FileSystemFileHandle !== "undefined" && typeof (FileSystemFileHandle.prototype as Partial<FileSystemFileHandle>).createWritable === "function";
}

/** A ModelStore in OPFS (windows and workers of browsers with FileSystemFileHandle.createWritable). */
export function opfsModelStore(): ModelStore {
  const dir = async () => (await navigator.storage.getDirectory()).getDirectoryHandle(OPFS_MODEL_DIR, { create: true });
  const fileOf = async (name: string, create = false): Promise<WritableFileHandle | undefined> => {
    try {
      return (await (await dir()).getFileHandle(name, { create })) as WritableFileHandle;
    } catch (e) {
      if ((e as DOMException).name === "NotFoundError") return undefined;
      throw e;
    }
  };
  const sizeOf = async (name: string) => ((await (await fileOf(name))?.getFile())?.size ?? 0);
  return {
    async read(key) {
      const f = await fileOf(key);
      return f ? new Uint8Array(await (await f.getFile()).arrayBuffer()) : undefined;
    },
    partialSize: (key) => sizeOf(`${key}.part`),
    async append(key, chunk) {
      const f = (await fileOf(`${key}.part`, true))!;
      const at = (await f.getFile()).size;
      const w = await f.createWritable({ keepExistingData: true });
      await w.seek(at);
      await w.write(chunk as Uint8Array<ArrayBuffer>);
      await w.close(); // committed: an interruption after this keeps these bytes
    },
    async commit(key) {
      const d = await dir();
      const part = (await fileOf(`${key}.part`))!;
      await d.removeEntry(key).catch(() => undefined);
      if (typeof part.move === "function") return part.move(key);
      // no rename in this browser: copy, then drop the part
      const target = (await fileOf(key, true))!;
      const w = await target.createWritable();
      await w.write(await (await part.getFile()).arrayBuffer());
      await w.close();
      await d.removeEntry(`${key}.part`);
    },
    async discardPartial(key) {
      await (await dir()).removeEntry(`${key}.part`).catch(() => undefined);
    },
  };
}

/** A ModelStore in the Cache API: complete files only (a download cut midway starts over). */
export function cacheApiModelStore(): ModelStore {
  const request = (key: string) => new Request(`https://dip-engine.invalid/models/${key}`);
  const pending = new Map<string, Uint8Array[]>();
  return {
    async read(key) {
      const hit = await (await caches.open(CACHE_API_NAME)).match(request(key));
      return hit ? new Uint8Array(await hit.arrayBuffer()) : undefined;
    },
    partialSize: async () => 0,
    async append(key, chunk) {
      pending.set(key, [...(pending.get(key) ?? []), chunk]);
    },
    async commit(key) {
      const body = new Blob((pending.get(key) ?? []) as Uint8Array<ArrayBuffer>[]);
      pending.delete(key);
      await (await caches.open(CACHE_API_NAME)).put(request(key), new Response(body));
    },
    async discardPartial(key) {
      pending.delete(key);
    },
  };
}

/** The browser's model store: OPFS where it can be written, else the Cache API. */
export function browserModelStore(): ModelStore {
  if (canWriteOpfs()) return opfsModelStore();
  if (typeof caches !== "undefined") return cacheApiModelStore();
  throw new Error("fetchModel: this browser has neither OPFS writes nor the Cache API (is the page served over https or localhost?); pass cache: false");
}

/** fetchModel with `cache: true` keeping files in OPFS (else the Cache API). */
export const fetchModel: FetchModel = makeFetchModel(browserModelStore);
