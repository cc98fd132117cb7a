// Models by URL, runtime-neutral: `hf:OWNER/REPO[@REV]/FILE` names, downloads that keep what they
// received in a cache (a folder in Node, OPFS or the Cache API in browsers: the adapters supply the
// store) so the next load reads no network bytes, and resume an interrupted download with an HTTP
// Range request.
import { loadModelFromBytes, nameOf, readStream, type ProgressCallback } from "./formats/bytes.js";
import type { LoadedModel } from "./model.js";
import { sha256Hex } from "./sha256.js";

/** Where Hugging Face files are downloaded from when no `hfBaseUrl` is given. */
export const HF_BASE_URL = "https://huggingface.co";

/**
 * The URL a model name stands for: `hf:OWNER/REPO/FILE` (FILE may have folders) or
 * `hf:OWNER/REPO@REV/FILE` becomes `BASE/OWNER/REPO/resolve/REV/FILE` (REV default `main`), as the
 * Hugging Face Hub serves files; anything else is returned as given.
 */
export function resolveModelUrl(spec: string | URL, opts: { hfBaseUrl?: string } = {}): string {
  const s = String(spec);
  if (!s.startsWith("hf:")) return s;
  const m = /^hf:([^/@\s]+)\/([^/@\s]+)(?:@([^/\s]+))?\/(.+)$/.exec(s);
  if (!m || m[4].split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new Error(`model name ${JSON.stringify(s)}: expected hf:OWNER/REPO/FILE or hf:OWNER/REPO@REVISION/FILE`);
  }
  const [, owner, repo, rev, file] = m;
  const base = (opts.hfBaseUrl ?? HF_BASE_URL).replace(/\/+$/, "");
  const path = file.split("/").map(encodeURIComponent).join("/");
  return `${base}/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/resolve/${encodeURIComponent(rev ?? "main")}/${path}`;
}

/**
 * Keeps downloaded files by key (the URL's SHA-256): the complete ones, and the bytes received so
 * far of an interrupted one, so it can resume. Adapters: host/node/model-cache.ts (a folder),
 * host/web/model-cache.ts (OPFS, else the Cache API).
 */
export interface ModelStore {
  /** the bytes of a complete file, or undefined */
  read(key: string): Promise<Uint8Array | undefined>;
  /** how many bytes of an unfinished download are kept (0: none; a store that cannot resume says 0) */
  partialSize(key: string): Promise<number>;
  /** appends received bytes to the unfinished download (durably: they survive an interruption) */
  append(key: string, chunk: Uint8Array): Promise<void>;
  /** the unfinished download is complete: keep it as the file */
  commit(key: string): Promise<void>;
  /** forgets the unfinished download (the server sent the whole file again) */
  discardPartial(key: string): Promise<void>;
}

export interface FetchModelOptions {
  /** keep the file and reuse it (true: the runtime's store; or a store of your own); default false */
  cache?: boolean | ModelStore;
  /** download progress: bytes so far and the total when known (a cached file reports once, complete) */
  onProgress?: ProgressCallback;
  /** base URL for `hf:` names (default https://huggingface.co; Node also reads HF_ENDPOINT) */
  hfBaseUrl?: string;
  /** for a llama2.c checkpoint (*.bin): its tokenizer's URL (or hf: name) */
  tokenizerUrl?: string | URL;
  /** stops the download */
  signal?: AbortSignal;
}

/** The cache key of a URL: hex SHA-256 of the URL, then its file name (readable in a listing). */
export function modelCacheKey(url: string): string {
  const name = nameOf(url).replace(/[^A-Za-z0-9._-]/g, "_").slice(-80);
  return `${sha256Hex(new TextEncoder().encode(url)).slice(0, 32)}-${name}`;
}

/** Batches of this many bytes are appended to the store (fewer, larger writes). */
const APPEND_BYTES = 1 << 20;

/**
 * The bytes at `url`: from the store when it holds them, else downloaded into it (resuming an
 * interrupted download from the bytes kept). Without a store, a plain download.
 */
export async function downloadBytes(url: string, store: ModelStore | undefined, opts: Pick<FetchModelOptions, "onProgress" | "signal"> = {}): Promise<Uint8Array> {
  const { onProgress, signal } = opts;
  if (!store) return plainDownload(url, onProgress, signal);
  const key = modelCacheKey(url);
  const cached = await store.read(key);
  if (cached) {
    onProgress?.(cached.length, cached.length);
    return cached;
  }
  let have = await store.partialSize(key);
  let res = await fetchChecked(url, signal, have > 0 ? { Range: `bytes=${have}-` } : undefined, have > 0 ? [416] : []);
  if (res.status === 416) {
    // nothing the server has lies past the kept bytes (the file changed, or the part was complete): start over
    await res.body?.cancel();
    await store.discardPartial(key);
    have = 0;
    res = await fetchChecked(url, signal);
  }
  let total = contentLength(res);
  if (have > 0) {
    const range = res.status === 206 ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "") : null;
    if (range && Number(range[1]) === have) {
      total = range[2] === "*" ? undefined : Number(range[2]);
    } else {
      // the server ignored the range (200: this is the whole file) or answered another one: start over
      await store.discardPartial(key);
      have = 0;
      if (res.status !== 200) {
        await res.body?.cancel();
        res = await fetchChecked(url, signal);
      }
      total = contentLength(res);
    }
  }
  onProgress?.(have, total);
  let received = have;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const batch = new Uint8Array(pendingBytes);
    let at = 0;
    for (const c of pending) {
      batch.set(c, at);
      at += c.length;
    }
    pending = [];
    pendingBytes = 0;
    await store.append(key, batch);
  };
  try {
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        pending.push(value);
        pendingBytes += value.length;
        received += value.length;
        if (pendingBytes >= APPEND_BYTES) await flush();
        onProgress?.(received, total);
      }
    } else {
      const all = new Uint8Array(await res.arrayBuffer());
      pending.push(all);
      pendingBytes += all.length;
      received += all.length;
    }
  } finally {
    await flush(); // what arrived is kept, also when the connection broke: the next call resumes
  }
  if (total !== undefined && received !== total) throw new Error(`${url}: the download ended at ${received} of ${total} bytes; call again to resume`);
  await store.commit(key);
  const bytes = await store.read(key);
  if (!bytes) throw new Error(`${url}: the model cache lost the file it just stored`);
  onProgress?.(bytes.length, bytes.length);
  return bytes;
}

async function fetchChecked(url: string, signal: AbortSignal | undefined, headers?: Record<string, string>, accept: number[] = []): Promise<Response> {
  const res = await fetch(url, { signal, headers });
  if (!res.ok && !accept.includes(res.status)) {
    await res.body?.cancel();
    throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`.trim());
  }
  return res;
}

/** Content-Length when it is the size of the bytes the body yields (not compressed). */
function contentLength(res: Response): number | undefined {
  const length = Number(res.headers.get("content-length"));
  return Number.isFinite(length) && length > 0 && !res.headers.get("content-encoding") ? length : undefined;
}

async function plainDownload(url: string, onProgress: ProgressCallback | undefined, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const res = await fetchChecked(url, signal);
  const total = contentLength(res);
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress?.(b.length, b.length);
    return b;
  }
  return readStream(res.body, total, onProgress);
}

/**
 * Downloads a model (GGUF, or a llama2.c `.bin` with `tokenizerUrl`) and loads it, from a URL or an
 * `hf:` name, with progress; `cache` keeps it in `store` (the runtime entry points pass theirs).
 */
export async function fetchModelWithStore(source: string | URL, opts: FetchModelOptions, store: ModelStore | undefined): Promise<LoadedModel> {
  const url = resolveModelUrl(source, opts);
  const bytes = await downloadBytes(url, store, opts);
  const tokenizerUrl = opts.tokenizerUrl !== undefined ? resolveModelUrl(opts.tokenizerUrl, opts) : undefined;
  const tokenizerBytes = tokenizerUrl ? await downloadBytes(tokenizerUrl, store, { signal: opts.signal }) : undefined;
  return loadModelFromBytes(bytes, nameOf(url), { tokenizerBytes, tokenizerName: tokenizerUrl ? nameOf(tokenizerUrl) : undefined });
}

/** The store `cache` asks for: none, the given one, or the runtime's default (made on first use). */
export function storeFor(cache: FetchModelOptions["cache"], runtimeStore: (() => ModelStore) | undefined): ModelStore | undefined {
  if (!cache) return undefined;
  if (cache !== true) return cache;
  if (!runtimeStore) throw new Error("fetchModel: this runtime has no model cache; pass { cache: aStore } (a ModelStore) or cache: false");
  return runtimeStore();
}

/** fetchModel's signature; each runtime entry exports one with its own store for `cache: true`. */
export type FetchModel = (source: string | URL, options?: FetchModelOptions | ProgressCallback, legacy?: { tokenizerUrl?: string | URL }) => Promise<LoadedModel>;

/**
 * fetchModel for a runtime whose `cache: true` store is `runtimeStore` (undefined: none). Two call
 * forms: `(url, { cache, onProgress, ... })`, and the older `(url, onProgress, { tokenizerUrl })`.
 */
export function makeFetchModel(runtimeStore: (() => ModelStore) | undefined): FetchModel {
  return (source, options, legacy) => {
    const opts: FetchModelOptions = typeof options === "function" ? { onProgress: options, ...legacy } : { ...legacy, ...options };
    return fetchModelWithStore(source, opts, storeFor(opts.cache, runtimeStore));
  };
}

/**
 * Downloads a model by URL or `hf:OWNER/REPO[@REV]/FILE` name and loads it: `fetchModel(url, {
 * cache: true, onProgress })`. This is the runtime-neutral one (no store of its own: pass
 * `cache: aStore`); the Node and browser entries export one that caches in a folder / OPFS.
 */
export const fetchModel: FetchModel = makeFetchModel(undefined);
