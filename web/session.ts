// One demo run, runtime-neutral: the worker runs it in the browser, and the end-to-end tests run the
// same code in Node to check the page's text and numbers. Generation feeds each step's masks to a
// live Flash -> DRAM simulator on the engine's wasm instance (DIP-CA reads its cache state); a
// streamed run (a .dipstream) uses the engine's real column caches instead and reports measured
// numbers beside the simulator's (host/stream/report.ts).
import { generate, MaskRecorder, modelDims, footprintFromConfig, resolveDevice, Engine, resetStreamCounters, streamHitRates, streamReport } from "../host/web/index.js";
import { ChatSession, ChatTemplate } from "../host/web/index.js";
import { streamRowBytes } from "../host/web/index.js";
import type { GenerateResult, Tokenizer, SparsitySpec, SimResult, SimSettings, StreamPolicy, WeightStream, OpenStream, ModelConfig, StreamReport, ChatReply, StreamHeader } from "../host/web/index.js";
import type { ChatTurnInfo, RunSettings, SimSnapshot, StreamSnapshot } from "./protocol.js";

export function sparsityOf(s: RunSettings): SparsitySpec {
  if (s.method === "dense") return { method: "dense" };
  if (s.method === "dip-ca") return { method: "dip-ca", keep: s.keep, gamma: s.gamma };
  return { method: s.method, keep: s.keep };
}

export function snapshot(r: SimResult, tokens: number): SimSnapshot {
  return {
    tokens,
    hitRate: r.hit_rate.overall,
    perLayer: r.hit_rate.per_layer,
    flashBytesPerToken: r.flash_bytes_per_token,
    dramBytesPerToken: r.dram_bytes_per_token,
    mlpDensity: r.mlp_density,
    tokS: r.tok_s,
    denseFlashTokS: r.dense_flash_tok_s,
    memoryBytes: r.memory_bytes,
    dramBudgetBytes: r.dram_budget_bytes,
    denseFootprintBytes: r.dense_footprint_bytes,
  };
}

export interface SessionCallbacks {
  onText?: (text: string) => void;
  onStep?: (position: number, sim: SimSnapshot) => void;
}

// generate() runs `steps` positions and samples after each from the prompt's last on: N new tokens need prompt + N - 1
function stepsFor(engine: Engine, tokenizer: Tokenizer, s: RunSettings): number {
  return Math.min(engine.config.seqLen, tokenizer.encode(s.prompt, { bos: true }).length + s.tokens - 1);
}

/** Generates `s.tokens` new tokens after the prompt with the live simulator attached. */
export function runSession(engine: Engine, tokenizer: Tokenizer, s: RunSettings, cb: SessionCallbacks = {}): { result: GenerateResult; sim: SimSnapshot | null } {
  engine.setSparsity(sparsityOf(s));
  const steps = stepsFor(engine, tokenizer, s);
  // the DRAM budget is a share of the dense footprint with the KV cache at this run's length
  const dense = footprintFromConfig(engine.exports, modelDims(engine), {}, steps).total;
  const dramBytes = Math.round(Math.min(1, Math.max(0, s.dramFraction)) * dense);
  const settings: SimSettings = { policy: s.policy, device: resolveDevice("mobile", { dramBytes }), kvSeqLen: steps };
  const recorder = new MaskRecorder(engine, { settings, live: true });
  const sim = recorder.simulator!;
  recorder.beginSequence(0);
  let last: SimSnapshot | null = null;
  try {
    const result = generate(engine, tokenizer, {
      prompt: s.prompt,
      steps,
      temperature: s.temperature,
      seed: s.seed,
      onText: cb.onText,
      onStep: ({ position }) => {
        recorder.afterStep();
        last = snapshot(sim.result(), position + 1);
        cb.onStep?.(position, last);
      },
    });
    return { result, sim: last };
  } finally {
    recorder.detach();
  }
}

// ---- chat mode (a model with a chat template): one conversation, its KV cache kept across turns ----

/** A conversation on `engine` with the model's chat template (host/chat.ts); it owns the engine's sequence. */
export function startChat(engine: Engine, tokenizer: Tokenizer, chatTemplate: string, name: string, seed: number): ChatSession {
  return new ChatSession(engine, tokenizer, ChatTemplate.forTokenizer(chatTemplate, tokenizer, `${name}: tokenizer.chat_template`), { seed });
}

/** One turn: the user's message in s.prompt, at most s.tokens reply tokens, with the page's sparsity settings. */
export function runChatTurn(chat: ChatSession, engine: Engine, s: RunSettings, onText?: (text: string) => void): { reply: ChatReply; info: ChatTurnInfo; tokS: number } {
  engine.setSparsity(sparsityOf(s));
  engine.resetBytes();
  const t0 = performance.now();
  const reply = chat.reply(s.prompt, onText, { temperature: s.temperature, maxReplyTokens: s.tokens });
  const seconds = (performance.now() - t0) / 1000;
  const info: ChatTurnInfo = { stop: reply.stop, contextLeft: chat.contextLeft, mlpDensity: reply.mlpDensity };
  return { reply, info, tokS: seconds > 0 ? reply.tokens.length / seconds : 0 };
}

// ---- streamed runs (a .dipstream read on demand: host/stream/weights.ts) ----
// The engines and the report's simulator instantiate the default engine wasm: register it first
// (the worker fetches build/engine.wasm; Node reads it).
export { setDefaultEngineWasm } from "../host/web/index.js";

/** The smallest DRAM budget the stream runs in (attention weights, KV cache, tables, staging), measured on a probe instance. */
export async function streamMinimumBytes(o: OpenStream): Promise<number> {
  const probe = await Engine.create(o.model, { stream: { source: o.stream, dramBytes: Number.MAX_SAFE_INTEGER, policy: "none" } });
  probe.close();
  return probe.streamSetup!.minimumBytes;
}

/** DRAM the embedding and the LM head take on top of the minimum (one matrix when tied, in the file's dtype, plus alignment):
 *  with less, their rows that do not fit are read every token and no column cache is left. */
export function streamTableBytes(h: StreamHeader): number {
  const c = h.config;
  return (c.tiedEmbeddings ? 1 : 2) * c.vocabSize * streamRowBytes(c, h.dtype) + 128;
}

/** An engine on the stream with a DRAM budget and cache policy (throws StreamBudgetError below the minimum). */
export function streamEngine(o: OpenStream, dramBytes: number, policy: StreamPolicy): Promise<Engine> {
  return Engine.create(o.model, { stream: { source: o.stream, dramBytes, policy } });
}

export interface StreamCallbacks {
  onText?: (text: string) => void;
  onStep?: (position: number, snap: StreamSnapshot) => void;
}

/**
 * Generates `s.tokens` new tokens on a streamed engine (its real column caches; no separate live
 * simulator) and reports what `dip generate --stream --json` reports: measured tok/s, bytes read
 * per token and hit rate beside the simulator's prediction for the recorded masks.
 * `flashGBps` paces the reads (undefined: the storage's own speed).
 */
export async function runStreamSession(engine: Engine, stream: WeightStream, tokenizer: Tokenizer, s: RunSettings, flashGBps: number | undefined, cb: StreamCallbacks = {}): Promise<{ result: GenerateResult; report: StreamReport }> {
  engine.setSparsity(sparsityOf(s));
  stream.flashGBps = flashGBps;
  const recorder = new MaskRecorder(engine);
  recorder.beginSequence(0);
  const dramGBpsBefore = resetStreamCounters(engine, stream);
  let lastBytes = 0;
  const result = generate(engine, tokenizer, {
    prompt: s.prompt,
    steps: stepsFor(engine, tokenizer, s),
    temperature: s.temperature,
    seed: s.seed,
    onText: cb.onText,
    onStep: ({ position }) => {
      recorder.afterStep();
      if (!cb.onStep) return;
      const c = stream.counters;
      const hits = streamHitRates(engine);
      cb.onStep(position, { tokens: position + 1, hitRate: hits.overall, perLayer: hits.perLayer, bytesThisToken: c.bytes - lastBytes, bytesPerToken: c.bytes / (position + 1) });
      lastBytes = c.bytes;
    },
  });
  return { result, report: await streamReport(engine, stream, result.seconds, recorder.trace(), flashGBps, dramGBpsBefore) };
}
