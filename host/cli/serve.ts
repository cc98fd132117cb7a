// `dip serve`: the web demo on http://127.0.0.1:PORT/ (loopback only), with the default model.
import type { Argv, ArgumentsCamelCase } from "yargs";
import { resolveModelPath } from "../resolve.js";
import { startDemoServer } from "../node/serve.js";
import { UsageError } from "./common.js";

interface Args {
  port: number;
  model?: string;
}

export const serveCommand = {
  command: "serve",
  describe: "serve the web demo (web/) and the default model on 127.0.0.1 (COOP/COEP headers)",
  builder: (y: Argv) =>
    y
      .option("port", { type: "number", default: 8080, describe: "port on 127.0.0.1 (0: any free port)" })
      .option("model", { type: "string", describe: "the model the page loads by default (default: stories260K from the models directory)" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new UsageError(`--port must be an integer in 0..65535, got ${a.port}`);
    const s = await startDemoServer({ port: a.port, modelPath: resolveModelPath(a.model) });
    process.stderr.write(`dip demo at ${s.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((done) => {
      const stop = () => void s.close().then(done);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  },
};
