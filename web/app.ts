// The demo page: controls, streamed text and the live simulator charts. All engine work happens in
// worker.ts, so the page stays responsive while a model loads or generates. With a .dipstream the
// page runs in stream mode: the worker reads MLP columns from the file on demand and the panel
// shows measured numbers beside the simulator's.
import type { FromWorker, RunSettings, SimSnapshot, StreamSettings, StreamSnapshot, ToWorker } from "./protocol.js";
import { parseSize } from "../host/web/index.js";
import type { StreamReport, Method, CachePolicy } from "../host/web/index.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const SVG = "http://www.w3.org/2000/svg";

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const send = (m: ToWorker) => worker.postMessage(m);

const ui = {
  modelName: $("model-name"),
  modelFile: $<HTMLInputElement>("model-file"),
  progress: $<HTMLProgressElement>("model-progress"),
  modelInfo: $("model-info"),
  error: $("error"),
  prompt: $<HTMLTextAreaElement>("prompt"),
  method: $<HTMLSelectElement>("method"),
  keep: $<HTMLInputElement>("keep"),
  gamma: $<HTMLInputElement>("gamma"),
  gammaLabel: $("gamma-label"),
  policy: $<HTMLSelectElement>("policy"),
  dram: $<HTMLInputElement>("dram"),
  tokens: $<HTMLInputElement>("tokens"),
  temperature: $<HTMLInputElement>("temperature"),
  seed: $<HTMLInputElement>("seed"),
  generate: $<HTMLButtonElement>("generate"),
  text: $("text"),
  speed: $("speed"),
  streamFile: $<HTMLInputElement>("stream-file"),
  streamStore: $<HTMLInputElement>("stream-store"),
  streamUrlForm: $<HTMLFormElement>("stream-url-form"),
  streamUrl: $<HTMLInputElement>("stream-url"),
  streamFetch: $<HTMLButtonElement>("stream-fetch"),
  storedRow: $("stored-row"),
  stored: $<HTMLSelectElement>("stored"),
  streamStored: $<HTMLButtonElement>("stream-stored"),
  streamDram: $<HTMLInputElement>("stream-dram"),
  streamGbps: $<HTMLInputElement>("stream-gbps"),
  streamSummary: $("stream-summary"),
  hitChart: $("hit-chart") as unknown as SVGSVGElement,
  flashChart: $("flash-chart") as unknown as SVGSVGElement,
  chatRow: $("chat-row"),
  chatMode: $<HTMLInputElement>("chat-mode"),
  chatReset: $<HTMLButtonElement>("chat-reset"),
};

let nLayers = 0;
let busy = false;
let flashSeries: number[] = [];
let pendingText = "";
let lastSim: SimSnapshot | null = null;
let lastStream: StreamSnapshot | null = null;
let frame = 0;
let loadingVerb = "downloading";
/** a .dipstream is loaded: generation streams its MLP columns */
let streaming = false;
/** chat mode is on: Generate sends the prompt box as the next message of one conversation */
const chatting = () => !ui.chatRow.hidden && ui.chatMode.checked;

function setState(state: "loading" | "ready" | "running" | "done" | "error"): void {
  document.body.dataset.state = state;
  busy = state === "loading" || state === "running";
  ui.generate.disabled = busy || nLayers === 0;
  for (const c of [ui.modelFile, ui.streamFile, ui.streamFetch, ui.streamStored]) c.disabled = busy;
}

function setMode(stream: boolean): void {
  streaming = stream;
  document.body.dataset.mode = stream ? "stream" : "resident";
}

function showError(message: string | null): void {
  ui.error.hidden = message === null;
  ui.error.textContent = message ?? "";
}

const fmtBytes = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} KB` : `${b.toFixed(0)} B`);

function syncLabels(): void {
  $("keep-out").textContent = Number(ui.keep.value).toFixed(2);
  $("gamma-out").textContent = Number(ui.gamma.value).toFixed(2);
  $("dram-out").textContent = `${ui.dram.value}% of the dense footprint`;
  ui.gammaLabel.hidden = ui.method.value !== "dip-ca";
  ui.keep.disabled = ui.method.value === "dense";
}

function clearRun(): void {
  if (!chatting()) ui.text.replaceChildren(); // a conversation stays on screen until "New chat"
  pendingText = "";
  flashSeries = [];
  lastSim = null;
  lastStream = null;
  ui.speed.textContent = "";
  for (const id of ["s-hit", "s-flash", "s-dram", "s-density", "s-toks", "s-mem", "t-toks", "t-sim-toks", "t-bytes", "t-sim-bytes", "t-hit", "t-sim-hit", "t-fetch", "t-mem", "t-cache"]) $(id).textContent = "\u2013";
  ui.streamSummary.textContent = "";
}

/** While another model loads: what the panel showed for the loaded one, put back if loading fails. */
let shownModel: { nLayers: number; name: string; info: string; streaming: boolean } | undefined;

function load(m: ToWorker & { type: "load" | "load-stream" }, label: string): void {
  shownModel = nLayers > 0 ? { nLayers, name: ui.modelName.textContent ?? "", info: ui.modelInfo.textContent ?? "", streaming } : undefined;
  showError(null);
  clearRun();
  drawHitChart([]);
  drawFlashChart([]);
  const source = m.type === "load" ? m : m.source;
  loadingVerb = "stored" in source ? "opening" : "store" in source && source.store ? "copying into browser storage" : "file" in source ? "reading" : "downloading";
  nLayers = 0;
  ui.modelName.textContent = label;
  ui.modelInfo.textContent = "";
  ui.progress.value = 0;
  setState("loading");
  send(m);
}

// ---- charts ----

function el(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawHitChart(perLayer: number[]): void {
  const svg = ui.hitChart;
  svg.replaceChildren();
  const W = 420, H = 180, left = 34, bottom = 22, top = 14;
  const plotH = H - bottom - top;
  for (const p of [0, 0.5, 1]) {
    const y = top + plotH * (1 - p);
    svg.append(el("line", { class: "axis", x1: left, x2: W, y1: y, y2: y }), el("text", { x: left - 4, y: y + 4, "text-anchor": "end" }, `${p * 100}%`));
  }
  const n = Math.max(1, perLayer.length);
  const slot = (W - left) / n;
  const bw = Math.min(48, slot * 0.7);
  perLayer.forEach((h, l) => {
    const x = left + slot * l + (slot - bw) / 2;
    const bh = Math.max(0, Math.min(1, h)) * plotH;
    svg.append(
      el("rect", { class: "track", x, y: top, width: bw, height: plotH }),
      el("rect", { class: "bar", "data-layer": l, x, y: top + plotH - bh, width: bw, height: bh }),
      el("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle" }, `L${l}`),
      el("text", { x: x + bw / 2, y: top + plotH - bh - 3, "text-anchor": "middle" }, `${(100 * h).toFixed(0)}%`),
    );
  });
}

function drawFlashChart(values: number[]): void {
  const svg = ui.flashChart;
  svg.replaceChildren();
  const W = 420, H = 90, left = 60, top = 8, bottom = 14;
  const max = Math.max(1, ...values);
  svg.append(el("line", { class: "axis", x1: left, x2: W, y1: H - bottom, y2: H - bottom }), el("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, fmtBytes(max)), el("text", { x: left - 4, y: H - bottom, "text-anchor": "end" }, "0"));
  if (values.length < 2) return;
  const pts = values.map((v, i) => `${(left + ((W - left) * i) / (values.length - 1)).toFixed(1)},${(H - bottom - ((H - bottom - top) * v) / max).toFixed(1)}`);
  svg.append(el("polyline", { class: "line", points: pts.join(" ") }), el("text", { x: W, y: H - 2, "text-anchor": "end" }, `token ${values.length}`));
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The numbers `dip generate --stream --json` prints, measured beside simulated. */
function showStreamReport(r: StreamReport, summary: string): void {
  $("t-toks").textContent = r.tok_s.toFixed(1);
  $("t-sim-toks").textContent = r.simulated_tok_s.toPrecision(4);
  $("t-bytes").textContent = fmtBytes(r.storage_bytes_per_token);
  $("t-sim-bytes").textContent = fmtBytes(r.simulated_flash_bytes_per_token);
  $("t-hit").textContent = pct(r.hit_rate);
  $("t-sim-hit").textContent = pct(r.simulated_hit_rate);
  $("t-fetch").textContent = `${(1e3 * r.fetch_seconds_per_token).toFixed(3)} ms (pacing ${(1e3 * r.pacing_seconds_per_token).toFixed(3)} ms)`;
  $("t-mem").textContent = `peak ${fmtBytes(r.peak_wasm_memory_bytes)}, arena ${fmtBytes(r.arena_bytes)} of a ${fmtBytes(r.dram_budget_bytes)} budget (minimum ${fmtBytes(r.minimum_dram_bytes)})`;
  $("t-cache").textContent = `${r.cache_entries.input} input + ${r.cache_entries.hidden} hidden columns per layer (${fmtBytes(r.cache_bytes)}), ${r.policy}`;
  ui.streamSummary.textContent = summary;
}

function showSim(s: SimSnapshot): void {
  $("s-hit").textContent = `${(100 * s.hitRate).toFixed(1)}%`;
  $("s-flash").textContent = fmtBytes(s.flashBytesPerToken);
  $("s-dram").textContent = fmtBytes(s.dramBytesPerToken);
  $("s-density").textContent = `${(100 * s.mlpDensity).toFixed(1)}%`;
  $("s-toks").textContent = `${s.tokS.toFixed(0)} (dense from Flash: ${s.denseFlashTokS.toFixed(0)})`;
  $("s-mem").textContent = `${fmtBytes(s.memoryBytes)} of a ${fmtBytes(s.dramBudgetBytes)} budget (dense ${fmtBytes(s.denseFootprintBytes)})`;
  drawHitChart(s.perLayer);
  drawFlashChart(flashSeries);
}

/** Text and charts are redrawn once per animation frame, however fast tokens arrive. */
function scheduleDraw(): void {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (pendingText) {
      ui.text.append(pendingText);
      pendingText = "";
    }
    if (lastSim) showSim(lastSim);
    if (lastStream) {
      $("t-bytes").textContent = fmtBytes(lastStream.bytesPerToken);
      $("t-hit").textContent = pct(lastStream.hitRate);
      drawHitChart(lastStream.perLayer);
      drawFlashChart(flashSeries);
    }
  });
}

/** The final text, the prompt part dimmed (it was streamed as it came). */
function showText(text: string): void {
  const prompt = ui.prompt.value;
  const cut = prompt.length > 0 && text.startsWith(prompt) ? prompt.length : 0;
  const span = document.createElement("span");
  span.className = "prompt";
  span.textContent = text.slice(0, cut);
  ui.text.replaceChildren(span, text.slice(cut));
}

// ---- worker messages ----

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case "progress":
      ui.progress.max = m.total ?? Math.max(m.loaded, 1);
      ui.progress.value = m.loaded;
      ui.modelInfo.textContent = `${loadingVerb} ${fmtBytes(m.loaded)}${m.total ? ` of ${fmtBytes(m.total)}` : ""}`;
      break;
    case "loaded": {
      shownModel = undefined;
      const c = m.config;
      nLayers = c.nLayers;
      ui.modelName.textContent = m.name;
      ui.progress.value = ui.progress.max;
      ui.modelInfo.textContent = `${c.nLayers} layers, dim ${c.dim}, MLP ${c.hiddenDim}, vocab ${c.vocabSize}, context ${c.seqLen}; ${(m.params / 1e6).toFixed(2)} M parameters`;
      setMode(m.stream !== undefined);
      // chat mode for a model with a chat template, loaded whole
      ui.chatRow.hidden = !(m.chatTemplate && !m.stream);
      ui.chatMode.checked = false;
      syncChatMode();
      if (m.stream) {
        const s = m.stream;
        ui.modelInfo.textContent +=
          `; streamed from ${s.via === "opfs" ? "browser storage (OPFS sync access handle)" : "the file (Blob slices)"}, ${fmtBytes(s.fileBytes)}; ` +
          `needs at least ${fmtBytes(s.minimumDramBytes)} of DRAM (the embedding and LM head rows that do not fit are then read every token; all of them take ${fmtBytes(s.tableBytes)}), the MLP is ${fmtBytes(s.mlpBytes)}` +
          (s.note ? ` (${s.note})` : "");
        // default: the minimum, the embedding and LM head, and half the MLP, so columns really stream and are cached
        ui.streamDram.value = `${((s.minimumDramBytes + s.tableBytes + s.mlpBytes / 2) / 1e6).toFixed(3)}MB`;
      }
      drawHitChart(new Array(nLayers).fill(0));
      drawFlashChart([]);
      setState("ready");
      break;
    }
    case "text":
      pendingText += m.text;
      scheduleDraw();
      break;
    case "step":
      lastSim = m.sim;
      flashSeries.push(m.sim.flashBytesPerToken);
      scheduleDraw();
      break;
    case "stream-step":
      lastStream = m.stream;
      flashSeries.push(m.stream.bytesThisToken);
      scheduleDraw();
      break;
    case "stored":
      ui.storedRow.hidden = m.files.length === 0;
      ui.stored.replaceChildren(...m.files.map((f) => Object.assign(document.createElement("option"), { value: f.name, textContent: `${f.name} (${fmtBytes(f.bytes)})` })));
      break;
    case "done":
      (window as unknown as { dipLastRun: unknown }).dipLastRun = m;
      if (m.chat) {
        const why = m.chat.stop === "end" ? "end of turn" : m.chat.stop === "length" ? "the new-token limit" : "the context is full: start a new chat";
        ui.speed.textContent = `${m.generated} tokens at ${m.tokS.toFixed(0)} tokens/s, stopped at ${why}; MLP density ${(100 * m.chat.mlpDensity).toFixed(1)}%, ${m.chat.contextLeft} tokens of context left`;
        pendingText += "\n\n";
        scheduleDraw();
        requestAnimationFrame(() => setState("done"));
        break;
      }
      ui.speed.textContent = `${m.generated} tokens at ${m.tokS.toFixed(0)} tokens/s (wasm SIMD, in a worker${m.stream ? ", weights streamed" : ""})`;
      if (m.sim) lastSim = m.sim;
      if (m.stream) showStreamReport(m.stream, m.summary ?? "");
      pendingText = "";
      showText(m.text);
      scheduleDraw();
      requestAnimationFrame(() => setState("done"));
      break;
    case "error":
      showError(m.loaded && shownModel ? `${m.message} (still loaded: ${shownModel.name})` : m.message);
      if (m.loaded && shownModel && nLayers === 0) {
        // the worker kept the previous model: show it again, ready to generate
        ({ nLayers } = shownModel);
        ui.modelName.textContent = shownModel.name;
        ui.modelInfo.textContent = shownModel.info;
        setMode(shownModel.streaming);
        ui.progress.value = ui.progress.max;
        drawHitChart(new Array(nLayers).fill(0));
      }
      shownModel = undefined;
      if (nLayers === 0) ui.modelName.textContent = "no model loaded";
      setState("error");
      ui.generate.disabled = nLayers === 0;
      break;
  }
};
worker.onerror = (e) => {
  showError(`the engine worker failed: ${e.message}`);
  setState("error");
};

// ---- controls ----

for (const input of [ui.keep, ui.gamma, ui.dram, ui.method]) input.addEventListener("input", syncLabels);
syncLabels();

ui.modelFile.addEventListener("change", () => {
  const file = ui.modelFile.files?.[0];
  if (file) load({ type: "load", file }, file.name);
});

ui.streamFile.addEventListener("change", () => {
  const file = ui.streamFile.files?.[0];
  if (file) load({ type: "load-stream", source: { file, store: ui.streamStore.checked } }, file.name);
  ui.streamFile.value = ""; // picking the same file again reloads it
});

ui.streamUrlForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const url = ui.streamUrl.value.trim();
  if (!url || busy) return;
  const abs = new URL(url, location.href).href;
  load({ type: "load-stream", source: { url: abs, store: ui.streamStore.checked } }, abs.split("/").pop() ?? abs);
});

ui.streamStored.addEventListener("click", () => {
  if (ui.stored.value && !busy) load({ type: "load-stream", source: { stored: ui.stored.value } }, ui.stored.value);
});

/** The stream settings from the controls, or a message saying what is wrong. */
function streamSettings(): StreamSettings {
  const gbps = ui.streamGbps.value.trim() === "" ? undefined : Number(ui.streamGbps.value);
  if (gbps !== undefined && !(gbps > 0)) throw new RangeError(`Flash GB/s must be > 0 (or empty: not paced), got ${ui.streamGbps.value}`);
  return { dramBytes: parseSize(ui.streamDram.value, "DRAM budget"), policy: ui.policy.value as StreamSettings["policy"], flashGBps: gbps };
}

/** The Generate button and the text panel follow the chat checkbox; switching starts over. */
function syncChatMode(): void {
  ui.generate.textContent = chatting() ? "Send" : "Generate";
  send({ type: "chat-reset" });
  ui.text.replaceChildren();
}
ui.chatMode.addEventListener("change", syncChatMode);
ui.chatReset.addEventListener("click", () => {
  if (busy) return;
  syncChatMode();
  clearRun();
});

ui.generate.addEventListener("click", () => {
  if (busy) return;
  showError(null);
  clearRun();
  const settings: RunSettings = {
    prompt: ui.prompt.value,
    tokens: Math.max(1, Math.floor(Number(ui.tokens.value) || 1)),
    method: ui.method.value as Method,
    keep: Number(ui.keep.value),
    gamma: Number(ui.gamma.value),
    policy: ui.policy.value as CachePolicy,
    dramFraction: Number(ui.dram.value) / 100,
    temperature: Number(ui.temperature.value) || 0,
    seed: Math.floor(Number(ui.seed.value) || 0),
  };
  let stream: StreamSettings | undefined;
  try {
    stream = streaming ? streamSettings() : undefined;
  } catch (e) {
    showError((e as Error).message);
    return;
  }
  setState("running");
  if (chatting()) {
    const you = document.createElement("span");
    you.className = "prompt";
    you.textContent = `You: ${settings.prompt}\n`;
    ui.text.append(you, "Assistant: ");
    ui.prompt.value = "";
    send({ type: "chat", settings });
    return;
  }
  send({ type: "generate", settings, stream });
});

// The default model: what `dip serve` says (config.json), else the stories260K GGUF beside the page.
// `dip serve --stream FILE` also offers a .dipstream by URL.
async function serverConfig(): Promise<{ defaultModel: string; streamModel?: string }> {
  try {
    const res = await fetch("config.json");
    if (res.ok) return (await res.json()) as { defaultModel: string; streamModel?: string };
  } catch {
    // a plain static server: fall through
  }
  return { defaultModel: "models/stories260K-f32.gguf" };
}

setMode(false);
send({ type: "list-stored" });
// ?maxMemory=SIZE caps the engine's wasm memory as a webview would (iOS grows it well below 4 GiB):
// a model over the cap is refused with the size it needs and the options
const maxMemory = new URLSearchParams(location.search).get("maxMemory");
if (maxMemory !== null) {
  try {
    send({ type: "memory-cap", maxMemoryBytes: parseSize(maxMemory, "maxMemory") });
  } catch (e) {
    showError((e as Error).message);
  }
}
const config = await serverConfig();
if (config.streamModel) ui.streamUrl.value = config.streamModel;
const url = config.defaultModel;
load({ type: "load", url: new URL(url, location.href).href }, url.split("/").pop() ?? url);

// Test hook: ?driver=/demo-driver.js runs that same-origin module on the page (browsers without
// WebDriver; tests/browser/demo-driver.ts). Only a path on this server is accepted.
const driver = new URLSearchParams(location.search).get("driver");
if (driver && /^\/[\w-]+\.js$/.test(driver)) await import(driver);
