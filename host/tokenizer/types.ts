// What the engine's callers need from a tokenizer, whatever its kind: SentencePiece-style pieces
// with scores (GGUF, llama2.c) or a Hugging Face tokenizer.json.

export interface StreamDecoder {
  /** the text this token completes (may be "" while a multi-byte character is incomplete) */
  push(id: number): string;
  /** whatever is pending at the end (an incomplete UTF-8 sequence becomes U+FFFD) */
  flush(): string;
}

export interface Tokenizer {
  /** ids for `text`; `bos` (default true) adds the beginning-of-sequence token the model expects */
  encode(text: string, opts?: { bos?: boolean }): number[];
  /** text of the ids, special tokens (BOS, EOS, ...) skipped */
  decode(ids: readonly number[]): string;
  createStreamDecoder(): StreamDecoder;
  /** beginning-of-sequence id, or -1 when the tokenizer adds none */
  bosId: number;
  /** end-of-sequence id (generation stops there), or -1 when none is known */
  eosId: number;
  vocabSize: number;
}
