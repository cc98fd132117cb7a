// The demo's engine worker: loads the model and runs generation off the page's thread, feeding each
// token's masks to a live Flash -> DRAM simulator on the same wasm instance (as `dip simulate` does).
// A .dipstream is streamed instead: its MLP columns are read on demand from OPFS (sync access
// handle) or the picked File (Blob slices) into the engine's DRAM-budgeted column cache, and the
// run reports what `dip generate --stream` reports.
// Loading a model (file or URL) is the package's engine worker's own (openEngine, host/web/engine-worker.ts).
import { Engine, fetchBytes, nameOf, headDim, streamMlpBytes, streamStaticBytes, StreamBudgetError, formatStreamSummary, tokenizerOf, copyToOpfs, listOpfsStreams, openStreamBlob, openStreamOpfs, opfsSyncAvailable, openEngine, throttledProgress } from "../host/web/index.js";
import type { ProgressCallback, LoadedModel, OpenStream, Tokenizer, OpenedEngine, ChatSession } from "../host/web/index.js";
import type { FromWorker, RunSettings, StreamSettings, StreamSource, ToWorker } from "./protocol.js";
import { runChatTurn, runSession, runStreamSession, setDefaultEngineWasm, startChat, streamEngine, streamMinimumBytes, streamTableBytes } from "./session.js";

const post = (m: FromWorker) => (self as unknown as { postMessage(m: FromWorker): void }).postMessage(m);

// dip serve puts engine.wasm beside this script (the package's library finds it one folder up instead)
const engineWasmUrl = new URL("./engine.wasm", import.meta.url);
let wasmBytes: Promise<Uint8Array<ArrayBuffer>> | undefined;
const engineWasm = () => (wasmBytes ??= fetchBytes(engineWasmUrl));
setDefaultEngineWasm(engineWasm); // every engine here, the streamed ones and the stream report's simulator

interface Streamed {
  open: OpenStream;
  via: "opfs" | "blob";
  /** the settings `engine` was made with (undefined: no engine yet) */
  settings?: Pick<StreamSettings, "dramBytes" | "policy">;
}
/** chat: the conversation going on in chat mode (it owns the engine's KV cache until another run) */
let current: { model: LoadedModel; engine?: Engine; tokenizer: Tokenizer; stream?: Streamed; chat?: ChatSession } | undefined;

/** the page's cap on the engine's wasm memory (host/memory-cap.ts), if any */
let maxMemoryBytes: number | undefined;

function release(): void {
  current?.stream?.open.close(); // frees the OPFS access handle (one per file at a time)
  current = undefined;
}

/** A model file or URL, opened as the package's engine worker opens one. */
async function open(source: File | string, progress: ProgressCallback): Promise<void> {
  const opened: OpenedEngine = await openEngine(source, { maxMemoryBytes, ...(source instanceof File ? { name: source.name } : {}) }, progress);
  release(); // the new model is good: only now does the previous one go
  const { model, engine, tokenizer } = opened;
  current = { model, engine, tokenizer };
  const c = model.config;
  const w = engine.weightBytes();
  post({ type: "loaded", name: model.name, config: c, params: (w.embedding + w.attention + w.mlp + w.lm_head) / 4, bytes: engine.memoryBytes(), chatTemplate: model.chatTemplate !== undefined });
}

async function openStreamed(source: StreamSource, progress: ProgressCallback): Promise<void> {
  let o: OpenStream;
  let via: Streamed["via"];
  if ("stored" in source) {
    o = await openStreamOpfs(source.stored);
    via = "opfs";
  } else if (source.store && (await opfsSyncAvailable())) {
    const name = "file" in source ? source.file.name : nameOf(source.url);
    await copyToOpfs("file" in source ? source.file : await fetch(source.url), name, progress);
    o = await openStreamOpfs(name);
    via = "opfs";
  } else {
    // the fallback: no copy (or no OPFS in this browser or window)
    o = "file" in source ? openStreamBlob(source.file) : openStreamBlob(new Blob([await fetchBytes(source.url, progress)]), nameOf(source.url));
    via = "blob";
  }
  try {
    const tokenizer = tokenizerOf(o.model);
    const minimumDramBytes = await streamMinimumBytes(o);
    release();
    current = { model: o.model, tokenizer, stream: { open: o, via } };
    const c = o.model.config;
    const mlpBytes = streamMlpBytes(o.stream.header);
    // parameters: the MLP's weights and the static tensors' (f32 bytes / 4, or the quantized matrices' values)
    const staticParams = o.stream.header.dtype === "f32" ? streamStaticBytes(o.stream.header) / 4 : c.nLayers * (2 * c.dim + 2 * c.dim * headDim(c) * (c.nHeads + c.nKvHeads)) + (c.tiedEmbeddings ? 1 : 2) * c.vocabSize * c.dim + c.dim;
    post({
      type: "loaded",
      name: o.stream.source === o.model.name ? o.model.name : `${o.stream.source} (${o.model.name})`,
      config: c,
      params: staticParams + 3 * c.nLayers * c.dim * c.hiddenDim,
      bytes: minimumDramBytes,
      stream: { via, fileBytes: o.stream.header.file_bytes, minimumDramBytes, tableBytes: streamTableBytes(o.stream.header), mlpBytes, ...("store" in source && source.store && via === "blob" ? { note: "no OPFS sync access handles here, so the file is read in slices" } : {}) },
    });
  } catch (e) {
    o.close();
    throw e;
  }
  await postStored();
}

/** The page's list of copies in OPFS (none where the browser has no OPFS). */
async function postStored(): Promise<void> {
  post({ type: "stored", files: await listOpfsStreams().catch(() => []) });
}

/** The streamed engine for these settings (a new one when the budget or policy changed). */
async function streamedEngine(s: Streamed, settings: StreamSettings): Promise<Engine> {
  if (current!.engine && s.settings?.dramBytes === settings.dramBytes && s.settings.policy === settings.policy) return current!.engine;
  current!.engine = undefined;
  try {
    current!.engine = await streamEngine(s.open, settings.dramBytes, settings.policy);
  } catch (e) {
    if (!(e instanceof StreamBudgetError)) throw e;
    throw new Error(`a DRAM budget of ${(e.dramBytes / 1e6).toFixed(3)} MB is below the ${(e.minimumBytes / 1e6).toFixed(3)} MB the streamed model needs resident (static weights, KV cache, activations, tables, staging)`);
  }
  s.settings = { dramBytes: settings.dramBytes, policy: settings.policy };
  return current!.engine;
}

async function run(s: RunSettings, streamSettings: StreamSettings | undefined): Promise<void> {
  if (!current) throw new Error("load a model first");
  current.chat = undefined; // a plain run starts a new sequence: the conversation is over
  const onText = (text: string) => post({ type: "text", text });
  if (current.stream) {
    if (!streamSettings) throw new Error("a streamed model needs a DRAM budget");
    const engine = await streamedEngine(current.stream, streamSettings);
    let out: Awaited<ReturnType<typeof runStreamSession>>;
    try {
      out = await runStreamSession(engine, current.stream.open.stream, current.tokenizer, s, streamSettings.flashGBps, {
        onText,
        onStep: (position, snap) => post({ type: "stream-step", position, stream: snap }),
      });
    } catch (e) {
      current.engine = undefined; // a failed read (e.g. a corrupt column) unwound the wasm step: start afresh next time
      throw e;
    }
    const { result, report } = out;
    post({ type: "done", text: result.text, tokens: result.tokens, generated: result.generated_tokens, tokS: result.tok_s, sim: null, stream: report, summary: formatStreamSummary(report).trim() });
    return;
  }
  const { result, sim } = runSession(current.engine!, current.tokenizer, s, {
    onText,
    onStep: (position, snap) => post({ type: "step", position, sim: snap }),
  });
  post({ type: "done", text: result.text, tokens: result.tokens, generated: result.generated_tokens, tokS: result.tok_s, sim });
}

/** One chat turn on the resident engine; the conversation starts with the first turn after a load or reset. */
function chatTurn(s: RunSettings): void {
  if (!current) throw new Error("load a model first");
  if (current.stream || !current.engine) throw new Error("chat mode runs a model loaded whole (not a streamed .dipstream)");
  if (current.model.chatTemplate === undefined) throw new Error(`${current.model.name} has no chat template (tokenizer.chat_template): use Generate`);
  current.chat ??= startChat(current.engine, current.tokenizer, current.model.chatTemplate, current.model.name, s.seed);
  const { reply, info, tokS } = runChatTurn(current.chat, current.engine, s, (text) => post({ type: "text", text }));
  post({ type: "done", text: reply.text, tokens: reply.tokens, generated: reply.tokens.length, tokS, sim: null, chat: info });
}

self.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  try {
    if (m.type === "load" || m.type === "load-stream") {
      // a wrong file keeps the working model: it is released only once the new one has loaded,
      // except where OPFS allows one open handle per file (a stored or stored-copy .dipstream)
      if (m.type === "load-stream" && ("stored" in m.source || m.source.store)) release();
      const progress = throttledProgress((loaded, total) => post({ type: "progress", loaded, total }));
      if (m.type === "load-stream") await openStreamed(m.source, progress);
      else await open("file" in m ? m.file : m.url, progress);
    } else if (m.type === "generate") {
      await run(m.settings, m.stream);
    } else if (m.type === "chat") {
      chatTurn(m.settings);
    } else if (m.type === "chat-reset") {
      if (current) current.chat = undefined;
    } else if (m.type === "list-stored") {
      await postStored();
    } else if (m.type === "memory-cap") {
      maxMemoryBytes = m.maxMemoryBytes;
    }
  } catch (e) {
    post({ type: "error", message: (e as Error).message ?? String(e), loaded: current?.model.name });
  }
};
