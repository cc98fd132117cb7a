// Mask trace decoding on the wasm side (docs/trace-format.md): the WASI replay reads its input
// with it; the host decodes in TypeScript (host/sim/trace.ts), whose checks and messages these are.
// The masks land in one arena block in the replay layout the simulator reads (replay.ts).
import { arenaAlloc } from "../arena";
import { JsonValue, J_ARRAY, J_BOOL, J_NUMBER, J_OBJECT, J_STRING, parseJson, parseError } from "./json";

import { TRACE_FIXED_HEADER_BYTES, TRACE_FULL_MASK, TRACE_VERSION } from "../abi";

export const FULL_MASK: u32 = <u32>TRACE_FULL_MASK;
const FIXED_HEADER_BYTES: usize = TRACE_FIXED_HEADER_BYTES;

export class Dims {
  nLayers: f64 = 0;
  vocabSize: f64 = 0;
  dim: f64 = 0;
  hiddenDim: f64 = 0;
  nHeads: f64 = 0;
  nKvHeads: f64 = 0;
  seqLen: f64 = 0;
  gated: bool = true;
}

export class Group {
  name: string = "";
  nEntries: f64 = 0;
  columnHeight: f64 = 0;
  nLin: f64 = 0;
  alwaysFull: bool = false;
}

export class Sequence {
  promptTokens: f64 = 0;
  tokens: i32 = 0;
  /** u32 words: per token, layer, group a count (FULL_MASK = every column) then the indices */
  words: usize = 0;
  nWords: i32 = 0;
}

export class Trace {
  method: string = "";
  dims: Dims = new Dims();
  groups: Group[] = [];
  sequences: Sequence[] = [];
  /** header.evaluation, if any */
  hasEvaluation: bool = false;
  ppl: f64 = 0;
  meanNll: f64 = 0;
  evalTokens: f64 = 0;
  error: string = "";
}

const CRC_TABLE = new StaticArray<u32>(256);
function crcInit(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    CRC_TABLE[n] = c;
  }
}

function crc32(ptr: usize, len: usize): u32 {
  if (CRC_TABLE[1] == 0) crcInit();
  let c: u32 = 0xffffffff;
  for (let i: usize = 0; i < len; i++) c = CRC_TABLE[(c ^ <u32>load<u8>(ptr + i)) & 0xff] ^ (c >>> 8);
  return c ^ 0xffffffff;
}

const hex = (n: u32): string => "0x" + n.toString(16).padStart(8, "0");

function isCount(v: JsonValue | null): bool {
  return v !== null && v.kind == J_NUMBER && v.num > 0 && v.num == Math.floor(v.num) && v.num <= 9007199254740991.0;
}

function fail(source: string, field: string, msg: string): Trace {
  const r = new Trace();
  r.error = source + ": " + field + ": " + msg;
  return r;
}

/** Decodes the trace at (ptr, len); on failure `error` names the field, as the host does. */
export function decodeTrace(ptr: usize, len: usize, source: string): Trace {
  const t = new Trace();
  if (len < FIXED_HEADER_BYTES) return fail(source, "fixed header", "truncated: " + len.toString() + " bytes, a trace starts with 28");
  if (String.UTF8.decodeUnsafe(ptr, 8) != "DIPTRACE") return fail(source, "magic", "expected \"DIPTRACE\": not a DIP mask trace");
  const version = load<u32>(ptr, 8);
  if (version != <u32>TRACE_VERSION) return fail(source, "version", "version " + version.toString() + " is not supported (this build reads version " + TRACE_VERSION.toString() + ")");
  const width = load<u32>(ptr, 12);
  if (width != 2 && width != 4) return fail(source, "index width", "must be 2 or 4 bytes, got " + width.toString());
  const declared = load<u64>(ptr, 16);
  if (declared > <u64>len) return fail(source, "total length", "truncated: the header says " + declared.toString() + " bytes, the file has " + len.toString());
  if (declared < <u64>len) return fail(source, "total length", (<u64>len - declared).toString() + " unexpected bytes after the end (" + declared.toString() + " bytes declared)");
  const stored = load<u32>(ptr + len - 4);
  const actual = crc32(ptr, len - 4);
  if (stored != actual) return fail(source, "checksum", "CRC-32 mismatch (stored " + hex(stored) + ", computed " + hex(actual) + "): the file is corrupt");
  const jsonLength = <usize>load<u32>(ptr, 24);
  const bodyEnd = len - 4;
  if (FIXED_HEADER_BYTES + jsonLength > bodyEnd) return fail(source, "header length", jsonLength.toString() + " bytes of header JSON do not fit in the file");
  const header = parseJson(String.UTF8.decodeUnsafe(ptr + FIXED_HEADER_BYTES, jsonLength));
  if (header === null || header.kind != J_OBJECT) return fail(source, "header", "not valid JSON (" + (header === null ? parseError : "not an object") + ")");

  const method = header.get("method");
  if (method === null || method.kind != J_STRING || method.str.length == 0) return fail(source, "header", "header: method: must be a non-empty string");
  t.method = method.str;
  const dims = header.get("dims");
  if (dims === null || dims.kind != J_OBJECT) return fail(source, "header", "header: dims: missing");
  const names = ["nLayers", "vocabSize", "dim", "hiddenDim", "nHeads", "nKvHeads", "seqLen"];
  for (let i = 0; i < names.length; i++) {
    if (!isCount(dims.get(names[i]))) return fail(source, "header", "header: dims: dims: " + names[i] + " must be a positive integer");
    // the simulator counts in i32 (as host/sim/trace.ts refuses)
    if (dims.get(names[i])!.num > 2147483647) return fail(source, "dims", names[i] + " must be at most 2147483647 (the simulator counts in i32), got " + (<i64>dims.get(names[i])!.num).toString());
  }
  const d = t.dims;
  d.nLayers = dims.get("nLayers")!.num;
  d.vocabSize = dims.get("vocabSize")!.num;
  d.dim = dims.get("dim")!.num;
  d.hiddenDim = dims.get("hiddenDim")!.num;
  d.nHeads = dims.get("nHeads")!.num;
  d.nKvHeads = dims.get("nKvHeads")!.num;
  d.seqLen = dims.get("seqLen")!.num;
  const gated = dims.get("gated");
  d.gated = !(gated !== null && gated.kind == J_BOOL && !gated.flag);
  if (d.nHeads % d.nKvHeads != 0) return fail(source, "header", "header: dims: dims: nHeads is not a multiple of nKvHeads");
  if (d.nLayers > 1e6) return fail(source, "header", "header: dims: nLayers is too large for this replay");

  const groups = header.get("groups");
  if (groups === null || groups.kind != J_ARRAY || groups.items.length == 0 || groups.items.length > 8) return fail(source, "header", "header: groups: must be a list of 1 to 8 mask groups");
  for (let i = 0; i < groups.items.length; i++) {
    const g = groups.items[i];
    const where = "header: groups[" + i.toString() + "]: ";
    if (g.kind != J_OBJECT) return fail(source, "header", where + "must be an object");
    const fields = ["nEntries", "columnHeight", "nLin"];
    for (let k = 0; k < fields.length; k++) if (!isCount(g.get(fields[k]))) return fail(source, "header", where + fields[k] + " must be a positive integer");
    const grp = new Group();
    const name = g.get("name");
    grp.name = name !== null && name.kind == J_STRING ? name.str : "";
    grp.nEntries = g.get("nEntries")!.num;
    grp.columnHeight = g.get("columnHeight")!.num;
    grp.nLin = g.get("nLin")!.num;
    const full = g.get("alwaysFull");
    grp.alwaysFull = full !== null && full.kind == J_BOOL && full.flag;
    if (grp.nEntries >= 0xffffffff || grp.columnHeight > 0x7fffffff || grp.nLin > 0x7fffffff) return fail(source, "header", where + "too large");
    t.groups.push(grp);
  }
  if (width == 2) {
    for (let i = 0; i < t.groups.length; i++) if (t.groups[i].nEntries > 0x10000) return fail(source, "index width", "2-byte indices cannot address " + t.groups[i].nEntries.toString() + " columns");
  }
  const evaluation = header.get("evaluation");
  if (evaluation !== null && evaluation.kind == J_OBJECT) {
    const ppl = evaluation.get("ppl");
    const nll = evaluation.get("mean_nll");
    const tokens = evaluation.get("tokens");
    if (ppl !== null && ppl.kind == J_NUMBER && nll !== null && nll.kind == J_NUMBER && tokens !== null && tokens.kind == J_NUMBER) {
      t.hasEvaluation = true;
      t.ppl = ppl.num;
      t.meanNll = nll.num;
      t.evalTokens = tokens.num;
    }
  }

  // sequences, widened into one block in the replay layout (a u32 per count and per index): a
  // count or an index takes at least 2 bytes of the file, so the block needs at most 2x the rest
  let o = FIXED_HEADER_BYTES + jsonLength;
  if (o + 4 > bodyEnd) return fail(source, "sequence count", "truncated at byte " + o.toString());
  const nSeq = load<u32>(ptr + o);
  o += 4;
  let w = arenaAlloc((bodyEnd - o) * 2 + 4);
  if (w == 0) return fail(source, "sequences", "out of memory");
  for (let s: u32 = 0; s < nSeq; s++) {
    if (o + 8 > bodyEnd) return fail(source, "sequence " + s.toString() + " header", "truncated at byte " + o.toString());
    const seq = new Sequence();
    seq.promptTokens = <f64>load<u32>(ptr + o);
    const tokens = load<u32>(ptr + o + 4);
    if (tokens > 0x7fffffff) return fail(source, "sequence " + s.toString() + " header", "too many tokens");
    if (seq.promptTokens + <f64>tokens > t.dims.seqLen) {
      return fail(source, "sequence " + s.toString() + " promptTokens", (<u32>seq.promptTokens).toString() + " prompt + " + tokens.toString() + " traced tokens exceed dims.seqLen " + (<i64>t.dims.seqLen).toString());
    }
    seq.tokens = <i32>tokens;
    seq.words = w;
    o += 8;
    for (let tk = 0; tk < seq.tokens; tk++) {
      for (let l = 0; l < <i32>d.nLayers; l++) {
        for (let g = 0; g < t.groups.length; g++) {
          const field = "sequence " + s.toString() + " token " + tk.toString() + " layer " + l.toString() + " group " + g.toString();
          if (o + 4 > bodyEnd) return fail(source, field + " count", "truncated at byte " + o.toString());
          const count = load<u32>(ptr + o);
          o += 4;
          store<u32>(w, count);
          w += 4;
          if (count == FULL_MASK) continue;
          const n = <u32>t.groups[g].nEntries;
          if (count > n) return fail(source, field + " count", count.toString() + " indices for a group of " + n.toString() + " columns");
          if (o + <usize>count * width > bodyEnd) return fail(source, field + " indices", "truncated at byte " + o.toString());
          let prev: i64 = -1;
          for (let k: u32 = 0; k < count; k++) {
            const col = width == 2 ? <u32>load<u16>(ptr + o) : load<u32>(ptr + o);
            o += width;
            if (col >= n) return fail(source, field + " index " + k.toString(), "column " + col.toString() + " is out of range (group has " + n.toString() + ")");
            if (<i64>col <= prev) return fail(source, field + " index " + k.toString(), "column " + col.toString() + " after " + prev.toString() + ": indices must be strictly ascending");
            prev = <i64>col;
            store<u32>(w, col);
            w += 4;
          }
        }
      }
    }
    const words = (w - seq.words) >> 2;
    if (words > 0x3fffffff) return fail(source, "sequence " + s.toString(), "too many masks for one replay");
    seq.nWords = <i32>words;
    t.sequences.push(seq);
  }
  if (o != bodyEnd) return fail(source, "body", (bodyEnd - o).toString() + " unexpected bytes after sequence " + (nSeq - 1).toString());
  return t;
}
