// `dip train-predictor`: the Deja Vu style baseline (docs/predictor.md). Runs the dense model over
// training stories, then trains per layer a low-rank predictor of which hidden units are in the
// dense top-k of |h| (in wasm), and writes it for `--method predictor --predictor P`.
import type { Argv, ArgumentsCamelCase } from "yargs";
import { basename } from "node:path";
import { openModel, readAllStories, UsageError, withModel, type ModelArgs } from "./common.js";
import { EVALUATION_STORIES, parseStoryRange } from "./finetune.js";
import { trainPredictor } from "../../predictor-train.js";
import { writePredictorFile } from "../predictor-file.js";

interface Args extends ModelArgs {
  text?: string;
  rank: number;
  "target-keep": number;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  "train-stories": string;
  "val-stories": string;
  out: string;
  json: boolean;
}

const overlaps = (x: [number, number], y: [number, number]) => x[0] < y[1] && y[0] < x[1];

export const trainPredictorCommand = {
  command: "train-predictor",
  describe: "train the Deja Vu style hidden-unit predictor (per layer scores = B (A x)) for --method predictor",
  builder: (y: Argv) =>
    withModel(y)
      .option("text", { type: "string", describe: "stories separated by <|endoftext|> (default: TinyStories valid sample)" })
      .option("rank", { type: "number", default: 16, describe: "rank r of the predictor (A is r x dim, B is hidden x r)" })
      .option("target-keep", { type: "number", default: 0.5, describe: "training target: a unit is active when it is in the dense top-(keep * hidden) of |h|" })
      .option("steps", { type: "number", default: 400, describe: "AdamW steps per layer" })
      .option("batch", { type: "number", default: 64, describe: "tokens per step" })
      .option("lr", { type: "number", default: 3e-3, describe: "AdamW learning rate" })
      .option("seed", { type: "number", default: 1, describe: "seed of the initialisation and the batches" })
      .option("train-stories", { type: "string", default: "220:420", describe: "training stories a:b (never 0:200, the evaluation set)" })
      .option("val-stories", { type: "string", default: "1800:1841", describe: "held-out stories c:d for the reported loss and recall" })
      .option("out", { type: "string", demandOption: true, describe: "predictor file to write (.safetensors)" })
      .option("json", { type: "boolean", default: false, describe: "print the per-layer report as one JSON object" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    if (!a.out.toLowerCase().endsWith(".safetensors")) throw new UsageError(`--out must name a .safetensors file, got ${a.out}`);
    const { file, stories } = await readAllStories(a.text);
    const trainRange = parseStoryRange(a["train-stories"], "--train-stories", stories.length);
    const valRange = parseStoryRange(a["val-stories"], "--val-stories", stories.length);
    if (overlaps(trainRange, valRange)) throw new UsageError(`--train-stories ${a["train-stories"]} and --val-stories ${a["val-stories"]} overlap`);
    if (!a.text && overlaps(trainRange, EVALUATION_STORIES)) throw new UsageError(`--train-stories ${a["train-stories"]} includes stories 0..199, the evaluation set; train on 200 and later`);
    const o = await openModel(a);
    const seqLen = o.engine.config.seqLen;
    const encode = (r: [number, number]) => stories.slice(...r).map((s) => o.tokenizer.encode(s, { bos: true }).slice(0, seqLen));
    const sequences = encode(trainRange);
    const validation = encode(valRange);
    process.stderr.write(`train-predictor ${o.model.name} | rank ${a.rank}, target keep ${a["target-keep"]} | ${sequences.flat().length} training tokens, ${validation.flat().length} validation tokens\n`);
    const { predictor, layers } = trainPredictor(o.engine, {
      sequences,
      validation,
      rank: a.rank,
      targetKeep: a["target-keep"],
      steps: a.steps,
      batch: a.batch,
      lr: a.lr,
      seed: a.seed,
      onLayer: (r) =>
        process.stderr.write(`layer ${r.layer}: validation loss ${r.valLossBefore.toFixed(4)} -> ${r.valLossAfter.toFixed(4)}, recall of the dense top-k ${r.valRecallBefore.toFixed(3)} -> ${r.valRecallAfter.toFixed(3)}\n`),
    });
    const training = { text: basename(file), train_stories: a["train-stories"], val_stories: a["val-stories"], steps: a.steps, batch: a.batch, lr: a.lr, seed: a.seed };
    await writePredictorFile(a.out, { ...predictor, baseModel: o.model.name, training });
    const result = { out: a.out, base_model: o.model.name, rank: a.rank, target_keep: a["target-keep"], ...training, layers: layers.map((r) => ({ layer: r.layer, val_loss_before: r.valLossBefore, val_loss_after: r.valLossAfter, val_recall_before: r.valRecallBefore, val_recall_after: r.valRecallAfter })) };
    if (a.json) process.stdout.write(JSON.stringify(result) + "\n");
    else process.stdout.write(`wrote ${a.out}\n`);
  },
};
