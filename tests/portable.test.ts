// The runtime-neutral host: it bundles for browsers without any node:* module, loads models from
// bytes, Blobs and URLs with progress, hashes like node:crypto, and `dip serve` serves the demo.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { build } from "esbuild";
import { resolve } from "node:path";
import { projectRoot } from "../host/node/paths.js";
import { loadModel, loadModelFromBytes, nameOf } from "../host/formats/bytes.js";
import { fetchModel } from "../host/model-fetch.js";
import { ModelFormatError } from "../host/model.js";
import { Sha256, sha256Hex } from "../host/sha256.js";
import { Engine } from "../host/engine.js";
import { setDefaultEngineWasm, loadDefaultEngineWasm } from "../host/wasm.js";
import { readEngineWasmBytes } from "../host/node/wasm.js";
import { startDemoServer } from "../host/node/serve.js";
import { STORIES_GGUF } from "./helpers.js";

test("the core and the web demo bundle for browsers without node:* modules", async () => {
  const root = projectRoot();
  const r = await build({
    entryPoints: ["host/core.ts", "host/web/index.ts", "web/worker.ts", "web/app.ts", "web/session.ts", "tests/browser/probe.ts", "tests/browser/stream-probe.ts"].map((f) => resolve(root, f)),
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    outdir: "out",
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(r.metafile.inputs);
  assert.deepEqual(inputs.filter((f) => f.startsWith("node:") || /host[\\/](node|cli|paths|resolve)/.test(f)), []);
  assert.ok(inputs.some((f) => f.includes("@huggingface")), "the HF tokenizer is part of the browser core");
});

test("models from bytes, Blobs and URLs, with progress; a wrong file says what it is not", async () => {
  const bytes = new Uint8Array(readFileSync(STORIES_GGUF()));
  const model = loadModelFromBytes(bytes, "stories.gguf");
  assert.equal(model.config.nLayers, 5);
  assert.ok(model.vocab);
  const seen: number[] = [];
  const fromBlob = await loadModel(new Blob([bytes]), "blob.gguf", (loaded, total) => {
    assert.equal(total, bytes.length);
    seen.push(loaded);
  });
  assert.equal(fromBlob.config.dim, 64);
  assert.equal(seen.at(-1), bytes.length);

  const server = createServer((req, res) => {
    if (req.url?.split("?")[0] === "/m/stories.gguf") res.writeHead(200, { "Content-Length": String(bytes.length) }).end(bytes);
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const progress: [number, number | undefined][] = [];
    const fetched = await fetchModel(`${base}/m/stories.gguf?x=1`, (l, t) => progress.push([l, t]));
    assert.equal(fetched.name, "stories.gguf");
    assert.deepEqual(progress.at(-1), [bytes.length, bytes.length]);
    await assert.rejects(fetchModel(`${base}/m/missing.gguf`), /HTTP 404/);
  } finally {
    server.close();
  }
  assert.throws(() => loadModelFromBytes(new TextEncoder().encode("<html>not a model</html>"), "page.html"), (e: Error) => e instanceof ModelFormatError && /page\.html: not a model this engine reads.*3c 68 74 6d \("<htm"\)/.test(e.message));
  assert.throws(() => loadModelFromBytes(bytes.subarray(0, 1000), "cut.gguf"), ModelFormatError);
  assert.equal(nameOf("https://x.org/a/b%20c.gguf?download=1"), "b c.gguf");
});

test("Engine.create with wasmBytes needs no registered loader", async () => {
  const model = loadModelFromBytes(new Uint8Array(readFileSync(STORIES_GGUF())), "stories.gguf");
  const a = await Engine.create(model, { wasmBytes: await readEngineWasmBytes() });
  setDefaultEngineWasm(undefined);
  try {
    // no loader: the bytes are fetched from beside the built library, which Node's fetch cannot read from file:
    await assert.rejects(loadDefaultEngineWasm(), /^Error: engine wasm file:.*\/engine\.wasm: .*pass `wasmUrl` \/ wasmBytes/);
    const b = await Engine.create(model, { wasmBytes: await readEngineWasmBytes() });
    assert.deepEqual(Array.from(a.step(1)), Array.from(b.step(1)));
  } finally {
    setDefaultEngineWasm(readEngineWasmBytes);
  }
});

test("Engine.create({ wasmUrl }) fetches the engine from there; a missing file names the URL and the option", async () => {
  const wasm = await readEngineWasmBytes();
  const served: string[] = [];
  const server = createServer((req, res) => {
    served.push(req.url!);
    if (req.url === "/assets/engine.wasm") res.writeHead(200, { "Content-Type": "application/wasm" }).end(wasm);
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const model = loadModelFromBytes(new Uint8Array(readFileSync(STORIES_GGUF())), "stories.gguf");
  try {
    const fromUrl = await Engine.create(model, { wasmUrl: `${base}/assets/engine.wasm` });
    const fromBytes = await Engine.create(model, { wasmBytes: wasm });
    assert.deepEqual(Array.from(fromUrl.step(1)), Array.from(fromBytes.step(1)));
    assert.deepEqual(served, ["/assets/engine.wasm"]);
    await assert.rejects(Engine.create(model, { wasmUrl: new URL("/nowhere/engine.wasm", base) }), /^Error: engine wasm http:.*\/nowhere\/engine\.wasm: HTTP 404 \(serve the file there or pass `wasmUrl` \/ wasmBytes\)$/);
  } finally {
    server.close();
  }
});

test("sha256 matches node:crypto at every block boundary, incrementally", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 70000]) {
    const b = randomBytes(n);
    assert.equal(sha256Hex(b), createHash("sha256").update(b).digest("hex"), `${n} bytes`);
  }
  const h = new Sha256().update("ab").update(new Uint8Array([0x63])).update(new Float32Array([1.5]));
  assert.equal(h.hex(), createHash("sha256").update("abc").update(Buffer.from(new Float32Array([1.5]).buffer)).digest("hex"));
});

/** Sends `GET path` exactly as written (no URL normalization); resolves to the whole response. */
function rawGet(host: string, port: number, path: string): Promise<string> {
  return new Promise((done, fail) => {
    const socket = connect({ host, port, timeout: 5000 }, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    let response = "";
    socket.on("data", (d: Buffer) => (response += d.toString("latin1")));
    socket.on("end", () => done(response));
    socket.on("timeout", () => socket.destroy(new Error(`${host}:${port}: no answer`)));
    socket.on("error", fail);
  });
}

test("dip serve: the demo, the wasm and the model on 127.0.0.1 with COOP/COEP; nothing else", async () => {
  const s = await startDemoServer({ port: 0, modelPath: STORIES_GGUF() });
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    // the socket itself is bound to loopback only: no other interface of this machine answers
    const { address, port } = s.server.address() as AddressInfo;
    assert.equal(address, "127.0.0.1");
    for (const external of Object.values(networkInterfaces()).flat().filter((i) => i && i.family === "IPv4" && !i.internal)) {
      assert.equal(await rawGet(external!.address, port, "/").catch((e: NodeJS.ErrnoException) => e.code), "ECONNREFUSED", `answers on ${external!.address}`);
    }
    const get = (p: string) => fetch(new URL(p, s.url));
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("cross-origin-opener-policy"), "same-origin");
    assert.equal(page.headers.get("cross-origin-embedder-policy"), "require-corp");
    assert.match(await page.text(), /<script type="module" src="app.js">/);
    for (const [p, type] of [["/app.js", "text/javascript"], ["/worker.js", "text/javascript"], ["/engine.wasm", "application/wasm"], ["/style.css", "text/css"], ["/models/stories260K-f32.gguf", "application/octet-stream"]]) {
      const r = await get(p);
      assert.equal(r.status, 200, p);
      assert.ok(r.headers.get("content-type")!.startsWith(type), `${p}: ${r.headers.get("content-type")}`);
      await r.arrayBuffer();
    }
    assert.deepEqual(await (await get("/config.json")).json(), { defaultModel: "models/stories260K-f32.gguf" });
    for (const p of ["/app.ts", "/models/other.gguf", "/nope"]) {
      const r = await get(p);
      assert.equal(r.status, 404, p);
      await r.text();
    }
    // traversal: raw request lines over a socket (fetch and URL would normalize "/../" away first)
    for (const p of ["/../package.json", "/%2e%2e/package.json", "/..%2fpackage.json", "/%2e%2e%2f%2e%2e%2fpackage.json", "/models/../../package.json", "/web/..%5c..%5cpackage.json", "/../web/app.ts"]) {
      const response = await rawGet("127.0.0.1", port, p);
      assert.match(response, /^HTTP\/1\.1 (404|400) /, `${p}: ${response.split("\r\n")[0]}`);
      assert.doesNotMatch(response, /dip-engine|import /, `${p} leaked a file`);
    }
  } finally {
    await s.close();
  }
});
