// One demo run, runtime-neutral: the worker runs it in the browser, and the end-to-end test runs the
// same code in Node to check the page's text and numbers. Generation feeds each step's masks to a
// live Flash -> DRAM simulator on the engine's wasm instance (DIP-CA reads its cache state).
import type { Engine } from "../host/engine.js";
import { generate, type GenerateResult } from "../host/generate.js";
import type { Tokenizer } from "../host/tokenizer/types.js";
import type { SparsitySpec } from "../host/sparsity.js";
import { MaskRecorder, modelDims } from "../host/sim/run.js";
import { footprintFromConfig } from "../host/sim/presets.js";
import { resolveDevice } from "../host/sim/devices.js";
import type { SimResult, SimSettings } from "../host/sim/simulate.js";
import type { RunSettings, SimSnapshot } from "./protocol.js";

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

/** Generates `s.tokens` new tokens after the prompt with the live simulator attached. */
export function runSession(engine: Engine, tokenizer: Tokenizer, s: RunSettings, cb: SessionCallbacks = {}): { result: GenerateResult; sim: SimSnapshot | null } {
  engine.setSparsity(sparsityOf(s));
  const promptTokens = tokenizer.encode(s.prompt, { bos: true }).length;
  // generate() runs `steps` positions and samples after each from the prompt's last on: N new tokens need prompt + N - 1
  const steps = Math.min(engine.config.seqLen, promptTokens + s.tokens - 1);
  // the DRAM budget is a share of the dense footprint with the KV cache at this run's length
  const dense = footprintFromConfig(modelDims(engine), {}, steps).total;
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
