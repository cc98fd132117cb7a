import type { Argv, ArgumentsCamelCase } from "yargs";
import { createInterface } from "node:readline";
import { applySparsity, chatTemplateFor, openModel, promptFromArgs, UsageError, withChatTemplate, withEngineBuild, withModel, withSparsity, type ModelArgs, type SparsityArgs } from "./common.js";
import { ChatSession, type ChatReply } from "../../chat.js";
import { specLabel } from "../../sparsity.js";

interface Args extends ModelArgs, SparsityArgs {
  system?: string;
  "prompt-file"?: string;
  "chat-template"?: string;
  "max-tokens"?: number;
  temperature: number;
  "top-p": number;
  seed: number;
  json: boolean;
}

const EXIT_COMMANDS = new Set(["/exit", "/quit"]);

export const chatCommand = {
  command: "chat",
  describe: "chat with the model in the terminal (one line per message; /exit or end of input ends); the KV cache is kept across turns",
  builder: (y: Argv) =>
    withChatTemplate(withEngineBuild(withSparsity(withModel(y))))
      .option("system", { type: "string", describe: "system message" })
      .option("prompt-file", { type: "string", describe: "the first user message, read from this file (then chat goes on from the input)" })
      .option("max-tokens", { type: "number", describe: "most tokens per reply (default: until an end-of-turn token or the context is full)" })
      .option("temperature", { type: "number", default: 0.7, describe: "0 = greedy" })
      .option("top-p", { type: "number", default: 0.9, describe: "nucleus sampling mass, in (0, 1]" })
      .option("seed", { type: "number", default: 42, describe: "PRNG seed" })
      .option("json", { type: "boolean", default: false, describe: "one JSON object per turn instead of streamed text" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const maxTokens = a["max-tokens"];
    if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens > 0)) throw new UsageError(`--max-tokens must be a positive integer, got ${maxTokens}`);
    if (!(a.temperature >= 0)) throw new UsageError(`--temperature must be >= 0, got ${a.temperature}`);
    if (!(a["top-p"] > 0 && a["top-p"] <= 1)) throw new UsageError(`--top-p must be in (0, 1], got ${a["top-p"]}`);
    const first = await promptFromArgs({ "prompt-file": a["prompt-file"] });
    const o = await openModel(a);
    const template = await chatTemplateFor(o.model, o.tokenizer, o.path, a["chat-template"]);
    const spec = await applySparsity(o, a);
    const session = new ChatSession(o.engine, o.tokenizer, template, { temperature: a.temperature, topP: a["top-p"], seed: a.seed, ...(maxTokens ? { maxReplyTokens: maxTokens } : {}) }, a.system);
    const interactive = process.stdin.isTTY === true && !a.json;
    if (!a.json) process.stderr.write(`[${o.model.name} | ${specLabel(spec)} | context ${o.engine.config.seqLen} tokens; /exit or Ctrl-D ends]\n`);

    /** One turn; false when the chat cannot go on (the context is full). */
    const turn = (text: string): boolean => {
      o.engine.resetBytes();
      const reply: ChatReply = session.reply(text, a.json ? undefined : (t) => process.stdout.write(t));
      if (a.json) {
        process.stdout.write(
          JSON.stringify({
            reply: reply.text,
            tokens: reply.tokens,
            stop: reply.stop,
            prompt_tokens: reply.promptTokens,
            cache_kept: reply.cacheKept,
            context_left: session.contextLeft,
            mlp_density: reply.mlpDensity,
          }) + "\n",
        );
      } else {
        process.stdout.write("\n");
      }
      if (reply.stop === "context") {
        process.stderr.write(`[the context of ${o.engine.config.seqLen} tokens is full: the chat ends here]\n`);
        return false;
      }
      return true;
    };

    if (first !== undefined && !turn(first)) return;
    const input = createInterface({ input: process.stdin, ...(interactive ? { output: process.stderr, prompt: "> " } : {}), terminal: interactive });
    if (interactive) input.prompt();
    for await (const line of input) {
      const text = line.trim();
      if (EXIT_COMMANDS.has(text)) break;
      if (text.length > 0 && !turn(line)) break;
      if (interactive) input.prompt();
    }
    input.close();
  },
};
