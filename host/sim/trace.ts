// Mask traces: the masks a run computed, per sequence, token, layer and mask group, so the
// simulator can replay them without the model (SIMULATOR.md "Mask traces"). The binary layout is
// documented in docs/trace-format.md; this file is its reference encoder and decoder.
import type { ModelDims } from "./presets.js";
import { validateDims } from "./presets.js";
import { validateGroup, type MaskGroup } from "./groups.js";
import { crc32 } from "../crc32.js";
import { TRACE_FIXED_HEADER_BYTES, TRACE_FULL_MASK, TRACE_VERSION } from "../abi.js";
import { printable } from "../model.js";

export const TRACE_MAGIC = "DIPTRACE";
export { TRACE_VERSION };
/** count word meaning "every column of the group"; no indices follow */
export const FULL_MASK = TRACE_FULL_MASK;
const FIXED_HEADER_BYTES = TRACE_FIXED_HEADER_BYTES;

export interface TraceHeader {
  /** model name, for reports */
  model?: string;
  /** sparsity method that produced the masks (dense, glu, dip, cats, dip-threshold, dip-ca) */
  method: string;
  /** the method's settings: keep, upKeep, downKeep, gamma, ... */
  sparsity?: Record<string, number | boolean | string>;
  dims: ModelDims;
  /** mask groups of every layer, in the order masks are stored */
  groups: MaskGroup[];
  /** what wrote the trace */
  producer?: string;
  /** perplexity of the run that produced the masks (so a replay reports the same numbers) */
  evaluation?: { ppl: number; mean_nll: number; tokens: number; text?: string; stories?: number };
}

export interface TraceSequence {
  /** prompt tokens before the traced ones (KV length and time to first token) */
  promptTokens: number;
  tokens: number;
  /** the masks in replay order (the wasm simulator's layout): for each token, layer, group a
   *  count word (FULL_MASK = every column) followed by that many ascending u32 indices */
  words: Uint32Array;
}

export interface MaskTrace {
  header: TraceHeader;
  sequences: TraceSequence[];
}

/** A trace that cannot be used: names the source, the field and what was expected. */
export class TraceFormatError extends Error {
  override name = "TraceFormatError";
  constructor(
    readonly source: string,
    readonly field: string,
    message: string,
  ) {
    super(printable(`${source}: ${field}: ${message}`));
  }
}

// ---- building ----

export type MaskInput = ArrayLike<number> | "full";

/** Collects masks in replay order (token, then layer, then group) and checks each one. */
export class TraceBuilder {
  private readonly sequences: TraceSequence[] = [];
  private words = new Uint32Array(1024);
  private used = 0;
  private open = false;
  private promptTokens = 0;
  private tokens = 0;
  private layer = 0;
  private group = 0;

  constructor(readonly header: TraceHeader) {
    validateHeader(header, "trace header");
  }

  beginSequence(promptTokens = 0): void {
    if (this.open) this.endSequence();
    if (!Number.isSafeInteger(promptTokens) || promptTokens < 0 || promptTokens > 0xffffffff) {
      throw new TraceFormatError("trace builder", "promptTokens", `must be a non-negative integer, got ${promptTokens}`);
    }
    this.open = true;
    this.promptTokens = promptTokens;
    this.tokens = 0;
    this.layer = 0;
    this.group = 0;
    this.used = 0;
  }

  /** The mask of (layer, group) for the current token; masks must come in replay order. */
  addMask(layer: number, group: number, mask: MaskInput): void {
    if (!this.open) this.beginSequence(0);
    if (layer !== this.layer || group !== this.group) {
      throw new TraceFormatError("trace builder", `token ${this.tokens}`, `expected the mask of layer ${this.layer} group ${this.group}, got layer ${layer} group ${group}`);
    }
    const g = this.header.groups[group];
    const where = `token ${this.tokens} layer ${layer} group ${group} (${g.name})`;
    if (mask === "full") {
      this.push(FULL_MASK);
    } else {
      if (mask.length > g.nEntries) throw new TraceFormatError("trace builder", where, `${mask.length} indices for ${g.nEntries} columns`);
      this.push(mask.length);
      let prev = -1;
      for (let k = 0; k < mask.length; k++) {
        const col = mask[k];
        if (!Number.isInteger(col) || col <= prev || col >= g.nEntries) {
          throw new TraceFormatError("trace builder", where, `index ${k} is ${col}; indices must be ascending integers below ${g.nEntries}`);
        }
        prev = col;
        this.push(col);
      }
    }
    if (++this.group === this.header.groups.length) {
      this.group = 0;
      if (++this.layer === this.header.dims.nLayers) {
        this.layer = 0;
        this.tokens++;
      }
    }
  }

  /** All masks of one token: masks[layer][group]. */
  addToken(masks: MaskInput[][]): void {
    masks.forEach((perGroup, l) => perGroup.forEach((m, g) => this.addMask(l, g, m)));
  }

  endSequence(): void {
    if (!this.open) return;
    if (this.layer !== 0 || this.group !== 0) {
      throw new TraceFormatError("trace builder", `token ${this.tokens}`, `sequence ends mid-token (layer ${this.layer} group ${this.group} missing)`);
    }
    this.sequences.push({ promptTokens: this.promptTokens, tokens: this.tokens, words: this.words.slice(0, this.used) });
    this.open = false;
  }

  build(): MaskTrace {
    this.endSequence();
    return { header: this.header, sequences: this.sequences.slice() };
  }

  private push(w: number): void {
    if (this.used === this.words.length) {
      const bigger = new Uint32Array(this.words.length * 2);
      bigger.set(this.words);
      this.words = bigger;
    }
    this.words[this.used++] = w;
  }
}

// ---- reading masks back ----

/** Calls fn for every mask of a sequence in replay order; indices is null for a full mask. */
export function forEachMask(
  header: TraceHeader,
  seq: TraceSequence,
  fn: (token: number, layer: number, group: number, indices: Uint32Array | null) => void,
): void {
  const G = header.groups.length;
  const L = header.dims.nLayers;
  let w = 0;
  for (let t = 0; t < seq.tokens; t++) {
    for (let l = 0; l < L; l++) {
      for (let g = 0; g < G; g++) {
        const count = seq.words[w++];
        if (count === FULL_MASK) {
          fn(t, l, g, null);
        } else {
          fn(t, l, g, seq.words.subarray(w, w + count));
          w += count;
        }
      }
    }
  }
}

export const traceTokens = (trace: MaskTrace): number => trace.sequences.reduce((s, q) => s + q.tokens, 0);

// ---- encoding ----

/** The narrowest index width that holds every group's columns. */
function indexWidth(header: TraceHeader): 2 | 4 {
  return header.groups.every((g) => g.nEntries <= 0x10000) ? 2 : 4;
}

export function encodeTrace(trace: MaskTrace): Uint8Array {
  validateHeader(trace.header, "trace header");
  const json = new TextEncoder().encode(JSON.stringify(trace.header));
  const width = indexWidth(trace.header);
  let size = FIXED_HEADER_BYTES + json.length + 4;
  for (const s of trace.sequences) {
    let masks = 0;
    forEachMask(trace.header, s, () => masks++);
    const indices = s.words.length - masks;
    size += 8 + masks * 4 + indices * width;
  }
  size += 4;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = TRACE_MAGIC.charCodeAt(i);
  v.setUint32(8, TRACE_VERSION, true);
  v.setUint32(12, width, true);
  v.setBigUint64(16, BigInt(size), true);
  v.setUint32(24, json.length, true);
  out.set(json, FIXED_HEADER_BYTES);
  let o = FIXED_HEADER_BYTES + json.length;
  v.setUint32(o, trace.sequences.length, true);
  o += 4;
  for (const s of trace.sequences) {
    v.setUint32(o, s.promptTokens, true);
    v.setUint32(o + 4, s.tokens, true);
    o += 8;
    forEachMask(trace.header, s, (_t, _l, _g, idx) => {
      if (idx === null) {
        v.setUint32(o, FULL_MASK, true);
        o += 4;
        return;
      }
      v.setUint32(o, idx.length, true);
      o += 4;
      for (let k = 0; k < idx.length; k++) {
        if (width === 2) v.setUint16(o, idx[k], true);
        else v.setUint32(o, idx[k], true);
        o += width;
      }
    });
  }
  v.setUint32(o, crc32(out, 0, o), true);
  return out;
}

// ---- decoding ----

/** Parses and checks a trace. Every problem is a TraceFormatError naming the field. */
export function decodeTrace(bytes: Uint8Array, source = "trace"): MaskTrace {
  const fail = (field: string, msg: string): never => {
    throw new TraceFormatError(source, field, msg);
  };
  if (bytes.length < FIXED_HEADER_BYTES) fail("fixed header", `truncated: ${bytes.length} bytes, a trace starts with ${FIXED_HEADER_BYTES}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== TRACE_MAGIC) fail("magic", `expected "${TRACE_MAGIC}", found ${JSON.stringify(magic)}: not a DIP mask trace`);
  const version = v.getUint32(8, true);
  if (version !== TRACE_VERSION) fail("version", `version ${version} is not supported (this build reads version ${TRACE_VERSION})`);
  const width = v.getUint32(12, true);
  if (width !== 2 && width !== 4) fail("index width", `must be 2 or 4 bytes, got ${width}`);
  const declared = v.getBigUint64(16, true);
  if (declared > BigInt(bytes.length)) fail("total length", `truncated: the header says ${declared} bytes, the file has ${bytes.length}`);
  if (declared < BigInt(bytes.length)) fail("total length", `${BigInt(bytes.length) - declared} unexpected bytes after the end (${declared} bytes declared)`);
  const stored = v.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes, 0, bytes.length - 4);
  if (stored !== actual) fail("checksum", `CRC-32 mismatch (stored ${hex(stored)}, computed ${hex(actual)}): the file is corrupt`);

  const jsonLength = v.getUint32(24, true);
  const bodyEnd = bytes.length - 4;
  if (FIXED_HEADER_BYTES + jsonLength > bodyEnd) fail("header length", `${jsonLength} bytes of header JSON do not fit in the file`);
  let header: TraceHeader;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + jsonLength)));
  } catch (e) {
    return fail("header", `not valid UTF-8 JSON (${(e as Error).message})`);
  }
  try {
    validateHeader(header, "header");
  } catch (e) {
    return fail("header", (e as Error).message);
  }
  if (width === 2 && header.groups.some((g) => g.nEntries > 0x10000)) fail("index width", `2-byte indices cannot address ${Math.max(...header.groups.map((g) => g.nEntries))} columns`);

  let o = FIXED_HEADER_BYTES + jsonLength;
  const need = (n: number, field: string) => {
    if (o + n > bodyEnd) fail(field, `truncated at byte ${o}: needs ${n} more bytes, ${bodyEnd - o} left before the checksum`);
  };
  need(4, "sequence count");
  const nSeq = v.getUint32(o, true);
  o += 4;
  const L = header.dims.nLayers;
  const G = header.groups.length;
  const sequences: TraceSequence[] = [];
  for (let s = 0; s < nSeq; s++) {
    need(8, `sequence ${s} header`);
    const promptTokens = v.getUint32(o, true);
    const tokens = v.getUint32(o + 4, true);
    o += 8;
    if (promptTokens + tokens > header.dims.seqLen) {
      fail(`sequence ${s} promptTokens`, `${promptTokens} prompt + ${tokens} traced tokens exceed dims.seqLen ${header.dims.seqLen}`);
    }
    // replay layout: a count word per mask plus one word per index
    let words = new Uint32Array(1024);
    let used = 0;
    const push = (w: number) => {
      if (used === words.length) {
        const bigger = new Uint32Array(words.length * 2);
        bigger.set(words);
        words = bigger;
      }
      words[used++] = w;
    };
    for (let t = 0; t < tokens; t++) {
      for (let l = 0; l < L; l++) {
        for (let g = 0; g < G; g++) {
          const field = `sequence ${s} token ${t} layer ${l} group ${g}`;
          need(4, `${field} count`);
          const count = v.getUint32(o, true);
          o += 4;
          push(count);
          if (count === FULL_MASK) continue;
          const n = header.groups[g].nEntries;
          if (count > n) fail(`${field} count`, `${count} indices for a group of ${n} columns`);
          need(count * width, `${field} indices`);
          let prev = -1;
          for (let k = 0; k < count; k++) {
            const col = width === 2 ? v.getUint16(o, true) : v.getUint32(o, true);
            o += width;
            if (col >= n) fail(`${field} index ${k}`, `column ${col} is out of range (group has ${n})`);
            if (col <= prev) fail(`${field} index ${k}`, `column ${col} after ${prev}: indices must be strictly ascending`);
            prev = col;
            push(col);
          }
        }
      }
    }
    sequences.push({ promptTokens, tokens, words: words.slice(0, used) });
  }
  if (o !== bodyEnd) fail("body", `${bodyEnd - o} unexpected bytes after sequence ${nSeq - 1}`);
  return { header, sequences };
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

// ---- checks ----

const TRACE_DIMS = ["nLayers", "vocabSize", "dim", "hiddenDim", "nHeads", "nKvHeads", "seqLen"] as const;
/** the wasm simulator takes every dimension as an i32 */
const MAX_TRACE_DIM = 2 ** 31 - 1;

function validateHeader(h: TraceHeader, where: string): void {
  if (typeof h !== "object" || h === null) throw new TraceFormatError(where, "header", "must be a JSON object");
  if (typeof h.method !== "string" || h.method.length === 0) throw new TraceFormatError(where, "method", "must be a non-empty string");
  if (typeof h.dims !== "object" || h.dims === null) throw new TraceFormatError(where, "dims", "missing");
  try {
    validateDims(h.dims, "dims");
  } catch (e) {
    throw new TraceFormatError(where, "dims", (e as Error).message);
  }
  for (const k of TRACE_DIMS) {
    if (h.dims[k] > MAX_TRACE_DIM) throw new TraceFormatError(where, "dims", `${k} must be at most ${MAX_TRACE_DIM} (the simulator counts in i32), got ${h.dims[k]}`);
  }
  if (!Array.isArray(h.groups) || h.groups.length === 0 || h.groups.length > 8) {
    throw new TraceFormatError(where, "groups", "must be a list of 1 to 8 mask groups");
  }
  h.groups.forEach((g, i) => {
    if (typeof g !== "object" || g === null) throw new TraceFormatError(where, `groups[${i}]`, "must be an object");
    try {
      validateGroup(g, `groups[${i}]`);
    } catch (e) {
      throw new TraceFormatError(where, `groups[${i}]`, (e as Error).message);
    }
  });
}

const MATCHED_DIMS = ["nLayers", "vocabSize", "dim", "hiddenDim", "nHeads", "nKvHeads"] as const;

/** Throws when a trace was recorded for a model of other dimensions than `dims`. */
export function checkTraceMatchesModel(header: TraceHeader, dims: ModelDims, source = "trace"): void {
  for (const k of MATCHED_DIMS) {
    if (header.dims[k] !== dims[k]) {
      throw new TraceFormatError(source, `dims.${k}`, `the trace was recorded with ${k} = ${header.dims[k]}, the model has ${dims[k]}`);
    }
  }
  if ((header.dims.gated !== false) !== (dims.gated !== false)) {
    const gated = (d: ModelDims) => (d.gated === false ? "not gated" : "gated");
    throw new TraceFormatError(source, "dims.gated", `the trace's MLP is ${gated(header.dims)}, the model's is ${gated(dims)}`);
  }
}
