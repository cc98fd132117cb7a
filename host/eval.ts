// Perplexity evaluation, following ../shared/fixtures/stories260K/perplexity.json:
//   stories = text split on <|endoftext|>, stripped, empty dropped (leading BOM removed);
//   stream = concatenation of encode(story) each with BOS;
//   windows of `window` tokens starting at 0, window, 2*window, ...; each window starts a fresh
//   KV cache; x = stream[s:s+window], targets y = stream[s+1:s+window+1];
//   ppl = exp(mean NLL over all targets).

import type { Engine, TokenMasks } from "./engine.js";
import type { Tokenizer } from "./tokenizer/types.js";

export function splitStories(text: string): string[] {
  return text
    .replace(/^\uFEFF/, "")
    .split("<|endoftext|>")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export type Encoder = Pick<Tokenizer, "encode">;

export function tokenStream(tokenizer: Encoder, stories: string[]): number[] {
  const out: number[] = [];
  for (const s of stories) for (const id of tokenizer.encode(s, { bos: true })) out.push(id);
  return out;
}

export interface EvalResult {
  ppl: number;
  mean_nll: number;
  /** number of predicted targets */
  tokens: number;
  /** fraction of MLP weights read, from the engine's byte counter */
  mlp_density: number;
  /** all weight bytes read per token (embedding row, attention, MLP, LM head) */
  weight_bytes_per_token: number;
  dense_weight_bytes_per_token: number;
}

export interface EvalOptions {
  window?: number;
  /** called after every step with the window index, position and the token's masks getter */
  onStep?: (info: { sequence: number; position: number; masks: () => TokenMasks }) => void;
  /** called with (targets done, total) now and then */
  onProgress?: (done: number, total: number) => void;
}

/** Runs the engine's current sparsity over the stream; the byte counter is reset first. */
export function perplexity(engine: Engine, stream: number[], opts: EvalOptions = {}): EvalResult {
  const window = opts.window ?? engine.config.seqLen;
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`--window must be a positive integer, got ${window}`);
  if (window > engine.config.seqLen) {
    throw new RangeError(`--window ${window} is longer than the model's context of ${engine.config.seqLen} tokens`);
  }
  const total = Math.max(0, stream.length - 1);
  engine.resetBytes();
  let nllSum = 0;
  let n = 0;
  for (let s = 0, seq = 0; s < stream.length - 1; s += window, seq++) {
    engine.reset();
    const end = Math.min(s + window, stream.length - 1); // last input position with a target
    for (let i = s; i < end; i++) {
      engine.step(stream[i]);
      nllSum += engine.nll(stream[i + 1]);
      n++;
      opts.onStep?.({ sequence: seq, position: i - s, masks: () => engine.lastMasks() });
    }
    opts.onProgress?.(n, total);
  }
  const bytes = engine.bytesRead();
  const dense = engine.denseBytesPerToken();
  const denseMlpPerToken = dense.mlp;
  const densePerToken = dense.embedding + dense.attention + dense.mlp + dense.lm_head;
  const readPerToken = (bytes.embedding + bytes.attention + bytes.mlp + bytes.lm_head) / Math.max(1, n);
  return {
    ppl: Math.exp(nllSum / Math.max(1, n)),
    mean_nll: nllSum / Math.max(1, n),
    tokens: n,
    mlp_density: bytes.mlp / Math.max(1, n) / denseMlpPerToken,
    weight_bytes_per_token: readPerToken,
    dense_weight_bytes_per_token: densePerToken,
  };
}
