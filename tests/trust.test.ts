// Every input distrusted (issue #17): each defect the fuzz campaign found, reproduced on a file
// built here, must now end in a clear error naming the file (one printable line), never a
// silently wrong model, a slow giant allocation or a raw dump of file bytes.
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { type LoadedModel, ModelFormatError, printable } from "../host/model.js";
import { syntheticModel } from "../host/synthetic.js";
import { encodeGguf } from "../host/formats/gguf-writer.js";
import { parseGguf, readGgufHeader } from "../host/formats/gguf.js";
import { encodeSafetensors } from "../host/formats/safetensors-writer.js";
import { readSafetensorsHeader } from "../host/formats/safetensors.js";
import { buildHfModel, parseHfConfig, type TensorSource } from "../host/formats/hf.js";
import { parseStreamHeader, planStream, type StreamHeader } from "../host/stream/format.js";
import { crc32 } from "../host/crc32.js";
import { Engine } from "../host/engine.js";
import { AdapterError, checkAdapters, makeAdapters } from "../host/lora.js";
import { checkCalibration, modelKey } from "../host/calibration.js";
import { SparsityError } from "../host/sparsity.js";
import { decodeTrace, encodeTrace, TraceBuilder, TraceFormatError } from "../host/sim/trace.js";
import { maskGroupsFor } from "../host/sim/groups.js";
import type { ModelDims } from "../host/sim/presets.js";
import { STORIES_GGUF } from "./helpers.js";
import { fixturesDir } from "../host/node/paths.js";
import { HfTokenizer } from "../host/tokenizer/hf.js";
import { resealTrace } from "./fuzz.js";

/** A small model every test can afford to build, encode and load, with plain (not lazy) weight arrays to edit. */
const tiny = (): LoadedModel => parseGguf(encodeGguf(syntheticModel("stories260k-shape", 7, { seqLen: 32 }), "f32"), "tiny.gguf");

/** The error is a ModelFormatError-like Error on one printable line naming `file`, matching `re`. */
function assertClearError(fn: () => unknown, file: string, re: RegExp, type: new (...a: never[]) => Error = ModelFormatError): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected a ${type.name}, got ${String(e)}`);
    const msg = (e as Error).message;
    assert.ok(msg.includes(file), `the message names ${file}: ${msg}`);
    assert.equal(msg, printable(msg), `the message is printable: ${msg}`);
    assert.ok(msg.length <= 700, `the message is short: ${msg.length} characters`);
    assert.match(msg, re);
    return true;
  });
}

async function assertRejects(p: Promise<unknown>, file: string, re: RegExp): Promise<void> {
  let error: unknown;
  await p.then(() => undefined, (e: unknown) => (error = e));
  assertClearError(() => {
    if (error) throw error;
  }, file, re);
}

// ---- GGUF -----------------------------------------------------------------------------------

const ascii = (s: string) => new TextEncoder().encode(s);

/** Byte offset just after the first occurrence of `s` (a metadata key or tensor name) in `bytes`. */
function after(bytes: Uint8Array, s: string): number {
  const needle = ascii(s);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i + needle.length;
  }
  throw new Error(`${s} not found`);
}

function ggufWithBlockCount(n: number): Uint8Array {
  const bytes = encodeGguf(tiny(), "f32");
  const at = after(bytes, "llama.block_count");
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(at, true), 4, "block_count is a u32");
  view.setUint32(at + 4, n, true);
  return bytes;
}

test("gguf: a block_count of 2^31 fails at once, naming the file and the field", () => {
  const start = performance.now();
  assertClearError(() => parseGguf(ggufWithBlockCount(2 ** 31), "big.gguf"), "big.gguf", /block_count is 2147483648/);
  assert.ok(performance.now() - start < 2000, "without building 2^31 layers first");
});

test("gguf: a block count lower than the tensors present refuses the tensors no layer uses", () => {
  assertClearError(() => parseGguf(ggufWithBlockCount(4), "low.gguf"), "low.gguf", /no layer of the 4 .*uses: blk\.4\./);
});

test("gguf: a metadata count one short gives one short printable line", () => {
  for (const bytes of [encodeGguf(tiny(), "f32"), new Uint8Array(readFileSync(STORIES_GGUF()))]) {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const v1 = view.getUint32(4, true) === 1; // v1 counts are u32
    if (v1) view.setUint32(12, view.getUint32(12, true) - 1, true);
    else view.setBigUint64(16, view.getBigUint64(16, true) - 1n, true);
    assertClearError(() => parseGguf(bytes, "kv.gguf"), "kv.gguf", /./);
    assert.throws(() => parseGguf(bytes, "kv.gguf"), (e: Error) => e.message.length < 250);
  }
});

test("gguf: overlapping tensor data is refused", () => {
  const bytes = encodeGguf(tiny(), "f32");
  const header = readGgufHeader(bytes, "o.gguf");
  // two tensors of one size: point the second at the first one's data
  const [a, b] = header.tensors.filter((t) => t.name.endsWith("attn_q.weight"));
  const at = after(bytes, b.name) + 4 + 8 * b.dims.length + 4; // n_dims, dims, type
  const view = new DataView(bytes.buffer);
  assert.equal(Number(view.getBigUint64(at, true)), b.offset);
  view.setBigUint64(at, BigInt(a.offset), true);
  assertClearError(() => parseGguf(bytes, "o.gguf"), "o.gguf", /overlap/);
});

test("gguf: a NaN Q8_0 scale is refused at load, naming the tensor", async () => {
  const bytes = encodeGguf(tiny(), "q8");
  const header = readGgufHeader(bytes, "nan.gguf");
  const t = header.tensors.find((x) => x.type === 8 && x.name === "blk.2.ffn_gate.weight")!;
  new DataView(bytes.buffer).setUint16(header.dataStart + t.offset, 0x7e00, true); // f16 NaN
  const model = parseGguf(bytes, "nan.gguf");
  await assertRejects(Engine.create(model, { dtype: "q8" }), "nan.gguf", /tensor layer 2 w_gate holds NaN/);
});

// ---- safetensors and config.json ------------------------------------------------------------

test("safetensors: a header length one byte short is refused (the data section must be tiled exactly)", () => {
  const bytes = encodeSafetensors([
    { name: "a", shape: [3], data: new Float32Array([1, 2, 3]) },
    { name: "b", shape: [2], data: new Float32Array([4, 5]) },
  ]);
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  assert.equal(bytes[8 + n - 1], 0x20, "the header ends in padding, so it still parses one byte short");
  readSafetensorsHeader(bytes, "ok.safetensors");
  view.setBigUint64(0, BigInt(n - 1), true);
  assertClearError(() => readSafetensorsHeader(bytes, "short.safetensors"), "short.safetensors", /cover .* expected exactly all of it/);
});

test("safetensors: a gap between tensors is refused", () => {
  const json = ascii(JSON.stringify({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } }));
  const bytes = new Uint8Array(8 + json.length + 12);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  assertClearError(() => readSafetensorsHeader(bytes, "gap.safetensors"), "gap.safetensors", /gap of 4 bytes/);
});

test("config.json: num_hidden_layers 2^31 fails at once, naming the field", async () => {
  const config = {
    architectures: ["LlamaForCausalLM"], hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2 ** 31,
    num_attention_heads: 2, vocab_size: 4, max_position_embeddings: 16,
  };
  const spec = parseHfConfig(config, "config.json");
  const source: TensorSource = { tensors: new Map(), read: () => Promise.reject(new Error("not reached")) };
  const start = performance.now();
  await assertRejects(buildHfModel(spec, source, "ckpt"), "ckpt", /num_hidden_layers is 2147483648/);
  assert.ok(performance.now() - start < 2000);
});

// ---- non-finite weights ---------------------------------------------------------------------

for (const dtype of ["f32", "q8"] as const) {
  test(`engine (${dtype}): NaN, Inf or an absurd magnitude in a weight tensor is refused at load, naming the tensor`, async () => {
    const nanEmbedding = tiny();
    nanEmbedding.weights.tokenEmbedding[100] = NaN;
    await assertRejects(Engine.create(nanEmbedding, { dtype }), nanEmbedding.source, /tensor token embedding holds NaN at element 100/);
    const infGate = tiny();
    infGate.weights.layers[1].wGate[5] = -Infinity;
    await assertRejects(Engine.create(infGate, { dtype }), infGate.source, /tensor layer 1 w_gate holds -Infinity/);
    const nanNorm = tiny();
    nanNorm.weights.layers[3].ffnNorm[0] = NaN;
    await assertRejects(Engine.create(nanNorm, { dtype }), nanNorm.source, /tensor layer 3 ffn_norm holds NaN at element 0/);
    const huge = tiny(); // a flipped exponent bit: finite, but it would overflow to NaN logits
    huge.weights.layers[0].wDown[7] = 1e30;
    await assertRejects(Engine.create(huge, { dtype }), huge.source, /tensor layer 0 w_down holds 1\.0*\d*e\+30 at element 7; expected finite weights of magnitude at most/);
  });
}

test("lora: an alpha whose alpha / r overflows f32 is refused, and so are non-finite adapter weights", () => {
  const c = tiny().config;
  assert.throws(() => checkAdapters(makeAdapters(c, 2, 1e300), c, "big-alpha"), (e: unknown) => e instanceof AdapterError && /overflows f32/.test(e.message));
  checkAdapters(makeAdapters(c, 2, 16), c, "ok");
  const nan = makeAdapters(c, 2, 16, undefined, (l, t, which, a) => {
    if (l === 1 && which === "B") a[3] = NaN;
  });
  assert.throws(() => checkAdapters(nan, c, "nan"), (e: unknown) => e instanceof AdapterError && /lora_B holds NaN at element 3/.test(e.message));
});

// ---- .dipstream -----------------------------------------------------------------------------

/** A .dipstream header prefix (magic, length, CRC, JSON) with a valid CRC over whatever JSON is given. */
function streamPrefix(header: unknown): Uint8Array {
  const json = ascii(JSON.stringify(header));
  const out = new Uint8Array(16 + json.length);
  out.set(ascii("DIPSTRM1"));
  const v = new DataView(out.buffer);
  v.setUint32(8, json.length, true);
  v.setUint32(12, crc32(json), true);
  out.set(json, 16);
  return out;
}

test("dipstream: a header with a valid CRC but a missing or invalid config is refused", () => {
  const { header } = planStream(tiny());
  parseStreamHeader(streamPrefix(header), header.file_bytes, "ok.dipstream");
  const withConfig = (config: unknown): StreamHeader => ({ ...header, config } as StreamHeader);
  const cases: [unknown, RegExp][] = [
    [undefined, /config is .*expected a model config object/],
    [{ ...header.config, rmsEps: -1 }, /rms norm epsilon must be > 0/],
    [{ ...header.config, ropeTheta: 0 }, /rope theta must be > 0/],
    [{ ...header.config, dim: "64" }, /config\.dim is "64", expected a positive integer/],
    [{ ...header.config, nLayers: 2 ** 40 }, /./],
  ];
  for (const [config, re] of cases) {
    assertClearError(() => parseStreamHeader(streamPrefix(withConfig(config)), header.file_bytes, "bad.dipstream"), "bad.dipstream", re);
  }
  assertClearError(() => parseStreamHeader(streamPrefix({ ...header, tensors: [{ name: "x", offset: 0, bytes: 3, crc32: 0 }] }), header.file_bytes, "t.dipstream"), "t.dipstream", /tensors\[0\]/);
  assertClearError(() => parseStreamHeader(streamPrefix([1, 2]), header.file_bytes, "r.dipstream"), "r.dipstream", /a JSON object/);
});

test("dipstream: tokenizer_json never names a file the reader opens", async () => {
  const { streamModel } = await import("../host/stream/format.js");
  const { header } = planStream(tiny());
  const h = parseStreamHeader(streamPrefix({ ...header, tokenizer_json: "/etc/passwd" }), header.file_bytes, "tok.dipstream");
  const model = streamModel(h, (name) => new Uint8Array(header.tensors.find((t) => t.name === name)!.bytes), "tok.dipstream");
  assert.equal(model.tokenizerJson, undefined);
});

// ---- calibration files and mask traces ------------------------------------------------------

test("calibration: null, string, negative and non-finite thresholds are refused", async () => {
  const engine = await Engine.create(tiny());
  const good = { version: 1, modelKey: modelKey(engine), method: "cats", keep: 0.5, dataKey: "d", tokens: 10, thresholds: Array.from({ length: 5 }, () => ({ input: 0, hidden: 0.1 })) };
  checkCalibration(structuredClone(good) as never, "ok.json", engine, { method: "cats", keep: 0.5 });
  const bad: [unknown, RegExp][] = [
    [null, /thresholds\[2\]\.input is null/],
    ["0.1", /thresholds\[2\]\.input is "0\.1"/],
    [-1, /thresholds\[2\]\.input is -1, expected a finite number >= 0/],
  ];
  for (const [value, re] of bad) {
    const cal = structuredClone(good);
    (cal.thresholds[2] as Record<string, unknown>).input = value;
    assertClearError(() => checkCalibration(cal as never, "cal.json", engine, { method: "cats", keep: 0.5 }), "cal.json", re, SparsityError);
  }
  const short = { ...structuredClone(good), thresholds: [{ input: 0, hidden: 0 }] };
  assertClearError(() => checkCalibration(short as never, "cal.json", engine, { method: "cats", keep: 0.5 }), "cal.json", /thresholds has 1 layers, the model has 5/, SparsityError);
  assertClearError(() => checkCalibration(null as never, "cal.json", engine, { method: "cats", keep: 0.5 }), "cal.json", /not a calibration file/, SparsityError);
});

const DIMS: ModelDims = { nLayers: 2, vocabSize: 32, dim: 8, hiddenDim: 16, nHeads: 2, nKvHeads: 2, seqLen: 16 };

/** A one-sequence dense trace of `tokens` tokens after `promptTokens` prompt tokens. */
function denseTrace(promptTokens: number, tokens: number): Uint8Array {
  const b = new TraceBuilder({ method: "dense", dims: DIMS, groups: maskGroupsFor("dense", DIMS) });
  b.beginSequence(promptTokens);
  for (let t = 0; t < tokens; t++) for (let l = 0; l < DIMS.nLayers; l++) b.header.groups.forEach((_, g) => b.addMask(l, g, "full"));
  return encodeTrace(b.build());
}

test("trace: a dim of 2^40 and promptTokens above seqLen are refused", () => {
  decodeTrace(denseTrace(4, 3), "ok.trace");
  const huge = resealTrace(denseTrace(4, 3), (h) => String(((h as { dims: ModelDims }).dims.dim = 2 ** 40))).bytes;
  decodeTrace(resealTrace(denseTrace(4, 3), () => "no edit").bytes, "same.trace");
  assertClearError(() => decodeTrace(huge, "huge.trace"), "huge.trace", /dim must be at most 2147483647 .*got 1099511627776/, TraceFormatError);
  assertClearError(() => decodeTrace(denseTrace(20, 3), "long.trace"), "long.trace", /20 prompt \+ 3 traced tokens exceed dims\.seqLen 16/, TraceFormatError);
});

test("printable: control characters and U+FFFD are escaped and long text is cut", () => {
  assert.equal(printable("a\nb\u0000c\ufffd"), "a\\u{a}b\\u{0}c\\u{fffd}");
  assert.equal(printable("x".repeat(50), 10), "xxxxxxxxxx...");
  assert.equal(new ModelFormatError("f", "raw \u001b[31m bytes").message, "f: raw \\u{1b}[31m bytes");
});

// ---- tokenizer.json ---------------------------------------------------------------------------

test("tokenizer.json: a bad added-token id or a broken decoder chain is refused at load, naming the file", () => {
  const base = () => JSON.parse(readFileSync(join(fixturesDir(), "hf", "llama", "tokenizer.json"), "utf8"));
  HfTokenizer.fromFiles({ tokenizer: base() }, "ok/tokenizer.json");
  const badId = base();
  badId.added_tokens[1].id = -1e-300;
  assertClearError(() => HfTokenizer.fromFiles({ tokenizer: badId }, "id/tokenizer.json"), "id/tokenizer.json", /added_tokens entry .* has id -1e-300, expected a non-negative integer/);
  const badDecoder = base();
  badDecoder.decoder.decoders[1] = null;
  assertClearError(() => HfTokenizer.fromFiles({ tokenizer: badDecoder }, "dec/tokenizer.json"), "dec/tokenizer.json", /cannot build a tokenizer from it/);
});

test("dipstream: groups and crc_table fields of the wrong type are refused, not a TypeError", () => {
  const { header } = planStream(tiny());
  assertClearError(() => parseStreamHeader(streamPrefix({ ...header, groups: [null, header.groups[1]] }), header.file_bytes, "g.dipstream"), "g.dipstream", /header field groups/);
  assertClearError(() => parseStreamHeader(streamPrefix({ ...header, crc_table: { ...header.crc_table, crc32: undefined } }), header.file_bytes, "c.dipstream"), "c.dipstream", /header field crc_table/);
});
