// Text generation: feed the prompt, then sample one token at a time until `steps` positions are
// filled, BOS/EOS comes up, or the context is full.

import type { Engine, TokenMasks } from "./engine.js";
import type { WeightBytes } from "./engine-bytes.js";
import type { Tokenizer } from "./tokenizer/types.js";

export interface GenerateOptions {
  prompt?: string;
  /** the prompt as token ids, instead of `prompt` (e.g. a rendered chat template, host/chat.ts) */
  promptTokens?: number[];
  /** forward passes to run (prompt included), like llama2.c's -n: BOS + `steps` tokens at most */
  steps?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** called with each piece of text as soon as it is complete */
  onText?: (text: string) => void;
  /** called after every engine step (masks of that step) */
  onStep?: (info: { position: number; masks: () => TokenMasks }) => void;
  /** stops the generation after the current step once aborted (checked between steps) */
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** every token: BOS, the prompt, then the generated ones */
  tokens: number[];
  prompt_tokens: number;
  generated_tokens: number;
  /** decoded text of prompt and continuation */
  text: string;
  /** generated tokens per second (decode steps only) */
  tok_s: number;
  /** prompt tokens per second (Engine.prefill: dense, in blocks) */
  prompt_tok_s: number;
  /** weight bytes the prompt read (the engine's counters, which keep counting through the whole run; each weight once per block) */
  prompt_bytes: WeightBytes;
  /** forward steps after the prompt */
  decode_steps: number;
  seconds: number;
  /** true when `signal` stopped the generation before its end */
  aborted?: boolean;
}

/** Checks the options and feeds the prompt's setup (seed, reset); shared by generate and generateAsync. */
function startGeneration(engine: Engine, tokenizer: Tokenizer, opts: GenerateOptions) {
  const steps = opts.steps ?? 256;
  const temperature = opts.temperature ?? 1.0;
  const topP = opts.topP ?? 0.9;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`--steps must be a positive integer, got ${opts.steps}`);
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new RangeError(`--temperature must be >= 0, got ${opts.temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`--top-p must be in (0, 1], got ${opts.topP}`);
  const promptTokens = opts.promptTokens ?? tokenizer.encode(opts.prompt ?? "", { bos: true });
  if (promptTokens.length === 0) throw new RangeError("the prompt is empty and the tokenizer adds no BOS token: give a prompt to start from");
  if (promptTokens.length > engine.config.seqLen) {
    throw new RangeError(`the prompt is ${promptTokens.length} tokens, longer than the model's context of ${engine.config.seqLen}`);
  }
  engine.seed(opts.seed ?? 42);
  engine.reset();
  return { limit: Math.min(steps, engine.config.seqLen), temperature, topP, promptTokens };
}

/**
 * The generation loop: the prompt in one prefill, then one engine step per iteration (llama2.c's:
 * one forward per new token). A generator, so the synchronous generate()
 * and the interruptible generateAsync() run the very same loop.
 */
function* generationSteps(engine: Engine, tokenizer: Tokenizer, opts: GenerateOptions): Generator<void, GenerateResult, void> {
  const { limit, temperature, topP, promptTokens } = startGeneration(engine, tokenizer, opts);
  const decoder = tokenizer.createStreamDecoder();
  const tokens = [...promptTokens];
  let text = "";
  const emit = (id: number) => {
    const piece = decoder.push(id);
    if (piece) {
      text += piece;
      opts.onText?.(piece);
    }
  };
  promptTokens.forEach(emit);

  const t0 = performance.now();
  // the prompt in one call: dense, in blocks that read each weight once per block (Engine.prefill);
  // onStep still comes once per prompt position, with the masks that position used (dense)
  const bytesBefore = engine.bytesRead();
  engine.prefill(promptTokens);
  for (let pos = 0; pos < promptTokens.length; pos++) opts.onStep?.({ position: pos, masks: () => engine.lastMasks() });
  const tPromptDone = performance.now();
  const bytesAfter = engine.bytesRead();
  const promptBytes = { embedding: bytesAfter.embedding - bytesBefore.embedding, attention: bytesAfter.attention - bytesBefore.attention, mlp: bytesAfter.mlp - bytesBefore.mlp, lm_head: bytesAfter.lm_head - bytesBefore.lm_head };
  let decodeSteps = 0;
  let stopped = false;
  yield;
  // llama2.c's loop from the prompt's last position on: sample, then one forward per new token
  for (let pos = promptTokens.length - 1; !(stopped = opts.signal?.aborted ?? false); ) {
    const next = engine.sample(temperature, topP);
    if (next === tokenizer.bosId || tokenizer.stopIds.includes(next)) break; // end of the story (or of the turn)
    tokens.push(next);
    emit(next);
    if (++pos >= limit) break;
    engine.step(next);
    decodeSteps++;
    opts.onStep?.({ position: pos, masks: () => engine.lastMasks() });
    yield;
  }
  const tEnd = performance.now();
  const tail = decoder.flush();
  if (tail) {
    text += tail;
    opts.onText?.(tail);
  }
  const generated = tokens.length - promptTokens.length;
  const decodeSeconds = (tEnd - tPromptDone) / 1000;
  return {
    tokens,
    prompt_tokens: promptTokens.length,
    generated_tokens: generated,
    text,
    tok_s: generated > 0 && decodeSeconds > 0 ? generated / decodeSeconds : 0,
    prompt_tok_s: (promptTokens.length / Math.max(1e-9, tPromptDone - t0)) * 1000,
    prompt_bytes: promptBytes,
    decode_steps: decodeSteps,
    seconds: (tEnd - t0) / 1000,
    ...(stopped ? { aborted: true } : {}),
  };
}

/**
 * Generates text from a prompt, synchronously (the CLI, tests, a worker that needs no
 * cancellation; generateAsync can be stopped): feeds BOS and the prompt, then samples until
 * `steps` positions, BOS/EOS, or the end of the context.
 * @example
 * const out = generate(engine, tokenizerOf(model), { prompt: "Once upon a time", steps: 64, temperature: 0, onText: (t) => process.stdout.write(t) });
 */
export function generate(engine: Engine, tokenizer: Tokenizer, opts: GenerateOptions = {}): GenerateResult {
  const steps = generationSteps(engine, tokenizer, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Hands the thread back to the event loop (a macrotask), so messages such as an abort arrive. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * generate() that gives the event loop a turn every `yieldEveryMs` (default 16) of work, so the
 * thread it runs on still receives messages, and stops after the current step once `opts.signal`
 * is aborted (the result then has `aborted: true` and the text so far). For workers and pages.
 */
export async function generateAsync(engine: Engine, tokenizer: Tokenizer, opts: GenerateOptions & { yieldEveryMs?: number } = {}): Promise<GenerateResult> {
  const steps = generationSteps(engine, tokenizer, opts);
  const every = opts.yieldEveryMs ?? 16;
  let lastYield = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - lastYield >= every) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }
}
