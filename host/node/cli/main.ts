// `dip`: the command line. Each command lives in its own file; this one wires them up and turns
// user errors into one readable line (no stack traces for bad input).
import "../wasm.js"; // registers build/engine.wasm as the default engine
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { generateCommand } from "./generate.js";
import { logitsCommand } from "./logits.js";
import { encodeCommand } from "./encode.js";
import { templateCommand } from "./template.js";
import { chatCommand } from "./chat.js";
import { evalCommand } from "./eval.js";
import { infoCommand } from "./info.js";
import { convertCommand } from "./convert.js";
import { sweepCommand } from "./sweep.js";
import { mergeCommand } from "./merge.js";
import { plotCommand } from "./plot.js";
import { benchCommand } from "./bench.js";
import { footprintCommand } from "./footprint.js";
import { simulateCommand } from "./simulate.js";
import { serveCommand } from "./serve.js";
import { finetuneCommand } from "./finetune.js";
import { frontierCommand } from "./frontier.js";
import { trainPredictorCommand } from "./train-predictor.js";
import { WasmAbort } from "../../wasm.js";
import { checkOptionValues, type DeclaredOptions } from "./option-values.js";
import { checkOutputFlags } from "./outputs.js";
import { fetchRemoteModel } from "./remote-model.js";

const COMMANDS = [
  generateCommand,
  logitsCommand,
  encodeCommand,
  evalCommand,
  infoCommand,
  convertCommand,
  sweepCommand,
  mergeCommand,
  plotCommand,
  benchCommand,
  footprintCommand,
  simulateCommand,
  serveCommand,
  finetuneCommand,
  frontierCommand,
  trainPredictorCommand,
  chatCommand,
  templateCommand,
];
const COMMAND_NAMES = COMMANDS.map((c) => c.command.split(" ")[0]);

export async function main(argv: string[]): Promise<void> {
  // yargs reports an unknown command as unknown arguments ("Unknown arguments: steps, gen")
  const first = argv[0];
  if (first !== undefined && !first.startsWith("-") && !COMMAND_NAMES.includes(first)) {
    process.stderr.write(`dip: unknown command "${first}"; the commands are: ${COMMAND_NAMES.join(", ")}\nRun 'dip --help' for usage.\n`);
    process.exit(2);
  }
  const cli = yargs(argv)
    .scriptName("dip")
    .usage("$0 <command> [options]\n\nA WebAssembly LLM engine with dynamic input pruning (DIP).")
    .command(COMMANDS as never)
    .middleware((a): void => checkOptionValues(argv, a, (cli as unknown as { getOptions(): DeclaredOptions }).getOptions()), true)
    .middleware((a): Promise<void> => fetchRemoteModel(a)) // --model hf:... / https://...: the cached file
    .middleware((a): Promise<void> => checkOutputFlags(a))
    .demandCommand(1, "name a command (see --help)")
    .strict()
    .help()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err, y) => {
      if (err) throw err;
      process.stderr.write(`${y.help() && ""}dip: ${msg}\nRun 'dip --help' for usage.\n`);
      process.exit(2);
    });
  await cli.parseAsync();
}

main(hideBin(process.argv)).catch((e: unknown) => {
  const err = e as Error;
  if (process.env.DIP_DEBUG || err instanceof WasmAbort) process.stderr.write(`${err.stack}\n`);
  else process.stderr.write(`dip: error: ${err.message}\n`);
  process.exit(1);
});
