// `dip finetune`: LoRA recovery (DIP.md). Trains adapters on gate/up/down under a sparsity method
// so that the sparse model wins back accuracy, validating on stories it never trains on and
// saving the best adapters (atomically) as PEFT-style safetensors + config.
import type { Argv, ArgumentsCamelCase } from "yargs";
import { basename } from "node:path";
import { applySparsity, openModel, readAllStories, UsageError, withModel, withSparsity, type ModelArgs, type SparsityArgs } from "./common.js";
import { tokenStream } from "../../eval.js";
import { specLabel } from "../../sparsity.js";
import { finetune, type EvalReport, type StepReport } from "../../finetune.js";
import { LOSS_KINDS, type LossKind } from "../../lora-train.js";
import { parseLoraTargets } from "../../lora.js";
import { writeAdaptersFile } from "../adapters-file.js";

interface Args extends ModelArgs, SparsityArgs {
  text?: string;
  rank: number;
  alpha?: number;
  targets: string;
  steps: number;
  lr: number;
  loss: string;
  "train-stories": string;
  "val-stories": string;
  window: number;
  accum: number;
  "eval-every": number;
  patience: number;
  seed: number;
  "weight-decay": number;
  clip: number;
  out: string;
  json: boolean;
}

/** The regular evaluation set (README of ../shared/data): never train on it. */
export const EVALUATION_STORIES: [number, number] = [0, 200];

/** Parses "a:b" (stories a..b-1) and checks it against the file's story count. */
export function parseStoryRange(s: string, what: string, nStories: number): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(s.trim());
  if (!m) throw new UsageError(`${what}: expected a range like 200:1800 (stories a..b-1), got "${s}"`);
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (b <= a) throw new UsageError(`${what}: empty range ${s}`);
  if (b > nStories) throw new UsageError(`${what}: range ${s} runs past the ${nStories} stories in the text`);
  return [a, b];
}

const overlaps = (x: [number, number], y: [number, number]) => x[0] < y[1] && y[0] < x[1];

export const finetuneCommand = {
  command: "finetune",
  describe: "train LoRA adapters (gate/up/down) that win back accuracy lost to sparsity",
  builder: (y: Argv) =>
    withSparsity(withModel(y))
      .option("text", { type: "string", describe: "stories separated by <|endoftext|> (default: TinyStories valid sample)" })
      .option("rank", { type: "number", default: 8, describe: "LoRA rank r" })
      .option("alpha", { type: "number", describe: "lora_alpha: the update is scaled by alpha / r (default r, a scale of 1)" })
      .option("targets", { type: "string", default: "gate,up,down", describe: "MLP linears to adapt" })
      .option("steps", { type: "number", default: 300, describe: "optimizer steps at most" })
      .option("lr", { type: "number", default: 1e-3, describe: "peak learning rate (warm-up, then cosine to a tenth)" })
      .option("loss", { type: "string", default: "kd", describe: "ce: next-token cross-entropy | kd: KL to the dense model (distillation)" })
      .option("train-stories", { type: "string", default: "200:1800", describe: "training stories a:b (never 0:200, the evaluation set)" })
      .option("val-stories", { type: "string", default: "1800:1841", describe: "validation stories c:d for early stopping (disjoint from training)" })
      .option("window", { type: "number", default: 128, describe: "tokens per training window" })
      .option("accum", { type: "number", default: 4, describe: "windows per optimizer step (gradient accumulation)" })
      .option("eval-every", { type: "number", default: 25, describe: "validate every K steps" })
      .option("patience", { type: "number", default: 4, describe: "stop after P validations without a new best" })
      .option("seed", { type: "number", default: 1, describe: "seed of the adapter init and the data order" })
      .option("weight-decay", { type: "number", default: 0, describe: "AdamW decoupled weight decay" })
      .option("clip", { type: "number", default: 1, describe: "clip the gradient to this global norm" })
      .option("out", { type: "string", demandOption: true, describe: "adapter file to write (.safetensors; the config also goes beside it as .adapter_config.json)" })
      .option("json", { type: "boolean", default: false, describe: "print the result as one JSON object" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    if (!LOSS_KINDS.includes(a.loss as LossKind)) throw new UsageError(`--loss must be one of ${LOSS_KINDS.join(", ")}, got ${a.loss}`);
    const loss = a.loss as LossKind;
    if (!a.out.toLowerCase().endsWith(".safetensors")) throw new UsageError(`--out must name a .safetensors file, got ${a.out}`);
    const { file, stories } = await readAllStories(a.text);
    const trainRange = parseStoryRange(a["train-stories"], "--train-stories", stories.length);
    const valRange = parseStoryRange(a["val-stories"], "--val-stories", stories.length);
    if (overlaps(trainRange, valRange)) throw new UsageError(`--train-stories ${a["train-stories"]} and --val-stories ${a["val-stories"]} overlap: validate on stories the training never sees`);
    if (!a.text && overlaps(trainRange, EVALUATION_STORIES)) {
      throw new UsageError(`--train-stories ${a["train-stories"]} includes stories 0..199, the evaluation set; train on 200 and later`);
    }
    const targets = parseLoraTargets(a.targets);
    const rank = a.rank;
    const alpha = a.alpha ?? rank;

    const o = await openModel(a);
    const spec = await applySparsity(o, a);
    const engine = o.engine;
    if (!engine.adapterSettings) engine.initAdapters({ rank, alpha, targets, seed: a.seed });
    const settings = engine.adapterSettings!;
    const train = tokenStream(o.tokenizer, stories.slice(...trainRange));
    const val = tokenStream(o.tokenizer, stories.slice(...valRange));
    const info = {
      base_model: o.model.name,
      loss,
      steps: a.steps,
      lr: a.lr,
      window: a.window,
      accum: a.accum,
      seed: a.seed,
      weight_decay: a["weight-decay"],
      clip: a.clip,
      text: basename(file),
      train_stories: a["train-stories"],
      val_stories: a["val-stories"],
    };
    process.stderr.write(
      `finetune ${o.model.name} | ${specLabel(spec)} | rank ${settings.rank}, alpha ${settings.alpha}, ${settings.targets.join("/")} | ` +
        `${loss} loss | ${train.length} training tokens (stories ${a["train-stories"]}), ${val.length} validation tokens (stories ${a["val-stories"]})\n`,
    );
    const tty = process.stderr.isTTY === true;
    let lastStep: StepReport | undefined;
    let lastEval = "";
    const bar = (s: StepReport) => {
      const width = 24;
      const filled = Math.round((width * s.step) / s.steps);
      return `step ${s.step}/${s.steps} [${"#".repeat(filled)}${".".repeat(width - filled)}] loss ${s.loss.toFixed(4)} | ${Math.round(s.tokPerSec)} tok/s${lastEval}`;
    };
    let lastDraw = 0;
    const result = await finetune(engine, {
      train,
      val,
      window: a.window,
      accum: a.accum,
      steps: a.steps,
      lr: a.lr,
      loss,
      weightDecay: a["weight-decay"],
      clipNorm: a.clip,
      evalEvery: a["eval-every"],
      patience: a.patience,
      seed: a.seed,
      onStep: (s) => {
        lastStep = s;
        const now = Date.now();
        if (tty && now - lastDraw > 200) {
          process.stderr.write(`\r${bar(s)}\x1b[K`);
          lastDraw = now;
        }
      },
      onEval: (e: EvalReport) => {
        lastEval = ` | val ppl ${e.ppl.toFixed(4)} (best ${e.best.ppl.toFixed(4)} @ ${e.best.step})`;
        const line = lastStep ? bar(lastStep) : `step 0/${a.steps}${lastEval}`;
        process.stderr.write(tty ? `\r${line}\x1b[K\n` : `${line}\n`);
      },
      onBest: async (adapters, e) => {
        await writeAdaptersFile(a.out, { ...adapters, sparsity: spec, info: { ...info, best_step: e.step, val_ppl: e.ppl } }, o.model.name);
      },
    });
    const out = {
      model: o.model.name,
      method: specLabel(spec),
      spec,
      rank: settings.rank,
      alpha: settings.alpha,
      targets: settings.targets,
      loss,
      out: a.out,
      adapter_bytes: engine.adapterBytes,
      parameters: result.parameters,
      steps: result.steps,
      stopped_early: result.stoppedEarly,
      val_stories: a["val-stories"],
      val_ppl_before: result.baselinePpl,
      val_ppl_best: result.best.ppl,
      best_step: result.best.step,
      train_tokens: result.trainTokens,
      train_seconds: result.trainSeconds,
      train_tok_s: result.tokPerSec,
      evals: result.evals,
    };
    if (a.json) process.stdout.write(JSON.stringify(out) + "\n");
    else
      process.stdout.write(
        `${out.method} + LoRA r${out.rank}: validation ppl ${out.val_ppl_before.toFixed(4)} -> ${out.val_ppl_best.toFixed(4)} (best at step ${out.best_step} of ${out.steps}` +
          `${out.stopped_early ? ", stopped early" : ""}); ${out.train_tokens} training tokens at ${Math.round(out.train_tok_s)} tok/s; wrote ${a.out}\n`,
      );
  },
};
