import type { Argv, ArgumentsCamelCase } from "yargs";
import { writeOutputFile } from "../atomic-file.js";
import { applySparsity, openModel, parseIdList, withModel, withSparsity, type ModelArgs, type SparsityArgs } from "./common.js";
import { openStreamed, withStream, type StreamArgs } from "./stream-options.js";

interface Args extends ModelArgs, SparsityArgs, StreamArgs {
  tokens: string;
  out: string;
}

export const logitsCommand = {
  command: "logits",
  describe: "write the logits of every position (T x V float32 little-endian, row-major); with --stream from a .dipstream under a DRAM budget (the same bytes as loaded fully)",
  builder: (y: Argv) =>
    withStream(withSparsity(withModel(y)))
      .option("tokens", { type: "string", demandOption: true, describe: "comma-separated token ids, e.g. 1,403,407" })
      .option("out", { type: "string", demandOption: true, describe: "output file" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const o = (await openStreamed(a)) ?? (await openModel(a));
    await applySparsity(o, a);
    const ids = parseIdList(a.tokens, "--tokens");
    const c = o.engine.config;
    const bad = ids.find((t) => t < 0 || t >= c.vocabSize);
    if (bad !== undefined) throw new RangeError(`--tokens: token id ${bad} is out of the vocabulary (0..${c.vocabSize - 1})`);
    if (ids.length > c.seqLen) throw new RangeError(`--tokens: ${ids.length} tokens is longer than the model's context of ${c.seqLen}`);
    const out = new Float32Array(ids.length * c.vocabSize);
    o.engine.reset();
    ids.forEach((t, i) => out.set(o.engine.step(t), i * c.vocabSize));
    // Float32Array is little-endian on every platform wasm runs on; write its bytes as-is
    await writeOutputFile(a.out, new Uint8Array(out.buffer));
    process.stderr.write(`wrote ${ids.length} x ${c.vocabSize} logits to ${a.out}\n`);
  },
};
