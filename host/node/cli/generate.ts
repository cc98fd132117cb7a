import type { Argv, ArgumentsCamelCase } from "yargs";
import { applySparsity, buildFields, buildNote, chatTemplateFor, openModel, promptFromArgs, withChatTemplate, withEngineBuild, withModel, withPrompt, withSparsity, type ModelArgs, type SparsityArgs } from "./common.js";
import { encodeChatText } from "../../chat.js";
import { generate } from "../../generate.js";
import { specLabel } from "../../sparsity.js";
import { MaskRecorder } from "../../sim/run.js";
import { writeTraceFile } from "../trace-file.js";
import { formatStreamSummary, openStreamed, resetStreamCounters, streamReport, withStream, type StreamArgs } from "./stream-options.js";

interface Args extends ModelArgs, SparsityArgs, StreamArgs {
  prompt?: string;
  "prompt-file"?: string;
  chat: boolean;
  "chat-template"?: string;
  steps: number;
  temperature: number;
  "top-p": number;
  seed: number;
  json: boolean;
  summary: boolean;
  "trace-out"?: string;
}

export const generateCommand = {
  command: "generate",
  describe: "generate text from a prompt (streams to stdout)",
  builder: (y: Argv) =>
    withChatTemplate(withPrompt(withEngineBuild(withStream(withSparsity(withModel(y))))))
      .option("chat", { type: "boolean", default: false, describe: "apply the model's chat template to the prompt (one user message; the reply ends at an end-of-turn token)" })
      .option("steps", { type: "number", default: 256, describe: "forward passes, prompt included (BOS + at most this many tokens)" })
      .option("temperature", { type: "number", default: 1.0, describe: "0 = greedy" })
      .option("top-p", { type: "number", default: 0.9, describe: "nucleus sampling mass, in (0, 1]" })
      .option("seed", { type: "number", default: 42, describe: "PRNG seed (same seed, same text, on every runtime)" })
      .option("json", { type: "boolean", default: false, describe: "print one JSON object instead of streaming" })
      .option("summary", { type: "boolean", default: false, describe: "print a summary line after the text" })
      .option("trace-out", { type: "string", describe: "write the masks of every step as a trace (replay with `dip simulate --trace`)" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const prompt = (await promptFromArgs(a)) ?? "";
    const streamed = await openStreamed(a);
    const o = streamed ?? (await openModel(a));
    const promptTokens = a.chat ? encodeChatText(o.tokenizer, (await chatTemplateFor(o.model, o.tokenizer, o.path, a["chat-template"])).render([{ role: "user", content: prompt }], true), true) : undefined;
    const spec = await applySparsity(o, a);
    o.engine.resetBytes();
    const recorder = a["trace-out"] || streamed ? new MaskRecorder(o.engine) : undefined;
    recorder?.beginSequence(0);
    if (streamed) resetStreamCounters(streamed);
    const result = generate(o.engine, o.tokenizer, {
      prompt,
      ...(promptTokens ? { promptTokens } : {}),
      steps: a.steps,
      temperature: a.temperature,
      topP: a["top-p"],
      seed: a.seed,
      onText: a.json ? undefined : (t) => process.stdout.write(t),
      onStep: recorder ? () => recorder.afterStep() : undefined,
    });
    if (a["trace-out"]) await writeTraceFile(a["trace-out"], recorder!.trace());
    // per token of the decode steps: the counters' total minus the prompt's (which read each weight once per block)
    const promptBytes = result.prompt_bytes;
    const all = o.engine.bytesRead();
    const bytes = { embedding: all.embedding - promptBytes.embedding, attention: all.attention - promptBytes.attention, mlp: all.mlp - promptBytes.mlp, lm_head: all.lm_head - promptBytes.lm_head };
    const stepsRun = Math.max(1, result.decode_steps);
    const weightBytesPerToken = (bytes.embedding + bytes.attention + bytes.mlp + bytes.lm_head) / stepsRun;
    const mlpDensity = bytes.mlp / stepsRun / o.engine.denseBytesPerToken().mlp;
    const stream = streamed ? await streamReport(streamed, result.seconds, recorder!.trace(), a) : undefined;
    streamed?.stream.close();
    if (a.json) {
      process.stdout.write(
        JSON.stringify({
          model: o.model.name,
          method: specLabel(spec),
          tokens: result.tokens,
          text: result.text,
          prompt_tokens: result.prompt_tokens,
          generated_tokens: result.generated_tokens,
          tok_s: result.tok_s,
          prompt_tok_s: result.prompt_tok_s,
          mlp_density: mlpDensity,
          weight_bytes_per_token: weightBytesPerToken,
          prompt_weight_bytes_per_token: (promptBytes.embedding + promptBytes.attention + promptBytes.mlp + promptBytes.lm_head) / result.prompt_tokens,
          seed: a.seed,
          temperature: a.temperature,
          top_p: a["top-p"],
          ...buildFields(o.engine),
          ...(stream ? { decode_tok_s: result.tok_s, ...stream } : {}),
        }) + "\n",
      );
      return;
    }
    process.stdout.write("\n");
    if (stream) process.stderr.write(formatStreamSummary(stream));
    if (buildNote(o.engine)) process.stderr.write(`[${buildNote(o.engine)}]\n`);
    if (a.summary) {
      process.stderr.write(
        `\n[${o.model.name} | ${specLabel(spec)}] ${result.generated_tokens} tokens at ${result.tok_s.toFixed(1)} tok/s, ` +
          `MLP density ${(mlpDensity * 100).toFixed(1)}%, ${(weightBytesPerToken / 1e6).toFixed(3)} MB of weights read per token` +
          `${o.engine.threads > 1 ? `, ${o.engine.threads} threads` : ""}${buildNote(o.engine) ? ` (${buildNote(o.engine)})` : ""}\n`,
      );
    }
  },
};
