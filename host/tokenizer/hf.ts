// Hugging Face tokenizer.json (byte-level BPE, SentencePiece-style BPE with byte fallback, ...)
// through @huggingface/tokenizers, behind the same Tokenizer interface as the SentencePiece one.
//
// BOS is whatever the tokenizer's post-processor adds (as transformers' `tokenizer(text)` does);
// EOS comes from tokenizer_config.json, else generation_config.json / config.json beside it.
import { Tokenizer as HfTokenizerImpl } from "@huggingface/tokenizers";
import { ModelFormatError, quote, type HfTokenizerFiles } from "../model.js";
import type { EncodeOptions, StreamDecoder, Tokenizer } from "./types.js";

type Json = Record<string, unknown>;

export interface HfTokenizerOptions {
  /** tokenizer_config.json, when there is one (added-token and clean-up settings) */
  tokenizerConfig?: Json;
  /** end-of-sequence id when tokenizer_config.json does not name one (config.json's eos_token_id) */
  eosId?: number;
  /** more ids that end generation (generation_config.json may list several eos_token_id) */
  stopIds?: number[];
}

/** A Hugging Face tokenizer.json (byte-level or SentencePiece-style BPE), through @huggingface/tokenizers; ids as transformers' `tokenizer(text)`. */
export class HfTokenizer implements Tokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly stopIds: readonly number[];
  readonly vocabSize: number;
  private readonly tok: HfTokenizerImpl;

  constructor(tokenizerJson: Json, opts: HfTokenizerOptions = {}, readonly file = "tokenizer.json") {
    let vocab: Map<string, number>;
    let withSpecial: number[];
    let without: number[];
    // the library trusts its JSON: a malformed one fails inside it, on construction or first use,
    // and an added token's id is used as given
    const added = tokenizerJson.added_tokens;
    for (const t of Array.isArray(added) ? added : []) {
      const id = (t as { id?: unknown } | null)?.id;
      if (!Number.isSafeInteger(id) || (id as number) < 0) throw new ModelFormatError(file, `added_tokens entry ${quote(t)} has id ${quote(id)}, expected a non-negative integer`);
    }
    try {
      this.tok = new HfTokenizerImpl(tokenizerJson, opts.tokenizerConfig ?? {});
      vocab = this.tok.get_vocab(true);
      // BOS: the token the post-processor puts before the text, if any
      withSpecial = this.tok.encode("a", { add_special_tokens: true }).ids;
      without = this.tok.encode("a", { add_special_tokens: false }).ids;
      this.decodeSkippingSpecial(without); // the decoder chain, too
    } catch (e) {
      throw new ModelFormatError(file, `cannot build a tokenizer from it: ${(e as Error).message}`);
    }
    let maxId = -1;
    for (const [token, id] of vocab) {
      if (!Number.isSafeInteger(id) || id < 0) throw new ModelFormatError(file, `token ${quote(token)} has id ${quote(id)}, expected a non-negative integer`);
      maxId = Math.max(maxId, id);
    }
    this.vocabSize = maxId + 1;
    this.bosId = withSpecial.length > without.length && withSpecial[0] !== without[0] ? withSpecial[0] : -1;
    const eosName = tokenName(opts.tokenizerConfig?.eos_token);
    const eosFromConfig = eosName !== undefined ? this.tok.token_to_id(eosName) : undefined;
    this.eosId = eosFromConfig ?? opts.eosId ?? -1;
    if (this.eosId >= this.vocabSize) throw new ModelFormatError(file, `end-of-sequence id ${this.eosId} is outside the vocabulary of ${this.vocabSize}`);
    const stops = new Set([this.eosId, ...(opts.stopIds ?? [])].filter((id) => id >= 0));
    for (const id of stops) if (id >= this.vocabSize) throw new ModelFormatError(file, `end-of-generation id ${id} is outside the vocabulary of ${this.vocabSize}`);
    this.stopIds = [...stops];
  }

  /**
   * A tokenizer from the parsed JSON files of a Hugging Face model: tokenizer.json, and when there
   * are any, tokenizer_config.json and the eos_token_id of generation_config.json or config.json.
   */
  static fromFiles(files: HfTokenizerFiles, name = "tokenizer.json"): HfTokenizer {
    const json = files.tokenizer;
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ModelFormatError(name, "expected a JSON object");
    const tokenizerConfig = isJson(files.tokenizerConfig) ? files.tokenizerConfig : undefined;
    let eosId: number | undefined;
    let stopIds: number[] = [];
    for (const c of [files.generationConfig, files.config]) {
      const v = isJson(c) ? c.eos_token_id : undefined;
      // a list (Llama 3 stops on several): the first is EOS, every one ends generation
      const ids = (Array.isArray(v) ? v : [v]).filter((id): id is number => Number.isSafeInteger(id) && (id as number) >= 0);
      if (ids.length > 0) {
        eosId = ids[0];
        stopIds = ids;
        break;
      }
    }
    return new HfTokenizer(json as Json, { ...(tokenizerConfig ? { tokenizerConfig } : {}), ...(eosId !== undefined ? { eosId, stopIds } : {}) }, name);
  }

  /** `special` is moot here: the library always splits out added tokens, as transformers does. */
  encode(text: string, { bos = true }: EncodeOptions = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: bos }).ids;
  }

  tokenText(id: number): string {
    return this.tok.id_to_token(id) ?? "";
  }

  decode(ids: readonly number[]): string {
    for (const id of ids) this.check(id);
    return this.decodeSkippingSpecial(ids);
  }

  /** The library refuses an empty list; its text is "". */
  private decodeSkippingSpecial(ids: readonly number[]): string {
    return ids.length === 0 ? "" : this.tok.decode([...ids], { skip_special_tokens: true });
  }

  private check(id: number): void {
    if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) throw new RangeError(`token id ${id} is outside the vocabulary of ${this.vocabSize}`);
  }

  /**
   * Decoders work on whole sequences (byte fallback, byte-level BPE, a stripped leading space), so
   * each push decodes a short window of ids twice: up to the last emitted token and up to the new
   * one, and emits the difference. A trailing U+FFFD means a character is still incomplete: wait.
   * The window restarts after every emission, so the cost per token stays small.
   */
  createStreamDecoder(): StreamDecoder {
    const ids: number[] = [];
    let prefix = 0; // the window starts here
    let read = 0; // text of ids[prefix..read) has been emitted
    const pending = (final: boolean): string => {
      const before = this.decodeSkippingSpecial(ids.slice(prefix, read));
      const after = this.decodeSkippingSpecial(ids.slice(prefix));
      if (after.length <= before.length || (!final && after.endsWith("\ufffd"))) return "";
      prefix = read;
      read = ids.length;
      return after.slice(before.length);
    };
    return {
      push: (id: number): string => {
        this.check(id);
        ids.push(id);
        return pending(false);
      },
      flush: (): string => {
        const text = pending(true);
        ids.length = 0;
        prefix = read = 0;
        return text;
      },
    };
  }
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "object" && v !== null && typeof (v as Json).content === "string") return (v as Json).content as string;
  return undefined;
}

function isJson(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
