// Chat: a model's chat template (Jinja, rendered by @huggingface/jinja as transformers.js does)
// turns messages into the prompt text, and a ChatSession runs a multi-turn conversation on one
// engine, keeping the KV cache across turns: each turn feeds only the text the template added
// since what the engine has already seen.
import { Template } from "@huggingface/jinja";
import type { Engine } from "./engine.js";
import type { Tokenizer } from "./tokenizer/types.js";

export interface ChatMessage {
  role: string;
  content: string;
}

/** A chat template that cannot be parsed or rendered; the message is one line. */
export class ChatTemplateError extends Error {
  override name = "ChatTemplateError";
}

/** The parsed template plus the special tokens' text it may refer to (bos_token, eos_token). */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    source: string,
    private readonly tokens: { bos_token: string; eos_token: string },
    /** where the template came from, for messages (e.g. "model.gguf: tokenizer.chat_template") */
    private readonly origin = "chat template",
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ChatTemplateError(oneLine(`${origin} cannot be parsed: ${(e as Error).message}`));
    }
  }

  /** The template of a tokenizer's model, with its BOS/EOS text. */
  static forTokenizer(source: string, tokenizer: Tokenizer, origin?: string): ChatTemplate {
    const text = (id: number) => (id >= 0 ? tokenizer.tokenText(id) : "");
    return new ChatTemplate(source, { bos_token: text(tokenizer.bosId), eos_token: text(tokenizer.eosId) }, origin);
  }

  /** The prompt text of `messages`; with addGenerationPrompt, ending where the assistant's reply starts. */
  render(messages: readonly ChatMessage[], addGenerationPrompt = true): string {
    try {
      return this.template.render({ messages, add_generation_prompt: addGenerationPrompt, ...this.tokens });
    } catch (e) {
      throw new ChatTemplateError(oneLine(`${this.origin} fails to render: ${(e as Error).message}`));
    }
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").slice(0, 600);
}

/** Messages as JSON ([{role, content}, ...]), checked field by field. */
export function parseMessages(json: string, what = "--messages"): ChatMessage[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new ChatTemplateError(`${what}: not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(v) || v.length === 0) throw new ChatTemplateError(`${what}: expected a non-empty JSON array of {"role": ..., "content": ...}`);
  return v.map((m, i) => {
    const o = m as Record<string, unknown> | null;
    if (typeof o !== "object" || o === null || typeof o.role !== "string" || typeof o.content !== "string") {
      throw new ChatTemplateError(`${what}[${i}]: expected {"role": string, "content": string}, got ${JSON.stringify(m)?.slice(0, 80)}`);
    }
    return { role: o.role, content: o.content };
  });
}

/**
 * Token ids of rendered chat text: control tokens' text becomes the tokens, and BOS is added as
 * the tokenizer adds it unless the template already wrote it (as Llama 3's does).
 */
export function encodeChatText(tokenizer: Tokenizer, text: string, bos: boolean): number[] {
  const ids = tokenizer.encode(text, { bos, special: true });
  if (bos && ids.length >= 2 && ids[0] === tokenizer.bosId && ids[1] === tokenizer.bosId) ids.shift();
  return ids;
}

export interface ChatOptions {
  temperature?: number;
  topP?: number;
  seed?: number;
  /** most tokens per reply (default: until an end-of-turn token or the context is full) */
  maxReplyTokens?: number;
}

export interface ChatReply {
  text: string;
  tokens: number[];
  /** "end": an end-of-turn token; "length": maxReplyTokens; "context": the context is full */
  stop: "end" | "length" | "context";
  /** tokens fed for this turn's prompt (only what the template added since the last turn) */
  promptTokens: number;
  /** whether the KV cache from earlier turns was kept (false when the template rewrote earlier text) */
  cacheKept: boolean;
  /**
   * MLP bytes read per reply step over the dense model's: the sparsity the method gave the reply
   * (the turn's prompt runs dense, so it is left out); NaN when no reply token was fed
   */
  mlpDensity: number;
}

/** A conversation on one engine; the engine's sequence belongs to it until it is dropped. */
export class ChatSession {
  readonly messages: ChatMessage[] = [];
  /** the text whose tokens the engine has seen, in order (rendered prompts and replies) */
  private fedText = "";

  constructor(
    private readonly engine: Engine,
    private readonly tokenizer: Tokenizer,
    private readonly template: ChatTemplate,
    private readonly opts: ChatOptions = {},
    system?: string,
  ) {
    if (system !== undefined) this.messages.push({ role: "system", content: system });
    engine.seed(opts.seed ?? 42);
    engine.reset();
  }

  /** Tokens left in the context. */
  get contextLeft(): number {
    return this.engine.config.seqLen - this.engine.pos;
  }

  /**
   * Adds the user's message and generates the assistant's reply, streaming its text. When the
   * turn's prompt does not fit in the context left, nothing is fed and the message is not kept:
   * the reply is empty with stop "context". `turn` overrides the session's options for this turn
   * (the seed applies at the session's start only).
   */
  reply(userText: string, onText?: (text: string) => void, turn: ChatOptions = {}): ChatReply {
    const engine = this.engine;
    const opts = { ...this.opts, ...turn };
    const messages = [...this.messages, { role: "user", content: userText }];
    const rendered = this.template.render(messages, true);
    // Feed only what the template added after the text already in the cache; if it rewrote
    // earlier text, start the sequence over with the whole rendering.
    const cacheKept = engine.pos > 0 && rendered.startsWith(this.fedText);
    const prompt = cacheKept ? encodeChatText(this.tokenizer, rendered.slice(this.fedText.length), false) : encodeChatText(this.tokenizer, rendered, true);
    if ((cacheKept ? engine.pos : 0) + prompt.length >= engine.config.seqLen) {
      return { text: "", tokens: [], stop: "context", promptTokens: prompt.length, cacheKept, mlpDensity: NaN };
    }
    if (!cacheKept) engine.reset();
    // the turn's prompt runs dense in blocks (Engine.prefill), as generate's; the method applies to the reply
    if (prompt.length > 0) engine.prefill(prompt);
    this.messages.push(messages[messages.length - 1]);

    const temperature = opts.temperature ?? 0.7;
    const topP = opts.topP ?? 0.9;
    const limit = opts.maxReplyTokens ?? Infinity;
    const decoder = this.tokenizer.createStreamDecoder();
    const tokens: number[] = [];
    let text = "";
    const emit = (piece: string) => {
      if (!piece) return;
      text += piece;
      onText?.(piece);
    };
    let stop: ChatReply["stop"] = "length";
    const mlpBytesBefore = engine.bytesRead().mlp;
    let steps = 0;
    while (tokens.length < limit) {
      const next = engine.sample(temperature, topP);
      if (this.tokenizer.stopIds.includes(next)) {
        stop = "end";
        break;
      }
      tokens.push(next);
      emit(decoder.push(next));
      // every kept token is in the cache, so the next turn continues right after it
      if (engine.pos >= engine.config.seqLen) {
        stop = "context";
        break;
      }
      engine.step(next);
      steps++;
    }
    const mlpDensity = (engine.bytesRead().mlp - mlpBytesBefore) / steps / engine.denseBytesPerToken().mlp;
    emit(decoder.flush());
    // (after a full context the last token is not in the cache, but no later turn fits anyway)
    this.fedText = rendered + text;
    this.messages.push({ role: "assistant", content: text });
    return { text, tokens, stop, promptTokens: prompt.length, cacheKept, mlpDensity };
  }
}
