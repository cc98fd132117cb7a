import type { Argv, ArgumentsCamelCase } from "yargs";
import { resolveModelPath } from "../resolve.js";
import { loadTokenizerOnly, withModel, type ModelArgs } from "./common.js";

interface Args extends ModelArgs {
  text: string;
}

export const encodeCommand = {
  command: "encode",
  describe: "print the token ids of a text (JSON array, with BOS)",
  builder: (y: Argv) => withModel(y).option("text", { type: "string", demandOption: true, describe: "text to encode" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const path = resolveModelPath(a.model);
    const { tokenizer } = await loadTokenizerOnly(path, a.tokenizer);
    const ids = tokenizer.encode(a.text, { bos: true });
    process.stdout.write(JSON.stringify(ids) + "\n");
  },
};
