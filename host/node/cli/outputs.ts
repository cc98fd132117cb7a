// The one check every output flag goes through before a command runs: an output path must not be
// a directory, nor any of the command's inputs (compared by real path, so links and ../ count),
// so `logits --out model.gguf` cannot destroy the model it reads.
import { readdir, realpath, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { defaultModelPath } from "../resolve.js";
import { UsageError } from "./common.js";

/** Flags that name a file a command writes. */
const OUTPUT_FLAGS = ["out", "trace-out", "report"] as const;
/** Flags (and positionals) that name files a command reads (--calib is read when it exists). */
const INPUT_FLAGS = ["model", "tokenizer", "text", "calib", "calib-text", "adapters", "predictor", "trace", "file", "files"] as const;

/**
 * The files a model is read from: the file itself and the companions its loader may read: a
 * Hugging Face folder's (or .safetensors file's) shards, config.json and tokenizer.json; a
 * llama2.c checkpoint's tokenizer.bin / tok<vocab>.bin.
 */
export async function modelInputFiles(model: string): Promise<string[]> {
  const isDir = (await stat(model).catch(() => undefined))?.isDirectory() ?? false;
  const companion = isDir || model.endsWith(".safetensors") ? /\.(safetensors|json)$/ : model.endsWith(".bin") ? /^tok.*\.bin$/ : undefined;
  if (!companion) return [model];
  const dir = isDir ? model : dirname(model);
  const names = await readdir(dir).catch(() => [] as string[]);
  return [model, ...names.filter((f) => companion.test(f)).map((f) => join(dir, f))];
}

/** Throws a UsageError if `out` (given as `--flag`) is a directory or one of `inputs`. */
export async function refuseOverwritingInputs(flag: string, out: string, inputs: readonly string[]): Promise<void> {
  const outReal = await realpath(out).catch(() => undefined);
  if (outReal === undefined) return; // nothing there yet: cannot be an input
  if ((await stat(outReal)).isDirectory()) throw new UsageError(`--${flag} ${out} is a directory, expected a file name`);
  for (const f of inputs) {
    if ((await realpath(f).catch(() => undefined)) === outReal) throw new UsageError(`--${flag} ${out} is an input of this command (${f}); refusing to overwrite it`);
  }
}

/** Every input file named by a command's arguments (the default model when --model is absent). */
async function inputsOf(argv: Record<string, unknown>): Promise<string[]> {
  const named = INPUT_FLAGS.flatMap((f) => [argv[f]].flat()).filter((v): v is string => typeof v === "string" && v !== "");
  const model = typeof argv.model === "string" ? resolve(argv.model) : argv.synthetic === undefined ? defaultModelOrNone() : undefined;
  return [...named, ...(model ? await modelInputFiles(model) : [])];
}

function defaultModelOrNone(): string | undefined {
  try {
    return defaultModelPath();
  } catch {
    return undefined; // no default model here: the command reports that itself
  }
}

/** yargs middleware: refuses any output flag that names an input of the same command. */
export async function checkOutputFlags(argv: Record<string, unknown>): Promise<void> {
  const outputs = OUTPUT_FLAGS.filter((f) => typeof argv[f] === "string");
  if (outputs.length === 0) return;
  const inputs = await inputsOf(argv);
  for (const f of outputs) await refuseOverwritingInputs(f, argv[f] as string, inputs);
}
