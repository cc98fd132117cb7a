// SentencePiece-style BPE exactly as llama2.c's run.c runs it (encode / decode), driven by a
// Vocabulary from a GGUF or a tokenizer.bin.
//
// run.c merges greedily: each round rescans the whole sequence for the adjacent pair whose
// concatenation is the piece with the highest score (the leftmost pair on ties) and merges it.
// That is O(n^2) on long texts; here the same choice comes from a priority queue of adjacent pairs
// keyed by (score desc, position asc) over a linked list, with stale entries skipped on pop.
// Positions are original indices and a merged token keeps its left index, so list order and index
// order agree and "leftmost" means the same in both.
import type { Vocabulary } from "../model.js";
import type { EncodeOptions as CommonEncodeOptions, StreamDecoder, Tokenizer } from "./types.js";

export type { StreamDecoder } from "./types.js";

export interface EncodeOptions extends CommonEncodeOptions {
  /** append EOS (default: as the vocabulary's addEos) */
  eos?: boolean;
}

/** run.c starts best_score at -1e10: pieces scored at or below it are never merged. */
const MIN_MERGE_SCORE = -1e10;

const utf8Encoder = new TextEncoder();
const PAIR_CACHE_LIMIT = 1 << 20;

/** llama2.c's SentencePiece-BPE tokenizer over a model's vocabulary (GGUF `tokenizer.ggml.*`, tokenizer.bin). */
export class SentencePieceTokenizer implements Tokenizer {
  readonly pieces: readonly string[];
  readonly scores: Float32Array;
  readonly bosId: number;
  readonly eosId: number;
  readonly stopIds: readonly number[];
  private readonly addBos: boolean;
  private readonly addEos: boolean;
  /** ids decoded as nothing: BOS, EOS and control tokens */
  private readonly silentIds: Set<number>;
  /** finds control tokens' text (longest first), for encode's `special`; undefined when there are none */
  private readonly controlPattern: RegExp | undefined;
  private readonly pieceIds = new Map<string, number>();
  /** id -> the byte of a "<0xXX>" piece, or -1 */
  private readonly byteOfPiece: Int16Array;
  /** byte -> id of its "<0xXX>" piece, or the unknown-token id when the vocabulary has none */
  private readonly byteIds: Int32Array;
  /** merge result of the pair (a, b) at a * vocabSize + b: id, or -1 when a+b is not a piece */
  private readonly pairCache = new Map<number, number>();

  constructor(vocab: Vocabulary) {
    this.pieces = vocab.pieces;
    this.scores = vocab.scores;
    this.bosId = vocab.bosId;
    this.eosId = vocab.eosId;
    this.stopIds = [vocab.eosId, ...(vocab.endIds ?? []).filter((id) => id !== vocab.eosId)];
    this.addBos = vocab.addBos ?? true;
    this.addEos = vocab.addEos ?? false;
    const controls = vocab.controlIds ?? [];
    this.silentIds = new Set([vocab.bosId, vocab.eosId, ...controls]);
    const texts = [...new Set(controls.map((id) => vocab.pieces[id]).filter((p) => p !== undefined && p.length > 0))].sort((a, b) => b.length - a.length);
    this.controlPattern = texts.length > 0 ? new RegExp(texts.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g") : undefined;
    // The first id wins for a duplicated piece, so lookups are stable whatever the file order.
    vocab.pieces.forEach((p, id) => {
      if (!this.pieceIds.has(p)) this.pieceIds.set(p, id);
    });
    this.byteOfPiece = new Int16Array(vocab.pieces.length).fill(-1);
    vocab.pieces.forEach((p, id) => {
      // run.c: sscanf(piece, "<0x%02hhX>", &byte)
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p);
      if (m) this.byteOfPiece[id] = parseInt(m[1], 16);
    });
    const unknown = this.pieceIds.get("<unk>") ?? 0;
    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, "0");
      this.byteIds[b] = this.pieceIds.get(`<0x${hex}>`) ?? unknown;
    }
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  tokenText(id: number): string {
    return this.pieces[id] ?? "";
  }

  /** The id of a piece (spaces as ' '), or undefined. */
  pieceId(piece: string): number | undefined {
    return this.pieceIds.get(piece);
  }

  encode(text: string, { bos = true, eos = bos && this.addEos, special = false }: EncodeOptions = {}): number[] {
    const out = special && this.controlPattern ? this.encodeWithControls(text, bos && this.addBos) : this.encodeText(text, bos && this.addBos);
    if (eos) out.push(this.eosId);
    return out;
  }

  /** One plain text, merged as run.c merges it (BOS, when asked for, is part of the merge as there). */
  private encodeText(text: string, bos: boolean): number[] {
    const tokens: number[] = [];
    if (bos) tokens.push(this.bosId);
    // SentencePiece's add_dummy_prefix: a leading space, so the first word looks like every other.
    if (text.length > 0) this.pushPiece(tokens, " ");
    // One code point at a time: its piece, or one byte token per UTF-8 byte (byte fallback).
    for (const ch of text) this.pushPiece(tokens, ch);
    return this.merge(tokens);
  }

  /**
   * Control tokens' text becomes the token; the text between them is encoded on its own, each
   * piece with the dummy-prefix space (llama.cpp's SPM tokenize after its special-token partition).
   */
  private encodeWithControls(text: string, bos: boolean): number[] {
    const out: number[] = bos ? [this.bosId] : [];
    let from = 0;
    for (const m of text.matchAll(this.controlPattern!)) {
      if (m.index > from) out.push(...this.encodeText(text.slice(from, m.index), false));
      out.push(this.pieceIds.get(m[0])!);
      from = m.index + m[0].length;
    }
    if (from < text.length) out.push(...this.encodeText(text.slice(from), false));
    return out;
  }

  private pushPiece(tokens: number[], ch: string): void {
    const id = this.pieceIds.get(ch);
    if (id !== undefined) tokens.push(id);
    // SentencePiece normalizes a space to U+2581 before byte fallback (pieces here hold ' ' for
    // it), so a vocabulary without a space piece spells it as the bytes of U+2581, as llama.cpp does
    else for (const b of utf8Encoder.encode(ch === " " ? "\u2581" : ch)) tokens.push(this.byteIds[b]);
  }

  /** The id of piece(a) + piece(b), or -1. */
  private pairId(a: number, b: number): number {
    const key = a * this.pieces.length + b;
    let id = this.pairCache.get(key);
    if (id === undefined) {
      id = this.pieceIds.get(this.pieces[a] + this.pieces[b]) ?? -1;
      if (this.pairCache.size >= PAIR_CACHE_LIMIT) this.pairCache.clear(); // bounded memory on huge vocabularies
      this.pairCache.set(key, id);
    }
    return id;
  }

  /** run.c's greedy merge loop (BOS included, as there), via a priority queue; see the file comment. */
  private merge(input: number[]): number[] {
    const n = input.length;
    if (n < 2) return input;
    const token = Int32Array.from(input);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    // bumped whenever a node's token changes or it is merged away, invalidating queued pairs
    const version = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const queue = new PairQueue();
    const offer = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const id = this.pairId(token[left], token[right]);
      if (id < 0 || !(this.scores[id] > MIN_MERGE_SCORE)) return;
      queue.push(this.scores[id], left, right, id, version[left], version[right]);
    };
    for (let i = 0; i + 1 < n; i++) offer(i, i + 1);
    while (queue.size > 0) {
      queue.pop();
      const { left, right } = queue;
      if (version[left] !== queue.leftVersion || version[right] !== queue.rightVersion || next[left] !== right) continue;
      token[left] = queue.merged;
      version[left]++;
      version[right]++;
      const after = next[right];
      next[left] = after;
      if (after >= 0) prev[after] = left;
      offer(prev[left], left);
      offer(left, after);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(token[i]);
    return out;
  }

  /** Text of the ids, skipping BOS, EOS and control tokens (the same as streaming them and flushing). */
  decode(ids: readonly number[]): string {
    const d = this.createStreamDecoder();
    let text = "";
    for (const id of ids) text += d.push(id);
    return text + d.flush();
  }

  /**
   * A decoder for tokens as they are generated. Byte tokens are gathered until they form UTF-8
   * characters; like run.c, the first piece after BOS loses its leading (dummy-prefix) space.
   */
  createStreamDecoder(): StreamDecoder {
    // ignoreBOM keeps a U+FEFF in the text instead of swallowing it at the start of the stream
    const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    let prevId = -1;
    let bytesPending = false;
    return {
      push: (id: number): string => {
        if (!(Number.isInteger(id) && id >= 0 && id < this.pieces.length)) throw new RangeError(`token id ${id} is outside the vocabulary of ${this.pieces.length}`);
        const afterBos = prevId === this.bosId;
        prevId = id;
        if (this.silentIds.has(id)) return "";
        const byte = this.byteOfPiece[id];
        if (byte >= 0) {
          bytesPending = true;
          return decoder.decode(Uint8Array.of(byte), { stream: true });
        }
        let piece = this.pieces[id];
        if (afterBos && piece.startsWith(" ")) piece = piece.slice(1);
        if (!bytesPending) return piece;
        // A piece after unfinished bytes ends them (as U+FFFD) in the decoder's own order.
        bytesPending = false;
        return decoder.decode(utf8Encoder.encode(piece), { stream: true });
      },
      flush: (): string => {
        bytesPending = false;
        return decoder.decode();
      },
    };
  }
}

/** Queue order: higher score first, then the leftmost pair (run.c's strict `>` keeps the first). */
function before(scoreA: number, leftA: number, scoreB: number, leftB: number): boolean {
  return scoreA > scoreB || (scoreA === scoreB && leftA < leftB);
}

/**
 * A binary max-heap of merge candidates ordered by (score desc, left position asc), stored as
 * parallel typed arrays: long texts queue millions of pairs. pop() leaves the popped entry's fields
 * in left/right/merged/leftVersion/rightVersion.
 */
class PairQueue {
  private score = new Float64Array(64);
  private leftPos = new Int32Array(64);
  private rightPos = new Int32Array(64);
  private mergedId = new Int32Array(64);
  private leftVer = new Int32Array(64);
  private rightVer = new Int32Array(64);
  size = 0;
  left = -1;
  right = -1;
  merged = -1;
  leftVersion = -1;
  rightVersion = -1;

  push(score: number, left: number, right: number, merged: number, leftVersion: number, rightVersion: number): void {
    if (this.size === this.score.length) this.grow();
    let i = this.size++;
    // sift up
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(score, left, this.score[parent], this.leftPos[parent])) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, score, left, right, merged, leftVersion, rightVersion);
  }

  pop(): void {
    this.left = this.leftPos[0];
    this.right = this.rightPos[0];
    this.merged = this.mergedId[0];
    this.leftVersion = this.leftVer[0];
    this.rightVersion = this.rightVer[0];
    const last = --this.size;
    if (last === 0) return;
    const s = this.score[last], l = this.leftPos[last], r = this.rightPos[last];
    const m = this.mergedId[last], lv = this.leftVer[last], rv = this.rightVer[last];
    // sift the last entry down from the root
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && before(this.score[child + 1], this.leftPos[child + 1], this.score[child], this.leftPos[child])) child++;
      if (!before(this.score[child], this.leftPos[child], s, l)) break;
      this.move(child, i);
      i = child;
    }
    this.set(i, s, l, r, m, lv, rv);
  }

  private move(from: number, to: number): void {
    this.set(to, this.score[from], this.leftPos[from], this.rightPos[from], this.mergedId[from], this.leftVer[from], this.rightVer[from]);
  }

  private set(i: number, score: number, left: number, right: number, merged: number, lv: number, rv: number): void {
    this.score[i] = score;
    this.leftPos[i] = left;
    this.rightPos[i] = right;
    this.mergedId[i] = merged;
    this.leftVer[i] = lv;
    this.rightVer[i] = rv;
  }

  private grow(): void {
    const cap = this.score.length * 2;
    const grown = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.score = grown(this.score, (n) => new Float64Array(n));
    this.leftPos = grown(this.leftPos, (n) => new Int32Array(n));
    this.rightPos = grown(this.rightPos, (n) => new Int32Array(n));
    this.mergedId = grown(this.mergedId, (n) => new Int32Array(n));
    this.leftVer = grown(this.leftVer, (n) => new Int32Array(n));
    this.rightVer = grown(this.rightVer, (n) => new Int32Array(n));
  }
}
