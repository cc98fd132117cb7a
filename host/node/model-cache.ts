// Node adapter for models by URL: downloaded files are kept in a folder (DIP_CACHE_DIR/models, else
// the user's cache folder), an unfinished download as KEY.part beside them, so a second load reads
// no network bytes and an interrupted one resumes. hf: names use HF_ENDPOINT when it is set, as the
// Hugging Face tools do.
import { appendFile, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { downloadBytes, makeFetchModel, modelCacheKey, resolveModelUrl, type FetchModel, type FetchModelOptions, type ModelStore } from "../model-fetch.js";

/** Where downloaded models go: $DIP_CACHE_DIR/models, else the platform's user cache folder + dip-engine/models. */
export function modelCacheDir(): string {
  if (process.env.DIP_CACHE_DIR) return resolve(process.env.DIP_CACHE_DIR, "models");
  const home = homedir();
  const base =
    process.platform === "win32"
      ? (process.env.LOCALAPPDATA ?? join(home, "AppData", "Local"))
      : process.platform === "darwin"
        ? join(home, "Library", "Caches")
        : (process.env.XDG_CACHE_HOME ?? join(home, ".cache"));
  return join(base, "dip-engine", "models");
}

/** A ModelStore on a folder (default modelCacheDir()). */
export function folderModelStore(dir: string = modelCacheDir()): ModelStore {
  const file = (key: string) => join(dir, key);
  const part = (key: string) => join(dir, `${key}.part`);
  const size = (path: string) => stat(path).then((s) => s.size, () => 0);
  return {
    async read(key) {
      try {
        return new Uint8Array(await readFile(file(key)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw e;
      }
    },
    partialSize: (key) => size(part(key)),
    async append(key, chunk) {
      await mkdir(dir, { recursive: true });
      await appendFile(part(key), chunk);
    },
    commit: (key) => rename(part(key), file(key)),
    discardPartial: (key) => rm(part(key), { force: true }),
  };
}

/** fetchModel with `cache: true` keeping files in modelCacheDir(); `hf:` names honour HF_ENDPOINT. */
const fetchModelCached: FetchModel = makeFetchModel(() => folderModelStore());
export const fetchModel: FetchModel = (source, options, legacy) => {
  const opts = typeof options === "function" ? { onProgress: options } : (options ?? {});
  return fetchModelCached(source, { hfBaseUrl: process.env.HF_ENDPOINT, ...opts }, legacy);
};

/** True for what --model takes besides a path: an http(s) URL or an hf: name. */
export function isRemoteModel(spec: string): boolean {
  return /^(https?:\/\/|hf:)/i.test(spec);
}

/**
 * Downloads a model by URL or hf: name into the cache folder (a cached one is not downloaded
 * again; an interrupted one resumes) and returns the cached file's path, for code that reads files.
 */
export async function downloadModelFile(source: string, opts: Pick<FetchModelOptions, "onProgress" | "signal" | "hfBaseUrl"> = {}): Promise<string> {
  const url = resolveModelUrl(source, { hfBaseUrl: opts.hfBaseUrl ?? process.env.HF_ENDPOINT });
  const dir = modelCacheDir();
  await downloadBytes(url, folderModelStore(dir), opts);
  return join(dir, modelCacheKey(url));
}
