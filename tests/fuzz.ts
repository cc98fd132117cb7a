// A seeded mutation fuzzer over every reader (issue #17): GGUF v1/v3 (f32 and q8), llama2.c
// checkpoints and tokenizers, safetensors + config.json + tokenizer.json, .dipstream, mask traces,
// LoRA adapters and calibration files. Each case mutates a valid seed file (truncate, flip bytes,
// header integers set to 0/-1/2^31/2^63, copied offsets, NaN/Inf values, invalid UTF-8, corrupt
// JSON, and JSON headers edited then re-sealed with valid lengths and CRCs) and reads it the way
// the CLI does. A case passes when it ends in a clear input error (one of the readers' error
// classes, one printable line naming the file) or a correct result (finite logits); a trap, a
// TypeError/RangeError, a slow case or NaN output is a failure. tests/fuzz.test.ts runs it.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoadedModel, ModelFormatError, printable } from "../host/model.js";
import { encodeGguf } from "../host/formats/gguf-writer.js";
import { readGgufHeader } from "../host/formats/gguf.js";
import { parseLlama2cTokenizer } from "../host/formats/llama2c.js";
import { syntheticModel } from "../host/synthetic.js";
import { planStream } from "../host/stream/format.js";
import { crc32 } from "../host/crc32.js";
import { Engine } from "../host/engine.js";
import { loadModelFile } from "../host/node/load.js";
import { loadHfTokenizerFile } from "../host/node/hf-tokenizer.js";
import { readCalibration } from "../host/node/calibration-file.js";
import { modelKey } from "../host/calibration.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { AdapterError, checkAdapters, makeAdapters } from "../host/lora.js";
import { decodeAdapters, encodeAdapters } from "../host/formats/lora.js";
import { SparsityError } from "../host/sparsity.js";
import { decodeTrace, encodeTrace, TraceBuilder, TraceFormatError } from "../host/sim/trace.js";
import { maskGroupsFor } from "../host/sim/groups.js";
import { fixturesDir, modelsDir } from "../host/node/paths.js";
import { seededRandom } from "../host/prng.js";

/** The errors a reader may end with: each names the file in a one-line message. */
const INPUT_ERRORS = [ModelFormatError, AdapterError, TraceFormatError, SparsityError];
/** A case slower than this counts as a hang (a reader must bound its work by the file's size). */
const SLOW_CASE_MS = 5000;
const MAX_MESSAGE = 1000;

// ---- seeded randomness ----

export type Rng = () => number;
const rng: (seed: number) => Rng = seededRandom;
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, a: readonly T[]): T => a[int(r, a.length)];

// ---- mutations ----

interface Case {
  /** the mutated file */
  bytes: Uint8Array;
  /** the mutation, for the failure report; "config: ..." when the case is a target's config file */
  how: string;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const HEADER_INTEGERS = [0n, 0xffffffffffffffffn, 2n ** 31n, 2n ** 63n, 1n, 2n ** 32n - 1n];
const BAD_F32 = [NaN, Infinity, -Infinity, 3.4e38];
const BAD_JSON_VALUES: unknown[] = [null, -1, 0, 2 ** 31, 2 ** 63, 1e308, -1e-300, "x", "", [], {}, true, "\u0000\u001b[31m", "../../../etc/passwd"];

/** Byte-level mutations any format gets; `header` is how many leading bytes hold the header. */
function mutateBytes(r: Rng, seed: Uint8Array, header: number): Case {
  const b = seed.slice();
  const v = new DataView(b.buffer);
  const anywhere = () => int(r, b.length);
  const inHeader = () => int(r, Math.max(1, Math.min(header, b.length)));
  switch (int(r, 7)) {
    case 0: {
      const n = r() < 0.5 ? int(r, Math.min(b.length, header + 64)) : anywhere();
      return { bytes: b.subarray(0, n), how: `truncate to ${n}` };
    }
    case 1: {
      const flips = 1 + int(r, 8);
      const inHead = r() < 0.7;
      for (let i = 0; i < flips; i++) b[inHead ? inHeader() : anywhere()] ^= 1 << int(r, 8);
      return { bytes: b, how: `flip ${flips} bits${inHead ? " in the header" : ""}` };
    }
    case 2: {
      const at = inHeader() & ~3;
      const value = pick(r, HEADER_INTEGERS);
      if (r() < 0.5 && at + 8 <= b.length) v.setBigUint64(at, value, true);
      else if (at + 4 <= b.length) v.setUint32(at, Number(value & 0xffffffffn), true);
      return { bytes: b, how: `integer at ${at} = ${value}` };
    }
    case 3: {
      // an offset or length copied over another: overlapping tensors, shifted sections
      const from = inHeader() & ~3;
      const to = inHeader() & ~3;
      if (from + 8 <= b.length && to + 8 <= b.length) b.copyWithin(to, from, from + 8);
      return { bytes: b, how: `copy 8 bytes ${from} -> ${to}` };
    }
    case 4: {
      const at = (header + int(r, Math.max(1, b.length - header - 4))) & ~3;
      const value = pick(r, BAD_F32);
      if (at + 4 <= b.length) v.setFloat32(at, value, true);
      return { bytes: b, how: `f32 ${value} at ${at}` };
    }
    case 5: {
      const at = inHeader();
      const bad = pick(r, [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00]]);
      b.set(bad.slice(0, b.length - at), at);
      return { bytes: b, how: `invalid UTF-8 at ${at}` };
    }
    default: {
      const extra = new Uint8Array(1 + int(r, 64)).map(() => int(r, 256));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      return { bytes: out, how: `append ${extra.length} bytes` };
    }
  }
}

/** Deletes or replaces (with a hostile value) the value at a random path into `root`, in place; says which. */
function jsonEdit(r: Rng, root: unknown): string {
  let node = root as Record<string, unknown>;
  const path: string[] = [];
  for (let depth = 0; depth < 6; depth++) {
    const keys = node !== null && typeof node === "object" ? Object.keys(node) : [];
    if (keys.length === 0) break;
    const key = pick(r, keys);
    const child = node[key];
    if (child === null || typeof child !== "object" || r() < 0.3) {
      const op = int(r, 3);
      if (op === 0) delete node[key];
      else node[key] = op === 1 ? pick(r, BAD_JSON_VALUES) : Array.isArray(child) ? child.concat(child) : pick(r, BAD_JSON_VALUES);
      return `${[...path, key].join(".")} ${op === 0 ? "deleted" : "replaced"}`;
    }
    path.push(key);
    node = child as Record<string, unknown>;
  }
  return "no edit";
}

/** Text-level JSON corruption: truncation, a deleted or inserted character, a bad escape. */
function mutateJsonText(r: Rng, text: string): { text: string; how: string } {
  const at = int(r, text.length);
  switch (int(r, 4)) {
    case 0: return { text: text.slice(0, at), how: `truncate JSON at ${at}` };
    case 1: return { text: text.slice(0, at) + text.slice(at + 1), how: `delete char ${at}` };
    case 2: return { text: text.slice(0, at) + pick(r, ["{", "]", '"', ",", "\\", "\u0000", "\ud800"]) + text.slice(at), how: `insert at ${at}` };
    default: {
      const parsed = JSON.parse(text);
      const how = jsonEdit(r, parsed);
      return { text: JSON.stringify(parsed), how };
    }
  }
}

/** A JSON file's case: its text corrupted, `label` prefixed to the mutation. */
function jsonCase(r: Rng, text: string, label = ""): Case {
  const m = mutateJsonText(r, text);
  return { bytes: utf8(m.text), how: label + m.how };
}

// ---- targets ----

interface Target {
  name: string;
  /** the mutated input for one case */
  mutate(r: Rng): Case;
  /** reads it as the CLI would, in `dir`; returns when the input was valid and its result correct */
  read(c: Case, dir: string): Promise<void>;
}

/** A dense model's first logits must be finite; loads and a step exercise every weight. */
async function checkModel(model: LoadedModel, dtype: "f32" | "q8" = "f32"): Promise<void> {
  const engine = await Engine.create(model, { dtype });
  try {
    for (const token of [1, Math.min(5, model.config.vocabSize - 1)]) {
      const logits = engine.step(token);
      if (!logits.every(Number.isFinite)) throw new FuzzFailure(`non-finite logits after token ${token}`);
    }
  } finally {
    engine.close();
  }
}

class FuzzFailure extends Error {}

/** A small model for seeds, with the stories260K dims but a short context (quick to load). */
const tiny = (seed: number) => syntheticModel("stories260k-shape", seed, { seqLen: 16 });

/** Re-seals a trace after its header JSON was edited: lengths and the trailing CRC made valid again. */
export function resealTrace(bytes: Uint8Array, edit: (h: unknown) => string): Case {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = v.getUint32(24, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(28, 28 + jsonLength)));
  const how = edit(header);
  const json = utf8(JSON.stringify(header));
  const rest = bytes.subarray(28 + jsonLength, bytes.length - 4);
  const out = new Uint8Array(28 + json.length + rest.length + 4);
  out.set(bytes.subarray(0, 28));
  out.set(json, 28);
  out.set(rest, 28 + json.length);
  const w = new DataView(out.buffer);
  w.setBigUint64(16, BigInt(out.length), true);
  w.setUint32(24, json.length, true);
  w.setUint32(out.length - 4, crc32(out, 0, out.length - 4), true);
  return { bytes: out, how: `resealed: ${how}` };
}

/** A .dipstream whose header JSON was edited, with a valid header CRC (its data untouched). */
function resealStream(bytes: Uint8Array, edit: (h: unknown) => string): Case {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = v.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + len)));
  const how = edit(header);
  const json = utf8(JSON.stringify(header));
  const dataStart = (header as { tensors?: { offset?: number }[] }).tensors?.[0]?.offset;
  const room = typeof dataStart === "number" && dataStart >= 16 + json.length ? dataStart - 16 : json.length;
  const out = bytes.slice();
  if (room < json.length || 16 + room > out.length) return { bytes: out, how: "edit did not fit" };
  out.fill(0x20, 16, 16 + room);
  out.set(json, 16);
  const w = new DataView(out.buffer);
  w.setUint32(8, json.length, true);
  w.setUint32(12, crc32(json), true);
  return { bytes: out, how: `resealed: ${how}` };
}

/** A safetensors file whose JSON header was edited (the header length made valid again). */
function resealSafetensors(bytes: Uint8Array, edit: (h: unknown) => string): Case {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const how = edit(header);
  const json = utf8(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return { bytes: out, how: `resealed: ${how}` };
}

async function buildTargets(): Promise<Target[]> {
  // copies, not Buffers: a Buffer's slice() is a view, and mutations must never reach the seed
  const read = (path: string) => new Uint8Array(readFileSync(path));
  const stories = read(join(modelsDir(), "stories260K", "stories260K-f32.gguf"));
  const storiesBin = read(join(modelsDir(), "stories260K", "stories260K.bin"));
  const tok512 = read(join(modelsDir(), "stories260K", "tok512.bin"));
  const hfDir = join(fixturesDir(), "hf", "llama");
  const hfConfig = readFileSync(join(hfDir, "config.json"), "utf8");
  const hfWeights = read(join(hfDir, "model.safetensors"));
  const hfTokenizer = readFileSync(join(hfDir, "tokenizer.json"), "utf8");
  const ggufF32 = encodeGguf(tiny(1), "f32");
  const ggufQ8 = encodeGguf(tiny(2), "q8");
  // ggml block formats from the fixtures: k-quants and Q6_K (Q4_K_M mix), a legacy type with a min (Q4_1)
  const ggufQ4KM = read(join(fixturesDir(), "gguf", "synth-k-Q4_K_M.gguf"));
  const ggufQ41 = read(join(fixturesDir(), "gguf", "stories260K-Q4_1.gguf"));
  const gguf = (name: string, seed: Uint8Array, dtype: "f32" | "q8", headerBytes = 4096): Target => ({
    name,
    mutate: (r) => mutateBytes(r, seed, Math.min(seed.length, headerBytes)),
    async read(c, dir) {
      const path = join(dir, "model.gguf");
      await writeFile(path, c.bytes);
      await checkModel(await loadModelFile(path), dtype);
    },
  });
  // .dipstream: written once from the tiny model (planStream gives the header and the pieces)
  const plan = planStream(tiny(3));
  const dipstream = new Uint8Array(plan.header.file_bytes);
  dipstream.set(plan.head);
  for (const p of plan.pieces) dipstream.set(p.bytes(), p.offset);
  // a trace of the tiny dims
  const dims = { nLayers: 2, vocabSize: 32, dim: 8, hiddenDim: 16, nHeads: 2, nKvHeads: 2, seqLen: 16 };
  const builder = new TraceBuilder({ method: "dip", dims, groups: maskGroupsFor("dip", dims) });
  builder.beginSequence(3);
  for (let t = 0; t < 4; t++) for (let l = 0; l < dims.nLayers; l++) builder.header.groups.forEach((g, gi) => builder.addMask(l, gi, [0, 2, 3].filter((c) => c < g.nEntries)));
  const trace = encodeTrace(builder.build());
  const adapterModel = tiny(4);
  const adapters = encodeAdapters(makeAdapters(adapterModel.config, 2, 8, undefined, (l, t, w, a) => a.fill(0.01 * (l + 1))));

  return [
    gguf("gguf v3 f32", ggufF32, "f32"),
    gguf("gguf v3 q8", ggufQ8, "q8"),
    gguf("gguf v1 stories260K", stories, "f32"),
    gguf("gguf v3 Q4_K_M/Q6_K blocks", ggufQ4KM, "f32", readGgufHeader(ggufQ4KM, "seed").dataStart),
    gguf("gguf v3 Q4_1 blocks", ggufQ41, "f32", readGgufHeader(ggufQ41, "seed").dataStart),
    {
      name: "llama2.c checkpoint",
      mutate: (r) => mutateBytes(r, storiesBin, 28),
      async read(c, dir) {
        const path = join(dir, "model.bin");
        await writeFile(path, c.bytes);
        await writeFile(join(dir, "tok512.bin"), tok512);
        await checkModel(await loadModelFile(path));
      },
    },
    {
      name: "llama2.c tokenizer",
      mutate: (r) => mutateBytes(r, tok512, 256),
      async read(c) {
        const tok = new SentencePieceTokenizer(parseLlama2cTokenizer(c.bytes, "tok512.bin", 512));
        tok.decode(tok.encode("Once upon a time, é 中 \u{1f600}"));
      },
    },
    {
      name: "safetensors + config.json",
      mutate(r) {
        const which = int(r, 3);
        if (which === 0) return jsonCase(r, hfConfig, "config: ");
        return which === 1 ? resealSafetensors(hfWeights, (h) => jsonEdit(r, h)) : mutateBytes(r, hfWeights, 2048);
      },
      async read(c, dir) {
        // the case carries either a config (JSON text) or the weights
        const isConfig = c.how.startsWith("config:");
        await writeFile(join(dir, "config.json"), isConfig ? c.bytes : utf8(hfConfig));
        await writeFile(join(dir, "model.safetensors"), isConfig ? hfWeights : c.bytes);
        await checkModel(await loadModelFile(dir));
      },
    },
    {
      name: "tokenizer.json",
      mutate: (r) => jsonCase(r, hfTokenizer),
      async read(c, dir) {
        const path = join(dir, "tokenizer.json");
        await writeFile(path, c.bytes);
        const tok = await loadHfTokenizerFile(path);
        tok.decode(tok.encode("Once upon a time, é 中 \u{1f600}"));
      },
    },
    {
      name: ".dipstream",
      mutate: (r) => (r() < 0.5 ? resealStream(dipstream, (h) => jsonEdit(r, h)) : mutateBytes(r, dipstream, plan.head.length)),
      async read(c, dir) {
        const path = join(dir, "model.dipstream");
        await writeFile(path, c.bytes);
        const model = await loadModelFile(path);
        if (model.tokenizerJson !== undefined) throw new FuzzFailure(`a tokenizer path came from the file: ${model.tokenizerJson}`);
        await checkModel(model);
      },
    },
    {
      name: "mask trace",
      mutate: (r) => (r() < 0.5 ? resealTrace(trace, (h) => jsonEdit(r, h)) : mutateBytes(r, trace, 64)),
      async read(c) {
        decodeTrace(c.bytes, "masks.trace");
      },
    },
    {
      name: "LoRA adapter",
      mutate(r) {
        if (r() < 0.3) return jsonCase(r, adapters.config, "config: ");
        return r() < 0.5 ? resealSafetensors(adapters.safetensors, (h) => jsonEdit(r, h)) : mutateBytes(r, adapters.safetensors, 1024);
      },
      async read(c) {
        const isConfig = c.how.startsWith("config:");
        const ad = isConfig ? decodeAdapters(adapters.safetensors, "adapter.safetensors", new TextDecoder().decode(c.bytes)) : decodeAdapters(c.bytes, "adapter.safetensors");
        checkAdapters(ad, adapterModel.config, "adapter.safetensors");
      },
    },
    await calibrationTarget(),
  ];
}

/** Calibration files: a valid one for the tiny model, edited as JSON. */
async function calibrationTarget(): Promise<Target> {
  const e = await Engine.create(tiny(5));
  const cal = { version: 1, modelKey: modelKey(e), method: "cats", keep: 0.5, dataKey: "d", tokens: 8, thresholds: Array.from({ length: 5 }, () => ({ input: 0, hidden: 0.05 })) };
  const text = JSON.stringify(cal);
  return {
    name: "calibration",
    mutate: (r) => jsonCase(r, text),
    async read(c, dir) {
      const path = join(dir, "calibration.json");
      await writeFile(path, c.bytes);
      const cal = await readCalibration(path, e, { method: "cats", keep: 0.5 });
      e.reset();
      e.setSparsity({ method: "cats", keep: 0.5 }, cal);
      const logits = e.step(1);
      e.setSparsity({ method: "dense" });
      if (!logits.every(Number.isFinite)) throw new FuzzFailure("non-finite logits with the calibration");
    },
  };
}

export interface FuzzReport {
  cases: number;
  perTarget: Record<string, { cases: number; accepted: number; refused: number }>;
  failures: string[];
}

/** Runs cases round-robin over the targets for `seconds`, from `seed`; every case's verdict is checked. */
export async function fuzz(seconds: number, seed: number, log: (line: string) => void = () => {}): Promise<FuzzReport> {
  const targets = await buildTargets();
  const report: FuzzReport = { cases: 0, perTarget: {}, failures: [] };
  for (const t of targets) report.perTarget[t.name] = { cases: 0, accepted: 0, refused: 0 };
  const deadline = performance.now() + seconds * 1000;
  const root = await mkdtemp(join(tmpdir(), "dip-fuzz-"));
  try {
    for (let i = 0; performance.now() < deadline; i++) {
      const target = targets[i % targets.length];
      const r = rng((seed * 0x9e3779b1 + i) >>> 0);
      const c = target.mutate(r);
      const dir = await mkdtemp(join(root, "case-"));
      const stats = report.perTarget[target.name];
      stats.cases++;
      report.cases++;
      const start = performance.now();
      let verdict: string | undefined;
      try {
        await target.read(c, dir);
        stats.accepted++;
      } catch (e) {
        verdict = judge(e);
        if (verdict === undefined) stats.refused++;
      }
      const ms = performance.now() - start;
      if (verdict === undefined && ms > SLOW_CASE_MS) verdict = `took ${ms.toFixed(0)} ms`;
      // an input must never be rewritten by reading it
      if (verdict === undefined) verdict = await checkUnchanged(dir, c);
      if (verdict !== undefined) {
        const line = `${target.name} case ${i} (seed ${seed}, ${c.how}): ${verdict}`;
        report.failures.push(line);
        log(line);
      }
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return report;
}

/** undefined when `e` is a clear input error; else what is wrong with it. */
function judge(e: unknown): string | undefined {
  if (e instanceof FuzzFailure) return e.message;
  if (!(e instanceof Error)) return `threw a non-Error: ${String(e)}`;
  const what = `${e.constructor.name}: ${e.message.slice(0, 300)}`;
  if (!INPUT_ERRORS.some((type) => e instanceof type)) return `not an input error: ${printable(what)}`;
  if (e.message !== printable(e.message, Infinity)) return `message not printable: ${printable(what)}`;
  if (e.message.length > MAX_MESSAGE) return `message of ${e.message.length} characters`;
  if (!/(\.gguf|\.bin|\.json|\.safetensors|\.dipstream|\.trace|tokenizer|calibration|config|adapter|ckpt|model|masks|\/)/.test(e.message)) return `message names no file: ${printable(what)}`;
  return undefined;
}

/** The case's input file (if it wrote one) still holds what was written. */
async function checkUnchanged(dir: string, c: Case): Promise<string | undefined> {
  for (const name of ["model.gguf", "model.bin", "model.dipstream"]) {
    const now = await readFile(join(dir, name)).catch(() => undefined);
    if (now && Buffer.compare(now, Buffer.from(c.bytes)) !== 0) return `${name} was overwritten`;
  }
  return undefined;
}

/** --seconds N --seed S from argv (npm run fuzz -- --seconds 600 --seed 7). */
export function fuzzArgs(argv: string[], defaults: { seconds: number; seed: number }): { seconds: number; seed: number } {
  const value = (flag: string, fallback: number): number => {
    const i = argv.indexOf(flag);
    if (i < 0) return fallback;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number, got ${argv[i + 1]}`);
    return v;
  };
  return { seconds: value("--seconds", defaults.seconds), seed: value("--seed", defaults.seed) };
}
