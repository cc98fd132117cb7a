// `dip footprint`: bytes per weight group of a preset model (SIMULATOR.md "Footprints").
import type { Argv, ArgumentsCamelCase } from "yargs";
import { DEFAULT_BITS, PRECISION_GROUPS, PRESET_NAMES, footprint, presetByName, type Footprint, type Precision } from "../../sim/presets.js";
import { parseBits } from "../../sim/devices.js";
import { loadDefaultEngineWasm } from "../../wasm.js";
import { loadModelFile } from "../load.js";
import { resolveModelPath } from "../resolve.js";

export { footprintFromConfig } from "../../sim/presets.js";

export interface FootprintArgs {
  preset?: string;
  model?: string;
  bits?: string;
  seq?: number;
  json: boolean;
}

/** --bits, --seq and --json (shared with the lead's --model variant). */
export function withFootprintOptions<T>(y: Argv<T>) {
  return y
    .option("bits", { type: "string", describe: "bits per group, e.g. embedding=8,lm_head=8,attention=4,mlp=4,kv_cache=8 (any subset)" })
    .option("seq", { type: "number", describe: "KV cache length in tokens (default: the model's context length)" })
    .option("json", { type: "boolean", default: false, describe: "print JSON (bytes per group)" });
}

/** The JSON `footprint` prints: bytes per group under the spec's names, plus what they assume. */
export function footprintJson(model: string, fp: Footprint, bits: Precision, seqLen: number) {
  return { model, seq_len: seqLen, bits, embedding: fp.embedding, lm_head: fp.lm_head, attention: fp.attention, mlp: fp.mlp, kv_cache: fp.kv_cache, total: fp.total };
}

export function formatFootprintTable(model: string, fp: Footprint, bits: Precision, seqLen: number): string {
  const lines = [`${model}, KV cache at ${seqLen} tokens (bytes are powers of 10: GB = 1e9)`, ""];
  const pad = (s: string, n: number, right = false) => (right ? s.padStart(n) : s.padEnd(n));
  lines.push(`${pad("group", 10)} ${pad("bits", 5, true)} ${pad("bytes", 16, true)} ${pad("GB", 9, true)} ${pad("share", 7, true)}`);
  for (const g of PRECISION_GROUPS) {
    const b = fp[g];
    lines.push(`${pad(g, 10)} ${pad(String(bits[g]), 5, true)} ${pad(Math.round(b).toString(), 16, true)} ${pad((b / 1e9).toFixed(3), 9, true)} ${pad(((100 * b) / fp.total).toFixed(1) + "%", 7, true)}`);
  }
  lines.push(`${pad("total", 10)} ${pad("", 5)} ${pad(Math.round(fp.total).toString(), 16, true)} ${pad((fp.total / 1e9).toFixed(3), 9, true)} ${pad("100.0%", 7, true)}`);
  return lines.join("\n") + "\n";
}

/** Prints a footprint as JSON or a table on stdout. */
export function printFootprint(model: string, fp: Footprint, bits: Precision, seqLen: number, json: boolean): void {
  process.stdout.write(json ? JSON.stringify(footprintJson(model, fp, bits, seqLen), null, 2) + "\n" : formatFootprintTable(model, fp, bits, seqLen));
}

export const footprintCommand = {
  command: "footprint",
  describe: "weight and KV-cache bytes per group (embedding, lm_head, attention, mlp, kv_cache) of a preset or a model file",
  builder: (y: Argv) =>
    withFootprintOptions(
      y
        .option("preset", { type: "string", describe: `model preset: ${PRESET_NAMES.join("|")}` })
        .option("model", { type: "string", describe: "a model file: its own config" })
        .conflicts("preset", "model"),
    ),
  handler: async (a: ArgumentsCamelCase<FootprintArgs>) => {
    if (!a.preset && !a.model) throw new Error(`footprint: give --preset (${PRESET_NAMES.join(", ")}) or --model P`);
    let name = a.preset ?? "";
    let dims;
    if (a.model) {
      const model = await loadModelFile(resolveModelPath(a.model));
      const c = model.config;
      dims = { nLayers: c.nLayers, vocabSize: c.vocabSize, dim: c.dim, hiddenDim: c.hiddenDim, nHeads: c.nHeads, nKvHeads: c.nKvHeads, seqLen: c.seqLen, gated: true };
      name = model.name;
    } else dims = presetByName(a.preset!);
    const bits = a.bits !== undefined ? parseBits(a.bits) : { ...DEFAULT_BITS };
    const seq = a.seq ?? dims.seqLen;
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`--seq must be a non-negative integer, got ${a.seq}`);
    printFootprint(name, footprint(await loadDefaultEngineWasm(), dims, bits, seq), bits, seq, a.json);
  },
};
