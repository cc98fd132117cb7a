// `dip convert`: any model we read (GGUF, llama2.c, Hugging Face) -> GGUF v3 (f32, Q8_0, Q4_0 or
// the Q4_K_M mixture, with llama-quantize's per-tensor type rules), or a
// .dipstream; with --adapters, LoRA adapters merged into the weights first (host/lora-merge.ts).
// Written to a temporary file beside the output and renamed into place, so a failed or
// interrupted conversion never leaves a half-written GGUF under the requested name.
import type { Argv, ArgumentsCamelCase } from "yargs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { loadModelFile } from "../load.js";
import { GGUF_OUTPUT_TYPES, type GgufOutputType, planGguf, tensorBytes } from "../../formats/gguf-writer.js";
import { ggmlTypeName } from "../../formats/ggml-blocks.js";
import type { LoadedModel } from "../../model.js";
import { SYNTHETIC_SHAPES, isSyntheticShape, syntheticModel, syntheticVocab } from "../../synthetic.js";
import { UsageError } from "./common.js";
import { writeStreamFile } from "../stream-file.js";
import { STREAM_DTYPES, type StreamDtype } from "../../stream/format.js";
import { readHfTokenizerFiles } from "../hf-tokenizer.js";
import { writeFileAtomically } from "../atomic-file.js";
import { modelInputFiles, refuseOverwritingInputs } from "./outputs.js";
import { readAdaptersFile } from "../adapters-file.js";
import { mergeAdapters } from "../../lora-merge.js";
import type { LoraTarget } from "../../lora.js";

interface Args {
  model?: string;
  synthetic?: string;
  out: string;
  dtype: string;
  tokenizer?: string;
  adapters?: string;
  json: boolean;
  "stream-layout"?: boolean;
}


export interface ConvertSummary {
  out: string;
  bytes: number;
  tensors: number;
  /** tensors per ggml type name, as `dip info` and the fixtures' manifest count them */
  tensor_types: Record<string, number>;
  /** matrices whose rows do not fit their type's blocks: "name: WANTED -> WRITTEN (n values per row)" */
  fallbacks: string[];
  tokenizer_embedded: boolean;
  /** the LoRA adapters merged into the weights (--adapters), or null */
  adapters_merged: MergedAdapters | null;
}

export interface MergedAdapters {
  file: string;
  rank: number;
  alpha: number;
  targets: LoraTarget[];
}

export const convertCommand = {
  command: "convert",
  describe: "write a model (GGUF, llama2.c .bin, Hugging Face folder or .safetensors) as GGUF v3 or .dipstream, optionally with LoRA adapters merged in",
  builder: (y: Argv) =>
    y
      .option("model", { type: "string", describe: "input model: .gguf, llama2.c .bin, Hugging Face folder or .safetensors" })
      .option("synthetic", { type: "string", describe: `instead of --model: seeded random weights of a real shape (${SYNTHETIC_SHAPES.join("|")}) with a byte-level stand-in vocabulary (peer benchmarks)` })
      .option("out", { type: "string", demandOption: true, describe: "output .gguf file (written atomically; never the input)" })
      .option("dtype", { type: "string", default: "f32", describe: `tensor types: ${GGUF_OUTPUT_TYPES.join("|")} (weight matrices as llama-quantize types them: q4_k_m = Q4_K with Q6_K attn_v/ffn_down in some layers and output; q8 = q8_0; norms f32)` })
      .option("tokenizer", { type: "string", describe: "llama2.c tokenizer .bin for a .bin checkpoint (embedded in the GGUF)" })
      .option("adapters", { type: "string", describe: "LoRA adapters (.safetensors from `dip finetune`, or a PEFT folder) merged into gate/up/down: W + (alpha/r) B A, no bytes added (docs/lora.md)" })
      .option("json", { type: "boolean", default: false, describe: "print the summary as JSON" })
      .option("stream-layout", { type: "boolean", default: false, describe: "write a .dipstream file instead: one contiguous block per MLP column, for --stream (docs/stream-format.md)" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    if (!GGUF_OUTPUT_TYPES.includes(a.dtype as GgufOutputType)) throw new UsageError(`--dtype must be one of ${GGUF_OUTPUT_TYPES.join(", ")}, got ${a.dtype}`);
    if ((a.model === undefined) === (a.synthetic === undefined)) throw new UsageError("give exactly one of --model FILE and --synthetic SHAPE");
    let model: LoadedModel;
    if (a.synthetic !== undefined) {
      if (!isSyntheticShape(a.synthetic)) throw new UsageError(`--synthetic must be one of ${SYNTHETIC_SHAPES.join(", ")}, got ${a.synthetic}`);
      model = syntheticModel(a.synthetic);
      model.vocab = syntheticVocab(model.config.vocabSize);
    } else {
      const input = resolve(a.model!);
      await stat(input).catch(() => {
        throw new UsageError(`model not found: ${input}`);
      });
      model = await loadModelFile(input, { tokenizer: a.tokenizer });
    }
    const inputs = [...(a.tokenizer ? [resolve(a.tokenizer)] : []), ...(a.adapters ? [resolve(a.adapters)] : [])];
    let merged: MergedAdapters | null = null;
    if (a.adapters !== undefined) {
      const adapters = await readAdaptersFile(resolve(a.adapters));
      model = mergeAdapters(model, adapters, a.adapters);
      merged = { file: resolve(a.adapters), rank: adapters.rank, alpha: adapters.alpha, targets: adapters.targets };
    }
    if (a["stream-layout"]) return writeStreamLayout(model, resolve(a.out), a, inputs, merged);
    const summary = await convertModel(model, resolve(a.out), a.dtype as GgufOutputType, inputs, merged);
    if (a.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
      return;
    }
    const lines = [
      `wrote ${summary.out}: ${summary.tensors} tensors (${Object.entries(summary.tensor_types).map(([t, n]) => `${n} ${t}`).join(", ")}), ${(summary.bytes / 1e6).toFixed(3)} MB, from ${model.source} (${model.format})`,
    ];
    if (merged) lines.push(mergedLine(merged));
    if (summary.fallbacks.length > 0) lines.push(`fallback types (rows not a whole number of blocks, as llama-quantize): ${groupFallbacks(summary.fallbacks)}`);
    if (!summary.tokenizer_embedded) {
      lines.push(
        model.tokenizerJson
          ? `tokenizer not embedded (GGUF holds SentencePiece vocabularies only): run the GGUF with --tokenizer ${model.tokenizerJson}`
          : "the model has no vocabulary: none embedded",
      );
    }
    process.stdout.write(lines.join("\n") + "\n");
  },
};

/** Writes `model` as GGUF to `out` (atomically), refusing to overwrite any file it was read from. */
export async function convertModel(model: LoadedModel, out: string, type: GgufOutputType, extraInputs: string[] = [], merged: MergedAdapters | null = null): Promise<ConvertSummary> {
  await refuseInputOverwrite(model, out, extraInputs);
  const plan = planGguf(model, type);
  await writeFileAtomically(out, async (fh) => {
    await fh.write(plan.header);
    for (const t of plan.tensors) await fh.write(tensorBytes(t));
  });
  const tensorTypes: Record<string, number> = {};
  for (const t of plan.tensors) tensorTypes[ggmlTypeName(t.type)] = (tensorTypes[ggmlTypeName(t.type)] ?? 0) + 1;
  return {
    out,
    bytes: plan.bytes,
    tensors: plan.tensors.length,
    tensor_types: tensorTypes,
    fallbacks: plan.fallbacks,
    tokenizer_embedded: model.vocab !== undefined,
    adapters_merged: merged,
  };
}

function mergedLine(m: MergedAdapters): string {
  return `merged LoRA adapters ${m.file} (rank ${m.rank}, alpha ${m.alpha}, ${m.targets.join("/")}) into the weights`;
}

/** Refuses an --out that is the model, one of its companions, its tokenizer, or a directory. */
async function refuseInputOverwrite(model: LoadedModel, out: string, extra: string[]): Promise<void> {
  const inputs = [...extra, ...(model.tokenizerJson ? [model.tokenizerJson] : []), ...(await modelInputFiles(model.source))];
  await refuseOverwritingInputs("out", out, inputs);
}

/** `--stream-layout`: the model as a .dipstream file (f32, or q8: docs/stream-format.md). */
async function writeStreamLayout(model: LoadedModel, out: string, a: Args, inputs: string[], merged: MergedAdapters | null): Promise<void> {
  const dtype = a.dtype as StreamDtype;
  if (!STREAM_DTYPES.includes(dtype)) throw new UsageError(`--stream-layout writes --dtype ${STREAM_DTYPES.join(" or ")}, got --dtype ${a.dtype}`);
  await refuseInputOverwrite(model, out, inputs);
  // the file carries its tokenizer: a .dipstream never names another file to open
  if (model.tokenizerJson && !model.hfTokenizer) model = { ...model, hfTokenizer: await readHfTokenizerFiles(model.tokenizerJson) };
  const { bytes, header } = await writeStreamFile(model, out, dtype);
  const c = header.config;
  const summary = { out, bytes, format: "dipstream", version: header.version, dtype: header.dtype, static_tensors: header.tensors.length, column_blocks: c.nLayers * (c.dim + c.hiddenDim), tokenizer_embedded: header.vocab !== undefined || header.hf_tokenizer !== undefined, adapters_merged: merged };
  process.stdout.write(
    a.json
      ? JSON.stringify(summary, null, 2) + "\n"
      : `wrote ${out}: ${(bytes / 1e6).toFixed(3)} MB (${header.dtype}), ${summary.static_tensors} static tensors, ${summary.column_blocks} MLP column blocks, from ${model.source} (${model.format})\n` +
          (merged ? mergedLine(merged) + "\n" : ""),
  );
}

/**
 * "blk.0.attn_q.weight: Q4_K -> Q5_0 (896 values per row)" entries grouped by fallback, each with its
 * tensor count and kinds (the layer number left out), so a 24-layer model gets a few lines' worth
 * instead of one entry per tensor (--json keeps the full list).
 */
function groupFallbacks(fallbacks: string[]): string {
  const groups = new Map<string, { count: number; kinds: Set<string> }>();
  for (const entry of fallbacks) {
    const at = entry.indexOf(": ");
    const name = entry.slice(0, at);
    const group = groups.get(entry.slice(at + 2)) ?? { count: 0, kinds: new Set<string>() };
    group.count++;
    group.kinds.add(name.replace(/^blk\.\d+\./, "blk.*.").replace(/\.weight$/, ""));
    groups.set(entry.slice(at + 2), group);
  }
  return [...groups].map(([fallback, g]) => `${fallback}: ${g.count} tensor${g.count === 1 ? "" : "s"} (${[...g.kinds].join(", ")})`).join("; ");
}
