// What the engine's callers need from a tokenizer, whatever its kind: SentencePiece-style pieces
// with scores (GGUF, llama2.c) or a Hugging Face tokenizer.json.

export interface StreamDecoder {
  /** the text this token completes (may be "" while a multi-byte character is incomplete) */
  push(id: number): string;
  /** whatever is pending at the end (an incomplete UTF-8 sequence becomes U+FFFD) */
  flush(): string;
}

export interface EncodeOptions {
  /** add the special tokens the model expects around a text (BOS, as the vocabulary says; default true) */
  bos?: boolean;
  /**
   * the text of a control token (e.g. "<|im_start|>" in a rendered chat template) becomes that
   * token rather than its characters (default false: text is plain). Hugging Face tokenizers
   * always split out their added tokens, as transformers does.
   */
  special?: boolean;
}

export interface Tokenizer {
  /** ids for `text` */
  encode(text: string, opts?: EncodeOptions): number[];
  /** text of the ids, special tokens (BOS, EOS, ...) skipped */
  decode(ids: readonly number[]): string;
  createStreamDecoder(): StreamDecoder;
  /** the text of one token as the vocabulary stores it (special tokens included), e.g. "<|im_end|>" */
  tokenText(id: number): string;
  /** beginning-of-sequence id, or -1 when the tokenizer adds none */
  bosId: number;
  /** end-of-sequence id, or -1 when none is known */
  eosId: number;
  /** every id that ends generation: EOS and end-of-turn tokens (<|im_end|>, <|eot_id|>, ...) */
  stopIds: readonly number[];
  vocabSize: number;
}
