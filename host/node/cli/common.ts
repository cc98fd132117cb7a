// Options and set-up shared by the CLI commands: which model, which sparsity.

import type { Argv } from "yargs";
import { Engine, type WeightDtype } from "../../engine.js";
import { loadModelFile } from "../load.js";
import type { LoadedModel } from "../../model.js";
import { resolveModelPath, verifyAgainstManifest } from "../resolve.js";
import { METHODS, needsCalibration, normalizeSpec, type Method, type SparsitySpec } from "../../sparsity.js";
import { SentencePieceTokenizer } from "../../tokenizer/sentencepiece.js";
import { HfTokenizer } from "../../tokenizer/hf.js";
import type { Tokenizer } from "../../tokenizer/types.js";
import { calibrate, dataKey, modelKey } from "../../calibration.js";
import type { Calibration } from "../../thresholds.js";
import { readCalibration, writeCalibration } from "../calibration-file.js";
import { loadHfTokenizerFile, readHfTokenizerFiles } from "../hf-tokenizer.js";
import { ChatTemplate } from "../../chat.js";
import { parseGgufTokenizer } from "../../formats/gguf.js";
import { readAdaptersFile } from "../adapters-file.js";
import { readPredictorFile } from "../predictor-file.js";
import { cacheDir, dataDir } from "../paths.js";
import { splitStories } from "../../eval.js";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";

/** An error whose message is the whole story for the user (no stack trace). */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface ModelArgs extends BuildArgs {
  model?: string;
  tokenizer?: string;
  dtype?: string;
}

export interface BuildArgs {
  relaxed?: boolean;
  threads?: number;
}

/** --relaxed and --threads: which engine build runs (host/wasm.ts EngineBuild). */
export function withEngineBuild<T>(y: Argv<T>) {
  return y
    .option("relaxed", { type: "boolean", default: false, describe: "relaxed-SIMD build: fused multiply-add where the machine has it; results may differ between machines" })
    .option("threads", { type: "number", default: 1, describe: "threads sharing each big f32 product (wasm threads + workers); results are bit-identical to 1" });
}

/** Engine.create options of --relaxed / --threads (Engine.create checks them). */
export function buildOptions(a: BuildArgs): { relaxed: boolean; threads: number } {
  return { relaxed: a.relaxed ?? false, threads: a.threads ?? 1 };
}

/** What JSON outputs say about the build: deterministic is false for --relaxed. */
export function buildFields(engine: Engine): { deterministic: boolean; threads: number } {
  return { deterministic: engine.deterministic, threads: engine.threads };
}

/** The line text outputs add for a non-deterministic build ("" for the default build). */
export function buildNote(engine: Engine): string {
  return engine.deterministic ? "" : "relaxed SIMD: results may differ between machines";
}

export function withModel<T>(y: Argv<T>) {
  return y
    .option("model", { type: "string", describe: "model: .gguf, llama2.c .bin, or a Hugging Face folder / .safetensors; an https:// URL or hf:OWNER/REPO[@REV]/FILE (downloaded once into the model cache); default: stories260K from the models directory" })
    .option("dtype", { type: "string", describe: "weight precision in memory: f32 | q8 (int8 blocks of 32 with a scale) | native (a quantized GGUF's blocks as stored where the engine has kernels for them); default: native for a quantized GGUF, else f32" })
    .option("tokenizer", { type: "string", describe: "llama2.c tokenizer .bin (default: tokenizer.bin or tok<vocab>.bin beside the model), or a Hugging Face tokenizer.json" });
}

export interface SparsityArgs {
  method: string;
  keep?: number;
  "up-keep"?: number;
  "down-keep"?: number;
  gamma?: number;
  warmup?: boolean;
  "fixed-top-n"?: number;
  calib?: string;
  "calib-text"?: string;
  adapters?: string;
  predictor?: string;
}

export function withSparsity<T>(y: Argv<T>) {
  return y
    .option("method", { type: "string", default: "dense", describe: `sparsity method: ${METHODS.join("|")}` })
    .option("keep", { type: "number", describe: "glu, predictor: hidden keep; cats: gate keep; dip*: target MLP density, in (0, 1]" })
    .option("up-keep", { type: "number", describe: "dip*: input keep (with --down-keep, instead of --keep)" })
    .option("down-keep", { type: "number", describe: "dip*: hidden keep" })
    .option("gamma", { type: "number", describe: "dip-ca: penalty for uncached columns, in (0, 1]" })
    .option("warmup", { type: "boolean", describe: "dip-ca: ramp gamma in over the first tokens" })
    .option("fixed-top-n", { type: "number", describe: "dip-ca: strongest inputs exempt from the penalty" })
    .option("calib", { type: "string", describe: "cats/dip-threshold: calibration file (read if it exists, else written)" })
    .option("calib-text", { type: "string", describe: "calibration text (default: TinyStories stories 200..219, never the evaluation set)" })
    .option("adapters", { type: "string", describe: "LoRA adapters (.safetensors from `dip finetune`, or a PEFT folder) applied to gate/up/down" })
    .option("predictor", { type: "string", describe: "predictor: the trained predictor file (from `dip train-predictor`)" });
}

/** Sparsity flags that mean nothing for the dense model: given with it, they are refused rather than ignored. */
const SPARSE_ONLY_FLAGS = ["keep", "up-keep", "down-keep", "gamma", "fixed-top-n"] as const;

export function specFromArgs(a: SparsityArgs): SparsitySpec {
  const ignored = a.method === "dense" ? SPARSE_ONLY_FLAGS.find((f) => a[f] !== undefined) : undefined;
  if (ignored) throw new UsageError(`--${ignored} has no effect on the dense model; choose a sparsity --method (${METHODS.filter((m) => m !== "dense").join(", ")})`);
  return normalizeSpec({
    method: a.method as Method,
    keep: a.keep,
    upKeep: a["up-keep"],
    downKeep: a["down-keep"],
    gamma: a.gamma,
    warmup: a.warmup,
    fixedTopN: a["fixed-top-n"],
  });
}

export interface Opened {
  model: LoadedModel;
  tokenizer: Tokenizer;
  engine: Engine;
  path: string;
}

export async function openModel(a: ModelArgs): Promise<Opened> {
  const path = resolveModelPath(a.model);
  await verifyAgainstManifest(path);
  const { model, tokenizer } = await loadWithTokenizer(path, a.tokenizer);
  const engine = await Engine.create(model, { dtype: (a.dtype ?? model.storedDtype ?? "f32") as WeightDtype, ...buildOptions(a) });
  return { model, tokenizer, engine, path };
}

/**
 * Loads a model and its tokenizer. `tokenizer` may name a tokenizer.json (for any model format)
 * or a llama2.c tokenizer .bin (for a llama2.c checkpoint).
 */
export async function loadWithTokenizer(path: string, tokenizer?: string): Promise<{ model: LoadedModel; tokenizer: Tokenizer }> {
  const hfTokenizer = tokenizer?.toLowerCase().endsWith(".json") ? tokenizer : undefined;
  const model = await loadModelFile(path, { tokenizer: hfTokenizer ? undefined : tokenizer });
  if (hfTokenizer) model.tokenizerJson = hfTokenizer;
  return { model, tokenizer: await tokenizerFor(model, path) };
}

/** The parts of a model a tokenizer and a chat template come from. */
export type TokenizerSources = Pick<LoadedModel, "vocab" | "tokenizerJson" | "hfTokenizer" | "chatTemplate"> & { config: { vocabSize: number } };

/**
 * A model's tokenizer without its weights when it can be had so (a GGUF's header), else from
 * the loaded model: for `dip encode` and `dip template`, whatever the file's tensor types.
 */
export async function loadTokenizerOnly(path: string, tokenizer?: string): Promise<{ model: TokenizerSources; tokenizer: Tokenizer }> {
  if (tokenizer !== undefined || !path.toLowerCase().endsWith(".gguf")) return loadWithTokenizer(path, tokenizer);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const parts = parseGgufTokenizer(bytes, path);
  const rows = parts.vocab?.pieces.length ?? 0;
  const model: TokenizerSources = { ...parts, config: { vocabSize: rows } };
  if (parts.hfTokenizer) {
    const t = HfTokenizer.fromFiles(parts.hfTokenizer, `${path} (tokenizer.ggml.*)`);
    model.config.vocabSize = t.vocabSize;
    return { model, tokenizer: t };
  }
  return { model, tokenizer: await tokenizerFor(model, path) };
}

/** The model's tokenizer: its tokenizer.json when it has one, else its SentencePiece vocabulary. */
export async function tokenizerFor(model: TokenizerSources, path: string): Promise<Tokenizer> {
  let tokenizer: Tokenizer;
  if (model.tokenizerJson) tokenizer = await loadHfTokenizerFile(model.tokenizerJson);
  else if (model.hfTokenizer) tokenizer = HfTokenizer.fromFiles(model.hfTokenizer, `${path} (its tokenizer.json)`);
  else if (model.vocab) tokenizer = new SentencePieceTokenizer(model.vocab);
  else throw new UsageError(`${path}: the model has no vocabulary; pass --tokenizer (a llama2.c .bin or a tokenizer.json)`);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new UsageError(`${path}: the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocabulary of ${model.config.vocabSize}`);
  }
  return tokenizer;
}

export const DEFAULT_CALIBRATION_STORIES: [number, number] = [200, 220];

/**
 * Applies the sparsity spec, calibrating cats/dip-threshold when needed. Calibrations are cached
 * in .cache/ (or --calib F) keyed by model, method, keep and data.
 */
export async function applySparsity(o: Opened, a: SparsityArgs): Promise<SparsitySpec> {
  const spec = specFromArgs(a);
  await loadPredictor(o, a);
  let calibration: Calibration | undefined;
  if (needsCalibration(spec.method)) calibration = await calibrationFor(o, spec, a);
  o.engine.setSparsity(spec, calibration);
  if (a.adapters) o.engine.setAdapters(await readAdaptersFile(a.adapters));
  return spec;
}

/** --predictor F: loads the predictor into the engine (refused with any method but predictor, which needs it). */
export async function loadPredictor(o: Opened, a: SparsityArgs & { methods?: string }): Promise<void> {
  const usesPredictor = a.method === "predictor" || (a.methods ?? "").split(",").map((m) => m.trim()).includes("predictor");
  if (a.predictor === undefined) return;
  if (!usesPredictor) throw new UsageError(`--predictor applies to --method predictor only`);
  o.engine.setPredictor(await readPredictorFile(a.predictor), a.predictor);
}

async function calibrationFor(o: Opened, spec: SparsitySpec, a: SparsityArgs): Promise<Calibration> {
  const textFile = a["calib-text"] ?? defaultStoriesFile();
  if (!existsSync(textFile)) throw new UsageError(`calibration text not found: ${textFile} (pass --calib-text)`);
  const stories = splitStories(readFileSync(textFile, "utf8"));
  const [from, to] = a["calib-text"] ? [0, Math.min(20, stories.length)] : DEFAULT_CALIBRATION_STORIES;
  // each story its own sequence, cut to the context
  const sequences = stories.slice(from, to).map((s) => o.tokenizer.encode(s, { bos: true }).slice(0, o.engine.config.seqLen));
  if (sequences.length === 0) throw new UsageError(`${textFile}: no stories to calibrate on`);
  const key = `${modelKey(o.engine)}-${spec.method}-${spec.keep}-${dataKey(sequences.flat())}`.replace(/[^A-Za-z0-9_.-]/g, "_");
  const file = a.calib ?? resolve(cacheDir(), "calibration", `${key}.json`);
  if (existsSync(file)) {
    const cal = await readCalibration(file, o.engine, spec);
    if (a.calib || cal.dataKey === dataKey(sequences.flat())) return cal;
  }
  process.stderr.write(`calibrating ${spec.method} at keep ${spec.keep} on ${sequences.length} stories...\n`);
  const cal = calibrate(o.engine, spec, sequences);
  await writeCalibration(file, cal);
  return cal;
}

/** Parses "1,2,3" into token ids. */
export function parseIdList(s: string, what: string): number[] {
  const parts = s.split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  const ids = parts.map(Number);
  const bad = parts.findIndex((p, i) => !/^-?\d+$/.test(p) || !Number.isSafeInteger(ids[i]));
  if (bad >= 0) throw new UsageError(`${what}: "${parts[bad]}" is not an integer token id`);
  if (ids.length === 0) throw new UsageError(`${what}: no token ids given`);
  return ids;
}

/** Progress on stderr (never stdout, so --json stays clean); quiet when stderr is not a TTY and CI is set. */
export function progress(label: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - last < 500 && done < total) return;
    last = now;
    const pct = total > 0 ? ((100 * done) / total).toFixed(1) : "100";
    process.stderr.write(`\r${label}: ${done}/${total} (${pct}%)${done >= total ? "\n" : ""}`);
  };
}

/** The default evaluation text: the TinyStories validation sample in the models/data directory. */
export const defaultStoriesFile = (): string => resolve(dataDir(), "tinystories", "valid-sample.txt");

/** Every story of a text file (default: the evaluation text), with a clear error if unreadable. */
export async function readAllStories(file: string | undefined): Promise<{ file: string; stories: string[] }> {
  const path = file ?? defaultStoriesFile();
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new UsageError(`--text: cannot read ${path}`);
  }
  return { file: path, stories: splitStories(text) };
}

/** --text, --stories, --first-story, --window: the stories a simulator run evaluates (simulate, frontier). */
export function withStories<T>(y: Argv<T>) {
  return y
    .option("text", { type: "string", describe: "stories separated by <|endoftext|> (default: TinyStories valid sample)" })
    .option("stories", { type: "number", default: 200 })
    .option("first-story", { type: "number", default: 0 })
    .option("window", { type: "number", describe: "tokens per sequence (default: the model's context)" });
}

/**
 * Stories first..first+count of a text file (stories separated by <|endoftext|>), with clear
 * errors for an unreadable file, a bad count or an empty range.
 */
export async function readStories(file: string | undefined, first: number, count: number): Promise<{ file: string; stories: string[] }> {
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--stories must be a positive integer, got ${count}`);
  if (!Number.isInteger(first) || first < 0) throw new UsageError(`--first-story must be a non-negative integer, got ${first}`);
  const { file: path, stories: all } = await readAllStories(file);
  const stories = all.slice(first, first + count);
  if (stories.length === 0) throw new UsageError(`${path}: no stories in range ${first}..${first + count - 1} (the file has ${all.length})`);
  return { file: path, stories };
}

/** --prompt / --prompt-file: the prompt text (a file for prompts too long for an argument). */
export function withPrompt<T>(y: Argv<T>, describe = "prompt text") {
  return y
    .option("prompt", { type: "string", describe })
    .option("prompt-file", { type: "string", describe: "read the prompt from this file (UTF-8) instead of --prompt" });
}

export async function promptFromArgs(a: { prompt?: string; "prompt-file"?: string }): Promise<string | undefined> {
  if (a.prompt !== undefined && a["prompt-file"] !== undefined) throw new UsageError("give --prompt or --prompt-file, not both");
  const file = a["prompt-file"];
  if (file === undefined) return a.prompt;
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`--prompt-file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** --chat-template F: a Jinja chat template file instead of the model's own. */
export function withChatTemplate<T>(y: Argv<T>) {
  return y.option("chat-template", { type: "string", describe: "a Jinja chat template file (default: the model's own, e.g. a GGUF's tokenizer.chat_template)" });
}

/**
 * The chat template for a model: --chat-template F, else the model's own (a GGUF's
 * tokenizer.chat_template, or chat_template in the tokenizer_config.json beside a tokenizer.json).
 */
export async function chatTemplateFor(model: TokenizerSources, tokenizer: Tokenizer, path: string, templateFile?: string): Promise<ChatTemplate> {
  if (templateFile !== undefined) {
    let source: string;
    try {
      source = await readFile(templateFile, "utf8");
    } catch (e) {
      throw new UsageError(`--chat-template: cannot read ${templateFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return ChatTemplate.forTokenizer(source, tokenizer, templateFile);
  }
  if (model.chatTemplate !== undefined) return ChatTemplate.forTokenizer(model.chatTemplate, tokenizer, `${path}: tokenizer.chat_template`);
  const config = (model.hfTokenizer?.tokenizerConfig ?? (model.tokenizerJson ? (await readHfTokenizerFiles(model.tokenizerJson)).tokenizerConfig : undefined)) as { chat_template?: unknown } | undefined;
  const source = config?.chat_template;
  if (typeof source === "string") return ChatTemplate.forTokenizer(source, tokenizer, `${path}: tokenizer_config.json chat_template`);
  throw new UsageError(`${path}: the model has no chat template (no tokenizer.chat_template in a GGUF, no chat_template in tokenizer_config.json); pass --chat-template F`);
}
