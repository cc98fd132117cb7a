import type { Argv, ArgumentsCamelCase } from "yargs";
import { applySparsity, buildFields, buildNote, openModel, progress, readStories, withEngineBuild, withModel, withSparsity, type ModelArgs, type SparsityArgs } from "./common.js";
import { perplexity, tokenStream } from "../../eval.js";
import { specLabel } from "../../sparsity.js";
import { MaskRecorder } from "../../sim/run.js";
import { writeTraceFile } from "../trace-file.js";
import { formatStreamSummary, openStreamed, resetStreamCounters, streamReport, withStream, type StreamArgs } from "./stream-options.js";

interface Args extends ModelArgs, SparsityArgs, StreamArgs {
  text?: string;
  stories: number;
  "first-story": number;
  window?: number;
  json: boolean;
  "trace-out"?: string;
}

export const evalCommand = {
  command: "eval",
  describe: "perplexity over stories of a text file (protocol of fixtures/stories260K/perplexity.json)",
  builder: (y: Argv) =>
    withEngineBuild(withStream(withSparsity(withModel(y))))
      .option("text", { type: "string", describe: "text file of stories separated by <|endoftext|> (default: TinyStories valid sample)" })
      .option("stories", { type: "number", default: 200, describe: "how many stories" })
      .option("first-story", { type: "number", default: 0, describe: "index of the first story" })
      .option("window", { type: "number", describe: "tokens per window (default: the model's context)" })
      .option("json", { type: "boolean", default: false })
      .option("trace-out", { type: "string", describe: "write the masks of the run as a trace (replay with `dip simulate --trace`)" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const { file, stories } = await readStories(a.text, a["first-story"], a.stories);
    const streamed = await openStreamed(a);
    const o = streamed ?? (await openModel(a));
    const spec = await applySparsity(o, a);
    const stream = tokenStream(o.tokenizer, stories);
    const recorder = a["trace-out"] || streamed ? new MaskRecorder(o.engine) : undefined;
    let sequence = -1;
    if (streamed) resetStreamCounters(streamed);
    const t0 = performance.now();
    const r = perplexity(o.engine, stream, {
      window: a.window,
      onProgress: progress("eval"),
      onStep: recorder
        ? ({ sequence: s }) => {
            if (s !== sequence) recorder.beginSequence(0), (sequence = s);
            recorder.afterStep();
          }
        : undefined,
    });
    const seconds = (performance.now() - t0) / 1000;
    const streamOut = streamed ? await streamReport(streamed, seconds, recorder!.trace(), a) : undefined;
    streamed?.stream.close();
    if (a["trace-out"]) await writeTraceFile(a["trace-out"]!, recorder!.trace({ ppl: r.ppl, mean_nll: r.mean_nll, tokens: r.tokens, text: file, stories: stories.length }));
    const label = specLabel(spec) + (a.adapters ? ` + LoRA r${o.engine.adapterSettings!.rank}` : "");
    const out = { model: o.model.name, method: spec.method, spec, label, adapters: a.adapters ?? null, stories: stories.length, ...r, ...(streamOut ?? {}), ...buildFields(o.engine) };
    if (a.json) process.stdout.write(JSON.stringify(out) + "\n");
    else {
      if (streamOut) process.stderr.write(formatStreamSummary(streamOut));
      process.stdout.write(
        `${out.label}: ppl ${r.ppl.toFixed(4)} (mean NLL ${r.mean_nll.toFixed(5)}) over ${r.tokens} tokens of ${stories.length} stories; ` +
          `MLP density ${(r.mlp_density * 100).toFixed(1)}%, ${(r.weight_bytes_per_token / 1e6).toFixed(3)} MB weights/token` +
          `${buildNote(o.engine) ? `; ${buildNote(o.engine)}` : ""}\n`,
      );
    }
  },
};
