// The demo page: controls, streamed text and the live simulator charts. All engine work happens in
// worker.ts, so the page stays responsive while a model loads or generates.
import type { FromWorker, RunSettings, SimSnapshot, ToWorker } from "./protocol.js";
import type { Method } from "../host/sparsity.js";
import type { CachePolicy } from "../host/sim/wasm-sim.js";

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
  hitChart: $("hit-chart") as unknown as SVGSVGElement,
  flashChart: $("flash-chart") as unknown as SVGSVGElement,
};

let nLayers = 0;
let busy = false;
let flashSeries: number[] = [];
let pendingText = "";
let lastSim: SimSnapshot | null = null;
let frame = 0;
let loadingVerb = "downloading";

function setState(state: "loading" | "ready" | "running" | "done" | "error"): void {
  document.body.dataset.state = state;
  busy = state === "loading" || state === "running";
  ui.generate.disabled = busy || nLayers === 0;
  ui.modelFile.disabled = busy;
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
  ui.text.replaceChildren();
  pendingText = "";
  flashSeries = [];
  lastSim = null;
  ui.speed.textContent = "";
  for (const id of ["s-hit", "s-flash", "s-dram", "s-density", "s-toks", "s-mem"]) $(id).textContent = "\u2013";
}

function load(m: ToWorker & { type: "load" }, label: string): void {
  showError(null);
  clearRun();
  drawHitChart([]);
  drawFlashChart([]);
  loadingVerb = "file" in m ? "reading" : "downloading";
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
  const W = 420, H = 90, left = 50, top = 8, bottom = 14;
  const max = Math.max(1, ...values);
  svg.append(el("line", { class: "axis", x1: left, x2: W, y1: H - bottom, y2: H - bottom }), el("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, fmtBytes(max)), el("text", { x: left - 4, y: H - bottom, "text-anchor": "end" }, "0"));
  if (values.length < 2) return;
  const pts = values.map((v, i) => `${(left + ((W - left) * i) / (values.length - 1)).toFixed(1)},${(H - bottom - ((H - bottom - top) * v) / max).toFixed(1)}`);
  svg.append(el("polyline", { class: "line", points: pts.join(" ") }), el("text", { x: W, y: H - 2, "text-anchor": "end" }, `token ${values.length}`));
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
      const c = m.config;
      nLayers = c.nLayers;
      ui.modelName.textContent = m.name;
      ui.progress.value = ui.progress.max;
      ui.modelInfo.textContent = `${c.nLayers} layers, dim ${c.dim}, MLP ${c.hiddenDim}, vocab ${c.vocabSize}, context ${c.seqLen}; ${(m.params / 1e6).toFixed(2)} M parameters`;
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
    case "done":
      (window as unknown as { dipLastRun: unknown }).dipLastRun = m;
      ui.speed.textContent = `${m.generated} tokens at ${m.tokS.toFixed(0)} tokens/s (wasm SIMD, in a worker)`;
      if (m.sim) lastSim = m.sim;
      pendingText = "";
      showText(m.text);
      scheduleDraw();
      requestAnimationFrame(() => setState("done"));
      break;
    case "error":
      showError(m.message);
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
  setState("running");
  send({ type: "generate", settings });
});

// The default model: what `dip serve` says (config.json), else the stories260K GGUF beside the page.
async function defaultModelUrl(): Promise<string> {
  try {
    const res = await fetch("config.json");
    if (res.ok) return ((await res.json()) as { defaultModel: string }).defaultModel;
  } catch {
    // a plain static server: fall through
  }
  return "models/stories260K-f32.gguf";
}

const url = await defaultModelUrl();
load({ type: "load", url: new URL(url, location.href).href }, url.split("/").pop() ?? url);
