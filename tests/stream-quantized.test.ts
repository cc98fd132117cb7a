// Streaming a q8 or q4_0 .dipstream (format version 2, docs/stream-format.md): the same logits as
// the resident engine running the file's own values (its q8 tiles / Q4_0 rows as stored, its MLP
// columns dequantized to f32), bit for bit, with budgets where the MLP does not fit and where the LM head
// and embedding rows are read from storage too; the bytes read are the real q8 bytes; close to the
// f32 model and to a resident q8 run within stated bounds; the DRAM floor by hand; a v1 file
// still reads; truncated and mismatched v2 files refused in one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, truncateSync, copyFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../host/node/wasm.js";
import { Engine } from "../host/engine.js";
import { ModelFormatError, headDim } from "../host/model.js";
import { openStreamFile, writeStreamFile, loadStreamFileFully } from "../host/node/stream-file.js";
import { parseStreamHeader, STREAM_PREFIX_BYTES, type StreamHeader } from "../host/stream/format.js";
import { crc32 } from "../host/crc32.js";
import type { SparsitySpec } from "../host/sparsity.js";
import { storiesModel } from "./helpers.js";

const TOKENS = [1, 403, 407, 261, 378, 497, 267, 374, 395, 290, 301, 480, 290, 414, 261, 264];
const dir = mkdtempSync(join(tmpdir(), "dip-stream-q8-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

async function streamFile(dtype: "f32" | "q8" | "q4_0"): Promise<string> {
  const path = join(dir, `stories260K-${dtype}.dipstream`);
  if (!existsSync(path)) await writeStreamFile(await storiesModel(), path, dtype);
  return path;
}

function run(engine: Engine, tokens: number[]): Float32Array[] {
  engine.reset();
  return tokens.map((t) => engine.step(t).slice());
}

/** q8 stream column bytes of n outputs: int8 quants, an f16 scale per 32, padded to 4 (by hand). */
const q8Column = (n: number) => Math.ceil((n + 2 * Math.ceil(n / 32)) / 4) * 4;
/** a row of the q8 tiles: 32 int8 and one f32 scale per block of 32 */
const q8Row = (n: number) => 36 * Math.ceil(n / 32);
/** q4_0 stream column bytes / a Q4_0 row of n values: 18 bytes (f16 d, 16 bytes of nibbles) per 32 */
const q4Column = (n: number) => 18 * Math.ceil(n / 32);
/** per quantized dtype, by hand: column part bytes, row bytes of a static matrix, rows read to get one embedding row */
const SIZES = {
  q8: { column: q8Column, row: q8Row, embeddingRowsRead: 8 },
  q4_0: { column: q4Column, row: q4Column, embeddingRowsRead: 1 },
} as const;

test("convert writes f32 as version 1 and q8 as version 2 with the q8 sizes", async () => {
  const o1 = openStreamFile(await streamFile("f32"));
  const o2 = openStreamFile(await streamFile("q8"));
  try {
    const c = o2.model.config;
    assert.equal(o1.stream.header.version, 1);
    assert.equal(o1.stream.header.dtype, "f32");
    assert.equal(o2.stream.header.version, 2);
    assert.equal(o2.stream.header.dtype, "q8");
    assert.deepEqual(o2.stream.header.groups.map((g) => g.entry_bytes), [2 * q8Column(c.hiddenDim), q8Column(c.dim)]);
    const wq = o2.stream.header.tensors.find((t) => t.name === "layers.0.wq")!;
    assert.equal(wq.dtype, "q8");
    assert.equal(wq.bytes, (c.nHeads * headDim(c)) * q8Row(c.dim));
    assert.equal(o2.stream.header.tensors.find((t) => t.name === "layers.0.attn_norm")!.dtype, undefined);
  } finally {
    o1.close();
    o2.close();
  }
});

// budgets: half the MLP's q8 columns fit (the tables whole); or only 100 / 612 rows of tables fit
// (stories260K's embedding is untied: the LM head holds rows first, then the embedding)
const CASES = [
  { spec: { method: "dense" } as SparsitySpec, policy: "lru" as const, io: "thread" as const, rows: undefined },
  { spec: { method: "dip", keep: 0.5 } as SparsitySpec, policy: "lfu" as const, io: "inline" as const, rows: undefined },
  { spec: { method: "dense" } as SparsitySpec, policy: "lru" as const, io: "inline" as const, rows: { room: 100, held: { embedding: 0, lmHead: 96 } } },
  { spec: { method: "dip", keep: 0.5 } as SparsitySpec, policy: "lru" as const, io: "thread" as const, rows: { room: 612, held: { embedding: 96, lmHead: 512 } } },
];

for (const dtype of ["q8", "q4_0"] as const)
for (const { spec, policy, io, rows } of CASES) {
  const what = rows ? `room for ${rows.room} table rows` : "MLP does not fit";
  const { column: columnBytes, row: rowBytes, embeddingRowsRead } = SIZES[dtype];
  test(`streamed ${dtype} ${spec.method} (${policy}, reads ${io}, ${what}) gives the resident run of the file's values bit for bit, reading the ${dtype} bytes`, async () => {
    const path = await streamFile(dtype);
    // resident: the q8 tiles as stored, the MLP's columns dequantized to f32 (--dtype native)
    const resident = await Engine.create(loadStreamFileFully(path), { dtype: "native", sparsity: spec });
    const expected = run(resident, TOKENS);
    const o = openStreamFile(path);
    try {
      const c = o.model.config;
      const stageBytes = 8 * 2 * columnBytes(c.hiddenDim);
      const probe = await Engine.create(o.model, { stream: { source: o.stream, dramBytes: 1e12, policy: "none", io: "inline", stageBytes } });
      const minimum = probe.streamSetup!.minimumBytes;
      probe.close();
      const tables = 2 * c.vocabSize * rowBytes(c.dim);
      const mlp = c.nLayers * (c.dim * 2 * columnBytes(c.hiddenDim) + c.hiddenDim * columnBytes(c.dim));
      const dramBytes = rows ? minimum + 128 + rows.room * rowBytes(c.dim) : minimum + 128 + tables + mlp / 2;
      const engine = await Engine.create(o.model, { sparsity: spec, stream: { source: o.stream, dramBytes, policy, io, stageBytes } });
      const s = engine.streamSetup!;
      if (rows) {
        assert.deepEqual(s.residentRows, rows.held);
        assert.deepEqual(s.cacheEntries, [0, 0]);
      } else {
        assert.ok(s.cacheEntries[0] > 0 && s.cacheEntries[0] < c.dim, `input cache ${s.cacheEntries[0]} of ${c.dim}`);
        assert.ok(s.cacheBytes <= mlp / 2, `cache ${s.cacheBytes} within half the q8 MLP ${mlp / 2}`);
      }
      o.stream.resetCounters();
      const got = run(engine, TOKENS);
      got.forEach((g, i) => assert.deepEqual(g, expected[i], `token ${i}`));
      assert.ok(engine.memoryBytes() <= dramBytes, `arena ${engine.memoryBytes()} within the budget ${dramBytes}`);
      if (rows) {
        // no cache: every kept column every token, at its q8 bytes; the LM head rows not held; the
        // tile group of 8 rows holding an embedding row not held
        let mlpBytes = 0;
        resident.reset();
        for (const t of TOKENS) {
          resident.step(t);
          const m = resident.lastMasks();
          mlpBytes += m.input.reduce((sum, idx) => sum + idx.length * 2 * columnBytes(c.hiddenDim), 0) + m.hidden.reduce((sum, idx) => sum + idx.length * columnBytes(c.dim), 0);
        }
        const rowsRead = TOKENS.length * (c.vocabSize - rows.held.lmHead) + embeddingRowsRead * TOKENS.filter((t) => t >= rows.held.embedding).length;
        assert.equal(o.stream.counters.bytes, mlpBytes + rowsRead * rowBytes(c.dim));
        assert.equal(engine.bytesRead().mlp, mlpBytes);
      } else {
        assert.ok(o.stream.counters.bytes > 0);
      }
      engine.close();
    } finally {
      o.close();
    }
  });
}

/** Pearson correlation of two vectors. */
function correlation(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}
const argmax = (a: Float32Array) => a.reduce((best, x, i) => (x > a[best] ? i : best), 0);
/** 4-bit weights on a 260K-parameter model: looser bounds (stated in docs/stream-format.md) */
const Q4_MIN_CORRELATION = 0.95;
const Q4_MIN_TOP1 = 0.6;

for (const [dtype, minCorr, minTop1] of [["q8", 0.999, 0.9], ["q4_0", Q4_MIN_CORRELATION, Q4_MIN_TOP1]] as const)
test(`streamed ${dtype} stays close to the f32 model and to a resident q8 run (stated bounds)`, async () => {
  const model = await storiesModel();
  const f32 = run(await Engine.create(model, {}), TOKENS);
  const q8 = run(await Engine.create(model, { dtype: "q8" }), TOKENS);
  const o = openStreamFile(await streamFile(dtype));
  try {
    const streamed = run(await Engine.create(o.model, { stream: { source: o.stream, dramBytes: 1e9, io: "inline" } }), TOKENS);
    for (const [name, ref] of [["f32", f32], ["resident q8", q8]] as const) {
      const worst = Math.min(...streamed.map((s, i) => correlation(s, ref[i])));
      const top1 = streamed.filter((s, i) => argmax(s) === argmax(ref[i])).length / TOKENS.length;
      console.log(`${dtype} stream vs ${name}: worst logit correlation ${worst.toFixed(6)}, top-1 agreement ${top1}`);
      assert.ok(worst >= minCorr, `vs ${name}: logit correlation ${worst} below ${minCorr}`);
      assert.ok(top1 >= minTop1, `vs ${name}: top-1 agreement ${top1}`);
    }
  } finally {
    o.close();
  }
});

for (const dtype of ["q8", "q4_0"] as const)
test(`the DRAM floor drops by the attention weights' f32 - ${dtype} bytes (by hand, same staging area)`, async () => {
  const rowBytes = SIZES[dtype].row;
  const o1 = openStreamFile(await streamFile("f32"));
  const o2 = openStreamFile(await streamFile(dtype));
  try {
    const c = o1.model.config;
    const floor = async (o: typeof o1, stageBytes: number) =>
      (await Engine.create(o.model, { stream: { source: o.stream, dramBytes: 1e12, policy: "none", io: "inline", stageBytes } })).streamSetup!.minimumBytes;
    // the same staging bytes for both, so only the attention matrices differ
    const stage = 8 * 2 * c.hiddenDim * 4;
    const qDim = c.nHeads * headDim(c);
    const kvDim = c.nKvHeads * headDim(c);
    const attentionWeights = c.nLayers * (2 * qDim * c.dim + 2 * kvDim * c.dim);
    const f32Bytes = 4 * attentionWeights;
    const quantizedBytes = c.nLayers * ((qDim + 2 * kvDim) * rowBytes(c.dim) + c.dim * rowBytes(qDim));
    const drop = (await floor(o1, stage)) - (await floor(o2, stage));
    // each matrix is a 64-byte aligned block of the arena: up to 63 bytes of padding per matrix either way
    assert.ok(Math.abs(drop - (f32Bytes - quantizedBytes)) <= 64 * 4 * c.nLayers, `floor drop ${drop}, by hand ${f32Bytes - quantizedBytes}`);
  } finally {
    o1.close();
    o2.close();
  }
});

/** The header of a .dipstream as a JSON object and a re-encoded prefix for it (valid CRC). */
function prefixFor(header: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(STREAM_PREFIX_BYTES + json.length);
  out.set(new TextEncoder().encode("DIPSTRM1"));
  const v = new DataView(out.buffer);
  v.setUint32(8, json.length, true);
  v.setUint32(12, crc32(json), true);
  out.set(json, STREAM_PREFIX_BYTES);
  return out;
}

test("a mismatched or truncated q8 file is refused in one line naming the field", async () => {
  const path = await streamFile("q8");
  const o = openStreamFile(path);
  const h: StreamHeader = structuredClone(o.stream.header);
  o.close();
  const refuse = (header: unknown, pattern: RegExp) =>
    assert.throws(
      () => parseStreamHeader(prefixFor(header), h.file_bytes, "m.dipstream"),
      (e: unknown) => e instanceof ModelFormatError && !e.message.includes("\n") && e.message.includes("m.dipstream") && pattern.test(e.message),
    );
  refuse({ ...h, version: 1 }, /dtype is "q8", expected "f32" for version 1/);
  refuse({ ...h, dtype: "q4" }, /dtype is "q4", expected "q8" or "q4_0" for version 2/);
  refuse({ ...h, version: 3 }, /unsupported \.dipstream version 3/);
  refuse({ ...h, groups: [{ ...h.groups[0], entry_bytes: 2 * 4 * h.config.hiddenDim }, h.groups[1]] }, /group input has 64 columns of 1376 bytes, expected 64 of 368/);
  refuse({ ...h, tensors: h.tensors.map((t) => (t.name === "layers.1.wk" ? { ...t, dtype: undefined } : t)) }, /tensor layers\.1\.wk is stored as f32, expected q8/);
  refuse({ ...h, tensors: h.tensors.map((t) => (t.name === "layers.1.wk" ? { ...t, bytes: t.bytes - 288 } : t)) }, /tensor layers\.1\.wk has 2016 bytes, expected 2304 \(q8 of 32 x 64\)/);
  refuse({ ...h, tensors: h.tensors.map((t) => (t.name === "final_norm" ? { ...t, dtype: "q8" } : t)) }, /tensor final_norm is stored as q8, expected f32/);
  refuse({ ...h, dtype: "q4_0" }, /group input has 64 columns of 368 bytes, expected 64 of 216 for the config in q4_0/);
  // truncated: one line, before any column is used
  const cut = join(dir, "cut.dipstream");
  copyFileSync(path, cut);
  truncateSync(cut, h.file_bytes - 100);
  assert.throws(() => openStreamFile(cut), (e: unknown) => e instanceof ModelFormatError && /truncated/.test(e.message) && !e.message.includes("\n"));
});

test("a q8 stream runs only as q8: another --dtype is refused in one line", async () => {
  const o = openStreamFile(await streamFile("q8"));
  try {
    await assert.rejects(Engine.create(o.model, { dtype: "f32", stream: { source: o.stream, dramBytes: 1e9, io: "inline" } }), /stores its weights in q8: stream it with --dtype q8 or without --dtype \(got f32\)/);
  } finally {
    o.close();
  }
});

test("a q8 stream of a vocabulary that is not a multiple of 8 is refused before anything is written", async () => {
  const { syntheticModel } = await import("../host/synthetic.js");
  const model = syntheticModel("stories260k-shape", 2, { config: { vocabSize: 300 } });
  const path = join(dir, "vocab300-q8.dipstream");
  await assert.rejects(writeStreamFile(model, path, "q8"), (e: unknown) => e instanceof ModelFormatError && /vocabulary of 300 tokens: a q8 stream needs a multiple of 8/.test(e.message));
  assert.equal(existsSync(path), false);
  await writeStreamFile(model, path, "q4_0"); // q4_0 reads embedding rows one at a time
  openStreamFile(path).close();
});
