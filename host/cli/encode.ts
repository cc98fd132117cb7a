import type { Argv, ArgumentsCamelCase } from "yargs";
import { resolveModelPath } from "../resolve.js";
import { loadModelFile } from "../formats/load.js";
import { SentencePieceTokenizer } from "../tokenizer/sentencepiece.js";
import { UsageError, withModel, type ModelArgs } from "./common.js";

interface Args extends ModelArgs {
  text: string;
}

export const encodeCommand = {
  command: "encode",
  describe: "print the token ids of a text (JSON array, with BOS)",
  builder: (y: Argv) => withModel(y).option("text", { type: "string", demandOption: true, describe: "text to encode" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const path = resolveModelPath(a.model);
    const model = await loadModelFile(path, { tokenizer: a.tokenizer });
    if (!model.vocab) throw new UsageError(`${path}: the model has no vocabulary; pass --tokenizer`);
    const ids = new SentencePieceTokenizer(model.vocab).encode(a.text, { bos: true });
    process.stdout.write(JSON.stringify(ids) + "\n");
  },
};
