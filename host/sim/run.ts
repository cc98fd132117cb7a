// The engine and the simulator together: record the masks of a real run as a trace, and for
// DIP-CA keep a live simulator running so each token's input mask sees the cache state the
// previous token left (DIP.md: DIP-CA is token-sequential).

import type { Engine } from "../engine.js";
import type { SparsitySpec } from "../sparsity.js";
import { maskGroupsFor, type MaskGroup } from "./groups.js";
import type { ModelDims } from "./presets.js";
import { LiveSimulator, type SimSettings } from "./simulate.js";
import { TraceBuilder, type MaskTrace } from "./trace.js";

export function modelDims(engine: Engine): ModelDims {
  const c = engine.config;
  return { nLayers: c.nLayers, vocabSize: c.vocabSize, dim: c.dim, hiddenDim: c.hiddenDim, nHeads: c.nHeads, nKvHeads: c.nKvHeads, seqLen: c.seqLen, gated: true };
}

function sparsityEcho(spec: SparsitySpec): Record<string, number | boolean | string> {
  const out: Record<string, number | boolean | string> = {};
  for (const [k, v] of Object.entries(spec)) if (k !== "method" && v !== undefined) out[k] = v as number | boolean | string;
  return out;
}

/**
 * Watches an engine's steps: appends each token's masks to a trace and, with a live simulator,
 * feeds them to the caches (whose flags DIP-CA reads on the next token).
 */
export class MaskRecorder {
  readonly groups: MaskGroup[];
  private readonly builder: TraceBuilder;
  private readonly live?: LiveSimulator;

  constructor(
    private readonly engine: Engine,
    opts: { settings?: SimSettings; live?: boolean } = {},
  ) {
    const spec = engine.sparsity;
    const dims = modelDims(engine);
    this.groups = maskGroupsFor(spec.method, dims, engine.predictor?.rank);
    this.builder = new TraceBuilder({
      model: engine.model.name,
      method: spec.method,
      sparsity: sparsityEcho(spec),
      dims,
      groups: this.groups,
      producer: "dip-engine",
    });
    if (opts.live) {
      if (!opts.settings) throw new Error("a live simulator needs simulator settings");
      this.live = new LiveSimulator(engine.exports, { ...opts.settings, dims, groups: this.groups, method: spec.method });
      for (let l = 0; l < dims.nLayers; l++) {
        engine.setCachedFlags(l, this.live.cachedFlagsPtr(l, 0), this.live.cachedFlagsPtr(l, 1));
      }
    }
  }

  /** The live simulator (with `live: true`): its result() gives hit rates and bytes so far. */
  get simulator(): LiveSimulator | undefined {
    return this.live;
  }

  beginSequence(promptTokens = 0): void {
    this.builder.beginSequence(promptTokens);
    this.live?.beginSequence(promptTokens);
  }

  /** Records the masks of the step the engine just ran. */
  afterStep(): void {
    const masks = this.engine.lastMasks();
    for (let l = 0; l < this.engine.config.nLayers; l++) {
      // group 0 is the input mask (dip family) or a dense matrix; group 1 the hidden mask
      const perGroup = [this.groups[0].alwaysFull ? ("full" as const) : masks.input[l], this.groups[1].alwaysFull ? ("full" as const) : masks.hidden[l]];
      perGroup.forEach((m, g) => {
        this.builder.addMask(l, g, m);
        if (!this.live) return;
        if (m === "full") this.live.observeFull(l, g);
        else this.live.observe(l, g, m);
      });
    }
  }

  /** The recorded trace; `evaluation` (the run's perplexity) is stored in its header. */
  trace(evaluation?: MaskTrace["header"]["evaluation"]): MaskTrace {
    const t = this.builder.build();
    return evaluation ? { ...t, header: { ...t.header, evaluation } } : t;
  }

  /** Detaches DIP-CA from the simulator's flags (the sim may be reconfigured afterwards). */
  detach(): void {
    if (!this.live) return;
    for (let l = 0; l < this.engine.config.nLayers; l++) this.engine.setCachedFlags(l, 0, 0);
  }
}
