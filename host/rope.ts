// Rotary frequencies as data: the host computes inv_freq[i] for i < headDim/2 in f64 (with any
// scaling the config asks for) and the engine builds its cos/sin table from them once per model.

import type { ModelConfig } from "./model.js";
import { headDim } from "./model.js";
import { roundToBf16, roundToHalf } from "./float16.js";

/**
 * inv_freq[i] = theta^(-2i/d), then scaled, then divided by c.ropeFreqFactors[i] (llama.cpp's
 * rope_freqs), then rounded when c.ropeFreqDtype asks for it.
 */
export function ropeInverseFrequencies(c: ModelConfig): Float64Array {
  const factors = c.ropeFreqFactors;
  const inv = factors ? exactInverseFrequencies(c).map((f, i) => f / factors[i]) : exactInverseFrequencies(c);
  if (c.ropeFreqDtype === undefined) return inv;
  const round = c.ropeFreqDtype === "bf16" ? roundToBf16 : roundToHalf;
  return inv.map((f) => round(Math.fround(f)));
}

function exactInverseFrequencies(c: ModelConfig): Float64Array {
  const d = headDim(c);
  const inv = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) inv[i] = 1 / Math.pow(c.ropeTheta, (2 * i) / d);
  const s = c.ropeScaling;
  if (!s) return inv;
  if (s.type === "linear") return inv.map((f) => f / s.factor);
  // llama3: long wavelengths are slowed by `factor`, short ones kept, a smooth ramp between
  const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositions / s.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}
