// Models by URL: hf: names, the download cache (a second load reads no network bytes) and resume
// (an interrupted download continues with a Range request), against a local server laid out as the
// Hugging Face Hub serves files (/OWNER/REPO/resolve/REV/FILE), counting requests and bytes.
// Never the network.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveModelUrl, modelCacheKey, makeFetchModel } from "../host/model-fetch.js";
import { fetchModel, folderModelStore, modelCacheDir } from "../host/node/model-cache.js";
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { STORIES_GGUF } from "./helpers.js";
import { projectRoot } from "../host/node/paths.js";

/** The CLI in a child process, without blocking this process (its server must answer). */
function runDipAsync(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" }, (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

interface HubLog {
  requests: { path: string; range?: string }[];
  bytes: number;
}

/** A Hub look-alike serving `files` (path under /OWNER/REPO/resolve/REV/ -> bytes), with Range. */
async function startHub(files: Record<string, Uint8Array>, opts: { cutFirstAt?: number; ignoreRange?: boolean } = {}): Promise<{ base: string; log: HubLog; server: Server }> {
  const log: HubLog = { requests: [], bytes: 0 };
  let cut = opts.cutFirstAt;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url!.split("?")[0]);
    log.requests.push({ path, range: req.headers.range });
    const body = files[path];
    if (!body) return void res.writeHead(404).end("not found");
    const range = opts.ignoreRange ? undefined : /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const part = body.subarray(start);
    res.writeHead(range ? 206 : 200, { "Content-Length": String(part.length), ...(range ? { "Content-Range": `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (cut !== undefined) {
      // the connection breaks midway: some bytes arrive, then the socket is gone
      const sent = part.subarray(0, cut);
      cut = undefined;
      log.bytes += sent.length;
      res.write(sent, () => setTimeout(() => res.destroy(), 20));
      return;
    }
    log.bytes += part.length;
    res.end(part);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log, server };
}

const tempDir = () => mkdtempSync(join(tmpdir(), "dip-model-cache-"));

test("hf: names resolve to the Hub's download layout; bad names say the expected form", () => {
  assert.equal(resolveModelUrl("hf:ggml-org/models/tinyllamas/stories260K.gguf"), "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf");
  assert.equal(resolveModelUrl("hf:a/b@v1.0/c d.gguf", { hfBaseUrl: "http://127.0.0.1:9/hub/" }), "http://127.0.0.1:9/hub/a/b/resolve/v1.0/c%20d.gguf");
  assert.equal(resolveModelUrl("https://x.org/m.gguf"), "https://x.org/m.gguf");
  for (const bad of ["hf:", "hf:owner", "hf:owner/repo", "hf:owner/repo/", "hf:o/r/../x.gguf", "hf:o/r@/x.gguf"]) {
    assert.throws(() => resolveModelUrl(bad), /expected hf:OWNER\/REPO\/FILE or hf:OWNER\/REPO@REVISION\/FILE/, bad);
  }
});

test("a cached model: the second load of the same URL reads no network bytes", async () => {
  const gguf = new Uint8Array(readFileSync(STORIES_GGUF()));
  const hub = await startHub({ "/owner/repo/resolve/main/stories.gguf": gguf });
  const dir = tempDir();
  try {
    const fetchCached = makeFetchModel(() => folderModelStore(dir));
    const progress: [number, number | undefined][] = [];
    const first = await fetchCached("hf:owner/repo/stories.gguf", { cache: true, hfBaseUrl: hub.base, onProgress: (l, t) => progress.push([l, t]) });
    assert.equal(first.name, "stories.gguf");
    assert.equal(hub.log.requests.length, 1);
    assert.equal(hub.log.bytes, gguf.length);
    assert.deepEqual(progress.at(-1), [gguf.length, gguf.length]);
    const key = modelCacheKey(`${hub.base}/owner/repo/resolve/main/stories.gguf`);
    assert.deepEqual(readdirSync(dir), [key]);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, key))), gguf);

    const second = await fetchCached("hf:owner/repo/stories.gguf", { cache: true, hfBaseUrl: hub.base });
    assert.equal(hub.log.requests.length, 1, "no request the second time");
    assert.equal(hub.log.bytes, gguf.length, "no bytes the second time");
    assert.deepEqual(second.config, first.config);
    assert.deepEqual(second.vocab?.pieces.slice(0, 50), first.vocab?.pieces.slice(0, 50));

    // without cache every load downloads; a missing file is a readable HTTP error
    await fetchCached(`${hub.base}/owner/repo/resolve/main/stories.gguf`);
    assert.equal(hub.log.requests.length, 2);
    await assert.rejects(fetchCached("hf:owner/repo/missing.gguf", { cache: true, hfBaseUrl: hub.base }), /\/owner\/repo\/resolve\/main\/missing\.gguf: HTTP 404/);
    assert.deepEqual(readdirSync(dir), [key], "nothing kept of a failed request");
  } finally {
    hub.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a download interrupted midway resumes from the bytes kept (Range), and restarts when the server ignores ranges", async () => {
  const gguf = new Uint8Array(readFileSync(STORIES_GGUF()));
  for (const ignoreRange of [false, true]) {
    const cutAt = 300_000;
    const hub = await startHub({ "/o/r/resolve/main/m.gguf": gguf }, { cutFirstAt: cutAt, ignoreRange });
    const dir = tempDir();
    try {
      const fetchCached = makeFetchModel(() => folderModelStore(dir));
      await assert.rejects(fetchCached("hf:o/r/m.gguf", { cache: true, hfBaseUrl: hub.base }));
      const key = modelCacheKey(`${hub.base}/o/r/resolve/main/m.gguf`);
      assert.equal(statSync(join(dir, `${key}.part`)).size, cutAt, "what arrived is kept");

      const model = await fetchCached("hf:o/r/m.gguf", { cache: true, hfBaseUrl: hub.base });
      assert.equal(model.config.nLayers, 5);
      assert.equal(hub.log.requests.length, 2);
      if (ignoreRange) {
        assert.equal(hub.log.requests[1].range, `bytes=${cutAt}-`);
        assert.equal(hub.log.bytes, cutAt + gguf.length, "a server without ranges sends it all again");
      } else {
        assert.equal(hub.log.requests[1].range, `bytes=${cutAt}-`, "the second request asks for the rest");
        assert.equal(hub.log.bytes, gguf.length, "every byte crossed the network once");
      }
      assert.deepEqual(new Uint8Array(readFileSync(join(dir, key))), gguf, "the kept file is the original");
      assert.deepEqual(readdirSync(dir), [key], "no .part left");
    } finally {
      hub.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test("a kept part the server cannot continue (416) is dropped and the file downloaded whole", async () => {
  const gguf = new Uint8Array(readFileSync(STORIES_GGUF()));
  const dir = tempDir();
  const requests: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers.range);
    if (req.headers.range) return void res.writeHead(416, { "Content-Range": `bytes */${gguf.length}` }).end();
    res.writeHead(200, { "Content-Length": String(gguf.length) }).end(gguf);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.gguf`;
    const store = folderModelStore(dir);
    await store.append(modelCacheKey(url), gguf); // a part as long as the file: nothing left to ask for
    const model = await makeFetchModel(() => store)(url, { cache: true });
    assert.equal(model.config.nLayers, 5);
    assert.deepEqual(requests, [`bytes=${gguf.length}-`, undefined]);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, modelCacheKey(url)))), gguf);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Node's fetchModel caches under DIP_CACHE_DIR/models and reads HF_ENDPOINT; the CLI takes --model hf:... with a progress bar", async () => {
  const gguf = new Uint8Array(readFileSync(STORIES_GGUF()));
  const hub = await startHub({ "/owner/repo/resolve/main/stories.gguf": gguf });
  const dir = tempDir();
  const saved = { cache: process.env.DIP_CACHE_DIR, endpoint: process.env.HF_ENDPOINT };
  process.env.DIP_CACHE_DIR = dir;
  process.env.HF_ENDPOINT = hub.base;
  try {
    assert.equal(modelCacheDir(), join(dir, "models"));
    await fetchModel("hf:owner/repo/stories.gguf", { cache: true });
    await fetchModel("hf:owner/repo/stories.gguf", { cache: true });
    assert.equal(hub.log.requests.length, 1);
    assert.equal(readdirSync(join(dir, "models")).length, 1);

    // the CLI (a child process with the same environment) finds it in the cache: no request
    const cached = await runDipAsync("generate", "--model", "hf:owner/repo/stories.gguf", "--steps", "8", "--temperature", "0", "--json");
    assert.equal(cached.code, 0, cached.stderr);
    assert.equal(hub.log.requests.length, 1);
    // a new cache folder: the CLI downloads, drawing its progress on stderr
    process.env.DIP_CACHE_DIR = join(dir, "other");
    const fresh = await runDipAsync("generate", "--model", `${hub.base}/owner/repo/resolve/main/stories.gguf`, "--steps", "8", "--temperature", "0", "--json");
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(hub.log.requests.length, 2);
    assert.match(fresh.stderr, /stories\.gguf.*1\.18 MB.*100%/);
    assert.deepEqual(JSON.parse(fresh.stdout).tokens, JSON.parse(cached.stdout).tokens);
  } finally {
    for (const [k, v] of [["DIP_CACHE_DIR", saved.cache], ["HF_ENDPOINT", saved.endpoint]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    hub.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
