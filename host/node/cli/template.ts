import type { Argv, ArgumentsCamelCase } from "yargs";
import { resolveModelPath } from "../resolve.js";
import { chatTemplateFor, loadTokenizerOnly, withChatTemplate, withModel, type ModelArgs } from "./common.js";
import { parseMessages } from "../../chat.js";

interface Args extends ModelArgs {
  messages: string;
  "chat-template"?: string;
}

export const templateCommand = {
  command: "template",
  describe: "print the prompt the model's chat template makes of messages (add_generation_prompt true)",
  builder: (y: Argv) =>
    withChatTemplate(withModel(y)).option("messages", { type: "string", demandOption: true, describe: 'messages as JSON: [{"role": "user", "content": "Hello!"}, ...]' }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const messages = parseMessages(a.messages);
    const path = resolveModelPath(a.model);
    const { model, tokenizer } = await loadTokenizerOnly(path, a.tokenizer);
    const template = await chatTemplateFor(model, tokenizer, path, a["chat-template"]);
    process.stdout.write(template.render(messages, true));
  },
};
