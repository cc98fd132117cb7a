// The runtime-neutral side of browser streaming (the browser itself: scripts/browser-stream-e2e.mjs):
// openStream over any positioned-read function (here one that returns short reads, as a Blob
// window may) gives the resident engine's logits; its checks name what is wrong; the demo's
// streamed session reports what the simulator predicts; `dip serve` offers a .dipstream.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../host/node/wasm.js";
import { Engine } from "../host/engine.js";
import { openStreamFile, writeStreamFile } from "../host/node/stream-file.js";
import { openStream } from "../host/stream/open.js";
import { generate } from "../host/generate.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { startDemoServer } from "../host/node/serve.js";
import { runStreamSession, streamEngine, streamMinimumBytes, streamTableBytes } from "../web/session.js";
import type { RunSettings } from "../web/protocol.js";
import { STORIES_GGUF, storiesModel } from "./helpers.js";

const TOKENS = [1, 403, 407, 261, 378, 267, 374, 395, 290, 301];
const dir = mkdtempSync(join(tmpdir(), "dip-stream-web-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
let file: Promise<string> | undefined;
const streamFile = () => (file ??= storiesModel().then(async (m) => (await writeStreamFile(m, join(dir, "stories260K.dipstream")), join(dir, "stories260K.dipstream"))));

/** A ReadAt over bytes in memory that returns at most `chunk` bytes per call. */
const memoryReadAt = (bytes: Uint8Array, chunk: number) => (position: number, into: Uint8Array) => {
  const got = bytes.subarray(position, Math.min(bytes.length, position + Math.min(chunk, into.length)));
  into.set(got);
  return got.length;
};

test("openStream over short positioned reads gives the resident engine's logits with a budget the MLP does not fit", async () => {
  const bytes = new Uint8Array(readFileSync(await streamFile()));
  const o = openStream(memoryReadAt(bytes, 777), bytes.length, "memory.dipstream");
  const c = o.model.config;
  const dramBytes = (await streamMinimumBytes(o)) + streamTableBytes(o.stream.header) + 0.3 * c.nLayers * 3 * 4 * c.dim * c.hiddenDim;
  const spec = { method: "dip" as const, keep: 0.5 };
  const streamed = await Engine.create(o.model, { sparsity: spec, stream: { source: o.stream, dramBytes } });
  const resident = await Engine.create(await storiesModel(), { sparsity: spec });
  assert.ok(streamed.streamSetup!.cacheEntries[0] < c.dim);
  for (const t of TOKENS) assert.deepEqual(streamed.step(t).slice(), resident.step(t).slice(), `token ${t}`);
  assert.ok(o.stream.counters.bytes > 0);
});

test("openStream names what is wrong: not a .dipstream, a cut header, a cut file", async () => {
  const bytes = new Uint8Array(readFileSync(await streamFile()));
  let closed = 0;
  const open = (b: Uint8Array) => openStream(memoryReadAt(b, 1 << 20), b.length, "x.dipstream", { close: () => closed++ });
  assert.throws(() => open(new Uint8Array(0)), /x\.dipstream: not a \.dipstream file/);
  assert.throws(() => open(readFileSync(STORIES_GGUF()).subarray(0, 4096)), /not a \.dipstream file \(magic "DIPSTRM1" missing\)/);
  assert.throws(() => open(bytes.subarray(0, 10)), /truncated header/);
  assert.throws(() => open(bytes.subarray(0, 100)), /truncated header/);
  assert.throws(() => open(bytes.subarray(0, bytes.length - 64)), /truncated/);
  assert.equal(closed, 5, "the file is released when opening fails");
});

test("the demo's streamed session: the resident text, and bytes and hit rate as the simulator predicts", async () => {
  const path = await streamFile();
  const o = openStreamFile(path);
  try {
    const c = o.model.config;
    const dramBytes = (await streamMinimumBytes(o)) + streamTableBytes(o.stream.header) + 0.3 * c.nLayers * 3 * 4 * c.dim * c.hiddenDim;
    const settings: RunSettings = { prompt: "Once upon a time", tokens: 24, method: "dip", keep: 0.5, gamma: 0.5, policy: "lru", dramFraction: 1, temperature: 0, seed: 42 };
    const engine = await streamEngine(o, dramBytes, "lfu");
    const tokenizer = new SentencePieceTokenizer(o.model.vocab!);
    const steps: number[] = [];
    const { result, report } = await runStreamSession(engine, o.stream, tokenizer, settings, 2, { onStep: (_, s) => steps.push(s.bytesThisToken) });
    const resident = await Engine.create(await storiesModel(), { sparsity: { method: "dip", keep: 0.5 } });
    const want = generate(resident, tokenizer, { prompt: settings.prompt, steps: result.tokens.length - 1, temperature: 0, seed: 42 });
    assert.deepEqual(result.tokens, want.tokens);
    assert.equal(result.generated_tokens, 24);
    assert.equal(report.policy, "lfu");
    assert.equal(report.flash_gbps, 2);
    assert.equal(report.simulated_device.flash_gbps, 2);
    assert.ok(report.storage_bytes_per_token > 0 && report.hit_rate > 0 && report.hit_rate < 1);
    assert.ok(Math.abs(report.storage_bytes_per_token - report.simulated_flash_bytes_per_token) < 1e-6);
    assert.ok(Math.abs(report.hit_rate - report.simulated_hit_rate) < 1e-12);
    assert.equal(steps.reduce((a, b) => a + b, 0), o.stream.counters.bytes, "per-step bytes add up");
    assert.ok(report.arena_bytes <= dramBytes);
  } finally {
    o.close();
  }
});

test("dip serve --stream: the .dipstream is served and offered in config.json", async () => {
  const path = await streamFile();
  const s = await startDemoServer({ port: 0, modelPath: STORIES_GGUF(), streamPath: path });
  try {
    const config = await (await fetch(new URL("/config.json", s.url))).json();
    assert.deepEqual(config, { defaultModel: "models/stories260K-f32.gguf", streamModel: "models/stories260K.dipstream" });
    const r = await fetch(new URL("/models/stories260K.dipstream", s.url));
    assert.equal(r.status, 200);
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), new Uint8Array(readFileSync(path)));
  } finally {
    await s.close();
  }
});
